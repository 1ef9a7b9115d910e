//! The listings a search has read, kept decoded for the next searches, each at the version it
//! was read. A search still asks the store about every hit, but only the provider's status
//! and, for a listing whose stored version is not the one kept here, the whole row: the cache
//! saves reading and decoding the listing's content, never the check that it is current.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use welfare_core::ids::ListingId;

use crate::store::{ListingRecord, Wanted};

/// Listings per generation: the cache holds at most twice as many.
pub(crate) const GENERATION: usize = 5_000;

/// Two generations: a listing is added to the young one, and found in the old one it moves
/// there; when the young one is full it becomes the old one, and the old one is dropped. So the
/// listings searches keep returning stay, and memory is bounded without a clock per entry.
#[derive(Debug)]
pub(crate) struct ListingCache {
    generations: Mutex<Generations>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Generations {
    young: HashMap<ListingId, Arc<ListingRecord>>,
    old: HashMap<ListingId, Arc<ListingRecord>>,
}

impl Default for ListingCache {
    fn default() -> ListingCache {
        ListingCache::with_capacity(GENERATION)
    }
}

impl ListingCache {
    pub(crate) fn with_capacity(capacity: usize) -> ListingCache {
        ListingCache {
            generations: Mutex::new(Generations::default()),
            capacity: capacity.max(1),
        }
    }

    /// What to ask the store for these ids, and the copies held (to use for the listings the
    /// store reports unchanged: another search may replace a copy in the meantime).
    pub(crate) fn wanted(
        &self,
        ids: &[ListingId],
    ) -> (Vec<Wanted>, HashMap<ListingId, Arc<ListingRecord>>) {
        let mut generations = self.lock();
        let mut held = HashMap::new();
        let wanted = ids
            .iter()
            .map(|id| {
                let copy = generations.get(id, self.capacity);
                let held_version = copy.as_ref().map(|record| record.version);
                if let Some(record) = copy {
                    held.insert(id.clone(), record);
                }
                Wanted {
                    id: id.clone(),
                    held_version,
                }
            })
            .collect();
        (wanted, held)
    }

    /// Keeps a listing just read from the store.
    pub(crate) fn keep(&self, record: Arc<ListingRecord>) {
        self.lock().insert(record, self.capacity);
    }

    /// How many listings are held.
    #[cfg(test)]
    fn len(&self) -> usize {
        let generations = self.lock();
        generations.young.len() + generations.old.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Generations> {
        // The maps are consistent after every statement: a panic elsewhere cannot corrupt them.
        self.generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Generations {
    fn get(&mut self, id: &ListingId, capacity: usize) -> Option<Arc<ListingRecord>> {
        if let Some(record) = self.young.get(id) {
            return Some(Arc::clone(record));
        }
        let record = self.old.remove(id)?;
        self.insert(Arc::clone(&record), capacity);
        Some(record)
    }

    fn insert(&mut self, record: Arc<ListingRecord>, capacity: usize) {
        if self.young.len() >= capacity && !self.young.contains_key(&record.listing.id) {
            self.old = std::mem::take(&mut self.young);
        }
        self.old.remove(&record.listing.id);
        self.young.insert(record.listing.id.clone(), record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use welfare_core::category::Category;
    use welfare_core::eligibility::EligibilityRules;
    use welfare_core::ids::ProviderId;
    use welfare_core::listing::{BookingMode, Listing, ListingContent, ListingStatus};
    use welfare_core::pricing::Pricing;
    use welfare_core::time::Timestamp;

    fn record(id: &str, version: i64) -> Arc<ListingRecord> {
        Arc::new(ListingRecord {
            listing: Listing {
                id: ListingId::parse(id).expect("id"),
                provider_id: ProviderId::parse("p1").expect("id"),
                content: ListingContent {
                    title: format!("Servizio {id}"),
                    description: String::new(),
                    category: Category::SocioAssistenziale,
                    subcategory: "sad".to_owned(),
                    delivery: Vec::new(),
                    service_area: Vec::new(),
                    venue: None,
                    schedule: Vec::new(),
                    booking_mode: BookingMode::RequestAndConfirm,
                    eligibility: EligibilityRules::new(Vec::new()).expect("rules"),
                    pricing: Pricing::free(),
                    cancellation_policy: Default::default(),
                    languages: Vec::new(),
                    accessibility: Vec::new(),
                },
                status: ListingStatus::Published,
                verified_at: None,
            },
            version,
            created_at: Timestamp::from_unix_seconds(0),
            updated_at: Timestamp::from_unix_seconds(0),
        })
    }

    fn id(id: &str) -> ListingId {
        ListingId::parse(id).expect("id")
    }

    #[test]
    fn asks_for_what_it_lacks_and_names_the_version_it_holds() {
        let cache = ListingCache::with_capacity(10);
        cache.keep(record("l1", 3));
        let (wanted, held) = cache.wanted(&[id("l1"), id("l2")]);
        assert_eq!(
            wanted,
            [
                Wanted {
                    id: id("l1"),
                    held_version: Some(3)
                },
                Wanted {
                    id: id("l2"),
                    held_version: None
                }
            ]
        );
        assert_eq!(held.len(), 1);
        assert_eq!(held[&id("l1")].version, 3);
        // A newer read replaces the copy.
        cache.keep(record("l1", 4));
        assert_eq!(cache.wanted(&[id("l1")]).0[0].held_version, Some(4));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn holds_at_most_two_generations_and_keeps_what_is_used() {
        let cache = ListingCache::with_capacity(3);
        for n in 0..3 {
            cache.keep(record(&format!("l{n}"), 1));
        }
        // The young generation is full: the next listing starts a new one.
        cache.keep(record("l3", 1));
        assert_eq!(cache.len(), 4);
        // Used again, l0 moves to the young generation and survives the next turnover.
        assert!(cache.wanted(&[id("l0")]).1.contains_key(&id("l0")));
        cache.keep(record("l4", 1));
        cache.keep(record("l5", 1));
        assert_eq!(
            cache.len(),
            4,
            "l1 and l2 were dropped with the old generation"
        );
        let (_, held) = cache.wanted(&[id("l0"), id("l1"), id("l2"), id("l3")]);
        let mut kept: Vec<_> = held.keys().map(ListingId::as_str).collect();
        kept.sort_unstable();
        assert_eq!(kept, ["l0", "l3"]);
        for n in 6..100 {
            cache.keep(record(&format!("l{n}"), 1));
            assert!(cache.len() <= 6);
        }
    }
}
