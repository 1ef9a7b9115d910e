//! One generation of the index: tantivy's segments and the slot sets built with them, swapped
//! in whole; a search turns the query into weighted term queries, filters on the sets, builds
//! the rank classes that can reach the page and scores only what may be on it.

use super::*;
use crate::search::scoring;

/// One query per word of the text, and one boost per subcategory the text names.
pub(super) type TextQueries = (Vec<Vec<Weighted>>, Vec<Weighted>);

/// A query and the weight of its scores.
pub(super) type Weighted = (Box<dyn Query>, Score);

/// One built index: tantivy's, its writer, and the documents beside it.
pub(super) struct Generation {
    pub(super) reader: IndexReader,
    pub(super) writer: Mutex<IndexWriter<TantivyDocument>>,
    pub(super) fields: Fields,
    pub(super) documents: RwLock<Documents>,
    /// Each segment's slots by tantivy document id, read once per segment from the `slot`
    /// fast field so searches map matches with one array lookup.
    pub(super) slot_maps: RwLock<HashMap<SegmentId, Arc<Vec<u32>>>>,
}

impl Generation {
    pub(super) fn new() -> Result<Generation, IndexError> {
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
    pub(super) fn apply(
        &self,
        added: Vec<SearchDocument>,
        removed: &[String],
    ) -> Result<(), IndexError> {
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
    pub(super) fn map_slots(&self) -> Result<(), IndexError> {
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
    pub(super) fn for_each_match(
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
    pub(super) fn word_queries(
        &self,
        query: &IndexQuery,
        analyzer: &mut TextAnalyzer,
        searcher: &tantivy::Searcher,
    ) -> Result<Option<TextQueries>, IndexError> {
        let f = self.fields;
        let listings = searcher.num_docs();
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
        let mut corrected = 0;
        for (typed_word, typed) in &words {
            let mut word = typed_word.clone();
            let mut found = searcher
                .doc_freq(&Term::from_field_text(f.all, &word))
                .map_err(engine)?;
            // A short word no listing has is corrected to its most frequent neighbour one edit
            // away ("nodo" → "nido"): among the words of the kinds of service first (a
            // subcategory's label and synonyms), else among all; a word some listing has stays.
            if *typed == crate::search::SHORT_WORD_CHARS
                && found == 0
                && corrected < welfare_core::spelling::MAX_CORRECTED_WORDS
            {
                corrected += 1;
                let candidates = welfare_core::text::one_edit_variants(&word);
                for field in [f.vocabulary, f.all] {
                    let mut best: Option<(u64, &String)> = None;
                    for candidate in &candidates {
                        let count = searcher
                            .doc_freq(&Term::from_field_text(field, candidate))
                            .map_err(engine)?;
                        if count > 0
                            && best.is_none_or(|(n, w)| count > n || (count == n && candidate < w))
                        {
                            best = Some((count, candidate));
                        }
                    }
                    if let Some((_, corrected)) = best {
                        word.clone_from(corrected);
                        found = searcher
                            .doc_freq(&Term::from_field_text(f.all, &word))
                            .map_err(engine)?;
                        break;
                    }
                }
            }
            let word = &word;
            let typos = scoring::typos_allowed(*typed, found, listings);
            // The word's clauses, each searched alone with its weight: a match's score for
            // the word is the weighted sum, as a boolean "should" query would add them.
            let mut clauses: Vec<(Box<dyn Query>, Score)> = Vec::new();
            for (field, weight) in [f.title, f.vocabulary, f.description]
                .into_iter()
                .zip(scoring::FIELD_WEIGHTS)
            {
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
                for (field, weight) in [
                    (f.title, scoring::FUZZY_TITLE_WEIGHT),
                    (f.all, scoring::FUZZY_ANY_WEIGHT),
                ] {
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
                (term, scoring::SUBCATEGORY_BOOST)
            })
            .collect();
        Ok(Some((per_word, boost)))
    }

    /// How many documents have each word's stem (0 for a stop word).
    pub(super) fn word_counts(
        &self,
        words: &[String],
        analyzer: &mut TextAnalyzer,
    ) -> Result<Vec<u64>, IndexError> {
        let searcher = self.reader.searcher();
        words
            .iter()
            .map(|word| {
                let mut stem = None;
                analyzer
                    .token_stream(word)
                    .process(&mut |token| stem = stem.take().or_else(|| Some(token.text.clone())));
                match stem {
                    Some(stem) => searcher
                        .doc_freq(&Term::from_field_text(self.fields.all, &stem))
                        .map_err(engine),
                    None => Ok(0),
                }
            })
            .collect()
    }

    pub(super) fn search(
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
                    class: u32::from(m.words),
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
