//! Telemetry start-up: JSON logs, OTLP pipelines when an endpoint is configured and the
//! Prometheus endpoint on the same meter provider when a scrape address is, a clear
//! error for a bad filter, and a second installation refused. In a test binary of its own: it
//! installs the process-wide subscriber.

use welfare_runtime::config::{LogFormat, TelemetryConfig};
use welfare_runtime::telemetry::{Telemetry, TelemetryError};

#[tokio::test]
async fn telemetry_starts_with_otlp_and_refuses_a_second_start() {
    let bad = TelemetryConfig {
        log_filter: "info,[".to_owned(),
        ..TelemetryConfig::default()
    };
    assert!(matches!(
        Telemetry::init(&bad),
        Err(TelemetryError::Filter(_))
    ));
    // Nothing listens there: exporters connect lazily, so start-up does not depend on the
    // collector being up.
    let config = TelemetryConfig {
        log_format: LogFormat::Json,
        otlp_endpoint: Some("http://127.0.0.1:9".to_owned()),
        metrics_addr: Some(([127, 0, 0, 1], 0).into()),
        service_name: "telemetry-test".to_owned(),
        ..TelemetryConfig::default()
    };
    let telemetry = Telemetry::init(&config).expect("starts");
    tracing::info!(answer = 42, "telemetry test event");
    // What the process records, Prometheus reads: the global meter provider feeds both.
    opentelemetry::global::meter("test")
        .u64_counter("lodiwelfare.test.calls")
        .build()
        .add(3, &[]);
    let endpoint = welfare_runtime::metrics_endpoint::MetricsEndpoint::serve(
        ([127, 0, 0, 1], 0).into(),
        telemetry.registry().expect("a registry").clone(),
    )
    .await
    .expect("serve");
    let scraped = {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(endpoint.addr())
            .await
            .expect("connect");
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("read");
        answer
    };
    assert!(
        scraped.contains("lodiwelfare_test_calls_total 3"),
        "{scraped}"
    );
    assert!(
        scraped.contains("service_name=\"telemetry-test\""),
        "{scraped}"
    );
    assert!(matches!(
        Telemetry::init(&config),
        Err(TelemetryError::AlreadyInstalled)
    ));
    let stopped = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        tokio::task::spawn_blocking(move || telemetry.shutdown()),
    )
    .await;
    assert!(
        stopped.is_ok(),
        "shutdown returns even with the collector down"
    );
}
