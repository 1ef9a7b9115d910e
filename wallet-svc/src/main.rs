//! `wallet-svc`: the wallet service on its own, on PostgreSQL or SQLite by database URL.
//!
//! Usage: `wallet-svc [--config FILE] [serve | migrate]`; every setting can also come from
//! `LODIWELFARE__…` environment variables (see `welfare_runtime::config`). `migrate` creates or
//! upgrades the ledger's database and exits (a deployment's migration Job); `serve` applies
//! the migrations too, so a single process needs nothing else.

use std::process::ExitCode;

use wallet_svc::config::WalletConfig;
use wallet_svc::grpc::system_clock;
use wallet_svc::startup;
use welfare_runtime::config::ServiceConfig;
use welfare_runtime::process::{Failure, ServiceCommand, run_service, service_arguments};
use welfare_runtime::{Application, shutdown_signal};

#[tokio::main]
async fn main() -> ExitCode {
    match service_arguments("wallet-svc", std::env::args().skip(1)) {
        Ok((config_file, ServiceCommand::Serve)) => {
            run_service("wallet-svc", config_file.as_deref(), run).await
        }
        Ok((config_file, ServiceCommand::Migrate)) => {
            run_service("wallet-svc", config_file.as_deref(), migrate).await
        }
        Err(code) => code,
    }
}

/// Applies the ledger's migrations and exits.
async fn migrate(config: WalletConfig) -> Result<(), Failure> {
    wallet_svc::ledger::Ledger::connect(&config.database.url, 1).await?;
    eprintln!("wallet-svc: the ledger's database is up to date");
    Ok(())
}

async fn run(config: WalletConfig) -> Result<(), Failure> {
    let started = startup::start(&config, system_clock()).await?;
    let app = Application::build(&config.runtime(), started.services).await?;
    tracing::info!(port = app.port(), "wallet-svc listening");
    let served = match (started.holds, config.holds.listen_addr) {
        (Some(holds), Some(addr)) => {
            let mut runtime = config.runtime();
            runtime.server.listen_addr = addr;
            // One probe port per process: the main listener's.
            runtime.server.health_addr = None;
            let holds_app = Application::build(&runtime, holds).await?;
            tracing::info!(port = holds_app.port(), "wallet-svc serving its hold RPCs");
            let (main, holds) = tokio::join!(
                app.run_until_stopped(shutdown_signal()),
                holds_app.run_until_stopped(shutdown_signal())
            );
            main.and(holds)
        }
        _ => app.run_until_stopped(shutdown_signal()).await,
    };
    drop(started.tasks);
    Ok(served?)
}
