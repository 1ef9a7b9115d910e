//! The catalogue's domain metrics, recorded into the global OpenTelemetry meter provider (read
//! by OTLP and Prometheus when configured): search latency, hits and searches that found
//! nothing, where the hits' listings came from, how far the search index lags behind the
//! outbox, indexing failures — a failed index write is an error in the log and a count here,
//! never silence — and the curation backlog (awaiting review, stale listings).

use std::sync::OnceLock;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Gauge, Histogram};

/// `SearchListings` time spent in the index and the service, in milliseconds.
pub const METRIC_SEARCH_DURATION: &str = "lodiwelfare.search.duration";
/// Outbox rows written but not yet applied, by `consumer` (the search index's indexer).
pub const METRIC_OUTBOX_LAG: &str = "lodiwelfare.search.outbox_lag";
/// Outbox rows applied to the search index.
pub const METRIC_OUTBOX_APPLIED: &str = "lodiwelfare.search.outbox_applied";
/// Hits whose listing a search took from the copies it keeps, either as they are
/// ("unchanged": nothing written since they were checked, no read at all) or once the store
/// confirmed the version ("kept"), or read whole from the store ("store").
pub const METRIC_HIT_LISTINGS: &str = "lodiwelfare.search.hit_listings";
/// Failed index writes and rebuilds, by stage ("rebuild", "apply").
pub const METRIC_INDEX_FAILURES: &str = "lodiwelfare.search.index_failures";
/// Searches answered with no hit at all.
pub const METRIC_ZERO_RESULTS: &str = "lodiwelfare.search.zero_results";
/// What curators have to review, by kind ("provider", "listing").
pub const METRIC_AWAITING_REVIEW: &str = "lodiwelfare.catalog.awaiting_review";
/// Published listings past the verification window, hidden from search until verified.
pub const METRIC_STALE_LISTINGS: &str = "lodiwelfare.catalog.stale_listings";
/// The indexer's name, in logs and in `lodiwelfare.task.passes`.
pub const INDEXER_TASK: &str = "catalog-indexer";

/// The instruments, created once.
pub(crate) struct Metrics {
    pub(crate) search_duration: Histogram<f64>,
    pub(crate) outbox_lag: Gauge<u64>,
    pub(crate) outbox_applied: Counter<u64>,
    pub(crate) index_failures: Counter<u64>,
    pub(crate) hit_listings: Counter<u64>,
    pub(crate) zero_results: Counter<u64>,
    pub(crate) awaiting_review: Gauge<u64>,
    pub(crate) stale_listings: Gauge<u64>,
}

pub(crate) fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let meter = opentelemetry::global::meter("catalog-svc");
        let metrics = Metrics {
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
            zero_results: meter
                .u64_counter(METRIC_ZERO_RESULTS)
                .with_description("searches answered with no hit")
                .build(),
            awaiting_review: meter
                .u64_gauge(METRIC_AWAITING_REVIEW)
                .with_description("providers and listings awaiting a curator's review, by kind")
                .build(),
            stale_listings: meter
                .u64_gauge(METRIC_STALE_LISTINGS)
                .with_description("published listings past the verification window")
                .build(),
        };
        // Every series from the start: a zero is a reading, a missing series is not.
        for stage in ["rebuild", "apply"] {
            metrics
                .index_failures
                .add(0, &[KeyValue::new("stage", stage)]);
        }
        metrics.zero_results.add(0, &[]);
        metrics
    })
}

/// Creates the instruments and their series (at zero), so they are read before the first
/// search or failure.
pub fn init() {
    metrics();
}

/// Records what curators have to review.
pub(crate) fn backlog(backlog: &crate::store::Backlog) {
    let m = metrics();
    m.awaiting_review.record(
        backlog.providers_awaiting,
        &[KeyValue::new("kind", "provider")],
    );
    m.awaiting_review.record(
        backlog.listings_awaiting,
        &[KeyValue::new("kind", "listing")],
    );
    m.stale_listings.record(backlog.stale_listings, &[]);
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
