//! Profiles, eligibility rules and decisions, quotes.

use super::*;

pub(super) fn age(value: u32, field: &str) -> Converted<u8> {
    u8::try_from(value)
        .ok()
        .filter(|age| *age <= welfare_core::eligibility::MAX_AGE_YEARS)
        .ok_or_else(|| violation(field, "must be 0 to 120 years"))
}

pub(super) fn ages(value: Option<&common::AgeList>, field: &str) -> Converted<Option<Vec<u8>>> {
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

pub(super) fn rule(value: &pb::EligibilityRule, field: &str) -> Converted<Rule> {
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
