//! The rest of a booking's life: the provider's and the booker's transitions, the platform's
//! (expiry, completion), moving a booking to another slot, and the slots themselves. Every
//! transition is decided by `welfare-core` (`authorize`, then `decide`), stored with the wallet
//! step it owes, its seats, its request id and its outbox event in one transaction, then
//! settled with the wallet.

use welfare_core::auth::{Action, Principal, Resource, authorize, booking_actor};
use welfare_core::availability::{Deadlines, SlotSpec};
use welfare_core::booking::{
    BookingAction, BookingActor, BookingFacts, BookingStatus, HoldEffect, decide, decide_reschedule,
};
use welfare_core::ids::{PersonId, ProviderId};
use welfare_core::time::Timestamp;
use welfare_runtime::ServiceError;
use welfare_runtime::uuid::new_uuid;

use super::{Bookings, Point, denied, not_found, refused, subject};
use crate::store::{
    BookingFilter, BookingRecord, Change, NewSlots, RequestRecord, Seats, Settlement, SlotPage,
    SlotRecord, Stage, StoreError,
};
use crate::upstream::Caller;

/// A transition as a caller asks for it, parsed at the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub id: String,
    /// The version the caller read; `None` skips the check.
    pub etag: Option<i64>,
    pub request_id: String,
    /// Why (rejections and cancellations); the booker reads it.
    pub reason: String,
}

/// Who may read the bookings a list shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListScope {
    /// The bookings of the caller's provider's listings.
    Provider(String),
    /// The caller's own bookings.
    Booker(String),
    /// Every booking (platform operations).
    All,
}

/// A transition's start: the earlier answer of its request id, or the booking, its request
/// and who acts.
enum Prepared {
    Replayed(BookingRecord),
    Fresh(BookingRecord, RequestRecord, BookingActor),
}

fn parties(record: &BookingRecord) -> Result<(PersonId, ProviderId), ServiceError> {
    let corrupt = |what: &str| {
        ServiceError::Unexpected(format!("booking {} has an invalid {what}", record.id))
    };
    Ok((
        PersonId::parse(&record.booker_id).map_err(|_| corrupt("booker"))?,
        ProviderId::parse(&record.provider_id).map_err(|_| corrupt("provider"))?,
    ))
}

/// What `welfare-core` needs of a booking. Only a placed hold can be captured.
fn facts(record: &BookingRecord, status: BookingStatus) -> BookingFacts {
    BookingFacts {
        status,
        hold_expires_at: record.hold_expires_at,
        starts_at: record.starts_at,
        total: record.total,
        wallet_hold: if record.hold_id.is_some() {
            record.wallet_part
        } else {
            welfare_core::Money::ZERO
        },
    }
}

const fn policy_action(action: BookingAction) -> Action {
    match action {
        BookingAction::Confirm => Action::ConfirmBooking,
        BookingAction::Reject => Action::RejectBooking,
        BookingAction::Cancel | BookingAction::Expire => Action::CancelBooking,
        BookingAction::Complete => Action::CompleteBooking,
        BookingAction::MarkNoShow => Action::MarkNoShow,
    }
}

fn event_kind(action: BookingAction) -> &'static str {
    match action {
        BookingAction::Confirm => "confirmed",
        BookingAction::Reject => "rejected",
        BookingAction::Cancel => "cancelled",
        BookingAction::Complete => "completed",
        BookingAction::MarkNoShow => "no_show",
        BookingAction::Expire => "expired",
    }
}

impl Bookings {
    /// A booking the caller may read.
    pub async fn get(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<BookingRecord, ServiceError> {
        let record = self.visible(id).await?;
        let (booker, provider_id) = parties(&record)?;
        authorize(
            principal,
            Action::ReadBooking,
            Resource::Booking {
                booker: &booker,
                provider_id: &provider_id,
            },
        )
        .map_err(|e| denied(e, "booking", id))?;
        Ok(record)
    }

    /// Whose bookings the caller lists: its provider's, its own, or (operations) all.
    pub fn list_scope(principal: &Principal) -> Result<ListScope, ServiceError> {
        use welfare_core::auth::Role;
        let me = subject(principal)?;
        if (principal.has(Role::ProviderOperator) || principal.has(Role::PartnerSystem))
            && let Some(provider) = &principal.provider_id
        {
            return Ok(ListScope::Provider(provider.as_str().to_owned()));
        }
        if principal.has(Role::Citizen) || principal.has(Role::Employee) {
            return Ok(ListScope::Booker(me));
        }
        if principal.has(Role::Operator) {
            return Ok(ListScope::All);
        }
        Err(ServiceError::PermissionDenied {
            reason: "ROLE_REQUIRED",
        })
    }

    /// The caller's bookings, by id after `after`.
    pub async fn list(
        &self,
        principal: &Principal,
        mut filter: BookingFilter,
        after: &str,
        limit: i64,
    ) -> Result<Vec<BookingRecord>, ServiceError> {
        match Bookings::list_scope(principal)? {
            ListScope::Provider(provider) => filter.provider_id = Some(provider),
            ListScope::Booker(booker) => filter.booker_id = Some(booker),
            ListScope::All => {}
        }
        Ok(self.store.bookings(&filter, after, limit).await?)
    }

    /// Confirm, reject, cancel, complete or mark a no-show, as the caller.
    pub async fn act(
        &self,
        principal: &Principal,
        action: BookingAction,
        step: Step,
    ) -> Result<BookingRecord, ServiceError> {
        let (record, request, actor) = match self
            .prepare(principal, &step, policy_action(action), action.code())
            .await?
        {
            Prepared::Replayed(answer) => return Ok(answer),
            Prepared::Fresh(record, request, actor) => (record, request, actor),
        };
        let now = self.now();
        match self
            .apply(
                record,
                action,
                actor,
                step.reason,
                Some(request.clone()),
                now,
            )
            .await
        {
            Err(ServiceError::AlreadyExists { .. }) => self
                .replayed(&request)
                .await?
                .ok_or_else(|| StoreError::Duplicate.into()),
            other => other,
        }
    }

    /// What every transition does first: the booking the caller may see, `action` authorised
    /// on it, the request id's earlier answer (the request is recorded as `code`), the etag,
    /// and who the caller is to the booking.
    async fn prepare(
        &self,
        principal: &Principal,
        step: &Step,
        action: Action,
        code: &str,
    ) -> Result<Prepared, ServiceError> {
        let record = self.visible(&step.id).await?;
        let (booker, provider_id) = parties(&record)?;
        authorize(
            principal,
            action,
            Resource::Booking {
                booker: &booker,
                provider_id: &provider_id,
            },
        )
        .map_err(|e| denied(e, "booking", &step.id))?;
        let request = RequestRecord {
            caller: subject(principal)?,
            request_id: step.request_id.clone(),
            booking_id: record.id.clone(),
            action: code.to_owned(),
        };
        if let Some(answer) = self.replayed(&request).await? {
            return Ok(Prepared::Replayed(answer));
        }
        check_etag(step.etag, &record)?;
        let actor = booking_actor(principal, &booker, &provider_id)
            .ok_or_else(|| not_found("booking", &step.id))?;
        Ok(Prepared::Fresh(record, request, actor))
    }

    /// The answer to a transition's request id used before: the booking as it is now when it
    /// was used for the same booking and action, a refusal when for another.
    async fn replayed(
        &self,
        request: &RequestRecord,
    ) -> Result<Option<BookingRecord>, ServiceError> {
        match self
            .store
            .request(&request.caller, &request.request_id)
            .await?
        {
            None => Ok(None),
            Some(done)
                if done.booking_id == request.booking_id && done.action == request.action =>
            {
                Ok(Some(self.visible(&done.booking_id).await?))
            }
            Some(_) => Err(StoreError::Duplicate.into()),
        }
    }

    /// Decides and stores one transition, then settles what it owes the wallet (a wallet that
    /// does not answer leaves the step to recovery; the transition stands).
    pub(super) async fn apply(
        &self,
        record: BookingRecord,
        action: BookingAction,
        actor: BookingActor,
        reason: String,
        request: Option<RequestRecord>,
        now: Timestamp,
    ) -> Result<BookingRecord, ServiceError> {
        let status = record
            .status()
            .ok_or_else(|| not_found("booking", &record.id))?;
        let transition =
            decide(&facts(&record, status), action, actor, &record.policy, now).map_err(refused)?;
        let mut next = record.next_version(now);
        next.stage = Stage::Live(transition.to);
        next.fee = transition.fee;
        next.state_reason = reason;
        next.settlement = match (transition.hold, &record.hold_id) {
            (_, None) | (HoldEffect::Keep, _) => None,
            (HoldEffect::Void, Some(_)) => Some(Settlement::Release),
            (HoldEffect::Capture { amount }, Some(_)) => Some(Settlement::Capture(amount)),
        };
        let seats = if transition.releases_capacity {
            record.seats_back()
        } else {
            Seats::Keep
        };
        self.store
            .save(Change {
                booking: &next,
                read_version: record.version,
                seats,
                request,
                event: Some(event_kind(action)),
            })
            .await?;
        if next.settlement.is_some() {
            self.checkpoint(Point::AfterTransition)?;
            if let Err(error) = self.settle(&next).await {
                tracing::warn!(booking = %next.id, %error, "wallet step left to recovery");
            }
        }
        Ok(next)
    }

    /// Moves a booking to another slot of its listing: the new seats are taken and the old
    /// ones given back in one transaction, or nothing changes.
    pub async fn reschedule(
        &self,
        principal: &Principal,
        step: Step,
        slot_id: String,
    ) -> Result<BookingRecord, ServiceError> {
        // Moving a booking is the booker's right over it, like cancelling it.
        let action = format!("reschedule:{slot_id}");
        let (record, request, actor) = match self
            .prepare(principal, &step, Action::CancelBooking, &action)
            .await?
        {
            Prepared::Replayed(answer) => return Ok(answer),
            Prepared::Fresh(record, request, actor) => (record, request, actor),
        };
        let Some(from) = record.slot_id.clone() else {
            return Err(ServiceError::FailedPrecondition {
                reason: "NOT_SLOT_BOOKED",
                message: "only a booking of a slot can move to another slot".to_owned(),
                violations: Vec::new(),
            });
        };
        let target = self
            .store
            .slot(&slot_id)
            .await?
            .filter(|slot| slot.listing_id == record.listing_id)
            .ok_or_else(|| not_found("slot", &slot_id))?;
        if target.id == from {
            return Err(ServiceError::invalid(
                "slot_id",
                "is the slot the booking already has",
            ));
        }
        if target.cancel_reason.is_some() {
            return Err(StoreError::SlotUnavailable(slot_id).into());
        }
        let now = self.now();
        let status = record
            .status()
            .ok_or_else(|| not_found("booking", &record.id))?;
        decide_reschedule(
            &facts(&record, status),
            actor,
            &record.policy,
            now,
            target.starts_at,
        )
        .map_err(refused)?;
        let current = Deadlines {
            hold_expires_at: record.hold_expires_at,
            free_until: record.policy.free_until(record.starts_at),
            wallet_hold_expires_at: record.wallet_hold_expires_at,
            auto_complete_at: record.auto_complete_at,
        };
        let moved = current
            .moved_to(target.starts_at, &record.policy)
            .ok_or_else(|| ServiceError::FailedPrecondition {
                reason: "BEYOND_WALLET_HOLD",
                message: "the new slot is later than the credit held for this booking allows: \
                          cancel and book again"
                    .to_owned(),
                violations: Vec::new(),
            })?;
        let mut next = record.next_version(now);
        next.slot_id = Some(target.id.clone());
        next.starts_at = target.starts_at;
        next.hold_expires_at = moved.hold_expires_at;
        next.auto_complete_at = moved.auto_complete_at;
        let change = Change {
            booking: &next,
            read_version: record.version,
            seats: Seats::Move {
                from,
                to: target.id,
                quantity: record.quantity,
            },
            request: Some(request.clone()),
            event: Some("rescheduled"),
        };
        match self.store.save(change).await {
            Ok(()) => Ok(next),
            Err(StoreError::Duplicate) => self
                .replayed(&request)
                .await?
                .ok_or_else(|| StoreError::Duplicate.into()),
            Err(error) => Err(error.into()),
        }
    }

    /// Opens slots on one of the caller's provider's listings.
    pub async fn create_slots(
        &self,
        principal: &Principal,
        bearer: Option<&str>,
        listing_id: &str,
        specs: &[SlotSpec],
        request_id: &str,
    ) -> Result<Vec<SlotRecord>, ServiceError> {
        let listing = self
            .catalogue
            .listing(Caller { principal, bearer }, listing_id)
            .await
            .map_err(|e| super::upstream("catalogue", e))?
            .ok_or_else(|| not_found("listing", listing_id))?;
        let provider = ProviderId::parse(&listing.provider_id)
            .map_err(|_| not_found("listing", listing_id))?;
        authorize(
            principal,
            Action::ManageSlots,
            Resource::Provider {
                id: &provider,
                approved: true,
            },
        )
        .map_err(|e| denied(e, "listing", listing_id))?;
        let caller = subject(principal)?;
        let spans: Vec<String> = specs
            .iter()
            .map(|s| {
                format!(
                    "{}-{}-{}",
                    s.starts_at.unix_seconds(),
                    s.ends_at.unix_seconds(),
                    s.capacity
                )
            })
            .collect();
        let mut parts: Vec<&str> = vec![listing_id];
        parts.extend(spans.iter().map(String::as_str));
        let new = NewSlots {
            caller: &caller,
            request_id,
            fingerprint: &super::create::fingerprint_of(&parts),
            listing_id,
            provider_id: &listing.provider_id,
            mode: listing.content.booking_mode,
            specs,
            ids: specs.iter().map(|_| new_uuid()).collect(),
        };
        Ok(self.store.create_slots(&new, self.now()).await?)
    }

    /// The provider cancels a slot: no one books it any more, and each of its HELD and
    /// CONFIRMED bookings is cancelled by the provider (free for the booker, credit released),
    /// with the reason the people read.
    pub async fn cancel_slot(
        &self,
        principal: &Principal,
        slot_id: &str,
        reason: &str,
    ) -> Result<SlotRecord, ServiceError> {
        let slot = self
            .store
            .slot(slot_id)
            .await?
            .ok_or_else(|| not_found("slot", slot_id))?;
        let provider =
            ProviderId::parse(&slot.provider_id).map_err(|_| not_found("slot", slot_id))?;
        authorize(
            principal,
            Action::ManageSlots,
            Resource::Provider {
                id: &provider,
                approved: true,
            },
        )
        .map_err(|e| denied(e, "slot", slot_id))?;
        if slot.cancel_reason.is_none() && slot.starts_at <= self.now() {
            return Err(ServiceError::FailedPrecondition {
                reason: "ALREADY_STARTED",
                message: format!("slot {slot_id} has started: close its bookings one by one"),
                violations: Vec::new(),
            });
        }
        let cancelled = self.store.cancel_slot(slot_id, reason).await?;
        self.cancel_bookings_of(&cancelled).await?;
        Ok(self.store.slot(slot_id).await?.unwrap_or(cancelled))
    }

    /// Cancels, as the provider, the live bookings of a cancelled slot.
    pub(super) async fn cancel_bookings_of(
        &self,
        slot: &SlotRecord,
    ) -> Result<usize, ServiceError> {
        let reason = format!(
            "Il fornitore ha annullato l'appuntamento: {}",
            slot.cancel_reason.as_deref().unwrap_or_default()
        );
        let mut cancelled = 0;
        for status in [BookingStatus::Held, BookingStatus::Confirmed] {
            let filter = BookingFilter {
                slot_id: Some(slot.id.clone()),
                status: Some(status),
                ..BookingFilter::default()
            };
            loop {
                let batch = self.store.bookings(&filter, "", 200).await?;
                let before = cancelled;
                if batch.is_empty() {
                    break;
                }
                for record in batch {
                    let now = self.now();
                    let cancel = BookingAction::Cancel;
                    match self
                        .apply(
                            record,
                            cancel,
                            BookingActor::Provider,
                            reason.clone(),
                            None,
                            now,
                        )
                        .await
                    {
                        Ok(_) => cancelled += 1,
                        // Changed meanwhile: read again on the next round.
                        Err(ServiceError::Aborted { .. }) => {}
                        Err(error) => return Err(error),
                    }
                }
                if cancelled == before {
                    // Only bookings changed meanwhile are left: recovery finishes them.
                    break;
                }
            }
        }
        Ok(cancelled)
    }

    /// A listing's slots in a window, with free seats as committed at the moment of the read.
    pub async fn availability(
        &self,
        caller: Caller<'_>,
        listing_id: &str,
        window: (Timestamp, Timestamp),
        available_only: bool,
        after: Option<(i64, String)>,
        limit: i64,
    ) -> Result<SlotPage, ServiceError> {
        self.catalogue
            .listing(caller, listing_id)
            .await
            .map_err(|e| super::upstream("catalogue", e))?
            .ok_or_else(|| not_found("listing", listing_id))?;
        Ok(self
            .store
            .slots(listing_id, window.0, window.1, available_only, after, limit)
            .await?)
    }
}

fn check_etag(expected: Option<i64>, record: &BookingRecord) -> Result<(), ServiceError> {
    match expected {
        Some(version) if version != record.version => Err(ServiceError::Aborted {
            reason: "ETAG_MISMATCH",
            message: format!(
                "booking {} changed since it was read: read it again",
                record.id
            ),
        }),
        _ => Ok(()),
    }
}
