//! Configuration in layers: the defaults of the configuration type, then a TOML file, then
//! environment variables. Unknown keys are rejected with their path; secrets never print.
//!
//! Environment variables are `PREFIX__SECTION__KEY=value` (double underscores separate the
//! levels, names are case-insensitive): `LODIWELFARE__SERVER__LISTEN_ADDR=0.0.0.0:50051`. A
//! value is read as a TOML scalar when it is one (numbers, booleans), otherwise as a string;
//! quote it to force a string (`'"123"'`).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

/// The largest configuration file read, in bytes.
pub const MAX_CONFIG_FILE_BYTES: u64 = 1024 * 1024;

/// Why configuration could not be loaded; the message names the file or key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configuration file {path} is larger than {MAX_CONFIG_FILE_BYTES} bytes")]
    TooLarge { path: PathBuf },
    #[error("configuration file {path} is not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("environment variable {name}: {message}")]
    Environment { name: String, message: String },
    #[error("configuration key `{key}`: {message}")]
    Invalid { key: String, message: String },
}

/// Loads `T` from its defaults, an optional TOML file and the environment variables that
/// start with `env_prefix` followed by `__`.
pub fn load<T: DeserializeOwned>(
    file: Option<&Path>,
    env_prefix: &str,
    environment: impl IntoIterator<Item = (String, String)>,
) -> Result<T, ConfigError> {
    load_over(toml::Table::new(), file, env_prefix, environment)
}

/// [`load`], starting from `base` (a service's own defaults, key by key) rather than from
/// `T`'s defaults alone: a file or a variable that sets one key of a section keeps the
/// service's defaults for the others.
pub fn load_over<T: DeserializeOwned>(
    base: toml::Table,
    file: Option<&Path>,
    env_prefix: &str,
    environment: impl IntoIterator<Item = (String, String)>,
) -> Result<T, ConfigError> {
    let mut merged = base;
    if let Some(path) = file {
        let too_large = std::fs::metadata(path)
            .map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?
            .len()
            > MAX_CONFIG_FILE_BYTES;
        if too_large {
            return Err(ConfigError::TooLarge {
                path: path.to_owned(),
            });
        }
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let read = text
            .parse::<toml::Table>()
            .map_err(|e| ConfigError::Syntax {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
        merge(&mut merged, read);
    }
    let marker = format!("{}__", env_prefix.to_ascii_uppercase());
    let mut variables: Vec<(String, String)> = environment
        .into_iter()
        .filter(|(name, _)| name.to_ascii_uppercase().starts_with(&marker))
        .collect();
    variables.sort();
    for (name, value) in variables {
        let path: Vec<String> = name
            .get(marker.len()..)
            .unwrap_or_default()
            .split("__")
            .map(str::to_ascii_lowercase)
            .collect();
        if path.iter().any(String::is_empty) {
            return Err(ConfigError::Environment {
                name,
                message: "empty key segment".to_owned(),
            });
        }
        set_path(&mut merged, &path, scalar(&value))
            .map_err(|message| ConfigError::Environment { name, message })?;
    }
    let deserializer = toml::Value::Table(merged);
    serde_path_to_error::deserialize(deserializer).map_err(|error| ConfigError::Invalid {
        key: error.path().to_string(),
        message: error.into_inner().to_string(),
    })
}

/// Reads an environment value as a TOML scalar where it parses as one, else as a string.
fn scalar(value: &str) -> toml::Value {
    let document = format!("v = {value}");
    match document
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
    {
        Some(
            parsed @ (toml::Value::Integer(_)
            | toml::Value::Float(_)
            | toml::Value::Boolean(_)
            | toml::Value::String(_)),
        ) => parsed,
        _ => toml::Value::String(value.to_owned()),
    }
}

/// Writes `over` onto `into`, section by section.
fn merge(into: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (into.get_mut(&key), value) {
            (Some(toml::Value::Table(inner)), toml::Value::Table(more)) => merge(inner, more),
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

/// A section-by-section table of configuration values, as TOML holds them.
pub type ConfigTable = toml::Table;

/// A service's own defaults: its port on the loopback address and its name on traces and
/// metrics, so the three services run side by side on one machine with no configuration.
pub fn service_defaults(port: u16, service_name: &str) -> ConfigTable {
    let mut server = toml::Table::new();
    server.insert(
        "listen_addr".to_owned(),
        toml::Value::String(format!("127.0.0.1:{port}")),
    );
    let mut telemetry = toml::Table::new();
    telemetry.insert(
        "service_name".to_owned(),
        toml::Value::String(service_name.to_owned()),
    );
    let mut defaults = toml::Table::new();
    defaults.insert("server".to_owned(), toml::Value::Table(server));
    defaults.insert("telemetry".to_owned(), toml::Value::Table(telemetry));
    defaults
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    match path {
        [] => Err("empty key".to_owned()),
        [last] => {
            table.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => {
            let entry = table
                .entry(first.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(inner) => set_path(inner, rest, value),
                _ => Err(format!("`{first}` is a value, not a section")),
            }
        }
    }
}

/// A secret (key, password): its value never appears in `Debug` or `Display` output.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Secret, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

/// The settings every service shares.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeConfig {
    pub server: ServerConfig,
    pub telemetry: TelemetryConfig,
    pub auth: AuthConfig,
    pub limits: LimitsConfig,
}

/// A service's whole configuration: the runtime's four sections beside its own, loaded from
/// defaults, `--config FILE` and `LODIWELFARE__…` variables.
pub trait ServiceConfig: DeserializeOwned {
    /// The runtime's sections, as the service's configuration holds them.
    fn runtime_sections(&self) -> (&ServerConfig, &TelemetryConfig, &AuthConfig, &LimitsConfig);

    /// The service's own defaults over its type's (see [`service_defaults`]); none by default.
    fn service_defaults() -> ConfigTable {
        ConfigTable::new()
    }

    /// Loads the configuration: defaults, the service's own, then `file`, then the
    /// environment.
    fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        load_over(Self::service_defaults(), file, ENV_PREFIX, std::env::vars())
    }

    /// The runtime's part.
    fn runtime(&self) -> RuntimeConfig {
        let (server, telemetry, auth, limits) = self.runtime_sections();
        RuntimeConfig {
            server: server.clone(),
            telemetry: telemetry.clone(),
            auth: auth.clone(),
            limits: limits.clone(),
        }
    }
}

/// The prefix of the environment variables that configure a service (`LODIWELFARE__…`).
pub const ENV_PREFIX: &str = "lodiwelfare";

/// Where to listen and how to stop.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen_addr: SocketAddr,
    /// How long in-flight calls may run after SIGTERM/SIGINT before they are dropped.
    pub shutdown_grace_ms: u64,
    /// The key page tokens are signed with (`crate::page_token`), the same for every replica
    /// of a service so that a page read from one continues on another. Unset: a random key of
    /// this process (tokens then hold only on it — enough for one process).
    pub page_token_secret: Option<Secret>,
    /// TLS on the listener (`crate::tls`). Unset, calls travel in plaintext: the embedded
    /// default, on the loopback address only unless `allow_plaintext` says otherwise.
    pub tls: Option<TlsConfig>,
    /// Plaintext on an address other machines reach: refused at start unless this is set (a
    /// private network of one machine, a mesh that encrypts for the service).
    pub allow_plaintext: bool,
    /// A second listener answering only `grpc.health.v1.Health`, in plaintext, for probes
    /// that cannot speak TLS (the kubelet's gRPC probes). Unset: health on the main listener.
    pub health_addr: Option<SocketAddr>,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 50051)),
            shutdown_grace_ms: 10_000,
            page_token_secret: None,
            tls: None,
            allow_plaintext: false,
            health_addr: None,
        }
    }
}

impl ServerConfig {
    /// Whether this listener would carry calls in plaintext to other machines without being
    /// told it may: refused at start.
    pub fn plaintext_refused(&self) -> bool {
        self.tls.is_none() && !self.listen_addr.ip().is_loopback() && !self.allow_plaintext
    }
}

/// The default interval between two looks at the certificate files.
pub const DEFAULT_TLS_RELOAD_SECONDS: u64 = 30;

fn default_tls_reload_seconds() -> u64 {
    DEFAULT_TLS_RELOAD_SECONDS
}

/// A listener's certificate, and whose client certificates it accepts. The files are PEM; they
/// are re-read every `reload_seconds` and a changed set takes effect on the next connection, so
/// a renewed certificate needs no restart (a broken set is logged and the loaded one kept).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The server's certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// Its private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// Authorities whose client certificates are verified (mutual TLS). Unset: none asked for.
    #[serde(default)]
    pub client_ca_file: Option<PathBuf>,
    /// With `client_ca_file`: a connection without a client certificate is refused. Otherwise
    /// one is verified when presented (partners keep calling with tokens alone); listeners
    /// restricted to named clients (the wallet's hold port) always require one.
    #[serde(default)]
    pub require_client_cert: bool,
    #[serde(default = "default_tls_reload_seconds")]
    pub reload_seconds: u64,
}

/// How a service calls another over TLS: the authorities it trusts for the other's
/// certificate and, for mutual TLS, its own client certificate. Re-read like [`TlsConfig`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientTlsConfig {
    /// Authorities the called service's certificate must chain to.
    pub ca_file: PathBuf,
    /// This service's client certificate chain, for servers that ask for one.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// Its private key; set with `cert_file` or not at all.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    #[serde(default = "default_tls_reload_seconds")]
    pub reload_seconds: u64,
}

/// Log format for humans or machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

/// Logs, traces and metrics.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// The service name on traces and metrics.
    pub service_name: String,
    pub log_format: LogFormat,
    /// A `tracing` filter, e.g. `info,welfare_runtime=debug`.
    pub log_filter: String,
    /// OTLP/gRPC endpoint (e.g. `http://localhost:4317`); unset disables export.
    pub otlp_endpoint: Option<String>,
    /// How often metrics are exported over OTLP.
    pub metrics_interval_ms: u64,
    /// Where Prometheus scrapes the metrics (`GET /metrics`), e.g. `0.0.0.0:9464`; unset
    /// serves none.
    pub metrics_addr: Option<std::net::SocketAddr>,
}

impl Default for TelemetryConfig {
    fn default() -> TelemetryConfig {
        TelemetryConfig {
            service_name: "lodiwelfare".to_owned(),
            log_format: LogFormat::Pretty,
            log_filter: "info".to_owned(),
            otlp_endpoint: None,
            metrics_interval_ms: 15_000,
            metrics_addr: None,
        }
    }
}

/// The least a request id is remembered, in hours: a client's retry a day later still gets
/// the first answer.
pub const MIN_REQUEST_ID_HOURS: u32 = 24;
/// How long a request id is remembered by default, in hours.
pub const DEFAULT_REQUEST_ID_HOURS: u32 = 48;

/// How long what a service keeps only for retries is kept, and how often it is pruned.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// How long a request id is remembered: a retry within it gets the first answer (or
    /// `REQUEST_ID_REUSED`); after it the id is forgotten and a request carrying it is new. At
    /// least [`MIN_REQUEST_ID_HOURS`].
    #[serde(deserialize_with = "at_least_a_day")]
    pub request_ids_hours: u32,
    /// How often the pruning pass runs.
    pub interval_ms: u64,
}

impl Default for RetentionConfig {
    fn default() -> RetentionConfig {
        RetentionConfig {
            request_ids_hours: DEFAULT_REQUEST_ID_HOURS,
            interval_ms: 600_000,
        }
    }
}

impl RetentionConfig {
    /// The oldest moment (unix seconds) whose request ids are still remembered at `now`.
    pub fn request_ids_since(&self, now: i64) -> i64 {
        now - i64::from(self.request_ids_hours) * 3_600
    }
}

fn at_least_a_day<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let hours = u32::deserialize(deserializer)?;
    if hours < MIN_REQUEST_ID_HOURS {
        return Err(serde::de::Error::custom(format!(
            "request ids are remembered at least {MIN_REQUEST_ID_HOURS} hours (clients retry for a day); got {hours}"
        )));
    }
    Ok(hours)
}

/// Signature algorithm for bearer tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum JwtAlgorithm {
    /// Shared secret: development only.
    #[default]
    HS256,
    RS256,
    ES256,
}

/// Bearer-token checks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    pub issuer: String,
    pub audience: String,
    pub algorithm: JwtAlgorithm,
    /// HS256 shared secret.
    pub hs256_secret: Option<Secret>,
    /// RS256/ES256 public key, PEM, inline...
    pub public_key_pem: Option<String>,
    /// ...or from a file.
    pub public_key_file: Option<PathBuf>,
    /// Or several keys, chosen by each token's `kid`: a JWKS document (RFC 7517) re-read every
    /// `jwks_refresh_seconds`, so keys rotate without a restart (`crate::jwks`). Takes the place
    /// of the single key when set; tokens must still be signed with `algorithm`.
    pub jwks_file: Option<PathBuf>,
    pub jwks_refresh_seconds: u64,
    /// Tolerated clock skew.
    pub leeway_seconds: u64,
}

impl Default for AuthConfig {
    fn default() -> AuthConfig {
        AuthConfig {
            issuer: "lodiwelfare".to_owned(),
            audience: "lodiwelfare".to_owned(),
            algorithm: JwtAlgorithm::HS256,
            hs256_secret: None,
            public_key_pem: None,
            public_key_file: None,
            jwks_file: None,
            jwks_refresh_seconds: 60,
            leeway_seconds: 30,
        }
    }
}

/// Limits on what one caller or one call may take.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest request message accepted, bytes.
    pub max_message_bytes: usize,
    /// Longest a call may run before DEADLINE_EXCEEDED.
    pub request_timeout_ms: u64,
    /// Calls served at once; more are refused with UNAVAILABLE rather than queued.
    pub max_concurrent_requests: usize,
    /// Sustained calls per second per principal (or per client address when anonymous).
    pub rate_limit_per_second: u32,
    /// Calls a principal may make in a burst above the sustained rate.
    pub rate_limit_burst: u32,
    /// Principals tracked by the rate limiter before the least recent are forgotten.
    pub rate_limit_max_principals: usize,
    /// Sustained calls per second of each of the platform's own services (the booking
    /// service, which places every hold for the whole platform): its own bucket, far larger
    /// than a person's.
    pub service_rate_limit_per_second: u32,
    /// Calls a service identity may make in a burst above its sustained rate.
    pub service_rate_limit_burst: u32,
    /// Failed authentications per second a client address may sustain; past them (and the
    /// burst) its calls with a token are refused with RESOURCE_EXHAUSTED
    /// (`AUTH_FAILURES_LIMITED`) before any token is checked.
    pub auth_failures_per_second: u32,
    /// Failed authentications a client address may make in a burst.
    pub auth_failures_burst: u32,
    /// Proxies whose `x-forwarded-for` names the client (the gateway, an ingress controller):
    /// limits then apply to the client's address, not the proxy's. Empty: the connection's
    /// peer is the client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for LimitsConfig {
    fn default() -> LimitsConfig {
        LimitsConfig {
            max_message_bytes: 4 * 1024 * 1024,
            request_timeout_ms: 10_000,
            max_concurrent_requests: 1_024,
            rate_limit_per_second: 100,
            rate_limit_burst: 200,
            rate_limit_max_principals: 100_000,
            service_rate_limit_per_second: 5_000,
            service_rate_limit_burst: 10_000,
            auth_failures_per_second: 5,
            auth_failures_burst: 20,
            trusted_proxies: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn layers_apply_defaults_then_file_then_environment() {
        let dir = std::env::temp_dir().join(format!("welfare-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("layers.toml");
        std::fs::write(
            &file,
            "[server]\nlisten_addr = \"0.0.0.0:7000\"\n[limits]\nrate_limit_per_second = 5\n",
        )
        .expect("write");
        let config: RuntimeConfig = load(
            Some(&file),
            "lodiwelfare",
            env(&[
                ("LODIWELFARE__LIMITS__RATE_LIMIT_PER_SECOND", "9"),
                ("OTHER__X", "1"),
            ]),
        )
        .expect("valid");
        assert_eq!(config.server.listen_addr.port(), 7000);
        assert_eq!(config.limits.rate_limit_per_second, 9);
        assert_eq!(
            config.limits.rate_limit_burst,
            LimitsConfig::default().rate_limit_burst
        );
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_path() {
        let error = load::<RuntimeConfig>(
            None,
            "lodiwelfare",
            env(&[("LODIWELFARE__SERVER__PORTT", "1")]),
        )
        .expect_err("unknown key");
        let message = error.to_string();
        assert!(message.contains("portt"), "{message}");
        let error = load::<RuntimeConfig>(
            None,
            "lodiwelfare",
            env(&[("LODIWELFARE__LIMITS__MAX_MESSAGE_BYTES", "lots")]),
        )
        .expect_err("bad type");
        assert!(
            error.to_string().contains("limits.max_message_bytes"),
            "{error}"
        );
    }

    #[test]
    fn request_ids_are_remembered_at_least_a_day() {
        #[derive(Debug, Deserialize)]
        struct WithRetention {
            #[allow(dead_code)]
            retention: RetentionConfig,
        }
        let error = load::<WithRetention>(
            None,
            "lodiwelfare",
            env(&[("LODIWELFARE__RETENTION__REQUEST_IDS_HOURS", "12")]),
        )
        .expect_err("half a day");
        let message = error.to_string();
        assert!(message.contains("retention.request_ids_hours"), "{message}");
        assert!(message.contains("at least 24 hours"), "{message}");
        let kept: WithRetention = load(
            None,
            "lodiwelfare",
            env(&[("LODIWELFARE__RETENTION__REQUEST_IDS_HOURS", "24")]),
        )
        .expect("a day");
        assert_eq!(kept.retention.request_ids_hours, 24);
        assert_eq!(kept.retention.request_ids_since(100_000), 100_000 - 86_400);
        assert_eq!(
            RetentionConfig::default().request_ids_hours,
            DEFAULT_REQUEST_ID_HOURS
        );
    }

    #[test]
    fn secrets_never_print() {
        let config: RuntimeConfig = load(
            None,
            "lodiwelfare",
            env(&[("LODIWELFARE__AUTH__HS256_SECRET", "s3cr3t-value")]),
        )
        .expect("valid");
        let printed = format!("{config:?}");
        assert!(!printed.contains("s3cr3t-value"), "{printed}");
        assert_eq!(
            config.auth.hs256_secret.as_ref().map(Secret::expose),
            Some("s3cr3t-value")
        );
    }

    #[test]
    fn quoted_numbers_stay_strings() {
        let config: RuntimeConfig = load(
            None,
            "lodiwelfare",
            env(&[("LODIWELFARE__AUTH__HS256_SECRET", "\"123\"")]),
        )
        .expect("valid");
        assert_eq!(
            config.auth.hs256_secret.as_ref().map(Secret::expose),
            Some("123")
        );
    }
}
