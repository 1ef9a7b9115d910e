//! `welfare.booking.v1.BookingService` over the saga: requests parsed at the edge, applied by
//! [`Bookings`], answered in the contract's types and error reasons.

use std::pin::Pin;
use std::time::Duration;

use tokio_stream::Stream;
use tonic::{Request, Response, Status};
use welfare_core::auth::Role;
use welfare_core::booking::BookingAction;
use welfare_proto::booking as pb;
use welfare_proto::booking::booking_service_server::BookingService;
use welfare_proto::convert;
use welfare_runtime::ServiceError;
use welfare_runtime::auth::principal;
use welfare_runtime::error::Violations;

use crate::saga::Bookings;
use crate::store::BookingFilter;
use crate::upstream::Caller;

pub mod edge;

use edge::*;
use welfare_runtime::edge::{page_size, request_id};

/// The booking service's full gRPC name.
pub const SERVICE_NAME: &str = "welfare.booking.v1.BookingService";
/// Events read from the outbox per query by a watcher.
pub const WATCH_BATCH: i64 = 200;
/// How often a watcher looks for changes committed by other processes (changes of this one
/// wake it at once).
pub const WATCH_POLL: Duration = Duration::from_millis(500);

/// The methods anyone may call without a token.
pub fn public_methods() -> Vec<String> {
    vec![format!("/{SERVICE_NAME}/ListAvailability")]
}

/// The booking service.
#[derive(Debug, Clone)]
pub struct BookingApi {
    bookings: Bookings,
}

type RpcResult<T> = Result<Response<T>, Status>;

/// The caller's bearer token, passed on to the catalogue and the wallet so they answer as they
/// would the caller.
fn bearer<T>(request: &Request<T>) -> Option<String> {
    request
        .metadata()
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_owned)
}

impl BookingApi {
    pub fn new(bookings: Bookings) -> BookingApi {
        BookingApi { bookings }
    }

    /// The service as the runtime serves it, with requests up to `max_message_bytes`.
    pub fn into_services(self, max_message_bytes: usize) -> welfare_runtime::ServiceSet {
        welfare_runtime::ServiceSet::new(
            tonic::service::Routes::new(
                pb::booking_service_server::BookingServiceServer::new(self)
                    .max_decoding_message_size(max_message_bytes),
            ),
            public_methods(),
            vec![SERVICE_NAME.to_owned()],
        )
    }

    async fn transition(
        &self,
        request: Request<TransitionFields>,
        action: BookingAction,
    ) -> RpcResult<pb::Booking> {
        let principal = principal(&request);
        let (id, etag, request_id, reason) = request.into_inner();
        let step = step(
            &id,
            &etag,
            &request_id,
            reason
                .as_ref()
                .map(|(text, required)| (text.as_str(), *required)),
        )?;
        let record = self.bookings.act(&principal, action, step).await?;
        Ok(Response::new(booking_to_proto(&record)))
    }
}

/// A transition request's id, etag, request id and reason (with whether it is required), so
/// the five transitions share one handler.
type TransitionFields = (String, String, String, Option<(String, bool)>);

fn fields<T>(
    request: Request<T>,
    pick: impl FnOnce(T) -> TransitionFields,
) -> Request<TransitionFields> {
    request.map(pick)
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::BookingEvent, Status>> + Send>>;

#[tonic::async_trait]
impl BookingService for BookingApi {
    async fn list_availability(
        &self,
        request: Request<pb::ListAvailabilityRequest>,
    ) -> RpcResult<pb::ListAvailabilityResponse> {
        let principal = principal(&request);
        let token = bearer(&request);
        let message = request.into_inner();
        let mut v = Violations::default();
        let listing = v.keep(listing_id(&message.listing_id, "listing_id"));
        let window = v.keep(window(&message, (self.bookings.clock())()));
        let size = v.keep(page_size(
            message.page_size,
            DEFAULT_SLOT_PAGE,
            MAX_SLOT_PAGE,
        ));
        let bound = page_bound(
            &principal,
            &[
                "availability",
                &message.listing_id,
                if message.available_only {
                    "available"
                } else {
                    "all"
                },
            ],
        );
        let after = v.keep(slot_token(&message.page_token, bound));
        let (listing, window, size, after) =
            v.finish_with(|| Some((listing?, window?, size?, after?)))?;
        let page = self
            .bookings
            .availability(
                Caller {
                    principal: &principal,
                    bearer: token.as_deref(),
                },
                &listing,
                window,
                message.available_only,
                after,
                size,
            )
            .await?;
        Ok(Response::new(pb::ListAvailabilityResponse {
            slots: page.slots.iter().map(slot_to_proto).collect(),
            next_page_token: slot_token_of(page.next, bound),
        }))
    }

    async fn create_slots(
        &self,
        request: Request<pb::CreateSlotsRequest>,
    ) -> RpcResult<pb::CreateSlotsResponse> {
        let principal = principal(&request);
        let token = bearer(&request);
        let (listing, specs, request_id) = new_slots(request.get_ref())?;
        let slots = self
            .bookings
            .create_slots(&principal, token.as_deref(), &listing, &specs, &request_id)
            .await?;
        Ok(Response::new(pb::CreateSlotsResponse {
            slots: slots.iter().map(slot_to_proto).collect(),
        }))
    }

    async fn create_booking(
        &self,
        request: Request<pb::CreateBookingRequest>,
    ) -> RpcResult<pb::Booking> {
        let principal = principal(&request);
        let token = bearer(&request);
        let new = new_booking(request.get_ref())?;
        let record = self
            .bookings
            .create(&principal, token.as_deref(), new)
            .await?;
        Ok(Response::new(booking_to_proto(&record)))
    }

    async fn get_booking(&self, request: Request<pb::GetBookingRequest>) -> RpcResult<pb::Booking> {
        let principal = principal(&request);
        let id = id(&request.get_ref().id, "id").map_err(ServiceError::from)?;
        let record = self.bookings.get(&principal, &id).await?;
        Ok(Response::new(booking_to_proto(&record)))
    }

    async fn list_bookings(
        &self,
        request: Request<pb::ListBookingsRequest>,
    ) -> RpcResult<pb::ListBookingsResponse> {
        let principal = principal(&request);
        let message = request.into_inner();
        let mut v = Violations::default();
        let size = v.keep(page_size(
            message.page_size,
            DEFAULT_BOOKING_PAGE,
            MAX_BOOKING_PAGE,
        ));
        let state = message.state.to_string();
        let bound = page_bound(&principal, &["bookings", &message.listing_id, &state]);
        let after = v.keep(booking_token(&message.page_token, bound));
        let listing = if message.listing_id.is_empty() {
            Some(None)
        } else {
            v.keep(listing_id(&message.listing_id, "listing_id"))
                .map(Some)
        };
        let status = v.keep(convert::booking_status_filter(message.state, "state"));
        let (size, after, listing, status) =
            v.finish_with(|| Some((size?, after?, listing?, status?)))?;
        let filter = BookingFilter {
            listing_id: listing,
            status,
            ..BookingFilter::default()
        };
        let records = self
            .bookings
            .list(&principal, filter, &after, size + 1)
            .await?;
        let more = records.len() > usize::try_from(size).unwrap_or(usize::MAX);
        let shown: Vec<_> = records
            .into_iter()
            .take(usize::try_from(size).unwrap_or(usize::MAX))
            .collect();
        let next_page_token = match (more, shown.last()) {
            (true, Some(last)) => welfare_runtime::page_token::seal(bound, &last.id),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListBookingsResponse {
            bookings: shown.iter().map(booking_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn confirm_booking(
        &self,
        request: Request<pb::ConfirmBookingRequest>,
    ) -> RpcResult<pb::Booking> {
        let fields = fields(request, |m| (m.id, m.etag, m.request_id, None));
        self.transition(fields, BookingAction::Confirm).await
    }

    async fn reject_booking(
        &self,
        request: Request<pb::RejectBookingRequest>,
    ) -> RpcResult<pb::Booking> {
        let fields = fields(request, |m| {
            (m.id, m.etag, m.request_id, Some((m.reason, true)))
        });
        self.transition(fields, BookingAction::Reject).await
    }

    async fn cancel_booking(
        &self,
        request: Request<pb::CancelBookingRequest>,
    ) -> RpcResult<pb::Booking> {
        let fields = fields(request, |m| {
            (m.id, m.etag, m.request_id, Some((m.reason, false)))
        });
        self.transition(fields, BookingAction::Cancel).await
    }

    async fn complete_booking(
        &self,
        request: Request<pb::CompleteBookingRequest>,
    ) -> RpcResult<pb::Booking> {
        let fields = fields(request, |m| (m.id, m.etag, m.request_id, None));
        self.transition(fields, BookingAction::Complete).await
    }

    async fn mark_no_show(
        &self,
        request: Request<pb::MarkNoShowRequest>,
    ) -> RpcResult<pb::Booking> {
        let fields = fields(request, |m| (m.id, m.etag, m.request_id, None));
        self.transition(fields, BookingAction::MarkNoShow).await
    }

    async fn cancel_slot(&self, request: Request<pb::CancelSlotRequest>) -> RpcResult<pb::Slot> {
        let principal = principal(&request);
        let message = request.into_inner();
        let mut v = Violations::default();
        let slot = v.keep(id(&message.slot_id, "slot_id"));
        let reason = v.keep(convert::text(
            &message.reason,
            "reason",
            1,
            MAX_REASON_CHARS,
        ));
        v.keep(request_id(&message.request_id));
        let (slot, reason) = v.finish_with(|| Some((slot?, reason?)))?;
        let cancelled = self
            .bookings
            .cancel_slot(&principal, &slot, &reason)
            .await?;
        Ok(Response::new(slot_to_proto(&cancelled)))
    }

    async fn reschedule_booking(
        &self,
        request: Request<pb::RescheduleBookingRequest>,
    ) -> RpcResult<pb::Booking> {
        let principal = principal(&request);
        let message = request.into_inner();
        let mut v = Violations::default();
        let slot = v.keep(id(&message.slot_id, "slot_id"));
        let step = match step(&message.id, &message.etag, &message.request_id, None) {
            Ok(step) => Some(step),
            Err(ServiceError::InvalidArgument(violations)) => {
                v.extend(violations);
                None
            }
            Err(other) => return Err(other.into()),
        };
        let (step, slot) = v.finish_with(|| Some((step?, slot?)))?;
        let record = self.bookings.reschedule(&principal, step, slot).await?;
        Ok(Response::new(booking_to_proto(&record)))
    }

    type WatchBookingsStream = EventStream;

    async fn watch_bookings(
        &self,
        request: Request<pb::WatchBookingsRequest>,
    ) -> RpcResult<Self::WatchBookingsStream> {
        let principal = principal(&request);
        let after = request.get_ref().after_sequence;
        if after < 0 {
            return Err(ServiceError::invalid("after_sequence", "must not be negative").into());
        }
        let provider = match (&principal.provider_id, principal.subject.is_some()) {
            (Some(provider), true)
                if principal.has(Role::ProviderOperator) || principal.has(Role::PartnerSystem) =>
            {
                provider.as_str().to_owned()
            }
            (_, false) => {
                return Err(ServiceError::Unauthenticated {
                    reason: "UNAUTHENTICATED",
                    message: "a bearer token is required".to_owned(),
                }
                .into());
            }
            _ => {
                return Err(ServiceError::PermissionDenied {
                    reason: "ROLE_REQUIRED",
                }
                .into());
            }
        };
        if after > 0
            && let Some(oldest) = self
                .bookings
                .store()
                .oldest_event()
                .await
                .map_err(ServiceError::from)?
            && after < oldest - 1
        {
            return Err(ServiceError::FailedPrecondition {
                reason: "EVENTS_PRUNED",
                message: format!(
                    "events after {after} up to {} were pruned (events are kept for a \
                     configured number of days): read current bookings with ListBookings, then \
                     watch after {}",
                    oldest - 1,
                    oldest - 1
                ),
                violations: Vec::new(),
            }
            .into());
        }
        let (sender, receiver) = tokio::sync::mpsc::channel(64);
        let bookings = self.bookings.clone();
        tokio::spawn(async move {
            let changes = bookings.store().changes();
            let mut last = after;
            loop {
                // Registered before reading, so a change committed in between still wakes us.
                let woken = changes.notified();
                tokio::pin!(woken);
                woken.as_mut().enable();
                // Number what has committed since (any process's changes), then read.
                if let Err(error) = bookings.store().number_events().await {
                    tracing::warn!(%error, "numbering the booking outbox failed; retrying");
                }
                let events = match bookings
                    .store()
                    .events_after(&provider, last, WATCH_BATCH)
                    .await
                {
                    Ok(events) => events,
                    Err(error) => {
                        let status = ServiceError::from(error).to_status();
                        let _ = sender.send(Err(status)).await;
                        return;
                    }
                };
                let caught_up = events.len() < usize::try_from(WATCH_BATCH).unwrap_or(usize::MAX);
                // The bookings of the whole batch in one read.
                let ids: Vec<&str> = events.iter().map(|e| e.booking_id.as_str()).collect();
                let current = match bookings.store().bookings_by_id(&ids).await {
                    Ok(current) => current,
                    Err(error) => {
                        let status = ServiceError::from(error).to_status();
                        let _ = sender.send(Err(status)).await;
                        return;
                    }
                };
                for event in events {
                    last = event.seq;
                    let booking = current.get(&event.booking_id);
                    let state = crate::store::Stage::from_code(&event.state)
                        .and_then(|stage| match stage {
                            crate::store::Stage::Live(status) => {
                                Some(convert::booking_status_to_proto(status))
                            }
                            _ => None,
                        })
                        .unwrap_or_default();
                    let message = pb::BookingEvent {
                        sequence: event.seq,
                        kind: event.kind,
                        state,
                        time: Some(convert::timestamp_to_proto(event.at)),
                        booking: booking.map(booking_to_proto),
                    };
                    if sender.send(Ok(message)).await.is_err() {
                        return;
                    }
                }
                if caught_up {
                    tokio::select! {
                        () = &mut woken => {}
                        () = tokio::time::sleep(WATCH_POLL) => {}
                        () = sender.closed() => return,
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(receiver),
        )))
    }
}
