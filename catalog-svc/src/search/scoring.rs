//! How a query word matches a listing and what it scores, the same for both adapters: the
//! embedded index asks tantivy for exactly this, and the Meilisearch adapter computes it over
//! the listings Meilisearch retrieves, so both order a rank class alike.
//!
//! A word matches a listing exactly (its stem in the title, the vocabulary or the description)
//! or, when it may carry typos, within that many edits of a stem of the listing (a
//! transposition counting as one). An exact match scores BM25 per field (tantivy's: k1 1.2,
//! b 0.75, lengths quantised as tantivy stores them), weighted 3, 2 and 1; a match within
//! typos adds 1.5 in the title and 0.5 anywhere; a listing of a subcategory the text names
//! adds 4 times that subcategory's idf.

use tantivy::fieldnorm::FieldNormReader;

/// The weights of an exact match in the title, the vocabulary and the description.
pub const FIELD_WEIGHTS: [f32; 3] = [3.0, 2.0, 1.0];
/// What a match within typos adds in the title…
pub const FUZZY_TITLE_WEIGHT: f32 = 1.5;
/// …and anywhere in the listing's text.
pub const FUZZY_ANY_WEIGHT: f32 = 0.5;
/// The weight of a named subcategory's boost.
pub const SUBCATEGORY_BOOST: f32 = 4.0;

const K1: f32 = 1.2;
const B: f32 = 0.75;

/// The typos a word may carry: none typed in four letters or fewer, or found as typed in at
/// least one listing in a hundred (and a hundred listings); one up to eight letters; two from
/// nine.
pub fn typos_allowed(typed_chars: usize, found: u64, listings: u64) -> u8 {
    let common = (listings / super::COMMON_WORD_SHARE).max(super::COMMON_WORD_MIN);
    match typed_chars {
        _ if found >= common => 0,
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    }
}

/// tantivy's inverse document frequency.
pub fn idf(doc_freq: u64, docs: u64) -> f32 {
    let x = (docs.saturating_sub(doc_freq) as f32 + 0.5) / (doc_freq as f32 + 0.5);
    (1.0 + x).ln()
}

/// tantivy's BM25 of a term found `tf` times in a field `len` tokens long, the field's average
/// length being `average_len`, in `doc_freq` of `docs` documents.
pub fn bm25(doc_freq: u64, docs: u64, tf: u32, len: u32, average_len: f32) -> f32 {
    let weight = idf(doc_freq, docs) * (1.0 + K1);
    let stored = FieldNormReader::id_to_fieldnorm(FieldNormReader::fieldnorm_to_id(len));
    let norm = K1 * (1.0 - B + B * stored as f32 / average_len);
    let tf = tf as f32;
    weight * (tf / (tf + norm))
}

/// Whether `a` is within `typos` edits of `b` (insertions, deletions, substitutions and
/// transpositions of neighbours, each one edit).
pub fn within_typos(a: &str, b: &str, typos: u8) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let limit = usize::from(typos);
    if a.len().abs_diff(b.len()) > limit {
        return false;
    }
    // Optimal string alignment distance, row by row (the two rows before and this one).
    let mut before: Vec<usize> = Vec::new();
    let mut last: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut row = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let get = |r: &[usize], k: usize| r.get(k).copied().unwrap_or(usize::MAX / 2);
            let mut best = (get(&last, j + 1) + 1)
                .min(get(&row, j) + 1)
                .min(get(&last, j) + usize::from(ca != cb));
            let swapped =
                i > 0 && j > 0 && a.get(i - 1) == Some(cb) && b.get(j - 1) == Some(ca) && ca != cb;
            if swapped {
                best = best.min(get(&before, j - 1) + 1);
            }
            if let Some(cell) = row.get_mut(j + 1) {
                *cell = best;
            }
        }
        before = std::mem::replace(&mut last, row);
    }
    last.last().is_some_and(|distance| *distance <= limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_follow_the_typed_length_and_spare_common_words() {
        assert_eq!(typos_allowed(4, 0, 300), 0);
        assert_eq!(typos_allowed(5, 0, 300), 1);
        assert_eq!(typos_allowed(8, 99, 300), 1);
        assert_eq!(typos_allowed(9, 0, 300), 2);
        assert_eq!(typos_allowed(9, 100, 300), 0, "common");
        assert_eq!(
            typos_allowed(9, 150, 20_000),
            2,
            "one in a hundred of 20,000 is 200"
        );
    }

    #[test]
    fn edits_count_a_transposition_once() {
        assert!(within_typos("assist", "assist", 0));
        assert!(within_typos("asisst", "assist", 1));
        assert!(within_typos("nido", "nodo", 1));
        assert!(
            within_typos("gisio", "fisio", 1),
            "a first letter counts once"
        );
        assert!(!within_typos("domicil", "domic", 1));
        assert!(within_typos("domicil", "domic", 2));
        assert!(!within_typos("cane", "gatto", 2));
    }

    #[test]
    fn bm25_prefers_rare_words_and_short_fields() {
        let short = bm25(5, 300, 1, 4, 10.0);
        let long = bm25(5, 300, 1, 30, 10.0);
        let common = bm25(200, 300, 1, 4, 10.0);
        assert!(short > long && short > common);
        assert!(bm25(5, 300, 2, 4, 10.0) > short);
    }
}
