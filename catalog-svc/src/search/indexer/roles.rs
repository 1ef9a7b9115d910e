//! Who writes which index, and when.
//!
//! A replica's own index (the embedded one) is written by that replica alone: a new process's
//! index is empty, so it is built at start, then follows the outbox.
//!
//! A shared index (Meilisearch) is written by one replica at a time: the one holding the lease
//! named after the index's consumer (`welfare_storage::lease`: an advisory lock on PostgreSQL,
//! a file lock beside an SQLite file), let go when its holder dies however it dies. The writer
//! resumes from the stored position when the index bears the stamp stored with it — a restart
//! or a new writer does not rebuild a current index — and rebuilds otherwise. It checks the
//! lease before each batch. The other replicas follow: they answer searches from the index the
//! writer keeps, reload the curators' local words (which read queries) when the outbox shows
//! one changed, say they are ready once the index bears its stored stamp, and try to take the
//! lease every interval, so a writer that dies is replaced within an interval or two and the
//! new one goes on from the last position stored. A batch applied but not yet stored is
//! applied again, which changes nothing: applying re-reads what each row names.

use tokio::sync::watch;
use tokio::time::Instant;
use welfare_runtime::tasks::record_pass;
use welfare_storage::lease::Lease;

use super::*;
use crate::metrics::INDEXER_TASK;

/// How often a writer with nothing to apply still stores its position, so that its row shows
/// it alive (outbox retention forgets replicas silent for long).
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(60);
/// How often a follower reloads the local words, whatever the outbox shows.
pub const RELOAD_WORDS_EVERY: Duration = Duration::from_secs(60);
/// The longest pause between two attempts after a failure.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// What a follower knows.
#[derive(Debug, Default)]
struct Following {
    /// The newest outbox row seen.
    position: Option<i64>,
    words_loaded: Option<Instant>,
    /// Whether the shared index was seen bearing its stored stamp.
    built: bool,
}

fn doubled(backoff: Duration) -> Duration {
    (backoff * 2).min(MAX_BACKOFF)
}

impl<S: CatalogStore, I: SearchIndex> Indexer<S, I> {
    /// Keeps the index current until the task is dropped, writing it when this replica may
    /// (see the module), following otherwise; says `ready` once the index can answer. Failures
    /// are logged and retried with exponential backoff (up to [`MAX_BACKOFF`]).
    pub async fn run(self, interval: Duration, ready: watch::Sender<bool>) {
        let mut following = Following::default();
        let mut backoff = interval;
        loop {
            let lease = if self.index.shared() {
                match self.store.lease(&self.consumer()).await {
                    Ok(Some(lease)) => {
                        tracing::info!(lease = lease.name(), "writing the search index");
                        Some(lease)
                    }
                    Ok(None) => {
                        let followed = self.follow_writer(&mut following, &ready).await;
                        record_pass(INDEXER_TASK, followed.is_ok());
                        if let Err(error) = followed {
                            tracing::warn!(%error, "following the search index's writer failed");
                        }
                        tokio::time::sleep(interval).await;
                        continue;
                    }
                    Err(error) => {
                        record_pass(INDEXER_TASK, false);
                        tracing::error!(%error, "asking for the indexer lease failed; retrying");
                        tokio::time::sleep(backoff).await;
                        backoff = doubled(backoff);
                        continue;
                    }
                }
            } else {
                None
            };
            backoff = interval;
            self.write(lease, interval, &ready).await;
            following = Following::default();
        }
    }

    /// Writes the index until the lease is lost (for good, for an index of this replica's own).
    async fn write(
        &self,
        mut lease: Option<Lease>,
        interval: Duration,
        ready: &watch::Sender<bool>,
    ) {
        loop {
            let Some((cursor, stamp)) = self.start_writing(&mut lease, interval).await else {
                return;
            };
            let _ = ready.send(true);
            if !self
                .keep_writing(&mut lease, interval, cursor, &stamp)
                .await
            {
                return;
            }
        }
    }

    /// Resumes or rebuilds, retrying with backoff; `None` once the lease is lost.
    async fn start_writing(
        &self,
        lease: &mut Option<Lease>,
        interval: Duration,
    ) -> Option<(OutboxCursor, String)> {
        let mut backoff = interval;
        loop {
            if !holds(lease).await {
                return None;
            }
            match self.resume_or_rebuild().await {
                Ok(started) => {
                    record_pass(INDEXER_TASK, true);
                    return Some(started);
                }
                Err(error) => {
                    record_pass(INDEXER_TASK, false);
                    tracing::error!(%error, "search index rebuild failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = doubled(backoff);
                }
            }
        }
    }

    /// Applies the outbox to the index bearing `stamp` from `cursor`, storing the position
    /// after each batch and at least every [`HEARTBEAT_EVERY`], when it also checks that the
    /// index still bears its stamp. Answers `true` when the index must be started again (its
    /// stamp is gone: lost, or an operator asked for a rebuild), `false` once the lease is
    /// lost.
    async fn keep_writing(
        &self,
        lease: &mut Option<Lease>,
        interval: Duration,
        mut cursor: OutboxCursor,
        stamp: &str,
    ) -> bool {
        let mut backoff = interval;
        let mut counted: Option<Instant> = None;
        let mut saved = Instant::now();
        loop {
            if counted.is_none_or(|at| at.elapsed() >= BACKLOG_EVERY) {
                counted = Some(Instant::now());
                self.count_backlog().await;
            }
            if !holds(lease).await {
                return false;
            }
            let heartbeat = saved.elapsed() >= HEARTBEAT_EVERY;
            if heartbeat {
                match self.index.stamp().await {
                    Ok(Some(current)) if current == stamp => {}
                    Ok(_) => {
                        tracing::warn!("the search index lost its stamp: building it again");
                        return true;
                    }
                    Err(error) => tracing::warn!(%error, "reading the search index's stamp failed"),
                }
            }
            let before = cursor.clone();
            let caught_up = match self.catch_up(&mut cursor).await {
                Ok(applied) if heartbeat || cursor != before => {
                    let stored = self.save(&cursor, stamp).await;
                    if stored.is_ok() {
                        saved = Instant::now();
                    }
                    stored.map(|()| applied)
                }
                other => other,
            };
            record_pass(INDEXER_TASK, caught_up.is_ok());
            match caught_up {
                Ok(applied) if applied > 0 => {
                    backoff = interval;
                    continue;
                }
                Ok(_) => backoff = interval,
                Err(error) => {
                    tracing::error!(%error, position = cursor.position, "applying the outbox failed; retrying");
                    backoff = doubled(backoff);
                }
            }
            tokio::time::sleep(backoff).await;
        }
    }

    /// The stored position, when the index bears the stamp stored with it; else a rebuild.
    async fn resume_or_rebuild(&self) -> Result<(OutboxCursor, String), IndexerError> {
        let stored = self.store.consumer(&self.consumer()).await?;
        let stamp = self.index.stamp().await?;
        if let (Some(stored), Some(stamp)) = (stored, stamp)
            && stored.stamp == stamp
        {
            self.words.load(&self.store).await?;
            tracing::info!(
                position = stored.cursor.position,
                "search index current: resuming from its stored position"
            );
            return Ok((stored.cursor, stamp));
        }
        let (cursor, count, stamp) = self.rebuild_stamped().await?;
        tracing::info!(documents = count, "search index built");
        Ok((cursor, stamp))
    }

    /// One pass of a replica that does not write the shared index: readiness, local words.
    async fn follow_writer(
        &self,
        following: &mut Following,
        ready: &watch::Sender<bool>,
    ) -> Result<(), IndexerError> {
        if !following.built {
            let stored = self.store.consumer(&self.consumer()).await?;
            let stamp = self.index.stamp().await?;
            if let (Some(stored), Some(stamp)) = (stored, stamp)
                && stored.stamp == stamp
            {
                following.built = true;
                let _ = ready.send(true);
            }
        }
        let Some(position) = following.position else {
            following.position = Some(self.store.outbox_position().await?);
            self.words.load(&self.store).await?;
            following.words_loaded = Some(Instant::now());
            return Ok(());
        };
        let rows = self.store.outbox(position, OUTBOX_BATCH).await?;
        if rows.iter().any(|row| row.event.topic == Topic::LocalWord)
            || following
                .words_loaded
                .is_none_or(|at| at.elapsed() >= RELOAD_WORDS_EVERY)
        {
            self.words.load(&self.store).await?;
            following.words_loaded = Some(Instant::now());
        }
        if let Some(last) = rows.last() {
            following.position = Some(last.seq);
        }
        Ok(())
    }
}

/// Whether the lease, if any, is still held; a lost one is logged.
async fn holds(lease: &mut Option<Lease>) -> bool {
    match lease {
        None => true,
        Some(lease) => match lease.check().await {
            Ok(()) => true,
            Err(error) => {
                tracing::error!(%error, "lost the indexer lease: following until it is taken again");
                false
            }
        },
    }
}
