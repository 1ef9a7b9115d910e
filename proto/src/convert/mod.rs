//! Conversions between the wire types and `welfare-core`, done once at the edge of each
//! service. Every failed conversion is a [`FieldViolation`] naming the offending field by its
//! path in the request (`listing.pricing.isee_bands.bands[1].amount`), so the service can
//! answer `INVALID_ARGUMENT` with a `BadRequest` detail. No input makes a conversion panic.

use welfare_core::booking::{BookingStatus, CancellationPolicy, LateFee};
use welfare_core::category::{Category, Subcategory, TaxLetter};
use welfare_core::eligibility::{Decision, EligibilityRules, Profile, Rule};
use welfare_core::listing::{
    Accessibility, BookingMode, Delivery, ListingContent, ListingStatus, OpeningHours, Venue,
    Weekday,
};
use welfare_core::money::{BasisPoints, Money};
use welfare_core::pricing::{IseeBand, IseeBands, PriceModel, Pricing, Quote, Unit};
use welfare_core::provider::{ProviderKind, ProviderStatus, RuntsNumber};
use welfare_core::territory::{GeoPoint, IstatCode};
use welfare_core::time::{Date, Timestamp};
use welfare_core::wallet::Regime;

use crate::{booking as pb_booking, catalog as pb, common, wallet as pb_wallet};

pub use welfare_core::listing::FieldViolation;

/// The result of a conversion that names the field it failed on.
pub type Converted<T> = Result<T, FieldViolation>;

/// The longest text field the contract accepts anywhere, in bytes, before any finer check.
pub const MAX_TEXT_BYTES: usize = 16 * 1024;
/// The most items a repeated field may carry, before any finer check.
pub const MAX_REPEATED: usize = 10_000;

fn violation(field: &str, problem: impl ToString) -> FieldViolation {
    FieldViolation::new(field, problem)
}

fn required<'a, T>(value: Option<&'a T>, field: &str) -> Converted<&'a T> {
    value.ok_or_else(|| violation(field, "is required"))
}

/// A field path under `parent`: `child(“listing”, “title”)` is `listing.title`.
pub fn child(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    }
}

fn item(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

mod eligibility;
mod enums;
mod listing;
mod scalars;

pub use eligibility::*;
pub use enums::*;
pub use listing::*;
pub use scalars::*;

#[cfg(test)]
mod tests {
    use super::*;
    use welfare_core::territory::Territory;

    fn eur(cents: i64) -> Option<common::Money> {
        Some(common::Money {
            currency_code: "EUR".to_owned(),
            amount_cents: cents,
        })
    }

    fn sample_listing() -> pb::Listing {
        let mut listing = pb::Listing::default();
        let content = ListingContent {
            title: "Assistenza domiciliare anziani".to_owned(),
            description: "Aiuto in casa".to_owned(),
            category: Category::SocioAssistenziale,
            subcategory: "sad".to_owned(),
            delivery: vec![Delivery::AtHome],
            service_area: vec![IstatCode::parse("098031").expect("Lodi")],
            venue: None,
            schedule: vec![OpeningHours {
                weekday: Weekday::Monday,
                opens_minute: 540,
                closes_minute: 720,
            }],
            booking_mode: BookingMode::RequestAndConfirm,
            eligibility: EligibilityRules::new(vec![
                Rule::ResidentInTerritory,
                Rule::FamilyMemberAged { min_years: 75 },
            ])
            .expect("valid"),
            pricing: Pricing::new(
                PriceModel::Fixed {
                    unit: Unit::Hour,
                    amount: Money::from_euros(18).expect("ok"),
                },
                Some(BasisPoints::new(1_000).expect("ok")),
            )
            .expect("valid"),
            cancellation_policy: CancellationPolicy::new(
                24,
                LateFee::Share {
                    share: BasisPoints::new(5_000).expect("ok"),
                },
            )
            .expect("valid"),
            languages: vec!["it".to_owned()],
            accessibility: vec![Accessibility::EasyRead],
        };
        listing_content_to_proto(&content, &mut listing);
        listing
    }

    #[test]
    fn listing_content_round_trips() {
        let wire = sample_listing();
        let content = listing_content(&wire, "listing").expect("valid");
        let mut back = pb::Listing::default();
        listing_content_to_proto(&content, &mut back);
        assert_eq!(back, wire);
        assert!(content.validate(&Territory::lodi()).is_ok());
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut wire = sample_listing();
        wire.title = "x".repeat(500);
        wire.category = 99;
        wire.service_area = vec!["12".to_owned()];
        wire.pricing = Some(pb::Pricing {
            model: Some(pb::pricing::Model::IseeBands(pb::pricing::IseeBands {
                unit: common::Unit::Month.into(),
                bands: vec![
                    pb::IseeBand {
                        isee_up_to: eur(1_000_000),
                        amount: eur(30_000),
                    },
                    pb::IseeBand {
                        isee_up_to: None,
                        amount: eur(20_000),
                    },
                ],
            })),
            resident_discount_basis_points: 0,
        });
        let violations = listing_content(&wire, "listing").expect_err("invalid");
        let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "listing.title",
                "listing.category",
                "listing.service_area[0]",
                "listing.pricing.isee_bands.bands[1]"
            ]
        );
    }

    #[test]
    fn money_must_be_euro() {
        let dollars = common::Money {
            currency_code: "USD".to_owned(),
            amount_cents: 100,
        };
        let error = money(Some(&dollars), "amount").expect_err("refused");
        assert_eq!(error.field, "amount.currency_code");
        assert_eq!(
            money(None, "amount").expect_err("required").problem,
            "is required"
        );
        assert!(positive_money(eur(0).as_ref(), "amount").is_err());
    }

    #[test]
    fn profiles_name_their_bad_facts() {
        let wire = common::Profile {
            children_ages: Some(common::AgeList {
                ages_years: vec![3, 300],
            }),
            ..Default::default()
        };
        let error = profile(Some(&wire), "profile").expect_err("refused");
        assert_eq!(error.field, "profile.children_ages.ages_years[1]");
        let known = Profile::new()
            .aged(80)
            .with_isee(Money::from_euros(9_000).expect("ok"));
        assert_eq!(
            profile(Some(&profile_to_proto(&known)), "profile"),
            Ok(known)
        );
    }
}
