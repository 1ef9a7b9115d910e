//! Answering by words matched, as the embedded index does. Meilisearch matches a query by
//! dropping words until enough documents match (always keeping one), so a listing that has a
//! later word but not the one kept is never found, and its own rules rank the rest; the
//! embedded index finds every listing with any of the query's words and ranks by how many it
//! has, then by BM25. Here each word is one Meilisearch search (all in one multi-search): its
//! matches (as a phrase where the word may carry no typo; never as a prefix) are retrieved with
//! their stems, and the adapter decides and scores each match exactly as the embedded index
//! does ([`crate::search::scoring`]: the word's stem in a field, or within its typos), adds the
//! listings of a subcategory the text names, and orders them the embedded index's way — the
//! order's key (distance, price), words matched, aimed at the stated age, score, id. Totals
//! are exact; facets are counted by Meilisearch over exactly the listings found. When a word
//! has more than [`WORD_CAP`] matches the combined search answers instead (a large answer,
//! where only the order within its first page can differ).
//!
//! BM25 needs each field's average length: read from the index's documents (their first
//! [`LENGTHS_SAMPLE`]) at most every [`LENGTHS_FRESH`] and after this process writes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use meilisearch_sdk::documents::DocumentsQuery;
use meilisearch_sdk::search::Selectors;
use serde::Deserialize;
use welfare_core::territory::GeoPoint;

use super::{Geo, MeiliIndex, SEARCHED, engine, facets_of, quoted, quoted_list};
use crate::search::scoring::{
    FIELD_WEIGHTS, FUZZY_ANY_WEIGHT, FUZZY_TITLE_WEIGHT, SUBCATEGORY_BOOST, bm25, within_typos,
};
use crate::search::{FacetCounts, IndexError, IndexHit, IndexPage, IndexQuery, Order};

/// The most matches of one word retrieved to answer by words matched.
pub const WORD_CAP: usize = 250;
/// The most documents whose lengths are read for the fields' averages.
pub const LENGTHS_SAMPLE: usize = 20_000;
/// How long the fields' average lengths are used before they are read again.
pub const LENGTHS_FRESH: Duration = Duration::from_secs(30);
/// Documents read per request while reading lengths.
const LENGTHS_PAGE: usize = 1_000;

/// A query word as the index reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Word {
    /// Its Italian stem.
    pub(super) stem: String,
    /// The typos it may carry.
    pub(super) typos: u8,
    /// How many listings have the stem in their title, vocabulary, description.
    pub(super) in_fields: [u64; 3],
}

/// How many listings have a word, anywhere and field by field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Counts {
    pub(super) any: u64,
    pub(super) fields: [u64; 3],
}

/// A query's words and the number of listings indexed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Reading {
    pub(super) words: Vec<Word>,
    pub(super) listings: u64,
}

/// The fields' average lengths, and when they were read.
type Read = Option<(Instant, [f32; 3])>;

/// The fields' average lengths as last read, shared by the clones of an index.
#[derive(Debug, Clone, Default)]
pub(super) struct AverageLengths(Arc<tokio::sync::Mutex<Read>>);

/// What a retrieved match brings back.
#[derive(Debug, Deserialize)]
struct Candidate {
    id: String,
    #[serde(rename = "_geo")]
    geo: Option<Geo>,
    #[serde(default)]
    min_price_cents: i64,
    #[serde(default)]
    age_targeted: bool,
    #[serde(default)]
    subcategory: String,
    #[serde(default)]
    title_stems: String,
    #[serde(default)]
    vocabulary_stems: String,
    #[serde(default)]
    description_stems: String,
}

/// A document's field lengths.
#[derive(Debug, Deserialize)]
struct Lengths {
    #[serde(default)]
    lengths: [u32; 3],
}

/// A listing found, with what orders it.
struct Found {
    id: String,
    words: u32,
    score: f32,
    targeted: bool,
    key: f64,
    distance_m: Option<f64>,
}

/// How a candidate matches the words: how many it has, and its score.
fn matched(candidate: &Candidate, words: &[Word], listings: u64, average: [f32; 3]) -> (u32, f32) {
    let fields: [Vec<&str>; 3] = [
        candidate.title_stems.split_whitespace().collect(),
        candidate.vocabulary_stems.split_whitespace().collect(),
        candidate.description_stems.split_whitespace().collect(),
    ];
    let mut score = 0.0f32;
    let mut count = 0;
    for word in words {
        let mut has = false;
        for (k, field) in fields.iter().enumerate() {
            let tf = field.iter().filter(|stem| **stem == word.stem).count();
            if tf > 0 {
                let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
                let df = word.in_fields.get(k).copied().unwrap_or(0);
                let avg = average.get(k).copied().unwrap_or(1.0);
                let weight = FIELD_WEIGHTS.get(k).copied().unwrap_or(0.0);
                let tf = u32::try_from(tf).unwrap_or(u32::MAX);
                score += weight * bm25(df, listings, tf, len, avg);
                has = true;
            }
        }
        if word.typos > 0 {
            let near = |stem: &&str| within_typos(stem, &word.stem, word.typos);
            if fields[0].iter().any(near) {
                score += FUZZY_TITLE_WEIGHT;
                has = true;
            }
            if fields.iter().flatten().any(near) {
                score += FUZZY_ANY_WEIGHT;
                has = true;
            }
        }
        count += u32::from(has);
    }
    (count, score)
}

impl MeiliIndex {
    /// `query` answered by words matched, or `None` when a word has more than [`WORD_CAP`]
    /// matches.
    pub(super) async fn search_by_words(
        &self,
        query: &IndexQuery,
        filter: &str,
        reading: &Reading,
    ) -> Result<Option<IndexPage>, IndexError> {
        let words = &reading.words;
        let index = self.client.index(&self.uid);
        let texts: Vec<String> = words
            .iter()
            .map(|w| {
                if w.typos == 0 {
                    format!("\"{}\"", w.stem)
                } else {
                    w.stem.clone()
                }
            })
            .collect();
        let retrieved = [
            "id",
            "_geo",
            "min_price_cents",
            "age_targeted",
            "subcategory",
            "title_stems",
            "vocabulary_stems",
            "description_stems",
        ];
        let boosted = (!query.boost_subcategories.is_empty()).then(|| {
            format!(
                "({filter}) AND subcategory IN {}",
                quoted_list(query.boost_subcategories.iter().map(String::as_str))
            )
        });
        let of_subcategory: Vec<String> = query
            .boost_subcategories
            .iter()
            .map(|code| format!("subcategory = {}", quoted(code)))
            .collect();
        // Two passes: first how many each word matches, nothing retrieved (a large answer goes
        // to the combined search without fetching any listing); then the matches.
        let mut results = None;
        for hits in [0, WORD_CAP] {
            let mut multi = self.client.multi_search();
            for text in &texts {
                let mut search = index.search();
                search
                    .with_query(text)
                    .with_filter(filter)
                    .with_attributes_to_search_on(&SEARCHED)
                    .with_page(1)
                    .with_hits_per_page(hits)
                    .with_attributes_to_retrieve(Selectors::Some(&retrieved));
                multi.with_search_query(search.build());
            }
            if let Some(boosted) = &boosted {
                // Every listing of a subcategory the text names is in the answer…
                let mut search = index.search();
                search
                    .with_filter(boosted)
                    .with_page(1)
                    .with_hits_per_page(hits)
                    .with_attributes_to_retrieve(Selectors::Some(&retrieved));
                multi.with_search_query(search.build());
            }
            if hits == 0 {
                let counted = multi.execute::<Candidate>().await.map_err(engine)?;
                if counted
                    .results
                    .iter()
                    .any(|r| r.total_hits.unwrap_or(0) > WORD_CAP)
                {
                    return Ok(None);
                }
                continue;
            }
            // …boosted by how rare its subcategory is.
            for each in &of_subcategory {
                multi.with_search_query(
                    index
                        .search()
                        .with_filter(each)
                        .with_page(1)
                        .with_hits_per_page(0)
                        .build(),
                );
            }
            results = Some(multi.execute::<Candidate>().await.map_err(engine)?);
        }
        let Some(results) = results else {
            return Ok(None);
        };
        let retrieving = words.len() + usize::from(boosted.is_some());
        if results
            .results
            .iter()
            .take(retrieving)
            .any(|r| r.total_hits.unwrap_or(0) > WORD_CAP)
        {
            return Ok(None);
        }
        let average = self.average_lengths().await?;
        let listings = reading.listings;
        let boosts: HashMap<&str, f32> = query
            .boost_subcategories
            .iter()
            .zip(results.results.iter().skip(retrieving))
            .map(|(code, result)| {
                let df = u64::try_from(result.total_hits.unwrap_or(0)).unwrap_or(u64::MAX);
                (
                    code.as_str(),
                    SUBCATEGORY_BOOST * bm25(df, listings, 1, 1, 1.0),
                )
            })
            .collect();
        let mut found: HashMap<String, Found> = HashMap::new();
        for result in results.results.into_iter().take(retrieving) {
            for hit in result.hits {
                let candidate = hit.result;
                if found.contains_key(&candidate.id) {
                    continue;
                }
                let (count, mut score) = matched(&candidate, words, listings, average);
                let boost = boosts.get(candidate.subcategory.as_str()).copied();
                if count == 0 && boost.is_none() {
                    // Retrieved by Meilisearch's typo tolerance, not within the word's typos.
                    continue;
                }
                score += boost.unwrap_or(0.0);
                let distance_m = query.origin.zip(candidate.geo).and_then(|(origin, geo)| {
                    GeoPoint::new(geo.lat, geo.lng)
                        .ok()
                        .map(|at| origin.distance_m(at))
                });
                let key = match query.order {
                    Order::Relevance => 0.0,
                    Order::Distance => distance_m.unwrap_or(f64::INFINITY),
                    Order::Price => candidate.min_price_cents as f64,
                };
                found.insert(
                    candidate.id.clone(),
                    Found {
                        id: candidate.id,
                        words: count,
                        score,
                        targeted: query.age.is_some() && candidate.age_targeted,
                        key,
                        distance_m,
                    },
                );
            }
        }
        let mut found: Vec<Found> = found.into_values().collect();
        found.sort_by(|a, b| {
            a.key
                .total_cmp(&b.key)
                .then_with(|| b.words.cmp(&a.words))
                .then_with(|| b.targeted.cmp(&a.targeted))
                .then_with(|| b.score.total_cmp(&a.score))
                .then_with(|| a.id.cmp(&b.id))
        });
        let total = u64::try_from(found.len()).unwrap_or(u64::MAX);
        let facets = self.facets_of_ids(filter, &found).await?;
        let hits = found
            .into_iter()
            .skip(query.offset)
            .take(query.limit)
            .map(|f| IndexHit {
                score: f64::from(f.words) * 1_000.0 + f64::from(f.score),
                class: f.words,
                distance_m: f.distance_m,
                id: f.id,
            })
            .collect();
        Ok(Some(IndexPage {
            hits,
            total,
            facets,
        }))
    }

    /// The facets of exactly the listings found.
    async fn facets_of_ids(
        &self,
        filter: &str,
        found: &[Found],
    ) -> Result<Vec<FacetCounts>, IndexError> {
        if found.is_empty() {
            return Ok(facets_of(&HashMap::new()));
        }
        let ids = found
            .iter()
            .map(|f| quoted(&f.id))
            .collect::<Vec<_>>()
            .join(", ");
        let filter = format!("({filter}) AND id IN [{ids}]");
        let facets: Vec<&str> = super::FACETS.iter().map(|(meili, _)| *meili).collect();
        let results = self
            .client
            .index(&self.uid)
            .search()
            .with_filter(&filter)
            .with_facets(Selectors::Some(&facets))
            .with_page(1)
            .with_hits_per_page(0)
            .execute::<Lengths>()
            .await
            .map_err(engine)?;
        Ok(facets_of(&results.facet_distribution.unwrap_or_default()))
    }

    /// The title's, the vocabulary's and the description's average lengths in stems, as the
    /// embedded index computes them (tokens over documents).
    async fn average_lengths(&self) -> Result<[f32; 3], IndexError> {
        let mut kept = self.lengths.0.lock().await;
        if let Some((read, lengths)) = *kept
            && read.elapsed() < LENGTHS_FRESH
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
                .execute::<Lengths>()
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

    /// Forgets the fields' average lengths after a write.
    pub(super) async fn forget_lengths(&self) {
        *self.lengths.0.lock().await = None;
    }
}
