//! A trace crossing a client→server hop, and RPC metrics per method and status. In a test
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
