//! `catalog-svc`: the catalogue service on its own, on PostgreSQL or SQLite by database URL.
//!
//! Usage: `catalog-svc [--config FILE]`; every setting can also come from `LODIWELFARE__…`
//! environment variables (see `welfare_runtime::config`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use catalog_svc::config::CatalogConfig;
use catalog_svc::grpc::{CatalogApi, SERVICE_NAME, public_methods};
use catalog_svc::search::embedded::EmbeddedIndex;
use catalog_svc::search::indexer::Indexer;
use catalog_svc::store::SqlStore;
use welfare_proto::catalog::catalog_service_server::CatalogServiceServer;
use welfare_runtime::clock::system_clock;
use welfare_runtime::telemetry::Telemetry;
use welfare_runtime::{Application, ServiceSet, shutdown_signal};

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut config_file = None;
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--config", Some(path)) => config_file = Some(PathBuf::from(path)),
            _ => {
                eprintln!("usage: catalog-svc [--config FILE]");
                return ExitCode::from(2);
            }
        }
    }
    let config = match CatalogConfig::load(config_file.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("catalog-svc: {error}");
            return ExitCode::from(2);
        }
    };
    let telemetry = match Telemetry::init(&config.telemetry) {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("catalog-svc: {error}");
            return ExitCode::from(2);
        }
    };
    let result = run(config).await;
    telemetry.shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "catalog-svc stopped");
            eprintln!("catalog-svc: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: CatalogConfig) -> Result<(), Box<dyn std::error::Error>> {
    let territory = config.territory.territory()?;
    if let Some(path) = config
        .database
        .url
        .strip_prefix("sqlite://")
        .and_then(|rest| rest.split('?').next())
        && let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)?;
    }
    let store = SqlStore::connect(&config.database.url, config.database.max_connections).await?;
    let territory = Arc::new(territory);
    let index = EmbeddedIndex::new()?;
    let indexer = Indexer::new(
        store.clone(),
        index.clone(),
        Arc::clone(&territory),
        system_clock(),
    );
    let indexing =
        tokio::spawn(indexer.run(Duration::from_millis(config.search.interval_ms.max(50))));
    let api = CatalogApi::new(store, index, territory, system_clock());
    let services = ServiceSet {
        routes: tonic::service::Routes::new(
            CatalogServiceServer::new(api)
                .max_decoding_message_size(config.limits.max_message_bytes),
        ),
        public_methods: public_methods(),
        service_names: vec![SERVICE_NAME.to_owned()],
    };
    let app = Application::build(&config.runtime(), services).await?;
    tracing::info!(port = app.port(), "catalog-svc listening");
    let served = app.run_until_stopped(shutdown_signal()).await;
    indexing.abort();
    Ok(served?)
}
