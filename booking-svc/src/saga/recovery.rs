//! The wallet steps bookings owe, and recovery: on start and on every sweep, each step still
//! owed is done (they are idempotent by request ids derived from the booking), each pending
//! booking whose wallet call is over is decided by asking the wallet what it holds for it, and
//! the platform's own transitions run (expiry of unanswered bookings, completion of confirmed
//! ones nobody closed, cancellation of the bookings of cancelled slots).
//!
//! After recovery, for every booking: its seats are taken iff it is pending, HELD or
//! CONFIRMED; a wallet hold is pending iff it is HELD or CONFIRMED with a wallet part; a
//! completed booking's hold was captured once; every other final booking's hold released.

use welfare_core::booking::{BookingAction, BookingActor};
use welfare_runtime::ServiceError;

use super::create::hold_request;
use super::{Bookings, Point, upstream};
use crate::store::{BookingRecord, Settlement, Stage};
use crate::upstream::{HoldState, UpstreamError};

/// How long after its last change a pending booking's wallet call is taken to be over, so
/// recovery may ask the wallet what happened (a call is bounded far below this).
pub const PENDING_GRACE_SECONDS: i64 = 30;
/// Bookings handled per query by a sweep.
pub const SWEEP_BATCH: i64 = 200;

/// The request id of a booking's settlement (capture or release): one per booking, as a
/// booking settles once.
pub fn settle_request_id(booking_id: &str) -> String {
    format!("booking:{booking_id}:settle")
}

/// The request id of the releases that undo an aborted booking's holds.
pub fn abort_request_id(booking_id: &str) -> String {
    format!("booking:{booking_id}:abort")
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Wallet steps done.
    pub settled: usize,
    /// Pending bookings decided (HELD or aborted).
    pub decided: usize,
    pub expired: usize,
    pub completed: usize,
    /// Bookings of cancelled slots cancelled.
    pub cancelled: usize,
    /// Steps that failed and wait for the next sweep.
    pub failed: usize,
}

impl Swept {
    pub fn is_empty(&self) -> bool {
        *self == Swept::default()
    }
}

impl Bookings {
    /// Does the wallet step `record` owes, then records it done. A refusal for good (the hold
    /// lapsed, say) is recorded with its reason for operators; an unknown outcome leaves the
    /// step owed.
    pub async fn settle(&self, record: &BookingRecord) -> Result<(), ServiceError> {
        let Some(settlement) = record.settlement else {
            return Ok(());
        };
        let outcome = match (settlement, &record.hold_id) {
            (Settlement::Hold, _) => return Ok(()),
            (Settlement::Abort, _) => self.release_every_hold(record).await,
            (Settlement::Capture(amount), Some(hold)) => self
                .wallet
                .capture(hold, amount, &settle_request_id(&record.id))
                .await
                .map(drop),
            (Settlement::Release, Some(hold)) => self
                .wallet
                .release(hold, &settle_request_id(&record.id))
                .await
                .map(drop),
            (Settlement::Capture(_) | Settlement::Release, None) => Ok(()),
        };
        let error = match outcome {
            Ok(()) => None,
            Err(UpstreamError::Refused {
                reason, message, ..
            }) => {
                tracing::error!(
                    booking = %record.id, %reason, %message,
                    "the wallet refused a booking's settlement for good"
                );
                Some(format!("{reason}: {message}"))
            }
            Err(unknown) => {
                self.store.attempted(&record.id).await?;
                return Err(upstream("wallet", unknown));
            }
        };
        self.checkpoint(Point::AfterSettle)?;
        self.store
            .settled(&record.id, settlement.code(), error.as_deref())
            .await?;
        Ok(())
    }

    /// Releases every hold the wallet still has pending for an aborted booking.
    async fn release_every_hold(&self, record: &BookingRecord) -> Result<(), UpstreamError> {
        for hold in self.wallet.holds_of(&record.id).await? {
            if hold.state == HoldState::Pending {
                // The wallet scopes request ids to their hold: one id serves every hold.
                self.wallet
                    .release(&hold.id, &abort_request_id(&record.id))
                    .await?;
            }
        }
        Ok(())
    }

    /// Decides a pending booking whose wallet call is over: HELD with the hold the wallet has
    /// for it, or aborted (owing the release of any hold that still turns up).
    async fn decide_pending(&self, record: BookingRecord) -> Result<(), ServiceError> {
        let request = hold_request(&record)?;
        let holds = self
            .wallet
            .holds_of(&record.id)
            .await
            .map_err(|e| upstream("wallet", e))?;
        let placed = holds
            .into_iter()
            .find(|h| h.state == HoldState::Pending && h.amount == request.amount);
        match placed {
            Some(hold) => self.held(record, hold.id).await.map(drop),
            None => {
                let answer = ServiceError::Unavailable {
                    message: "the wallet holds nothing for this booking".to_owned(),
                };
                self.abort(record, Some(Settlement::Abort), &answer).await
            }
        }
    }

    /// One pass of recovery and the platform's transitions. Failures are counted and left
    /// for the next pass; nothing is skipped for good.
    pub async fn sweep(&self) -> Result<Swept, ServiceError> {
        let mut swept = Swept::default();
        let now = self.now();
        self.store.number_events().await?;
        for record in self.store.owing(SWEEP_BATCH).await? {
            let outcome = match (record.stage, record.settlement) {
                (Stage::Pending, Some(Settlement::Hold)) => {
                    if now.seconds_since(record.updated_at) < self.pending_grace_seconds {
                        continue;
                    }
                    swept.decided += 1;
                    self.decide_pending(record).await
                }
                _ => {
                    swept.settled += 1;
                    self.settle(&record).await
                }
            };
            if let Err(error) = outcome {
                swept.failed += 1;
                tracing::warn!(%error, "recovery step failed; retrying at the next sweep");
            }
        }
        let system = BookingActor::System;
        for record in self.store.due_to_expire(now, SWEEP_BATCH).await? {
            let expire = BookingAction::Expire;
            match self
                .apply(record, expire, system, String::new(), None, now)
                .await
            {
                Ok(_) => swept.expired += 1,
                Err(_) => swept.failed += 1,
            }
        }
        for record in self.store.due_to_complete(now, SWEEP_BATCH).await? {
            let complete = BookingAction::Complete;
            match self
                .apply(record, complete, system, String::new(), None, now)
                .await
            {
                Ok(_) => swept.completed += 1,
                Err(_) => swept.failed += 1,
            }
        }
        let mut slots_seen = std::collections::HashSet::new();
        for record in self.store.live_in_cancelled_slots(SWEEP_BATCH).await? {
            let Some(slot_id) = record.slot_id else {
                continue;
            };
            if slots_seen.insert(slot_id.clone())
                && let Some(slot) = self.store.slot(&slot_id).await?
            {
                swept.cancelled += self.cancel_bookings_of(&slot).await?;
            }
        }
        Ok(swept)
    }

    /// Sweeps until nothing is left to do now (or `max_passes`), as a process does on start.
    pub async fn recover(&self, max_passes: usize) -> Result<Swept, ServiceError> {
        let mut total = Swept::default();
        for _ in 0..max_passes {
            let swept = self.sweep().await?;
            total.settled += swept.settled;
            total.decided += swept.decided;
            total.expired += swept.expired;
            total.completed += swept.completed;
            total.cancelled += swept.cancelled;
            total.failed += swept.failed;
            if swept.is_empty() || swept.failed > 0 {
                break;
            }
        }
        Ok(total)
    }
}
