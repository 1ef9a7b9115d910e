//! Why a hit matched (`explain`, curators only): worked out from the listing and the query the
//! same way whichever adapter answered, so curators read one account of both — the query's
//! words found and missed (as the indexes analyse them: Italian stems), the subcategory words
//! the text contains (the taxonomy's and the Ambito's local words), the situations its subcategory answers, and the rank class.

use std::collections::HashSet;
use std::sync::Arc;

use tantivy::tokenizer::TextAnalyzer;
use welfare_core::category::Subcategory;
use welfare_core::listing::Listing;
use welfare_core::local_words::Lexicon;
use welfare_core::need::Recognised;
use welfare_core::territory::Territory;
use welfare_proto::catalog as pb;

use crate::search::SearchDocument;
use crate::search::answering::Tiers;
use crate::search::embedded::italian_analyzer;

/// Explains hits of one search.
pub(super) struct Explainer {
    text: String,
    /// The words the index matched, analysed, each once, in order.
    words: Vec<String>,
    situations: Vec<Recognised>,
    tiers: Tiers,
    lexicon: Arc<Lexicon>,
    analyzer: TextAnalyzer,
}

impl Explainer {
    /// For a search of `text`, whose index text was `remaining`, with the situations read, the
    /// tiers they gave and the local words in force.
    pub(super) fn new(
        text: &str,
        remaining: &str,
        situations: Vec<Recognised>,
        tiers: Tiers,
        lexicon: Arc<Lexicon>,
    ) -> Explainer {
        let mut analyzer = italian_analyzer();
        let mut words = Vec::new();
        for word in stems(&mut analyzer, remaining) {
            if !words.contains(&word) {
                words.push(word);
            }
        }
        Explainer {
            text: text.to_owned(),
            words,
            situations,
            tiers,
            lexicon,
            analyzer,
        }
    }

    pub(super) fn explain(
        &mut self,
        listing: &Listing,
        territory: &Territory,
    ) -> pb::HitExplanation {
        let document = SearchDocument::of(listing, territory, &self.lexicon);
        let own: HashSet<String> = [
            document.title.as_str(),
            document.description.as_str(),
            document.vocabulary.as_str(),
        ]
        .into_iter()
        .flat_map(|text| stems(&mut self.analyzer, text))
        .collect();
        let (matched_words, unmatched_words): (Vec<String>, Vec<String>) = self
            .words
            .iter()
            .cloned()
            .partition(|word| own.contains(word));
        let code = &listing.content.subcategory;
        let tier = self
            .tiers
            .iter()
            .position(|tier| tier.subcategories.contains(code));
        let rank_class = match tier.map(|i| (i, self.tiers.get(i).is_some_and(|t| t.with_text))) {
            Some((_, true)) => format!(
                "named_service, words:{}/{}",
                matched_words.len(),
                self.words.len()
            ),
            Some((i, false)) => format!("situation_tier:{}", i + 1),
            None if self.words.is_empty() => "filters_only".to_owned(),
            None => format!("words:{}/{}", matched_words.len(), self.words.len()),
        };
        pb::HitExplanation {
            matched_words,
            unmatched_words,
            named_by: Subcategory::find(code)
                .map(|sub| self.lexicon.phrases_naming(sub, &self.text))
                .unwrap_or_default(),
            situations: self
                .situations
                .iter()
                .filter(|r| r.situation.answers.iter().any(|(sub, _)| sub == code))
                .map(|r| r.situation.code.to_owned())
                .collect(),
            subcategory: code.clone(),
            rank_class,
        }
    }
}

fn stems(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stream = analyzer.token_stream(text);
    stream.process(&mut |token| out.push(token.text.clone()));
    out
}
