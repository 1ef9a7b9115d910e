//! The embedded search index, on tantivy, held in memory and rebuilt from the catalogue at
//! start: no server to run.
//!
//! Text: title (weight 3), the service's vocabulary — subcategory label and synonyms, category
//! label — (weight 2) and description (weight 1), analysed for Italian: words split, lowercased,
//! accents folded, stop words dropped, Snowball-stemmed. A query word matches exactly, or with
//! one typo from 5 characters and two from 9 (edit distance on the stem, a transposition
//! counting as one), at a lower weight; subcategories the query names by a synonym rank higher.
//! BM25 scores. Filters, facets and orders run on the documents kept beside the index, exactly
//! as `IndexQuery::admits` and `count_facets` define them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::query::{
    BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, Query, TermQuery,
};
use tantivy::schema::{
    FAST, Field, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    StopWordFilter, TextAnalyzer,
};
use tantivy::{
    DocId, Index, IndexReader, IndexWriter, ReloadPolicy, Score, SegmentOrdinal, SegmentReader,
    TantivyDocument, Term,
};

use super::{
    FacetCounts, IndexError, IndexHit, IndexPage, IndexQuery, Order, SearchDocument, SearchIndex,
};
use welfare_core::category::{Category, Subcategory};

const ANALYZER: &str = "italian";
/// What matching one query word is worth, far above any BM25 score.
const WORD_WEIGHT: f32 = 1_000.0;
/// The indexing memory budget of each generation.
const WRITER_BYTES: usize = 50_000_000;

fn engine(error: impl std::fmt::Display) -> IndexError {
    IndexError::Engine(error.to_string())
}

/// The Italian analysis chain, shared by documents and queries.
pub fn italian_analyzer() -> TextAnalyzer {
    let builder = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter);
    match StopWordFilter::new(Language::Italian) {
        Some(stop_words) => builder
            .filter(stop_words)
            .filter(Stemmer::new(Language::Italian))
            .build(),
        None => builder.filter(Stemmer::new(Language::Italian)).build(),
    }
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    slot: Field,
    title: Field,
    vocabulary: Field,
    description: Field,
    /// Title, vocabulary and description together, for typo-tolerant matching in one pass.
    all: Field,
    subcategory: Field,
}

/// Documents by slot (the `slot` fast field of the tantivy document) and slots by id.
#[derive(Default)]
struct Documents {
    slots: Vec<Option<Arc<SearchDocument>>>,
    /// Facet keys by slot, as small integers, so counting over many matches is cheap.
    keys: Vec<FacetKeys>,
    by_id: HashMap<String, usize>,
    /// The comuni seen, interned.
    comuni: Vec<String>,
    comune_numbers: HashMap<String, u16>,
}

/// A document's facet values as indexes: category in `Category::ALL`, subcategory in
/// `Subcategory::all()`, comuni in `Documents::comuni`.
#[derive(Default)]
struct FacetKeys {
    category: u8,
    subcategory: u8,
    comuni: Vec<u16>,
    everywhere: bool,
    free: bool,
}

/// An `IndexQuery`'s filters compiled against the interned keys: the same decision as
/// `IndexQuery::admits`, without string comparisons on the hot path.
struct Filter<'q> {
    query: &'q IndexQuery,
    categories: Option<[bool; Category::ALL.len()]>,
    subcategories: Option<Vec<bool>>,
    /// The served comune's number; `Some(None)` when no document names it.
    served: Option<Option<u16>>,
}

impl<'q> Filter<'q> {
    fn new(query: &'q IndexQuery, documents: &Documents) -> Filter<'q> {
        Filter {
            query,
            categories: (!query.categories.is_empty()).then(|| {
                let mut allowed = [false; Category::ALL.len()];
                for (i, category) in Category::ALL.iter().enumerate() {
                    if let Some(slot) = allowed.get_mut(i) {
                        *slot = query.categories.contains(category);
                    }
                }
                allowed
            }),
            subcategories: (!query.subcategories.is_empty()).then(|| {
                Subcategory::all()
                    .iter()
                    .map(|s| query.subcategories.iter().any(|code| code == s.code))
                    .collect()
            }),
            served: query
                .served
                .as_ref()
                .map(|code| documents.comune_numbers.get(code).copied()),
        }
    }

    fn admits(&self, doc: &SearchDocument, keys: &FacetKeys) -> bool {
        let q = self.query;
        doc.verified_at >= q.fresh_since
            && (!q.free_only || keys.free)
            && self.categories.is_none_or(|allowed| {
                allowed
                    .get(usize::from(keys.category))
                    .copied()
                    .unwrap_or(false)
            })
            && self.subcategories.as_ref().is_none_or(|allowed| {
                allowed
                    .get(usize::from(keys.subcategory))
                    .copied()
                    .unwrap_or(false)
            })
            && self.served.is_none_or(|number| {
                keys.everywhere || number.is_some_and(|n| keys.comuni.contains(&n))
            })
            && q.age
                .is_none_or(|age| (doc.min_age..=doc.max_age).contains(&age))
            && q.max_price_cents
                .is_none_or(|max| doc.min_price_cents <= max)
            && q.provider_id
                .as_ref()
                .is_none_or(|provider| &doc.provider_id == provider)
    }
}

impl Documents {
    fn keys_of(&mut self, doc: &SearchDocument) -> FacetKeys {
        let position = |found: Option<usize>| u8::try_from(found.unwrap_or(0)).unwrap_or(0);
        let mut comuni = Vec::with_capacity(doc.comuni.len());
        for code in &doc.comuni {
            let next = u16::try_from(self.comuni.len()).unwrap_or(u16::MAX);
            let number = *self.comune_numbers.entry(code.clone()).or_insert(next);
            if usize::from(number) == self.comuni.len() {
                self.comuni.push(code.clone());
            }
            comuni.push(number);
        }
        FacetKeys {
            category: position(Category::ALL.iter().position(|c| *c == doc.category)),
            subcategory: position(
                Subcategory::all()
                    .iter()
                    .position(|s| s.code == doc.subcategory),
            ),
            comuni,
            everywhere: doc.everywhere,
            free: doc.free,
        }
    }

    /// The facets of the matching slots, as `count_facets` defines them.
    fn facets(&self, slots: impl Iterator<Item = usize>) -> Vec<FacetCounts> {
        let mut category = [0u64; Category::ALL.len()];
        let mut subcategory = vec![0u64; Subcategory::all().len()];
        let mut comune = vec![0u64; self.comuni.len()];
        let mut everywhere_codes: Option<&[u16]> = None;
        let (mut everywhere, mut free, mut paid) = (0, 0, 0);
        for slot in slots {
            let Some(keys) = self.keys.get(slot) else {
                continue;
            };
            if let Some(n) = category.get_mut(usize::from(keys.category)) {
                *n += 1;
            }
            if let Some(n) = subcategory.get_mut(usize::from(keys.subcategory)) {
                *n += 1;
            }
            if keys.everywhere {
                everywhere += 1;
                everywhere_codes.get_or_insert(&keys.comuni);
            } else {
                for &c in &keys.comuni {
                    if let Some(n) = comune.get_mut(usize::from(c)) {
                        *n += 1;
                    }
                }
            }
            if keys.free {
                free += 1;
            } else {
                paid += 1;
            }
        }
        for &c in everywhere_codes.unwrap_or_default() {
            if let Some(n) = comune.get_mut(usize::from(c)) {
                *n += everywhere;
            }
        }
        let buckets = |field: &'static str, counts: Vec<(String, u64)>| {
            let mut buckets: Vec<(String, u64)> =
                counts.into_iter().filter(|(_, n)| *n > 0).collect();
            buckets.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            FacetCounts { field, buckets }
        };
        vec![
            buckets(
                "category",
                Category::ALL
                    .iter()
                    .zip(category)
                    .map(|(c, n)| (c.code().to_owned(), n))
                    .collect(),
            ),
            buckets(
                "subcategory",
                Subcategory::all()
                    .iter()
                    .zip(subcategory)
                    .map(|(s, n)| (s.code.to_owned(), n))
                    .collect(),
            ),
            buckets("comune", self.comuni.iter().cloned().zip(comune).collect()),
            buckets(
                "price",
                vec![("free".to_owned(), free), ("paid".to_owned(), paid)],
            ),
        ]
    }
}

/// Collects every match as its document slot and score, unsorted: the caller filters and
/// orders them itself.
struct SlotScores;

impl Collector for SlotScores {
    type Fruit = Vec<(u64, Score)>;
    type Child = SlotScoresInSegment;

    fn for_segment(
        &self,
        _segment_ord: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<SlotScoresInSegment> {
        Ok(SlotScoresInSegment {
            slots: segment.fast_fields().u64("slot")?,
            hits: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, fruits: Vec<Vec<(u64, Score)>>) -> tantivy::Result<Vec<(u64, Score)>> {
        Ok(fruits.into_iter().flatten().collect())
    }
}

struct SlotScoresInSegment {
    slots: tantivy::columnar::Column<u64>,
    hits: Vec<(u64, Score)>,
}

impl SegmentCollector for SlotScoresInSegment {
    type Fruit = Vec<(u64, Score)>;

    fn collect(&mut self, doc: DocId, score: Score) {
        if let Some(slot) = self.slots.first(doc) {
            self.hits.push((slot, score));
        }
    }

    fn harvest(self) -> Vec<(u64, Score)> {
        self.hits
    }
}

/// One query per word of the text, and the boost for subcategories the text names.
type TextQueries = (Vec<BooleanQuery>, Option<Box<dyn Query>>);

/// A matching document (and its slot), the number of query words it matches, and its BM25
/// score.
type Match<'a> = (&'a SearchDocument, usize, usize, f64);

/// One built index: tantivy's, its writer, and the documents beside it.
struct Generation {
    reader: IndexReader,
    writer: Mutex<IndexWriter<TantivyDocument>>,
    fields: Fields,
    documents: RwLock<Documents>,
}

impl Generation {
    fn new() -> Result<Generation, IndexError> {
        let mut schema = Schema::builder();
        let text = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ANALYZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        let fields = Fields {
            id: schema.add_text_field("id", STRING),
            slot: schema.add_u64_field("slot", FAST),
            title: schema.add_text_field("title", text.clone()),
            vocabulary: schema.add_text_field("vocabulary", text.clone()),
            description: schema.add_text_field("description", text.clone()),
            all: schema.add_text_field("all", text),
            subcategory: schema.add_text_field("subcategory", STRING),
        };
        let index = Index::create_in_ram(schema.build());
        index.tokenizers().register(ANALYZER, italian_analyzer());
        let writer = index
            .writer_with_num_threads(1, WRITER_BYTES)
            .map_err(engine)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(engine)?;
        Ok(Generation {
            reader,
            writer: Mutex::new(writer),
            fields,
            documents: RwLock::default(),
        })
    }

    /// Adds or replaces documents, then removes `removed` ids; visible when this returns.
    fn apply(&self, added: Vec<SearchDocument>, removed: &[String]) -> Result<(), IndexError> {
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let f = self.fields;
        let mut retired = Vec::new();
        {
            let mut documents = self
                .documents
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            for id in removed.iter().chain(added.iter().map(|d| &d.id)) {
                if let Some(slot) = documents.by_id.remove(id) {
                    writer.delete_term(Term::from_field_text(f.id, id));
                    retired.push(slot);
                }
            }
            for doc in added {
                let slot = documents.slots.len();
                let mut tantivy_doc = TantivyDocument::default();
                tantivy_doc.add_text(f.id, &doc.id);
                tantivy_doc.add_u64(f.slot, u64::try_from(slot).map_err(engine)?);
                tantivy_doc.add_text(f.title, &doc.title);
                tantivy_doc.add_text(f.vocabulary, &doc.vocabulary);
                tantivy_doc.add_text(f.description, &doc.description);
                for part in [&doc.title, &doc.vocabulary, &doc.description] {
                    tantivy_doc.add_text(f.all, part);
                }
                tantivy_doc.add_text(f.subcategory, &doc.subcategory);
                writer.add_document(tantivy_doc).map_err(engine)?;
                documents.by_id.insert(doc.id.clone(), slot);
                let keys = documents.keys_of(&doc);
                documents.keys.push(keys);
                documents.slots.push(Some(Arc::new(doc)));
            }
        }
        writer.commit().map_err(engine)?;
        self.reader.reload().map_err(engine)?;
        let mut documents = self
            .documents
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        for slot in retired {
            if let Some(entry) = documents.slots.get_mut(slot) {
                *entry = None;
            }
        }
        Ok(())
    }

    /// One query per distinct analysed word of the text (exact and, from 5 typed characters,
    /// fuzzy, over the three text fields), and the subcategory boost; `None` without words.
    fn word_queries(&self, query: &IndexQuery, analyzer: &mut TextAnalyzer) -> Option<TextQueries> {
        let f = self.fields;
        let mut words: Vec<(String, usize)> = Vec::new();
        let mut stream = analyzer.token_stream(&query.text);
        stream.process(&mut |token| {
            let typed = query
                .text
                .get(token.offset_from..token.offset_to)
                .map_or(0, |w| w.chars().count());
            if !words.iter().any(|(w, _)| w == &token.text) {
                words.push((token.text.clone(), typed));
            }
        });
        if words.is_empty() {
            return None;
        }
        let per_word = words
            .iter()
            .map(|(word, typed)| {
                let typos = match typed {
                    0..=4 => 0,
                    5..=8 => 1,
                    _ => 2,
                };
                let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
                for (field, weight) in [(f.title, 3.0), (f.vocabulary, 2.0), (f.description, 1.0)] {
                    clauses.push((
                        Occur::Should,
                        Box::new(BoostQuery::new(
                            Box::new(TermQuery::new(
                                Term::from_field_text(field, word),
                                IndexRecordOption::WithFreqs,
                            )),
                            weight,
                        )),
                    ));
                }
                if typos > 0 {
                    // A typo in the title weighs more than one anywhere else.
                    for (field, weight) in [(f.title, 1.5), (f.all, 0.5)] {
                        clauses.push((
                            Occur::Should,
                            Box::new(BoostQuery::new(
                                Box::new(FuzzyTermQuery::new(
                                    Term::from_field_text(field, word),
                                    typos,
                                    true,
                                )),
                                weight,
                            )),
                        ));
                    }
                }
                BooleanQuery::new(clauses)
            })
            .collect();
        let boost = (!query.boost_subcategories.is_empty()).then(|| {
            let clauses: Vec<(Occur, Box<dyn Query>)> = query
                .boost_subcategories
                .iter()
                .map(|code| {
                    let term: Box<dyn Query> = Box::new(TermQuery::new(
                        Term::from_field_text(f.subcategory, code),
                        IndexRecordOption::Basic,
                    ));
                    (Occur::Should, term)
                })
                .collect();
            Box::new(BoostQuery::new(Box::new(BooleanQuery::new(clauses)), 4.0)) as Box<dyn Query>
        });
        Some((per_word, boost))
    }

    fn search(
        &self,
        query: &IndexQuery,
        analyzer: &mut TextAnalyzer,
    ) -> Result<IndexPage, IndexError> {
        let documents = self
            .documents
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        // (document, words matched, score) for every match: like Meilisearch's first ranking
        // rule, a document matching more of the query's words ranks first, then BM25.
        let filter = Filter::new(query, &documents);
        let mut matches: Vec<Match> = match self.word_queries(query, analyzer) {
            None => documents
                .slots
                .iter()
                .zip(&documents.keys)
                .enumerate()
                .filter_map(|(slot, (doc, keys))| {
                    let doc = doc.as_deref()?;
                    filter.admits(doc, keys).then_some((doc, slot, 0, 0.0))
                })
                .collect(),
            Some((per_word, boost)) => {
                let searcher = self.reader.searcher();
                // Each word adds WORD_WEIGHT when it matches at all, plus its BM25 score: the
                // score's thousands count the words matched.
                let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
                for word in per_word {
                    let word: Box<dyn Query> = Box::new(word);
                    clauses.push((
                        Occur::Should,
                        Box::new(ConstScoreQuery::new(word.box_clone(), WORD_WEIGHT)),
                    ));
                    clauses.push((Occur::Should, word));
                }
                if let Some(boost) = boost {
                    clauses.push((Occur::Should, boost));
                }
                let found = searcher
                    .search(&BooleanQuery::new(clauses), &SlotScores)
                    .map_err(engine)?;
                found
                    .into_iter()
                    .filter_map(|(slot, score)| {
                        let whole = (score / WORD_WEIGHT).floor();
                        let bm25 = f64::from(score - whole * WORD_WEIGHT);
                        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                        let words = whole as usize;
                        let slot = usize::try_from(slot).ok()?;
                        let doc = documents.slots.get(slot)?.as_deref()?;
                        let keys = documents.keys.get(slot)?;
                        filter.admits(doc, keys).then_some((doc, slot, words, bm25))
                    })
                    .collect()
            }
        };
        let facets = documents.facets(matches.iter().map(|m| m.1));
        let total = u64::try_from(matches.len()).unwrap_or(u64::MAX);
        let distance = |doc: &SearchDocument| {
            query
                .origin
                .zip(doc.location)
                .map(|(origin, at)| origin.distance_m(at))
        };
        // A listing aimed at the person's age (it states an age range that admits it) is a
        // better answer than one open to every age.
        let targeted = |doc: &SearchDocument| {
            query.age.is_some()
                && (doc.min_age > 0 || doc.max_age < welfare_core::eligibility::MAX_AGE_YEARS)
        };
        let relevance = |a: &Match, b: &Match| {
            b.2.cmp(&a.2)
                .then_with(|| targeted(b.0).cmp(&targeted(a.0)))
                .then_with(|| b.3.total_cmp(&a.3))
        };
        let order = |a: &Match, b: &Match| {
            match query.order {
                Order::Relevance => std::cmp::Ordering::Equal,
                Order::Distance => match (distance(a.0), distance(b.0)) {
                    (Some(x), Some(y)) => x.total_cmp(&y),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                },
                Order::Price => a.0.min_price_cents.cmp(&b.0.min_price_cents),
            }
            .then_with(|| relevance(a, b))
            .then_with(|| a.0.id.cmp(&b.0.id))
        };
        // Only the matches up to the end of the page need sorting.
        let wanted = query.offset.saturating_add(query.limit);
        if wanted < matches.len() {
            matches.select_nth_unstable_by(wanted, order);
            matches.truncate(wanted);
        }
        matches.sort_by(order);
        let hits = matches
            .iter()
            .skip(query.offset)
            .take(query.limit)
            .map(|(doc, _, words, score)| IndexHit {
                id: doc.id.clone(),
                // Comparable within one answer: words matched first, then BM25.
                score: f64::from(u32::try_from(*words).unwrap_or(u32::MAX)) * 1_000.0 + *score,
                distance_m: distance(doc),
            })
            .collect();
        Ok(IndexPage {
            hits,
            total,
            facets,
        })
    }
}

/// The embedded index: cheap to clone, shared by the service and the indexer.
#[derive(Clone)]
pub struct EmbeddedIndex {
    current: Arc<RwLock<Arc<Generation>>>,
    analyzer: TextAnalyzer,
}

impl std::fmt::Debug for EmbeddedIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedIndex").finish_non_exhaustive()
    }
}

impl EmbeddedIndex {
    /// An empty index.
    pub fn new() -> Result<EmbeddedIndex, IndexError> {
        Ok(EmbeddedIndex {
            current: Arc::new(RwLock::new(Arc::new(Generation::new()?))),
            analyzer: italian_analyzer(),
        })
    }

    fn generation(&self) -> Arc<Generation> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The number of documents searchable now.
    pub fn len(&self) -> usize {
        self.generation()
            .documents
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .by_id
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Searches synchronously (what `SearchIndex::search` does), for benchmarks of the raw
    /// index.
    pub fn search_now(&self, query: &IndexQuery) -> Result<IndexPage, IndexError> {
        let mut analyzer = self.analyzer.clone();
        self.generation().search(query, &mut analyzer)
    }
}

/// Runs blocking index work off the async runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, IndexError> + Send + 'static,
) -> Result<T, IndexError> {
    tokio::task::spawn_blocking(work).await.map_err(engine)?
}

impl SearchIndex for EmbeddedIndex {
    async fn upsert(&self, documents: Vec<SearchDocument>) -> Result<(), IndexError> {
        let generation = self.generation();
        blocking(move || generation.apply(documents, &[])).await
    }

    async fn remove(&self, ids: Vec<String>) -> Result<(), IndexError> {
        let generation = self.generation();
        blocking(move || generation.apply(Vec::new(), &ids)).await
    }

    async fn rebuild(&self, documents: Vec<SearchDocument>) -> Result<(), IndexError> {
        let fresh = blocking(move || {
            let generation = Generation::new()?;
            generation.apply(documents, &[])?;
            Ok(generation)
        })
        .await?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(fresh);
        Ok(())
    }

    async fn search(&self, query: &IndexQuery) -> Result<IndexPage, IndexError> {
        self.search_now(query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::count_facets;

    fn doc(
        id: &str,
        sub: &Subcategory,
        comuni: &[&str],
        everywhere: bool,
        free: bool,
    ) -> SearchDocument {
        SearchDocument {
            id: id.to_owned(),
            provider_id: "p".to_owned(),
            title: id.to_owned(),
            description: String::new(),
            vocabulary: String::new(),
            category: sub.category,
            subcategory: sub.code.to_owned(),
            comuni: comuni.iter().map(|c| (*c).to_owned()).collect(),
            everywhere,
            free,
            min_price_cents: 0,
            list_price_cents: 0,
            min_age: 0,
            max_age: 120,
            location: None,
            verified_at: 0,
        }
    }

    #[test]
    fn the_compiled_filter_decides_as_admits_does() {
        let subs = Subcategory::all();
        let mut docs = vec![
            doc("a", &subs[0], &["098031", "098019"], false, true),
            doc("b", &subs[1], &["098031", "098019", "098010"], true, false),
            doc("c", &subs[12], &["098010"], false, false),
        ];
        docs[2].min_age = 3;
        docs[2].max_age = 10;
        docs[1].min_price_cents = 500;
        docs[0].provider_id = "q".to_owned();
        let mut documents = Documents::default();
        for d in &docs {
            let keys = documents.keys_of(d);
            documents.keys.push(keys);
        }
        let base = IndexQuery {
            text: String::new(),
            boost_subcategories: Vec::new(),
            categories: Vec::new(),
            subcategories: Vec::new(),
            served: None,
            free_only: false,
            max_price_cents: None,
            age: None,
            provider_id: None,
            fresh_since: 0,
            origin: None,
            order: Order::Relevance,
            offset: 0,
            limit: 10,
        };
        let queries = [
            IndexQuery {
                served: Some("098031".to_owned()),
                ..base.clone()
            },
            IndexQuery {
                served: Some("098049".to_owned()),
                ..base.clone()
            },
            IndexQuery {
                categories: vec![subs[12].category],
                ..base.clone()
            },
            IndexQuery {
                subcategories: vec![subs[1].code.to_owned()],
                ..base.clone()
            },
            IndexQuery {
                free_only: true,
                ..base.clone()
            },
            IndexQuery {
                age: Some(11),
                ..base.clone()
            },
            IndexQuery {
                max_price_cents: Some(100),
                ..base.clone()
            },
            IndexQuery {
                provider_id: Some("q".to_owned()),
                ..base.clone()
            },
            IndexQuery {
                fresh_since: 1,
                ..base.clone()
            },
            base.clone(),
        ];
        for query in &queries {
            let filter = Filter::new(query, &documents);
            for (d, keys) in docs.iter().zip(&documents.keys) {
                assert_eq!(
                    filter.admits(d, keys),
                    query.admits(d),
                    "{query:?} on {}",
                    d.id
                );
            }
        }
    }

    #[test]
    fn facets_count_as_the_reference_does() {
        let subs = Subcategory::all();
        let docs = vec![
            doc("a", &subs[0], &["098031", "098019"], false, true),
            doc("b", &subs[1], &["098031", "098019", "098010"], true, false),
            doc("c", &subs[1], &["098010"], false, false),
            doc("d", &subs[9], &["098031", "098019", "098010"], true, true),
        ];
        let mut documents = Documents::default();
        for d in &docs {
            let keys = documents.keys_of(d);
            documents.keys.push(keys);
        }
        assert_eq!(documents.facets(0..docs.len()), count_facets(docs.iter()));
        assert_eq!(
            documents.facets([2].into_iter()),
            count_facets(docs[2..3].iter())
        );
    }
}
