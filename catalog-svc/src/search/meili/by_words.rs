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
//! are exact; facets are counted over exactly the listings found. When a word has more than
//! [`WORD_CAP`] admitted matches the combined search answers instead (a large answer, where only
//! the order within its first page can differ).
//!
//! The index's figures (each word's counts, the subcategories' sizes, the fields' average
//! lengths for BM25) come from [`super::statistics`]; with them known, a search is one round
//! trip.

use std::collections::HashMap;

use meilisearch_sdk::search::Selectors;
use serde::Deserialize;
use welfare_core::territory::GeoPoint;

use super::statistics::{Counts, total};
use super::{Geo, MeiliIndex, SEARCHED, engine, facets_of, quoted_list};
use crate::search::scoring::{
    FIELD_WEIGHTS, FUZZY_ANY_WEIGHT, FUZZY_TITLE_WEIGHT, SUBCATEGORY_BOOST, bm25, within_typos,
};
use crate::search::{IndexError, IndexHit, IndexPage, IndexQuery, Order};

/// The most matches of one word retrieved to answer by words matched.
pub const WORD_CAP: usize = 250;

/// A query word as the index reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Word {
    /// Its Italian stem.
    pub(super) stem: String,
    /// The typos it may carry.
    pub(super) typos: u8,
    /// How many listings have it.
    pub(super) counts: Counts,
}

impl Word {
    /// How many listings its search matches, whatever the filter: exactly where it may carry
    /// no typo (a phrase), else within Meilisearch's typo tolerance.
    fn matches(&self) -> u64 {
        if self.typos == 0 {
            self.counts.any
        } else {
            self.counts.fuzzy
        }
    }
}

/// A query's words and the number of listings indexed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Reading {
    pub(super) words: Vec<Word>,
    pub(super) listings: u64,
}

/// How a query is answered by words matched.
pub(super) enum Answer {
    /// Every match found, scored and ordered.
    Page(IndexPage),
    /// A word has more than [`WORD_CAP`] admitted matches: the combined search answers, with
    /// these words (those some admitted listing has, as far as they were counted).
    TooMany(String),
}

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
    category: String,
    #[serde(default)]
    subcategory: String,
    #[serde(default)]
    comuni: Vec<String>,
    #[serde(default)]
    free: bool,
    #[serde(default)]
    title_stems: String,
    #[serde(default)]
    vocabulary_stems: String,
    #[serde(default)]
    description_stems: String,
}

/// The attributes a match brings back.
pub(super) const RETRIEVED: [&str; 11] = [
    "id",
    "_geo",
    "min_price_cents",
    "age_targeted",
    "category",
    "subcategory",
    "comuni",
    "free",
    "title_stems",
    "vocabulary_stems",
    "description_stems",
];

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
                let df = word.counts.fields.get(k).copied().unwrap_or(0);
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
    /// `query` answered by words matched, or [`Answer::TooMany`] when a word has more than
    /// [`WORD_CAP`] admitted matches. One round trip when every word's figures are known and
    /// none may match more than the cap; one more first, counting under the filter those that
    /// may.
    pub(super) async fn search_by_words(
        &self,
        query: &IndexQuery,
        filter: &str,
        reading: &Reading,
    ) -> Result<Answer, IndexError> {
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
        // Every listing of a subcategory the text names is in the answer, boosted by how rare
        // its subcategory is.
        let boosted = (!query.boost_subcategories.is_empty()).then(|| {
            format!(
                "({filter}) AND subcategory IN {}",
                quoted_list(query.boost_subcategories.iter().map(String::as_str))
            )
        });
        let of_subcategory = self.subcategory_counts(&query.boost_subcategories).await?;
        // The retrievals: each word's matches, then the named subcategories' listings.
        let retrieval = |i: usize, hits: usize| {
            let mut search = index.search();
            match texts.get(i) {
                Some(text) => search
                    .with_query(text)
                    .with_filter(filter)
                    .with_attributes_to_search_on(&SEARCHED),
                None => search.with_filter(boosted.as_deref().unwrap_or(filter)),
            };
            search
                .with_page(1)
                .with_hits_per_page(hits)
                .with_attributes_to_retrieve(Selectors::Some(&RETRIEVED))
                .build()
        };
        let cap = u64::try_from(WORD_CAP).unwrap_or(u64::MAX);
        let most: Vec<u64> = words
            .iter()
            .map(Word::matches)
            .chain(boosted.is_some().then(|| of_subcategory.iter().sum()))
            .collect();
        let mut admitted: Vec<Option<u64>> = vec![None; most.len()];
        // A retrieval that may match more than the cap is counted under the filter first,
        // nothing retrieved: a large answer goes to the combined search without fetching any.
        let large: Vec<usize> = (0..most.len())
            .filter(|i| most.get(*i).is_some_and(|n| *n > cap))
            .collect();
        if !large.is_empty() {
            let mut multi = self.client.multi_search();
            for i in &large {
                multi.with_search_query(retrieval(*i, 0));
            }
            let counted = multi.execute::<Candidate>().await.map_err(engine)?;
            for (i, result) in large.iter().zip(&counted.results) {
                if let Some(slot) = admitted.get_mut(*i) {
                    *slot = Some(total(result.total_hits));
                }
            }
            if admitted.iter().flatten().any(|n| *n > cap) {
                return Ok(Answer::TooMany(found(words, &admitted)));
            }
        }
        let mut multi = self.client.multi_search();
        for i in 0..most.len() {
            multi.with_search_query(retrieval(i, WORD_CAP));
        }
        let results = multi.execute::<Candidate>().await.map_err(engine)?;
        let totals: Vec<Option<u64>> = results
            .results
            .iter()
            .map(|r| Some(total(r.total_hits)))
            .collect();
        if totals.iter().flatten().any(|n| *n > cap) {
            // The index grew since its figures were read.
            return Ok(Answer::TooMany(found(words, &totals)));
        }
        let average = self.average_lengths().await?;
        let listings = reading.listings;
        let boosts: HashMap<&str, f32> = query
            .boost_subcategories
            .iter()
            .zip(&of_subcategory)
            .map(|(code, df)| {
                (
                    code.as_str(),
                    SUBCATEGORY_BOOST * bm25(*df, listings, 1, 1, 1.0),
                )
            })
            .collect();
        let mut found: HashMap<String, Found> = HashMap::new();
        let mut distribution: HashMap<String, HashMap<String, usize>> = HashMap::new();
        for result in results.results {
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
                count_facets(&mut distribution, &candidate);
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
        Ok(Answer::Page(IndexPage {
            hits,
            total,
            facets: facets_of(&distribution),
        }))
    }
}

/// The words some admitted listing has: counted under the filter where they were, else
/// anywhere (within Meilisearch's typo tolerance, as the combined search matches them).
fn found(words: &[Word], admitted: &[Option<u64>]) -> String {
    let found: Vec<&str> = words
        .iter()
        .zip(admitted)
        .filter(|(word, admitted)| admitted.unwrap_or(word.counts.fuzzy) > 0)
        .map(|(word, _)| word.stem.as_str())
        .collect();
    found.join(" ")
}

/// Adds a listing found to the facet counts, as Meilisearch names fields and values.
fn count_facets(distribution: &mut HashMap<String, HashMap<String, usize>>, found: &Candidate) {
    let free = found.free.to_string();
    let values: [(&str, Vec<&str>); 4] = [
        ("category", vec![found.category.as_str()]),
        ("subcategory", vec![found.subcategory.as_str()]),
        ("comuni", found.comuni.iter().map(String::as_str).collect()),
        ("free", vec![free.as_str()]),
    ];
    for (field, values) in values {
        let counts = distribution.entry(field.to_owned()).or_default();
        for value in values {
            *counts.entry(value.to_owned()).or_default() += 1;
        }
    }
}
