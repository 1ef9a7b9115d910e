//! Properties that must hold for every input, not only the examples in the unit tests.
#![allow(clippy::indexing_slicing)]

use proptest::prelude::*;
use welfare_core::booking::{
    BookingAction, BookingActor, BookingFacts, BookingStatus, CancellationPolicy, LateFee, decide,
};
use welfare_core::listing::{CurationAction, ListingStatus, curate};
use welfare_core::money::{BasisPoints, MAX_AMOUNT_CENTS, Money, MoneyError};
use welfare_core::prelude::*;
use welfare_core::provider::{PersonalTaxCode, VatNumber};
use welfare_core::time::Timestamp;
use welfare_core::wallet::{FringeBenefitUsage, settle_year_end};

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

fn territory() -> &'static Territory {
    static TERRITORY: std::sync::OnceLock<Territory> = std::sync::OnceLock::new();
    TERRITORY.get_or_init(Territory::lodi)
}

fn comune() -> impl Strategy<Value = IstatCode> {
    let codes: Vec<IstatCode> = territory()
        .municipalities()
        .iter()
        .map(|m| m.istat_code.clone())
        .collect();
    prop::sample::select(codes)
}

fn money(max_cents: i64) -> impl Strategy<Value = Money> {
    (0..=max_cents).prop_map(|c| Money::from_cents(c).expect("in range"))
}

fn unit() -> impl Strategy<Value = Unit> {
    prop::sample::select(Unit::ALL.to_vec())
}

/// Valid ISEE bands: rising thresholds, non-decreasing fees, an open last band.
fn isee_bands() -> impl Strategy<Value = IseeBands> {
    (
        prop::collection::vec((1..500_000i64, 0..5_000i64), 0..6),
        0..100_000i64,
    )
        .prop_map(|(steps, base_fee)| {
            let mut threshold = 0i64;
            let mut fee = base_fee;
            let mut bands = Vec::new();
            for (threshold_step, fee_step) in &steps {
                threshold += threshold_step;
                bands.push(IseeBand {
                    isee_up_to: Some(Money::from_cents(threshold).expect("in range")),
                    amount: Money::from_cents(fee).expect("in range"),
                });
                fee += fee_step;
            }
            bands.push(IseeBand {
                isee_up_to: None,
                amount: Money::from_cents(fee).expect("in range"),
            });
            IseeBands::new(bands).expect("generated bands are valid")
        })
}

fn pricing() -> impl Strategy<Value = Pricing> {
    let discount =
        prop::option::of((1..=10_000u32).prop_map(|bp| BasisPoints::new(bp).expect("share")));
    prop_oneof![
        Just(Pricing::free()),
        (unit(), 1..1_000_000i64, discount.clone()).prop_map(|(unit, cents, discount)| {
            let amount = Money::from_cents(cents).expect("in range");
            Pricing::new(PriceModel::Fixed { unit, amount }, discount).expect("valid")
        }),
        (unit(), isee_bands(), discount).prop_map(|(unit, bands, discount)| {
            Pricing::new(PriceModel::IseeBands { unit, bands }, discount).expect("valid")
        }),
    ]
}

fn ages() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(0..=110u8, 0..4)
}

fn profile() -> impl Strategy<Value = Profile> {
    (
        prop::option::of(prop_oneof![
            comune(),
            Just(IstatCode::parse("015146").expect("Milano"))
        ]),
        prop::option::of(0..=110u8),
        prop::option::of(money(6_000_000)),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<bool>()),
        prop::option::of(ages()),
        prop::option::of(ages()),
    )
        .prop_map(
            |(residence, age, isee, disability, nsf, employee, children, family)| Profile {
                residence,
                beneficiary_age_years: age,
                isee,
                recognised_disability: disability,
                non_self_sufficient: nsf,
                employee_of_participating_company: employee,
                children_ages_years: children,
                family_member_ages_years: family,
            },
        )
}

fn age_range() -> impl Strategy<Value = (u8, u8)> {
    (0..=100u8, 0..=20u8).prop_map(|(min, span)| (min, min.saturating_add(span).min(120)))
}

fn rule() -> impl Strategy<Value = Rule> {
    prop_oneof![
        Just(Rule::ResidentInTerritory),
        prop::collection::vec(comune(), 1..4).prop_map(|comuni| Rule::ResidentIn { comuni }),
        (age_range(), any::<bool>(), any::<bool>()).prop_filter_map(
            "an age bound",
            |((min, max), has_min, has_max)| {
                (has_min || has_max).then(|| Rule::BeneficiaryAge {
                    min_years: has_min.then_some(min),
                    max_years: has_max.then_some(max),
                })
            }
        ),
        money(5_000_000).prop_map(|ceiling| Rule::IseeAtMost { ceiling }),
        Just(Rule::RecognisedDisability),
        Just(Rule::NonSelfSufficient),
        Just(Rule::EmployeeOfParticipatingCompany),
        age_range().prop_map(|(min_years, max_years)| Rule::ChildAged {
            min_years,
            max_years
        }),
        (60..=90u8).prop_map(|min_years| Rule::FamilyMemberAged { min_years }),
    ]
}

fn rules() -> impl Strategy<Value = EligibilityRules> {
    prop::collection::vec(rule(), 0..6).prop_map(|mut rules| {
        let mut seen = Vec::new();
        rules.retain(|rule| {
            let kind = std::mem::discriminant(rule);
            let fresh = !seen.contains(&kind);
            seen.push(kind);
            fresh
        });
        EligibilityRules::new(rules).expect("generated rules are valid")
    })
}

/// The profile with every unknown fact filled in so that the rule reading it holds.
fn fill_satisfying(rules: &EligibilityRules, profile: &Profile) -> Profile {
    let mut filled = profile.clone();
    // A comune listed by a residence rule also satisfies the territory rule.
    let served = rules.rules().iter().find_map(|rule| match rule {
        Rule::ResidentIn { comuni } => comuni.first().cloned(),
        _ => None,
    });
    let served = served.unwrap_or_else(|| territory().municipalities()[0].istat_code.clone());
    for rule in rules.rules() {
        match rule {
            Rule::ResidentInTerritory | Rule::ResidentIn { .. } => {
                filled.residence.get_or_insert_with(|| served.clone());
            }
            Rule::BeneficiaryAge { min_years, .. } => {
                filled
                    .beneficiary_age_years
                    .get_or_insert(min_years.unwrap_or(0));
            }
            Rule::IseeAtMost { .. } => {
                filled.isee.get_or_insert(Money::ZERO);
            }
            Rule::RecognisedDisability => {
                filled.recognised_disability.get_or_insert(true);
            }
            Rule::NonSelfSufficient => {
                filled.non_self_sufficient.get_or_insert(true);
            }
            Rule::EmployeeOfParticipatingCompany => {
                filled.employee_of_participating_company.get_or_insert(true);
            }
            Rule::ChildAged { min_years, .. } => {
                filled
                    .children_ages_years
                    .get_or_insert_with(|| vec![*min_years]);
            }
            Rule::FamilyMemberAged { min_years } => {
                filled
                    .family_member_ages_years
                    .get_or_insert_with(|| vec![*min_years]);
            }
        }
    }
    filled
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn money_arithmetic_never_overflows_silently(a in any::<i64>(), b in any::<i64>(), q in any::<u32>()) {
        let in_range = |v: i128| v.abs() <= i128::from(MAX_AMOUNT_CENTS);
        match (Money::from_cents(a), Money::from_cents(b)) {
            (Ok(x), Ok(y)) => {
                let sum = i128::from(a) + i128::from(b);
                match x.checked_add(y) {
                    Ok(total) => prop_assert_eq!(i128::from(total.cents()), sum),
                    Err(e) => { prop_assert!(!in_range(sum)); prop_assert_eq!(e, MoneyError::OutOfRange); }
                }
                let difference = i128::from(a) - i128::from(b);
                match x.checked_sub(y) {
                    Ok(total) => prop_assert_eq!(i128::from(total.cents()), difference),
                    Err(_) => prop_assert!(!in_range(difference)),
                }
                let product = i128::from(a) * i128::from(q);
                match x.checked_mul(q) {
                    Ok(total) => prop_assert_eq!(i128::from(total.cents()), product),
                    Err(_) => prop_assert!(!in_range(product)),
                }
            }
            (x, _) => prop_assert_eq!(x.is_ok(), in_range(i128::from(a))),
        }
    }

    #[test]
    fn money_formats_and_parses_back(cents in -MAX_AMOUNT_CENTS..=MAX_AMOUNT_CENTS) {
        let amount = Money::from_cents(cents).expect("in range");
        prop_assert_eq!(amount.to_string().parse::<Money>(), Ok(amount));
    }

    #[test]
    fn a_lower_isee_never_pays_more(
        bands in isee_bands(),
        discount in prop::option::of((1..=10_000u32).prop_map(|bp| BasisPoints::new(bp).expect("share"))),
        a in money(6_000_000),
        b in money(6_000_000),
        residence in comune(),
        quantity in 1..=50u32,
    ) {
        let pricing = Pricing::new(PriceModel::IseeBands { unit: Unit::Month, bands }, discount).expect("valid");
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        let quote = |isee| pricing
            .quote(&Profile::new().resident_in(residence.clone()).with_isee(isee), quantity, territory(), Money::ZERO)
            .expect("quote");
        prop_assert!(quote(low).total <= quote(high).total);
    }

    #[test]
    fn quote_lines_add_up_and_the_wallet_never_exceeds_the_total(
        pricing in pricing(),
        profile in profile(),
        quantity in 1..=1_000u32,
        wallet in money(100_000_000),
    ) {
        let quote = pricing.quote(&profile, quantity, territory(), wallet).expect("quote");
        let lines = Money::checked_sum(quote.lines.iter().map(|l| l.amount)).expect("sum");
        prop_assert_eq!(lines, quote.total);
        prop_assert!(!quote.total.is_negative());
        prop_assert!(quote.wallet_coverage <= quote.total);
        prop_assert!(quote.wallet_coverage <= wallet);
        prop_assert!(!quote.due_from_family.is_negative());
        prop_assert_eq!(quote.wallet_coverage.checked_add(quote.due_from_family), Ok(quote.total));
    }

    #[test]
    fn adding_facts_never_turns_eligible_into_not_eligible(
        rules in rules(),
        profile in profile(),
        extra in profile(),
        more_children in ages(),
    ) {
        let decision = rules.evaluate(&profile, territory());
        let mut richer = profile.clone();
        // Add every fact the profile lacks, with arbitrary values, and more children.
        richer.residence = richer.residence.or(extra.residence);
        richer.beneficiary_age_years = richer.beneficiary_age_years.or(extra.beneficiary_age_years);
        richer.isee = richer.isee.or(extra.isee);
        richer.recognised_disability = richer.recognised_disability.or(extra.recognised_disability);
        richer.non_self_sufficient = richer.non_self_sufficient.or(extra.non_self_sufficient);
        richer.employee_of_participating_company =
            richer.employee_of_participating_company.or(extra.employee_of_participating_company);
        if let Some(children) = richer.children_ages_years.as_mut() {
            children.extend(more_children);
        }
        richer.children_ages_years = richer.children_ages_years.or(extra.children_ages_years);
        richer.family_member_ages_years = richer.family_member_ages_years.or(extra.family_member_ages_years);
        if decision.is_eligible() {
            prop_assert_eq!(rules.evaluate(&richer, territory()), Decision::Eligible);
        }
        // Supplying the missing facts, satisfied, turns Unknown into Eligible.
        if let Decision::Unknown { .. } = decision {
            prop_assert_eq!(rules.evaluate(&fill_satisfying(&rules, &profile), territory()), Decision::Eligible);
        }
        if let Decision::NotEligible { reasons } = &decision {
            prop_assert!(!reasons.is_empty());
        }
    }

    #[test]
    fn no_booking_transition_leaves_a_terminal_state(
        status in prop::sample::select(BookingStatus::ALL.to_vec()),
        action in prop::sample::select(BookingAction::ALL.to_vec()),
        actor in prop::sample::select(vec![BookingActor::Booker, BookingActor::Provider, BookingActor::System, BookingActor::Operator]),
        hold in any::<i64>(), start in any::<i64>(), now in any::<i64>(),
        total in money(10_000_000), held in money(10_000_000),
        notice in 0..=720u32, share in 0..=10_000u32,
    ) {
        let booking = BookingFacts {
            status,
            hold_expires_at: Timestamp::from_unix_seconds(hold),
            starts_at: Timestamp::from_unix_seconds(start),
            total,
            wallet_hold: held.min(total),
        };
        let policy = CancellationPolicy::new(notice, LateFee::Share { share: BasisPoints::new(share).expect("share") }).expect("valid");
        let result = decide(&booking, action, actor, &policy, Timestamp::from_unix_seconds(now));
        if status.is_terminal() {
            prop_assert!(result.is_err());
        }
        if let Ok(transition) = result {
            prop_assert!(transition.fee <= booking.total);
            if let welfare_core::booking::HoldEffect::Capture { amount } = transition.hold {
                prop_assert!(amount.is_positive() && amount <= booking.wallet_hold);
            }
            // Every ending gives the seats back (only HELD and CONFIRMED bookings hold them).
            let gives_back = transition.to != BookingStatus::Confirmed;
            prop_assert_eq!(transition.releases_capacity, gives_back);
        }
    }

    #[test]
    fn no_curation_step_leaves_a_withdrawn_listing(
        action in prop_oneof![
            Just(CurationAction::Submit), Just(CurationAction::Approve), Just(CurationAction::Withdraw),
            Just(CurationAction::Verify), ".{0,20}".prop_map(|reason| CurationAction::Reject { reason }),
            ".{0,20}".prop_map(|reason| CurationAction::Suspend { reason }),
        ],
        now in any::<i64>(),
    ) {
        prop_assert!(curate(&ListingStatus::Withdrawn, None, &action, Timestamp::from_unix_seconds(now)).is_err());
    }

    #[test]
    fn every_single_character_corruption_of_a_tax_code_is_rejected(
        letters in "[A-Z]{6}", year in 0..100u8, month in 0..12usize, day in 1..=31u8, female in any::<bool>(),
        place in "[A-Z][0-9]{3}", omocodie in 0..=7usize, position in 0..16usize, replacement in 0..36usize,
    ) {
        let day = if female { day + 40 } else { day };
        let mut body: Vec<u8> = format!("{letters}{year:02}{}{day:02}{place}", char::from(b"ABCDEHLMPRST"[month])).into_bytes();
        for &p in [14usize, 13, 12, 10, 9, 7, 6].iter().take(omocodie) {
            body[p] = b"LMNPQRSTUV"[usize::from(body[p] - b'0')];
        }
        // Exactly one check character makes the code valid.
        let valid: Vec<String> = (b'A'..=b'Z')
            .map(|check| { let mut code = body.clone(); code.push(check); String::from_utf8(code).expect("ascii") })
            .filter(|code| PersonalTaxCode::parse(code).is_ok())
            .collect();
        prop_assert_eq!(valid.len(), 1);
        let mut corrupted = valid[0].clone().into_bytes();
        let new = ALPHABET[replacement];
        prop_assume!(corrupted[position] != new);
        corrupted[position] = new;
        let corrupted = String::from_utf8(corrupted).expect("ascii");
        prop_assert!(PersonalTaxCode::parse(&corrupted).is_err(), "{} accepted", corrupted);
    }

    #[test]
    fn every_single_character_corruption_of_a_vat_number_is_rejected(
        company in "[0-9]{7}", office in prop_oneof![1..=100u16, Just(120), Just(121), Just(888), Just(999)],
        position in 0..11usize, replacement in 0..36usize,
    ) {
        let body = format!("{company}{office:03}");
        let valid: Vec<String> = (0..10).map(|d| format!("{body}{d}")).filter(|code| VatNumber::parse(code).is_ok()).collect();
        prop_assert_eq!(valid.len(), 1);
        let mut corrupted = valid[0].clone().into_bytes();
        let new = ALPHABET[replacement];
        prop_assume!(corrupted[position] != new);
        corrupted[position] = new;
        let corrupted = String::from_utf8(corrupted).expect("ascii");
        prop_assert!(VatNumber::parse(&corrupted).is_err(), "{} accepted", corrupted);
    }

    #[test]
    fn year_end_splits_without_losing_a_cent(balance in money(100_000_000), max in prop::option::of(1..10_000_000i64)) {
        let plan = PlanRules::new(
            2026, Money::from_euros(500).expect("ok"), vec![Category::Trasporto], Regime::Art51C2Services,
            "2026-12-31".parse().expect("date"),
            CarryOver::NextYear { max: max.map(|m| Money::from_cents(m).expect("ok")) },
        ).expect("valid");
        let split = settle_year_end(&plan, balance);
        prop_assert_eq!(split.carried_over.checked_add(split.returned), Ok(balance));
        prop_assert!(!split.carried_over.is_negative() && !split.returned.is_negative());
    }

    #[test]
    fn the_fringe_ceiling_is_never_crossed(used in money(300_000), amount in money(300_000), year in 2020..2030i32, children in any::<bool>()) {
        let plan = PlanRules::new(
            year, Money::from_cents(25_000).expect("ok"), vec![Category::Trasporto], Regime::Art51C3FringeBenefit,
            Date::new(year, 12, 31).expect("date"), CarryOver::None,
        ).expect("valid");
        let usage = FringeBenefitUsage { used_this_year: used, has_dependent_children: children };
        let today = Date::new(year, 6, 1).expect("date");
        let result = check_spend(&plan, Category::Trasporto, TaxLetter::FTer, amount, today, Some(usage));
        if result.is_ok() {
            prop_assert!(used.checked_add(amount).expect("small") <= fringe_benefit_ceiling(year, children));
        }
    }

    #[test]
    fn no_parser_panics_on_any_text(text in ".{0,80}") {
        let _ = text.parse::<Money>();
        let _ = text.parse::<Date>();
        let _ = IstatCode::parse(&text);
        let _ = TaxId::parse(&text);
        let _ = PersonalTaxCode::parse(&text);
        let _ = VatNumber::parse(&text);
        let _ = ListingId::parse(&text);
        let _ = territory().find_by_name(&text);
        let _ = Territory::from_csv(&text, 180, &text);
        let _ = welfare_core::text::fold(&text);
        let _ = serde_json::from_str::<Listing>(&text);
        let _ = serde_json::from_str::<Pricing>(&text);
        let _ = serde_json::from_str::<EligibilityRules>(&text);
        let _ = serde_json::from_str::<PlanRules>(&text);
        let _ = serde_json::from_str::<Territory>(&text);
    }

    #[test]
    fn no_function_panics_on_extreme_numbers(
        seconds in any::<i64>(), days in any::<i64>(), cents in any::<i64>(), quantity in any::<u32>(),
        min in any::<u8>(), max in any::<u8>(), year in any::<i32>(), bp in any::<u32>(),
    ) {
        let ts = Timestamp::from_unix_seconds(seconds);
        let _ = ts.date();
        let _ = ts.plus_seconds(seconds);
        let _ = ts.seconds_since(Timestamp::from_unix_seconds(days));
        let _ = Date::from_days_since_epoch(days);
        if let Some(date) = ts.date() {
            let _ = date.plus_days(days);
            let _ = date.age_on(date);
        }
        let _ = BasisPoints::new(bp);
        if let Ok(amount) = Money::from_cents(cents) {
            let _ = amount.checked_mul(quantity);
            let _ = amount.share(BasisPoints::HUNDRED_PERCENT);
            let _ = amount.to_string();
            let _ = fringe_benefit_ceiling(year, true);
            let _ = EligibilityRules::new(vec![
                Rule::ChildAged { min_years: min, max_years: max },
                Rule::IseeAtMost { ceiling: amount },
            ]);
            let _ = Pricing::new(PriceModel::Fixed { unit: Unit::Hour, amount }, None)
                .map(|p| p.quote(&Profile::new(), quantity, territory(), amount));
            let _ = PlanRules::new(year, amount, vec![Category::Sanitario], Regime::Art51C3FringeBenefit,
                Date::new(2026, 12, 31).expect("date"), CarryOver::None);
            let _ = CancellationPolicy::new(quantity, LateFee::Fixed { amount });
        }
    }

    #[test]
    fn reading_a_query_never_panics_and_only_removes_words(text in "\\PC{0,80}", age in 0u32..130) {
        let territory = Territory::lodi();
        let reading = welfare_core::query::read_query(&text, &territory);
        let folded = welfare_core::text::fold(&text);
        for word in reading.remaining.split(' ').filter(|w| !w.is_empty()) {
            prop_assert!(folded.split(' ').any(|w| w == word), "{word} not in {folded}");
        }
        let phrase = format!("servizio per una persona di {age} anni");
        let reading = welfare_core::query::read_query(&phrase, &territory);
        let expected = u8::try_from(age).ok().filter(|a| *a <= 120);
        prop_assert_eq!(reading.age_years, expected);
    }
}
