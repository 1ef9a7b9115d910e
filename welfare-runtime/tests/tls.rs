//! TLS on a real server with certificates the test generates: calls over TLS only, a renewed
//! certificate served without a restart, mutual TLS, a listener answering named clients only,
//! plaintext refused beyond loopback, and a plaintext port for probes that answers health only.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{Running, config, fixture, reason, start, start_services};
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use welfare_proto::booking::ListAvailabilityRequest;
use welfare_proto::booking::booking_service_client::BookingServiceClient;
use welfare_runtime::client_cert::{AllowedClients, CLIENT_NOT_ALLOWED};
use welfare_runtime::config::{ClientTlsConfig, RuntimeConfig, TlsConfig};
use welfare_runtime::server::StartupError;
use welfare_runtime::testing::pki::{Issued, TestPki, Usage};
use welfare_runtime::tls::ClientTls;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "lodiwelfare-tls-{name}-{}-{}",
        std::process::id(),
        welfare_runtime::uuid::new_uuid()
    ));
    std::fs::create_dir_all(&dir).expect("scratch");
    dir
}

/// The server's certificate, for the names a client dials.
fn server_cert(pki: &TestPki) -> Issued {
    pki.issue("server", &["localhost", "127.0.0.1"], Usage::Server)
}

fn tls_config(server: &Issued, client_ca: Option<PathBuf>, require: bool) -> RuntimeConfig {
    let mut config = config();
    config.server.tls = Some(TlsConfig {
        cert_file: server.cert_file.clone(),
        key_file: server.key_file.clone(),
        client_ca_file: client_ca,
        require_client_cert: require,
        reload_seconds: 1,
    });
    config
}

fn client_tls(ca: PathBuf, identity: Option<&Issued>) -> ClientTls {
    ClientTls::load(&ClientTlsConfig {
        ca_file: ca,
        cert_file: identity.map(|i| i.cert_file.clone()),
        key_file: identity.map(|i| i.key_file.clone()),
        reload_seconds: 1,
    })
    .expect("client TLS")
}

async fn call(tls: &ClientTls, server: &Running) -> Result<(), tonic::Status> {
    let channel = tls
        .lazy_channel(
            &format!("https://localhost:{}", server.port),
            Duration::from_secs(5),
        )
        .expect("channel");
    BookingServiceClient::new(channel)
        .list_availability(ListAvailabilityRequest::default())
        .await
        .map(|_| ())
}

async fn health(tls: &ClientTls, server: &Running, service: &str) -> Result<i32, tonic::Status> {
    let channel = tls
        .lazy_channel(
            &format!("https://localhost:{}", server.port),
            Duration::from_secs(5),
        )
        .expect("channel");
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .map(|r| r.into_inner().status)
}

#[tokio::test]
async fn calls_travel_over_tls_and_a_plaintext_or_untrusting_client_is_refused() {
    let dir = scratch("serve");
    let pki = TestPki::new(&dir, "lodi");
    let server = start(tls_config(&server_cert(&pki), None, false)).await;

    call(&client_tls(pki.ca_file(), None), &server)
        .await
        .expect("a call over TLS");

    // Plaintext on the TLS port: no answer.
    let plaintext = BookingServiceClient::connect(server.url()).await;
    if let Ok(mut client) = plaintext {
        let refused = client
            .list_availability(ListAvailabilityRequest::default())
            .await
            .expect_err("plaintext answered");
        // The connection breaks (hyper reports a broken pipe or a refused stream).
        assert!(
            matches!(refused.code(), Code::Unavailable | Code::Unknown),
            "{refused:?}"
        );
    }
    // A client trusting another authority refuses the server's certificate.
    let stranger = TestPki::new(&dir, "stranger");
    let refused = call(&client_tls(stranger.ca_file(), None), &server)
        .await
        .expect_err("an untrusted certificate accepted");
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    server.stop().await.expect("stop");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn a_renewed_certificate_is_served_on_the_next_connection_without_a_restart() {
    let dir = scratch("renew");
    let old = TestPki::new(&dir, "old");
    let issued = server_cert(&old);
    let server = start(tls_config(&issued, None, false)).await;
    let trusts_new = || client_tls(dir.join("new-ca.pem"), None);
    let new = TestPki::new(&dir, "new");
    assert!(call(&trusts_new(), &server).await.is_err());

    // The renewed pair written over the same files, as cert-manager does to a Secret.
    let renewed = new.issue("server", &["localhost", "127.0.0.1"], Usage::Server);
    assert_eq!(renewed.cert_file, issued.cert_file);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match call(&trusts_new(), &server).await {
            Ok(()) => break,
            Err(status) if Instant::now() < deadline => {
                assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                tokio::task::yield_now().await;
            }
            Err(status) => panic!("the renewed certificate was never served: {status:?}"),
        }
    }
    // And the old one is gone.
    assert!(
        call(&client_tls(old.ca_file(), None), &server)
            .await
            .is_err()
    );
    server.stop().await.expect("stop");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn mutual_tls_refuses_clients_without_a_certificate_of_the_configured_authority() {
    let dir = scratch("mutual");
    let pki = TestPki::new(&dir, "lodi");
    let clients = TestPki::new(&dir, "clients");
    let server = start(tls_config(
        &server_cert(&pki),
        Some(clients.ca_file()),
        true,
    ))
    .await;

    let booking = clients.issue("booking", &["booking-svc.lodiwelfare.svc"], Usage::Client);
    call(&client_tls(pki.ca_file(), Some(&booking)), &server)
        .await
        .expect("a client with a certificate");
    assert!(
        call(&client_tls(pki.ca_file(), None), &server)
            .await
            .is_err()
    );
    let forged = pki.issue("forged", &["booking-svc.lodiwelfare.svc"], Usage::Client);
    assert!(
        call(&client_tls(pki.ca_file(), Some(&forged)), &server)
            .await
            .is_err(),
        "a certificate of another authority was accepted"
    );
    server.stop().await.expect("stop");

    // Optional: a client without one is served (its token decides), one with a bad one is not.
    let server = start(tls_config(
        &server_cert(&pki),
        Some(clients.ca_file()),
        false,
    ))
    .await;
    call(&client_tls(pki.ca_file(), None), &server)
        .await
        .expect("no client certificate, none required");
    assert!(
        call(&client_tls(pki.ca_file(), Some(&forged)), &server)
            .await
            .is_err()
    );
    server.stop().await.expect("stop");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn a_listener_for_named_clients_answers_only_their_certificates() {
    let dir = scratch("named");
    let pki = TestPki::new(&dir, "lodi");
    let secured = tls_config(&server_cert(&pki), Some(pki.ca_file()), false);
    let allowed = AllowedClients::new(&["booking-svc.lodiwelfare.svc".to_owned()]).expect("names");
    let server = start_services(secured.clone(), fixture(&secured).for_clients(allowed)).await;

    let booking = pki.issue("booking", &["booking-svc.lodiwelfare.svc"], Usage::Client);
    let catalog = pki.issue("catalog", &["catalog-svc.lodiwelfare.svc"], Usage::Client);
    call(&client_tls(pki.ca_file(), Some(&booking)), &server)
        .await
        .expect("the booking service");
    let refused = call(&client_tls(pki.ca_file(), Some(&catalog)), &server)
        .await
        .expect_err("another service answered");
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert_eq!(reason(&refused), CLIENT_NOT_ALLOWED);
    assert!(refused.message().contains("booking-svc.lodiwelfare.svc"));
    // Health answers any client through the handshake; none gets through without a certificate
    // (client certificates are required on such a listener even though the section says not).
    assert_eq!(
        health(&client_tls(pki.ca_file(), Some(&catalog)), &server, "")
            .await
            .expect("health"),
        ServingStatus::Serving as i32
    );
    assert!(
        call(&client_tls(pki.ca_file(), None), &server)
            .await
            .is_err()
    );
    server.stop().await.expect("stop");

    // Named clients without client authorities: refused at start.
    let plain = config();
    let allowed = AllowedClients::new(&["booking-svc.lodiwelfare.svc".to_owned()]).expect("names");
    let refused = welfare_runtime::Application::build(&plain, fixture(&plain).for_clients(allowed))
        .await
        .expect_err("named clients over plaintext");
    assert!(refused.to_string().contains("client_ca_file"), "{refused}");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn plaintext_beyond_loopback_is_refused_unless_allowed() {
    let mut open = config();
    open.server.listen_addr = "0.0.0.0:0".parse().expect("address");
    let refused = welfare_runtime::Application::build(&open, fixture(&open))
        .await
        .expect_err("plaintext on every interface");
    assert!(
        matches!(refused, StartupError::Plaintext { .. }),
        "{refused}"
    );
    assert!(refused.to_string().contains("server.tls"), "{refused}");
    open.server.allow_plaintext = true;
    welfare_runtime::Application::build(&open, fixture(&open))
        .await
        .expect("allowed");

    // A certificate that cannot be read: the path is named.
    let mut broken = config();
    broken.server.tls = Some(TlsConfig {
        cert_file: "/nonexistent/server.pem".into(),
        key_file: "/nonexistent/server-key.pem".into(),
        client_ca_file: None,
        require_client_cert: false,
        reload_seconds: 30,
    });
    let refused = welfare_runtime::Application::build(&broken, fixture(&broken))
        .await
        .expect_err("missing certificate");
    assert!(
        refused.to_string().contains("/nonexistent/server.pem"),
        "{refused}"
    );
}

#[tokio::test]
async fn the_probe_port_answers_health_in_plaintext_and_nothing_else() {
    let dir = scratch("probe");
    let pki = TestPki::new(&dir, "lodi");
    let mut config = tls_config(&server_cert(&pki), None, false);
    config.server.health_addr = Some("127.0.0.1:0".parse().expect("address"));
    let server = start(config).await;
    let port = server.health_port.expect("a probe port");
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let status = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: common::SERVICE.to_owned(),
        })
        .await
        .expect("health")
        .into_inner()
        .status;
    assert_eq!(status, ServingStatus::Serving as i32);
    let refused = BookingServiceClient::new(channel)
        .list_availability(ListAvailabilityRequest::default())
        .await
        .expect_err("the service on the probe port");
    assert_eq!(refused.code(), Code::Unimplemented);
    server.stop().await.expect("stop");
    std::fs::remove_dir_all(&dir).ok();
}
