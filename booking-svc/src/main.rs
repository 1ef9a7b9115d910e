//! `booking-svc`: the booking service on its own, on PostgreSQL or SQLite by database URL,
//! calling the catalogue and the wallet at the addresses its configuration gives.
//!
//! Usage: `booking-svc [--config FILE] [serve | migrate]`; every setting can also come from
//! `LODIWELFARE__…` environment variables (see `welfare_runtime::config`). `migrate` creates or
//! upgrades the booking database and exits (a deployment's migration Job); `serve` applies the
//! migrations too.

use std::process::ExitCode;

use booking_svc::config::BookingConfig;
use booking_svc::startup;
use welfare_runtime::clock::system_clock;
use welfare_runtime::config::ServiceConfig;
use welfare_runtime::process::{Failure, ServiceCommand, run_service, service_arguments};
use welfare_runtime::{Application, shutdown_signal};

#[tokio::main]
async fn main() -> ExitCode {
    match service_arguments("booking-svc", std::env::args().skip(1)) {
        Ok((config_file, ServiceCommand::Serve)) => {
            run_service("booking-svc", config_file.as_deref(), run).await
        }
        Ok((config_file, ServiceCommand::Migrate)) => {
            run_service("booking-svc", config_file.as_deref(), migrate).await
        }
        Err(code) => code,
    }
}

/// Applies the booking database's migrations and exits.
async fn migrate(config: BookingConfig) -> Result<(), Failure> {
    booking_svc::store::Store::connect(&config.database.url, 1).await?;
    eprintln!("booking-svc: the booking database is up to date");
    Ok(())
}

async fn run(config: BookingConfig) -> Result<(), Failure> {
    let started = startup::start(&config, system_clock()).await?;
    let app = Application::build(&config.runtime(), started.services).await?;
    tracing::info!(port = app.port(), "booking-svc listening");
    let served = app.run_until_stopped(shutdown_signal()).await;
    drop(started.tasks);
    Ok(served?)
}
