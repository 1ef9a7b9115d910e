//! Rank classes (query words matched, then aimed at the stated age) and the matches that are
//! ordered within them.

use super::*;

/// The admitted matches with the same number of query words and the same "aimed at the age".
pub(super) struct Class {
    pub(super) words: u16,
    pub(super) targeted: bool,
    pub(super) slots: Bits,
    pub(super) len: usize,
}

impl Class {
    pub(super) fn new(words: u16, targeted: bool, slots: Bits) -> Class {
        let len = usize::try_from(slots.len()).unwrap_or(usize::MAX);
        Class {
            words,
            targeted,
            slots,
            len,
        }
    }
}

/// Which matches a search must order.
#[derive(Clone, Copy)]
pub(super) enum Reach {
    /// Every one (an order by distance or price looks at all).
    Everything,
    /// Those that can reach the first `wanted` by relevance: the best classes down to the one
    /// that fills the page. Within a class, scores break ties when there is text; without
    /// text every score is equal and slots break ties, so only the first of the last class.
    Page { wanted: usize, ties_by_score: bool },
}

/// The matches of `classes` (best first, taken only as far as needed) within `reach`, with
/// their scores: every match of the classes before the one that fills the page, and of that
/// one only those that can be on the page (by score, then slot; without text, scores tie, so
/// the first slots).
pub(super) fn collect_matches(
    classes: impl IntoIterator<Item = Class>,
    reach: Reach,
    scores: &[f32],
    matches: &mut Vec<Match>,
) {
    let score = |slot: usize| scores.get(slot).copied().unwrap_or(0.0);
    let mut taken = 0;
    let mut classes = classes.into_iter();
    loop {
        let room = match reach {
            Reach::Everything => usize::MAX,
            Reach::Page { wanted, .. } => wanted.saturating_sub(taken),
        };
        // The next class is built only if the page has room for it.
        if room == 0 {
            break;
        }
        let Some(class) = classes.next() else {
            break;
        };
        let matched = |slot: usize| Match::new(slot, class.words, class.targeted, score(slot));
        match reach {
            Reach::Page {
                ties_by_score: true,
                ..
            } if class.len > room => {
                // The best `room` by score: a selection over (score, slot) pairs.
                let mut best: Vec<(f32, u32)> = class
                    .slots
                    .ones()
                    .map(|slot| (score(slot), u32::try_from(slot).unwrap_or(u32::MAX)))
                    .collect();
                let order =
                    |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
                if room < best.len() {
                    best.select_nth_unstable_by(room, order);
                    best.truncate(room);
                }
                matches.extend(best.into_iter().map(|(_, slot)| matched(slot as usize)));
            }
            _ => matches.extend(class.slots.ones().take(room).map(matched)),
        }
        taken += class.len;
    }
}

thread_local! {
    /// Each slot's BM25 sum during a search; all zero between searches.
    pub(super) static SCORES: std::cell::Cell<Vec<f32>> = const { std::cell::Cell::new(Vec::new()) };
    pub(super) static MATCHES: std::cell::Cell<Vec<Match>> = const { std::cell::Cell::new(Vec::new()) };
}

/// A match and what orders it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Match {
    /// The order's key (distance or price, ascending); 0 when ordering by relevance.
    pub(super) key: f64,
    pub(super) bm25: f32,
    pub(super) slot: u32,
    pub(super) words: u16,
    pub(super) targeted: bool,
}

impl Match {
    pub(super) fn new(slot: usize, words: u16, targeted: bool, bm25: f32) -> Match {
        Match {
            key: 0.0,
            bm25,
            slot: u32::try_from(slot).unwrap_or(u32::MAX),
            words,
            targeted,
        }
    }

    /// The order's key, then relevance, then the slot (the order documents were added in:
    /// listing id order after a rebuild).
    pub(super) fn order(a: &Match, b: &Match) -> std::cmp::Ordering {
        a.key
            .total_cmp(&b.key)
            .then_with(|| b.words.cmp(&a.words))
            .then_with(|| b.targeted.cmp(&a.targeted))
            .then_with(|| b.bm25.total_cmp(&a.bm25))
            .then_with(|| a.slot.cmp(&b.slot))
    }
}
