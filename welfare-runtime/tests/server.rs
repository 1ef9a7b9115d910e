//! The runtime on a real server bound to port 0: every failure mode of the layer stack, error
//! details decoded by a client, a trace crossing a client→server hop, metrics per method and
//! status, health, reflection, and graceful shutdown.
#![allow(clippy::indexing_slicing)]

use std::time::Duration;

use serde_json::json;
use tokio::sync::oneshot;
use tonic::metadata::MetadataValue;
use tonic::service::Routes;
use tonic::{Code, Request, Response, Status};
use tonic_types::StatusExt;
use welfare_proto::booking::booking_service_client::BookingServiceClient;
use welfare_proto::booking::booking_service_server::{BookingService, BookingServiceServer};
use welfare_proto::booking::*;
use welfare_runtime::config::{RuntimeConfig, Secret};
use welfare_runtime::telemetry::TraceContextInterceptor;
use welfare_runtime::{Application, ServiceError, ServiceSet};

const SECRET: &str = "runtime-tests-hs256-secret-32-bytes-long";
const SERVICE: &str = "welfare.booking.v1.BookingService";

/// A booking service whose `GetBooking` behaves as its id says: `slow-<ms>` answers after a
/// delay, `invalid` fails validation, anything else echoes the caller's subject.
struct Fixture;

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
        if let Some(ms) = id.strip_prefix("slow-").and_then(|ms| ms.parse().ok()) {
            tokio::time::sleep(Duration::from_millis(ms)).await;
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
}

fn config() -> RuntimeConfig {
    let mut config = RuntimeConfig::default();
    config.server.listen_addr = "127.0.0.1:0".parse().expect("address");
    config.server.shutdown_grace_ms = 2_000;
    config.auth.hs256_secret = Some(Secret::new(SECRET));
    config.limits.max_message_bytes = 64 * 1024;
    config.limits.request_timeout_ms = 1_000;
    config
}

struct Running {
    port: u16,
    stop: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<Result<(), welfare_runtime::server::StartupError>>,
}

impl Running {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn client(&self) -> BookingServiceClient<tonic::transport::Channel> {
        BookingServiceClient::connect(self.url())
            .await
            .expect("connect")
    }

    async fn stop(mut self) -> Result<(), welfare_runtime::server::StartupError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.server.await.expect("server task")
    }
}

async fn start(config: RuntimeConfig) -> Running {
    let max = config.limits.max_message_bytes;
    let services = ServiceSet {
        routes: Routes::new(BookingServiceServer::new(Fixture).max_decoding_message_size(max)),
        public_methods: vec![format!("/{SERVICE}/ListAvailability")],
        service_names: vec![SERVICE.to_owned()],
    };
    let app = Application::build(&config, services).await.expect("build");
    let port = app.port();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    Running {
        port,
        stop: Some(stop),
        server,
    }
}

fn now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs(),
    )
    .expect("fits")
}

fn token_with(claims: serde_json::Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("encode")
}

fn token(subject: &str) -> String {
    token_with(
        json!({"sub": subject, "iss": "lodiwelfare", "aud": "lodiwelfare", "exp": now() + 600, "roles": ["citizen"]}),
        SECRET,
    )
}

fn authorized<T>(message: T, bearer: &str) -> Request<T> {
    let mut request = Request::new(message);
    let value = MetadataValue::try_from(format!("Bearer {bearer}")).expect("ascii");
    request.metadata_mut().insert("authorization", value);
    request
}

fn get(id: &str) -> GetBookingRequest {
    GetBookingRequest { id: id.to_owned() }
}

fn reason(status: &Status) -> String {
    status
        .get_details_error_info()
        .map(|info| info.reason)
        .unwrap_or_default()
}

#[tokio::test]
async fn an_authenticated_call_reaches_the_handler_with_its_principal() {
    let server = start(config()).await;
    let booking = server
        .client()
        .await
        .get_booking(authorized(get("b-1"), &token("mario")))
        .await
        .expect("ok")
        .into_inner();
    assert_eq!(booking.booker_id, "mario");
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn missing_malformed_expired_wrongly_signed_and_wrong_audience_tokens_are_unauthenticated() {
    let server = start(config()).await;
    let mut client = server.client().await;
    let status = client.get_booking(get("b-1")).await.expect_err("no token");
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::Unauthenticated, "TOKEN_MISSING")
    );
    let cases = [
        ("not-a-jwt".to_owned(), "TOKEN_MALFORMED"),
        (
            token_with(
                json!({"sub": "m", "iss": "lodiwelfare", "aud": "lodiwelfare", "exp": now() - 600}),
                SECRET,
            ),
            "TOKEN_EXPIRED",
        ),
        (
            token_with(
                json!({"sub": "m", "iss": "lodiwelfare", "aud": "lodiwelfare", "exp": now() + 600}),
                "some-other-secret-of-32-bytes-or-more",
            ),
            "TOKEN_BAD_SIGNATURE",
        ),
        (
            token_with(
                json!({"sub": "m", "iss": "lodiwelfare", "aud": "payroll", "exp": now() + 600}),
                SECRET,
            ),
            "TOKEN_WRONG_AUDIENCE",
        ),
    ];
    for (bad, expected) in cases {
        let status = client
            .get_booking(authorized(get("b-1"), &bad))
            .await
            .expect_err("refused");
        assert_eq!(
            (status.code(), reason(&status).as_str()),
            (Code::Unauthenticated, expected)
        );
    }
    // A public method accepts an anonymous caller, but not a bad token.
    client
        .list_availability(ListAvailabilityRequest::default())
        .await
        .expect("anonymous is fine");
    let status = client
        .list_availability(authorized(ListAvailabilityRequest::default(), "not-a-jwt"))
        .await
        .expect_err("bad");
    assert_eq!(status.code(), Code::Unauthenticated);
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn invalid_input_comes_back_with_a_decodable_bad_request() {
    let server = start(config()).await;
    let status = server
        .client()
        .await
        .get_booking(authorized(get("invalid"), &token("mario")))
        .await
        .expect_err("invalid");
    assert_eq!(status.code(), Code::InvalidArgument);
    let details = status.get_error_details();
    assert_eq!(
        details
            .error_info()
            .map(|i| (i.reason.as_str(), i.domain.as_str())),
        Some(("INVALID_ARGUMENT", "lodiwelfare.it"))
    );
    let violations = &details.bad_request().expect("bad request").field_violations;
    assert_eq!(violations[0].field, "id");
    assert_eq!(violations[0].description, "must name an existing booking");
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn an_oversized_message_is_refused() {
    let server = start(config()).await;
    let huge = "x".repeat(128 * 1024);
    let status = server
        .client()
        .await
        .get_booking(authorized(get(&huge), &token("mario")))
        .await
        .expect_err("too big");
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn a_call_past_the_time_limit_gets_deadline_exceeded() {
    let mut config = config();
    config.limits.request_timeout_ms = 100;
    let server = start(config).await;
    let status = server
        .client()
        .await
        .get_booking(authorized(get("slow-2000"), &token("mario")))
        .await
        .expect_err("slow");
    assert_eq!(status.code(), Code::DeadlineExceeded);
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn calls_beyond_the_concurrency_limit_are_shed() {
    let mut config = config();
    config.limits.max_concurrent_requests = 1;
    let server = start(config).await;
    let mut slow_client = server.client().await;
    let slow = tokio::spawn(async move {
        slow_client
            .get_booking(authorized(get("slow-500"), &token("anna")))
            .await
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let status = server
        .client()
        .await
        .get_booking(authorized(get("b-2"), &token("luca")))
        .await
        .expect_err("shed");
    assert_eq!(status.code(), Code::Unavailable);
    slow.await
        .expect("joined")
        .expect("the first call completes");
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn a_principal_over_its_rate_gets_resource_exhausted() {
    let mut config = config();
    config.limits.rate_limit_per_second = 1;
    config.limits.rate_limit_burst = 3;
    let server = start(config).await;
    let mut client = server.client().await;
    for _ in 0..3 {
        client
            .get_booking(authorized(get("b-1"), &token("anna")))
            .await
            .expect("within the burst");
    }
    let status = client
        .get_booking(authorized(get("b-1"), &token("anna")))
        .await
        .expect_err("over the rate");
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::ResourceExhausted, "RATE_LIMITED")
    );
    client
        .get_booking(authorized(get("b-1"), &token("luca")))
        .await
        .expect("another principal is unaffected");
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn the_trace_crosses_the_client_server_hop_and_calls_are_counted() {
    use opentelemetry::trace::TracerProvider as _;
    use tracing::Instrument;
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt;

    welfare_runtime::telemetry::install_propagator();
    let spans = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    let tracer_provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(spans.clone())
        .build();
    let metrics = opentelemetry_sdk::metrics::InMemoryMetricExporter::default();
    let meter_provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
        .with_reader(opentelemetry_sdk::metrics::PeriodicReader::builder(metrics.clone()).build())
        .build();
    opentelemetry::global::set_meter_provider(meter_provider.clone());
    // Only this crate's and the runtime's spans: h2 and hyper trace every frame.
    let ours = tracing_subscriber::filter::Targets::new()
        .with_target("welfare_runtime", tracing::Level::TRACE)
        .with_target("server", tracing::Level::TRACE);
    let subscriber = tracing_subscriber::registry().with(
        tracing_opentelemetry::layer()
            .with_tracer(tracer_provider.tracer("test"))
            .with_filter(ours),
    );
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = start(config()).await;
    let channel = tonic::transport::Endpoint::from_shared(server.url())
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let mut client = BookingServiceClient::with_interceptor(channel, TraceContextInterceptor);
    let caller = tracing::info_span!("caller");
    client
        .get_booking(authorized(get("b-1"), &token("mario")))
        .instrument(caller)
        .await
        .expect("ok");
    let _ = client.get_booking(get("b-1")).await; // unauthenticated: counted too
    server.stop().await.expect("clean stop");

    tracer_provider.force_flush().expect("flush spans");
    let finished = spans.get_finished_spans().expect("spans");
    let caller = finished
        .iter()
        .find(|s| s.name == "caller")
        .expect("caller span");
    let rpc = finished
        .iter()
        .find(|s| {
            s.name.ends_with("/GetBooking") && s.parent_span_id == caller.span_context.span_id()
        })
        .expect("server span whose parent is the caller's");
    assert_eq!(rpc.span_context.trace_id(), caller.span_context.trace_id());

    meter_provider.force_flush().expect("flush metrics");
    let exported = metrics.get_finished_metrics().expect("metrics");
    let mut codes = Vec::new();
    for resource in &exported {
        for scope in resource.scope_metrics() {
            for metric in scope
                .metrics()
                .filter(|m| m.name() == welfare_runtime::observe::METRIC_REQUESTS)
            {
                if let opentelemetry_sdk::metrics::data::AggregatedMetrics::U64(
                    opentelemetry_sdk::metrics::data::MetricData::Sum(sum),
                ) = metric.data()
                {
                    for point in sum.data_points() {
                        let code = point
                            .attributes()
                            .find(|kv| kv.key.as_str() == "rpc.grpc.status_code")
                            .map(|kv| kv.value.to_string());
                        codes.push(code.unwrap_or_default());
                    }
                }
            }
        }
    }
    codes.sort();
    assert_eq!(
        codes,
        ["0", "16"],
        "one OK and one UNAUTHENTICATED call of GetBooking"
    );
}

#[tokio::test]
async fn health_and_reflection_answer_without_a_token() {
    use tonic_health::pb::health_client::HealthClient;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let server = start(config()).await;
    let channel = tonic::transport::Endpoint::from_shared(server.url())
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let mut health = HealthClient::new(channel.clone());
    let answer = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: SERVICE.to_owned(),
        })
        .await
        .expect("health")
        .into_inner();
    assert_eq!(
        answer.status,
        i32::from(tonic_health::pb::health_check_response::ServingStatus::Serving)
    );

    let mut reflection = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = reflection
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection")
        .into_inner();
    let response = stream
        .message()
        .await
        .expect("message")
        .expect("one response");
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected answer")
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&SERVICE), "{names:?}");
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn an_in_flight_call_is_drained_at_shutdown() {
    let server = start(config()).await;
    let mut client = server.client().await;
    let in_flight = tokio::spawn(async move {
        client
            .get_booking(authorized(get("slow-400"), &token("anna")))
            .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let port = server.port;
    let started = std::time::Instant::now();
    server.stop().await.expect("clean stop");
    let booking = in_flight
        .await
        .expect("joined")
        .expect("the call in flight completes")
        .into_inner();
    assert_eq!(booking.booker_id, "anna");
    assert!(
        started.elapsed() < Duration::from_millis(1_900),
        "stopped once drained, not at the end of the grace"
    );
    let refused = BookingServiceClient::connect(format!("http://127.0.0.1:{port}")).await;
    assert!(refused.is_err(), "no longer accepting connections");
}

#[tokio::test]
async fn calls_still_running_after_the_grace_period_are_dropped() {
    let mut config = config();
    config.server.shutdown_grace_ms = 100;
    config.limits.request_timeout_ms = 10_000;
    let server = start(config).await;
    let mut client = server.client().await;
    let stuck = tokio::spawn(async move {
        client
            .get_booking(authorized(get("slow-5000"), &token("anna")))
            .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    server
        .stop()
        .await
        .expect("stops at the end of the grace period");
    assert!(started.elapsed() < Duration::from_millis(2_000));
    assert!(
        stuck.await.expect("joined").is_err(),
        "the stuck call is cut off"
    );
}
