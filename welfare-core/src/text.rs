//! Text folding shared by lookups and search: what people type versus how names are written.

/// Folds text for comparison: lowercase, accents removed, apostrophes, hyphens and other
/// punctuation turned into spaces, runs of spaces collapsed. `"Sant'Angelo  Lodigiano"` and
/// `"sant angelo lodigiano"` fold to the same string, and so do `"Città"` and `"citta"`.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for ch in text.chars().flat_map(char::to_lowercase) {
        match fold_char(ch) {
            Some(folded) => {
                if pending_space && !out.is_empty() {
                    out.push(' ');
                }
                pending_space = false;
                out.push(folded);
            }
            None => pending_space = true,
        }
    }
    out
}

/// The words one edit away from `word` (a letter deleted, inserted, replaced, or two
/// neighbours swapped), over the lowercase ASCII letters, each once, without `word` itself, in
/// a fixed order: the candidates a search corrects an unknown short word to.
pub fn one_edit_variants(word: &str) -> Vec<String> {
    let letters: Vec<char> = word.chars().collect();
    let mut out: Vec<String> = Vec::new();
    let mut push = |candidate: Vec<char>| {
        let candidate: String = candidate.into_iter().collect();
        if candidate != word && !candidate.is_empty() && !out.contains(&candidate) {
            out.push(candidate);
        }
    };
    for i in 0..letters.len() {
        let mut deleted = letters.clone();
        deleted.remove(i);
        push(deleted);
        if i + 1 < letters.len() {
            let mut swapped = letters.clone();
            swapped.swap(i, i + 1);
            push(swapped);
        }
    }
    for i in 0..=letters.len() {
        for letter in 'a'..='z' {
            let mut inserted = letters.clone();
            inserted.insert(i, letter);
            push(inserted);
            let mut replaced = letters.clone();
            if let Some(slot) = replaced.get_mut(i)
                && *slot != letter
            {
                *slot = letter;
                push(replaced);
            }
        }
    }
    out
}

/// One lowercase character to its unaccented ASCII form, `None` for a separator. Covers the
/// Latin letters that occur in Italian, German (South Tyrol) and French (Aosta Valley) names;
/// other letters and digits pass unchanged.
fn fold_char(ch: char) -> Option<char> {
    let folded = match ch {
        'à' | 'á' | 'â' | 'ä' | 'ã' | 'å' => 'a',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ò' | 'ó' | 'ô' | 'ö' | 'õ' => 'o',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'ç' => 'c',
        'ñ' => 'n',
        'ß' => 's',
        c if c.is_alphanumeric() => c,
        _ => return None,
    };
    Some(folded)
}

#[cfg(test)]
mod tests {
    use super::{fold, one_edit_variants};

    #[test]
    fn one_edit_reaches_the_word_meant() {
        let variants = one_edit_variants("nod");
        assert!(variants.contains(&"nid".to_owned()), "replaced");
        assert!(variants.contains(&"no".to_owned()), "deleted");
        assert!(variants.contains(&"nodo".to_owned()), "inserted");
        assert!(variants.contains(&"ndo".to_owned()), "swapped");
        assert!(!variants.contains(&"nod".to_owned()));
        let unique: std::collections::HashSet<&String> = variants.iter().collect();
        assert_eq!(unique.len(), variants.len());
        assert!(one_edit_variants("").iter().all(|v| v.chars().count() == 1));
    }

    #[test]
    fn folds_case_accents_and_punctuation() {
        assert_eq!(fold("Sant'Angelo Lodigiano"), "sant angelo lodigiano");
        assert_eq!(fold("  SANT’ANGELO--lodigiano "), "sant angelo lodigiano");
        assert_eq!(fold("Città di Lodi"), "citta di lodi");
        assert_eq!(fold("Boffalora d'Adda"), "boffalora d adda");
        assert_eq!(fold(""), "");
        assert_eq!(fold("?!"), "");
    }
}
