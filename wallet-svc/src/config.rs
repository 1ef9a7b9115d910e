//! The wallet service's configuration: the runtime's sections plus its database and sweeper.

use serde::Deserialize;
use welfare_runtime::config::{
    AuthConfig, LimitsConfig, ServerConfig, ServiceConfig, TelemetryConfig,
};

/// Everything `wallet-svc` reads, from defaults, `--config FILE` and `LODIWELFARE__…` variables.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WalletConfig {
    pub server: ServerConfig,
    pub telemetry: TelemetryConfig,
    pub auth: AuthConfig,
    pub limits: LimitsConfig,
    pub database: DatabaseConfig,
    pub sweeper: SweeperConfig,
    pub holds: HoldsConfig,
}

/// Where the hold RPCs (`grpc::HOLD_METHODS`, the booking service's) are served. Unset, on
/// the one port with the others (the embedded default). Set, only there: the main port refuses
/// them and this one refuses the rest (`UNIMPLEMENTED`, reason `SERVED_ON_ANOTHER_PORT`), so a
/// network policy can let only the booking service reach them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HoldsConfig {
    pub listen_addr: Option<std::net::SocketAddr>,
    /// The clients the holds port answers, by a DNS name of their certificate (e.g.
    /// `booking-svc.lodiwelfare.svc`): with them, the port requires mutual TLS
    /// (`server.tls.client_ca_file`) and refuses every other certificate with
    /// `PERMISSION_DENIED` (`CLIENT_NOT_ALLOWED`). Empty: any caller with a valid token.
    pub client_names: Vec<String>,
}

/// Where the ledger lives: `postgres://…` or `sqlite://path?mode=rwc`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    pub url: String,
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> DatabaseConfig {
        DatabaseConfig {
            url: "sqlite://data/wallet.db?mode=rwc".to_owned(),
            max_connections: 16,
        }
    }
}

/// How often pending holds past their deadline are expired, and credit given back to wallets
/// of settled plans is settled.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SweeperConfig {
    pub interval_ms: u64,
}

impl Default for SweeperConfig {
    fn default() -> SweeperConfig {
        SweeperConfig { interval_ms: 5_000 }
    }
}

/// Where `wallet-svc` listens when nothing says otherwise (loopback): each service its own port,
/// so the three run side by side on one machine with no configuration.
pub const DEFAULT_PORT: u16 = 50053;

impl ServiceConfig for WalletConfig {
    fn runtime_sections(&self) -> (&ServerConfig, &TelemetryConfig, &AuthConfig, &LimitsConfig) {
        (&self.server, &self.telemetry, &self.auth, &self.limits)
    }

    fn service_defaults() -> welfare_runtime::config::ConfigTable {
        welfare_runtime::config::service_defaults(DEFAULT_PORT, "wallet-svc")
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
            .join("../deploy/kubernetes/base/config/wallet-svc.toml");
        let config: WalletConfig = load(Some(&path), "lodiwelfare", Vec::new())
            .expect("deploy/kubernetes/base/config/wallet-svc.toml");
        assert_eq!(config.server.listen_addr.port(), 50053);
        assert!(config.database.url.starts_with("postgres://"));
        assert_eq!(
            config.runtime().auth.algorithm,
            welfare_runtime::config::JwtAlgorithm::ES256
        );
    }

    #[test]
    fn an_unknown_key_is_refused_with_its_path() {
        let error = load::<WalletConfig>(
            None,
            "lodiwelfare",
            vec![("LODIWELFARE__DATABASE__URLL".to_owned(), "x".to_owned())],
        )
        .expect_err("unknown key");
        assert!(error.to_string().contains("urll"), "{error}");
    }
}
