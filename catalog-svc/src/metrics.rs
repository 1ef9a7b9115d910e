//! The catalogue's domain metrics, recorded into the global OpenTelemetry meter provider (the
//! runtime installs an OTLP exporter when configured): search latency and hits, where the hits'
//! listings came from, how far the search index lags behind the outbox, and indexing failures —
//! a failed index write is an error in the log and a count here, never silence.

use std::sync::OnceLock;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Gauge, Histogram};

/// `SearchListings` time spent in the index and the service, in milliseconds.
pub const METRIC_SEARCH_DURATION: &str = "lodiwelfare.search.duration";
/// Outbox rows written but not yet applied to the search index.
pub const METRIC_OUTBOX_LAG: &str = "lodiwelfare.search.outbox_lag";
/// Outbox rows applied to the search index.
pub const METRIC_OUTBOX_APPLIED: &str = "lodiwelfare.search.outbox_applied";
/// Hits whose listing a search took from the copies it keeps, either as they are
/// ("unchanged": nothing written since they were checked, no read at all) or once the store
/// confirmed the version ("kept"), or read whole from the store ("store").
pub const METRIC_HIT_LISTINGS: &str = "lodiwelfare.search.hit_listings";
/// Failed index writes and rebuilds, by stage ("rebuild", "apply").
pub const METRIC_INDEX_FAILURES: &str = "lodiwelfare.search.index_failures";

/// The instruments, created once.
pub(crate) struct Metrics {
    pub(crate) search_duration: Histogram<f64>,
    pub(crate) outbox_lag: Gauge<u64>,
    pub(crate) outbox_applied: Counter<u64>,
    pub(crate) index_failures: Counter<u64>,
    pub(crate) hit_listings: Counter<u64>,
}

pub(crate) fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let meter = opentelemetry::global::meter("catalog-svc");
        Metrics {
            search_duration: meter
                .f64_histogram(METRIC_SEARCH_DURATION)
                .with_unit("ms")
                .with_description("SearchListings time in the index and the service")
                .build(),
            outbox_lag: meter
                .u64_gauge(METRIC_OUTBOX_LAG)
                .with_description("outbox rows not yet applied to the search index")
                .build(),
            outbox_applied: meter
                .u64_counter(METRIC_OUTBOX_APPLIED)
                .with_description("outbox rows applied to the search index")
                .build(),
            index_failures: meter
                .u64_counter(METRIC_INDEX_FAILURES)
                .with_description("failed search index writes and rebuilds, by stage")
                .build(),
            hit_listings: meter
                .u64_counter(METRIC_HIT_LISTINGS)
                .with_description("search hits' listings taken from the kept copies or the store")
                .build(),
        }
    })
}

/// Records an indexing failure at `stage`.
pub(crate) fn index_failed(stage: &'static str) {
    metrics()
        .index_failures
        .add(1, &[KeyValue::new("stage", stage)]);
}

/// Records where a batch of hits' listings came from.
pub(crate) fn hit_listings(unchanged: u64, kept: u64, read: u64) {
    let counter = &metrics().hit_listings;
    if unchanged > 0 {
        counter.add(unchanged, &[KeyValue::new("source", "unchanged")]);
    }
    if kept > 0 {
        counter.add(kept, &[KeyValue::new("source", "kept")]);
    }
    if read > 0 {
        counter.add(read, &[KeyValue::new("source", "store")]);
    }
}
