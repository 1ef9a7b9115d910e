//! Keeps a search index true to the catalogue: a full rebuild from the public listings (when
//! the index is not current, and on an operator's request), then the outbox consumed in
//! batches — each listing event re-reads the listing and indexes it if public or removes it
//! otherwise; each provider event does the same for all of the provider's listings. Failures
//! are retried with backoff and counted; the position in the outbox only moves past rows that
//! were applied, and is stored in the catalogue (`outbox_consumers`) under the index's name
//! with the stamp of the index content it describes. Who writes which index, and when, is
//! [`roles`].

use std::sync::Arc;
use std::time::Duration;

use welfare_core::ids::{ListingId, ProviderId};
use welfare_core::territory::Territory;
use welfare_runtime::clock::Clock;

use super::{IndexError, SearchDocument, SearchIndex};
use crate::local_words::LocalWords;
use crate::store::{
    CatalogStore, ConsumerKind, ConsumerRecord, ListingQuery, StoreError, Topic, Visibility,
};
use welfare_core::category::Subcategory;

/// Outbox rows applied per batch.
pub const OUTBOX_BATCH: i64 = 500;
/// Listings read per page while rebuilding.
pub const REBUILD_PAGE: i64 = 1_000;

/// How long a missing outbox sequence number is waited for before it is taken for a rolled-back
/// transaction: PostgreSQL hands out sequence values at insert time, so a row can commit after
/// rows with higher numbers.
pub const GAP_PATIENCE_SECONDS: i64 = 60;

/// The most missing sequence numbers remembered (the newest are kept).
pub const MAX_GAPS: usize = 1_000;

pub use crate::store::OutboxCursor;

pub mod roles;

/// Why indexing failed.
#[derive(Debug, thiserror::Error)]
pub enum IndexerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Index(#[from] IndexError),
}

/// The catalogue-to-index worker.
#[derive(Clone)]
pub struct Indexer<S, I> {
    store: S,
    index: I,
    territory: Arc<Territory>,
    clock: Clock,
    words: LocalWords,
}

impl<S, I> std::fmt::Debug for Indexer<S, I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Indexer")
            .field("territory", &self.territory.name())
            .finish_non_exhaustive()
    }
}

impl<S: CatalogStore, I: SearchIndex> Indexer<S, I> {
    /// An indexer keeping `index` true to `store`, and `words` to the store's local words.
    pub fn new(
        store: S,
        index: I,
        territory: Arc<Territory>,
        clock: Clock,
        words: LocalWords,
    ) -> Indexer<S, I> {
        Indexer {
            store,
            index,
            territory,
            clock,
            words,
        }
    }

    /// The indexer's name among the outbox's consumers: `search-index/` and its index's name.
    pub fn consumer(&self) -> String {
        format!("search-index/{}", self.index.name())
    }

    /// Builds a new index from every public listing and swaps it in, then stores the outbox
    /// position to consume from (read before the listings, so nothing written meanwhile is
    /// missed) under a new stamp, and stamps the index with it. Returns the position and the
    /// number of documents.
    /// A failure is counted in `lodiwelfare.search.index_failures` (stage "rebuild").
    pub async fn rebuild(&self) -> Result<(OutboxCursor, usize), IndexerError> {
        let (cursor, count, _) = self.rebuild_stamped().await?;
        Ok((cursor, count))
    }

    /// [`Indexer::rebuild`], answering the new stamp too.
    async fn rebuild_stamped(&self) -> Result<(OutboxCursor, usize, String), IndexerError> {
        let result = async {
            let (cursor, count) = self.build().await?;
            let stamp = welfare_runtime::uuid::new_uuid();
            // The row first: killed between the two, the stamps differ and the next writer
            // rebuilds rather than trusting a position.
            self.save(&cursor, &stamp).await?;
            self.index.set_stamp(&stamp).await?;
            Ok((cursor, count, stamp))
        }
        .await;
        if result.is_err() {
            crate::metrics::index_failed("rebuild");
        }
        result
    }

    /// Stores where the index bearing `stamp` is in the outbox.
    async fn save(&self, cursor: &OutboxCursor, stamp: &str) -> Result<(), IndexerError> {
        let kind = if self.index.shared() {
            ConsumerKind::Shared
        } else {
            ConsumerKind::Replica
        };
        self.store
            .put_consumer(&ConsumerRecord {
                name: self.consumer(),
                cursor: cursor.clone(),
                stamp: stamp.to_owned(),
                kind,
                updated_at: (self.clock)().unix_seconds(),
            })
            .await?;
        Ok(())
    }

    async fn build(&self) -> Result<(OutboxCursor, usize), IndexerError> {
        let position = self.store.outbox_position().await?;
        self.words.load(&self.store).await?;
        let lexicon = self.words.current();
        let fresh_since = self.territory.fresh_since((self.clock)());
        let mut documents = Vec::new();
        let mut after_id = None;
        loop {
            let page = self
                .store
                .listings(&ListingQuery {
                    visibility: Visibility::Public { fresh_since },
                    provider_id: None,
                    status: None,
                    category: None,
                    after_id: after_id.take(),
                    limit: REBUILD_PAGE,
                })
                .await?;
            documents.extend(
                page.iter()
                    .map(|record| SearchDocument::of(&record.listing, &self.territory, &lexicon)),
            );
            match page.last() {
                Some(last) if i64::try_from(page.len()).unwrap_or(0) == REBUILD_PAGE => {
                    after_id = Some(last.listing.id.to_string());
                }
                _ => break,
            }
        }
        let count = documents.len();
        self.index.rebuild(documents).await?;
        Ok((OutboxCursor::at(position), count))
    }

    /// Applies one batch of outbox rows after the cursor, and any late rows that fill its gaps;
    /// returns how many rows were applied.
    /// A failure is counted in `lodiwelfare.search.index_failures` (stage "apply"); the cursor
    /// then has not moved.
    pub async fn catch_up(&self, cursor: &mut OutboxCursor) -> Result<usize, IndexerError> {
        let result = self.follow(cursor).await;
        if result.is_err() {
            crate::metrics::index_failed("apply");
        }
        result
    }

    async fn follow(&self, cursor: &mut OutboxCursor) -> Result<usize, IndexerError> {
        let now_seconds = (self.clock)().unix_seconds();
        let mut rows = self.store.outbox(cursor.position, OUTBOX_BATCH).await?;
        let late = self
            .store
            .outbox_rows(&cursor.gaps.keys().copied().collect::<Vec<_>>())
            .await?;
        let mut expected = cursor.position + 1;
        let mut new_gaps = Vec::new();
        for row in &rows {
            new_gaps.extend(expected..row.seq);
            expected = row.seq + 1;
        }
        for row in &late {
            cursor.gaps.remove(&row.seq);
        }
        rows.extend(late);
        let applied = rows.len();
        if applied > 0 {
            self.apply(&rows).await?;
            crate::metrics::metrics()
                .outbox_applied
                .add(u64::try_from(applied).unwrap_or(u64::MAX), &[]);
        }
        if let Some(last) = rows.iter().map(|row| row.seq).max() {
            cursor.position = cursor.position.max(last);
        }
        for seq in new_gaps {
            cursor.gaps.entry(seq).or_insert(now_seconds);
        }
        cursor
            .gaps
            .retain(|_, noticed| now_seconds - *noticed <= GAP_PATIENCE_SECONDS);
        while cursor.gaps.len() > MAX_GAPS {
            cursor.gaps.pop_first();
        }
        let newest = self.store.outbox_position().await?;
        crate::metrics::metrics().outbox_lag.record(
            u64::try_from(newest - cursor.position).unwrap_or(0)
                + u64::try_from(cursor.gaps.len()).unwrap_or(0),
            &[opentelemetry::KeyValue::new("consumer", OUTBOX_CONSUMER)],
        );
        Ok(applied)
    }

    /// Re-reads what the rows name and indexes or removes it; a local word's row reloads the
    /// local words and re-indexes the listings of the subcategories it named, before and after.
    async fn apply(&self, rows: &[crate::store::OutboxEntry]) -> Result<(), IndexerError> {
        let now = (self.clock)();
        let mut upserts = Vec::new();
        let mut removals = Vec::new();
        let mut listing_ids: Vec<String> = Vec::new();
        // Subcategories whose words a local word changed: their listings' documents change.
        let mut reworded: Vec<&'static Subcategory> = Vec::new();
        for row in rows {
            match row.event.topic {
                Topic::Listing => listing_ids.push(row.event.entity_id.clone()),
                Topic::Provider => {
                    let Ok(provider) = ProviderId::parse(&row.event.entity_id) else {
                        continue;
                    };
                    listing_ids.extend(self.listing_ids(Some(&provider), None).await?);
                }
                Topic::LocalWord => reworded.extend(reworded_subcategories(&row.event.payload)),
            }
        }
        if rows.iter().any(|row| row.event.topic == Topic::LocalWord) {
            self.words.load(&self.store).await?;
        }
        reworded.sort_by_key(|sub| sub.code);
        reworded.dedup_by_key(|sub| sub.code);
        for sub in reworded {
            listing_ids.extend(self.listing_ids(None, Some(sub)).await?);
        }
        listing_ids.sort();
        listing_ids.dedup();
        let lexicon = self.words.current();
        for id in listing_ids {
            let Ok(listing_id) = ListingId::parse(&id) else {
                continue;
            };
            match self.store.listing(&listing_id).await? {
                Some((record, provider_status))
                    if record
                        .listing
                        .is_public(provider_status, now, &self.territory) =>
                {
                    upserts.push(SearchDocument::of(
                        &record.listing,
                        &self.territory,
                        &lexicon,
                    ));
                }
                _ => removals.push(id),
            }
        }
        if !removals.is_empty() {
            self.index.remove(removals).await?;
        }
        if !upserts.is_empty() {
            self.index.upsert(upserts).await?;
        }
        Ok(())
    }

    /// The ids of every listing, in any state, of `provider` or of the subcategory `sub`.
    async fn listing_ids(
        &self,
        provider: Option<&ProviderId>,
        sub: Option<&Subcategory>,
    ) -> Result<Vec<String>, IndexerError> {
        let mut ids = Vec::new();
        let mut after_id = None;
        loop {
            let page = self
                .store
                .listings(&ListingQuery {
                    visibility: Visibility::All,
                    provider_id: provider.cloned(),
                    status: None,
                    category: sub.map(|s| s.category),
                    after_id: after_id.take(),
                    limit: REBUILD_PAGE,
                })
                .await?;
            ids.extend(
                page.iter()
                    .filter(|r| sub.is_none_or(|s| r.listing.content.subcategory == s.code))
                    .map(|r| r.listing.id.to_string()),
            );
            match page.last() {
                Some(last) if i64::try_from(page.len()).unwrap_or(0) == REBUILD_PAGE => {
                    after_id = Some(last.listing.id.to_string());
                }
                _ => break,
            }
        }
        Ok(ids)
    }
}

/// The indexer as a consumer of the outbox, on `lodiwelfare.search.outbox_lag`.
pub const OUTBOX_CONSUMER: &str = "search-index";

/// How often the indexer counts the curation backlog.
pub const BACKLOG_EVERY: Duration = Duration::from_secs(60);

impl<S: CatalogStore, I: SearchIndex> Indexer<S, I> {
    /// Counts what curators have to review into the backlog metrics; a failure is logged.
    async fn count_backlog(&self) {
        let fresh_since = self.territory.fresh_since((self.clock)());
        match self.store.backlog(fresh_since.unix_seconds()).await {
            Ok(backlog) => crate::metrics::backlog(&backlog),
            Err(error) => tracing::warn!(%error, "counting the curation backlog failed"),
        }
    }
}

/// The subcategories a local word's outbox payload names, now and before the change.
fn reworded_subcategories(payload: &str) -> Vec<&'static Subcategory> {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(payload) else {
        return Vec::new();
    };
    [Some(&value), value.get("before")]
        .into_iter()
        .flatten()
        .filter(|meaning| meaning.get("kind").and_then(|k| k.as_str()) == Some("service"))
        .filter_map(|meaning| meaning.get("code").and_then(|c| c.as_str()))
        .filter_map(|code| Subcategory::find(code).ok())
        .collect()
}
