//! One call for what a person wants to know of a listing: may I use it, and what will it cost me.

use serde::{Deserialize, Serialize};

use crate::eligibility::{Decision, Profile};
use crate::listing::ListingContent;
use crate::money::Money;
use crate::pricing::{PricingError, Quote};
use crate::territory::Territory;

/// The eligibility decision and the quote of one listing for one profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assessment {
    pub decision: Decision,
    pub quote: Quote,
}

/// Evaluates a listing's rules and quotes `quantity` units for a profile. The quote is given
/// whatever the decision, so people can see the price of what they are not yet eligible for.
pub fn assess(
    listing: &ListingContent,
    profile: &Profile,
    quantity: u32,
    territory: &Territory,
    wallet_available: Money,
) -> Result<Assessment, PricingError> {
    Ok(Assessment {
        decision: listing.eligibility.evaluate(profile, territory),
        quote: listing
            .pricing
            .quote(profile, quantity, territory, wallet_available)?,
    })
}
