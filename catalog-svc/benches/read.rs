//! `GetListing` and `ListListings` over gRPC on PostgreSQL with 10,000 published listings and
//! 16 concurrent clients (anonymous, so every call also computes visibility), each with the
//! same read done on the store directly in the same run as the baseline: the ratio is what
//! the gRPC edge, authorization and conversion cost.
//!
//! Run: `scripts/bench-catalog` (starts a throwaway PostgreSQL, then this with DATABASE_URL
//! set). Optional: `BENCH_SECONDS` per phase (default 15), `BENCH_CLIENTS` (default 16).
#![allow(
    clippy::print_stdout,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::indexing_slicing
)]

mod bench_support;

use bench_support::{approved_provider, env_number, next, now, percentile, seed_change, serve};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use catalog_svc::store::{CatalogStore, ListingQuery, ListingRecord, SqlStore, Visibility};
use welfare_core::Money;
use welfare_core::category::{Category, Subcategory};
use welfare_core::eligibility::{EligibilityRules, Rule};
use welfare_core::ids::{ListingId, ProviderId};
use welfare_core::listing::{BookingMode, Delivery, Listing, ListingContent, ListingStatus};
use welfare_core::pricing::{PriceModel, Pricing, Unit};
use welfare_core::territory::Territory;
use welfare_proto::catalog::catalog_service_client::CatalogServiceClient;
use welfare_proto::catalog::{GetListingRequest, ListListingsRequest};

const LISTINGS: usize = 10_000;
const PROVIDERS: usize = 50;

fn listing(n: usize, territory: &Territory) -> ListingRecord {
    let sub: &Subcategory = &Subcategory::all()[n % Subcategory::all().len()];
    let comuni = territory.municipalities();
    let comune = comuni[n % comuni.len()].istat_code.clone();
    let pricing = if n.is_multiple_of(3) {
        Pricing::free()
    } else {
        Pricing::new(
            PriceModel::Fixed {
                unit: Unit::Hour,
                amount: Money::from_cents(1_000 + (n as i64 % 40) * 50).expect("amount"),
            },
            None,
        )
        .expect("pricing")
    };
    ListingRecord {
        listing: Listing {
            id: ListingId::parse(&welfare_runtime::uuid::new_uuid()).expect("id"),
            provider_id: ProviderId::parse(&format!("provider-{}", n % PROVIDERS)).expect("id"),
            content: ListingContent {
                title: format!("{} {n}", sub.label_it),
                description: format!(
                    "Servizio di {} offerto nel comune {} e dintorni.",
                    sub.label_it.to_lowercase(),
                    comune
                ),
                category: sub.category,
                subcategory: sub.code.to_owned(),
                delivery: vec![Delivery::AtHome],
                service_area: vec![comune],
                venue: None,
                schedule: Vec::new(),
                booking_mode: BookingMode::RequestAndConfirm,
                eligibility: EligibilityRules::new(vec![Rule::ResidentInTerritory]).expect("rules"),
                pricing,
                cancellation_policy: Default::default(),
                languages: vec!["it".to_owned()],
                accessibility: Vec::new(),
            },
            status: ListingStatus::Published,
            verified_at: Some(now()),
        },
        version: 1,
        created_at: now(),
        updated_at: now(),
    }
}

struct Figures {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Runs `clients` tasks of `work(task, deadline)` and summarises their latencies.
async fn drive<F, Fut>(clients: u64, seconds: u64, work: F) -> Figures
where
    F: Fn(u64, Instant) -> Fut,
    Fut: Future<Output = Vec<Duration>> + Send + 'static,
{
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|task| tokio::spawn(work(task, deadline)))
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("task"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    Figures {
        per_second: latencies.len() as f64 / elapsed,
        p50_ms: percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        p99_ms: percentile(&latencies, 0.99).as_secs_f64() * 1e3,
    }
}

fn print(name: &str, figures: &Figures, baseline: &Figures) {
    println!(
        "  {name:<34} {:>8.0}/s  p50 {:>6.2} ms  p99 {:>6.2} ms   (store alone {:>8.0}/s, p99 {:>6.2} ms; ratio {:.2})",
        figures.per_second,
        figures.p50_ms,
        figures.p99_ms,
        baseline.per_second,
        baseline.p99_ms,
        figures.per_second / baseline.per_second
    );
}

#[tokio::main]
async fn main() {
    let admin_url = std::env::var("DATABASE_URL").expect("DATABASE_URL: run scripts/bench-catalog");
    let seconds = env_number("BENCH_SECONDS", 15);
    let clients = env_number("BENCH_CLIENTS", 16);
    let _ =
        welfare_runtime::telemetry::Telemetry::init(&welfare_runtime::config::TelemetryConfig {
            log_filter: "warn".to_owned(),
            ..Default::default()
        });
    let url = welfare_storage::testing::recreate_database(&admin_url, "catalog_bench").await;
    let store = SqlStore::connect(&url, 32).await.expect("store");
    let territory = Territory::lodi();

    let seeding = Instant::now();
    for n in 0..PROVIDERS {
        let provider = approved_provider(&format!("provider-{n}"), n);
        store
            .create_provider(&provider, &seed_change(LISTINGS + n, provider.id.as_str()))
            .await
            .expect("provider");
    }
    let records: Vec<ListingRecord> = (0..LISTINGS).map(|n| listing(n, &territory)).collect();
    let ids: Arc<Vec<String>> =
        Arc::new(records.iter().map(|r| r.listing.id.to_string()).collect());
    let records = Arc::new(records);
    let mut seeders = Vec::new();
    for task in 0..16 {
        let (store, records) = (store.clone(), Arc::clone(&records));
        seeders.push(tokio::spawn(async move {
            for n in (task..LISTINGS).step_by(16) {
                let record = &records[n];
                store
                    .create_listing(record, &seed_change(n, record.listing.id.as_str()))
                    .await
                    .expect("listing");
            }
        }));
    }
    for seeder in seeders {
        seeder.await.expect("seed");
    }
    let seeding = seeding.elapsed().as_secs_f64();
    // What autovacuum would do within a minute of such a load: without statistics the planner
    // guesses one row per filter and sorts whole categories instead of walking the id index.
    sqlx::query("ANALYZE")
        .execute(store.pool())
        .await
        .expect("analyze");

    let (endpoint, _stop, _server) = serve(
        store.clone(),
        catalog_svc::search::embedded::EmbeddedIndex::new().expect("index"),
        Arc::new(territory.clone()),
    )
    .await;
    let mut channels = Vec::new();
    for _ in 0..clients {
        channels.push(
            CatalogServiceClient::connect(endpoint.clone())
                .await
                .expect("connect"),
        );
    }
    let channels = Arc::new(channels);

    // GetListing: the store alone, then over gRPC.
    let get_store = drive(clients, seconds, |task, deadline| {
        let (store, ids) = (store.clone(), Arc::clone(&ids));
        async move {
            let mut state = 0x9E37_79B9_7F4A_7C15_u64 ^ (task + 1);
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let id = ListingId::parse(&ids[(next(&mut state) % ids.len() as u64) as usize])
                    .expect("id");
                let began = Instant::now();
                store.listing(&id).await.expect("read").expect("exists");
                latencies.push(began.elapsed());
            }
            latencies
        }
    })
    .await;
    let get_grpc = drive(clients, seconds, |task, deadline| {
        let mut client = channels[task as usize].clone();
        let ids = Arc::clone(&ids);
        async move {
            let mut state = 0x9E37_79B9_7F4A_7C15_u64 ^ (task + 1);
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let id = ids[(next(&mut state) % ids.len() as u64) as usize].clone();
                let began = Instant::now();
                client
                    .get_listing(GetListingRequest { id })
                    .await
                    .expect("get listing");
                latencies.push(began.elapsed());
            }
            latencies
        }
    })
    .await;

    // ListListings: a page of 20 public listings of one category, following the next page
    // token half of the time.
    let fresh_since = now().plus_seconds(-180 * 86_400);
    let list_store = drive(clients, seconds, |task, deadline| {
        let store = store.clone();
        async move {
            let mut state = 0x9E37_79B9_7F4A_7C15_u64 ^ (task + 1);
            let mut latencies = Vec::new();
            let mut after: Option<String> = None;
            while Instant::now() < deadline {
                let category = Category::ALL[(next(&mut state) % 6) as usize];
                let began = Instant::now();
                let page = store
                    .listings(&ListingQuery {
                        visibility: Visibility::Public { fresh_since },
                        provider_id: None,
                        status: None,
                        category: Some(category),
                        after_id: after.take(),
                        limit: 21,
                    })
                    .await
                    .expect("page");
                latencies.push(began.elapsed());
                if next(&mut state).is_multiple_of(2) && page.len() == 21 {
                    after = page.get(19).map(|r| r.listing.id.to_string());
                }
            }
            latencies
        }
    })
    .await;
    let list_grpc = drive(clients, seconds, |task, deadline| {
        let mut client = channels[task as usize].clone();
        async move {
            let mut state = 0x9E37_79B9_7F4A_7C15_u64 ^ (task + 1);
            let mut latencies = Vec::new();
            let mut token = String::new();
            let mut category = 1;
            while Instant::now() < deadline {
                if token.is_empty() {
                    category = (next(&mut state) % 6) as i32 + 1;
                }
                let began = Instant::now();
                let page = client
                    .list_listings(ListListingsRequest {
                        page_size: 20,
                        page_token: std::mem::take(&mut token),
                        category,
                        ..ListListingsRequest::default()
                    })
                    .await
                    .expect("list listings")
                    .into_inner();
                latencies.push(began.elapsed());
                assert_eq!(page.listings.len(), 20);
                if next(&mut state).is_multiple_of(2) {
                    token = page.next_page_token;
                }
            }
            latencies
        }
    })
    .await;

    println!(
        "catalogue reads on PostgreSQL: {LISTINGS} published listings of {PROVIDERS} providers, {clients} clients, {seconds} s per phase (seeded in {seeding:.1} s)"
    );
    print("GetListing (anonymous)", &get_grpc, &get_store);
    print(
        "ListListings (page of 20, category)",
        &list_grpc,
        &list_store,
    );
}
