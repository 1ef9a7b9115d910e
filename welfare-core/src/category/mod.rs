//! The six service categories of the Lodigiano Welfare call, their subcategories, the words
//! people use for them, and their default tax treatment under TUIR art. 51.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

mod taxonomy;
use taxonomy::SUBCATEGORIES;

/// The letter of TUIR art. 51 comma 2 under which a welfare service is exempt from income tax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TaxLetter {
    /// Letter f: works and services for education, recreation, social and health care, worship.
    #[serde(rename = "f")]
    F,
    /// Letter f-bis: education and childcare for family members (nursery, school, summer camps).
    #[serde(rename = "f-bis")]
    FBis,
    /// Letter f-ter: care of elderly or non-self-sufficient family members.
    #[serde(rename = "f-ter")]
    FTer,
}

impl TaxLetter {
    pub const ALL: [TaxLetter; 3] = [TaxLetter::F, TaxLetter::FBis, TaxLetter::FTer];

    pub const fn code(self) -> &'static str {
        match self {
            TaxLetter::F => "f",
            TaxLetter::FBis => "f-bis",
            TaxLetter::FTer => "f-ter",
        }
    }

    /// The letter with this code (`f`, `f-bis`, `f-ter`).
    pub fn from_code(code: &str) -> Option<TaxLetter> {
        TaxLetter::ALL
            .into_iter()
            .find(|letter| letter.code() == code)
    }

    /// The legal reference as printed on a payroll report.
    pub const fn label_it(self) -> &'static str {
        match self {
            TaxLetter::F => "art. 51, comma 2, lettera f) TUIR",
            TaxLetter::FBis => "art. 51, comma 2, lettera f-bis) TUIR",
            TaxLetter::FTer => "art. 51, comma 2, lettera f-ter) TUIR",
        }
    }
}

/// A service category. Codes are stable: clients and stored data use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Category {
    SocioAssistenziale,
    Sanitario,
    CuraFigli,
    Trasporto,
    Psicologico,
    Commissioni,
}

/// An unknown category or subcategory code was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CategoryError {
    #[error("unknown category {0:?}")]
    UnknownCategory(String),
    #[error("unknown subcategory {0:?}")]
    UnknownSubcategory(String),
    #[error("subcategory {subcategory} does not belong to category {category}")]
    WrongCategory {
        subcategory: String,
        category: Category,
    },
}

impl Category {
    pub const ALL: [Category; 6] = [
        Category::SocioAssistenziale,
        Category::Sanitario,
        Category::CuraFigli,
        Category::Trasporto,
        Category::Psicologico,
        Category::Commissioni,
    ];

    pub const fn code(self) -> &'static str {
        match self {
            Category::SocioAssistenziale => "socio-assistenziale",
            Category::Sanitario => "sanitario",
            Category::CuraFigli => "cura-figli",
            Category::Trasporto => "trasporto",
            Category::Psicologico => "psicologico",
            Category::Commissioni => "commissioni",
        }
    }

    pub const fn label_it(self) -> &'static str {
        match self {
            Category::SocioAssistenziale => "Servizi socio-assistenziali",
            Category::Sanitario => "Assistenza sanitaria a domicilio",
            Category::CuraFigli => "Cura dei figli",
            Category::Trasporto => "Accompagnamento e trasporto",
            Category::Psicologico => "Servizi psicologici",
            Category::Commissioni => "Piccole commissioni",
        }
    }

    /// The category's subcategories, in display order.
    pub fn subcategories(self) -> impl Iterator<Item = &'static Subcategory> {
        SUBCATEGORIES.iter().filter(move |s| s.category == self)
    }

    /// The tax letter that applies unless a subcategory says otherwise.
    pub const fn default_tax_letter(self) -> TaxLetter {
        match self {
            Category::SocioAssistenziale | Category::Trasporto | Category::Commissioni => {
                TaxLetter::FTer
            }
            Category::Sanitario | Category::Psicologico => TaxLetter::F,
            Category::CuraFigli => TaxLetter::FBis,
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Category {
    type Err = CategoryError;
    fn from_str(code: &str) -> Result<Category, CategoryError> {
        Category::ALL
            .into_iter()
            .find(|c| c.code() == code)
            .ok_or_else(|| CategoryError::UnknownCategory(code.chars().take(60).collect()))
    }
}

impl TryFrom<String> for Category {
    type Error = CategoryError;
    fn try_from(code: String) -> Result<Category, CategoryError> {
        code.parse()
    }
}

impl From<Category> for String {
    fn from(category: Category) -> String {
        category.code().to_owned()
    }
}

/// A subcategory: a kind of service within a category.
#[derive(Debug, PartialEq, Eq)]
pub struct Subcategory {
    /// Stable code, unique across all categories.
    pub code: &'static str,
    pub category: Category,
    pub label_it: &'static str,
    /// What the service is, in a sentence a citizen reads.
    pub description_it: &'static str,
    /// Words and acronyms people use for this service, and their common misspellings; search
    /// treats them as synonyms.
    pub synonyms: &'static [&'static str],
    /// The TUIR art. 51 c.2 letter spending on it falls under.
    pub tax_letter: TaxLetter,
    /// The ages it is typically for (a listing's own rules decide who may use it).
    pub ages: Ages,
}

/// The ages, in full years, a kind of service is typically for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ages {
    pub min_years: u8,
    pub max_years: u8,
}

impl Ages {
    /// From `min_years` to `max_years`, both included.
    pub const fn years(min_years: u8, max_years: u8) -> Ages {
        Ages {
            min_years,
            max_years,
        }
    }

    /// Whether the span is everyone's.
    pub const fn is_everyone(self) -> bool {
        self.min_years == 0 && self.max_years >= 120
    }
}

/// Everyone.
pub const ALL_AGES: Ages = Ages::years(0, 120);
/// Adults.
pub const ADULTS: Ages = Ages::years(18, 120);
/// Older people.
pub const ELDERLY: Ages = Ages::years(65, 120);
/// Children and teenagers.
pub const MINORS: Ages = Ages::years(0, 17);
/// Children under three (nido age).
pub const INFANTS: Ages = Ages::years(0, 3);
/// Children of scuola dell'infanzia age.
pub const PRESCHOOL: Ages = Ages::years(3, 6);
/// Children of primary and lower-secondary school age.
pub const SCHOOL_AGE: Ages = Ages::years(6, 14);

impl Subcategory {
    /// Looks a subcategory up by its code.
    pub fn find(code: &str) -> Result<&'static Subcategory, CategoryError> {
        SUBCATEGORIES
            .iter()
            .find(|s| s.code == code)
            .ok_or_else(|| CategoryError::UnknownSubcategory(code.chars().take(60).collect()))
    }

    /// Looks a subcategory up and checks that it belongs to `category`.
    pub fn find_in(category: Category, code: &str) -> Result<&'static Subcategory, CategoryError> {
        let subcategory = Subcategory::find(code)?;
        if subcategory.category == category {
            Ok(subcategory)
        } else {
            Err(CategoryError::WrongCategory {
                subcategory: code.to_owned(),
                category,
            })
        }
    }

    /// Every subcategory of every category.
    pub fn all() -> &'static [Subcategory] {
        SUBCATEGORIES
    }

    /// What this subcategory is named by: its label, its code, then its synonyms.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + use<> {
        let synonyms: &'static [&'static str] = self.synonyms;
        [self.label_it, self.code]
            .into_iter()
            .chain(synonyms.iter().copied())
    }

    /// The label, code and synonyms of this subcategory that appear in `text` as whole words
    /// (case, accents and punctuation ignored): why a text names it.
    pub fn phrases_in(&self, text: &str) -> Vec<&'static str> {
        let folded = format!(" {} ", crate::text::fold(text));
        let mut seen = Vec::new();
        self.names()
            .filter(|phrase| {
                let phrase = crate::text::fold(phrase);
                let found = !phrase.is_empty()
                    && !seen.contains(&phrase)
                    && folded.contains(&format!(" {phrase} "));
                seen.push(phrase);
                found
            })
            .collect()
    }

    /// The subcategories whose label, code or one of whose synonyms appears in `text` as whole
    /// words, ignoring case, accents and punctuation: "cerco una badante" names SAD,
    /// "asilo nido a Lodi" the asilo nido. The longest phrase wins: "ginnastica dolce" names
    /// physiotherapy, not the sports whose synonym "ginnastica" it contains.
    pub fn mentioned_in(text: &str) -> Vec<&'static Subcategory> {
        Subcategory::mentioned_with(text, &[])
    }

    /// As [`Subcategory::mentioned_in`], with `more` phrases (folded) naming subcategories
    /// besides the taxonomy's own: the local words curators add
    /// ([`crate::local_words::Lexicon`]). Subcategories come in taxonomy order.
    pub fn mentioned_with(
        text: &str,
        more: &[(&'static Subcategory, &str)],
    ) -> Vec<&'static Subcategory> {
        // Every subcategory's phrases, folded and padded with spaces, computed once.
        static PHRASES: std::sync::OnceLock<Vec<Vec<String>>> = std::sync::OnceLock::new();
        let phrases = PHRASES.get_or_init(|| {
            SUBCATEGORIES
                .iter()
                .map(|sub| {
                    sub.names()
                        .map(crate::text::fold)
                        .filter(|phrase| !phrase.is_empty())
                        .map(|phrase| format!(" {phrase} "))
                        .collect()
                })
                .collect()
        });
        let folded = format!(" {} ", crate::text::fold(text));
        // Each subcategory named, with the longest of its phrases found.
        let mut named: Vec<(&'static Subcategory, String)> = SUBCATEGORIES
            .iter()
            .zip(phrases)
            .filter_map(|(sub, phrases)| {
                phrases
                    .iter()
                    .filter(|phrase| folded.contains(phrase.as_str()))
                    .max_by_key(|phrase| phrase.len())
                    .map(|phrase| (sub, phrase.clone()))
            })
            .collect();
        for (sub, phrase) in more {
            let padded = format!(" {phrase} ");
            if phrase.is_empty() || !folded.contains(&padded) {
                continue;
            }
            match named.iter_mut().find(|(s, _)| s.code == sub.code) {
                Some((_, longest)) if longest.len() < padded.len() => *longest = padded,
                Some(_) => {}
                None => named.push((sub, padded)),
            }
        }
        let position = |sub: &Subcategory| {
            SUBCATEGORIES
                .iter()
                .position(|s| std::ptr::eq(s, sub))
                .unwrap_or(usize::MAX)
        };
        named.sort_by_key(|(sub, _)| position(sub));
        named
            .iter()
            .filter(|(_, phrase)| {
                !named
                    .iter()
                    .any(|(_, other)| other.len() > phrase.len() && other.contains(phrase.as_str()))
            })
            .map(|(sub, _)| *sub)
            .collect()
    }
}

/// Serialized as its code; deserialized (as `&'static Subcategory`) by lookup.
impl Serialize for Subcategory {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code)
    }
}

impl<'de> Deserialize<'de> for &'static Subcategory {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Subcategory::find(&code).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn subcategories_are_recognised_by_their_words() {
        let codes = |text: &str| -> Vec<&str> {
            Subcategory::mentioned_in(text)
                .iter()
                .map(|s| s.code)
                .collect()
        };
        assert_eq!(codes("cerco una BADANTE per mio padre"), ["sad"]);
        let sad = Subcategory::find("sad").expect("sad");
        assert_eq!(sad.phrases_in("SAD o una badante?"), ["sad", "badante"]);
        assert!(sad.phrases_in("asilo nido").is_empty());
        assert_eq!(codes("ADI"), ["adi"]);
        assert_eq!(codes("baby-sitter il sabato"), ["baby-sitting"]);
        assert!(codes("asilo nido a Lodi").contains(&"asilo-nido"));
        assert!(codes("nidificazione").is_empty());
        assert_eq!(
            codes("ginnastica dolce per la schiena"),
            ["attivita-fisica-adattata"]
        );
        assert_eq!(codes("logopedista per mio figlio"), ["logopedia"]);
        assert_eq!(codes("pulmino della scuola"), ["trasporto-scolastico"]);
        assert_eq!(codes("ginnastica per bambini"), ["attivita-sportive"]);
        assert!(codes("").is_empty());
    }

    #[test]
    fn the_taxonomy_covers_a_real_ambito() {
        assert!(Subcategory::all().len() >= 60);
        let mut phrases = std::collections::HashMap::new();
        for sub in Subcategory::all() {
            assert!(
                sub.description_it.len() > 30,
                "{} has no description",
                sub.code
            );
            assert!(sub.ages.min_years <= sub.ages.max_years, "{}", sub.code);
            // A synonym names one kind of service: shared, it would file one under another.
            for synonym in sub.synonyms {
                let folded = crate::text::fold(synonym);
                if let Some(other) = phrases.insert(folded.clone(), sub.code) {
                    panic!("{folded:?} is a synonym of both {other} and {}", sub.code);
                }
            }
        }
        // The 24 codes of the first taxonomy keep working.
        for code in [
            "pasti-a-domicilio",
            "sad",
            "sadh",
            "centro-diurno",
            "telesoccorso",
            "adi",
            "infermieristica",
            "fisioterapia",
            "asilo-nido",
            "scuola-infanzia",
            "doposcuola",
            "centro-estivo",
            "laboratori",
            "attivita-sportive",
            "baby-sitting",
            "trasporto-disabili",
            "trasporto-anziani",
            "accompagnamento-visite",
            "supporto-psicologico",
            "sostegno-genitorialita",
            "mediazione-familiare",
            "spesa-a-domicilio",
            "farmaci-a-domicilio",
            "pratiche-e-posta",
        ] {
            assert!(Subcategory::find(code).is_ok(), "{code}");
        }
    }

    #[test]
    fn every_category_has_subcategories_with_unique_codes() {
        let mut codes = HashSet::new();
        for sub in Subcategory::all() {
            assert!(
                codes.insert(sub.code),
                "duplicate subcategory code {}",
                sub.code
            );
            assert!(!sub.synonyms.is_empty(), "{} has no synonyms", sub.code);
        }
        for category in Category::ALL {
            assert!(category.subcategories().count() >= 3, "{category} is thin");
            assert_eq!(category.code().parse::<Category>(), Ok(category));
        }
    }

    #[test]
    fn acronyms_of_the_call_are_synonyms() {
        let has = |code: &str, word: &str| {
            Subcategory::find(code)
                .map(|s| s.synonyms.contains(&word))
                .unwrap_or(false)
        };
        assert!(has("sad", "assistenza domiciliare"));
        assert!(has("sadh", "sadh"));
        assert!(has("adi", "adi"));
        assert!(has("asilo-nido", "nido"));
        assert!(has("baby-sitting", "baby sitter"));
    }

    #[test]
    fn subcategories_belong_to_their_category() {
        assert!(Subcategory::find_in(Category::CuraFigli, "asilo-nido").is_ok());
        assert!(matches!(
            Subcategory::find_in(Category::Sanitario, "asilo-nido"),
            Err(CategoryError::WrongCategory { .. })
        ));
        assert!(matches!(
            Subcategory::find("nuoto"),
            Err(CategoryError::UnknownSubcategory(_))
        ));
        assert!("salute".parse::<Category>().is_err());
    }

    #[test]
    fn codes_round_trip_through_json() {
        let json = serde_json::to_string(&Category::CuraFigli).expect("json");
        assert_eq!(json, "\"cura-figli\"");
        let sub: &'static Subcategory = serde_json::from_str("\"adi\"").expect("known");
        assert_eq!(sub.category, Category::Sanitario);
        assert_eq!(
            serde_json::to_string(&TaxLetter::FBis).expect("json"),
            "\"f-bis\""
        );
    }
}
