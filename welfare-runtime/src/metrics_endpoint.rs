//! The Prometheus scrape endpoint: `GET /metrics` answers the process's OpenTelemetry metrics
//! in Prometheus's text format, over HTTP/1.1 on an address of its own
//! (`telemetry.metrics_addr`; gRPC's port speaks HTTP/2 only, Prometheus scrapes HTTP/1.1).
//!
//! Prometheus reads the metrics through `opentelemetry-prometheus`, a reader of the same meter
//! provider that exports OTLP when an endpoint is configured, rather than through an
//! OpenTelemetry collector alone: an Ambito on one machine or in Kubernetes scrapes the
//! processes directly with nothing else to run, and the numbers Prometheus sees are the
//! process's own, not a collector's re-aggregation. A collector still receives OTLP (traces,
//! and metrics for other back ends) when configured.

use std::convert::Infallible;
use std::net::SocketAddr;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use prometheus::{Encoder, TextEncoder};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The scrape path.
pub const METRICS_PATH: &str = "/metrics";

/// A running scrape endpoint; stops when dropped.
#[derive(Debug)]
pub struct MetricsEndpoint {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl MetricsEndpoint {
    /// Binds `addr` (port 0 picks one) and serves `registry` there.
    pub async fn serve(
        addr: SocketAddr,
        registry: prometheus::Registry,
    ) -> Result<MetricsEndpoint, std::io::Error> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            loop {
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(error) => {
                        tracing::warn!(%error, "metrics endpoint: accept failed");
                        continue;
                    }
                };
                let registry = registry.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let answer = answer(&request, &registry);
                        async move { Ok::<_, Infallible>(answer) }
                    });
                    if let Err(error) = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                    {
                        tracing::debug!(%error, "metrics endpoint: connection ended");
                    }
                });
            }
        });
        tracing::info!(%addr, path = METRICS_PATH, "metrics endpoint listening");
        Ok(MetricsEndpoint { addr, task })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsEndpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `GET /metrics` is the registry in text format; any other request is refused, naming why.
fn answer<B>(
    request: &hyper::Request<B>,
    registry: &prometheus::Registry,
) -> hyper::Response<Full<Bytes>> {
    let plain = |status: u16, text: String| {
        let mut response = hyper::Response::new(Full::new(Bytes::from(text)));
        *response.status_mut() =
            hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
        response
    };
    if request.uri().path() != METRICS_PATH {
        return plain(404, format!("not found: metrics are at {METRICS_PATH}\n"));
    }
    if request.method() != hyper::Method::GET && request.method() != hyper::Method::HEAD {
        return plain(405, format!("{METRICS_PATH} answers GET only\n"));
    }
    let encoder = TextEncoder::new();
    let mut text = Vec::new();
    match encoder.encode(&registry.gather(), &mut text) {
        Ok(()) => {
            let mut response = hyper::Response::new(Full::new(Bytes::from(text)));
            if let Ok(kind) = hyper::header::HeaderValue::from_str(encoder.format_type()) {
                response
                    .headers_mut()
                    .insert(hyper::header::CONTENT_TYPE, kind);
            }
            response
        }
        Err(error) => plain(500, format!("cannot encode the metrics: {error}\n")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_registry_is_served_at_its_path_and_nothing_else() {
        let registry = prometheus::Registry::new();
        let counter = prometheus::IntCounter::new("calls_total", "calls").expect("counter");
        registry
            .register(Box::new(counter.clone()))
            .expect("register");
        counter.inc();
        let endpoint = MetricsEndpoint::serve(([127, 0, 0, 1], 0).into(), registry)
            .await
            .expect("serve");
        let get = |path: &str| {
            let addr = endpoint.addr();
            let path = path.to_owned();
            async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
                let request =
                    format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                stream.write_all(request.as_bytes()).await.expect("write");
                let mut answer = String::new();
                stream.read_to_string(&mut answer).await.expect("read");
                answer
            }
        };
        let metrics = get(METRICS_PATH).await;
        assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
        assert!(metrics.contains("calls_total 1"), "{metrics}");
        assert!(metrics.contains("text/plain"), "{metrics}");
        let other = get("/other").await;
        assert!(other.starts_with("HTTP/1.1 404"), "{other}");
        assert!(other.contains("metrics are at /metrics"), "{other}");
    }
}
