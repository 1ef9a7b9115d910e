//! A booking's whole life over gRPC, on the real catalogue, wallet and booking services: open
//! slots, see them free, book with welfare credit, confirm, complete, and find the capture on
//! the employee's statement; and each other way a booking ends, with its seats and credit.
#![allow(clippy::indexing_slicing)]

mod support;

use support::*;
use welfare_proto::booking::{self as bpb, booking::State};
use welfare_proto::wallet::{self as wpb, wallet_transaction::Kind};
use welfare_storage::on_every_backend;

async fn open(backend: welfare_storage::Backend) -> Platform {
    platform(backend).await
}

fn cents(money: &Option<welfare_proto::common::Money>) -> i64 {
    money.as_ref().map_or(0, |m| m.amount_cents)
}

async fn the_whole_journey(mut p: Platform) {
    let anna = employee("anna");
    let wallets = p.fund(&["anna".to_owned()], 10_000).await;
    let slot = p.slots(&[72], 10).await.remove(0);
    assert_eq!((slot.capacity, slot.available), (10, 10));

    // Book two seats, paid by the wallet: HELD, with the quote split.
    let mut request = p.book_request(&slot.id, Some(&wallets[0]));
    request.quantity = 2;
    let booking = p
        .booking
        .create_booking(call(request.clone(), &anna))
        .await
        .expect("book")
        .into_inner();
    assert_eq!(booking.state, State::Held as i32);
    let quote = booking.quote.clone().expect("quote");
    assert_eq!(cents(&quote.total), 2_500);
    assert_eq!(cents(&quote.wallet_coverage), 2_500);
    assert_eq!(cents(&quote.due_from_family), 0);
    assert!(!booking.wallet_hold_id.is_empty());
    assert_eq!(p.slot(&slot.id).await.available, 8);
    let wallet = p.wallet_of(&anna, &wallets[0]).await;
    assert_eq!(
        (cents(&wallet.available), cents(&wallet.pending)),
        (7_500, 2_500)
    );

    // A retry answers the same booking; the same id with another field is refused.
    let again = p
        .booking
        .create_booking(call(request.clone(), &anna))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(again.id, booking.id);
    let mut changed = request.clone();
    changed.quantity = 3;
    let reused = p
        .booking
        .create_booking(call(changed, &anna))
        .await
        .expect_err("changed retry");
    assert_eq!(reason(&reused), "REQUEST_ID_REUSED");
    assert_eq!(p.slot(&slot.id).await.available, 8);

    // The provider confirms; after the start it completes: the hold is captured.
    let confirmed = p
        .booking
        .confirm_booking(call(
            bpb::ConfirmBookingRequest {
                id: booking.id.clone(),
                etag: booking.etag.clone(),
                request_id: rid(),
            },
            &p.operator.clone(),
        ))
        .await
        .expect("confirm")
        .into_inner();
    assert_eq!(confirmed.state, State::Confirmed as i32);
    let early = p
        .booking
        .complete_booking(call(
            bpb::CompleteBookingRequest {
                id: booking.id.clone(),
                etag: String::new(),
                request_id: rid(),
            },
            &p.operator.clone(),
        ))
        .await
        .expect_err("not started");
    assert_eq!(reason(&early), "NOT_STARTED");
    p.clock.advance(73 * HOUR);
    let completed = p
        .booking
        .complete_booking(call(
            bpb::CompleteBookingRequest {
                id: booking.id.clone(),
                etag: confirmed.etag.clone(),
                request_id: rid(),
            },
            &p.operator.clone(),
        ))
        .await
        .expect("complete")
        .into_inner();
    assert_eq!(completed.state, State::Completed as i32);
    let wallet = p.wallet_of(&anna, &wallets[0]).await;
    assert_eq!(
        (
            cents(&wallet.available),
            cents(&wallet.pending),
            cents(&wallet.spent)
        ),
        (7_500, 0, 2_500)
    );
    let statement = p
        .wallet
        .list_wallet_transactions(call(
            wpb::ListWalletTransactionsRequest {
                wallet_id: wallets[0].clone(),
                ..Default::default()
            },
            &anna,
        ))
        .await
        .expect("statement")
        .into_inner();
    let capture = statement
        .transactions
        .iter()
        .find(|t| t.kind == Kind::Capture as i32)
        .expect("the capture is on the statement");
    // The hold already took the credit out of the available balance: the capture moves it
    // from pending to spent (above) and changes nothing available.
    assert_eq!(capture.booking_id, booking.id);
    assert_eq!(cents(&capture.balance_after), 7_500);
    // And the platform owes the provider what the wallet paid.
    let payable = p
        .wallet
        .get_provider_payable(call(
            wpb::GetProviderPayableRequest {
                provider_id: p.provider_id.clone(),
            },
            &p.operator.clone(),
        ))
        .await
        .expect("payable")
        .into_inner();
    assert_eq!(cents(&payable.payable), 2_500);
    assert_eq!(cents(&payable.captured), 2_500);
    p.sweep().await;
    p.check_invariants().await;
}

async fn every_ending_gives_back_what_it_should(mut p: Platform) {
    let people: Vec<String> = (0..5).map(|i| format!("emp-{i}")).collect();
    let wallets = p.fund(&people, 10_000).await;
    let slot = p.slots(&[72], 10).await.remove(0);
    let mut booked = Vec::new();
    for (person, wallet) in people.iter().zip(&wallets) {
        booked.push(
            p.book(&employee(person), &slot.id, Some(wallet))
                .await
                .expect("book"),
        );
    }
    assert_eq!(p.slot(&slot.id).await.available, 5);
    let operator = p.operator.clone();
    // Rejected by the provider: seat and credit back.
    let rejected = p
        .booking
        .reject_booking(call(
            bpb::RejectBookingRequest {
                id: booked[0].id.clone(),
                reason: "Piscina chiusa per manutenzione".to_owned(),
                etag: String::new(),
                request_id: rid(),
            },
            &operator,
        ))
        .await
        .expect("reject")
        .into_inner();
    assert_eq!(rejected.state, State::Rejected as i32);
    assert_eq!(rejected.state_reason, "Piscina chiusa per manutenzione");
    // Cancelled by the booker before the deadline: free.
    let cancelled = p
        .booking
        .cancel_booking(call(
            bpb::CancelBookingRequest {
                id: booked[1].id.clone(),
                reason: String::new(),
                etag: String::new(),
                request_id: rid(),
            },
            &employee(&people[1]),
        ))
        .await
        .expect("cancel")
        .into_inner();
    assert_eq!(cents(&cancelled.cancellation_fee), 0);
    // Confirmed, then cancelled late by the booker: half the price is captured.
    for b in &booked[2..4] {
        p.booking
            .confirm_booking(call(
                bpb::ConfirmBookingRequest {
                    id: b.id.clone(),
                    etag: String::new(),
                    request_id: rid(),
                },
                &operator,
            ))
            .await
            .expect("confirm");
    }
    p.clock.advance(60 * HOUR);
    let late = p
        .booking
        .cancel_booking(call(
            bpb::CancelBookingRequest {
                id: booked[2].id.clone(),
                reason: "Malattia".to_owned(),
                etag: String::new(),
                request_id: rid(),
            },
            &employee(&people[2]),
        ))
        .await
        .expect("late cancel")
        .into_inner();
    assert_eq!(cents(&late.cancellation_fee), 625);
    let wallet = p.wallet_of(&employee(&people[2]), &wallets[2]).await;
    assert_eq!(
        (cents(&wallet.spent), cents(&wallet.available)),
        (625, 9_375)
    );
    // The HELD booking nobody confirmed expires when its hold lapses; the no-show pays the fee.
    p.clock.advance(13 * HOUR);
    let swept = p.sweep().await;
    assert_eq!(swept.expired, 1, "{swept:?}");
    let expired = p
        .booking
        .get_booking(call(
            bpb::GetBookingRequest {
                id: booked[4].id.clone(),
            },
            &employee(&people[4]),
        ))
        .await
        .expect("get")
        .into_inner();
    assert_eq!(expired.state, State::Expired as i32);
    let no_show = p
        .booking
        .mark_no_show(call(
            bpb::MarkNoShowRequest {
                id: booked[3].id.clone(),
                etag: String::new(),
                request_id: rid(),
            },
            &operator,
        ))
        .await
        .expect("no-show")
        .into_inner();
    assert_eq!(no_show.state, State::NoShow as i32);
    assert_eq!(cents(&no_show.cancellation_fee), 625);
    // Seats: every booking has ended, so none is reserved.
    assert_eq!(p.slot(&slot.id).await.available, 10);
    p.check_invariants().await;
}

async fn a_confirmed_booking_nobody_closes_is_completed_by_the_platform(mut p: Platform) {
    let wallets = p.fund(&["bruno".to_owned()], 10_000).await;
    let slot = p.slots(&[24], 10).await.remove(0);
    let booking = p
        .book(&employee("bruno"), &slot.id, Some(&wallets[0]))
        .await
        .expect("book");
    p.booking
        .confirm_booking(call(
            bpb::ConfirmBookingRequest {
                id: booking.id.clone(),
                etag: String::new(),
                request_id: rid(),
            },
            &p.operator.clone(),
        ))
        .await
        .expect("confirm");
    p.clock.advance(24 * HOUR + 3 * DAY);
    let swept = p.sweep().await;
    assert_eq!(swept.completed, 1, "{swept:?}");
    let wallet = p.wallet_of(&employee("bruno"), &wallets[0]).await;
    assert_eq!(cents(&wallet.spent), 1_250);
    p.check_invariants().await;
}

async fn a_free_request_listing_is_booked_by_start_time(mut p: Platform) {
    let start = p.clock.now().plus_seconds(5 * DAY);
    let booking = p
        .booking
        .create_booking(call(
            bpb::CreateBookingRequest {
                listing_id: p.home_care_id.clone(),
                quantity: 1,
                request_id: rid(),
                start_time: ts(start),
                ..Default::default()
            },
            &citizen("carla"),
        ))
        .await
        .expect("book")
        .into_inner();
    assert_eq!(booking.state, State::Held as i32);
    assert!(booking.slot_id.is_empty() && booking.wallet_hold_id.is_empty());
    assert_eq!(cents(&booking.quote.expect("quote").total), 0);
    let with_slot = p
        .booking
        .create_booking(call(
            bpb::CreateBookingRequest {
                listing_id: p.home_care_id.clone(),
                slot_id: "some-slot".to_owned(),
                request_id: rid(),
                start_time: ts(start),
                ..Default::default()
            },
            &citizen("carla"),
        ))
        .await
        .expect_err("no slots here");
    assert_eq!(bad_fields(&with_slot), ["slot_id"]);
    p.check_invariants().await;
}

on_every_backend!(open;
    the_whole_journey,
    every_ending_gives_back_what_it_should,
    a_confirmed_booking_nobody_closes_is_completed_by_the_platform,
    a_free_request_listing_is_booked_by_start_time,
);
