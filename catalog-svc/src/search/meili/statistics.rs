//! What the Meilisearch adapter knows of the index as a whole, kept between searches: how many
//! listings it holds, how many have each word (exactly, field by field, and within
//! Meilisearch's typo tolerance), how many each subcategory has, and the fields' average
//! lengths. Tantivy keeps these in its segments; Meilisearch answers them only as searches, so
//! they are read once and used for [`FRESH`] (or until this process writes to the index), and a
//! search of words already seen costs no round trip before the one that retrieves its matches.
//!
//! Another replica's writes are seen within [`FRESH`]. What a stale figure can change is small
//! and bounded: a word's typo allowance and BM25 weight, which answers go to the combined search
//! (a retrieval that finds more than `WORD_CAP` matches still does), and a short word's
//! correction.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use meilisearch_sdk::documents::DocumentsQuery;
use serde::Deserialize;

use super::{MeiliHit, MeiliIndex, SEARCHED, engine, quoted};
use crate::search::IndexError;

/// How long the figures read are used before they are read again.
pub const FRESH: Duration = Duration::from_secs(30);
/// The most documents whose lengths are read for the fields' averages.
pub const LENGTHS_SAMPLE: usize = 20_000;
/// The most words (and subcategories) whose counts are kept; past it they are all read again.
pub const MAX_KEPT_WORDS: usize = 20_000;
/// Documents read per request while reading lengths.
const LENGTHS_PAGE: usize = 1_000;

/// How many listings have a word.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Counts {
    /// Exactly (its stem, no typo), in any searched field.
    pub(super) any: u64,
    /// Exactly, in the title, the vocabulary, the description.
    pub(super) fields: [u64; 3],
    /// Within Meilisearch's typo tolerance, in any searched field.
    pub(super) fuzzy: u64,
}

/// The figures as last read.
#[derive(Debug, Default)]
struct Known {
    /// When the counts below were first read; all are forgotten together.
    since: Option<Instant>,
    listings: Option<u64>,
    words: HashMap<String, Counts>,
    subcategories: HashMap<String, u64>,
}

impl Known {
    /// Forgets everything once it is older than [`FRESH`] or holds too many words.
    fn expire(&mut self) {
        let stale = self.since.is_some_and(|since| since.elapsed() >= FRESH);
        if stale || self.words.len() + self.subcategories.len() > MAX_KEPT_WORDS {
            *self = Known::default();
        }
    }
}

/// The fields' average lengths, and when they were read.
type Lengths = Option<(Instant, [f32; 3])>;

/// The figures, shared by the clones of an index.
#[derive(Debug, Clone, Default)]
pub(super) struct Statistics {
    /// Words and listings: never locked across a request.
    known: Arc<Mutex<Known>>,
    /// Locked while the lengths are read, so concurrent searches read them once.
    lengths: Arc<tokio::sync::Mutex<Lengths>>,
}

/// A document's field lengths.
#[derive(Debug, Deserialize)]
struct DocumentLengths {
    #[serde(default)]
    lengths: [u32; 3],
}

impl Statistics {
    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        // The figures are plain numbers: a panic elsewhere leaves nothing half-written.
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl MeiliIndex {
    /// How many listings have each of `words`, and how many listings there are: those not yet
    /// known read in one multi-search.
    pub(super) async fn word_statistics(
        &self,
        words: &[String],
    ) -> Result<(Vec<Counts>, u64), IndexError> {
        let (mut counts, missing, listings) = {
            let mut known = self.statistics.known();
            known.expire();
            let counts: Vec<Option<Counts>> =
                words.iter().map(|w| known.words.get(w).copied()).collect();
            let missing: Vec<String> = words
                .iter()
                .zip(&counts)
                .filter(|(_, c)| c.is_none())
                .map(|(w, _)| w.clone())
                .collect();
            (counts, missing, known.listings)
        };
        let listings = match listings {
            Some(listings) if missing.is_empty() => listings,
            _ => {
                let (read, listings) = self.read_word_counts(&missing).await?;
                let mut fresh = read.iter();
                for count in counts.iter_mut().filter(|c| c.is_none()) {
                    *count = fresh.next().copied();
                }
                let mut known = self.statistics.known();
                known.since.get_or_insert_with(Instant::now);
                known.listings = Some(listings);
                known.words.extend(missing.into_iter().zip(read));
                listings
            }
        };
        Ok((
            counts.into_iter().map(Option::unwrap_or_default).collect(),
            listings,
        ))
    }

    /// How many listings each subcategory has: those not yet known read in one multi-search.
    pub(super) async fn subcategory_counts(
        &self,
        codes: &[String],
    ) -> Result<Vec<u64>, IndexError> {
        let missing: Vec<String> = {
            let mut known = self.statistics.known();
            known.expire();
            codes
                .iter()
                .filter(|c| !known.subcategories.contains_key(*c))
                .cloned()
                .collect()
        };
        if !missing.is_empty() {
            let index = self.client.index(&self.uid);
            let filters: Vec<String> = missing
                .iter()
                .map(|code| format!("subcategory = {}", quoted(code)))
                .collect();
            let mut multi = self.client.multi_search();
            for filter in &filters {
                multi.with_search_query(
                    index
                        .search()
                        .with_filter(filter)
                        .with_page(1)
                        .with_hits_per_page(0)
                        .build(),
                );
            }
            let results = multi.execute::<MeiliHit>().await.map_err(engine)?;
            let mut known = self.statistics.known();
            known.since.get_or_insert_with(Instant::now);
            known.subcategories.extend(
                missing
                    .into_iter()
                    .zip(results.results.iter().map(|r| total(r.total_hits))),
            );
        }
        let known = self.statistics.known();
        Ok(codes
            .iter()
            .map(|c| known.subcategories.get(c).copied().unwrap_or(0))
            .collect())
    }

    /// Reads `words`' counts (exact anywhere, field by field, within typos) and the number of
    /// documents, in one multi-search.
    async fn read_word_counts(&self, words: &[String]) -> Result<(Vec<Counts>, u64), IndexError> {
        let index = self.client.index(&self.uid);
        let phrases: Vec<String> = words.iter().map(|w| format!("\"{w}\"")).collect();
        let scopes: [&[&str]; 4] = [
            &SEARCHED,
            &["title_stems"],
            &["vocabulary_stems"],
            &["description_stems"],
        ];
        let mut multi = self.client.multi_search();
        for (word, phrase) in words.iter().zip(&phrases) {
            for scope in scopes {
                multi.with_search_query(
                    index
                        .search()
                        .with_query(phrase)
                        .with_attributes_to_search_on(scope)
                        .with_page(1)
                        .with_hits_per_page(0)
                        .build(),
                );
            }
            multi.with_search_query(
                index
                    .search()
                    .with_query(word)
                    .with_attributes_to_search_on(&SEARCHED)
                    .with_page(1)
                    .with_hits_per_page(0)
                    .build(),
            );
        }
        multi.with_search_query(index.search().with_page(1).with_hits_per_page(0).build());
        let results = multi.execute::<MeiliHit>().await.map_err(engine)?;
        let mut totals: Vec<u64> = results
            .results
            .iter()
            .map(|r| total(r.total_hits))
            .collect();
        let listings = totals.pop().unwrap_or(0);
        let counts = totals
            .chunks(scopes.len() + 1)
            .map(|c| {
                let at = |i: usize| c.get(i).copied().unwrap_or(0);
                Counts {
                    any: at(0),
                    fields: [at(1), at(2), at(3)],
                    fuzzy: at(4),
                }
            })
            .collect();
        Ok((counts, listings))
    }

    /// The title's, the vocabulary's and the description's average lengths in stems, as the
    /// embedded index computes them (tokens over documents), from the first
    /// [`LENGTHS_SAMPLE`] documents.
    pub(super) async fn average_lengths(&self) -> Result<[f32; 3], IndexError> {
        let mut kept = self.statistics.lengths.lock().await;
        if let Some((read, lengths)) = *kept
            && read.elapsed() < FRESH
        {
            return Ok(lengths);
        }
        let index = self.client.index(&self.uid);
        let (mut sums, mut documents) = ([0u64; 3], 0u64);
        let mut offset = 0;
        while offset < LENGTHS_SAMPLE {
            let page = DocumentsQuery::new(&index)
                .with_fields(["lengths"])
                .with_offset(offset)
                .with_limit(LENGTHS_PAGE)
                .execute::<DocumentLengths>()
                .await
                .map_err(engine)?;
            for doc in &page.results {
                for (sum, len) in sums.iter_mut().zip(doc.lengths) {
                    *sum += u64::from(len);
                }
            }
            documents += u64::try_from(page.results.len()).unwrap_or(0);
            offset += page.results.len();
            if page.results.len() < LENGTHS_PAGE {
                break;
            }
        }
        // No field has a match without a length, so an empty one averages 1 harmlessly.
        let lengths = sums.map(|sum| {
            if documents == 0 || sum == 0 {
                1.0
            } else {
                sum as f32 / documents as f32
            }
        });
        *kept = Some((Instant::now(), lengths));
        Ok(lengths)
    }

    /// Forgets every figure after this process wrote to the index.
    pub(super) async fn forget_statistics(&self) {
        *self.statistics.known() = Known::default();
        *self.statistics.lengths.lock().await = None;
    }
}

/// A search's total as a count.
pub(super) fn total(hits: Option<usize>) -> u64 {
    u64::try_from(hits.unwrap_or(0)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_forgotten_when_stale_or_too_many() {
        let mut known = Known {
            since: Some(Instant::now()),
            listings: Some(3),
            ..Known::default()
        };
        known.words.insert("badant".to_owned(), Counts::default());
        known.expire();
        assert_eq!(known.listings, Some(3), "fresh figures are kept");
        known.since = Instant::now().checked_sub(FRESH);
        known.expire();
        assert!(known.words.is_empty() && known.listings.is_none());
        known.since = Some(Instant::now());
        for n in 0..=MAX_KEPT_WORDS {
            known.words.insert(n.to_string(), Counts::default());
        }
        known.expire();
        assert!(
            known.words.is_empty(),
            "past the limit everything is read again"
        );
    }
}
