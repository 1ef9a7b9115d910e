//! What the catalogue forgets, and when: request ids past `retention.request_ids_hours`, and
//! outbox rows every consumer of the outbox has applied.
//!
//! Consumers are the search indexes (`outbox_consumers`): a shared index (Meilisearch) holds
//! the outbox back for as long as its row exists — a writer away for a week resumes where it
//! was; a replica's own in-memory index holds it back while the replica runs (its row is
//! refreshed at least every minute) and stops holding it back after
//! [`REPLICA_SILENCE_SECONDS`] without news (a replica that returns rebuilds anyway: its index
//! was in memory); its row is forgotten after [`FORGET_REPLICA_SECONDS`]. A row younger than
//! [`OUTBOX_MIN_AGE_SECONDS`] is never pruned, whatever the positions say: a row numbered
//! before a consumer's position may still be a gap that consumer waits for.

use std::time::Duration;

use welfare_runtime::clock::Clock;
use welfare_runtime::config::RetentionConfig;

use crate::search::indexer::GAP_PATIENCE_SECONDS;
use crate::startup::MIN_INDEX_INTERVAL;
use crate::store::{CatalogStore, ConsumerKind, ConsumerRecord, StoreError};

/// The retention task's name, in logs and in `lodiwelfare.task.passes`.
pub const RETENTION_TASK: &str = "catalog-retention";

/// A replica's consumer not heard from for this long no longer holds the outbox back.
pub const REPLICA_SILENCE_SECONDS: i64 = 10 * 60;
/// A replica's consumer not heard from for this long is forgotten.
pub const FORGET_REPLICA_SECONDS: i64 = 24 * 3_600;
/// Outbox rows are kept at least this long.
pub const OUTBOX_MIN_AGE_SECONDS: i64 = 3_600;

const _: () = assert!(OUTBOX_MIN_AGE_SECONDS > GAP_PATIENCE_SECONDS);

/// The highest outbox sequence number every consumer that holds the outbox back at `now` has
/// applied (with no gap waiting at or below it); `None` when no consumer holds it back, and
/// then nothing is pruned: who will consume is unknown.
pub fn outbox_floor(consumers: &[ConsumerRecord], now: i64) -> Option<i64> {
    consumers
        .iter()
        .filter(|consumer| match consumer.kind {
            ConsumerKind::Shared => true,
            ConsumerKind::Replica => now - consumer.updated_at <= REPLICA_SILENCE_SECONDS,
        })
        .map(|consumer| {
            let waited = consumer.cursor.gaps.keys().next().map(|gap| gap - 1);
            waited.map_or(consumer.cursor.position, |below| {
                below.min(consumer.cursor.position)
            })
        })
        .min()
}

/// What one retention pass forgot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Forgotten {
    pub request_ids: u64,
    pub outbox_rows: u64,
    pub replicas: u64,
}

/// Every `retention.interval_ms`, one [`pass`].
pub async fn run<S: CatalogStore>(store: S, clock: Clock, retention: RetentionConfig) {
    let interval = Duration::from_millis(retention.interval_ms).max(MIN_INDEX_INTERVAL);
    welfare_runtime::tasks::every(RETENTION_TASK, interval, || {
        let (store, clock, retention) = (store.clone(), clock.clone(), retention.clone());
        async move { pass(&store, &clock, &retention).await.is_ok() }
    })
    .await;
}

/// Forgets request ids past their retention, then outbox rows every consumer is past, then
/// replicas long gone, each in bounded batches (`welfare_runtime::retention`).
pub async fn pass<S: CatalogStore>(
    store: &S,
    clock: &Clock,
    retention: &RetentionConfig,
) -> Result<Forgotten, StoreError> {
    let now = clock().unix_seconds();
    let request_ids =
        welfare_runtime::retention::forget_request_ids(retention, now, |before, limit| {
            store.prune_requests(before, limit)
        })
        .await?;
    let consumers = store.consumers().await?;
    let outbox_rows = match outbox_floor(&consumers, now) {
        Some(floor) => {
            welfare_runtime::retention::in_batches("outbox rows every consumer applied", |limit| {
                store.prune_outbox(floor, now - OUTBOX_MIN_AGE_SECONDS, limit)
            })
            .await?
        }
        None => 0,
    };
    let replicas = store.forget_replicas(now - FORGET_REPLICA_SECONDS).await?;
    if replicas > 0 {
        tracing::info!(
            replicas,
            "forgot the outbox positions of replicas long gone"
        );
    }
    Ok(Forgotten {
        request_ids,
        outbox_rows,
        replicas,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::OutboxCursor;

    fn consumer(
        kind: ConsumerKind,
        position: i64,
        gaps: &[i64],
        updated_at: i64,
    ) -> ConsumerRecord {
        ConsumerRecord {
            name: format!("{}-{position}", kind.code()),
            cursor: OutboxCursor {
                position,
                gaps: gaps.iter().map(|seq| (*seq, updated_at)).collect(),
            },
            stamp: "s".to_owned(),
            kind,
            updated_at,
        }
    }

    #[test]
    fn the_floor_is_the_slowest_consumer_that_holds_the_outbox_back() {
        let now = 1_000_000;
        assert_eq!(outbox_floor(&[], now), None, "nobody known: nothing pruned");
        let shared = consumer(ConsumerKind::Shared, 500, &[], now - 7 * 24 * 3_600);
        let running = consumer(ConsumerKind::Replica, 900, &[], now - 30);
        let gone = consumer(
            ConsumerKind::Replica,
            10,
            &[],
            now - REPLICA_SILENCE_SECONDS - 1,
        );
        assert_eq!(
            outbox_floor(&[shared.clone(), running.clone(), gone.clone()], now),
            Some(500),
            "a shared index away for a week still holds the outbox back; a silent replica not"
        );
        assert_eq!(outbox_floor(&[running.clone(), gone], now), Some(900));
        let waiting = consumer(ConsumerKind::Replica, 900, &[700, 801], now);
        assert_eq!(
            outbox_floor(&[running, waiting], now),
            Some(699),
            "a gap a consumer still waits for is kept"
        );
    }
}
