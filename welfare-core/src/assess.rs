//! One call for what a person wants to know of a listing: may I use it, and what will it cost me.

use crate::eligibility::{Decision, EligibilityRules, Profile};
use crate::money::Money;
use crate::pricing::{Pricing, PricingError, Quote};
use crate::territory::Territory;

/// The eligibility decision and the quote of one listing for one profile. The quote is its own
/// result: a price that cannot be quoted for this quantity still leaves the decision to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub decision: Decision,
    pub quote: Result<Quote, PricingError>,
}

/// Evaluates a listing's rules and quotes `quantity` units for a profile. The quote is given
/// whatever the decision, so people can see the price of what they are not yet eligible for.
pub fn assess(
    rules: &EligibilityRules,
    pricing: &Pricing,
    profile: &Profile,
    quantity: u32,
    territory: &Territory,
    wallet_available: Money,
) -> Assessment {
    Assessment {
        decision: rules.evaluate(profile, territory),
        quote: pricing.quote(profile, quantity, territory, wallet_available),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eligibility::Rule;
    use crate::pricing::{PriceModel, Unit};

    fn money(text: &str) -> Money {
        text.parse().expect("amount")
    }

    #[test]
    fn the_decision_and_the_quote_come_together_whatever_the_decision() {
        let territory = Territory::lodi();
        let codogno = territory.find_by_name("codogno").expect("comune");
        let rules = EligibilityRules::new(vec![Rule::BeneficiaryAge {
            min_years: Some(65),
            max_years: None,
        }])
        .expect("rules");
        let pricing = Pricing::new(
            PriceModel::Fixed {
                unit: Unit::Hour,
                amount: money("20,00"),
            },
            None,
        )
        .expect("pricing");
        let older = Profile::new()
            .resident_in(codogno.istat_code.clone())
            .aged(70);
        let younger = Profile::new()
            .resident_in(codogno.istat_code.clone())
            .aged(40);
        let yes = assess(&rules, &pricing, &older, 3, &territory, money("10"));
        assert_eq!(yes.decision, Decision::Eligible);
        let quote = yes.quote.expect("quoted");
        assert_eq!(quote.total, money("60"));
        assert_eq!(quote.due_from_family, money("50"));
        let no = assess(&rules, &pricing, &younger, 3, &territory, Money::ZERO);
        assert!(matches!(no.decision, Decision::NotEligible { .. }));
        assert_eq!(no.quote.expect("quoted all the same").total, money("60"));
    }
}
