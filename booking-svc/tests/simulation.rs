//! A deterministic simulation of the booking saga, after TigerBeetle's VOPR: for each seed, a
//! random schedule of bookings, confirmations, rejections, cancellations, moves, completions,
//! expiries and clock jumps runs against the real saga and the real wallet service (its gRPC
//! handlers called in process, on SQLite), with faults injected — the process stopping before
//! or after every step, a wallet call failing before it is applied, timing out after it was
//! applied, or applied twice. Then faults stop, recovery runs, and the invariants are checked:
//! seats reserved = seats of HELD and CONFIRMED bookings; a wallet hold pending exactly for the
//! HELD and CONFIRMED bookings with a wallet part; each completed booking captured once, for its
//! wallet part; each cancelled, rejected or expired one released (a late fee captured); the
//! ledger sums to zero.
//!
//! `SIM_SEEDS` (default 200) seeds run from `SIM_FIRST_SEED` (default 1); `SIM_SEED=n` replays
//! one. A failing seed names itself and the command that replays it. A longer run:
//! `SIM_SEEDS=5000 cargo nextest run -p booking-svc --test simulation --release`.
#![allow(clippy::indexing_slicing)]

mod support;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use booking_svc::saga::{Bookings, Faults, NewBooking, Point, Step};
use booking_svc::store::Store;
use booking_svc::upstream::grpc::listing_view;
use booking_svc::upstream::in_process::{InProcessWallet, as_principal};
use booking_svc::upstream::{
    BoxFuture, Caller, Catalogue, HoldRequest, HoldView, ListingView, UpstreamError, Wallet,
    WalletView,
};
use wallet_svc::grpc::WalletApi;
use wallet_svc::ledger::Ledger;
use welfare_core::Money;
use welfare_core::auth::{Principal, Role};
use welfare_core::availability::SlotSpec;
use welfare_core::booking::BookingAction;
use welfare_core::ids::{CompanyId, PersonId, ProviderId};
use welfare_core::time::Timestamp;
use welfare_proto::catalog as cpb;
use welfare_proto::convert;
use welfare_proto::wallet::wallet_service_server::WalletService;
use welfare_proto::wallet::{self as wpb};
use welfare_storage::testing::fresh_sqlite_url;

const PROVIDER: &str = "coop-sim";
const LISTING: &str = "listing-sim";
const PEOPLE: usize = 6;
const HOUR: i64 = 3_600;

/// splitmix64: small, fast, and the same on every machine.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            items.get(usize::try_from(self.below(items.len() as u64)).unwrap_or(0))
        }
    }
}

/// The faults of one seed: a shared generator, whether faults are on, and how many of each
/// kind were injected.
#[derive(Debug, Clone)]
struct Chaos {
    rng: Arc<Mutex<Rng>>,
    on: Arc<std::sync::atomic::AtomicBool>,
    injected: Arc<Mutex<std::collections::BTreeMap<&'static str, u64>>>,
}

impl Chaos {
    fn roll(&self, percent: u64) -> bool {
        self.on.load(Ordering::SeqCst)
            && self
                .rng
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .chance(percent)
    }

    /// Rolls for a fault of `kind`, counting it when it strikes.
    fn strike(&self, kind: &'static str, percent: u64) -> bool {
        let hit = self.roll(percent);
        if hit {
            *self
                .injected
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(kind)
                .or_default() += 1;
        }
        hit
    }
}

impl Faults for Chaos {
    fn stop_at(&self, point: Point) -> bool {
        let kind = match point {
            Point::AfterReserve => "stop after reserve",
            Point::AfterHold => "stop after hold",
            Point::AfterTransition => "stop after transition",
            Point::AfterSettle => "stop after settle",
        };
        self.strike(kind, 8)
    }
}

/// The catalogue of the simulation: one published swimming course. The catalogue is not what
/// is simulated; its own suites test it.
#[derive(Debug)]
struct OneListing(ListingView);

impl Catalogue for OneListing {
    fn listing<'a>(
        &'a self,
        _caller: Caller<'a>,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ListingView>, UpstreamError>> {
        Box::pin(async move { Ok((id == self.0.id).then(|| self.0.clone())) })
    }
}

/// The real wallet service, its handlers called in process (`InProcessWallet`, as the
/// all-in-one binary calls it), with the faults of a network around each call.
#[derive(Debug)]
struct FaultyWallet {
    inner: InProcessWallet<WalletApi>,
    chaos: Chaos,
}

fn employee(name: &str) -> Principal {
    Principal::new(PersonId::parse(name).expect("id"), vec![Role::Employee])
        .for_company(CompanyId::parse("acme").expect("id"))
}

impl FaultyWallet {
    /// A call that moves money, with the faults of a network: not sent, sent but unanswered,
    /// or sent twice.
    async fn moving<F, Fut>(&self, call: F) -> Result<HoldView, UpstreamError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<HoldView, UpstreamError>>,
    {
        if self.chaos.strike("wallet call failed", 5) {
            return Err(UpstreamError::Unavailable("injected: not sent".to_owned()));
        }
        let first = call().await;
        if self.chaos.strike("wallet call timed out", 5) {
            // Applied, but the answer is lost.
            return Err(UpstreamError::Timeout);
        }
        if self.chaos.strike("wallet call applied twice", 5) {
            call().await
        } else {
            first
        }
    }

    fn read_fails(&self) -> bool {
        self.chaos.strike("wallet read failed", 3)
    }
}

impl Wallet for FaultyWallet {
    fn wallet<'a>(
        &'a self,
        caller: Caller<'a>,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<WalletView>, UpstreamError>> {
        Box::pin(async move {
            if self.read_fails() {
                return Err(UpstreamError::Unavailable("injected".to_owned()));
            }
            self.inner.wallet(caller, id).await
        })
    }

    fn hold<'a>(&'a self, hold: &'a HoldRequest) -> BoxFuture<'a, Result<HoldView, UpstreamError>> {
        Box::pin(self.moving(move || self.inner.hold(hold)))
    }

    fn capture<'a>(
        &'a self,
        hold_id: &'a str,
        amount: Money,
        request_id: &'a str,
    ) -> BoxFuture<'a, Result<HoldView, UpstreamError>> {
        Box::pin(self.moving(move || self.inner.capture(hold_id, amount, request_id)))
    }

    fn release<'a>(
        &'a self,
        hold_id: &'a str,
        request_id: &'a str,
    ) -> BoxFuture<'a, Result<HoldView, UpstreamError>> {
        Box::pin(self.moving(move || self.inner.release(hold_id, request_id)))
    }

    fn holds_of<'a>(
        &'a self,
        booking_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<HoldView>, UpstreamError>> {
        Box::pin(async move {
            if self.read_fails() {
                return Err(UpstreamError::Unavailable("injected".to_owned()));
            }
            self.inner.holds_of(booking_id).await
        })
    }
}

fn the_listing() -> ListingView {
    let mut listing = support::swimming();
    listing.id = LISTING.to_owned();
    listing.provider_id = PROVIDER.to_owned();
    listing.state = cpb::listing::State::Published.into();
    listing_view(&listing).expect("the simulation's listing converts")
}

fn provider() -> Principal {
    Principal::new(
        PersonId::parse("op-sim").expect("id"),
        vec![Role::ProviderOperator],
    )
    .for_provider(ProviderId::parse(PROVIDER).expect("id"))
}

/// What a seed did: how its bookings ended and which faults struck, so the suite can tell it
/// really exercised each path.
type Tally = std::collections::BTreeMap<String, u64>;

/// One seed: a world, a schedule with faults, recovery, the invariants.
async fn run_seed(seed: u64, steps: usize) -> Tally {
    let rng = Arc::new(Mutex::new(Rng(seed)));
    let chaos = Chaos {
        rng: Arc::clone(&rng),
        on: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        injected: Arc::default(),
    };
    let now = Arc::new(AtomicI64::new(support::start_time().unix_seconds()));
    let seen = Arc::clone(&now);
    let clock: welfare_runtime::clock::Clock =
        Arc::new(move || Timestamp::from_unix_seconds(seen.load(Ordering::SeqCst)));

    let wallet_url = fresh_sqlite_url("lodiwelfare_sim", "wallet.db");
    let booking_url = fresh_sqlite_url("lodiwelfare_sim", "booking.db");
    let ledger = Ledger::connect(&wallet_url, 1).await.expect("ledger");
    let api = WalletApi::new(ledger.clone(), Arc::clone(&clock));
    let hr = Principal::new(PersonId::parse("hr").expect("id"), vec![Role::CompanyAdmin])
        .for_company(CompanyId::parse("acme").expect("id"));
    let plan = api
        .create_plan(as_principal(
            wpb::CreatePlanRequest {
                company_id: "acme".to_owned(),
                plan: Some(wpb::Plan {
                    display_name: "Welfare 2026".to_owned(),
                    year: 2026,
                    allowance_per_employee: support::eur(5_000),
                    allowed_categories: vec![welfare_proto::common::Category::CuraFigli.into()],
                    regime: wpb::Regime::Art51C2Services.into(),
                    expire_date: Some(convert::date_to_proto("2026-12-31".parse().expect("date"))),
                    ..wpb::Plan::default()
                }),
                request_id: "plan".to_owned(),
            },
            hr.clone(),
        ))
        .await
        .expect("plan")
        .into_inner();
    let people: Vec<String> = (0..PEOPLE).map(|i| format!("p{i}")).collect();
    let funded = api
        .fund_wallets(as_principal(
            wpb::FundWalletsRequest {
                plan_id: plan.id.clone(),
                fundings: people
                    .iter()
                    .enumerate()
                    .map(|(i, person)| wpb::Funding {
                        employee_id: person.clone(),
                        // Some can pay a seat or two, some cannot pay one.
                        amount: support::eur([3_000, 1_250, 1_000, 2_500, 5_000, 800][i]),
                        has_dependent_children: true,
                    })
                    .collect(),
                request_id: "fund".to_owned(),
            },
            hr,
        ))
        .await
        .expect("fund")
        .into_inner();
    let wallets: Vec<String> = funded.results.into_iter().map(|r| r.wallet_id).collect();

    let store = Store::connect(&booking_url, 1).await.expect("store");
    let bookings = Bookings::new(
        store,
        Arc::new(OneListing(the_listing())),
        Arc::new(FaultyWallet {
            inner: InProcessWallet::new(api),
            chaos: chaos.clone(),
        }),
        Arc::clone(&clock),
    )
    .with_faults(Arc::new(chaos.clone()))
    .with_pending_grace(0);

    let start = Timestamp::from_unix_seconds(now.load(Ordering::SeqCst));
    let specs: Vec<SlotSpec> = [30, 60, 100]
        .iter()
        .map(|&h| SlotSpec {
            starts_at: start.plus_seconds(h * HOUR),
            ends_at: start.plus_seconds(h * HOUR + HOUR),
            capacity: 3,
        })
        .collect();
    let slots: Vec<String> = bookings
        .create_slots(&provider(), None, LISTING, &specs, "slots")
        .await
        .expect("slots")
        .into_iter()
        .map(|s| s.id)
        .collect();

    chaos.on.store(true, Ordering::SeqCst);
    let mut request = 0_u64;
    let mut next_id = || {
        request += 1;
        format!("r{request}")
    };
    for _ in 0..steps {
        let choice = rng_below(&rng, 100);
        let known: Vec<_> = bookings
            .store()
            .bookings(&Default::default(), "", 500)
            .await
            .expect("bookings");
        let ids: Vec<(String, String)> = known
            .iter()
            .map(|b| (b.id.clone(), b.booker_id.clone()))
            .collect();
        let target = {
            let mut rng = rng
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            rng.pick(&ids).cloned()
        };
        let step = |id: &str, request_id: String| Step {
            id: id.to_owned(),
            etag: None,
            request_id,
            reason: "motivo".to_owned(),
        };
        match choice {
            0..=34 => {
                let (person, slot, quantity, pay) = {
                    let mut rng = rng
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    let i = usize::try_from(rng.below(PEOPLE as u64)).unwrap_or(0);
                    let slot = rng.pick(&slots).cloned().unwrap_or_default();
                    let quantity = 1 + u32::try_from(rng.below(2)).unwrap_or(0);
                    (i, slot, quantity, rng.chance(75))
                };
                let new = NewBooking {
                    listing_id: LISTING.to_owned(),
                    slot_id: Some(slot),
                    quantity,
                    profile: welfare_core::eligibility::Profile {
                        beneficiary_age_years: Some(7),
                        ..Default::default()
                    },
                    wallet_id: pay.then(|| wallets[person].clone()),
                    request_id: next_id(),
                    start: None,
                };
                let principal = employee(&people[person]);
                let retry = new.clone();
                let _ = bookings
                    .create(&principal, Some(&people[person]), new)
                    .await;
                if rng_below(&rng, 100) < 20 {
                    // The client retries the same request.
                    let _ = bookings
                        .create(&principal, Some(&people[person]), retry)
                        .await;
                }
            }
            35..=49 => {
                if let Some((id, _)) = target {
                    let _ = bookings
                        .act(&provider(), BookingAction::Confirm, step(&id, next_id()))
                        .await;
                }
            }
            50..=54 => {
                if let Some((id, _)) = target {
                    let _ = bookings
                        .act(&provider(), BookingAction::Reject, step(&id, next_id()))
                        .await;
                }
            }
            55..=64 => {
                if let Some((id, booker)) = target {
                    let _ = bookings
                        .act(
                            &employee(&booker),
                            BookingAction::Cancel,
                            step(&id, next_id()),
                        )
                        .await;
                }
            }
            65..=69 => {
                if let Some((id, booker)) = target {
                    let slot = {
                        let mut rng = rng
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        rng.pick(&slots).cloned().unwrap_or_default()
                    };
                    let _ = bookings
                        .reschedule(&employee(&booker), step(&id, next_id()), slot)
                        .await;
                }
            }
            70..=79 => {
                if let Some((id, _)) = target {
                    let action = if rng_below(&rng, 4) == 0 {
                        BookingAction::MarkNoShow
                    } else {
                        BookingAction::Complete
                    };
                    let _ = bookings
                        .act(&provider(), action, step(&id, next_id()))
                        .await;
                }
            }
            80..=89 => {
                // The clock moves on: hours, sometimes days.
                let hours = if rng_below(&rng, 5) == 0 {
                    24 + rng_below(&rng, 72)
                } else {
                    rng_below(&rng, 12)
                };
                now.fetch_add(i64::try_from(hours).unwrap_or(0) * HOUR, Ordering::SeqCst);
            }
            _ => {
                // A restart: the next process recovers (itself stopped at times).
                let _ = bookings.sweep().await;
            }
        }
    }

    // Faults stop; recovery finishes everything, as a healthy process would.
    chaos.on.store(false, Ordering::SeqCst);
    let swept = bookings.recover(50).await.expect("recovery");
    assert_eq!(swept.failed, 0, "recovery without faults fails nothing");
    support::check_invariants(bookings.store(), &ledger).await;
    // Each completed booking's hold was captured by one capture transfer.
    use sqlx::Row;
    let doubles: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM (SELECT hold_id FROM transfers WHERE kind = 'capture' \
         GROUP BY hold_id HAVING COUNT(*) > 1) AS twice",
    )
    .fetch_one(ledger.pool())
    .await
    .expect("captures")
    .get("n");
    assert_eq!(doubles, 0, "a hold captured more than once");
    let mut tally = Tally::new();
    for row in sqlx::query("SELECT state, COUNT(*) AS n FROM bookings GROUP BY state")
        .fetch_all(bookings.store().pool())
        .await
        .expect("states")
    {
        let n: i64 = row.get("n");
        tally.insert(row.get("state"), u64::try_from(n).unwrap_or(0));
    }
    for (kind, n) in chaos
        .injected
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
    {
        tally.insert((*kind).to_owned(), *n);
    }
    drop(bookings);
    for url in [wallet_url, booking_url] {
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .and_then(|p| p.split('?').next())
            .and_then(|p| std::path::Path::new(p).parent())
        {
            std::fs::remove_dir_all(path).ok();
        }
    }
    tally
}

fn rng_below(rng: &Arc<Mutex<Rng>>, n: u64) -> u64 {
    rng.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .below(n)
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_saga_keeps_its_invariants_under_faults() {
    let steps = usize::try_from(env_number("SIM_STEPS", 60)).unwrap_or(60);
    let seeds: Vec<u64> = match std::env::var("SIM_SEED").ok().and_then(|v| v.parse().ok()) {
        Some(seed) => vec![seed],
        None => {
            let first = env_number("SIM_FIRST_SEED", 1);
            (first..first + env_number("SIM_SEEDS", 200)).collect()
        }
    };
    let single = seeds.len() == 1;
    let mut total = Tally::new();
    for seed in seeds {
        match tokio::spawn(run_seed(seed, steps)).await {
            Ok(tally) => {
                for (what, n) in tally {
                    *total.entry(what).or_default() += n;
                }
            }
            Err(error) => panic!(
                "seed {seed} failed ({error}); replay it with \
                 SIM_SEED={seed} SIM_STEPS={steps} cargo nextest run -p booking-svc --test simulation"
            ),
        }
    }
    eprintln!("simulated: {total:?}");
    if !single {
        // A schedule that never reaches a path proves nothing about it.
        for path in [
            "held",
            "confirmed",
            "completed",
            "cancelled",
            "rejected",
            "expired",
            "no_show",
            "aborted",
            "stop after reserve",
            "stop after hold",
            "stop after transition",
            "stop after settle",
            "wallet call failed",
            "wallet call timed out",
            "wallet call applied twice",
            "wallet read failed",
        ] {
            assert!(
                total.get(path).copied().unwrap_or(0) > 0,
                "no seed reached {path:?}: {total:?}"
            );
        }
    }
}
