//! The booking outbox: every change a provider's system must learn of is written in the same
//! transaction as the change, then numbered in commit order by [`Store::number_events`], and
//! read back by number.
//!
//! Numbering after commit, one numbering step at a time (a transaction-scoped advisory lock on
//! PostgreSQL; SQLite has one writer), keeps booking writes from waiting on each other for a
//! number, and gives readers a sequence without gaps: a row is numbered only once committed, and
//! every row numbered later gets a larger number, so resuming after the last number seen misses
//! nothing and repeats nothing.

use sqlx::any::Any;
use sqlx::{Row, Transaction};
use welfare_core::time::Timestamp;
use welfare_storage::Backend;

use super::{Store, StoreError};

/// Rows numbered by one numbering step at most.
pub const NUMBERING_BATCH: i64 = 1_000;
/// The advisory lock that makes numbering steps take turns on PostgreSQL.
const NUMBERING_LOCK: i64 = 0x6c6f_6469_6576;

/// One change of a booking, as the outbox numbered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingEvent {
    pub seq: i64,
    pub booking_id: String,
    pub provider_id: String,
    /// What happened: created, confirmed, rejected, cancelled, completed, no_show, expired,
    /// rescheduled.
    pub kind: String,
    /// The booking's status after it.
    pub state: String,
    pub at: Timestamp,
}

/// Writes one event inside `tx`, not yet numbered.
pub(super) async fn record(
    tx: &mut Transaction<'static, Any>,
    booking_id: &str,
    provider_id: &str,
    kind: &str,
    state: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO booking_events (booking_id, provider_id, kind, state, at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(booking_id)
    .bind(provider_id)
    .bind(kind)
    .bind(state)
    .bind(now.unix_seconds())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// Numbers the committed events not numbered yet, oldest first, after the highest number
    /// given so far; answers how many it numbered.
    #[tracing::instrument(name = "booking.store.number_events", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn number_events(&self) -> Result<usize, StoreError> {
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(NUMBERING_LOCK)
                .execute(&mut *tx)
                .await?;
        }
        let ids: Vec<i64> =
            sqlx::query("SELECT id FROM booking_events WHERE seq IS NULL ORDER BY id LIMIT $1")
                .bind(NUMBERING_BATCH)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|row| row.try_get("id"))
                .collect::<Result<_, _>>()?;
        if ids.is_empty() {
            return Ok(0);
        }
        let top: i64 =
            sqlx::query("SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT) AS top FROM booking_events")
                .fetch_one(&mut *tx)
                .await?
                .try_get("top")?;
        for (next, id) in (top + 1..).zip(&ids) {
            sqlx::query("UPDATE booking_events SET seq = $1 WHERE id = $2")
                .bind(next)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(ids.len())
    }

    /// A provider's events numbered after `after`, oldest first, at most `limit`.
    #[tracing::instrument(name = "booking.store.events_after", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn events_after(
        &self,
        provider_id: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<BookingEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, booking_id, provider_id, kind, state, at FROM booking_events \
             WHERE provider_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(provider_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(BookingEvent {
                    seq: row.try_get("seq")?,
                    booking_id: row.try_get("booking_id")?,
                    provider_id: row.try_get("provider_id")?,
                    kind: row.try_get("kind")?,
                    state: row.try_get("state")?,
                    at: Timestamp::from_unix_seconds(row.try_get("at")?),
                })
            })
            .collect()
    }

    /// Deletes up to `limit` of the oldest numbered events that happened before `before`
    /// (unix seconds), never the newest numbered one (numbering goes on after it); answers how
    /// many it deleted.
    #[tracing::instrument(name = "booking.store.prune_events", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn prune_events(&self, before: i64, limit: i64) -> Result<u64, StoreError> {
        let pruned = sqlx::query(
            "DELETE FROM booking_events WHERE id IN \
             (SELECT id FROM booking_events WHERE seq IS NOT NULL AND at < $1 \
              AND seq < (SELECT MAX(seq) FROM booking_events) ORDER BY seq LIMIT $2)",
        )
        .bind(before)
        .bind(limit)
        .execute(&self.pool)
        .await?;
        Ok(pruned.rows_affected())
    }

    /// The lowest number of an event still kept; `None` before any was numbered.
    #[tracing::instrument(name = "booking.store.oldest_event", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn oldest_event(&self) -> Result<Option<i64>, StoreError> {
        let oldest: Option<i64> = sqlx::query(
            "SELECT CAST(MIN(seq) AS BIGINT) AS oldest FROM booking_events WHERE seq IS NOT NULL",
        )
        .fetch_one(&self.pool)
        .await?
        .try_get("oldest")?;
        Ok(oldest)
    }
}
