//! How a service process starts and ends: its configuration loaded, telemetry started, the
//! service run, telemetry flushed, and an exit code a person or a supervisor can act on.
//!
//! | exit code | meaning |
//! |---|---|
//! | 0 | stopped on SIGINT/SIGTERM after draining |
//! | 1 | failed while starting or serving (the error is logged and printed) |
//! | 2 | a usage or configuration error (nothing was started) |

use std::future::Future;
use std::path::Path;
use std::process::ExitCode;

use crate::config::ServiceConfig;
use crate::telemetry::Telemetry;

/// Why a service stopped other than by a signal.
pub type Failure = Box<dyn std::error::Error + Send + Sync>;

/// The exit code of a usage or configuration error.
pub const USAGE_ERROR: u8 = 2;

/// Loads `C` (defaults, `config_file`, `LODIWELFARE__…`), starts telemetry, runs `service`, and
/// answers the process's exit code; `name` prefixes every line printed.
pub async fn run_service<C, F, Fut>(name: &str, config_file: Option<&Path>, service: F) -> ExitCode
where
    C: ServiceConfig,
    F: FnOnce(C) -> Fut,
    Fut: Future<Output = Result<(), Failure>>,
{
    let config = match C::load(config_file) {
        Ok(config) => config,
        Err(error) => return usage_error(name, &error.to_string()),
    };
    let telemetry = match Telemetry::init(config.runtime_sections().1) {
        Ok(telemetry) => telemetry,
        Err(error) => return usage_error(name, &error.to_string()),
    };
    let result = service(config).await;
    telemetry.shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "{name} stopped");
            eprintln!("{name}: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Prints a usage or configuration problem in one line and answers its exit code.
pub fn usage_error(name: &str, problem: &str) -> ExitCode {
    eprintln!("{name}: {problem}");
    ExitCode::from(USAGE_ERROR)
}
