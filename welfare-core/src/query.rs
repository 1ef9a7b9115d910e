//! Reading what people type into the search box: a comune named in the text and an age stated
//! in words or digits become filters; the rest is left for full-text matching.
//!
//! "pasti a domicilio a Codogno" → comune Codogno, text "pasti a domicilio";
//! "nuoto per un bimbo di 4 anni" → age 4, text "nuoto per un bimbo";
//! "qualcuno che porti la spesa a mia madre di ottant'anni" → age 80.
//!
//! A comune is recognised by its full name anywhere in the text ("Lodi Vecchio" before "Lodi":
//! the longest name wins), or after a place preposition by any form the territory's name lookup
//! accepts ("a Sant'Angelo" → Sant'Angelo Lodigiano), so ordinary words are never mistaken for
//! places. Ages: "4 anni", "di 80 anni", "quattro anni", "ottant'anni", "80enne",
//! "ottantenne", "10 mesi" (age 0).

use crate::eligibility::MAX_AGE_YEARS;
use crate::territory::{IstatCode, Territory};
use crate::text::fold;

/// The longest comune name, in words, looked for in a query.
const MAX_NAME_WORDS: usize = 6;

/// Prepositions that introduce a place: "a Codogno", "di Lodi", "vicino a Casale".
const PLACE_WORDS: [&str; 9] = [
    "a", "ad", "di", "da", "in", "presso", "vicino", "zona", "dintorni",
];

/// What was read in a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryReading {
    /// A comune named in the text.
    pub comune: Option<IstatCode>,
    /// An age stated in the text, in full years.
    pub age_years: Option<u8>,
    /// The words left for full-text matching, folded (lowercase, no accents), in order.
    pub remaining: String,
}

/// Reads a comune and an age out of `text`.
pub fn read_query(text: &str, territory: &Territory) -> QueryReading {
    let mut words: Vec<String> = fold(text).split(' ').map(str::to_owned).collect();
    words.retain(|w| !w.is_empty());
    let age_years = take_age(&mut words);
    let comune = take_comune(&mut words, territory);
    QueryReading {
        comune,
        age_years,
        remaining: words.join(" "),
    }
}

/// Finds an age phrase, removes it (with a "di" or "da" before it) and returns the age.
fn take_age(words: &mut Vec<String>) -> Option<u8> {
    for i in 0..words.len() {
        let word = words.get(i)?.as_str();
        let next = words.get(i + 1).map(String::as_str);
        // "80enne", "ottantenne"
        if let Some(stem) = word.strip_suffix("enne")
            && let Some(age) = stem
                .parse::<u32>()
                .ok()
                .or_else(|| number_word(stem))
                .filter(|age| (1..=u32::from(MAX_AGE_YEARS)).contains(age))
        {
            return Some(remove_phrase(words, i, 1, age));
        }
        let Some(value) = word.parse::<u32>().ok().or_else(|| number_word(word)) else {
            continue;
        };
        let age = match next {
            Some("anni" | "anno") => value,
            Some("mesi" | "mese") if value < 24 => value / 12,
            _ => continue,
        };
        if age <= u32::from(MAX_AGE_YEARS) {
            return Some(remove_phrase(words, i, 2, age));
        }
    }
    None
}

/// Removes `len` words at `start` (and a "di"/"da" right before them); returns `age` as u8.
fn remove_phrase(words: &mut Vec<String>, start: usize, len: usize, age: u32) -> u8 {
    words.drain(start..(start + len).min(words.len()));
    if start > 0 && matches!(words.get(start - 1).map(String::as_str), Some("di" | "da")) {
        words.remove(start - 1);
    }
    u8::try_from(age).unwrap_or(MAX_AGE_YEARS)
}

/// An Italian number word from 0 to 199, including elided forms ("ottant" in "ottant'anni",
/// "ventott", "diciott").
pub fn number_word(word: &str) -> Option<u32> {
    const UNITS: [(&str, u32); 19] = [
        ("diciannove", 19),
        ("diciotto", 18),
        ("diciassette", 17),
        ("sedici", 16),
        ("quindici", 15),
        ("quattordici", 14),
        ("tredici", 13),
        ("dodici", 12),
        ("undici", 11),
        ("dieci", 10),
        ("quattro", 4),
        ("cinque", 5),
        ("sette", 7),
        ("nove", 9),
        ("otto", 8),
        ("due", 2),
        ("tre", 3),
        ("sei", 6),
        ("uno", 1),
    ];
    const TENS: [(&str, u32); 8] = [
        ("venti", 20),
        ("trenta", 30),
        ("quaranta", 40),
        ("cinquanta", 50),
        ("sessanta", 60),
        ("settanta", 70),
        ("ottanta", 80),
        ("novanta", 90),
    ];
    // A unit or teen, whole or with its final vowel elided.
    let unit = |rest: &str| -> Option<u32> {
        match rest {
            "" => Some(0),
            "un" | "una" | "zero" => Some(if rest == "zero" { 0 } else { 1 }),
            _ => UNITS.iter().find_map(|(name, value)| {
                let elided = name.get(..name.len() - 1).unwrap_or(name);
                (rest == *name || (rest == elided && elided.len() >= 3)).then_some(*value)
            }),
        }
    };
    let (hundreds, rest) = match word.strip_prefix("cento") {
        Some(rest) => (100, rest),
        None => match word.strip_prefix("cent") {
            Some(rest) if rest.is_empty() => (100, rest),
            _ => (0, word),
        },
    };
    for (name, value) in TENS {
        let elided = name.get(..name.len() - 1).unwrap_or(name);
        if let Some(after) = rest.strip_prefix(name) {
            return unit(after).map(|u| hundreds + value + u);
        }
        // "ventuno", "ventotto", "ottant'anni": the tens' final vowel dropped before a vowel.
        if let Some(after) = rest.strip_prefix(elided)
            && (after.is_empty() || after.starts_with(['u', 'o']))
        {
            return unit(after).map(|u| hundreds + value + u);
        }
    }
    if rest.is_empty() {
        return (hundreds > 0).then_some(hundreds);
    }
    unit(rest)
        .map(|u| hundreds + u)
        .filter(|_| !word.is_empty())
}

/// Finds a comune in the words, removes it (and a place preposition before it) and returns it.
fn take_comune(words: &mut Vec<String>, territory: &Territory) -> Option<IstatCode> {
    // Full names anywhere, longest first.
    for len in (1..=MAX_NAME_WORDS.min(words.len())).rev() {
        for start in 0..=(words.len() - len) {
            let phrase = words.get(start..start + len)?.join(" ");
            if let Some(m) = territory.find_by_folded_name(&phrase) {
                let code = m.istat_code.clone();
                remove_place(words, start, len);
                return Some(code);
            }
        }
    }
    // Shortened names only right after a place preposition.
    for start in 1..words.len() {
        if !PLACE_WORDS.contains(&words.get(start - 1)?.as_str()) {
            continue;
        }
        for len in (1..=MAX_NAME_WORDS.min(words.len() - start)).rev() {
            let phrase = words.get(start..start + len)?.join(" ");
            if let Some(m) = territory.find_by_name(&phrase) {
                let code = m.istat_code.clone();
                remove_place(words, start, len);
                return Some(code);
            }
        }
    }
    None
}

fn remove_place(words: &mut Vec<String>, start: usize, len: usize) {
    words.drain(start..start + len);
    if start > 0 && PLACE_WORDS.contains(&words.get(start - 1).map_or("", String::as_str)) {
        words.remove(start - 1);
        // "vicino a Codogno": the second preposition goes too.
        if start > 1 && matches!(words.get(start - 2).map(String::as_str), Some("vicino")) {
            words.remove(start - 2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (Option<String>, Option<u8>, String) {
        let territory = Territory::lodi();
        let reading = read_query(text, &territory);
        let name = reading
            .comune
            .as_ref()
            .and_then(|code| territory.municipality(code))
            .map(|m| m.name.clone());
        (name, reading.age_years, reading.remaining)
    }

    #[test]
    fn the_examples_of_the_call() {
        assert_eq!(
            read("pasti a domicilio a Codogno"),
            (
                Some("Codogno".to_owned()),
                None,
                "pasti a domicilio".to_owned()
            )
        );
        assert_eq!(
            read("nuoto per un bimbo di 4 anni"),
            (None, Some(4), "nuoto per un bimbo".to_owned())
        );
        assert_eq!(
            read("qualcuno che porti la spesa a mia madre di 80 anni"),
            (
                None,
                Some(80),
                "qualcuno che porti la spesa a mia madre".to_owned()
            )
        );
    }

    #[test]
    fn ages_in_words() {
        assert_eq!(read("badante per papà ottantenne").1, Some(80));
        assert_eq!(read("mia nonna di ottant'anni").1, Some(80));
        assert_eq!(read("bambina di quattro anni").1, Some(4));
        assert_eq!(read("ragazzo di diciotto anni").1, Some(18));
        assert_eq!(read("signora di novantadue anni").1, Some(92));
        assert_eq!(read("nonno di ventotto anni").1, Some(28));
        assert_eq!(read("neonato di 10 mesi").1, Some(0));
        assert_eq!(read("un 75enne").1, Some(75));
        assert_eq!(read("per 3 ore di assistenza").1, None);
        assert_eq!(read("corso da 10 lezioni").1, None);
        assert_eq!(number_word("centouno"), Some(101));
        assert_eq!(number_word("trentatre"), Some(33));
        assert_eq!(number_word("ciao"), None);
        assert_eq!(number_word("sera"), None);
    }

    #[test]
    fn comuni_in_any_accepted_spelling() {
        assert_eq!(
            read("trasporto disabili a Sant'Angelo").0.as_deref(),
            Some("Sant'Angelo Lodigiano")
        );
        assert_eq!(
            read("doposcuola sant angelo lodigiano").0.as_deref(),
            Some("Sant'Angelo Lodigiano")
        );
        assert_eq!(
            read("infermiere lodi vecchio").0.as_deref(),
            Some("Lodi Vecchio")
        );
        assert_eq!(read("infermiere a LODI").0.as_deref(), Some("Lodi"));
        assert_eq!(read("CASALPUSTERLENGO fisioterapia").2, "fisioterapia");
        // A shortened name counts only after a place preposition.
        assert_eq!(read("borgo antico").0, None);
        assert_eq!(read("assistenza vicino a Codogno").2, "assistenza");
        assert_eq!(read("assistenza domiciliare").0, None);
    }

    #[test]
    fn both_together() {
        assert_eq!(
            read("centro estivo a Codogno per bimbo di 7 anni"),
            (
                Some("Codogno".to_owned()),
                Some(7),
                "centro estivo per bimbo".to_owned()
            )
        );
    }
}
