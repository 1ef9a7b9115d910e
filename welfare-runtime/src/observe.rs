//! The outermost layer: a span per call, continuing the caller's W3C trace context; the RPC
//! metric of the OpenTelemetry semantic conventions; and an access log line per call with its
//! trace id. Outermost so that refusals by the inner layers (auth, limits) are traced, counted
//! and logged too.
//!
//! The metric is `rpc.server.call.duration`, in seconds, with `rpc.system.name` (`grpc`),
//! `rpc.method` (`welfare.catalog.v1.CatalogService/SearchListings`: a method this server
//! serves, else `_OTHER`, so a caller inventing paths adds no series),
//! `rpc.response.status_code` (`OK`, `NOT_FOUND`…) and, for the codes that say the server
//! failed, `error.type`. A call ends when its response body does: the status is read from the
//! trailers (where gRPC puts it after a stream's messages, and for a unary answer), or from the
//! headers of a trailers-only answer; a body dropped before its end is `CANCELLED`. The
//! duration runs from the request to that end, streaming included.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use opentelemetry::KeyValue;
use opentelemetry::metrics::Histogram;
use opentelemetry::trace::TraceContextExt;
use pin_project_lite::pin_project;
use tokio::time::Instant;
use tonic::Code;
use tower::{Layer, Service};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::telemetry::extract_context;

/// The per-call duration histogram, in seconds (OpenTelemetry semantic conventions for RPC).
pub const METRIC_CALL_DURATION: &str = "rpc.server.call.duration";
/// The method recorded for a path this server does not serve.
pub const OTHER_METHOD: &str = "_OTHER";
/// The target of the access log lines (filter them with `access=warn`).
pub const ACCESS_LOG: &str = "access";
/// The histogram's bucket boundaries, in seconds: the conventions' advice, with finer buckets
/// under 5 ms, where most calls of this service end.
pub const DURATION_BUCKETS: [f64; 17] = [
    0.000_5, 0.001, 0.002_5, 0.005, 0.007_5, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0,
    2.5, 5.0, 10.0,
];

/// The status code as the conventions spell it.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Whether a code says the server failed (the conventions' errors for a gRPC server), rather
/// than the caller.
pub fn is_server_error(code: Code) -> bool {
    matches!(
        code,
        Code::Unknown
            | Code::DeadlineExceeded
            | Code::Unimplemented
            | Code::Internal
            | Code::Unavailable
            | Code::DataLoss
    )
}

#[derive(Debug, Clone)]
struct Instruments {
    duration: Histogram<f64>,
}

/// Adds tracing, the RPC metric and access logs to a service stack.
#[derive(Debug, Clone)]
pub struct ObserveLayer {
    instruments: Instruments,
    /// `package.Service/Method` of every method served.
    methods: Arc<HashSet<String>>,
}

impl ObserveLayer {
    /// Records into the global meter provider's `welfare-runtime` meter; `methods` are the
    /// methods served (`package.Service/Method`), every other path is [`OTHER_METHOD`].
    pub fn new(methods: impl IntoIterator<Item = String>) -> ObserveLayer {
        let meter = opentelemetry::global::meter("welfare-runtime");
        ObserveLayer {
            instruments: Instruments {
                duration: meter
                    .f64_histogram(METRIC_CALL_DURATION)
                    .with_unit("s")
                    .with_description("Measures the duration of inbound remote procedure calls")
                    .with_boundaries(DURATION_BUCKETS.to_vec())
                    .build(),
            },
            methods: Arc::new(methods.into_iter().collect()),
        }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;
    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            instruments: self.instruments.clone(),
            methods: self.methods.clone(),
        }
    }
}

/// The observed service: see [`ObserveLayer`].
#[derive(Debug, Clone)]
pub struct Observe<S> {
    inner: S,
    instruments: Instruments,
    methods: Arc<HashSet<String>>,
}

impl<S, B, R> Service<http::Request<B>> for Observe<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
{
    type Response = http::Response<ObservedBody<R>>;
    type Error = S::Error;
    type Future = ObserveFuture<tracing::instrument::Instrumented<S::Future>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let path = request.uri().path();
        let served = path.strip_prefix('/').filter(|m| self.methods.contains(*m));
        let method: Arc<str> = Arc::from(served.unwrap_or(OTHER_METHOD));
        let span = tracing::info_span!(
            "rpc",
            otel.name = %method,
            otel.kind = "server",
            rpc.system.name = "grpc",
            rpc.method = %method,
            rpc.method_original = tracing::field::Empty,
            rpc.response.status_code = tracing::field::Empty,
            error.type = tracing::field::Empty,
        );
        if served.is_none() {
            span.record("rpc.method_original", path);
        }
        let parent = extract_context(request.headers());
        let caller_trace = parent.span().span_context().trace_id();
        if let Err(error) = span.set_parent(parent) {
            tracing::debug!(?error, "could not continue the caller's trace");
        }
        let future = self.inner.call(request).instrument(span.clone());
        ObserveFuture {
            inner: future,
            call: Some(Call {
                span,
                method,
                caller_trace,
                started: Instant::now(),
                instruments: self.instruments.clone(),
            }),
        }
    }
}

/// A call in flight: what its end records.
#[derive(Debug)]
struct Call {
    span: tracing::Span,
    method: Arc<str>,
    caller_trace: opentelemetry::trace::TraceId,
    started: Instant,
    instruments: Instruments,
}

impl Call {
    /// Records the call's end with `code`: span fields, the metric, the access log line.
    fn end(self, code: Code) {
        let name = code_name(code);
        let failed = is_server_error(code);
        self.span.record("rpc.response.status_code", name);
        if failed {
            self.span.record("error.type", name);
        }
        let mut attributes = vec![
            KeyValue::new("rpc.system.name", "grpc"),
            KeyValue::new("rpc.method", self.method.to_string()),
            KeyValue::new("rpc.response.status_code", name),
        ];
        if failed {
            attributes.push(KeyValue::new("error.type", name));
        }
        let elapsed = self.started.elapsed();
        self.instruments
            .duration
            .record(elapsed.as_secs_f64(), &attributes);
        let own = self.span.context().span().span_context().trace_id();
        let trace_id = if own == opentelemetry::trace::TraceId::INVALID {
            self.caller_trace
        } else {
            own
        };
        let _inside = self.span.enter();
        tracing::info!(
            target: ACCESS_LOG,
            method = %self.method,
            status = name,
            duration_ms = elapsed.as_secs_f64() * 1_000.0,
            trace_id = %trace_id,
            "call"
        );
    }
}

pin_project! {
    /// Waits for the response's headers: a trailers-only answer ends the call there.
    #[derive(Debug)]
    pub struct ObserveFuture<F> {
        #[pin]
        inner: F,
        call: Option<Call>,
    }
}

impl<F, R, E> Future for ObserveFuture<F>
where
    F: Future<Output = Result<http::Response<R>, E>>,
{
    type Output = Result<http::Response<ObservedBody<R>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = match this.inner.poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(result) => result,
        };
        let call = this.call.take();
        Poll::Ready(match result {
            Ok(response) => {
                let ended = tonic::Status::from_header_map(response.headers()).map(|s| s.code());
                let pending = match (ended, call) {
                    (Some(code), Some(call)) => {
                        call.end(code);
                        Pending(None)
                    }
                    (None, call) => Pending(call),
                    (Some(_), None) => Pending(None),
                };
                Ok(response.map(|inner| ObservedBody { inner, pending }))
            }
            Err(error) => {
                if let Some(call) = call {
                    call.end(Code::Internal);
                }
                Err(error)
            }
        })
    }
}

/// A call whose status has not been seen yet: dropped unseen, it was cancelled.
#[derive(Debug)]
struct Pending(Option<Call>);

impl Pending {
    fn end(&mut self, code: Code) {
        if let Some(call) = self.0.take() {
            call.end(code);
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.end(Code::Cancelled);
    }
}

pin_project! {
    /// The response body, ending the call at its trailers (or its end, or its drop).
    #[derive(Debug)]
    pub struct ObservedBody<B> {
        #[pin]
        inner: B,
        pending: Pending,
    }
}

impl<B: Body> Body for ObservedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    let code = tonic::Status::from_header_map(trailers)
                        .map_or(Code::Unknown, |s| s.code());
                    this.pending.end(code);
                }
            }
            Poll::Ready(Some(Err(_))) => this.pending.end(Code::Internal),
            // A gRPC answer always ends with its status: ending without one is unknown.
            Poll::Ready(None) => this.pending.end(Code::Unknown),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_spelled_as_the_conventions_spell_them() {
        assert_eq!(code_name(Code::Ok), "OK");
        assert_eq!(code_name(Code::NotFound), "NOT_FOUND");
        assert_eq!(code_name(Code::ResourceExhausted), "RESOURCE_EXHAUSTED");
        assert!(is_server_error(Code::Internal));
        assert!(is_server_error(Code::Unavailable));
        assert!(!is_server_error(Code::InvalidArgument));
        assert!(!is_server_error(Code::PermissionDenied));
        assert!(!is_server_error(Code::Ok));
    }
}
