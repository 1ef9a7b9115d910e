//! Crash safety with real processes: `booking-svc` is started as its own process (the
//! catalogue and the wallet serve from this test), frozen by a failpoint at one step of the
//! saga, killed there with SIGKILL, and started again on the same database: its recovery must
//! leave every invariant holding — no seat without a live booking, no hold without a live
//! booking, no HELD booking without its hold, each capture made once.
#![allow(clippy::indexing_slicing)]

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use booking_svc::store::{Settlement, Stage, Store};
use support::*;
use tonic::transport::Channel;
use welfare_core::booking::BookingStatus;
use welfare_proto::booking::booking_service_client::BookingServiceClient;
use welfare_proto::booking::{self as bpb, booking::State};
use welfare_storage::{Backend, on_every_backend};

/// A `booking-svc` process, killed when dropped.
struct Process {
    child: Child,
    url: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts `booking-svc` on `database` against the platform's catalogue and wallet, frozen at
/// `failpoint` when given, and waits until it serves.
async fn spawn(p: &Platform, database: &str, failpoint: Option<&str>) -> Process {
    spawn_with_wallet(p, database, failpoint, &p.wallet_url, &p.wallet_holds_url).await
}

/// [`spawn`], calling the wallet at `wallet_url` and its hold RPCs at `holds_url`.
async fn spawn_with_wallet(
    p: &Platform,
    database: &str,
    failpoint: Option<&str>,
    wallet_url: &str,
    holds_url: &str,
) -> Process {
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_booking-svc"));
    command
        .env(
            "LODIWELFARE__SERVER__LISTEN_ADDR",
            format!("127.0.0.1:{port}"),
        )
        .env("LODIWELFARE__DATABASE__URL", database)
        .env("LODIWELFARE__DATABASE__MAX_CONNECTIONS", "4")
        .env("LODIWELFARE__AUTH__HS256_SECRET", SECRET)
        .env("LODIWELFARE__UPSTREAM__CATALOG_URL", &p.catalog_url)
        .env("LODIWELFARE__UPSTREAM__WALLET_URL", wallet_url)
        .env("LODIWELFARE__UPSTREAM__WALLET_HOLDS_URL", holds_url)
        .env(
            "LODIWELFARE__UPSTREAM__TLS__CA_FILE",
            &p.upstream_tls.ca_file,
        )
        .env(
            "LODIWELFARE__UPSTREAM__TLS__CERT_FILE",
            p.upstream_tls
                .cert_file
                .as_ref()
                .expect("a client certificate"),
        )
        .env(
            "LODIWELFARE__UPSTREAM__TLS__KEY_FILE",
            p.upstream_tls.key_file.as_ref().expect("its key"),
        )
        .env("LODIWELFARE__UPSTREAM__TIMEOUT_MS", "500")
        .env("LODIWELFARE__SWEEPER__INTERVAL_MS", "200")
        // A frozen process stands for one about to die: its own sweeper must not finish the
        // step before the kill (a loaded machine can be slower than a second of grace). The
        // processes that recover do so at once.
        .env(
            "LODIWELFARE__SWEEPER__PENDING_GRACE_SECONDS",
            if failpoint.is_some() { "3600" } else { "1" },
        )
        .env("LODIWELFARE__LIMITS__RATE_LIMIT_PER_SECOND", "10000")
        .env("LODIWELFARE__LIMITS__RATE_LIMIT_BURST", "10000")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(point) = failpoint {
        command.env("LODIWELFARE__FAILPOINT__PAUSE_AT", point);
    }
    let child = command.spawn().expect("start booking-svc");
    let process = Process {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while BookingServiceClient::connect(process.url.clone())
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "booking-svc did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    process
}

/// A call that must answer within 30 seconds (a frozen process never does).
async fn in_time<T>(call: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), call)
        .await
        .expect("an answer within 30 s")
}

async fn client(process: &Process) -> BookingServiceClient<Channel> {
    BookingServiceClient::connect(process.url.clone())
        .await
        .expect("connect")
}

/// Waits until `check` holds of the process's store, or fails after a while.
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn only_booking(store: &Store) -> Option<booking_svc::store::BookingRecord> {
    use sqlx::Row;
    let id: Option<String> = sqlx::query("SELECT id FROM bookings")
        .fetch_optional(store.pool())
        .await
        .expect("bookings")
        .map(|row| row.get("id"));
    match id {
        Some(id) => store.booking(&id).await.expect("booking"),
        None => None,
    }
}

async fn open_slot(process: &Process, p: &Platform, starts_in: i64, capacity: u32) -> bpb::Slot {
    let now = p.clock.now();
    let mut client = client(process).await;
    in_time(client.create_slots(call(
        bpb::CreateSlotsRequest {
            listing_id: p.swimming_id.clone(),
            slots: vec![bpb::SlotSpec {
                start_time: ts(now.plus_seconds(starts_in)),
                end_time: ts(now.plus_seconds(starts_in + HOUR)),
                capacity,
            }],
            request_id: rid(),
        },
        &p.operator,
    )))
    .await
    .expect("slots")
    .into_inner()
    .slots
    .remove(0)
}

async fn killed_between_reserving_and_holding(backend: Backend) {
    let mut p = platform_at(
        backend,
        database(backend, "booking_unused").await,
        TestClock::running(),
    )
    .await;
    let wallets = p.fund(&["anna".to_owned()], 10_000).await;
    let database = database(backend, "booking_process").await;
    let store = Store::connect(&database, 2).await.expect("store");
    let frozen = spawn(&p, &database, Some("after_reserve")).await;
    let slot = open_slot(&frozen, &p, 2 * DAY, 3).await;
    let request = p.book_request(&slot.id, Some(&wallets[0]));
    let mut booking_client = client(&frozen).await;
    let attempt = tokio::spawn(async move {
        booking_client
            .create_booking(call(request, &employee("anna")))
            .await
    });
    until("the booking is pending with its seat", || async {
        only_booking(&store)
            .await
            .is_some_and(|b| b.stage == Stage::Pending)
    })
    .await;
    drop(frozen); // SIGKILL, between reserving and holding.
    let _ = attempt.await;
    let pending = only_booking(&store).await.expect("the booking");
    assert_eq!(pending.settlement, Some(Settlement::Hold));
    let slot_now = store.slot(&slot.id).await.expect("slot").expect("slot");
    assert_eq!(slot_now.reserved, 1, "the seat was taken before the kill");

    // The next process decides: the wallet holds nothing for it, so it aborts and frees the seat.
    let _restarted = spawn(&p, &database, None).await;
    until("recovery has decided the pending booking", || async {
        only_booking(&store)
            .await
            .is_some_and(|b| b.stage != Stage::Pending && b.settlement.is_none())
    })
    .await;
    let after = only_booking(&store).await.expect("the booking");
    assert_eq!(after.stage, Stage::Aborted);
    assert_eq!(
        store
            .slot(&slot.id)
            .await
            .expect("slot")
            .expect("slot")
            .reserved,
        0
    );
    check_invariants(&store, &p.wallet_ledger).await;
}

async fn killed_between_holding_and_held(backend: Backend) {
    let mut p = platform_at(
        backend,
        database(backend, "booking_unused").await,
        TestClock::running(),
    )
    .await;
    let wallets = p.fund(&["anna".to_owned()], 10_000).await;
    let database = database(backend, "booking_process").await;
    let store = Store::connect(&database, 2).await.expect("store");
    let frozen = spawn(&p, &database, Some("after_hold")).await;
    let slot = open_slot(&frozen, &p, 2 * DAY, 3).await;
    let request = p.book_request(&slot.id, Some(&wallets[0]));
    let mut booking_client = client(&frozen).await;
    let attempt = tokio::spawn(async move {
        booking_client
            .create_booking(call(request, &employee("anna")))
            .await
    });
    let ledger = p.wallet_ledger.clone();
    until("the wallet holds the credit", || async {
        use sqlx::Row;
        sqlx::query("SELECT COUNT(*) AS n FROM holds WHERE state = 'pending'")
            .fetch_one(ledger.pool())
            .await
            .map(|r| r.get::<i64, _>("n") == 1)
            .unwrap_or(false)
    })
    .await;
    drop(frozen); // SIGKILL: the hold placed, the booking still pending.
    let _ = attempt.await;
    assert_eq!(
        only_booking(&store).await.expect("booking").stage,
        Stage::Pending
    );
    let _restarted = spawn(&p, &database, None).await;
    until("recovery made the booking HELD with its hold", || async {
        only_booking(&store)
            .await
            .is_some_and(|b| b.stage == Stage::Live(BookingStatus::Held) && b.hold_id.is_some())
    })
    .await;
    check_invariants(&store, &p.wallet_ledger).await;
}

/// Books, confirms, waits for the start, then completes on a process frozen at `point` of the
/// completion, kills it, restarts, and checks the hold was captured exactly once.
async fn killed_around_the_capture(backend: Backend, point: &str) {
    let mut p = platform_at(
        backend,
        database(backend, "booking_unused").await,
        TestClock::running(),
    )
    .await;
    let wallets = p.fund(&["anna".to_owned()], 10_000).await;
    let database = database(backend, "booking_process").await;
    let store = Store::connect(&database, 2).await.expect("store");
    let frozen = spawn(&p, &database, Some(point)).await;
    let slot = open_slot(&frozen, &p, 4, 3).await;
    let mut booking_client = client(&frozen).await;
    let booking = in_time(booking_client.create_booking(call(
        p.book_request(&slot.id, Some(&wallets[0])),
        &employee("anna"),
    )))
    .await
    .expect("book")
    .into_inner();
    assert_eq!(booking.state, State::Held as i32);
    in_time(booking_client.confirm_booking(call(
        bpb::ConfirmBookingRequest {
            id: booking.id.clone(),
            request_id: rid(),
            ..Default::default()
        },
        &p.operator,
    )))
    .await
    .expect("confirm");
    let start = slot.start_time.as_ref().map_or(0, |t| t.seconds);
    while p.clock.now().unix_seconds() < start {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let operator = p.operator.clone();
    let id = booking.id.clone();
    let attempt = tokio::spawn(async move {
        booking_client
            .complete_booking(call(
                bpb::CompleteBookingRequest {
                    id,
                    request_id: rid(),
                    ..Default::default()
                },
                &operator,
            ))
            .await
    });
    let ledger = p.wallet_ledger.clone();
    let captured = async || {
        use sqlx::Row;
        sqlx::query("SELECT COUNT(*) AS n FROM holds WHERE state = 'captured'")
            .fetch_one(ledger.pool())
            .await
            .map(|r| r.get::<i64, _>("n") == 1)
            .unwrap_or(false)
    };
    until("the completion is stored, owing its capture", || async {
        only_booking(&store).await.is_some_and(|b| {
            b.stage == Stage::Live(BookingStatus::Completed)
                && matches!(b.settlement, Some(Settlement::Capture(_)))
        })
    })
    .await;
    if point == "after_settle" {
        until("the wallet captured", captured).await;
    } else {
        assert!(!captured().await, "frozen before the capture");
    }
    drop(frozen); // SIGKILL around the capture.
    let _ = attempt.await;
    let _restarted = spawn(&p, &database, None).await;
    until("recovery settled the completion", || async {
        only_booking(&store)
            .await
            .is_some_and(|b| b.settlement.is_none())
    })
    .await;
    assert!(captured().await);
    check_invariants(&store, &p.wallet_ledger).await;
    use sqlx::Row;
    let captures: i64 = sqlx::query("SELECT COUNT(*) AS n FROM transfers WHERE kind = 'capture'")
        .fetch_one(p.wallet_ledger.pool())
        .await
        .expect("captures")
        .get("n");
    assert_eq!(captures, 1, "captured exactly once");
}

async fn killed_between_the_state_change_and_the_capture(backend: Backend) {
    killed_around_the_capture(backend, "after_transition").await;
}

async fn killed_between_the_capture_and_recording_it(backend: Backend) {
    killed_around_the_capture(backend, "after_settle").await;
}

/// Several booking processes on one PostgreSQL database, as a Deployment with replicas runs
/// them: completions whose captures are owed and bookings whose hold call never answered are
/// left by a process whose wallet was unreachable; then three replicas recover them at once,
/// one killed with SIGKILL in the midst, and every capture is made exactly once, every
/// pending booking decided, every invariant holding.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_recover_every_owed_step_exactly_once_though_one_is_killed() {
    const COMPLETED: usize = 6;
    const UNANSWERED: usize = 3;
    let backend = Backend::Postgres;
    let mut p = platform_at(
        backend,
        database(backend, "booking_unused").await,
        TestClock::running(),
    )
    .await;
    let people: Vec<String> = (0..COMPLETED + UNANSWERED)
        .map(|n| format!("p{n}"))
        .collect();
    let wallets = p.fund(&people, 10_000).await;
    let database = database(backend, "booking_replicas").await;
    let store = Store::connect(&database, 2).await.expect("store");
    let good = spawn(&p, &database, None).await;
    let mut booking_client = client(&good).await;
    let slot = open_slot(&good, &p, 5, 10).await;
    let mut booked = Vec::new();
    for n in 0..COMPLETED {
        let booking = in_time(booking_client.create_booking(call(
            p.book_request(&slot.id, Some(&wallets[n])),
            &employee(&people[n]),
        )))
        .await
        .expect("book")
        .into_inner();
        in_time(booking_client.confirm_booking(call(
            bpb::ConfirmBookingRequest {
                id: booking.id.clone(),
                request_id: rid(),
                ..Default::default()
            },
            &p.operator,
        )))
        .await
        .expect("confirm");
        booked.push(booking.id);
    }
    let later = open_slot(&good, &p, 2 * DAY, 10).await;
    drop(good);
    let start = slot.start_time.as_ref().map_or(0, |t| t.seconds);
    while p.clock.now().unix_seconds() < start {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A process whose wallet does not answer: completions stored with their captures owed,
    // bookings reserved whose hold call failed.
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let broken = spawn_with_wallet(&p, &database, None, &nowhere, &nowhere).await;
    let mut broken_client = client(&broken).await;
    for id in &booked {
        let _ = in_time(broken_client.complete_booking(call(
            bpb::CompleteBookingRequest {
                id: id.clone(),
                request_id: rid(),
                ..Default::default()
            },
            &p.operator,
        )))
        .await;
    }
    for n in COMPLETED..COMPLETED + UNANSWERED {
        let _ = in_time(broken_client.create_booking(call(
            p.book_request(&later.id, Some(&wallets[n])),
            &employee(&people[n]),
        )))
        .await;
    }
    drop(broken);
    let owed = async || {
        use sqlx::Row;
        sqlx::query(
            "SELECT COUNT(*) AS n FROM bookings WHERE settlement IS NOT NULL OR state = 'pending'",
        )
        .fetch_one(store.pool())
        .await
        .map(|r| r.get::<i64, _>("n"))
        .expect("count")
    };
    assert!(
        owed().await >= i64::try_from(COMPLETED).expect("count"),
        "steps left owed"
    );
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(spawn(&p, &database, None).await);
    }
    tokio::time::sleep(Duration::from_millis(250)).await;
    drop(replicas.remove(0)); // SIGKILL, in the midst of its sweeps.
    until("every owed step is done", || async { owed().await == 0 }).await;
    check_invariants(&store, &p.wallet_ledger).await;
    use sqlx::Row;
    let captures: i64 = sqlx::query("SELECT COUNT(*) AS n FROM transfers WHERE kind = 'capture'")
        .fetch_one(p.wallet_ledger.pool())
        .await
        .expect("captures")
        .get("n");
    assert_eq!(
        captures,
        i64::try_from(COMPLETED).expect("count"),
        "each captured exactly once"
    );
    for id in &booked {
        let record = store.booking(id).await.expect("read").expect("booking");
        assert_eq!(record.stage, Stage::Live(BookingStatus::Completed));
    }
}

async fn backend(backend: Backend) -> Backend {
    backend
}

on_every_backend!(backend;
    killed_between_reserving_and_holding,
    killed_between_holding_and_held,
    killed_between_the_state_change_and_the_capture,
    killed_between_the_capture_and_recording_it,
);
