//! The catalogue service's configuration: the runtime's sections plus its database and
//! territory.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use welfare_core::territory::{DEFAULT_FRESHNESS_WINDOW_DAYS, Territory};
use welfare_runtime::config::{
    AuthConfig, ConfigError, LimitsConfig, RuntimeConfig, ServerConfig, TelemetryConfig, load,
};

/// Everything `catalog-svc` reads, from defaults, `--config FILE` and `LODIWELFARE__…`
/// variables.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogConfig {
    pub server: ServerConfig,
    pub telemetry: TelemetryConfig,
    pub auth: AuthConfig,
    pub limits: LimitsConfig,
    pub database: DatabaseConfig,
    pub territory: TerritoryConfig,
    pub search: SearchConfig,
}

/// The search index: the embedded one, kept current from the catalogue's outbox.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchConfig {
    /// How often the indexer looks for new outbox rows when idle.
    pub interval_ms: u64,
}

impl Default for SearchConfig {
    fn default() -> SearchConfig {
        SearchConfig { interval_ms: 1_000 }
    }
}

/// Where the catalogue lives: `postgres://…` or `sqlite://path?mode=rwc`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    pub url: String,
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> DatabaseConfig {
        DatabaseConfig {
            url: "sqlite://data/catalog.db?mode=rwc".to_owned(),
            max_connections: 16,
        }
    }
}

/// The territory served: the Ambito di Lodi unless a CSV of comuni (the columns of
/// `data/comuni-lodi.csv`) names another.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TerritoryConfig {
    pub name: String,
    pub csv_path: Option<PathBuf>,
    /// Days a verified listing stays fresh.
    pub freshness_window_days: u32,
}

impl Default for TerritoryConfig {
    fn default() -> TerritoryConfig {
        TerritoryConfig {
            name: "Ambito di Lodi".to_owned(),
            csv_path: None,
            freshness_window_days: DEFAULT_FRESHNESS_WINDOW_DAYS,
        }
    }
}

impl TerritoryConfig {
    /// The configured territory.
    pub fn territory(&self) -> Result<Territory, String> {
        match &self.csv_path {
            None => Territory::lodi()
                .with_freshness_window_days(self.freshness_window_days)
                .map_err(|e| format!("territory.freshness_window_days: {e}")),
            Some(path) => {
                let csv = std::fs::read_to_string(path)
                    .map_err(|e| format!("territory.csv_path {}: {e}", path.display()))?;
                Territory::from_csv(&self.name, self.freshness_window_days, &csv)
                    .map_err(|e| format!("territory.csv_path {}: {e}", path.display()))
            }
        }
    }
}

impl CatalogConfig {
    pub fn load(file: Option<&Path>) -> Result<CatalogConfig, ConfigError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_deployment_configuration_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/config/catalog-svc.toml");
        let config: CatalogConfig =
            load(Some(&path), "lodiwelfare", Vec::new()).expect("deploy/config/catalog-svc.toml");
        assert_eq!(config.server.listen_addr.port(), 50051);
        assert!(config.database.url.starts_with("postgres://"));
        let territory = config.territory.territory().expect("territory");
        assert_eq!(territory.municipalities().len(), 60);
        assert_eq!(territory.freshness_window_days(), 180);
    }

    #[test]
    fn an_unknown_key_is_refused_with_its_path() {
        let error = load::<CatalogConfig>(
            None,
            "lodiwelfare",
            vec![("LODIWELFARE__TERRITORY__WINDOW".to_owned(), "x".to_owned())],
        )
        .expect_err("unknown key");
        assert!(error.to_string().contains("window"), "{error}");
    }

    #[test]
    fn a_missing_territory_file_is_named() {
        let config = TerritoryConfig {
            csv_path: Some(PathBuf::from("/nonexistent/comuni.csv")),
            ..TerritoryConfig::default()
        };
        let error = config.territory().expect_err("missing file");
        assert!(error.contains("/nonexistent/comuni.csv"), "{error}");
    }
}
