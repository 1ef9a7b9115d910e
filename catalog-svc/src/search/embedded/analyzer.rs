//! The Italian analyzer: words split, lowercased, accents folded, stop words dropped,
//! Snowball-stemmed.

use super::*;

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
