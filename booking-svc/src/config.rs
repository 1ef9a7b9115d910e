//! The booking service's configuration: the runtime's sections plus its database, the two
//! services it calls, its own identity towards the wallet, and its sweeper.

use std::path::PathBuf;

use serde::Deserialize;
use welfare_runtime::config::{
    AuthConfig, LimitsConfig, RetentionConfig, Secret, ServerConfig, ServiceConfig, TelemetryConfig,
};

/// Everything `booking-svc` reads, from defaults, `--config FILE` and `LODIWELFARE__…` variables.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BookingConfig {
    pub server: ServerConfig,
    pub telemetry: TelemetryConfig,
    pub auth: AuthConfig,
    pub limits: LimitsConfig,
    pub database: DatabaseConfig,
    pub upstream: UpstreamConfig,
    pub sweeper: SweeperConfig,
    /// How long request ids of booking actions and slot creations are remembered.
    pub retention: RetentionConfig,
    pub failpoint: FailpointConfig,
}

/// Crash testing only: where the saga freezes so a test can kill the process there
/// (`after_reserve`, `after_hold`, `after_transition`, `after_settle`). Unset in every shipped
/// configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FailpointConfig {
    pub pause_at: Option<String>,
}

/// Where bookings live: `postgres://…` or `sqlite://path?mode=rwc`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    pub url: String,
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> DatabaseConfig {
        DatabaseConfig {
            url: "sqlite://data/booking.db?mode=rwc".to_owned(),
            max_connections: 16,
        }
    }
}

/// The catalogue and the wallet, and how the booking service proves who it is to the wallet.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamConfig {
    pub catalog_url: String,
    pub wallet_url: String,
    /// Each call to either is abandoned after this long (UNAVAILABLE or DEADLINE_EXCEEDED to
    /// the booker, nothing kept reserved).
    pub timeout_ms: u64,
    /// The booking service's bearer token (role `booking_service`), as the identity provider
    /// issued it...
    pub token: Option<Secret>,
    /// ...or the file holding it. With neither, an HS256 (development) configuration signs one
    /// with its own secret.
    pub token_file: Option<PathBuf>,
}

impl Default for UpstreamConfig {
    fn default() -> UpstreamConfig {
        UpstreamConfig {
            catalog_url: "http://127.0.0.1:50051".to_owned(),
            wallet_url: "http://127.0.0.1:50053".to_owned(),
            timeout_ms: 2_000,
            token: None,
            token_file: None,
        }
    }
}

/// How often recovery and the platform's transitions (expiry, completion) run, and how long a
/// pending booking's wallet call is given before recovery asks the wallet what it did.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SweeperConfig {
    pub interval_ms: u64,
    pub pending_grace_seconds: i64,
}

impl Default for SweeperConfig {
    fn default() -> SweeperConfig {
        SweeperConfig {
            interval_ms: 5_000,
            pending_grace_seconds: crate::saga::recovery::PENDING_GRACE_SECONDS,
        }
    }
}

impl ServiceConfig for BookingConfig {
    fn runtime_sections(&self) -> (&ServerConfig, &TelemetryConfig, &AuthConfig, &LimitsConfig) {
        (&self.server, &self.telemetry, &self.auth, &self.limits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use welfare_runtime::config::load;

    #[test]
    fn the_shipped_deployment_configuration_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../deploy/kubernetes/base/config/booking-svc.toml");
        let config: BookingConfig = load(Some(&path), "lodiwelfare", Vec::new())
            .expect("deploy/kubernetes/base/config/booking-svc.toml");
        assert_eq!(config.server.listen_addr.port(), 50052);
        assert!(config.database.url.starts_with("postgres://"));
        assert_eq!(config.upstream.catalog_url, "http://catalog-svc:50051");
        assert_eq!(config.upstream.wallet_url, "http://wallet-svc:50053");
        assert!(config.upstream.token_file.is_some());
        assert!(config.failpoint.pause_at.is_none());
        assert_eq!(
            config.runtime().auth.algorithm,
            welfare_runtime::config::JwtAlgorithm::ES256
        );
    }

    #[test]
    fn an_unknown_key_is_refused_with_its_path() {
        let error = load::<BookingConfig>(
            None,
            "lodiwelfare",
            vec![(
                "LODIWELFARE__UPSTREAM__WALET_URL".to_owned(),
                "x".to_owned(),
            )],
        )
        .expect_err("unknown key");
        assert!(error.to_string().contains("walet_url"), "{error}");
    }
}
