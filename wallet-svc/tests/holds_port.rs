//! The hold RPCs on a port of their own (`holds.listen_addr`), as a network policy that lets
//! only the booking service reach that port needs: a real `wallet-svc` process answers them
//! there and only there, answers everything else only on its main port, and tells a caller at
//! the wrong port where to call.
#![allow(clippy::indexing_slicing)]

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::grpc::*;
use tonic::Code;
use tonic::transport::Channel;
use welfare_proto::wallet::wallet_service_client::WalletServiceClient;
use welfare_proto::wallet::*;

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A `wallet-svc` process on `database` listening on `port`, and on `holds` for the hold RPCs.
fn wallet_svc(port: u16, holds: Option<u16>, database: &str) -> Process {
    Process(
        wallet_svc_command(port, holds, database)
            .spawn()
            .expect("start wallet-svc"),
    )
}

/// The command [`wallet_svc`] runs, for a test to add to.
fn wallet_svc_command(port: u16, holds: Option<u16>, database: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wallet-svc"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "LODIWELFARE__SERVER__LISTEN_ADDR",
            format!("127.0.0.1:{port}"),
        )
        .env("LODIWELFARE__DATABASE__URL", database)
        .env("LODIWELFARE__AUTH__HS256_SECRET", SECRET)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(holds) = holds {
        command.env(
            "LODIWELFARE__HOLDS__LISTEN_ADDR",
            format!("127.0.0.1:{holds}"),
        );
    }
    command
}

async fn connect(port: u16) -> WalletServiceClient<Channel> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match WalletServiceClient::connect(format!("http://127.0.0.1:{port}")).await {
            Ok(client) => return client,
            Err(error) => assert!(Instant::now() < deadline, "{error}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn hold_rpcs_are_answered_on_their_port_only() {
    let (main_port, holds_port) = (free_port(), free_port());
    let database = welfare_storage::testing::fresh_sqlite_url("wallet_holds_port", "wallet.db");
    let _process = wallet_svc(main_port, Some(holds_port), &database);
    let mut main = connect(main_port).await;
    let mut holds = connect(holds_port).await;
    let created = main
        .create_plan(call(
            CreatePlanRequest {
                company_id: "acme".to_owned(),
                plan: Some(plan(Regime::Art51C2Services, 2026, false)),
                request_id: "p-2026".to_owned(),
            },
            &admin(),
        ))
        .await
        .expect("create plan on the main port")
        .into_inner();
    let funded = main
        .fund_wallets(call(
            FundWalletsRequest {
                plan_id: created.id,
                fundings: vec![Funding {
                    employee_id: "lucia".to_owned(),
                    amount: eur(20_000),
                    has_dependent_children: false,
                }],
                request_id: "fund".to_owned(),
            },
            &admin(),
        ))
        .await
        .expect("fund")
        .into_inner();
    let wallet = funded.results[0].wallet_id.clone();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let mut request = hold_request(
        &wallet,
        5_000,
        "h-1",
        welfare_proto::common::Category::CuraFigli,
    );
    request.expire_time = Some(welfare_proto::convert::timestamp_to_proto(
        welfare_core::time::Timestamp::from_unix_seconds(
            i64::try_from(now).expect("seconds") + 3_600,
        ),
    ));
    // The main port refuses the hold RPCs, naming the holds port.
    let refused = main
        .hold_funds(call(request.clone(), &booking_service()))
        .await
        .expect_err("not on the main port");
    assert_eq!(refused.code(), Code::Unimplemented);
    assert_eq!(reason(&refused), "SERVED_ON_ANOTHER_PORT");
    assert!(
        refused
            .message()
            .contains(&format!("holds port (127.0.0.1:{holds_port})")),
        "{refused:?}"
    );
    // The holds port answers them.
    let hold = holds
        .hold_funds(call(request, &booking_service()))
        .await
        .expect("hold on the holds port")
        .into_inner();
    let listed = holds
        .list_holds(call(
            ListHoldsRequest {
                booking_id: "bk-1".to_owned(),
                ..Default::default()
            },
            &booking_service(),
        ))
        .await
        .expect("list holds")
        .into_inner();
    assert_eq!(listed.holds.len(), 1);
    holds
        .release_hold(call(
            ReleaseHoldRequest {
                hold_id: hold.id,
                request_id: "r-1".to_owned(),
            },
            &booking_service(),
        ))
        .await
        .expect("release on the holds port");
    // …and nothing else, naming the main port.
    let refused = holds
        .get_wallet(call(
            GetWalletRequest {
                id: wallet.clone(),
                ..Default::default()
            },
            &employee("lucia"),
        ))
        .await
        .expect_err("not on the holds port");
    assert_eq!(refused.code(), Code::Unimplemented);
    assert!(
        refused
            .message()
            .contains(&format!("main port (127.0.0.1:{main_port})")),
        "{refused:?}"
    );
    let read = main
        .get_wallet(call(
            GetWalletRequest {
                id: wallet,
                ..Default::default()
            },
            &employee("lucia"),
        ))
        .await
        .expect("read on the main port")
        .into_inner();
    assert_eq!(read.available, eur(20_000), "held, then released");
}

/// Runs the real grpcurl (1.8.6, which speaks reflection v1alpha only) against `port`:
/// `grpcurl -plaintext <flags> 127.0.0.1:<port> <verb and symbol>`.
fn grpcurl(port: u16, flags: &[&str], verb: &[&str]) -> (bool, String) {
    let output = Command::new("grpcurl")
        .arg("-plaintext")
        .args(flags)
        .arg(format!("127.0.0.1:{port}"))
        .args(verb)
        .output()
        .expect("grpcurl (scripts/test installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// Reflection and health tell the truth about this server, to the real grpcurl: it lists only
/// the wallet's service (with health and reflection), describes a method from its file and the
/// files that file imports, and a health check for another service's name is NOT_FOUND.
#[tokio::test]
async fn grpcurl_sees_only_what_this_server_serves() {
    let port = free_port();
    let database = welfare_storage::testing::fresh_sqlite_url("wallet_grpcurl", "wallet.db");
    let _process = wallet_svc(port, None, &database);
    connect(port).await;
    let (ok, listed) = grpcurl(port, &[], &["list"]);
    assert!(ok, "{listed}");
    let mut services: Vec<&str> = listed
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    services.sort_unstable();
    assert_eq!(
        services,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1alpha.ServerReflection",
            "welfare.wallet.v1.WalletService"
        ],
        "{listed}"
    );
    // A method whose messages come from another file (welfare/common/v1): the file is
    // answered with its dependencies.
    let (ok, described) = grpcurl(
        port,
        &[],
        &["describe", "welfare.wallet.v1.HoldFundsRequest"],
    );
    assert!(ok, "{described}");
    assert!(
        described.contains(".welfare.common.v1.Money amount"),
        "{described}"
    );
    let (ok, serving) = grpcurl(
        port,
        &["-d", r#"{"service": "welfare.wallet.v1.WalletService"}"#],
        &["grpc.health.v1.Health/Check"],
    );
    assert!(ok && serving.contains("SERVING"), "{serving}");
    let (ok, other) = grpcurl(
        port,
        &["-d", r#"{"service": "welfare.catalog.v1.CatalogService"}"#],
        &["grpc.health.v1.Health/Check"],
    );
    assert!(!ok && other.contains("NotFound"), "{other}");
}

/// Mutual TLS on a real `wallet-svc` deployed as in production: every port over TLS, the holds
/// port answering only the booking service's certificate, health in plaintext on a probe port.
#[tokio::test]
async fn the_holds_port_answers_only_the_booking_services_certificate() {
    use welfare_runtime::config::ClientTlsConfig;
    use welfare_runtime::testing::pki::{Issued, TestPki, Usage};
    use welfare_runtime::tls::ClientTls;

    let dir = std::env::temp_dir().join(format!(
        "lodiwelfare-wallet-mtls-{}",
        welfare_runtime::uuid::new_uuid()
    ));
    let pki = TestPki::new(&dir, "ambito");
    let server = pki.issue("wallet", &["localhost"], Usage::Server);
    let booking = pki.issue("booking", &["booking-svc.lodiwelfare.svc"], Usage::Client);
    let catalog = pki.issue("catalog", &["catalog-svc.lodiwelfare.svc"], Usage::Client);
    let config = dir.join("wallet-svc.toml");
    std::fs::write(
        &config,
        format!(
            "[server.tls]\ncert_file = {:?}\nkey_file = {:?}\nclient_ca_file = {:?}\n\n\
             [holds]\nclient_names = [\"booking-svc.lodiwelfare.svc\"]\n",
            server.cert_file,
            server.key_file,
            pki.ca_file()
        ),
    )
    .expect("configuration");
    let (main_port, holds_port, probe_port) = (free_port(), free_port(), free_port());
    let database = welfare_storage::testing::fresh_sqlite_url("wallet_mtls", "wallet.db");
    let mut command = wallet_svc_command(main_port, Some(holds_port), &database);
    command.arg("--config").arg(&config).env(
        "LODIWELFARE__SERVER__HEALTH_ADDR",
        format!("127.0.0.1:{probe_port}"),
    );
    let _process = Process(command.spawn().expect("start wallet-svc"));

    // The probe port: plaintext health (as the kubelet asks), once the process serves.
    connect(probe_port).await;
    let probe = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{probe_port}"))
        .expect("address")
        .connect()
        .await
        .expect("the probe port");
    let status = tonic_health::pb::health_client::HealthClient::new(probe)
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .expect("health")
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    let client = |identity: Option<&Issued>, port: u16| {
        let tls = ClientTls::load(&ClientTlsConfig {
            ca_file: pki.ca_file(),
            cert_file: identity.map(|i| i.cert_file.clone()),
            key_file: identity.map(|i| i.key_file.clone()),
            reload_seconds: 30,
        })
        .expect("client TLS");
        WalletServiceClient::new(
            tls.lazy_channel(&format!("https://localhost:{port}"), Duration::from_secs(5))
                .expect("channel"),
        )
    };
    let list = || {
        call(
            ListHoldsRequest {
                booking_id: "b-none".to_owned(),
                ..Default::default()
            },
            &booking_service(),
        )
    };
    // The booking service's certificate: past the port, to the wallet's own answer.
    let listed = client(Some(&booking), holds_port)
        .list_holds(list())
        .await
        .expect("the booking service's certificate")
        .into_inner();
    assert!(listed.holds.is_empty());
    // Another service's certificate, though the authority is the same: refused by name.
    let refused = client(Some(&catalog), holds_port)
        .list_holds(list())
        .await
        .expect_err("the catalogue's certificate");
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert_eq!(reason(&refused), "CLIENT_NOT_ALLOWED");
    // No certificate at all, even with the booking service's token: no connection.
    let refused = client(None, holds_port)
        .list_holds(list())
        .await
        .expect_err("no certificate");
    // The connection is cut in the handshake (TLS 1.3 says so on the first read: an alert
    // `CertificateRequired`, or the connection closed): no answer of the service.
    assert!(
        matches!(
            refused.code(),
            Code::Unavailable | Code::Unknown | Code::Cancelled
        ) && reason(&refused).is_empty(),
        "{refused:?}"
    );
    // The main port: TLS without a client certificate (partners call with tokens alone).
    let plans = client(None, main_port)
        .list_plans(call(
            ListPlansRequest {
                company_id: "acme".to_owned(),
                ..Default::default()
            },
            &admin(),
        ))
        .await;
    assert!(plans.is_ok(), "{plans:?}");
    // And the real grpcurl, with the booking service's certificate.
    let ca = pki.ca_file();
    let (ok, listed) = grpcurl_tls(
        holds_port,
        &[
            "-cacert",
            path(&ca),
            "-cert",
            path(&booking.cert_file),
            "-key",
            path(&booking.key_file),
        ],
        &["list"],
    );
    assert!(
        ok && listed.contains("welfare.wallet.v1.WalletService"),
        "{listed}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

fn path(path: &std::path::Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// `grpcurl <flags> localhost:<port> <verb>` over TLS.
fn grpcurl_tls(port: u16, flags: &[&str], verb: &[&str]) -> (bool, String) {
    let output = Command::new("grpcurl")
        .args(flags)
        .arg(format!("localhost:{port}"))
        .args(verb)
        .output()
        .expect("grpcurl (scripts/test installs it)");
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}
