//! The ledger's behaviour, written once and run against SQLite and PostgreSQL.
#![allow(clippy::indexing_slicing)]

mod support;

use support::*;
use wallet_svc::ledger::{HoldState, Ledger, LedgerError, NewHold, Outcome};
use welfare_core::Money;

const NOW: i64 = 1_800_000_000;

fn hold(id: &str, wallet: &str, amount: Money) -> NewHold {
    NewHold {
        id: id.to_owned(),
        key: id.to_owned(),
        wallet_id: wallet.to_owned(),
        amount,
        expires_at: NOW + 600,
        category: "cura-figli".to_owned(),
        tax_letter: "f-bis".to_owned(),
        booking_id: Some("bk-1".to_owned()),
        fringe: None,
        provider_id: None,
    }
}

async fn assert_invariants(ledger: &Ledger) {
    let report = ledger.check_invariants().await.expect("check");
    assert!(report.holds(), "{report:?}");
}

async fn funding_credits_the_wallet_and_a_retry_changes_nothing(ledger: Ledger) {
    let w = wallet(&ledger, "w1", Money::ZERO).await;
    let first = ledger.fund("f-1", &w, euros(500), NOW).await.expect("fund");
    assert!(first.is_created());
    let retry = ledger
        .fund("f-1", &w, euros(500), NOW)
        .await
        .expect("retry");
    assert_eq!(retry, Outcome::Existing(first.into_inner()));
    assert_eq!(
        ledger.balance(&w).await.expect("balance").available(),
        euros(500)
    );
    assert_invariants(&ledger).await;
}

async fn a_reused_id_with_other_fields_is_refused(ledger: Ledger) {
    let w = wallet(&ledger, "w1", euros(100)).await;
    ledger.fund("f-1", &w, euros(50), NOW).await.expect("fund");
    let reused = ledger.fund("f-1", &w, euros(60), NOW).await;
    assert!(
        matches!(reused, Err(LedgerError::IdReused(_))),
        "{reused:?}"
    );
    let as_hold = ledger.hold(&hold("f-1", &w, euros(10)), NOW).await;
    assert!(
        matches!(as_hold, Err(LedgerError::IdReused(_))),
        "{as_hold:?}"
    );
    assert_eq!(
        ledger.balance(&w).await.expect("balance").available(),
        euros(150)
    );
    assert_invariants(&ledger).await;
}

async fn a_hold_beyond_the_available_balance_is_refused_and_changes_nothing(ledger: Ledger) {
    let w = wallet(&ledger, "w1", euros(100)).await;
    ledger
        .hold(&hold("h-1", &w, euros(70)), NOW)
        .await
        .expect("hold");
    let refused = ledger.hold(&hold("h-2", &w, euros(31)), NOW).await;
    assert!(
        matches!(refused, Err(LedgerError::InsufficientFunds { available, .. }) if available == euros(30)),
        "{refused:?}"
    );
    assert!(matches!(
        ledger.get_hold("h-2").await,
        Err(LedgerError::HoldNotFound(_))
    ));
    let balance = ledger.balance(&w).await.expect("balance");
    assert_eq!(
        (balance.available(), balance.pending()),
        (euros(30), euros(70))
    );
    // The refused id was not consumed: it can be used for a hold that fits.
    ledger
        .hold(&hold("h-2", &w, euros(30)), NOW)
        .await
        .expect("fits now");
    assert_invariants(&ledger).await;
}

async fn a_partial_capture_releases_the_rest(ledger: Ledger) {
    let w = wallet(&ledger, "w1", euros(100)).await;
    ledger
        .hold(&hold("h-1", &w, euros(80)), NOW)
        .await
        .expect("hold");
    let captured = ledger
        .capture("c-1", "h-1", Some(euros(50)), NOW + 1)
        .await
        .expect("capture")
        .into_inner();
    assert_eq!(
        (captured.state, captured.captured, captured.released),
        (HoldState::Captured, euros(50), euros(30))
    );
    let balance = ledger.balance(&w).await.expect("balance");
    assert_eq!(
        (
            balance.available(),
            balance.posted_debits(),
            balance.pending()
        ),
        (euros(50), euros(50), Money::ZERO)
    );
    assert_invariants(&ledger).await;
}

async fn a_hold_resolves_at_most_once(ledger: Ledger) {
    let w = wallet(&ledger, "w1", euros(100)).await;
    ledger
        .hold(&hold("h-1", &w, euros(40)), NOW)
        .await
        .expect("hold");
    ledger
        .capture("c-1", "h-1", None, NOW + 1)
        .await
        .expect("capture");
    assert!(
        matches!(
            ledger.capture("c-1", "h-1", None, NOW + 2).await,
            Ok(Outcome::Existing(_))
        ),
        "a retry is success"
    );
    let again = ledger.release("r-1", "h-1", NOW + 2).await;
    assert!(
        matches!(again, Err(LedgerError::HoldNotPending { .. })),
        "{again:?}"
    );
    let second_capture = ledger.capture("c-2", "h-1", None, NOW + 2).await;
    assert!(
        matches!(second_capture, Err(LedgerError::HoldNotPending { .. })),
        "{second_capture:?}"
    );
    let over = ledger
        .hold(&hold("h-2", &w, euros(10)), NOW)
        .await
        .expect("hold");
    let too_much = ledger
        .capture("c-3", &over.into_inner().id, Some(euros(11)), NOW + 1)
        .await;
    assert!(
        matches!(too_much, Err(LedgerError::CaptureExceedsHold { .. })),
        "{too_much:?}"
    );
    assert_eq!(
        ledger.balance(&w).await.expect("balance").available(),
        euros(50)
    );
    assert_invariants(&ledger).await;
}

async fn expired_holds_give_their_funds_back(ledger: Ledger) {
    let w = wallet(&ledger, "w1", euros(100)).await;
    ledger
        .hold(&hold("h-1", &w, euros(60)), NOW)
        .await
        .expect("hold");
    assert_eq!(
        ledger.expire_due(NOW + 599).await.expect("sweep"),
        0,
        "not due yet"
    );
    let late = ledger.capture("c-1", "h-1", None, NOW + 600).await;
    assert!(matches!(late, Err(LedgerError::HoldExpired(_))), "{late:?}");
    assert_eq!(ledger.expire_due(NOW + 600).await.expect("sweep"), 1);
    assert_eq!(
        ledger.expire_due(NOW + 601).await.expect("sweep"),
        0,
        "expires once"
    );
    assert_eq!(
        ledger.get_hold("h-1").await.expect("hold").state,
        HoldState::Expired
    );
    assert_eq!(
        ledger.balance(&w).await.expect("balance").available(),
        euros(100)
    );
    assert_invariants(&ledger).await;
}

async fn refunds_never_exceed_the_capture(ledger: Ledger) {
    let w = wallet(&ledger, "w1", euros(100)).await;
    ledger
        .hold(&hold("h-1", &w, euros(60)), NOW)
        .await
        .expect("hold");
    let pending_refund = ledger.refund("rf-0", "h-1", euros(1), NOW).await;
    assert!(
        matches!(pending_refund, Err(LedgerError::HoldNotPending { .. })),
        "{pending_refund:?}"
    );
    ledger
        .capture("c-1", "h-1", Some(euros(50)), NOW + 1)
        .await
        .expect("capture");
    ledger
        .refund("rf-1", "h-1", euros(20), NOW + 2)
        .await
        .expect("refund");
    let over = ledger.refund("rf-2", "h-1", euros(31), NOW + 3).await;
    assert!(
        matches!(over, Err(LedgerError::RefundExceedsCapture { refundable, .. }) if refundable == euros(30)),
        "{over:?}"
    );
    ledger
        .refund("rf-2", "h-1", euros(30), NOW + 3)
        .await
        .expect("the rest");
    assert_eq!(
        ledger.balance(&w).await.expect("balance").available(),
        euros(100)
    );
    assert_invariants(&ledger).await;
}

async fn bad_input_gets_a_clear_error_and_changes_nothing(ledger: Ledger) {
    let w = wallet(&ledger, "w1", euros(100)).await;
    let zero = ledger.fund("f-0", &w, Money::ZERO, NOW).await;
    assert!(
        matches!(
            zero,
            Err(LedgerError::Invalid {
                field: "amount",
                ..
            })
        ),
        "{zero:?}"
    );
    let negative = ledger.hold(&hold("h-0", &w, cents(-5)), NOW).await;
    assert!(
        matches!(
            negative,
            Err(LedgerError::Invalid {
                field: "amount",
                ..
            })
        ),
        "{negative:?}"
    );
    let unknown = ledger.fund("f-1", "nobody", euros(5), NOW).await;
    assert!(
        matches!(unknown, Err(LedgerError::WalletNotFound(_))),
        "{unknown:?}"
    );
    let unknown_hold = ledger.capture("c-1", "no-such-hold", None, NOW).await;
    assert!(
        matches!(unknown_hold, Err(LedgerError::HoldNotFound(_))),
        "{unknown_hold:?}"
    );
    let past = NewHold {
        expires_at: NOW,
        ..hold("h-1", &w, euros(1))
    };
    assert!(matches!(
        ledger.hold(&past, NOW).await,
        Err(LedgerError::Invalid {
            field: "expire_time",
            ..
        })
    ));
    let long_id = "x".repeat(wallet_svc::ledger::MAX_KEY_BYTES + 1);
    assert!(matches!(
        ledger.fund(&long_id, &w, euros(1), NOW).await,
        Err(LedgerError::Invalid {
            field: "request_id",
            ..
        })
    ));
    assert_eq!(
        ledger.balance(&w).await.expect("balance").available(),
        euros(100)
    );
    assert_invariants(&ledger).await;
}

async fn a_fringe_benefit_hold_never_crosses_the_ceiling(ledger: Ledger) {
    use wallet_svc::ledger::FringeCharge;
    let a = wallet(&ledger, "a", euros(900)).await;
    let fringe = Some(FringeCharge {
        year: 2026,
        ceiling: euros(1_000),
    });
    ledger
        .hold(
            &NewHold {
                fringe,
                ..hold("h-1", &a, euros(700))
            },
            NOW,
        )
        .await
        .expect("within the ceiling");
    // A second wallet of the same employee and employer shares the ceiling.
    let other = wallet_svc::ledger::NewWallet {
        id: "b".to_owned(),
        company_id: "acme".to_owned(),
        plan_id: "plan-2026-bis".to_owned(),
        employee_id: "emp-a".to_owned(),
    };
    ledger.open_wallet(&other, NOW).await.expect("open");
    ledger
        .fund("fund-b", "b", euros(900), NOW)
        .await
        .expect("fund");
    let crossing = ledger
        .hold(
            &NewHold {
                fringe,
                ..hold("h-2", "b", euros(301))
            },
            NOW,
        )
        .await;
    assert!(
        matches!(crossing, Err(LedgerError::FringeCeiling { used, .. }) if used == euros(700)),
        "{crossing:?}"
    );
    assert_eq!(
        ledger.balance("b").await.expect("balance").available(),
        euros(900),
        "nothing held"
    );
    // Releasing part of the first hold gives the room back.
    ledger
        .capture("c-1", "h-1", Some(euros(400)), NOW + 1)
        .await
        .expect("capture");
    ledger
        .hold(
            &NewHold {
                fringe,
                ..hold("h-2", "b", euros(600))
            },
            NOW,
        )
        .await
        .expect("room again");
    assert_invariants(&ledger).await;
}

welfare_storage::on_every_backend!(
    support::open;
    funding_credits_the_wallet_and_a_retry_changes_nothing,
    a_reused_id_with_other_fields_is_refused,
    a_hold_beyond_the_available_balance_is_refused_and_changes_nothing,
    a_partial_capture_releases_the_rest,
    a_hold_resolves_at_most_once,
    expired_holds_give_their_funds_back,
    refunds_never_exceed_the_capture,
    bad_input_gets_a_clear_error_and_changes_nothing,
    a_fringe_benefit_hold_never_crosses_the_ceiling,
);
