//! Telemetry start-up: JSON logs and OTLP pipelines when an endpoint is configured, a clear
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
        ..TelemetryConfig::default()
    };
    let telemetry = Telemetry::init(&config).expect("starts");
    tracing::info!(answer = 42, "telemetry test event");
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
