//! `BookingService`'s refusals and flows over real gRPC (SQLite; the store's backends are
//! proven by the other suites): refusals with their reasons and violations, reserving nothing;
//! the provider's stream of changes, resumed without gaps or repeats; a cancelled slot; a
//! wallet that does not answer; slots opened idempotently; enrolment sessions.
#![allow(clippy::indexing_slicing)]

mod support;

use booking_svc::config::EventsConfig;

use support::*;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_types::StatusExt;
use welfare_proto::booking::{self as bpb, booking::State};
use welfare_proto::catalog as cpb;
use welfare_proto::common;
use welfare_storage::Backend;

#[tokio::test]
async fn refusals_carry_their_reasons_and_reserve_nothing() {
    let mut p = platform(Backend::Sqlite).await;
    let wallets = p
        .fund(&["anna".to_owned(), "bruno".to_owned()], 10_000)
        .await;
    let slot = p.slots(&[48], 2).await.remove(0);
    let before = written(&p).await;
    let anna = employee("anna");

    // Too old for the course: NOT_ELIGIBLE with the reason, in Italian, as a violation.
    let mut request = p.book_request(&slot.id, None);
    request.profile = Some(common::Profile {
        beneficiary_age_years: Some(15),
        ..Default::default()
    });
    let status = p
        .booking
        .create_booking(call(request, &anna))
        .await
        .expect_err("not eligible");
    assert_eq!(reason(&status), "NOT_ELIGIBLE");
    let violations = status
        .get_details_precondition_failure()
        .expect("violations")
        .violations;
    assert_eq!(violations[0].r#type, "ELIGIBILITY");
    assert_eq!(violations[0].subject, "age_above_maximum");
    assert!(!violations[0].description.is_empty());
    // Nothing said of the age: ELIGIBILITY_UNKNOWN names the missing fact.
    let mut request = p.book_request(&slot.id, None);
    request.profile = None;
    let status = p
        .booking
        .create_booking(call(request, &anna))
        .await
        .expect_err("unknown");
    assert_eq!(reason(&status), "ELIGIBILITY_UNKNOWN");
    let violations = status
        .get_details_precondition_failure()
        .expect("violations")
        .violations;
    assert_eq!(violations[0].r#type, "MISSING_FACT");
    // Someone else's wallet does not exist, for this booker.
    let status = p
        .book(&anna, &slot.id, Some(&wallets[1]))
        .await
        .expect_err("bruno's wallet");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    // More seats than the slot has.
    let mut request = p.book_request(&slot.id, None);
    request.quantity = 3;
    let status = p
        .booking
        .create_booking(call(request, &anna))
        .await
        .expect_err("too many");
    assert_eq!(reason(&status), "SLOT_UNAVAILABLE");
    // A slot of another listing, or none.
    let mut request = p.book_request(&slot.id, None);
    request.listing_id = p.home_care_id.clone();
    request.start_time = None;
    let status = p
        .booking
        .create_booking(call(request, &anna))
        .await
        .expect_err("a slot on a request listing");
    assert_eq!(bad_fields(&status), ["slot_id"]);
    let status = p
        .book(&anna, "no-such-slot", None)
        .await
        .expect_err("no slot");
    assert_eq!(status.code(), Code::NotFound);
    // A suspended listing is not bookable.
    p.catalog
        .suspend_listing(call(
            cpb::SuspendListingRequest {
                id: p.swimming_id.clone(),
                reason: "Verifica in corso".to_owned(),
                etag: String::new(),
                request_id: rid(),
            },
            &curator(),
        ))
        .await
        .expect("suspend");
    let status = p
        .book(&anna, &slot.id, Some(&wallets[0]))
        .await
        .expect_err("suspended");
    assert!(
        matches!(
            reason(&status).as_str(),
            "LISTING_NOT_FOUND" | "LISTING_NOT_BOOKABLE"
        ),
        "{status:?}"
    );
    assert_eq!(written(&p).await, before, "refusals reserved nothing");
    let wallet = p.wallet_of(&anna, &wallets[0]).await;
    assert_eq!(wallet.pending.map(|m| m.amount_cents), Some(0));
}

#[tokio::test]
async fn a_provider_follows_its_bookings_and_resumes_without_gaps_or_repeats() {
    let mut p = platform(Backend::Sqlite).await;
    let slot = p.slots(&[48], 5).await.remove(0);
    let mut stream = p
        .booking
        .watch_bookings(call(
            bpb::WatchBookingsRequest { after_sequence: 0 },
            &p.operator.clone(),
        ))
        .await
        .expect("watch")
        .into_inner();
    let mut other = p
        .booking
        .watch_bookings(call(
            bpb::WatchBookingsRequest { after_sequence: 0 },
            &operator_of("another-coop"),
        ))
        .await
        .expect("watch")
        .into_inner();
    let first = p
        .book(&citizen("anna"), &slot.id, None)
        .await
        .expect("book");
    let second = p
        .book(&citizen("bruno"), &slot.id, None)
        .await
        .expect("book");
    let next = async |stream: &mut tonic::Streaming<bpb::BookingEvent>| {
        tokio::time::timeout(std::time::Duration::from_secs(5), stream.next())
            .await
            .expect("an event in time")
            .expect("open")
            .expect("event")
    };
    let created = next(&mut stream).await;
    assert_eq!(
        (created.kind.as_str(), created.booking.expect("booking").id),
        ("created", first.id.clone())
    );
    let seen = next(&mut stream).await;
    assert_eq!(
        seen.booking.as_ref().map(|b| b.id.clone()),
        Some(second.id.clone())
    );
    drop(stream);
    // While disconnected: a confirmation and a cancellation.
    p.booking
        .confirm_booking(call(
            bpb::ConfirmBookingRequest {
                id: first.id.clone(),
                request_id: rid(),
                ..Default::default()
            },
            &p.operator.clone(),
        ))
        .await
        .expect("confirm");
    p.booking
        .cancel_booking(call(
            bpb::CancelBookingRequest {
                id: second.id.clone(),
                request_id: rid(),
                ..Default::default()
            },
            &citizen("bruno"),
        ))
        .await
        .expect("cancel");
    let mut resumed = p
        .booking
        .watch_bookings(call(
            bpb::WatchBookingsRequest {
                after_sequence: seen.sequence,
            },
            &p.operator.clone(),
        ))
        .await
        .expect("resume")
        .into_inner();
    let confirmed = next(&mut resumed).await;
    let cancelled = next(&mut resumed).await;
    assert_eq!(
        (confirmed.kind.as_str(), confirmed.state),
        ("confirmed", State::Confirmed as i32)
    );
    assert_eq!(
        (cancelled.kind.as_str(), cancelled.state),
        ("cancelled", State::Cancelled as i32)
    );
    assert!(seen.sequence < confirmed.sequence && confirmed.sequence < cancelled.sequence);
    // Nothing more, and nothing at all for another provider.
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(700), resumed.next())
            .await
            .is_err(),
        "no repeats"
    );
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(300), other.next())
            .await
            .is_err(),
        "another provider sees nothing of ours"
    );
    let citizen_watch = p
        .booking
        .watch_bookings(call(bpb::WatchBookingsRequest::default(), &citizen("anna")))
        .await
        .expect_err("providers only");
    assert_eq!(citizen_watch.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn a_cancelled_slot_cancels_its_bookings_and_gives_the_credit_back() {
    let mut p = platform(Backend::Sqlite).await;
    let people = ["anna".to_owned(), "bruno".to_owned()];
    let wallets = p.fund(&people, 10_000).await;
    let slots = p.slots(&[48, 72], 5).await;
    let mut booked = Vec::new();
    for (person, wallet) in people.iter().zip(&wallets) {
        booked.push(
            p.book(&employee(person), &slots[0].id, Some(wallet))
                .await
                .expect("book"),
        );
    }
    let cancelled = p
        .booking
        .cancel_slot(call(
            bpb::CancelSlotRequest {
                slot_id: slots[0].id.clone(),
                reason: "Piscina chiusa".to_owned(),
                request_id: rid(),
            },
            &p.operator.clone(),
        ))
        .await
        .expect("cancel slot")
        .into_inner();
    assert_eq!(cancelled.available, 0);
    for (person, booking) in people.iter().zip(&booked) {
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
        assert_eq!(now.state, State::Cancelled as i32);
        assert!(
            now.state_reason.contains("Piscina chiusa"),
            "{}",
            now.state_reason
        );
        assert_eq!(now.cancellation_fee.map(|m| m.amount_cents), Some(0));
    }
    for (person, wallet) in people.iter().zip(&wallets) {
        let w = p.wallet_of(&employee(person), wallet).await;
        assert_eq!(w.available.map(|m| m.amount_cents), Some(10_000));
    }
    // Nobody books a cancelled slot, and it leaves the availability list.
    let status = p
        .book(&employee("anna"), &slots[0].id, Some(&wallets[0]))
        .await
        .expect_err("cancelled");
    assert_eq!(reason(&status), "SLOT_UNAVAILABLE");
    p.check_invariants().await;
}

#[tokio::test]
async fn a_wallet_that_does_not_answer_fails_the_booking_fast_and_reserves_nothing() {
    // A wallet address that accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let silent_url = format!("http://{}", silent.local_addr().expect("addr"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let mut p = platform(Backend::Sqlite).await;
    let wallets = p.fund(&["anna".to_owned()], 10_000).await;
    let slot = p.slots(&[48], 5).await.remove(0);
    // A second booking service, on the same database, whose wallet is silent.
    let mut config = booking_svc::config::BookingConfig::default();
    config.database.url = p.booking_db.clone();
    config.auth.hs256_secret = Some(welfare_runtime::config::Secret::new(SECRET));
    config.upstream.catalog_url = p.catalog_url.clone();
    config.upstream.wallet_url = silent_url;
    config.upstream.timeout_ms = 300;
    config.sweeper.interval_ms = 3_600_000;
    let started = booking_svc::startup::start(&config, p.clock.clock())
        .await
        .expect("start");
    let mut runtime = welfare_runtime::config::ServiceConfig::runtime(&config);
    runtime.server.listen_addr = "127.0.0.1:0".parse().expect("address");
    let app = welfare_runtime::Application::build(&runtime, started.services)
        .await
        .expect("build");
    let serving = welfare_runtime::testing::serve_in_background(app);
    let mut client = welfare_proto::booking::booking_service_client::BookingServiceClient::connect(
        serving.url.clone(),
    )
    .await
    .expect("connect");
    let begun = std::time::Instant::now();
    let status = client
        .create_booking(call(
            p.book_request(&slot.id, Some(&wallets[0])),
            &employee("anna"),
        ))
        .await
        .expect_err("the wallet is silent");
    assert!(
        matches!(status.code(), Code::DeadlineExceeded | Code::Unavailable),
        "{status:?}"
    );
    assert!(
        begun.elapsed() < std::time::Duration::from_secs(3),
        "fails fast"
    );
    assert_eq!(
        p.slot(&slot.id).await.available,
        5,
        "nothing stays reserved"
    );
    p.check_invariants().await;
}

#[tokio::test]
async fn opening_slots_is_idempotent_and_a_slot_lasts_at_most_a_day() {
    let mut p = platform(Backend::Sqlite).await;
    let now = p.clock.now();
    let request = bpb::CreateSlotsRequest {
        listing_id: p.swimming_id.clone(),
        slots: vec![bpb::SlotSpec {
            start_time: ts(now.plus_seconds(30 * HOUR)),
            end_time: ts(now.plus_seconds(31 * HOUR)),
            capacity: 4,
        }],
        request_id: rid(),
    };
    let op = p.operator.clone();
    let first = p
        .booking
        .create_slots(call(request.clone(), &op))
        .await
        .expect("open")
        .into_inner();
    let again = p
        .booking
        .create_slots(call(request.clone(), &op))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(first.slots, again.slots, "a retry answers the same slots");
    let mut changed = request.clone();
    changed.slots[0].capacity = 5;
    let reused = p
        .booking
        .create_slots(call(changed, &op))
        .await
        .expect_err("same id, other fields");
    assert_eq!(reason(&reused), "REQUEST_ID_REUSED");
    let before = written(&p).await;
    // A slot-booked listing's slot lasts at most a day.
    let long = p
        .booking
        .create_slots(call(
            bpb::CreateSlotsRequest {
                listing_id: p.swimming_id.clone(),
                slots: vec![bpb::SlotSpec {
                    start_time: ts(now.plus_seconds(40 * HOUR)),
                    end_time: ts(now.plus_seconds(40 * HOUR + 14 * DAY)),
                    capacity: 0,
                }],
                request_id: rid(),
            },
            &op,
        ))
        .await;
    assert_eq!(invalid(long), ["slots[0].end_time"]);
    assert_eq!(written(&p).await, before);
    // The listing's capacity applies when a slot names none.
    let listed = p.slot(&first.slots[0].id).await;
    assert_eq!((listed.capacity, listed.available), (4, 4));
}

/// Request ids are remembered for the retention window and forgotten after it: within it a
/// retry that changes a field is `REQUEST_ID_REUSED`; once the retention pass has run past it
/// the id is new. On both backends.
#[tokio::test]
async fn request_ids_are_forgotten_after_the_retention_window() {
    use welfare_runtime::config::RetentionConfig;
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let mut p = platform(backend).await;
        let now = p.clock.now();
        let op = p.operator.clone();
        let request = |capacity: u32, id: &str, hour: i64| bpb::CreateSlotsRequest {
            listing_id: p.swimming_id.clone(),
            slots: vec![bpb::SlotSpec {
                start_time: ts(now.plus_seconds(hour * HOUR)),
                end_time: ts(now.plus_seconds((hour + 1) * HOUR)),
                capacity,
            }],
            request_id: id.to_owned(),
        };
        let (old, recent) = (rid(), rid());
        p.booking
            .create_slots(call(request(4, &old, 100), &op))
            .await
            .expect("open");
        let retention = RetentionConfig::default();
        p.clock
            .advance(i64::from(retention.request_ids_hours) * HOUR - HOUR);
        p.booking
            .create_slots(call(request(4, &recent, 110), &op))
            .await
            .expect("open again");
        p.clock.advance(2 * HOUR);
        let pruned = booking_svc::startup::prune_pass(
            p.bookings.store(),
            p.bookings.clock(),
            &retention,
            &EventsConfig::default(),
        )
        .await
        .expect("prune");
        assert_eq!(
            pruned.request_ids, 1,
            "{backend:?}: only the id past the window"
        );
        let again = p
            .booking
            .create_slots(call(request(5, &old, 120), &op))
            .await
            .expect("a forgotten id is a new request");
        assert_eq!(again.into_inner().slots[0].capacity, 5);
        let reused = p
            .booking
            .create_slots(call(request(5, &recent, 130), &op))
            .await
            .expect_err("a remembered id with another field");
        assert_eq!(reason(&reused), "REQUEST_ID_REUSED", "{backend:?}");
    }
}

/// Booking events are kept `events.retention_days`: older ones are pruned by the retention pass
/// (never the newest), and a watch resumed from a pruned event is refused with
/// `EVENTS_PRUNED`, naming where to resume after re-reading the bookings.
#[tokio::test]
async fn booking_events_are_kept_for_their_window_and_a_watch_from_before_it_is_refused() {
    use welfare_runtime::config::RetentionConfig;
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let mut p = platform(backend).await;
        let op = p.operator.clone();
        let watch = async |p: &mut Platform, after: i64| {
            p.booking
                .watch_bookings(call(
                    bpb::WatchBookingsRequest {
                        after_sequence: after,
                    },
                    &op,
                ))
                .await
        };
        let next = async |stream: &mut tonic::Streaming<bpb::BookingEvent>| {
            tokio::time::timeout(std::time::Duration::from_secs(5), stream.next())
                .await
                .expect("an event in time")
                .expect("open")
                .expect("event")
        };
        let slot = p.slots(&[48], 5).await.remove(0);
        p.book(&citizen("anna"), &slot.id, None)
            .await
            .expect("book");
        p.book(&citizen("bruno"), &slot.id, None)
            .await
            .expect("book");
        let events = EventsConfig::default();
        p.clock
            .advance(i64::from(events.retention_days) * 24 * HOUR + HOUR);
        let later = p.slots(&[48], 5).await.remove(0);
        p.book(&citizen("carla"), &later.id, None)
            .await
            .expect("book");
        let mut all = watch(&mut p, 0).await.expect("watch").into_inner();
        let seqs = [
            next(&mut all).await.sequence,
            next(&mut all).await.sequence,
            next(&mut all).await.sequence,
        ];
        drop(all);
        let pruned = booking_svc::startup::prune_pass(
            p.bookings.store(),
            p.bookings.clock(),
            &RetentionConfig::default(),
            &events,
        )
        .await
        .expect("prune");
        assert_eq!(
            pruned.events, 2,
            "{backend:?}: the two events past the window"
        );
        let refused = watch(&mut p, seqs[0]).await.expect_err("pruned since");
        assert_eq!(refused.code(), Code::FailedPrecondition, "{backend:?}");
        assert_eq!(reason(&refused), "EVENTS_PRUNED");
        assert!(
            refused
                .message()
                .contains(&format!("watch after {}", seqs[1])),
            "{}",
            refused.message()
        );
        let mut resumed = watch(&mut p, seqs[1])
            .await
            .expect("nothing missed")
            .into_inner();
        assert_eq!(next(&mut resumed).await.sequence, seqs[2]);
        let mut from_start = watch(&mut p, 0)
            .await
            .expect("from the oldest kept")
            .into_inner();
        assert_eq!(next(&mut from_start).await.sequence, seqs[2]);
    }
}

#[tokio::test]
async fn a_summer_camp_is_booked_by_enrolment_session() {
    let mut p = platform(Backend::Sqlite).await;
    let mut camp = swimming();
    camp.title = "Centro estivo per bambini".to_owned();
    camp.subcategory = "centro-estivo".to_owned();
    camp.booking_mode = Some(cpb::BookingMode {
        mode: Some(cpb::booking_mode::Mode::Enrolment(
            cpb::booking_mode::Enrolment { places: 30 },
        )),
    });
    let camp_id = welfare_runtime::testing::seed::published_listing(
        &mut p.catalog,
        SECRET,
        &p.provider_id,
        camp,
    )
    .await;
    let now = p.clock.now();
    // A two-week session: longer than any slot of a slot-booked listing may be.
    let session = p
        .booking
        .create_slots(call(
            bpb::CreateSlotsRequest {
                listing_id: camp_id.clone(),
                slots: vec![bpb::SlotSpec {
                    start_time: ts(now.plus_seconds(10 * DAY)),
                    end_time: ts(now.plus_seconds(24 * DAY)),
                    capacity: 0,
                }],
                request_id: rid(),
            },
            &p.operator.clone(),
        ))
        .await
        .expect("a session")
        .into_inner()
        .slots
        .remove(0);
    assert_eq!(session.capacity, 30, "the listing's places");
    let enrolled = p
        .booking
        .create_booking(call(
            bpb::CreateBookingRequest {
                listing_id: camp_id.clone(),
                slot_id: session.id.clone(),
                quantity: 2,
                profile: Some(child_profile()),
                request_id: rid(),
                ..Default::default()
            },
            &citizen("carla"),
        ))
        .await
        .expect("enrol two children")
        .into_inner();
    assert_eq!(enrolled.state, State::Held as i32);
    assert_eq!(enrolled.start_time, session.start_time);
    let seats = p
        .booking
        .list_availability(bpb::ListAvailabilityRequest {
            listing_id: camp_id,
            start_time: ts(now),
            end_time: ts(now.plus_seconds(30 * DAY)),
            ..Default::default()
        })
        .await
        .expect("availability")
        .into_inner()
        .slots;
    assert_eq!(seats[0].available, 28);
    p.check_invariants().await;
}
