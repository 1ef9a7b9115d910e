//! Eligibility: structured rules a listing sets, a person's profile, and the decision with
//! its reasons — so people see why, and what would change the answer.

use serde::{Deserialize, Serialize};

use crate::money::Money;
use crate::territory::{IstatCode, Territory};

/// The most rules one listing may set.
pub const MAX_RULES: usize = 16;
/// The most comuni a residence rule may list.
pub const MAX_RULE_COMUNI: usize = 200;
/// The most children or family members a profile may list.
pub const MAX_PROFILE_PEOPLE: usize = 20;
/// The highest age the platform accepts, in years.
pub const MAX_AGE_YEARS: u8 = 120;
/// The age from which a family member counts as elderly under the call (75+).
pub const ELDERLY_AGE_YEARS: u8 = 75;

/// What is known of the person a service is for. Every fact is optional: an unknown fact
/// makes the decision `Unknown` rather than a guess. Only the facts rules need are collected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The comune of residence.
    pub residence: Option<IstatCode>,
    /// The age, in full years, of the person who receives the service.
    pub beneficiary_age_years: Option<u8>,
    /// The household's ISEE indicator.
    pub isee: Option<Money>,
    /// Disability recognised under L. 104/1992.
    pub recognised_disability: Option<bool>,
    /// Non-self-sufficiency (non autosufficienza) recognised.
    pub non_self_sufficient: Option<bool>,
    /// Employed by a company that participates in LodiWelfare.
    pub employee_of_participating_company: Option<bool>,
    /// Ages in full years of the children in the household (`Some(vec![])`: none).
    pub children_ages_years: Option<Vec<u8>>,
    /// Ages in full years of the other family members the person cares for.
    pub family_member_ages_years: Option<Vec<u8>>,
}

impl Profile {
    /// An empty profile: nothing known yet.
    pub fn new() -> Profile {
        Profile::default()
    }

    pub fn resident_in(mut self, comune: IstatCode) -> Profile {
        self.residence = Some(comune);
        self
    }

    pub fn aged(mut self, years: u8) -> Profile {
        self.beneficiary_age_years = Some(years);
        self
    }

    pub fn with_isee(mut self, isee: Money) -> Profile {
        self.isee = Some(isee);
        self
    }

    pub fn with_recognised_disability(mut self, recognised: bool) -> Profile {
        self.recognised_disability = Some(recognised);
        self
    }

    pub fn with_non_self_sufficiency(mut self, recognised: bool) -> Profile {
        self.non_self_sufficient = Some(recognised);
        self
    }

    pub fn employee_of_participating_company(mut self, employed: bool) -> Profile {
        self.employee_of_participating_company = Some(employed);
        self
    }

    pub fn with_children_aged(mut self, ages: Vec<u8>) -> Profile {
        self.children_ages_years = Some(ages);
        self
    }

    pub fn with_family_members_aged(mut self, ages: Vec<u8>) -> Profile {
        self.family_member_ages_years = Some(ages);
        self
    }

    /// Checks the facts themselves (ages, ISEE, list sizes), naming the first bad field.
    pub fn validate(&self) -> Result<(), ProfileError> {
        if self
            .beneficiary_age_years
            .is_some_and(|age| age > MAX_AGE_YEARS)
        {
            return Err(ProfileError::Age {
                field: "beneficiary_age_years",
            });
        }
        if self.isee.is_some_and(Money::is_negative) {
            return Err(ProfileError::NegativeIsee);
        }
        for (field, ages) in [
            ("children_ages_years", &self.children_ages_years),
            ("family_member_ages_years", &self.family_member_ages_years),
        ] {
            let ages = ages.as_deref().unwrap_or_default();
            if ages.len() > MAX_PROFILE_PEOPLE {
                return Err(ProfileError::TooManyPeople { field });
            }
            if ages.iter().any(|&age| age > MAX_AGE_YEARS) {
                return Err(ProfileError::Age { field });
            }
        }
        Ok(())
    }

    /// Whether the person lives in the territory, if known.
    pub fn is_resident_of(&self, territory: &Territory) -> Option<bool> {
        self.residence.as_ref().map(|code| territory.contains(code))
    }
}

/// A profile fact out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("{field}: age above {MAX_AGE_YEARS} years")]
    Age { field: &'static str },
    #[error("isee: must not be negative")]
    NegativeIsee,
    #[error("{field}: more than {MAX_PROFILE_PEOPLE} people")]
    TooManyPeople { field: &'static str },
}

/// One eligibility rule. A listing's rules must all hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case", deny_unknown_fields)]
pub enum Rule {
    /// Resident in any comune of the territory.
    ResidentInTerritory,
    /// Resident in one of the given comuni.
    ResidentIn { comuni: Vec<IstatCode> },
    /// The beneficiary's age within a range, in full years, bounds included.
    BeneficiaryAge {
        min_years: Option<u8>,
        max_years: Option<u8>,
    },
    /// Household ISEE at most the ceiling.
    IseeAtMost { ceiling: Money },
    /// Disability recognised under L. 104/1992.
    RecognisedDisability,
    /// Non-self-sufficiency recognised.
    NonSelfSufficient,
    /// Employee of a company participating in LodiWelfare.
    EmployeeOfParticipatingCompany,
    /// A child in the household aged within a range, bounds included.
    ChildAged { min_years: u8, max_years: u8 },
    /// A family member aged at least this (75 under the call).
    FamilyMemberAged { min_years: u8 },
}

impl Rule {
    /// The stable code of the rule's kind.
    pub const fn code(&self) -> &'static str {
        match self {
            Rule::ResidentInTerritory => "resident_in_territory",
            Rule::ResidentIn { .. } => "resident_in",
            Rule::BeneficiaryAge { .. } => "beneficiary_age",
            Rule::IseeAtMost { .. } => "isee_at_most",
            Rule::RecognisedDisability => "recognised_disability",
            Rule::NonSelfSufficient => "non_self_sufficient",
            Rule::EmployeeOfParticipatingCompany => "employee_of_participating_company",
            Rule::ChildAged { .. } => "child_aged",
            Rule::FamilyMemberAged { .. } => "family_member_aged",
        }
    }

    /// The requirement as a citizen reads it, in Italian; comuni are named through `territory`
    /// (their ISTAT code when the territory does not know them).
    pub fn description_it(&self, territory: &Territory) -> String {
        match self {
            Rule::ResidentInTerritory => {
                format!("Residenza in un comune dell'{}", territory.name())
            }
            Rule::ResidentIn { comuni } => {
                let names: Vec<String> = comuni
                    .iter()
                    .map(|code| {
                        territory
                            .municipality(code)
                            .map_or_else(|| code.to_string(), |m| m.name.clone())
                    })
                    .collect();
                format!("Residenza a {}", names.join(", "))
            }
            Rule::BeneficiaryAge {
                min_years,
                max_years,
            } => match (min_years, max_years) {
                (Some(min), Some(max)) => format!("Età tra {min} e {max} anni"),
                (Some(min), None) => format!("Età di almeno {min} anni"),
                (None, Some(max)) => format!("Età fino a {max} anni"),
                (None, None) => "Qualsiasi età".to_owned(),
            },
            Rule::IseeAtMost { ceiling } => format!("ISEE fino a {ceiling}"),
            Rule::RecognisedDisability => {
                "Disabilità riconosciuta ai sensi della L. 104/1992".to_owned()
            }
            Rule::NonSelfSufficient => "Non autosufficienza riconosciuta".to_owned(),
            Rule::EmployeeOfParticipatingCompany => {
                "Dipendente di un'impresa aderente a LodiWelfare".to_owned()
            }
            Rule::ChildAged {
                min_years,
                max_years,
            } => format!("Un figlio tra {min_years} e {max_years} anni nel nucleo familiare"),
            Rule::FamilyMemberAged { min_years } => {
                format!("Un familiare di almeno {min_years} anni da assistere")
            }
        }
    }
}

/// A listing's eligibility rules, checked for consistency. No rules: open to everyone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Rule>", into = "Vec<Rule>")]
pub struct EligibilityRules(Vec<Rule>);

/// An inconsistent rule set; `index` is the position of the offending rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    #[error("more than {MAX_RULES} eligibility rules")]
    TooMany,
    #[error("rule {index}: age range is empty or above {MAX_AGE_YEARS} years")]
    AgeRange { index: usize },
    #[error("rule {index}: list of comuni is empty or longer than {MAX_RULE_COMUNI}")]
    Comuni { index: usize },
    #[error("rule {index}: comune {code} is not in the territory")]
    ComuneOutsideTerritory { index: usize, code: IstatCode },
    #[error("rule {index}: ISEE ceiling must not be negative")]
    NegativeCeiling { index: usize },
    #[error("rule {index}: the same kind of rule appears twice")]
    Duplicate { index: usize },
}

impl EligibilityRules {
    /// Checks the rules on their own: ranges, sizes, no rule kind twice.
    pub fn new(rules: Vec<Rule>) -> Result<EligibilityRules, RulesError> {
        if rules.len() > MAX_RULES {
            return Err(RulesError::TooMany);
        }
        for (index, rule) in rules.iter().enumerate() {
            let earlier = rules.get(..index).unwrap_or_default();
            if earlier
                .iter()
                .any(|r| std::mem::discriminant(r) == std::mem::discriminant(rule))
            {
                return Err(RulesError::Duplicate { index });
            }
            let age_ok = |min: u8, max: u8| min <= max && max <= MAX_AGE_YEARS;
            let valid = match rule {
                Rule::ResidentIn { comuni } => {
                    if comuni.is_empty() || comuni.len() > MAX_RULE_COMUNI {
                        return Err(RulesError::Comuni { index });
                    }
                    true
                }
                Rule::BeneficiaryAge {
                    min_years,
                    max_years,
                } => {
                    (min_years.is_some() || max_years.is_some())
                        && age_ok(min_years.unwrap_or(0), max_years.unwrap_or(MAX_AGE_YEARS))
                }
                Rule::ChildAged {
                    min_years,
                    max_years,
                } => age_ok(*min_years, *max_years),
                Rule::FamilyMemberAged { min_years } => *min_years <= MAX_AGE_YEARS,
                Rule::IseeAtMost { ceiling } => {
                    if ceiling.is_negative() {
                        return Err(RulesError::NegativeCeiling { index });
                    }
                    true
                }
                _ => true,
            };
            if !valid {
                return Err(RulesError::AgeRange { index });
            }
        }
        Ok(EligibilityRules(rules))
    }

    /// No rules: everyone is eligible.
    pub fn open() -> EligibilityRules {
        EligibilityRules(Vec::new())
    }

    /// Checks that every comune the rules name belongs to the territory.
    pub fn check_territory(&self, territory: &Territory) -> Result<(), RulesError> {
        for (index, rule) in self.0.iter().enumerate() {
            if let Rule::ResidentIn { comuni } = rule
                && let Some(code) = comuni.iter().find(|code| !territory.contains(code))
            {
                return Err(RulesError::ComuneOutsideTerritory {
                    index,
                    code: code.clone(),
                });
            }
        }
        Ok(())
    }

    pub fn rules(&self) -> &[Rule] {
        &self.0
    }

    pub fn is_open(&self) -> bool {
        self.0.is_empty()
    }

    /// Evaluates the rules for a profile: every failed rule gives a reason; if none failed,
    /// every rule that needs an unknown fact names it.
    pub fn evaluate(&self, profile: &Profile, territory: &Territory) -> Decision {
        let mut reasons = Vec::new();
        let mut missing = Vec::new();
        for rule in &self.0 {
            match check_rule(rule, profile, territory) {
                Check::Holds => {}
                Check::Fails(reason) => reasons.push(reason),
                Check::Needs(fact) => {
                    if !missing.contains(&fact) {
                        missing.push(fact);
                    }
                }
            }
        }
        if !reasons.is_empty() {
            Decision::NotEligible { reasons }
        } else if !missing.is_empty() {
            Decision::Unknown { missing }
        } else {
            Decision::Eligible
        }
    }

    /// The facts these rules read: what a form should ask.
    pub fn facts_needed(&self) -> Vec<Fact> {
        let mut facts = Vec::new();
        for rule in &self.0 {
            let fact = rule_fact(rule);
            if !facts.contains(&fact) {
                facts.push(fact);
            }
        }
        facts
    }
}

impl TryFrom<Vec<Rule>> for EligibilityRules {
    type Error = RulesError;
    fn try_from(rules: Vec<Rule>) -> Result<EligibilityRules, RulesError> {
        EligibilityRules::new(rules)
    }
}

impl From<EligibilityRules> for Vec<Rule> {
    fn from(rules: EligibilityRules) -> Vec<Rule> {
        rules.0
    }
}

enum Check {
    Holds,
    Fails(Reason),
    Needs(Fact),
}

fn rule_fact(rule: &Rule) -> Fact {
    match rule {
        Rule::ResidentInTerritory | Rule::ResidentIn { .. } => Fact::Residence,
        Rule::BeneficiaryAge { .. } => Fact::BeneficiaryAge,
        Rule::IseeAtMost { .. } => Fact::Isee,
        Rule::RecognisedDisability => Fact::RecognisedDisability,
        Rule::NonSelfSufficient => Fact::NonSelfSufficiency,
        Rule::EmployeeOfParticipatingCompany => Fact::Employment,
        Rule::ChildAged { .. } => Fact::ChildrenAges,
        Rule::FamilyMemberAged { .. } => Fact::FamilyMemberAges,
    }
}

fn check_rule(rule: &Rule, profile: &Profile, territory: &Territory) -> Check {
    let holds = |ok: bool, reason: fn() -> Reason| {
        if ok {
            Check::Holds
        } else {
            Check::Fails(reason())
        }
    };
    let Some(check) = (match rule {
        Rule::ResidentInTerritory => profile.residence.as_ref().map(|code| {
            if territory.contains(code) {
                Check::Holds
            } else {
                Check::Fails(Reason::NotResidentInTerritory {
                    territory: territory.name().to_owned(),
                })
            }
        }),
        Rule::ResidentIn { comuni } => profile.residence.as_ref().map(|code| {
            if comuni.contains(code) {
                Check::Holds
            } else {
                let names = comuni
                    .iter()
                    .map(|c| {
                        territory
                            .municipality(c)
                            .map_or_else(|| c.to_string(), |m| m.name.clone())
                    })
                    .collect();
                Check::Fails(Reason::ResidenceNotServed { comuni: names })
            }
        }),
        Rule::BeneficiaryAge {
            min_years,
            max_years,
        } => profile
            .beneficiary_age_years
            .map(|age| match (*min_years, *max_years) {
                (Some(min), _) if age < min => Check::Fails(Reason::AgeBelowMinimum {
                    min_years: min,
                    age_years: age,
                }),
                (_, Some(max)) if age > max => Check::Fails(Reason::AgeAboveMaximum {
                    max_years: max,
                    age_years: age,
                }),
                _ => Check::Holds,
            }),
        Rule::IseeAtMost { ceiling } => profile.isee.map(|isee| {
            if isee <= *ceiling {
                Check::Holds
            } else {
                Check::Fails(Reason::IseeAboveCeiling {
                    ceiling: *ceiling,
                    declared: isee,
                })
            }
        }),
        Rule::RecognisedDisability => profile
            .recognised_disability
            .map(|ok| holds(ok, || Reason::DisabilityRequired)),
        Rule::NonSelfSufficient => profile
            .non_self_sufficient
            .map(|ok| holds(ok, || Reason::NonSelfSufficiencyRequired)),
        Rule::EmployeeOfParticipatingCompany => profile
            .employee_of_participating_company
            .map(|ok| holds(ok, || Reason::NotParticipatingEmployee)),
        Rule::ChildAged {
            min_years,
            max_years,
        } => profile.children_ages_years.as_ref().map(|ages| {
            if ages
                .iter()
                .any(|age| (*min_years..=*max_years).contains(age))
            {
                Check::Holds
            } else {
                Check::Fails(Reason::NoChildInAgeRange {
                    min_years: *min_years,
                    max_years: *max_years,
                })
            }
        }),
        Rule::FamilyMemberAged { min_years } => {
            profile.family_member_ages_years.as_ref().map(|ages| {
                if ages.iter().any(|age| age >= min_years) {
                    Check::Holds
                } else {
                    Check::Fails(Reason::NoFamilyMemberAged {
                        min_years: *min_years,
                    })
                }
            })
        }
    }) else {
        return Check::Needs(rule_fact(rule));
    };
    check
}

/// The outcome of evaluating a listing's rules for a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Decision {
    Eligible,
    NotEligible { reasons: Vec<Reason> },
    Unknown { missing: Vec<Fact> },
}

impl Decision {
    pub fn is_eligible(&self) -> bool {
        matches!(self, Decision::Eligible)
    }

    /// Where a listing goes among equally relevant ones for the person: those they are
    /// eligible for first (0), then those they may be (1: facts missing), then the others (2).
    pub const fn precedence(&self) -> u8 {
        match self {
            Decision::Eligible => 0,
            Decision::Unknown { .. } => 1,
            Decision::NotEligible { .. } => 2,
        }
    }

    /// A stable code: `eligible`, `not_eligible`, `unknown`.
    pub fn code(&self) -> &'static str {
        match self {
            Decision::Eligible => "eligible",
            Decision::NotEligible { .. } => "not_eligible",
            Decision::Unknown { .. } => "unknown",
        }
    }
}

/// Why a person is not eligible: a stable code (the serde tag), its parameters, and a
/// message in Italian that says what the service requires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Reason {
    NotResidentInTerritory { territory: String },
    ResidenceNotServed { comuni: Vec<String> },
    AgeBelowMinimum { min_years: u8, age_years: u8 },
    AgeAboveMaximum { max_years: u8, age_years: u8 },
    IseeAboveCeiling { ceiling: Money, declared: Money },
    DisabilityRequired,
    NonSelfSufficiencyRequired,
    NotParticipatingEmployee,
    NoChildInAgeRange { min_years: u8, max_years: u8 },
    NoFamilyMemberAged { min_years: u8 },
}

impl Reason {
    /// The stable code clients translate from.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::NotResidentInTerritory { .. } => "not_resident_in_territory",
            Reason::ResidenceNotServed { .. } => "residence_not_served",
            Reason::AgeBelowMinimum { .. } => "age_below_minimum",
            Reason::AgeAboveMaximum { .. } => "age_above_maximum",
            Reason::IseeAboveCeiling { .. } => "isee_above_ceiling",
            Reason::DisabilityRequired => "disability_required",
            Reason::NonSelfSufficiencyRequired => "non_self_sufficiency_required",
            Reason::NotParticipatingEmployee => "not_participating_employee",
            Reason::NoChildInAgeRange { .. } => "no_child_in_age_range",
            Reason::NoFamilyMemberAged { .. } => "no_family_member_aged",
        }
    }

    /// The parameters, as name and printable value, for clients that translate the message.
    pub fn params(&self) -> Vec<(&'static str, String)> {
        match self {
            Reason::NotResidentInTerritory { territory } => vec![("territory", territory.clone())],
            Reason::ResidenceNotServed { comuni } => vec![("comuni", comuni.join(", "))],
            Reason::AgeBelowMinimum {
                min_years,
                age_years,
            } => {
                vec![
                    ("min_years", min_years.to_string()),
                    ("age_years", age_years.to_string()),
                ]
            }
            Reason::AgeAboveMaximum {
                max_years,
                age_years,
            } => {
                vec![
                    ("max_years", max_years.to_string()),
                    ("age_years", age_years.to_string()),
                ]
            }
            Reason::IseeAboveCeiling { ceiling, declared } => vec![
                ("ceiling_cents", ceiling.cents().to_string()),
                ("declared_cents", declared.cents().to_string()),
            ],
            Reason::NoChildInAgeRange {
                min_years,
                max_years,
            } => {
                vec![
                    ("min_years", min_years.to_string()),
                    ("max_years", max_years.to_string()),
                ]
            }
            Reason::NoFamilyMemberAged { min_years } => vec![("min_years", min_years.to_string())],
            Reason::DisabilityRequired
            | Reason::NonSelfSufficiencyRequired
            | Reason::NotParticipatingEmployee => Vec::new(),
        }
    }

    /// The message a citizen reads, in Italian.
    pub fn message_it(&self) -> String {
        match self {
            Reason::NotResidentInTerritory { territory } => {
                format!("Il servizio è riservato ai residenti dei comuni dell'{territory}.")
            }
            Reason::ResidenceNotServed { comuni } => {
                format!(
                    "Il servizio è riservato ai residenti di: {}.",
                    comuni.join(", ")
                )
            }
            Reason::AgeBelowMinimum {
                min_years,
                age_years,
            } => format!(
                "Il servizio è rivolto a persone di almeno {min_years} anni (età indicata: {age_years})."
            ),
            Reason::AgeAboveMaximum {
                max_years,
                age_years,
            } => format!(
                "Il servizio è rivolto a persone fino a {max_years} anni (età indicata: {age_years})."
            ),
            Reason::IseeAboveCeiling { ceiling, declared } => format!(
                "Il servizio è riservato a chi ha un ISEE fino a {ceiling}; l'ISEE indicato è {declared}."
            ),
            Reason::DisabilityRequired => "Il servizio è riservato a persone con disabilità \
                riconosciuta ai sensi della L. 104/1992."
                .to_owned(),
            Reason::NonSelfSufficiencyRequired => {
                "Il servizio è riservato a persone non autosufficienti.".to_owned()
            }
            Reason::NotParticipatingEmployee => "Il servizio è riservato ai dipendenti delle \
                imprese aderenti a LodiWelfare."
                .to_owned(),
            Reason::NoChildInAgeRange {
                min_years,
                max_years,
            } => format!(
                "Il servizio è rivolto a famiglie con un figlio tra {min_years} e {max_years} anni."
            ),
            Reason::NoFamilyMemberAged { min_years } => format!(
                "Il servizio è rivolto a chi assiste un familiare di almeno {min_years} anni."
            ),
        }
    }
}

/// A fact the decision needs and the profile lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fact {
    Residence,
    BeneficiaryAge,
    Isee,
    RecognisedDisability,
    NonSelfSufficiency,
    Employment,
    ChildrenAges,
    FamilyMemberAges,
}

impl Fact {
    pub const fn code(self) -> &'static str {
        match self {
            Fact::Residence => "residence",
            Fact::BeneficiaryAge => "beneficiary_age",
            Fact::Isee => "isee",
            Fact::RecognisedDisability => "recognised_disability",
            Fact::NonSelfSufficiency => "non_self_sufficiency",
            Fact::Employment => "employment",
            Fact::ChildrenAges => "children_ages",
            Fact::FamilyMemberAges => "family_member_ages",
        }
    }

    /// What to ask the person, in Italian.
    pub const fn question_it(self) -> &'static str {
        match self {
            Fact::Residence => "In quale comune risiedi?",
            Fact::BeneficiaryAge => "Quanti anni ha la persona che riceve il servizio?",
            Fact::Isee => "Qual è il valore del tuo ISEE?",
            Fact::RecognisedDisability => {
                "La persona ha una disabilità riconosciuta (L. 104/1992)?"
            }
            Fact::NonSelfSufficiency => "La persona è non autosufficiente?",
            Fact::Employment => "Lavori per un'impresa aderente a LodiWelfare?",
            Fact::ChildrenAges => "Quanti anni hanno i tuoi figli?",
            Fact::FamilyMemberAges => "Quanti anni hanno i familiari che assisti?",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lodi() -> IstatCode {
        IstatCode::parse("098031").expect("Lodi")
    }

    fn codogno() -> IstatCode {
        IstatCode::parse("098019").expect("Codogno")
    }

    fn euros(value: i64) -> Money {
        Money::from_euros(value).expect("in range")
    }

    #[test]
    fn rules_read_as_italian_requirements() {
        let territory = Territory::lodi();
        let rules = [
            Rule::ResidentInTerritory,
            Rule::ResidentIn {
                comuni: vec![lodi(), codogno()],
            },
            Rule::BeneficiaryAge {
                min_years: Some(65),
                max_years: None,
            },
            Rule::IseeAtMost {
                ceiling: euros(20_000),
            },
        ];
        let texts: Vec<String> = rules.iter().map(|r| r.description_it(&territory)).collect();
        assert_eq!(texts[0], "Residenza in un comune dell'Ambito di Lodi");
        assert_eq!(texts[1], "Residenza a Lodi, Codogno");
        assert_eq!(texts[2], "Età di almeno 65 anni");
        assert_eq!(texts[3], "ISEE fino a € 20.000,00");
        assert_eq!(rules[3].code(), "isee_at_most");
    }

    #[test]
    fn an_open_listing_welcomes_everyone() {
        let territory = Territory::lodi();
        assert_eq!(
            EligibilityRules::open().evaluate(&Profile::new(), &territory),
            Decision::Eligible
        );
    }

    #[test]
    fn says_which_facts_are_missing() {
        let territory = Territory::lodi();
        let rules = EligibilityRules::new(vec![
            Rule::ResidentInTerritory,
            Rule::IseeAtMost {
                ceiling: euros(15_000),
            },
        ])
        .expect("valid");
        let decision = rules.evaluate(&Profile::new().resident_in(lodi()), &territory);
        assert_eq!(
            decision,
            Decision::Unknown {
                missing: vec![Fact::Isee]
            }
        );
    }

    #[test]
    fn explains_each_failed_rule_in_italian() {
        let territory = Territory::lodi();
        let rules = EligibilityRules::new(vec![
            Rule::ResidentIn {
                comuni: vec![codogno()],
            },
            Rule::IseeAtMost {
                ceiling: euros(15_000),
            },
            Rule::BeneficiaryAge {
                min_years: Some(65),
                max_years: None,
            },
        ])
        .expect("valid");
        let profile = Profile::new()
            .resident_in(lodi())
            .with_isee(euros(18_000))
            .aged(70);
        let Decision::NotEligible { reasons } = rules.evaluate(&profile, &territory) else {
            panic!("expected not eligible");
        };
        let codes: Vec<_> = reasons.iter().map(Reason::code).collect();
        assert_eq!(codes, ["residence_not_served", "isee_above_ceiling"]);
        assert_eq!(
            reasons.get(1).map(Reason::message_it).as_deref(),
            Some(
                "Il servizio è riservato a chi ha un ISEE fino a € 15.000,00; l'ISEE indicato è € 18.000,00."
            )
        );
        assert!(
            reasons
                .first()
                .map(Reason::message_it)
                .unwrap_or_default()
                .contains("Codogno")
        );
    }

    #[test]
    fn family_rules_look_at_the_household() {
        let territory = Territory::lodi();
        let nido = EligibilityRules::new(vec![Rule::ChildAged {
            min_years: 0,
            max_years: 3,
        }])
        .expect("valid");
        let elderly = EligibilityRules::new(vec![Rule::FamilyMemberAged {
            min_years: ELDERLY_AGE_YEARS,
        }])
        .expect("valid");
        assert!(
            nido.evaluate(&Profile::new().with_children_aged(vec![7, 2]), &territory)
                .is_eligible()
        );
        assert!(
            !nido
                .evaluate(&Profile::new().with_children_aged(vec![]), &territory)
                .is_eligible()
        );
        assert!(
            elderly
                .evaluate(
                    &Profile::new().with_family_members_aged(vec![80]),
                    &territory
                )
                .is_eligible()
        );
    }

    #[test]
    fn refuses_inconsistent_rules() {
        let territory = Territory::lodi();
        assert_eq!(
            EligibilityRules::new(vec![Rule::ChildAged {
                min_years: 6,
                max_years: 3
            }]),
            Err(RulesError::AgeRange { index: 0 })
        );
        assert_eq!(
            EligibilityRules::new(vec![Rule::ResidentInTerritory, Rule::ResidentInTerritory]),
            Err(RulesError::Duplicate { index: 1 })
        );
        assert_eq!(
            EligibilityRules::new(vec![Rule::ResidentIn { comuni: vec![] }]),
            Err(RulesError::Comuni { index: 0 })
        );
        let milano = IstatCode::parse("015146").expect("code");
        let rules = EligibilityRules::new(vec![Rule::ResidentIn {
            comuni: vec![milano],
        }])
        .expect("shape ok");
        assert!(matches!(
            rules.check_territory(&territory),
            Err(RulesError::ComuneOutsideTerritory { .. })
        ));
        assert!(
            serde_json::from_str::<EligibilityRules>(
                r#"[{"rule":"child_aged","min_years":9,"max_years":1}]"#
            )
            .is_err()
        );
    }

    #[test]
    fn reasons_keep_their_code_in_json() {
        let reason = Reason::NoFamilyMemberAged { min_years: 75 };
        let json = serde_json::to_value(&reason).expect("json");
        assert_eq!(json["code"], "no_family_member_aged");
        assert_eq!(json["code"], reason.code());
        let back: Reason = serde_json::from_value(json).expect("back");
        assert_eq!(back, reason);
    }
}
