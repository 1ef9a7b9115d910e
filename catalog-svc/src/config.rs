//! The catalogue service's configuration: the runtime's sections plus its database and
//! territory.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use welfare_core::territory::{DEFAULT_FRESHNESS_WINDOW_DAYS, Territory};
use welfare_runtime::config::{
    AuthConfig, LimitsConfig, RetentionConfig, Secret, ServerConfig, ServiceConfig, TelemetryConfig,
};

use crate::search::meili::MeiliConfig;

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
    /// How long request ids are remembered.
    pub retention: RetentionConfig,
}

/// The search index, kept current from the catalogue's outbox: the embedded one (in memory,
/// rebuilt at start) or a Meilisearch server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchConfig {
    /// `embedded` or `meilisearch`.
    pub engine: SearchEngine,
    /// How often the indexer looks for new outbox rows when idle.
    pub interval_ms: u64,
    pub meilisearch: MeilisearchConfig,
}

impl Default for SearchConfig {
    fn default() -> SearchConfig {
        SearchConfig {
            engine: SearchEngine::Embedded,
            interval_ms: 1_000,
            meilisearch: MeilisearchConfig::default(),
        }
    }
}

/// Which index serves search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchEngine {
    Embedded,
    Meilisearch,
}

/// The Meilisearch server (used when `search.engine = "meilisearch"`). The key comes from
/// the environment: `LODIWELFARE__SEARCH__MEILISEARCH__API_KEY`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MeilisearchConfig {
    /// `http://…`, or `https://…` to reach it over TLS: its certificate must chain to the
    /// system's trust store or to the authorities of the file `SSL_CERT_FILE` names (the
    /// Ambito's own, for a Meilisearch inside the cluster).
    pub url: String,
    pub api_key: Option<Secret>,
    /// The uid of the live index; rebuilds swap a new one in under this name.
    pub index: String,
    /// How long one write task may take before it counts as failed.
    pub task_timeout_ms: u64,
}

impl Default for MeilisearchConfig {
    fn default() -> MeilisearchConfig {
        MeilisearchConfig {
            url: "http://127.0.0.1:7700".to_owned(),
            api_key: None,
            index: "listings".to_owned(),
            task_timeout_ms: 300_000,
        }
    }
}

impl MeilisearchConfig {
    /// The adapter's configuration.
    pub fn adapter(&self) -> MeiliConfig {
        MeiliConfig {
            url: self.url.clone(),
            api_key: self.api_key.as_ref().map(|key| key.expose().to_owned()),
            index: self.index.clone(),
            task_timeout: Duration::from_millis(self.task_timeout_ms),
        }
    }
}

/// Where the catalogue lives: `postgres://…` or `sqlite://path?mode=rwc`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    pub url: String,
    /// The connection pool's size (at most 8 on SQLite). Searches read on up to 4 connections
    /// more, kept outside the pool: count `max_connections + 4` per replica against the
    /// database server's own limit.
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

/// Where `catalog-svc` listens when nothing says otherwise (loopback): each service its own port,
/// so the three run side by side on one machine with no configuration.
pub const DEFAULT_PORT: u16 = 50051;

impl ServiceConfig for CatalogConfig {
    fn runtime_sections(&self) -> (&ServerConfig, &TelemetryConfig, &AuthConfig, &LimitsConfig) {
        (&self.server, &self.telemetry, &self.auth, &self.limits)
    }

    fn service_defaults() -> welfare_runtime::config::ConfigTable {
        welfare_runtime::config::service_defaults(DEFAULT_PORT, "catalog-svc")
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
            .join("../deploy/kubernetes/base/config/catalog-svc.toml");
        let config: CatalogConfig = load(Some(&path), "lodiwelfare", Vec::new())
            .expect("deploy/kubernetes/base/config/catalog-svc.toml");
        assert_eq!(config.server.listen_addr.port(), 50051);
        assert!(config.database.url.starts_with("postgres://"));
        let territory = config.territory.territory().expect("territory");
        assert_eq!(territory.municipalities().len(), 60);
        assert_eq!(territory.freshness_window_days(), 180);
        assert_eq!(config.search.engine, SearchEngine::Meilisearch);
        assert_eq!(config.search.meilisearch.index, "listings");
        assert!(config.search.meilisearch.api_key.is_none());
    }

    #[test]
    fn the_meilisearch_key_comes_from_the_environment() {
        let config: CatalogConfig = load(
            None,
            "lodiwelfare",
            vec![
                (
                    "LODIWELFARE__SEARCH__ENGINE".to_owned(),
                    "meilisearch".to_owned(),
                ),
                (
                    "LODIWELFARE__SEARCH__MEILISEARCH__API_KEY".to_owned(),
                    "s3cret".to_owned(),
                ),
            ],
        )
        .expect("config");
        assert_eq!(config.search.engine, SearchEngine::Meilisearch);
        assert_eq!(
            config.search.meilisearch.adapter().api_key.as_deref(),
            Some("s3cret")
        );
        assert!(!format!("{config:?}").contains("s3cret"));
        let error = load::<CatalogConfig>(
            None,
            "lodiwelfare",
            vec![(
                "LODIWELFARE__SEARCH__ENGINE".to_owned(),
                "elastic".to_owned(),
            )],
        )
        .expect_err("unknown engine");
        assert!(error.to_string().contains("engine"), "{error}");
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
