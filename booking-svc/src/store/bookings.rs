//! Bookings: inserted with their seats, changed with a version check (and their seats, request
//! id and outbox event) in one transaction, and read by the views the service needs.

use sqlx::Row;
use sqlx::any::Any;
use welfare_core::booking::BookingStatus;
use welfare_core::time::Timestamp;

use super::events;
use super::rows::{self, BOOKING_COLUMNS};
use super::{BookingRecord, RequestRecord, Seats, Store, StoreError};

/// A change to one booking: its new record (version already advanced), the version it was read
/// at, the seats it takes or gives back, the request id it answers and the event it makes.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub booking: &'a BookingRecord,
    pub read_version: i64,
    pub seats: Seats,
    pub request: Option<RequestRecord>,
    pub event: Option<&'a str>,
}

/// Which bookings a list shows.
#[derive(Debug, Clone, Default)]
pub struct BookingFilter {
    pub booker_id: Option<String>,
    pub provider_id: Option<String>,
    pub listing_id: Option<String>,
    pub slot_id: Option<String>,
    pub status: Option<BookingStatus>,
}

type Tx = sqlx::Transaction<'static, Any>;

async fn take_seats(tx: &mut Tx, slot_id: &str, quantity: u32) -> Result<(), StoreError> {
    let taken = sqlx::query(
        "UPDATE slots SET reserved = reserved + $2 WHERE id = $1 AND cancel_reason IS NULL \
         AND reserved + $2 <= capacity",
    )
    .bind(slot_id)
    .bind(i64::from(quantity))
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if taken == 1 {
        Ok(())
    } else {
        Err(StoreError::SlotUnavailable(slot_id.to_owned()))
    }
}

async fn give_back(tx: &mut Tx, slot_id: &str, quantity: u32) -> Result<(), StoreError> {
    let given = sqlx::query("UPDATE slots SET reserved = reserved - $2 WHERE id = $1")
        .bind(slot_id)
        .bind(i64::from(quantity))
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if given == 1 {
        Ok(())
    } else {
        Err(StoreError::SlotNotFound(slot_id.to_owned()))
    }
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(format!("encode: {e}")))
}

impl Store {
    /// Inserts a new booking and takes its seats (for a slot) in one transaction, with its
    /// `created` event when it is HELD already. Not enough seats is
    /// [`StoreError::SlotUnavailable`]; the booker's request id used before is
    /// [`StoreError::Duplicate`]; either way nothing is written.
    #[tracing::instrument(name = "booking.store.insert", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn insert(
        &self,
        booking: &BookingRecord,
        event: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        if let Some(slot_id) = &booking.slot_id {
            take_seats(&mut tx, slot_id, booking.quantity).await?;
        }
        let settlement = booking.settlement;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO bookings ({BOOKING_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
             $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, \
             $27, $28, $29, $30)"
        )))
        .bind(&booking.id)
        .bind(&booking.listing_id)
        .bind(&booking.slot_id)
        .bind(&booking.provider_id)
        .bind(&booking.booker_id)
        .bind(i64::from(booking.quantity))
        .bind(booking.stage.code())
        .bind(&booking.state_reason)
        .bind(json(&booking.quote)?)
        .bind(booking.total.cents())
        .bind(booking.wallet_part.cents())
        .bind(&booking.wallet_id)
        .bind(&booking.hold_id)
        .bind(booking.category.code())
        .bind(booking.tax_letter.code())
        .bind(&booking.description)
        .bind(json(&booking.policy)?)
        .bind(booking.starts_at.unix_seconds())
        .bind(booking.hold_expires_at.unix_seconds())
        .bind(booking.wallet_hold_expires_at.unix_seconds())
        .bind(booking.auto_complete_at.unix_seconds())
        .bind(booking.fee.cents())
        .bind(settlement.map(|s| s.code()))
        .bind(settlement.map_or(0, |s| s.cents()))
        .bind(&booking.settle_error)
        .bind(&booking.request_id)
        .bind(&booking.fingerprint)
        .bind(booking.version)
        .bind(booking.created_at.unix_seconds())
        .bind(booking.updated_at.unix_seconds())
        .execute(&mut *tx)
        .await?;
        if let Some(kind) = event {
            events::record(
                &mut tx,
                &booking.id,
                &booking.provider_id,
                kind,
                booking.stage.code(),
                booking.updated_at,
            )
            .await?;
        }
        tx.commit().await?;
        if let Some(kind) = event {
            crate::metrics::booking_event(booking.category, kind);
            self.changed.notify_waiters();
        }
        Ok(())
    }

    /// Applies a change if the booking is still at the version it was read at
    /// ([`StoreError::Conflict`] otherwise), with its seats, request id and event, all or
    /// nothing.
    #[tracing::instrument(name = "booking.store.save", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn save(&self, change: Change<'_>) -> Result<(), StoreError> {
        let booking = change.booking;
        let mut tx = self.pool.begin().await?;
        if let Seats::Move { to, .. } = &change.seats {
            take_seats(&mut tx, to, booking.quantity).await?;
        }
        let settlement = booking.settlement;
        let updated = sqlx::query(
            "UPDATE bookings SET slot_id = $3, state = $4, state_reason = $5, hold_id = $6, \
             start_at = $7, hold_expire_at = $8, auto_complete_at = $9, fee_cents = $10, \
             settlement = $11, settle_cents = $12, settle_error = $13, version = $14, \
             updated_at = $15, request_id = $16 WHERE id = $1 AND version = $2",
        )
        .bind(&booking.id)
        .bind(change.read_version)
        .bind(&booking.slot_id)
        .bind(booking.stage.code())
        .bind(&booking.state_reason)
        .bind(&booking.hold_id)
        .bind(booking.starts_at.unix_seconds())
        .bind(booking.hold_expires_at.unix_seconds())
        .bind(booking.auto_complete_at.unix_seconds())
        .bind(booking.fee.cents())
        .bind(settlement.map(|s| s.code()))
        .bind(settlement.map_or(0, |s| s.cents()))
        .bind(&booking.settle_error)
        .bind(booking.version)
        .bind(booking.updated_at.unix_seconds())
        .bind(&booking.request_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated != 1 {
            return Err(StoreError::Conflict);
        }
        match &change.seats {
            Seats::Keep => {}
            Seats::Release { slot_id, quantity } => give_back(&mut tx, slot_id, *quantity).await?,
            Seats::Move { from, quantity, .. } => give_back(&mut tx, from, *quantity).await?,
        }
        if let Some(request) = &change.request {
            sqlx::query(
                "INSERT INTO booking_requests (caller, request_id, booking_id, action, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&request.caller)
            .bind(&request.request_id)
            .bind(&request.booking_id)
            .bind(&request.action)
            .bind(booking.updated_at.unix_seconds())
            .execute(&mut *tx)
            .await?;
        }
        if let Some(kind) = change.event {
            events::record(
                &mut tx,
                &booking.id,
                &booking.provider_id,
                kind,
                booking.stage.code(),
                booking.updated_at,
            )
            .await?;
        }
        tx.commit().await?;
        if let Some(kind) = change.event {
            crate::metrics::booking_event(booking.category, kind);
            self.changed.notify_waiters();
        }
        Ok(())
    }

    /// Forgets up to `limit` request ids of each kind (booking actions, slot creations)
    /// recorded before `before` (unix seconds): a retry of one is then a new request. A
    /// booking's own request id stays with the booking. Answers how many were forgotten.
    #[tracing::instrument(name = "booking.store.prune_requests", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn prune_requests(&self, before: i64, limit: i64) -> Result<u64, StoreError> {
        let mut pruned = 0;
        for table in ["booking_requests", "slot_requests"] {
            pruned += sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE (caller, request_id) IN \
                 (SELECT caller, request_id FROM {table} WHERE created_at < $1 LIMIT $2)"
            )))
            .bind(before)
            .bind(limit)
            .execute(&self.pool)
            .await?
            .rows_affected();
        }
        Ok(pruned)
    }

    /// Records that the wallet step `settlement` (by its code) is done, or was refused for good
    /// with `error`. Does not change the booking's version: clients see no change.
    #[tracing::instrument(name = "booking.store.settled", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn settled(
        &self,
        id: &str,
        settlement: &str,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE bookings SET settlement = NULL, settle_cents = 0, settle_error = $3 \
             WHERE id = $1 AND settlement = $2",
        )
        .bind(id)
        .bind(settlement)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Counts a failed attempt at a booking's wallet step.
    #[tracing::instrument(name = "booking.store.attempted", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn attempted(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE bookings SET settle_attempts = settle_attempts + 1 WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    #[tracing::instrument(name = "booking.store.booking", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn booking(&self, id: &str) -> Result<Option<BookingRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {BOOKING_COLUMNS} FROM bookings WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::booking).transpose()
    }

    /// Bookings by id, in one query (ids not found are left out).
    #[tracing::instrument(name = "booking.store.bookings_by_id", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn bookings_by_id(
        &self,
        ids: &[&str],
    ) -> Result<std::collections::HashMap<String, BookingRecord>, StoreError> {
        if ids.is_empty() {
            return Ok(std::collections::HashMap::new());
        }
        let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {BOOKING_COLUMNS} FROM bookings WHERE id IN ({})",
            marks.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(*id);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| rows::booking(row).map(|b| (b.id.clone(), b)))
            .collect()
    }

    /// The booking a booker's request id made.
    #[tracing::instrument(name = "booking.store.booking_by_request", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn booking_by_request(
        &self,
        booker_id: &str,
        request_id: &str,
    ) -> Result<Option<BookingRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {BOOKING_COLUMNS} FROM bookings WHERE booker_id = $1 AND request_id = $2"
        )))
        .bind(booker_id)
        .bind(request_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::booking).transpose()
    }

    /// What a caller's transition request id was used for.
    #[tracing::instrument(name = "booking.store.request", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn request(
        &self,
        caller: &str,
        request_id: &str,
    ) -> Result<Option<RequestRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT booking_id, action FROM booking_requests WHERE caller = $1 AND request_id = $2",
        )
        .bind(caller)
        .bind(request_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(RequestRecord {
                caller: caller.to_owned(),
                request_id: request_id.to_owned(),
                booking_id: row.try_get("booking_id")?,
                action: row.try_get("action")?,
            })
        })
        .transpose()
    }

    /// Live bookings (never pending or aborted ones) matching `filter`, by id after `after`.
    #[tracing::instrument(name = "booking.store.bookings", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn bookings(
        &self,
        filter: &BookingFilter,
        after: &str,
        limit: i64,
    ) -> Result<Vec<BookingRecord>, StoreError> {
        let mut sql = format!(
            "SELECT {BOOKING_COLUMNS} FROM bookings WHERE state NOT IN ('pending', 'aborted') \
             AND id > $1"
        );
        let mut binds: Vec<String> = Vec::new();
        let mut add = |column: &str, value: &Option<String>| {
            if let Some(value) = value {
                binds.push(value.clone());
                sql.push_str(&format!(" AND {column} = ${}", binds.len() + 1));
            }
        };
        add("booker_id", &filter.booker_id);
        add("provider_id", &filter.provider_id);
        add("listing_id", &filter.listing_id);
        add("slot_id", &filter.slot_id);
        add("state", &filter.status.map(|s| s.code().to_owned()));
        sql.push_str(&format!(" ORDER BY id LIMIT ${}", binds.len() + 2));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(after.to_owned());
        for value in binds {
            query = query.bind(value);
        }
        let rows = query.bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(rows::booking).collect()
    }

    /// Bookings owing a wallet step, least recently changed first.
    #[tracing::instrument(name = "booking.store.owing", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn owing(&self, limit: i64) -> Result<Vec<BookingRecord>, StoreError> {
        self.select_where(
            "settlement IS NOT NULL ORDER BY updated_at, id LIMIT $1",
            limit,
            None,
        )
        .await
    }

    /// HELD bookings whose provider did not answer in time.
    #[tracing::instrument(name = "booking.store.due_to_expire", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn due_to_expire(
        &self,
        now: Timestamp,
        limit: i64,
    ) -> Result<Vec<BookingRecord>, StoreError> {
        self.select_where(
            "state = 'held' AND hold_expire_at <= $2 ORDER BY hold_expire_at, id LIMIT $1",
            limit,
            Some(now.unix_seconds()),
        )
        .await
    }

    /// CONFIRMED bookings nobody closed by their auto-completion time.
    #[tracing::instrument(name = "booking.store.due_to_complete", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn due_to_complete(
        &self,
        now: Timestamp,
        limit: i64,
    ) -> Result<Vec<BookingRecord>, StoreError> {
        self.select_where(
            "state = 'confirmed' AND auto_complete_at <= $2 ORDER BY auto_complete_at, id LIMIT $1",
            limit,
            Some(now.unix_seconds()),
        )
        .await
    }

    /// The live bookings of a cancelled slot, which its cancellation still owes a cancel.
    #[tracing::instrument(name = "booking.store.live_in_cancelled_slots", skip_all, fields(otel.kind = "client", db.system.name = self.backend.system_name()))]
    pub async fn live_in_cancelled_slots(
        &self,
        limit: i64,
    ) -> Result<Vec<BookingRecord>, StoreError> {
        self.select_where(
            "state IN ('held', 'confirmed') AND slot_id IN \
             (SELECT id FROM slots WHERE cancel_reason IS NOT NULL) ORDER BY id LIMIT $1",
            limit,
            None,
        )
        .await
    }

    async fn select_where(
        &self,
        condition: &str,
        limit: i64,
        at: Option<i64>,
    ) -> Result<Vec<BookingRecord>, StoreError> {
        let sql = format!("SELECT {BOOKING_COLUMNS} FROM bookings WHERE {condition}");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(limit);
        if let Some(at) = at {
            query = query.bind(at);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(rows::booking).collect()
    }
}
