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
use welfare_core::contact::{Email, Phone, Website};
use welfare_core::ids::{ListingId, ProviderId};
use welfare_core::listing::{Listing, ListingContent, ListingStatus};
use welfare_core::local_words::{LocalWord, Meaning};
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
    #[error(transparent)]
    Lease(#[from] welfare_storage::lease::LeaseError),
}

/// A provider as stored: the domain's facts plus contacts, bookkeeping and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRecord {
    pub id: ProviderId,
    pub display_name: String,
    pub kind: ProviderKind,
    pub tax_id: TaxId,
    pub contact_email: Option<Email>,
    pub contact_phone: Option<Phone>,
    pub website_url: Option<Website>,
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
    /// A curator's local word (its phrase is the entity id).
    LocalWord,
}

impl Topic {
    pub const fn code(self) -> &'static str {
        match self {
            Topic::Provider => "provider",
            Topic::Listing => "listing",
            Topic::LocalWord => "local_word",
        }
    }
}

/// A local word as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalWordRecord {
    pub word: LocalWord,
    /// The subject of the curator who wrote it last.
    pub updated_by: String,
    /// Starts at 1, grows by one with every change; the etag is derived from it.
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
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

/// What curators have to review.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Providers registered and not yet vetted.
    pub providers_awaiting: u64,
    /// Listings submitted and not yet reviewed.
    pub listings_awaiting: u64,
    /// Published listings last verified before the freshness window (hidden from search).
    pub stale_listings: u64,
}

/// An outbox row as read back by its consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Increasing with every row written.
    pub seq: i64,
    pub event: OutboxEvent,
    pub created_at: Timestamp,
}

/// Where a consumer is in the outbox: the highest sequence number applied, and the lower ones
/// not seen yet (with when their absence was noticed, unix seconds).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxCursor {
    pub position: i64,
    pub gaps: std::collections::BTreeMap<i64, i64>,
}

impl OutboxCursor {
    pub fn at(position: i64) -> OutboxCursor {
        OutboxCursor {
            position,
            gaps: std::collections::BTreeMap::new(),
        }
    }
}

/// What kind of index a consumer of the outbox keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerKind {
    /// One index every replica searches (Meilisearch): its row lives as long as the index, and
    /// holds the outbox back until the index has applied it, however long it was away.
    Shared,
    /// A replica's own in-memory index: its row holds the outbox back while the replica runs
    /// (keeps it fresh), and is forgotten once the replica is long gone.
    Replica,
}

impl ConsumerKind {
    pub const fn code(self) -> &'static str {
        match self {
            ConsumerKind::Shared => "shared",
            ConsumerKind::Replica => "replica",
        }
    }
}

/// A consumer of the outbox as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    /// e.g. `search-index/meilisearch/listings`.
    pub name: String,
    pub cursor: OutboxCursor,
    /// The stamp of the index content the cursor describes: a cursor applies only to the index
    /// that bears the same stamp.
    pub stamp: String,
    pub kind: ConsumerKind,
    /// Unix seconds.
    pub updated_at: i64,
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

    /// Inserts providers and listings (each at version 1, with its change) in one
    /// transaction: all of them, or none when any is refused (a tax code already registered,
    /// an id already taken).
    fn import(
        &self,
        providers: &[(ProviderRecord, Change)],
        listings: &[(ListingRecord, Change)],
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

    /// Forgets up to `limit` request ids recorded before `before` (unix seconds): a retry of
    /// one is then a new request. Answers how many were forgotten.
    fn prune_requests(
        &self,
        before: i64,
        limit: i64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Deletes up to `limit` of the oldest outbox rows numbered at most `through_seq` and
    /// written before `created_before` (unix seconds); the newest row is always kept, so the
    /// outbox position never goes back. Answers how many were deleted.
    fn prune_outbox(
        &self,
        through_seq: i64,
        created_before: i64,
        limit: i64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Takes the lease `name` (one holder among every process on this database) if nobody
    /// holds it: `None` when another process does.
    fn lease(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<welfare_storage::lease::Lease>, StoreError>> + Send;

    /// The consumer of the outbox by this name, if any.
    fn consumer(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<ConsumerRecord>, StoreError>> + Send;

    /// Every consumer of the outbox, by name.
    fn consumers(&self) -> impl Future<Output = Result<Vec<ConsumerRecord>, StoreError>> + Send;

    /// Writes a consumer's row, replacing any of the same name.
    fn put_consumer(
        &self,
        consumer: &ConsumerRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Forgets the [`ConsumerKind::Replica`] consumers not updated since `silent_since` (unix
    /// seconds); answers how many.
    fn forget_replicas(
        &self,
        silent_since: i64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// What curators have to review; a listing verified before `fresh_since` is stale.
    fn backlog(&self, fresh_since: i64)
    -> impl Future<Output = Result<Backlog, StoreError>> + Send;

    /// Every local word, by phrase.
    fn local_words(&self) -> impl Future<Output = Result<Vec<LocalWordRecord>, StoreError>> + Send;

    /// Writes a local word with its change: inserted at version 1 (a phrase already stored is
    /// a [`StoreError::VersionConflict`]), or replacing the one stored at `version - 1`.
    fn put_local_word(
        &self,
        word: &LocalWordRecord,
        change: &Change,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes the local word stored at `version`, with its change.
    fn delete_local_word(
        &self,
        phrase: &str,
        version: i64,
        change: &Change,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

mod cache;
mod changes;
mod readers;
mod rows;
mod sql;

pub use cache::CurrentListings;
pub use sql::SqlStore;
/// Which database the store runs on.
pub use welfare_storage::Backend;

use changes::*;
use readers::*;
use rows::*;
