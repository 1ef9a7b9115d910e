//! The booking outbox: every change a provider's system must learn of is numbered in commit
//! order in the same transaction as the change, and read back by number.

use sqlx::any::Any;
use sqlx::{Row, Transaction};
use welfare_core::time::Timestamp;

use super::{Store, StoreError};

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

/// Numbers and writes one event inside `tx`. Taking the head row makes concurrent writers
/// commit in the order of their numbers.
pub(super) async fn record(
    tx: &mut Transaction<'static, Any>,
    booking_id: &str,
    provider_id: &str,
    kind: &str,
    state: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    let seq: i64 = sqlx::query("UPDATE event_head SET seq = seq + 1 WHERE id = 1 RETURNING seq")
        .fetch_one(&mut **tx)
        .await?
        .try_get("seq")?;
    sqlx::query(
        "INSERT INTO booking_events (seq, booking_id, provider_id, kind, state, at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(seq)
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
    /// A provider's events numbered after `after`, oldest first, at most `limit`.
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
}
