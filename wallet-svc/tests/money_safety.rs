//! Money and tenancy, tried as a hostile but legitimate partner would, through the public gRPC
//! API only, on each backend: one suite for each fault the probe of issue 15 found. Every
//! refusal changes nothing, and the ledger's invariants hold after each suite.
#![allow(clippy::indexing_slicing)]

mod support;

use std::sync::Arc;

use support::grpc::*;
use tonic::transport::Channel;
use tonic::{Code, Status};
use wallet_svc::ledger::{Ledger, MAX_TRANSFER_CENTS, MAX_WALLET_BALANCE_CENTS};
use welfare_proto::common;
use welfare_proto::wallet::wallet_service_client::WalletServiceClient;
use welfare_proto::wallet::*;

type Client = WalletServiceClient<Channel>;

fn company_admin(company: &str) -> String {
    token(&format!("hr-{company}"), &["company_admin"], Some(company))
}

async fn create_plan(client: &mut Client, company: &str, request_id: &str, year: i32) -> Plan {
    client
        .create_plan(call(
            CreatePlanRequest {
                company_id: company.to_owned(),
                plan: Some(plan(Regime::Art51C2Services, year, false)),
                request_id: request_id.to_owned(),
            },
            &company_admin(company),
        ))
        .await
        .expect("create plan")
        .into_inner()
}

fn funding(employee: &str, cents: Option<i64>) -> Funding {
    Funding {
        employee_id: employee.to_owned(),
        amount: cents.and_then(eur),
        has_dependent_children: false,
    }
}

async fn fund(
    client: &mut Client,
    plan: &Plan,
    request_id: &str,
    fundings: Vec<Funding>,
) -> Result<FundWalletsResponse, Status> {
    client
        .fund_wallets(call(
            FundWalletsRequest {
                plan_id: plan.id.clone(),
                fundings,
                request_id: request_id.to_owned(),
            },
            &company_admin(&plan.company_id),
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn wallet(client: &mut Client, plan: &Plan, employee: &str) -> Result<Wallet, Status> {
    client
        .get_wallet(call(
            GetWalletRequest {
                plan_id: plan.id.clone(),
                employee_id: employee.to_owned(),
                ..Default::default()
            },
            &company_admin(&plan.company_id),
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn get_plan(client: &mut Client, plan: &Plan) -> Plan {
    client
        .get_plan(call(
            GetPlanRequest {
                id: plan.id.clone(),
            },
            &company_admin(&plan.company_id),
        ))
        .await
        .expect("get plan")
        .into_inner()
}

fn cents(money: &Option<common::Money>) -> i64 {
    money.as_ref().map_or(i64::MIN, |m| m.amount_cents)
}

async fn assert_invariants(ledger: &Ledger) {
    let report = ledger.check_invariants().await.expect("check");
    assert!(report.holds(), "{report:?}");
}

/// 1. Expiry follows the server's clock and the plan's own date, whatever date the company
///    sends; and money under a pending hold at expiry stays held until the booking service
///    captures or releases it: only what is then released follows the plan's rule.
async fn a_company_can_neither_expire_wallets_early_nor_take_back_held_credit(ledger: Ledger) {
    let clock = TestClock::new();
    clock.set("2026-12-30");
    let mut server = serve_with(ledger.clone(), clock.clock(), generous()).await;
    let client = &mut server.client;
    let plan = create_plan(client, "acme", "welfare-2026", 2026).await;
    fund(client, &plan, "december", vec![funding("lucia", None)])
        .await
        .expect("fund");
    let lucia = wallet(client, &plan, "lucia").await.expect("wallet").id;
    let soon = |days: i64| {
        let now = clock.clock()();
        Some(welfare_proto::convert::timestamp_to_proto(
            now.plus_seconds(days * 86_400),
        ))
    };
    let mut deliver = hold_request(&lucia, 20_000, "bk-1", common::Category::CuraFigli);
    deliver.expire_time = soon(20);
    let delivered = client
        .hold_funds(call(deliver, &booking_service()))
        .await
        .expect("hold 1")
        .into_inner();
    let mut cancel = hold_request(&lucia, 10_000, "bk-2", common::Category::CuraFigli);
    cancel.expire_time = soon(20);
    let cancelled = client
        .hold_funds(call(cancel, &booking_service()))
        .await
        .expect("hold 2")
        .into_inner();
    let before = wallet(client, &plan, "lucia").await.expect("wallet");
    // The probe's attack: a date past the plan's expiry, sent on 2026-12-30.
    let early = expire(client, &plan.id, Some("2027-07-01"), "expire-early")
        .await
        .expect_err("a date after the server's");
    assert_eq!(early.code(), Code::InvalidArgument, "{early:?}");
    assert_eq!(bad_fields(&early), ["as_of"]);
    let not_yet = expire(client, &plan.id, None, "expire-now")
        .await
        .expect_err("the plan is spendable until 2026-12-31");
    assert_eq!(
        (not_yet.code(), reason(&not_yet).as_str()),
        (Code::FailedPrecondition, "PLAN_NOT_EXPIRED")
    );
    assert_eq!(
        wallet(client, &plan, "lucia").await.expect("wallet"),
        before
    );
    // The plan's own date passes.
    clock.set("2027-01-01");
    let settled = expire(client, &plan.id, None, "year-end")
        .await
        .expect("settle");
    assert_eq!(settled.wallets_settled, 1);
    assert_eq!(cents(&settled.returned_to_company), 50_000 - 30_000);
    assert_eq!(settled.holds_pending, 2);
    let after = wallet(client, &plan, "lucia").await.expect("wallet");
    assert_eq!(
        (cents(&after.available), cents(&after.pending)),
        (0, 30_000)
    );
    // The provider delivered: the booking service's capture succeeds after the year end.
    let captured = client
        .capture_hold(call(
            CaptureHoldRequest {
                hold_id: delivered.id.clone(),
                amount: None,
                request_id: "complete-1".to_owned(),
            },
            &booking_service(),
        ))
        .await
        .expect("the provider is paid from the held credit")
        .into_inner();
    assert_eq!(captured.state, hold::State::Captured as i32);
    // The other booking was cancelled: its credit follows the plan's rule at once.
    client
        .release_hold(call(
            ReleaseHoldRequest {
                hold_id: cancelled.id.clone(),
                request_id: "cancel-2".to_owned(),
            },
            &booking_service(),
        ))
        .await
        .expect("release");
    let end = wallet(client, &plan, "lucia").await.expect("wallet");
    assert_eq!(
        (
            cents(&end.available),
            cents(&end.pending),
            cents(&end.spent)
        ),
        (0, 0, 20_000)
    );
    let report = acme_report(client, 2026).await;
    assert_eq!(cents(&report.plans[0].returned), 30_000);
    assert_eq!(cents(&report.plans[0].spent), 20_000);
    // Settling again moves nothing twice.
    let again = expire(client, &plan.id, None, "year-end")
        .await
        .expect("settle again");
    assert_eq!(
        (
            cents(&again.returned_to_company),
            cents(&again.carried_over),
            again.holds_pending
        ),
        (0, 0, 0)
    );
    assert_invariants(&ledger).await;
}

/// 1, crash-safety of the settlement: a settlement cut short after marking the plan (the
///    process died) is finished by the sweeper's `settle_lapsed`, and a hold that expires after
///    the year end gives its credit to the company at once.
async fn a_settlement_cut_short_is_finished_by_the_sweeper(ledger: Ledger) {
    use wallet_svc::plans::Funding as LedgerFunding;
    let rules = welfare_core::wallet::PlanRules::new(
        2026,
        welfare_core::Money::from_cents(50_000).expect("eur"),
        vec![welfare_core::category::Category::CuraFigli],
        welfare_core::wallet::Regime::Art51C2Services,
        "2026-12-31".parse().expect("date"),
        welfare_core::wallet::CarryOver::None,
    )
    .expect("rules");
    let now = today().unix_seconds();
    let plan = ledger
        .create_plan("acme", "welfare", "Welfare 2026", &rules, now)
        .await
        .expect("plan")
        .into_inner();
    let fundings: Vec<LedgerFunding> = ["anna", "bruno"]
        .iter()
        .map(|e| LedgerFunding {
            employee_id: (*e).to_owned(),
            amount: None,
            has_dependent_children: false,
        })
        .collect();
    let funded = ledger
        .fund_wallets(&plan, "june", &fundings, now)
        .await
        .expect("fund");
    let anna = match &funded[0].1 {
        wallet_svc::plans::FundingOutcome::Funded { wallet_id, .. } => wallet_id.clone(),
        other => panic!("{other:?}"),
    };
    let hold = wallet_svc::ledger::NewHold {
        id: "h-anna".to_owned(),
        key: "h-anna".to_owned(),
        wallet_id: anna.clone(),
        amount: welfare_core::Money::from_cents(20_000).expect("eur"),
        expires_at: now + 3_600,
        category: "cura-figli".to_owned(),
        tax_letter: "f-bis".to_owned(),
        booking_id: None,
        fringe: None,
        provider_id: None,
    };
    ledger.hold(&hold, now).await.expect("hold");
    // The process marked the plan settled and died before settling a wallet.
    sqlx::query("UPDATE plans SET settled = 1 WHERE id = $1")
        .bind(&plan.id)
        .execute(ledger.pool())
        .await
        .expect("mark");
    assert_eq!(ledger.settle_lapsed(now).await.expect("sweep"), 2);
    assert_eq!(ledger.settle_lapsed(now).await.expect("sweep again"), 0);
    let returned = |ledger: Ledger, plan: wallet_svc::plans::Plan| async move {
        ledger
            .company_report("acme", 2026)
            .await
            .expect("report")
            .into_iter()
            .find(|p| p.plan_id == plan.id)
            .expect("plan")
            .returned
    };
    assert_eq!(
        returned(ledger.clone(), plan.clone()).await,
        50_000 + 30_000
    );
    // The hold outlives its deadline: the sweeper expires it, and its credit goes back to the
    // company with it.
    assert_eq!(ledger.expire_due(now + 3_600).await.expect("expire"), 1);
    assert_eq!(returned(ledger.clone(), plan.clone()).await, 100_000);
    assert_eq!(
        ledger.balance(&anna).await.expect("balance").available(),
        welfare_core::Money::ZERO
    );
    assert_invariants(&ledger).await;
}

/// 2 and 3. Request ids are scoped to their tenant and kept apart from ids: one company can
///    neither block another's payroll nor collide with its plans.
async fn one_tenants_request_ids_never_touch_anothers(ledger: Ledger) {
    let mut server = serve(ledger.clone()).await;
    let client = &mut server.client;
    // Ids once built by concatenation: probe + x.plan2026 and probe.x + plan2026.
    let probe = create_plan(client, "probe", "x.plan2026", 2026).await;
    let probe_x = create_plan(client, "probe.x", "plan2026", 2026).await;
    assert_ne!(probe.id, probe_x.id);
    assert_eq!(
        (probe.company_id.as_str(), probe_x.company_id.as_str()),
        ("probe", "probe.x")
    );
    // A retry is the same plan; the same request id with other fields is refused.
    assert_eq!(
        create_plan(client, "probe", "x.plan2026", 2026).await,
        probe
    );
    let reused = client
        .create_plan(call(
            CreatePlanRequest {
                company_id: "probe".to_owned(),
                plan: Some(plan(Regime::Art51C2Services, 2027, false)),
                request_id: "x.plan2026".to_owned(),
            },
            &company_admin("probe"),
        ))
        .await
        .expect_err("reused");
    assert_eq!(reason(&reused), "REQUEST_ID_REUSED");
    // The probe's attack on payroll: company B funds the same employee id with the request id
    // company A already used.
    let a = create_plan(client, "acme", "welfare", 2026).await;
    let b = create_plan(client, "globex", "welfare", 2026).await;
    assert_ne!(a.id, b.id);
    let first = fund(
        client,
        &a,
        "payroll-06",
        vec![funding("lucia", Some(30_000))],
    )
    .await
    .expect("A funds");
    let second = fund(
        client,
        &b,
        "payroll-06",
        vec![funding("lucia", Some(40_000))],
    )
    .await
    .expect("B funds with the same request id");
    assert_eq!(
        first.results[0].outcome,
        funding_result::Outcome::Funded as i32
    );
    assert_eq!(
        second.results[0].outcome,
        funding_result::Outcome::Funded as i32
    );
    assert_eq!(
        cents(&wallet(client, &b, "lucia").await.expect("B's").available),
        40_000
    );
    // Holds: the same request id on two wallets is two holds; on one wallet, one.
    let wa = wallet(client, &a, "lucia").await.expect("A's").id;
    let wb = wallet(client, &b, "lucia").await.expect("B's").id;
    let ha = client
        .hold_funds(call(
            hold_request(&wa, 1_000, "bk-7", common::Category::CuraFigli),
            &booking_service(),
        ))
        .await
        .expect("hold on A")
        .into_inner();
    let hb = client
        .hold_funds(call(
            hold_request(&wb, 1_000, "bk-7", common::Category::CuraFigli),
            &booking_service(),
        ))
        .await
        .expect("hold on B")
        .into_inner();
    assert_ne!(ha.id, hb.id);
    let retried = client
        .hold_funds(call(
            hold_request(&wa, 1_000, "bk-7", common::Category::CuraFigli),
            &booking_service(),
        ))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(retried, ha);
    let changed = client
        .hold_funds(call(
            hold_request(&wa, 1_500, "bk-7", common::Category::CuraFigli),
            &booking_service(),
        ))
        .await
        .expect_err("one field changed");
    assert_eq!(reason(&changed), "REQUEST_ID_REUSED");
    // Settling one hold with a request id another hold's settlement used is no reuse.
    for hold in [&ha, &hb] {
        client
            .capture_hold(call(
                CaptureHoldRequest {
                    hold_id: hold.id.clone(),
                    amount: None,
                    request_id: "settle".to_owned(),
                },
                &booking_service(),
            ))
            .await
            .expect("capture");
    }
    assert_invariants(&ledger).await;
}

/// 4. Every amount has a maximum checked before anything is written, and no stored state can
///    make a read fail.
async fn amounts_have_a_maximum_and_no_stored_total_breaks_a_read(ledger: Ledger) {
    let mut server = serve(ledger.clone()).await;
    let client = &mut server.client;
    let plan = create_plan(client, "acme", "welfare", 2026).await;
    // The probe's amount: 10^13 cents.
    let huge = fund(
        client,
        &plan,
        "huge",
        vec![funding("lucia", Some(10_000_000_000_000))],
    )
    .await
    .expect_err("over the maximum");
    assert_eq!(huge.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&huge), ["fundings[0].amount"]);
    assert_eq!(get_plan(client, &plan).await.funded_employees, 0);
    // At the maximum: accepted, up to the wallet's ceiling.
    let per_call = MAX_TRANSFER_CENTS;
    let calls = MAX_WALLET_BALANCE_CENTS / per_call;
    for n in 0..calls {
        fund(
            client,
            &plan,
            &format!("max-{n}"),
            vec![funding("lucia", Some(per_call))],
        )
        .await
        .expect("at the maximum");
    }
    let full = wallet(client, &plan, "lucia").await.expect("wallet");
    assert_eq!(cents(&full.available), MAX_WALLET_BALANCE_CENTS);
    let over = fund(client, &plan, "one-more", vec![funding("lucia", Some(1))])
        .await
        .expect_err("over the wallet's maximum");
    assert_eq!(
        (over.code(), reason(&over).as_str()),
        (Code::FailedPrecondition, "WALLET_BALANCE_LIMIT")
    );
    assert_eq!(wallet(client, &plan, "lucia").await.expect("wallet"), full);
    let big_hold = client
        .hold_funds(call(
            hold_request(&full.id, per_call + 1, "big", common::Category::CuraFigli),
            &booking_service(),
        ))
        .await
        .expect_err("a hold over the maximum");
    assert_eq!(bad_fields(&big_hold), ["amount"]);
    // A database written around the ledger (a restore, a manual fix): totals far beyond any
    // amount. Every read still answers.
    sqlx::query(
        "UPDATE wallets SET credits_posted = 9000000000000000000, debits_posted = 8999999999999990000 WHERE id = $1",
    )
    .bind(&full.id)
    .execute(ledger.pool())
    .await
    .expect("write around the ledger");
    sqlx::query(
        "INSERT INTO transfers (id, idempotency_key, kind, debit_account, credit_account, amount, fingerprint, created_at) \
         VALUES ('outside', 'outside', 'funding', $1, $2, 20000000000000, 'outside', 0)",
    )
    .bind(format!("company:acme:{}", plan.id))
    .bind(format!("wallet:{}", full.id))
    .execute(ledger.pool())
    .await
    .expect("a transfer above the maximum");
    let read = wallet(client, &plan, "lucia").await.expect("GetWallet");
    assert_eq!(cents(&read.available), 10_000);
    let read = get_plan(client, &plan).await;
    assert!(cents(&read.funded_total) > 10_000_000_000_000, "{read:?}");
    client
        .list_plans(call(
            ListPlansRequest {
                company_id: "acme".to_owned(),
                ..Default::default()
            },
            &admin(),
        ))
        .await
        .expect("ListPlans");
    acme_report(client, 2026).await;
    client
        .list_wallet_transactions(call(
            ListWalletTransactionsRequest {
                wallet_id: full.id.clone(),
                ..Default::default()
            },
            &employee("lucia"),
        ))
        .await
        .expect("ListWalletTransactions");
}

/// 5. A statement follows the ledger's own order: transfers in the same second keep theirs.
async fn a_statement_shows_the_running_balance_of_the_same_second(ledger: Ledger) {
    // The clock never moves: every transfer has the same timestamp.
    let mut server = serve(ledger.clone()).await;
    let client = &mut server.client;
    let plan = create_plan(client, "acme", "welfare", 2026).await;
    let mut history = Vec::new();
    for round in 0..3 {
        fund(
            client,
            &plan,
            &format!("z-fund-{round}"),
            vec![funding("lucia", Some(10_000))],
        )
        .await
        .expect("fund");
        let w = wallet(client, &plan, "lucia").await.expect("wallet").id;
        // Request ids that sort against the order of events.
        let hold = client
            .hold_funds(call(
                hold_request(
                    &w,
                    10_000,
                    &format!("a-hold-{round}"),
                    common::Category::CuraFigli,
                ),
                &booking_service(),
            ))
            .await
            .expect("hold")
            .into_inner();
        client
            .capture_hold(call(
                CaptureHoldRequest {
                    hold_id: hold.id,
                    amount: Some(eur(4_000).expect("eur")),
                    request_id: format!("0-capture-{round}"),
                },
                &booking_service(),
            ))
            .await
            .expect("capture");
        history.extend([
            (
                wallet_transaction::Kind::Funding,
                10_000,
                6_000 * round + 10_000,
            ),
            (wallet_transaction::Kind::Hold, -10_000, 6_000 * round),
            (wallet_transaction::Kind::Capture, 0, 6_000 * round),
            (
                wallet_transaction::Kind::Release,
                6_000,
                6_000 * round + 6_000,
            ),
        ]);
    }
    let w = wallet(client, &plan, "lucia").await.expect("wallet");
    assert_eq!(cents(&w.available), 18_000);
    for page_size in [0, 3] {
        let mut lines = Vec::new();
        let mut token = String::new();
        loop {
            let page = client
                .list_wallet_transactions(call(
                    ListWalletTransactionsRequest {
                        wallet_id: w.id.clone(),
                        page_size,
                        page_token: token,
                    },
                    &employee("lucia"),
                ))
                .await
                .expect("statement")
                .into_inner();
            lines.extend(page.transactions);
            token = page.next_page_token;
            if token.is_empty() {
                break;
            }
        }
        let shown: Vec<(i32, i64, i64)> = lines
            .iter()
            .rev()
            .map(|l| (l.kind, cents(&l.amount), cents(&l.balance_after)))
            .collect();
        let expected: Vec<(i32, i64, i64)> = history
            .iter()
            .map(|&(kind, amount, balance)| (kind as i32, amount, balance))
            .collect();
        assert_eq!(shown, expected, "page size {page_size}");
    }
}

/// 6 and 8. A funding batch is all or nothing, even when its deadline cuts it off; a plan's
///    funded employees are those credited, never a wallet a refused batch opened.
async fn a_funding_batch_is_all_or_nothing(ledger: Ledger) {
    let mut server = serve(ledger.clone()).await;
    let client = &mut server.client;
    let plan = create_plan(client, "acme", "welfare", 2026).await;
    fund(client, &plan, "june", vec![funding("whale", Some(100))])
        .await
        .expect("first batch");
    let batch: Vec<Funding> = (0..1_999)
        .map(|n| funding(&format!("e{n}"), None))
        .chain([funding("whale", Some(200))])
        .collect();
    // The last employee repeats "june" with another amount: the whole batch is refused.
    let reused = fund(client, &plan, "june", batch.clone())
        .await
        .expect_err("one employee's key reused");
    assert_eq!(
        (reused.code(), reason(&reused).as_str()),
        (Code::AlreadyExists, "REQUEST_ID_REUSED")
    );
    assert!(reused.message().contains("fundings[1999]"), "{reused:?}");
    let after = get_plan(client, &plan).await;
    assert_eq!(
        (after.funded_employees, cents(&after.funded_total)),
        (1, 100)
    );
    assert_eq!(
        wallet(client, &plan, "e0")
            .await
            .expect_err("no wallet")
            .code(),
        Code::NotFound
    );
    // The last employee's wallet would pass its ceiling: the whole batch is refused.
    for n in 0..MAX_WALLET_BALANCE_CENTS / MAX_TRANSFER_CENTS {
        if let Err(e) = fund(
            client,
            &plan,
            &format!("top-up-{n}"),
            vec![funding("whale", Some(MAX_TRANSFER_CENTS))],
        )
        .await
        {
            assert_eq!(reason(&e), "WALLET_BALANCE_LIMIT", "{e:?}");
        }
    }
    let full = get_plan(client, &plan).await;
    let mut batch = batch;
    if let Some(last) = batch.last_mut() {
        last.amount = eur(MAX_TRANSFER_CENTS);
    }
    let over = fund(client, &plan, "july", batch)
        .await
        .expect_err("a wallet over its ceiling");
    assert_eq!(reason(&over), "WALLET_BALANCE_LIMIT");
    assert_eq!(
        get_plan(client, &plan).await.funded_employees,
        full.funded_employees
    );
    assert_eq!(
        full.funded_employees, 1,
        "the refused batches opened no wallet that counts"
    );
    assert_invariants(&ledger).await;
}

/// 6. A batch cut off by its deadline left nothing behind (or everything): the retry the
///    contract prescribes tells which, and funds everyone exactly once.
async fn a_batch_cut_off_by_its_deadline_is_whole_or_absent(ledger: Ledger) {
    let mut config = generous();
    config.limits.request_timeout_ms = 2;
    let mut hurried = serve_with(ledger.clone(), Arc::new(today), config).await;
    let mut server = serve(ledger.clone()).await;
    let plan = create_plan(&mut server.client, "acme", "welfare", 2026).await;
    let batch: Vec<Funding> = (0..10_000)
        .map(|n| funding(&format!("emp{n:05}"), None))
        .collect();
    let cut = fund(&mut hurried.client, &plan, "year", batch.clone())
        .await
        .expect_err("cut off by its deadline");
    assert_eq!(cut.code(), Code::DeadlineExceeded, "{cut:?}");
    // Wait for the server to finish undoing the cut-off call.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let seen = get_plan(&mut server.client, &plan).await.funded_employees;
    assert!(
        seen == 0 || seen == 10_000,
        "half a batch: {seen} employees"
    );
    let retried = fund(&mut server.client, &plan, "year", batch.clone())
        .await
        .expect("the retry");
    let expected = if seen == 0 {
        funding_result::Outcome::Funded
    } else {
        funding_result::Outcome::AlreadyFunded
    };
    assert!(
        retried.results.iter().all(|r| r.outcome == expected as i32),
        "every result {expected:?}"
    );
    let again = fund(&mut server.client, &plan, "year", batch)
        .await
        .expect("a second retry");
    assert!(
        again
            .results
            .iter()
            .all(|r| r.outcome == funding_result::Outcome::AlreadyFunded as i32)
    );
    let done = get_plan(&mut server.client, &plan).await;
    assert_eq!(
        (done.funded_employees, cents(&done.funded_total)),
        (10_000, 10_000 * 50_000)
    );
    assert_invariants(&ledger).await;
}

/// 7. Another tenant's records are answered exactly as records that do not exist.
async fn another_tenants_records_are_no_oracle(ledger: Ledger) {
    let mut server = serve(ledger.clone()).await;
    let client = &mut server.client;
    let plan = create_plan(client, "acme", "welfare", 2026).await;
    fund(client, &plan, "june", vec![funding("lucia", None)])
        .await
        .expect("fund");
    let lucia = wallet(client, &plan, "lucia").await.expect("wallet").id;
    let strangers = [
        company_admin("globex"),
        token("mario", &["employee"], Some("globex")),
    ];
    for stranger in &strangers {
        let status_of = |r: Result<(), Status>| {
            let s = r.expect_err("refused");
            (s.code(), reason(&s))
        };
        let existing = status_of(
            client
                .get_wallet(call(
                    GetWalletRequest {
                        id: lucia.clone(),
                        ..Default::default()
                    },
                    stranger,
                ))
                .await
                .map(drop),
        );
        let missing = status_of(
            client
                .get_wallet(call(
                    GetWalletRequest {
                        id: format!("{}/nobody", plan.id),
                        ..Default::default()
                    },
                    stranger,
                ))
                .await
                .map(drop),
        );
        assert_eq!(existing, missing);
        assert_eq!(existing, (Code::NotFound, "WALLET_NOT_FOUND".to_owned()));
        let existing = status_of(
            client
                .list_wallet_transactions(call(
                    ListWalletTransactionsRequest {
                        wallet_id: lucia.clone(),
                        ..Default::default()
                    },
                    stranger,
                ))
                .await
                .map(drop),
        );
        assert_eq!(existing, missing);
        let existing = status_of(
            client
                .get_plan(call(
                    GetPlanRequest {
                        id: plan.id.clone(),
                    },
                    stranger,
                ))
                .await
                .map(drop),
        );
        let missing = status_of(
            client
                .get_plan(call(
                    GetPlanRequest {
                        id: "0000-no-such-plan".to_owned(),
                    },
                    stranger,
                ))
                .await
                .map(drop),
        );
        assert_eq!(existing, missing);
        assert_eq!(existing, (Code::NotFound, "PLAN_NOT_FOUND".to_owned()));
    }
    // Settling into another company's plan: as if that plan did not exist.
    let theirs = create_plan(client, "globex", "next", 2027).await;
    let status = client
        .expire_wallets(call(
            ExpireWalletsRequest {
                plan_id: plan.id.clone(),
                next_plan_id: theirs.id.clone(),
                request_id: "x".to_owned(),
                ..Default::default()
            },
            &admin(),
        ))
        .await
        .expect_err("another company's plan");
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::NotFound, "PLAN_NOT_FOUND")
    );
}

/// 9. The booking service places every hold of the platform: under the default limits its
///    quick holds all pass, while a person making as many calls is slowed down.
async fn the_booking_service_is_not_rate_limited_like_a_person(ledger: Ledger) {
    let mut server = serve_with(ledger.clone(), Arc::new(today), test_config()).await;
    let client = &mut server.client;
    let plan = create_plan(client, "acme", "welfare", 2026).await;
    fund(
        client,
        &plan,
        "june",
        vec![funding("lucia", Some(MAX_TRANSFER_CENTS))],
    )
    .await
    .expect("fund");
    let lucia = wallet(client, &plan, "lucia").await.expect("wallet").id;
    let mut limited = 0;
    for n in 0..300 {
        match client
            .hold_funds(call(
                hold_request(&lucia, 100, &format!("bk-{n}"), common::Category::CuraFigli),
                &booking_service(),
            ))
            .await
        {
            Ok(_) => {}
            Err(status) if status.code() == Code::ResourceExhausted => limited += 1,
            Err(status) => panic!("hold {n}: {status:?}"),
        }
    }
    assert_eq!(limited, 0, "the booking service was rate-limited");
    let mut person_limited = 0;
    for _ in 0..300 {
        if let Err(status) = wallet(client, &plan, "lucia").await {
            assert_eq!(status.code(), Code::ResourceExhausted);
            person_limited += 1;
        }
    }
    assert!(person_limited > 0, "a person is still limited");
    assert_invariants(&ledger).await;
}

/// Limits that never get in the suites' way.
fn generous() -> welfare_runtime::config::RuntimeConfig {
    let mut config = test_config();
    config.limits.rate_limit_per_second = 10_000;
    config.limits.rate_limit_burst = 10_000;
    config
}

welfare_storage::on_every_backend!(
    support::open;
    a_company_can_neither_expire_wallets_early_nor_take_back_held_credit,
    a_settlement_cut_short_is_finished_by_the_sweeper,
    one_tenants_request_ids_never_touch_anothers,
    amounts_have_a_maximum_and_no_stored_total_breaks_a_read,
    a_statement_shows_the_running_balance_of_the_same_second,
    a_funding_batch_is_all_or_nothing,
    a_batch_cut_off_by_its_deadline_is_whole_or_absent,
    another_tenants_records_are_no_oracle,
    the_booking_service_is_not_rate_limited_like_a_person,
);
