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

use super::slot_set::{Bits, Counter};
use super::{
    FacetCounts, IndexError, IndexHit, IndexPage, IndexQuery, Order, SearchDocument, SearchIndex,
};
use welfare_core::category::{Category, Subcategory};
use welfare_core::eligibility::MAX_AGE_YEARS;

const ANALYZER: &str = "italian";
/// The indexing memory budget of each generation.
const WRITER_BYTES: usize = 50_000_000;

fn engine(error: impl std::fmt::Display) -> IndexError {
    IndexError::Engine(error.to_string())
}

mod analyzer;
mod documents;
mod generation;
mod ranking;

pub use analyzer::italian_analyzer;
use documents::*;
use generation::*;
use ranking::*;

/// The embedded index: cheap to clone, shared by the service and the indexer.
#[derive(Clone)]
pub struct EmbeddedIndex {
    current: Arc<RwLock<Arc<Generation>>>,
    analyzer: TextAnalyzer,
    /// The stamp of the content: none in a new process, whose index starts empty.
    stamp: Arc<RwLock<Option<String>>>,
    /// `embedded/<uuid>`: this index of this process.
    name: Arc<str>,
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
            stamp: Arc::default(),
            name: format!("embedded/{}", welfare_runtime::uuid::new_uuid()).into(),
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
    async fn stamp(&self) -> Result<Option<String>, IndexError> {
        Ok(self
            .stamp
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone())
    }

    async fn set_stamp(&self, stamp: &str) -> Result<(), IndexError> {
        *self.stamp.write().unwrap_or_else(PoisonError::into_inner) = Some(stamp.to_owned());
        Ok(())
    }

    fn shared(&self) -> bool {
        false
    }

    fn name(&self) -> String {
        self.name.to_string()
    }

    #[tracing::instrument(name = "search.embedded.upsert", skip_all, fields(otel.kind = "internal"))]
    async fn upsert(&self, documents: Vec<SearchDocument>) -> Result<(), IndexError> {
        let generation = self.generation();
        blocking(move || generation.apply(documents, &[])).await
    }

    #[tracing::instrument(name = "search.embedded.remove", skip_all, fields(otel.kind = "internal"))]
    async fn remove(&self, ids: Vec<String>) -> Result<(), IndexError> {
        let generation = self.generation();
        blocking(move || generation.apply(Vec::new(), &ids)).await
    }

    #[tracing::instrument(name = "search.embedded.rebuild", skip_all, fields(otel.kind = "internal"))]
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
    #[tracing::instrument(name = "search.embedded.search", skip_all, fields(otel.kind = "internal"))]
    async fn search(&self, query: &IndexQuery) -> Result<IndexPage, IndexError> {
        self.search_now(query)
    }

    #[tracing::instrument(name = "search.embedded.word_counts", skip_all, fields(otel.kind = "internal"))]
    async fn word_counts(&self, words: &[String]) -> Result<Vec<u64>, IndexError> {
        let mut analyzer = self.analyzer.clone();
        self.generation().word_counts(words, &mut analyzer)
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
