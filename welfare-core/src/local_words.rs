//! Local words: what an Ambito's curators add to the taxonomy's synonyms and the need lexicon
//! at run time, without a release — a word the territory uses for a kind of service ("sfalcio"
//! for gardening, "la Caritas" for the solidarity shop), or a phrase its people use for a
//! situation ("non ci sta più con la testa" for dementia). A local word means one existing
//! subcategory or one existing situation: new kinds of service and new situations, with their
//! weights, stay a release's decision.
//!
//! A [`LocalWord`] is checked once, when a curator writes it: a phrase of a few words that is
//! not only common words ("di", "per la"), names no comune of the territory (a comune in a
//! query is a filter), and is not already a word of the taxonomy or the lexicon. A
//! [`Lexicon`] holds the words in force and reads texts with them beside the built-in ones.

use crate::category::Subcategory;
use crate::need::{self, Recognised, Situation};
use crate::territory::Territory;
use crate::text::fold;

/// The longest phrase, in characters once folded.
pub const MAX_PHRASE_CHARS: usize = 60;
/// The most words of a phrase.
pub const MAX_PHRASE_WORDS: usize = 8;
/// The most local words an Ambito keeps.
pub const MAX_LOCAL_WORDS: usize = 2_000;

/// Words that say nothing on their own: a phrase of only these would name a service or a
/// situation in nearly every text.
const COMMON_WORDS: [&str; 60] = [
    "a", "ad", "al", "alla", "alle", "ai", "agli", "allo", "anche", "che", "chi", "ci", "con",
    "da", "dal", "dalla", "dai", "degli", "dei", "del", "della", "delle", "di", "e", "ed", "gli",
    "ha", "ho", "i", "il", "in", "la", "le", "lo", "ma", "mi", "mia", "mio", "ne", "nel", "nella",
    "non", "o", "per", "piu", "se", "si", "sono", "su", "sua", "suo", "sul", "sulla", "ti", "tra",
    "un", "una", "uno", "vi", "io",
];

/// What a local word means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    /// A word for a kind of service: read as one of its synonyms, and searched among its
    /// listings' words.
    Service(&'static Subcategory),
    /// A phrase describing a situation: read as one of its phrases.
    Situation(&'static Situation),
}

impl Meaning {
    /// The meaning "a word for the subcategory `code`".
    pub fn service(code: &str) -> Result<Meaning, LocalWordError> {
        Subcategory::find(code)
            .map(Meaning::Service)
            .map_err(|_| LocalWordError::UnknownSubcategory(code.chars().take(60).collect()))
    }

    /// The meaning "a phrase for the situation `code`".
    pub fn situation(code: &str) -> Result<Meaning, LocalWordError> {
        Situation::find(code)
            .map(Meaning::Situation)
            .ok_or_else(|| LocalWordError::UnknownSituation(code.chars().take(60).collect()))
    }

    /// The stored kind: "service" or "situation".
    pub const fn kind(self) -> &'static str {
        match self {
            Meaning::Service(_) => "service",
            Meaning::Situation(_) => "situation",
        }
    }

    /// The code of the subcategory or situation meant.
    pub const fn code(self) -> &'static str {
        match self {
            Meaning::Service(sub) => sub.code,
            Meaning::Situation(situation) => situation.code,
        }
    }

    /// A stored `(kind, code)` read back.
    pub fn from_stored(kind: &str, code: &str) -> Result<Meaning, LocalWordError> {
        match kind {
            "service" => Meaning::service(code),
            "situation" => Meaning::situation(code),
            other => Err(LocalWordError::UnknownKind(
                other.chars().take(20).collect(),
            )),
        }
    }
}

/// Why a local word is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocalWordError {
    #[error("is empty once punctuation is set aside")]
    Empty,
    #[error("is longer than {MAX_PHRASE_CHARS} characters")]
    TooLong,
    #[error("has more than {MAX_PHRASE_WORDS} words")]
    TooManyWords,
    #[error(
        "has only common words (articles, prepositions): it would be read in nearly every text"
    )]
    OnlyCommonWords,
    #[error("is the name of the comune {0}: a comune in a search is a filter")]
    ComuneName(String),
    #[error("is already {0}")]
    BuiltIn(String),
    #[error("no subcategory has code {0:?}")]
    UnknownSubcategory(String),
    #[error("no situation has code {0:?}")]
    UnknownSituation(String),
    #[error("{0:?} is neither \"service\" nor \"situation\"")]
    UnknownKind(String),
    #[error("the Ambito already keeps {MAX_LOCAL_WORDS} local words")]
    Full,
}

/// A curator's word or phrase and what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalWord {
    /// Folded (lowercase, no accents or punctuation, single spaces): the word's identity.
    pub phrase: String,
    pub meaning: Meaning,
}

impl LocalWord {
    /// Checks a curator's `phrase` for `meaning` in `territory` (see the module).
    pub fn new(
        phrase: &str,
        meaning: Meaning,
        territory: &Territory,
    ) -> Result<LocalWord, LocalWordError> {
        let folded = fold(phrase);
        if folded.is_empty() {
            return Err(LocalWordError::Empty);
        }
        if folded.chars().count() > MAX_PHRASE_CHARS {
            return Err(LocalWordError::TooLong);
        }
        let words: Vec<&str> = folded.split(' ').collect();
        if words.len() > MAX_PHRASE_WORDS {
            return Err(LocalWordError::TooManyWords);
        }
        if words.iter().all(|word| COMMON_WORDS.contains(word)) {
            return Err(LocalWordError::OnlyCommonWords);
        }
        if let Some(comune) = territory.find_by_folded_name(&folded) {
            return Err(LocalWordError::ComuneName(comune.name.clone()));
        }
        if let Some(owner) = built_in_owner(&folded) {
            return Err(LocalWordError::BuiltIn(owner));
        }
        Ok(LocalWord {
            phrase: folded,
            meaning,
        })
    }
}

/// What already owns a folded phrase in the taxonomy or the lexicon, said in a sentence.
fn built_in_owner(folded: &str) -> Option<String> {
    let same = |phrase: &str| fold(phrase) == folded;
    if let Some(sub) = Subcategory::all().iter().find(|sub| sub.names().any(same)) {
        return Some(format!("a word of the subcategory {}", sub.code));
    }
    Situation::all()
        .iter()
        .find(|situation| situation.phrases.iter().copied().any(same))
        .map(|situation| format!("a phrase of the situation {}", situation.code))
}

/// The local words in force, read beside the built-in ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lexicon {
    /// By phrase.
    words: Vec<LocalWord>,
    services: Vec<(&'static Subcategory, String)>,
    situations: Vec<(&'static Situation, String)>,
}

impl Lexicon {
    /// The lexicon of `words` (each phrase once: a later one replaces an earlier one).
    pub fn new(words: impl IntoIterator<Item = LocalWord>) -> Lexicon {
        let mut all: Vec<LocalWord> = Vec::new();
        for word in words {
            match all.iter_mut().find(|w| w.phrase == word.phrase) {
                Some(existing) => *existing = word,
                None => all.push(word),
            }
        }
        all.sort_by(|a, b| a.phrase.cmp(&b.phrase));
        let services = all
            .iter()
            .filter_map(|w| match w.meaning {
                Meaning::Service(sub) => Some((sub, w.phrase.clone())),
                Meaning::Situation(_) => None,
            })
            .collect();
        let situations = all
            .iter()
            .filter_map(|w| match w.meaning {
                Meaning::Situation(situation) => Some((situation, w.phrase.clone())),
                Meaning::Service(_) => None,
            })
            .collect();
        Lexicon {
            words: all,
            services,
            situations,
        }
    }

    /// Every local word, by phrase.
    pub fn words(&self) -> &[LocalWord] {
        &self.words
    }

    /// The local words for the subcategory `code`, by phrase.
    pub fn synonyms_of<'a>(&'a self, code: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.services
            .iter()
            .filter(move |(sub, _)| sub.code == code)
            .map(|(_, phrase)| phrase.as_str())
    }

    /// The local phrases for the situation `code`, by phrase.
    pub fn phrases_of<'a>(&'a self, code: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.situations
            .iter()
            .filter(move |(situation, _)| situation.code == code)
            .map(|(_, phrase)| phrase.as_str())
    }

    /// The subcategories `text` names, by the taxonomy's words and the local ones
    /// ([`Subcategory::mentioned_with`]).
    pub fn mentioned_in(&self, text: &str) -> Vec<&'static Subcategory> {
        let more: Vec<(&'static Subcategory, &str)> = self
            .services
            .iter()
            .map(|(sub, phrase)| (*sub, phrase.as_str()))
            .collect();
        Subcategory::mentioned_with(text, &more)
    }

    /// The situations `text` describes, by the lexicon's phrases and the local ones
    /// ([`need::situations_with`]).
    pub fn situations_in(&self, text: &str) -> Vec<Recognised> {
        let more: Vec<(&'static Situation, &str)> = self
            .situations
            .iter()
            .map(|(situation, phrase)| (*situation, phrase.as_str()))
            .collect();
        need::situations_with(text, &more)
    }

    /// The taxonomy's and the local words of `sub` found in `text`: why a text names it.
    pub fn phrases_naming(&self, sub: &Subcategory, text: &str) -> Vec<String> {
        let folded = format!(" {} ", fold(text));
        let mut found: Vec<String> = sub
            .phrases_in(text)
            .into_iter()
            .map(str::to_owned)
            .collect();
        found.extend(
            self.synonyms_of(sub.code)
                .filter(|phrase| folded.contains(&format!(" {phrase} ")))
                .map(str::to_owned),
        );
        found
    }
}

/// Whether a new word may join the `kept` ones.
pub fn ensure_room(kept: usize) -> Result<(), LocalWordError> {
    if kept < MAX_LOCAL_WORDS {
        Ok(())
    } else {
        Err(LocalWordError::Full)
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn service(code: &str) -> Meaning {
        Meaning::service(code).expect("a subcategory")
    }

    fn situation(code: &str) -> Meaning {
        Meaning::situation(code).expect("a situation")
    }

    fn word(phrase: &str, meaning: Meaning) -> LocalWord {
        LocalWord::new(phrase, meaning, &Territory::lodi()).expect("a local word")
    }

    #[test]
    fn a_phrase_is_folded_and_checked() {
        let lodi = Territory::lodi();
        let gardening = Subcategory::all()
            .iter()
            .find(|sub| sub.names().any(|n| n == "giardinaggio"))
            .expect("gardening")
            .code;
        let sfalcio = word("  Sfalcio  dell'Erba! ", service(gardening));
        assert_eq!(sfalcio.phrase, "sfalcio dell erba");
        let refused = |phrase: &str| LocalWord::new(phrase, service(gardening), &lodi);
        assert_eq!(refused(" ,;' "), Err(LocalWordError::Empty));
        assert_eq!(refused(&"a".repeat(61)), Err(LocalWordError::TooLong));
        assert_eq!(
            refused("uno due tre quattro cinque sei sette otto nove"),
            Err(LocalWordError::TooManyWords)
        );
        assert_eq!(refused("per la"), Err(LocalWordError::OnlyCommonWords));
        assert_eq!(
            refused("casalpusterlengo"),
            Err(LocalWordError::ComuneName("Casalpusterlengo".to_owned()))
        );
        assert!(matches!(
            refused("Giardinaggio"),
            Err(LocalWordError::BuiltIn(owner)) if owner.contains(gardening)
        ));
        assert!(matches!(
            Meaning::service("astrologia"),
            Err(LocalWordError::UnknownSubcategory(code)) if code == "astrologia"
        ));
        assert!(Meaning::situation("nowhere").is_err());
        assert_eq!(
            Meaning::from_stored("situation", "dementia"),
            Ok(situation("dementia"))
        );
        assert!(Meaning::from_stored("colour", "dementia").is_err());
    }

    #[test]
    fn local_words_are_read_beside_the_built_in_ones() {
        let sad = service("sad");
        let lexicon = Lexicon::new([
            word("la signora delle pulizie", sad),
            word("non ci sta più con la testa", situation("dementia")),
        ]);
        let named: Vec<&str> = lexicon
            .mentioned_in("Cerco la signora delle pulizie a Lodi")
            .iter()
            .map(|sub| sub.code)
            .collect();
        assert_eq!(named, ["sad"]);
        assert!(Subcategory::mentioned_in("la signora delle pulizie").is_empty());
        let read = lexicon.situations_in("mia madre non ci sta più con la testa");
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].situation.code, "dementia");
        assert_eq!(read[0].phrase, "non ci sta piu con la testa");
        assert_eq!(
            lexicon.synonyms_of("sad").collect::<Vec<_>>(),
            ["la signora delle pulizie"]
        );
        let sad = Subcategory::find("sad").expect("sad");
        assert_eq!(
            lexicon.phrases_naming(sad, "badante o la signora delle pulizie?"),
            ["badante", "la signora delle pulizie"]
        );
    }

    #[test]
    fn a_phrase_is_kept_once_the_latest_meaning_winning() {
        let lexicon = Lexicon::new([
            word("la signora", service("sad")),
            word("La Signora", situation("dementia")),
        ]);
        assert_eq!(lexicon.words().len(), 1);
        assert_eq!(lexicon.words()[0].meaning, situation("dementia"));
        assert_eq!(ensure_room(MAX_LOCAL_WORDS - 1), Ok(()));
        assert_eq!(ensure_room(MAX_LOCAL_WORDS), Err(LocalWordError::Full));
    }
}
