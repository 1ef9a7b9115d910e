//! Rows as the tables hold them, converted to the service's records apart: a stored value that
//! does not convert is [`StoreError::Corrupt`], never a silent default.

use sqlx::Row;
use sqlx::any::AnyRow;
use welfare_core::Money;
use welfare_core::category::{Category, TaxLetter};
use welfare_core::time::Timestamp;

use super::{BookingRecord, Settlement, SlotRecord, Stage, StoreError, to_u32};

pub(super) const BOOKING_COLUMNS: &str = "id, listing_id, slot_id, provider_id, booker_id, \
    quantity, state, state_reason, quote, total_cents, wallet_cents, wallet_id, hold_id, \
    category, tax_letter, description, policy, start_at, hold_expire_at, wallet_hold_expire_at, \
    auto_complete_at, fee_cents, settlement, settle_cents, settle_error, request_id, \
    fingerprint, version, created_at, updated_at";

pub(super) const SLOT_COLUMNS: &str =
    "id, listing_id, provider_id, start_at, end_at, capacity, reserved, cancel_reason";

fn money(cents: i64, what: &str) -> Result<Money, StoreError> {
    Money::from_cents(cents).map_err(|_| StoreError::Corrupt(format!("{what}: {cents}")))
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_unix_seconds(seconds)
}

pub(super) fn booking(row: &AnyRow) -> Result<BookingRecord, StoreError> {
    let id: String = row.try_get("id")?;
    let corrupt = |what: &str| StoreError::Corrupt(format!("booking {id}: {what}"));
    let state: String = row.try_get("state")?;
    let stage = Stage::from_code(&state).ok_or_else(|| corrupt("state"))?;
    let quote =
        serde_json::from_str(&row.try_get::<String, _>("quote")?).map_err(|_| corrupt("quote"))?;
    let policy = serde_json::from_str(&row.try_get::<String, _>("policy")?)
        .map_err(|_| corrupt("policy"))?;
    let category: Category = row
        .try_get::<String, _>("category")?
        .parse()
        .map_err(|_| corrupt("category"))?;
    let tax_letter = TaxLetter::from_code(&row.try_get::<String, _>("tax_letter")?)
        .ok_or_else(|| corrupt("tax_letter"))?;
    let settle_cents: i64 = row.try_get("settle_cents")?;
    let settlement = match row.try_get::<Option<String>, _>("settlement")?.as_deref() {
        None => None,
        Some("hold") => Some(Settlement::Hold),
        Some("abort") => Some(Settlement::Abort),
        Some("release") => Some(Settlement::Release),
        Some("capture") => Some(Settlement::Capture(money(settle_cents, "settle_cents")?)),
        Some(_) => return Err(corrupt("settlement")),
    };
    Ok(BookingRecord {
        listing_id: row.try_get("listing_id")?,
        slot_id: row.try_get("slot_id")?,
        provider_id: row.try_get("provider_id")?,
        booker_id: row.try_get("booker_id")?,
        quantity: to_u32(row.try_get("quantity")?, "quantity")?,
        stage,
        state_reason: row.try_get("state_reason")?,
        quote,
        total: money(row.try_get("total_cents")?, "total_cents")?,
        wallet_part: money(row.try_get("wallet_cents")?, "wallet_cents")?,
        wallet_id: row.try_get("wallet_id")?,
        hold_id: row.try_get("hold_id")?,
        category,
        tax_letter,
        description: row.try_get("description")?,
        policy,
        starts_at: at(row.try_get("start_at")?),
        hold_expires_at: at(row.try_get("hold_expire_at")?),
        wallet_hold_expires_at: at(row.try_get("wallet_hold_expire_at")?),
        auto_complete_at: at(row.try_get("auto_complete_at")?),
        fee: money(row.try_get("fee_cents")?, "fee_cents")?,
        settlement,
        settle_error: row.try_get("settle_error")?,
        request_id: row.try_get("request_id")?,
        fingerprint: row.try_get("fingerprint")?,
        version: row.try_get("version")?,
        created_at: at(row.try_get("created_at")?),
        updated_at: at(row.try_get("updated_at")?),
        id,
    })
}

pub(super) fn slot(row: &AnyRow) -> Result<SlotRecord, StoreError> {
    Ok(SlotRecord {
        id: row.try_get("id")?,
        listing_id: row.try_get("listing_id")?,
        provider_id: row.try_get("provider_id")?,
        starts_at: at(row.try_get("start_at")?),
        ends_at: at(row.try_get("end_at")?),
        capacity: to_u32(row.try_get("capacity")?, "capacity")?,
        reserved: to_u32(row.try_get("reserved")?, "reserved")?,
        cancel_reason: row.try_get("cancel_reason")?,
    })
}
