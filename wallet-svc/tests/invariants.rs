//! The ledger under fire, on PostgreSQL: 32 concurrent tasks × 500 random operations —
//! funding, holds, captures full and partial, releases, expiry sweeps, refunds, and retries of
//! earlier ids, some with changed fields — then the invariants: the postings sum to zero; no
//! available balance was ever negative; every hold resolved at most once; every id produced at
//! most one transfer (a retry got the first answer); stored balances equal those recomputed
//! from the transfers.
#![allow(
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use sqlx::Row;
use support::*;
use tokio::sync::Mutex;
use wallet_svc::ledger::{Ledger, LedgerError, NewHold};
use welfare_core::Money;

const TASKS: usize = 32;
const OPERATIONS_PER_TASK: usize = 500;
const WALLETS: usize = 64;
const START: i64 = 1_800_000_000;

/// A small deterministic generator (xorshift64*), seeded per task.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What a successful call answered, to compare with the answer to its retry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Funded,
    Hold(String, i64),
    Resolved(String),
    Refunded(String),
}

#[derive(Debug, Clone)]
struct Call {
    id: String,
    kind: u64,
    wallet: String,
    hold: String,
    amount: i64,
}

async fn perform(ledger: &Ledger, call: &Call, now: i64) -> Result<Answer, LedgerError> {
    let amount = Money::from_cents(call.amount).expect("small");
    match call.kind {
        0 => ledger
            .fund(&call.id, &call.wallet, amount, now)
            .await
            .map(|_| Answer::Funded),
        1 | 2 => {
            let hold = NewHold {
                id: call.id.clone(),
                key: call.id.clone(),
                wallet_id: call.wallet.clone(),
                amount,
                expires_at: START + 1_000_000 + call.amount % 500,
                category: "sanitario".to_owned(),
                tax_letter: "f".to_owned(),
                booking_id: None,
                fringe: None,
            };
            ledger.hold(&hold, now).await.map(|o| {
                let hold = o.into_inner();
                Answer::Hold(hold.wallet_id, hold.amount.cents())
            })
        }
        3 => ledger
            .capture(&call.id, &call.hold, None, now)
            .await
            .map(|o| Answer::Resolved(o.into_inner().id)),
        4 => ledger
            .capture(&call.id, &call.hold, Some(amount), now)
            .await
            .map(|o| Answer::Resolved(o.into_inner().id)),
        5 => ledger
            .release(&call.id, &call.hold, now)
            .await
            .map(|o| Answer::Resolved(o.into_inner().id)),
        _ => ledger
            .refund(&call.id, &call.hold, amount, now)
            .await
            .map(|o| Answer::Refunded(o.into_inner().id)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_ledger_keeps_its_invariants_under_concurrent_random_operations() {
    let ledger = Arc::new(postgres(40).await);
    for w in 0..WALLETS {
        wallet(&ledger, &format!("w{w}"), cents(50_000)).await;
    }
    let clock = Arc::new(AtomicI64::new(START));
    let holds: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let answers: Arc<Mutex<HashMap<String, Answer>>> = Arc::new(Mutex::new(HashMap::new()));
    let retries = Arc::new(AtomicI64::new(0));
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let (ledger, clock, holds, answers) = (
            Arc::clone(&ledger),
            Arc::clone(&clock),
            Arc::clone(&holds),
            Arc::clone(&answers),
        );
        let retries = Arc::clone(&retries);
        tasks.push(tokio::spawn(async move {
            let mut rng =
                Rng(0x9E37_79B9_7F4A_7C15 ^ (task as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
            let mut history: Vec<Call> = Vec::new();
            let mut negatives = 0;
            for op in 0..OPERATIONS_PER_TASK {
                let now = clock.fetch_add(1, Ordering::Relaxed);
                let roll = rng.below(100);
                // One call in eight is a retry of an earlier one; a quarter of those change a field.
                let call = if roll < 12 && !history.is_empty() {
                    let mut earlier = history[rng.below(history.len() as u64) as usize].clone();
                    if rng.below(4) == 0 {
                        earlier.amount += 1;
                    }
                    earlier
                } else {
                    let hold = {
                        let holds = holds.lock().await;
                        if holds.is_empty() {
                            String::from("none")
                        } else {
                            holds[rng.below(holds.len() as u64) as usize].clone()
                        }
                    };
                    Call {
                        id: format!("t{task}-{op}"),
                        kind: rng.below(7),
                        wallet: format!("w{}", rng.below(WALLETS as u64)),
                        hold,
                        amount: 1 + rng.below(20_000) as i64,
                    }
                };
                if (12..16).contains(&roll) {
                    ledger.expire_due(now + 1_000_000).await.expect("sweep");
                    continue;
                }
                match perform(&ledger, &call, now).await {
                    Ok(answer) => {
                        if let Answer::Hold(..) = answer {
                            holds.lock().await.push(call.id.clone());
                        }
                        let mut answers = answers.lock().await;
                        match answers.get(&call.id) {
                            Some(first) => {
                                assert_eq!(
                                    first, &answer,
                                    "retry of {} answered differently",
                                    call.id
                                );
                                retries.fetch_add(1, Ordering::Relaxed);
                            }
                            None => {
                                answers.insert(call.id.clone(), answer);
                            }
                        }
                    }
                    Err(LedgerError::Database(error)) => {
                        panic!("database error on {call:?}: {error}")
                    }
                    Err(LedgerError::Migration(error)) => panic!("migration error: {error}"),
                    Err(_) => {}
                }
                if !history.iter().any(|c| c.id == call.id) {
                    history.push(call);
                }
                if op % 100 == 0 {
                    for w in 0..WALLETS {
                        if ledger
                            .balance(&format!("w{w}"))
                            .await
                            .expect("balance")
                            .available()
                            .is_negative()
                        {
                            negatives += 1;
                        }
                    }
                }
            }
            negatives
        }));
    }
    let mut negatives = 0;
    for task in tasks {
        negatives += task.await.expect("task");
    }
    assert_eq!(
        negatives, 0,
        "an available balance was negative during the run"
    );
    ledger.expire_due(i64::MAX / 2).await.expect("final sweep");
    let report = ledger.check_invariants().await.expect("check");
    assert!(report.holds(), "{report:?}");
    let resolutions: Vec<String> = sqlx::query_scalar(
        "SELECT hold_id FROM transfers WHERE kind IN ('capture', 'expire') OR (kind = 'release' AND idempotency_key NOT LIKE 'rest|%') \
         GROUP BY hold_id HAVING COUNT(*) > 1",
    )
    .fetch_all(ledger_pool(&ledger))
    .await
    .expect("query");
    assert!(
        resolutions.is_empty(),
        "holds resolved twice: {resolutions:?}"
    );
    // The run exercised every kind of transfer, and retries.
    let rows = sqlx::query("SELECT kind, COUNT(*) AS n FROM transfers GROUP BY kind")
        .fetch_all(ledger_pool(&ledger))
        .await
        .expect("count");
    let mut by_kind = HashMap::new();
    for row in rows {
        by_kind.insert(
            row.try_get::<String, _>("kind").expect("kind"),
            row.try_get::<i64, _>("n").expect("n"),
        );
    }
    for kind in ["funding", "hold", "capture", "release", "expire", "refund"] {
        assert!(
            by_kind.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} transfer in {by_kind:?}"
        );
    }
    let retried = retries.load(Ordering::Relaxed);
    assert!(retried > 100, "only {retried} successful retries");
}

fn ledger_pool(ledger: &Ledger) -> &sqlx::AnyPool {
    ledger.pool()
}
