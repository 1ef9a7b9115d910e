//! Bookings: the state machine, who may move it, and the cancellation policy.

use serde::{Deserialize, Serialize};

use crate::money::{BasisPoints, Money};
use crate::time::Timestamp;

/// The longest free-cancellation notice a provider may require, in hours (30 days).
pub const MAX_FREE_CANCELLATION_HOURS: u32 = 30 * 24;

/// Where a booking stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    /// Capacity reserved and wallet funds held, waiting for the provider until the hold expires.
    Held,
    Confirmed,
    Completed,
    Expired,
    Cancelled,
    Rejected,
    NoShow,
}

impl BookingStatus {
    pub const ALL: [BookingStatus; 7] = [
        BookingStatus::Held,
        BookingStatus::Confirmed,
        BookingStatus::Completed,
        BookingStatus::Expired,
        BookingStatus::Cancelled,
        BookingStatus::Rejected,
        BookingStatus::NoShow,
    ];

    pub const fn code(self) -> &'static str {
        match self {
            BookingStatus::Held => "held",
            BookingStatus::Confirmed => "confirmed",
            BookingStatus::Completed => "completed",
            BookingStatus::Expired => "expired",
            BookingStatus::Cancelled => "cancelled",
            BookingStatus::Rejected => "rejected",
            BookingStatus::NoShow => "no_show",
        }
    }

    /// No transition leaves a terminal status.
    pub const fn is_terminal(self) -> bool {
        !matches!(self, BookingStatus::Held | BookingStatus::Confirmed)
    }

    /// Whether the booking still occupies capacity.
    pub const fn holds_capacity(self) -> bool {
        matches!(self, BookingStatus::Held | BookingStatus::Confirmed)
    }
}

/// Something done to a booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookingAction {
    Confirm,
    Reject,
    Cancel,
    Complete,
    MarkNoShow,
    Expire,
}

impl BookingAction {
    pub const ALL: [BookingAction; 6] = [
        BookingAction::Confirm,
        BookingAction::Reject,
        BookingAction::Cancel,
        BookingAction::Complete,
        BookingAction::MarkNoShow,
        BookingAction::Expire,
    ];

    pub const fn code(self) -> &'static str {
        match self {
            BookingAction::Confirm => "confirm",
            BookingAction::Reject => "reject",
            BookingAction::Cancel => "cancel",
            BookingAction::Complete => "complete",
            BookingAction::MarkNoShow => "mark_no_show",
            BookingAction::Expire => "expire",
        }
    }
}

/// Who acts on a booking, relative to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookingActor {
    /// The person who booked.
    Booker,
    /// An operator of the listing's provider.
    Provider,
    /// The platform itself: the sweeper that expires holds.
    System,
    /// Platform operations staff, acting on a person's behalf.
    Operator,
}

/// The fee for a late cancellation or a no-show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LateFee {
    None,
    /// A share of the booking's total.
    Share {
        share: BasisPoints,
    },
    /// A fixed amount, never more than the booking's total.
    Fixed {
        amount: Money,
    },
}

/// Free cancellation until `free_until_hours_before` the start, then the late fee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawPolicy", into = "RawPolicy")]
pub struct CancellationPolicy {
    free_until_hours_before: u32,
    late_fee: LateFee,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    free_until_hours_before: u32,
    late_fee: LateFee,
}

impl TryFrom<RawPolicy> for CancellationPolicy {
    type Error = PolicyError;
    fn try_from(raw: RawPolicy) -> Result<CancellationPolicy, PolicyError> {
        CancellationPolicy::new(raw.free_until_hours_before, raw.late_fee)
    }
}

impl From<CancellationPolicy> for RawPolicy {
    fn from(policy: CancellationPolicy) -> RawPolicy {
        RawPolicy {
            free_until_hours_before: policy.free_until_hours_before,
            late_fee: policy.late_fee,
        }
    }
}

/// A policy out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("free_until_hours_before: at most {MAX_FREE_CANCELLATION_HOURS} hours")]
    Notice,
    #[error("late_fee: a fixed fee must be positive")]
    Fee,
}

impl Default for CancellationPolicy {
    fn default() -> CancellationPolicy {
        CancellationPolicy::FLEXIBLE
    }
}

impl CancellationPolicy {
    /// Always free to cancel.
    pub const FLEXIBLE: CancellationPolicy = CancellationPolicy {
        free_until_hours_before: 0,
        late_fee: LateFee::None,
    };

    pub fn new(
        free_until_hours_before: u32,
        late_fee: LateFee,
    ) -> Result<CancellationPolicy, PolicyError> {
        if free_until_hours_before > MAX_FREE_CANCELLATION_HOURS {
            return Err(PolicyError::Notice);
        }
        if let LateFee::Fixed { amount } = late_fee
            && !amount.is_positive()
        {
            return Err(PolicyError::Fee);
        }
        Ok(CancellationPolicy {
            free_until_hours_before,
            late_fee,
        })
    }

    pub const fn free_until_hours_before(&self) -> u32 {
        self.free_until_hours_before
    }

    pub const fn late_fee(&self) -> LateFee {
        self.late_fee
    }

    /// The last instant a booking starting at `starts_at` can be cancelled for free.
    pub fn free_until(&self, starts_at: Timestamp) -> Timestamp {
        starts_at.plus_seconds(-i64::from(self.free_until_hours_before) * 3_600)
    }

    /// The late fee on a booking of `total`, never more than the total.
    pub fn late_fee_on(&self, total: Money) -> Money {
        match self.late_fee {
            LateFee::None => Money::ZERO,
            LateFee::Share { share } => total.share(share),
            LateFee::Fixed { amount } => amount.min(total),
        }
        .max(Money::ZERO)
    }
}

/// What the decision needs to know of a booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingFacts {
    pub status: BookingStatus,
    /// When the hold lapses if the provider has not confirmed.
    pub hold_expires_at: Timestamp,
    /// When the service starts.
    pub starts_at: Timestamp,
    /// The booking's total, from its quote.
    pub total: Money,
    /// What the wallet holds for it (at most the total).
    pub wallet_hold: Money,
}

/// What happens to the wallet hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum HoldEffect {
    /// Leave it as it is.
    Keep,
    /// Release it whole.
    Void,
    /// Capture this much and release the rest.
    Capture { amount: Money },
}

/// An allowed transition and its consequences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub to: BookingStatus,
    /// What the family owes for a late cancellation or a no-show.
    pub fee: Money,
    pub hold: HoldEffect,
    /// Whether the booking's capacity goes back to the slot.
    pub releases_capacity: bool,
}

/// Why a transition was refused; `code()` gives the stable reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BookingError {
    #[error("cannot {action} a booking that is {from}")]
    InvalidTransition {
        from: &'static str,
        action: &'static str,
    },
    #[error("{actor:?} may not {action} a booking")]
    NotAllowed {
        actor: BookingActor,
        action: &'static str,
    },
    #[error("the hold expired before the booking was confirmed")]
    HoldExpired,
    #[error("the hold has not expired yet")]
    HoldNotExpired,
    #[error("the service has not started yet")]
    NotStarted,
    #[error("the service has already started")]
    AlreadyStarted,
    #[error("the free-cancellation deadline has passed")]
    FreeCancellationPassed,
}

impl BookingError {
    pub const fn code(self) -> &'static str {
        match self {
            BookingError::InvalidTransition { .. } => "INVALID_TRANSITION",
            BookingError::NotAllowed { .. } => "ACTION_NOT_ALLOWED",
            BookingError::HoldExpired => "HOLD_EXPIRED",
            BookingError::HoldNotExpired => "HOLD_NOT_EXPIRED",
            BookingError::NotStarted => "NOT_STARTED",
            BookingError::AlreadyStarted => "ALREADY_STARTED",
            BookingError::FreeCancellationPassed => "FREE_CANCELLATION_PASSED",
        }
    }
}

/// Decides whether `actor` may apply `action` to a booking at `now`, and what follows:
///
/// | action | from | who | when |
/// |---|---|---|---|
/// | confirm | held | provider | before the hold expires |
/// | reject | held | provider | any time |
/// | cancel | held, confirmed | booker, provider, operator | before the start; a booker past the free deadline pays the late fee |
/// | complete | confirmed | provider, system | from the start |
/// | mark_no_show | confirmed | provider | from the start; the late fee applies |
/// | expire | held | system | once the hold has expired |
pub fn decide(
    booking: &BookingFacts,
    action: BookingAction,
    actor: BookingActor,
    policy: &CancellationPolicy,
    now: Timestamp,
) -> Result<Transition, BookingError> {
    use BookingAction as A;
    use BookingActor as Who;
    use BookingStatus as S;

    let allowed: &[Who] = match action {
        A::Confirm | A::Reject | A::MarkNoShow => &[Who::Provider],
        A::Cancel => &[Who::Booker, Who::Provider, Who::Operator],
        A::Complete => &[Who::Provider, Who::System],
        A::Expire => &[Who::System],
    };
    if !allowed.contains(&actor) {
        return Err(BookingError::NotAllowed {
            actor,
            action: action.code(),
        });
    }
    let from = booking.status;
    let invalid = BookingError::InvalidTransition {
        from: from.code(),
        action: action.code(),
    };
    let capture = |amount: Money| {
        let amount = amount.min(booking.wallet_hold);
        if amount.is_positive() {
            HoldEffect::Capture { amount }
        } else {
            HoldEffect::Void
        }
    };
    let hold_expired = now >= booking.hold_expires_at;
    let started = now >= booking.starts_at;
    let transition = match (action, from) {
        (A::Confirm, S::Held) if hold_expired => return Err(BookingError::HoldExpired),
        (A::Confirm, S::Held) => Transition {
            to: S::Confirmed,
            fee: Money::ZERO,
            hold: HoldEffect::Keep,
            releases_capacity: false,
        },
        (A::Reject, S::Held) => Transition {
            to: S::Rejected,
            fee: Money::ZERO,
            hold: HoldEffect::Void,
            releases_capacity: true,
        },
        (A::Cancel, S::Held | S::Confirmed) if started => return Err(BookingError::AlreadyStarted),
        (A::Cancel, S::Held | S::Confirmed) => {
            let late = now > policy.free_until(booking.starts_at);
            let fee = if actor == Who::Booker && from == S::Confirmed && late {
                policy.late_fee_on(booking.total)
            } else {
                Money::ZERO
            };
            Transition {
                to: S::Cancelled,
                fee,
                hold: capture(fee),
                releases_capacity: true,
            }
        }
        (A::Complete | A::MarkNoShow, S::Confirmed) if !started => {
            return Err(BookingError::NotStarted);
        }
        (A::Complete, S::Confirmed) => Transition {
            to: S::Completed,
            fee: Money::ZERO,
            hold: capture(booking.total),
            releases_capacity: true,
        },
        (A::MarkNoShow, S::Confirmed) => {
            let fee = policy.late_fee_on(booking.total);
            Transition {
                to: S::NoShow,
                fee,
                hold: capture(fee),
                releases_capacity: true,
            }
        }
        (A::Expire, S::Held) if !hold_expired => return Err(BookingError::HoldNotExpired),
        (A::Expire, S::Held) => Transition {
            to: S::Expired,
            fee: Money::ZERO,
            hold: HoldEffect::Void,
            releases_capacity: true,
        },
        _ => return Err(invalid),
    };
    Ok(transition)
}

/// Decides whether `actor` may move a booking to another slot of the same listing starting at
/// `new_start`: the booker (or an operator for them), on a HELD or CONFIRMED booking, up to its
/// free-cancellation deadline, to a slot that has not started. A move keeps the booking's
/// status: the seat changes, nothing else.
pub fn decide_reschedule(
    booking: &BookingFacts,
    actor: BookingActor,
    policy: &CancellationPolicy,
    now: Timestamp,
    new_start: Timestamp,
) -> Result<(), BookingError> {
    if !matches!(actor, BookingActor::Booker | BookingActor::Operator) {
        return Err(BookingError::NotAllowed {
            actor,
            action: "reschedule",
        });
    }
    if !booking.status.holds_capacity() {
        return Err(BookingError::InvalidTransition {
            from: booking.status.code(),
            action: "reschedule",
        });
    }
    if now >= booking.starts_at {
        return Err(BookingError::AlreadyStarted);
    }
    if now > policy.free_until(booking.starts_at) {
        return Err(BookingError::FreeCancellationPassed);
    }
    if now >= new_start {
        return Err(BookingError::AlreadyStarted);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600;

    fn euros(value: i64) -> Money {
        Money::from_euros(value).expect("in range")
    }

    fn booking(status: BookingStatus) -> BookingFacts {
        BookingFacts {
            status,
            hold_expires_at: Timestamp::from_unix_seconds(10 * HOUR),
            starts_at: Timestamp::from_unix_seconds(100 * HOUR),
            total: euros(80),
            wallet_hold: euros(50),
        }
    }

    fn policy() -> CancellationPolicy {
        CancellationPolicy::new(
            48,
            LateFee::Share {
                share: BasisPoints::new(5_000).expect("50%"),
            },
        )
        .expect("valid")
    }

    fn at(hours: i64) -> Timestamp {
        Timestamp::from_unix_seconds(hours * HOUR)
    }

    #[test]
    fn a_provider_confirms_a_held_booking_before_the_hold_expires() {
        let ok = decide(
            &booking(BookingStatus::Held),
            BookingAction::Confirm,
            BookingActor::Provider,
            &policy(),
            at(5),
        );
        assert_eq!(ok.map(|t| t.to), Ok(BookingStatus::Confirmed));
        let late = decide(
            &booking(BookingStatus::Held),
            BookingAction::Confirm,
            BookingActor::Provider,
            &policy(),
            at(10),
        );
        assert_eq!(late, Err(BookingError::HoldExpired));
        let citizen = decide(
            &booking(BookingStatus::Held),
            BookingAction::Confirm,
            BookingActor::Booker,
            &policy(),
            at(5),
        );
        assert!(matches!(citizen, Err(BookingError::NotAllowed { .. })));
    }

    #[test]
    fn cancelling_is_free_until_the_deadline_then_costs_the_late_fee() {
        let confirmed = booking(BookingStatus::Confirmed);
        let early = decide(
            &confirmed,
            BookingAction::Cancel,
            BookingActor::Booker,
            &policy(),
            at(52),
        )
        .expect("ok");
        assert_eq!((early.fee, early.hold), (Money::ZERO, HoldEffect::Void));
        let late = decide(
            &confirmed,
            BookingAction::Cancel,
            BookingActor::Booker,
            &policy(),
            at(53),
        )
        .expect("ok");
        assert_eq!(late.fee, euros(40));
        assert_eq!(late.hold, HoldEffect::Capture { amount: euros(40) });
        let by_provider = decide(
            &confirmed,
            BookingAction::Cancel,
            BookingActor::Provider,
            &policy(),
            at(99),
        )
        .expect("ok");
        assert_eq!(by_provider.fee, Money::ZERO);
        let after_start = decide(
            &confirmed,
            BookingAction::Cancel,
            BookingActor::Booker,
            &policy(),
            at(100),
        );
        assert_eq!(after_start, Err(BookingError::AlreadyStarted));
    }

    #[test]
    fn completion_captures_what_the_wallet_held() {
        let done = decide(
            &booking(BookingStatus::Confirmed),
            BookingAction::Complete,
            BookingActor::Provider,
            &policy(),
            at(101),
        )
        .expect("ok");
        assert_eq!(done.hold, HoldEffect::Capture { amount: euros(50) });
        // Only HELD and CONFIRMED bookings count as reserved seats; a slot that has started
        // takes no bookings, so giving the seat back changes no one's availability.
        assert!(done.releases_capacity);
        let early = decide(
            &booking(BookingStatus::Confirmed),
            BookingAction::Complete,
            BookingActor::Provider,
            &policy(),
            at(99),
        );
        assert_eq!(early, Err(BookingError::NotStarted));
    }

    #[test]
    fn only_the_system_expires_holds_and_only_once_due() {
        let held = booking(BookingStatus::Held);
        assert_eq!(
            decide(
                &held,
                BookingAction::Expire,
                BookingActor::System,
                &policy(),
                at(9)
            ),
            Err(BookingError::HoldNotExpired)
        );
        let expired = decide(
            &held,
            BookingAction::Expire,
            BookingActor::System,
            &policy(),
            at(10),
        )
        .expect("ok");
        assert_eq!(
            (expired.to, expired.hold, expired.releases_capacity),
            (BookingStatus::Expired, HoldEffect::Void, true)
        );
    }

    #[test]
    fn the_booker_reschedules_until_the_free_cancellation_deadline() {
        let confirmed = booking(BookingStatus::Confirmed);
        let move_at = |now, who| decide_reschedule(&confirmed, who, &policy(), at(now), at(120));
        assert_eq!(move_at(52, BookingActor::Booker), Ok(()));
        assert_eq!(
            move_at(53, BookingActor::Booker),
            Err(BookingError::FreeCancellationPassed)
        );
        assert!(matches!(
            move_at(1, BookingActor::Provider),
            Err(BookingError::NotAllowed { .. })
        ));
        let into_the_past =
            decide_reschedule(&confirmed, BookingActor::Booker, &policy(), at(5), at(4));
        assert_eq!(into_the_past, Err(BookingError::AlreadyStarted));
        let done = booking(BookingStatus::Completed);
        assert!(matches!(
            decide_reschedule(&done, BookingActor::Booker, &policy(), at(1), at(120)),
            Err(BookingError::InvalidTransition { .. })
        ));
    }

    #[test]
    fn fixed_fees_never_exceed_the_total() {
        let policy =
            CancellationPolicy::new(0, LateFee::Fixed { amount: euros(500) }).expect("valid");
        assert_eq!(policy.late_fee_on(euros(80)), euros(80));
        assert_eq!(
            CancellationPolicy::new(24 * 31, LateFee::None),
            Err(PolicyError::Notice)
        );
    }
}
