//! Catalogue search: the [`SearchIndex`] port, the document a public listing becomes, and the
//! query the service asks of an index.
//!
//! An index answers with listing ids, scores, distances and facet counts; the service then
//! reads the listings from the store (so every answer is current and public), evaluates each
//! for the person with `welfare-core`, and post-filters exactly what an index can only
//! approximate (eligibility for a profile, the price a profile pays).

pub mod answering;
pub mod embedded;
pub mod indexer;
pub mod meili;
pub mod scoring;
mod slot_set;

use std::future::Future;

use welfare_core::category::{Category, Subcategory};
use welfare_core::eligibility::{MAX_AGE_YEARS, Rule};
use welfare_core::listing::Listing;
use welfare_core::local_words::Lexicon;
use welfare_core::pricing::PriceModel;
use welfare_core::territory::{GeoPoint, Territory};
use welfare_core::time::Timestamp;

/// Typed words this long that no listing has are corrected to the most frequent word one edit
/// away (ties to the alphabetically first), by every adapter the same way; longer words get
/// the adapters' typo tolerance instead.
pub const SHORT_WORD_CHARS: usize = 4;

/// A word found as typed in one listing in this many is matched exactly, without typos, by
/// every adapter…
pub const COMMON_WORD_SHARE: u64 = 100;
/// …provided it is found in at least this many.
pub const COMMON_WORD_MIN: u64 = 100;

/// What an index knows of a public listing.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchDocument {
    pub id: String,
    pub provider_id: String,
    pub title: String,
    pub description: String,
    /// The words people use for its kind of service: subcategory label and synonyms (the
    /// taxonomy's and the Ambito's local words), category label.
    pub vocabulary: String,
    pub category: Category,
    pub subcategory: String,
    /// ISTAT codes of the comuni served (every comune of the territory when the listing serves
    /// the whole territory).
    pub comuni: Vec<String>,
    /// Whether it serves the whole territory.
    pub everywhere: bool,
    pub free: bool,
    /// The lowest unit price anyone may pay (lowest band, resident discount applied), cents.
    pub min_price_cents: i64,
    /// The list unit price, cents.
    pub list_price_cents: i64,
    /// The beneficiary ages admitted, bounds included.
    pub min_age: u8,
    pub max_age: u8,
    /// The venue, for distance.
    pub location: Option<GeoPoint>,
    /// When the Ufficio di Piano last verified it (unix seconds): stale listings leave
    /// search without any change to the listing.
    pub verified_at: i64,
}

impl SearchDocument {
    /// The document of a listing, its kind of service named by the taxonomy's words and the
    /// local words of `lexicon`.
    pub fn of(listing: &Listing, territory: &Territory, lexicon: &Lexicon) -> SearchDocument {
        let content = &listing.content;
        let sub = Subcategory::find(&content.subcategory).ok();
        let mut vocabulary = vec![content.category.label_it().to_owned()];
        if let Some(sub) = sub {
            vocabulary.push(sub.label_it.to_owned());
            vocabulary.extend(sub.synonyms.iter().map(|s| (*s).to_owned()));
            vocabulary.extend(lexicon.synonyms_of(sub.code).map(str::to_owned));
        }
        let comuni = if content.service_area.is_empty() {
            territory
                .municipalities()
                .iter()
                .map(|m| m.istat_code.to_string())
                .collect()
        } else {
            content
                .service_area
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        let pricing = &content.pricing;
        let lowest = match pricing.model() {
            PriceModel::Free => 0,
            PriceModel::Fixed { amount, .. } => amount.cents(),
            PriceModel::IseeBands { bands, .. } => bands
                .bands()
                .iter()
                .map(|band| band.amount.cents())
                .min()
                .unwrap_or(0),
        };
        let discounted = match pricing.resident_discount() {
            Some(discount) => lowest - lowest * i64::from(discount.get()) / 10_000,
            None => lowest,
        };
        let (min_age, max_age) = content
            .eligibility
            .rules()
            .iter()
            .find_map(|rule| match rule {
                Rule::BeneficiaryAge {
                    min_years,
                    max_years,
                } => Some((min_years.unwrap_or(0), max_years.unwrap_or(MAX_AGE_YEARS))),
                _ => None,
            })
            .unwrap_or((0, MAX_AGE_YEARS));
        SearchDocument {
            id: listing.id.to_string(),
            provider_id: listing.provider_id.to_string(),
            title: content.title.clone(),
            description: content.description.clone(),
            vocabulary: vocabulary.join(" · "),
            category: content.category,
            subcategory: content.subcategory.clone(),
            comuni,
            everywhere: content.service_area.is_empty(),
            free: pricing.is_free(),
            min_price_cents: discounted.max(0),
            list_price_cents: pricing.list_unit_amount().cents(),
            min_age,
            max_age,
            location: content.venue.as_ref().map(|venue| venue.location),
            verified_at: listing
                .verified_at
                .map_or(i64::MIN, Timestamp::unix_seconds),
        }
    }
}

/// How hits are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Relevance,
    Distance,
    Price,
}

/// What the service asks of an index. Filters are exact on the document's fields.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexQuery {
    /// Words for full-text matching (already stripped of comune and age).
    pub text: String,
    /// Subcategories the text names by a synonym: their listings rank higher.
    pub boost_subcategories: Vec<String>,
    pub categories: Vec<Category>,
    pub subcategories: Vec<String>,
    /// Leaves out these subcategories' documents.
    pub excluded_subcategories: Vec<String>,
    pub served: Option<String>,
    pub free_only: bool,
    /// Keeps documents whose lowest possible price is at most this.
    pub max_price_cents: Option<i64>,
    pub age: Option<u8>,
    pub provider_id: Option<String>,
    /// Keeps documents verified at or after this (unix seconds).
    pub fresh_since: i64,
    pub origin: Option<GeoPoint>,
    pub order: Order,
    pub offset: usize,
    pub limit: usize,
}

impl IndexQuery {
    /// Every document verified at or after `fresh_since`, by relevance, the first `limit`: no
    /// text, no filter (set the fields wanted on it).
    pub fn everything(fresh_since: i64, limit: usize) -> IndexQuery {
        IndexQuery {
            text: String::new(),
            boost_subcategories: Vec::new(),
            categories: Vec::new(),
            subcategories: Vec::new(),
            excluded_subcategories: Vec::new(),
            served: None,
            free_only: false,
            max_price_cents: None,
            age: None,
            provider_id: None,
            fresh_since,
            origin: None,
            order: Order::Relevance,
            offset: 0,
            limit,
        }
    }

    /// Whether a document passes every filter.
    pub fn admits(&self, doc: &SearchDocument) -> bool {
        doc.verified_at >= self.fresh_since
            && (self.categories.is_empty() || self.categories.contains(&doc.category))
            && (self.subcategories.is_empty() || self.subcategories.contains(&doc.subcategory))
            && !self.excluded_subcategories.contains(&doc.subcategory)
            && self
                .served
                .as_ref()
                .is_none_or(|code| doc.everywhere || doc.comuni.contains(code))
            && (!self.free_only || doc.free)
            && self
                .max_price_cents
                .is_none_or(|max| doc.min_price_cents <= max)
            && self
                .age
                .is_none_or(|age| (doc.min_age..=doc.max_age).contains(&age))
            && self
                .provider_id
                .as_ref()
                .is_none_or(|provider| &doc.provider_id == provider)
    }
}

/// One hit of an index.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexHit {
    pub id: String,
    pub score: f64,
    pub distance_m: Option<f64>,
    /// The rank class: neighbouring hits of one class are equally relevant (the query words
    /// they matched, and the tier of a situation's answers they are in).
    pub class: u32,
}

/// Counts by value of one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacetCounts {
    pub field: &'static str,
    /// Values and counts, most frequent first (then by value).
    pub buckets: Vec<(String, u64)>,
}

/// A page of hits with the totals over every match.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexPage {
    pub hits: Vec<IndexHit>,
    pub total: u64,
    pub facets: Vec<FacetCounts>,
}

/// Why an index operation failed.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("search index: {0}")]
    Engine(String),
    /// A Meilisearch task that failed or did not finish in time.
    #[error("search index: Meilisearch task {uid} ({what}) failed: {code}: {message}")]
    Task {
        uid: u32,
        what: String,
        code: String,
        message: String,
    },
}

/// The search port: the embedded index and Meilisearch answer the same queries the same way.
pub trait SearchIndex: Clone + Send + Sync + 'static {
    /// Adds or replaces documents.
    fn upsert(
        &self,
        documents: Vec<SearchDocument>,
    ) -> impl Future<Output = Result<(), IndexError>> + Send;

    /// Removes documents by listing id (unknown ids are ignored).
    fn remove(&self, ids: Vec<String>) -> impl Future<Output = Result<(), IndexError>> + Send;

    /// Replaces the whole content: builds a new index and swaps it in, so searches never see
    /// a half-built one.
    fn rebuild(
        &self,
        documents: Vec<SearchDocument>,
    ) -> impl Future<Output = Result<(), IndexError>> + Send;

    /// The stamp of the content this index holds, as [`SearchIndex::set_stamp`] left it;
    /// `None` for an index nobody stamped (new, or lost and recreated).
    fn stamp(&self) -> impl Future<Output = Result<Option<String>, IndexError>> + Send;

    /// Stamps the content this index holds (after a rebuild).
    fn set_stamp(&self, stamp: &str) -> impl Future<Output = Result<(), IndexError>> + Send;

    /// Whether every replica searches this one index, so that one replica at a time writes
    /// it; otherwise each replica has its own and writes it alone.
    fn shared(&self) -> bool;

    /// The index's name among the outbox's consumers: the same for every replica of a shared
    /// index, one of its own for each replica's index.
    fn name(&self) -> String;

    fn search(
        &self,
        query: &IndexQuery,
    ) -> impl Future<Output = Result<IndexPage, IndexError>> + Send;

    /// How many documents have each word (analysed as the documents are: an Italian stem),
    /// exactly, in their title, the words of their kind of service or their description; 0
    /// for a stop word.
    fn word_counts(
        &self,
        words: &[String],
    ) -> impl Future<Output = Result<Vec<u64>, IndexError>> + Send;
}

/// Counts facets over the matching documents, the same way for every adapter.
pub fn count_facets<'a>(documents: impl Iterator<Item = &'a SearchDocument>) -> Vec<FacetCounts> {
    use std::collections::HashMap;
    let mut category: HashMap<&'static str, u64> = HashMap::new();
    let mut subcategory: HashMap<&'a str, u64> = HashMap::new();
    let mut comune: HashMap<&'a str, u64> = HashMap::new();
    let (mut free, mut paid) = (0, 0);
    // Listings serving the whole territory count once per comune, added at the end.
    let mut everywhere: Option<(&'a [String], u64)> = None;
    for doc in documents {
        *category.entry(doc.category.code()).or_default() += 1;
        *subcategory.entry(doc.subcategory.as_str()).or_default() += 1;
        if doc.everywhere {
            everywhere = Some((
                everywhere.map_or(doc.comuni.as_slice(), |(codes, _)| codes),
                everywhere.map_or(0, |(_, n)| n) + 1,
            ));
        } else {
            for code in &doc.comuni {
                *comune.entry(code.as_str()).or_default() += 1;
            }
        }
        if doc.free {
            free += 1;
        } else {
            paid += 1;
        }
    }
    if let Some((codes, n)) = everywhere {
        for code in codes {
            *comune.entry(code.as_str()).or_default() += n;
        }
    }
    fn sorted(field: &'static str, counts: impl Iterator<Item = (String, u64)>) -> FacetCounts {
        let mut buckets: Vec<(String, u64)> = counts.filter(|(_, n)| *n > 0).collect();
        buckets.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        FacetCounts { field, buckets }
    }
    vec![
        sorted(
            "category",
            category.into_iter().map(|(k, n)| (k.to_owned(), n)),
        ),
        sorted(
            "subcategory",
            subcategory.into_iter().map(|(k, n)| (k.to_owned(), n)),
        ),
        sorted("comune", comune.into_iter().map(|(k, n)| (k.to_owned(), n))),
        sorted(
            "price",
            [("free".to_owned(), free), ("paid".to_owned(), paid)].into_iter(),
        ),
    ]
}
