//! The catalogue's storage port, [`CatalogStore`], and its SQL adapter for PostgreSQL and
//! SQLite.
//!
//! Every change is one transaction that writes the changed row, the answer recorded for its
//! `request_id` (so a retry gets the first answer) and an outbox row describing the change (the
//! search index consumes it). Concurrent changes are refused, not serialised: an update names
//! the version it read, and a conditional single-row `UPDATE` finds out whether that is still
//! the stored one.
//!
//! The adapter speaks the SQL both databases share through sqlx's `Any` driver; each backend has
//! its own migrations (`migrations/postgres`, `migrations/sqlite`) and connection settings, and
//! one conformance suite (`tests/store.rs`) runs against both. Rows are read into row types that
//! mirror the tables and converted to the domain's types apart, so a stored value the domain
//! refuses is an error, never a silent default.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row, ValueRef};
use welfare_core::category::Category;
use welfare_core::ids::{ListingId, ProviderId};
use welfare_core::listing::{Listing, ListingContent, ListingStatus};
use welfare_core::provider::{ProviderKind, ProviderStatus, RuntsNumber, TaxId};
use welfare_core::territory::IstatCode;
use welfare_core::time::Timestamp;
use welfare_storage::errors::is_unique_violation;
use welfare_storage::url::sqlite_file;
use welfare_storage::{Settings, SqliteWriters};

/// Why the store refused or failed an operation. Every refusal changes nothing.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row changed since the caller read it (or is gone).
    #[error("{entity} {id} changed since it was read")]
    VersionConflict { entity: &'static str, id: String },
    /// Another request with this principal and request id was recorded first.
    #[error("request id {0} is already recorded")]
    RequestRecorded(String),
    /// A provider with this tax code is already registered.
    #[error("a provider with tax code {0} is already registered")]
    TaxCodeTaken(String),
    /// A stored value the domain refuses: a defect or a hand-edited database.
    #[error("stored {entity} {id} is unreadable: {problem}")]
    Corrupt {
        entity: &'static str,
        id: String,
        problem: String,
    },
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The database could not be opened (its URL, the server, a migration).
    #[error(transparent)]
    Connect(#[from] welfare_storage::connect::ConnectError),
}

/// A provider as stored: the domain's facts plus contacts, bookkeeping and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRecord {
    pub id: ProviderId,
    pub display_name: String,
    pub kind: ProviderKind,
    pub tax_id: TaxId,
    pub contact_email: String,
    pub contact_phone: String,
    pub website_url: String,
    pub status: ProviderStatus,
    /// Why it was suspended; empty otherwise.
    pub state_reason: String,
    /// The subject who registered it.
    pub registered_by: String,
    /// Starts at 1, grows by one with every change; the etag is derived from it.
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A listing as stored: the domain's listing plus bookkeeping and version.
#[derive(Debug, Clone, PartialEq)]
pub struct ListingRecord {
    pub listing: Listing,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A listing asked for by id, with the version of it the caller already holds, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub id: ListingId,
    pub held_version: Option<i64>,
}

/// A wanted listing as the store has it now.
#[derive(Debug, Clone, PartialEq)]
pub enum Fetched {
    /// Stored at the version the caller holds, so the caller's copy is current.
    Held {
        id: ListingId,
        provider_status: ProviderStatus,
    },
    /// Stored at another version, or the caller held none: the whole row.
    Read(Box<ListingRecord>, ProviderStatus),
}

/// The answer recorded for a mutating request, keyed by caller and request id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub principal: String,
    pub request_id: String,
    /// The full RPC method name.
    pub method: String,
    /// The request as received (encoded): a retry must be byte-identical.
    pub request: Vec<u8>,
    /// The answer given (encoded), returned again to a retry.
    pub response: Vec<u8>,
    pub created_at: Timestamp,
}

/// Which entity an outbox row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    Provider,
    Listing,
}

impl Topic {
    pub const fn code(self) -> &'static str {
        match self {
            Topic::Provider => "provider",
            Topic::Listing => "listing",
        }
    }
}

/// A change to publish to the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    pub topic: Topic,
    pub entity_id: String,
    /// What happened, e.g. "listing.published", "provider.suspended".
    pub kind: String,
    /// JSON describing the entity after the change.
    pub payload: String,
}

/// An outbox row as read back by its consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Increasing with every row written.
    pub seq: i64,
    pub event: OutboxEvent,
    pub created_at: Timestamp,
}

/// What every change writes besides the changed row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub request: RecordedRequest,
    pub event: OutboxEvent,
}

/// Which listings a query sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Every listing, whatever its state.
    All,
    /// Public ones: published, verified at or after `fresh_since`, of an approved provider.
    Public { fresh_since: Timestamp },
    /// Published ones verified before `fresh_since` (or never): the re-verification queue.
    Stale { fresh_since: Timestamp },
}

/// A page of listings in id order, after `after_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingQuery {
    pub visibility: Visibility,
    pub provider_id: Option<ProviderId>,
    /// A listing status code ("draft", "published", …).
    pub status: Option<&'static str>,
    pub category: Option<Category>,
    pub after_id: Option<String>,
    pub limit: i64,
}

/// A page of providers in id order, after `after_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderQuery {
    pub status: Option<ProviderStatus>,
    pub after_id: Option<String>,
    pub limit: i64,
}

/// The catalogue's storage port.
pub trait CatalogStore: Clone + Send + Sync + 'static {
    /// The answer recorded for `(principal, request_id)`, if any.
    fn recorded_request(
        &self,
        principal: &str,
        request_id: &str,
    ) -> impl Future<Output = Result<Option<RecordedRequest>, StoreError>> + Send;

    /// Inserts a new provider (version 1) with its change.
    fn create_provider(
        &self,
        provider: &ProviderRecord,
        change: &Change,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Replaces a provider read at `provider.version - 1` with its change.
    fn update_provider(
        &self,
        provider: &ProviderRecord,
        change: &Change,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn provider(
        &self,
        id: &ProviderId,
    ) -> impl Future<Output = Result<Option<ProviderRecord>, StoreError>> + Send;

    fn providers(
        &self,
        query: &ProviderQuery,
    ) -> impl Future<Output = Result<Vec<ProviderRecord>, StoreError>> + Send;

    /// Inserts a new listing (version 1) with its change.
    fn create_listing(
        &self,
        listing: &ListingRecord,
        change: &Change,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Replaces a listing read at `listing.version - 1` with its change.
    fn update_listing(
        &self,
        listing: &ListingRecord,
        change: &Change,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A listing and its provider's status.
    fn listing(
        &self,
        id: &ListingId,
    ) -> impl Future<Output = Result<Option<(ListingRecord, ProviderStatus)>, StoreError>> + Send;

    fn listings(
        &self,
        query: &ListingQuery,
    ) -> impl Future<Output = Result<Vec<ListingRecord>, StoreError>> + Send;

    /// The wanted listings that exist (in no particular order), each with its provider's
    /// status read now. A listing stored at the version the caller already holds comes back as
    /// [`Fetched::Held`], without its row: a listing's row only changes with its version.
    fn listings_by_id(
        &self,
        wanted: &[Wanted],
    ) -> impl Future<Output = Result<Vec<Fetched>, StoreError>> + Send;

    /// A count of the changes to listings and providers this process knows of, when it knows
    /// of them all soon enough for a search to trust a copy checked at the same count (see
    /// [`SqlStore`]); `None` when every search must ask the store.
    fn change_count(&self) -> Option<u64>;

    /// The sequence number of the newest outbox row (0 when there is none).
    fn outbox_position(&self) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// The outbox rows with these sequence numbers (those that exist).
    fn outbox_rows(
        &self,
        seqs: &[i64],
    ) -> impl Future<Output = Result<Vec<OutboxEntry>, StoreError>> + Send;

    /// Outbox rows after `after_seq`, oldest first.
    fn outbox(
        &self,
        after_seq: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<OutboxEntry>, StoreError>> + Send;
}

/// Which database the store runs on.
pub use welfare_storage::Backend;

/// The SQL adapter of [`CatalogStore`], on PostgreSQL or SQLite.
///
/// On SQLite the store also counts changes ([`CatalogStore::change_count`]): the file belongs
/// to one serving process (the embedded mode), so every change to a listing or a provider is
/// written by a store of this process, which counts it once its transaction has ended, before
/// the caller hears of it. A change another process writes to the file anyway is counted when
/// the outbox shows its row to the indexer, the moment the search index learns of it too. The
/// count is shared by every store of the process on the same file. On PostgreSQL, shared by
/// replicas that all write, there is no count.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    readers: Arc<Readers>,
    changes: Option<Arc<AtomicU64>>,
}

/// The change count of the SQLite file `url` names, shared within the process; a new one for
/// an in-memory database, which no other store can open.
fn changes_of(url: &str) -> Arc<AtomicU64> {
    static FILES: OnceLock<Mutex<HashMap<PathBuf, Weak<AtomicU64>>>> = OnceLock::new();
    let Some(path) = sqlite_file(url).and_then(|path| std::fs::canonicalize(path).ok()) else {
        return Arc::new(AtomicU64::new(0));
    };
    let mut files = FILES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    files.retain(|_, count| count.strong_count() > 0);
    if let Some(count) = files.get(&path).and_then(Weak::upgrade) {
        return count;
    }
    let count = Arc::new(AtomicU64::new(0));
    files.insert(path, Arc::downgrade(&count));
    count
}

/// Counts a change when dropped: when the function writing it returns, after its
/// transaction committed or failed (one count too many only costs the next search a read),
/// or when the caller stops waiting for it midway.
struct CountsChange<'a>(Option<&'a AtomicU64>);

impl Drop for CountsChange<'_> {
    fn drop(&mut self) {
        if let Some(count) = self.0 {
            count.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// How many connections [`Readers`] holds.
const READERS: usize = 4;

/// Connections kept outside sqlx's pool for `listings_by_id`, the read every search page makes.
/// The pool tests a connection with a round trip each time one is returned (sqlx pings it on
/// release): one more wake-up of an SQLite connection's thread, or one more network round trip
/// to PostgreSQL, per read. A connection whose read fails or is abandoned midway is dropped,
/// never reused, and a read that failed on a reused connection is tried once on a new one.
#[derive(Debug)]
struct Readers {
    idle: Mutex<Vec<AnyConnection>>,
    permits: tokio::sync::Semaphore,
}

/// A connection of [`Readers`] in use: dropped with it unless given back.
struct Reader<'a> {
    connection: AnyConnection,
    readers: &'a Readers,
    reused: bool,
    _permit: tokio::sync::SemaphorePermit<'a>,
}

impl Readers {
    fn new() -> Readers {
        Readers {
            idle: Mutex::new(Vec::with_capacity(READERS)),
            permits: tokio::sync::Semaphore::new(READERS),
        }
    }

    /// An idle connection, or a new one from `pool` (with its settings) when `reuse` is false
    /// or none is idle.
    async fn take(&self, pool: &AnyPool, reuse: bool) -> Result<Reader<'_>, StoreError> {
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?;
        let idle = if reuse {
            self.idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop()
        } else {
            None
        };
        let reused = idle.is_some();
        let connection = match idle {
            Some(connection) => connection,
            None => pool.acquire().await?.detach(),
        };
        Ok(Reader {
            connection,
            readers: self,
            reused,
            _permit: permit,
        })
    }
}

impl Reader<'_> {
    /// Returns the connection for the next read (or closes it, if as many are already idle).
    fn give_back(self) {
        let mut idle = self
            .readers
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if idle.len() < READERS {
            idle.push(self.connection);
        }
    }
}

impl SqlStore {
    /// Connects by URL (`postgres://…` or `sqlite:…`) and applies the backend's migrations,
    /// through the shared plumbing; on SQLite readers run beside the one writer.
    pub async fn connect(url: &str, max_connections: u32) -> Result<SqlStore, StoreError> {
        let settings = Settings {
            max_connections,
            sqlite_writers: SqliteWriters::Shared,
        };
        let (pool, backend) = welfare_storage::connect(
            url,
            settings,
            &sqlx::migrate!("migrations/postgres"),
            &sqlx::migrate!("migrations/sqlite"),
        )
        .await?;
        let changes = match backend {
            Backend::Postgres => None,
            Backend::Sqlite => Some(changes_of(url)),
        };
        Ok(SqlStore {
            pool,
            backend,
            readers: Arc::new(Readers::new()),
            changes,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Counts a change to a listing or a provider when the returned guard drops.
    fn counting(&self) -> CountsChange<'_> {
        CountsChange(self.changes.as_deref())
    }

    /// Outbox rows as read back, counted as changes when there are any: rows another process
    /// may have written.
    fn outbox_entries(&self, rows: &[AnyRow]) -> Result<Vec<OutboxEntry>, StoreError> {
        let entries = rows
            .iter()
            .map(outbox_entry)
            .collect::<Result<Vec<_>, _>>()?;
        if let (Some(count), false) = (&self.changes, entries.is_empty()) {
            count.fetch_add(1, Ordering::SeqCst);
        }
        Ok(entries)
    }

    /// The connection pool, for operator queries and tests.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Writes a change's request and outbox rows in `tx`; a request id recorded meanwhile by
    /// a concurrent identical call is reported as [`StoreError::RequestRecorded`].
    async fn write_change(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        change: &Change,
    ) -> Result<(), StoreError> {
        let request = &change.request;
        let inserted = sqlx::query(
            "INSERT INTO requests (principal, request_id, method, request, response, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (principal, request_id) DO NOTHING",
        )
        .bind(&request.principal)
        .bind(&request.request_id)
        .bind(&request.method)
        .bind(&request.request)
        .bind(&request.response)
        .bind(request.created_at.unix_seconds())
        .execute(&mut **tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::RequestRecorded(request.request_id.clone()));
        }
        let event = &change.event;
        sqlx::query(
            "INSERT INTO outbox (topic, entity_id, kind, payload, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(event.topic.code())
        .bind(&event.entity_id)
        .bind(&event.kind)
        .bind(&event.payload)
        .bind(request.created_at.unix_seconds())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

// ---- rows ---------------------------------------------------------------------------------

const PROVIDER_COLUMNS: &str = "id, display_name, kind, runts_number, comune_istat_code, \
    tax_code, contact_email, contact_phone, website_url, status, state_reason, registered_by, \
    version, created_at, updated_at";

const LISTING_COLUMNS: &str = "l.id, l.provider_id, l.status, l.state_reason, l.content, \
    l.verified_at, l.version, l.created_at, l.updated_at";

/// A `providers` row as stored.
struct ProviderRow {
    id: String,
    display_name: String,
    kind: String,
    runts_number: String,
    comune_istat_code: String,
    tax_code: String,
    contact_email: String,
    contact_phone: String,
    website_url: String,
    status: String,
    state_reason: String,
    registered_by: String,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

impl ProviderRow {
    fn read(row: &AnyRow) -> Result<ProviderRow, sqlx::Error> {
        Ok(ProviderRow {
            id: row.try_get("id")?,
            display_name: row.try_get("display_name")?,
            kind: row.try_get("kind")?,
            runts_number: row.try_get("runts_number")?,
            comune_istat_code: row.try_get("comune_istat_code")?,
            tax_code: row.try_get("tax_code")?,
            contact_email: row.try_get("contact_email")?,
            contact_phone: row.try_get("contact_phone")?,
            website_url: row.try_get("website_url")?,
            status: row.try_get("status")?,
            state_reason: row.try_get("state_reason")?,
            registered_by: row.try_get("registered_by")?,
            version: row.try_get("version")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }

    fn into_record(self) -> Result<ProviderRecord, StoreError> {
        let corrupt = |problem: String| StoreError::Corrupt {
            entity: "provider",
            id: self.id.clone(),
            problem,
        };
        let kind = match self.kind.as_str() {
            "ets" => ProviderKind::Ets {
                runts_number: RuntsNumber::parse(&self.runts_number)
                    .map_err(|e| corrupt(e.to_string()))?,
            },
            "comune" => ProviderKind::Comune {
                istat_code: IstatCode::parse(&self.comune_istat_code)
                    .map_err(|e| corrupt(e.to_string()))?,
            },
            "azienda_speciale" => ProviderKind::AziendaSpeciale,
            "cooperativa_sociale" => ProviderKind::CooperativaSociale,
            "company" => ProviderKind::Company,
            other => return Err(corrupt(format!("unknown kind {other:?}"))),
        };
        Ok(ProviderRecord {
            id: ProviderId::parse(&self.id).map_err(|e| corrupt(e.to_string()))?,
            kind,
            tax_id: TaxId::parse(&self.tax_code).map_err(|e| corrupt(e.to_string()))?,
            status: ProviderStatus::from_code(&self.status)
                .ok_or_else(|| corrupt(format!("unknown status {:?}", self.status)))?,
            display_name: self.display_name,
            contact_email: self.contact_email,
            contact_phone: self.contact_phone,
            website_url: self.website_url,
            state_reason: self.state_reason,
            registered_by: self.registered_by,
            version: self.version,
            created_at: Timestamp::from_unix_seconds(self.created_at),
            updated_at: Timestamp::from_unix_seconds(self.updated_at),
        })
    }
}

/// A `listings` row as stored.
struct ListingRow {
    id: String,
    provider_id: String,
    status: String,
    state_reason: String,
    content: String,
    verified_at: Option<i64>,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

impl ListingRow {
    fn read(row: &AnyRow) -> Result<ListingRow, sqlx::Error> {
        Ok(ListingRow {
            id: row.try_get("id")?,
            provider_id: row.try_get("provider_id")?,
            status: row.try_get("status")?,
            state_reason: row.try_get("state_reason")?,
            content: row.try_get("content")?,
            verified_at: row.try_get("verified_at")?,
            version: row.try_get("version")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }

    fn into_record(self) -> Result<ListingRecord, StoreError> {
        let corrupt = |problem: String| StoreError::Corrupt {
            entity: "listing",
            id: self.id.clone(),
            problem,
        };
        let reason = self.state_reason.clone();
        let status = match self.status.as_str() {
            "draft" => ListingStatus::Draft,
            "submitted" => ListingStatus::Submitted,
            "published" => ListingStatus::Published,
            "rejected" => ListingStatus::Rejected { reason },
            "suspended" => ListingStatus::Suspended { reason },
            "withdrawn" => ListingStatus::Withdrawn,
            other => return Err(corrupt(format!("unknown status {other:?}"))),
        };
        let content: ListingContent =
            serde_json::from_str(&self.content).map_err(|e| corrupt(e.to_string()))?;
        Ok(ListingRecord {
            listing: Listing {
                id: ListingId::parse(&self.id).map_err(|e| corrupt(e.to_string()))?,
                provider_id: ProviderId::parse(&self.provider_id)
                    .map_err(|e| corrupt(e.to_string()))?,
                content,
                status,
                verified_at: self.verified_at.map(Timestamp::from_unix_seconds),
            },
            version: self.version,
            created_at: Timestamp::from_unix_seconds(self.created_at),
            updated_at: Timestamp::from_unix_seconds(self.updated_at),
        })
    }
}

/// The columns a provider is written with, in `PROVIDER_COLUMNS` order after `id`.
fn provider_values(p: &ProviderRecord) -> (String, String) {
    match &p.kind {
        ProviderKind::Ets { runts_number } => (runts_number.as_str().to_owned(), String::new()),
        ProviderKind::Comune { istat_code } => (String::new(), istat_code.to_string()),
        _ => (String::new(), String::new()),
    }
}

fn status_reason(status: &ListingStatus) -> &str {
    match status {
        ListingStatus::Rejected { reason } | ListingStatus::Suspended { reason } => reason,
        _ => "",
    }
}

fn content_json(listing: &ListingRecord) -> Result<String, StoreError> {
    serde_json::to_string(&listing.listing.content).map_err(|e| StoreError::Corrupt {
        entity: "listing",
        id: listing.listing.id.to_string(),
        problem: e.to_string(),
    })
}

/// An outbox row read back.
fn outbox_entry(row: &AnyRow) -> Result<OutboxEntry, StoreError> {
    let topic: String = row.try_get("topic")?;
    let seq: i64 = row.try_get("seq")?;
    let topic = match topic.as_str() {
        "provider" => Topic::Provider,
        "listing" => Topic::Listing,
        other => {
            return Err(StoreError::Corrupt {
                entity: "outbox row",
                id: seq.to_string(),
                problem: format!("unknown topic {other:?}"),
            });
        }
    };
    Ok(OutboxEntry {
        seq,
        event: OutboxEvent {
            topic,
            entity_id: row.try_get("entity_id")?,
            kind: row.try_get("kind")?,
            payload: row.try_get("payload")?,
        },
        created_at: Timestamp::from_unix_seconds(row.try_get("created_at")?),
    })
}

/// A listing row joined with its provider's status.
fn listing_with_status(row: &AnyRow) -> Result<(ListingRecord, ProviderStatus), StoreError> {
    Ok((ListingRow::read(row)?.into_record()?, provider_status(row)?))
}

/// The `provider_status` column of a listing row joined with its provider.
fn provider_status(row: &AnyRow) -> Result<ProviderStatus, StoreError> {
    let status: String = row.try_get("provider_status")?;
    ProviderStatus::from_code(&status).ok_or_else(|| StoreError::Corrupt {
        entity: "provider",
        id: row.try_get("provider_id").unwrap_or_default(),
        problem: format!("unknown status {status:?}"),
    })
}

/// A row of `listings_by_id`: without its content when the caller holds its version.
fn fetched(row: &AnyRow) -> Result<Fetched, StoreError> {
    if !row.try_get_raw("content")?.is_null() {
        let (record, status) = listing_with_status(row)?;
        return Ok(Fetched::Read(Box::new(record), status));
    }
    let id: String = row.try_get("id")?;
    Ok(Fetched::Held {
        id: ListingId::parse(&id).map_err(|e| StoreError::Corrupt {
            entity: "listing",
            id: id.clone(),
            problem: e.to_string(),
        })?,
        provider_status: provider_status(row)?,
    })
}

/// A value bound to a statement built at run time.
enum Bind {
    Text(String),
    Int(i64),
}

impl CatalogStore for SqlStore {
    async fn recorded_request(
        &self,
        principal: &str,
        request_id: &str,
    ) -> Result<Option<RecordedRequest>, StoreError> {
        let row = sqlx::query(
            "SELECT principal, request_id, method, request, response, created_at \
             FROM requests WHERE principal = $1 AND request_id = $2",
        )
        .bind(principal)
        .bind(request_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(RecordedRequest {
                principal: row.try_get("principal")?,
                request_id: row.try_get("request_id")?,
                method: row.try_get("method")?,
                request: row.try_get("request")?,
                response: row.try_get("response")?,
                created_at: Timestamp::from_unix_seconds(row.try_get("created_at")?),
            })
        })
        .transpose()
    }

    async fn create_provider(
        &self,
        provider: &ProviderRecord,
        change: &Change,
    ) -> Result<(), StoreError> {
        let _counted = self.counting();
        let mut tx = self.pool.begin().await?;
        // The request row first: a concurrent identical request waits on it and then finds
        // it recorded, rather than failing on the entity's own constraints.
        SqlStore::write_change(&mut tx, change).await?;
        let (runts, comune) = provider_values(provider);
        let inserted = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO providers ({PROVIDER_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        )))
        .bind(provider.id.as_str())
        .bind(&provider.display_name)
        .bind(provider.kind.code())
        .bind(runts)
        .bind(comune)
        .bind(provider.tax_id.as_str())
        .bind(&provider.contact_email)
        .bind(&provider.contact_phone)
        .bind(&provider.website_url)
        .bind(provider.status.code())
        .bind(&provider.state_reason)
        .bind(&provider.registered_by)
        .bind(provider.version)
        .bind(provider.created_at.unix_seconds())
        .bind(provider.updated_at.unix_seconds())
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(error) if is_unique_violation(&error, "tax_code") => {
                return Err(StoreError::TaxCodeTaken(
                    provider.tax_id.as_str().to_owned(),
                ));
            }
            other => other?,
        };
        tx.commit().await?;
        Ok(())
    }

    async fn update_provider(
        &self,
        provider: &ProviderRecord,
        change: &Change,
    ) -> Result<(), StoreError> {
        let _counted = self.counting();
        let mut tx = self.pool.begin().await?;
        // The request row first: a concurrent identical request waits on it and then finds
        // it recorded, rather than failing on the entity's own constraints.
        SqlStore::write_change(&mut tx, change).await?;
        let (runts, comune) = provider_values(provider);
        let updated = sqlx::query(
            "UPDATE providers SET display_name = $2, kind = $3, runts_number = $4, \
             comune_istat_code = $5, contact_email = $6, contact_phone = $7, website_url = $8, \
             status = $9, state_reason = $10, version = $11, updated_at = $12 \
             WHERE id = $1 AND version = $13",
        )
        .bind(provider.id.as_str())
        .bind(&provider.display_name)
        .bind(provider.kind.code())
        .bind(runts)
        .bind(comune)
        .bind(&provider.contact_email)
        .bind(&provider.contact_phone)
        .bind(&provider.website_url)
        .bind(provider.status.code())
        .bind(&provider.state_reason)
        .bind(provider.version)
        .bind(provider.updated_at.unix_seconds())
        .bind(provider.version - 1)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            return Err(StoreError::VersionConflict {
                entity: "provider",
                id: provider.id.to_string(),
            });
        }
        tx.commit().await?;
        Ok(())
    }

    async fn provider(&self, id: &ProviderId) -> Result<Option<ProviderRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PROVIDER_COLUMNS} FROM providers WHERE id = $1"
        )))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| ProviderRow::read(&row)?.into_record())
            .transpose()
    }

    async fn providers(&self, query: &ProviderQuery) -> Result<Vec<ProviderRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PROVIDER_COLUMNS} FROM providers \
             WHERE ($1 = '' OR status = $1) AND id > $2 ORDER BY id LIMIT $3"
        )))
        .bind(query.status.map_or("", ProviderStatus::code))
        .bind(query.after_id.as_deref().unwrap_or(""))
        .bind(query.limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| ProviderRow::read(row)?.into_record())
            .collect()
    }

    async fn create_listing(
        &self,
        listing: &ListingRecord,
        change: &Change,
    ) -> Result<(), StoreError> {
        let content = content_json(listing)?;
        let l = &listing.listing;
        let _counted = self.counting();
        let mut tx = self.pool.begin().await?;
        // The request row first: a concurrent identical request waits on it and then finds
        // it recorded, rather than failing on the entity's own constraints.
        SqlStore::write_change(&mut tx, change).await?;
        sqlx::query(
            "INSERT INTO listings (id, provider_id, status, state_reason, category, subcategory, \
             title, content, verified_at, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(l.id.as_str())
        .bind(l.provider_id.as_str())
        .bind(l.status.code())
        .bind(status_reason(&l.status))
        .bind(l.content.category.code())
        .bind(&l.content.subcategory)
        .bind(&l.content.title)
        .bind(content)
        .bind(l.verified_at.map(Timestamp::unix_seconds))
        .bind(listing.version)
        .bind(listing.created_at.unix_seconds())
        .bind(listing.updated_at.unix_seconds())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_listing(
        &self,
        listing: &ListingRecord,
        change: &Change,
    ) -> Result<(), StoreError> {
        let content = content_json(listing)?;
        let l = &listing.listing;
        let _counted = self.counting();
        let mut tx = self.pool.begin().await?;
        // The request row first: a concurrent identical request waits on it and then finds
        // it recorded, rather than failing on the entity's own constraints.
        SqlStore::write_change(&mut tx, change).await?;
        let updated = sqlx::query(
            "UPDATE listings SET status = $2, state_reason = $3, category = $4, \
             subcategory = $5, title = $6, content = $7, verified_at = $8, version = $9, \
             updated_at = $10 WHERE id = $1 AND version = $11",
        )
        .bind(l.id.as_str())
        .bind(l.status.code())
        .bind(status_reason(&l.status))
        .bind(l.content.category.code())
        .bind(&l.content.subcategory)
        .bind(&l.content.title)
        .bind(content)
        .bind(l.verified_at.map(Timestamp::unix_seconds))
        .bind(listing.version)
        .bind(listing.updated_at.unix_seconds())
        .bind(listing.version - 1)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            return Err(StoreError::VersionConflict {
                entity: "listing",
                id: l.id.to_string(),
            });
        }
        tx.commit().await?;
        Ok(())
    }

    async fn listings_by_id(&self, wanted: &[Wanted]) -> Result<Vec<Fetched>, StoreError> {
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        // The content, the one large column, only of the rows whose version the caller lacks.
        let values: Vec<String> = (0..wanted.len())
            .map(|i| format!("(${}, CAST(${} AS BIGINT))", 2 * i + 1, 2 * i + 2))
            .collect();
        let sql = format!(
            "WITH wanted (id, held) AS (VALUES {}) \
             SELECT l.id, l.provider_id, l.status, l.state_reason, \
             CASE WHEN l.version = w.held THEN NULL ELSE l.content END AS content, \
             l.verified_at, l.version, l.created_at, l.updated_at, \
             p.status AS provider_status \
             FROM wanted w JOIN listings l ON l.id = w.id \
             JOIN providers p ON p.id = l.provider_id",
            values.join(", ")
        );
        let statement = || {
            let mut statement = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for listing in wanted {
                statement = statement
                    .bind(listing.id.as_str())
                    .bind(listing.held_version);
            }
            statement
        };
        let mut reader = self.readers.take(&self.pool, true).await?;
        let rows = match statement().fetch_all(&mut reader.connection).await {
            Ok(rows) => {
                reader.give_back();
                rows
            }
            // A connection left idle may have been closed by the server meanwhile.
            Err(_) if reader.reused => {
                drop(reader);
                let mut reader = self.readers.take(&self.pool, false).await?;
                let rows = statement().fetch_all(&mut reader.connection).await?;
                reader.give_back();
                rows
            }
            Err(error) => return Err(error.into()),
        };
        rows.iter().map(fetched).collect()
    }

    async fn listing(
        &self,
        id: &ListingId,
    ) -> Result<Option<(ListingRecord, ProviderStatus)>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {LISTING_COLUMNS}, p.status AS provider_status \
             FROM listings l JOIN providers p ON p.id = l.provider_id WHERE l.id = $1"
        )))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(listing_with_status).transpose()
    }

    async fn listings(&self, query: &ListingQuery) -> Result<Vec<ListingRecord>, StoreError> {
        // Only the conditions the query needs, so the planner can use the index that fits
        // (by category, provider or status, each ending in the id the pages are keyed on).
        let mut conditions = Vec::new();
        let mut binds = Vec::new();
        let mut bind = |value: Bind| {
            binds.push(value);
            format!("${}", binds.len())
        };
        if let Some(after) = &query.after_id {
            conditions.push(format!("l.id > {}", bind(Bind::Text(after.clone()))));
        }
        if let Some(provider) = &query.provider_id {
            conditions.push(format!(
                "l.provider_id = {}",
                bind(Bind::Text(provider.to_string()))
            ));
        }
        if let Some(status) = query.status {
            conditions.push(format!(
                "l.status = {}",
                bind(Bind::Text(status.to_owned()))
            ));
        }
        if let Some(category) = query.category {
            conditions.push(format!(
                "l.category = {}",
                bind(Bind::Text(category.code().to_owned()))
            ));
        }
        match query.visibility {
            Visibility::All => {}
            Visibility::Public { fresh_since } => conditions.push(format!(
                "l.status = 'published' AND p.status = 'approved' AND l.verified_at >= {}",
                bind(Bind::Int(fresh_since.unix_seconds()))
            )),
            Visibility::Stale { fresh_since } => conditions.push(format!(
                "l.status = 'published' AND (l.verified_at IS NULL OR l.verified_at < {})",
                bind(Bind::Int(fresh_since.unix_seconds()))
            )),
        }
        let limit = bind(Bind::Int(query.limit));
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            "SELECT {LISTING_COLUMNS} FROM listings l JOIN providers p ON p.id = l.provider_id \
             {filter} ORDER BY l.id LIMIT {limit}"
        );
        let mut statement = sqlx::query(sqlx::AssertSqlSafe(sql));
        for value in binds {
            statement = match value {
                Bind::Text(text) => statement.bind(text),
                Bind::Int(number) => statement.bind(number),
            };
        }
        let rows = statement.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| ListingRow::read(row)?.into_record())
            .collect()
    }

    fn change_count(&self) -> Option<u64> {
        self.changes
            .as_ref()
            .map(|count| count.load(Ordering::SeqCst))
    }

    async fn outbox_position(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS position FROM outbox")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("position")?)
    }

    async fn outbox_rows(&self, seqs: &[i64]) -> Result<Vec<OutboxEntry>, StoreError> {
        if seqs.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (1..=seqs.len()).map(|i| format!("${i}")).collect();
        let mut statement = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT seq, topic, entity_id, kind, payload, created_at FROM outbox \
             WHERE seq IN ({}) ORDER BY seq",
            placeholders.join(", ")
        )));
        for seq in seqs {
            statement = statement.bind(*seq);
        }
        let rows = statement.fetch_all(&self.pool).await?;
        self.outbox_entries(&rows)
    }

    async fn outbox(&self, after_seq: i64, limit: i64) -> Result<Vec<OutboxEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, topic, entity_id, kind, payload, created_at FROM outbox \
             WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after_seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        self.outbox_entries(&rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_on_one_file_share_a_count_and_in_memory_ones_do_not() {
        let dir = std::env::temp_dir().join(format!("lodiwelfare-count-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("catalog.db");
        std::fs::write(&file, b"").expect("file");
        let first = changes_of(&format!("sqlite://{}?mode=rwc", file.display()));
        let second = changes_of(&format!(
            "sqlite:{}",
            dir.join(".").join("catalog.db").display()
        ));
        assert!(Arc::ptr_eq(&first, &second));
        assert!(!Arc::ptr_eq(
            &changes_of("sqlite::memory:"),
            &changes_of("sqlite::memory:")
        ));
        drop((first, second));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
