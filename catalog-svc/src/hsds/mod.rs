//! The catalogue in Open Referral HSDS 3.0: the open-data export ([`export`]) and the import
//! of another directory's HSDS catalogue for curation ([`import`]).
//!
//! Both speak the same document: taxonomy terms (the six categories, their subcategories and
//! the LodiWelfare facts below), organizations, locations, then services. What HSDS has a field
//! for travels in that field (names, contacts, venues, schedules, cost options, service areas,
//! languages, ages); what it has none for — how a service is booked and reached, its structured
//! eligibility rules, its tariff with units and discounts, its cancellation policy, its
//! accessibility — travels as an HSDS `attribute` of the service, linked to a LodiWelfare
//! taxonomy term ([`Fact`]) with the fact as welfare-core's JSON in its `value`. A directory
//! that reads HSDS alone loses nothing it could show; LodiWelfare reading its own export back
//! loses nothing at all.

pub mod export;
pub mod import;

pub use export::{EXPORT_PAGE, Records, export};

use welfare_core::category::Category;
use welfare_core::listing::{Accessibility, Weekday};
use welfare_runtime::uuid::derived_uuid;

/// The name of the taxonomy LodiWelfare's terms belong to.
pub const TAXONOMY: &str = "LodiWelfare";

/// The identifier scheme of a third-sector body's RUNTS registration, in
/// `organization_identifiers`.
pub const RUNTS_SCHEME: &str = "IT-RUNTS";
/// The identifier scheme of a comune's ISTAT code, in `organization_identifiers`.
pub const ISTAT_SCHEME: &str = "IT-ISTAT";

/// The id of a category's taxonomy term.
pub fn category_term_id(category: Category) -> String {
    derived_uuid(TAXONOMY, category.code())
}

/// The id of a subcategory's taxonomy term.
pub fn subcategory_term_id(code: &str) -> String {
    derived_uuid(TAXONOMY, &format!("sub:{code}"))
}

/// The id of a need-lexicon situation's taxonomy term.
pub fn situation_term_id(code: &str) -> String {
    derived_uuid(TAXONOMY, &format!("situation:{code}"))
}

/// A fact of a listing HSDS has no field for, carried as an attribute of the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fact {
    BookingMode,
    Delivery,
    Eligibility,
    Pricing,
    CancellationPolicy,
    Accessibility,
}

impl Fact {
    pub const ALL: [Fact; 6] = [
        Fact::BookingMode,
        Fact::Delivery,
        Fact::Eligibility,
        Fact::Pricing,
        Fact::CancellationPolicy,
        Fact::Accessibility,
    ];

    /// The stable code of the fact, the `code` of its taxonomy term.
    pub const fn code(self) -> &'static str {
        match self {
            Fact::BookingMode => "booking_mode",
            Fact::Delivery => "delivery",
            Fact::Eligibility => "eligibility",
            Fact::Pricing => "pricing",
            Fact::CancellationPolicy => "cancellation_policy",
            Fact::Accessibility => "accessibility",
        }
    }

    pub const fn label_it(self) -> &'static str {
        match self {
            Fact::BookingMode => "Modalità di prenotazione",
            Fact::Delivery => "Modalità di erogazione",
            Fact::Eligibility => "Requisiti di accesso",
            Fact::Pricing => "Tariffa",
            Fact::CancellationPolicy => "Condizioni di disdetta",
            Fact::Accessibility => "Accessibilità",
        }
    }

    /// The id of the fact's taxonomy term.
    pub fn term_id(self) -> String {
        derived_uuid(TAXONOMY, &format!("fact:{}", self.code()))
    }
}

/// How the export describes an accessibility feature of a location.
pub fn accessibility_it(feature: Accessibility) -> &'static str {
    match feature {
        Accessibility::WheelchairAccess => "Accesso senza barriere per sedie a rotelle",
        Accessibility::AccessibleToilet => "Servizi igienici accessibili",
        Accessibility::HearingLoop => "Anello a induzione magnetica per persone con ipoacusia",
        Accessibility::SignLanguage => "Interpretariato in Lingua dei Segni Italiana (LIS)",
        Accessibility::EasyRead => "Materiali in linguaggio facile da leggere",
        Accessibility::AccessibleTransport => "Mezzi accessibili alle sedie a rotelle",
    }
}

/// The RFC 5545 code of a weekday, as HSDS schedules write it.
pub const fn weekday_code(day: Weekday) -> &'static str {
    match day {
        Weekday::Monday => "MO",
        Weekday::Tuesday => "TU",
        Weekday::Wednesday => "WE",
        Weekday::Thursday => "TH",
        Weekday::Friday => "FR",
        Weekday::Saturday => "SA",
        Weekday::Sunday => "SU",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use welfare_core::category::Subcategory;

    #[test]
    fn every_term_has_its_own_id() {
        let mut ids = HashSet::new();
        for category in Category::ALL {
            assert!(ids.insert(category_term_id(category)));
            for sub in category.subcategories() {
                assert!(ids.insert(subcategory_term_id(sub.code)));
            }
        }
        for fact in Fact::ALL {
            assert!(ids.insert(fact.term_id()), "{}", fact.code());
        }
        assert_eq!(ids.len(), 6 + Subcategory::all().len() + Fact::ALL.len());
    }
}
