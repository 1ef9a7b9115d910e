//! `WalletService` on a real server (port 0) over each backend: the whole life of a plan, the
//! rules, authorization, and bad input on every RPC — each refusal with its code, reason or
//! field, and nothing written.
#![allow(clippy::indexing_slicing)]

mod support;

use support::grpc::*;
use tonic::{Code, Status};
use wallet_svc::ledger::Ledger;
use welfare_proto::common;
use welfare_proto::wallet::*;

async fn a_plan_lives_from_funding_to_the_tax_report(ledger: Ledger) {
    let mut server = serve(ledger.clone()).await;
    let client = &mut server.client;
    let (plan, wallet) = create_and_fund(client, Regime::Art51C2Services).await;
    let again = client
        .create_plan(call(
            CreatePlanRequest {
                company_id: "acme".to_owned(),
                plan: Some(super_plan()),
                request_id: "p-2026".to_owned(),
            },
            &admin(),
        ))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(
        again.id, plan.id,
        "a retried CreatePlan returns the same plan"
    );
    let retry = client
        .fund_wallets(call(
            FundWalletsRequest {
                plan_id: plan.id.clone(),
                fundings: vec![Funding {
                    employee_id: "lucia".to_owned(),
                    amount: None,
                    has_dependent_children: true,
                }],
                request_id: "fund-june".to_owned(),
            },
            &admin(),
        ))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(
        retry.results[0].outcome,
        i32::from(funding_result::Outcome::AlreadyFunded)
    );
    assert_eq!(retry.funded_total, eur(0));

    let held = client
        .hold_funds(call(
            hold_request(&wallet, 30_000, "h-1", common::Category::CuraFigli),
            &booking_service(),
        ))
        .await
        .expect("hold")
        .into_inner();
    let own = client
        .get_wallet(call(
            GetWalletRequest {
                plan_id: plan.id.clone(),
                ..Default::default()
            },
            &employee("lucia"),
        ))
        .await
        .expect("own wallet")
        .into_inner();
    assert_eq!((own.available, own.pending), (eur(20_000), eur(30_000)));
    client
        .capture_hold(call(
            CaptureHoldRequest {
                hold_id: held.id.clone(),
                amount: eur(25_000),
                request_id: "c-1".to_owned(),
            },
            &booking_service(),
        ))
        .await
        .expect("capture");
    client
        .refund_capture(call(
            RefundCaptureRequest {
                hold_id: held.id.clone(),
                amount: eur(5_000),
                reason: "Giorno di chiusura".to_owned(),
                request_id: "rf-1".to_owned(),
            },
            &booking_service(),
        ))
        .await
        .expect("refund");
    let wallet_now = client
        .get_wallet(call(
            GetWalletRequest {
                id: wallet.clone(),
                ..Default::default()
            },
            &employee("lucia"),
        ))
        .await
        .expect("wallet")
        .into_inner();
    assert_eq!(
        (wallet_now.available, wallet_now.spent, wallet_now.pending),
        (eur(30_000), eur(20_000), eur(0))
    );
    // The provider the hold named is owed what was captured, less the refund; only it (and
    // platform operations) may read that, and another provider's operator is refused.
    assert_eq!(held.provider_id, "coop-lodi");
    let payable = |bearer: String| {
        let mut client = client.clone();
        async move {
            client
                .get_provider_payable(call(
                    GetProviderPayableRequest {
                        provider_id: "coop-lodi".to_owned(),
                    },
                    &bearer,
                ))
                .await
                .map(tonic::Response::into_inner)
        }
    };
    let provider_operator = |provider: &str| {
        welfare_runtime::testing::signed_token(
            SECRET,
            &format!("op-{provider}"),
            &["provider_operator"],
            welfare_runtime::testing::Tenant::Provider(provider),
            today().unix_seconds() + 86_400 * 3_650,
        )
    };
    let owed = payable(provider_operator("coop-lodi"))
        .await
        .expect("own payable");
    assert_eq!(
        (owed.captured, owed.refunded, owed.payable),
        (eur(25_000), eur(5_000), eur(20_000))
    );
    let staff = token("ops", &["operator"], None);
    assert_eq!(
        payable(staff).await.expect("operations").payable,
        eur(20_000)
    );
    for bearer in [provider_operator("coop-other"), employee("lucia"), admin()] {
        let refused = payable(bearer).await.expect_err("not theirs");
        assert!(
            matches!(
                refused.code(),
                tonic::Code::PermissionDenied | tonic::Code::NotFound
            ),
            "{refused:?}"
        );
    }

    let statement = client
        .list_wallet_transactions(call(
            ListWalletTransactionsRequest {
                wallet_id: wallet.clone(),
                ..Default::default()
            },
            &employee("lucia"),
        ))
        .await
        .expect("statement")
        .into_inner();
    let kinds: Vec<i32> = statement.transactions.iter().map(|t| t.kind).collect();
    use wallet_transaction::Kind as K;
    assert_eq!(kinds.len(), 5, "{kinds:?}");
    assert!(
        kinds.contains(&i32::from(K::Funding))
            && kinds.contains(&i32::from(K::Refund))
            && kinds.contains(&i32::from(K::Release))
    );
    assert_eq!(
        statement.transactions[0].balance_after,
        eur(30_000),
        "newest line ends at today's balance"
    );

    let report = client
        .get_employee_tax_report(call(
            GetEmployeeTaxReportRequest {
                employee_id: "lucia".to_owned(),
                company_id: "acme".to_owned(),
                year: 2026,
            },
            &admin(),
        ))
        .await
        .expect("tax report")
        .into_inner();
    assert_eq!(report.services.len(), 1);
    assert_eq!(
        (
            report.services[0].tax_letter,
            report.services[0].amount.clone()
        ),
        (i32::from(common::TaxLetter::FBis), eur(20_000))
    );
    assert_eq!(report.fringe_benefit_ceiling, eur(200_000));
    let company = client
        .get_company_report(call(
            GetCompanyReportRequest {
                company_id: "acme".to_owned(),
                year: 2026,
            },
            &admin(),
        ))
        .await
        .expect("report")
        .into_inner();
    assert_eq!(
        (
            company.plans[0].funded.clone(),
            company.plans[0].spent.clone()
        ),
        (eur(70_000), eur(20_000))
    );
    assert!(ledger.check_invariants().await.expect("check").holds());
}

fn super_plan() -> Plan {
    plan(Regime::Art51C2Services, 2026, false)
}

async fn the_rules_of_the_plan_are_applied(ledger: Ledger) {
    let mut server = serve(ledger.clone()).await;
    let client = &mut server.client;
    let (plan, wallet) = create_and_fund(client, Regime::Art51C3FringeBenefit).await;
    let uncovered = client
        .hold_funds(call(
            hold_request(&wallet, 1_000, "h-1", common::Category::Trasporto),
            &booking_service(),
        ))
        .await
        .expect_err("not covered");
    assert_eq!(
        (uncovered.code(), reason(&uncovered).as_str()),
        (Code::FailedPrecondition, "CATEGORY_NOT_COVERED")
    );
    let too_much = client
        .hold_funds(call(
            hold_request(&wallet, 60_000, "h-2", common::Category::CuraFigli),
            &booking_service(),
        ))
        .await
        .expect_err("funds");
    assert_eq!(reason(&too_much), "INSUFFICIENT_FUNDS");
    // Marco has no dependent children: his c.3 ceiling in 2026 is € 1.000; his wallet € 200.
    let marco = format!("{}/marco", plan.id);
    client
        .hold_funds(call(
            hold_request(&marco, 20_000, "h-3", common::Category::CuraFigli),
            &booking_service(),
        ))
        .await
        .expect("within");
    assert!(ledger.check_invariants().await.expect("check").holds());
}

async fn each_role_reaches_only_what_it_owns(ledger: Ledger) {
    let mut server = serve(ledger).await;
    let client = &mut server.client;
    let (plan, wallet) = create_and_fund(client, Regime::Art51C2Services).await;
    let other_admin = token("hr-globex", &["company_admin"], Some("globex"));
    let denied = client
        .get_plan(call(
            GetPlanRequest {
                id: plan.id.clone(),
            },
            &other_admin,
        ))
        .await
        .expect_err("other company");
    // Answered as a plan that does not exist: ids are no oracle of other tenants' records.
    assert_eq!(
        (denied.code(), reason(&denied).as_str()),
        (Code::NotFound, "PLAN_NOT_FOUND")
    );
    let as_employee = client
        .fund_wallets(call(
            FundWalletsRequest {
                plan_id: plan.id.clone(),
                fundings: vec![Funding {
                    employee_id: "x".to_owned(),
                    ..Default::default()
                }],
                request_id: "r".to_owned(),
            },
            &employee("lucia"),
        ))
        .await
        .expect_err("employee");
    assert_eq!(as_employee.code(), Code::PermissionDenied);
    let hold_by_employee = client
        .hold_funds(call(
            hold_request(&wallet, 100, "h-1", common::Category::CuraFigli),
            &employee("lucia"),
        ))
        .await
        .expect_err("only the booking service");
    assert_eq!(hold_by_employee.code(), Code::PermissionDenied);
    let statement_by_admin = client
        .list_wallet_transactions(call(
            ListWalletTransactionsRequest {
                wallet_id: wallet.clone(),
                ..Default::default()
            },
            &admin(),
        ))
        .await
        .expect_err("admins see balances, not spending");
    assert_eq!(statement_by_admin.code(), Code::PermissionDenied);
    client
        .get_wallet(call(
            GetWalletRequest {
                id: wallet.clone(),
                ..Default::default()
            },
            &admin(),
        ))
        .await
        .expect("balance is fine");
    let someone_else = client
        .get_wallet(call(
            GetWalletRequest {
                id: wallet,
                ..Default::default()
            },
            &employee("marco"),
        ))
        .await
        .expect_err("not yours");
    assert_eq!(someone_else.code(), Code::PermissionDenied);
}

async fn bad_input_on_every_rpc_names_the_field_and_writes_nothing(ledger: Ledger) {
    let mut server = serve(ledger.clone()).await;
    let client = &mut server.client;
    let (plan, wallet) = create_and_fund(client, Regime::Art51C2Services).await;
    let before = ledger.check_invariants().await.expect("check");
    let mut negative = super_plan();
    negative.allowance_per_employee = eur(-1);
    let mut dollars = super_plan();
    dollars.allowance_per_employee = Some(common::Money {
        currency_code: "USD".to_owned(),
        amount_cents: 100,
    });
    let mut no_categories = super_plan();
    no_categories.allowed_categories = vec![99];
    let cases: Vec<(Result<(), Status>, &str)> = vec![
        (
            client
                .create_plan(call(
                    CreatePlanRequest {
                        company_id: "acme".to_owned(),
                        plan: Some(negative),
                        request_id: "p-x".to_owned(),
                    },
                    &admin(),
                ))
                .await
                .map(drop),
            "plan.allowance_per_employee.amount_cents",
        ),
        (
            client
                .create_plan(call(
                    CreatePlanRequest {
                        company_id: "acme".to_owned(),
                        plan: Some(dollars),
                        request_id: "p-y".to_owned(),
                    },
                    &admin(),
                ))
                .await
                .map(drop),
            "plan.allowance_per_employee.currency_code",
        ),
        (
            client
                .create_plan(call(
                    CreatePlanRequest {
                        company_id: "acme".to_owned(),
                        plan: Some(no_categories),
                        request_id: "p-z".to_owned(),
                    },
                    &admin(),
                ))
                .await
                .map(drop),
            "plan.allowed_categories[0]",
        ),
        (
            client
                .create_plan(call(
                    CreatePlanRequest {
                        company_id: "acme".to_owned(),
                        plan: Some(super_plan()),
                        request_id: String::new(),
                    },
                    &admin(),
                ))
                .await
                .map(drop),
            "request_id",
        ),
        (
            client
                .list_plans(call(
                    ListPlansRequest {
                        company_id: "acme".to_owned(),
                        page_token: "garbage".to_owned(),
                        ..Default::default()
                    },
                    &admin(),
                ))
                .await
                .map(drop),
            "page_token",
        ),
        (
            client
                .fund_wallets(call(
                    FundWalletsRequest {
                        plan_id: plan.id.clone(),
                        fundings: vec![Funding {
                            employee_id: "a b".to_owned(),
                            ..Default::default()
                        }],
                        request_id: "f-x".to_owned(),
                    },
                    &admin(),
                ))
                .await
                .map(drop),
            "fundings[0].employee_id",
        ),
        (
            client
                .fund_wallets(call(
                    FundWalletsRequest {
                        plan_id: plan.id.clone(),
                        fundings: vec![Funding {
                            employee_id: "ok".to_owned(),
                            amount: eur(0),
                            ..Default::default()
                        }],
                        request_id: "f-y".to_owned(),
                    },
                    &admin(),
                ))
                .await
                .map(drop),
            "fundings[0].amount.amount_cents",
        ),
        (
            client
                .fund_wallets(call(
                    FundWalletsRequest {
                        plan_id: plan.id.clone(),
                        fundings: vec![],
                        request_id: "f-z".to_owned(),
                    },
                    &admin(),
                ))
                .await
                .map(drop),
            "fundings",
        ),
        (
            client
                .hold_funds(call(
                    HoldFundsRequest {
                        amount: eur(0),
                        ..hold_request(&wallet, 0, "h-x", common::Category::CuraFigli)
                    },
                    &booking_service(),
                ))
                .await
                .map(drop),
            "amount.amount_cents",
        ),
        (
            client
                .hold_funds(call(
                    HoldFundsRequest {
                        expire_time: None,
                        ..hold_request(&wallet, 10, "h-y", common::Category::CuraFigli)
                    },
                    &booking_service(),
                ))
                .await
                .map(drop),
            "expire_time",
        ),
        (
            client
                .hold_funds(call(
                    HoldFundsRequest {
                        category: 0,
                        ..hold_request(&wallet, 10, "h-z", common::Category::CuraFigli)
                    },
                    &booking_service(),
                ))
                .await
                .map(drop),
            "category",
        ),
        (
            client
                .capture_hold(call(
                    CaptureHoldRequest {
                        hold_id: "h".to_owned(),
                        amount: eur(-5),
                        request_id: "c".to_owned(),
                    },
                    &booking_service(),
                ))
                .await
                .map(drop),
            "amount.amount_cents",
        ),
        (
            client
                .refund_capture(call(
                    RefundCaptureRequest {
                        hold_id: "h".to_owned(),
                        amount: eur(0),
                        request_id: "r".to_owned(),
                        ..Default::default()
                    },
                    &booking_service(),
                ))
                .await
                .map(drop),
            "amount.amount_cents",
        ),
        (
            client
                .expire_wallets(call(
                    ExpireWalletsRequest {
                        plan_id: plan.id.clone(),
                        // A date after the server's: a client may not choose when plans end.
                        as_of: date("2027-01-01"),
                        request_id: "e".to_owned(),
                        ..Default::default()
                    },
                    &admin(),
                ))
                .await
                .map(drop),
            "as_of",
        ),
        (
            client
                .get_employee_tax_report(call(
                    GetEmployeeTaxReportRequest {
                        employee_id: "lucia".to_owned(),
                        company_id: "acme".to_owned(),
                        year: 1999,
                    },
                    &admin(),
                ))
                .await
                .map(drop),
            "year",
        ),
        (
            client
                .get_company_report(call(
                    GetCompanyReportRequest {
                        company_id: "acme".to_owned(),
                        year: 3000,
                    },
                    &admin(),
                ))
                .await
                .map(drop),
            "year",
        ),
    ];
    for (result, field) in cases {
        let status = result.expect_err(field);
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert!(
            bad_fields(&status).iter().any(|f| f == field),
            "{field} not in {:?}",
            bad_fields(&status)
        );
    }
    let unknown = [
        client
            .get_plan(call(
                GetPlanRequest {
                    id: "nope".to_owned(),
                },
                &admin(),
            ))
            .await
            .map(drop),
        client
            .get_wallet(call(
                GetWalletRequest {
                    id: "nope".to_owned(),
                    ..Default::default()
                },
                &admin(),
            ))
            .await
            .map(drop),
        client
            .capture_hold(call(
                CaptureHoldRequest {
                    hold_id: "nope".to_owned(),
                    request_id: "c-n".to_owned(),
                    ..Default::default()
                },
                &booking_service(),
            ))
            .await
            .map(drop),
        client
            .release_hold(call(
                ReleaseHoldRequest {
                    hold_id: "nope".to_owned(),
                    request_id: "r-n".to_owned(),
                },
                &booking_service(),
            ))
            .await
            .map(drop),
        client
            .hold_funds(call(
                hold_request("nope", 10, "h-n", common::Category::CuraFigli),
                &booking_service(),
            ))
            .await
            .map(drop),
    ];
    for result in unknown {
        assert_eq!(result.expect_err("unknown").code(), Code::NotFound);
    }
    let after = ledger.check_invariants().await.expect("check");
    assert_eq!(before, after);
    let balance = client
        .get_wallet(call(
            GetWalletRequest {
                id: wallet,
                ..Default::default()
            },
            &admin(),
        ))
        .await
        .expect("wallet")
        .into_inner();
    assert_eq!(
        (balance.available, balance.pending),
        (eur(50_000), eur(0)),
        "nothing written"
    );
}

/// Like the catalogue, the wallet names every bad field of a request at once, and writes
/// nothing.
async fn every_bad_field_is_named_at_once(ledger: Ledger) {
    let mut server = serve(ledger.clone()).await;
    let client = &mut server.client;
    let (_, wallet) = create_and_fund(client, Regime::Art51C2Services).await;
    let mut request = hold_request(&wallet, -5, "", common::Category::Unspecified);
    request.expire_time = None;
    let status = client
        .hold_funds(call(request, &booking_service()))
        .await
        .expect_err("four bad fields");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        bad_fields(&status),
        [
            "request_id",
            "amount.amount_cents",
            "category",
            "expire_time"
        ]
    );
    let status = client
        .refund_capture(call(
            RefundCaptureRequest {
                hold_id: String::new(),
                amount: None,
                reason: "x".repeat(201),
                request_id: String::new(),
            },
            &booking_service(),
        ))
        .await
        .expect_err("four bad fields");
    assert_eq!(
        bad_fields(&status),
        ["request_id", "hold_id", "amount", "reason"]
    );
    assert!(ledger.check_invariants().await.expect("check").holds());
}

async fn year_end_carries_over_or_returns_to_the_company(ledger: Ledger) {
    let mut server = serve(ledger.clone()).await;
    let client = &mut server.client;
    let mut carrying = plan(Regime::Art51C2Services, 2025, true);
    carrying.carry_over_max = eur(10_000);
    let old = client
        .create_plan(call(
            CreatePlanRequest {
                company_id: "acme".to_owned(),
                plan: Some(carrying),
                request_id: "p-2025".to_owned(),
            },
            &admin(),
        ))
        .await
        .expect("plan")
        .into_inner();
    // The clock says 2026: fund the 2025 plan's wallet directly through the ledger, as in December.
    let wallet = wallet_svc::plans::wallet_id(&old.id, "lucia");
    ledger
        .open_wallet(
            &wallet_svc::ledger::NewWallet {
                id: wallet.clone(),
                company_id: "acme".to_owned(),
                plan_id: old.id.clone(),
                employee_id: "lucia".to_owned(),
            },
            0,
        )
        .await
        .expect("open");
    ledger
        .fund(
            "fund-2025",
            &wallet,
            welfare_core::Money::from_euros(300).expect("ok"),
            0,
        )
        .await
        .expect("fund");
    // The 2025 plan has expired: its credit can no longer be held, and nothing is written.
    let expired = client
        .hold_funds(call(
            hold_request(&wallet, 1_000, "h-old", common::Category::CuraFigli),
            &booking_service(),
        ))
        .await
        .expect_err("plan expired");
    assert_eq!(
        (expired.code(), reason(&expired).as_str()),
        (Code::FailedPrecondition, "PLAN_EXPIRED")
    );
    let next = client
        .create_plan(call(
            CreatePlanRequest {
                company_id: "acme".to_owned(),
                plan: Some(plan(Regime::Art51C2Services, 2026, false)),
                request_id: "p-2026".to_owned(),
            },
            &admin(),
        ))
        .await
        .expect("plan")
        .into_inner();
    let missing_next = client
        .expire_wallets(call(
            ExpireWalletsRequest {
                plan_id: old.id.clone(),
                as_of: date("2026-01-01"),
                request_id: "ye".to_owned(),
                ..Default::default()
            },
            &admin(),
        ))
        .await
        .expect_err("needs a next plan");
    assert_eq!(bad_fields(&missing_next), ["next_plan_id"]);
    let settled = client
        .expire_wallets(call(
            ExpireWalletsRequest {
                plan_id: old.id.clone(),
                as_of: date("2026-01-01"),
                next_plan_id: next.id.clone(),
                request_id: "ye".to_owned(),
            },
            &admin(),
        ))
        .await
        .expect("settle")
        .into_inner();
    assert_eq!(
        (settled.carried_over, settled.returned_to_company),
        (eur(10_000), eur(20_000))
    );
    let retried = client
        .expire_wallets(call(
            ExpireWalletsRequest {
                plan_id: old.id.clone(),
                as_of: date("2026-01-01"),
                next_plan_id: next.id.clone(),
                request_id: "ye".to_owned(),
            },
            &admin(),
        ))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(
        (retried.carried_over, retried.returned_to_company),
        (eur(0), eur(0)),
        "a retry moves nothing"
    );
    let carried = client
        .get_wallet(call(
            GetWalletRequest {
                plan_id: next.id.clone(),
                employee_id: "lucia".to_owned(),
                ..Default::default()
            },
            &employee("lucia"),
        ))
        .await
        .expect("new wallet")
        .into_inner();
    assert_eq!(carried.available, eur(10_000));
    assert!(ledger.check_invariants().await.expect("check").holds());
}

welfare_storage::on_every_backend!(
    support::open;
    a_plan_lives_from_funding_to_the_tax_report,
    the_rules_of_the_plan_are_applied,
    each_role_reaches_only_what_it_owns,
    bad_input_on_every_rpc_names_the_field_and_writes_nothing,
    every_bad_field_is_named_at_once,
    year_end_carries_over_or_returns_to_the_company,
);
