//! The clock services read, injectable so tests control time.

use std::sync::Arc;

use welfare_core::time::Timestamp;

/// Reads the clock.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The system clock, in whole seconds.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Timestamp::from_unix_seconds(seconds)
    })
}
