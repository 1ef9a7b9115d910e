//! The current records of listings, for searches: [`CurrentListings::current`] is the one call a
//! search makes, and the whole protocol that keeps its answers current lives here, beside the
//! store.
//!
//! The listings read are kept decoded with their provider's status, each as of the store's
//! change count when it was checked. A kept copy checked at the store's current count is used
//! as it is: nothing has been written since. Otherwise the store is asked about the listing,
//! and its whole row read only if the stored version is not the one kept here. Without a change
//! count (PostgreSQL) every call asks: the cache then saves reading and decoding the listing's
//! content, never the check that it is current.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use welfare_core::ids::ListingId;
use welfare_core::provider::ProviderStatus;

use crate::store::{CatalogStore, Fetched, ListingRecord, StoreError, Wanted};

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

/// A listing as a search found it in the store.
#[derive(Debug, Clone)]
pub(crate) struct Kept {
    pub(crate) record: Arc<ListingRecord>,
    pub(crate) provider_status: ProviderStatus,
    /// The store's change count when the copy was checked, if it counts changes.
    checked_at: Option<u64>,
}

impl Kept {
    pub(crate) fn new(
        record: Arc<ListingRecord>,
        provider_status: ProviderStatus,
        checked_at: Option<u64>,
    ) -> Kept {
        Kept {
            record,
            provider_status,
            checked_at,
        }
    }
}

/// What the cache has for a search's hits.
#[derive(Debug, Default)]
pub(crate) struct Lookup {
    /// Copies checked at the store's current change count, usable as they are.
    pub(crate) current: Vec<Kept>,
    /// What to ask the store about.
    pub(crate) wanted: Vec<Wanted>,
    /// The copies held of the wanted listings, to use for those the store reports unchanged
    /// (another search may replace a copy in the meantime).
    pub(crate) held: HashMap<ListingId, Arc<ListingRecord>>,
}

#[derive(Debug, Default)]
struct Generations {
    young: HashMap<ListingId, Kept>,
    old: HashMap<ListingId, Kept>,
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

    /// The copies of these listings still current at the store's change count `changes`, and
    /// what to ask the store about the others.
    pub(crate) fn lookup(&self, ids: &[ListingId], changes: Option<u64>) -> Lookup {
        let mut generations = self.lock();
        let mut lookup = Lookup::default();
        for id in ids {
            let copy = generations.get(id, self.capacity);
            match copy {
                Some(kept) if changes.is_some() && kept.checked_at == changes => {
                    lookup.current.push(kept);
                }
                Some(kept) => {
                    lookup.wanted.push(Wanted {
                        id: id.clone(),
                        held_version: Some(kept.record.version),
                    });
                    lookup.held.insert(id.clone(), kept.record);
                }
                None => lookup.wanted.push(Wanted {
                    id: id.clone(),
                    held_version: None,
                }),
            }
        }
        lookup
    }

    /// Keeps a listing as the store just reported it.
    pub(crate) fn keep(&self, kept: Kept) {
        self.lock().insert(kept, self.capacity);
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
    fn get(&mut self, id: &ListingId, capacity: usize) -> Option<Kept> {
        if let Some(kept) = self.young.get(id) {
            return Some(kept.clone());
        }
        let kept = self.old.remove(id)?;
        self.insert(kept.clone(), capacity);
        Some(kept)
    }

    fn insert(&mut self, kept: Kept, capacity: usize) {
        let id = &kept.record.listing.id;
        if self.young.len() >= capacity && !self.young.contains_key(id) {
            self.old = std::mem::take(&mut self.young);
        }
        self.old.remove(id);
        self.young.insert(id.clone(), kept);
    }
}

/// The current records of listings: a store and the copies kept of what it returned.
#[derive(Debug, Clone)]
pub struct CurrentListings<S> {
    store: S,
    kept: Arc<ListingCache>,
}

impl<S: CatalogStore> CurrentListings<S> {
    pub fn new(store: S) -> CurrentListings<S> {
        CurrentListings {
            store,
            kept: Arc::default(),
        }
    }

    /// The current record of each listing of `ids` that exists, with its provider's status
    /// now (in no particular order): a kept copy when the store has counted no change since it
    /// was checked, or when the store reports it still at the kept version; else read.
    pub async fn current(
        &self,
        ids: &[ListingId],
    ) -> Result<Vec<(Arc<ListingRecord>, ProviderStatus)>, StoreError> {
        // The count before the store: a change committed after this point leaves the copies
        // read now marked with an older count, so the next call asks.
        let changes = self.store.change_count();
        let lookup = self.kept.lookup(ids, changes);
        let unchanged = lookup.current.len();
        let (mut confirmed, mut read) = (0, 0);
        let mut found: Vec<_> = lookup
            .current
            .into_iter()
            .map(|current| (current.record, current.provider_status))
            .collect();
        let mut held = lookup.held;
        if !lookup.wanted.is_empty() {
            for fetched in self.store.listings_by_id(&lookup.wanted).await? {
                let (record, status) = match fetched {
                    Fetched::Held {
                        id,
                        provider_status,
                    } => match held.remove(&id) {
                        Some(record) => {
                            confirmed += 1;
                            (record, provider_status)
                        }
                        None => continue,
                    },
                    Fetched::Read(record, status) => {
                        read += 1;
                        (Arc::<ListingRecord>::from(record), status)
                    }
                };
                self.kept
                    .keep(Kept::new(Arc::clone(&record), status, changes));
                found.push((record, status));
            }
        }
        crate::metrics::hit_listings(unchanged as u64, confirmed, read);
        Ok(found)
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

    fn kept(id: &str, version: i64, checked_at: Option<u64>) -> Kept {
        Kept::new(record(id, version), ProviderStatus::Approved, checked_at)
    }

    #[test]
    fn asks_for_what_it_lacks_and_names_the_version_it_holds() {
        let cache = ListingCache::with_capacity(10);
        cache.keep(kept("l1", 3, None));
        let lookup = cache.lookup(&[id("l1"), id("l2")], None);
        assert!(
            lookup.current.is_empty(),
            "without a change count, always ask"
        );
        assert_eq!(
            lookup.wanted,
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
        assert_eq!(lookup.held.len(), 1);
        assert_eq!(lookup.held[&id("l1")].version, 3);
        // A newer read replaces the copy.
        cache.keep(kept("l1", 4, None));
        assert_eq!(
            cache.lookup(&[id("l1")], None).wanted[0].held_version,
            Some(4)
        );
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn a_copy_checked_at_the_current_change_count_is_used_as_it_is() {
        let cache = ListingCache::with_capacity(10);
        cache.keep(Kept::new(
            record("l1", 2),
            ProviderStatus::Suspended,
            Some(7),
        ));
        cache.keep(kept("l2", 1, Some(6)));
        let lookup = cache.lookup(&[id("l1"), id("l2"), id("l3")], Some(7));
        assert_eq!(lookup.current.len(), 1);
        assert_eq!(lookup.current[0].record.listing.id, id("l1"));
        assert_eq!(lookup.current[0].provider_status, ProviderStatus::Suspended);
        // Checked before a later change: asked about again, naming the version held.
        assert_eq!(
            lookup.wanted,
            [
                Wanted {
                    id: id("l2"),
                    held_version: Some(1)
                },
                Wanted {
                    id: id("l3"),
                    held_version: None
                }
            ]
        );
        assert_eq!(lookup.held.keys().collect::<Vec<_>>(), [&id("l2")]);
        // One more change, and nothing is current any more.
        assert!(cache.lookup(&[id("l1")], Some(8)).current.is_empty());
    }

    #[test]
    fn holds_at_most_two_generations_and_keeps_what_is_used() {
        let cache = ListingCache::with_capacity(3);
        for n in 0..3 {
            cache.keep(kept(&format!("l{n}"), 1, None));
        }
        // The young generation is full: the next listing starts a new one.
        cache.keep(kept("l3", 1, None));
        assert_eq!(cache.len(), 4);
        // Used again, l0 moves to the young generation and survives the next turnover.
        assert!(cache.lookup(&[id("l0")], None).held.contains_key(&id("l0")));
        cache.keep(kept("l4", 1, None));
        cache.keep(kept("l5", 1, None));
        assert_eq!(
            cache.len(),
            4,
            "l1 and l2 were dropped with the old generation"
        );
        let held = cache
            .lookup(&[id("l0"), id("l1"), id("l2"), id("l3")], None)
            .held;
        let mut kept_ids: Vec<_> = held.keys().map(ListingId::as_str).collect();
        kept_ids.sort_unstable();
        assert_eq!(kept_ids, ["l0", "l3"]);
        for n in 6..100 {
            cache.keep(kept(&format!("l{n}"), 1, None));
            assert!(cache.len() <= 6);
        }
    }
}
