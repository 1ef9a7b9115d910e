//! The outermost layer: a span per call, continuing the caller's W3C trace context, and RPC
//! metrics per method and status code. Outermost so that refusals by the inner layers (auth,
//! limits) are traced and counted too.
//!
//! The status code is read from the response headers: that is where gRPC puts it for errors
//! and trailers-only answers. A streaming call that fails after its first message reports its
//! status in trailers, which this layer does not read; it is counted as OK.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram};
use pin_project_lite::pin_project;
use tokio::time::Instant;
use tower::{Layer, Service};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::telemetry::extract_context;

/// Name of the per-call counter.
pub const METRIC_REQUESTS: &str = "rpc.server.requests";
/// Name of the per-call duration histogram, in milliseconds.
pub const METRIC_DURATION: &str = "rpc.server.duration";

#[derive(Debug, Clone)]
struct Instruments {
    requests: Counter<u64>,
    duration_ms: Histogram<f64>,
}

/// Adds tracing and RPC metrics to a service stack.
#[derive(Debug, Clone)]
pub struct ObserveLayer {
    instruments: Instruments,
}

impl ObserveLayer {
    /// Records into the global meter provider's `welfare-runtime` meter.
    pub fn new() -> ObserveLayer {
        let meter = opentelemetry::global::meter("welfare-runtime");
        ObserveLayer {
            instruments: Instruments {
                requests: meter
                    .u64_counter(METRIC_REQUESTS)
                    .with_description("gRPC calls served, by method and status code")
                    .build(),
                duration_ms: meter
                    .f64_histogram(METRIC_DURATION)
                    .with_unit("ms")
                    .with_description("gRPC call duration, by method and status code")
                    .build(),
            },
        }
    }
}

impl Default for ObserveLayer {
    fn default() -> ObserveLayer {
        ObserveLayer::new()
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;
    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            instruments: self.instruments.clone(),
        }
    }
}

/// The observed service: see [`ObserveLayer`].
#[derive(Debug, Clone)]
pub struct Observe<S> {
    inner: S,
    instruments: Instruments,
}

impl<S, B, R> Service<http::Request<B>> for Observe<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = ObserveFuture<tracing::instrument::Instrumented<S::Future>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = request.uri().path().to_owned();
        let span = tracing::info_span!(
            "rpc",
            otel.name = %method,
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.method = %method,
            rpc.grpc.status_code = tracing::field::Empty,
        );
        if let Err(error) = span.set_parent(extract_context(request.headers())) {
            tracing::debug!(?error, "could not continue the caller's trace");
        }
        let future = self.inner.call(request).instrument(span.clone());
        ObserveFuture {
            inner: future,
            span,
            method,
            started: Instant::now(),
            instruments: self.instruments.clone(),
        }
    }
}

pin_project! {
    /// Records the call's outcome when the inner future completes.
    #[derive(Debug)]
    pub struct ObserveFuture<F> {
        #[pin]
        inner: F,
        span: tracing::Span,
        method: String,
        started: Instant,
        instruments: Instruments,
    }
}

impl<F, R, E> Future for ObserveFuture<F>
where
    F: Future<Output = Result<http::Response<R>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let result = match this.inner.poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(result) => result,
        };
        let code = match &result {
            Ok(response) => tonic::Status::from_header_map(response.headers())
                .map_or(tonic::Code::Ok, |s| s.code()),
            Err(_) => tonic::Code::Internal,
        };
        let code_number = i64::from(i32::from(code));
        this.span.record("rpc.grpc.status_code", code_number);
        let attributes = [
            KeyValue::new("rpc.method", this.method.clone()),
            KeyValue::new("rpc.grpc.status_code", code_number),
        ];
        this.instruments.requests.add(1, &attributes);
        this.instruments
            .duration_ms
            .record(this.started.elapsed().as_secs_f64() * 1_000.0, &attributes);
        Poll::Ready(result)
    }
}
