//! Searching for a situation a person described: the listings of the subcategories that answer
//! it first, tier by tier (best answers first), then the rest as the text ranks them. Built on
//! the port's filters alone (a tier is a subcategory filter, the rest excludes every tier), so
//! every adapter answers it the same way; totals and facets are the sums over the disjoint
//! parts.
//!
//! A tier of the subcategories the text names outright ("malato terminale", "radioterapia")
//! keeps the text: its listings rank by the words they share, those sharing none last. In a
//! situation's tiers the text is not asked for: a person's words ("mio padre non dorme di
//! notte") are rarely a listing's, and every listing of a subcategory that answers the
//! situation is relevant; the adapter's order without text decides (aimed at the person's age
//! first).

use std::collections::HashMap;

use super::{FacetCounts, IndexError, IndexPage, IndexQuery, Order, SearchIndex};

/// The most tiers the answering subcategories are grouped into; lower weights share the last.
pub const MAX_TIERS: usize = 6;

/// What a tier adds to its hits' scores, so scores stay comparable within one answer.
const TIER_SCORE: f64 = 1.0e7;

/// What a tier adds to its hits' rank class (far above any count of query words).
const TIER_CLASS: u32 = 1_000;

/// Subcategories ranked together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    pub subcategories: Vec<String>,
    /// Ranked by the text's words (a service named outright), or by the adapter's order
    /// without text (a situation's answers).
    pub with_text: bool,
}

/// Tiers, best first.
pub type Tiers = Vec<Tier>;

/// Groups `(code, weight)` preferences into tiers of equal weight, best first, ranked without
/// the text; the tiers past [`MAX_TIERS`] join the last.
pub fn tiers(preferences: &[(&str, u16)]) -> Tiers {
    let mut sorted: Vec<(&str, u16)> = preferences.to_vec();
    sorted.sort_by_key(|(_, weight)| std::cmp::Reverse(*weight));
    let mut tiers: Vec<(u16, Vec<String>)> = Vec::new();
    for (code, weight) in sorted {
        let full = tiers.len() == MAX_TIERS;
        match tiers.last_mut() {
            Some((w, codes)) if *w == weight || full => codes.push(code.to_owned()),
            _ => tiers.push((weight, vec![code.to_owned()])),
        }
    }
    tiers
        .into_iter()
        .map(|(_, subcategories)| Tier {
            subcategories,
            with_text: false,
        })
        .collect()
}

/// `query` answered tier by tier (see the module), or as the index answers it when there are
/// no tiers or the order is not by relevance.
pub async fn search_answering<I: SearchIndex>(
    index: &I,
    query: &IndexQuery,
    tiers: &Tiers,
) -> Result<IndexPage, IndexError> {
    if tiers.is_empty() || query.order != Order::Relevance {
        return index.search(query).await;
    }
    let mut parts: Vec<IndexQuery> = tiers
        .iter()
        .map(|tier| {
            let mut part = query.clone();
            if tier.with_text {
                // Every listing of the tier is in it, those sharing no word last.
                part.boost_subcategories.clone_from(&tier.subcategories);
            } else {
                part.text = String::new();
                part.boost_subcategories = Vec::new();
            }
            part.subcategories = tier
                .subcategories
                .iter()
                .filter(|code| query.subcategories.is_empty() || query.subcategories.contains(code))
                .filter(|code| !query.excluded_subcategories.contains(code))
                .cloned()
                .collect();
            part
        })
        .filter(|part| !part.subcategories.is_empty())
        .collect();
    let mut rest = query.clone();
    rest.excluded_subcategories.extend(
        tiers
            .iter()
            .flat_map(|tier| tier.subcategories.iter().cloned()),
    );
    parts.push(rest);
    let count = parts.len();
    let (mut skip, mut wanted) = (query.offset, query.limit);
    let mut page = IndexPage {
        hits: Vec::new(),
        total: 0,
        facets: Vec::new(),
    };
    for (i, mut part) in parts.into_iter().enumerate() {
        // Every part is asked, for its total and facets, even once the page is full.
        part.offset = if wanted == 0 { 0 } else { skip };
        part.limit = wanted;
        let answer = index.search(&part).await?;
        let bonus = f64::from(u32::try_from(count - i).unwrap_or(u32::MAX)) * TIER_SCORE;
        wanted = wanted.saturating_sub(answer.hits.len());
        let tier = u32::try_from(count - i).unwrap_or(u32::MAX);
        page.hits.extend(answer.hits.into_iter().map(|mut hit| {
            hit.score += bonus;
            hit.class = hit.class.saturating_add(tier.saturating_mul(TIER_CLASS));
            hit
        }));
        skip = skip.saturating_sub(usize::try_from(answer.total).unwrap_or(usize::MAX));
        page.total += answer.total;
        merge_facets(&mut page.facets, answer.facets);
    }
    Ok(page)
}

/// Adds `more`'s counts to `into`'s, field by field, most frequent first (then by value).
fn merge_facets(into: &mut Vec<FacetCounts>, more: Vec<FacetCounts>) {
    for facet in more {
        match into.iter_mut().find(|f| f.field == facet.field) {
            Some(existing) => {
                let mut counts: HashMap<String, u64> = existing.buckets.drain(..).collect();
                for (value, n) in facet.buckets {
                    *counts.entry(value).or_default() += n;
                }
                let mut buckets: Vec<(String, u64)> = counts.into_iter().collect();
                buckets.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                existing.buckets = buckets;
            }
            None => into.push(facet),
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn equal_weights_share_a_tier_and_the_tail_shares_the_last() {
        let tiers = tiers(&[
            ("a", 100),
            ("b", 170),
            ("c", 100),
            ("d", 60),
            ("e", 50),
            ("f", 40),
            ("g", 30),
            ("h", 20),
        ]);
        let codes = |codes: &[&str]| Tier {
            subcategories: codes.iter().map(|c| (*c).to_owned()).collect(),
            with_text: false,
        };
        assert_eq!(
            tiers,
            vec![
                codes(&["b"]),
                codes(&["a", "c"]),
                codes(&["d"]),
                codes(&["e"]),
                codes(&["f"]),
                codes(&["g", "h"]),
            ]
        );
        assert!(super::tiers(&[]).is_empty());
    }

    #[test]
    fn facets_of_disjoint_parts_add_up() {
        let mut facets = vec![FacetCounts {
            field: "category",
            buckets: vec![("sanitario".to_owned(), 2), ("trasporto".to_owned(), 1)],
        }];
        merge_facets(
            &mut facets,
            vec![FacetCounts {
                field: "category",
                buckets: vec![("trasporto".to_owned(), 3)],
            }],
        );
        assert_eq!(
            facets[0].buckets,
            vec![("trasporto".to_owned(), 4), ("sanitario".to_owned(), 2)]
        );
    }
}
