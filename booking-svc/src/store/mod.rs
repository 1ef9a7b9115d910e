//! The booking store on PostgreSQL and SQLite: slots with their reserved seats, bookings with
//! the wallet step they still owe (the saga's state, stored with the booking), the transitions'
//! request ids and the booking outbox. Seats are taken by a conditional update in the same
//! transaction as the booking row, so capacity holds under any concurrency and in any crash.

use sqlx::AnyPool;
use welfare_core::Money;
use welfare_core::booking::{BookingStatus, CancellationPolicy};
use welfare_core::category::{Category, TaxLetter};
use welfare_core::listing::FieldViolation;
use welfare_core::pricing::Quote;
use welfare_core::time::Timestamp;
use welfare_storage::Backend;
use welfare_storage::connect::{ConnectError, Settings, SqliteWriters};

mod bookings;
mod events;
mod rows;
mod slots;

pub use bookings::{BookingFilter, Change};
pub use events::{BookingEvent, NUMBERING_BATCH};
pub use slots::{MAX_CACHED_SLOTS, NewSlots, SlotFacts, SlotPage, SlotRecord};

/// Where a booking stands inside the service. `Pending` and `Aborted` are the saga's own and
/// never shown: a pending booking has its seats but not yet its wallet hold; an aborted one
/// gave up before it was HELD and holds nothing (once its settlement is done).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Pending,
    Live(BookingStatus),
    Aborted,
}

impl Stage {
    pub fn code(self) -> &'static str {
        match self {
            Stage::Pending => "pending",
            Stage::Live(status) => status.code(),
            Stage::Aborted => "aborted",
        }
    }

    pub fn from_code(code: &str) -> Option<Stage> {
        match code {
            "pending" => Some(Stage::Pending),
            "aborted" => Some(Stage::Aborted),
            other => BookingStatus::ALL
                .into_iter()
                .find(|s| s.code() == other)
                .map(Stage::Live),
        }
    }
}

/// The wallet step a booking still owes: the saga's state. It is written in the same
/// transaction as the change that owes it, and cleared once the wallet has done it, so a process
/// stopped at any point leaves the step for recovery to finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// Place the hold (a pending booking).
    Hold,
    /// Release whatever hold the wallet may have placed for an aborted booking.
    Abort,
    /// Capture this much of the hold and release the rest.
    Capture(Money),
    /// Release the hold whole.
    Release,
}

impl Settlement {
    pub fn code(self) -> &'static str {
        match self {
            Settlement::Hold => "hold",
            Settlement::Abort => "abort",
            Settlement::Capture(_) => "capture",
            Settlement::Release => "release",
        }
    }

    fn cents(self) -> i64 {
        match self {
            Settlement::Capture(amount) => amount.cents(),
            _ => 0,
        }
    }
}

/// A booking as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct BookingRecord {
    pub id: String,
    pub listing_id: String,
    pub slot_id: Option<String>,
    pub provider_id: String,
    pub booker_id: String,
    pub quantity: u32,
    pub stage: Stage,
    pub state_reason: String,
    pub quote: Quote,
    pub total: Money,
    /// What the wallet pays (held, then captured on completion).
    pub wallet_part: Money,
    pub wallet_id: Option<String>,
    pub hold_id: Option<String>,
    pub category: Category,
    pub tax_letter: TaxLetter,
    /// What the person reads on their wallet statement.
    pub description: String,
    pub policy: CancellationPolicy,
    pub starts_at: Timestamp,
    pub hold_expires_at: Timestamp,
    pub wallet_hold_expires_at: Timestamp,
    pub auto_complete_at: Timestamp,
    pub fee: Money,
    pub settlement: Option<Settlement>,
    /// Why the wallet refused the settlement, when it did (for operators).
    pub settle_error: Option<String>,
    pub request_id: String,
    pub fingerprint: String,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl BookingRecord {
    /// The status shown to clients; `None` while the saga has not made it a booking.
    pub fn status(&self) -> Option<BookingStatus> {
        match self.stage {
            Stage::Live(status) => Some(status),
            Stage::Pending | Stage::Aborted => None,
        }
    }

    /// The record's next version, changed at `now` (never before its last change): what every
    /// change starts from.
    pub fn next_version(&self, now: Timestamp) -> BookingRecord {
        let mut next = self.clone();
        next.version += 1;
        next.updated_at = now.max(self.updated_at);
        next
    }

    /// Its seats given back to its slot, if it has one.
    pub fn seats_back(&self) -> Seats {
        match &self.slot_id {
            Some(slot_id) => Seats::Release {
                slot_id: slot_id.clone(),
                quantity: self.quantity,
            },
            None => Seats::Keep,
        }
    }
}

/// Seats a change takes or gives back, in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seats {
    Keep,
    /// Give `quantity` seats back to the slot.
    Release {
        slot_id: String,
        quantity: u32,
    },
    /// Take `quantity` seats of `to` (or fail with [`StoreError::SlotUnavailable`]) and give
    /// them back to `from`.
    Move {
        from: String,
        to: String,
        quantity: u32,
    },
}

/// A transition's request id, recorded with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub caller: String,
    pub request_id: String,
    pub booking_id: String,
    pub action: String,
}

/// Why the store refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("slot {0} is cancelled or has not enough free seats")]
    SlotUnavailable(String),
    #[error("slot {0} not found")]
    SlotNotFound(String),
    #[error("the booking changed since it was read")]
    Conflict,
    #[error("this request id was already used")]
    Duplicate,
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldViolation>),
    #[error("stored value is corrupt: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> StoreError {
        if matches!(&error, sqlx::Error::Database(db) if db.is_unique_violation()) {
            StoreError::Duplicate
        } else {
            StoreError::Database(error)
        }
    }
}

/// The booking store.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Woken after every change that wrote to the outbox, so watchers in this process read it
    /// at once (watchers of other processes poll).
    changed: std::sync::Arc<tokio::sync::Notify>,
    /// Slots' facts that never change.
    slots: std::sync::Arc<slots::SlotCache>,
}

impl Store {
    /// Opens the database `url` names and applies its migrations. On SQLite one connection
    /// does everything, so a transaction that reads then writes is never interleaved.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        let settings = Settings {
            max_connections,
            sqlite_writers: SqliteWriters::One,
        };
        let (pool, backend) = welfare_storage::connect(
            url,
            settings,
            &sqlx::migrate!("migrations/postgres"),
            &sqlx::migrate!("migrations/sqlite"),
        )
        .await?;
        Ok(Store {
            pool,
            backend,
            changed: std::sync::Arc::default(),
            slots: std::sync::Arc::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for the suites' invariant checks and operator queries.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Notified after every committed change that wrote to the outbox.
    pub fn changes(&self) -> std::sync::Arc<tokio::sync::Notify> {
        std::sync::Arc::clone(&self.changed)
    }
}

/// A u32 stored as BIGINT.
fn to_u32(value: i64, what: &str) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what}: {value}")))
}
