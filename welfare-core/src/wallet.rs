//! Wallet rules: which company plan may pay for what, the art. 51 c.3 fringe-benefit ceiling,
//! expiry and carry-over. The ledger that applies them lives in `wallet-svc`.

use serde::{Deserialize, Serialize};

use crate::category::{Category, TaxLetter};
use crate::money::Money;
use crate::time::Date;

/// The earliest and latest plan years accepted.
pub const MIN_PLAN_YEAR: i32 = 2020;
pub const MAX_PLAN_YEAR: i32 = 2100;
/// The ordinary fringe-benefit ceiling (art. 51 c.3 TUIR): € 258,23.
pub const ORDINARY_FRINGE_CEILING_CENTS: i64 = 25_823;

/// The tax regime of a company plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Regime {
    /// Services under art. 51 c.2 (letters f, f-bis, f-ter): exempt, no ceiling.
    Art51C2Services,
    /// Fringe benefits under art. 51 c.3: exempt up to the yearly ceiling, and wholly taxable
    /// beyond it.
    Art51C3FringeBenefit,
}

impl Regime {
    pub const ALL: [Regime; 2] = [Regime::Art51C2Services, Regime::Art51C3FringeBenefit];

    /// The regime with this code (`art51_c2`, `art51_c3`).
    pub fn from_code(code: &str) -> Option<Regime> {
        Regime::ALL.into_iter().find(|regime| regime.code() == code)
    }

    pub const fn code(self) -> &'static str {
        match self {
            Regime::Art51C2Services => "art51_c2",
            Regime::Art51C3FringeBenefit => "art51_c3",
        }
    }
}

/// What happens to a wallet's balance when the plan expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CarryOver {
    /// The balance goes back to the company.
    None,
    /// The balance (up to `max`, if set) moves to the next year's wallet; the rest goes back.
    NextYear { max: Option<Money> },
}

/// A company plan's rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawPlanRules", into = "RawPlanRules")]
pub struct PlanRules {
    year: i32,
    allowance_per_employee: Money,
    allowed_categories: Vec<Category>,
    regime: Regime,
    expires_on: Date,
    carry_over: CarryOver,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlanRules {
    year: i32,
    allowance_per_employee: Money,
    allowed_categories: Vec<Category>,
    regime: Regime,
    expires_on: Date,
    carry_over: CarryOver,
}

/// An inconsistent plan, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("year: must be {MIN_PLAN_YEAR} to {MAX_PLAN_YEAR}")]
    Year,
    #[error("allowance_per_employee: must be positive")]
    Allowance,
    #[error("allowed_categories: at least one category, each once")]
    Categories,
    #[error("expires_on: must fall between the start of the plan year and the end of the next")]
    Expiry,
    #[error("carry_over: a maximum must be positive")]
    CarryOverMax,
    #[error("allowance_per_employee: above the fringe-benefit ceiling of {ceiling} for {year}")]
    AboveCeiling { year: i32, ceiling: Money },
}

impl PlanRules {
    pub fn new(
        year: i32,
        allowance_per_employee: Money,
        allowed_categories: Vec<Category>,
        regime: Regime,
        expires_on: Date,
        carry_over: CarryOver,
    ) -> Result<PlanRules, PlanError> {
        if !(MIN_PLAN_YEAR..=MAX_PLAN_YEAR).contains(&year) {
            return Err(PlanError::Year);
        }
        if !allowance_per_employee.is_positive() {
            return Err(PlanError::Allowance);
        }
        let duplicated = allowed_categories
            .iter()
            .enumerate()
            .any(|(i, c)| allowed_categories.iter().skip(i + 1).any(|d| d == c));
        if allowed_categories.is_empty() || duplicated {
            return Err(PlanError::Categories);
        }
        if expires_on.year() < year || expires_on.year() > year + 1 {
            return Err(PlanError::Expiry);
        }
        if let CarryOver::NextYear { max: Some(max) } = carry_over
            && !max.is_positive()
        {
            return Err(PlanError::CarryOverMax);
        }
        if regime == Regime::Art51C3FringeBenefit {
            // A plan whose allowance alone crosses even the higher ceiling can never be spent.
            let ceiling = fringe_benefit_ceiling(year, true);
            if allowance_per_employee > ceiling {
                return Err(PlanError::AboveCeiling { year, ceiling });
            }
        }
        Ok(PlanRules {
            year,
            allowance_per_employee,
            allowed_categories,
            regime,
            expires_on,
            carry_over,
        })
    }

    pub fn year(&self) -> i32 {
        self.year
    }

    pub fn allowance_per_employee(&self) -> Money {
        self.allowance_per_employee
    }

    pub fn allowed_categories(&self) -> &[Category] {
        &self.allowed_categories
    }

    pub fn regime(&self) -> Regime {
        self.regime
    }

    pub fn expires_on(&self) -> Date {
        self.expires_on
    }

    pub fn carry_over(&self) -> CarryOver {
        self.carry_over
    }

    pub fn covers(&self, category: Category) -> bool {
        self.allowed_categories.contains(&category)
    }

    /// Whether the plan has expired on `today` (it is usable through `expires_on`).
    pub fn is_expired(&self, today: Date) -> bool {
        today > self.expires_on
    }
}

impl TryFrom<RawPlanRules> for PlanRules {
    type Error = PlanError;
    fn try_from(raw: RawPlanRules) -> Result<PlanRules, PlanError> {
        PlanRules::new(
            raw.year,
            raw.allowance_per_employee,
            raw.allowed_categories,
            raw.regime,
            raw.expires_on,
            raw.carry_over,
        )
    }
}

impl From<PlanRules> for RawPlanRules {
    fn from(plan: PlanRules) -> RawPlanRules {
        RawPlanRules {
            year: plan.year,
            allowance_per_employee: plan.allowance_per_employee,
            allowed_categories: plan.allowed_categories,
            regime: plan.regime,
            expires_on: plan.expires_on,
            carry_over: plan.carry_over,
        }
    }
}

/// The art. 51 c.3 ceiling for a tax year: € 1.000, or € 2.000 for employees with dependent
/// children, in 2024–2027 (Leggi di bilancio 2024 and 2025); € 258,23 in other years.
pub fn fringe_benefit_ceiling(year: i32, has_dependent_children: bool) -> Money {
    let cents = match (year, has_dependent_children) {
        (2024..=2027, true) => 200_000,
        (2024..=2027, false) => 100_000,
        _ => ORDINARY_FRINGE_CEILING_CENTS,
    };
    Money::from_cents(cents).unwrap_or(Money::ZERO)
}

/// How a spend is treated for tax, for the employee's yearly report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TaxTreatment {
    /// Exempt service under art. 51 c.2, by letter.
    Services { letter: TaxLetter },
    /// Fringe benefit under art. 51 c.3, within the ceiling.
    FringeBenefit,
}

/// What is known of an employee's fringe benefits this year, across all of the employer's c.3
/// plans (and any other c.3 benefit payroll reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FringeBenefitUsage {
    pub used_this_year: Money,
    pub has_dependent_children: bool,
}

/// Why a spend from a wallet is refused; `code()` is the stable reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpendRefusal {
    #[error("the amount must be positive")]
    NonPositiveAmount,
    #[error("the plan does not cover the category {0}")]
    CategoryNotCovered(Category),
    #[error("the plan expired on {0}")]
    PlanExpired(Date),
    #[error(
        "the spend of {requested} would cross the fringe-benefit ceiling of {ceiling} ({used} already used), making the whole amount taxable"
    )]
    CeilingExceeded {
        ceiling: Money,
        used: Money,
        requested: Money,
    },
    #[error("the c.3 usage must be known to spend from a fringe-benefit plan")]
    UsageUnknown,
}

impl SpendRefusal {
    pub const fn code(&self) -> &'static str {
        match self {
            SpendRefusal::NonPositiveAmount => "NON_POSITIVE_AMOUNT",
            SpendRefusal::CategoryNotCovered(_) => "CATEGORY_NOT_COVERED",
            SpendRefusal::PlanExpired(_) => "PLAN_EXPIRED",
            SpendRefusal::CeilingExceeded { .. } => "FRINGE_BENEFIT_CEILING",
            SpendRefusal::UsageUnknown => "FRINGE_BENEFIT_USAGE_UNKNOWN",
        }
    }

    /// The message an employee reads, in Italian.
    pub fn message_it(&self) -> String {
        match self {
            SpendRefusal::NonPositiveAmount => "L'importo deve essere maggiore di zero.".to_owned(),
            SpendRefusal::CategoryNotCovered(category) => format!(
                "Il piano welfare della tua azienda non copre la categoria «{}».",
                category.label_it()
            ),
            SpendRefusal::PlanExpired(date) => {
                format!(
                    "Il piano welfare è scaduto il {:02}/{:02}/{}.",
                    date.day(),
                    date.month(),
                    date.year()
                )
            }
            SpendRefusal::CeilingExceeded {
                ceiling,
                used,
                requested,
            } => format!(
                "La spesa di {requested} supererebbe il limite annuo dei fringe benefit di {ceiling} \
                 (già utilizzati {used}): oltre il limite l'intero importo diventa tassabile."
            ),
            SpendRefusal::UsageUnknown => {
                "Non è possibile verificare il limite annuo dei fringe benefit.".to_owned()
            }
        }
    }
}

/// Decides whether a wallet of `plan` may pay `amount` for a service of `category` (taxed by
/// default under `letter`) on `today`. A fringe-benefit plan refuses any spend that would take
/// the year's total past the ceiling: crossing it would make the whole amount taxable.
pub fn check_spend(
    plan: &PlanRules,
    category: Category,
    letter: TaxLetter,
    amount: Money,
    today: Date,
    usage: Option<FringeBenefitUsage>,
) -> Result<TaxTreatment, SpendRefusal> {
    if !amount.is_positive() {
        return Err(SpendRefusal::NonPositiveAmount);
    }
    if !plan.covers(category) {
        return Err(SpendRefusal::CategoryNotCovered(category));
    }
    if plan.is_expired(today) {
        return Err(SpendRefusal::PlanExpired(plan.expires_on));
    }
    match plan.regime {
        Regime::Art51C2Services => Ok(TaxTreatment::Services { letter }),
        Regime::Art51C3FringeBenefit => {
            let usage = usage.ok_or(SpendRefusal::UsageUnknown)?;
            let ceiling = fringe_benefit_ceiling(plan.year, usage.has_dependent_children);
            let after = usage.used_this_year.checked_add(amount);
            match after {
                Ok(after) if after <= ceiling => Ok(TaxTreatment::FringeBenefit),
                _ => Err(SpendRefusal::CeilingExceeded {
                    ceiling,
                    used: usage.used_this_year,
                    requested: amount,
                }),
            }
        }
    }
}

/// How a wallet's remaining balance is settled when its plan expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct YearEnd {
    /// Moved to the employee's wallet for the next year.
    pub carried_over: Money,
    /// Returned to the company.
    pub returned: Money,
}

/// Splits an expiring balance between carry-over and return, per the plan.
/// `carried_over + returned = balance` for every non-negative balance.
pub fn settle_year_end(plan: &PlanRules, balance: Money) -> YearEnd {
    settle_year_end_after(plan, balance, Money::ZERO)
}

/// [`settle_year_end`] of credit found in a wallet after its plan was already settled once
/// (a hold pending at the settlement was released or expired later, or a capture refunded):
/// `already_carried` was carried over before and counts against the carry-over maximum.
pub fn settle_year_end_after(plan: &PlanRules, balance: Money, already_carried: Money) -> YearEnd {
    let balance = balance.max(Money::ZERO);
    let carried_over = match plan.carry_over {
        CarryOver::None => Money::ZERO,
        CarryOver::NextYear { max: None } => balance,
        CarryOver::NextYear { max: Some(max) } => {
            let room = max.checked_sub(already_carried).unwrap_or(Money::ZERO);
            balance.min(room.max(Money::ZERO))
        }
    };
    YearEnd {
        carried_over,
        returned: balance.checked_sub(carried_over).unwrap_or(Money::ZERO),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn euros(value: i64) -> Money {
        Money::from_euros(value).expect("in range")
    }

    fn date(text: &str) -> Date {
        text.parse().expect("valid date")
    }

    fn plan(regime: Regime, allowance: i64, carry_over: CarryOver) -> PlanRules {
        PlanRules::new(
            2026,
            euros(allowance),
            vec![Category::CuraFigli, Category::SocioAssistenziale],
            regime,
            date("2026-12-31"),
            carry_over,
        )
        .expect("valid plan")
    }

    #[test]
    fn credit_settled_late_carries_over_only_what_the_maximum_has_room_for() {
        let capped = plan(
            Regime::Art51C2Services,
            500,
            CarryOver::NextYear {
                max: Some(euros(100)),
            },
        );
        let late = settle_year_end_after(&capped, euros(80), euros(60));
        assert_eq!(late.carried_over, euros(40));
        assert_eq!(late.returned, euros(40));
        let full = settle_year_end_after(&capped, euros(30), euros(100));
        assert_eq!((full.carried_over, full.returned), (Money::ZERO, euros(30)));
        let unlimited = plan(
            Regime::Art51C2Services,
            500,
            CarryOver::NextYear { max: None },
        );
        assert_eq!(
            settle_year_end_after(&unlimited, euros(30), euros(1_000)).carried_over,
            euros(30)
        );
        assert_eq!(
            settle_year_end(&capped, euros(150)),
            settle_year_end_after(&capped, euros(150), Money::ZERO)
        );
    }

    #[test]
    fn the_ceiling_depends_on_the_year_and_children() {
        assert_eq!(fringe_benefit_ceiling(2025, false), euros(1_000));
        assert_eq!(fringe_benefit_ceiling(2027, true), euros(2_000));
        assert_eq!(fringe_benefit_ceiling(2028, true).cents(), 25_823);
        assert_eq!(fringe_benefit_ceiling(2023, false).cents(), 25_823);
    }

    #[test]
    fn a_spend_that_would_cross_the_ceiling_is_refused() {
        let c3 = plan(Regime::Art51C3FringeBenefit, 1_000, CarryOver::None);
        let usage = FringeBenefitUsage {
            used_this_year: euros(900),
            has_dependent_children: false,
        };
        let today = date("2026-06-01");
        assert_eq!(
            check_spend(
                &c3,
                Category::CuraFigli,
                TaxLetter::FBis,
                euros(100),
                today,
                Some(usage)
            ),
            Ok(TaxTreatment::FringeBenefit)
        );
        let refused = check_spend(
            &c3,
            Category::CuraFigli,
            TaxLetter::FBis,
            euros(101),
            today,
            Some(usage),
        );
        assert!(matches!(refused, Err(SpendRefusal::CeilingExceeded { .. })));
        let with_children = FringeBenefitUsage {
            has_dependent_children: true,
            ..usage
        };
        assert!(
            check_spend(
                &c3,
                Category::CuraFigli,
                TaxLetter::FBis,
                euros(101),
                today,
                Some(with_children)
            )
            .is_ok()
        );
        assert_eq!(
            check_spend(
                &c3,
                Category::CuraFigli,
                TaxLetter::FBis,
                euros(1),
                today,
                None
            ),
            Err(SpendRefusal::UsageUnknown)
        );
    }

    #[test]
    fn plans_pay_only_for_their_categories_and_until_expiry() {
        let c2 = plan(Regime::Art51C2Services, 500, CarryOver::None);
        let today = date("2026-06-01");
        assert_eq!(
            check_spend(
                &c2,
                Category::CuraFigli,
                TaxLetter::FBis,
                euros(100),
                today,
                None
            ),
            Ok(TaxTreatment::Services {
                letter: TaxLetter::FBis
            })
        );
        let refused = check_spend(
            &c2,
            Category::Psicologico,
            TaxLetter::F,
            euros(1),
            today,
            None,
        )
        .expect_err("not covered");
        assert_eq!(refused.code(), "CATEGORY_NOT_COVERED");
        assert!(refused.message_it().contains("Servizi psicologici"));
        assert!(matches!(
            check_spend(
                &c2,
                Category::CuraFigli,
                TaxLetter::FBis,
                euros(1),
                date("2027-01-01"),
                None
            ),
            Err(SpendRefusal::PlanExpired(_))
        ));
    }

    #[test]
    fn year_end_splits_the_balance() {
        let capped = plan(
            Regime::Art51C2Services,
            500,
            CarryOver::NextYear {
                max: Some(euros(100)),
            },
        );
        assert_eq!(
            settle_year_end(&capped, euros(250)),
            YearEnd {
                carried_over: euros(100),
                returned: euros(150)
            }
        );
        let none = plan(Regime::Art51C2Services, 500, CarryOver::None);
        assert_eq!(
            settle_year_end(&none, euros(250)),
            YearEnd {
                carried_over: Money::ZERO,
                returned: euros(250)
            }
        );
    }

    #[test]
    fn refuses_plans_that_make_no_sense() {
        let make = |year, allowance: i64, categories: Vec<Category>, expires: &str| {
            PlanRules::new(
                year,
                euros(allowance),
                categories,
                Regime::Art51C2Services,
                date(expires),
                CarryOver::None,
            )
        };
        assert_eq!(
            make(2019, 100, vec![Category::Trasporto], "2019-12-31"),
            Err(PlanError::Year)
        );
        assert_eq!(
            make(2026, 0, vec![Category::Trasporto], "2026-12-31"),
            Err(PlanError::Allowance)
        );
        assert_eq!(
            make(2026, 100, vec![], "2026-12-31"),
            Err(PlanError::Categories)
        );
        assert_eq!(
            make(2026, 100, vec![Category::Trasporto; 2], "2026-12-31"),
            Err(PlanError::Categories)
        );
        assert_eq!(
            make(2026, 100, vec![Category::Trasporto], "2025-12-31"),
            Err(PlanError::Expiry)
        );
        let over = PlanRules::new(
            2026,
            euros(2_500),
            vec![Category::Trasporto],
            Regime::Art51C3FringeBenefit,
            date("2026-12-31"),
            CarryOver::None,
        );
        assert!(matches!(over, Err(PlanError::AboveCeiling { .. })));
    }
}
