//! Slots: opened by a provider in one transaction with their request id, read with their free
//! seats as committed at the moment of the read, cancelled by the provider.

use sqlx::Row;
use welfare_core::availability::{NewSlot, SlotSpec, check_slots};
use welfare_core::listing::BookingMode;
use welfare_core::time::Timestamp;
use welfare_storage::Backend;

use super::rows::{self, SLOT_COLUMNS};
use super::{Store, StoreError};

/// A slot as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotRecord {
    pub id: String,
    pub listing_id: String,
    pub provider_id: String,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub capacity: u32,
    /// Seats of pending, HELD and CONFIRMED bookings.
    pub reserved: u32,
    /// Set once the provider cancelled it.
    pub cancel_reason: Option<String>,
}

impl SlotRecord {
    pub fn available(&self) -> u32 {
        if self.cancel_reason.is_some() {
            0
        } else {
            self.capacity.saturating_sub(self.reserved)
        }
    }
}

/// Slots a provider asks to open on one of its listings, with the call's request id.
#[derive(Debug, Clone)]
pub struct NewSlots<'a> {
    pub caller: &'a str,
    pub request_id: &'a str,
    /// The request's fields, so a retry that changes one is refused.
    pub fingerprint: &'a str,
    pub listing_id: &'a str,
    pub provider_id: &'a str,
    pub mode: BookingMode,
    pub specs: &'a [SlotSpec],
    /// One id per spec.
    pub ids: Vec<String>,
}

/// What never changes of a slot once opened: its listing and its times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotFacts {
    pub listing_id: String,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
}

/// Slots' facts kept in memory before the cache starts over.
pub const MAX_CACHED_SLOTS: usize = 100_000;

/// A bounded read-through cache of [`SlotFacts`]: a booking reads its slot's start without a
/// query (its seats and cancellation are always checked by the database).
#[derive(Debug, Default)]
pub(super) struct SlotCache(std::sync::RwLock<std::collections::HashMap<String, SlotFacts>>);

impl SlotCache {
    fn get(&self, id: &str) -> Option<SlotFacts> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    fn insert(&self, id: &str, facts: SlotFacts) {
        let mut map = self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= MAX_CACHED_SLOTS {
            map.clear();
        }
        map.insert(id.to_owned(), facts);
    }
}

/// One page of a listing's slots, oldest start first.
#[derive(Debug, Clone)]
pub struct SlotPage {
    pub slots: Vec<SlotRecord>,
    /// The last slot's start and id, when more may follow.
    pub next: Option<(i64, String)>,
}

impl Store {
    /// Opens the slots in one transaction: checked by `welfare-core` against each other and
    /// the listing's open slots (read under a per-listing lock on PostgreSQL; SQLite has one
    /// writer), or refused whole. A retry of the same request id answers the same slots; the
    /// same id with other fields is [`StoreError::Duplicate`].
    #[tracing::instrument(name = "booking.store.create_slots", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn create_slots(
        &self,
        new: &NewSlots<'_>,
        now: Timestamp,
    ) -> Result<Vec<SlotRecord>, StoreError> {
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                .bind(new.listing_id)
                .execute(&mut *tx)
                .await?;
        }
        let earlier = sqlx::query(
            "SELECT fingerprint, slot_ids FROM slot_requests WHERE caller = $1 AND request_id = $2",
        )
        .bind(new.caller)
        .bind(new.request_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = earlier {
            let fingerprint: String = row.try_get("fingerprint")?;
            if fingerprint != new.fingerprint {
                return Err(StoreError::Duplicate);
            }
            let ids: Vec<String> = serde_json::from_str(&row.try_get::<String, _>("slot_ids")?)
                .map_err(|_| StoreError::Corrupt("slot_requests.slot_ids".to_owned()))?;
            drop(tx);
            let mut slots = Vec::with_capacity(ids.len());
            for id in ids {
                slots.push(
                    self.slot(&id)
                        .await?
                        .ok_or_else(|| StoreError::Corrupt(format!("slot {id} missing")))?,
                );
            }
            return Ok(slots);
        }
        let open: Vec<(Timestamp, Timestamp)> = sqlx::query(
            "SELECT start_at, end_at FROM slots WHERE listing_id = $1 AND cancel_reason IS NULL \
             AND end_at > $2",
        )
        .bind(new.listing_id)
        .bind(now.unix_seconds())
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| {
            Ok((
                Timestamp::from_unix_seconds(row.try_get("start_at")?),
                Timestamp::from_unix_seconds(row.try_get("end_at")?),
            ))
        })
        .collect::<Result<_, sqlx::Error>>()?;
        let checked: Vec<NewSlot> =
            check_slots(&new.mode, new.specs, &open, now).map_err(StoreError::Invalid)?;
        let mut created = Vec::with_capacity(checked.len());
        for (slot, id) in checked.iter().zip(&new.ids) {
            sqlx::query(
                "INSERT INTO slots (id, listing_id, provider_id, start_at, end_at, capacity, \
                 reserved, created_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7)",
            )
            .bind(id)
            .bind(new.listing_id)
            .bind(new.provider_id)
            .bind(slot.starts_at.unix_seconds())
            .bind(slot.ends_at.unix_seconds())
            .bind(i64::from(slot.capacity))
            .bind(now.unix_seconds())
            .execute(&mut *tx)
            .await?;
            created.push(SlotRecord {
                id: id.clone(),
                listing_id: new.listing_id.to_owned(),
                provider_id: new.provider_id.to_owned(),
                starts_at: slot.starts_at,
                ends_at: slot.ends_at,
                capacity: slot.capacity,
                reserved: 0,
                cancel_reason: None,
            });
        }
        let ids = serde_json::to_string(&new.ids)
            .map_err(|e| StoreError::Corrupt(format!("slot ids: {e}")))?;
        sqlx::query(
            "INSERT INTO slot_requests (caller, request_id, fingerprint, slot_ids, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(new.caller)
        .bind(new.request_id)
        .bind(new.fingerprint)
        .bind(ids)
        .bind(now.unix_seconds())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    /// The facts of a slot that never change, from memory when read before.
    #[tracing::instrument(name = "booking.store.slot_facts", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn slot_facts(&self, id: &str) -> Result<Option<SlotFacts>, StoreError> {
        if let Some(facts) = self.slots.get(id) {
            return Ok(Some(facts));
        }
        let Some(slot) = self.slot(id).await? else {
            return Ok(None);
        };
        let facts = SlotFacts {
            listing_id: slot.listing_id,
            starts_at: slot.starts_at,
            ends_at: slot.ends_at,
        };
        self.slots.insert(id, facts.clone());
        Ok(Some(facts))
    }

    /// A slot by id.
    #[tracing::instrument(name = "booking.store.slot", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn slot(&self, id: &str) -> Result<Option<SlotRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SLOT_COLUMNS} FROM slots WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::slot).transpose()
    }

    /// A listing's slots starting in `[from, to)`, after `after` (start, id), at most `limit`;
    /// cancelled slots are left out, and full ones too when `available_only`.
    #[tracing::instrument(name = "booking.store.slots", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn slots(
        &self,
        listing_id: &str,
        from: Timestamp,
        to: Timestamp,
        available_only: bool,
        after: Option<(i64, String)>,
        limit: i64,
    ) -> Result<SlotPage, StoreError> {
        let (after_start, after_id) = after.unwrap_or((i64::MIN, String::new()));
        let full = if available_only {
            " AND reserved < capacity"
        } else {
            ""
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SLOT_COLUMNS} FROM slots WHERE listing_id = $1 AND cancel_reason IS NULL \
             AND start_at >= $2 AND start_at < $3 AND (start_at > $4 OR (start_at = $4 AND id > $5)){full} \
             ORDER BY start_at, id LIMIT $6"
        )))
        .bind(listing_id)
        .bind(from.unix_seconds())
        .bind(to.unix_seconds())
        .bind(after_start)
        .bind(after_id)
        .bind(limit + 1)
        .fetch_all(&self.pool)
        .await?;
        let mut slots = rows.iter().map(rows::slot).collect::<Result<Vec<_>, _>>()?;
        let more = slots.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        slots.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next = if more {
            slots
                .last()
                .map(|s| (s.starts_at.unix_seconds(), s.id.clone()))
        } else {
            None
        };
        Ok(SlotPage { slots, next })
    }

    /// Marks a slot cancelled (once: a second call keeps the first reason), so no booking takes
    /// its seats any more. Its live bookings are then cancelled one by one by the service.
    #[tracing::instrument(name = "booking.store.cancel_slot", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn cancel_slot(&self, id: &str, reason: &str) -> Result<SlotRecord, StoreError> {
        sqlx::query("UPDATE slots SET cancel_reason = $2 WHERE id = $1 AND cancel_reason IS NULL")
            .bind(id)
            .bind(reason)
            .execute(&self.pool)
            .await?;
        self.slot(id)
            .await?
            .ok_or_else(|| StoreError::SlotNotFound(id.to_owned()))
    }
}
