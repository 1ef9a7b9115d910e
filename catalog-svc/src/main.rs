//! `catalog-svc`: the catalogue service on its own, on PostgreSQL or SQLite by database URL.
//!
//! Usage: `catalog-svc [--config FILE] [serve | migrate | rebuild-index]`; every setting can
//! also come from `LODIWELFARE__…` environment variables (see `welfare_runtime::config`).
//! `migrate` creates or upgrades the catalogue's database and exits (a deployment's migration
//! Job); `serve` applies the migrations too.
//!
//! `serve` (the default) runs the service and its indexer. `rebuild-index` is for operators: it
//! rebuilds the Meilisearch index from the catalogue — a new index filled and swapped in — and
//! exits; the embedded index lives inside the serving process and is rebuilt at every start.

use std::path::PathBuf;
use std::process::ExitCode;

use catalog_svc::config::CatalogConfig;
use catalog_svc::startup;
use welfare_runtime::clock::system_clock;
use welfare_runtime::config::ServiceConfig;
use welfare_runtime::process::{Failure, run_service, usage_error};
use welfare_runtime::{Application, shutdown_signal};

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut config_file = None;
    let mut command = Command::Serve;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" => match args.next() {
                Some(path) => config_file = Some(PathBuf::from(path)),
                None => return usage("--config needs a file"),
            },
            "serve" => command = Command::Serve,
            "rebuild-index" => command = Command::RebuildIndex,
            "migrate" => command = Command::Migrate,
            other => return usage(&format!("unknown argument {other:?}")),
        }
    }
    run_service("catalog-svc", config_file.as_deref(), |config| async move {
        match command {
            Command::Serve => run(config).await,
            Command::RebuildIndex => rebuild_index(config).await,
            Command::Migrate => migrate(config).await,
        }
    })
    .await
}

#[derive(Debug, Clone, Copy)]
enum Command {
    Serve,
    RebuildIndex,
    Migrate,
}

fn usage(problem: &str) -> ExitCode {
    usage_error(
        "catalog-svc",
        &format!("{problem}\nusage: catalog-svc [--config FILE] [serve | migrate | rebuild-index]"),
    )
}

async fn run(config: CatalogConfig) -> Result<(), Failure> {
    let started = startup::start(&config, system_clock()).await?;
    let app = Application::build(&config.runtime(), started.services).await?;
    tracing::info!(port = app.port(), "catalog-svc listening");
    let served = app.run_until_stopped(shutdown_signal()).await;
    drop(started.tasks);
    Ok(served?)
}

/// Applies the catalogue's migrations and exits.
async fn migrate(config: CatalogConfig) -> Result<(), Failure> {
    startup::open_store(&config).await?;
    eprintln!("catalog-svc: the catalogue's database is up to date");
    Ok(())
}

/// Rebuilds the Meilisearch index from the catalogue and swaps it in.
async fn rebuild_index(config: CatalogConfig) -> Result<(), Failure> {
    let rebuilt = startup::rebuild_index(&config, system_clock()).await?;
    eprintln!("catalog-svc: {rebuilt}");
    Ok(())
}
