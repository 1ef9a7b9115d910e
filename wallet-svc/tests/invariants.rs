//! The ledger under fire, on PostgreSQL: 32 concurrent tasks × 500 random operations —
//! funding, holds, captures full and partial, releases, expiry sweeps, refunds, and retries of
//! earlier ids, some with changed fields — then the invariants: the postings sum to zero; no
//! available balance was ever negative; every hold resolved at most once; every id produced at
//! most one transfer (a retry got the first answer); stored balances equal those recomputed
//! from the transfers.
//!
//! Adversarial cases run among them: attempts to settle the plan before its expiry (always
//! refused, nothing moved); amounts at the maximum (accepted within the wallet's ceiling) and
//! over it (always refused); dozens of transfers in each second, after which every wallet's
//! statement, read in the ledger's order, never shows a negative running balance and ends at
//! its available balance; and two companies funding the same employees concurrently with the
//! same request ids, none refused.
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
use wallet_svc::ledger::{Ledger, LedgerError, MAX_TRANSFER_CENTS, NewHold, NewWallet};
use wallet_svc::plans::{Funding, Plan};
use welfare_core::Money;
use welfare_core::category::Category;
use welfare_core::time::Date;
use welfare_core::wallet::{CarryOver, PlanRules, Regime};

const TASKS: usize = 32;
const OPERATIONS_PER_TASK: usize = 500;
const WALLETS: usize = 64;
/// 2027-01-15: the clock of the run. Transfers come about 64 to a second.
const START: i64 = 1_800_000_000;
const PER_SECOND: i64 = 64;

fn day(text: &str) -> Date {
    text.parse().expect("date")
}

async fn plan_of(ledger: &Ledger, company: &str) -> Plan {
    let rules = PlanRules::new(
        2027,
        cents(50_000),
        vec![Category::Sanitario],
        Regime::Art51C2Services,
        day("2027-12-31"),
        CarryOver::None,
    )
    .expect("rules");
    ledger
        .create_plan(company, "invariants", "Welfare 2027", &rules, START)
        .await
        .expect("plan")
        .into_inner()
}

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
                provider_id: None,
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
    let plan = Arc::new(plan_of(&ledger, "acme").await);
    for w in 0..WALLETS {
        let id = format!("w{w}");
        let opened = NewWallet {
            id: id.clone(),
            company_id: "acme".to_owned(),
            plan_id: plan.id.clone(),
            employee_id: format!("emp-{w}"),
        };
        ledger.open_wallet(&opened, START).await.expect("open");
        ledger
            .fund(&format!("fund-{id}"), &id, cents(50_000), START)
            .await
            .expect("fund");
    }
    let clock = Arc::new(AtomicI64::new(0));
    let adversarial = Arc::new(AtomicI64::new(0));
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
        let (plan, adversarial) = (Arc::clone(&plan), Arc::clone(&adversarial));
        tasks.push(tokio::spawn(async move {
            let mut rng =
                Rng(0x9E37_79B9_7F4A_7C15 ^ (task as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
            let mut history: Vec<Call> = Vec::new();
            let mut negatives = 0;
            for op in 0..OPERATIONS_PER_TASK {
                let now = START + clock.fetch_add(1, Ordering::Relaxed) / PER_SECOND;
                let roll = rng.below(100);
                if (16..18).contains(&roll) {
                    // A company settling its plan early, whatever date it believes it is.
                    let early = ledger
                        .settle_plan(&plan, None, day("2027-06-30"), now)
                        .await;
                    assert!(
                        matches!(early, Err(LedgerError::PlanNotExpired { .. })),
                        "{early:?}"
                    );
                    adversarial.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                if (18..20).contains(&roll) {
                    // Amounts at and over the maximum.
                    let wallet = format!("w{}", rng.below(WALLETS as u64));
                    let over = ledger
                        .fund(
                            &format!("over-{task}-{op}"),
                            &wallet,
                            cents(MAX_TRANSFER_CENTS + 1 + rng.below(1 << 40) as i64),
                            now,
                        )
                        .await;
                    assert!(
                        matches!(
                            over,
                            Err(LedgerError::Invalid {
                                field: "amount",
                                ..
                            })
                        ),
                        "{over:?}"
                    );
                    let at = ledger
                        .fund(
                            &format!("max-{task}-{op}"),
                            &wallet,
                            cents(MAX_TRANSFER_CENTS),
                            now,
                        )
                        .await;
                    assert!(
                        matches!(at, Ok(_) | Err(LedgerError::WalletLimit { .. })),
                        "{at:?}"
                    );
                    adversarial.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
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
                    Err(LedgerError::Connect(error)) => panic!("connection error: {error}"),
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
    assert!(adversarial.load(Ordering::Relaxed) > 100);
    ledger.expire_due(i64::MAX / 2).await.expect("final sweep");
    let report = ledger.check_invariants().await.expect("check");
    assert!(report.holds(), "{report:?}");
    // Statements in the ledger's order, though dozens of transfers share each second.
    for w in 0..WALLETS {
        let id = format!("w{w}");
        let lines = ledger.statement(&id, 0, 100_000).await.expect("statement");
        let mut running = 0i64;
        for line in lines.iter().rev() {
            running += line.amount.cents();
            assert!(running >= 0, "{id}: negative running balance at {line:?}");
        }
        let available = ledger.balance(&id).await.expect("balance").available();
        assert_eq!(
            running,
            available.cents(),
            "{id}: the statement ends elsewhere"
        );
    }
    // Two companies fund the same employees at once with the same request ids.
    let other = Arc::new(plan_of(&ledger, "globex").await);
    let mut funders = Vec::new();
    for company_plan in [Arc::clone(&plan), other] {
        for batch in 0..8 {
            let (ledger, company_plan) = (Arc::clone(&ledger), Arc::clone(&company_plan));
            funders.push(tokio::spawn(async move {
                let fundings: Vec<Funding> = (0..50)
                    .map(|n| Funding {
                        employee_id: format!("shared-{n}"),
                        amount: Some(cents(1_000)),
                        has_dependent_children: false,
                    })
                    .collect();
                ledger
                    .fund_wallets(&company_plan, &format!("payroll-{batch}"), &fundings, START)
                    .await
            }));
        }
    }
    for funder in funders {
        funder
            .await
            .expect("task")
            .expect("no company blocks another");
    }
    for company_plan in [&plan] {
        let (employees, total) = ledger.plan_funding(company_plan).await.expect("funding");
        assert_eq!(employees, WALLETS as i64 + 50);
        assert!(total >= 8 * 50 * 1_000);
    }
    // The plan's own date passes: every available cent goes back to the company.
    let available: i64 = {
        let mut sum = 0;
        for w in 0..WALLETS {
            sum += ledger
                .balance(&format!("w{w}"))
                .await
                .expect("balance")
                .available()
                .cents();
        }
        sum
    };
    let settled = ledger
        .settle_plan(&plan, None, day("2028-01-01"), START + 86_400 * 365)
        .await
        .expect("settle");
    assert_eq!(settled.holds_pending, 0);
    assert_eq!(settled.returned, available + 8 * 50 * 1_000);
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
