//! CreateBooking: read the listing, decide with `welfare-core`, reserve the seats, hold the
//! credit, answer HELD — each step written down before the next.

use welfare_core::Money;
use welfare_core::assess::assess;
use welfare_core::auth::{Action, Principal, Resource, authorize};
use welfare_core::availability::{Deadlines, check_booking_target};
use welfare_core::booking::BookingStatus;
use welfare_core::category::Subcategory;
use welfare_core::eligibility::{Decision, Profile};
use welfare_core::ids::PersonId;
use welfare_core::time::Timestamp;
use welfare_runtime::ServiceError;
use welfare_runtime::error::PreconditionViolation;
use welfare_runtime::uuid::new_uuid;

use super::{Bookings, Point, denied, not_found, upstream};
use crate::store::{BookingRecord, Change, Seats, Settlement, Stage, StoreError};
use crate::upstream::{Caller, HoldRequest, ListingView, UpstreamError};

/// The longest description on a wallet statement.
pub const MAX_DESCRIPTION_CHARS: usize = 200;

/// A booking as the booker asks for it, parsed at the edge.
#[derive(Debug, Clone, PartialEq)]
pub struct NewBooking {
    pub listing_id: String,
    pub slot_id: Option<String>,
    pub quantity: u32,
    /// The facts the listing's rules need; used for the decision and never stored.
    pub profile: Profile,
    pub wallet_id: Option<String>,
    pub request_id: String,
    /// For request-and-confirm listings.
    pub start: Option<Timestamp>,
}

impl NewBooking {
    /// The request's fields as one value, so a retry that changes one is told apart. The
    /// profile enters only as a hash: its facts are sensitive and are not kept.
    pub fn fingerprint(&self) -> String {
        let profile = serde_json::to_string(&self.profile).unwrap_or_default();
        fingerprint_of(&[
            &self.listing_id,
            self.slot_id.as_deref().unwrap_or(""),
            &self.quantity.to_string(),
            self.wallet_id.as_deref().unwrap_or(""),
            &self.start.map_or(0, Timestamp::unix_seconds).to_string(),
            &profile,
        ])
    }
}

/// A request's fields as a short stable value.
pub(super) fn fingerprint_of(parts: &[&str]) -> String {
    format!("{:016x}", welfare_runtime::edge::fingerprint(parts))
}

/// The wallet request id of a booking's hold: derived from the booking alone.
pub fn hold_request_id(booking_id: &str) -> String {
    format!("booking:{booking_id}:hold")
}

impl Bookings {
    /// Books for the caller. A retry with the same request id answers the same booking (and
    /// finishes its saga if it is still running); the same id with other fields is refused.
    pub async fn create(
        &self,
        principal: &Principal,
        bearer: Option<&str>,
        new: NewBooking,
    ) -> Result<BookingRecord, ServiceError> {
        let booker = principal
            .subject
            .clone()
            .ok_or_else(|| denied(welfare_core::auth::Denied::Unauthenticated, "booking", ""))?;
        authorize(
            principal,
            Action::CreateBooking,
            Resource::NewBooking { booker: &booker },
        )
        .map_err(|e| denied(e, "booking", ""))?;
        let fingerprint = new.fingerprint();
        if let Some(earlier) = self
            .store
            .booking_by_request(booker.as_str(), &new.request_id)
            .await?
        {
            return self.replay(earlier, &fingerprint).await;
        }
        let now = self.now();
        let listing = self
            .catalogue
            .listing(Caller { principal, bearer }, &new.listing_id)
            .await
            .map_err(|e| upstream("catalogue", e))?
            .ok_or_else(|| not_found("listing", &new.listing_id))?;
        if !listing.bookable {
            return Err(ServiceError::FailedPrecondition {
                reason: "LISTING_NOT_BOOKABLE",
                message: format!(
                    "listing {} is not published, or not verified recently enough, to be booked",
                    listing.id
                ),
                violations: Vec::new(),
            });
        }
        check_booking_target(
            &listing.content.booking_mode,
            new.slot_id.is_some(),
            new.start,
            now,
        )?;
        let starts_at = match &new.slot_id {
            Some(slot_id) => self.slot_start(&listing, slot_id, now).await?,
            None => new.start.unwrap_or(now),
        };
        let record = self
            .decide(
                &listing,
                &booker,
                Caller { principal, bearer },
                &new,
                starts_at,
                now,
            )
            .await?
            .with_identity(new_uuid(), new.request_id.clone(), fingerprint);
        let event = (record.settlement.is_none()).then_some("created");
        match self.store.insert(&record, event).await {
            Ok(()) => {}
            Err(StoreError::Duplicate) => {
                // The same request raced itself: answer what the first one made.
                let earlier = self
                    .store
                    .booking_by_request(booker.as_str(), &new.request_id)
                    .await?
                    .ok_or(StoreError::Duplicate)?;
                return self.replay(earlier, &record.fingerprint).await;
            }
            Err(error) => return Err(error.into()),
        }
        if record.settlement.is_none() {
            return Ok(record);
        }
        self.checkpoint(Point::AfterReserve)?;
        self.place_hold(record).await
    }

    /// The answer to a retried request id.
    async fn replay(
        &self,
        earlier: BookingRecord,
        fingerprint: &str,
    ) -> Result<BookingRecord, ServiceError> {
        if earlier.fingerprint != fingerprint {
            return Err(StoreError::Duplicate.into());
        }
        match earlier.stage {
            Stage::Live(_) => Ok(earlier),
            Stage::Pending => self.place_hold(earlier).await,
            Stage::Aborted => Err(aborted_answer(&earlier)),
        }
    }

    /// The start of the slot booked, which must be one of this listing's and not started.
    async fn slot_start(
        &self,
        listing: &ListingView,
        slot_id: &str,
        now: Timestamp,
    ) -> Result<Timestamp, ServiceError> {
        // Its cancellation and its free seats are checked when the seats are taken.
        let slot = self
            .store
            .slot_facts(slot_id)
            .await?
            .filter(|slot| slot.listing_id == listing.id)
            .ok_or_else(|| not_found("slot", slot_id))?;
        if slot.starts_at <= now {
            return Err(ServiceError::FailedPrecondition {
                reason: "SLOT_UNAVAILABLE",
                message: format!("slot {slot_id} has started"),
                violations: Vec::new(),
            });
        }
        Ok(slot.starts_at)
    }

    /// Eligibility, the quote and the wallet's part, decided by `welfare-core` on the profile
    /// given: the booking as it will be stored, before its identity.
    async fn decide(
        &self,
        listing: &ListingView,
        booker: &PersonId,
        caller: Caller<'_>,
        new: &NewBooking,
        starts_at: Timestamp,
        now: Timestamp,
    ) -> Result<Draft, ServiceError> {
        let content = &listing.content;
        let wallet_available = match &new.wallet_id {
            None => Money::ZERO,
            Some(wallet_id) => {
                let wallet = self
                    .wallet
                    .wallet(caller, wallet_id)
                    .await
                    .map_err(|e| upstream("wallet", e))?
                    .filter(|w| w.employee_id == booker.as_str())
                    .ok_or_else(|| not_found("wallet", wallet_id))?;
                if !wallet.allowed_categories.contains(&content.category) {
                    return Err(ServiceError::FailedPrecondition {
                        reason: "CATEGORY_NOT_COVERED",
                        message: format!(
                            "wallet {wallet_id}'s plan does not pay for {}",
                            content.category.label_it()
                        ),
                        violations: Vec::new(),
                    });
                }
                wallet.available
            }
        };
        let assessment = assess(
            &content.eligibility,
            &content.pricing,
            &new.profile,
            new.quantity,
            &self.territory,
            wallet_available,
        );
        match assessment.decision {
            Decision::Eligible => {}
            Decision::NotEligible { reasons } => {
                crate::metrics::refused(&reasons);
                return Err(ServiceError::FailedPrecondition {
                    reason: "NOT_ELIGIBLE",
                    message: "the profile does not meet the listing's rules".to_owned(),
                    violations: reasons
                        .iter()
                        .map(|r| PreconditionViolation {
                            kind: "ELIGIBILITY".to_owned(),
                            subject: r.code().to_owned(),
                            description: r.message_it(),
                        })
                        .collect(),
                });
            }
            Decision::Unknown { missing } => {
                return Err(ServiceError::FailedPrecondition {
                    reason: "ELIGIBILITY_UNKNOWN",
                    message: "the profile lacks facts the listing's rules need".to_owned(),
                    violations: missing
                        .iter()
                        .map(|f| PreconditionViolation {
                            kind: "MISSING_FACT".to_owned(),
                            subject: f.code().to_owned(),
                            description: f.question_it().to_owned(),
                        })
                        .collect(),
                });
            }
        }
        let quote = assessment
            .quote
            .map_err(|e| ServiceError::invalid("quantity", e))?;
        if starts_at <= now {
            return Err(ServiceError::FailedPrecondition {
                reason: "ALREADY_STARTED",
                message: "the service has already started".to_owned(),
                violations: Vec::new(),
            });
        }
        let deadlines = Deadlines::new(now, starts_at, &content.cancellation_policy);
        let tax_letter = Subcategory::find_in(content.category, &content.subcategory)
            .map_or(content.category.default_tax_letter(), |s| s.tax_letter);
        let wallet_part = quote.wallet_coverage;
        let (stage, settlement) = if wallet_part.is_positive() {
            (Stage::Pending, Some(Settlement::Hold))
        } else {
            (Stage::Live(BookingStatus::Held), None)
        };
        Ok(Draft(BookingRecord {
            id: String::new(),
            listing_id: listing.id.clone(),
            slot_id: new.slot_id.clone(),
            provider_id: listing.provider_id.clone(),
            booker_id: booker.as_str().to_owned(),
            quantity: new.quantity,
            stage,
            state_reason: String::new(),
            total: quote.total,
            wallet_part,
            wallet_id: new.wallet_id.clone().filter(|_| wallet_part.is_positive()),
            hold_id: None,
            category: content.category,
            tax_letter,
            description: content.title.chars().take(MAX_DESCRIPTION_CHARS).collect(),
            policy: content.cancellation_policy,
            starts_at,
            hold_expires_at: deadlines.hold_expires_at,
            wallet_hold_expires_at: deadlines.wallet_hold_expires_at,
            auto_complete_at: deadlines.auto_complete_at,
            fee: Money::ZERO,
            settlement,
            settle_error: None,
            request_id: String::new(),
            fingerprint: String::new(),
            version: 1,
            created_at: now,
            updated_at: now,
            quote,
        }))
    }

    /// Step 2 and 3: hold the credit, then make the booking HELD; or abort it.
    pub(super) async fn place_hold(
        &self,
        record: BookingRecord,
    ) -> Result<BookingRecord, ServiceError> {
        let request = hold_request(&record)?;
        match self.wallet.hold(&request).await {
            Ok(hold) => {
                self.checkpoint(Point::AfterHold)?;
                self.held(record, hold.id).await
            }
            Err(UpstreamError::Refused {
                reason, message, ..
            }) => {
                let answer = upstream(
                    "wallet",
                    UpstreamError::Refused {
                        code: tonic::Code::FailedPrecondition,
                        reason,
                        message,
                    },
                );
                // A refusal placed nothing: the seats go back and nothing is owed.
                self.abort(record, None, &answer).await?;
                Err(answer)
            }
            Err(unknown) => {
                let answer = upstream("wallet", unknown);
                // The hold may or may not exist: the seats go back now, and recovery releases
                // whatever the wallet holds for this booking.
                self.abort(record, Some(Settlement::Abort), &answer).await?;
                Err(answer)
            }
        }
    }

    /// The pending booking becomes HELD with its hold; when something else (recovery, a
    /// retry) moved it first, what it became is the answer.
    pub(super) async fn held(
        &self,
        record: BookingRecord,
        hold_id: String,
    ) -> Result<BookingRecord, ServiceError> {
        let mut next = record.next_version(self.now());
        next.stage = Stage::Live(BookingStatus::Held);
        next.hold_id = Some(hold_id);
        next.settlement = None;
        let change = Change {
            booking: &next,
            read_version: record.version,
            seats: Seats::Keep,
            request: None,
            event: Some("created"),
        };
        match self.store.save(change).await {
            Ok(()) => Ok(next),
            Err(StoreError::Conflict) => {
                let now = self
                    .store
                    .booking(&record.id)
                    .await?
                    .ok_or_else(|| not_found("booking", &record.id))?;
                match now.stage {
                    Stage::Aborted => Err(aborted_answer(&now)),
                    _ => Ok(now),
                }
            }
            Err(error) => Err(error.into()),
        }
    }

    /// The pending booking gives up: its seats go back, and `owed` is what the wallet still
    /// has to undo. After a refusal the reason is kept, so a retry of the request answers the
    /// same refusal.
    pub(super) async fn abort(
        &self,
        record: BookingRecord,
        owed: Option<Settlement>,
        answer: &ServiceError,
    ) -> Result<(), ServiceError> {
        let mut next = record.next_version(self.now());
        next.stage = Stage::Aborted;
        next.settlement = owed;
        next.state_reason = format!("{}: {}", answer.reason(), answer);
        if owed == Some(Settlement::Abort) {
            // The outcome was unknown, not a refusal: the booker's request id is freed, so
            // retrying it books anew (as a new booking, with a hold of its own).
            next.request_id = format!("aborted:{}", record.id);
        }
        let seats = record.seats_back();
        let change = Change {
            booking: &next,
            read_version: record.version,
            seats,
            request: None,
            event: None,
        };
        match self.store.save(change).await {
            // Recovery got there first: it decided.
            Ok(()) | Err(StoreError::Conflict) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }
}

/// A booking decided but not yet named.
struct Draft(BookingRecord);

impl Draft {
    fn with_identity(self, id: String, request_id: String, fingerprint: String) -> BookingRecord {
        BookingRecord {
            id,
            request_id,
            fingerprint,
            ..self.0
        }
    }
}

/// The hold a booking asks the wallet for.
pub(super) fn hold_request(record: &BookingRecord) -> Result<HoldRequest, ServiceError> {
    let wallet_id = record.wallet_id.clone().ok_or_else(|| {
        ServiceError::Unexpected(format!(
            "booking {} owes a hold but has no wallet",
            record.id
        ))
    })?;
    Ok(HoldRequest {
        wallet_id,
        amount: record.wallet_part,
        category: record.category,
        tax_letter: record.tax_letter,
        description: record.description.clone(),
        booking_id: record.id.clone(),
        provider_id: record.provider_id.clone(),
        expires_at: record.wallet_hold_expires_at,
        request_id: hold_request_id(&record.id),
    })
}

/// What a retry of a request that aborted answers: the refusal it met, by its reason. (Only
/// refusals keep their request id: an abort for an unknown outcome frees it, so its retry books
/// anew.)
fn aborted_answer(record: &BookingRecord) -> ServiceError {
    let reason = record.state_reason.split(':').next().unwrap_or_default();
    ServiceError::FailedPrecondition {
        reason: super::known_reason(reason),
        message: record.state_reason.clone(),
        violations: Vec::new(),
    }
}
