//! `booking-svc`: the booking service on its own, on PostgreSQL or SQLite by database URL,
//! calling the catalogue and the wallet at the addresses its configuration gives.
//!
//! Usage: `booking-svc [--config FILE]`; every setting can also come from `LODIWELFARE__…`
//! environment variables (see `welfare_runtime::config`).

use std::path::PathBuf;
use std::process::ExitCode;

use booking_svc::config::BookingConfig;
use booking_svc::startup;
use welfare_runtime::clock::system_clock;
use welfare_runtime::config::ServiceConfig;
use welfare_runtime::process::{Failure, run_service, usage_error};
use welfare_runtime::{Application, shutdown_signal};

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut config_file = None;
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--config", Some(path)) => config_file = Some(PathBuf::from(path)),
            _ => return usage_error("booking-svc", "usage: booking-svc [--config FILE]"),
        }
    }
    run_service("booking-svc", config_file.as_deref(), run).await
}

async fn run(config: BookingConfig) -> Result<(), Failure> {
    let started = startup::start(&config, system_clock()).await?;
    let app = Application::build(&config.runtime(), started.services).await?;
    tracing::info!(port = app.port(), "booking-svc listening");
    let served = app.run_until_stopped(shutdown_signal()).await;
    drop(started.tasks);
    Ok(served?)
}
