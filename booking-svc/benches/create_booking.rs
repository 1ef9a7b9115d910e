//! CreateBooking end to end over gRPC on PostgreSQL — the catalogue read, eligibility and the
//! quote, the seat reserved, the wallet read and its hold placed — with 64 concurrent clients
//! over 1,000 slots; and in the same run, the baseline: the wallet's HoldFunds alone over
//! gRPC with the same clients, the one step of a booking no design can skip.
//!
//! The three services run in this process, each on its own port and database, calling each
//! other over gRPC as in distributed mode.
//!
//! Run: `scripts/bench-booking` (starts a throwaway PostgreSQL, then this with DATABASE_URL
//! set). Optional: `BENCH_SECONDS` (default 20), `BENCH_CLIENTS` (default 64).
#![allow(
    clippy::print_stdout,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use tonic::Request;
use welfare_proto::booking::booking_service_client::BookingServiceClient;
use welfare_proto::booking::{self as bpb};
use welfare_proto::catalog::catalog_service_client::CatalogServiceClient;
use welfare_proto::common;
use welfare_proto::convert;
use welfare_proto::wallet::wallet_service_client::WalletServiceClient;
use welfare_proto::wallet::{self as wpb};
use welfare_runtime::Application;
use welfare_runtime::clock::system_clock;
use welfare_runtime::config::{RuntimeConfig, Secret, ServiceConfig};
use welfare_runtime::testing::{Tenant, seed, with_bearer};
use welfare_storage::testing::recreate_database;

const SECRET: &str = "booking-benchmark-hs256-secret-of-32-bytes";
const SLOTS: usize = 1_000;
const EMPLOYEES: usize = 10_000;
/// The offered load of the open-loop phase: the target rate.
const OFFERED_RATE: u64 = 500;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn call<T>(message: T, bearer: &str) -> Request<T> {
    with_bearer(message, bearer)
}

fn token(subject: &str, role: &str, tenant: Tenant<'_>) -> String {
    seed::token(SECRET, subject, &[role], tenant)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn runtime(config: &impl ServiceConfig) -> RuntimeConfig {
    let mut runtime = config.runtime();
    runtime.server.listen_addr = "127.0.0.1:0".parse().expect("address");
    runtime.auth.hs256_secret = Some(Secret::new(SECRET));
    runtime.limits.rate_limit_per_second = 1_000_000;
    runtime.limits.rate_limit_burst = 1_000_000;
    runtime.limits.service_rate_limit_per_second = 1_000_000;
    runtime.limits.service_rate_limit_burst = 1_000_000;
    runtime.limits.max_message_bytes = 16 * 1024 * 1024;
    runtime
}

async fn serve(config: RuntimeConfig, services: welfare_runtime::ServiceSet) -> String {
    let app = Application::build(&config, services).await.expect("server");
    let url = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    url
}

/// Runs `clients` loops of `one` for `seconds`; answers calls per second and sorted latencies.
async fn load<F, Fut>(clients: u64, seconds: u64, one: F) -> (f64, Vec<Duration>)
where
    F: Fn(u64, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let one = Arc::new(one);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..clients {
        let one = Arc::clone(&one);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = 0;
            while Instant::now() < deadline {
                let began = Instant::now();
                one(client, n).await;
                latencies.push(began.elapsed());
                n += 1;
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("client"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    (latencies.len() as f64 / elapsed, latencies)
}

/// Offers `rate` calls per second for `seconds` whatever the answers (open loop, as people
/// arrive), each call's latency measured from when it was due, so a slow answer cannot hide the
/// calls it delayed; answers the calls per second served and sorted latencies.
async fn paced<F, Fut>(rate: u64, seconds: u64, one: F) -> (f64, Vec<Duration>)
where
    F: Fn(u64, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let one = Arc::new(one);
    let interval = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let started = Instant::now();
    let total = rate * seconds;
    let mut tasks = Vec::with_capacity(total as usize);
    for n in 0..total {
        let due = started + interval.mul_f64(n as f64);
        tokio::time::sleep_until(due.into()).await;
        let call = one(n % 64, n);
        tasks.push(tokio::spawn(async move {
            call.await;
            due.elapsed()
        }));
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    for task in tasks {
        latencies.push(task.await.expect("call"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    (latencies.len() as f64 / elapsed, latencies)
}

#[tokio::main]
async fn main() {
    let admin_url = std::env::var("DATABASE_URL").expect("DATABASE_URL: run scripts/bench-booking");
    let seconds = env_number("BENCH_SECONDS", 20);
    let clients = env_number("BENCH_CLIENTS", 64);
    let _ =
        welfare_runtime::telemetry::Telemetry::init(&welfare_runtime::config::TelemetryConfig {
            log_filter: "warn".to_owned(),
            ..Default::default()
        });
    let clock = system_clock();

    let mut catalog_config = catalog_svc::config::CatalogConfig::default();
    catalog_config.database.url = recreate_database(&admin_url, "booking_bench_catalog").await;
    let catalog = catalog_svc::startup::start(&catalog_config, Arc::clone(&clock))
        .await
        .expect("catalogue");
    let catalog_url = serve(runtime(&catalog_config), catalog.services).await;

    let mut wallet_config = wallet_svc::config::WalletConfig::default();
    wallet_config.database.url = recreate_database(&admin_url, "booking_bench_wallet").await;
    wallet_config.database.max_connections = 32;
    let wallet = wallet_svc::startup::start(&wallet_config, Arc::clone(&clock))
        .await
        .expect("wallet");
    let wallet_url = serve(runtime(&wallet_config), wallet.services).await;

    let mut booking_config = booking_svc::config::BookingConfig::default();
    booking_config.database.url = recreate_database(&admin_url, "booking_bench").await;
    booking_config.database.max_connections = 32;
    booking_config.auth.hs256_secret = Some(Secret::new(SECRET));
    booking_config.upstream.catalog_url = catalog_url.clone();
    booking_config.upstream.wallet_url = wallet_url.clone();
    let booking = booking_svc::startup::start(&booking_config, Arc::clone(&clock))
        .await
        .expect("booking");
    let bookings = booking.bookings.clone();
    let booking_url = serve(runtime(&booking_config), booking.services).await;

    // The catalogue: an approved provider and a published swimming course.
    let mut catalog_client = CatalogServiceClient::connect(catalog_url)
        .await
        .expect("catalogue");
    let provider_id = seed::approved_provider(
        &mut catalog_client,
        SECRET,
        "Società Sportiva Lodigiana",
        "01234560983",
    )
    .await;
    let listing_id = seed::published_listing(
        &mut catalog_client,
        SECRET,
        &provider_id,
        seed::swimming_course(1_000),
    )
    .await;
    let operator = seed::operator_of(SECRET, &provider_id);

    // The wallets: 10,000 employees with € 500 each.
    let mut wallet_client = WalletServiceClient::connect(wallet_url.clone())
        .await
        .expect("wallet")
        .max_encoding_message_size(16 * 1024 * 1024);
    let hr = token("hr-acme", "company_admin", Tenant::Company("acme"));
    let year = clock().date().expect("date").year();
    let plan_id = seed::plan(
        &mut wallet_client,
        SECRET,
        year,
        50_000,
        &[common::Category::CuraFigli],
    )
    .await;
    let funded = wallet_client
        .fund_wallets(call(
            wpb::FundWalletsRequest {
                plan_id: plan_id.clone(),
                fundings: (0..EMPLOYEES)
                    .map(|i| wpb::Funding {
                        employee_id: format!("e{i}"),
                        ..wpb::Funding::default()
                    })
                    .collect(),
                request_id: "fund".to_owned(),
            },
            &hr,
        ))
        .await
        .expect("fund")
        .into_inner();
    let wallets: Arc<Vec<String>> =
        Arc::new(funded.results.into_iter().map(|r| r.wallet_id).collect());
    let employees: Arc<Vec<String>> = Arc::new(
        (0..EMPLOYEES)
            .map(|i| token(&format!("e{i}"), "employee", Tenant::Company("acme")))
            .collect(),
    );

    // 1,000 slots, one a day at 10:00 for the next 1,000 hours... spread over the horizon.
    let mut booking_client = BookingServiceClient::connect(booking_url.clone())
        .await
        .expect("booking");
    let now = clock();
    let mut slots = Vec::new();
    for chunk in 0..(SLOTS / 500) {
        let specs = (0..500)
            .map(|i| {
                let hours = 24 + 3 * (chunk * 500 + i) as i64;
                bpb::SlotSpec {
                    start_time: Some(convert::timestamp_to_proto(now.plus_seconds(hours * 3_600))),
                    end_time: Some(convert::timestamp_to_proto(
                        now.plus_seconds(hours * 3_600 + 3_600),
                    )),
                    capacity: 0,
                }
            })
            .collect();
        let opened = booking_client
            .create_slots(call(
                bpb::CreateSlotsRequest {
                    listing_id: listing_id.clone(),
                    slots: specs,
                    request_id: format!("slots-{chunk}"),
                },
                &operator,
            ))
            .await
            .expect("slots")
            .into_inner();
        slots.extend(opened.slots.into_iter().map(|s| s.id));
    }
    let slots = Arc::new(slots);

    // CreateBooking, end to end. Each client books as its own employees, in turn.
    let channel = tonic::transport::Endpoint::from_shared(booking_url)
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let listing_id = Arc::new(listing_id);
    let per_client = EMPLOYEES as u64 / clients;
    let book = {
        let (slots, wallets, employees) = (
            Arc::clone(&slots),
            Arc::clone(&wallets),
            Arc::clone(&employees),
        );
        move |prefix: &'static str| {
            let (channel, slots, wallets, employees, listing_id) = (
                channel.clone(),
                Arc::clone(&slots),
                Arc::clone(&wallets),
                Arc::clone(&employees),
                Arc::clone(&listing_id),
            );
            move |client: u64, n: u64| {
                let mut booking = BookingServiceClient::new(channel.clone());
                let person = (client + clients * (n % per_client)) as usize % EMPLOYEES;
                let slot = slots[((client * 7919 + n * 104_729) % SLOTS as u64) as usize].clone();
                let request = bpb::CreateBookingRequest {
                    listing_id: listing_id.to_string(),
                    slot_id: slot,
                    quantity: 1,
                    profile: Some(common::Profile {
                        beneficiary_age_years: Some(7),
                        ..common::Profile::default()
                    }),
                    wallet_id: wallets[person].clone(),
                    request_id: format!("{prefix}{client}-{n}"),
                    start_time: None,
                };
                let bearer = employees[person].clone();
                async move {
                    let booked = booking
                        .create_booking(call(request, &bearer))
                        .await
                        .expect("book")
                        .into_inner();
                    assert_eq!(booked.state, bpb::booking::State::Held as i32);
                }
            }
        }
    };
    let (booked_rate, booked) = load(clients, seconds, book("c")).await;
    let (offered_booked_rate, offered_booked) = paced(OFFERED_RATE, seconds, book("o")).await;

    // The baseline: HoldFunds alone, as the booking service, with the same clients.
    let service = token("booking-svc", "booking_service", Tenant::None);
    let wallet_channel = tonic::transport::Endpoint::from_shared(wallet_url)
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let wallets = Arc::clone(&wallets);
    let hold = move |prefix: &'static str| {
        let (wallets, service, wallet_channel) = (
            Arc::clone(&wallets),
            service.clone(),
            wallet_channel.clone(),
        );
        move |client: u64, n: u64| {
            let mut wallet = WalletServiceClient::new(wallet_channel.clone());
            let person = ((client * 131 + n * 7) % EMPLOYEES as u64) as usize;
            let request = wpb::HoldFundsRequest {
                wallet_id: wallets[person].clone(),
                amount: seed::eur(100),
                category: common::Category::CuraFigli.into(),
                tax_letter: common::TaxLetter::FBis.into(),
                description: "Benchmark".to_owned(),
                booking_id: String::new(),
                expire_time: Some(convert::timestamp_to_proto(
                    system_clock()().plus_seconds(600),
                )),
                request_id: format!("{prefix}{client}-{n}"),
                provider_id: String::new(),
            };
            let bearer = service.clone();
            async move {
                wallet
                    .hold_funds(call(request, &bearer))
                    .await
                    .expect("hold");
            }
        }
    };
    let (held_rate, held) = load(clients, seconds, hold("h")).await;
    let (offered_held_rate, offered_held) = paced(OFFERED_RATE, seconds, hold("p")).await;

    // The run left the platform consistent: no booking pending or owing, seats = bookings.
    let swept = bookings.recover(5).await.expect("recover");
    assert_eq!(swept.failed, 0);
    let report = wallet.ledger.check_invariants().await.expect("ledger");
    assert!(report.holds(), "{report:?}");

    let ms = |latencies: &[Duration], p: f64| percentile(latencies, p).as_secs_f64() * 1e3;
    println!(
        "CreateBooking end to end over gRPC on PostgreSQL: {clients} clients, {SLOTS} slots, {seconds} s per phase"
    );
    println!("saturation ({clients} clients, each booking as soon as its last one answered):");
    println!(
        "  CreateBooking: {booked_rate:.0} bookings/s  p50 {:.1} ms  p99 {:.1} ms",
        ms(&booked, 0.5),
        ms(&booked, 0.99)
    );
    println!(
        "  baseline HoldFunds alone: {held_rate:.0} holds/s  p50 {:.1} ms  p99 {:.1} ms",
        ms(&held, 0.5),
        ms(&held, 0.99)
    );
    println!(
        "  ratio bookings/s : holds/s = {:.2}",
        booked_rate / held_rate
    );
    println!(
        "offered load ({OFFERED_RATE} calls/s arriving whatever the answers; latency from arrival):"
    );
    println!(
        "  CreateBooking: {offered_booked_rate:.0} bookings/s  p50 {:.1} ms  p99 {:.1} ms",
        ms(&offered_booked, 0.5),
        ms(&offered_booked, 0.99)
    );
    println!(
        "  baseline HoldFunds alone: {offered_held_rate:.0} holds/s  p50 {:.1} ms  p99 {:.1} ms",
        ms(&offered_held, 0.5),
        ms(&offered_held, 0.99)
    );
}
