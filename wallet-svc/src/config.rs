//! The wallet service's configuration: the runtime's sections plus its database and sweeper.

use std::path::Path;

use serde::Deserialize;
use welfare_runtime::config::{
    AuthConfig, ConfigError, LimitsConfig, RuntimeConfig, ServerConfig, TelemetryConfig, load,
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

/// How often pending holds past their deadline are expired.
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

impl WalletConfig {
    pub fn load(file: Option<&Path>) -> Result<WalletConfig, ConfigError> {
        load(file, "lodiwelfare", std::env::vars())
    }

    /// The runtime's part.
    pub fn runtime(&self) -> RuntimeConfig {
        RuntimeConfig {
            server: self.server.clone(),
            telemetry: self.telemetry.clone(),
            auth: self.auth.clone(),
            limits: self.limits.clone(),
        }
    }
}
