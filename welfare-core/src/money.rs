//! Money as integer euro cents: checked arithmetic, Italian parsing and formatting.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The largest amount the platform handles: € 100.000.000.000,00 — room for the yearly totals
/// of the largest employer, and still so far below `i64::MAX` that sums of a million amounts
/// cannot overflow.
pub const MAX_AMOUNT_CENTS: i64 = 10_000_000_000_000;

/// An amount of euro, in cents. May be negative (a discount line, a refund).
///
/// Arithmetic is checked: every operation that could leave the range
/// `-MAX_AMOUNT_CENTS..=MAX_AMOUNT_CENTS` returns an error instead of wrapping.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(try_from = "i64", into = "i64")]
pub struct Money(i64);

/// Why an amount could not be built or computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount out of range (at most {MAX_AMOUNT_CENTS} cents either way)")]
    OutOfRange,
    #[error("amount is empty")]
    Empty,
    #[error("amount {0:?} is not an Italian-formatted number like 1.234,50")]
    Malformed(String),
    #[error("amount has more than two decimal digits")]
    TooManyDecimals,
    #[error("amount must not be negative")]
    Negative,
}

impl Money {
    /// Zero euro.
    pub const ZERO: Money = Money(0);

    /// An amount from cents, refused outside the platform's range.
    pub fn from_cents(cents: i64) -> Result<Money, MoneyError> {
        if (-MAX_AMOUNT_CENTS..=MAX_AMOUNT_CENTS).contains(&cents) {
            Ok(Money(cents))
        } else {
            Err(MoneyError::OutOfRange)
        }
    }

    /// A non-negative amount from cents: prices, ceilings, allowances.
    pub fn non_negative_from_cents(cents: i64) -> Result<Money, MoneyError> {
        if cents < 0 {
            return Err(MoneyError::Negative);
        }
        Money::from_cents(cents)
    }

    /// A whole number of euro (for constants and tests).
    pub fn from_euros(euros: i64) -> Result<Money, MoneyError> {
        euros
            .checked_mul(100)
            .ok_or(MoneyError::OutOfRange)
            .and_then(Money::from_cents)
    }

    /// The amount in cents.
    pub const fn cents(self) -> i64 {
        self.0
    }

    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    pub const fn is_positive(self) -> bool {
        self.0 > 0
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        Money::from_cents(self.0 + other.0)
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        Money::from_cents(self.0 - other.0)
    }

    pub fn checked_neg(self) -> Money {
        // The range is symmetric, so negation always stays inside it.
        Money(-self.0)
    }

    /// The amount times a whole quantity (units of a service).
    pub fn checked_mul(self, quantity: u32) -> Result<Money, MoneyError> {
        self.0
            .checked_mul(i64::from(quantity))
            .ok_or(MoneyError::OutOfRange)
            .and_then(Money::from_cents)
    }

    /// The given share of the amount, rounded half away from zero to the cent:
    /// `€ 10,05 × 50%` is `€ 5,03`.
    pub fn share(self, share: BasisPoints) -> Money {
        let product = i128::from(self.0) * i128::from(share.0);
        let rounded = (product.abs() + 5_000) / 10_000;
        let signed = if product < 0 { -rounded } else { rounded };
        // A share is at most 100%, so |result| <= |self| and stays in range.
        Money(i64::try_from(signed).unwrap_or_default())
    }

    /// Sum of many amounts, failing on the first step out of range.
    pub fn checked_sum<I: IntoIterator<Item = Money>>(amounts: I) -> Result<Money, MoneyError> {
        amounts
            .into_iter()
            .try_fold(Money::ZERO, |total, next| total.checked_add(next))
    }

    /// The smaller of two amounts.
    pub fn min(self, other: Money) -> Money {
        if self <= other { self } else { other }
    }

    /// The larger of two amounts.
    pub fn max(self, other: Money) -> Money {
        if self >= other { self } else { other }
    }
}

/// A share between 0% and 100% in basis points (1/100 of a percent): `2_500` is 25%.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct BasisPoints(u16);

/// A share above 100% was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("share of {0} basis points is above 100% (10000)")]
pub struct ShareTooLarge(pub u32);

impl BasisPoints {
    pub const ZERO: BasisPoints = BasisPoints(0);
    pub const HUNDRED_PERCENT: BasisPoints = BasisPoints(10_000);

    pub fn new(basis_points: u32) -> Result<BasisPoints, ShareTooLarge> {
        u16::try_from(basis_points)
            .ok()
            .filter(|bp| *bp <= 10_000)
            .map(BasisPoints)
            .ok_or(ShareTooLarge(basis_points))
    }

    pub const fn get(self) -> u32 {
        self.0 as u32
    }
}

impl TryFrom<u32> for BasisPoints {
    type Error = ShareTooLarge;
    fn try_from(value: u32) -> Result<BasisPoints, ShareTooLarge> {
        BasisPoints::new(value)
    }
}

impl From<BasisPoints> for u32 {
    fn from(value: BasisPoints) -> u32 {
        u32::from(value.0)
    }
}

/// `25%`, `12,5%`.
impl fmt::Display for BasisPoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / 100;
        match self.0 % 100 {
            0 => write!(f, "{whole}%"),
            rest if rest % 10 == 0 => write!(f, "{whole},{}%", rest / 10),
            rest => write!(f, "{whole},{rest:02}%"),
        }
    }
}

impl TryFrom<i64> for Money {
    type Error = MoneyError;
    fn try_from(cents: i64) -> Result<Money, MoneyError> {
        Money::from_cents(cents)
    }
}

impl From<Money> for i64 {
    fn from(money: Money) -> i64 {
        money.0
    }
}

/// Italian style: `€ 1.234,50`, `-€ 12,00`.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let euros = abs / 100;
        let cents = abs % 100;
        write!(f, "{sign}€ {},{cents:02}", group_thousands(euros))
    }
}

fn group_thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push('.');
        }
        out.push(digit);
    }
    out
}

/// Parses what people type in Italy: `1.234,50`, `€ 1.234,50`, `1234,5`, `12`, `-3,00 €`.
/// The dot groups thousands and the comma separates cents; a plain `12.50` is refused as
/// ambiguous rather than guessed.
impl FromStr for Money {
    type Err = MoneyError;

    fn from_str(input: &str) -> Result<Money, MoneyError> {
        let malformed = || MoneyError::Malformed(input.chars().take(40).collect());
        let mut text = input.trim();
        if text.is_empty() {
            return Err(MoneyError::Empty);
        }
        let negative = text.starts_with('-');
        if negative {
            text = text[1..].trim_start();
        }
        text = text.trim_start_matches('€').trim_end_matches('€').trim();
        if text.is_empty() {
            return Err(malformed());
        }
        let (whole, fraction) = match text.split_once(',') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (text, None),
        };
        let euros = parse_grouped(whole).ok_or_else(malformed)?;
        let cents = match fraction {
            None => 0,
            Some(digits) if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) => {
                return Err(malformed());
            }
            Some(digits) if digits.len() > 2 => return Err(MoneyError::TooManyDecimals),
            Some(digits) => {
                let value: i64 = digits.parse().map_err(|_| malformed())?;
                if digits.len() == 1 { value * 10 } else { value }
            }
        };
        let total = euros
            .checked_mul(100)
            .and_then(|c| c.checked_add(cents))
            .ok_or(MoneyError::OutOfRange)?;
        Money::from_cents(if negative { -total } else { total })
    }
}

/// Digits with optional `.` every three digits from the right (`1.234.567` or `1234567`).
fn parse_grouped(whole: &str) -> Option<i64> {
    if whole.is_empty() {
        return None;
    }
    let groups: Vec<&str> = whole.split('.').collect();
    if groups.len() > 1 {
        let (first, rest) = groups.split_first()?;
        let first_ok = (1..=3).contains(&first.len());
        if !first_ok || rest.iter().any(|g| g.len() != 3) {
            return None;
        }
    }
    let digits: String = groups.concat();
    if digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cents(value: i64) -> Money {
        Money::from_cents(value).expect("in range")
    }

    #[test]
    fn formats_the_italian_way() {
        assert_eq!(cents(123_450).to_string(), "€ 1.234,50");
        assert_eq!(cents(5).to_string(), "€ 0,05");
        assert_eq!(cents(-1_200).to_string(), "-€ 12,00");
        assert_eq!(cents(100_000_000).to_string(), "€ 1.000.000,00");
        assert_eq!(cents(25_823).to_string(), "€ 258,23");
    }

    #[test]
    fn parses_what_people_type() {
        assert_eq!("€ 1.234,50".parse(), Ok(cents(123_450)));
        assert_eq!("1234,5".parse(), Ok(cents(123_450)));
        assert_eq!("12".parse(), Ok(cents(1_200)));
        assert_eq!("-3,00 €".parse(), Ok(cents(-300)));
        assert_eq!("1.000.000".parse(), Ok(cents(100_000_000)));
    }

    #[test]
    fn refuses_ambiguous_or_broken_amounts() {
        for bad in [
            "12.50", "1,234", "abc", "1.23,00", ",50", "1,", "€", "--1", "1 000",
        ] {
            assert!(bad.parse::<Money>().is_err(), "{bad} should be refused");
        }
        assert_eq!("".parse::<Money>(), Err(MoneyError::Empty));
        assert_eq!("1,234".parse::<Money>(), Err(MoneyError::TooManyDecimals));
        assert_eq!(
            "100.000.000.001".parse::<Money>(),
            Err(MoneyError::OutOfRange)
        );
    }

    #[test]
    fn percentages_round_half_away_from_zero() {
        let half = BasisPoints::new(5_000).expect("50%");
        assert_eq!(cents(1_005).share(half), cents(503));
        assert_eq!(cents(-1_005).share(half), cents(-503));
        assert_eq!(cents(999).share(BasisPoints::HUNDRED_PERCENT), cents(999));
        assert_eq!(cents(999).share(BasisPoints::ZERO), Money::ZERO);
        assert_eq!(BasisPoints::new(10_001), Err(ShareTooLarge(10_001)));
        assert_eq!(BasisPoints::new(1_250).expect("ok").to_string(), "12,5%");
        assert_eq!(BasisPoints::new(2_000).expect("ok").to_string(), "20%");
    }

    #[test]
    fn arithmetic_refuses_to_leave_the_range() {
        let max = cents(MAX_AMOUNT_CENTS);
        assert_eq!(max.checked_add(cents(1)), Err(MoneyError::OutOfRange));
        assert_eq!(max.checked_mul(2), Err(MoneyError::OutOfRange));
        assert_eq!(Money::from_cents(i64::MIN), Err(MoneyError::OutOfRange));
        assert_eq!(
            Money::non_negative_from_cents(-1),
            Err(MoneyError::Negative)
        );
    }

    #[test]
    fn serializes_as_plain_cents() {
        assert_eq!(serde_json::to_string(&cents(1_250)).expect("json"), "1250");
        assert!(serde_json::from_str::<Money>("99999999999999").is_err());
    }
}
