//! The need lexicon: the words people use to describe a situation, not a service — "mio padre
//! ha l'Alzheimer e non dorme di notte", "mia figlia di sedici anni è sempre triste", "mi serve
//! un passaggio per la radioterapia" — each [`Situation`] mapped to the subcategories that
//! answer it, with weights, so search can read a situation, say what it understood and rank
//! the services that answer it first.
//!
//! Phrases are matched as whole words on folded text (case, accents and punctuation ignored),
//! like subcategory synonyms ([`Subcategory::mentioned_in`]); each situation counts once, by
//! its longest phrase found. A curator reads why a listing ranked where it did from the
//! situations echoed back. Weights are relative within a situation: 100 is what answers it
//! best, lower weights what helps too.

use crate::category::Subcategory;
use crate::text::fold;

mod situations;
use situations::SITUATIONS;

/// The highest weight of a subcategory answering a situation.
pub const MAX_WEIGHT: u8 = 100;

/// A situation a person may describe, and the kinds of service that answer it.
#[derive(Debug, PartialEq, Eq)]
pub struct Situation {
    /// Stable code, e.g. "dementia".
    pub code: &'static str,
    /// What was understood, in Italian: "Demenza o Alzheimer".
    pub label_it: &'static str,
    /// Words and phrases that describe it, as people write them (misspellings included).
    pub phrases: &'static [&'static str],
    /// Subcategory codes that answer it, with weights up to [`MAX_WEIGHT`].
    pub answers: &'static [(&'static str, u8)],
}

/// A situation read in a text, and the phrase that named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recognised {
    pub situation: &'static Situation,
    /// The phrase found (the lexicon's, or a curator's local phrase), folded.
    pub phrase: String,
}

impl Situation {
    /// Every situation of the lexicon.
    pub fn all() -> &'static [Situation] {
        SITUATIONS
    }

    /// Looks a situation up by its code.
    pub fn find(code: &str) -> Option<&'static Situation> {
        SITUATIONS.iter().find(|s| s.code == code)
    }
}

/// The situations described in `text`, each by its longest phrase found, in lexicon order.
/// A phrase contained in a longer phrase found for another situation does not count ("non
/// vede" inside "non vede l'ora" is no sight problem).
pub fn situations_in(text: &str) -> Vec<Recognised> {
    situations_with(text, &[])
}

/// As [`situations_in`], with `more` phrases (folded) describing situations besides the
/// lexicon's own: the local phrases curators add ([`crate::local_words::Lexicon`]).
pub fn situations_with(text: &str, more: &[(&'static Situation, &str)]) -> Vec<Recognised> {
    // Every situation's phrases, folded and padded with spaces, computed once.
    static PHRASES: std::sync::OnceLock<Vec<Vec<String>>> = std::sync::OnceLock::new();
    let phrases = PHRASES.get_or_init(|| {
        SITUATIONS
            .iter()
            .map(|situation| {
                situation
                    .phrases
                    .iter()
                    .map(|phrase| fold(phrase))
                    .filter(|phrase| !phrase.is_empty())
                    .map(|phrase| format!(" {phrase} "))
                    .collect()
            })
            .collect()
    });
    let folded = format!(" {} ", fold(text));
    // Each situation described, by its longest phrase found.
    let found: Vec<Recognised> = SITUATIONS
        .iter()
        .zip(phrases)
        .filter_map(|(situation, own)| {
            let local = more
                .iter()
                .filter(|(s, _)| s.code == situation.code)
                .map(|(_, phrase)| fold(phrase))
                .filter(|phrase| !phrase.is_empty())
                .map(|phrase| format!(" {phrase} "));
            own.iter()
                .filter(|padded| folded.contains(padded.as_str()))
                .cloned()
                .chain(local.filter(|padded| folded.contains(padded.as_str())))
                .max_by_key(String::len)
                .map(|padded| Recognised {
                    situation,
                    phrase: padded.trim().to_owned(),
                })
        })
        .collect();
    found
        .iter()
        .filter(|mine| {
            !found.iter().any(|theirs| {
                theirs.phrase.len() > mine.phrase.len()
                    && format!(" {} ", theirs.phrase).contains(&format!(" {} ", mine.phrase))
            })
        })
        .cloned()
        .collect()
}

/// The subcategories answering the `recognised` situations, best first (ties in taxonomy
/// order), each weighted by its best answer plus half of its others: a service answering two of
/// the situations described answers the person better than one answering either as well, but
/// two weak answers do not make a strong one.
pub fn answers(recognised: &[Recognised]) -> Vec<(&'static Subcategory, u16)> {
    // Each subcategory's weights, then its best plus half the sum of the others.
    let mut weights: Vec<(&'static Subcategory, Vec<u16>)> = Vec::new();
    for r in recognised {
        for (code, weight) in r.situation.answers {
            let Ok(sub) = Subcategory::find(code) else {
                continue;
            };
            match weights.iter_mut().find(|(s, _)| s.code == sub.code) {
                Some((_, w)) => w.push(u16::from(*weight)),
                None => weights.push((sub, vec![u16::from(*weight)])),
            }
        }
    }
    let mut best: Vec<(&'static Subcategory, u16)> = weights
        .into_iter()
        .map(|(sub, w)| {
            let top = w.iter().copied().max().unwrap_or(0);
            let rest: u16 = w.iter().sum::<u16>() - top;
            (sub, top + rest / 2)
        })
        .collect();
    let order = |sub: &Subcategory| {
        Subcategory::all()
            .iter()
            .position(|s| s.code == sub.code)
            .unwrap_or(usize::MAX)
    };
    best.sort_by(|(a, wa), (b, wb)| wb.cmp(wa).then_with(|| order(a).cmp(&order(b))));
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn codes(text: &str) -> Vec<&'static str> {
        situations_in(text)
            .iter()
            .map(|r| r.situation.code)
            .collect()
    }

    fn best(text: &str) -> Option<&'static str> {
        answers(&situations_in(text))
            .first()
            .map(|(sub, _)| sub.code)
    }

    #[test]
    fn situations_in_a_persons_words_name_the_services_that_answer_them() {
        assert_eq!(
            codes("mio padre ha l'Alzheimer e non dorme di notte"),
            ["dementia", "sleepless-nights"]
        );
        assert_eq!(
            best("mio padre ha l'Alzheimer e non dorme di notte"),
            Some("assistenza-notturna")
        );
        assert_eq!(
            best("qualcuno che tagli l'erba per mia zia anziana"),
            Some("piccole-riparazioni")
        );
        assert_eq!(
            best("qualcuno per tagliare l'erba a mia zia"),
            Some("piccole-riparazioni")
        );
        assert_eq!(
            best("mia figlia di sedici anni è sempre triste"),
            Some("psicologo-eta-evolutiva")
        );
        assert_eq!(
            best("mi serve un passaggio per la radioterapia"),
            Some("accompagnamento-visite")
        );
        assert_eq!(best("mia madre è stata dimessa dall'ospedale"), Some("adi"));
        assert_eq!(
            best("mio padre vive da solo e ha paura di cadere"),
            Some("telesoccorso")
        );
        assert_eq!(best("ci stiamo separando"), Some("mediazione-familiare"));
        assert!(codes("asilo nido a Lodi").is_empty());
        assert!(codes("").is_empty());
    }

    #[test]
    fn a_phrase_inside_a_longer_one_counts_once() {
        // "non ce la faccio più" is the tired carer, not plain anxiety.
        assert_eq!(
            codes("non ce la faccio più con mia madre"),
            ["caregiver-exhausted"]
        );
    }

    #[test]
    fn the_lexicon_names_real_subcategories_once_each() {
        let mut codes = HashSet::new();
        assert!(Situation::all().len() >= 30);
        for situation in Situation::all() {
            assert!(codes.insert(situation.code), "duplicate {}", situation.code);
            assert!(!situation.phrases.is_empty(), "{}", situation.code);
            let mut subs = HashSet::new();
            for (code, weight) in situation.answers {
                assert!(
                    Subcategory::find(code).is_ok(),
                    "{}: {code}",
                    situation.code
                );
                assert!(
                    (1..=MAX_WEIGHT).contains(weight),
                    "{}: {code}",
                    situation.code
                );
                assert!(subs.insert(code), "{}: {code} twice", situation.code);
            }
            assert_eq!(Situation::find(situation.code), Some(situation));
        }
    }
}
