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
    IndexError, IndexHit, IndexPage, IndexQuery, Order, SearchDocument, SearchIndex, count_facets,
};

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
    subcategory: Field,
}

/// Documents by slot (the `slot` fast field of the tantivy document) and slots by id.
#[derive(Default)]
struct Documents {
    slots: Vec<Option<Arc<SearchDocument>>>,
    by_id: HashMap<String, usize>,
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

/// A matching document, the number of query words it matches, and its BM25 score.
type Match = (Arc<SearchDocument>, usize, f64);

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
            description: schema.add_text_field("description", text),
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
                tantivy_doc.add_text(f.subcategory, &doc.subcategory);
                writer.add_document(tantivy_doc).map_err(engine)?;
                documents.by_id.insert(doc.id.clone(), slot);
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
                    let term = Term::from_field_text(field, word);
                    clauses.push((
                        Occur::Should,
                        Box::new(BoostQuery::new(
                            Box::new(TermQuery::new(term.clone(), IndexRecordOption::WithFreqs)),
                            weight,
                        )),
                    ));
                    if typos > 0 {
                        clauses.push((
                            Occur::Should,
                            Box::new(BoostQuery::new(
                                Box::new(FuzzyTermQuery::new(term, typos, true)),
                                weight * 0.5,
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
        let mut matches: Vec<Match> = match self.word_queries(query, analyzer) {
            None => documents
                .slots
                .iter()
                .flatten()
                .filter(|doc| query.admits(doc))
                .map(|doc| (Arc::clone(doc), 0, 0.0))
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
                        let doc = documents.slots.get(usize::try_from(slot).ok()?)?.as_ref()?;
                        query.admits(doc).then(|| (Arc::clone(doc), words, bm25))
                    })
                    .collect()
            }
        };
        let facets = count_facets(matches.iter().map(|(doc, _, _)| doc.as_ref()));
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
            b.1.cmp(&a.1)
                .then_with(|| targeted(&b.0).cmp(&targeted(&a.0)))
                .then_with(|| b.2.total_cmp(&a.2))
        };
        let order = |a: &Match, b: &Match| {
            match query.order {
                Order::Relevance => std::cmp::Ordering::Equal,
                Order::Distance => match (distance(&a.0), distance(&b.0)) {
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
            .map(|(doc, words, score)| IndexHit {
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
