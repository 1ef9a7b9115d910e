//! The wallet's domain metrics, recorded into the global OpenTelemetry meter provider (read by
//! OTLP and Prometheus when configured): holds by what happened to them, and the welfare credit
//! spent by TUIR art. 51 letter. Counted where the ledger writes, once per hold and event: a
//! retry answered from the ledger's records (an existing outcome) counts nothing.

use std::sync::OnceLock;

use opentelemetry::KeyValue;
use opentelemetry::metrics::Counter;

use welfare_core::category::TaxLetter;

use crate::ledger::{Hold, HoldState, LedgerError, Outcome};

/// Holds by event: `placed`, `captured`, `released`, `expired`.
pub const METRIC_HOLDS: &str = "lodiwelfare.wallet.holds";
/// Credit captured (spent on services), in euro cents, by `tuir_letter`.
pub const METRIC_SPENT: &str = "lodiwelfare.wallet.spent_cents";

struct Metrics {
    holds: Counter<u64>,
    spent: Counter<u64>,
}

fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let meter = opentelemetry::global::meter("wallet-svc");
        let metrics = Metrics {
            holds: meter
                .u64_counter(METRIC_HOLDS)
                .with_description("wallet holds, by event")
                .build(),
            spent: meter
                .u64_counter(METRIC_SPENT)
                .with_description("welfare credit captured, in euro cents, by TUIR letter")
                .build(),
        };
        // Every series from the start: a zero is a reading, a missing series is not.
        for state in [
            HoldState::Pending,
            HoldState::Captured,
            HoldState::Released,
            HoldState::Expired,
        ] {
            metrics
                .holds
                .add(0, &[KeyValue::new("event", event(state))]);
        }
        for letter in TaxLetter::ALL {
            metrics
                .spent
                .add(0, &[KeyValue::new("tuir_letter", letter.code())]);
        }
        metrics
    })
}

/// Creates the instruments and their series (at zero), so they are read before the first
/// hold.
pub fn init() {
    metrics();
}

/// The event a hold's new state records.
fn event(state: HoldState) -> &'static str {
    match state {
        HoldState::Pending => "placed",
        other => other.code(),
    }
}

/// Counts a hold the ledger has just written (not one it answered from its records) and
/// passes the outcome on.
pub(crate) fn recorded(
    outcome: Result<Outcome<Hold>, LedgerError>,
) -> Result<Outcome<Hold>, LedgerError> {
    if let Ok(Outcome::Created(hold)) = &outcome {
        let m = metrics();
        m.holds.add(1, &[KeyValue::new("event", event(hold.state))]);
        if hold.state == HoldState::Captured
            && let Ok(cents) = u64::try_from(hold.captured.cents())
            && cents > 0
        {
            m.spent.add(
                cents,
                &[KeyValue::new("tuir_letter", hold.tax_letter.clone())],
            );
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_hold_was_placed_and_the_others_are_named_by_their_state() {
        assert_eq!(event(HoldState::Pending), "placed");
        assert_eq!(event(HoldState::Captured), "captured");
        assert_eq!(event(HoldState::Released), "released");
        assert_eq!(event(HoldState::Expired), "expired");
    }
}
