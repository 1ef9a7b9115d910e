//! `wallet-svc`: the wallet service on its own, on PostgreSQL or SQLite by database URL.
//!
//! Usage: `wallet-svc [--config FILE]`; every setting can also come from `LODIWELFARE__…`
//! environment variables (see `welfare_runtime::config`).

use std::path::PathBuf;
use std::process::ExitCode;

use wallet_svc::config::WalletConfig;
use wallet_svc::grpc::system_clock;
use wallet_svc::startup;
use welfare_runtime::config::ServiceConfig;
use welfare_runtime::telemetry::Telemetry;
use welfare_runtime::{Application, shutdown_signal};

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut config_file = None;
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--config", Some(path)) => config_file = Some(PathBuf::from(path)),
            _ => {
                eprintln!("usage: wallet-svc [--config FILE]");
                return ExitCode::from(2);
            }
        }
    }
    let config = match WalletConfig::load(config_file.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("wallet-svc: {error}");
            return ExitCode::from(2);
        }
    };
    let telemetry = match Telemetry::init(&config.telemetry) {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("wallet-svc: {error}");
            return ExitCode::from(2);
        }
    };
    let result = run(config).await;
    telemetry.shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "wallet-svc stopped");
            eprintln!("wallet-svc: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: WalletConfig) -> Result<(), Box<dyn std::error::Error>> {
    let started = startup::start(&config, system_clock()).await?;
    let app = Application::build(&config.runtime(), started.services).await?;
    tracing::info!(port = app.port(), "wallet-svc listening");
    let served = app.run_until_stopped(shutdown_signal()).await;
    drop(started.tasks);
    Ok(served?)
}
