//! No protobuf input makes a conversion panic: random bytes decoded as requests, and
//! structured requests with arbitrary field values, all convert to a value or a violation.
#![allow(clippy::indexing_slicing)]

use proptest::prelude::*;
use prost::Message;
use welfare_core::territory::Territory;
use welfare_proto::{catalog as pb, common, convert, wallet as pb_wallet};

fn money() -> impl Strategy<Value = Option<common::Money>> {
    prop::option::of(
        (
            prop_oneof![Just(String::new()), Just("EUR".to_owned()), ".{0,4}"],
            any::<i64>(),
        )
            .prop_map(|(currency_code, amount_cents)| common::Money {
                currency_code,
                amount_cents,
            }),
    )
}

fn profile() -> impl Strategy<Value = Option<common::Profile>> {
    prop::option::of(
        (
            prop::option::of("[0-9]{0,8}"),
            prop::option::of(any::<u32>()),
            money(),
            prop::option::of(prop::collection::vec(any::<u32>(), 0..30)),
        )
            .prop_map(|(residence, age, isee, children)| common::Profile {
                residence_istat_code: residence,
                beneficiary_age_years: age,
                isee,
                children_ages: children.map(|ages_years| common::AgeList { ages_years }),
                ..Default::default()
            }),
    )
}

fn rule() -> impl Strategy<Value = pb::EligibilityRule> {
    use pb::eligibility_rule::{self as r, Rule as R};
    let range = (
        prop::option::of(any::<u32>()),
        prop::option::of(any::<u32>()),
    )
        .prop_map(|(min_years, max_years)| r::AgeRange {
            min_years,
            max_years,
        });
    prop::option::of(prop_oneof![
        Just(R::ResidentInTerritory(r::Flag {})),
        prop::collection::vec("[0-9]{5,7}", 0..4)
            .prop_map(|istat_codes| R::ResidentIn(r::ResidentIn { istat_codes })),
        range.clone().prop_map(R::BeneficiaryAge),
        money().prop_map(|ceiling| R::IseeAtMost(r::IseeAtMost { ceiling })),
        range.prop_map(R::ChildAged),
        any::<u32>().prop_map(|min_years| R::FamilyMemberAged(r::FamilyMemberAged { min_years })),
    ])
    .prop_map(|rule| pb::EligibilityRule { rule })
}

fn pricing() -> impl Strategy<Value = Option<pb::Pricing>> {
    use pb::pricing::{self as p, Model as M};
    let band =
        (money(), money()).prop_map(|(isee_up_to, amount)| pb::IseeBand { isee_up_to, amount });
    prop::option::of(
        (
            prop::option::of(prop_oneof![
                Just(M::Free(p::Free {})),
                (any::<i32>(), money())
                    .prop_map(|(unit, amount)| M::Fixed(p::Fixed { unit, amount })),
                (any::<i32>(), prop::collection::vec(band, 0..25))
                    .prop_map(|(unit, bands)| M::IseeBands(p::IseeBands { unit, bands })),
            ]),
            any::<u32>(),
        )
            .prop_map(|(model, resident_discount_basis_points)| pb::Pricing {
                model,
                resident_discount_basis_points,
            }),
    )
}

fn listing() -> impl Strategy<Value = pb::Listing> {
    (
        ".{0,130}",
        any::<i32>(),
        "[a-z-]{0,20}",
        prop::collection::vec(any::<i32>(), 0..5),
        prop::collection::vec("[0-9]{4,7}", 0..5),
        prop::collection::vec(rule(), 0..20),
        pricing(),
        (any::<u32>(), any::<u32>(), any::<i32>()),
        prop::option::of((any::<f64>(), any::<f64>())),
    )
        .prop_map(
            |(
                title,
                category,
                subcategory,
                delivery,
                service_area,
                eligibility_rules,
                pricing,
                hours,
                point,
            )| {
                pb::Listing {
                    title,
                    category,
                    subcategory,
                    delivery,
                    service_area,
                    eligibility_rules,
                    pricing,
                    schedule: vec![pb::OpeningHours {
                        weekday: hours.2,
                        opens_minute: hours.0,
                        closes_minute: hours.1,
                    }],
                    venue: point.map(|(latitude, longitude)| pb::Venue {
                        address: "Via Roma 1".to_owned(),
                        istat_code: "098031".to_owned(),
                        location: Some(common::GeoPoint {
                            latitude,
                            longitude,
                        }),
                    }),
                    booking_mode: Some(pb::BookingMode {
                        mode: Some(pb::booking_mode::Mode::Slots(pb::booking_mode::Slots {
                            capacity_per_slot: hours.0,
                        })),
                    }),
                    ..Default::default()
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]

    #[test]
    fn structured_listings_convert_or_name_a_field(listing in listing()) {
        match convert::listing_content(&listing, "listing") {
            Ok(content) => { let _ = content.validate(&Territory::lodi()); }
            Err(violations) => {
                prop_assert!(!violations.is_empty());
                prop_assert!(violations.iter().all(|v| v.field.starts_with("listing.") && !v.problem.is_empty()));
            }
        }
    }

    #[test]
    fn structured_profiles_and_money_convert_or_name_a_field(profile in profile(), amount in money(), date in (any::<i32>(), any::<i32>(), any::<i32>())) {
        if let Err(violation) = convert::profile(profile.as_ref(), "profile") {
            prop_assert!(violation.field.starts_with("profile."));
        }
        let _ = convert::money(amount.as_ref(), "amount");
        let _ = convert::date(Some(&common::Date { year: date.0, month: date.1, day: date.2 }), "date");
        let _ = convert::timestamp(Some(&prost_types::Timestamp { seconds: i64::from(date.0) * 1_000, nanos: date.1 }), "time");
        let _ = convert::regime(date.2, "regime");
        let _ = convert::tax_letter(date.2, "tax_letter");
        let _ = convert::booking_status_filter(date.2, "state");
    }

    #[test]
    fn random_bytes_never_make_a_conversion_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(listing) = pb::Listing::decode(bytes.as_slice()) {
            let _ = convert::listing_content(&listing, "listing");
        }
        if let Ok(profile) = common::Profile::decode(bytes.as_slice()) {
            let _ = convert::profile(Some(&profile), "profile");
        }
        if let Ok(pricing) = pb::Pricing::decode(bytes.as_slice()) {
            let _ = convert::pricing(Some(&pricing), "pricing");
        }
        if let Ok(policy) = pb::CancellationPolicy::decode(bytes.as_slice()) {
            let _ = convert::cancellation_policy(Some(&policy), "policy");
        }
        if let Ok(plan) = pb_wallet::Plan::decode(bytes.as_slice()) {
            let _ = convert::money(plan.allowance_per_employee.as_ref(), "plan.allowance_per_employee");
            let _ = convert::date(plan.expire_date.as_ref(), "plan.expire_date");
        }
    }
}
