//! A plan's life seen by the company and the calendar, on each backend: its wallets listed for
//! payroll, and its end at midnight Italian time.
#![allow(clippy::indexing_slicing)]

mod support;

use std::sync::Arc;

use support::grpc::*;
use tonic::Code;
use wallet_svc::ledger::Ledger;
use welfare_proto::common;
use welfare_proto::wallet::*;

/// A company admin lists a plan's wallets with their balances, by employee and in pages, to
/// reconcile with payroll; nobody else sees them (as for the plan itself), and every bad field
/// is named.
async fn a_company_admin_lists_its_plans_wallets(ledger: Ledger) {
    let mut server = serve(ledger).await;
    let client = &mut server.client;
    let (plan, lucia_wallet) = create_and_fund(client, Regime::Art51C2Services).await;
    let list = |plan_id: &str, page_size: i32, page_token: &str| ListWalletsRequest {
        plan_id: plan_id.to_owned(),
        page_size,
        page_token: page_token.to_owned(),
    };
    let all = client
        .list_wallets(call(list(&plan.id, 0, ""), &admin()))
        .await
        .expect("the plan's wallets")
        .into_inner();
    let employees: Vec<&str> = all.wallets.iter().map(|w| w.employee_id.as_str()).collect();
    assert_eq!(employees, ["lucia", "marco"]);
    assert!(all.next_page_token.is_empty());
    let lucia = client
        .get_wallet(call(
            GetWalletRequest {
                id: lucia_wallet.clone(),
                ..Default::default()
            },
            &admin(),
        ))
        .await
        .expect("wallet")
        .into_inner();
    assert_eq!(all.wallets[0], lucia, "as GetWallet answers");
    let first = client
        .list_wallets(call(list(&plan.id, 1, ""), &admin()))
        .await
        .expect("page 1")
        .into_inner();
    let second = client
        .list_wallets(call(list(&plan.id, 1, &first.next_page_token), &admin()))
        .await
        .expect("page 2")
        .into_inner();
    assert_eq!(
        [
            first.wallets[0].employee_id.as_str(),
            second.wallets[0].employee_id.as_str()
        ],
        ["lucia", "marco"]
    );
    // Another company's admin does not learn the plan exists; an employee of the company is
    // told the role is missing — as for GetPlan.
    for (who, bearer, code) in [
        (
            "another company's admin",
            token("hr-other", &["company_admin"], Some("other")),
            Code::NotFound,
        ),
        ("an employee", employee("lucia"), Code::PermissionDenied),
    ] {
        let hidden = client
            .list_wallets(call(list(&plan.id, 0, ""), &bearer))
            .await
            .expect_err(who);
        assert_eq!(hidden.code(), code, "{who}");
    }
    let borrowed = client
        .list_wallets(call(
            list(&plan.id, 1, &first.next_page_token),
            &token("hr-acme-2", &["company_admin"], Some("acme")),
        ))
        .await
        .expect_err("another admin's page token");
    assert_eq!(bad_fields(&borrowed), ["page_token"]);
    for (request, field) in [
        (list("", 0, ""), "plan_id"),
        (list(&plan.id, -1, ""), "page_size"),
    ] {
        let refused = client
            .list_wallets(call(request, &admin()))
            .await
            .expect_err(field);
        assert_eq!(bad_fields(&refused), [field]);
    }
    let unknown = client
        .list_wallets(call(list("no-such-plan", 0, ""), &admin()))
        .await
        .expect_err("unknown plan");
    assert_eq!(unknown.code(), Code::NotFound);
}

/// A plan ends at midnight in Lodi, not at midnight UTC: at 23:30 UTC on 31 December — already
/// 00:30 on 1 January in Italy — its credit can no longer be held; an hour earlier it could.
async fn a_plan_ends_at_midnight_italian_time(ledger: Ledger) {
    let at = Arc::new(std::sync::atomic::AtomicI64::new(today().unix_seconds()));
    let reading = Arc::clone(&at);
    let clock: wallet_svc::grpc::Clock = Arc::new(move || {
        welfare_core::time::Timestamp::from_unix_seconds(
            reading.load(std::sync::atomic::Ordering::SeqCst),
        )
    });
    let mut config = test_config();
    config.limits.rate_limit_per_second = 10_000;
    config.limits.rate_limit_burst = 10_000;
    let mut server = serve_with(ledger, clock, config).await;
    let client = &mut server.client;
    let (_, wallet) = create_and_fund(client, Regime::Art51C2Services).await;
    let new_year_utc = "2027-01-01"
        .parse::<welfare_core::time::Date>()
        .expect("date")
        .days_since_epoch()
        * welfare_core::time::SECONDS_PER_DAY;
    let hold_at = |seconds: i64, id: &str| {
        at.store(seconds, std::sync::atomic::Ordering::SeqCst);
        let mut request = hold_request(&wallet, 1_000, id, common::Category::CuraFigli);
        request.expire_time = Some(welfare_proto::convert::timestamp_to_proto(
            welfare_core::time::Timestamp::from_unix_seconds(seconds + 600),
        ));
        request
    };
    // 22:30 UTC, 23:30 in Lodi: still 31 December.
    let request = hold_at(new_year_utc - 90 * 60, "h-2330");
    client
        .hold_funds(call(request, &booking_service()))
        .await
        .expect("the last evening of the year");
    // 23:30 UTC, 00:30 on 1 January in Lodi.
    let request = hold_at(new_year_utc - 30 * 60, "h-0030");
    let expired = client
        .hold_funds(call(request, &booking_service()))
        .await
        .expect_err("the new year in Italy");
    assert_eq!(
        (expired.code(), reason(&expired).as_str()),
        (Code::FailedPrecondition, "PLAN_EXPIRED")
    );
}

welfare_storage::on_every_backend!(
    support::open;
    a_company_admin_lists_its_plans_wallets,
    a_plan_ends_at_midnight_italian_time,
);
