//! The services' composition roots put together in one process, as the all-in-one binary will:
//! the catalogue and the wallet started from their configurations on embedded storage, their
//! routes merged behind one layer stack on one port, their background tasks run beside them,
//! health reporting both, and each answering its own calls.

use std::sync::Arc;

use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};
use welfare_proto::catalog::ListCategoriesRequest;
use welfare_proto::catalog::catalog_service_client::CatalogServiceClient;
use welfare_proto::wallet::wallet_service_client::WalletServiceClient;
use welfare_proto::wallet::{GetPlanRequest, ListPlansRequest};
use welfare_runtime::Application;
use welfare_runtime::clock::system_clock;
use welfare_runtime::config::{Secret, ServiceConfig};
use welfare_runtime::testing::{Tenant, signed_token, with_bearer};

const SECRET: &str = "one-process-tests-hs256-secret-of-32-bytes";

fn admin_token() -> String {
    let exp = system_clock()().unix_seconds() + 3_600;
    signed_token(
        SECRET,
        "hr-acme",
        &["company_admin"],
        Tenant::Company("acme"),
        exp,
    )
}

#[tokio::test]
async fn catalogue_and_wallet_serve_from_one_process_on_one_port() {
    let dir = std::env::temp_dir().join(format!("lodiwelfare-one-process-{}", std::process::id()));
    let mut catalog = catalog_svc::config::CatalogConfig::default();
    catalog.database.url = format!("sqlite://{}?mode=rwc", dir.join("catalog.db").display());
    let mut wallet = wallet_svc::config::WalletConfig::default();
    wallet.database.url = format!("sqlite://{}?mode=rwc", dir.join("wallet.db").display());
    let clock = system_clock();
    let catalog = catalog_svc::startup::start(&catalog, Arc::clone(&clock))
        .await
        .expect("catalogue");
    let wallet = wallet_svc::startup::start(&wallet, clock)
        .await
        .expect("wallet");
    let tasks = catalog.tasks.merge(wallet.tasks);
    assert_eq!(tasks.names(), ["catalog-indexer", "wallet-sweeper"]);
    let mut runtime = catalog_svc::config::CatalogConfig::default().runtime();
    runtime.server.listen_addr = "127.0.0.1:0".parse().expect("address");
    runtime.auth.hs256_secret = Some(Secret::new(SECRET));
    let app = Application::build(&runtime, catalog.services.merge(wallet.services))
        .await
        .expect("one server");
    let addr = format!("127.0.0.1:{}", app.port());
    let url = format!("http://{addr}");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let channel = tonic::transport::Endpoint::from_shared(url)
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let mut health = HealthClient::new(channel.clone());
    for service in [
        "welfare.catalog.v1.CatalogService",
        "welfare.wallet.v1.WalletService",
        "",
    ] {
        let answer = health
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .expect("health")
            .into_inner();
        assert_eq!(answer.status, ServingStatus::Serving as i32, "{service:?}");
    }
    // The catalogue answers its public call without a token…
    let categories = CatalogServiceClient::new(channel.clone())
        .list_categories(ListCategoriesRequest::default())
        .await
        .expect("ListCategories")
        .into_inner();
    assert!(!categories.categories.is_empty());
    // …and the wallet its own, behind the same authentication layer.
    let mut wallets = WalletServiceClient::new(channel);
    let refused = wallets
        .list_plans(ListPlansRequest {
            company_id: "acme".to_owned(),
            ..Default::default()
        })
        .await
        .expect_err("no token");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    let request = with_bearer(
        ListPlansRequest {
            company_id: "acme".to_owned(),
            ..Default::default()
        },
        &admin_token(),
    );
    let plans = wallets
        .list_plans(request)
        .await
        .expect("ListPlans")
        .into_inner();
    assert!(plans.plans.is_empty());
    let missing = wallets
        .get_plan(with_bearer(
            GetPlanRequest {
                id: "no-such-plan".to_owned(),
            },
            &admin_token(),
        ))
        .await
        .expect_err("missing plan");
    assert_eq!(missing.code(), tonic::Code::NotFound);
    assert!(
        tasks.all_running(),
        "the indexer and the sweeper run beside the routes"
    );
    let _ = stop.send(());
    serving.await.expect("join").expect("stopped cleanly");
    drop(tasks);
    std::fs::remove_dir_all(&dir).ok();
}
