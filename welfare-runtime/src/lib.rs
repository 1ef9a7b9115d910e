//! What every LodiWelfare service runs on.
//!
//! | module | what it does |
//! |---|---|
//! | [`config`] | defaults, a TOML file, environment variables; unknown keys rejected; secrets wrapped |
//! | [`telemetry`] | `tracing` logs (pretty or JSON), OpenTelemetry traces and metrics over OTLP, W3C propagation |
//! | [`observe`] | a span and RPC metrics per call, per method and status code |
//! | [`auth`] | bearer JWT → [`welfare_core::auth::Principal`] in the request extensions |
//! | [`error`] | one service error type → `google.rpc.Status` with `ErrorInfo` and `BadRequest` |
//! | [`timeout`], [`rate_limit`], [`load_shed`] | limits on time, per-principal rate, concurrency |
//! | [`page_token`] | page tokens signed by the server and bound to the request and caller |
//! | [`peer`] | where a call comes from (the peer, or the client a trusted proxy names) |
//! | [`jwks`] | verification keys by `kid` from a JWKS file, re-read so keys rotate without a restart |
//! | [`gate`] | which methods a listener answers (a service's methods split between ports) |
//! | [`tls`] | TLS and mutual TLS on listeners and between services, certificates reloaded from their files |
//! | [`client_cert`] | a listener answering only named clients, by their verified certificates |
//! | [`drain`] | cuts off calls that outlive the shutdown grace period |
//! | [`process`] | a service process: configuration, telemetry, run, exit codes |
//! | [`server`] | binding, health, reflection, the layer stack, graceful shutdown |
//! | [`tasks`] | a service's background tasks, stopped with it |
//! | [`uuid`] | new version 7 UUIDs, and stable version 8 UUIDs derived from a parent and a name |
//! | [`clock`] | the injectable clock services read |
//!
//! Message size is limited per service with the generated server's
//! `max_decoding_message_size(config.limits.max_message_bytes)`.
#![forbid(unsafe_code)]

pub mod auth;
pub mod client_cert;
pub mod clock;
pub mod config;
pub mod drain;
pub mod edge;
pub mod error;
mod future;
pub mod gate;
pub mod jwks;
pub mod load_shed;
pub mod metrics_endpoint;
pub mod observe;
pub mod page_token;
pub mod peer;
pub mod process;
pub mod rate_limit;
pub mod retention;
pub mod server;
pub mod tasks;
pub mod telemetry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod timeout;
pub mod tls;
pub mod uuid;

pub use config::RuntimeConfig;
pub use error::ServiceError;
pub use server::{Application, Readiness, ServiceSet, shutdown_signal};
