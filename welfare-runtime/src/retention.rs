//! Forgetting what a service keeps only for a while — request ids once
//! `retention.request_ids_hours` have passed, outbox rows every consumer is past — in bounded
//! passes, the same for every service, over the service's own statement.

use std::future::Future;

use crate::config::RetentionConfig;

/// Rows forgotten per statement.
pub const PRUNE_BATCH: i64 = 1_000;
/// Statements per pass at most: a backlog is worked off over several passes.
pub const PRUNE_BATCHES_PER_PASS: usize = 20;

/// One pass at `now` (unix seconds): `prune(before, limit)` forgets up to `limit` request ids
/// recorded before `before` and answers how many, called [`in_batches`].
pub async fn forget_request_ids<E, F, Fut>(
    retention: &RetentionConfig,
    now: i64,
    mut prune: F,
) -> Result<u64, E>
where
    E: std::fmt::Display,
    F: FnMut(i64, i64) -> Fut,
    Fut: Future<Output = Result<u64, E>>,
{
    let before = retention.request_ids_since(now);
    in_batches("request ids past their retention", |limit| {
        prune(before, limit)
    })
    .await
}

/// One bounded pass of forgetting `what`: `prune(limit)` forgets up to `limit` rows and
/// answers how many; it is called until a batch comes back short or [`PRUNE_BATCHES_PER_PASS`]
/// batches ran. Logs what it forgot, or why it failed; answers how many it forgot.
pub async fn in_batches<E, F, Fut>(what: &str, mut prune: F) -> Result<u64, E>
where
    E: std::fmt::Display,
    F: FnMut(i64) -> Fut,
    Fut: Future<Output = Result<u64, E>>,
{
    let full = u64::try_from(PRUNE_BATCH).unwrap_or(u64::MAX);
    let mut pruned = 0;
    for _ in 0..PRUNE_BATCHES_PER_PASS {
        match prune(PRUNE_BATCH).await {
            Ok(n) => {
                pruned += n;
                if n < full {
                    break;
                }
            }
            Err(error) => {
                tracing::warn!(%error, what, "forgetting failed; retrying at the next pass");
                return Err(error);
            }
        }
    }
    if pruned > 0 {
        tracing::info!(pruned, what, "forgot");
    }
    Ok(pruned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_pass_stops_at_a_short_batch_or_its_bound() {
        let retention = RetentionConfig::default();
        let now = 1_000_000;
        // 2,500 rows waiting: two full batches and a short one.
        let mut left: u64 = 2_500;
        let mut asked = Vec::new();
        let pruned = forget_request_ids::<String, _, _>(&retention, now, |before, limit| {
            asked.push(before);
            let n = left.min(u64::try_from(limit).unwrap_or(0));
            left -= n;
            async move { Ok(n) }
        })
        .await;
        assert_eq!(pruned, Ok(2_500));
        assert_eq!(asked.len(), 3);
        assert!(asked.iter().all(|b| *b == retention.request_ids_since(now)));
        // An endless backlog: the pass stops at its bound.
        let mut calls = 0;
        let pruned = forget_request_ids::<String, _, _>(&retention, now, |_, limit| {
            calls += 1;
            async move { Ok(u64::try_from(limit).unwrap_or(0)) }
        })
        .await;
        assert_eq!(calls, PRUNE_BATCHES_PER_PASS);
        assert_eq!(pruned, Ok(u64::try_from(PRUNE_BATCH).unwrap_or(0) * 20));
        // A failure ends the pass with it.
        let failed = forget_request_ids::<String, _, _>(&retention, now, |_, _| async {
            Err("the database is gone".to_owned())
        })
        .await;
        assert_eq!(failed, Err("the database is gone".to_owned()));
    }
}
