//! The fixture shared by the runtime's server tests: a booking service on a real server bound
//! to port 0, tokens, and request helpers.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use tokio::sync::{oneshot, watch};
use tonic::service::Routes;
use tonic::{Request, Response, Status};
use tonic_types::StatusExt;
use welfare_proto::booking::booking_service_client::BookingServiceClient;
use welfare_proto::booking::booking_service_server::{BookingService, BookingServiceServer};
use welfare_proto::booking::*;
use welfare_runtime::config::{RuntimeConfig, Secret};
use welfare_runtime::testing::{Tenant, signed_token, with_bearer};
use welfare_runtime::{Application, ServiceError, ServiceSet};

pub const SECRET: &str = "runtime-tests-hs256-secret-32-bytes-long";
pub const SERVICE: &str = "welfare.booking.v1.BookingService";

/// A booking service whose `GetBooking` behaves as its id says: `held-<key>` answers once the
/// test releases it (see [`hold`]), `invalid` fails validation, anything else echoes the
/// caller's subject.
pub struct Fixture;

type HeldSignals = (watch::Sender<bool>, watch::Receiver<bool>);

/// Calls the tests hold, by key: the fixture says when one has entered, and waits for release.
static HELD: LazyLock<Mutex<HashMap<String, HeldSignals>>> = LazyLock::new(Mutex::default);

/// A call held inside the fixture: the test knows when it is in (and so holds whatever the
/// server gave it: a concurrency permit, a place among the calls to drain) and lets it go.
pub struct Held {
    entered: watch::Receiver<bool>,
    release: watch::Sender<bool>,
}

/// Prepares `held-<key>`: a `GetBooking` of that id enters, then waits until released.
pub fn hold(key: &str) -> Held {
    let (entered_tx, entered_rx) = watch::channel(false);
    let (release_tx, release_rx) = watch::channel(false);
    HELD.lock()
        .expect("held calls")
        .insert(key.to_owned(), (entered_tx, release_rx));
    Held {
        entered: entered_rx,
        release: release_tx,
    }
}

impl Held {
    /// Resolves once the call is inside the fixture.
    pub async fn entered(&mut self) {
        self.entered
            .wait_for(|entered| *entered)
            .await
            .expect("the fixture is alive");
    }

    /// Lets the call answer.
    pub fn release(&self) {
        self.release.send_replace(true);
    }
}

async fn held(key: &str) -> Result<(), Status> {
    let signals: Option<HeldSignals> = HELD
        .lock()
        .expect("held calls")
        .get(key)
        .map(|(entered, release)| (entered.clone(), release.clone()));
    let (entered, mut release) =
        signals.ok_or_else(|| Status::failed_precondition(format!("no hold named {key}")))?;
    entered.send_replace(true);
    // A test that never releases leaves the call to the server's limits.
    let _ = release.wait_for(|released| *released).await;
    Ok(())
}

#[tonic::async_trait]
impl BookingService for Fixture {
    async fn list_availability(
        &self,
        _: Request<ListAvailabilityRequest>,
    ) -> Result<Response<ListAvailabilityResponse>, Status> {
        Ok(Response::new(ListAvailabilityResponse::default()))
    }
    async fn create_slots(
        &self,
        _: Request<CreateSlotsRequest>,
    ) -> Result<Response<CreateSlotsResponse>, Status> {
        Err(Status::unimplemented("not part of the fixture"))
    }
    async fn create_booking(
        &self,
        _: Request<CreateBookingRequest>,
    ) -> Result<Response<Booking>, Status> {
        Err(Status::unimplemented("not part of the fixture"))
    }
    async fn get_booking(
        &self,
        request: Request<GetBookingRequest>,
    ) -> Result<Response<Booking>, Status> {
        let principal = welfare_runtime::auth::principal(&request);
        let id = request.into_inner().id;
        if let Some(key) = id.strip_prefix("held-") {
            held(key).await?;
        }
        if id == "invalid" {
            return Err(ServiceError::invalid("id", "must name an existing booking").into());
        }
        let booker_id = principal.subject.map(|s| s.to_string()).unwrap_or_default();
        Ok(Response::new(Booking {
            id: id.chars().take(40).collect(),
            booker_id,
            ..Default::default()
        }))
    }
    async fn list_bookings(
        &self,
        _: Request<ListBookingsRequest>,
    ) -> Result<Response<ListBookingsResponse>, Status> {
        Err(Status::unimplemented("not part of the fixture"))
    }
    async fn confirm_booking(
        &self,
        _: Request<ConfirmBookingRequest>,
    ) -> Result<Response<Booking>, Status> {
        Err(Status::unimplemented("not part of the fixture"))
    }
    async fn reject_booking(
        &self,
        _: Request<RejectBookingRequest>,
    ) -> Result<Response<Booking>, Status> {
        Err(Status::unimplemented("not part of the fixture"))
    }
    async fn cancel_booking(
        &self,
        _: Request<CancelBookingRequest>,
    ) -> Result<Response<Booking>, Status> {
        Err(Status::unimplemented("not part of the fixture"))
    }
    async fn complete_booking(
        &self,
        _: Request<CompleteBookingRequest>,
    ) -> Result<Response<Booking>, Status> {
        Err(Status::unimplemented("not part of the fixture"))
    }
    async fn mark_no_show(
        &self,
        _: Request<MarkNoShowRequest>,
    ) -> Result<Response<Booking>, Status> {
        Err(Status::unimplemented("not part of the fixture"))
    }
    async fn cancel_slot(&self, _: Request<CancelSlotRequest>) -> Result<Response<Slot>, Status> {
        Err(Status::unimplemented("not part of the fixture"))
    }
    async fn reschedule_booking(
        &self,
        _: Request<RescheduleBookingRequest>,
    ) -> Result<Response<Booking>, Status> {
        Err(Status::unimplemented("not part of the fixture"))
    }
    type WatchBookingsStream = tokio_stream::Iter<std::vec::IntoIter<Result<BookingEvent, Status>>>;
    /// One event, then the stream breaks: a status that only the trailers carry.
    async fn watch_bookings(
        &self,
        _: Request<WatchBookingsRequest>,
    ) -> Result<Response<Self::WatchBookingsStream>, Status> {
        Ok(Response::new(tokio_stream::iter(vec![
            Ok(BookingEvent::default()),
            Err(Status::data_loss("the fixture's stream breaks")),
        ])))
    }
}

pub fn config() -> RuntimeConfig {
    let mut config = RuntimeConfig::default();
    config.server.listen_addr = "127.0.0.1:0".parse().expect("address");
    config.server.shutdown_grace_ms = 2_000;
    config.auth.hs256_secret = Some(Secret::new(SECRET));
    config.limits.max_message_bytes = 64 * 1024;
    config.limits.request_timeout_ms = 1_000;
    config
}

pub struct Running {
    pub port: u16,
    /// The health-only listener's port (`server.health_addr`).
    pub health_port: Option<u16>,
    stop: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<Result<(), welfare_runtime::server::StartupError>>,
}

impl Running {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub async fn client(&self) -> BookingServiceClient<tonic::transport::Channel> {
        BookingServiceClient::connect(self.url())
            .await
            .expect("connect")
    }

    pub async fn stop(mut self) -> Result<(), welfare_runtime::server::StartupError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.server.await.expect("server task")
    }
}

pub async fn start(config: RuntimeConfig) -> Running {
    start_gated(config, None).await
}

/// The fixture served, reported NOT_SERVING until `ready` (when given) turns true.
pub async fn start_gated(
    config: RuntimeConfig,
    ready: Option<tokio::sync::watch::Receiver<bool>>,
) -> Running {
    let mut services = fixture(&config);
    if let Some(ready) = ready {
        services = services.ready_when(SERVICE, ready);
    }
    start_services(config, services).await
}

/// The fixture's services, `ListAvailability` open to anonymous callers.
pub fn fixture(config: &RuntimeConfig) -> ServiceSet {
    let max = config.limits.max_message_bytes;
    ServiceSet::new(
        Routes::new(BookingServiceServer::new(Fixture).max_decoding_message_size(max)),
        vec![format!("/{SERVICE}/ListAvailability")],
        vec![SERVICE.to_owned()],
    )
}

/// `services` served under `config`.
pub async fn start_services(config: RuntimeConfig, services: ServiceSet) -> Running {
    let app = Application::build(&config, services).await.expect("build");
    let port = app.port();
    let health_port = app.health_port();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    Running {
        port,
        health_port,
        stop: Some(stop),
        server,
    }
}

pub fn now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs(),
    )
    .expect("fits")
}

/// A token of any claims, valid or not: the suites try malformed ones too.
pub fn token_with(claims: serde_json::Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("encode")
}

pub fn token(subject: &str) -> String {
    signed_token(SECRET, subject, &["citizen"], Tenant::None, now() + 600)
}

pub fn authorized<T>(message: T, bearer: &str) -> Request<T> {
    with_bearer(message, bearer)
}

pub fn get(id: &str) -> GetBookingRequest {
    GetBookingRequest { id: id.to_owned() }
}

pub fn reason(status: &Status) -> String {
    status
        .get_details_error_info()
        .map(|info| info.reason)
        .unwrap_or_default()
}
