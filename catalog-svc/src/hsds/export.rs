//! The published catalogue as Open Referral HSDS 3.0 JSON, for open data.
//!
//! Records stream in dependency order: taxonomy terms (the six categories, their
//! subcategories with their synonyms and the Ambito's local words, the need lexicon's
//! situations with their phrases, local ones included, and the [`Fact`]s), organizations (approved providers, with their RUNTS number
//! or ISTAT code as organization identifiers), locations (the venues of public listings), then
//! services (public listings), each service embedding its service_at_locations, schedules,
//! cost options, service areas, languages and the attributes that link it to its taxonomy
//! terms and carry its facts. Ids are the catalogue's UUIDs; records derived from a
//! listing get UUIDs computed from the listing's id, so the same catalogue always exports the
//! same document. Only what citizens may see is exported: published, fresh listings of
//! approved providers.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::mpsc;
use tonic::Status;
use welfare_core::Money;
use welfare_core::category::{Category, Subcategory};
use welfare_core::eligibility::Rule;
use welfare_core::listing::Delivery;
use welfare_core::local_words::Lexicon;
use welfare_core::need::Situation;
use welfare_core::pricing::PriceModel;
use welfare_core::provider::ProviderKind;
use welfare_core::territory::Territory;
use welfare_core::time::{SECONDS_PER_DAY, Timestamp};
use welfare_proto::catalog::ExportCatalogChunk;
use welfare_runtime::ServiceError;

use super::{
    Fact, ISTAT_SCHEME, RUNTS_SCHEME, TAXONOMY, accessibility_it, category_term_id,
    situation_term_id, subcategory_term_id, weekday_code,
};
use crate::store::{
    CatalogStore, ListingQuery, ListingRecord, ProviderQuery, ProviderRecord, Visibility,
};
use welfare_runtime::uuid::derived_uuid;

/// Rows read from the store per query while exporting.
pub const EXPORT_PAGE: i64 = 500;

/// The stream `ExportCatalog` answers with.
pub type Records = tokio_stream::wrappers::ReceiverStream<Result<ExportCatalogChunk, Status>>;

/// How long one export may stream: the whole catalogue of an Ambito takes seconds; a caller
/// that reads slower than this is cut off with `DEADLINE_EXCEEDED` (the call's own timeout
/// only bounds the wait for its first answer).
pub const EXPORT_DEADLINE: std::time::Duration = std::time::Duration::from_secs(600);

/// How long the final error of an export waits for room in the stream.
const LAST_WORD: std::time::Duration = std::time::Duration::from_secs(5);

/// Streams the public catalogue at `now`, within [`EXPORT_DEADLINE`].
pub fn export<S: CatalogStore>(store: S, territory: Arc<Territory>, now: Timestamp) -> Records {
    export_within(store, territory, now, EXPORT_DEADLINE)
}

/// Streams the public catalogue at `now`. The reading runs in its own task; a failure, or the
/// `deadline` passing, ends the stream with an error status.
pub fn export_within<S: CatalogStore>(
    store: S,
    territory: Arc<Territory>,
    now: Timestamp,
    deadline: std::time::Duration,
) -> Records {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        let sender = tx.clone();
        let written =
            tokio::time::timeout(deadline, write_all(store, &territory, now, sender)).await;
        let error = match written {
            Ok(Ok(())) => return,
            Ok(Err(error)) => error.to_status(),
            Err(_) => Status::deadline_exceeded(format!(
                "the export took longer than its {} s: read it faster, or from a closer network",
                deadline.as_secs()
            )),
        };
        let _ = tokio::time::timeout(LAST_WORD, tx.send(Err(error))).await;
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// The receiver went away: stop quietly.
struct Closed;

struct Out(mpsc::Sender<Result<ExportCatalogChunk, Status>>);

impl Out {
    async fn send(&self, record_type: &str, value: &Value) -> Result<(), Closed> {
        let chunk = ExportCatalogChunk {
            record_type: record_type.to_owned(),
            json: value.to_string().into_bytes(),
        };
        self.0.send(Ok(chunk)).await.map_err(|_| Closed)
    }
}

async fn write_all<S: CatalogStore>(
    store: S,
    territory: &Territory,
    now: Timestamp,
    tx: mpsc::Sender<Result<ExportCatalogChunk, Status>>,
) -> Result<(), ServiceError> {
    let out = Out(tx);
    match write_records(&store, territory, now, &out).await {
        Ok(()) | Err(Failure::Closed) => Ok(()),
        Err(Failure::Service(error)) => Err(error),
    }
}

enum Failure {
    Closed,
    Service(ServiceError),
}

impl From<Closed> for Failure {
    fn from(_: Closed) -> Failure {
        Failure::Closed
    }
}

impl From<crate::store::StoreError> for Failure {
    fn from(error: crate::store::StoreError) -> Failure {
        Failure::Service(error.into())
    }
}

async fn write_records<S: CatalogStore>(
    store: &S,
    territory: &Territory,
    now: Timestamp,
    out: &Out,
) -> Result<(), Failure> {
    let lexicon = Lexicon::new(
        store
            .local_words()
            .await?
            .into_iter()
            .map(|record| record.word),
    );
    for category in Category::ALL {
        out.send("taxonomy_term", &category_term(category)).await?;
        for sub in category.subcategories() {
            out.send("taxonomy_term", &subcategory_term(sub, &lexicon))
                .await?;
        }
    }
    for situation in Situation::all() {
        out.send("taxonomy_term", &situation_term(situation, &lexicon))
            .await?;
    }
    for fact in Fact::ALL {
        out.send("taxonomy_term", &fact_term(fact)).await?;
    }
    let mut after_id = None;
    loop {
        let providers = store
            .providers(&ProviderQuery {
                status: Some(welfare_core::provider::ProviderStatus::Approved),
                after_id: after_id.take(),
                limit: EXPORT_PAGE,
            })
            .await?;
        for provider in &providers {
            out.send("organization", &organization(provider)).await?;
        }
        match providers.last() {
            Some(last) if providers.len() == usize::try_from(EXPORT_PAGE).unwrap_or(0) => {
                after_id = Some(last.id.to_string());
            }
            _ => break,
        }
    }
    // Two passes over the public listings, locations first; the second exports only the
    // services whose location (if any) the first pass wrote, so a listing published between
    // the passes never refers to a missing location.
    let fresh_since = territory.fresh_since(now);
    let query = |after_id: Option<String>| ListingQuery {
        visibility: Visibility::Public { fresh_since },
        provider_id: None,
        status: None,
        category: None,
        after_id,
        limit: EXPORT_PAGE,
    };
    let mut exported = HashSet::new();
    let mut after_id = None;
    loop {
        let listings = store.listings(&query(after_id.take())).await?;
        for record in &listings {
            if let Some(location) = location(record, territory) {
                out.send("location", &location).await?;
            }
            exported.insert(record.listing.id.to_string());
        }
        match listings.last() {
            Some(last) if listings.len() == usize::try_from(EXPORT_PAGE).unwrap_or(0) => {
                after_id = Some(last.listing.id.to_string());
            }
            _ => break,
        }
    }
    let mut after_id = None;
    loop {
        let listings = store.listings(&query(after_id.take())).await?;
        for record in &listings {
            if exported.contains(record.listing.id.as_str()) {
                out.send("service", &service(record, territory)).await?;
            }
        }
        match listings.last() {
            Some(last) if listings.len() == usize::try_from(EXPORT_PAGE).unwrap_or(0) => {
                after_id = Some(last.listing.id.to_string());
            }
            _ => break,
        }
    }
    Ok(())
}

fn category_term(category: Category) -> Value {
    json!({
        "id": category_term_id(category),
        "code": category.code(),
        "name": category.label_it(),
        "description": category.label_it(),
        "taxonomy": TAXONOMY,
        "language": "it",
    })
}

fn subcategory_term(sub: &Subcategory, lexicon: &Lexicon) -> Value {
    let local: Vec<&str> = lexicon.synonyms_of(sub.code).collect();
    json!({
        "id": subcategory_term_id(sub.code),
        "code": sub.code,
        "name": sub.label_it,
        "description": format!(
            "{} Età tipiche: {}. Detto anche: {}.{}",
            sub.description_it,
            if sub.ages.is_everyone() {
                "tutte".to_owned()
            } else {
                format!("{}–{} anni", sub.ages.min_years, sub.ages.max_years)
            },
            sub.synonyms.join(", "),
            local_words_it(&local)
        ),
        "parent_id": category_term_id(sub.category),
        "taxonomy": TAXONOMY,
        "language": "it",
    })
}

/// A situation of the need lexicon: its phrases and the services that answer it.
fn situation_term(situation: &Situation, lexicon: &Lexicon) -> Value {
    let local: Vec<&str> = lexicon.phrases_of(situation.code).collect();
    let answers: Vec<&str> = situation.answers.iter().map(|(code, _)| *code).collect();
    json!({
        "id": situation_term_id(situation.code),
        "code": format!("situazione:{}", situation.code),
        "name": situation.label_it,
        "description": format!(
            "Situazione descritta come: {}. Servizi che rispondono: {}.{}",
            situation.phrases.join(", "),
            answers.join(", "),
            local_words_it(&local)
        ),
        "taxonomy": TAXONOMY,
        "language": "it",
    })
}

/// The Ambito's local words in a term's description: " Parole locali: a, b." or nothing.
fn local_words_it(local: &[&str]) -> String {
    if local.is_empty() {
        String::new()
    } else {
        format!(" Parole locali: {}.", local.join(", "))
    }
}

fn fact_term(fact: Fact) -> Value {
    json!({
        "id": fact.term_id(),
        "code": fact.code(),
        "name": fact.label_it(),
        "description": format!(
            "{}: il valore dell'attributo è il dato di LodiWelfare in JSON",
            fact.label_it()
        ),
        "taxonomy": TAXONOMY,
        "language": "it",
    })
}

/// Sets `key` of a JSON object.
fn put(object: &mut Value, key: &str, value: Value) {
    if let Some(map) = object.as_object_mut() {
        map.insert(key.to_owned(), value);
    }
}

/// Sets `key` when the text is not empty.
fn put_text(object: &mut Value, key: &str, value: &str) {
    if !value.is_empty() {
        put(object, key, Value::String(value.to_owned()));
    }
}

fn organization(provider: &ProviderRecord) -> Value {
    let id = provider.id.to_string();
    let mut value = json!({
        "id": id,
        "name": provider.display_name,
        "description": format!("{}: {}", provider.kind.label_it(), provider.display_name),
        "tax_id": provider.tax_id.as_str(),
        "legal_status": provider.kind.label_it(),
    });
    if let Some(email) = &provider.contact_email {
        put_text(&mut value, "email", email.as_str());
    }
    if let Some(website) = &provider.website_url {
        put_text(&mut value, "website", website.as_str());
    }
    let identifier = match &provider.kind {
        ProviderKind::Ets { runts_number } => {
            Some((RUNTS_SCHEME, "Numero RUNTS", runts_number.as_str()))
        }
        ProviderKind::Comune { istat_code } => {
            Some((ISTAT_SCHEME, "Codice ISTAT", istat_code.as_str()))
        }
        _ => None,
    };
    if let Some((scheme, label, identifier)) = identifier {
        put(
            &mut value,
            "organization_identifiers",
            json!([{
                "id": derived_uuid(&id, "identifier"),
                "organization_id": id,
                "identifier_scheme": scheme,
                "identifier_type": label,
                "identifier": identifier,
            }]),
        );
    }
    if let Some(phone) = &provider.contact_phone {
        put(
            &mut value,
            "phones",
            json!([{
                "id": derived_uuid(&id, "phone"),
                "organization_id": id,
                "number": phone.as_str(),
            }]),
        );
    }
    value
}

fn location_id(record: &ListingRecord) -> String {
    derived_uuid(record.listing.id.as_str(), "location")
}

fn location(record: &ListingRecord, territory: &Territory) -> Option<Value> {
    let listing = &record.listing;
    let venue = listing.content.venue.as_ref()?;
    if !listing.content.delivery.contains(&Delivery::AtVenue) {
        return None;
    }
    let id = location_id(record);
    let comune = territory.municipality(&venue.comune);
    Some(json!({
        "id": id,
        "location_type": "physical",
        "organization_id": listing.provider_id.as_str(),
        "name": listing.content.title,
        "latitude": venue.location.lat(),
        "longitude": venue.location.lon(),
        "addresses": [{
            "id": derived_uuid(&id, "address"),
            "location_id": id,
            "address_1": venue.address,
            "city": comune.map_or_else(|| venue.comune.to_string(), |m| m.name.clone()),
            "state_province": "LO",
            "postal_code": comune
                .and_then(|m| m.postal_codes.first().cloned())
                .unwrap_or_default(),
            "country": "IT",
            "address_type": "physical",
        }],
        "accessibility": listing.content.accessibility.iter().enumerate().map(|(i, feature)| json!({
            "id": derived_uuid(&id, &format!("accessibility-{i}")),
            "location_id": id,
            "description": accessibility_it(*feature),
        })).collect::<Vec<_>>(),
    }))
}

fn clock(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// Euro as a JSON number (cents are exact in a double far beyond any tariff).
#[allow(clippy::cast_precision_loss)]
fn euros(amount: Money) -> f64 {
    amount.cents() as f64 / 100.0
}

fn rfc3339(at: Timestamp) -> String {
    let seconds = at.unix_seconds().rem_euclid(SECONDS_PER_DAY);
    let date = at
        .date()
        .map_or_else(|| "1970-01-01".to_owned(), |d| d.to_string());
    format!(
        "{date}T{:02}:{:02}:{:02}Z",
        seconds / 3_600,
        seconds % 3_600 / 60,
        seconds % 60
    )
}

fn cost_options(record: &ListingRecord, service_id: &str) -> Vec<Value> {
    let pricing = &record.listing.content.pricing;
    let option = |i: usize, label: String, amount: Money, description: String| {
        let mut value = json!({
            "id": derived_uuid(service_id, &format!("cost-{i}")),
            "service_id": service_id,
            "option": label,
            "currency": "EUR",
            "amount": euros(amount),
        });
        put_text(&mut value, "amount_description", &description);
        value
    };
    match pricing.model() {
        PriceModel::Free => vec![option(0, "Gratuito".to_owned(), Money::ZERO, String::new())],
        PriceModel::Fixed { unit, amount } => vec![option(
            0,
            format!("Tariffa {}", unit.per_it()),
            *amount,
            String::new(),
        )],
        PriceModel::IseeBands { unit, bands } => {
            let mut lower = None;
            bands
                .bands()
                .iter()
                .enumerate()
                .map(|(i, band)| {
                    let description = match (band.isee_up_to, lower) {
                        (Some(up_to), None) => format!("ISEE fino a {up_to}"),
                        (Some(up_to), Some(from)) => format!("ISEE oltre {from} e fino a {up_to}"),
                        (None, Some(from)) => format!("ISEE oltre {from} o non presentato"),
                        (None, None) => "Qualsiasi ISEE".to_owned(),
                    };
                    lower = band.isee_up_to;
                    option(
                        i,
                        format!("Tariffa {} in base all'ISEE", unit.per_it()),
                        band.amount,
                        description,
                    )
                })
                .collect()
        }
    }
}

fn fees_description(record: &ListingRecord) -> String {
    let pricing = &record.listing.content.pricing;
    let mut text = match pricing.model() {
        PriceModel::Free => "Servizio gratuito.".to_owned(),
        PriceModel::Fixed { unit, amount } => {
            format!("{amount} {}.", unit.per_it())
        }
        PriceModel::IseeBands { unit, .. } => {
            format!("Tariffa {} in base alla fascia ISEE.", unit.per_it())
        }
    };
    if let Some(discount) = pricing.resident_discount() {
        text.push_str(&format!(
            " Sconto del {discount} per i residenti dell'Ambito."
        ));
    }
    text
}

fn service(record: &ListingRecord, territory: &Territory) -> Value {
    let listing = &record.listing;
    let content = &listing.content;
    let id = listing.id.to_string();
    let mut value = json!({
        "id": id,
        "organization_id": listing.provider_id.as_str(),
        "name": content.title,
        "description": content.description,
        "status": "active",
        "fees_description": fees_description(record),
        "last_modified": rfc3339(record.updated_at),
        "languages": content.languages.iter().map(|code| json!({
            "id": derived_uuid(&id, &format!("language-{code}")),
            "service_id": id,
            "code": code,
        })).collect::<Vec<_>>(),
        "schedules": content.schedule.iter().enumerate().map(|(i, hours)| json!({
            "id": derived_uuid(&id, &format!("schedule-{i}")),
            "service_id": id,
            "freq": "WEEKLY",
            "wkst": "MO",
            "byday": weekday_code(hours.weekday),
            "opens_at": clock(hours.opens_minute),
            "closes_at": clock(hours.closes_minute),
        })).collect::<Vec<_>>(),
        "cost_options": cost_options(record, &id),
        "attributes": [
            {
                "id": derived_uuid(&id, "attribute-category"),
                "link_id": id,
                "link_type": "category",
                "link_entity": "service",
                "taxonomy_term_id": category_term_id(content.category),
            },
            {
                "id": derived_uuid(&id, "attribute-subcategory"),
                "link_id": id,
                "link_type": "subcategory",
                "link_entity": "service",
                "taxonomy_term_id": subcategory_term_id(&content.subcategory),
            },
        ],
    });
    if let Some(attributes) = value.get_mut("attributes").and_then(Value::as_array_mut) {
        for fact in Fact::ALL {
            attributes.push(json!({
                "id": derived_uuid(&id, &format!("attribute-{}", fact.code())),
                "link_id": id,
                "link_type": "fact",
                "link_entity": "service",
                "taxonomy_term_id": fact.term_id(),
                "value": fact_value(content, fact),
            }));
        }
    }
    if let Some(verified) = listing.verified_at.and_then(Timestamp::date) {
        put(&mut value, "assured_date", json!(verified.to_string()));
    }
    let rules = content.eligibility.rules();
    if !rules.is_empty() {
        put(
            &mut value,
            "eligibility_description",
            json!(
                rules
                    .iter()
                    .map(|rule| rule.description_it(territory))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        );
    }
    if let Some(Rule::BeneficiaryAge {
        min_years,
        max_years,
    }) = rules
        .iter()
        .find(|rule| matches!(rule, Rule::BeneficiaryAge { .. }))
    {
        if let Some(min) = min_years {
            put(&mut value, "minimum_age", json!(min));
        }
        if let Some(max) = max_years {
            put(&mut value, "maximum_age", json!(max));
        }
    }
    put(
        &mut value,
        "service_areas",
        if content.service_area.is_empty() {
            json!([{
                "id": derived_uuid(&id, "area"),
                "service_id": id,
                "name": territory.name(),
                "description": format!("Tutti i comuni dell'{}", territory.name()),
            }])
        } else {
            Value::Array(
                content
                    .service_area
                    .iter()
                    .map(|code| {
                        json!({
                            "id": derived_uuid(&id, &format!("area-{code}")),
                            "service_id": id,
                            "name": territory
                                .municipality(code)
                                .map_or_else(|| code.to_string(), |m| m.name.clone()),
                            "extent_type": "istat",
                            "extent": code.as_str(),
                        })
                    })
                    .collect(),
            )
        },
    );
    if let Some(location) = location(record, territory) {
        put(
            &mut value,
            "service_at_locations",
            json!([{
                "id": derived_uuid(&id, "service-at-location"),
                "service_id": id,
                "location_id": location.get("id"),
            }]),
        );
    }
    value
}

/// A fact of a listing as welfare-core's JSON.
fn fact_value(content: &welfare_core::listing::ListingContent, fact: Fact) -> String {
    let value = match fact {
        Fact::BookingMode => serde_json::to_value(content.booking_mode),
        Fact::Delivery => serde_json::to_value(&content.delivery),
        Fact::Eligibility => serde_json::to_value(&content.eligibility),
        Fact::Pricing => serde_json::to_value(&content.pricing),
        Fact::CancellationPolicy => serde_json::to_value(content.cancellation_policy),
        Fact::Accessibility => serde_json::to_value(&content.accessibility),
    };
    // The core's types always serialise; an empty object would be read back as refused.
    value.unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc_3339_in_utc() {
        assert_eq!(
            rfc3339(Timestamp::from_unix_seconds(1_780_000_000)),
            "2026-05-28T20:26:40Z"
        );
        assert_eq!(clock(1_440), "24:00");
        assert_eq!(clock(9 * 60 + 30), "09:30");
    }
}
