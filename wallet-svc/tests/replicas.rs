//! Several wallet processes on one PostgreSQL database, as a Deployment with replicas runs
//! them: every process's sweeper expires the same due holds at the same time, one process is
//! killed with SIGKILL in the middle of it, and still every hold is expired exactly once — one
//! expiry transfer each, wallets whole, the ledger's invariants holding.
#![allow(clippy::indexing_slicing, clippy::print_stdout)]

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use wallet_svc::ledger::{Ledger, NewHold};
use welfare_storage::testing::fresh_postgres_url;

/// Replicas started on the same database.
const REPLICAS: usize = 3;
/// Holds due at the same moment.
const HOLDS: usize = 300;

/// A `wallet-svc` process, killed when dropped.
struct Replica(Child);

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn replica(database: &str) -> Replica {
    let child = Command::new(env!("CARGO_BIN_EXE_wallet-svc"))
        .env(
            "LODIWELFARE__SERVER__LISTEN_ADDR",
            format!("127.0.0.1:{}", free_port()),
        )
        .env("LODIWELFARE__DATABASE__URL", database)
        .env("LODIWELFARE__DATABASE__MAX_CONNECTIONS", "4")
        .env(
            "LODIWELFARE__AUTH__HS256_SECRET",
            "replica-test-secret-0123456789abcdef0123",
        )
        .env("LODIWELFARE__SWEEPER__INTERVAL_MS", "100")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start wallet-svc");
    Replica(child)
}

fn unix_now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs(),
    )
    .expect("seconds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_expire_every_due_hold_exactly_once_though_one_is_killed() {
    let database = fresh_postgres_url("wallet_replicas").await;
    let ledger = Ledger::connect(&database, 4).await.expect("ledger");
    let due = unix_now() + 6;
    let mut wallets = Vec::new();
    for n in 0..HOLDS / 3 {
        wallets.push(support::wallet(&ledger, &format!("w{n}"), support::euros(100)).await);
    }
    let mut holds = Vec::new();
    for n in 0..HOLDS {
        let hold = NewHold {
            id: format!("hold-{n:03}"),
            key: format!("key-{n:03}"),
            wallet_id: wallets[n % wallets.len()].clone(),
            amount: support::euros(5),
            expires_at: due,
            category: "cura-figli".to_owned(),
            tax_letter: "f-bis".to_owned(),
            booking_id: None,
            fringe: None,
            provider_id: None,
        };
        ledger.hold(&hold, unix_now()).await.expect("hold");
        holds.push(hold.id);
    }
    let mut replicas: Vec<Replica> = (0..REPLICAS).map(|_| replica(&database)).collect();
    // Once the holds are due, every replica's sweeper races for them; kill one in the midst.
    while unix_now() < due {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let expired_before_the_kill: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM holds WHERE state = 'expired'")
            .fetch_one(ledger.pool())
            .await
            .expect("count");
    let mut killed = replicas.remove(0);
    let pid = killed.0.id().to_string();
    let sent = Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .expect("kill");
    assert!(sent.success());
    let _ = killed.0.wait();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM holds WHERE state = 'pending'")
            .fetch_one(ledger.pool())
            .await
            .expect("count");
        if pending == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{pending} holds still pending after a minute"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for hold in &holds {
        let expiries: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM transfers WHERE hold_id = $1 AND kind = 'expire'",
        )
        .bind(hold)
        .fetch_one(ledger.pool())
        .await
        .expect("count");
        assert_eq!(expiries, 1, "{hold} expired {expiries} times");
        let state = ledger.get_hold(hold).await.expect("hold").state;
        assert_eq!(state.code(), "expired", "{hold}");
    }
    for wallet in &wallets {
        let balance = ledger.balance(wallet).await.expect("balance");
        assert_eq!(balance.debits_pending, 0, "{wallet}: nothing held any more");
        assert_eq!(
            balance.credits_posted - balance.debits_posted,
            10_000,
            "{wallet}: every euro back"
        );
    }
    println!("{expired_before_the_kill} of {HOLDS} holds expired when a replica was killed");
    let report = ledger.check_invariants().await.expect("invariants");
    assert!(report.holds(), "{report:?}");
    drop(replicas);
}
