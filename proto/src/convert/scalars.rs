//! Money, dates, timestamps, points, ISTAT codes and texts.

use super::*;

/// An amount in euro. Empty currency reads as EUR; any other currency is refused.
pub fn money(value: Option<&common::Money>, field: &str) -> Converted<Money> {
    let value = required(value, field)?;
    if !(value.currency_code.is_empty() || value.currency_code == "EUR") {
        return Err(violation(
            &child(field, "currency_code"),
            format!(
                "only EUR is supported, got {:?}",
                truncate(&value.currency_code)
            ),
        ));
    }
    Money::from_cents(value.amount_cents).map_err(|e| violation(&child(field, "amount_cents"), e))
}

/// An amount that must not be negative.
pub fn non_negative_money(value: Option<&common::Money>, field: &str) -> Converted<Money> {
    let amount = money(value, field)?;
    if amount.is_negative() {
        return Err(violation(
            &child(field, "amount_cents"),
            "must not be negative",
        ));
    }
    Ok(amount)
}

/// An amount that must be above zero.
pub fn positive_money(value: Option<&common::Money>, field: &str) -> Converted<Money> {
    let amount = money(value, field)?;
    if !amount.is_positive() {
        return Err(violation(&child(field, "amount_cents"), "must be positive"));
    }
    Ok(amount)
}

/// An optional non-negative amount (unset stays `None`).
pub fn optional_money(value: Option<&common::Money>, field: &str) -> Converted<Option<Money>> {
    value
        .map(|v| non_negative_money(Some(v), field))
        .transpose()
}

pub fn money_to_proto(amount: Money) -> common::Money {
    cents_to_proto(amount.cents())
}

/// A total in cents on the wire: sums over many records (a plan's funding, a report's
/// figures) are carried as plain integers and never refused for their size.
pub fn cents_to_proto(cents: i64) -> common::Money {
    common::Money {
        currency_code: "EUR".to_owned(),
        amount_cents: cents,
    }
}

pub fn date(value: Option<&common::Date>, field: &str) -> Converted<Date> {
    let value = required(value, field)?;
    let month = u8::try_from(value.month)
        .map_err(|_| violation(&child(field, "month"), "must be 1 to 12"))?;
    let day =
        u8::try_from(value.day).map_err(|_| violation(&child(field, "day"), "must be 1 to 31"))?;
    Date::new(value.year, month, day).map_err(|e| violation(field, e))
}

pub fn date_to_proto(value: Date) -> common::Date {
    common::Date {
        year: value.year(),
        month: i32::from(value.month()),
        day: i32::from(value.day()),
    }
}

pub fn timestamp(value: Option<&prost_types::Timestamp>, field: &str) -> Converted<Timestamp> {
    let value = required(value, field)?;
    if !(0..1_000_000_000).contains(&value.nanos) {
        return Err(violation(&child(field, "nanos"), "must be 0 to 999999999"));
    }
    // Years 1900-2200 are all the platform deals in.
    const RANGE: std::ops::RangeInclusive<i64> = -2_208_988_800..=7_289_654_399;
    if !RANGE.contains(&value.seconds) {
        return Err(violation(
            &child(field, "seconds"),
            "must fall between the years 1900 and 2200",
        ));
    }
    Ok(Timestamp::from_unix_seconds(value.seconds))
}

pub fn timestamp_to_proto(value: Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: value.unix_seconds(),
        nanos: 0,
    }
}

pub fn geo_point(value: Option<&common::GeoPoint>, field: &str) -> Converted<GeoPoint> {
    let value = required(value, field)?;
    GeoPoint::new(value.latitude, value.longitude).map_err(|e| violation(field, e))
}

pub fn geo_point_to_proto(point: GeoPoint) -> common::GeoPoint {
    common::GeoPoint {
        latitude: point.lat(),
        longitude: point.lon(),
    }
}

pub fn istat_code(value: &str, field: &str) -> Converted<IstatCode> {
    IstatCode::parse(value).map_err(|e| violation(field, e))
}

/// A text field, trimmed, between `min` and `max` characters, without control characters.
pub fn text(value: &str, field: &str, min: usize, max: usize) -> Converted<String> {
    if value.len() > MAX_TEXT_BYTES {
        return Err(violation(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    let trimmed = value.trim();
    let chars = trimmed.chars().count();
    if chars < min || chars > max {
        return Err(violation(
            field,
            format!("must be {min} to {max} characters, got {chars}"),
        ));
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(violation(field, "must not contain control characters"));
    }
    Ok(trimmed.to_owned())
}

pub(super) fn truncate(value: &str) -> String {
    value.chars().take(40).collect()
}

pub(super) fn check_len<T>(items: &[T], field: &str, max: usize) -> Converted<()> {
    if items.len() > max.min(MAX_REPEATED) {
        return Err(violation(field, format!("at most {max} items")));
    }
    Ok(())
}
