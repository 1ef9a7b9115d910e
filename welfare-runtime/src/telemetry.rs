//! Logs, traces and metrics: `tracing` with pretty or JSON logs; OpenTelemetry traces (with
//! trace ids on every call's span and access log line, exported over OTLP/gRPC when an endpoint
//! is configured); metrics on one meter provider read by OTLP when an endpoint is configured
//! and by Prometheus when a scrape address is ([`crate::metrics_endpoint`]); W3C trace context
//! extracted by the server ([`crate::observe`]) and injected by clients
//! ([`TraceContextInterceptor`]).

use std::time::Duration;

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{Context, KeyValue, global};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogFormat, TelemetryConfig};

/// Why telemetry could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("telemetry.log_filter is not a valid filter: {0}")]
    Filter(String),
    #[error("cannot build the OTLP exporter for {endpoint}: {message}")]
    Exporter { endpoint: String, message: String },
    #[error("a global tracing subscriber is already installed")]
    AlreadyInstalled,
    #[error("cannot build the Prometheus exporter: {0}")]
    Prometheus(String),
}

/// The running telemetry pipeline; flush it with [`Telemetry::shutdown`] before exiting.
#[derive(Debug)]
pub struct Telemetry {
    tracer_provider: SdkTracerProvider,
    meter_provider: Option<SdkMeterProvider>,
    /// What Prometheus scrapes, when `telemetry.metrics_addr` is set.
    registry: Option<prometheus::Registry>,
}

/// Installs W3C trace-context propagation process-wide (idempotent).
pub fn install_propagator() {
    global::set_text_map_propagator(TraceContextPropagator::new());
}

impl Telemetry {
    /// Installs the global subscriber, and the OTLP pipelines when an endpoint is set.
    pub fn init(config: &TelemetryConfig) -> Result<Telemetry, TelemetryError> {
        install_propagator();
        let filter = EnvFilter::try_new(&config.log_filter)
            .map_err(|e| TelemetryError::Filter(e.to_string()))?;
        let logs = match config.log_format {
            LogFormat::Pretty => tracing_subscriber::fmt::layer().with_target(true).boxed(),
            LogFormat::Json => tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .boxed(),
        };
        let resource = Resource::builder()
            .with_attribute(KeyValue::new("service.name", config.service_name.clone()))
            .build();
        let exporter_error = |endpoint: &str, e: &dyn std::fmt::Display| TelemetryError::Exporter {
            endpoint: endpoint.to_owned(),
            message: e.to_string(),
        };
        // Spans always carry trace ids (the access log names them); they leave the process
        // only with an OTLP endpoint.
        let mut tracing = SdkTracerProvider::builder().with_resource(resource.clone());
        let mut metering = SdkMeterProvider::builder().with_resource(resource);
        let mut metered = false;
        if let Some(endpoint) = &config.otlp_endpoint {
            let spans = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint.clone())
                .build()
                .map_err(|e| exporter_error(endpoint, &e))?;
            tracing = tracing.with_batch_exporter(spans);
            let metrics = opentelemetry_otlp::MetricExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint.clone())
                .build()
                .map_err(|e| exporter_error(endpoint, &e))?;
            metering = metering.with_reader(
                opentelemetry_sdk::metrics::PeriodicReader::builder(metrics)
                    .with_interval(Duration::from_millis(config.metrics_interval_ms.max(1_000)))
                    .build(),
            );
            metered = true;
        }
        let registry = match config.metrics_addr {
            None => None,
            Some(_) => {
                let registry = prometheus::Registry::new();
                let exporter = opentelemetry_prometheus::exporter()
                    .with_registry(registry.clone())
                    .scope_info_enabled(false)
                    .build()
                    .map_err(|e| TelemetryError::Prometheus(e.to_string()))?;
                metering = metering.with_reader(exporter);
                metered = true;
                Some(registry)
            }
        };
        let tracer_provider = tracing.build();
        global::set_tracer_provider(tracer_provider.clone());
        let meter_provider = metered.then(|| metering.build());
        if let Some(provider) = &meter_provider {
            global::set_meter_provider(provider.clone());
        }
        let otel = tracing_opentelemetry::layer()
            .with_tracer(tracer_provider.tracer(config.service_name.clone()));
        tracing_subscriber::registry()
            .with(filter)
            .with(logs)
            .with(otel)
            .try_init()
            .map_err(|_| TelemetryError::AlreadyInstalled)?;
        Ok(Telemetry {
            tracer_provider,
            meter_provider,
            registry,
        })
    }

    /// What Prometheus scrapes, when a scrape address is configured.
    pub fn registry(&self) -> Option<&prometheus::Registry> {
        self.registry.as_ref()
    }

    /// Flushes and stops the exporters.
    pub fn shutdown(self) {
        if let Err(error) = self.tracer_provider.shutdown() {
            tracing::warn!(%error, "trace exporter did not shut down cleanly");
        }
        if let Some(provider) = self.meter_provider
            && let Err(error) = provider.shutdown()
        {
            tracing::warn!(%error, "metric exporter did not shut down cleanly");
        }
    }
}

/// Reads trace context from HTTP headers.
pub(crate) struct HeaderExtractor<'a>(pub(crate) &'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// Writes trace context into gRPC metadata.
struct MetadataInjector<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            tonic::metadata::MetadataValue::try_from(value.as_str()),
        ) {
            self.0.insert(key, value);
        }
    }
}

/// The trace context carried by incoming headers (empty when there is none).
pub fn extract_context(headers: &http::HeaderMap) -> Context {
    global::get_text_map_propagator(|propagator| propagator.extract(&HeaderExtractor(headers)))
}

/// A client interceptor that sends the current span's trace context (`traceparent`), so a
/// call to another service continues the same trace.
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceContextInterceptor;

impl tonic::service::Interceptor for TraceContextInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let context = tracing::Span::current().context();
        global::get_text_map_propagator(|propagator| {
            propagator.inject_context(&context, &mut MetadataInjector(request.metadata_mut()));
        });
        Ok(request)
    }
}
