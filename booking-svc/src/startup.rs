//! The booking service's composition root: from a configuration and a clock to the routes the
//! runtime serves and the sweeper that runs recovery beside them. `booking-svc`'s `main` and the
//! all-in-one process both start the service here.

use std::sync::Arc;
use std::time::Duration;

use welfare_core::auth::Role;
use welfare_runtime::ServiceSet;
use welfare_runtime::auth::development_service_token;
use welfare_runtime::clock::Clock;
use welfare_runtime::config::RetentionConfig;
use welfare_runtime::tasks::BackgroundTasks;

use crate::config::{BookingConfig, EventsConfig};
use crate::grpc::BookingApi;
use crate::saga::{Bookings, PauseAt, Point};
use crate::store::{Store, StoreError};
use crate::upstream::grpc::{GrpcCatalogue, GrpcWallet, lazy_channel};
use crate::upstream::{Catalogue, Wallet};
use welfare_runtime::tls::ClientTls;

/// The shortest pause between two sweeps.
pub const MIN_SWEEP_INTERVAL: Duration = Duration::from_millis(100);
/// How long the development token the service signs itself stays valid.
pub const DEVELOPMENT_TOKEN_SECONDS: i64 = 365 * 86_400;
/// The booking service's subject in the tokens it presents.
pub const SERVICE_SUBJECT: &str = "booking-svc";

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{field}: {problem}")]
    Config {
        field: &'static str,
        problem: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A started booking service: its routes, its sweeper, and the saga under them.
#[derive(Debug)]
pub struct Started {
    pub services: ServiceSet,
    pub tasks: BackgroundTasks,
    pub bookings: Bookings,
}

/// The token the booking service presents to the wallet: configured, read from a file, or
/// (development, HS256) signed with the configuration's own secret.
pub fn service_token(config: &BookingConfig, now: i64) -> Result<String, StartError> {
    let upstream = &config.upstream;
    if let Some(token) = &upstream.token {
        return Ok(token.expose().trim().to_owned());
    }
    if let Some(path) = &upstream.token_file {
        return std::fs::read_to_string(path)
            .map(|text| text.trim().to_owned())
            .map_err(|e| StartError::Config {
                field: "upstream.token_file",
                problem: format!("cannot read {}: {e}", path.display()),
            });
    }
    development_service_token(
        &config.auth,
        SERVICE_SUBJECT,
        Role::BookingService,
        now,
        DEVELOPMENT_TOKEN_SECONDS,
    )
    .ok_or_else(|| StartError::Config {
        field: "upstream.token",
        problem: "give the booking service's token (upstream.token or upstream.token_file); \
                  only an HS256 configuration can sign its own"
            .to_owned(),
    })
}

/// Opens the store the configuration names (creating an SQLite file's directory), applies its
/// migrations, connects (lazily) to the catalogue and the wallet over gRPC, and starts the
/// sweeper on `clock`: its first pass, at once, is the recovery of whatever a previous process
/// left.
pub async fn start(config: &BookingConfig, clock: Clock) -> Result<Started, StartError> {
    let token = service_token(config, clock().unix_seconds())?;
    let timeout = upstream_timeout(config);
    let tls = match &config.upstream.tls {
        Some(tls) => Some(ClientTls::load(tls).map_err(|e| StartError::Config {
            field: "upstream.tls",
            problem: e.to_string(),
        })?),
        None => None,
    };
    let channel = |url: &str, field: &'static str| {
        let problem = |e: &dyn std::fmt::Display| StartError::Config {
            field,
            problem: format!("{url}: {e}"),
        };
        // The address's scheme decides: https through upstream.tls, http in plaintext.
        match (&tls, url.starts_with("https://")) {
            (Some(tls), true) => tls.lazy_channel(url, timeout).map_err(|e| problem(&e)),
            (None, true) => Err(problem(
                &"an https:// address needs upstream.tls (the authority to trust)",
            )),
            (_, false) => lazy_channel(url, timeout).map_err(|e| problem(&e)),
        }
    };
    let catalogue = GrpcCatalogue::new(
        channel(&config.upstream.catalog_url, "upstream.catalog_url")?,
        timeout,
    );
    let holds = match &config.upstream.wallet_holds_url {
        Some(url) => channel(url, "upstream.wallet_holds_url")?,
        None => channel(&config.upstream.wallet_url, "upstream.wallet_url")?,
    };
    let wallet = GrpcWallet::new(
        channel(&config.upstream.wallet_url, "upstream.wallet_url")?,
        holds,
        token,
        timeout,
    );
    start_with(config, clock, Arc::new(catalogue), Arc::new(wallet)).await
}

/// Each call to the catalogue or the wallet is abandoned after this long.
fn upstream_timeout(config: &BookingConfig) -> Duration {
    Duration::from_millis(config.upstream.timeout_ms.max(1))
}

/// [`start`] with the catalogue and the wallet behind the given ports: over gRPC in distributed
/// mode, in process in the all-in-one one.
pub async fn start_with(
    config: &BookingConfig,
    clock: Clock,
    catalogue: Arc<dyn Catalogue>,
    wallet: Arc<dyn Wallet>,
) -> Result<Started, StartError> {
    welfare_storage::url::create_sqlite_dir(&config.database.url).map_err(|e| {
        StartError::Config {
            field: "database.url",
            problem: format!("cannot create the SQLite file's directory: {e}"),
        }
    })?;
    let timeout_seconds = i64::try_from(upstream_timeout(config).as_secs()).unwrap_or(i64::MAX);
    if config.sweeper.pending_grace_seconds <= timeout_seconds {
        return Err(StartError::Config {
            field: "sweeper.pending_grace_seconds",
            problem: format!(
                "must be longer than a wallet call may take (upstream.timeout_ms, {timeout_seconds} s)"
            ),
        });
    }
    let store = Store::connect(&config.database.url, config.database.max_connections).await?;
    let mut bookings = Bookings::new(store, catalogue, wallet, clock)
        .with_pending_grace(config.sweeper.pending_grace_seconds);
    if let Some(code) = &config.failpoint.pause_at {
        let point = Point::from_code(code).ok_or_else(|| StartError::Config {
            field: "failpoint.pause_at",
            problem: format!(
                "{code:?} is not one of {}",
                Point::ALL.map(Point::code).join(", ")
            ),
        })?;
        tracing::warn!(
            point = code,
            "failpoint set: this process will freeze there"
        );
        bookings = bookings.with_faults(Arc::new(PauseAt(point)));
    }
    let mut tasks = BackgroundTasks::default();
    let interval = Duration::from_millis(config.sweeper.interval_ms).max(MIN_SWEEP_INTERVAL);
    tasks.spawn(SWEEPER, sweep(bookings.clone(), interval));
    tasks.spawn(
        RETENTION_TASK,
        prune(
            bookings.store().clone(),
            bookings.clock().clone(),
            config.retention.clone(),
            config.events.clone(),
        ),
    );
    let services = BookingApi::new(bookings.clone()).into_services(config.limits.max_message_bytes);
    Ok(Started {
        services,
        tasks,
        bookings,
    })
}

/// The sweeper's name, in logs and in `lodiwelfare.task.passes`.
pub const SWEEPER: &str = "booking-sweeper";

/// Recovery and the platform's transitions, every `interval`.
pub async fn sweep(bookings: Bookings, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    loop {
        ticker.tick().await;
        let ok = match bookings.sweep().await {
            Ok(swept) if swept.is_empty() => true,
            Ok(swept) => {
                tracing::info!(?swept, "booking sweep");
                true
            }
            Err(error) => {
                tracing::warn!(%error, "booking sweep failed; retrying at the next tick");
                false
            }
        };
        welfare_runtime::tasks::record_pass(SWEEPER, ok);
    }
}

/// The retention task's name, in logs and in `lodiwelfare.task.passes`.
pub const RETENTION_TASK: &str = "booking-retention";
/// Every `retention.interval_ms`, one [`prune_pass`].
pub async fn prune(store: Store, clock: Clock, retention: RetentionConfig, events: EventsConfig) {
    let interval = Duration::from_millis(retention.interval_ms).max(MIN_SWEEP_INTERVAL);
    welfare_runtime::tasks::every(RETENTION_TASK, interval, || {
        let (store, clock) = (store.clone(), clock.clone());
        let (retention, events) = (retention.clone(), events.clone());
        async move {
            prune_pass(&store, &clock, &retention, &events)
                .await
                .is_ok()
        }
    })
    .await;
}

/// What one retention pass forgot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Forgotten {
    /// Request ids of booking actions and slot creations older than
    /// `retention.request_ids_hours`.
    pub request_ids: u64,
    /// Booking events older than `events.retention_days`.
    pub events: u64,
}

/// One pass of [`prune`], in bounded batches (`welfare_runtime::retention`).
pub async fn prune_pass(
    store: &Store,
    clock: &Clock,
    retention: &RetentionConfig,
    events: &EventsConfig,
) -> Result<Forgotten, StoreError> {
    let now = clock().unix_seconds();
    let request_ids =
        welfare_runtime::retention::forget_request_ids(retention, now, |before, limit| {
            store.prune_requests(before, limit)
        })
        .await?;
    let before = events.kept_since(now);
    let events =
        welfare_runtime::retention::in_batches("booking events past their window", |limit| {
            store.prune_events(before, limit)
        })
        .await?;
    Ok(Forgotten {
        request_ids,
        events,
    })
}
