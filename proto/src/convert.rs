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

// ---- scalars ------------------------------------------------------------------------------

/// An amount in euro. Empty currency reads as EUR; any other currency is refused.
pub fn money(value: Option<&common::Money>, field: &str) -> Converted<Money> {
    let value = required(value, field)?;
    if !(value.currency_code.is_empty() || value.currency_code == "EUR") {
        return Err(violation(
            &child(field, "currency_code"),
            format!(
                "only EUR is supported, got {:?}",
                truncate(&value.currency_code)
            ),
        ));
    }
    Money::from_cents(value.amount_cents).map_err(|e| violation(&child(field, "amount_cents"), e))
}

/// An amount that must not be negative.
pub fn non_negative_money(value: Option<&common::Money>, field: &str) -> Converted<Money> {
    let amount = money(value, field)?;
    if amount.is_negative() {
        return Err(violation(
            &child(field, "amount_cents"),
            "must not be negative",
        ));
    }
    Ok(amount)
}

/// An amount that must be above zero.
pub fn positive_money(value: Option<&common::Money>, field: &str) -> Converted<Money> {
    let amount = money(value, field)?;
    if !amount.is_positive() {
        return Err(violation(&child(field, "amount_cents"), "must be positive"));
    }
    Ok(amount)
}

/// An optional non-negative amount (unset stays `None`).
pub fn optional_money(value: Option<&common::Money>, field: &str) -> Converted<Option<Money>> {
    value
        .map(|v| non_negative_money(Some(v), field))
        .transpose()
}

pub fn money_to_proto(amount: Money) -> common::Money {
    cents_to_proto(amount.cents())
}

/// A total in cents on the wire: sums over many records (a plan's funding, a report's
/// figures) are carried as plain integers and never refused for their size.
pub fn cents_to_proto(cents: i64) -> common::Money {
    common::Money {
        currency_code: "EUR".to_owned(),
        amount_cents: cents,
    }
}

pub fn date(value: Option<&common::Date>, field: &str) -> Converted<Date> {
    let value = required(value, field)?;
    let month = u8::try_from(value.month)
        .map_err(|_| violation(&child(field, "month"), "must be 1 to 12"))?;
    let day =
        u8::try_from(value.day).map_err(|_| violation(&child(field, "day"), "must be 1 to 31"))?;
    Date::new(value.year, month, day).map_err(|e| violation(field, e))
}

pub fn date_to_proto(value: Date) -> common::Date {
    common::Date {
        year: value.year(),
        month: i32::from(value.month()),
        day: i32::from(value.day()),
    }
}

pub fn timestamp(value: Option<&prost_types::Timestamp>, field: &str) -> Converted<Timestamp> {
    let value = required(value, field)?;
    if !(0..1_000_000_000).contains(&value.nanos) {
        return Err(violation(&child(field, "nanos"), "must be 0 to 999999999"));
    }
    // Years 1900-2200 are all the platform deals in.
    const RANGE: std::ops::RangeInclusive<i64> = -2_208_988_800..=7_289_654_399;
    if !RANGE.contains(&value.seconds) {
        return Err(violation(
            &child(field, "seconds"),
            "must fall between the years 1900 and 2200",
        ));
    }
    Ok(Timestamp::from_unix_seconds(value.seconds))
}

pub fn timestamp_to_proto(value: Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: value.unix_seconds(),
        nanos: 0,
    }
}

pub fn geo_point(value: Option<&common::GeoPoint>, field: &str) -> Converted<GeoPoint> {
    let value = required(value, field)?;
    GeoPoint::new(value.latitude, value.longitude).map_err(|e| violation(field, e))
}

pub fn geo_point_to_proto(point: GeoPoint) -> common::GeoPoint {
    common::GeoPoint {
        latitude: point.lat(),
        longitude: point.lon(),
    }
}

pub fn istat_code(value: &str, field: &str) -> Converted<IstatCode> {
    IstatCode::parse(value).map_err(|e| violation(field, e))
}

/// A text field, trimmed, between `min` and `max` characters, without control characters.
pub fn text(value: &str, field: &str, min: usize, max: usize) -> Converted<String> {
    if value.len() > MAX_TEXT_BYTES {
        return Err(violation(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    let trimmed = value.trim();
    let chars = trimmed.chars().count();
    if chars < min || chars > max {
        return Err(violation(
            field,
            format!("must be {min} to {max} characters, got {chars}"),
        ));
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(violation(field, "must not contain control characters"));
    }
    Ok(trimmed.to_owned())
}

fn truncate(value: &str) -> String {
    value.chars().take(40).collect()
}

fn check_len<T>(items: &[T], field: &str, max: usize) -> Converted<()> {
    if items.len() > max.min(MAX_REPEATED) {
        return Err(violation(field, format!("at most {max} items")));
    }
    Ok(())
}

// ---- enums --------------------------------------------------------------------------------

/// Generates the two directions of an enum mapping: `$from` reads the wire value (UNSPECIFIED
/// is "is required", an unknown number is named), `$to` writes it.
macro_rules! enum_mapping {
    ($from:ident, $to:ident, $wire:ty, $core:ty, $what:literal, { $($w:ident => $c:path),* $(,)? }) => {
        pub fn $from(value: i32, field: &str) -> Converted<$core> {
            match <$wire>::try_from(value) {
                $(Ok(<$wire>::$w) => Ok($c),)*
                Ok(_) => Err(violation(field, "is required")),
                Err(_) => Err(violation(field, format!(concat!("unknown ", $what, " {}"), value))),
            }
        }

        pub fn $to(value: $core) -> i32 {
            let wire = match value {
                $($c => <$wire>::$w,)*
            };
            wire.into()
        }
    };
}

enum_mapping!(category, category_to_proto, common::Category, Category, "category", {
    SocioAssistenziale => Category::SocioAssistenziale,
    Sanitario => Category::Sanitario,
    CuraFigli => Category::CuraFigli,
    Trasporto => Category::Trasporto,
    Psicologico => Category::Psicologico,
    Commissioni => Category::Commissioni,
});

enum_mapping!(tax_letter, tax_letter_to_proto, common::TaxLetter, TaxLetter, "tax letter", {
    F => TaxLetter::F,
    FBis => TaxLetter::FBis,
    FTer => TaxLetter::FTer,
});

enum_mapping!(unit, unit_value_to_proto, common::Unit, Unit, "unit", {
    Hour => Unit::Hour,
    Session => Unit::Session,
    Meal => Unit::Meal,
    Day => Unit::Day,
    Month => Unit::Month,
    Trip => Unit::Trip,
});

/// A quote's or price's unit; UNSPECIFIED for free services.
pub fn unit_to_proto(value: Option<Unit>) -> i32 {
    value.map_or(common::Unit::Unspecified.into(), unit_value_to_proto)
}

enum_mapping!(delivery, delivery_to_proto, pb::Delivery, Delivery, "delivery mode", {
    AtHome => Delivery::AtHome,
    AtVenue => Delivery::AtVenue,
    Remote => Delivery::Remote,
});

enum_mapping!(weekday, weekday_to_proto, pb::Weekday, Weekday, "weekday", {
    Monday => Weekday::Monday,
    Tuesday => Weekday::Tuesday,
    Wednesday => Weekday::Wednesday,
    Thursday => Weekday::Thursday,
    Friday => Weekday::Friday,
    Saturday => Weekday::Saturday,
    Sunday => Weekday::Sunday,
});

enum_mapping!(accessibility, accessibility_to_proto, pb::Accessibility, Accessibility, "accessibility feature", {
    WheelchairAccess => Accessibility::WheelchairAccess,
    AccessibleToilet => Accessibility::AccessibleToilet,
    HearingLoop => Accessibility::HearingLoop,
    SignLanguage => Accessibility::SignLanguage,
    EasyRead => Accessibility::EasyRead,
    AccessibleTransport => Accessibility::AccessibleTransport,
});

enum_mapping!(regime, regime_to_proto, pb_wallet::Regime, Regime, "regime", {
    Art51C2Services => Regime::Art51C2Services,
    Art51C3FringeBenefit => Regime::Art51C3FringeBenefit,
});

enum_mapping!(booking_status, booking_status_to_proto, pb_booking::booking::State, BookingStatus, "booking state", {
    Held => BookingStatus::Held,
    Confirmed => BookingStatus::Confirmed,
    Completed => BookingStatus::Completed,
    Expired => BookingStatus::Expired,
    Cancelled => BookingStatus::Cancelled,
    Rejected => BookingStatus::Rejected,
    NoShow => BookingStatus::NoShow,
});

enum_mapping!(provider_status, provider_status_to_proto, pb::provider::State, ProviderStatus, "provider state", {
    Pending => ProviderStatus::Pending,
    Approved => ProviderStatus::Approved,
    Suspended => ProviderStatus::Suspended,
});

/// A filter field: UNSPECIFIED (0) is no filter.
fn filter<T>(value: i32, field: &str, read: fn(i32, &str) -> Converted<T>) -> Converted<Option<T>> {
    if value == 0 {
        Ok(None)
    } else {
        read(value, field).map(Some)
    }
}

/// A booking state filter; `None` for UNSPECIFIED (no filter).
pub fn booking_status_filter(value: i32, field: &str) -> Converted<Option<BookingStatus>> {
    filter(value, field, booking_status)
}

/// A provider state filter; `None` for UNSPECIFIED.
pub fn provider_status_filter(value: i32, field: &str) -> Converted<Option<ProviderStatus>> {
    filter(value, field, provider_status)
}

/// A listing's state and the curator's reason, for the wire.
pub fn listing_status_to_proto(value: &ListingStatus) -> (i32, String) {
    use pb::listing::State as S;
    let (state, reason) = match value {
        ListingStatus::Draft => (S::Draft, ""),
        ListingStatus::Submitted => (S::Submitted, ""),
        ListingStatus::Published => (S::Published, ""),
        ListingStatus::Rejected { reason } => (S::Rejected, reason.as_str()),
        ListingStatus::Suspended { reason } => (S::Suspended, reason.as_str()),
        ListingStatus::Withdrawn => (S::Withdrawn, ""),
    };
    (state.into(), reason.to_owned())
}

/// A listing state filter, as its stable code; `None` for UNSPECIFIED.
pub fn listing_status_filter(value: i32, field: &str) -> Converted<Option<&'static str>> {
    use pb::listing::State as S;
    Ok(Some(match S::try_from(value) {
        Ok(S::Unspecified) => return Ok(None),
        Ok(S::Draft) => "draft",
        Ok(S::Submitted) => "submitted",
        Ok(S::Published) => "published",
        Ok(S::Rejected) => "rejected",
        Ok(S::Suspended) => "suspended",
        Ok(S::Withdrawn) => "withdrawn",
        Err(_) => return Err(violation(field, format!("unknown listing state {value}"))),
    }))
}

/// A provider's kind with the facts it requires.
pub fn provider_kind(
    kind: i32,
    runts_number: &str,
    comune: &str,
    field: &str,
) -> Converted<ProviderKind> {
    use pb::ProviderKind as K;
    Ok(match K::try_from(kind) {
        Ok(K::Ets) => ProviderKind::Ets {
            runts_number: RuntsNumber::parse(runts_number)
                .map_err(|e| violation(&child(field, "runts_number"), e))?,
        },
        Ok(K::Comune) => ProviderKind::Comune {
            istat_code: istat_code(comune, &child(field, "comune_istat_code"))?,
        },
        Ok(K::AziendaSpeciale) => ProviderKind::AziendaSpeciale,
        Ok(K::CooperativaSociale) => ProviderKind::CooperativaSociale,
        Ok(K::Company) => ProviderKind::Company,
        Ok(K::Unspecified) => return Err(violation(&child(field, "kind"), "is required")),
        Err(_) => {
            return Err(violation(
                &child(field, "kind"),
                format!("unknown provider kind {kind}"),
            ));
        }
    })
}

/// The wire kind, RUNTS number and comune of a provider kind.
pub fn provider_kind_to_proto(kind: &ProviderKind) -> (i32, String, String) {
    use pb::ProviderKind as K;
    let (wire, runts, comune) = match kind {
        ProviderKind::Ets { runts_number } => {
            (K::Ets, runts_number.as_str().to_owned(), String::new())
        }
        ProviderKind::Comune { istat_code } => (K::Comune, String::new(), istat_code.to_string()),
        ProviderKind::AziendaSpeciale => (K::AziendaSpeciale, String::new(), String::new()),
        ProviderKind::CooperativaSociale => (K::CooperativaSociale, String::new(), String::new()),
        ProviderKind::Company => (K::Company, String::new(), String::new()),
    };
    (wire.into(), runts, comune)
}

// ---- eligibility and quotes ---------------------------------------------------------------

fn age(value: u32, field: &str) -> Converted<u8> {
    u8::try_from(value)
        .ok()
        .filter(|age| *age <= welfare_core::eligibility::MAX_AGE_YEARS)
        .ok_or_else(|| violation(field, "must be 0 to 120 years"))
}

fn ages(value: Option<&common::AgeList>, field: &str) -> Converted<Option<Vec<u8>>> {
    value
        .map(|list| {
            check_len(
                &list.ages_years,
                &child(field, "ages_years"),
                welfare_core::eligibility::MAX_PROFILE_PEOPLE,
            )?;
            list.ages_years
                .iter()
                .enumerate()
                .map(|(i, &a)| age(a, &item(&child(field, "ages_years"), i)))
                .collect()
        })
        .transpose()
}

/// A profile; unset is an empty profile (nothing known).
pub fn profile(value: Option<&common::Profile>, field: &str) -> Converted<Profile> {
    let Some(value) = value else {
        return Ok(Profile::new());
    };
    Ok(Profile {
        residence: value
            .residence_istat_code
            .as_deref()
            .map(|code| istat_code(code, &child(field, "residence_istat_code")))
            .transpose()?,
        beneficiary_age_years: value
            .beneficiary_age_years
            .map(|a| age(a, &child(field, "beneficiary_age_years")))
            .transpose()?,
        isee: optional_money(value.isee.as_ref(), &child(field, "isee"))?,
        recognised_disability: value.recognised_disability,
        non_self_sufficient: value.non_self_sufficient,
        employee_of_participating_company: value.employee_of_participating_company,
        children_ages_years: ages(value.children_ages.as_ref(), &child(field, "children_ages"))?,
        family_member_ages_years: ages(
            value.family_member_ages.as_ref(),
            &child(field, "family_member_ages"),
        )?,
    })
}

pub fn profile_to_proto(value: &Profile) -> common::Profile {
    let ages = |list: &Option<Vec<u8>>| {
        list.as_ref().map(|ages| common::AgeList {
            ages_years: ages.iter().map(|&a| u32::from(a)).collect(),
        })
    };
    common::Profile {
        residence_istat_code: value.residence.as_ref().map(ToString::to_string),
        beneficiary_age_years: value.beneficiary_age_years.map(u32::from),
        isee: value.isee.map(money_to_proto),
        recognised_disability: value.recognised_disability,
        non_self_sufficient: value.non_self_sufficient,
        employee_of_participating_company: value.employee_of_participating_company,
        children_ages: ages(&value.children_ages_years),
        family_member_ages: ages(&value.family_member_ages_years),
    }
}

pub fn decision_to_proto(value: &Decision) -> common::EligibilityDecision {
    use common::eligibility_decision::Outcome;
    let mut out = common::EligibilityDecision::default();
    match value {
        Decision::Eligible => out.outcome = Outcome::Eligible.into(),
        Decision::NotEligible { reasons } => {
            out.outcome = Outcome::NotEligible.into();
            out.reasons = reasons
                .iter()
                .map(|reason| common::EligibilityReason {
                    code: reason.code().to_owned(),
                    params: reason
                        .params()
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect(),
                    message: reason.message_it(),
                })
                .collect();
        }
        Decision::Unknown { missing } => {
            out.outcome = Outcome::Unknown.into();
            out.missing_facts = missing
                .iter()
                .map(|fact| common::MissingFact {
                    code: fact.code().to_owned(),
                    question: fact.question_it().to_owned(),
                })
                .collect();
        }
    }
    out
}

pub fn quote_to_proto(value: &Quote) -> common::Quote {
    common::Quote {
        quantity: value.quantity,
        unit: unit_to_proto(value.unit),
        lines: value
            .lines
            .iter()
            .map(|line| common::QuoteLine {
                code: line.code().to_owned(),
                label: line.label_it(),
                amount: Some(money_to_proto(line.amount)),
            })
            .collect(),
        total: Some(money_to_proto(value.total)),
        wallet_coverage: Some(money_to_proto(value.wallet_coverage)),
        due_from_family: Some(money_to_proto(value.due_from_family)),
        notes: value
            .notes
            .iter()
            .map(|note| common::QuoteNote {
                code: note.code().to_owned(),
                message: note.message_it().to_owned(),
            })
            .collect(),
    }
}

fn rule(value: &pb::EligibilityRule, field: &str) -> Converted<Rule> {
    use pb::eligibility_rule::Rule as R;
    let Some(rule) = value.rule.as_ref() else {
        return Err(violation(field, "a rule kind is required"));
    };
    let optional_age =
        |value: Option<u32>, name: &str| value.map(|a| age(a, &child(field, name))).transpose();
    Ok(match rule {
        R::ResidentInTerritory(_) => Rule::ResidentInTerritory,
        R::ResidentIn(list) => {
            let list_field = child(&child(field, "resident_in"), "istat_codes");
            check_len(
                &list.istat_codes,
                &list_field,
                welfare_core::eligibility::MAX_RULE_COMUNI,
            )?;
            Rule::ResidentIn {
                comuni: list
                    .istat_codes
                    .iter()
                    .enumerate()
                    .map(|(i, code)| istat_code(code, &item(&list_field, i)))
                    .collect::<Converted<_>>()?,
            }
        }
        R::BeneficiaryAge(range) => Rule::BeneficiaryAge {
            min_years: optional_age(range.min_years, "beneficiary_age.min_years")?,
            max_years: optional_age(range.max_years, "beneficiary_age.max_years")?,
        },
        R::IseeAtMost(ceiling) => Rule::IseeAtMost {
            ceiling: non_negative_money(
                ceiling.ceiling.as_ref(),
                &child(field, "isee_at_most.ceiling"),
            )?,
        },
        R::RecognisedDisability(_) => Rule::RecognisedDisability,
        R::NonSelfSufficient(_) => Rule::NonSelfSufficient,
        R::EmployeeOfParticipatingCompany(_) => Rule::EmployeeOfParticipatingCompany,
        R::ChildAged(range) => Rule::ChildAged {
            min_years: optional_age(range.min_years, "child_aged.min_years")?
                .ok_or_else(|| violation(&child(field, "child_aged.min_years"), "is required"))?,
            max_years: optional_age(range.max_years, "child_aged.max_years")?
                .ok_or_else(|| violation(&child(field, "child_aged.max_years"), "is required"))?,
        },
        R::FamilyMemberAged(rule) => Rule::FamilyMemberAged {
            min_years: age(
                rule.min_years,
                &child(field, "family_member_aged.min_years"),
            )?,
        },
    })
}

/// A listing's eligibility rules, checked for consistency.
pub fn eligibility_rules(
    values: &[pb::EligibilityRule],
    field: &str,
) -> Converted<EligibilityRules> {
    check_len(values, field, welfare_core::eligibility::MAX_RULES)?;
    let rules = values
        .iter()
        .enumerate()
        .map(|(i, value)| rule(value, &item(field, i)))
        .collect::<Converted<Vec<_>>>()?;
    EligibilityRules::new(rules).map_err(|e| {
        use welfare_core::eligibility::RulesError as E;
        let index = match &e {
            E::AgeRange { index }
            | E::Comuni { index }
            | E::ComuneOutsideTerritory { index, .. }
            | E::NegativeCeiling { index }
            | E::Duplicate { index } => Some(*index),
            E::TooMany => None,
        };
        violation(
            &index.map_or_else(|| field.to_owned(), |i| item(field, i)),
            e,
        )
    })
}

pub fn eligibility_rules_to_proto(rules: &EligibilityRules) -> Vec<pb::EligibilityRule> {
    use pb::eligibility_rule::{self as r, Rule as R};
    let range = |min: Option<u8>, max: Option<u8>| r::AgeRange {
        min_years: min.map(u32::from),
        max_years: max.map(u32::from),
    };
    rules
        .rules()
        .iter()
        .map(|rule| {
            let wire = match rule {
                Rule::ResidentInTerritory => R::ResidentInTerritory(r::Flag {}),
                Rule::ResidentIn { comuni } => R::ResidentIn(r::ResidentIn {
                    istat_codes: comuni.iter().map(ToString::to_string).collect(),
                }),
                Rule::BeneficiaryAge {
                    min_years,
                    max_years,
                } => R::BeneficiaryAge(range(*min_years, *max_years)),
                Rule::IseeAtMost { ceiling } => R::IseeAtMost(r::IseeAtMost {
                    ceiling: Some(money_to_proto(*ceiling)),
                }),
                Rule::RecognisedDisability => R::RecognisedDisability(r::Flag {}),
                Rule::NonSelfSufficient => R::NonSelfSufficient(r::Flag {}),
                Rule::EmployeeOfParticipatingCompany => {
                    R::EmployeeOfParticipatingCompany(r::Flag {})
                }
                Rule::ChildAged {
                    min_years,
                    max_years,
                } => R::ChildAged(range(Some(*min_years), Some(*max_years))),
                Rule::FamilyMemberAged { min_years } => R::FamilyMemberAged(r::FamilyMemberAged {
                    min_years: u32::from(*min_years),
                }),
            };
            pb::EligibilityRule { rule: Some(wire) }
        })
        .collect()
}

fn basis_points(value: u32, field: &str) -> Converted<BasisPoints> {
    BasisPoints::new(value).map_err(|e| violation(field, e))
}

/// A listing's pricing, checked: positive fixed prices, well-ordered ISEE bands.
pub fn pricing(value: Option<&pb::Pricing>, field: &str) -> Converted<Pricing> {
    use pb::pricing::Model as M;
    let value = required(value, field)?;
    let Some(model) = value.model.as_ref() else {
        return Err(violation(
            field,
            "a price model (free, fixed or isee_bands) is required",
        ));
    };
    let model = match model {
        M::Free(_) => PriceModel::Free,
        M::Fixed(fixed) => PriceModel::Fixed {
            unit: unit(fixed.unit, &child(field, "fixed.unit"))?,
            amount: positive_money(fixed.amount.as_ref(), &child(field, "fixed.amount"))?,
        },
        M::IseeBands(tariff) => {
            let bands_field = child(field, "isee_bands.bands");
            check_len(
                &tariff.bands,
                &bands_field,
                welfare_core::pricing::MAX_ISEE_BANDS,
            )?;
            let bands = tariff
                .bands
                .iter()
                .enumerate()
                .map(|(i, band)| {
                    let band_field = item(&bands_field, i);
                    Ok(IseeBand {
                        isee_up_to: optional_money(
                            band.isee_up_to.as_ref(),
                            &child(&band_field, "isee_up_to"),
                        )?,
                        amount: non_negative_money(
                            band.amount.as_ref(),
                            &child(&band_field, "amount"),
                        )?,
                    })
                })
                .collect::<Converted<Vec<_>>>()?;
            let bands = IseeBands::new(bands).map_err(|e| {
                use welfare_core::pricing::PricingError as E;
                match &e {
                    E::OpenBand { index } | E::BandOrder { index } | E::BandFees { index } => {
                        violation(&item(&bands_field, *index), e)
                    }
                    _ => violation(&bands_field, e),
                }
            })?;
            PriceModel::IseeBands {
                unit: unit(tariff.unit, &child(field, "isee_bands.unit"))?,
                bands,
            }
        }
    };
    let discount = match value.resident_discount_basis_points {
        0 => None,
        bp => Some(basis_points(
            bp,
            &child(field, "resident_discount_basis_points"),
        )?),
    };
    Pricing::new(model, discount).map_err(|e| violation(field, e))
}

pub fn pricing_to_proto(value: &Pricing) -> pb::Pricing {
    use pb::pricing::{self as p, Model as M};
    let model = match value.model() {
        PriceModel::Free => M::Free(p::Free {}),
        PriceModel::Fixed { unit, amount } => M::Fixed(p::Fixed {
            unit: unit_to_proto(Some(*unit)),
            amount: Some(money_to_proto(*amount)),
        }),
        PriceModel::IseeBands { unit, bands } => M::IseeBands(p::IseeBands {
            unit: unit_to_proto(Some(*unit)),
            bands: bands
                .bands()
                .iter()
                .map(|band| pb::IseeBand {
                    isee_up_to: band.isee_up_to.map(money_to_proto),
                    amount: Some(money_to_proto(band.amount)),
                })
                .collect(),
        }),
    };
    pb::Pricing {
        model: Some(model),
        resident_discount_basis_points: value.resident_discount().map_or(0, BasisPoints::get),
    }
}

/// A cancellation policy; unset is free cancellation at any time before the start.
pub fn cancellation_policy(
    value: Option<&pb::CancellationPolicy>,
    field: &str,
) -> Converted<CancellationPolicy> {
    use pb::cancellation_policy::LateFee as F;
    let Some(value) = value else {
        return Ok(CancellationPolicy::FLEXIBLE);
    };
    let late_fee = match &value.late_fee {
        None => LateFee::None,
        Some(F::LateFeeBasisPoints(bp)) => LateFee::Share {
            share: basis_points(*bp, &child(field, "late_fee_basis_points"))?,
        },
        Some(F::LateFeeAmount(amount)) => LateFee::Fixed {
            amount: positive_money(Some(amount), &child(field, "late_fee_amount"))?,
        },
    };
    CancellationPolicy::new(value.free_until_hours_before, late_fee)
        .map_err(|e| violation(&child(field, "free_until_hours_before"), e))
}

pub fn cancellation_policy_to_proto(value: &CancellationPolicy) -> pb::CancellationPolicy {
    use pb::cancellation_policy::LateFee as F;
    pb::CancellationPolicy {
        free_until_hours_before: value.free_until_hours_before(),
        late_fee: match value.late_fee() {
            LateFee::None => None,
            LateFee::Share { share } => Some(F::LateFeeBasisPoints(share.get())),
            LateFee::Fixed { amount } => Some(F::LateFeeAmount(money_to_proto(amount))),
        },
    }
}

fn booking_mode(value: Option<&pb::BookingMode>, field: &str) -> Converted<BookingMode> {
    use pb::booking_mode::Mode as M;
    let value = required(value, field)?;
    match value.mode.as_ref() {
        Some(M::Slots(slots)) => Ok(BookingMode::Slots {
            capacity_per_slot: slots.capacity_per_slot,
        }),
        Some(M::RequestAndConfirm(_)) => Ok(BookingMode::RequestAndConfirm),
        Some(M::Enrolment(enrolment)) => Ok(BookingMode::Enrolment {
            places: enrolment.places,
        }),
        None => Err(violation(
            field,
            "a mode (slots, request_and_confirm or enrolment) is required",
        )),
    }
}

fn booking_mode_to_proto(value: BookingMode) -> pb::BookingMode {
    use pb::booking_mode::{self as b, Mode as M};
    let mode = match value {
        BookingMode::Slots { capacity_per_slot } => M::Slots(b::Slots { capacity_per_slot }),
        BookingMode::RequestAndConfirm => M::RequestAndConfirm(b::RequestAndConfirm {}),
        BookingMode::Enrolment { places } => M::Enrolment(b::Enrolment { places }),
    };
    pb::BookingMode { mode: Some(mode) }
}

fn minute(value: u32, field: &str) -> Converted<u16> {
    u16::try_from(value)
        .ok()
        .filter(|m| *m <= 1_440)
        .ok_or_else(|| violation(field, "must be 0 to 1440"))
}

/// The content of a listing as a provider writes it. Every field is converted and every
/// violation reported, not only the first; the territory checks (comuni, venue) are left to
/// [`ListingContent::validate`], which the service runs next.
pub fn listing_content(
    value: &pb::Listing,
    field: &str,
) -> Result<ListingContent, Vec<FieldViolation>> {
    fn keep<T>(violations: &mut Vec<FieldViolation>, result: Converted<T>) -> Option<T> {
        result.map_err(|v| violations.push(v)).ok()
    }
    let mut violations = Vec::new();
    let title = keep(
        &mut violations,
        text(
            &value.title,
            &child(field, "title"),
            0,
            welfare_core::listing::TITLE_MAX_CHARS,
        ),
    );
    let description = keep(
        &mut violations,
        text(
            &value.description,
            &child(field, "description"),
            0,
            welfare_core::listing::DESCRIPTION_MAX_CHARS,
        ),
    );
    let category = keep(
        &mut violations,
        category(value.category, &child(field, "category")),
    );
    let subcategory = keep(
        &mut violations,
        text(&value.subcategory, &child(field, "subcategory"), 1, 60),
    );
    let delivery = keep(
        &mut violations,
        check_len(&value.delivery, &child(field, "delivery"), 3).and_then(|()| {
            value
                .delivery
                .iter()
                .enumerate()
                .map(|(i, &d)| delivery(d, &item(&child(field, "delivery"), i)))
                .collect()
        }),
    );
    let area_field = child(field, "service_area");
    let service_area = keep(
        &mut violations,
        check_len(
            &value.service_area,
            &area_field,
            welfare_core::listing::MAX_SERVICE_AREA,
        )
        .and_then(|()| {
            value
                .service_area
                .iter()
                .enumerate()
                .map(|(i, code)| istat_code(code, &item(&area_field, i)))
                .collect()
        }),
    );
    let venue = keep(
        &mut violations,
        value
            .venue
            .as_ref()
            .map(|venue| {
                let venue_field = child(field, "venue");
                Ok(Venue {
                    address: text(
                        &venue.address,
                        &child(&venue_field, "address"),
                        0,
                        welfare_core::listing::ADDRESS_MAX_CHARS,
                    )?,
                    comune: istat_code(&venue.istat_code, &child(&venue_field, "istat_code"))?,
                    location: geo_point(venue.location.as_ref(), &child(&venue_field, "location"))?,
                })
            })
            .transpose(),
    );
    let schedule_field = child(field, "schedule");
    let schedule = keep(
        &mut violations,
        check_len(
            &value.schedule,
            &schedule_field,
            welfare_core::listing::MAX_SCHEDULE_ENTRIES,
        )
        .and_then(|()| {
            value
                .schedule
                .iter()
                .enumerate()
                .map(|(i, hours)| {
                    let f = item(&schedule_field, i);
                    Ok(OpeningHours {
                        weekday: weekday(hours.weekday, &child(&f, "weekday"))?,
                        opens_minute: minute(hours.opens_minute, &child(&f, "opens_minute"))?,
                        closes_minute: minute(hours.closes_minute, &child(&f, "closes_minute"))?,
                    })
                })
                .collect()
        }),
    );
    let booking_mode = keep(
        &mut violations,
        booking_mode(value.booking_mode.as_ref(), &child(field, "booking_mode")),
    );
    let eligibility = keep(
        &mut violations,
        eligibility_rules(&value.eligibility_rules, &child(field, "eligibility_rules")),
    );
    let pricing = keep(
        &mut violations,
        pricing(value.pricing.as_ref(), &child(field, "pricing")),
    );
    let cancellation_policy = keep(
        &mut violations,
        cancellation_policy(
            value.cancellation_policy.as_ref(),
            &child(field, "cancellation_policy"),
        ),
    );
    let languages = keep(
        &mut violations,
        check_len(
            &value.languages,
            &child(field, "languages"),
            welfare_core::listing::MAX_LANGUAGES,
        )
        .map(|()| {
            value
                .languages
                .iter()
                .map(|l| l.trim().to_ascii_lowercase())
                .collect::<Vec<_>>()
        }),
    );
    let access_field = child(field, "accessibility");
    let accessibility = keep(
        &mut violations,
        check_len(&value.accessibility, &access_field, 6).and_then(|()| {
            value
                .accessibility
                .iter()
                .enumerate()
                .map(|(i, &a)| accessibility(a, &item(&access_field, i)))
                .collect()
        }),
    );
    match (
        title,
        description,
        category,
        subcategory,
        delivery,
        service_area,
        venue,
        schedule,
        booking_mode,
        eligibility,
        pricing,
        cancellation_policy,
        languages,
        accessibility,
    ) {
        (
            Some(title),
            Some(description),
            Some(category),
            Some(subcategory),
            Some(delivery),
            Some(service_area),
            Some(venue),
            Some(schedule),
            Some(booking_mode),
            Some(eligibility),
            Some(pricing),
            Some(cancellation_policy),
            Some(languages),
            Some(accessibility),
        ) if violations.is_empty() => Ok(ListingContent {
            title,
            description,
            category,
            subcategory,
            delivery,
            service_area,
            venue,
            schedule,
            booking_mode,
            eligibility,
            pricing,
            cancellation_policy,
            languages,
            accessibility,
        }),
        _ => Err(violations),
    }
}

/// Writes a listing's content into its wire form (identity, state and times are the service's).
pub fn listing_content_to_proto(value: &ListingContent, out: &mut pb::Listing) {
    out.title.clone_from(&value.title);
    out.description.clone_from(&value.description);
    out.category = category_to_proto(value.category);
    out.subcategory.clone_from(&value.subcategory);
    out.delivery = value
        .delivery
        .iter()
        .map(|&d| delivery_to_proto(d))
        .collect();
    out.service_area = value.service_area.iter().map(ToString::to_string).collect();
    out.venue = value.venue.as_ref().map(|venue| pb::Venue {
        address: venue.address.clone(),
        istat_code: venue.comune.to_string(),
        location: Some(geo_point_to_proto(venue.location)),
    });
    out.schedule = value
        .schedule
        .iter()
        .map(|hours| pb::OpeningHours {
            weekday: weekday_to_proto(hours.weekday),
            opens_minute: u32::from(hours.opens_minute),
            closes_minute: u32::from(hours.closes_minute),
        })
        .collect();
    out.booking_mode = Some(booking_mode_to_proto(value.booking_mode));
    out.eligibility_rules = eligibility_rules_to_proto(&value.eligibility);
    out.pricing = Some(pricing_to_proto(&value.pricing));
    out.cancellation_policy = Some(cancellation_policy_to_proto(&value.cancellation_policy));
    out.languages.clone_from(&value.languages);
    out.accessibility = value
        .accessibility
        .iter()
        .map(|&a| accessibility_to_proto(a))
        .collect();
}

/// The six categories with their subcategories, for `ListCategories`.
pub fn categories_to_proto() -> Vec<pb::CategoryInfo> {
    Category::ALL
        .into_iter()
        .map(|category| pb::CategoryInfo {
            category: category_to_proto(category),
            code: category.code().to_owned(),
            label: category.label_it().to_owned(),
            subcategories: category
                .subcategories()
                .map(|sub: &Subcategory| pb::Subcategory {
                    code: sub.code.to_owned(),
                    label: sub.label_it.to_owned(),
                    synonyms: sub.synonyms.iter().map(|s| (*s).to_owned()).collect(),
                    default_tax_letter: tax_letter_to_proto(sub.tax_letter),
                })
                .collect(),
        })
        .collect()
}

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
