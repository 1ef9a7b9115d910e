//! A query's words as the Meilisearch adapter reads them: analysed and corrected as the embedded
//! index does, each with its typo allowance and how many listings have it.

use super::{MeiliHit, MeiliIndex, SEARCHED, by_words, engine};
use crate::search::IndexError;

impl MeiliIndex {
    /// The words of a query as the embedded index reads them: analysed (Italian stems, each
    /// once), a short word no listing has corrected to its most frequent neighbour one edit
    /// away (see `SHORT_WORD_CHARS`; counted as exact phrases among the words of the kinds of
    /// service first, else over the whole text, ties to the alphabetically first), each with
    /// its typo allowance (`scoring::typos_allowed`) and how many listings have it in each
    /// field.
    pub(super) async fn read_words(&self, text: &str) -> Result<by_words::Reading, IndexError> {
        let mut typed: Vec<(String, usize)> = Vec::new();
        {
            let mut analyzer = self.analyzer.clone();
            let mut stream = analyzer.token_stream(text);
            stream.process(&mut |token| {
                let chars = text
                    .get(token.offset_from..token.offset_to)
                    .map_or(0, |w| w.chars().count());
                if !typed.iter().any(|(w, _)| w == &token.text) {
                    typed.push((token.text.clone(), chars));
                }
            });
        }
        if typed.is_empty() {
            return Ok(by_words::Reading::default());
        }
        let stems: Vec<String> = typed.iter().map(|(word, _)| word.clone()).collect();
        let (mut counts, listings) = self.word_statistics(&stems).await?;
        let unknown: Vec<usize> = (0..typed.len())
            .filter(|i| {
                typed
                    .get(*i)
                    .is_some_and(|(_, chars)| *chars == crate::search::SHORT_WORD_CHARS)
                    && counts.get(*i).is_some_and(|c| c.any == 0)
            })
            .take(welfare_core::spelling::MAX_CORRECTED_WORDS)
            .collect();
        for i in unknown {
            let (Some((word, _)), Some(count)) = (typed.get_mut(i), counts.get_mut(i)) else {
                continue;
            };
            let candidates = welfare_core::text::one_edit_variants(word);
            for attributes in [&["vocabulary_stems"][..], &SEARCHED[..]] {
                let found = self.exact_count(&candidates, attributes).await?;
                let best = candidates
                    .iter()
                    .zip(found)
                    .filter(|(_, n)| *n > 0)
                    .max_by(|(a, n), (b, m)| n.cmp(m).then_with(|| b.cmp(a)));
                if let Some((corrected, _)) = best {
                    word.clone_from(corrected);
                    let (recounted, _) = self
                        .word_statistics(std::slice::from_ref(corrected))
                        .await?;
                    if let Some(recounted) = recounted.into_iter().next() {
                        *count = recounted;
                    }
                    break;
                }
            }
        }
        Ok(by_words::Reading {
            words: typed
                .into_iter()
                .zip(counts)
                .map(|((stem, chars), count)| by_words::Word {
                    typos: crate::search::scoring::typos_allowed(chars, count.any, listings),
                    counts: count,
                    stem,
                })
                .collect(),
            listings,
        })
    }

    /// How many documents have each word in `attributes`, exactly (a phrase: no typo, no
    /// prefix), in one multi-search.
    pub(super) async fn exact_count(
        &self,
        words: &[String],
        attributes: &[&str],
    ) -> Result<Vec<usize>, IndexError> {
        let index = self.client.index(&self.uid);
        let phrases: Vec<String> = words.iter().map(|w| format!("\"{w}\"")).collect();
        let mut multi = self.client.multi_search();
        for phrase in &phrases {
            multi.with_search_query(
                index
                    .search()
                    .with_query(phrase)
                    .with_attributes_to_search_on(attributes)
                    .with_page(1)
                    .with_hits_per_page(0)
                    .build(),
            );
        }
        let results = multi.execute::<MeiliHit>().await.map_err(engine)?;
        Ok(results
            .results
            .iter()
            .map(|r| r.total_hits.unwrap_or(0))
            .collect())
    }
}
