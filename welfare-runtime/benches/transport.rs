//! What TLS costs a call: an authenticated unary call through the whole layer stack over an
//! open connection, in plaintext (the baseline) and over TLS 1.3; and a new connection with its
//! first call, where TLS adds its handshake (ECDSA P-256 certificates, as cert-manager issues
//! them in the shipped manifests), without and with a client certificate (mutual TLS).
//!
//! Run: `cargo bench -p welfare-runtime --bench transport`
#![allow(clippy::indexing_slicing)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{Running, authorized, config, get, start, token};
use criterion::{Criterion, criterion_group, criterion_main};
use tonic::transport::Channel;
use welfare_proto::booking::booking_service_client::BookingServiceClient;
use welfare_runtime::config::{ClientTlsConfig, RuntimeConfig, TlsConfig};
use welfare_runtime::testing::pki::{Issued, TestPki, Usage};
use welfare_runtime::tls::ClientTls;

struct Servers {
    plaintext: Running,
    tls: Running,
    mutual: Running,
    pki: TestPki,
    client: Issued,
    dir: PathBuf,
}

fn with_tls(server: &Issued, client_ca: Option<PathBuf>) -> RuntimeConfig {
    let mut config = config();
    config.server.tls = Some(TlsConfig {
        cert_file: server.cert_file.clone(),
        key_file: server.key_file.clone(),
        require_client_cert: client_ca.is_some(),
        client_ca_file: client_ca,
        reload_seconds: 3_600,
    });
    // The benchmark's own rate is far above a person's.
    config.limits.rate_limit_per_second = 10_000_000;
    config.limits.rate_limit_burst = 10_000_000;
    config
}

async fn servers() -> Servers {
    let dir = std::env::temp_dir().join(format!(
        "lodiwelfare-bench-transport-{}",
        std::process::id()
    ));
    let pki = TestPki::new(&dir, "bench");
    let server = pki.issue("server", &["localhost"], Usage::Server);
    let client = pki.issue("client", &["booking-svc"], Usage::Client);
    let mut plain = config();
    plain.limits.rate_limit_per_second = 10_000_000;
    plain.limits.rate_limit_burst = 10_000_000;
    Servers {
        plaintext: start(plain).await,
        tls: start(with_tls(&server, None)).await,
        mutual: start(with_tls(&server, Some(pki.ca_file()))).await,
        pki,
        client,
        dir,
    }
}

fn client_tls(pki: &TestPki, identity: Option<&Issued>) -> ClientTls {
    ClientTls::load(&ClientTlsConfig {
        ca_file: pki.ca_file(),
        cert_file: identity.map(|i| i.cert_file.clone()),
        key_file: identity.map(|i| i.key_file.clone()),
        reload_seconds: 3_600,
    })
    .expect("client TLS")
}

async fn plaintext_channel(server: &Running) -> Channel {
    tonic::transport::Endpoint::from_shared(server.url())
        .expect("url")
        .tcp_nodelay(true)
        .connect()
        .await
        .expect("connect")
}

fn tls_channel(tls: &ClientTls, server: &Running) -> Channel {
    tls.lazy_channel(
        &format!("https://localhost:{}", server.port),
        Duration::from_secs(5),
    )
    .expect("channel")
}

async fn one_call(channel: Channel, bearer: &str) {
    BookingServiceClient::new(channel)
        .get_booking(authorized(get("b-1"), bearer))
        .await
        .expect("answered");
}

fn transport(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // Channels spawn their connection tasks on the current runtime.
    let _inside = runtime.enter();
    let servers = runtime.block_on(servers());
    let bearer = token("anna");
    let server_only = client_tls(&servers.pki, None);
    let with_identity = client_tls(&servers.pki, Some(&servers.client));

    let mut group = c.benchmark_group("unary call, open connection");
    let plaintext = runtime.block_on(plaintext_channel(&servers.plaintext));
    group.bench_function("plaintext (baseline)", |b| {
        b.iter(|| runtime.block_on(one_call(plaintext.clone(), &bearer)));
    });
    let tls = tls_channel(&server_only, &servers.tls);
    runtime.block_on(one_call(tls.clone(), &bearer));
    group.bench_function("TLS 1.3", |b| {
        b.iter(|| runtime.block_on(one_call(tls.clone(), &bearer)));
    });
    group.finish();

    let mut group = c.benchmark_group("new connection and its first call");
    group.bench_function("plaintext (baseline)", |b| {
        b.iter(|| {
            runtime.block_on(async {
                one_call(plaintext_channel(&servers.plaintext).await, &bearer).await;
            });
        });
    });
    group.bench_function("TLS 1.3", |b| {
        b.iter(|| runtime.block_on(one_call(tls_channel(&server_only, &servers.tls), &bearer)));
    });
    group.bench_function("mutual TLS 1.3", |b| {
        b.iter(|| {
            runtime.block_on(one_call(
                tls_channel(&with_identity, &servers.mutual),
                &bearer,
            ));
        });
    });
    group.finish();

    let Servers {
        plaintext,
        tls,
        mutual,
        dir,
        ..
    } = servers;
    runtime.block_on(async {
        for server in [plaintext, tls, mutual] {
            server.stop().await.expect("stop");
        }
    });
    std::fs::remove_dir_all(dir).ok();
}

criterion_group!(benches, transport);
criterion_main!(benches);
