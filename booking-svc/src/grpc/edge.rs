//! The edge: each request's fields parsed once, every problem named at once, before anything
//! is read or written; and the service's records written back in the contract's types.

use welfare_core::availability::SlotSpec;
use welfare_core::ids::{BookingId, ListingId};
use welfare_core::listing::FieldViolation;
use welfare_core::pricing::MAX_QUANTITY;
use welfare_core::time::Timestamp;
use welfare_proto::booking as pb;
use welfare_proto::convert;
use welfare_runtime::ServiceError;
use welfare_runtime::edge::{etag, etag_version, request_id};
use welfare_runtime::error::Violations;

use crate::saga::{NewBooking, Step};
use crate::store::{BookingRecord, SlotRecord};

/// The longest reason a provider or a booker gives.
pub const MAX_REASON_CHARS: usize = 1_000;
/// Availability pages: default and largest.
pub const DEFAULT_SLOT_PAGE: i64 = 100;
pub const MAX_SLOT_PAGE: i64 = 500;
/// Booking pages: default and largest.
pub const DEFAULT_BOOKING_PAGE: i64 = 20;
pub const MAX_BOOKING_PAGE: i64 = 100;
/// The default availability window, and the longest, in days.
pub const DEFAULT_WINDOW_DAYS: i64 = 30;
pub const MAX_WINDOW_DAYS: i64 = 180;

/// The longest wallet id: the wallet's own (a plan's UUID, `/`, an employee id).
pub const MAX_WALLET_ID_BYTES: usize = 36 + 1 + welfare_core::ids::MAX_ID_LEN;

const DAY: i64 = 86_400;

/// A wallet id as the wallet service issues them: printable, at most
/// [`MAX_WALLET_ID_BYTES`].
fn wallet_id(value: &str) -> Result<String, FieldViolation> {
    let value = value.trim();
    if value.is_empty()
        || value.len() > MAX_WALLET_ID_BYTES
        || !value.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(FieldViolation::new(
            "wallet_id",
            format!("must be 1 to {MAX_WALLET_ID_BYTES} printable characters"),
        ));
    }
    Ok(value.to_owned())
}

pub(super) fn id(value: &str, field: &str) -> Result<String, FieldViolation> {
    BookingId::parse(value.trim())
        .map(|id| id.as_str().to_owned())
        .map_err(|e| FieldViolation::new(field, e))
}

pub(super) fn listing_id(value: &str, field: &str) -> Result<String, FieldViolation> {
    ListingId::parse(value.trim())
        .map(|id| id.as_str().to_owned())
        .map_err(|e| FieldViolation::new(field, e))
}

fn reason(value: &str, required: bool) -> Result<String, FieldViolation> {
    convert::text(value, "reason", usize::from(required), MAX_REASON_CHARS)
}

/// A booking transition's fields.
pub(super) fn step(
    id_value: &str,
    etag_value: &str,
    request_id_value: &str,
    reason_value: Option<(&str, bool)>,
) -> Result<Step, ServiceError> {
    let mut v = Violations::default();
    let id = v.keep(id(id_value, "id"));
    let etag = v.keep(etag_version(etag_value, "etag"));
    let request_id = v.keep(request_id(request_id_value));
    let reason = match reason_value {
        None => Some(String::new()),
        Some((text, required)) => v.keep(reason(text, required)),
    };
    v.finish_with(|| {
        Some(Step {
            id: id?,
            etag: etag?,
            request_id: request_id?,
            reason: reason?,
        })
    })
}

pub(super) fn new_booking(request: &pb::CreateBookingRequest) -> Result<NewBooking, ServiceError> {
    let mut v = Violations::default();
    let listing = v.keep(listing_id(&request.listing_id, "listing_id"));
    let slot = if request.slot_id.is_empty() {
        Some(None)
    } else {
        v.keep(id(&request.slot_id, "slot_id")).map(Some)
    };
    let quantity = match request.quantity {
        0 => Some(1),
        q if q > MAX_QUANTITY => {
            v.push(FieldViolation::new(
                "quantity",
                format!("must be 1 to {MAX_QUANTITY}"),
            ));
            None
        }
        q => Some(q),
    };
    let profile = v.keep(convert::profile(request.profile.as_ref(), "profile"));
    let wallet = if request.wallet_id.is_empty() {
        Some(None)
    } else {
        v.keep(wallet_id(&request.wallet_id)).map(Some)
    };
    let request_id = v.keep(request_id(&request.request_id));
    let start = match &request.start_time {
        None => Some(None),
        Some(at) => v.keep(convert::timestamp(Some(at), "start_time")).map(Some),
    };
    v.finish_with(|| {
        Some(NewBooking {
            listing_id: listing?,
            slot_id: slot?,
            quantity: quantity?,
            profile: profile?,
            wallet_id: wallet?,
            request_id: request_id?,
            start: start?,
        })
    })
}

/// CreateSlots' fields: the listing, the slots and the request id.
pub(super) fn new_slots(
    request: &pb::CreateSlotsRequest,
) -> Result<(String, Vec<SlotSpec>, String), ServiceError> {
    let mut v = Violations::default();
    let listing = v.keep(listing_id(&request.listing_id, "listing_id"));
    let mut specs = Vec::with_capacity(request.slots.len());
    for (index, slot) in request.slots.iter().enumerate() {
        let field = |name: &str| format!("slots[{index}].{name}");
        let start = v.keep(convert::timestamp(
            slot.start_time.as_ref(),
            &field("start_time"),
        ));
        let end = v.keep(convert::timestamp(
            slot.end_time.as_ref(),
            &field("end_time"),
        ));
        if let (Some(starts_at), Some(ends_at)) = (start, end) {
            specs.push(SlotSpec {
                starts_at,
                ends_at,
                capacity: slot.capacity,
            });
        }
    }
    let request_id = v.keep(request_id(&request.request_id));
    v.finish_with(|| Some((listing?, specs, request_id?)))
}

/// ListAvailability's window: default now to 30 days later, at most 180 days long.
pub(super) fn window(
    request: &pb::ListAvailabilityRequest,
    now: Timestamp,
) -> Result<(Timestamp, Timestamp), FieldViolation> {
    let from = match &request.start_time {
        None => now,
        Some(at) => convert::timestamp(Some(at), "start_time")?,
    };
    let to = match &request.end_time {
        None => from.plus_seconds(DEFAULT_WINDOW_DAYS * DAY),
        Some(at) => convert::timestamp(Some(at), "end_time")?,
    };
    let length = to.seconds_since(from);
    if length <= 0 || length > MAX_WINDOW_DAYS * DAY {
        return Err(FieldViolation::new(
            "end_time",
            format!("must be after start_time, at most {MAX_WINDOW_DAYS} days later"),
        ));
    }
    Ok((from, to))
}

/// A slot page token, signed for `bound` (`welfare_runtime::page_token`): the last slot's
/// start and id.
pub(super) fn slot_token(value: &str, bound: u64) -> Result<Option<(i64, String)>, FieldViolation> {
    let foreign = welfare_runtime::page_token::refused;
    let Some(body) = welfare_runtime::page_token::open(value, bound).map_err(|()| foreign())?
    else {
        return Ok(None);
    };
    body.split_once('/')
        .and_then(|(start, id)| Some((start.parse::<i64>().ok()?, id.to_owned())))
        .filter(|(_, id)| BookingId::parse(id).is_ok())
        .map(Some)
        .ok_or_else(foreign)
}

pub(super) fn slot_token_of(next: Option<(i64, String)>, bound: u64) -> String {
    next.map(|(start, id)| welfare_runtime::page_token::seal(bound, &format!("{start}/{id}")))
        .unwrap_or_default()
}

/// A booking page token, signed for `bound`: the last booking's id.
pub(super) fn booking_token(value: &str, bound: u64) -> Result<String, FieldViolation> {
    match welfare_runtime::page_token::open(value, bound) {
        Ok(None) => Ok(String::new()),
        Ok(Some(body)) => id(&body, "page_token"),
        Err(()) => Err(welfare_runtime::page_token::refused()),
    }
}

pub(super) use welfare_runtime::page_token::bound as page_bound;

pub(super) fn slot_to_proto(slot: &SlotRecord) -> pb::Slot {
    pb::Slot {
        id: slot.id.clone(),
        listing_id: slot.listing_id.clone(),
        start_time: Some(convert::timestamp_to_proto(slot.starts_at)),
        end_time: Some(convert::timestamp_to_proto(slot.ends_at)),
        capacity: slot.capacity,
        reserved: slot.reserved,
        available: slot.available(),
    }
}

pub(super) fn booking_to_proto(record: &BookingRecord) -> pb::Booking {
    let state = record.status().map_or(0, convert::booking_status_to_proto);
    pb::Booking {
        id: record.id.clone(),
        listing_id: record.listing_id.clone(),
        slot_id: record.slot_id.clone().unwrap_or_default(),
        provider_id: record.provider_id.clone(),
        booker_id: record.booker_id.clone(),
        quantity: record.quantity,
        state,
        state_reason: record.state_reason.clone(),
        quote: Some(convert::quote_to_proto(&record.quote)),
        wallet_hold_id: record.hold_id.clone().unwrap_or_default(),
        hold_expire_time: Some(convert::timestamp_to_proto(record.hold_expires_at)),
        start_time: Some(convert::timestamp_to_proto(record.starts_at)),
        free_cancellation_deadline: Some(convert::timestamp_to_proto(
            record.policy.free_until(record.starts_at),
        )),
        cancellation_fee: Some(convert::money_to_proto(record.fee)),
        create_time: Some(convert::timestamp_to_proto(record.created_at)),
        update_time: Some(convert::timestamp_to_proto(record.updated_at)),
        etag: etag(record.version),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_field_of_a_booking_is_named_at_once() {
        let request = pb::CreateBookingRequest {
            listing_id: "bad id".to_owned(),
            slot_id: "x".repeat(65),
            quantity: MAX_QUANTITY + 1,
            wallet_id: "w 1".to_owned(),
            request_id: String::new(),
            ..Default::default()
        };
        let Err(ServiceError::InvalidArgument(violations)) = new_booking(&request) else {
            panic!("refused");
        };
        let fields: Vec<_> = violations.into_iter().map(|v| v.field).collect();
        assert_eq!(
            fields,
            [
                "listing_id",
                "slot_id",
                "quantity",
                "wallet_id",
                "request_id"
            ]
        );
    }

    #[test]
    fn page_tokens_round_trip_and_foreign_ones_are_refused() {
        let bound = welfare_runtime::edge::fingerprint(&["sub:anna", "availability", "l-1"]);
        let token = slot_token_of(Some((1_700_000_000, "slot-1".to_owned())), bound);
        assert_eq!(
            slot_token(&token, bound),
            Ok(Some((1_700_000_000, "slot-1".to_owned())))
        );
        assert!(slot_token("nonsense", bound).is_err());
        assert!(slot_token("1700000000/slot-1", bound).is_err(), "unsigned");
        let elsewhere = welfare_runtime::edge::fingerprint(&["sub:anna", "availability", "l-2"]);
        assert!(slot_token(&token, elsewhere).is_err(), "another listing's");
        let bookings = welfare_runtime::page_token::seal(bound, "b-1");
        assert_eq!(booking_token(&bookings, bound), Ok("b-1".to_owned()));
        assert!(booking_token("b-1", bound).is_err(), "an id is not a token");
        assert_eq!(booking_token("", bound), Ok(String::new()));
    }
}
