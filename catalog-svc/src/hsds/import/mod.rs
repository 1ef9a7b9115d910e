//! Another directory's HSDS 3.0 catalogue, read for curation: the migration path for an Ambito
//! that already publishes one.
//!
//! The file is JSON Lines as [`export`](super::export) writes it, one
//! `{"record_type": …, "record": {…}}` a line. Reading it ([`read`]) either understands every
//! line or refuses the file as [`Malformed`], naming the line. Planning ([`plan`]) turns each
//! organization into a provider awaiting vetting and each service into a listing awaiting the
//! Ufficio di Piano's review (submitted), keeping the records' ids; a record that cannot become
//! one is a [`Refusal`] with its reason, and so are the services of a refused organization. A
//! record whose id the catalogue already has is counted, not imported again, so importing the
//! same file twice adds nothing. Applying ([`apply`]) writes the whole plan in one transaction.
//!
//! What HSDS has no field for comes from the LodiWelfare [`Fact`] attributes when the file
//! carries them (LodiWelfare's own export does); otherwise it is read from the standard fields
//! where they say it — one cost option (free, or a price "per ora", "per seduta"…), minimum
//! and maximum ages, a venue meaning the service is delivered there — and a service that says
//! too little is refused rather than guessed: no tariff, no way to reach people, no
//! subcategory. A foreign file's eligibility text, which no rule can be read from, is kept in
//! the description for the curator.

mod records;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::BufRead;

use serde_json::Value;
use welfare_core::ids::{ListingId, ProviderId};
use welfare_core::listing::{Listing, ListingStatus};
use welfare_core::provider::ProviderStatus;
use welfare_core::territory::Territory;
use welfare_core::time::Timestamp;

use crate::store::{
    CatalogStore, Change, ListingRecord, OutboxEvent, ProviderQuery, ProviderRecord,
    RecordedRequest, StoreError, Topic,
};
use records::{content, provider, text};

/// The most records one file may hold.
pub const MAX_RECORDS: usize = 200_000;
/// The longest line, in bytes.
pub const MAX_LINE_BYTES: usize = 1 << 20;
/// Who the changes an import writes are recorded as.
pub const IMPORT_PRINCIPAL: &str = "lodiwelfare import-hsds";

/// The record types of HSDS 3.0; those the import does not use are counted and left.
const HSDS_TYPES: [&str; 22] = [
    "accessibility",
    "address",
    "attribute",
    "contact",
    "cost_option",
    "funding",
    "language",
    "location",
    "meta_table_description",
    "metadata",
    "organization",
    "organization_identifier",
    "phone",
    "program",
    "required_document",
    "schedule",
    "service",
    "service_area",
    "service_at_location",
    "taxonomy",
    "taxonomy_term",
    "service_capacity",
];

/// The file is not HSDS JSON Lines: nothing of it is imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct Malformed {
    /// 1-based; 0 for the file as a whole.
    pub line: usize,
    pub problem: String,
}

/// A record that cannot be imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub line: usize,
    pub record_type: &'static str,
    /// The record's id as the file gives it (empty when it has none).
    pub id: String,
    pub name: String,
    pub reason: String,
}

impl Refusal {
    fn of(line: &Line, record_type: &'static str, reason: String) -> Refusal {
        Refusal {
            line: line.number,
            record_type,
            id: text(&line.record, "id").to_owned(),
            name: text(&line.record, "name").to_owned(),
            reason,
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {} {}", self.line, self.record_type, self.id)?;
        if !self.name.is_empty() {
            write!(f, " ({:?})", self.name)?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// One line of the file.
#[derive(Debug, Clone)]
struct Line {
    number: usize,
    record: Value,
    /// The line as read, recorded with the change it makes.
    text: String,
}

/// A file read whole: the records the import uses, by type.
#[derive(Debug, Default)]
pub struct Document {
    /// Taxonomy terms by id.
    terms: HashMap<String, Value>,
    organizations: Vec<Line>,
    /// Locations by id.
    locations: HashMap<String, Value>,
    services: Vec<Line>,
    /// Records of HSDS types the import does not use.
    pub ignored: usize,
}

impl Document {
    /// How many organizations and services the file holds.
    pub fn counts(&self) -> (usize, usize) {
        (self.organizations.len(), self.services.len())
    }
}

/// Reads a whole file, or says which line is not an HSDS record.
pub fn read(input: impl BufRead) -> Result<Document, Malformed> {
    let mut document = Document::default();
    let mut records = 0;
    for (index, line) in input.lines().enumerate() {
        let number = index + 1;
        let malformed = |problem: String| Malformed {
            line: number,
            problem,
        };
        let text = line.map_err(|e| malformed(format!("unreadable: {e}")))?;
        if text.trim().is_empty() {
            continue;
        }
        if text.len() > MAX_LINE_BYTES {
            return Err(malformed(format!("longer than {MAX_LINE_BYTES} bytes")));
        }
        records += 1;
        if records > MAX_RECORDS {
            return Err(malformed(format!("more than {MAX_RECORDS} records")));
        }
        let value: Value =
            serde_json::from_str(&text).map_err(|e| malformed(format!("not JSON ({e})")))?;
        let (Some(record_type), Some(record)) = (
            value.get("record_type").and_then(Value::as_str),
            value.get("record"),
        ) else {
            return Err(malformed(
                "not an HSDS record: expected {\"record_type\": …, \"record\": {…}}".to_owned(),
            ));
        };
        if !record.is_object() {
            return Err(malformed(format!(
                "the {record_type} record is not an object"
            )));
        }
        let id = || {
            record
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let line = || Line {
            number,
            record: record.clone(),
            text: text.clone(),
        };
        match record_type {
            "taxonomy_term" => {
                document.terms.insert(id(), record.clone());
            }
            "location" => {
                document.locations.insert(id(), record.clone());
            }
            "organization" => document.organizations.push(line()),
            "service" => document.services.push(line()),
            other if HSDS_TYPES.contains(&other) => document.ignored += 1,
            other => {
                return Err(malformed(format!(
                    "{other:?} is not an HSDS 3.0 record type"
                )));
            }
        }
    }
    if records == 0 {
        return Err(Malformed {
            line: 0,
            problem: "the file holds no records".to_owned(),
        });
    }
    Ok(document)
}

/// What a file would add to the catalogue.
#[derive(Debug, Default)]
pub struct Plan {
    /// New providers, pending vetting.
    pub providers: Vec<(ProviderRecord, Change)>,
    /// New listings, submitted for review.
    pub listings: Vec<(ListingRecord, Change)>,
    pub refused: Vec<Refusal>,
    /// Organizations and services the catalogue already has (by id).
    pub already_present: usize,
}

/// Plans the import of `document` into the catalogue as it is now.
pub async fn plan<S: CatalogStore>(
    store: &S,
    territory: &Territory,
    document: &Document,
    now: Timestamp,
) -> Result<Plan, StoreError> {
    // Every provider the catalogue has: its id and tax code are taken.
    let mut known_ids = HashSet::new();
    let mut known_tax = HashMap::new();
    let mut after_id = None;
    loop {
        let page = store
            .providers(&ProviderQuery {
                status: None,
                after_id: after_id.take(),
                limit: super::EXPORT_PAGE,
            })
            .await?;
        for provider in &page {
            known_ids.insert(provider.id.to_string());
            known_tax.insert(provider.tax_id.as_str().to_owned(), provider.id.to_string());
        }
        match page.last() {
            Some(last) if page.len() == usize::try_from(super::EXPORT_PAGE).unwrap_or(0) => {
                after_id = Some(last.id.to_string());
            }
            _ => break,
        }
    }
    let mut plan = Plan::default();
    // Organizations refused, by id: their services are refused too.
    let mut refused_organizations = HashSet::new();
    for line in &document.organizations {
        let id = text(&line.record, "id");
        let refuse = |reason: String| Refusal::of(line, "organization", reason);
        if known_ids.contains(id) {
            plan.already_present += 1;
            continue;
        }
        match provider(&line.record, territory, now) {
            Ok(record) => {
                if let Some(holder) = known_tax.get(record.tax_id.as_str()) {
                    refused_organizations.insert(id.to_owned());
                    plan.refused.push(refuse(format!(
                        "tax_id {} is already registered, by provider {holder}",
                        record.tax_id.as_str()
                    )));
                    continue;
                }
                known_ids.insert(id.to_owned());
                known_tax.insert(record.tax_id.as_str().to_owned(), id.to_owned());
                let change = change(line, Imported::Provider, id, now);
                plan.providers.push((record, change));
            }
            Err(reason) => {
                refused_organizations.insert(id.to_owned());
                plan.refused.push(refuse(reason));
            }
        }
    }
    let mut planned_listings = HashSet::new();
    for line in &document.services {
        let id = text(&line.record, "id");
        let refuse = |reason: String| Refusal::of(line, "service", reason);
        let parsed = ListingId::parse(id).map_err(|e| format!("id {id:?}: {e}"));
        let listing_id = match parsed {
            Ok(listing_id) => listing_id,
            Err(reason) => {
                plan.refused.push(refuse(reason));
                continue;
            }
        };
        if store.listing(&listing_id).await?.is_some() {
            plan.already_present += 1;
            continue;
        }
        if !planned_listings.insert(id.to_owned()) {
            plan.refused.push(refuse(
                "the file holds another service with this id".to_owned(),
            ));
            continue;
        }
        let organization = text(&line.record, "organization_id");
        if refused_organizations.contains(organization) {
            plan.refused.push(refuse(format!(
                "its organization {organization} was refused"
            )));
            continue;
        }
        if !known_ids.contains(organization) {
            plan.refused.push(refuse(format!(
                "organization_id {organization:?} names no organization of the file or the \
                 catalogue"
            )));
            continue;
        }
        let provider_id = match ProviderId::parse(organization) {
            Ok(provider_id) => provider_id,
            Err(e) => {
                plan.refused.push(refuse(format!("organization_id: {e}")));
                continue;
            }
        };
        match content(&line.record, document, territory) {
            Ok(content) => {
                let record = ListingRecord {
                    listing: Listing {
                        id: listing_id,
                        provider_id,
                        content,
                        status: ListingStatus::Submitted,
                        verified_at: None,
                    },
                    version: 1,
                    created_at: now,
                    updated_at: now,
                };
                let change = change(line, Imported::Listing, id, now);
                plan.listings.push((record, change));
            }
            Err(reason) => plan.refused.push(refuse(reason)),
        }
    }
    Ok(plan)
}

/// Writes the plan's providers and listings in one transaction.
pub async fn apply<S: CatalogStore>(store: &S, plan: &Plan) -> Result<(), StoreError> {
    store.import(&plan.providers, &plan.listings).await
}

/// What an imported record becomes.
#[derive(Clone, Copy)]
enum Imported {
    Provider,
    Listing,
}

/// The change an imported record writes: the line as the request received, under
/// [`IMPORT_PRINCIPAL`], and an outbox event like the one creating it through the API.
fn change(line: &Line, imported: Imported, id: &str, now: Timestamp) -> Change {
    let (topic, kind, status) = match imported {
        Imported::Provider => (
            Topic::Provider,
            "provider.created",
            ProviderStatus::Pending.code(),
        ),
        Imported::Listing => (
            Topic::Listing,
            "listing.created",
            ListingStatus::Submitted.code(),
        ),
    };
    Change {
        request: RecordedRequest {
            principal: IMPORT_PRINCIPAL.to_owned(),
            request_id: format!("{}:{id}", topic.code()),
            method: "lodiwelfare import-hsds".to_owned(),
            request: line.text.clone().into_bytes(),
            response: Vec::new(),
            created_at: now,
        },
        event: OutboxEvent {
            topic,
            entity_id: id.to_owned(),
            kind: kind.to_owned(),
            payload: serde_json::json!({"id": id, "status": status, "version": 1}).to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_that_is_not_an_hsds_record_refuses_the_file() {
        let cases = [
            ("", "no records"),
            ("{\"record_type\":\"service\"}\n", "not an HSDS record"),
            ("not json\n", "not JSON"),
            (
                "{\"record_type\":\"spaceship\",\"record\":{}}\n",
                "not an HSDS 3.0 record type",
            ),
            (
                "{\"record_type\":\"service\",\"record\":[]}\n",
                "not an object",
            ),
        ];
        for (file, expected) in cases {
            let error = read(file.as_bytes()).expect_err(file);
            assert!(error.to_string().contains(expected), "{file}: {error}");
        }
        let error = read("\n{\"record_type\":\"program\",\"record\":{}}\nxx\n".as_bytes())
            .expect_err("third line");
        assert_eq!(error.line, 3);
    }
}
