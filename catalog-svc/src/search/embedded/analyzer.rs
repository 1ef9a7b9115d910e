//! The Italian analyzer: words split, lowercased, accents folded, stop words dropped (the
//! language's and [`REQUEST_WORDS`]), Snowball-stemmed.

use super::*;

/// Words of a request that say nothing of the service asked for ("mi serve", "cerco",
/// "ho bisogno"), and "servizio", which every listing says of itself: stemmed, "serve" would
/// match every "servizio" and rank listings by noise. Dropped from documents and queries alike.
pub(super) const REQUEST_WORDS: [&str; 19] = [
    "serve",
    "servono",
    "servirebbe",
    "servizio",
    "servizi",
    "cerco",
    "cerchiamo",
    "cercando",
    "bisogno",
    "vorrei",
    "vorremmo",
    "qualcuno",
    "qualcosa",
    "devo",
    "deve",
    "dobbiamo",
    "potete",
    "aiutatemi",
    "grazie",
];

/// The Italian analysis chain, shared by documents and queries.
pub fn italian_analyzer() -> TextAnalyzer {
    let builder = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter);
    match StopWordFilter::new(Language::Italian) {
        Some(stop_words) => builder
            .filter(stop_words)
            .filter(StopWordFilter::remove(
                REQUEST_WORDS.iter().map(|w| (*w).to_owned()),
            ))
            .filter(Stemmer::new(Language::Italian))
            .build(),
        None => builder.filter(Stemmer::new(Language::Italian)).build(),
    }
}
