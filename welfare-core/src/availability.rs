//! Availability: how a listing's booking mode is booked, which slots a provider may open, and
//! how long a booking (and the wallet credit held for it) waits at each step.
//!
//! Slot-booked listings (a swimming course, a psychologist's hour) and enrolments (a summer camp
//! session) are booked into *slots*: the provider opens them with a capacity, and a booking takes
//! seats of one slot. Request-and-confirm listings (home care from a date) are booked with the
//! start the person asks for, and reserve no seats: the provider confirms or declines.

use crate::booking::CancellationPolicy;
use crate::listing::{BookingMode, FieldViolation};
use crate::time::Timestamp;

/// Slots opened by one call.
pub const MAX_SLOTS_PER_CALL: usize = 1_000;
/// Seats in one slot.
pub const MAX_SLOT_CAPACITY: u32 = 10_000;
/// The longest slot of a slot-booked listing, in hours.
pub const MAX_SLOT_HOURS: i64 = 24;
/// The longest enrolment session, in days (a school year).
pub const MAX_SESSION_DAYS: i64 = 366;
/// The furthest ahead a slot, a session or a requested start may be, in days.
pub const MAX_HORIZON_DAYS: i64 = 180;
/// How long a provider has to confirm a HELD booking, in hours; never past the start.
pub const PROVIDER_RESPONSE_HOURS: i64 = 48;
/// How long after the start the provider may record completion or a no-show, in days: the
/// wallet hold lasts until then, and the platform completes a booking still open at
/// [`AUTO_COMPLETE_DAYS`].
pub const COMPLETION_WINDOW_DAYS: i64 = 7;
/// After this many days from the start, a confirmed booking nobody closed is completed by the
/// platform (the provider is paid), well before its wallet hold could lapse.
pub const AUTO_COMPLETE_DAYS: i64 = 3;

const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;

/// How a listing is booked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// Seats of a slot the provider opened (slots and enrolment sessions), at most `default_capacity`
    /// per slot unless the slot says otherwise.
    Seats {
        default_capacity: u32,
        session: bool,
    },
    /// A start the person asks for; no seats, the provider confirms or declines.
    Request,
}

impl Reservation {
    pub const fn of(mode: &BookingMode) -> Reservation {
        match *mode {
            BookingMode::Slots { capacity_per_slot } => Reservation::Seats {
                default_capacity: capacity_per_slot,
                session: false,
            },
            BookingMode::Enrolment { places } => Reservation::Seats {
                default_capacity: places,
                session: true,
            },
            BookingMode::RequestAndConfirm => Reservation::Request,
        }
    }

    /// The longest slot (or session) of this mode, in seconds.
    const fn max_slot_seconds(self) -> i64 {
        match self {
            Reservation::Seats { session: true, .. } => MAX_SESSION_DAYS * DAY,
            _ => MAX_SLOT_HOURS * HOUR,
        }
    }
}

/// A slot a provider asks to open; `capacity` 0 takes the listing's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotSpec {
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub capacity: u32,
}

/// A slot that may be opened, with its capacity resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewSlot {
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub capacity: u32,
}

/// Checks the slots a provider asks to open on a listing booked by `mode`, against each other
/// and the listing's slots already open (`open`, as start and end): each starts in the future
/// within [`MAX_HORIZON_DAYS`], ends after it starts and within the mode's longest slot, has 1 to
/// [`MAX_SLOT_CAPACITY`] seats, and overlaps no other. Every problem is named by its field
/// (`slots[3].end_time`), all at once.
pub fn check_slots(
    mode: &BookingMode,
    specs: &[SlotSpec],
    open: &[(Timestamp, Timestamp)],
    now: Timestamp,
) -> Result<Vec<NewSlot>, Vec<FieldViolation>> {
    let reservation = Reservation::of(mode);
    let Reservation::Seats {
        default_capacity, ..
    } = reservation
    else {
        return Err(vec![FieldViolation::new(
            "listing_id",
            "a request-and-confirm listing is booked by start time and has no slots",
        )]);
    };
    if specs.is_empty() || specs.len() > MAX_SLOTS_PER_CALL {
        return Err(vec![FieldViolation::new(
            "slots",
            format!("must hold 1 to {MAX_SLOTS_PER_CALL} slots"),
        )]);
    }
    let mut violations = Vec::new();
    let mut slots = Vec::with_capacity(specs.len());
    for (index, spec) in specs.iter().enumerate() {
        let field = |name: &str| format!("slots[{index}].{name}");
        let ahead = spec.starts_at.seconds_since(now);
        if ahead <= 0 || ahead > MAX_HORIZON_DAYS * DAY {
            violations.push(FieldViolation::new(
                field("start_time"),
                format!("must be in the future, at most {MAX_HORIZON_DAYS} days ahead"),
            ));
        }
        let length = spec.ends_at.seconds_since(spec.starts_at);
        if length <= 0 || length > reservation.max_slot_seconds() {
            let longest = match reservation {
                Reservation::Seats { session: true, .. } => format!("{MAX_SESSION_DAYS} days"),
                _ => format!("{MAX_SLOT_HOURS} hours"),
            };
            violations.push(FieldViolation::new(
                field("end_time"),
                format!("must be after the start, at most {longest} later"),
            ));
        }
        let capacity = if spec.capacity == 0 {
            default_capacity
        } else {
            spec.capacity
        };
        if !(1..=MAX_SLOT_CAPACITY).contains(&capacity) {
            violations.push(FieldViolation::new(
                field("capacity"),
                format!("must be 1 to {MAX_SLOT_CAPACITY}"),
            ));
        }
        slots.push(NewSlot {
            starts_at: spec.starts_at,
            ends_at: spec.ends_at,
            capacity,
        });
    }
    if violations.is_empty() {
        violations.extend(overlaps(&slots, open));
    }
    if violations.is_empty() {
        Ok(slots)
    } else {
        Err(violations)
    }
}

/// The new slots that overlap another new slot or an open one.
fn overlaps(slots: &[NewSlot], open: &[(Timestamp, Timestamp)]) -> Vec<FieldViolation> {
    let overlap = |a: (Timestamp, Timestamp), b: (Timestamp, Timestamp)| a.0 < b.1 && b.0 < a.1;
    let mut order: Vec<usize> = (0..slots.len()).collect();
    order.sort_by_key(|&i| slots.get(i).map(|s| s.starts_at));
    let mut violations = Vec::new();
    let mut previous: Option<(usize, (Timestamp, Timestamp))> = None;
    for index in order {
        let Some(slot) = slots.get(index) else {
            continue;
        };
        let span = (slot.starts_at, slot.ends_at);
        if let Some((other, other_span)) = previous
            && overlap(span, other_span)
        {
            violations.push(FieldViolation::new(
                format!("slots[{index}].start_time"),
                format!("overlaps slots[{other}]"),
            ));
        } else if open.iter().any(|&existing| overlap(span, existing)) {
            violations.push(FieldViolation::new(
                format!("slots[{index}].start_time"),
                "overlaps a slot already open on this listing",
            ));
        }
        if previous.is_none_or(|(_, (_, end))| slot.ends_at > end) {
            previous = Some((index, span));
        }
    }
    violations
}

/// Checks what a booking names against its listing's mode: a slot for seat-booked listings, a
/// requested start (in the future, within [`MAX_HORIZON_DAYS`]) for request-and-confirm ones.
pub fn check_booking_target(
    mode: &BookingMode,
    has_slot: bool,
    requested_start: Option<Timestamp>,
    now: Timestamp,
) -> Result<(), FieldViolation> {
    match (Reservation::of(mode), has_slot, requested_start) {
        (Reservation::Seats { .. }, true, None) => Ok(()),
        (Reservation::Seats { .. }, false, _) => Err(FieldViolation::new(
            "slot_id",
            "this listing is booked by slot: name one (see ListAvailability)",
        )),
        (Reservation::Seats { .. }, true, Some(_)) => Err(FieldViolation::new(
            "start_time",
            "the slot gives the start: leave start_time empty",
        )),
        (Reservation::Request, true, _) => Err(FieldViolation::new(
            "slot_id",
            "this listing is booked by start time and has no slots",
        )),
        (Reservation::Request, false, None) => Err(FieldViolation::new(
            "start_time",
            "this listing is booked by start time: give one",
        )),
        (Reservation::Request, false, Some(start)) => {
            let ahead = start.seconds_since(now);
            if ahead <= 0 || ahead > MAX_HORIZON_DAYS * DAY {
                Err(FieldViolation::new(
                    "start_time",
                    format!("must be in the future, at most {MAX_HORIZON_DAYS} days ahead"),
                ))
            } else {
                Ok(())
            }
        }
    }
}

/// When a booking made at `now` for a service starting at `starts_at` must be confirmed by, can
/// be cancelled for free until, and when the wallet credit held for it lapses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// The provider confirms by then, or the booking expires: [`PROVIDER_RESPONSE_HOURS`]
    /// after booking, never past the start.
    pub hold_expires_at: Timestamp,
    pub free_until: Timestamp,
    /// The wallet hold lasts as long as any booking made now can: to the end of the completion
    /// window of a start at the booking horizon, so neither completing nor moving the booking
    /// to a later slot ever finds the credit gone.
    pub wallet_hold_expires_at: Timestamp,
    /// When the platform completes a confirmed booking nobody closed.
    pub auto_complete_at: Timestamp,
}

impl Deadlines {
    pub fn new(now: Timestamp, starts_at: Timestamp, policy: &CancellationPolicy) -> Deadlines {
        Deadlines {
            hold_expires_at: now
                .plus_seconds(PROVIDER_RESPONSE_HOURS * HOUR)
                .min(starts_at),
            free_until: policy.free_until(starts_at),
            wallet_hold_expires_at: now.plus_seconds(Deadlines::MAX_WALLET_HOLD_SECONDS),
            auto_complete_at: starts_at.plus_seconds(AUTO_COMPLETE_DAYS * DAY),
        }
    }

    /// The deadlines of the same booking moved to start at `new_start`: the provider's answer
    /// is due no later than before, nor after the new start; the wallet hold stays as it is, so
    /// a move whose completion window would outlast it is refused (`None`).
    pub fn moved_to(&self, new_start: Timestamp, policy: &CancellationPolicy) -> Option<Deadlines> {
        let window_ends = new_start.plus_seconds(COMPLETION_WINDOW_DAYS * DAY);
        (window_ends <= self.wallet_hold_expires_at).then(|| Deadlines {
            hold_expires_at: self.hold_expires_at.min(new_start),
            free_until: policy.free_until(new_start),
            wallet_hold_expires_at: self.wallet_hold_expires_at,
            auto_complete_at: new_start.plus_seconds(AUTO_COMPLETE_DAYS * DAY),
        })
    }

    /// The furthest ahead a wallet hold for a booking can lapse: what the wallet must accept.
    pub const MAX_WALLET_HOLD_SECONDS: i64 = (MAX_HORIZON_DAYS + COMPLETION_WINDOW_DAYS) * DAY;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hours: i64) -> Timestamp {
        Timestamp::from_unix_seconds(1_000_000 + hours * HOUR)
    }

    fn spec(from: i64, to: i64, capacity: u32) -> SlotSpec {
        SlotSpec {
            starts_at: at(from),
            ends_at: at(to),
            capacity,
        }
    }

    const SLOTS: BookingMode = BookingMode::Slots {
        capacity_per_slot: 8,
    };

    fn fields(result: Result<Vec<NewSlot>, Vec<FieldViolation>>) -> Vec<String> {
        result
            .expect_err("refused")
            .into_iter()
            .map(|v| v.field)
            .collect()
    }

    #[test]
    fn slots_take_the_listing_capacity_unless_they_name_their_own() {
        let slots =
            check_slots(&SLOTS, &[spec(10, 11, 0), spec(11, 12, 3)], &[], at(0)).expect("valid");
        assert_eq!(slots.iter().map(|s| s.capacity).collect::<Vec<_>>(), [8, 3]);
    }

    #[test]
    fn every_bad_slot_is_named_at_once() {
        let bad = check_slots(
            &SLOTS,
            &[
                spec(-1, 1, 1),
                spec(10, 10, 1),
                spec(20, 21, MAX_SLOT_CAPACITY + 1),
                spec(30, 30 + 25, 1),
            ],
            &[],
            at(0),
        );
        assert_eq!(
            fields(bad),
            [
                "slots[0].start_time",
                "slots[1].end_time",
                "slots[2].capacity",
                "slots[3].end_time"
            ]
        );
        let far = check_slots(&SLOTS, &[spec(181 * 24, 181 * 24 + 1, 1)], &[], at(0));
        assert_eq!(fields(far), ["slots[0].start_time"]);
        assert_eq!(fields(check_slots(&SLOTS, &[], &[], at(0))), ["slots"]);
    }

    #[test]
    fn slots_never_overlap_each_other_or_open_ones() {
        let among = check_slots(&SLOTS, &[spec(10, 12, 1), spec(11, 13, 1)], &[], at(0));
        assert_eq!(fields(among), ["slots[1].start_time"]);
        let inside = check_slots(&SLOTS, &[spec(10, 20, 1), spec(12, 13, 1)], &[], at(0));
        assert_eq!(fields(inside), ["slots[1].start_time"]);
        let open = [(at(10), at(12))];
        let against = check_slots(&SLOTS, &[spec(11, 12, 1)], &open, at(0));
        assert_eq!(fields(against), ["slots[0].start_time"]);
        // Back to back is not an overlap.
        assert!(check_slots(&SLOTS, &[spec(12, 13, 1), spec(13, 14, 1)], &open, at(0)).is_ok());
    }

    #[test]
    fn enrolment_sessions_may_last_weeks_but_requests_have_no_slots() {
        let camp = BookingMode::Enrolment { places: 30 };
        assert!(check_slots(&camp, &[spec(24, 24 * 15, 0)], &[], at(0)).is_ok());
        assert!(check_slots(&SLOTS, &[spec(24, 24 * 15, 0)], &[], at(0)).is_err());
        let request = check_slots(
            &BookingMode::RequestAndConfirm,
            &[spec(10, 11, 1)],
            &[],
            at(0),
        );
        assert_eq!(fields(request), ["listing_id"]);
    }

    #[test]
    fn a_booking_names_what_its_listing_is_booked_by() {
        let now = at(0);
        assert!(check_booking_target(&SLOTS, true, None, now).is_ok());
        let field = |r: Result<(), FieldViolation>| r.expect_err("refused").field;
        assert_eq!(
            field(check_booking_target(&SLOTS, false, None, now)),
            "slot_id"
        );
        assert_eq!(
            field(check_booking_target(&SLOTS, true, Some(at(5)), now)),
            "start_time"
        );
        let request = BookingMode::RequestAndConfirm;
        assert!(check_booking_target(&request, false, Some(at(5)), now).is_ok());
        assert_eq!(
            field(check_booking_target(&request, false, Some(at(-1)), now)),
            "start_time"
        );
        assert_eq!(
            field(check_booking_target(&request, true, Some(at(5)), now)),
            "slot_id"
        );
    }

    #[test]
    fn the_provider_answers_within_two_days_and_never_after_the_start() {
        let policy = CancellationPolicy::FLEXIBLE;
        let soon = Deadlines::new(at(0), at(5), &policy);
        assert_eq!(soon.hold_expires_at, at(5));
        let later = Deadlines::new(at(0), at(24 * 10), &policy);
        assert_eq!(later.hold_expires_at, at(PROVIDER_RESPONSE_HOURS));
        assert_eq!(
            later.wallet_hold_expires_at,
            at(24 * (MAX_HORIZON_DAYS + COMPLETION_WINDOW_DAYS))
        );
        assert!(later.auto_complete_at < later.wallet_hold_expires_at);
    }

    #[test]
    fn a_move_keeps_the_wallet_hold_and_must_end_within_it() {
        let policy = CancellationPolicy::new(24, crate::booking::LateFee::None).expect("policy");
        let booked = Deadlines::new(at(0), at(24 * 10), &policy);
        let moved = booked
            .moved_to(at(24 * 20), &policy)
            .expect("within the hold");
        assert_eq!(moved.hold_expires_at, booked.hold_expires_at);
        assert_eq!(moved.free_until, at(24 * 19));
        assert_eq!(moved.wallet_hold_expires_at, booked.wallet_hold_expires_at);
        let sooner = booked.moved_to(at(10), &policy).expect("sooner");
        assert_eq!(sooner.hold_expires_at, at(10));
        assert_eq!(
            booked.moved_to(at(24 * MAX_HORIZON_DAYS + 1), &policy),
            None
        );
    }
}
