//! The six service categories of the Lodigiano Welfare call, their subcategories, the words
//! people use for them, and their default tax treatment under TUIR art. 51.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

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
    /// Words and acronyms people use for this service; search treats them as synonyms.
    pub synonyms: &'static [&'static str],
    pub tax_letter: TaxLetter,
}

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

    /// The subcategories whose label, code or one of whose synonyms appears in `text` as whole
    /// words, ignoring case, accents and punctuation: "cerco una badante" names SAD,
    /// "asilo nido a Lodi" the asilo nido. The longest phrase wins: "ginnastica dolce" names
    /// physiotherapy, not the sports whose synonym "ginnastica" it contains.
    pub fn mentioned_in(text: &str) -> Vec<&'static Subcategory> {
        // Every subcategory's phrases, folded and padded with spaces, computed once.
        static PHRASES: std::sync::OnceLock<Vec<Vec<String>>> = std::sync::OnceLock::new();
        let phrases = PHRASES.get_or_init(|| {
            SUBCATEGORIES
                .iter()
                .map(|sub| {
                    std::iter::once(sub.label_it)
                        .chain(std::iter::once(sub.code))
                        .chain(sub.synonyms.iter().copied())
                        .map(crate::text::fold)
                        .filter(|phrase| !phrase.is_empty())
                        .map(|phrase| format!(" {phrase} "))
                        .collect()
                })
                .collect()
        });
        let folded = format!(" {} ", crate::text::fold(text));
        // Each subcategory named, with the longest of its phrases found.
        let named: Vec<(&'static Subcategory, &str)> = SUBCATEGORIES
            .iter()
            .zip(phrases)
            .filter_map(|(sub, phrases)| {
                phrases
                    .iter()
                    .filter(|phrase| folded.contains(phrase.as_str()))
                    .max_by_key(|phrase| phrase.len())
                    .map(|phrase| (sub, phrase.as_str()))
            })
            .collect();
        named
            .iter()
            .filter(|(_, phrase)| {
                !named
                    .iter()
                    .any(|(_, other)| other.len() > phrase.len() && other.contains(phrase))
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

macro_rules! subcategory {
    ($code:literal, $category:ident, $label:literal, $letter:ident, [$($synonym:literal),* $(,)?]) => {
        Subcategory {
            code: $code,
            category: Category::$category,
            label_it: $label,
            synonyms: &[$($synonym),*],
            tax_letter: TaxLetter::$letter,
        }
    };
}

static SUBCATEGORIES: &[Subcategory] = &[
    subcategory!(
        "pasti-a-domicilio",
        SocioAssistenziale,
        "Pasti a domicilio",
        FTer,
        [
            "pasti a casa",
            "consegna pasti",
            "servizio pasti",
            "pranzo a domicilio",
            "mensa a domicilio"
        ]
    ),
    subcategory!(
        "sad",
        SocioAssistenziale,
        "Assistenza domiciliare (SAD)",
        FTer,
        [
            "sad",
            "assistenza domiciliare",
            "servizio assistenza domiciliare",
            "aiuto in casa",
            "badante",
            "oss",
            "operatore socio sanitario",
            "asa",
            "igiene personale"
        ]
    ),
    subcategory!(
        "sadh",
        SocioAssistenziale,
        "Assistenza domiciliare per persone con disabilità (SADH)",
        FTer,
        [
            "sadh",
            "assistenza domiciliare disabili",
            "assistenza handicap",
            "disabilità"
        ]
    ),
    subcategory!(
        "centro-diurno",
        SocioAssistenziale,
        "Centro diurno",
        FTer,
        [
            "cdi",
            "cdd",
            "centro diurno integrato",
            "centro diurno anziani",
            "centro diurno disabili"
        ]
    ),
    subcategory!(
        "telesoccorso",
        SocioAssistenziale,
        "Telesoccorso e teleassistenza",
        FTer,
        [
            "telesoccorso",
            "teleassistenza",
            "braccialetto salvavita",
            "allarme anziani"
        ]
    ),
    subcategory!(
        "adi",
        Sanitario,
        "Assistenza domiciliare integrata (ADI)",
        F,
        [
            "adi",
            "assistenza domiciliare integrata",
            "cure domiciliari",
            "cure a casa"
        ]
    ),
    subcategory!(
        "infermieristica",
        Sanitario,
        "Prestazioni infermieristiche a domicilio",
        F,
        [
            "infermiere",
            "infermiere a domicilio",
            "prelievi a domicilio",
            "medicazioni",
            "iniezioni"
        ]
    ),
    subcategory!(
        "fisioterapia",
        Sanitario,
        "Fisioterapia e riabilitazione a domicilio",
        F,
        [
            "fisioterapista",
            "riabilitazione",
            "fisioterapia a domicilio",
            "ginnastica riabilitativa",
            "ginnastica dolce",
            "ginnastica posturale"
        ]
    ),
    subcategory!(
        "asilo-nido",
        CuraFigli,
        "Asilo nido",
        FBis,
        [
            "nido",
            "asilo nido",
            "micronido",
            "nido famiglia",
            "sezione primavera"
        ]
    ),
    subcategory!(
        "scuola-infanzia",
        CuraFigli,
        "Scuola dell'infanzia",
        FBis,
        ["scuola materna", "materna", "asilo", "scuola dell infanzia"]
    ),
    subcategory!(
        "doposcuola",
        CuraFigli,
        "Doposcuola e aiuto compiti",
        FBis,
        [
            "doposcuola",
            "aiuto compiti",
            "pre scuola",
            "post scuola",
            "spazio compiti"
        ]
    ),
    subcategory!(
        "centro-estivo",
        CuraFigli,
        "Centro estivo",
        FBis,
        [
            "centro estivo",
            "grest",
            "campo estivo",
            "cre",
            "campus estivo"
        ]
    ),
    subcategory!(
        "laboratori",
        CuraFigli,
        "Laboratori e attività educative",
        FBis,
        [
            "laboratorio",
            "ludoteca",
            "attività creative",
            "corso per bambini"
        ]
    ),
    subcategory!(
        "attivita-sportive",
        CuraFigli,
        "Attività sportive per ragazzi",
        F,
        [
            "sport",
            "nuoto",
            "piscina",
            "calcio",
            "danza",
            "ginnastica",
            "pallavolo",
            "basket"
        ]
    ),
    subcategory!(
        "baby-sitting",
        CuraFigli,
        "Baby sitting",
        FBis,
        ["baby sitter", "babysitter", "tata", "accudimento bambini"]
    ),
    subcategory!(
        "trasporto-disabili",
        Trasporto,
        "Trasporto persone con disabilità",
        FTer,
        [
            "trasporto disabili",
            "pulmino attrezzato",
            "trasporto carrozzina",
            "trasporto sociale"
        ]
    ),
    subcategory!(
        "trasporto-anziani",
        Trasporto,
        "Trasporto e accompagnamento anziani",
        FTer,
        [
            "trasporto anziani",
            "accompagnamento anziani",
            "passaggio in auto",
            "autista"
        ]
    ),
    subcategory!(
        "accompagnamento-visite",
        Trasporto,
        "Accompagnamento a visite mediche",
        FTer,
        [
            "accompagnamento visite",
            "accompagnamento ospedale",
            "trasporto visite mediche",
            "accompagnamento terapie"
        ]
    ),
    subcategory!(
        "supporto-psicologico",
        Psicologico,
        "Supporto psicologico",
        F,
        [
            "psicologo",
            "psicoterapia",
            "sostegno psicologico",
            "colloquio psicologico",
            "ansia"
        ]
    ),
    subcategory!(
        "sostegno-genitorialita",
        Psicologico,
        "Sostegno alla genitorialità",
        F,
        [
            "genitorialità",
            "supporto genitori",
            "consulenza educativa",
            "scuola genitori"
        ]
    ),
    subcategory!(
        "mediazione-familiare",
        Psicologico,
        "Mediazione familiare",
        F,
        [
            "mediazione",
            "mediatore familiare",
            "separazione",
            "consulenza di coppia"
        ]
    ),
    subcategory!(
        "spesa-a-domicilio",
        Commissioni,
        "Spesa a domicilio",
        FTer,
        [
            "spesa",
            "consegna spesa",
            "portare la spesa",
            "spesa per anziani"
        ]
    ),
    subcategory!(
        "farmaci-a-domicilio",
        Commissioni,
        "Consegna farmaci",
        FTer,
        [
            "farmacia",
            "farmaci",
            "medicine a domicilio",
            "ritiro ricette"
        ]
    ),
    subcategory!(
        "pratiche-e-posta",
        Commissioni,
        "Ufficio postale e piccole pratiche",
        FTer,
        [
            "posta",
            "ufficio postale",
            "bollette",
            "pagamenti",
            "pratiche",
            "commissioni"
        ]
    ),
];

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
        assert_eq!(codes("ADI"), ["adi"]);
        assert_eq!(codes("baby-sitter il sabato"), ["baby-sitting"]);
        assert!(codes("asilo nido a Lodi").contains(&"asilo-nido"));
        assert!(codes("nidificazione").is_empty());
        assert_eq!(codes("ginnastica dolce per la schiena"), ["fisioterapia"]);
        assert_eq!(codes("ginnastica per bambini"), ["attivita-sportive"]);
        assert!(codes("").is_empty());
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
