//! The whole platform for the booking suites: the real catalogue, wallet and booking services,
//! each started by its own composition root on its own port, calling each other over gRPC, on
//! one test clock; with a published swimming course (slots), a home-care service
//! (request-and-confirm), and funded wallets for the employees who book.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use sqlx::Row;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use booking_svc::saga::Bookings;
use tonic::transport::Channel;
use tonic::{Request, Status};
use tonic_types::StatusExt;
use welfare_core::time::{Date, Timestamp};
use welfare_proto::booking::booking_service_client::BookingServiceClient;
use welfare_proto::booking::{self as bpb};
use welfare_proto::catalog::catalog_service_client::CatalogServiceClient;
use welfare_proto::catalog::{self as cpb};
use welfare_proto::common;
use welfare_proto::convert;
use welfare_proto::wallet::wallet_service_client::WalletServiceClient;
use welfare_proto::wallet::{self as wpb};
use welfare_runtime::Application;
use welfare_runtime::clock::Clock;
use welfare_runtime::config::{ClientTlsConfig, RuntimeConfig, Secret, ServiceConfig, TlsConfig};
use welfare_runtime::testing::pki::{TestPki, Usage};
use welfare_runtime::testing::{
    Serving, Tenant, seed, serve_in_background, signed_token, with_bearer,
};
use welfare_storage::Backend;
use welfare_storage::testing::{fresh_postgres_url, fresh_sqlite_url};

pub const SECRET: &str = "booking-service-tests-hs256-secret-of-32b";
pub const HOUR: i64 = 3_600;
pub const DAY: i64 = 86_400;

/// The suites' "now": 2026-06-01 09:00 UTC.
pub fn start_time() -> Timestamp {
    "2026-06-01"
        .parse::<Date>()
        .expect("date")
        .start()
        .plus_seconds(9 * HOUR)
}

/// A clock the test moves, shared by the three services: stopped at [`start_time`], or
/// (for suites with real processes, which read the system clock) running with the system's.
#[derive(Clone)]
pub struct TestClock {
    seconds: Arc<AtomicI64>,
    running: bool,
}

fn system_seconds() -> i64 {
    welfare_runtime::clock::system_clock()().unix_seconds()
}

impl TestClock {
    pub fn new() -> TestClock {
        TestClock {
            seconds: Arc::new(AtomicI64::new(start_time().unix_seconds())),
            running: false,
        }
    }

    /// The system's clock, moved by [`TestClock::advance`].
    pub fn running() -> TestClock {
        TestClock {
            seconds: Arc::new(AtomicI64::new(0)),
            running: true,
        }
    }

    pub fn now(&self) -> Timestamp {
        let offset = if self.running { system_seconds() } else { 0 };
        Timestamp::from_unix_seconds(offset + self.seconds.load(Ordering::SeqCst))
    }

    pub fn advance(&self, seconds: i64) {
        self.seconds.fetch_add(seconds, Ordering::SeqCst);
    }

    pub fn clock(&self) -> Clock {
        let me = self.clone();
        Arc::new(move || me.now())
    }
}

/// A token signed for the suites, valid for a day of real time.
pub fn token(subject: &str, roles: &[&str], tenant: Tenant<'_>) -> String {
    let exp = welfare_runtime::clock::system_clock()().unix_seconds() + DAY;
    signed_token(SECRET, subject, roles, tenant, exp)
}

pub fn curator() -> String {
    token("ufficio-di-piano", &["curator"], Tenant::None)
}

pub fn operator_of(provider: &str) -> String {
    token(
        &format!("op-{provider}"),
        &["provider_operator"],
        Tenant::Provider(provider),
    )
}

pub fn hr() -> String {
    token("hr-acme", &["company_admin"], Tenant::Company("acme"))
}

pub fn employee(name: &str) -> String {
    token(name, &["employee"], Tenant::Company("acme"))
}

pub fn citizen(name: &str) -> String {
    token(name, &["citizen"], Tenant::None)
}

pub fn ops() -> String {
    token("ops", &["operator"], Tenant::None)
}

pub fn call<T>(message: T, bearer: &str) -> Request<T> {
    with_bearer(message, bearer)
}

pub fn reason(status: &Status) -> String {
    status
        .get_details_error_info()
        .map(|i| i.reason)
        .unwrap_or_default()
}

pub fn bad_fields(status: &Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

pub fn eur(cents: i64) -> Option<common::Money> {
    Some(common::Money {
        currency_code: "EUR".to_owned(),
        amount_cents: cents,
    })
}

pub fn ts(at: Timestamp) -> Option<prost_types::Timestamp> {
    Some(convert::timestamp_to_proto(at))
}

static REQUEST: AtomicUsize = AtomicUsize::new(0);

/// A fresh request id.
pub fn rid() -> String {
    format!("req-{}", REQUEST.fetch_add(1, Ordering::Relaxed))
}

/// A child's profile for the swimming course (ages 3 to 10).
pub fn child_profile() -> common::Profile {
    common::Profile {
        beneficiary_age_years: Some(7),
        ..common::Profile::default()
    }
}

fn listing_mode(mode: cpb::booking_mode::Mode) -> Option<cpb::BookingMode> {
    Some(cpb::BookingMode { mode: Some(mode) })
}

/// The swimming course the suites book: 10 seats a slot.
pub fn swimming() -> cpb::Listing {
    seed::swimming_course(10)
}

/// Home care booked by request, free.
pub fn home_care() -> cpb::Listing {
    cpb::Listing {
        title: "Assistenza domiciliare leggera".to_owned(),
        description: "Aiuto in casa per chi vive solo, su richiesta.".to_owned(),
        category: common::Category::SocioAssistenziale.into(),
        subcategory: "sad".to_owned(),
        delivery: vec![cpb::Delivery::AtHome.into()],
        booking_mode: listing_mode(cpb::booking_mode::Mode::RequestAndConfirm(
            cpb::booking_mode::RequestAndConfirm {},
        )),
        pricing: Some(cpb::Pricing {
            model: Some(cpb::pricing::Model::Free(cpb::pricing::Free {})),
            resident_discount_basis_points: 0,
        }),
        languages: vec!["it".to_owned()],
        ..cpb::Listing::default()
    }
}

/// The DNS name in the booking service's client certificate, the one the wallet's holds port
/// answers.
pub const BOOKING_SERVICE_NAME: &str = "booking-svc.lodiwelfare.test";

/// The platform under test.
pub struct Platform {
    pub catalog: CatalogServiceClient<Channel>,
    pub wallet: WalletServiceClient<Channel>,
    pub booking: BookingServiceClient<Channel>,
    pub booking_url: String,
    pub wallet_url: String,
    /// Where the wallet serves its hold RPCs: over mutual TLS, answering only the booking
    /// service's certificate, as deployed.
    pub wallet_holds_url: String,
    /// How the booking service reaches that port: the platform's authority and its certificate.
    pub upstream_tls: ClientTlsConfig,
    pub catalog_url: String,
    /// The booking service's saga, for sweeps and invariant checks.
    pub bookings: Bookings,
    pub wallet_ledger: wallet_svc::ledger::Ledger,
    pub clock: TestClock,
    pub provider_id: String,
    pub operator: String,
    pub swimming_id: String,
    pub home_care_id: String,
    pub plan_id: String,
    pub backend: Backend,
    pub booking_db: String,
    _serving: Vec<Serving>,
    _tasks: Vec<welfare_runtime::tasks::BackgroundTasks>,
}

fn runtime(config: &impl ServiceConfig) -> RuntimeConfig {
    let mut runtime = config.runtime();
    runtime.server.listen_addr = "127.0.0.1:0".parse().expect("address");
    runtime.auth.hs256_secret = Some(Secret::new(SECRET));
    runtime.limits.rate_limit_per_second = 100_000;
    runtime.limits.rate_limit_burst = 100_000;
    runtime.limits.max_concurrent_requests = 4_096;
    runtime
}

async fn serve(config: &RuntimeConfig, services: welfare_runtime::ServiceSet) -> Serving {
    let app = Application::build(config, services).await.expect("build");
    serve_in_background(app)
}

/// A fresh database URL for `backend`.
pub async fn database(backend: Backend, name: &str) -> String {
    match backend {
        Backend::Sqlite => fresh_sqlite_url(&format!("lodiwelfare_{name}"), &format!("{name}.db")),
        Backend::Postgres => fresh_postgres_url(&format!("{name}_test")).await,
    }
}

/// Starts the three services with the wallet and bookings on `backend` (the catalogue on
/// SQLite), and seeds the catalogue and the wallets.
pub async fn platform(backend: Backend) -> Platform {
    let booking_db = database(backend, "booking").await;
    platform_on(backend, booking_db).await
}

pub async fn platform_on(backend: Backend, booking_db: String) -> Platform {
    platform_at(backend, booking_db, TestClock::new()).await
}

pub async fn platform_at(backend: Backend, booking_db: String, clock: TestClock) -> Platform {
    let mut serving = Vec::new();
    let mut tasks = Vec::new();

    let mut catalog_config = catalog_svc::config::CatalogConfig::default();
    catalog_config.database.url = database(Backend::Sqlite, "catalog").await;
    let catalog = catalog_svc::startup::start(&catalog_config, clock.clock())
        .await
        .expect("catalogue");
    let catalog_serving = serve(&runtime(&catalog_config), catalog.services).await;
    let catalog_url = catalog_serving.url.clone();
    serving.push(catalog_serving);
    tasks.push(catalog.tasks);

    let mut wallet_config = wallet_svc::config::WalletConfig::default();
    wallet_config.database.url = database(backend, "wallet").await;
    wallet_config.database.max_connections = 8;
    // The hold RPCs on a port of their own, as deployed: over mutual TLS, for the booking
    // service's certificate only; the booking service calls both ports.
    wallet_config.holds.listen_addr = Some("127.0.0.1:0".parse().expect("address"));
    wallet_config.holds.client_names = vec![BOOKING_SERVICE_NAME.to_owned()];
    let wallet = wallet_svc::startup::start(&wallet_config, clock.clock())
        .await
        .expect("wallet");
    let wallet_serving = serve(&runtime(&wallet_config), wallet.services).await;
    let wallet_url = wallet_serving.url.clone();
    let certificates = std::env::temp_dir().join(format!(
        "lodiwelfare-platform-{}",
        welfare_runtime::uuid::new_uuid()
    ));
    let pki = TestPki::new(&certificates, "ambito");
    let wallet_cert = pki.issue("wallet", &["localhost"], Usage::Server);
    let booking_cert = pki.issue("booking", &[BOOKING_SERVICE_NAME], Usage::Client);
    let mut holds_runtime = runtime(&wallet_config);
    holds_runtime.server.tls = Some(TlsConfig {
        cert_file: wallet_cert.cert_file,
        key_file: wallet_cert.key_file,
        client_ca_file: Some(pki.ca_file()),
        require_client_cert: true,
        reload_seconds: 3_600,
    });
    let holds_serving = serve(&holds_runtime, wallet.holds.expect("a holds port")).await;
    let wallet_holds_url = holds_serving
        .url
        .replace("http://127.0.0.1", "https://localhost");
    let upstream_tls = ClientTlsConfig {
        ca_file: pki.ca_file(),
        cert_file: Some(booking_cert.cert_file),
        key_file: Some(booking_cert.key_file),
        reload_seconds: 3_600,
    };
    serving.push(holds_serving);
    let wallet_ledger = wallet.ledger.clone();
    serving.push(wallet_serving);
    tasks.push(wallet.tasks);

    let mut booking_config = booking_svc::config::BookingConfig::default();
    booking_config.database.url = booking_db.clone();
    booking_config.database.max_connections = 8;
    booking_config.auth.hs256_secret = Some(Secret::new(SECRET));
    booking_config.upstream.catalog_url = catalog_url.clone();
    booking_config.upstream.wallet_url = wallet_url.clone();
    booking_config.upstream.wallet_holds_url = Some(wallet_holds_url.clone());
    booking_config.upstream.tls = Some(upstream_tls.clone());
    // The suites sweep when they mean to: the sweeper's first pass (recovery on start) runs,
    // then not again during a test.
    booking_config.sweeper.interval_ms = 3_600_000;
    let booking = booking_svc::startup::start(&booking_config, clock.clock())
        .await
        .expect("booking");
    let bookings = booking.bookings.clone();
    let booking_serving = serve(&runtime(&booking_config), booking.services).await;
    let booking_url = booking_serving.url.clone();
    serving.push(booking_serving);
    tasks.push(booking.tasks);

    let mut catalog_client = CatalogServiceClient::connect(catalog_url.clone())
        .await
        .expect("catalogue client");
    let wallet_client = WalletServiceClient::connect(wallet_url.clone())
        .await
        .expect("wallet client");
    let booking_client = BookingServiceClient::connect(booking_url.clone())
        .await
        .expect("booking client");

    let provider_id = seed::approved_provider(
        &mut catalog_client,
        SECRET,
        "Società Sportiva Lodigiana",
        "01234560983",
    )
    .await;
    let mut publish = async |listing: cpb::Listing| {
        seed::published_listing(&mut catalog_client, SECRET, &provider_id, listing).await
    };
    let swimming_id = publish(swimming()).await;
    let home_care_id = publish(home_care()).await;

    // The plan of the clock's year, so a running clock finds it open.
    let year = clock.now().date().expect("a date").year();
    let plan_id = seed::plan(
        &mut wallet_client.clone(),
        SECRET,
        year,
        50_000,
        &[common::Category::CuraFigli, common::Category::Sanitario],
    )
    .await;

    Platform {
        catalog: catalog_client,
        wallet: wallet_client,
        booking: booking_client,
        booking_url,
        wallet_url,
        wallet_holds_url,
        upstream_tls,
        catalog_url,
        bookings,
        wallet_ledger,
        clock,
        operator: operator_of(&provider_id),
        provider_id,
        swimming_id,
        home_care_id,
        plan_id,
        backend,
        booking_db,
        _serving: serving,
        _tasks: tasks,
    }
}

impl Platform {
    /// Funds `employees` with `cents` each; answers their wallet ids in order.
    pub async fn fund(&mut self, employees: &[String], cents: i64) -> Vec<String> {
        let mut wallets = Vec::new();
        for chunk in employees.chunks(1_000) {
            let answer = self
                .wallet
                .fund_wallets(call(
                    wpb::FundWalletsRequest {
                        plan_id: self.plan_id.clone(),
                        fundings: chunk
                            .iter()
                            .map(|e| wpb::Funding {
                                employee_id: e.clone(),
                                amount: eur(cents),
                                has_dependent_children: true,
                            })
                            .collect(),
                        request_id: rid(),
                    },
                    &hr(),
                ))
                .await
                .expect("fund")
                .into_inner();
            wallets.extend(answer.results.into_iter().map(|r| r.wallet_id));
        }
        wallets
    }

    /// Opens slots on the swimming course, each `hours_ahead` from now, one hour long.
    pub async fn slots(&mut self, starts: &[i64], capacity: u32) -> Vec<bpb::Slot> {
        let now = self.clock.now();
        let slots = starts
            .iter()
            .map(|&hours| bpb::SlotSpec {
                start_time: ts(now.plus_seconds(hours * HOUR)),
                end_time: ts(now.plus_seconds(hours * HOUR + HOUR)),
                capacity,
            })
            .collect();
        self.booking
            .create_slots(call(
                bpb::CreateSlotsRequest {
                    listing_id: self.swimming_id.clone(),
                    slots,
                    request_id: rid(),
                },
                &self.operator,
            ))
            .await
            .expect("slots")
            .into_inner()
            .slots
    }

    /// A booking request for a seat of `slot`, paid from `wallet` when given.
    pub fn book_request(&self, slot: &str, wallet: Option<&str>) -> bpb::CreateBookingRequest {
        bpb::CreateBookingRequest {
            listing_id: self.swimming_id.clone(),
            slot_id: slot.to_owned(),
            quantity: 1,
            profile: Some(child_profile()),
            wallet_id: wallet.unwrap_or_default().to_owned(),
            request_id: rid(),
            start_time: None,
        }
    }

    pub async fn book(
        &mut self,
        bearer: &str,
        slot: &str,
        wallet: Option<&str>,
    ) -> Result<bpb::Booking, Status> {
        let request = self.book_request(slot, wallet);
        self.booking
            .create_booking(call(request, bearer))
            .await
            .map(tonic::Response::into_inner)
    }

    pub async fn slot(&mut self, id: &str) -> bpb::Slot {
        let now = self.clock.now();
        let page = self
            .booking
            .list_availability(bpb::ListAvailabilityRequest {
                listing_id: self.swimming_id.clone(),
                start_time: ts(now.plus_seconds(-DAY)),
                end_time: ts(now.plus_seconds(170 * DAY)),
                page_size: 500,
                ..Default::default()
            })
            .await
            .expect("availability")
            .into_inner();
        page.slots
            .into_iter()
            .find(|s| s.id == id)
            .expect("the slot is listed")
    }

    pub async fn wallet_of(&mut self, bearer: &str, id: &str) -> wpb::Wallet {
        self.wallet
            .get_wallet(call(
                wpb::GetWalletRequest {
                    id: id.to_owned(),
                    ..Default::default()
                },
                bearer,
            ))
            .await
            .expect("wallet")
            .into_inner()
    }

    /// Runs recovery and the platform's transitions until nothing is left now.
    pub async fn sweep(&self) -> booking_svc::saga::recovery::Swept {
        self.bookings.recover(20).await.expect("sweep")
    }

    /// The invariants that must hold whatever happened, once recovery has run.
    pub async fn check_invariants(&self) {
        check_invariants(self.bookings.store(), &self.wallet_ledger).await;
    }
}

/// Seats reserved = quantities of pending, HELD and CONFIRMED bookings, per slot, never above
/// capacity; pending wallet holds = exactly the HELD and CONFIRMED bookings with a wallet
/// part; completed bookings captured; other final ones released; the ledger sums to zero.
pub async fn check_invariants(
    store: &booking_svc::store::Store,
    ledger: &wallet_svc::ledger::Ledger,
) {
    use sqlx::Row;
    let pool = store.pool();
    let slots = sqlx::query(
        "SELECT s.id, s.capacity, s.reserved, \
         CAST(COALESCE((SELECT SUM(b.quantity) FROM bookings b WHERE b.slot_id = s.id \
         AND b.state IN ('pending', 'held', 'confirmed')), 0) AS BIGINT) AS taken FROM slots s",
    )
    .fetch_all(pool)
    .await
    .expect("slots");
    for row in slots {
        let id: String = row.get("id");
        let reserved: i64 = row.get("reserved");
        let taken: i64 = row.get("taken");
        let capacity: i64 = row.get("capacity");
        assert_eq!(
            reserved, taken,
            "slot {id}: reserved seats = live bookings' seats"
        );
        assert!(reserved <= capacity, "slot {id} oversold");
    }
    let pending: i64 = sqlx::query("SELECT COUNT(*) AS n FROM bookings WHERE state = 'pending'")
        .fetch_one(pool)
        .await
        .expect("pending")
        .get("n");
    assert_eq!(pending, 0, "recovery leaves no booking pending");
    let owing: i64 = sqlx::query("SELECT COUNT(*) AS n FROM bookings WHERE settlement IS NOT NULL")
        .fetch_one(pool)
        .await
        .expect("owing")
        .get("n");
    assert_eq!(owing, 0, "recovery leaves no wallet step owed");
    let rows = sqlx::query(
        "SELECT id, state, wallet_cents, hold_id, fee_cents, state_reason, settle_error \
         FROM bookings",
    )
    .fetch_all(pool)
    .await
    .expect("bookings");
    let wallet_pool = ledger.pool();
    for row in rows {
        let id: String = row.get("id");
        let state: String = row.get("state");
        let wallet_cents: i64 = row.get("wallet_cents");
        let hold_id: Option<String> = row.get("hold_id");
        let fee: i64 = row.get("fee_cents");
        let why: String = row.get("state_reason");
        let settle_error: Option<String> = row.get("settle_error");
        let holds = sqlx::query("SELECT state, captured FROM holds WHERE booking_id = $1")
            .bind(&id)
            .fetch_all(wallet_pool)
            .await
            .expect("holds");
        let pending_holds = holds
            .iter()
            .filter(|h| h.get::<String, _>("state") == "pending")
            .count();
        let live = matches!(state.as_str(), "held" | "confirmed");
        let expect_pending = usize::from(live && wallet_cents > 0);
        assert_eq!(
            pending_holds, expect_pending,
            "booking {id} ({state}, {why:?}, settle error {settle_error:?}): pending holds"
        );
        if live && wallet_cents > 0 {
            assert!(
                hold_id.is_some(),
                "booking {id} is {state} without its hold"
            );
        }
        if wallet_cents > 0 && !live && state != "aborted" {
            let captured: i64 = holds.iter().map(|h| h.get::<i64, _>("captured")).sum();
            let expected = match state.as_str() {
                "completed" => wallet_cents,
                "cancelled" | "no_show" => fee.min(wallet_cents),
                _ => 0,
            };
            assert_eq!(captured, expected, "booking {id} ({state}): captured");
        }
        if state == "aborted" {
            let captured: i64 = holds.iter().map(|h| h.get::<i64, _>("captured")).sum();
            assert_eq!(captured, 0, "aborted booking {id} captured nothing");
        }
    }
    let report = ledger.check_invariants().await.expect("ledger invariants");
    assert!(report.holds(), "the ledger's invariants: {report:?}");
}

/// Runs the futures concurrently on this task (no spawning: each is polled whenever any is
/// woken) and answers their outputs in order.
pub async fn join_all<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, result) in pinned.iter_mut().zip(results.iter_mut()) {
            if result.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(output) => *result = Some(output),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    results
        .into_iter()
        .map(|r| r.expect("every future finished"))
        .collect()
}

/// Rows of the booking service's tables, to show a refused call wrote nothing.
pub async fn written(p: &Platform) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in [
        "slots",
        "bookings",
        "booking_events",
        "booking_requests",
        "slot_requests",
    ] {
        let n: i64 = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) AS n FROM {table}"
        )))
        .fetch_one(p.bookings.store().pool())
        .await
        .expect("count")
        .get("n");
        counts.push(n);
    }
    let reserved: i64 =
        sqlx::query("SELECT CAST(COALESCE(SUM(reserved), 0) AS BIGINT) AS n FROM slots")
            .fetch_one(p.bookings.store().pool())
            .await
            .expect("reserved")
            .get("n");
    counts.push(reserved);
    counts
}

/// The fields a refused call names, checking it was refused as invalid.
pub fn invalid(result: Result<impl std::fmt::Debug, tonic::Status>) -> Vec<String> {
    let status = result.expect_err("refused");
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    bad_fields(&status)
}
