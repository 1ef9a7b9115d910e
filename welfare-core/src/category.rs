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

    /// Whether `years` is within the span.
    pub const fn contains(self, years: u8) -> bool {
        self.min_years <= years && years <= self.max_years
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

    /// The label, code and synonyms of this subcategory that appear in `text` as whole words
    /// (case, accents and punctuation ignored): why a text names it.
    pub fn phrases_in(&self, text: &str) -> Vec<&'static str> {
        let folded = format!(" {} ", crate::text::fold(text));
        let mut seen = Vec::new();
        std::iter::once(self.label_it)
            .chain(std::iter::once(self.code))
            .chain(self.synonyms.iter().copied())
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
    (
        $code:literal, $category:ident, $label:literal, $letter:ident, $ages:ident,
        $description:literal, [$($synonym:literal),* $(,)?]
    ) => {
        Subcategory {
            code: $code,
            category: Category::$category,
            label_it: $label,
            description_it: $description,
            synonyms: &[$($synonym),*],
            tax_letter: TaxLetter::$letter,
            ages: $ages,
        }
    };
}

/// The kinds of service of a territorial welfare catalogue, by category of the Lodigiano call.
/// Codes are LodiWelfare's own (no official classification's codes are used); a code, once
/// published, is never reused or renamed.
static SUBCATEGORIES: &[Subcategory] = &[
    // Servizi socio-assistenziali
    subcategory!(
        "pasti-a-domicilio",
        SocioAssistenziale,
        "Pasti a domicilio",
        FTer,
        ELDERLY,
        "Pasti caldi o pronti consegnati a casa a chi non può cucinare o fare la spesa.",
        [
            "pasti a casa",
            "consegna pasti",
            "servizio pasti",
            "pranzo a domicilio",
            "mensa a domicilio",
            "pasti caldi",
            "pasti a domiclio"
        ]
    ),
    subcategory!(
        "sad",
        SocioAssistenziale,
        "Assistenza domiciliare (SAD)",
        FTer,
        ADULTS,
        "Operatori socio-assistenziali a casa per l'igiene personale, la cura della casa e \
         l'aiuto nelle attività quotidiane di chi non è più del tutto autonomo.",
        [
            "sad",
            "assistenza domiciliare",
            "servizio assistenza domiciliare",
            "aiuto in casa",
            "badante",
            "oss",
            "operatore socio sanitario",
            "asa",
            "igiene personale",
            "assistenza domicigliare",
            "aiuto domestico"
        ]
    ),
    subcategory!(
        "sadh",
        SocioAssistenziale,
        "Assistenza domiciliare per persone con disabilità (SADH)",
        FTer,
        ALL_AGES,
        "Interventi educativi e assistenziali a casa per persone con disabilità e le loro \
         famiglie.",
        [
            "sadh",
            "assistenza domiciliare disabili",
            "assistenza handicap",
            "disabilità",
            "assistenza disabili"
        ]
    ),
    subcategory!(
        "assistenza-notturna",
        SocioAssistenziale,
        "Assistenza notturna",
        FTer,
        ADULTS,
        "Presenza di un operatore di notte, a casa o in ospedale, per chi non può restare solo \
         nelle ore notturne.",
        [
            "assistenza notturna",
            "assistenza di notte",
            "badante notturna",
            "veglia notturna",
            "notte in ospedale",
            "sorveglianza notturna"
        ]
    ),
    subcategory!(
        "centro-diurno",
        SocioAssistenziale,
        "Centro diurno",
        FTer,
        ALL_AGES,
        "Accoglienza di giorno in una struttura con assistenza, pasto e attività, per anziani \
         non autosufficienti (CDI) o persone con disabilità (CDD).",
        [
            "cdi",
            "cdd",
            "centro diurno integrato",
            "centro diurno anziani",
            "centro diurno disabili",
            "centro diurno"
        ]
    ),
    subcategory!(
        "animazione-anziani",
        SocioAssistenziale,
        "Attività di socializzazione per anziani",
        FTer,
        ELDERLY,
        "Incontri, laboratori, gite e attività di gruppo per anziani: centri anziani, \
         università della terza età, pomeriggi insieme.",
        [
            "centro anziani",
            "centro sociale anziani",
            "animazione anziani",
            "socializzazione anziani",
            "terza età",
            "università della terza età",
            "tombola",
            "attività per anziani"
        ]
    ),
    subcategory!(
        "compagnia-anziani",
        SocioAssistenziale,
        "Compagnia e visite a chi vive solo",
        FTer,
        ADULTS,
        "Volontari o operatori che fanno visita e compagnia a chi vive solo, con telefonate \
         periodiche e piccole uscite.",
        [
            "compagnia",
            "compagnia anziani",
            "visite a domicilio di volontari",
            "telefonata amica",
            "solitudine",
            "custode sociale",
            "custodia sociale"
        ]
    ),
    subcategory!(
        "sollievo",
        SocioAssistenziale,
        "Ricoveri e interventi di sollievo",
        FTer,
        ALL_AGES,
        "Accoglienza temporanea della persona assistita, in struttura o a casa, per dare \
         riposo a chi se ne prende cura.",
        [
            "sollievo",
            "ricovero di sollievo",
            "ricovero temporaneo",
            "respite",
            "pausa per il caregiver",
            "posto di sollievo"
        ]
    ),
    subcategory!(
        "telesoccorso",
        SocioAssistenziale,
        "Telesoccorso e teleassistenza",
        FTer,
        ADULTS,
        "Un dispositivo da portare addosso che chiama aiuto con un pulsante, con una centrale \
         che risponde giorno e notte.",
        [
            "telesoccorso",
            "teleassistenza",
            "braccialetto salvavita",
            "allarme anziani",
            "pulsante di emergenza",
            "telesoccoso"
        ]
    ),
    subcategory!(
        "vita-indipendente",
        SocioAssistenziale,
        "Vita indipendente per persone con disabilità",
        FTer,
        ADULTS,
        "Progetti di autonomia abitativa e assistente personale per adulti con disabilità: \
         appartamenti protetti, palestre di autonomia, dopo di noi.",
        [
            "vita indipendente",
            "dopo di noi",
            "assistente personale",
            "autonomia abitativa",
            "appartamento protetto",
            "housing sociale disabili"
        ]
    ),
    subcategory!(
        "mensa-sociale",
        SocioAssistenziale,
        "Mensa sociale",
        FTer,
        ALL_AGES,
        "Un pasto caldo gratuito o a prezzo ridotto, in sala, per chi è in difficoltà.",
        [
            "mensa",
            "mensa sociale",
            "mensa dei poveri",
            "pasto caldo",
            "mensa solidale",
            "mensa caritas"
        ]
    ),
    subcategory!(
        "emporio-solidale",
        SocioAssistenziale,
        "Emporio solidale e banco alimentare",
        FTer,
        ALL_AGES,
        "Generi alimentari e di prima necessità gratuiti o con una tessera a punti, per \
         famiglie in difficoltà.",
        [
            "emporio solidale",
            "banco alimentare",
            "pacco alimentare",
            "pacchi viveri",
            "spesa solidale",
            "raccolta alimentare",
            "market solidale"
        ]
    ),
    subcategory!(
        "mediazione-culturale",
        SocioAssistenziale,
        "Mediazione linguistica e culturale",
        F,
        ALL_AGES,
        "Mediatori che aiutano stranieri a capire e farsi capire con servizi, scuole e \
         ospedali, e corsi di italiano.",
        [
            "mediazione culturale",
            "mediatore culturale",
            "mediatore linguistico",
            "interprete",
            "stranieri",
            "corso di italiano",
            "italiano per stranieri"
        ]
    ),
    subcategory!(
        "segretariato-sociale",
        SocioAssistenziale,
        "Segretariato sociale e orientamento",
        FTer,
        ALL_AGES,
        "Uno sportello che ascolta, informa sui servizi e sui contributi e indirizza a chi può \
         aiutare.",
        [
            "segretariato sociale",
            "assistente sociale",
            "sportello sociale",
            "informazioni servizi sociali",
            "orientamento ai servizi",
            "punto unico di accesso",
            "pua"
        ]
    ),
    subcategory!(
        "sportello-badanti",
        SocioAssistenziale,
        "Sportello assistenti familiari",
        FTer,
        ADULTS,
        "Aiuto a trovare e assumere un'assistente familiare qualificata, con il contratto e le \
         sostituzioni.",
        [
            "sportello badanti",
            "registro badanti",
            "assistente familiare",
            "cercare una badante",
            "albo assistenti familiari",
            "contratto badante"
        ]
    ),
    subcategory!(
        "soggiorni-climatici",
        SocioAssistenziale,
        "Soggiorni climatici e vacanze assistite",
        FTer,
        ELDERLY,
        "Vacanze al mare, in montagna o alle terme organizzate e accompagnate per anziani e \
         persone fragili.",
        [
            "soggiorni climatici",
            "vacanze anziani",
            "soggiorno marino",
            "soggiorno montano",
            "terme",
            "vacanza assistita"
        ]
    ),
    // Assistenza sanitaria
    subcategory!(
        "adi",
        Sanitario,
        "Assistenza domiciliare integrata (ADI)",
        F,
        ALL_AGES,
        "Cure sanitarie e assistenziali a casa coordinate con il medico di famiglia: \
         infermiere, fisioterapista, operatori.",
        [
            "adi",
            "assistenza domiciliare integrata",
            "cure domiciliari",
            "cure a casa",
            "voucher adi"
        ]
    ),
    subcategory!(
        "infermieristica",
        Sanitario,
        "Prestazioni infermieristiche a domicilio",
        F,
        ALL_AGES,
        "L'infermiere a casa per prelievi, medicazioni, iniezioni, cateteri e terapie.",
        [
            "infermiere",
            "infermiere a domicilio",
            "prelievi a domicilio",
            "medicazioni",
            "iniezioni",
            "punture",
            "prelievo del sangue",
            "infermiera"
        ]
    ),
    subcategory!(
        "visite-mediche-domicilio",
        Sanitario,
        "Visite mediche a domicilio",
        F,
        ALL_AGES,
        "Il medico o lo specialista che visita a casa chi non può spostarsi: geriatra, \
         cardiologo, fisiatra.",
        [
            "visita a domicilio",
            "medico a domicilio",
            "visita specialistica a domicilio",
            "geriatra",
            "visita medica a casa",
            "specialista a domicilio"
        ]
    ),
    subcategory!(
        "fisioterapia",
        Sanitario,
        "Fisioterapia e riabilitazione a domicilio",
        F,
        ALL_AGES,
        "Il fisioterapista, a casa o in studio, per recuperare il movimento dopo un intervento, \
         una frattura o un ictus.",
        [
            "fisioterapista",
            "riabilitazione",
            "fisioterapia a domicilio",
            "ginnastica riabilitativa",
            "ginnastica posturale",
            "fisioterapia",
            "fisoterapia",
            "fisio"
        ]
    ),
    subcategory!(
        "attivita-fisica-adattata",
        Sanitario,
        "Attività fisica adattata e ginnastica dolce",
        F,
        ADULTS,
        "Corsi di movimento in piccoli gruppi per chi ha dolori, osteoporosi o una malattia \
         cronica: AFA, ginnastica dolce, gruppi di cammino.",
        [
            "afa",
            "attività fisica adattata",
            "ginnastica dolce",
            "ginnastica per anziani",
            "gruppi di cammino",
            "ginnastica della terza età",
            "yoga per anziani"
        ]
    ),
    subcategory!(
        "logopedia",
        Sanitario,
        "Logopedia",
        F,
        ALL_AGES,
        "Il logopedista per i disturbi del linguaggio, della voce, della deglutizione, nei \
         bambini e negli adulti dopo un ictus.",
        [
            "logopedista",
            "logopedia",
            "logopedista a domicilio",
            "disturbi del linguaggio",
            "balbuzie",
            "deglutizione",
            "logoterapia",
            "logopeda"
        ]
    ),
    subcategory!(
        "neuropsicomotricita",
        Sanitario,
        "Neuropsicomotricità dell'età evolutiva",
        F,
        MINORS,
        "Il terapista della neuro e psicomotricità per bambini con ritardi dello sviluppo, \
         disturbi della coordinazione, autismo.",
        [
            "psicomotricità",
            "neuropsicomotricista",
            "tnpee",
            "terapia psicomotoria",
            "ritardo psicomotorio",
            "autismo",
            "psicomotricista"
        ]
    ),
    subcategory!(
        "telemedicina",
        Sanitario,
        "Telemedicina e telemonitoraggio",
        F,
        ALL_AGES,
        "Visite, consulti e controllo dei parametri a distanza, con dispositivi a casa e \
         collegamento con il medico.",
        [
            "telemedicina",
            "televisita",
            "telemonitoraggio",
            "teleconsulto",
            "visita online",
            "controllo a distanza"
        ]
    ),
    subcategory!(
        "servizi-farmacia",
        Sanitario,
        "Servizi in farmacia",
        F,
        ALL_AGES,
        "Esami e servizi in farmacia: misurazione della pressione, elettrocardiogramma, \
         holter, test, prenotazioni CUP.",
        [
            "farmacia dei servizi",
            "elettrocardiogramma in farmacia",
            "ecg",
            "holter",
            "misurazione pressione",
            "prenotazione cup",
            "autoanalisi",
            "test in farmacia"
        ]
    ),
    subcategory!(
        "cure-palliative",
        Sanitario,
        "Cure palliative",
        F,
        ALL_AGES,
        "Cure per alleviare il dolore e i sintomi nelle malattie inguaribili, a casa o in \
         hospice, con sostegno alla famiglia.",
        [
            "cure palliative",
            "hospice",
            "terapia del dolore",
            "malato terminale",
            "fine vita",
            "ucp dom"
        ]
    ),
    subcategory!(
        "podologia",
        Sanitario,
        "Podologia e cura del piede",
        F,
        ADULTS,
        "Il podologo per unghie incarnite, calli, piede diabetico, anche a domicilio.",
        [
            "podologo",
            "podologia",
            "pedicure curativo",
            "piede diabetico",
            "unghie incarnite",
            "callista",
            "podologa"
        ]
    ),
    subcategory!(
        "ostetrica-consultorio",
        Sanitario,
        "Ostetrica e consultorio familiare",
        F,
        ALL_AGES,
        "Consultorio e ostetrica per gravidanza, corso preparto, allattamento, puerperio, \
         contraccezione.",
        [
            "consultorio",
            "consultorio familiare",
            "ostetrica",
            "corso preparto",
            "allattamento",
            "gravidanza",
            "puerperio",
            "ostetrica a domicilio"
        ]
    ),
    subcategory!(
        "ausili",
        Sanitario,
        "Ausili e presìdi: noleggio e prestito",
        F,
        ALL_AGES,
        "Noleggio o prestito di carrozzine, letti articolati, deambulatori, sollevatori e \
         altri ausili per la casa.",
        [
            "ausili",
            "noleggio carrozzina",
            "letto ortopedico",
            "letto articolato",
            "deambulatore",
            "girello",
            "sollevatore",
            "prestito carrozzina",
            "noleggio sedia a rotelle",
            "materasso antidecubito"
        ]
    ),
    subcategory!(
        "dietista",
        Sanitario,
        "Dietista e educazione alimentare",
        F,
        ALL_AGES,
        "Il dietista o nutrizionista per diete, diabete, malnutrizione negli anziani, \
         alimentazione dei bambini.",
        [
            "dietista",
            "nutrizionista",
            "dieta",
            "educazione alimentare",
            "dietologo"
        ]
    ),
    // Cura dei figli
    subcategory!(
        "asilo-nido",
        CuraFigli,
        "Asilo nido",
        FBis,
        INFANTS,
        "Nido, micronido e nido famiglia per bambini da 3 mesi a 3 anni.",
        [
            "nido",
            "asilo nido",
            "micronido",
            "nido famiglia",
            "sezione primavera",
            "tagesmutter",
            "asilo nino"
        ]
    ),
    subcategory!(
        "spazio-gioco",
        CuraFigli,
        "Spazio gioco e centro per la famiglia 0-3",
        FBis,
        INFANTS,
        "Spazi dove i bambini piccoli giocano con un genitore o un nonno e altri bambini, con \
         educatori, qualche mattina alla settimana.",
        [
            "spazio gioco",
            "spazio giochi",
            "centro prima infanzia",
            "spazio bambini e genitori",
            "centro per la famiglia",
            "gioco 0 3"
        ]
    ),
    subcategory!(
        "scuola-infanzia",
        CuraFigli,
        "Scuola dell'infanzia",
        FBis,
        PRESCHOOL,
        "Scuola dell'infanzia (materna) da 3 a 6 anni, con pre e post scuola e mensa.",
        [
            "scuola materna",
            "materna",
            "asilo",
            "scuola dell infanzia",
            "scuola infanzia"
        ]
    ),
    subcategory!(
        "doposcuola",
        CuraFigli,
        "Doposcuola e aiuto compiti",
        FBis,
        SCHOOL_AGE,
        "Pomeriggi con educatori per fare i compiti e stare insieme, pre e post scuola.",
        [
            "doposcuola",
            "aiuto compiti",
            "pre scuola",
            "post scuola",
            "spazio compiti",
            "dopo scuola"
        ]
    ),
    subcategory!(
        "ripetizioni",
        CuraFigli,
        "Ripetizioni e lezioni private",
        FBis,
        SCHOOL_AGE,
        "Lezioni individuali o in piccoli gruppi per recuperare una materia o preparare un \
         esame.",
        [
            "ripetizioni",
            "lezioni private",
            "tutor",
            "recupero scolastico",
            "ripetizioni di matematica",
            "ripetizzioni",
            "insegnante privato"
        ]
    ),
    subcategory!(
        "educativa-domiciliare",
        CuraFigli,
        "Educativa domiciliare per minori (ADM)",
        FBis,
        MINORS,
        "Un educatore a casa e fuori casa per accompagnare ragazzi e famiglie in un momento \
         difficile.",
        [
            "adm",
            "educativa domiciliare",
            "assistenza domiciliare minori",
            "educatore a domicilio",
            "educatore domiciliare"
        ]
    ),
    subcategory!(
        "assistenza-scolastica-disabili",
        CuraFigli,
        "Assistenza educativa scolastica per alunni con disabilità",
        FBis,
        MINORS,
        "Educatori e assistenti alla persona a scuola per alunni con disabilità, oltre \
         all'insegnante di sostegno.",
        [
            "assistenza educativa scolastica",
            "aes",
            "educatore scolastico",
            "assistente alla comunicazione",
            "assistente ad personam",
            "sostegno scolastico"
        ]
    ),
    subcategory!(
        "centro-estivo",
        CuraFigli,
        "Centro estivo",
        FBis,
        SCHOOL_AGE,
        "Centri estivi e invernali, grest e campus nelle vacanze da scuola.",
        [
            "centro estivo",
            "grest",
            "campo estivo",
            "cre",
            "campus estivo",
            "centro invernale",
            "centri estivi"
        ]
    ),
    subcategory!(
        "laboratori",
        CuraFigli,
        "Laboratori e attività educative",
        FBis,
        MINORS,
        "Ludoteche, laboratori creativi, musicali e teatrali, corsi per bambini e ragazzi.",
        [
            "laboratorio",
            "ludoteca",
            "attività creative",
            "corso per bambini",
            "laboratorio teatrale",
            "musica per bambini"
        ]
    ),
    subcategory!(
        "attivita-sportive",
        CuraFigli,
        "Attività sportive per ragazzi",
        F,
        MINORS,
        "Corsi e squadre sportive per bambini e ragazzi: nuoto, calcio, danza, ginnastica.",
        [
            "sport",
            "nuoto",
            "piscina",
            "calcio",
            "danza",
            "ginnastica",
            "pallavolo",
            "basket",
            "corso di nuoto",
            "ginnastica artistica"
        ]
    ),
    subcategory!(
        "baby-sitting",
        CuraFigli,
        "Baby sitting",
        FBis,
        MINORS,
        "Una baby sitter qualificata a casa, anche la sera o per poche ore.",
        [
            "baby sitter",
            "babysitter",
            "tata",
            "accudimento bambini",
            "bambinaia",
            "babysitting"
        ]
    ),
    // Accompagnamento e trasporto
    subcategory!(
        "trasporto-disabili",
        Trasporto,
        "Trasporto persone con disabilità",
        FTer,
        ALL_AGES,
        "Trasporto con mezzi attrezzati per persone con disabilità verso centri diurni, \
         lavoro e attività.",
        [
            "trasporto disabili",
            "pulmino attrezzato",
            "trasporto carrozzina",
            "mezzo con pedana",
            "trasporto sociale disabili"
        ]
    ),
    subcategory!(
        "trasporto-scolastico-disabili",
        Trasporto,
        "Trasporto scolastico per alunni con disabilità",
        FBis,
        MINORS,
        "Accompagnamento da casa a scuola e ritorno per alunni con disabilità, con mezzi \
         attrezzati e un accompagnatore.",
        [
            "trasporto scolastico disabili",
            "trasporto alunni disabili",
            "accompagnamento a scuola",
            "pulmino scuola disabili"
        ]
    ),
    subcategory!(
        "trasporto-scolastico",
        Trasporto,
        "Trasporto scolastico e pedibus",
        FBis,
        SCHOOL_AGE,
        "Scuolabus e pedibus per andare a scuola e tornare a casa.",
        [
            "scuolabus",
            "trasporto scolastico",
            "pedibus",
            "pulmino della scuola",
            "bus scolastico"
        ]
    ),
    subcategory!(
        "trasporto-anziani",
        Trasporto,
        "Trasporto e accompagnamento anziani",
        FTer,
        ELDERLY,
        "Un passaggio in auto con un autista volontario per commissioni, visite ai parenti, \
         il cimitero, il mercato.",
        [
            "trasporto anziani",
            "accompagnamento anziani",
            "passaggio in auto",
            "autista",
            "trasporto sociale",
            "auto amica",
            "non guido più"
        ]
    ),
    subcategory!(
        "accompagnamento-visite",
        Trasporto,
        "Accompagnamento a visite mediche",
        FTer,
        ALL_AGES,
        "Accompagnamento in auto e assistenza durante visite, esami e terapie in ospedale o \
         negli ambulatori.",
        [
            "accompagnamento visite",
            "accompagnamento ospedale",
            "trasporto visite mediche",
            "accompagnamento terapie",
            "passaggio per la dialisi",
            "accompagnamento esami",
            "radioterapia",
            "chemioterapia",
            "dialisi"
        ]
    ),
    subcategory!(
        "trasporto-sanitario",
        Trasporto,
        "Trasporto sanitario non urgente",
        F,
        ALL_AGES,
        "Ambulanza o mezzo sanitario per chi deve viaggiare disteso o in carrozzina: \
         dimissioni, trasferimenti, ricoveri programmati.",
        [
            "ambulanza",
            "trasporto in ambulanza",
            "trasporto sanitario",
            "trasporto barellato",
            "dimissione ospedaliera",
            "trasferimento in ospedale"
        ]
    ),
    // Servizi psicologici
    subcategory!(
        "supporto-psicologico",
        Psicologico,
        "Supporto psicologico",
        F,
        ADULTS,
        "Colloqui con uno psicologo o psicoterapeuta per ansia, stress, depressione, momenti \
         difficili.",
        [
            "psicologo",
            "psicoterapia",
            "sostegno psicologico",
            "colloquio psicologico",
            "ansia",
            "depressione",
            "psicoterapeuta",
            "psicologa",
            "stress"
        ]
    ),
    subcategory!(
        "psicologo-eta-evolutiva",
        Psicologico,
        "Psicologo per bambini e adolescenti",
        F,
        MINORS,
        "Psicologi dell'età evolutiva per bambini e ragazzi: ansia, tristezza, difficoltà a \
         scuola o con gli amici, sportelli a scuola.",
        [
            "psicologo per bambini",
            "psicologo per ragazzi",
            "psicologo adolescenti",
            "psicologia età evolutiva",
            "sportello psicologico scuola",
            "neuropsichiatra infantile",
            "npi"
        ]
    ),
    subcategory!(
        "valutazione-dsa",
        Psicologico,
        "Valutazione e supporto per DSA",
        F,
        MINORS,
        "Valutazione dei disturbi specifici dell'apprendimento (dislessia, discalculia, \
         disgrafia) e percorsi di potenziamento.",
        [
            "dsa",
            "dislessia",
            "discalculia",
            "disgrafia",
            "disortografia",
            "disturbi dell apprendimento",
            "certificazione dsa",
            "bes",
            "adhd"
        ]
    ),
    subcategory!(
        "sostegno-genitorialita",
        Psicologico,
        "Sostegno alla genitorialità",
        F,
        ADULTS,
        "Consulenze e gruppi per genitori: crescere i figli, l'adolescenza, le regole, le \
         nuove famiglie.",
        [
            "genitorialità",
            "supporto genitori",
            "consulenza educativa",
            "scuola genitori",
            "gruppo genitori",
            "pedagogista"
        ]
    ),
    subcategory!(
        "mediazione-familiare",
        Psicologico,
        "Mediazione familiare",
        F,
        ADULTS,
        "Un mediatore aiuta i genitori che si separano a trovare accordi per i figli.",
        [
            "mediazione",
            "mediatore familiare",
            "separazione",
            "consulenza di coppia",
            "divorzio",
            "terapia di coppia"
        ]
    ),
    subcategory!(
        "sostegno-caregiver",
        Psicologico,
        "Sostegno a chi assiste un familiare",
        FTer,
        ADULTS,
        "Ascolto, formazione e gruppi per chi si prende cura di un familiare anziano, malato o \
         con disabilità.",
        [
            "caregiver",
            "sostegno caregiver",
            "caffè alzheimer",
            "familiari di malati",
            "formazione caregiver",
            "aiuto a chi assiste"
        ]
    ),
    subcategory!(
        "gruppi-auto-mutuo-aiuto",
        Psicologico,
        "Gruppi di auto mutuo aiuto",
        F,
        ADULTS,
        "Gruppi di persone che vivono la stessa situazione e si sostengono, con un facilitatore.",
        [
            "auto mutuo aiuto",
            "ama",
            "gruppo di sostegno",
            "gruppo di ascolto",
            "gruppo di auto aiuto",
            "alcolisti anonimi"
        ]
    ),
    subcategory!(
        "sostegno-lutto",
        Psicologico,
        "Sostegno nel lutto",
        F,
        ALL_AGES,
        "Colloqui e gruppi per chi ha perso una persona cara.",
        [
            "lutto",
            "elaborazione del lutto",
            "gruppo lutto",
            "perdita di una persona cara",
            "vedovanza"
        ]
    ),
    subcategory!(
        "sportello-ascolto",
        Psicologico,
        "Linee e sportelli di ascolto",
        F,
        ALL_AGES,
        "Un numero di telefono o uno sportello dove essere ascoltati, anche in modo anonimo.",
        [
            "ascolto",
            "linea di ascolto",
            "telefono amico",
            "sportello di ascolto",
            "numero verde",
            "ascolto telefonico"
        ]
    ),
    subcategory!(
        "centro-antiviolenza",
        Psicologico,
        "Centro antiviolenza",
        F,
        ALL_AGES,
        "Ascolto, protezione, consulenza legale e case rifugio per donne che subiscono \
         violenza e per i loro figli.",
        [
            "antiviolenza",
            "centro antiviolenza",
            "violenza domestica",
            "violenza sulle donne",
            "casa rifugio",
            "1522",
            "maltrattamenti"
        ]
    ),
    subcategory!(
        "dipendenze",
        Psicologico,
        "Dipendenze: ascolto e cura",
        F,
        ALL_AGES,
        "Ascolto e percorsi di cura per dipendenze da alcol, droghe, gioco d'azzardo e \
         internet, e per i familiari.",
        [
            "dipendenze",
            "serd",
            "alcol",
            "gioco d azzardo",
            "ludopatia",
            "droga",
            "dipendenza da internet",
            "smac"
        ]
    ),
    // Piccole commissioni
    subcategory!(
        "spesa-a-domicilio",
        Commissioni,
        "Spesa a domicilio",
        FTer,
        ADULTS,
        "Qualcuno che fa la spesa e la porta a casa a chi non può uscire.",
        [
            "spesa",
            "consegna spesa",
            "portare la spesa",
            "spesa per anziani",
            "spesa a domicilio",
            "fare la spesa"
        ]
    ),
    subcategory!(
        "farmaci-a-domicilio",
        Commissioni,
        "Consegna farmaci",
        FTer,
        ADULTS,
        "Ritiro delle ricette dal medico e consegna dei farmaci a casa.",
        [
            "farmacia",
            "farmaci",
            "medicine a domicilio",
            "ritiro ricette",
            "consegna medicine",
            "medicinali a casa"
        ]
    ),
    subcategory!(
        "pratiche-e-posta",
        Commissioni,
        "Ufficio postale e piccole pratiche",
        FTer,
        ADULTS,
        "Pagamento di bollette, ritiro della pensione, raccomandate, piccole pratiche negli \
         uffici.",
        [
            "posta",
            "ufficio postale",
            "bollette",
            "pagamenti",
            "pratiche",
            "commissioni",
            "ritiro della pensione",
            "ritirare la pensione",
            "raccomandata"
        ]
    ),
    subcategory!(
        "facilitazione-digitale",
        Commissioni,
        "Aiuto con SPID e servizi online",
        FTer,
        ADULTS,
        "Aiuto per attivare SPID e CIE, prenotare online, usare il fascicolo sanitario, lo \
         smartphone e il computer.",
        [
            "spid",
            "cie",
            "facilitazione digitale",
            "punto digitale",
            "fascicolo sanitario",
            "smartphone",
            "computer",
            "prenotare online",
            "pagopa"
        ]
    ),
    subcategory!(
        "lavanderia",
        Commissioni,
        "Lavanderia e stireria a domicilio",
        FTer,
        ADULTS,
        "Ritiro, lavaggio, stiratura e riconsegna a casa di biancheria e indumenti.",
        [
            "lavanderia",
            "stireria",
            "lavaggio biancheria",
            "stirare",
            "bucato",
            "lavanderia a domicilio"
        ]
    ),
    subcategory!(
        "piccole-riparazioni",
        Commissioni,
        "Piccole riparazioni e manutenzioni in casa",
        FTer,
        ADULTS,
        "Un tuttofare per lampadine, rubinetti, piccoli lavori, il taglio dell'erba e la cura \
         del giardino.",
        [
            "piccole riparazioni",
            "tuttofare",
            "manutenzione casa",
            "idraulico",
            "elettricista",
            "tagliare l erba",
            "giardinaggio",
            "giardiniere",
            "lavoretti in casa"
        ]
    ),
    subcategory!(
        "cura-animali",
        Commissioni,
        "Cura degli animali domestici",
        FTer,
        ADULTS,
        "Passeggiate con il cane, cibo e cure per l'animale di chi non riesce più a occuparsene \
         o è ricoverato.",
        [
            "animali domestici",
            "dog sitter",
            "portare fuori il cane",
            "pet sitter",
            "cura del gatto",
            "dogsitter",
            "cane"
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
