//! How a service process starts and ends: its configuration loaded, telemetry started (and
//! the metrics endpoint, when configured), the service run, telemetry flushed, and an exit code a person or a supervisor can act on.
//!
//! | exit code | meaning |
//! |---|---|
//! | 0 | stopped on SIGINT/SIGTERM after draining |
//! | 1 | failed while starting or serving (the error is logged and printed) |
//! | 2 | a usage or configuration error (nothing was started) |

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::config::ServiceConfig;
use crate::metrics_endpoint::MetricsEndpoint;
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
    let endpoint = match (
        config.runtime_sections().1.metrics_addr,
        telemetry.registry(),
    ) {
        (Some(addr), Some(registry)) => {
            match MetricsEndpoint::serve(addr, registry.clone()).await {
                Ok(endpoint) => Some(endpoint),
                Err(error) => {
                    eprintln!("{name}: cannot serve metrics on {addr}: {error}");
                    return ExitCode::FAILURE;
                }
            }
        }
        _ => None,
    };
    let result = service(config).await;
    drop(endpoint);
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

/// What a service process is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceCommand {
    /// Serve until stopped (the default).
    Serve,
    /// Create or upgrade the service's database and exit: what a deployment runs once before
    /// rolling out replicas.
    Migrate,
}

/// The command line of a service, `<name> [--config FILE] [serve | migrate]`: the file and the
/// command, or the exit code of a usage error (already printed).
pub fn service_arguments(
    name: &str,
    mut args: impl Iterator<Item = String>,
) -> Result<(Option<PathBuf>, ServiceCommand), ExitCode> {
    let usage = || {
        usage_error(
            name,
            &format!("usage: {name} [--config FILE] [serve | migrate]"),
        )
    };
    let (mut config_file, mut command) = (None, ServiceCommand::Serve);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" => match args.next() {
                Some(path) => config_file = Some(PathBuf::from(path)),
                None => return Err(usage()),
            },
            "serve" => command = ServiceCommand::Serve,
            "migrate" => command = ServiceCommand::Migrate,
            _ => return Err(usage()),
        }
    }
    Ok((config_file, command))
}

/// Prints a usage or configuration problem in one line and answers its exit code.
pub fn usage_error(name: &str, problem: &str) -> ExitCode {
    eprintln!("{name}: {problem}");
    ExitCode::from(USAGE_ERROR)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> impl Iterator<Item = String> {
        list.iter()
            .map(|a| (*a).to_owned())
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn a_service_takes_an_optional_configuration_file_and_a_command() {
        let parsed = |list: &[&str]| service_arguments("svc", args(list));
        assert_eq!(parsed(&[]), Ok((None, ServiceCommand::Serve)));
        assert_eq!(
            parsed(&["--config", "svc.toml", "migrate"]),
            Ok((Some(PathBuf::from("svc.toml")), ServiceCommand::Migrate))
        );
        assert_eq!(parsed(&["serve"]), Ok((None, ServiceCommand::Serve)));
        let usage = ExitCode::from(USAGE_ERROR);
        assert_eq!(parsed(&["--config"]), Err(usage));
        assert_eq!(parsed(&["rebuild"]), Err(usage));
    }
}
