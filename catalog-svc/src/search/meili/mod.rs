//! The Meilisearch adapter, through `meilisearch-sdk`: the same queries answered the same way
//! as the embedded index.
//!
//! Meilisearch has no Italian stemmer, so the adapter analyses text itself with the embedded
//! index's Italian chain (split, lowercase, fold accents, drop stop words, Snowball stem) and
//! indexes the stems of the title, the vocabulary and the description in that order of
//! importance; queries are analysed the same way, each word with the embedded index's typo
//! allowance (`scoring::typos_allowed`: none for a word typed in four letters or fewer or
//! found in one listing in a hundred, sent as a phrase; otherwise Meilisearch's typo tolerance,
//! one typo from 4 letters of stem and two from 6 — wider than the embedded index's, which is
//! counted on the typed word, so that its matches include the embedded index's), never as a
//! prefix (prefix search is disabled). A query with words is answered by words matched
//! ([`by_words`]): each word's matches retrieved with their stems, decided, scored and ordered
//! as the embedded index does them; when a word matches more than [`WORD_CAP`]
//! listings, one combined search answers instead, with the words some admitted listing has, the
//! "last" matching strategy (Meilisearch drops words from the end until enough documents
//! match) and the `words` ranking rule. Filters are Meilisearch filter expressions equal to
//! `IndexQuery::admits`;
//! totals and facets are exhaustive (page-mode search, `maxTotalHits` and `maxValuesPerFacet`
//! set above the catalogue's size); distance and price orders come first through the `sort`
//! ranking rule, relevance after them.
//!
//! Writes wait for their Meilisearch task and check its outcome: a failed or timed-out task is
//! an [`IndexError::Task`]. Settings are applied (and waited for) before any document reaches
//! an index. A rebuild fills a new index and swaps it with the live one in one
//! `swap-indexes` task, then deletes the old content, so searches never see a half-built index.

use std::collections::HashMap;
use std::time::Duration;

use meilisearch_sdk::client::{Client, SwapIndexes};
use meilisearch_sdk::errors::{Error as MeiliError, ErrorCode, MeilisearchError};
use meilisearch_sdk::search::{MatchingStrategies, Selectors};
use meilisearch_sdk::settings::{
    FacetingSettings, MinWordSizeForTypos, PaginationSetting, PrefixSearchSettings, Settings,
    TypoToleranceSettings,
};
use meilisearch_sdk::task_info::TaskInfo;
use meilisearch_sdk::tasks::Task;
use serde::{Deserialize, Serialize};
use tantivy::tokenizer::TextAnalyzer;
use welfare_core::eligibility::MAX_AGE_YEARS;
use welfare_core::territory::GeoPoint;

use super::embedded::italian_analyzer;

mod by_words;
mod reading;
mod stamp;
mod statistics;
use super::{
    FacetCounts, IndexError, IndexHit, IndexPage, IndexQuery, Order, SearchDocument, SearchIndex,
};
pub use by_words::WORD_CAP;
pub use statistics::{FRESH as STATISTICS_FRESH, LENGTHS_SAMPLE, MAX_KEPT_WORDS};

/// Documents sent per Meilisearch task.
const BATCH: usize = 10_000;
/// The most hits a search counts exactly (the catalogue is far smaller).
const MAX_TOTAL_HITS: usize = 10_000_000;
/// The most values a facet reports (more than there are comuni or subcategories).
const MAX_FACET_VALUES: usize = 10_000;
/// How often a pending task is polled.
const POLL: Duration = Duration::from_millis(20);

/// The facet fields as Meilisearch names them, and as the port names them.
const FACETS: [(&str, &str); 4] = [
    ("category", "category"),
    ("subcategory", "subcategory"),
    ("comuni", "comune"),
    ("free", "price"),
];

/// How the index is tuned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tuning {
    /// Italian stems, typo thresholds, ranking rules: what the service runs.
    Italian,
    /// Meilisearch's own relevance defaults over the raw text (only the attributes that
    /// filters, facets and orders need are declared): the baseline the tuning is measured
    /// against.
    MeilisearchDefaults,
}

/// Where the Meilisearch server is and which index holds the catalogue.
#[derive(Clone)]
pub struct MeiliConfig {
    pub url: String,
    pub api_key: Option<String>,
    pub index: String,
    /// How long a write task may take before it is reported failed.
    pub task_timeout: Duration,
}

/// The key never appears in logs.
impl std::fmt::Debug for MeiliConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeiliConfig")
            .field("url", &self.url)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("index", &self.index)
            .field("task_timeout", &self.task_timeout)
            .finish()
    }
}

/// The Meilisearch search index: cheap to clone.
#[derive(Clone)]
pub struct MeiliIndex {
    client: Client,
    uid: String,
    tuning: Tuning,
    analyzer: TextAnalyzer,
    task_timeout: Duration,
    /// The index's figures, read from it now and then.
    statistics: statistics::Statistics,
}

impl std::fmt::Debug for MeiliIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeiliIndex")
            .field("uid", &self.uid)
            .field("tuning", &self.tuning)
            .finish_non_exhaustive()
    }
}

/// A document as Meilisearch stores it.
#[derive(Debug, Serialize)]
struct MeiliDocument<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vocabulary: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title_stems: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vocabulary_stems: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description_stems: Option<String>,
    /// How many stems the title, the vocabulary and the description have: what BM25 weighs a
    /// match by (see `scoring`).
    #[serde(skip_serializing_if = "Option::is_none")]
    lengths: Option<[u32; 3]>,
    provider_id: &'a str,
    category: &'static str,
    subcategory: &'a str,
    comuni: &'a [String],
    free: bool,
    min_price_cents: i64,
    min_age: u8,
    max_age: u8,
    age_targeted: bool,
    verified_at: i64,
    #[serde(rename = "_geo", skip_serializing_if = "Option::is_none")]
    geo: Option<Geo>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Geo {
    lat: f64,
    lng: f64,
}

/// The attributes an Italian-tuned index searches.
const SEARCHED: [&str; 3] = ["title_stems", "vocabulary_stems", "description_stems"];

/// What a hit brings back.
#[derive(Debug, Deserialize)]
struct MeiliHit {
    id: String,
    #[serde(rename = "_geo")]
    geo: Option<Geo>,
}

fn engine(error: impl std::fmt::Display) -> IndexError {
    IndexError::Engine(error.to_string())
}

/// The stems of a text, space-separated.
fn stems_with(analyzer: &mut TextAnalyzer, text: &str) -> String {
    let mut stream = analyzer.token_stream(text);
    let mut out = String::with_capacity(text.len());
    stream.process(&mut |token| {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&token.text);
    });
    out
}

/// A string as a quoted Meilisearch filter value.
fn quoted(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

fn quoted_list<'a>(values: impl Iterator<Item = &'a str>) -> String {
    let values: Vec<String> = values.map(quoted).collect();
    format!("[{}]", values.join(", "))
}

/// The Meilisearch filter expression equal to `IndexQuery::admits`.
fn filter_of(query: &IndexQuery) -> String {
    let mut parts = vec![format!("verified_at >= {}", query.fresh_since)];
    if !query.categories.is_empty() {
        parts.push(format!(
            "category IN {}",
            quoted_list(query.categories.iter().map(|c| c.code()))
        ));
    }
    if !query.subcategories.is_empty() {
        parts.push(format!(
            "subcategory IN {}",
            quoted_list(query.subcategories.iter().map(String::as_str))
        ));
    }
    if !query.excluded_subcategories.is_empty() {
        parts.push(format!(
            "NOT subcategory IN {}",
            quoted_list(query.excluded_subcategories.iter().map(String::as_str))
        ));
    }
    if let Some(code) = &query.served {
        // A listing serving the whole territory lists every comune.
        parts.push(format!("comuni = {}", quoted(code)));
    }
    if query.free_only {
        parts.push("free = true".to_owned());
    }
    if let Some(max) = query.max_price_cents {
        parts.push(format!("min_price_cents <= {max}"));
    }
    if let Some(age) = query.age {
        parts.push(format!("min_age <= {age} AND max_age >= {age}"));
    }
    if let Some(provider) = &query.provider_id {
        parts.push(format!("provider_id = {}", quoted(provider)));
    }
    parts.join(" AND ")
}

/// The `sort` parameter of an order.
fn sort_of(query: &IndexQuery) -> Vec<String> {
    match (query.order, query.origin) {
        (Order::Distance, Some(origin)) => {
            vec![format!("_geoPoint({}, {}):asc", origin.lat(), origin.lon())]
        }
        (Order::Price, _) => vec!["min_price_cents:asc".to_owned()],
        // For a stated age, listings aimed at it first.
        (Order::Relevance, _) if query.age.is_some() => vec!["age_targeted:desc".to_owned()],
        _ => Vec::new(),
    }
}

/// The page to ask for: (page, hits per page, hits to skip in it). Page mode gives exact
/// totals; an offset that is not a multiple of the limit reads from the start.
fn paging(offset: usize, limit: usize) -> (usize, usize, usize) {
    if limit > 0 && offset.is_multiple_of(limit) {
        (offset / limit + 1, limit, 0)
    } else {
        (1, offset + limit, offset)
    }
}

/// The facet counts in the port's form: most frequent first, then by value.
fn facets_of(distribution: &HashMap<String, HashMap<String, usize>>) -> Vec<FacetCounts> {
    FACETS
        .iter()
        .map(|(meili, field)| {
            let mut buckets: Vec<(String, u64)> = distribution
                .get(*meili)
                .into_iter()
                .flatten()
                .filter(|(_, count)| **count > 0)
                .map(|(value, count)| {
                    let value = match (*field, value.as_str()) {
                        ("price", "true") => "free".to_owned(),
                        ("price", "false") => "paid".to_owned(),
                        _ => value.clone(),
                    };
                    (value, u64::try_from(*count).unwrap_or(u64::MAX))
                })
                .collect();
            buckets.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            FacetCounts { field, buckets }
        })
        .collect()
}

impl MeiliIndex {
    /// Connects to the server and makes sure the live index exists with this tuning's
    /// settings (applied and finished before this returns, so documents never reach an index
    /// without them).
    pub async fn open(config: &MeiliConfig, tuning: Tuning) -> Result<MeiliIndex, IndexError> {
        let client = Client::new(config.url.clone(), config.api_key.clone()).map_err(engine)?;
        let index = MeiliIndex {
            client,
            uid: config.index.clone(),
            tuning,
            analyzer: italian_analyzer(),
            task_timeout: config.task_timeout,
            statistics: statistics::Statistics::default(),
        };
        index.prepare(&index.uid).await?;
        Ok(index)
    }

    /// The uid of the live index.
    pub fn uid(&self) -> &str {
        &self.uid
    }

    /// The settings this tuning applies.
    pub fn settings(&self) -> Settings {
        let filterable = [
            "id",
            "provider_id",
            "category",
            "subcategory",
            "comuni",
            "free",
            "min_price_cents",
            "min_age",
            "max_age",
            "verified_at",
            "_geo",
        ];
        let common = Settings::new()
            .with_filterable_attributes(filterable)
            .with_sortable_attributes(["_geo", "min_price_cents", "age_targeted"])
            .with_pagination(PaginationSetting {
                max_total_hits: MAX_TOTAL_HITS,
            })
            .with_faceting(FacetingSettings {
                max_values_per_facet: MAX_FACET_VALUES,
                sort_facet_values_by: None,
            });
        match self.tuning {
            Tuning::MeilisearchDefaults => common,
            Tuning::Italian => common
                .with_searchable_attributes(SEARCHED)
                // What a match brings back, and the lengths BM25 averages.
                .with_displayed_attributes(by_words::RETRIEVED.iter().chain(&["lengths"]))
                .with_ranking_rules([
                    "sort",
                    "words",
                    "typo",
                    "proximity",
                    "attribute",
                    "exactness",
                ])
                .with_typo_tolerance(TypoToleranceSettings {
                    enabled: Some(true),
                    disable_on_attributes: Some(Vec::new()),
                    disable_on_words: Some(Vec::new()),
                    min_word_size_for_typos: Some(MinWordSizeForTypos {
                        one_typo: Some(4),
                        two_typos: Some(6),
                    }),
                    disable_on_numbers: None,
                })
                .with_proximity_precision("byWord"),
        }
    }

    /// A document as Meilisearch stores it, analysed with `analyzer` (one per batch).
    fn document<'a>(
        &self,
        doc: &'a SearchDocument,
        analyzer: &mut TextAnalyzer,
    ) -> MeiliDocument<'a> {
        let italian = self.tuning == Tuning::Italian;
        let raw = |text: &'a str| (!italian).then_some(text);
        let mut stemmed = |text: &str| italian.then(|| stems_with(analyzer, text));
        let title_stems = stemmed(&doc.title);
        let vocabulary_stems = stemmed(&doc.vocabulary);
        let description_stems = stemmed(&doc.description);
        let count = |stems: &Option<String>| {
            stems.as_deref().map_or(0, |s| {
                u32::try_from(s.split_whitespace().count()).unwrap_or(u32::MAX)
            })
        };
        let lengths = italian.then(|| {
            [
                count(&title_stems),
                count(&vocabulary_stems),
                count(&description_stems),
            ]
        });
        MeiliDocument {
            id: &doc.id,
            title: raw(&doc.title),
            vocabulary: raw(&doc.vocabulary),
            description: raw(&doc.description),
            title_stems,
            vocabulary_stems,
            description_stems,
            lengths,
            provider_id: &doc.provider_id,
            category: doc.category.code(),
            subcategory: &doc.subcategory,
            comuni: &doc.comuni,
            free: doc.free,
            min_price_cents: doc.min_price_cents,
            min_age: doc.min_age,
            max_age: doc.max_age,
            age_targeted: doc.min_age > 0 || doc.max_age < MAX_AGE_YEARS,
            verified_at: doc.verified_at,
            geo: doc.location.map(|at| Geo {
                lat: at.lat(),
                lng: at.lon(),
            }),
        }
    }

    /// Waits for a task and turns anything but success into an error naming the task.
    async fn finished(&self, task: TaskInfo, what: &str) -> Result<(), IndexError> {
        let uid = task.task_uid;
        match task
            .wait_for_completion(&self.client, Some(POLL), Some(self.task_timeout))
            .await
        {
            Ok(Task::Succeeded { .. }) => Ok(()),
            Ok(Task::Failed { content }) => Err(IndexError::Task {
                uid,
                what: what.to_owned(),
                code: error_code(&content.error),
                message: content.error.error_message,
            }),
            Ok(_) => Err(IndexError::Task {
                uid,
                what: what.to_owned(),
                code: "unfinished".to_owned(),
                message: format!("not finished after {:?}", self.task_timeout),
            }),
            Err(MeiliError::Timeout) => Err(IndexError::Task {
                uid,
                what: what.to_owned(),
                code: "timeout".to_owned(),
                message: format!("not finished after {:?}", self.task_timeout),
            }),
            Err(error) => Err(engine(error)),
        }
    }

    /// Creates an index if it does not exist, then applies the settings and waits for them.
    async fn prepare(&self, uid: &str) -> Result<(), IndexError> {
        let created = self
            .client
            .create_index(uid, Some("id"))
            .await
            .map_err(engine)?;
        match self.finished(created, "create index").await {
            Err(IndexError::Task { code, .. })
                if code == ErrorCode::IndexAlreadyExists.to_string() => {}
            other => other?,
        }
        let task = self
            .client
            .index(uid)
            .set_settings(&self.settings())
            .await
            .map_err(engine)?;
        self.finished(task, "apply settings").await?;
        if self.tuning == Tuning::Italian {
            // The embedded index never matches a word as a prefix of another.
            let task = self
                .client
                .index(uid)
                .set_prefix_search(PrefixSearchSettings::Disabled)
                .await
                .map_err(engine)?;
            self.finished(task, "disable prefix search").await?;
        }
        Ok(())
    }

    /// Adds or replaces documents in an index, in batches, each task checked.
    async fn add(&self, uid: &str, documents: &[SearchDocument]) -> Result<(), IndexError> {
        let index = self.client.index(uid);
        for batch in documents.chunks(BATCH) {
            let mut analyzer = self.analyzer.clone();
            let batch: Vec<MeiliDocument> = batch
                .iter()
                .map(|d| self.document(d, &mut analyzer))
                .collect();
            let task = index
                .add_or_replace(&batch, Some("id"))
                .await
                .map_err(engine)?;
            self.finished(task, "add documents").await?;
        }
        Ok(())
    }

    /// The number of documents in the live index.
    pub async fn document_count(&self) -> Result<usize, IndexError> {
        let stats = self
            .client
            .index(&self.uid)
            .get_stats()
            .await
            .map_err(engine)?;
        Ok(stats.number_of_documents)
    }

    /// Deletes the live index and its stamp (for tests and operators retiring a deployment).
    pub async fn delete(&self) -> Result<(), IndexError> {
        self.drop_index(&self.state_uid()).await?;
        self.drop_index(&self.uid).await
    }

    /// Deletes an index; one that does not exist is already gone.
    async fn drop_index(&self, uid: &str) -> Result<(), IndexError> {
        let task = self.client.delete_index(uid).await.map_err(engine)?;
        match self.finished(task, "delete index").await {
            Err(IndexError::Task { code, .. }) if code == ErrorCode::IndexNotFound.to_string() => {
                Ok(())
            }
            other => other,
        }
    }
}

impl SearchIndex for MeiliIndex {
    #[tracing::instrument(name = "search.meilisearch.upsert", skip_all, fields(otel.kind = "client"))]
    async fn upsert(&self, documents: Vec<SearchDocument>) -> Result<(), IndexError> {
        let added = self.add(&self.uid, &documents).await;
        self.forget_statistics().await;
        added
    }

    #[tracing::instrument(name = "search.meilisearch.remove", skip_all, fields(otel.kind = "client"))]
    async fn remove(&self, ids: Vec<String>) -> Result<(), IndexError> {
        let task = self
            .client
            .index(&self.uid)
            .delete_documents(&ids)
            .await
            .map_err(engine)?;
        let deleted = self.finished(task, "delete documents").await;
        self.forget_statistics().await;
        deleted
    }

    #[tracing::instrument(name = "search.meilisearch.rebuild", skip_all, fields(otel.kind = "client"))]
    async fn rebuild(&self, documents: Vec<SearchDocument>) -> Result<(), IndexError> {
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        // Unique per process and moment: two replicas rebuilding at once fill indexes of
        // their own.
        let next = format!("{}__rebuild_{millis}_{}", self.uid, std::process::id());
        let built = async {
            self.prepare(&next).await?;
            self.add(&next, &documents).await?;
            // The live index must exist to be swapped with.
            self.prepare(&self.uid).await?;
            let swap = self
                .client
                .swap_indexes([&SwapIndexes {
                    indexes: (self.uid.clone(), next.clone()),
                    rename: None,
                }])
                .await
                .map_err(engine)?;
            self.finished(swap, "swap indexes").await
        }
        .await;
        self.forget_statistics().await;
        // After the swap `next` holds the old content; after a failure, the partial new one.
        let dropped = self.drop_index(&next).await;
        built?;
        dropped
    }

    #[tracing::instrument(name = "search.meilisearch.stamp", skip_all, fields(otel.kind = "client"))]
    async fn stamp(&self) -> Result<Option<String>, IndexError> {
        self.read_stamp().await
    }

    #[tracing::instrument(name = "search.meilisearch.set_stamp", skip_all, fields(otel.kind = "client"))]
    async fn set_stamp(&self, stamp: &str) -> Result<(), IndexError> {
        self.write_stamp(stamp).await
    }

    fn shared(&self) -> bool {
        true
    }

    fn name(&self) -> String {
        format!("meilisearch/{}", self.uid)
    }

    #[tracing::instrument(name = "search.meilisearch.word_counts", skip_all, fields(otel.kind = "client"))]
    async fn word_counts(&self, words: &[String]) -> Result<Vec<u64>, IndexError> {
        let stems: Vec<Option<String>> = {
            let mut analyzer = self.analyzer.clone();
            words
                .iter()
                .map(|word| {
                    let stem = stems_with(&mut analyzer, word);
                    Some(stem).filter(|s| !s.is_empty() && !s.contains(' '))
                })
                .collect()
        };
        let known: Vec<String> = stems.iter().flatten().cloned().collect();
        let mut counts = if known.is_empty() {
            Vec::new()
        } else {
            self.exact_count(&known, &SEARCHED).await?
        }
        .into_iter();
        Ok(stems
            .iter()
            .map(|stem| match stem {
                Some(_) => counts
                    .next()
                    .map_or(0, |n| u64::try_from(n).unwrap_or(u64::MAX)),
                None => 0,
            })
            .collect())
    }

    #[tracing::instrument(name = "search.meilisearch.search", skip_all, fields(otel.kind = "client"))]
    async fn search(&self, query: &IndexQuery) -> Result<IndexPage, IndexError> {
        let filter = filter_of(query);
        let mut text = match self.tuning {
            Tuning::Italian => {
                let reading = self.read_words(&query.text).await?;
                if reading.words.is_empty() {
                    String::new()
                } else {
                    match self.search_by_words(query, &filter, &reading).await? {
                        by_words::Answer::Page(page) => return Ok(page),
                        by_words::Answer::TooMany(found) => found,
                    }
                }
            }
            Tuning::MeilisearchDefaults => query.text.clone(),
        };
        loop {
            let page = self.search_text(query, &filter, &text).await?;
            // A word some listing has alone, as the last word Meilisearch matches as a prefix,
            // may match nothing in front of others; the "last" strategy keeps the first word
            // whatever happens, so the answer would be empty. Drop it and ask again.
            match text.split_once(' ') {
                Some((_, rest)) if page.total == 0 && self.tuning == Tuning::Italian => {
                    text = rest.to_owned();
                }
                _ => return Ok(page),
            }
        }
    }
}

impl MeiliIndex {
    /// One search of `text` (already analysed) under `filter`.
    async fn search_text(
        &self,
        query: &IndexQuery,
        filter: &str,
        text: &str,
    ) -> Result<IndexPage, IndexError> {
        let sort = sort_of(query);
        let sort: Vec<&str> = sort.iter().map(String::as_str).collect();
        let facets: Vec<&str> = FACETS.iter().map(|(meili, _)| *meili).collect();
        let (page, per_page, skip) = paging(query.offset, query.limit);
        let index = self.client.index(&self.uid);
        let mut search = index.search();
        search
            .with_query(text)
            .with_filter(filter)
            .with_facets(Selectors::Some(&facets))
            .with_page(page)
            .with_hits_per_page(per_page)
            .with_attributes_to_retrieve(Selectors::Some(&["id", "_geo"]))
            .with_show_ranking_score(true)
            .with_show_ranking_score_details(true);
        if !sort.is_empty() {
            search.with_sort(&sort);
        }
        if self.tuning == Tuning::Italian {
            search.with_matching_strategy(MatchingStrategies::LAST);
        }
        let results = search.execute::<MeiliHit>().await.map_err(engine)?;
        let hits = results
            .hits
            .into_iter()
            .skip(skip)
            .map(|hit| IndexHit {
                distance_m: query.origin.zip(hit.result.geo).and_then(|(origin, geo)| {
                    GeoPoint::new(geo.lat, geo.lng)
                        .ok()
                        .map(|at| origin.distance_m(at))
                }),
                id: hit.result.id,
                score: hit.ranking_score.unwrap_or(0.0),
                // The words ranking rule's count of the query words the hit matched.
                class: hit
                    .ranking_score_details
                    .as_ref()
                    .and_then(|details| details.get("words"))
                    .and_then(|words| words.get("matchingWords"))
                    .and_then(serde_json::Value::as_u64)
                    .and_then(|n| u32::try_from(n).ok())
                    .unwrap_or(0),
            })
            .collect();
        Ok(IndexPage {
            hits,
            total: u64::try_from(results.total_hits.unwrap_or(0)).unwrap_or(u64::MAX),
            facets: facets_of(&results.facet_distribution.unwrap_or_default()),
        })
    }
}

/// A failed task's error code. The SDK reads codes newer than itself as `unknown`; the server's
/// own code is then taken from the error's documentation link (`…/errors#the_code`).
fn error_code(error: &MeilisearchError) -> String {
    if error.error_code != ErrorCode::Unknown {
        return error.error_code.to_string();
    }
    error
        .error_link
        .rsplit_once('#')
        .map(|(_, code)| code)
        .filter(|code| {
            !code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        })
        .unwrap_or("unknown")
        .to_owned()
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use welfare_core::category::Category;

    fn query() -> IndexQuery {
        IndexQuery::everything(100, 20)
    }

    #[test]
    fn a_code_the_sdk_does_not_know_is_read_from_the_link() {
        let error = |code: &str, link: &str| -> MeilisearchError {
            serde_json::from_value(serde_json::json!({
                "message": "m", "code": code, "type": "invalid_request", "link": link
            }))
            .expect("error")
        };
        assert_eq!(
            error_code(&error(
                "index_not_found",
                "https://docs.meilisearch.com/errors#index_not_found"
            )),
            "index_not_found"
        );
        assert_eq!(
            error_code(&error(
                "a_code_from_the_future",
                "https://docs.meilisearch.com/errors#a_code_from_the_future"
            )),
            "a_code_from_the_future"
        );
        assert_eq!(error_code(&error("a_code_from_the_future", "")), "unknown");
        assert_eq!(
            error_code(&error("a_code_from_the_future", "https://x#<script>")),
            "unknown"
        );
    }

    #[test]
    fn every_filter_becomes_one_clause() {
        assert_eq!(filter_of(&query()), "verified_at >= 100");
        let all = IndexQuery {
            categories: vec![Category::SocioAssistenziale, Category::Sanitario],
            subcategories: vec!["sad".to_owned()],
            served: Some("098001".to_owned()),
            free_only: true,
            max_price_cents: Some(1_500),
            age: Some(80),
            provider_id: Some("p\"1".to_owned()),
            ..query()
        };
        assert_eq!(
            filter_of(&all),
            "verified_at >= 100 AND category IN [\"socio-assistenziale\", \"sanitario\"] AND subcategory IN \
             [\"sad\"] AND comuni = \"098001\" AND free = true AND min_price_cents <= 1500 AND \
             min_age <= 80 AND max_age >= 80 AND provider_id = \"p\\\"1\""
        );
    }

    #[test]
    fn the_key_is_not_in_debug_output() {
        let config = MeiliConfig {
            url: "http://meili:7700".to_owned(),
            api_key: Some("s3cret-master-key".to_owned()),
            index: "listings".to_owned(),
            task_timeout: Duration::from_secs(1),
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
    }

    #[test]
    fn offsets_on_a_page_boundary_use_page_mode() {
        assert_eq!(paging(0, 20), (1, 20, 0));
        assert_eq!(paging(40, 20), (3, 20, 0));
        assert_eq!(paging(30, 20), (1, 50, 30));
        assert_eq!(paging(0, 0), (1, 0, 0));
    }

    #[test]
    fn facet_values_are_named_as_the_port_names_them() {
        let distribution = HashMap::from([
            (
                "free".to_owned(),
                HashMap::from([("true".to_owned(), 2), ("false".to_owned(), 5)]),
            ),
            (
                "comuni".to_owned(),
                HashMap::from([("098001".to_owned(), 3), ("098002".to_owned(), 0)]),
            ),
        ]);
        let facets = facets_of(&distribution);
        assert_eq!(facets[2].field, "comune");
        assert_eq!(facets[2].buckets, vec![("098001".to_owned(), 3)]);
        assert_eq!(
            facets[3].buckets,
            vec![("paid".to_owned(), 5), ("free".to_owned(), 2)]
        );
        assert!(facets[0].buckets.is_empty());
    }

    #[test]
    fn orders_sort_first() {
        let origin = GeoPoint::new(45.3, 9.5).expect("point");
        let by_distance = IndexQuery {
            order: Order::Distance,
            origin: Some(origin),
            ..query()
        };
        assert_eq!(sort_of(&by_distance), vec!["_geoPoint(45.3, 9.5):asc"]);
        let by_price = IndexQuery {
            order: Order::Price,
            ..query()
        };
        assert_eq!(sort_of(&by_price), vec!["min_price_cents:asc"]);
        assert!(sort_of(&query()).is_empty());
    }
}
