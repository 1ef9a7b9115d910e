//! The embedded search index, on tantivy, held in memory and rebuilt from the catalogue at
//! start: no server to run.
//!
//! Text: title (weight 3), the service's vocabulary — subcategory label and synonyms, category
//! label — (weight 2) and description (weight 1), analysed for Italian: words split, lowercased,
//! accents folded, stop words dropped, Snowball-stemmed. A query word matches exactly, or with
//! one typo from 5 characters and two from 9 (edit distance on the stem, a transposition
//! counting as one), at a lower weight — unless the word, as typed, is already in at least one
//! listing in a hundred (and a hundred listings): then it was spelled right; subcategories the
//! query names by a synonym rank higher.
//! BM25 scores. Filters, facets and orders run on the documents kept beside the index, exactly
//! as `IndexQuery::admits` and `count_facets` define them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use tantivy::query::{
    BooleanQuery, BoostQuery, EnableScoring, FuzzyTermQuery, Occur, Query, TermQuery,
};
use tantivy::schema::{
    FAST, Field, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    StopWordFilter, TextAnalyzer,
};
use tantivy::{
    Index, IndexReader, IndexWriter, ReloadPolicy, Score, TantivyDocument, Term, index::SegmentId,
};

use super::{
    FacetCounts, IndexError, IndexHit, IndexPage, IndexQuery, Order, SearchDocument, SearchIndex,
};
use welfare_core::category::{Category, Subcategory};

const ANALYZER: &str = "italian";
/// A word found as typed in one listing in this many is not expanded to its typo neighbours…
const COMMON_WORD_SHARE: u64 = 100;
/// …provided it is found in at least this many.
const COMMON_WORD_MIN: u64 = 100;
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
    /// What filters, facets and orders read, by slot, packed and contiguous so a pass over
    /// every match stays in cache.
    facts: Vec<Facts>,
    /// The comuni of every slot, one run per slot (`Facts::comuni`).
    comuni_runs: Vec<u16>,
    by_id: HashMap<String, usize>,
    /// The comuni seen, interned.
    comuni: Vec<String>,
    comune_numbers: HashMap<String, u16>,
    /// The providers seen, interned.
    provider_numbers: HashMap<String, u32>,
}

/// A document's filter and facet values, as numbers: category in `Category::ALL`,
/// subcategory in `Subcategory::all()`, comuni in `Documents::comuni`, provider in
/// `Documents::provider_numbers`.
#[derive(Default, Clone, Copy)]
struct Facts {
    verified_at: i64,
    min_price_cents: i64,
    provider: u32,
    /// Start and length of the slot's run in `Documents::comuni_runs`.
    comuni_start: u32,
    comuni_len: u16,
    min_age: u8,
    max_age: u8,
    category: u8,
    subcategory: u8,
    everywhere: bool,
    free: bool,
    /// States an age range (not open to every age).
    targeted: bool,
    /// Still in the index (a removed document's slot stays, dead).
    live: bool,
}

/// An `IndexQuery`'s filters compiled against the interned facts: the same decision as
/// `IndexQuery::admits`, without strings or pointers on the hot path.
struct Filter<'q> {
    query: &'q IndexQuery,
    categories: Option<[bool; Category::ALL.len()]>,
    subcategories: Option<Vec<bool>>,
    /// The served comune's number; `Some(None)` when no document names it.
    served: Option<Option<u16>>,
    /// The provider's number; `Some(None)` when no document names it.
    provider: Option<Option<u32>>,
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
            provider: query
                .provider_id
                .as_ref()
                .map(|id| documents.provider_numbers.get(id).copied()),
        }
    }

    fn admits(&self, facts: &Facts, comuni_runs: &[u16]) -> bool {
        let q = self.query;
        facts.live
            && facts.verified_at >= q.fresh_since
            && (!q.free_only || facts.free)
            && self.categories.is_none_or(|allowed| {
                allowed
                    .get(usize::from(facts.category))
                    .copied()
                    .unwrap_or(false)
            })
            && self.subcategories.as_ref().is_none_or(|allowed| {
                allowed
                    .get(usize::from(facts.subcategory))
                    .copied()
                    .unwrap_or(false)
            })
            && self.served.is_none_or(|number| {
                facts.everywhere
                    || number.is_some_and(|n| Documents::run(comuni_runs, facts).contains(&n))
            })
            && q.age
                .is_none_or(|age| (facts.min_age..=facts.max_age).contains(&age))
            && q.max_price_cents
                .is_none_or(|max| facts.min_price_cents <= max)
            && self
                .provider
                .is_none_or(|number| number == Some(facts.provider))
    }
}

impl Documents {
    /// The comuni run of a slot.
    fn run<'a>(comuni_runs: &'a [u16], facts: &Facts) -> &'a [u16] {
        let start = facts.comuni_start as usize;
        comuni_runs
            .get(start..start + usize::from(facts.comuni_len))
            .unwrap_or_default()
    }

    /// Adds a document in the next slot.
    fn push(&mut self, doc: SearchDocument) -> usize {
        let slot = self.slots.len();
        let facts = self.facts_of(&doc);
        self.by_id.insert(doc.id.clone(), slot);
        self.facts.push(facts);
        self.slots.push(Some(Arc::new(doc)));
        slot
    }

    /// Marks a slot removed.
    fn retire(&mut self, slot: usize) {
        if let Some(entry) = self.slots.get_mut(slot) {
            *entry = None;
        }
        if let Some(facts) = self.facts.get_mut(slot) {
            facts.live = false;
        }
    }

    fn facts_of(&mut self, doc: &SearchDocument) -> Facts {
        let position = |found: Option<usize>| u8::try_from(found.unwrap_or(0)).unwrap_or(0);
        let comuni_start = u32::try_from(self.comuni_runs.len()).unwrap_or(u32::MAX);
        for code in &doc.comuni {
            let next = u16::try_from(self.comuni.len()).unwrap_or(u16::MAX);
            let number = *self.comune_numbers.entry(code.clone()).or_insert(next);
            if usize::from(number) == self.comuni.len() {
                self.comuni.push(code.clone());
            }
            self.comuni_runs.push(number);
        }
        let next = u32::try_from(self.provider_numbers.len()).unwrap_or(u32::MAX);
        let provider = *self
            .provider_numbers
            .entry(doc.provider_id.clone())
            .or_insert(next);
        Facts {
            verified_at: doc.verified_at,
            min_price_cents: doc.min_price_cents,
            provider,
            comuni_start,
            comuni_len: u16::try_from(doc.comuni.len()).unwrap_or(u16::MAX),
            min_age: doc.min_age,
            max_age: doc.max_age,
            category: position(Category::ALL.iter().position(|c| *c == doc.category)),
            subcategory: position(
                Subcategory::all()
                    .iter()
                    .position(|s| s.code == doc.subcategory),
            ),
            everywhere: doc.everywhere,
            free: doc.free,
            targeted: doc.min_age > 0 || doc.max_age < welfare_core::eligibility::MAX_AGE_YEARS,
            // Alive once the text index has it too (`Generation::apply`).
            live: false,
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
            let Some(keys) = self.facts.get(slot) else {
                continue;
            };
            if let Some(n) = category.get_mut(usize::from(keys.category)) {
                *n += 1;
            }
            if let Some(n) = subcategory.get_mut(usize::from(keys.subcategory)) {
                *n += 1;
            }
            let run = Documents::run(&self.comuni_runs, keys);
            if keys.everywhere {
                everywhere += 1;
                everywhere_codes.get_or_insert(run);
            } else {
                for &c in run {
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

/// One query per word of the text, and the boost for subcategories the text names.
type TextQueries = (Vec<BooleanQuery>, Option<Box<dyn Query>>);

/// One built index: tantivy's, its writer, and the documents beside it.
struct Generation {
    reader: IndexReader,
    writer: Mutex<IndexWriter<TantivyDocument>>,
    fields: Fields,
    documents: RwLock<Documents>,
    /// Each segment's slots by tantivy document id, read once per segment from the `slot`
    /// fast field so searches map matches with one array lookup.
    slot_maps: RwLock<HashMap<SegmentId, Arc<Vec<u32>>>>,
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
            slot_maps: RwLock::default(),
        })
    }

    /// Adds or replaces documents, then removes `removed` ids; visible when this returns. New
    /// slots come alive and replaced ones die together, once tantivy has committed, so no
    /// search sees a listing twice.
    fn apply(&self, added: Vec<SearchDocument>, removed: &[String]) -> Result<(), IndexError> {
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let f = self.fields;
        let mut retired = Vec::new();
        let born = {
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
            let first = documents.slots.len();
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
                documents.push(doc);
            }
            first..documents.slots.len()
        };
        writer.commit().map_err(engine)?;
        self.reader.reload().map_err(engine)?;
        self.map_slots()?;
        let mut documents = self
            .documents
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        for slot in born {
            if let Some(facts) = documents.facts.get_mut(slot) {
                facts.live = true;
            }
        }
        for slot in retired {
            documents.retire(slot);
        }
        Ok(())
    }

    /// Maps the slots of segments new since the last reload, and forgets merged-away ones.
    fn map_slots(&self) -> Result<(), IndexError> {
        let searcher = self.reader.searcher();
        let mut maps = self
            .slot_maps
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let mut current = HashMap::new();
        for segment in searcher.segment_readers() {
            let id = segment.segment_id();
            let map = match maps.remove(&id) {
                Some(map) => map,
                None => {
                    let column = segment.fast_fields().u64("slot").map_err(engine)?;
                    Arc::new(
                        (0..segment.max_doc())
                            .map(|doc| {
                                column
                                    .first(doc)
                                    .and_then(|slot| u32::try_from(slot).ok())
                                    .unwrap_or(u32::MAX)
                            })
                            .collect(),
                    )
                }
            };
            current.insert(id, map);
        }
        *maps = current;
        Ok(())
    }

    /// Runs one query over every segment, handing each live match's slot and score to `found`.
    fn for_each_match(
        &self,
        searcher: &tantivy::Searcher,
        query: &dyn Query,
        found: &mut dyn FnMut(usize, Score),
    ) -> Result<(), IndexError> {
        let weight = query
            .weight(EnableScoring::enabled_from_searcher(searcher))
            .map_err(engine)?;
        let maps = self
            .slot_maps
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        for segment in searcher.segment_readers() {
            let map = maps.get(&segment.segment_id());
            // A segment a concurrent commit just added is read through its fast field.
            let column = match map {
                Some(_) => None,
                None => Some(segment.fast_fields().u64("slot").map_err(engine)?),
            };
            let alive = segment.alive_bitset();
            weight
                .for_each(segment, &mut |doc, score| {
                    if alive.is_some_and(|bits| bits.is_deleted(doc)) {
                        return;
                    }
                    let slot = match (map, &column) {
                        (Some(map), _) => map.get(doc as usize).copied(),
                        (None, Some(column)) => {
                            column.first(doc).and_then(|s| u32::try_from(s).ok())
                        }
                        (None, None) => None,
                    };
                    if let Some(slot) = slot {
                        found(slot as usize, score);
                    }
                })
                .map_err(engine)?;
        }
        Ok(())
    }

    /// One query per distinct analysed word of the text (exact and, from 5 typed characters,
    /// fuzzy, over the three text fields), and the subcategory boost; `None` without words.
    ///
    /// A word found as typed in many listings (`COMMON_WORD_SHARE` of them, and at least
    /// `COMMON_WORD_MIN`) is a word the person spelled right: it is not expanded to its typo
    /// neighbours, which would only add noise and re-read its long posting list.
    fn word_queries(
        &self,
        query: &IndexQuery,
        analyzer: &mut TextAnalyzer,
        searcher: &tantivy::Searcher,
    ) -> Result<Option<TextQueries>, IndexError> {
        let f = self.fields;
        let common = (searcher.num_docs() / COMMON_WORD_SHARE).max(COMMON_WORD_MIN);
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
            return Ok(None);
        }
        let mut per_word = Vec::with_capacity(words.len());
        for (word, typed) in &words {
            let found = searcher
                .doc_freq(&Term::from_field_text(f.all, word))
                .map_err(engine)?;
            let typos = match typed {
                _ if found >= common => 0,
                0..=4 => 0,
                5..=8 => 1,
                _ => 2,
            };
            per_word.push({
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
            });
        }
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
        Ok(Some((per_word, boost)))
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
        let filter = Filter::new(query, &documents);
        let runs = documents.comuni_runs.as_slice();
        let targeted = |facts: &Facts| query.age.is_some() && facts.targeted;
        // Every match with what orders it: like Meilisearch's first ranking rule, a document
        // matching more of the query's words ranks first, then (with an age) one aimed at it,
        // then BM25.
        let searcher = self.reader.searcher();
        // The buffers of the last search on this thread: large, and reused rather than
        // allocated and faulted in again on every search.
        let mut matches = MATCHES.take();
        matches.clear();
        let words = self.word_queries(query, analyzer, &searcher)?;
        let ranked_by_text = words.is_some();
        match words {
            None => matches.extend(
                documents
                    .facts
                    .iter()
                    .enumerate()
                    .filter(|(_, facts)| filter.admits(facts, runs))
                    .map(|(slot, facts)| Match::new(slot, 0, targeted(facts), 0.0)),
            ),
            Some((per_word, boost)) => {
                // Each word is one search; its matches add one word and their BM25 score.
                let mut scored = SCORED.take();
                scored.clear();
                scored.resize(documents.facts.len(), Scored::default());
                for word in &per_word {
                    self.for_each_match(&searcher, word, &mut |slot, score| {
                        if let Some(entry) = scored.get_mut(slot) {
                            entry.found = true;
                            entry.score += score;
                            entry.words = entry.words.saturating_add(1);
                        }
                    })?;
                }
                if let Some(boost) = &boost {
                    self.for_each_match(&searcher, boost.as_ref(), &mut |slot, score| {
                        if let Some(entry) = scored.get_mut(slot) {
                            entry.found = true;
                            entry.score += score;
                        }
                    })?;
                }
                // In slot order, so the facts are read sequentially.
                matches.extend(
                    scored
                        .iter()
                        .zip(&documents.facts)
                        .enumerate()
                        .filter(|(_, (entry, facts))| entry.found && filter.admits(facts, runs))
                        .map(|(slot, (entry, facts))| {
                            Match::new(slot, entry.words, targeted(facts), entry.score)
                        }),
                );
                SCORED.set(scored);
            }
        }
        let facets = documents.facets(matches.iter().map(|m| m.slot as usize));
        let total = u64::try_from(matches.len()).unwrap_or(u64::MAX);
        let wanted = query.offset.saturating_add(query.limit);
        if query.order == Order::Relevance {
            keep_best_classes(&mut matches, wanted, ranked_by_text);
        }
        let distance = |slot: usize| {
            query
                .origin
                .zip(documents.slots.get(slot)?.as_ref()?.location)
                .map(|(origin, at)| origin.distance_m(at))
        };
        match query.order {
            Order::Relevance => {}
            Order::Distance => {
                for m in &mut matches {
                    m.key = distance(m.slot as usize).unwrap_or(f64::INFINITY);
                }
            }
            Order::Price => {
                for m in &mut matches {
                    m.key = documents
                        .facts
                        .get(m.slot as usize)
                        .map_or(f64::INFINITY, |f| f.min_price_cents as f64);
                }
            }
        }
        // Only the matches up to the end of the page need sorting.
        if wanted < matches.len() {
            matches.select_nth_unstable_by(wanted, Match::order);
            matches.truncate(wanted);
        }
        matches.sort_unstable_by(Match::order);
        let hits = matches
            .iter()
            .skip(query.offset)
            .take(query.limit)
            .filter_map(|m| {
                let doc = documents.slots.get(m.slot as usize)?.as_ref()?;
                Some(IndexHit {
                    id: doc.id.clone(),
                    // Comparable within one answer: words matched first, then BM25.
                    score: f64::from(m.words) * 1_000.0 + f64::from(m.bm25),
                    distance_m: distance(m.slot as usize),
                })
            })
            .collect();
        MATCHES.set(matches);
        Ok(IndexPage {
            hits,
            total,
            facets,
        })
    }
}

/// Keeps, of matches in slot order ranked by relevance, only those that can reach the first
/// `wanted`: the best classes (words matched, then aimed at the age) down to the one that fills
/// the page. Without text every score in a class is equal and slots break ties, so only the
/// first of the last class are kept. Nothing is reordered.
fn keep_best_classes(matches: &mut Vec<Match>, wanted: usize, ranked_by_text: bool) {
    let class = |m: &Match| usize::from(m.words) * 2 + usize::from(m.targeted);
    let Some(top) = matches.iter().map(class).max() else {
        return;
    };
    let mut counts = vec![0usize; top + 1];
    for m in matches.iter() {
        if let Some(n) = counts.get_mut(class(m)) {
            *n += 1;
        }
    }
    let mut above = 0;
    let mut threshold = None;
    for (c, n) in counts.iter().enumerate().rev() {
        if above + n >= wanted {
            threshold = Some(c);
            break;
        }
        above += n;
    }
    let Some(threshold) = threshold else {
        return;
    };
    let mut room = wanted - above;
    matches.retain(|m| match class(m).cmp(&threshold) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Equal if ranked_by_text => true,
        std::cmp::Ordering::Equal => {
            let keep = room > 0;
            room = room.saturating_sub(1);
            keep
        }
    });
}

thread_local! {
    static SCORED: std::cell::Cell<Vec<Scored>> = const { std::cell::Cell::new(Vec::new()) };
    static MATCHES: std::cell::Cell<Vec<Match>> = const { std::cell::Cell::new(Vec::new()) };
}

/// What the words of a query found of one slot.
#[derive(Debug, Clone, Copy, Default)]
struct Scored {
    score: f32,
    words: u16,
    found: bool,
}

/// A match and what orders it.
#[derive(Debug, Clone, Copy)]
struct Match {
    /// The order's key (distance or price, ascending); 0 when ordering by relevance.
    key: f64,
    bm25: f32,
    slot: u32,
    words: u16,
    targeted: bool,
}

impl Match {
    fn new(slot: usize, words: u16, targeted: bool, bm25: f32) -> Match {
        Match {
            key: 0.0,
            bm25,
            slot: u32::try_from(slot).unwrap_or(u32::MAX),
            words,
            targeted,
        }
    }

    /// The order's key, then relevance, then the slot (the order documents were added in:
    /// listing id order after a rebuild).
    fn order(a: &Match, b: &Match) -> std::cmp::Ordering {
        a.key
            .total_cmp(&b.key)
            .then_with(|| b.words.cmp(&a.words))
            .then_with(|| b.targeted.cmp(&a.targeted))
            .then_with(|| b.bm25.total_cmp(&a.bm25))
            .then_with(|| a.slot.cmp(&b.slot))
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

    /// Searches on the blocking pool: a search over many matches takes milliseconds of CPU,
    /// which must neither stall the runtime's other requests nor queue them behind it.
    async fn search(&self, query: &IndexQuery) -> Result<IndexPage, IndexError> {
        let (index, query) = (self.clone(), query.clone());
        blocking(move || index.search_now(&query)).await
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
            documents.push(d.clone());
        }
        for facts in &mut documents.facts {
            facts.live = true;
        }
        let base = IndexQuery::everything(0, 10);
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
            for (d, facts) in docs.iter().zip(&documents.facts) {
                assert_eq!(
                    filter.admits(facts, &documents.comuni_runs),
                    query.admits(d),
                    "{query:?} on {}",
                    d.id
                );
            }
        }
    }

    #[test]
    fn only_the_classes_that_can_reach_the_page_are_kept() {
        let all = |specs: &[(u16, bool, f32)]| -> Vec<Match> {
            specs
                .iter()
                .enumerate()
                .map(|(slot, &(words, targeted, bm25))| Match::new(slot, words, targeted, bm25))
                .collect()
        };
        let specs = [
            (1, false, 0.5),
            (2, false, 0.1),
            (1, true, 0.9),
            (2, false, 0.7),
            (0, false, 0.0),
            (1, false, 0.8),
            (1, false, 0.2),
        ];
        for wanted in 0..=8 {
            let mut expected = all(&specs);
            expected.sort_by(Match::order);
            expected.truncate(wanted);
            let mut kept = all(&specs);
            keep_best_classes(&mut kept, wanted, true);
            kept.sort_by(Match::order);
            kept.truncate(wanted);
            let slots = |m: &[Match]| m.iter().map(|m| m.slot).collect::<Vec<_>>();
            assert_eq!(slots(&kept), slots(&expected), "wanted {wanted}");
        }
        // Without text: equal scores, slots break ties, only the first few are kept.
        let mut plain = all(&[(0, false, 0.0); 10]);
        plain[7].targeted = true;
        keep_best_classes(&mut plain, 3, false);
        assert_eq!(
            plain.iter().map(|m| m.slot).collect::<Vec<_>>(),
            vec![0, 1, 7]
        );
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
            documents.push(d.clone());
        }
        assert_eq!(documents.facets(0..docs.len()), count_facets(docs.iter()));
        assert_eq!(
            documents.facets([2].into_iter()),
            count_facets(docs[2..3].iter())
        );
    }
}
