//! `SearchListings` over gRPC with 100,000 generated listings (SQLite store, as in the
//! embedded mode), mixed queries with filters and a profile; and, in the same run, the raw
//! index alone answering the same queries under the same load. Three loads: 8 clients in a
//! closed loop (each sends its next request when the last is answered; the raw index both
//! from 8 threads and from 8 tasks on the runtime, as the service runs its searches; and the
//! same clients calling `ListCategories`, which reads nothing: the transport alone), an open
//! loop at half the throughput the service sustained there (requests arriving at random
//! moments whether or not earlier ones are done), and one client. Each phase reports p50, p99,
//! mean, throughput and the process's CPU time per request, with what the service adds at p50
//! and in CPU. For the embedded index, and for Meilisearch when `MEILI_URL` (and
//! `MEILI_MASTER_KEY`) name a server.
//!
//! Run: `cargo bench -p catalog-svc --bench search`. Optional: `BENCH_SECONDS` per phase
//! (default 15), `BENCH_CLIENTS` (default 8), `BENCH_LISTINGS` (default 100000),
//! `BENCH_DETAIL=1` for the raw index's latencies per query text, `BENCH_ENGINE=meilisearch` to
//! measure Meilisearch alone, `BENCH_QUERY=<text>` to send
//! only that text (for profiling one query).
//!
//! Against a running server instead (`lodiwelfare serve`, measured by `scripts/measure-memory`):
//! `BENCH_TARGET=http://127.0.0.1:50051` runs the closed loop of `BENCH_CLIENTS` clients for
//! `BENCH_SECONDS` against it (each request with the next of the comma-separated bearer tokens
//! in `BENCH_TOKEN`, if set: many people, as the per-person rate limit expects) and, with
//! `BENCH_PID`, samples that process's resident memory every 50 ms: before, at its peak, after.
//! `BENCH_SEED_DIR=DIR` only writes the `BENCH_LISTINGS` listings to `DIR/catalog.db` (a data
//! directory `lodiwelfare serve` can open) and exits.
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
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use catalog_svc::search::embedded::EmbeddedIndex;
use catalog_svc::search::meili::{MeiliConfig, MeiliIndex, Tuning};
use catalog_svc::search::{IndexQuery, Order, SearchDocument, SearchIndex};
use catalog_svc::store::{CatalogStore, ListingRecord, SqlStore};
use welfare_core::Money;
use welfare_core::category::{Category, Subcategory};
use welfare_core::eligibility::{EligibilityRules, Rule};
use welfare_core::ids::{ListingId, ProviderId};
use welfare_core::listing::{BookingMode, Delivery, Listing, ListingContent, ListingStatus};
use welfare_core::pricing::{IseeBand, IseeBands, PriceModel, Pricing, Unit};
use welfare_core::query::read_query;
use welfare_core::territory::Territory;
use welfare_proto::catalog::catalog_service_client::CatalogServiceClient;
use welfare_proto::catalog::{ListCategoriesRequest, SearchListingsRequest};
use welfare_proto::common;

const PROVIDERS: usize = 200;
const QUERIES: [&str; 16] = [
    "badante",
    "assistenza domiciliare anziani",
    "pasti a domicilio a Codogno",
    "nuoto per un bimbo di 4 anni",
    "qualcuno che porti la spesa a mia madre di 80 anni",
    "fisoterapia",
    "psicologo",
    "asilo nido",
    "baby sitter",
    "trasporto disabili",
    "aiuto compiti a Lodi",
    "telesoccorso",
    "",
    "centro estivo",
    "infermiere a domicilio",
    "farmaci a casa",
];
const WORDS: [&str; 12] = [
    "qualificato",
    "famiglie",
    "territorio",
    "volontari",
    "convenzionato",
    "personalizzato",
    "settimanale",
    "gratuito",
    "accreditato",
    "flessibile",
    "bambini",
    "anziani",
];

fn listing(n: usize, territory: &Territory) -> Listing {
    let subs = Subcategory::all();
    let sub = &subs[n % subs.len()];
    let comuni = territory.municipalities();
    let home = &comuni[(n / subs.len()) % comuni.len()];
    let mut state = n as u64 * 0x9E37_79B9 + 1;
    let extra: Vec<&str> = (0..4)
        .map(|_| WORDS[(next(&mut state) % WORDS.len() as u64) as usize])
        .collect();
    let pricing = match n % 3 {
        0 => Pricing::free(),
        1 => Pricing::new(
            PriceModel::Fixed {
                unit: Unit::Hour,
                amount: Money::from_cents(800 + (n as i64 % 30) * 50).expect("amount"),
            },
            None,
        )
        .expect("fixed"),
        _ => Pricing::new(
            PriceModel::IseeBands {
                unit: Unit::Hour,
                bands: IseeBands::new(vec![
                    IseeBand {
                        isee_up_to: Some(Money::from_euros(10_000).expect("amount")),
                        amount: Money::from_cents(500).expect("amount"),
                    },
                    IseeBand {
                        isee_up_to: None,
                        amount: Money::from_cents(1_500).expect("amount"),
                    },
                ])
                .expect("bands"),
            },
            None,
        )
        .expect("bands"),
    };
    let mut rules = vec![Rule::ResidentInTerritory];
    match n % 4 {
        0 => rules.push(Rule::BeneficiaryAge {
            min_years: Some(65),
            max_years: None,
        }),
        1 => rules.push(Rule::BeneficiaryAge {
            min_years: Some(0),
            max_years: Some(14),
        }),
        _ => {}
    }
    let second = &comuni[(n * 7) % comuni.len()];
    Listing {
        id: ListingId::parse(&format!("l{n:06}")).expect("id"),
        provider_id: ProviderId::parse(&format!("p{}", n % PROVIDERS)).expect("id"),
        content: ListingContent {
            title: format!("{} {}", sub.label_it, home.name),
            description: format!(
                "{} a {}: servizio {} {} per {} del {}.",
                sub.label_it, home.name, extra[0], extra[1], extra[2], extra[3]
            ),
            category: sub.category,
            subcategory: sub.code.to_owned(),
            delivery: vec![Delivery::AtHome],
            service_area: if n.is_multiple_of(5) {
                Vec::new()
            } else {
                let mut area = vec![home.istat_code.clone(), second.istat_code.clone()];
                area.dedup();
                area
            },
            venue: None,
            schedule: Vec::new(),
            booking_mode: BookingMode::RequestAndConfirm,
            eligibility: EligibilityRules::new(rules).expect("rules"),
            pricing,
            cancellation_policy: Default::default(),
            languages: vec!["it".to_owned()],
            accessibility: Vec::new(),
        },
        status: ListingStatus::Published,
        verified_at: Some(now()),
    }
}

/// A mixed request: a query text, sometimes a filter, always a profile.
fn mixed(state: &mut u64, territory: &Territory) -> SearchListingsRequest {
    let comuni = territory.municipalities();
    let mut request = SearchListingsRequest {
        query: match std::env::var("BENCH_QUERY") {
            Ok(only) => only,
            Err(_) => QUERIES[(next(state) % QUERIES.len() as u64) as usize].to_owned(),
        },
        profile: Some(common::Profile {
            residence_istat_code: Some(
                comuni[(next(state) % comuni.len() as u64) as usize]
                    .istat_code
                    .to_string(),
            ),
            beneficiary_age_years: Some((next(state) % 90) as u32),
            isee: Some(common::Money {
                currency_code: "EUR".to_owned(),
                amount_cents: (next(state) % 3_000_000) as i64,
            }),
            ..common::Profile::default()
        }),
        page_size: 10,
        ..SearchListingsRequest::default()
    };
    match next(state) % 5 {
        0 => {
            request.categories = vec![welfare_proto::convert::category_to_proto(
                Category::ALL[(next(state) % 6) as usize],
            )];
        }
        1 => {
            request.served_istat_code = comuni[(next(state) % comuni.len() as u64) as usize]
                .istat_code
                .to_string();
        }
        2 => request.free_only = true,
        _ => {}
    }
    request
}

/// What the service asks of the index for a request (the same reading as `SearchListings`).
fn index_query(request: &SearchListingsRequest, territory: &Territory) -> IndexQuery {
    let reading = read_query(&request.query, territory);
    IndexQuery {
        text: reading.remaining,
        boost_subcategories: Subcategory::mentioned_in(&request.query)
            .iter()
            .map(|s| s.code.to_owned())
            .collect(),
        categories: request
            .categories
            .iter()
            .filter_map(|c| welfare_proto::convert::category(*c, "c").ok())
            .collect(),
        subcategories: Vec::new(),
        excluded_subcategories: Vec::new(),
        served: if request.served_istat_code.is_empty() {
            reading.comune.map(|c| c.to_string())
        } else {
            Some(request.served_istat_code.clone())
        },
        free_only: request.free_only,
        max_price_cents: None,
        age: reading.age_years,
        provider_id: None,
        fresh_since: 0,
        origin: None,
        order: Order::Relevance,
        offset: 0,
        limit: 50,
    }
}

/// The CPU time this process has used, user and system, from `/proc/self/stat` (Linux; in
/// clock ticks of 10 ms, the kernel's fixed `USER_HZ` for `/proc`); `None` elsewhere.
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((user + system) * 10))
}

/// Latencies, throughput and CPU cost of one phase.
struct Phase {
    rate: f64,
    p50: f64,
    p99: f64,
    /// Beside the p50: how far the scheduling skews the distribution.
    mean: f64,
    /// The whole process's CPU time per request (clients included), in milliseconds.
    cpu_ms: Option<f64>,
}

impl Phase {
    fn of(mut latencies: Vec<Duration>, elapsed: Duration, cpu: Option<Duration>) -> Phase {
        latencies.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        Phase {
            rate: latencies.len() as f64 / elapsed.as_secs_f64(),
            p50: ms(percentile(&latencies, 0.5)),
            p99: ms(percentile(&latencies, 0.99)),
            mean: ms(latencies.iter().sum::<Duration>()) / latencies.len().max(1) as f64,
            cpu_ms: cpu.map(|cpu| ms(cpu) / latencies.len().max(1) as f64),
        }
    }

    fn print(&self, label: &str) {
        let cpu = self
            .cpu_ms
            .map(|ms| format!("  CPU {ms:.2} ms/request"))
            .unwrap_or_default();
        println!(
            "  {label:<26} {:>7.0}/s  p50 {:>6.2} ms  p99 {:>6.2} ms  mean {:>6.2} ms{cpu}",
            self.rate, self.p50, self.p99, self.mean
        );
    }
}

/// The CPU time used since `before`.
fn cpu_since(before: Option<Duration>) -> Option<Duration> {
    Some(process_cpu()?.saturating_sub(before?))
}

/// How the raw phase's clients share the cores.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scheduling {
    /// One thread per client, scheduled by the operating system: a thread runs several
    /// searches in one time slice, so most latencies are the search alone and a few absorb the
    /// waiting.
    Threads,
    /// One task per client on the runtime's workers, each search run on the worker that calls
    /// it, as the service runs its searches: every search waits its turn.
    Tasks,
}

/// The raw index alone: `clients` clients asking it what the service would, until the deadline.
async fn raw_phase<I: SearchIndex>(
    index: &I,
    territory: &Arc<Territory>,
    clients: u64,
    seconds: u64,
    scheduling: Scheduling,
) -> Phase {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let cpu = process_cpu();
    let mut tasks = Vec::new();
    for task in 0..clients {
        let (index, territory) = (index.clone(), Arc::clone(territory));
        let mut state = 0x9E37_79B9_7F4A_7C15_u64 ^ (task + 1);
        let mut latencies = Vec::new();
        tasks.push(match scheduling {
            Scheduling::Threads => {
                let runtime = tokio::runtime::Handle::current();
                tokio::task::spawn_blocking(move || {
                    while Instant::now() < deadline {
                        let request = mixed(&mut state, &territory);
                        let query = index_query(&request, &territory);
                        let began = Instant::now();
                        runtime.block_on(index.search(&query)).expect("search");
                        latencies.push((request.query, began.elapsed()));
                    }
                    latencies
                })
            }
            Scheduling::Tasks => tokio::spawn(async move {
                while Instant::now() < deadline {
                    let request = mixed(&mut state, &territory);
                    let query = index_query(&request, &territory);
                    let began = Instant::now();
                    // As a served request does, this one waits behind the others for a worker
                    // before its search runs there.
                    tokio::task::yield_now().await;
                    index.search(&query).await.expect("search");
                    latencies.push((request.query, began.elapsed()));
                }
                latencies
            }),
        });
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("task"));
    }
    let elapsed = started.elapsed();
    let cpu = cpu_since(cpu);
    if env_number("BENCH_DETAIL", 0) == 1 && scheduling == Scheduling::Threads {
        for text in QUERIES {
            let mut times: Vec<Duration> = latencies
                .iter()
                .filter(|(t, _)| t == text)
                .map(|(_, d)| *d)
                .collect();
            times.sort();
            println!(
                "    {text:<52} p50 {:>6.2} ms  p99 {:>6.2} ms",
                percentile(&times, 0.5).as_secs_f64() * 1e3,
                percentile(&times, 0.99).as_secs_f64() * 1e3
            );
        }
    }
    Phase::of(
        latencies.into_iter().map(|(_, d)| d).collect(),
        elapsed,
        cpu,
    )
}

/// A request of the open-loop phases, ready to run on the runtime.
type Call = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Open loop: requests arrive at `rate` per second at random (Poisson) moments, each started
/// on the runtime without waiting for the earlier ones to finish, for `seconds`. A latency runs
/// from the moment the request was due, so time spent waiting for a core counts. The arrivals
/// are timed by a thread of their own, so a busy runtime cannot delay them.
async fn open_loop(
    rate: f64,
    seconds: u64,
    mut call: impl FnMut(&mut u64) -> Call + Send + 'static,
) -> Phase {
    let runtime = tokio::runtime::Handle::current();
    let started = Instant::now();
    let cpu = process_cpu();
    let dispatcher = std::thread::spawn(move || {
        let deadline = started + Duration::from_secs(seconds);
        let mut state = 0x2545_F491_4F6C_DD1D_u64;
        let mut due = started;
        let mut answers = Vec::new();
        while due < deadline {
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let request = call(&mut state);
            let arrived = due;
            answers.push(runtime.spawn(async move {
                request.await;
                arrived.elapsed()
            }));
            // Exponential gaps: a uniform draw in (0, 1], its logarithm scaled by the rate.
            let uniform = ((next(&mut state) >> 11) as f64 + 1.0) / (1_u64 << 53) as f64;
            due += Duration::from_secs_f64(-uniform.ln() / rate);
        }
        answers
    });
    let answers = tokio::task::spawn_blocking(move || dispatcher.join().expect("dispatcher"))
        .await
        .expect("dispatcher");
    let mut latencies = Vec::with_capacity(answers.len());
    for answer in answers {
        latencies.push(answer.await.expect("request"));
    }
    Phase::of(latencies, started.elapsed(), cpu_since(cpu))
}

/// The raw index at `rate` searches per second, each on the runtime as the service runs it.
async fn raw_open_loop<I: SearchIndex>(
    index: &I,
    territory: &Arc<Territory>,
    rate: f64,
    seconds: u64,
) -> Phase {
    let (index, territory) = (index.clone(), Arc::clone(territory));
    open_loop(rate, seconds, move |state| {
        let query = index_query(&mixed(state, &territory), &territory);
        let index = index.clone();
        Box::pin(async move {
            index.search(&query).await.expect("search");
        })
    })
    .await
}

/// `SearchListings` at `rate` requests per second over `clients` connections in turn.
async fn served_open_loop<I: SearchIndex>(
    index: &I,
    store: &SqlStore,
    territory: &Arc<Territory>,
    clients: u64,
    rate: f64,
    seconds: u64,
) -> Phase {
    let (endpoint, stop, server) = serve(store.clone(), index.clone(), Arc::clone(territory)).await;
    let mut connections = Vec::new();
    for _ in 0..clients.max(1) {
        connections.push(
            CatalogServiceClient::connect(endpoint.clone())
                .await
                .expect("connect"),
        );
    }
    let territory = Arc::clone(territory);
    let mut turn = 0;
    let phase = open_loop(rate, seconds, move |state| {
        let request = mixed(state, &territory);
        let mut client = connections[turn % connections.len()].clone();
        turn += 1;
        Box::pin(async move {
            client.search_listings(request).await.expect("search");
        })
    })
    .await;
    let _ = stop.send(());
    let _ = server.await;
    phase
}

/// What the served phases call.
#[derive(Clone, Copy)]
enum Rpc {
    Search,
    /// A call through the same stack (transport, authentication, limits, telemetry) that reads
    /// neither store nor index: what a round trip alone costs.
    ListCategories,
}

/// `SearchListings` (or the round trip alone) over gRPC on a server searching `index`.
async fn served_phase<I: SearchIndex>(
    index: &I,
    store: &SqlStore,
    territory: &Arc<Territory>,
    clients: u64,
    seconds: u64,
    rpc: Rpc,
) -> Phase {
    let (endpoint, stop, server) = serve(store.clone(), index.clone(), Arc::clone(territory)).await;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let cpu = process_cpu();
    let mut tasks = Vec::new();
    for task in 0..clients {
        let (endpoint, territory) = (endpoint.clone(), Arc::clone(territory));
        tasks.push(tokio::spawn(async move {
            let mut client = CatalogServiceClient::connect(endpoint)
                .await
                .expect("connect");
            let mut state = 0x9E37_79B9_7F4A_7C15_u64 ^ (task + 1);
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let request = mixed(&mut state, &territory);
                let began = Instant::now();
                match rpc {
                    Rpc::Search => drop(client.search_listings(request).await.expect("search")),
                    Rpc::ListCategories => drop(
                        client
                            .list_categories(ListCategoriesRequest {})
                            .await
                            .expect("categories"),
                    ),
                }
                latencies.push(began.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("task"));
    }
    let phase = Phase::of(latencies, started.elapsed(), cpu_since(cpu));
    let _ = stop.send(());
    let _ = server.await;
    phase
}

/// The phases on one index: closed loop with `clients` clients (the raw index both ways of
/// scheduling), open loop at half what the service sustained there, then one client; each
/// printed with what the service adds at p50 and in CPU.
async fn measure<I: SearchIndex>(
    label: &str,
    index: &I,
    store: &SqlStore,
    territory: &Arc<Territory>,
    clients: u64,
    seconds: u64,
) {
    let raw_threads = raw_phase(index, territory, clients, seconds, Scheduling::Threads).await;
    let raw_tasks = raw_phase(index, territory, clients, seconds, Scheduling::Tasks).await;
    let served = served_phase(index, store, territory, clients, seconds, Rpc::Search).await;
    let plural = if clients == 1 { "" } else { "s" };
    println!("{label}, {clients} client{plural} in a closed loop, {seconds} s per phase");
    raw_threads.print(&format!("raw index, {clients} threads"));
    raw_tasks.print(&format!("raw index, {clients} tasks"));
    served.print("SearchListings over gRPC");
    println!(
        "  service adds at p50: {:.2} ms over the raw index's threads, {:.2} ms over its tasks",
        served.p50 - raw_threads.p50,
        served.p50 - raw_tasks.p50
    );
    print_cpu_added(&raw_tasks, &served);
    // The same clients calling a method that reads nothing: the transport's own share of
    // the cores, which in a closed loop every request also waits for.
    let trips = served_phase(
        index,
        store,
        territory,
        clients,
        seconds,
        Rpc::ListCategories,
    )
    .await;
    trips.print("ListCategories over gRPC");
    if let Some(cpu) = trips.cpu_ms {
        let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
        println!(
            "  a round trip alone takes {cpu:.2} ms of CPU: in a closed loop of {clients} on {cores} cores it adds about {:.2} ms at p50",
            cpu * clients as f64 / cores
        );
    }

    // Open loop at half the service's closed-loop throughput: a load it carries with cores to
    // spare, where a request's latency is its own work plus what arrives with it.
    let rate = (served.rate / 2.0).max(1.0);
    let raw = raw_open_loop(index, territory, rate, seconds).await;
    let open = served_open_loop(index, store, territory, clients, rate, seconds).await;
    println!("{label}, open loop at {rate:.0} requests/s (Poisson), {seconds} s per phase");
    raw.print("raw index, runtime tasks");
    open.print("SearchListings over gRPC");
    println!("  service adds at p50: {:.2} ms", open.p50 - raw.p50);
    print_cpu_added(&raw, &open);

    if clients > 1 {
        // One client: what the service adds to a request that queues behind no other.
        let raw = raw_phase(index, territory, 1, seconds, Scheduling::Tasks).await;
        let one = served_phase(index, store, territory, 1, seconds, Rpc::Search).await;
        let trip = served_phase(index, store, territory, 1, seconds, Rpc::ListCategories).await;
        println!("{label}, 1 client, {seconds} s per phase");
        raw.print("raw index alone");
        one.print("SearchListings over gRPC");
        trip.print("ListCategories over gRPC");
        println!(
            "  service adds at p50: {:.2} ms; a round trip reading nothing takes {:.2} ms",
            one.p50 - raw.p50,
            trip.p50
        );
        print_cpu_added(&raw, &one);
    }
}

fn print_cpu_added(raw: &Phase, served: &Phase) {
    if let (Some(raw_cpu), Some(served_cpu)) = (raw.cpu_ms, served.cpu_ms) {
        println!(
            "  service adds in CPU: {:.2} ms/request (transport both ends, store read, answer)",
            served_cpu - raw_cpu
        );
    }
}

/// A process's resident memory in KiB, from `/proc/<pid>/status`.
fn resident_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `BENCH_TARGET`: the closed loop against a server already running, and (`BENCH_PID`) its
/// resident memory before, at the peak of and after the load.
async fn against_running_server(target: String, clients: u64, seconds: u64) {
    let territory = Arc::new(Territory::lodi());
    let tokens: Arc<Vec<String>> = Arc::new(
        std::env::var("BENCH_TOKEN")
            .unwrap_or_default()
            .split(',')
            .filter(|t| !t.is_empty())
            .map(|t| format!("Bearer {t}"))
            .collect(),
    );
    let pid = std::env::var("BENCH_PID").ok();
    let before = pid.as_deref().and_then(resident_kib);
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(before.unwrap_or(0)));
    let sampling = pid.clone().map(|pid| {
        let peak = Arc::clone(&peak);
        tokio::spawn(async move {
            loop {
                if let Some(kib) = resident_kib(&pid) {
                    peak.fetch_max(kib, std::sync::atomic::Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    });
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for task in 0..clients {
        let (target, territory, tokens) =
            (target.clone(), Arc::clone(&territory), Arc::clone(&tokens));
        tasks.push(tokio::spawn(async move {
            let mut client = CatalogServiceClient::connect(target)
                .await
                .expect("connect");
            let mut state = 0x9E37_79B9_7F4A_7C15_u64 ^ (task + 1);
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let mut request = tonic::Request::new(mixed(&mut state, &territory));
                if !tokens.is_empty() {
                    let token = &tokens[(next(&mut state) % tokens.len() as u64) as usize];
                    request
                        .metadata_mut()
                        .insert("authorization", token.parse().expect("header"));
                }
                let began = Instant::now();
                drop(client.search_listings(request).await.expect("search"));
                latencies.push(began.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("task"));
    }
    let phase = Phase::of(latencies, started.elapsed(), None);
    println!("SearchListings against {target}, closed loop, {clients} clients, {seconds} s:");
    phase.print("over gRPC");
    if let Some(sampling) = sampling {
        sampling.abort();
        let after = pid.as_deref().and_then(resident_kib);
        let mib =
            |kib: Option<u64>| kib.map_or("?".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0));
        println!(
            "  resident memory of {}: before {} MiB, peak {} MiB, after {} MiB",
            pid.unwrap_or_default(),
            mib(before),
            mib(Some(peak.load(std::sync::atomic::Ordering::Relaxed))),
            mib(after)
        );
    }
}

#[tokio::main]
async fn main() {
    let seconds = env_number("BENCH_SECONDS", 15);
    let clients = env_number("BENCH_CLIENTS", 8);
    let listings = env_number("BENCH_LISTINGS", 100_000) as usize;
    let _ =
        welfare_runtime::telemetry::Telemetry::init(&welfare_runtime::config::TelemetryConfig {
            log_filter: "warn".to_owned(),
            ..Default::default()
        });
    if let Ok(target) = std::env::var("BENCH_TARGET") {
        against_running_server(target, clients, seconds).await;
        return;
    }
    let seed_only = std::env::var("BENCH_SEED_DIR")
        .ok()
        .map(std::path::PathBuf::from);
    let territory = Arc::new(Territory::lodi());
    let dir = seed_only.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("lodiwelfare-search-bench-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir).expect("dir");
    let store = SqlStore::connect(
        &format!("sqlite://{}?mode=rwc", dir.join("catalog.db").display()),
        8,
    )
    .await
    .expect("store");

    let seeding = Instant::now();
    for p in 0..PROVIDERS {
        store
            .create_provider(
                &approved_provider(&format!("p{p}"), p),
                &seed_change(listings + p, &format!("p{p}")),
            )
            .await
            .expect("provider");
    }
    let mut documents = Vec::with_capacity(listings);
    for n in 0..listings {
        let listing = listing(n, &territory);
        documents.push(SearchDocument::of(
            &listing,
            &territory,
            &Default::default(),
        ));
        store
            .create_listing(
                &ListingRecord {
                    listing,
                    version: 1,
                    created_at: now(),
                    updated_at: now(),
                },
                &seed_change(n, &n.to_string()),
            )
            .await
            .expect("listing");
    }
    println!(
        "{listings} listings seeded in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );
    if let Some(dir) = seed_only {
        println!("catalogue left in {}", dir.join("catalog.db").display());
        return;
    }

    if std::env::var("BENCH_ENGINE").ok().as_deref() != Some("meilisearch") {
        let index = EmbeddedIndex::new().expect("index");
        let building = Instant::now();
        index.rebuild(documents.clone()).await.expect("build");
        println!(
            "embedded index built in {:.1} s",
            building.elapsed().as_secs_f64()
        );
        measure(
            "embedded index",
            &index,
            &store,
            &territory,
            clients,
            seconds,
        )
        .await;
    }

    match std::env::var("MEILI_URL") {
        Ok(url) if !url.is_empty() => {
            let config = MeiliConfig {
                url,
                api_key: std::env::var("MEILI_MASTER_KEY").ok(),
                index: format!("bench_{}", std::process::id()),
                task_timeout: Duration::from_secs(1_800),
            };
            let meili = MeiliIndex::open(&config, Tuning::Italian)
                .await
                .expect("Meilisearch");
            let building = Instant::now();
            meili.rebuild(documents).await.expect("build");
            println!(
                "Meilisearch index built in {:.1} s",
                building.elapsed().as_secs_f64()
            );
            measure("Meilisearch", &meili, &store, &territory, clients, seconds).await;
            meili.delete().await.expect("delete");
        }
        _ => println!("Meilisearch: skipped (MEILI_URL is not set)"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}
