//! Answering by words matched, as the embedded index does. Meilisearch matches a query by
//! dropping words until enough documents match (always keeping one), so a listing that has a
//! later word but not the one kept is never found, and its `words` rule ranks the documents it
//! did find; the embedded index finds every listing with any of the query's words and ranks by
//! how many it has. Here each word is one Meilisearch search (in one multi-search): its matches
//! (exact for a word the embedded index would not correct, with Meilisearch's typo tolerance
//! otherwise; never as a prefix) are retrieved whole, and the adapter counts each listing's
//! words, adds the listings of a subcategory the text names, and orders them as the embedded
//! index does — the order's key (distance, price), words matched, aimed at the stated age, then
//! relevance (the sum of Meilisearch's ranking scores of its words), then id. Totals are exact;
//! facets are counted by Meilisearch over exactly the listings found. When a word has more
//! than [`WORD_CAP`] matches the combined search answers instead (a large answer, where only
//! the order of its first page can differ).

use std::collections::HashMap;

use meilisearch_sdk::search::Selectors;
use serde::Deserialize;
use welfare_core::territory::GeoPoint;

use super::{Geo, MeiliIndex, SEARCHED, engine, facets_of, quoted, quoted_list};
use crate::search::{IndexError, IndexHit, IndexPage, IndexQuery, Order};

/// The most matches of one word retrieved to answer by words matched.
pub const WORD_CAP: usize = 250;

/// A query word as the index reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Word {
    /// Its Italian stem.
    pub(super) stem: String,
    /// Matched exactly (no typo): typed in four letters or fewer, or common.
    pub(super) exact: bool,
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
}

/// A listing found, with what orders it.
struct Found {
    id: String,
    words: u32,
    score: f64,
    targeted: bool,
    key: f64,
    distance_m: Option<f64>,
}

impl MeiliIndex {
    /// `query` answered by words matched, or `None` when a word has more than [`WORD_CAP`]
    /// matches.
    pub(super) async fn search_by_words(
        &self,
        query: &IndexQuery,
        filter: &str,
        words: &[Word],
    ) -> Result<Option<IndexPage>, IndexError> {
        let index = self.client.index(&self.uid);
        let texts: Vec<String> = words
            .iter()
            .map(|w| {
                if w.exact {
                    format!("\"{}\"", w.stem)
                } else {
                    w.stem.clone()
                }
            })
            .collect();
        let retrieved = ["id", "_geo", "min_price_cents", "age_targeted"];
        let boosted = (!query.boost_subcategories.is_empty()).then(|| {
            format!(
                "({filter}) AND subcategory IN {}",
                quoted_list(query.boost_subcategories.iter().map(String::as_str))
            )
        });
        let mut multi = self.client.multi_search();
        for text in &texts {
            multi.with_search_query(
                index
                    .search()
                    .with_query(text)
                    .with_filter(filter)
                    .with_attributes_to_search_on(&SEARCHED)
                    .with_page(1)
                    .with_hits_per_page(WORD_CAP)
                    .with_attributes_to_retrieve(Selectors::Some(&retrieved))
                    .with_show_ranking_score(true)
                    .build(),
            );
        }
        if let Some(boosted) = &boosted {
            // Every listing of a subcategory the text names is in the answer.
            multi.with_search_query(
                index
                    .search()
                    .with_filter(boosted)
                    .with_page(1)
                    .with_hits_per_page(WORD_CAP)
                    .with_attributes_to_retrieve(Selectors::Some(&retrieved))
                    .build(),
            );
        }
        let results = multi.execute::<Candidate>().await.map_err(engine)?;
        if results
            .results
            .iter()
            .any(|r| r.total_hits.unwrap_or(0) > WORD_CAP)
        {
            return Ok(None);
        }
        let mut found: HashMap<String, Found> = HashMap::new();
        for (i, result) in results.results.into_iter().enumerate() {
            let is_word = i < words.len();
            for hit in result.hits {
                let candidate = hit.result;
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
                let entry = found.entry(candidate.id.clone()).or_insert(Found {
                    id: candidate.id,
                    words: 0,
                    score: 0.0,
                    targeted: query.age.is_some() && candidate.age_targeted,
                    key,
                    distance_m,
                });
                if is_word {
                    entry.words += 1;
                    entry.score += hit.ranking_score.unwrap_or(0.0);
                }
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
                score: f64::from(f.words) * 1_000.0 + f.score,
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
    ) -> Result<Vec<crate::search::FacetCounts>, IndexError> {
        if found.is_empty() {
            return Ok(facets_of(&HashMap::new()));
        }
        let ids = format!(
            "[{}]",
            found
                .iter()
                .map(|f| quoted(&f.id))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let filter = format!("({filter}) AND id IN {ids}");
        let facets: Vec<&str> = super::FACETS.iter().map(|(meili, _)| *meili).collect();
        let results = self
            .client
            .index(&self.uid)
            .search()
            .with_filter(&filter)
            .with_facets(Selectors::Some(&facets))
            .with_page(1)
            .with_hits_per_page(0)
            .execute::<Candidate>()
            .await
            .map_err(engine)?;
        Ok(facets_of(&results.facet_distribution.unwrap_or_default()))
    }
}
