//! Calendar dates and instants, without a clock: callers pass the reading of theirs.
//!
//! Dates are Italian calendar days: an instant's date, and the instant a date starts, are
//! those of Europe/Rome (UTC+1, UTC+2 in summer), read from the time zone database compiled
//! into the crate (`jiff`) — a plan that ends on 31 December has ended at midnight in Lodi,
//! not an hour later at midnight UTC.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Seconds in a day.
pub const SECONDS_PER_DAY: i64 = 86_400;
const MIN_YEAR: i32 = 1900;
const MAX_YEAR: i32 = 2200;

/// An instant, as whole seconds since the Unix epoch (UTC).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_unix_seconds(seconds: i64) -> Timestamp {
        Timestamp(seconds)
    }

    pub const fn unix_seconds(self) -> i64 {
        self.0
    }

    /// The instant `seconds` later (earlier when negative), saturating at the ends of time.
    pub const fn plus_seconds(self, seconds: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(seconds))
    }

    /// Seconds from `earlier` to `self`, negative when `earlier` is later.
    pub const fn seconds_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// The Italian calendar date (Europe/Rome) of this instant, `None` outside years
    /// 1900–2200.
    pub fn date(self) -> Option<Date> {
        let zoned = jiff::Timestamp::from_second(self.0)
            .ok()?
            .to_zoned(rome().clone());
        Date::new(
            i32::from(zoned.year()),
            u8::try_from(zoned.month()).ok()?,
            u8::try_from(zoned.day()).ok()?,
        )
        .ok()
    }
}

/// The time zone of the Italian calendar.
pub const TIME_ZONE: &str = "Europe/Rome";

/// Europe/Rome, from the compiled-in database.
fn rome() -> &'static jiff::tz::TimeZone {
    static ROME: std::sync::OnceLock<jiff::tz::TimeZone> = std::sync::OnceLock::new();
    ROME.get_or_init(|| {
        jiff::tz::TimeZone::get(TIME_ZONE)
            .expect("Europe/Rome is in the time zone database compiled into the crate")
    })
}

/// A calendar date between the years 1900 and 2200.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Date {
    year: i32,
    month: u8,
    day: u8,
}

/// Why a date was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("date {0:?} is not in the form YYYY-MM-DD")]
    Malformed(String),
    #[error("date {year:04}-{month:02}-{day:02} does not exist")]
    NoSuchDay { year: i32, month: u8, day: u8 },
    #[error("year {0} is outside 1900-2200")]
    YearOutOfRange(i32),
}

impl Date {
    pub fn new(year: i32, month: u8, day: u8) -> Result<Date, DateError> {
        if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
            return Err(DateError::YearOutOfRange(year));
        }
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return Err(DateError::NoSuchDay { year, month, day });
        }
        Ok(Date { year, month, day })
    }

    pub const fn year(self) -> i32 {
        self.year
    }

    pub const fn month(self) -> u8 {
        self.month
    }

    pub const fn day(self) -> u8 {
        self.day
    }

    /// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
    pub fn days_since_epoch(self) -> i64 {
        let year = i64::from(self.year) - i64::from(self.month <= 2);
        let era = year.div_euclid(400);
        let year_of_era = year - era * 400;
        let month = i64::from(self.month);
        let day_of_year =
            (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
    }

    /// The date `days` after 1970-01-01, `None` outside years 1900–2200.
    pub fn from_days_since_epoch(days: i64) -> Option<Date> {
        let z = days.checked_add(719_468)?;
        let era = z.div_euclid(146_097);
        let day_of_era = z - era * 146_097;
        let year_of_era =
            (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let mp = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        Date::new(
            i32::try_from(year).ok()?,
            u8::try_from(month).ok()?,
            u8::try_from(day).ok()?,
        )
        .ok()
    }

    /// The instant this date starts in Italy (midnight, Europe/Rome).
    pub fn start(self) -> Timestamp {
        let civil = jiff::civil::Date::new(
            i16::try_from(self.year).unwrap_or(i16::MAX),
            i8::try_from(self.month).unwrap_or(1),
            i8::try_from(self.day).unwrap_or(1),
        );
        // Midnight exists every day in Rome (the clocks change at 02:00 and 03:00).
        match civil.and_then(|d| d.to_zoned(rome().clone())) {
            Ok(zoned) => Timestamp(zoned.timestamp().as_second()),
            Err(_) => Timestamp(self.days_since_epoch() * SECONDS_PER_DAY),
        }
    }

    /// The date `days` later (earlier when negative), `None` past the supported years.
    pub fn plus_days(self, days: i64) -> Option<Date> {
        Date::from_days_since_epoch(self.days_since_epoch().checked_add(days)?)
    }

    /// Full years of age on `on` for someone born on `self`; `None` before birth.
    pub fn age_on(self, on: Date) -> Option<u8> {
        if on < self {
            return None;
        }
        let birthday_passed = (on.month, on.day) >= (self.month, self.day);
        let years = on.year - self.year - i32::from(!birthday_passed);
        u8::try_from(years).ok()
    }
}

fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl FromStr for Date {
    type Err = DateError;

    fn from_str(text: &str) -> Result<Date, DateError> {
        let malformed = || DateError::Malformed(text.chars().take(40).collect());
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
            return Err(malformed());
        }
        let number = |range: std::ops::Range<usize>| {
            text.get(range)
                .filter(|part| part.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|part| part.parse::<u32>().ok())
                .ok_or_else(malformed)
        };
        let year = i32::try_from(number(0..4)?).map_err(|_| malformed())?;
        let month = u8::try_from(number(5..7)?).map_err(|_| malformed())?;
        let day = u8::try_from(number(8..10)?).map_err(|_| malformed())?;
        Date::new(year, month, day)
    }
}

impl TryFrom<String> for Date {
    type Error = DateError;
    fn try_from(text: String) -> Result<Date, DateError> {
        text.parse()
    }
}

impl From<Date> for String {
    fn from(date: Date) -> String {
        date.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> Date {
        text.parse().expect("valid date")
    }

    #[test]
    fn days_round_trip_across_the_supported_range() {
        let first = date("1900-01-01").days_since_epoch();
        let last = date("2200-12-31").days_since_epoch();
        for days in (first..=last).step_by(97) {
            let d = Date::from_days_since_epoch(days).expect("in range");
            assert_eq!(d.days_since_epoch(), days);
        }
        assert_eq!(date("1970-01-01").days_since_epoch(), 0);
        assert_eq!(date("2000-03-01").days_since_epoch(), 11_017);
        assert_eq!(Date::from_days_since_epoch(last + 1), None);
    }

    #[test]
    fn refuses_days_that_do_not_exist() {
        assert!("2025-02-29".parse::<Date>().is_err());
        assert!("2024-02-29".parse::<Date>().is_ok());
        assert!("2024-13-01".parse::<Date>().is_err());
        assert!("2024-1-01".parse::<Date>().is_err());
        assert!("+024-01-01".parse::<Date>().is_err());
        assert!("1800-01-01".parse::<Date>().is_err());
    }

    #[test]
    fn ages_count_full_years() {
        let born = date("2020-06-15");
        assert_eq!(born.age_on(date("2024-06-14")), Some(3));
        assert_eq!(born.age_on(date("2024-06-15")), Some(4));
        assert_eq!(born.age_on(date("2020-06-14")), None);
    }

    #[test]
    fn timestamps_know_their_date() {
        let ts = Timestamp::from_unix_seconds(1_764_000_000);
        assert_eq!(ts.date(), Some(date("2025-11-24")));
        assert_eq!(date("2025-11-24").start().date(), Some(date("2025-11-24")));
    }

    /// Around midnight the Italian day is not the UTC one: an hour apart in winter, two in
    /// summer — a plan ending on 31 December has ended at 00:30 in Lodi though it is still
    /// 23:30 on the 31st in UTC.
    #[test]
    fn dates_are_italian_calendar_days() {
        let utc = |text: &str| {
            let (day, time) = text.split_once('T').expect("a date and a time");
            let (h, m) = time.split_once(':').expect("hh:mm");
            date(day).days_since_epoch() * SECONDS_PER_DAY
                + h.parse::<i64>().expect("h") * 3_600
                + m.parse::<i64>().expect("m") * 60
        };
        let at = |text: &str| Timestamp::from_unix_seconds(utc(text));
        // Winter, UTC+1.
        assert_eq!(at("2026-12-31T23:30").date(), Some(date("2027-01-01")));
        assert_eq!(at("2026-12-31T22:59").date(), Some(date("2026-12-31")));
        // Summer, UTC+2.
        assert_eq!(at("2026-07-31T22:30").date(), Some(date("2026-08-01")));
        assert_eq!(at("2026-07-31T21:59").date(), Some(date("2026-07-31")));
        // A day starts at midnight in Rome.
        assert_eq!(date("2027-01-01").start(), at("2026-12-31T23:00"));
        assert_eq!(date("2026-08-01").start(), at("2026-07-31T22:00"));
        // The days the clocks change are 23 and 25 hours long.
        let length = |d: &str| {
            let day = date(d);
            day.plus_days(1)
                .expect("next")
                .start()
                .seconds_since(day.start())
        };
        assert_eq!(length("2026-03-29"), 23 * 3_600);
        assert_eq!(length("2026-10-25"), 25 * 3_600);
        assert_eq!(length("2026-06-01"), 24 * 3_600);
    }
}
