//! # welfare-core
//!
//! The domain of LodiWelfare, the territorial welfare platform of the Ambito di Lodi: every
//! decision the services make is computed here and merely applied by them, and the
//! consortium's web platform embeds this crate to compute eligibility and prices exactly as
//! the services do.
//!
//! The crate is pure: no I/O, no clock, no async. Functions that depend on time take the
//! reading of the caller's clock. Public functions do not panic on any input; every fallible
//! step returns a typed error. Money is integer euro cents ([`Money`]); texts a citizen reads
//! are in Italian and each carries a stable code so that clients can translate.
//!
//! | module | what it decides |
//! |---|---|
//! | [`money`] | amounts, checked arithmetic, Italian parsing and formatting |
//! | [`territory`] | the comuni of an Ambito, name lookup, distances |
//! | [`category`] | the six categories, subcategories, synonyms, TUIR letters |
//! | [`provider`] | provider kinds, tax code and VAT number checks, vetting |
//! | [`contact`] | e-mail addresses, phone numbers and websites, parsed once |
//! | [`listing`] | listing content and validation, curation workflow, freshness |
//! | [`eligibility`] | rules, profiles, decisions with reasons |
//! | [`pricing`] | free, fixed and ISEE-band prices, resident discount, quotes |
//! | [`booking`] | the booking state machine and the cancellation policy |
//! | [`availability`] | booking modes, the slots a provider may open, a booking's deadlines |
//! | [`wallet`] | plan coverage, the fringe-benefit ceiling, year-end settlement |
//! | [`auth`] | `authorize(principal, action, resource)` |
//! | [`query`] | a comune and an age read out of a search query |
//! | [`need`] | situations people describe → the services that answer them |
//! | [`local_words`] | curators' own words for services and situations, checked |
//!
//! ## What the consortium's platform writes
//!
//! ```
//! use welfare_core::prelude::*;
//!
//! let territory = Territory::lodi();
//! let codogno = territory.find_by_name("codogno").expect("a comune of the Ambito");
//!
//! // A home-care service for residents over 65 with ISEE up to € 20.000, priced by ISEE band,
//! // 10% off for residents of the Ambito.
//! let pricing = Pricing::new(
//!     PriceModel::IseeBands {
//!         unit: Unit::Hour,
//!         bands: IseeBands::new(vec![
//!             IseeBand { isee_up_to: Some("8.000".parse()?), amount: "6,00".parse()? },
//!             IseeBand { isee_up_to: Some("15.000".parse()?), amount: "12,00".parse()? },
//!             IseeBand { isee_up_to: None, amount: "19,50".parse()? },
//!         ])?,
//!     },
//!     Some(BasisPoints::new(1_000)?),
//! )?;
//! let rules = EligibilityRules::new(vec![
//!     Rule::ResidentInTerritory,
//!     Rule::BeneficiaryAge { min_years: Some(65), max_years: None },
//!     Rule::IseeAtMost { ceiling: "20.000".parse()? },
//! ])?;
//!
//! // The person: 78 years old, living in Codogno, ISEE € 11.500.
//! let profile = Profile::new()
//!     .resident_in(codogno.istat_code.clone())
//!     .aged(78)
//!     .with_isee("11.500".parse()?);
//!
//! match rules.evaluate(&profile, &territory) {
//!     Decision::Eligible => println!("Puoi accedere al servizio."),
//!     Decision::NotEligible { reasons } => {
//!         for reason in &reasons {
//!             println!("[{}] {}", reason.code(), reason.message_it());
//!         }
//!     }
//!     Decision::Unknown { missing } => {
//!         for fact in &missing {
//!             println!("{}", fact.question_it());
//!         }
//!     }
//! }
//!
//! // Ten hours, with € 50,00 of welfare credit available.
//! let quote = pricing.quote(&profile, 10, &territory, "50".parse()?)?;
//! for (label, amount) in quote.summary_it() {
//!     println!("{label:<50} {amount:>12}");
//! }
//! assert_eq!(quote.total.to_string(), "€ 108,00");
//! assert_eq!(quote.due_from_family.to_string(), "€ 58,00");
//!
//! // A younger person with a higher ISEE learns why, and what would change the answer.
//! let other = Profile::new().resident_in(codogno.istat_code.clone()).aged(40).with_isee("25.000".parse()?);
//! let Decision::NotEligible { reasons } = rules.evaluate(&other, &territory) else { unreachable!() };
//! assert_eq!(reasons[0].code(), "age_below_minimum");
//! assert_eq!(
//!     reasons[1].message_it(),
//!     "Il servizio è riservato a chi ha un ISEE fino a € 20.000,00; l'ISEE indicato è € 25.000,00."
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

pub mod assess;
pub mod auth;
pub mod availability;
pub mod booking;
pub mod category;
pub mod contact;
pub mod eligibility;
pub mod ids;
pub mod listing;
pub mod local_words;
pub mod money;
pub mod need;
pub mod pricing;
pub mod provider;
pub mod query;
pub mod spelling;
pub mod territory;
pub mod text;
pub mod time;
pub mod wallet;

pub use money::Money;

/// The names an embedding application usually needs, in one import.
pub mod prelude {
    pub use crate::assess::{Assessment, assess};
    pub use crate::auth::{Action, Denied, Principal, Resource, Role, authorize};
    pub use crate::booking::{
        BookingAction, BookingActor, BookingFacts, BookingStatus, CancellationPolicy, LateFee,
        Transition, decide, decide_reschedule,
    };
    pub use crate::category::{Category, Subcategory, TaxLetter};
    pub use crate::eligibility::{Decision, EligibilityRules, Fact, Profile, Reason, Rule};
    pub use crate::ids::{BookingId, CompanyId, ListingId, PersonId, PlanId, ProviderId};
    pub use crate::listing::{
        BookingMode, CurationAction, Delivery, Listing, ListingContent, ListingStatus,
    };
    pub use crate::money::{BasisPoints, Money};
    pub use crate::pricing::{IseeBand, IseeBands, PriceModel, Pricing, Quote, Unit};
    pub use crate::provider::{
        PersonalTaxCode, Provider, ProviderKind, ProviderStatus, TaxId, VatNumber,
    };
    pub use crate::territory::{GeoPoint, IstatCode, Municipality, Territory};
    pub use crate::time::{Date, Timestamp};
    pub use crate::wallet::{CarryOver, PlanRules, Regime, check_spend, fringe_benefit_ceiling};
}
