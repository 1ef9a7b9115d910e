//! The one process's configuration: the runtime's sections once for all services, a data
//! directory for their SQLite files, and the parts of each service's own configuration that
//! make sense in one process (search, territory, the sweepers).

use std::path::PathBuf;

use serde::Deserialize;
use welfare_runtime::config::{
    AuthConfig, LimitsConfig, ServerConfig, ServiceConfig, TelemetryConfig,
};

/// Where the SQLite files live when nothing says otherwise.
pub const DEFAULT_DATA_DIR: &str = "lodiwelfare-data";

/// Everything `lodiwelfare` reads, from defaults, `--config FILE` and `LODIWELFARE__…` variables.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LodiwelfareConfig {
    pub server: ServerConfig,
    pub telemetry: TelemetryConfig,
    pub auth: AuthConfig,
    pub limits: LimitsConfig,
    /// The directory of the three services' SQLite files (created).
    pub data_dir: PathBuf,
    pub territory: catalog_svc::config::TerritoryConfig,
    pub search: catalog_svc::config::SearchConfig,
    pub wallet_sweeper: wallet_svc::config::SweeperConfig,
    pub booking_sweeper: booking_svc::config::SweeperConfig,
    /// How long request ids are remembered (catalogue and bookings).
    pub retention: welfare_runtime::config::RetentionConfig,
    /// Serve development tokens (signed with the secret kept in the data directory) on an
    /// address other machines can reach. Off: development mode listens on loopback only.
    pub allow_development_on_network: bool,
}

impl Default for LodiwelfareConfig {
    fn default() -> LodiwelfareConfig {
        LodiwelfareConfig {
            server: ServerConfig::default(),
            telemetry: TelemetryConfig::default(),
            auth: AuthConfig::default(),
            limits: LimitsConfig::default(),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            territory: catalog_svc::config::TerritoryConfig::default(),
            search: catalog_svc::config::SearchConfig::default(),
            wallet_sweeper: wallet_svc::config::SweeperConfig::default(),
            booking_sweeper: booking_svc::config::SweeperConfig::default(),
            retention: welfare_runtime::config::RetentionConfig::default(),
            allow_development_on_network: false,
        }
    }
}

impl ServiceConfig for LodiwelfareConfig {
    fn runtime_sections(&self) -> (&ServerConfig, &TelemetryConfig, &AuthConfig, &LimitsConfig) {
        (&self.server, &self.telemetry, &self.auth, &self.limits)
    }
}

impl LodiwelfareConfig {
    fn sqlite(&self, file: &str) -> String {
        format!("sqlite://{}?mode=rwc", self.data_dir.join(file).display())
    }

    /// The catalogue's configuration in this process.
    pub fn catalog(&self) -> catalog_svc::config::CatalogConfig {
        let mut config = catalog_svc::config::CatalogConfig {
            server: self.server.clone(),
            telemetry: self.telemetry.clone(),
            auth: self.auth.clone(),
            limits: self.limits.clone(),
            territory: self.territory.clone(),
            search: self.search.clone(),
            retention: self.retention.clone(),
            ..Default::default()
        };
        config.database.url = self.sqlite("catalog.db");
        config
    }

    /// The wallet's configuration in this process.
    pub fn wallet(&self) -> wallet_svc::config::WalletConfig {
        let mut config = wallet_svc::config::WalletConfig {
            server: self.server.clone(),
            telemetry: self.telemetry.clone(),
            auth: self.auth.clone(),
            limits: self.limits.clone(),
            sweeper: self.wallet_sweeper.clone(),
            ..Default::default()
        };
        config.database.url = self.sqlite("wallet.db");
        config
    }

    /// The booking service's configuration in this process.
    pub fn booking(&self) -> booking_svc::config::BookingConfig {
        let mut config = booking_svc::config::BookingConfig {
            server: self.server.clone(),
            telemetry: self.telemetry.clone(),
            auth: self.auth.clone(),
            limits: self.limits.clone(),
            sweeper: self.booking_sweeper.clone(),
            retention: self.retention.clone(),
            ..Default::default()
        };
        config.database.url = self.sqlite("booking.db");
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use welfare_runtime::config::load;

    #[test]
    fn each_service_gets_its_file_in_the_data_directory() {
        let config: LodiwelfareConfig = load(
            None,
            "lodiwelfare",
            vec![("LODIWELFARE__DATA_DIR".to_owned(), "/srv/ambito".to_owned())],
        )
        .expect("config");
        assert_eq!(
            config.catalog().database.url,
            "sqlite:///srv/ambito/catalog.db?mode=rwc"
        );
        assert_eq!(
            config.wallet().database.url,
            "sqlite:///srv/ambito/wallet.db?mode=rwc"
        );
        assert_eq!(
            config.booking().database.url,
            "sqlite:///srv/ambito/booking.db?mode=rwc"
        );
    }

    #[test]
    fn an_unknown_key_is_refused_with_its_path() {
        let error = load::<LodiwelfareConfig>(
            None,
            "lodiwelfare",
            vec![("LODIWELFARE__DATA_DIRR".to_owned(), "x".to_owned())],
        )
        .expect_err("unknown key");
        assert!(error.to_string().contains("data_dirr"), "{error}");
    }
}
