//! The booking saga: what the service does, apart from how requests arrive.
//!
//! A booking is made in steps, each written down before the next is taken, so a process
//! stopped anywhere leaves a record recovery can finish or undo:
//!
//! 1. **reserve** — the booking row is inserted `pending`, owing the wallet step `hold`, in the
//!    same transaction that takes its seats (a conditional update: never more than capacity);
//! 2. **hold** — the wallet holds the credit, with a request id derived from the booking, so no
//!    retry or recovery can hold twice;
//! 3. **held** — the booking becomes HELD with its hold id, and the outbox tells the provider.
//!
//! A refusal at step 2 aborts the booking and gives its seats back; an unknown outcome (the
//! wallet down or slow) aborts it too, owing the wallet step `abort`: whatever hold the wallet
//! may have placed for it is released by recovery. Every later transition writes its new state
//! and the wallet step it owes (capture or release) in one transaction, then does that step;
//! recovery redoes any step still owed. See [`recovery`].
//!
//! - [`create`] — CreateBooking;
//! - [`lifecycle`] — confirm, reject, cancel, complete, no-show, expire, reschedule, slots;
//! - [`recovery`] — the wallet steps, recovery and the sweeps.

use std::sync::Arc;

use welfare_core::auth::{Denied, Principal};
use welfare_core::booking::BookingError;
use welfare_core::territory::Territory;
use welfare_core::time::Timestamp;
use welfare_runtime::ServiceError;
use welfare_runtime::clock::Clock;

use crate::store::{BookingRecord, Store, StoreError};
use crate::upstream::{Catalogue, UpstreamError, Wallet};

pub mod create;
pub mod lifecycle;
pub mod recovery;

pub use create::NewBooking;
pub use lifecycle::Step;

/// A point between two steps of the saga where a process may stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Point {
    /// The booking is pending with its seats; the wallet has not been asked yet.
    AfterReserve,
    /// The wallet holds the credit; the booking is still pending.
    AfterHold,
    /// A transition is stored with the wallet step it owes; the step is not done.
    AfterTransition,
    /// The wallet did the step; the booking still owes it.
    AfterSettle,
}

/// Where the saga may be stopped: production never stops; the simulation stops it at chosen
/// points, as a process killed there would be.
pub trait Faults: Send + Sync + std::fmt::Debug {
    /// `true` stops the operation at `point`: nothing more is done by it.
    fn stop_at(&self, point: Point) -> bool;
}

/// Never stops.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFaults;

impl Faults for NoFaults {
    fn stop_at(&self, _point: Point) -> bool {
        false
    }
}

impl Point {
    pub const ALL: [Point; 4] = [
        Point::AfterReserve,
        Point::AfterHold,
        Point::AfterTransition,
        Point::AfterSettle,
    ];

    pub const fn code(self) -> &'static str {
        match self {
            Point::AfterReserve => "after_reserve",
            Point::AfterHold => "after_hold",
            Point::AfterTransition => "after_transition",
            Point::AfterSettle => "after_settle",
        }
    }

    pub fn from_code(code: &str) -> Option<Point> {
        Point::ALL.into_iter().find(|p| p.code() == code)
    }
}

/// A failpoint for crash tests of real processes: the first operation to reach `point` freezes
/// there (its thread sleeps until the process is killed), so a test can kill the process with
/// SIGKILL at exactly that step. Configured by `failpoint.pause_at`; never set in production.
#[derive(Debug, Clone, Copy)]
pub struct PauseAt(pub Point);

impl Faults for PauseAt {
    fn stop_at(&self, point: Point) -> bool {
        if point == self.0 {
            tracing::warn!(
                point = point.code(),
                "failpoint reached: pausing until killed"
            );
            loop {
                std::thread::sleep(std::time::Duration::from_secs(3_600));
            }
        }
        false
    }
}

/// The error an operation stopped by [`Faults`] answers (as a dead process would answer none).
pub const STOPPED: &str = "stopped by fault injection";

/// The booking service's logic over its store and the two services it depends on.
#[derive(Clone)]
pub struct Bookings {
    store: Store,
    catalogue: Arc<dyn Catalogue>,
    wallet: Arc<dyn Wallet>,
    clock: Clock,
    territory: Arc<Territory>,
    faults: Arc<dyn Faults>,
    /// How long a pending booking may have its wallet call in flight before recovery decides
    /// its outcome by asking the wallet.
    pending_grace_seconds: i64,
}

impl std::fmt::Debug for Bookings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bookings")
            .field("store", &self.store)
            .field("catalogue", &self.catalogue)
            .field("wallet", &self.wallet)
            .finish_non_exhaustive()
    }
}

impl Bookings {
    pub fn new(
        store: Store,
        catalogue: Arc<dyn Catalogue>,
        wallet: Arc<dyn Wallet>,
        clock: Clock,
    ) -> Bookings {
        Bookings {
            store,
            catalogue,
            wallet,
            clock,
            territory: Arc::new(Territory::lodi()),
            faults: Arc::new(NoFaults),
            pending_grace_seconds: recovery::PENDING_GRACE_SECONDS,
        }
    }

    /// The same service, stopped where `faults` says (the simulation's).
    pub fn with_faults(mut self, faults: Arc<dyn Faults>) -> Bookings {
        self.faults = faults;
        self
    }

    /// The same service, deciding pending bookings' outcome after `seconds` instead of
    /// [`recovery::PENDING_GRACE_SECONDS`].
    pub fn with_pending_grace(mut self, seconds: i64) -> Bookings {
        self.pending_grace_seconds = seconds;
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The clock every decision reads.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    fn now(&self) -> Timestamp {
        (self.clock)()
    }

    /// Stops here when the faults say so.
    fn checkpoint(&self, point: Point) -> Result<(), ServiceError> {
        if self.faults.stop_at(point) {
            Err(ServiceError::Unavailable {
                message: STOPPED.to_owned(),
            })
        } else {
            Ok(())
        }
    }

    /// A booking clients may see: not pending, not aborted.
    async fn visible(&self, id: &str) -> Result<BookingRecord, ServiceError> {
        match self.store.booking(id).await? {
            Some(record) if record.status().is_some() => Ok(record),
            _ => Err(not_found("booking", id)),
        }
    }
}

pub(crate) fn not_found(resource: &'static str, id: &str) -> ServiceError {
    ServiceError::NotFound {
        resource,
        id: id.to_owned(),
    }
}

/// A refusal by the policy: someone else's booking is not found (its existence is not told),
/// a caller without the role is denied.
pub(crate) fn denied(error: Denied, resource: &'static str, id: &str) -> ServiceError {
    match error {
        Denied::NotOwner | Denied::WrongResource => not_found(resource, id),
        Denied::Unauthenticated => ServiceError::Unauthenticated {
            reason: "UNAUTHENTICATED",
            message: "a bearer token is required".to_owned(),
        },
        Denied::RoleRequired => ServiceError::PermissionDenied {
            reason: error.code(),
        },
    }
}

/// A transition the state machine refused.
pub(crate) fn refused(error: BookingError) -> ServiceError {
    ServiceError::FailedPrecondition {
        reason: error.code(),
        message: error.to_string(),
        violations: Vec::new(),
    }
}

/// The caller's subject, which every booking operation needs.
pub(crate) fn subject(principal: &Principal) -> Result<String, ServiceError> {
    principal
        .subject
        .as_ref()
        .map(|s| s.as_str().to_owned())
        .ok_or_else(|| denied(Denied::Unauthenticated, "booking", ""))
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> ServiceError {
        match error {
            StoreError::SlotUnavailable(id) => ServiceError::FailedPrecondition {
                reason: "SLOT_UNAVAILABLE",
                message: format!("slot {id} is cancelled or has not enough free seats"),
                violations: Vec::new(),
            },
            StoreError::SlotNotFound(id) => not_found("slot", &id),
            StoreError::Conflict => ServiceError::Aborted {
                reason: "CONCURRENT_CHANGE",
                message: "the booking changed while this request was applied: read it again"
                    .to_owned(),
            },
            StoreError::Duplicate => ServiceError::AlreadyExists {
                reason: "REQUEST_ID_REUSED",
                message: "this request_id was used for a different request".to_owned(),
            },
            StoreError::Invalid(violations) => ServiceError::InvalidArgument(violations),
            other => ServiceError::Unexpected(other.to_string()),
        }
    }
}

/// What an upstream failure answers the caller: unknown outcomes and outages as UNAVAILABLE or
/// DEADLINE_EXCEEDED, refusals as the precondition they are.
pub(crate) fn upstream(service: &str, error: UpstreamError) -> ServiceError {
    match error {
        UpstreamError::Timeout => ServiceError::DeadlineExceeded,
        UpstreamError::Unavailable(message) => ServiceError::Unavailable {
            message: format!("{service}: {message}"),
        },
        UpstreamError::Refused {
            reason, message, ..
        } => ServiceError::FailedPrecondition {
            reason: known_reason(&reason),
            message: format!("{service}: {message}"),
            violations: Vec::new(),
        },
    }
}

/// The wallet's refusals a booking passes on by name; any other is WALLET_REFUSED (with the
/// wallet's message).
fn known_reason(reason: &str) -> &'static str {
    const PASSED_ON: [&str; 6] = [
        "INSUFFICIENT_FUNDS",
        "CATEGORY_NOT_COVERED",
        "PLAN_EXPIRED",
        "FRINGE_BENEFIT_CEILING",
        "FRINGE_BENEFIT_USAGE_UNKNOWN",
        "WALLET_BALANCE_LIMIT",
    ];
    PASSED_ON
        .into_iter()
        .find(|known| *known == reason)
        .unwrap_or("WALLET_REFUSED")
}
