//! The one process's composition root (`lodiwelfare::startup`): the catalogue, the wallet and
//! the booking service on SQLite files in a data directory, their routes merged behind one
//! layer stack on one port (the booking service calling the other two in process), their
//! background tasks beside them, health reporting all three, and each answering its own calls —
//! a booking made end to end.

use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};
use welfare_proto::catalog::ListCategoriesRequest;
use welfare_proto::catalog::catalog_service_client::CatalogServiceClient;
use welfare_proto::wallet::wallet_service_client::WalletServiceClient;
use welfare_proto::wallet::{GetPlanRequest, ListPlansRequest};
use welfare_runtime::Application;
use welfare_runtime::clock::system_clock;
use welfare_runtime::config::{Secret, ServiceConfig};
use welfare_runtime::testing::{Tenant, seed, with_bearer};

const SECRET: &str = "one-process-tests-hs256-secret-of-32-bytes";

fn token(subject: &str, roles: &[&str], tenant: Tenant<'_>) -> String {
    seed::token(SECRET, subject, roles, tenant)
}

fn admin_token() -> String {
    token("hr-acme", &["company_admin"], Tenant::Company("acme"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalogue_wallet_and_bookings_serve_from_one_process_on_one_port() {
    let dir = std::env::temp_dir().join(format!("lodiwelfare-one-process-{}", std::process::id()));
    let mut config = lodiwelfare::config::LodiwelfareConfig {
        data_dir: dir.clone(),
        ..Default::default()
    };
    config.server.listen_addr = "127.0.0.1:0".parse().expect("address");
    config.auth.hs256_secret = Some(Secret::new(SECRET));
    let started = lodiwelfare::startup::start(&config, system_clock())
        .await
        .expect("the three services");
    let tasks = started.tasks;
    assert_eq!(
        tasks.names(),
        [
            "catalog-indexer",
            "catalog-retention",
            "wallet-sweeper",
            "booking-sweeper",
            "booking-retention"
        ]
    );
    for file in ["catalog.db", "wallet.db", "booking.db"] {
        assert!(dir.join(file).exists(), "{file} in the data directory");
    }
    let runtime = config.runtime();
    let services = started.services;
    let app = Application::build(&runtime, services)
        .await
        .expect("one server");
    let url = format!("http://127.0.0.1:{}", app.port());
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
        "welfare.booking.v1.BookingService",
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
    let mut wallets = WalletServiceClient::new(channel.clone());
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
    book_end_to_end(channel).await;
    assert!(
        tasks.all_running(),
        "the indexer and the sweepers run beside the routes"
    );
    let _ = stop.send(());
    serving.await.expect("join").expect("stopped cleanly");
    drop(tasks);
    std::fs::remove_dir_all(&dir).ok();
}

/// A provider publishes a course, a company funds an employee, the provider opens a slot, the
/// employee books it with the wallet (the booking service calling the catalogue and the wallet
/// on the same port), and the provider confirms.
async fn book_end_to_end(channel: tonic::transport::Channel) {
    use welfare_proto::booking::booking_service_client::BookingServiceClient;
    use welfare_proto::booking::{self as bpb};
    use welfare_proto::common;
    use welfare_proto::wallet::{self as wpb};

    let mut catalog = CatalogServiceClient::new(channel.clone());
    let mut wallet = WalletServiceClient::new(channel.clone());
    let mut booking = BookingServiceClient::new(channel);
    let provider_id =
        seed::approved_provider(&mut catalog, SECRET, "Piscina di Lodi", "01234560983").await;
    let listing_id = seed::published_listing(
        &mut catalog,
        SECRET,
        &provider_id,
        seed::swimming_course(10),
    )
    .await;
    let operator = seed::operator_of(SECRET, &provider_id);
    let year = system_clock()().date().expect("date").year();
    let plan_id = seed::plan(
        &mut wallet,
        SECRET,
        year,
        10_000,
        &[common::Category::CuraFigli],
    )
    .await;
    let funded = wallet
        .fund_wallets(with_bearer(
            wpb::FundWalletsRequest {
                plan_id,
                fundings: vec![wpb::Funding {
                    employee_id: "anna".to_owned(),
                    ..Default::default()
                }],
                request_id: "fund".to_owned(),
            },
            &token("hr-acme", &["company_admin"], Tenant::Company("acme")),
        ))
        .await
        .expect("fund")
        .into_inner();
    let now = system_clock()();
    let slot = booking
        .create_slots(with_bearer(
            bpb::CreateSlotsRequest {
                listing_id: listing_id.clone(),
                slots: vec![bpb::SlotSpec {
                    start_time: Some(welfare_proto::convert::timestamp_to_proto(
                        now.plus_seconds(86_400),
                    )),
                    end_time: Some(welfare_proto::convert::timestamp_to_proto(
                        now.plus_seconds(90_000),
                    )),
                    capacity: 0,
                }],
                request_id: "slots".to_owned(),
            },
            &operator,
        ))
        .await
        .expect("slots")
        .into_inner()
        .slots
        .remove(0);
    let anna = token("anna", &["employee"], Tenant::Company("acme"));
    let booked = booking
        .create_booking(with_bearer(
            bpb::CreateBookingRequest {
                listing_id: listing_id.clone(),
                slot_id: slot.id.clone(),
                quantity: 1,
                profile: Some(common::Profile {
                    beneficiary_age_years: Some(6),
                    ..Default::default()
                }),
                wallet_id: funded.results.first().expect("funded").wallet_id.clone(),
                request_id: "book".to_owned(),
                ..Default::default()
            },
            &anna,
        ))
        .await
        .expect("book")
        .into_inner();
    assert_eq!(booked.state, bpb::booking::State::Held as i32);
    assert!(!booked.wallet_hold_id.is_empty());
    let confirmed = booking
        .confirm_booking(with_bearer(
            bpb::ConfirmBookingRequest {
                id: booked.id,
                etag: booked.etag,
                request_id: "confirm".to_owned(),
            },
            &operator,
        ))
        .await
        .expect("confirm")
        .into_inner();
    assert_eq!(confirmed.state, bpb::booking::State::Confirmed as i32);
}
