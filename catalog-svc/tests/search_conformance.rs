//! The search conformance suite: a fixed catalogue of 156 realistic listings (all 24
//! subcategories, 36 comuni; `tests/search-conformance/catalogue.json`) and 45 query cases
//! (typos, synonyms, acronyms, colloquial phrases, comuni and ages in the text, every filter,
//! facets, distance and price orders; `queries.json`), run through `SearchListings` against
//! each adapter. Every case checks exactness (each hit passes every filter the request and the
//! text imply), what the text was read as, orders, and for most cases that the best hit is of
//! the kind the judges graded highest. Relevance is graded per case by subcategory (3 exactly
//! right, 2 relevant, 1 marginal) and summarised as nDCG@10, printed per adapter.
#![allow(
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::cast_precision_loss
)]

mod support;

use std::collections::HashMap;
use std::path::Path;

use catalog_svc::search::SearchIndex;
use catalog_svc::search::embedded::EmbeddedIndex;
use catalog_svc::search::meili::Tuning;
use catalog_svc::store::{
    CatalogStore, Change, ListingRecord, OutboxEvent, ProviderRecord, RecordedRequest, SqlStore,
    Topic,
};
use serde_json::Value;
use support::*;
use welfare_core::Money;
use welfare_core::category::Category;
use welfare_core::eligibility::{EligibilityRules, Rule};
use welfare_core::ids::{ListingId, ProviderId};
use welfare_core::listing::{
    BookingMode, Delivery, Listing as CoreListing, ListingContent, ListingStatus, Venue,
};
use welfare_core::pricing::{IseeBand, IseeBands, PriceModel, Pricing as CorePricing, Unit};
use welfare_core::provider::{ProviderKind, ProviderStatus, TaxId};
use welfare_core::territory::{GeoPoint, IstatCode, Territory};
use welfare_proto::catalog::{SearchListingsRequest, SearchOrder};
use welfare_proto::common;

const PROVIDERS: usize = 6;

fn data(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/search-conformance")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("JSON")
}

fn unit(code: &str) -> Unit {
    Unit::ALL
        .into_iter()
        .find(|unit| unit.code() == code)
        .unwrap_or_else(|| panic!("unit {code}"))
}

fn cents(value: &Value) -> Money {
    Money::from_cents(value.as_i64().expect("cents")).expect("amount")
}

/// One catalogue entry as the test reads it back.
struct Entry {
    key: String,
    subcategory: String,
    category: String,
    comuni: Vec<String>,
    free: bool,
    ages: Option<(u8, u8)>,
    provider: usize,
    min_price: i64,
}

fn content(entry: &Value) -> ListingContent {
    let price = entry["price"].as_array().expect("price");
    let pricing = match price[0].as_str().expect("kind") {
        "free" => CorePricing::free(),
        "fixed" => CorePricing::new(
            PriceModel::Fixed {
                unit: unit(price[1].as_str().expect("unit")),
                amount: cents(&price[2]),
            },
            None,
        )
        .expect("fixed"),
        "bands" => CorePricing::new(
            PriceModel::IseeBands {
                unit: unit(price[1].as_str().expect("unit")),
                bands: IseeBands::new(
                    price[2]
                        .as_array()
                        .expect("bands")
                        .iter()
                        .map(|band| IseeBand {
                            isee_up_to: (!band[0].is_null()).then(|| cents(&band[0])),
                            amount: cents(&band[1]),
                        })
                        .collect(),
                )
                .expect("bands"),
            },
            None,
        )
        .expect("bands"),
        other => panic!("price {other}"),
    };
    let mut rules = Vec::new();
    if let Some(ages) = entry["ages"].as_array() {
        rules.push(Rule::BeneficiaryAge {
            min_years: ages[0].as_u64().map(|a| u8::try_from(a).expect("age")),
            max_years: ages[1].as_u64().map(|a| u8::try_from(a).expect("age")),
        });
    }
    let delivery = match entry["delivery"].as_str().expect("delivery") {
        "home" => Delivery::AtHome,
        "venue" => Delivery::AtVenue,
        _ => Delivery::Remote,
    };
    let venue = entry.get("venue").map(|venue| Venue {
        address: venue["address"].as_str().expect("address").to_owned(),
        comune: IstatCode::parse(venue["istat_code"].as_str().expect("code")).expect("code"),
        location: GeoPoint::new(
            venue["lat"].as_f64().expect("lat"),
            venue["lon"].as_f64().expect("lon"),
        )
        .expect("point"),
    });
    ListingContent {
        title: entry["title"].as_str().expect("title").to_owned(),
        description: entry["description"]
            .as_str()
            .expect("description")
            .to_owned(),
        category: entry["category"]
            .as_str()
            .expect("category")
            .parse::<Category>()
            .expect("category"),
        subcategory: entry["subcategory"].as_str().expect("sub").to_owned(),
        delivery: vec![delivery],
        service_area: entry["service_area"]
            .as_array()
            .expect("area")
            .iter()
            .map(|c| IstatCode::parse(c.as_str().expect("code")).expect("code"))
            .collect(),
        venue,
        schedule: Vec::new(),
        booking_mode: BookingMode::RequestAndConfirm,
        eligibility: EligibilityRules::new(rules).expect("rules"),
        pricing,
        cancellation_policy: Default::default(),
        languages: vec!["it".to_owned()],
        accessibility: Vec::new(),
    }
}

fn change(n: usize, entity: &str) -> Change {
    Change {
        request: RecordedRequest {
            principal: "conformance".to_owned(),
            request_id: format!("seed-{n}"),
            method: "/test/Seed".to_owned(),
            request: Vec::new(),
            response: Vec::new(),
            created_at: start(),
        },
        event: OutboxEvent {
            topic: Topic::Listing,
            entity_id: entity.to_owned(),
            kind: "listing.published".to_owned(),
            payload: "{}".to_owned(),
        },
    }
}

/// Seeds the catalogue; returns the entries by listing id.
async fn seed(store: &SqlStore, territory: &Territory) -> HashMap<String, Entry> {
    for (p, vat) in VAT_NUMBERS.iter().enumerate().take(PROVIDERS) {
        store
            .create_provider(
                &ProviderRecord {
                    id: ProviderId::parse(&format!("provider-{p}")).expect("id"),
                    display_name: format!("Ente {p}"),
                    kind: ProviderKind::CooperativaSociale,
                    tax_id: TaxId::parse(vat).expect("vat"),
                    contact_email: None,
                    contact_phone: None,
                    website_url: None,
                    status: ProviderStatus::Approved,
                    state_reason: String::new(),
                    registered_by: "conformance".to_owned(),
                    version: 1,
                    created_at: start(),
                    updated_at: start(),
                },
                &change(10_000 + p, "provider"),
            )
            .await
            .expect("provider");
    }
    let mut entries = HashMap::new();
    for (n, entry) in data("catalogue.json")
        .as_array()
        .expect("catalogue")
        .iter()
        .enumerate()
    {
        let content = content(entry);
        content.validate(territory).expect("a valid listing");
        let id = format!("listing-{n:03}");
        let provider = n % PROVIDERS;
        let doc_listing = CoreListing {
            id: ListingId::parse(&id).expect("id"),
            provider_id: ProviderId::parse(&format!("provider-{provider}")).expect("id"),
            content,
            status: ListingStatus::Published,
            verified_at: Some(start()),
        };
        let document =
            catalog_svc::search::SearchDocument::of(&doc_listing, territory, &Default::default());
        store
            .create_listing(
                &ListingRecord {
                    listing: doc_listing,
                    version: 1,
                    created_at: start(),
                    updated_at: start(),
                },
                &change(n, &id),
            )
            .await
            .expect("listing");
        entries.insert(
            id,
            Entry {
                key: entry["key"].as_str().expect("key").to_owned(),
                subcategory: document.subcategory,
                category: document.category.code().to_owned(),
                comuni: document.comuni,
                free: document.free,
                ages: entry["ages"]
                    .as_array()
                    .map(|_| (document.min_age, document.max_age)),
                provider,
                min_price: document.min_price_cents,
            },
        );
    }
    entries
}

fn code_of(territory: &Territory, name: &str) -> String {
    territory
        .find_by_name(name)
        .unwrap_or_else(|| panic!("comune {name}"))
        .istat_code
        .to_string()
}

fn request(case: &Value, territory: &Territory) -> SearchListingsRequest {
    let strings = |key: &str| -> Vec<String> {
        case.get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|v| v.as_str().expect("text").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    SearchListingsRequest {
        query: case["query"].as_str().expect("query").to_owned(),
        categories: strings("categories")
            .iter()
            .map(|c| {
                welfare_proto::convert::category_to_proto(c.parse::<Category>().expect("category"))
            })
            .collect(),
        subcategories: strings("subcategories"),
        served_istat_code: case
            .get("served")
            .and_then(Value::as_str)
            .map(|name| code_of(territory, name))
            .unwrap_or_default(),
        free_only: case
            .get("free_only")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        max_price: case
            .get("max_price_cents")
            .and_then(Value::as_i64)
            .and_then(eur),
        beneficiary_age_years: case
            .get("beneficiary_age")
            .and_then(Value::as_u64)
            .map(|a| u32::try_from(a).expect("age")),
        provider_id: case
            .get("provider")
            .and_then(Value::as_u64)
            .map(|p| format!("provider-{p}"))
            .unwrap_or_default(),
        near_istat_code: case
            .get("near")
            .and_then(Value::as_str)
            .map(|name| code_of(territory, name))
            .unwrap_or_default(),
        near_point: case
            .get("near_point")
            .and_then(Value::as_array)
            .map(|p| common::GeoPoint {
                latitude: p[0].as_f64().expect("lat"),
                longitude: p[1].as_f64().expect("lon"),
            }),
        order_by: match case.get("order").and_then(Value::as_str) {
            Some("distance") => SearchOrder::Distance.into(),
            Some("price") => SearchOrder::Price.into(),
            _ => SearchOrder::Relevance.into(),
        },
        page_size: 50,
        ..SearchListingsRequest::default()
    }
}

fn dcg(grades: impl Iterator<Item = u32>) -> f64 {
    grades
        .take(10)
        .enumerate()
        .map(|(i, g)| (2f64.powi(i32::try_from(g).unwrap_or(0)) - 1.0) / ((i + 2) as f64).log2())
        .sum()
}

/// Runs every case against a server; returns (case, nDCG@10) and the failures.
/// What an adapter answered to one case: its top ten (listing keys) and how many it found.
struct Answer {
    name: String,
    top: Vec<String>,
    total: i64,
}

/// Every case of the suite against `server`: the nDCG@10 of each graded case, the failures,
/// and what it answered.
async fn run_cases<S: CatalogStore, I: SearchIndex>(
    server: &mut Server<S, I>,
    entries: &HashMap<String, Entry>,
    territory: &Territory,
) -> (Vec<(String, f64)>, Vec<String>, Vec<Answer>) {
    let mut scores = Vec::new();
    let mut failures = Vec::new();
    let mut answers = Vec::new();
    for case in data("queries.json").as_array().expect("queries") {
        let name = case["name"].as_str().expect("name").to_owned();
        let request = request(case, territory);
        let response = server
            .client
            .search_listings(request.clone())
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .into_inner();
        let reading = response.interpretation.clone().unwrap_or_default();
        let mut fail = |problem: String| failures.push(format!("{name}: {problem}"));
        if let Some(expected) = case.get("comune").and_then(Value::as_str)
            && reading.comune_name != expected
        {
            fail(format!(
                "read comune {:?}, expected {expected:?}",
                reading.comune_name
            ));
        }
        if let Some(expected) = case.get("age").and_then(Value::as_u64)
            && reading.age_years != Some(u32::try_from(expected).expect("age"))
        {
            fail(format!(
                "read age {:?}, expected {expected}",
                reading.age_years
            ));
        }
        let served = if request.served_istat_code.is_empty() {
            (!reading.istat_code.is_empty()).then(|| reading.istat_code.clone())
        } else {
            Some(request.served_istat_code.clone())
        };
        let age = request
            .beneficiary_age_years
            .or(reading.age_years)
            .map(|a| u8::try_from(a).expect("age"));
        let hits: Vec<&Entry> = response
            .hits
            .iter()
            .map(|hit| {
                let id = &hit.listing.as_ref().expect("listing").id;
                entries
                    .get(id)
                    .unwrap_or_else(|| panic!("{name}: unknown hit {id}"))
            })
            .collect();
        answers.push(Answer {
            name: name.clone(),
            top: hits.iter().take(10).map(|e| e.key.clone()).collect(),
            total: response.total_size,
        });
        // `SHOW_CASE=<part of a case name>` prints what each adapter answered.
        if std::env::var("SHOW_CASE").is_ok_and(|part| name.contains(&part)) {
            println!("{name}:");
            for (hit, entry) in response.hits.iter().zip(&hits).take(10) {
                println!("  {:>8.3}  {}", hit.score, entry.key);
            }
        }
        let categories: Vec<String> = case
            .get("categories")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|v| v.as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default();
        let admits = |e: &Entry| {
            served.as_ref().is_none_or(|code| e.comuni.contains(code))
                && age.is_none_or(|age| e.ages.is_none_or(|(lo, hi)| (lo..=hi).contains(&age)))
                && (!request.free_only || e.free)
                && (categories.is_empty() || categories.contains(&e.category))
                && (request.subcategories.is_empty()
                    || request.subcategories.contains(&e.subcategory))
                && (request.provider_id.is_empty()
                    || format!("provider-{}", e.provider) == request.provider_id)
                && request
                    .max_price
                    .as_ref()
                    .is_none_or(|max| e.min_price <= max.amount_cents)
        };
        for hit in &hits {
            if !admits(hit) {
                fail(format!("{} does not pass the filters", hit.key));
            }
        }
        // With no text, every listing that passes the filters is a hit.
        if request.query.is_empty() {
            let expected = entries.values().filter(|e| admits(e)).count();
            if i64::try_from(expected).unwrap_or(0) != response.total_size {
                fail(format!(
                    "total {} for {expected} matching",
                    response.total_size
                ));
            }
        }
        if let Some(top) = case.get("top").and_then(Value::as_array) {
            let top: Vec<&str> = top.iter().filter_map(Value::as_str).collect();
            match hits.first() {
                Some(first) if top.contains(&first.subcategory.as_str()) => {}
                other => fail(format!(
                    "best hit {:?}, expected one of {top:?}",
                    other.map(|e| &e.key)
                )),
            }
        }
        match case.get("order").and_then(Value::as_str) {
            Some("distance") => {
                let distances: Vec<f64> = response
                    .hits
                    .iter()
                    .map_while(|h| h.distance_meters)
                    .collect();
                // Meilisearch computes its geo distances its own way: two listings within a
                // metre of the same distance may come in either order.
                if distances.is_empty() || distances.windows(2).any(|w| w[0] > w[1] + 1.0) {
                    fail(format!("distances not ascending: {distances:?}"));
                }
            }
            Some("price") if hits.windows(2).any(|w| w[0].min_price > w[1].min_price) => {
                fail("prices not ascending".to_owned());
            }
            _ => {}
        }
        if case.get("facets").is_some() {
            let by_category = response
                .facets
                .iter()
                .find(|f| f.field == "category")
                .expect("category facet");
            for bucket in &by_category.buckets {
                let expected = entries
                    .values()
                    .filter(|e| e.category == bucket.value)
                    .count();
                if i64::try_from(expected).unwrap_or(0) != bucket.count {
                    fail(format!(
                        "facet {} = {}, expected {expected}",
                        bucket.value, bucket.count
                    ));
                }
            }
        }
        let grades: HashMap<&str, u32> = case["grades"]
            .as_object()
            .expect("grades")
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str(),
                    u32::try_from(v.as_u64().expect("grade")).expect("grade"),
                )
            })
            .collect();
        if !grades.is_empty() {
            let grade = |e: &Entry| grades.get(e.subcategory.as_str()).copied().unwrap_or(0);
            let got = dcg(hits.iter().map(|e| grade(e)));
            let mut ideal: Vec<u32> = entries.values().filter(|e| admits(e)).map(grade).collect();
            ideal.sort_unstable_by(|a, b| b.cmp(a));
            let best = dcg(ideal.into_iter());
            if best > 0.0 {
                scores.push((name.clone(), got / best));
            }
        }
    }
    (scores, failures, answers)
}

/// Seeds a fresh catalogue, indexes it in `index` and runs every case; returns the mean
/// nDCG@10 and the failures, after printing the scores.
async fn conformance<I: SearchIndex>(label: &str, index: I) -> (f64, Vec<String>, Vec<Answer>) {
    let territory = Territory::lodi();
    let store = sqlite().await;
    let listed = data("catalogue.json").as_array().expect("entries").len();
    let entries = seed(&store, &territory).await;
    assert_eq!(entries.len(), listed);
    let mut server = serve_with(store, index).await;
    let (_, indexed) = server.indexer.rebuild().await.expect("rebuild");
    assert_eq!(indexed, listed, "every listing indexed");
    let (scores, failures, answers) = run_cases(&mut server, &entries, &territory).await;
    let mean = scores.iter().map(|(_, s)| s).sum::<f64>() / scores.len() as f64;
    println!(
        "{label}: nDCG@10 over {} graded cases = {mean:.3}",
        scores.len()
    );
    for (name, score) in &scores {
        println!("  {score:.3}  {name}");
    }
    // By tag, the name's prefix ("situation", "typo", "words"…).
    let mut tags: std::collections::BTreeMap<&str, Vec<f64>> = std::collections::BTreeMap::new();
    for (name, score) in &scores {
        let tag = name.split_once(':').map_or(name.as_str(), |(tag, _)| tag);
        tags.entry(tag).or_default().push(*score);
    }
    for (tag, scores) in &tags {
        let mean = scores.iter().sum::<f64>() / scores.len() as f64;
        println!("  tag {tag}: {mean:.3} over {}", scores.len());
    }
    (mean, failures, answers)
}

#[tokio::test]
async fn the_embedded_index_passes_the_conformance_suite() {
    let (mean, failures, _) =
        conformance("embedded index", EmbeddedIndex::new().expect("index")).await;
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(mean >= 0.85, "nDCG@10 {mean:.3} below 0.85");
}

/// The top-ten overlap the two adapters must reach on average, and on every case.
const MEAN_OVERLAP: f64 = 0.90;
const LEAST_OVERLAP: f64 = 0.60;

/// How far the two adapters' answers agree, case by case: the share of the top ten they have in
/// common (of the longer of the two), and whether they found as many listings when either
/// found fewer than a page. Printed (the lowest case named); the cases apart are returned.
fn agreement(ours: &[Answer], theirs: &[Answer]) -> Vec<String> {
    let mut overlaps: Vec<(f64, &str)> = Vec::new();
    let mut apart = Vec::new();
    for (a, b) in ours.iter().zip(theirs) {
        assert_eq!(a.name, b.name);
        let longer = a.top.len().max(b.top.len());
        if longer == 0 {
            continue;
        }
        let common = a.top.iter().filter(|key| b.top.contains(key)).count();
        let overlap = common as f64 / longer as f64;
        overlaps.push((overlap, a.name.as_str()));
        let under_a_page = a.total < 10 || b.total < 10;
        if overlap < LEAST_OVERLAP || (under_a_page && a.total != b.total) {
            apart.push(format!(
                "{:.0}% in common, {} against {} found: {}",
                overlap * 100.0,
                a.total,
                b.total,
                a.name
            ));
        }
    }
    let mean = overlaps.iter().map(|(o, _)| o).sum::<f64>() / overlaps.len().max(1) as f64;
    let lowest = overlaps
        .iter()
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .copied()
        .unwrap_or((1.0, ""));
    let full = overlaps.iter().filter(|(o, _)| *o >= 1.0).count();
    println!(
        "top-ten overlap, embedded and Meilisearch: {:.1}% on average over {} cases, {} identical \
         sets, lowest {:.0}% ({})",
        mean * 100.0,
        overlaps.len(),
        full,
        lowest.0 * 100.0,
        lowest.1
    );
    if mean < MEAN_OVERLAP {
        apart.push(format!("mean overlap {:.1}% below 90%", mean * 100.0));
    }
    apart
}

/// Meilisearch, tuned as the service runs it, passes the same suite; the embedded index
/// ranks at least as well, and both beat Meilisearch on its default relevance settings.
#[tokio::test]
async fn meilisearch_passes_the_conformance_suite() {
    let (tuned, _tuned) = meili("conformance", Tuning::Italian).await;
    let (mean, failures, theirs) = conformance("Meilisearch (tuned)", tuned.clone()).await;
    tuned.delete().await.expect("delete index");
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(mean >= 0.85, "nDCG@10 {mean:.3} below 0.85");
    let (defaults, _defaults) = meili("conformance_defaults", Tuning::MeilisearchDefaults).await;
    let (baseline, _, _) = conformance("Meilisearch (default settings)", defaults.clone()).await;
    defaults.delete().await.expect("delete index");
    let (embedded, _, ours) =
        conformance("embedded index", EmbeddedIndex::new().expect("index")).await;
    let apart = agreement(&ours, &theirs);
    println!(
        "nDCG@10: embedded {embedded:.3}, Meilisearch tuned {mean:.3}, Meilisearch defaults \
         {baseline:.3}"
    );
    assert!(
        embedded >= mean,
        "embedded {embedded:.3} below Meilisearch {mean:.3}"
    );
    assert!(
        mean > baseline,
        "tuned {mean:.3} not above defaults {baseline:.3}"
    );
    assert!(apart.is_empty(), "the adapters answer apart: {apart:#?}");
}
