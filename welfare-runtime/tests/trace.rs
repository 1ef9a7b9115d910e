//! A trace crossing a client→server hop, and the RPC metric per method and status (a stream's
//! from its trailers, an unknown path as `_OTHER`). In a test
//! binary of its own: it installs a thread-local subscriber and a global meter provider,
//! which must not meet other tests' callsites in the same process.

mod common;

use common::*;
use welfare_proto::booking::booking_service_client::BookingServiceClient;
use welfare_runtime::telemetry::TraceContextInterceptor;

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
        .with_target("trace", tracing::Level::TRACE);
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
    // A stream that fails after its first message: its status is in the trailers.
    let mut events = client
        .watch_bookings(authorized(
            welfare_proto::booking::WatchBookingsRequest::default(),
            &token("mario"),
        ))
        .await
        .expect("stream")
        .into_inner();
    assert!(events.message().await.expect("first event").is_some());
    let broken = events.message().await.expect_err("the stream breaks");
    assert_eq!(broken.code(), tonic::Code::DataLoss);
    // A path nobody serves: one more call, no new method label.
    let mut raw = tonic::client::Grpc::new(
        tonic::transport::Endpoint::from_shared(server.url())
            .expect("url")
            .connect()
            .await
            .expect("connect"),
    );
    raw.ready().await.expect("ready");
    let unknown: Result<tonic::Response<()>, tonic::Status> = raw
        .unary(
            authorized((), &token("mario")),
            http::uri::PathAndQuery::from_static("/invented.Service/Anything"),
            tonic_prost::ProstCodec::<(), ()>::default(),
        )
        .await;
    assert!(unknown.is_err());
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
    let mut calls = Vec::new();
    for resource in &exported {
        for scope in resource.scope_metrics() {
            for metric in scope
                .metrics()
                .filter(|m| m.name() == welfare_runtime::observe::METRIC_CALL_DURATION)
            {
                assert_eq!(metric.unit(), "s");
                if let opentelemetry_sdk::metrics::data::AggregatedMetrics::F64(
                    opentelemetry_sdk::metrics::data::MetricData::Histogram(histogram),
                ) = metric.data()
                {
                    for point in histogram.data_points() {
                        let attribute = |key: &str| {
                            point
                                .attributes()
                                .find(|kv| kv.key.as_str() == key)
                                .map(|kv| kv.value.to_string())
                                .unwrap_or_default()
                        };
                        calls.push((
                            attribute("rpc.method"),
                            attribute("rpc.response.status_code"),
                            attribute("error.type"),
                            attribute("rpc.system.name"),
                            point.count(),
                        ));
                    }
                }
            }
        }
    }
    calls.sort();
    let call = |method: &str, code: &str, error: &str| {
        (
            method.to_owned(),
            code.to_owned(),
            error.to_owned(),
            "grpc".to_owned(),
            1,
        )
    };
    assert_eq!(
        calls,
        [
            call("_OTHER", "UNIMPLEMENTED", "UNIMPLEMENTED"),
            call("welfare.booking.v1.BookingService/GetBooking", "OK", ""),
            call(
                "welfare.booking.v1.BookingService/GetBooking",
                "UNAUTHENTICATED",
                ""
            ),
            call(
                "welfare.booking.v1.BookingService/WatchBookings",
                "DATA_LOSS",
                "DATA_LOSS"
            ),
        ],
        "one OK and one UNAUTHENTICATED GetBooking, a stream broken after a message, a path \
         nobody serves"
    );
}
