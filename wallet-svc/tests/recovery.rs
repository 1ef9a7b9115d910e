//! What the booking service's recovery reads from the wallet, over gRPC on each backend: a hold
//! as it stands now (`GetHold`), and the holds placed for one booking across wallets
//! (`ListHolds`) — to the booking service and operators only, another tenant's hold answering
//! as a missing one.
#![allow(clippy::indexing_slicing)]

mod support;

use support::grpc::*;
use tonic::Code;
use wallet_svc::ledger::Ledger;
use welfare_proto::common;
use welfare_proto::wallet::*;

async fn the_recovery_reads_a_bookings_holds_across_wallets(ledger: Ledger) {
    let mut server = serve(ledger.clone()).await;
    let client = &mut server.client;
    let created = client
        .create_plan(call(
            CreatePlanRequest {
                company_id: "acme".to_owned(),
                plan: Some(plan(Regime::Art51C2Services, 2026, false)),
                request_id: "p".to_owned(),
            },
            &admin(),
        ))
        .await
        .expect("plan")
        .into_inner();
    let funded = client
        .fund_wallets(call(
            FundWalletsRequest {
                plan_id: created.id.clone(),
                fundings: ["lucia", "marco"]
                    .iter()
                    .map(|e| Funding {
                        employee_id: (*e).to_owned(),
                        ..Funding::default()
                    })
                    .collect(),
                request_id: "f".to_owned(),
            },
            &admin(),
        ))
        .await
        .expect("fund")
        .into_inner();
    let (lucia, marco) = (
        funded.results[0].wallet_id.clone(),
        funded.results[1].wallet_id.clone(),
    );
    // One booking's holds on two wallets (a family booking), one on another booking.
    let mut placed = Vec::new();
    for (wallet, booking, request) in [
        (&lucia, "bk-42", "h-1"),
        (&marco, "bk-42", "h-2"),
        (&lucia, "bk-7", "h-3"),
    ] {
        let mut hold = hold_request(wallet, 1_000, request, common::Category::CuraFigli);
        hold.booking_id = booking.to_owned();
        placed.push(
            client
                .hold_funds(call(hold, &booking_service()))
                .await
                .expect("hold")
                .into_inner(),
        );
    }
    let listed = client
        .list_holds(call(
            ListHoldsRequest {
                booking_id: "bk-42".to_owned(),
                ..Default::default()
            },
            &booking_service(),
        ))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(
        listed.holds,
        placed[..2].to_vec(),
        "oldest first, bk-42 only"
    );
    // Pages cover the list once.
    let first = client
        .list_holds(call(
            ListHoldsRequest {
                booking_id: "bk-42".to_owned(),
                page_size: 1,
                ..Default::default()
            },
            &booking_service(),
        ))
        .await
        .expect("page 1")
        .into_inner();
    let second = client
        .list_holds(call(
            ListHoldsRequest {
                booking_id: "bk-42".to_owned(),
                page_size: 1,
                page_token: first.next_page_token.clone(),
            },
            &booking_service(),
        ))
        .await
        .expect("page 2")
        .into_inner();
    assert_eq!(
        [first.holds.clone(), second.holds.clone()].concat(),
        listed.holds
    );
    // A token continues only the listing it was issued for, and only the server makes them:
    // another booking's, or an offset written by hand (the old "o1"), is refused.
    for (booking, token) in [
        ("bk-43", first.next_page_token.clone()),
        ("bk-42", "o1".to_owned()),
    ] {
        let refused = client
            .list_holds(call(
                ListHoldsRequest {
                    booking_id: booking.to_owned(),
                    page_size: 1,
                    page_token: token,
                },
                &booking_service(),
            ))
            .await
            .expect_err("not this listing's token");
        assert_eq!(bad_fields(&refused), ["page_token"], "{booking}");
    }
    // GetHold reads the state now, not as placed.
    client
        .capture_hold(call(
            CaptureHoldRequest {
                hold_id: placed[0].id.clone(),
                amount: None,
                request_id: "c".to_owned(),
            },
            &booking_service(),
        ))
        .await
        .expect("capture");
    let now = client
        .get_hold(call(
            GetHoldRequest {
                id: placed[0].id.clone(),
            },
            &employee("lucia"),
        ))
        .await
        .expect("her own hold")
        .into_inner();
    assert_eq!(now.state, hold::State::Captured as i32);
    // Who may not: a colleague and the company's admin read no hold; only the booking service
    // and operators list; another company's employee is told the hold does not exist.
    let colleague = client
        .get_hold(call(
            GetHoldRequest {
                id: placed[0].id.clone(),
            },
            &employee("marco"),
        ))
        .await
        .expect_err("not his");
    assert_eq!(colleague.code(), Code::PermissionDenied);
    let stranger = client
        .get_hold(call(
            GetHoldRequest {
                id: placed[0].id.clone(),
            },
            &token("mario", &["employee"], Some("globex")),
        ))
        .await
        .expect_err("another company");
    let missing = client
        .get_hold(call(
            GetHoldRequest {
                id: "0000-no-such-hold".to_owned(),
            },
            &token("mario", &["employee"], Some("globex")),
        ))
        .await
        .expect_err("missing");
    assert_eq!(
        (stranger.code(), reason(&stranger)),
        (missing.code(), reason(&missing))
    );
    assert_eq!(stranger.code(), Code::NotFound);
    for who in [admin(), employee("lucia")] {
        let refused = client
            .list_holds(call(
                ListHoldsRequest {
                    booking_id: "bk-42".to_owned(),
                    ..Default::default()
                },
                &who,
            ))
            .await
            .expect_err("not the booking service");
        assert_eq!(refused.code(), Code::PermissionDenied);
    }
    // Bad input names its field.
    let bad = client
        .list_holds(call(
            ListHoldsRequest {
                booking_id: String::new(),
                page_size: -1,
                ..Default::default()
            },
            &booking_service(),
        ))
        .await
        .expect_err("no booking id");
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&bad), ["booking_id"]);
    assert!(ledger.check_invariants().await.expect("check").holds());
}

welfare_storage::on_every_backend!(
    support::open;
    the_recovery_reads_a_bookings_holds_across_wallets,
);
