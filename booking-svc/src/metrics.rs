//! The booking service's domain metrics, recorded into the global OpenTelemetry meter provider
//! (read by OTLP and Prometheus when configured): bookings by category and outcome — each event
//! the booking outbox records, counted once it is committed — and the eligibility rules that
//! refused a booking.

use std::sync::OnceLock;

use opentelemetry::KeyValue;
use opentelemetry::metrics::Counter;
use welfare_core::category::Category;
use welfare_core::eligibility::Reason;

/// Bookings by `category` and `outcome` (the outbox's event: created, confirmed, rejected,
/// cancelled, completed, no_show, expired, rescheduled).
pub const METRIC_BOOKINGS: &str = "lodiwelfare.bookings";
/// Bookings refused by an eligibility rule, by `rule` (its stable code).
pub const METRIC_ELIGIBILITY_REFUSALS: &str = "lodiwelfare.eligibility.refusals";

struct Metrics {
    bookings: Counter<u64>,
    refusals: Counter<u64>,
}

fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let meter = opentelemetry::global::meter("booking-svc");
        Metrics {
            bookings: meter
                .u64_counter(METRIC_BOOKINGS)
                .with_description("booking events, by category and outcome")
                .build(),
            refusals: meter
                .u64_counter(METRIC_ELIGIBILITY_REFUSALS)
                .with_description("bookings refused by an eligibility rule, by rule")
                .build(),
        }
    })
}

/// Counts a committed booking event.
pub(crate) fn booking_event(category: Category, outcome: &str) {
    metrics().bookings.add(
        1,
        &[
            KeyValue::new("category", category.code()),
            KeyValue::new("outcome", outcome.to_owned()),
        ],
    );
}

/// Counts the rules that refused a booking, each once.
pub(crate) fn refused(reasons: &[Reason]) {
    let mut rules: Vec<&'static str> = reasons.iter().map(Reason::code).collect();
    rules.sort_unstable();
    rules.dedup();
    for rule in rules {
        metrics().refusals.add(1, &[KeyValue::new("rule", rule)]);
    }
}
