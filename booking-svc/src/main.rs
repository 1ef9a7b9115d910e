//! `booking-svc`: the booking service on its own, on PostgreSQL or SQLite by database URL,
//! calling the catalogue and the wallet at the addresses its configuration gives.
//!
//! Usage: `booking-svc [--config FILE]`; every setting can also come from `LODIWELFARE__…`
//! environment variables (see `welfare_runtime::config`).

use std::process::ExitCode;

use booking_svc::config::BookingConfig;
use booking_svc::startup;
use welfare_runtime::clock::system_clock;
use welfare_runtime::config::ServiceConfig;
use welfare_runtime::process::{Failure, config_file_argument, run_service};
use welfare_runtime::{Application, shutdown_signal};

#[tokio::main]
async fn main() -> ExitCode {
    match config_file_argument("booking-svc", std::env::args().skip(1)) {
        Ok(config_file) => run_service("booking-svc", config_file.as_deref(), run).await,
        Err(code) => code,
    }
}

async fn run(config: BookingConfig) -> Result<(), Failure> {
    let started = startup::start(&config, system_clock()).await?;
    let app = Application::build(&config.runtime(), started.services).await?;
    tracing::info!(port = app.port(), "booking-svc listening");
    let served = app.run_until_stopped(shutdown_signal()).await;
    drop(started.tasks);
    Ok(served?)
}
