//! The runtime on a real server bound to port 0: every failure mode of the layer stack, error
//! details decoded by a client, health, reflection, and graceful shutdown. Tracing and metrics
//! are in `trace.rs`.
#![allow(clippy::indexing_slicing)]

mod common;

use common::*;
use serde_json::json;
use tonic::Code;
use tonic_types::StatusExt;
use welfare_proto::booking::booking_service_client::BookingServiceClient;
use welfare_proto::booking::*;

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
    // Held and never released: only the time limit ends it.
    let _held = hold("past-the-limit");
    let status = server
        .client()
        .await
        .get_booking(authorized(get("held-past-the-limit"), &token("mario")))
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
    let mut held = hold("the-only-permit");
    let slow = tokio::spawn(async move {
        slow_client
            .get_booking(authorized(get("held-the-only-permit"), &token("anna")))
            .await
    });
    held.entered().await;
    let status = server
        .client()
        .await
        .get_booking(authorized(get("b-2"), &token("luca")))
        .await
        .expect_err("shed");
    assert_eq!(status.code(), Code::Unavailable);
    held.release();
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

/// Orchestrators probe health while the server is at its limits: neither the concurrency cap
/// nor the rate limit refuses a health check or a reflection call.
#[tokio::test]
async fn health_and_reflection_are_never_refused_by_the_limits() {
    use tonic_health::pb::health_client::HealthClient;
    let mut config = config();
    config.limits.max_concurrent_requests = 1;
    config.limits.rate_limit_per_second = 1;
    config.limits.rate_limit_burst = 1;
    let server = start(config).await;
    let mut slow_client = server.client().await;
    let mut held = hold("beside-health");
    let slow = tokio::spawn(async move {
        slow_client
            .get_booking(authorized(get("held-beside-health"), &token("anna")))
            .await
    });
    held.entered().await;
    let shed = server
        .client()
        .await
        .get_booking(authorized(get("b-2"), &token("luca")))
        .await
        .expect_err("at the cap");
    assert_eq!(shed.code(), Code::Unavailable);
    let channel = tonic::transport::Endpoint::from_shared(server.url())
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let mut health = HealthClient::new(channel);
    // Far past the anonymous caller's rate, and beside the call holding the only permit.
    for _ in 0..50 {
        health
            .check(tonic_health::pb::HealthCheckRequest {
                service: SERVICE.to_owned(),
            })
            .await
            .expect("a health check is always answered");
    }
    held.release();
    slow.await
        .expect("joined")
        .expect("the slow call completes");
    server.stop().await.expect("clean stop");
}

/// 300 wrongly signed tokens in a burst from one client: past its failures burst the client
/// is refused before any token is checked, even with a valid one, while another client behind
/// the same trusted proxy is unaffected; a caller not behind a trusted proxy cannot pick the
/// address it is counted under.
#[tokio::test]
async fn failed_authentications_are_limited_per_client_address() {
    let mut config = config();
    config.limits.auth_failures_per_second = 1;
    config.limits.auth_failures_burst = 10;
    config.limits.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")];
    let server = start(config).await;
    let mut client = server.client().await;
    let forwarded = |request: &mut tonic::Request<_>, client: &str| {
        request
            .metadata_mut()
            .insert("x-forwarded-for", client.parse().expect("metadata"));
    };
    let forged = token_with(
        json!({"sub": "m", "iss": "lodiwelfare", "aud": "lodiwelfare", "exp": now() + 600}),
        "some-other-secret-of-32-bytes-or-more",
    );
    let (mut unauthenticated, mut limited) = (0, 0);
    for _ in 0..300 {
        let mut request = authorized(get("b-1"), &forged);
        forwarded(&mut request, "198.51.100.1");
        let status = client.get_booking(request).await.expect_err("forged");
        match (status.code(), reason(&status).as_str()) {
            (Code::Unauthenticated, "TOKEN_BAD_SIGNATURE") => unauthenticated += 1,
            (Code::ResourceExhausted, "AUTH_FAILURES_LIMITED") => limited += 1,
            other => panic!("{other:?}"),
        }
    }
    assert!(
        (10..=12).contains(&unauthenticated),
        "{unauthenticated} checked"
    );
    assert_eq!(unauthenticated + limited, 300);
    let mut valid = authorized(get("b-1"), &token("anna"));
    forwarded(&mut valid, "198.51.100.1");
    let status = client.get_booking(valid).await.expect_err("still limited");
    assert_eq!(reason(&status), "AUTH_FAILURES_LIMITED");
    let mut other = authorized(get("b-1"), &token("luca"));
    forwarded(&mut other, "198.51.100.2");
    client
        .get_booking(other)
        .await
        .expect("another client is unaffected");
    server.stop().await.expect("clean stop");
}

/// A service that is not ready yet (its search index still being built) is NOT_SERVING, and
/// the server as a whole with it, until it says it is ready; then SERVING.
#[tokio::test]
async fn health_says_serving_only_once_a_service_is_ready() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;

    let (ready, gate) = tokio::sync::watch::channel(false);
    let server = common::start_gated(config(), Some(gate)).await;
    let channel = tonic::transport::Endpoint::from_shared(server.url())
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let health = HealthClient::new(channel);
    let status = |service: &str| {
        let service = service.to_owned();
        let mut health = health.clone();
        async move {
            health
                .check(tonic_health::pb::HealthCheckRequest { service })
                .await
                .expect("health")
                .into_inner()
                .status
        }
    };
    // The server answers at once, but says it is not ready.
    assert_eq!(status(SERVICE).await, i32::from(ServingStatus::NotServing));
    assert_eq!(status("").await, i32::from(ServingStatus::NotServing));
    // Watched as an orchestrator watches: each status as it changes.
    let watch = |service: &str| {
        let service = service.to_owned();
        let mut health = health.clone();
        async move {
            health
                .watch(tonic_health::pb::HealthCheckRequest { service })
                .await
                .expect("watch")
                .into_inner()
        }
    };
    let (mut this, mut whole) = (watch(SERVICE).await, watch("").await);
    for stream in [&mut this, &mut whole] {
        let first = stream.message().await.expect("status").expect("one");
        assert_eq!(first.status, i32::from(ServingStatus::NotServing));
    }
    ready.send(true).expect("gate");
    for stream in [&mut this, &mut whole] {
        let next = stream.message().await.expect("status").expect("a change");
        assert_eq!(next.status, i32::from(ServingStatus::Serving));
    }
    server.stop().await.expect("clean stop");
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
    let mut names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            SERVICE
        ],
        "what this server serves, not the whole contract"
    );

    // v1alpha too: grpcurl 1.8 and many tools ask for it.
    {
        use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
        use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;
        let channel = tonic::transport::Endpoint::from_shared(server.url())
            .expect("url")
            .connect()
            .await
            .expect("connect");
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut stream = ServerReflectionClient::new(channel)
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .expect("v1alpha reflection")
            .into_inner();
        let response = stream
            .message()
            .await
            .expect("message")
            .expect("one response");
        let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
            panic!("unexpected answer")
        };
        assert!(list.service.iter().any(|s| s.name == SERVICE));
    }
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn an_in_flight_call_is_drained_at_shutdown() {
    let mut config = config();
    // A grace far longer than the test: the stop can only end because the call did.
    config.server.shutdown_grace_ms = 600_000;
    let server = start(config).await;
    let mut client = server.client().await;
    let mut held = hold("in-flight");
    let in_flight = tokio::spawn(async move {
        client
            .get_booking(authorized(get("held-in-flight"), &token("anna")))
            .await
    });
    held.entered().await;
    let port = server.port;
    let stopping = tokio::spawn(server.stop());
    // Draining: new connections are refused while the held call still runs.
    while BookingServiceClient::connect(format!("http://127.0.0.1:{port}"))
        .await
        .is_ok()
    {
        tokio::task::yield_now().await;
    }
    assert!(!stopping.is_finished(), "stopped under a call in flight");
    held.release();
    let booking = in_flight
        .await
        .expect("joined")
        .expect("the call in flight completes")
        .into_inner();
    assert_eq!(booking.booker_id, "anna");
    stopping
        .await
        .expect("joined")
        .expect("stopped once drained, long before the grace ends");
}

#[tokio::test]
async fn calls_still_running_after_the_grace_period_are_dropped() {
    let mut config = config();
    config.server.shutdown_grace_ms = 100;
    config.limits.request_timeout_ms = 10_000;
    let server = start(config).await;
    let mut client = server.client().await;
    // Held and never released: only the end of the grace period stops it.
    let mut held = hold("stuck");
    let stuck = tokio::spawn(async move {
        client
            .get_booking(authorized(get("held-stuck"), &token("anna")))
            .await
    });
    held.entered().await;
    server
        .stop()
        .await
        .expect("stops at the end of the grace period");
    assert!(
        stuck.await.expect("joined").is_err(),
        "the stuck call is cut off"
    );
}
