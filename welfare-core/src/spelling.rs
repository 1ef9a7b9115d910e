//! Short typos read against the words of the services: a four-letter word that is neither a
//! word of the taxonomy nor one the catalogue has ("nodo", "tsta", "spdi") is read as the
//! service word one edit away that most listings have ("nido", "tata", "spid"), so the text
//! names the service before search reads it. Longer words get the indexes' typo tolerance.
//!
//! The lexicon is every word of the subcategories' labels, codes and synonyms and of the need
//! lexicon's phrases, folded. How many listings have a word is the index's to say: the caller
//! asks it for the counts of the suspects and of their candidates, and [`choose`] decides.

use std::collections::HashSet;
use std::sync::OnceLock;

use crate::category::Subcategory;
use crate::need::Situation;
use crate::text::{fold, one_edit_variants};

/// Typed words this long are corrected here; see the module.
pub const SHORT_WORD_CHARS: usize = 4;
/// The most words of one text corrected: each costs the index a count of some 150 candidates,
/// and a text of nonsense words must not cost more than a few searches.
pub const MAX_CORRECTED_WORDS: usize = 3;

/// Every word of the taxonomy and the need lexicon, folded, of at least three letters.
pub fn lexicon() -> &'static HashSet<String> {
    static LEXICON: OnceLock<HashSet<String>> = OnceLock::new();
    LEXICON.get_or_init(|| {
        let phrases = Subcategory::all()
            .iter()
            .flat_map(Subcategory::names)
            .chain(
                Situation::all()
                    .iter()
                    .flat_map(|s| s.phrases.iter().copied()),
            );
        phrases
            .flat_map(|phrase| {
                fold(phrase)
                    .split(' ')
                    .filter(|w| w.chars().count() >= 3)
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect()
    })
}

/// The words of `text` (folded, each once, at most [`MAX_CORRECTED_WORDS`]) that may be short
/// typos: [`SHORT_WORD_CHARS`] letters, not a lexicon word, not a number. Read comuni and ages
/// out of the text first ([`crate::query::read_query`]): "Lodi" is no typo.
pub fn suspects(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in fold(text).split(' ') {
        if out.len() < MAX_CORRECTED_WORDS
            && word.chars().count() == SHORT_WORD_CHARS
            && word.chars().all(char::is_alphabetic)
            && !lexicon().contains(word)
            && !out.iter().any(|w| w == word)
        {
            out.push(word.to_owned());
        }
    }
    out
}

/// The words a service is named by alone (a one-word label, code or synonym: "cane",
/// "tata", "spid"), folded.
fn service_names() -> &'static HashSet<String> {
    static NAMES: OnceLock<HashSet<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        Subcategory::all()
            .iter()
            .flat_map(Subcategory::names)
            .map(fold)
            .filter(|phrase| !phrase.contains(' '))
            .collect()
    })
}

/// The lexicon words one edit away from `word`, those that name a service alone first.
pub fn candidates(word: &str) -> Vec<String> {
    let mut found: Vec<String> = one_edit_variants(word)
        .into_iter()
        .filter(|candidate| lexicon().contains(candidate))
        .collect();
    found.sort_by_key(|candidate| !service_names().contains(candidate));
    found
}

/// The candidate to read a typo as: of those some listing has, one that names a service alone
/// before one that is part of a phrase ("cabe" is "cane", a pet sitter's word, rather than
/// "cade", which only helps say "se cade"), then the one most listings have, ties to the
/// alphabetically first; none when no listing has any.
pub fn choose(counted: &[(String, u64)]) -> Option<&str> {
    counted
        .iter()
        .filter(|(_, count)| *count > 0)
        .max_by(|(a, n), (b, m)| {
            let (a_names, b_names) = (service_names().contains(a), service_names().contains(b));
            a_names
                .cmp(&b_names)
                .then_with(|| n.cmp(m))
                .then_with(|| b.cmp(a))
        })
        .map(|(word, _)| word.as_str())
}

/// `text` folded, with each `(typed, corrected)` word replaced.
pub fn apply(text: &str, corrections: &[(String, String)]) -> String {
    fold(text)
        .split(' ')
        .map(|word| {
            corrections
                .iter()
                .find(|(typed, _)| typed == word)
                .map_or(word, |(_, corrected)| corrected.as_str())
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_words_outside_the_lexicon_are_suspects() {
        // The caller reads comuni and ages out first (`query::read_query`).
        assert_eq!(suspects("nodo a"), ["nodo"]);
        assert!(suspects("nido a").is_empty(), "a service word");
        assert!(suspects("tata 2024 per me").is_empty());
        assert_eq!(suspects("tsta il sabato sera"), ["tsta", "sera"]);
        assert_eq!(
            suspects("abcd efgh ijkl mnop qrst").len(),
            MAX_CORRECTED_WORDS,
            "a text of nonsense costs a few counts, not one per word"
        );
    }

    #[test]
    fn the_candidate_most_listings_have_wins() {
        assert!(candidates("nodo").contains(&"nido".to_owned()));
        assert!(candidates("tsta").contains(&"tata".to_owned()));
        assert!(candidates("spdi").contains(&"spid".to_owned()));
        let counted = [
            ("nido".to_owned(), 7),
            ("nodi".to_owned(), 0),
            ("dodo".to_owned(), 9),
        ];
        assert_eq!(choose(&counted), Some("nido"), "a service's name first");
        let phrase_words = [("dorm".to_owned(), 7), ("cade".to_owned(), 7)];
        assert_eq!(
            choose(&phrase_words),
            Some("cade"),
            "ties to the first alphabetically"
        );
        assert_eq!(choose(&[("nido".to_owned(), 0)]), None);
        let cabe = [("cade".to_owned(), 9), ("cane".to_owned(), 3)];
        assert_eq!(
            choose(&cabe),
            Some("cane"),
            "a service's name before a phrase's word"
        );
        assert_eq!(
            apply("Nodo a Lodi", &[("nodo".to_owned(), "nido".to_owned())]),
            "nido a lodi"
        );
    }
}
