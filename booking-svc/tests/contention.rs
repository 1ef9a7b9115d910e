//! Capacity under contention, over real gRPC on each backend: many people booking the last
//! seats at once never oversell a slot, never leave a wallet hold without its booking, and
//! cancellations and moves give back and take exactly the seats they name.
#![allow(clippy::indexing_slicing)]

mod support;

use std::collections::HashMap;

use support::*;
use welfare_proto::booking::{self as bpb, booking::State};
use welfare_storage::on_every_backend;

async fn open(backend: welfare_storage::Backend) -> Platform {
    platform(backend).await
}

/// Pending holds the wallet has for these bookings.
async fn pending_holds(p: &Platform) -> i64 {
    use sqlx::Row;
    sqlx::query("SELECT COUNT(*) AS n FROM holds WHERE state = 'pending'")
        .fetch_one(p.wallet_ledger.pool())
        .await
        .expect("holds")
        .get("n")
}

async fn two_hundred_people_for_ten_seats(mut p: Platform) {
    let people: Vec<String> = (0..200).map(|i| format!("parent-{i}")).collect();
    let wallets = p.fund(&people, 5_000).await;
    let slot = p.slots(&[48], 10).await.remove(0);
    let attempts = people.iter().zip(&wallets).map(|(person, wallet)| {
        let mut client = p.booking.clone();
        let request = p.book_request(&slot.id, Some(wallet));
        let bearer = employee(person);
        async move {
            client
                .create_booking(call(request, &bearer))
                .await
                .map(tonic::Response::into_inner)
        }
    });
    let answers = join_all(attempts).await;
    let mut outcomes: HashMap<String, usize> = HashMap::new();
    let mut held = Vec::new();
    for (answer, person) in answers.into_iter().zip(&people) {
        match answer {
            Ok(booking) => {
                assert_eq!(booking.state, State::Held as i32);
                held.push((person.clone(), booking));
                *outcomes.entry("HELD".to_owned()).or_default() += 1;
            }
            Err(status) => *outcomes.entry(reason(&status)).or_default() += 1,
        }
    }
    assert_eq!(outcomes.get("HELD"), Some(&10), "{outcomes:?}");
    assert_eq!(outcomes.get("SLOT_UNAVAILABLE"), Some(&190), "{outcomes:?}");
    assert_eq!(p.slot(&slot.id).await.available, 0);
    assert_eq!(pending_holds(&p).await, 10);
    p.check_invariants().await;

    // Ten cancellations, at once, free exactly ten seats and release exactly ten holds.
    let cancels = held.iter().map(|(person, booking)| {
        let mut client = p.booking.clone();
        let bearer = employee(person);
        let request = bpb::CancelBookingRequest {
            id: booking.id.clone(),
            reason: String::new(),
            etag: booking.etag.clone(),
            request_id: rid(),
        };
        async move { client.cancel_booking(call(request, &bearer)).await }
    });
    for answer in join_all(cancels).await {
        assert_eq!(
            answer.expect("cancel").into_inner().state,
            State::Cancelled as i32
        );
    }
    assert_eq!(p.slot(&slot.id).await.available, 10);
    assert_eq!(pending_holds(&p).await, 0);
    p.sweep().await;
    p.check_invariants().await;
}

async fn racing_moves_into_the_last_seat(mut p: Platform) {
    let people: Vec<String> = (0..8).map(|i| format!("mover-{i}")).collect();
    let wallets = p.fund(&people, 5_000).await;
    let slots = p.slots(&[48, 72], 8).await;
    let (from, to) = (&slots[0], &slots[1]);
    // The target slot has one seat left: seven taken by others.
    let others: Vec<String> = (0..7).map(|i| format!("other-{i}")).collect();
    let other_wallets = p.fund(&others, 5_000).await;
    for (person, wallet) in others.iter().zip(&other_wallets) {
        p.book(&employee(person), &to.id, Some(wallet))
            .await
            .expect("fill the target");
    }
    let mut movers = Vec::new();
    for (person, wallet) in people.iter().zip(&wallets) {
        let booking = p
            .book(&employee(person), &from.id, Some(wallet))
            .await
            .expect("book");
        movers.push((person.clone(), booking));
    }
    assert_eq!(p.slot(&to.id).await.available, 1);
    let moves = movers.iter().map(|(person, booking)| {
        let mut client = p.booking.clone();
        let bearer = employee(person);
        let request = bpb::RescheduleBookingRequest {
            id: booking.id.clone(),
            slot_id: to.id.clone(),
            etag: booking.etag.clone(),
            request_id: rid(),
        };
        async move { client.reschedule_booking(call(request, &bearer)).await }
    });
    let answers = join_all(moves).await;
    let mut won = 0;
    for (answer, (person, booking)) in answers.into_iter().zip(&movers) {
        let now = p
            .booking
            .get_booking(call(
                bpb::GetBookingRequest {
                    id: booking.id.clone(),
                },
                &employee(person),
            ))
            .await
            .expect("get")
            .into_inner();
        match answer {
            Ok(moved) => {
                won += 1;
                assert_eq!(moved.get_ref().slot_id, to.id);
                assert_eq!(now.slot_id, to.id);
            }
            Err(status) => {
                assert_eq!(reason(&status), "SLOT_UNAVAILABLE", "{status:?}");
                assert_eq!(now.slot_id, from.id, "a loser keeps its seat");
                assert_eq!(now.etag, booking.etag, "a loser's booking did not change");
            }
        }
    }
    assert_eq!(won, 1);
    assert_eq!(p.slot(&to.id).await.available, 0);
    assert_eq!(p.slot(&from.id).await.available, 1);
    p.check_invariants().await;
}

on_every_backend!(open;
    two_hundred_people_for_ten_seats,
    racing_moves_into_the_last_seat,
);
