//! Listings: a provider's service, its curation workflow and its freshness.

use serde::{Deserialize, Serialize};

use crate::booking::CancellationPolicy;
use crate::category::{Category, CategoryError, Subcategory};
use crate::eligibility::{EligibilityRules, RulesError};
use crate::ids::{ListingId, ProviderId};
use crate::pricing::Pricing;
use crate::provider::ProviderStatus;
use crate::territory::{GeoPoint, IstatCode, Territory};
use crate::time::{SECONDS_PER_DAY, Timestamp};

pub const TITLE_MIN_CHARS: usize = 3;
pub const TITLE_MAX_CHARS: usize = 120;
pub const DESCRIPTION_MAX_CHARS: usize = 4_000;
pub const ADDRESS_MAX_CHARS: usize = 200;
pub const REASON_MAX_CHARS: usize = 1_000;
/// The most comuni a listing may serve, schedule entries and languages it may list.
pub const MAX_SERVICE_AREA: usize = 200;
pub const MAX_SCHEDULE_ENTRIES: usize = 50;
pub const MAX_LANGUAGES: usize = 20;
/// The most seats one slot or enrolment may offer.
pub const MAX_CAPACITY: u32 = 10_000;

/// How the service reaches the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    AtHome,
    AtVenue,
    Remote,
}

/// Where a service at a venue takes place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Venue {
    pub address: String,
    pub comune: IstatCode,
    pub location: GeoPoint,
}

/// Days of the week, Monday first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Weekday {
    /// Every day, Monday first.
    pub const ALL: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];
}

/// One opening period: a weekday and minutes after midnight, opening before closing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpeningHours {
    pub weekday: Weekday,
    pub opens_minute: u16,
    pub closes_minute: u16,
}

/// How people book the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum BookingMode {
    /// Time slots, each with a number of seats.
    Slots { capacity_per_slot: u32 },
    /// A request the provider confirms or declines.
    RequestAndConfirm,
    /// Enrolment for a period (a school year, a summer camp), with a number of places.
    Enrolment { places: u32 },
}

/// Accessibility features of the service or venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Accessibility {
    WheelchairAccess,
    AccessibleToilet,
    HearingLoop,
    SignLanguage,
    EasyRead,
    AccessibleTransport,
}

impl Accessibility {
    /// Every feature.
    pub const ALL: [Accessibility; 6] = [
        Accessibility::WheelchairAccess,
        Accessibility::AccessibleToilet,
        Accessibility::HearingLoop,
        Accessibility::SignLanguage,
        Accessibility::EasyRead,
        Accessibility::AccessibleTransport,
    ];
}

/// The curation status of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ListingStatus {
    Draft,
    Submitted,
    Published,
    Rejected { reason: String },
    Suspended { reason: String },
    Withdrawn,
}

impl ListingStatus {
    pub const fn code(&self) -> &'static str {
        match self {
            ListingStatus::Draft => "draft",
            ListingStatus::Submitted => "submitted",
            ListingStatus::Published => "published",
            ListingStatus::Rejected { .. } => "rejected",
            ListingStatus::Suspended { .. } => "suspended",
            ListingStatus::Withdrawn => "withdrawn",
        }
    }

    /// No transition leaves a terminal status.
    pub const fn is_terminal(&self) -> bool {
        matches!(self, ListingStatus::Withdrawn)
    }

    /// Whether the provider may still change the listing's content.
    pub const fn is_editable(&self) -> bool {
        matches!(self, ListingStatus::Draft | ListingStatus::Rejected { .. })
    }
}

/// A step of the curation workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum CurationAction {
    /// The provider sends a draft (or a reworked rejected listing) for review.
    Submit,
    /// The curator publishes a submitted listing, or reinstates a suspended one.
    Approve,
    /// The curator sends a submitted listing back, saying why.
    Reject { reason: String },
    /// The curator takes a published listing out of the catalogue, saying why.
    Suspend { reason: String },
    /// The provider (or the curator) retires the listing for good.
    Withdraw,
    /// The curator confirms a published listing is still right: renews `verified_at`.
    Verify,
}

impl CurationAction {
    pub const fn code(&self) -> &'static str {
        match self {
            CurationAction::Submit => "submit",
            CurationAction::Approve => "approve",
            CurationAction::Reject { .. } => "reject",
            CurationAction::Suspend { .. } => "suspend",
            CurationAction::Withdraw => "withdraw",
            CurationAction::Verify => "verify",
        }
    }
}

/// Why a curation step was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CurationError {
    #[error("cannot {action} a listing that is {from}")]
    InvalidTransition {
        from: &'static str,
        action: &'static str,
    },
    #[error("reason: must be 1 to {REASON_MAX_CHARS} characters")]
    Reason,
}

/// The result of a curation step: the new status and the new `verified_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurationOutcome {
    pub status: ListingStatus,
    pub verified_at: Option<Timestamp>,
}

/// Applies a curation step at `now`:
/// `draft → submitted → published | rejected(reason)`; `rejected → submitted` after rework;
/// `published → suspended(reason) → published`; any non-terminal status `→ withdrawn`;
/// `verify` renews a published listing's `verified_at`. Approval also verifies.
pub fn curate(
    status: &ListingStatus,
    verified_at: Option<Timestamp>,
    action: &CurationAction,
    now: Timestamp,
) -> Result<CurationOutcome, CurationError> {
    use CurationAction as A;
    use ListingStatus as S;
    let check_reason = |reason: &str| {
        let chars = reason.trim().chars().count();
        if (1..=REASON_MAX_CHARS).contains(&chars) {
            Ok(reason.trim().to_owned())
        } else {
            Err(CurationError::Reason)
        }
    };
    let next = match (status, action) {
        (S::Draft | S::Rejected { .. }, A::Submit) => (S::Submitted, verified_at),
        (S::Submitted | S::Suspended { .. }, A::Approve) => (S::Published, Some(now)),
        (S::Submitted, A::Reject { reason }) => (
            S::Rejected {
                reason: check_reason(reason)?,
            },
            verified_at,
        ),
        (S::Published, A::Suspend { reason }) => (
            S::Suspended {
                reason: check_reason(reason)?,
            },
            verified_at,
        ),
        (S::Published, A::Verify) => (S::Published, Some(now)),
        (from, A::Withdraw) if !from.is_terminal() => (S::Withdrawn, verified_at),
        (from, action) => {
            return Err(CurationError::InvalidTransition {
                from: from.code(),
                action: action.code(),
            });
        }
    };
    Ok(CurationOutcome {
        status: next.0,
        verified_at: next.1,
    })
}

/// Whether a listing verified at `verified_at` is stale at `now` under the territory's window.
/// A listing never verified is stale.
pub fn is_stale(verified_at: Option<Timestamp>, now: Timestamp, territory: &Territory) -> bool {
    match verified_at {
        None => true,
        Some(verified_at) => {
            let window = i64::from(territory.freshness_window_days()) * SECONDS_PER_DAY;
            now.seconds_since(verified_at) > window
        }
    }
}

/// The content of a listing a provider writes, checked by [`ListingContent::validate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListingContent {
    pub title: String,
    pub description: String,
    pub category: Category,
    pub subcategory: String,
    pub delivery: Vec<Delivery>,
    /// Comuni where the service is offered; empty means the whole territory.
    pub service_area: Vec<IstatCode>,
    pub venue: Option<Venue>,
    pub schedule: Vec<OpeningHours>,
    pub booking_mode: BookingMode,
    pub eligibility: EligibilityRules,
    pub pricing: Pricing,
    /// When a booking can be cancelled for free, and the late fee after that.
    #[serde(default)]
    pub cancellation_policy: CancellationPolicy,
    /// ISO 639-1 codes of the languages the service is offered in.
    pub languages: Vec<String>,
    pub accessibility: Vec<Accessibility>,
}

/// A field of a listing that failed validation, named as the contract names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct FieldViolation {
    pub field: String,
    pub problem: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, problem: impl ToString) -> FieldViolation {
        FieldViolation {
            field: field.into(),
            problem: problem.to_string(),
        }
    }
}

fn text_length(field: &str, text: &str, min: usize, max: usize, out: &mut Vec<FieldViolation>) {
    let chars = text.trim().chars().count();
    if chars < min || chars > max {
        out.push(FieldViolation::new(
            field,
            format!("must be {min} to {max} characters, got {chars}"),
        ));
    } else if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        out.push(FieldViolation::new(
            field,
            "must not contain control characters",
        ));
    }
}

impl ListingContent {
    /// Checks every field against the territory; returns every violation, not only the first.
    pub fn validate(&self, territory: &Territory) -> Result<(), Vec<FieldViolation>> {
        let mut out = Vec::new();
        text_length(
            "title",
            &self.title,
            TITLE_MIN_CHARS,
            TITLE_MAX_CHARS,
            &mut out,
        );
        text_length(
            "description",
            &self.description,
            0,
            DESCRIPTION_MAX_CHARS,
            &mut out,
        );
        if let Err(error) = Subcategory::find_in(self.category, &self.subcategory) {
            let problem = match error {
                CategoryError::WrongCategory { .. } => error.to_string(),
                _ => format!("unknown subcategory {:?}", self.subcategory),
            };
            out.push(FieldViolation::new("subcategory", problem));
        }
        if self.delivery.is_empty() {
            out.push(FieldViolation::new(
                "delivery",
                "at least one delivery mode is required",
            ));
        }
        if has_duplicates(&self.delivery) {
            out.push(FieldViolation::new("delivery", "lists a mode twice"));
        }
        if self.service_area.len() > MAX_SERVICE_AREA {
            out.push(FieldViolation::new(
                "service_area",
                format!("more than {MAX_SERVICE_AREA} comuni"),
            ));
        }
        for (index, code) in self.service_area.iter().enumerate() {
            if !territory.contains(code) {
                out.push(FieldViolation::new(
                    format!("service_area[{index}]"),
                    format!("comune {code} is not in the {}", territory.name()),
                ));
            }
        }
        match &self.venue {
            Some(venue) => {
                text_length(
                    "venue.address",
                    &venue.address,
                    3,
                    ADDRESS_MAX_CHARS,
                    &mut out,
                );
                if !territory.contains(&venue.comune) {
                    out.push(FieldViolation::new(
                        "venue.comune",
                        format!("comune {} is not in the {}", venue.comune, territory.name()),
                    ));
                }
            }
            None if self.delivery.contains(&Delivery::AtVenue) => {
                out.push(FieldViolation::new(
                    "venue",
                    "required for services at a venue",
                ));
            }
            None => {}
        }
        if self.schedule.len() > MAX_SCHEDULE_ENTRIES {
            out.push(FieldViolation::new(
                "schedule",
                format!("more than {MAX_SCHEDULE_ENTRIES} entries"),
            ));
        }
        for (index, hours) in self.schedule.iter().enumerate() {
            if hours.opens_minute >= hours.closes_minute || hours.closes_minute > 24 * 60 {
                out.push(FieldViolation::new(
                    format!("schedule[{index}]"),
                    "must open before it closes, within the day",
                ));
            }
        }
        let capacity = match self.booking_mode {
            BookingMode::Slots { capacity_per_slot } => Some(capacity_per_slot),
            BookingMode::Enrolment { places } => Some(places),
            BookingMode::RequestAndConfirm => None,
        };
        if capacity.is_some_and(|c| c == 0 || c > MAX_CAPACITY) {
            out.push(FieldViolation::new(
                "booking_mode",
                format!("capacity must be 1 to {MAX_CAPACITY}"),
            ));
        }
        if let Err(error) = self.eligibility.check_territory(territory) {
            let field = match &error {
                RulesError::ComuneOutsideTerritory { index, .. } => format!("eligibility[{index}]"),
                _ => "eligibility".to_owned(),
            };
            out.push(FieldViolation::new(field, error));
        }
        if self.languages.len() > MAX_LANGUAGES {
            out.push(FieldViolation::new(
                "languages",
                format!("more than {MAX_LANGUAGES}"),
            ));
        }
        for (index, language) in self.languages.iter().enumerate() {
            if language.len() != 2 || !language.bytes().all(|b| b.is_ascii_lowercase()) {
                out.push(FieldViolation::new(
                    format!("languages[{index}]"),
                    "must be a two-letter ISO 639-1 code such as \"it\"",
                ));
            }
        }
        if has_duplicates(&self.accessibility) {
            out.push(FieldViolation::new(
                "accessibility",
                "lists a feature twice",
            ));
        }
        if out.is_empty() { Ok(()) } else { Err(out) }
    }

    /// Whether the service is offered to residents of `comune`.
    pub fn serves(&self, comune: &IstatCode, territory: &Territory) -> bool {
        if self.service_area.is_empty() {
            territory.contains(comune)
        } else {
            self.service_area.contains(comune)
        }
    }
}

fn has_duplicates<T: PartialEq>(items: &[T]) -> bool {
    items
        .iter()
        .enumerate()
        .any(|(i, a)| items.iter().skip(i + 1).any(|b| a == b))
}

/// A listing with its identity, status and verification time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Listing {
    pub id: ListingId,
    pub provider_id: ProviderId,
    pub content: ListingContent,
    pub status: ListingStatus,
    pub verified_at: Option<Timestamp>,
}

impl Listing {
    /// Whether citizens see it: published, fresh, and from an approved provider.
    pub fn is_public(
        &self,
        provider_status: ProviderStatus,
        now: Timestamp,
        territory: &Territory,
    ) -> bool {
        self.status == ListingStatus::Published
            && provider_status == ProviderStatus::Approved
            && !is_stale(self.verified_at, now, territory)
    }

    /// Applies a curation step to this listing.
    pub fn curate(&mut self, action: &CurationAction, now: Timestamp) -> Result<(), CurationError> {
        let outcome = curate(&self.status, self.verified_at, action, now)?;
        self.status = outcome.status;
        self.verified_at = outcome.verified_at;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(days: i64) -> Timestamp {
        Timestamp::from_unix_seconds(1_750_000_000 + days * SECONDS_PER_DAY)
    }

    #[test]
    fn a_listing_goes_from_draft_to_published() {
        let submitted =
            curate(&ListingStatus::Draft, None, &CurationAction::Submit, at(0)).expect("submit");
        assert_eq!(submitted.status, ListingStatus::Submitted);
        let published =
            curate(&submitted.status, None, &CurationAction::Approve, at(1)).expect("approve");
        assert_eq!(
            published,
            CurationOutcome {
                status: ListingStatus::Published,
                verified_at: Some(at(1))
            }
        );
        let verified = curate(
            &published.status,
            published.verified_at,
            &CurationAction::Verify,
            at(9),
        )
        .expect("verify");
        assert_eq!(verified.verified_at, Some(at(9)));
    }

    #[test]
    fn rejection_and_suspension_need_a_reason() {
        let reject = CurationAction::Reject {
            reason: "  ".to_owned(),
        };
        assert_eq!(
            curate(&ListingStatus::Submitted, None, &reject, at(0)),
            Err(CurationError::Reason)
        );
        let reject = CurationAction::Reject {
            reason: "Manca il listino prezzi".to_owned(),
        };
        let rejected = curate(&ListingStatus::Submitted, None, &reject, at(0)).expect("reject");
        assert_eq!(
            rejected.status,
            ListingStatus::Rejected {
                reason: "Manca il listino prezzi".to_owned()
            }
        );
        assert!(rejected.status.is_editable());
    }

    #[test]
    fn refuses_steps_out_of_order() {
        assert_eq!(
            curate(&ListingStatus::Draft, None, &CurationAction::Approve, at(0)),
            Err(CurationError::InvalidTransition {
                from: "draft",
                action: "approve"
            })
        );
        assert!(
            curate(
                &ListingStatus::Withdrawn,
                None,
                &CurationAction::Withdraw,
                at(0)
            )
            .is_err()
        );
        assert!(
            curate(
                &ListingStatus::Submitted,
                None,
                &CurationAction::Verify,
                at(0)
            )
            .is_err()
        );
    }

    #[test]
    fn listings_go_stale_after_the_window() {
        let territory = Territory::lodi();
        let window = i64::from(territory.freshness_window_days());
        assert!(!is_stale(Some(at(0)), at(window), &territory));
        assert!(is_stale(Some(at(0)), at(window + 1), &territory));
        assert!(is_stale(None, at(0), &territory));
    }
}
