//! `BookingService` as a hostile partner meets it, over real gRPC (SQLite; the store's
//! backends are proven by the other suites): bad input on every RPC, named and writing
//! nothing; who may do what, role by role. Refusals and the flows are in `flows.rs`.
#![allow(clippy::indexing_slicing)]

mod support;

use support::*;
use tonic::Code;
use welfare_proto::booking::{self as bpb, booking::State};
use welfare_proto::common;
use welfare_storage::Backend;

#[tokio::test]
async fn bad_input_on_every_rpc_is_named_and_writes_nothing() {
    let mut p = platform(Backend::Sqlite).await;
    let wallets = p.fund(&["anna".to_owned()], 10_000).await;
    let slot = p.slots(&[48], 5).await.remove(0);
    let booking = p
        .book(&employee("anna"), &slot.id, Some(&wallets[0]))
        .await
        .expect("book");
    let before = written(&p).await;
    let anna = employee("anna");
    let op = p.operator.clone();
    let now = p.clock.now();
    let b = &mut p.booking;

    let fields = invalid(
        b.list_availability(bpb::ListAvailabilityRequest {
            listing_id: "not an id".to_owned(),
            start_time: ts(now.plus_seconds(DAY)),
            end_time: ts(now),
            page_size: -1,
            page_token: "garbage".to_owned(),
            ..Default::default()
        })
        .await,
    );
    assert_eq!(
        fields,
        ["listing_id", "end_time", "page_size", "page_token"]
    );

    let fields = invalid(
        b.create_slots(call(
            bpb::CreateSlotsRequest {
                listing_id: String::new(),
                slots: vec![bpb::SlotSpec {
                    start_time: None,
                    end_time: ts(now),
                    capacity: 1,
                }],
                request_id: String::new(),
            },
            &op,
        ))
        .await,
    );
    assert_eq!(fields, ["listing_id", "slots[0].start_time", "request_id"]);
    let fields = invalid(
        b.create_slots(call(
            bpb::CreateSlotsRequest {
                listing_id: p.swimming_id.clone(),
                slots: vec![
                    bpb::SlotSpec {
                        start_time: ts(now.plus_seconds(-HOUR)),
                        end_time: ts(now.plus_seconds(HOUR)),
                        capacity: 0,
                    },
                    bpb::SlotSpec {
                        start_time: ts(now.plus_seconds(48 * HOUR)),
                        end_time: ts(now.plus_seconds(49 * HOUR)),
                        capacity: 20_000,
                    },
                ],
                request_id: rid(),
            },
            &op,
        ))
        .await,
    );
    assert_eq!(fields, ["slots[0].start_time", "slots[1].capacity"]);
    let overlapping = invalid(
        b.create_slots(call(
            bpb::CreateSlotsRequest {
                listing_id: p.swimming_id.clone(),
                slots: vec![bpb::SlotSpec {
                    start_time: ts(now.plus_seconds(48 * HOUR + 1_800)),
                    end_time: ts(now.plus_seconds(50 * HOUR)),
                    capacity: 1,
                }],
                request_id: rid(),
            },
            &op,
        ))
        .await,
    );
    assert_eq!(overlapping, ["slots[0].start_time"]);

    let fields = invalid(
        b.create_booking(call(
            bpb::CreateBookingRequest {
                listing_id: p.swimming_id.clone(),
                slot_id: slot.id.clone(),
                quantity: 1_001,
                profile: Some(common::Profile {
                    residence_istat_code: Some("12".to_owned()),
                    ..Default::default()
                }),
                wallet_id: " ".to_owned(),
                request_id: "x".repeat(65),
                start_time: None,
            },
            &anna,
        ))
        .await,
    );
    assert_eq!(
        fields,
        [
            "quantity",
            "profile.residence_istat_code",
            "wallet_id",
            "request_id"
        ]
    );
    let with_start = invalid(
        b.create_booking(call(
            bpb::CreateBookingRequest {
                start_time: ts(now.plus_seconds(DAY)),
                ..p_book(&p.swimming_id, &slot.id)
            },
            &anna,
        ))
        .await,
    );
    assert_eq!(with_start, ["start_time"]);

    assert_eq!(
        invalid(
            b.get_booking(call(bpb::GetBookingRequest { id: String::new() }, &anna))
                .await
        ),
        ["id"]
    );
    assert_eq!(
        invalid(
            b.list_bookings(call(
                bpb::ListBookingsRequest {
                    page_size: -3,
                    page_token: "not an id".to_owned(),
                    listing_id: "?".to_owned(),
                    state: 42,
                },
                &anna,
            ))
            .await
        ),
        ["page_size", "page_token", "listing_id", "state"]
    );
    assert_eq!(
        invalid(
            b.confirm_booking(call(
                bpb::ConfirmBookingRequest {
                    id: booking.id.clone(),
                    etag: "7".to_owned(),
                    request_id: String::new(),
                },
                &op,
            ))
            .await
        ),
        ["etag", "request_id"]
    );
    assert_eq!(
        invalid(
            b.reject_booking(call(
                bpb::RejectBookingRequest {
                    id: booking.id.clone(),
                    reason: String::new(),
                    etag: String::new(),
                    request_id: rid(),
                },
                &op,
            ))
            .await
        ),
        ["reason"]
    );
    assert_eq!(
        invalid(
            b.cancel_booking(call(
                bpb::CancelBookingRequest {
                    id: "bad id".to_owned(),
                    reason: "x".repeat(1_001),
                    etag: String::new(),
                    request_id: rid(),
                },
                &anna,
            ))
            .await
        ),
        ["id", "reason"]
    );
    assert_eq!(
        invalid(
            b.complete_booking(call(
                bpb::CompleteBookingRequest {
                    id: booking.id.clone(),
                    etag: "vX".to_owned(),
                    request_id: rid(),
                },
                &op,
            ))
            .await
        ),
        ["etag"]
    );
    assert_eq!(
        invalid(
            b.mark_no_show(call(
                bpb::MarkNoShowRequest {
                    id: String::new(),
                    etag: String::new(),
                    request_id: String::new(),
                },
                &op,
            ))
            .await
        ),
        ["id", "request_id"]
    );
    assert_eq!(
        invalid(
            b.cancel_slot(call(
                bpb::CancelSlotRequest {
                    slot_id: slot.id.clone(),
                    reason: String::new(),
                    request_id: String::new(),
                },
                &op,
            ))
            .await
        ),
        ["reason", "request_id"]
    );
    assert_eq!(
        invalid(
            b.reschedule_booking(call(
                bpb::RescheduleBookingRequest {
                    id: booking.id.clone(),
                    slot_id: String::new(),
                    etag: String::new(),
                    request_id: rid(),
                },
                &anna,
            ))
            .await
        ),
        ["slot_id"]
    );
    let watch = b
        .watch_bookings(call(bpb::WatchBookingsRequest { after_sequence: -1 }, &op))
        .await;
    assert_eq!(invalid(watch.map(|_| ())), ["after_sequence"]);
    assert_eq!(written(&p).await, before, "refused calls wrote nothing");
}

/// A booking request for the swimming course with nothing wrong in it.
fn p_book(listing: &str, slot: &str) -> bpb::CreateBookingRequest {
    bpb::CreateBookingRequest {
        listing_id: listing.to_owned(),
        slot_id: slot.to_owned(),
        quantity: 1,
        profile: Some(child_profile()),
        request_id: rid(),
        ..Default::default()
    }
}

#[tokio::test]
async fn every_role_does_only_what_it_may() {
    let mut p = platform(Backend::Sqlite).await;
    let slot = p.slots(&[48, 72], 5).await;
    let booking = p
        .book(&citizen("anna"), &slot[0].id, None)
        .await
        .expect("book");
    let before = written(&p).await;
    let other_provider = operator_of("another-coop");
    let strangers = [
        ("another citizen", citizen("bruno"), Code::NotFound),
        ("another provider", other_provider.clone(), Code::NotFound),
        ("a curator", curator(), Code::PermissionDenied),
        ("a company admin", hr(), Code::PermissionDenied),
    ];
    for (who, bearer, code) in &strangers {
        let b = &mut p.booking;
        let id = booking.id.clone();
        let answers: Vec<(&str, Result<(), tonic::Status>)> = vec![
            (
                "GetBooking",
                b.get_booking(call(bpb::GetBookingRequest { id: id.clone() }, bearer))
                    .await
                    .map(drop),
            ),
            (
                "CancelBooking",
                b.cancel_booking(call(
                    bpb::CancelBookingRequest {
                        id: id.clone(),
                        request_id: rid(),
                        ..Default::default()
                    },
                    bearer,
                ))
                .await
                .map(drop),
            ),
            (
                "RescheduleBooking",
                b.reschedule_booking(call(
                    bpb::RescheduleBookingRequest {
                        id: id.clone(),
                        slot_id: slot[1].id.clone(),
                        request_id: rid(),
                        ..Default::default()
                    },
                    bearer,
                ))
                .await
                .map(drop),
            ),
        ];
        for (rpc, answer) in answers {
            let status = answer.expect_err("refused");
            assert_eq!(status.code(), *code, "{who} {rpc}: {status:?}");
        }
    }
    // Only the listing's provider moves a booking through its provider steps: the booker and
    // other roles are denied, another provider finds nothing.
    let provider_steps = [
        ("the booker", citizen("anna"), Code::PermissionDenied),
        ("another citizen", citizen("bruno"), Code::PermissionDenied),
        ("another provider", other_provider.clone(), Code::NotFound),
        ("a curator", curator(), Code::PermissionDenied),
        ("platform operations", ops(), Code::PermissionDenied),
    ];
    for (who, bearer, code) in &provider_steps {
        let b = &mut p.booking;
        let id = booking.id.clone();
        let answers = [
            b.confirm_booking(call(
                bpb::ConfirmBookingRequest {
                    id: id.clone(),
                    request_id: rid(),
                    ..Default::default()
                },
                bearer,
            ))
            .await
            .map(drop),
            b.reject_booking(call(
                bpb::RejectBookingRequest {
                    id: id.clone(),
                    reason: "no".to_owned(),
                    request_id: rid(),
                    ..Default::default()
                },
                bearer,
            ))
            .await
            .map(drop),
            b.complete_booking(call(
                bpb::CompleteBookingRequest {
                    id: id.clone(),
                    request_id: rid(),
                    ..Default::default()
                },
                bearer,
            ))
            .await
            .map(drop),
            b.mark_no_show(call(
                bpb::MarkNoShowRequest {
                    id: id.clone(),
                    request_id: rid(),
                    ..Default::default()
                },
                bearer,
            ))
            .await
            .map(drop),
        ];
        for answer in answers {
            let status = answer.expect_err("refused");
            assert_eq!(status.code(), *code, "{who}: {status:?}");
        }
    }
    // Slots are the provider's own.
    for bearer in [other_provider.clone(), citizen("anna"), curator()] {
        let opened = p
            .booking
            .create_slots(call(
                bpb::CreateSlotsRequest {
                    listing_id: p.swimming_id.clone(),
                    slots: vec![bpb::SlotSpec {
                        start_time: ts(p.clock.now().plus_seconds(100 * HOUR)),
                        end_time: ts(p.clock.now().plus_seconds(101 * HOUR)),
                        capacity: 1,
                    }],
                    request_id: rid(),
                },
                &bearer,
            ))
            .await
            .expect_err("not theirs");
        assert!(
            matches!(opened.code(), Code::NotFound | Code::PermissionDenied),
            "{opened:?}"
        );
        let cancelled = p
            .booking
            .cancel_slot(call(
                bpb::CancelSlotRequest {
                    slot_id: slot[0].id.clone(),
                    reason: "chiuso".to_owned(),
                    request_id: rid(),
                },
                &bearer,
            ))
            .await
            .expect_err("not theirs");
        assert!(
            matches!(cancelled.code(), Code::NotFound | Code::PermissionDenied),
            "{cancelled:?}"
        );
    }
    // Providers and staff do not book; nobody books without a token.
    for bearer in [p.operator.clone(), curator(), hr(), ops()] {
        let status = p
            .booking
            .create_booking(call(p_book(&p.swimming_id, &slot[0].id), &bearer))
            .await
            .expect_err("not a booker");
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    }
    let anonymous = p
        .booking
        .create_booking(p_book(&p.swimming_id, &slot[0].id))
        .await
        .expect_err("anonymous");
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    assert_eq!(written(&p).await, before, "denied calls wrote nothing");

    // Lists: a person sees their own, a provider its listings', another provider nothing.
    let list = async |p: &mut Platform, bearer: &str| {
        p.booking
            .list_bookings(call(bpb::ListBookingsRequest::default(), bearer))
            .await
            .expect("list")
            .into_inner()
            .bookings
            .len()
    };
    assert_eq!(list(&mut p, &citizen("anna")).await, 1);
    assert_eq!(list(&mut p, &citizen("bruno")).await, 0);
    let own = p.operator.clone();
    assert_eq!(list(&mut p, &own).await, 1);
    assert_eq!(list(&mut p, &other_provider).await, 0);
    assert_eq!(list(&mut p, &ops()).await, 1);
    let denied = p
        .booking
        .list_bookings(call(bpb::ListBookingsRequest::default(), &curator()))
        .await
        .expect_err("curators do not read bookings");
    assert_eq!(denied.code(), Code::PermissionDenied);

    // The allowed cells: the provider cancels (free), operations cancel for a person.
    let by_provider = p
        .booking
        .cancel_booking(call(
            bpb::CancelBookingRequest {
                id: booking.id.clone(),
                reason: "Istruttore malato".to_owned(),
                request_id: rid(),
                ..Default::default()
            },
            &p.operator.clone(),
        ))
        .await
        .expect("the provider cancels")
        .into_inner();
    assert_eq!(by_provider.state, State::Cancelled as i32);
    let second = p
        .book(&citizen("anna"), &slot[0].id, None)
        .await
        .expect("book again");
    let by_staff = p
        .booking
        .cancel_booking(call(
            bpb::CancelBookingRequest {
                id: second.id.clone(),
                request_id: rid(),
                ..Default::default()
            },
            &ops(),
        ))
        .await
        .expect("operations cancel")
        .into_inner();
    assert_eq!(by_staff.state, State::Cancelled as i32);
    p.check_invariants().await;
}
