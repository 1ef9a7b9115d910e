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
    /// How long booking events are kept for `WatchBookings`.
    pub events: EventsConfig,
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
    /// Where the wallet serves its hold RPCs when it serves them on a port of their own
    /// (`holds.listen_addr` of the wallet); `wallet_url` when unset.
    pub wallet_holds_url: Option<String>,
    /// Each call to either is abandoned after this long (UNAVAILABLE or DEADLINE_EXCEEDED to
    /// the booker, nothing kept reserved).
    pub timeout_ms: u64,
    /// The booking service's bearer token (role `booking_service`), as the identity provider
    /// issued it...
    pub token: Option<Secret>,
    /// ...or the file holding it. With neither, an HS256 (development) configuration signs one
    /// with its own secret.
    pub token_file: Option<PathBuf>,
    /// TLS to the catalogue and the wallet (their URLs then `https://`): the authority their
    /// certificates chain to and, for the wallet's hold port, the booking service's own client
    /// certificate. Re-read when the files change.
    pub tls: Option<welfare_runtime::config::ClientTlsConfig>,
}

impl Default for UpstreamConfig {
    fn default() -> UpstreamConfig {
        UpstreamConfig {
            catalog_url: "http://127.0.0.1:50051".to_owned(),
            wallet_url: "http://127.0.0.1:50053".to_owned(),
            wallet_holds_url: None,
            timeout_ms: 2_000,
            token: None,
            token_file: None,
            tls: None,
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

/// The booking events partners read with `WatchBookings`: kept `retention_days` (at least
/// [`MIN_EVENT_DAYS`]); a watch resumed from an event pruned since is refused with
/// `EVENTS_PRUNED`, and the partner re-reads current bookings with `ListBookings`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    #[serde(deserialize_with = "at_least_a_week")]
    pub retention_days: u32,
}

/// The shortest time booking events are kept: a partner's system down over a long weekend
/// still resumes where it was.
pub const MIN_EVENT_DAYS: u32 = 7;
/// How long booking events are kept unless configured.
pub const DEFAULT_EVENT_DAYS: u32 = 30;

impl Default for EventsConfig {
    fn default() -> EventsConfig {
        EventsConfig {
            retention_days: DEFAULT_EVENT_DAYS,
        }
    }
}

impl EventsConfig {
    /// The oldest moment (unix seconds) whose events are still kept at `now`.
    pub fn kept_since(&self, now: i64) -> i64 {
        now - i64::from(self.retention_days) * 86_400
    }
}

fn at_least_a_week<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let days = u32::deserialize(deserializer)?;
    if days < MIN_EVENT_DAYS {
        return Err(serde::de::Error::custom(format!(
            "booking events are kept at least {MIN_EVENT_DAYS} days (partners resume watches after days away); got {days}"
        )));
    }
    Ok(days)
}

/// Where `booking-svc` listens when nothing says otherwise (loopback): each service its own port,
/// so the three run side by side on one machine with no configuration.
pub const DEFAULT_PORT: u16 = 50052;

impl ServiceConfig for BookingConfig {
    fn runtime_sections(&self) -> (&ServerConfig, &TelemetryConfig, &AuthConfig, &LimitsConfig) {
        (&self.server, &self.telemetry, &self.auth, &self.limits)
    }

    fn service_defaults() -> welfare_runtime::config::ConfigTable {
        welfare_runtime::config::service_defaults(DEFAULT_PORT, "booking-svc")
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
        assert_eq!(config.upstream.catalog_url, "https://catalog-svc:50051");
        assert_eq!(config.upstream.wallet_url, "https://wallet-svc:50053");
        assert!(
            config.upstream.tls.is_some(),
            "over TLS, with its certificate"
        );
        assert!(config.server.tls.is_some());
        assert!(config.upstream.token_file.is_some());
        assert!(config.failpoint.pause_at.is_none());
        assert_eq!(
            config.runtime().auth.algorithm,
            welfare_runtime::config::JwtAlgorithm::ES256
        );
    }

    /// With no configuration, each service listens on its own port, under its own name, and
    /// the booking service finds the others where they listen; a file or variable setting one
    /// key of `[server]` keeps the service's port.
    #[test]
    fn each_service_has_its_own_port_and_name() {
        let plain: BookingConfig = welfare_runtime::config::load_over(
            BookingConfig::service_defaults(),
            None,
            "lodiwelfare",
            vec![(
                "LODIWELFARE__SERVER__SHUTDOWN_GRACE_MS".to_owned(),
                "1".to_owned(),
            )],
        )
        .expect("defaults");
        assert_eq!(plain.server.listen_addr.to_string(), "127.0.0.1:50052");
        assert_eq!(plain.server.shutdown_grace_ms, 1);
        assert_eq!(plain.telemetry.service_name, "booking-svc");
        let port = |url: &str| url.rsplit(':').next().and_then(|p| p.parse::<u16>().ok());
        assert_eq!(
            port(&plain.upstream.catalog_url),
            Some(catalog_svc::config::DEFAULT_PORT)
        );
        assert_eq!(
            port(&plain.upstream.wallet_url),
            Some(wallet_svc::config::DEFAULT_PORT)
        );
        let ports = [
            catalog_svc::config::DEFAULT_PORT,
            DEFAULT_PORT,
            wallet_svc::config::DEFAULT_PORT,
        ];
        assert!(ports.windows(2).all(|p| p[0] != p[1]) && ports[0] != ports[2]);
        let catalog: catalog_svc::config::CatalogConfig = welfare_runtime::config::load_over(
            catalog_svc::config::CatalogConfig::service_defaults(),
            None,
            "lodiwelfare",
            Vec::new(),
        )
        .expect("catalogue defaults");
        assert_eq!(catalog.telemetry.service_name, "catalog-svc");
        // A variable still wins over the service's default.
        let moved: BookingConfig = welfare_runtime::config::load_over(
            BookingConfig::service_defaults(),
            None,
            "lodiwelfare",
            vec![(
                "LODIWELFARE__SERVER__LISTEN_ADDR".to_owned(),
                "127.0.0.1:6000".to_owned(),
            )],
        )
        .expect("moved");
        assert_eq!(moved.server.listen_addr.port(), 6000);
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
