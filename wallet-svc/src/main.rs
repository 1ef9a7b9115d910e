//! `wallet-svc`: the wallet service on its own, on PostgreSQL or SQLite by database URL.
//!
//! Usage: `wallet-svc [--config FILE]`; every setting can also come from `LODIWELFARE__…`
//! environment variables (see `welfare_runtime::config`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use wallet_svc::config::WalletConfig;
use wallet_svc::grpc::{Clock, WalletApi, system_clock};
use wallet_svc::ledger::Ledger;
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
    welfare_storage::url::create_sqlite_dir(&config.database.url)?;
    let ledger = Ledger::connect(&config.database.url, config.database.max_connections).await?;
    let clock = system_clock();
    let api = WalletApi::new(ledger.clone(), clock.clone());
    let sweeper = tokio::spawn(sweep(
        ledger,
        clock,
        Duration::from_millis(config.sweeper.interval_ms.max(100)),
    ));
    let services = api.into_services(config.limits.max_message_bytes);
    let app = Application::build(&config.runtime(), services).await?;
    tracing::info!(port = app.port(), "wallet-svc listening");
    let served = app.run_until_stopped(shutdown_signal()).await;
    sweeper.abort();
    Ok(served?)
}

/// Expires pending holds past their deadline, so held credit always comes back, and settles
/// credit given back to wallets of already settled plans (where settling it at once failed).
async fn sweep(ledger: Ledger, clock: Clock, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    loop {
        ticker.tick().await;
        let now = clock().unix_seconds();
        match ledger.expire_due(now).await {
            Ok(0) => {}
            Ok(expired) => tracing::info!(expired, "expired pending holds"),
            Err(error) => tracing::warn!(%error, "hold sweep failed; retrying at the next tick"),
        }
        match ledger.settle_lapsed(now).await {
            Ok(0) => {}
            Ok(settled) => tracing::info!(settled, "settled credit given back after year end"),
            Err(error) => {
                tracing::warn!(%error, "settlement sweep failed; retrying at the next tick")
            }
        }
    }
}
