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
//! BM25 scores, each field's term searched on its own and the weighted scores added.
//!
//! Beside tantivy, each generation keeps, for every filter and facet value, the set of its
//! slots as bits: a query's filters are set intersections, facet counts are counts of
//! intersections (or, for few matches, counted match by match), and the rank classes (how many
//! query words a listing has, then whether it is aimed at the stated age) are bit-sliced counts
//! — exactly as `IndexQuery::admits` and `count_facets` define them. Only the classes that can
//! reach the page are built, and only the matches that can be on it are ordered.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use tantivy::query::{EnableScoring, FuzzyTermQuery, Query, TermQuery};
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

use super::bits::{Bits, Counter};
use super::{
    FacetCounts, IndexError, IndexHit, IndexPage, IndexQuery, Order, SearchDocument, SearchIndex,
};
use welfare_core::category::{Category, Subcategory};
use welfare_core::eligibility::MAX_AGE_YEARS;

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
    /// What residual filters and orders read, by slot.
    facts: Vec<Facts>,
    /// The comuni of every slot, one run per slot (`Facts::comuni`).
    comuni_runs: Vec<u16>,
    by_id: HashMap<String, usize>,
    /// The comuni seen, interned.
    comuni: Vec<String>,
    comune_numbers: HashMap<String, u16>,
    /// The providers seen, interned.
    provider_numbers: HashMap<String, u32>,
    /// The slots of each value filters and facets ask about.
    sets: Sets,
    /// How many live slots were verified at each instant: the oldest tells whether a
    /// freshness bound excludes anything.
    verified: BTreeMap<i64, u32>,
}

/// The slots of each filter and facet value. Slots are never reused within a generation, so
/// only `live` ever loses one.
#[derive(Default)]
struct Sets {
    /// In the index now (a removed document's slot stays, dead).
    live: Bits,
    /// By position in `Category::ALL`.
    category: Vec<Bits>,
    /// By position in `Subcategory::all()`.
    subcategory: Vec<Bits>,
    /// By comune number, the slots naming it in their area (not those serving everywhere).
    listed: Vec<Bits>,
    everywhere: Bits,
    free: Bits,
    /// Stating an age range (not open to every age).
    targeted: Bits,
    /// By age in years, the slots admitting it.
    age: Vec<Bits>,
    /// By provider number, its slots.
    provider: Vec<Vec<u32>>,
}

/// What residual filters, orders and facets read of a document.
#[derive(Default, Clone, Copy)]
struct Facts {
    verified_at: i64,
    min_price_cents: i64,
    /// Start and length of the slot's run in `Documents::comuni_runs`.
    comuni_start: u32,
    comuni_len: u16,
    /// Positions in `Category::ALL` and `Subcategory::all()`.
    category: u8,
    subcategory: u8,
    free: bool,
    everywhere: bool,
}

/// Facet counts by value number, before they become buckets.
struct Tally {
    category: Vec<u64>,
    subcategory: Vec<u64>,
    /// By comune number, listings naming the comune (not those serving everywhere).
    listed: Vec<u64>,
    everywhere: u64,
    /// The first match serving everywhere: its area is the whole territory's.
    first_everywhere: Option<usize>,
    free: u64,
    matched: u64,
}

/// Below one match in this many slots, facets are counted match by match rather than by
/// intersecting the matches with every value's set (about a hundred sets).
const SPARSE_MATCHES: u64 = 16;

/// One slot of `sets`, grown as needed.
fn member(sets: &mut Vec<Bits>, at: usize, slot: usize) {
    if sets.len() <= at {
        sets.resize_with(at + 1, Bits::default);
    }
    if let Some(set) = sets.get_mut(at) {
        set.insert(slot);
    }
}

/// The union of some sets of `sets`.
fn union_of(sets: &[Bits], chosen: impl Iterator<Item = usize>) -> Bits {
    let mut union = Bits::default();
    for at in chosen {
        if let Some(set) = sets.get(at) {
            union.unite(set);
        }
    }
    union
}

impl Documents {
    /// The comuni run of a slot.
    fn run<'a>(comuni_runs: &'a [u16], facts: &Facts) -> &'a [u16] {
        let start = facts.comuni_start as usize;
        comuni_runs
            .get(start..start + usize::from(facts.comuni_len))
            .unwrap_or_default()
    }

    /// Adds a document in the next slot, not yet live; returns the slot of the document it
    /// replaces, if the id was already here.
    fn push(&mut self, doc: SearchDocument) -> Option<usize> {
        let slot = self.slots.len();
        let facts = self.facts_of(&doc, slot);
        let replaced = self.by_id.insert(doc.id.clone(), slot);
        self.facts.push(facts);
        self.slots.push(Some(Arc::new(doc)));
        replaced
    }

    /// Makes a pushed slot searchable.
    fn enliven(&mut self, slot: usize) {
        if let Some(facts) = self.facts.get(slot)
            && !self.sets.live.contains(slot)
        {
            self.sets.live.insert(slot);
            *self.verified.entry(facts.verified_at).or_default() += 1;
        }
    }

    /// Marks a slot removed.
    fn retire(&mut self, slot: usize) {
        if let Some(entry) = self.slots.get_mut(slot) {
            *entry = None;
        }
        if let Some(facts) = self.facts.get(slot)
            && self.sets.live.contains(slot)
        {
            self.sets.live.remove(slot);
            if let Some(n) = self.verified.get_mut(&facts.verified_at) {
                *n -= 1;
                if *n == 0 {
                    self.verified.remove(&facts.verified_at);
                }
            }
        }
    }

    /// Interns a document's values and enters its slot in the sets of its values.
    fn facts_of(&mut self, doc: &SearchDocument, slot: usize) -> Facts {
        let position = |found: Option<usize>| found.unwrap_or(0);
        let comuni_start = u32::try_from(self.comuni_runs.len()).unwrap_or(u32::MAX);
        for code in &doc.comuni {
            let next = u16::try_from(self.comuni.len()).unwrap_or(u16::MAX);
            let number = *self.comune_numbers.entry(code.clone()).or_insert(next);
            if usize::from(number) == self.comuni.len() {
                self.comuni.push(code.clone());
            }
            self.comuni_runs.push(number);
            if !doc.everywhere {
                member(&mut self.sets.listed, usize::from(number), slot);
            }
        }
        let next = u32::try_from(self.provider_numbers.len()).unwrap_or(u32::MAX);
        let provider = *self
            .provider_numbers
            .entry(doc.provider_id.clone())
            .or_insert(next) as usize;
        if self.sets.provider.len() <= provider {
            self.sets.provider.resize_with(provider + 1, Vec::new);
        }
        if let Some(slots) = self.sets.provider.get_mut(provider) {
            slots.push(u32::try_from(slot).unwrap_or(u32::MAX));
        }
        let category = position(Category::ALL.iter().position(|c| *c == doc.category));
        let subcategory = position(
            Subcategory::all()
                .iter()
                .position(|s| s.code == doc.subcategory),
        );
        member(&mut self.sets.category, category, slot);
        member(&mut self.sets.subcategory, subcategory, slot);
        for age in doc.min_age..=doc.max_age {
            member(&mut self.sets.age, usize::from(age), slot);
        }
        let sets = &mut self.sets;
        for (flag, set) in [
            (doc.everywhere, &mut sets.everywhere),
            (doc.free, &mut sets.free),
            (
                doc.min_age > 0 || doc.max_age < MAX_AGE_YEARS,
                &mut sets.targeted,
            ),
        ] {
            if flag {
                set.insert(slot);
            }
        }
        Facts {
            verified_at: doc.verified_at,
            min_price_cents: doc.min_price_cents,
            comuni_start,
            comuni_len: u16::try_from(doc.comuni.len()).unwrap_or(u16::MAX),
            category: u8::try_from(category).unwrap_or(u8::MAX),
            subcategory: u8::try_from(subcategory).unwrap_or(u8::MAX),
            free: doc.free,
            everywhere: doc.everywhere,
        }
    }

    /// The live slots passing the query's filters: the same decision as
    /// `IndexQuery::admits`, by set intersections; what no set holds (a price bound, a
    /// freshness bound that excludes someone) is checked slot by slot on what is left.
    fn admitted(&self, query: &IndexQuery) -> Bits {
        let sets = &self.sets;
        let mut admitted = sets.live.clone();
        if !query.categories.is_empty() {
            admitted.intersect(&union_of(
                &sets.category,
                Category::ALL
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| query.categories.contains(c))
                    .map(|(i, _)| i),
            ));
        }
        if !query.subcategories.is_empty() {
            admitted.intersect(&union_of(
                &sets.subcategory,
                Subcategory::all()
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| query.subcategories.iter().any(|code| code == s.code))
                    .map(|(i, _)| i),
            ));
        }
        if let Some(code) = &query.served {
            let mut serving = sets.everywhere.clone();
            if let Some(listed) = self
                .comune_numbers
                .get(code)
                .and_then(|n| sets.listed.get(usize::from(*n)))
            {
                serving.unite(listed);
            }
            admitted.intersect(&serving);
        }
        if query.free_only {
            admitted.intersect(&sets.free);
        }
        if let Some(age) = query.age {
            admitted.intersect(sets.age.get(usize::from(age)).unwrap_or(&Bits::default()));
        }
        if let Some(id) = &query.provider_id {
            let mut theirs = Bits::default();
            for &slot in self
                .provider_numbers
                .get(id)
                .and_then(|n| sets.provider.get(*n as usize))
                .map_or(&[][..], Vec::as_slice)
            {
                theirs.insert(slot as usize);
            }
            admitted.intersect(&theirs);
        }
        self.check_residual(query, &mut admitted);
        admitted
    }

    /// Removes from `slots` those failing the bounds no set holds.
    fn check_residual(&self, query: &IndexQuery, slots: &mut Bits) {
        let stale_ones = self
            .verified
            .first_key_value()
            .is_some_and(|(oldest, _)| *oldest < query.fresh_since);
        if !stale_ones && query.max_price_cents.is_none() {
            return;
        }
        slots.retain(|slot| {
            self.facts.get(slot).is_some_and(|facts| {
                facts.verified_at >= query.fresh_since
                    && query
                        .max_price_cents
                        .is_none_or(|max| facts.min_price_cents <= max)
            })
        });
    }

    /// The facets of the matching slots (`count` of them), as `count_facets` defines them.
    fn facets(&self, matched: &Bits, count: u64) -> Vec<FacetCounts> {
        let tally = if count * SPARSE_MATCHES < self.facts.len() as u64 {
            self.tally_by_match(matched, count)
        } else {
            self.tally_by_set(matched, count)
        };
        self.buckets(tally)
    }

    /// Counts as intersections with every value's set: for many matches.
    fn tally_by_set(&self, matched: &Bits, count: u64) -> Tally {
        let sets = &self.sets;
        let counts =
            |of: &[Bits]| -> Vec<u64> { of.iter().map(|set| matched.count_common(set)).collect() };
        Tally {
            category: counts(&sets.category),
            subcategory: counts(&sets.subcategory),
            listed: counts(&sets.listed),
            everywhere: matched.count_common(&sets.everywhere),
            first_everywhere: matched.first_common(&sets.everywhere),
            free: matched.count_common(&sets.free),
            matched: count,
        }
    }

    /// Counts match by match: for few matches.
    fn tally_by_match(&self, matched: &Bits, count: u64) -> Tally {
        let mut tally = Tally {
            category: vec![0; self.sets.category.len()],
            subcategory: vec![0; self.sets.subcategory.len()],
            listed: vec![0; self.sets.listed.len()],
            everywhere: 0,
            first_everywhere: None,
            free: 0,
            matched: count,
        };
        let add = |counts: &mut Vec<u64>, at: usize| {
            if let Some(n) = counts.get_mut(at) {
                *n += 1;
            }
        };
        for slot in matched.ones() {
            let Some(facts) = self.facts.get(slot) else {
                continue;
            };
            add(&mut tally.category, usize::from(facts.category));
            add(&mut tally.subcategory, usize::from(facts.subcategory));
            tally.free += u64::from(facts.free);
            if facts.everywhere {
                tally.everywhere += 1;
                tally.first_everywhere.get_or_insert(slot);
            } else {
                for &c in Documents::run(&self.comuni_runs, facts) {
                    add(&mut tally.listed, usize::from(c));
                }
            }
        }
        tally
    }

    /// The buckets of a tally, each facet's sorted by count, then value.
    fn buckets(&self, tally: Tally) -> Vec<FacetCounts> {
        let mut comune = tally.listed;
        comune.resize(self.comuni.len(), 0);
        // Listings serving the whole territory count once per comune of the first one's area.
        if let Some(facts) = tally.first_everywhere.and_then(|slot| self.facts.get(slot)) {
            for &c in Documents::run(&self.comuni_runs, facts) {
                if let Some(n) = comune.get_mut(usize::from(c)) {
                    *n += tally.everywhere;
                }
            }
        }
        let buckets = |field: &'static str, counts: Vec<(String, u64)>| {
            let mut buckets: Vec<(String, u64)> =
                counts.into_iter().filter(|(_, n)| *n > 0).collect();
            buckets.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            FacetCounts { field, buckets }
        };
        let nth = |counts: &[u64], i: usize| counts.get(i).copied().unwrap_or(0);
        vec![
            buckets(
                "category",
                Category::ALL
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (c.code().to_owned(), nth(&tally.category, i)))
                    .collect(),
            ),
            buckets(
                "subcategory",
                Subcategory::all()
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (s.code.to_owned(), nth(&tally.subcategory, i)))
                    .collect(),
            ),
            buckets("comune", self.comuni.iter().cloned().zip(comune).collect()),
            buckets(
                "price",
                vec![
                    ("free".to_owned(), tally.free),
                    ("paid".to_owned(), tally.matched - tally.free),
                ],
            ),
        ]
    }
}

/// One query per word of the text, and one boost per subcategory the text names.
type TextQueries = (Vec<Vec<Weighted>>, Vec<Weighted>);

/// A query and the weight of its scores.
type Weighted = (Box<dyn Query>, Score);

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
        // The same id twice in one batch: the last one is the document.
        let mut seen = HashSet::new();
        let mut added: Vec<SearchDocument> = added
            .into_iter()
            .rev()
            .filter(|doc| seen.insert(doc.id.clone()))
            .collect();
        added.reverse();
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
                retired.extend(documents.push(doc));
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
            documents.enliven(slot);
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
    /// Generic over `found` so that it is inlined into tantivy's one dynamic call per match.
    fn for_each_match(
        &self,
        searcher: &tantivy::Searcher,
        query: &dyn Query,
        mut found: impl FnMut(usize, Score),
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
            // The word's clauses, each searched alone with its weight: a match's score for
            // the word is the weighted sum, as a boolean "should" query would add them.
            let mut clauses: Vec<(Box<dyn Query>, Score)> = Vec::new();
            for (field, weight) in [(f.title, 3.0), (f.vocabulary, 2.0), (f.description, 1.0)] {
                clauses.push((
                    Box::new(TermQuery::new(
                        Term::from_field_text(field, word),
                        IndexRecordOption::WithFreqs,
                    )),
                    weight,
                ));
            }
            if typos > 0 {
                // A typo in the title weighs more than one anywhere else.
                for (field, weight) in [(f.title, 1.5), (f.all, 0.5)] {
                    clauses.push((
                        Box::new(FuzzyTermQuery::new(
                            Term::from_field_text(field, word),
                            typos,
                            true,
                        )),
                        weight,
                    ));
                }
            }
            per_word.push(clauses);
        }
        // One term per subcategory named, each searched alone: a listing has one
        // subcategory, so it gains at most one boost, the score a "should" union would give.
        let boost = query
            .boost_subcategories
            .iter()
            .map(|code| {
                let term: Box<dyn Query> = Box::new(TermQuery::new(
                    Term::from_field_text(f.subcategory, code),
                    IndexRecordOption::Basic,
                ));
                (term, 4.0)
            })
            .collect();
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
        let searcher = self.reader.searcher();
        let len = documents.slots.len();
        let mut admitted = documents.admitted(query);
        // The admitted matches by how many of the query's words each has: like Meilisearch's
        // first ranking rule, a document matching more words ranks first, then (with an age)
        // one aimed at it, then BM25.
        let mut scores = SCORES.take();
        scores.resize(len.max(scores.len()), 0.0);
        let words = self.word_queries(query, analyzer, &searcher)?;
        let ranked_by_text = words.is_some();
        let (counter, found) = match words {
            None => (None, None),
            Some((per_word, boost)) => {
                // Each word is one search; its matches gain the word and its BM25 score.
                let mut counter = Counter::new(per_word.len(), len);
                let mut found = Bits::with_len(len);
                for clauses in &per_word {
                    let mut has_word = Bits::with_len(len);
                    for (clause, weight) in clauses {
                        self.for_each_match(&searcher, clause.as_ref(), |slot, score| {
                            if let Some(total) = scores.get_mut(slot) {
                                *total += weight * score;
                                has_word.insert(slot);
                            }
                        })?;
                    }
                    counter.add(&has_word);
                    found.unite(&has_word);
                }
                for (boost, weight) in &boost {
                    self.for_each_match(&searcher, boost.as_ref(), |slot, score| {
                        if let Some(total) = scores.get_mut(slot) {
                            *total += weight * score;
                            found.insert(slot);
                        }
                    })?;
                }
                admitted.intersect(&found);
                (Some((counter, per_word.len())), Some(found))
            }
        };
        let total = admitted.len();
        let facets = documents.facets(&admitted, total);
        let wanted = query.offset.saturating_add(query.limit);
        // The rank classes, best first, each built only if the page reaches it: words
        // matched, then aimed at the stated age.
        let most = counter.as_ref().map_or(0, |(_, words)| *words);
        let classes = (0..=most).rev().flat_map(|words| {
            let set = match &counter {
                Some((counter, _)) => counter.exactly(words, &admitted),
                None => admitted.clone(),
            };
            let words = u16::try_from(words).unwrap_or(u16::MAX);
            if query.age.is_some() {
                let aimed = set.and(&documents.sets.targeted);
                let others = set.and_not(&documents.sets.targeted);
                vec![
                    Class::new(words, true, aimed),
                    Class::new(words, false, others),
                ]
            } else {
                vec![Class::new(words, false, set)]
            }
        });
        let mut matches = MATCHES.take();
        matches.clear();
        let reach = if query.order == Order::Relevance {
            Reach::Page {
                wanted,
                ties_by_score: ranked_by_text,
            }
        } else {
            Reach::Everything
        };
        collect_matches(classes, reach, &scores, &mut matches);
        if let Some(found) = found {
            for slot in found.ones() {
                if let Some(score) = scores.get_mut(slot) {
                    *score = 0.0;
                }
            }
        }
        SCORES.set(scores);
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

/// The admitted matches with the same number of query words and the same "aimed at the age".
struct Class {
    words: u16,
    targeted: bool,
    slots: Bits,
    len: usize,
}

impl Class {
    fn new(words: u16, targeted: bool, slots: Bits) -> Class {
        let len = usize::try_from(slots.len()).unwrap_or(usize::MAX);
        Class {
            words,
            targeted,
            slots,
            len,
        }
    }
}

/// Which matches a search must order.
#[derive(Clone, Copy)]
enum Reach {
    /// Every one (an order by distance or price looks at all).
    Everything,
    /// Those that can reach the first `wanted` by relevance: the best classes down to the one
    /// that fills the page. Within a class, scores break ties when there is text; without
    /// text every score is equal and slots break ties, so only the first of the last class.
    Page { wanted: usize, ties_by_score: bool },
}

/// The matches of `classes` (best first, taken only as far as needed) within `reach`, with
/// their scores: every match of the classes before the one that fills the page, and of that
/// one only those that can be on the page (by score, then slot; without text, scores tie, so
/// the first slots).
fn collect_matches(
    classes: impl IntoIterator<Item = Class>,
    reach: Reach,
    scores: &[f32],
    matches: &mut Vec<Match>,
) {
    let score = |slot: usize| scores.get(slot).copied().unwrap_or(0.0);
    let mut taken = 0;
    let mut classes = classes.into_iter();
    loop {
        let room = match reach {
            Reach::Everything => usize::MAX,
            Reach::Page { wanted, .. } => wanted.saturating_sub(taken),
        };
        // The next class is built only if the page has room for it.
        if room == 0 {
            break;
        }
        let Some(class) = classes.next() else {
            break;
        };
        let matched = |slot: usize| Match::new(slot, class.words, class.targeted, score(slot));
        match reach {
            Reach::Page {
                ties_by_score: true,
                ..
            } if class.len > room => {
                // The best `room` by score: a selection over (score, slot) pairs.
                let mut best: Vec<(f32, u32)> = class
                    .slots
                    .ones()
                    .map(|slot| (score(slot), u32::try_from(slot).unwrap_or(u32::MAX)))
                    .collect();
                let order =
                    |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
                if room < best.len() {
                    best.select_nth_unstable_by(room, order);
                    best.truncate(room);
                }
                matches.extend(best.into_iter().map(|(_, slot)| matched(slot as usize)));
            }
            _ => matches.extend(class.slots.ones().take(room).map(matched)),
        }
        taken += class.len;
    }
}

thread_local! {
    /// Each slot's BM25 sum during a search; all zero between searches.
    static SCORES: std::cell::Cell<Vec<f32>> = const { std::cell::Cell::new(Vec::new()) };
    static MATCHES: std::cell::Cell<Vec<Match>> = const { std::cell::Cell::new(Vec::new()) };
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

    /// Searches on the calling task's thread. A search is CPU work of well under a
    /// millisecond for most queries and a few for the broadest on 100,000 listings; handing
    /// it to tokio's blocking pool cost two thread switches per search and let every
    /// concurrent search share the cores at once, which measured worse at the 99th percentile
    /// (BENCHMARKS.md) than running at most one search per runtime worker.
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

    fn documents_of(docs: &[SearchDocument]) -> Documents {
        let mut documents = Documents::default();
        for (slot, d) in docs.iter().enumerate() {
            documents.push(d.clone());
            documents.enliven(slot);
        }
        documents
    }

    #[test]
    fn the_sets_admit_as_admits_does() {
        let subs = Subcategory::all();
        let mut docs = vec![
            doc("a", &subs[0], &["098031", "098019"], false, true),
            doc("b", &subs[1], &["098031", "098019", "098010"], true, false),
            doc("c", &subs[12], &["098010"], false, false),
            doc("d", &subs[12], &["098031"], false, true),
        ];
        docs[2].min_age = 3;
        docs[2].max_age = 10;
        docs[1].min_price_cents = 500;
        docs[0].provider_id = "q".to_owned();
        docs[3].verified_at = 5;
        docs[3].max_age = 30;
        let mut documents = documents_of(&docs);
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
                subcategories: vec![subs[1].code.to_owned(), subs[12].code.to_owned()],
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
                age: Some(200),
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
                provider_id: Some("nobody".to_owned()),
                ..base.clone()
            },
            IndexQuery {
                fresh_since: 1,
                ..base.clone()
            },
            IndexQuery {
                fresh_since: 1,
                free_only: true,
                served: Some("098031".to_owned()),
                ..base.clone()
            },
            base.clone(),
        ];
        let check = |documents: &Documents, dead: &[usize]| {
            for query in &queries {
                let admitted = documents.admitted(query);
                for (slot, d) in docs.iter().enumerate() {
                    assert_eq!(
                        admitted.contains(slot),
                        query.admits(d) && !dead.contains(&slot),
                        "{query:?} on {}",
                        d.id
                    );
                }
            }
        };
        check(&documents, &[]);
        // A removed document is admitted by nothing, and the oldest verification is gone.
        documents.retire(3);
        check(&documents, &[3]);
        assert_eq!(documents.verified.first_key_value(), Some((&0, &3)));
    }

    #[test]
    fn only_the_classes_that_can_reach_the_page_are_collected() {
        let specs: [(u16, bool, f32); 9] = [
            (1, false, 0.5),
            (2, false, 0.1),
            (1, true, 0.9),
            (2, false, 0.7),
            (0, false, 0.0),
            (1, false, 0.8),
            (1, false, 0.2),
            (0, true, 0.0),
            (2, true, 0.3),
        ];
        let scores: Vec<f32> = specs.iter().map(|s| s.2).collect();
        let classes = |specs: &[(u16, bool, f32)]| -> Vec<Class> {
            let mut classes = Vec::new();
            for words in (0..=2).rev() {
                for targeted in [true, false] {
                    let mut slots = Bits::default();
                    for (slot, s) in specs.iter().enumerate() {
                        if s.0 == words && s.1 == targeted {
                            slots.insert(slot);
                        }
                    }
                    classes.push(Class::new(words, targeted, slots));
                }
            }
            classes
        };
        let sorted = |mut matches: Vec<Match>, wanted: usize| {
            matches.sort_by(Match::order);
            matches.truncate(wanted);
            matches.iter().map(|m| m.slot).collect::<Vec<_>>()
        };
        let mut everything = Vec::new();
        collect_matches(classes(&specs), Reach::Everything, &scores, &mut everything);
        assert_eq!(everything.len(), specs.len());
        // Distinct scores; scores tied within classes (slots break the ties); no text.
        let tied: Vec<f32> = scores.iter().map(|s| s.round()).collect();
        for (ties_by_score, scores) in [
            (true, scores.clone()),
            (true, tied),
            (false, vec![0.0; specs.len()]),
        ] {
            let mut all = Vec::new();
            collect_matches(classes(&specs), Reach::Everything, &scores, &mut all);
            for wanted in 0..=10 {
                let mut page = Vec::new();
                let reach = Reach::Page {
                    wanted,
                    ties_by_score,
                };
                collect_matches(classes(&specs), reach, &scores, &mut page);
                assert!(page.len() <= all.len());
                assert_eq!(
                    sorted(page, wanted),
                    sorted(all.clone(), wanted),
                    "wanted {wanted}, ties by score {ties_by_score}"
                );
            }
        }
        // Without text, only the first few of the class filling the page.
        let mut page = Vec::new();
        let reach = Reach::Page {
            wanted: 3,
            ties_by_score: false,
        };
        collect_matches(classes(&specs), reach, &[0.0; 9], &mut page);
        assert_eq!(page.iter().map(|m| m.slot).collect::<Vec<_>>(), [8, 1, 3]);
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
        let documents = documents_of(&docs);
        let subset = |slots: &[usize]| {
            let mut bits = Bits::default();
            for &s in slots {
                bits.insert(s);
            }
            bits
        };
        for (slots, reference) in [
            (&[0, 1, 2, 3][..], &docs[..]),
            (&[2], &docs[2..3]),
            (&[1, 2], &docs[1..3]),
            (&[3], &docs[3..]),
            (&[], &docs[..0]),
        ] {
            let matched = subset(slots);
            let count = matched.len();
            let expected = count_facets(reference.iter());
            // Both ways of counting, whichever `facets` would choose for this many.
            assert_eq!(
                documents.buckets(documents.tally_by_set(&matched, count)),
                expected,
                "by set, {slots:?}"
            );
            assert_eq!(
                documents.buckets(documents.tally_by_match(&matched, count)),
                expected,
                "by match, {slots:?}"
            );
            assert_eq!(documents.facets(&matched, count), expected);
        }
    }

    #[test]
    fn an_id_twice_in_a_batch_is_one_listing_the_last() {
        let subs = Subcategory::all();
        let generation = Generation::new().expect("generation");
        let mut analyzer = italian_analyzer();
        let mut first = doc("a", &subs[0], &["098031"], false, true);
        first.title = "pasti caldi".to_owned();
        let mut second = first.clone();
        second.title = "trasporto sociale".to_owned();
        let other = doc("b", &subs[1], &["098031"], false, false);
        generation
            .apply(vec![first, other.clone(), second], &[])
            .expect("apply");
        let search = |text: &str, analyzer: &mut TextAnalyzer| {
            let query = IndexQuery {
                text: text.to_owned(),
                ..IndexQuery::everything(0, 10)
            };
            generation.search(&query, analyzer).expect("search")
        };
        let all = search("", &mut analyzer);
        assert_eq!(all.total, 2);
        assert_eq!(all.hits.len(), 2);
        assert_eq!(search("pasti", &mut analyzer).total, 0);
        let found = search("trasporto", &mut analyzer);
        assert_eq!(
            found.hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
            ["a"]
        );
        // Replaced and removed later, the slot of each version is dead.
        generation
            .apply(Vec::new(), &["a".to_owned()])
            .expect("remove");
        let left = search("", &mut analyzer);
        assert_eq!(left.total, 1);
        assert_eq!(left.facets, count_facets([other].iter()));
    }
}
