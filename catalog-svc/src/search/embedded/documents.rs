//! A generation's documents beside tantivy: every listing's packed facts by slot, and for every
//! filter and facet value the set of its slots, so filters are set intersections and facets
//! counts of them.

use super::*;

#[derive(Clone, Copy)]
pub(super) struct Fields {
    pub(super) id: Field,
    pub(super) slot: Field,
    pub(super) title: Field,
    pub(super) vocabulary: Field,
    pub(super) description: Field,
    /// Title, vocabulary and description together, for typo-tolerant matching in one pass.
    pub(super) all: Field,
    pub(super) subcategory: Field,
}

/// Documents by slot (the `slot` fast field of the tantivy document) and slots by id.
#[derive(Default)]
pub(super) struct Documents {
    pub(super) slots: Vec<Option<Arc<SearchDocument>>>,
    /// What residual filters and orders read, by slot.
    pub(super) facts: Vec<Facts>,
    /// The comuni of every slot, one run per slot (`Facts::comuni`).
    pub(super) comuni_runs: Vec<u16>,
    pub(super) by_id: HashMap<String, usize>,
    /// The comuni seen, interned.
    pub(super) comuni: Vec<String>,
    pub(super) comune_numbers: HashMap<String, u16>,
    /// The providers seen, interned.
    pub(super) provider_numbers: HashMap<String, u32>,
    /// The slots of each value filters and facets ask about.
    pub(super) sets: Sets,
    /// How many live slots were verified at each instant: the oldest tells whether a
    /// freshness bound excludes anything.
    pub(super) verified: BTreeMap<i64, u32>,
}

/// The slots of each filter and facet value. Slots are never reused within a generation, so
/// only `live` ever loses one.
#[derive(Default)]
pub(super) struct Sets {
    /// In the index now (a removed document's slot stays, dead).
    pub(super) live: Bits,
    /// By position in `Category::ALL`.
    pub(super) category: Vec<Bits>,
    /// By position in `Subcategory::all()`.
    pub(super) subcategory: Vec<Bits>,
    /// By comune number, the slots naming it in their area (not those serving everywhere).
    pub(super) listed: Vec<Bits>,
    pub(super) everywhere: Bits,
    pub(super) free: Bits,
    /// Stating an age range (not open to every age).
    pub(super) targeted: Bits,
    /// By age in years, the slots admitting it.
    pub(super) age: Vec<Bits>,
    /// By provider number, its slots.
    pub(super) provider: Vec<Vec<u32>>,
}

/// What residual filters, orders and facets read of a document.
#[derive(Default, Clone, Copy)]
pub(super) struct Facts {
    pub(super) verified_at: i64,
    pub(super) min_price_cents: i64,
    /// Start and length of the slot's run in `Documents::comuni_runs`.
    pub(super) comuni_start: u32,
    pub(super) comuni_len: u16,
    /// Positions in `Category::ALL` and `Subcategory::all()`.
    pub(super) category: u8,
    pub(super) subcategory: u8,
    pub(super) free: bool,
    pub(super) everywhere: bool,
}

/// Facet counts by value number, before they become buckets.
pub(super) struct Tally {
    pub(super) category: Vec<u64>,
    pub(super) subcategory: Vec<u64>,
    /// By comune number, listings naming the comune (not those serving everywhere).
    pub(super) listed: Vec<u64>,
    pub(super) everywhere: u64,
    /// The first match serving everywhere: its area is the whole territory's.
    pub(super) first_everywhere: Option<usize>,
    pub(super) free: u64,
    pub(super) matched: u64,
}

/// Below one match in this many slots, facets are counted match by match rather than by
/// intersecting the matches with every value's set (about a hundred sets).
pub(super) const SPARSE_MATCHES: u64 = 16;

/// One slot of `sets`, grown as needed.
pub(super) fn member(sets: &mut Vec<Bits>, at: usize, slot: usize) {
    if sets.len() <= at {
        sets.resize_with(at + 1, Bits::default);
    }
    if let Some(set) = sets.get_mut(at) {
        set.insert(slot);
    }
}

/// The union of some sets of `sets`.
pub(super) fn union_of(sets: &[Bits], chosen: impl Iterator<Item = usize>) -> Bits {
    let mut union = Bits::default();
    for at in chosen {
        if let Some(set) = sets.get(at) {
            union.unite(set);
        }
    }
    union
}

impl Documents {
    /// The comuni run of a slot.
    pub(super) fn run<'a>(comuni_runs: &'a [u16], facts: &Facts) -> &'a [u16] {
        let start = facts.comuni_start as usize;
        comuni_runs
            .get(start..start + usize::from(facts.comuni_len))
            .unwrap_or_default()
    }

    /// Adds a document in the next slot, not yet live; returns the slot of the document it
    /// replaces, if the id was already here.
    pub(super) fn push(&mut self, doc: SearchDocument) -> Option<usize> {
        let slot = self.slots.len();
        let facts = self.facts_of(&doc, slot);
        let replaced = self.by_id.insert(doc.id.clone(), slot);
        self.facts.push(facts);
        self.slots.push(Some(Arc::new(doc)));
        replaced
    }

    /// Makes a pushed slot searchable.
    pub(super) fn enliven(&mut self, slot: usize) {
        if let Some(facts) = self.facts.get(slot)
            && !self.sets.live.contains(slot)
        {
            self.sets.live.insert(slot);
            *self.verified.entry(facts.verified_at).or_default() += 1;
        }
    }

    /// Marks a slot removed.
    pub(super) fn retire(&mut self, slot: usize) {
        if let Some(entry) = self.slots.get_mut(slot) {
            *entry = None;
        }
        if let Some(facts) = self.facts.get(slot)
            && self.sets.live.contains(slot)
        {
            self.sets.live.remove(slot);
            if let Some(n) = self.verified.get_mut(&facts.verified_at) {
                *n -= 1;
                if *n == 0 {
                    self.verified.remove(&facts.verified_at);
                }
            }
        }
    }

    /// Interns a document's values and enters its slot in the sets of its values.
    pub(super) fn facts_of(&mut self, doc: &SearchDocument, slot: usize) -> Facts {
        let position = |found: Option<usize>| found.unwrap_or(0);
        let comuni_start = u32::try_from(self.comuni_runs.len()).unwrap_or(u32::MAX);
        for code in &doc.comuni {
            let next = u16::try_from(self.comuni.len()).unwrap_or(u16::MAX);
            let number = *self.comune_numbers.entry(code.clone()).or_insert(next);
            if usize::from(number) == self.comuni.len() {
                self.comuni.push(code.clone());
            }
            self.comuni_runs.push(number);
            if !doc.everywhere {
                member(&mut self.sets.listed, usize::from(number), slot);
            }
        }
        let next = u32::try_from(self.provider_numbers.len()).unwrap_or(u32::MAX);
        let provider = *self
            .provider_numbers
            .entry(doc.provider_id.clone())
            .or_insert(next) as usize;
        if self.sets.provider.len() <= provider {
            self.sets.provider.resize_with(provider + 1, Vec::new);
        }
        if let Some(slots) = self.sets.provider.get_mut(provider) {
            slots.push(u32::try_from(slot).unwrap_or(u32::MAX));
        }
        let category = position(Category::ALL.iter().position(|c| *c == doc.category));
        let subcategory = position(
            Subcategory::all()
                .iter()
                .position(|s| s.code == doc.subcategory),
        );
        member(&mut self.sets.category, category, slot);
        member(&mut self.sets.subcategory, subcategory, slot);
        for age in doc.min_age..=doc.max_age {
            member(&mut self.sets.age, usize::from(age), slot);
        }
        let sets = &mut self.sets;
        for (flag, set) in [
            (doc.everywhere, &mut sets.everywhere),
            (doc.free, &mut sets.free),
            (
                doc.min_age > 0 || doc.max_age < MAX_AGE_YEARS,
                &mut sets.targeted,
            ),
        ] {
            if flag {
                set.insert(slot);
            }
        }
        Facts {
            verified_at: doc.verified_at,
            min_price_cents: doc.min_price_cents,
            comuni_start,
            comuni_len: u16::try_from(doc.comuni.len()).unwrap_or(u16::MAX),
            category: u8::try_from(category).unwrap_or(u8::MAX),
            subcategory: u8::try_from(subcategory).unwrap_or(u8::MAX),
            free: doc.free,
            everywhere: doc.everywhere,
        }
    }

    /// The live slots passing the query's filters: the same decision as
    /// `IndexQuery::admits`, by set intersections; what no set holds (a price bound, a
    /// freshness bound that excludes someone) is checked slot by slot on what is left.
    pub(super) fn admitted(&self, query: &IndexQuery) -> Bits {
        let sets = &self.sets;
        let mut admitted = sets.live.clone();
        if !query.categories.is_empty() {
            admitted.intersect(&union_of(
                &sets.category,
                Category::ALL
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| query.categories.contains(c))
                    .map(|(i, _)| i),
            ));
        }
        if !query.subcategories.is_empty() {
            admitted.intersect(&union_of(
                &sets.subcategory,
                Subcategory::all()
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| query.subcategories.iter().any(|code| code == s.code))
                    .map(|(i, _)| i),
            ));
        }
        if !query.excluded_subcategories.is_empty() {
            admitted = admitted.and_not(&union_of(
                &sets.subcategory,
                Subcategory::all()
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| {
                        query
                            .excluded_subcategories
                            .iter()
                            .any(|code| code == s.code)
                    })
                    .map(|(i, _)| i),
            ));
        }
        if let Some(code) = &query.served {
            let mut serving = sets.everywhere.clone();
            if let Some(listed) = self
                .comune_numbers
                .get(code)
                .and_then(|n| sets.listed.get(usize::from(*n)))
            {
                serving.unite(listed);
            }
            admitted.intersect(&serving);
        }
        if query.free_only {
            admitted.intersect(&sets.free);
        }
        if let Some(age) = query.age {
            admitted.intersect(sets.age.get(usize::from(age)).unwrap_or(&Bits::default()));
        }
        if let Some(id) = &query.provider_id {
            let mut theirs = Bits::default();
            for &slot in self
                .provider_numbers
                .get(id)
                .and_then(|n| sets.provider.get(*n as usize))
                .map_or(&[][..], Vec::as_slice)
            {
                theirs.insert(slot as usize);
            }
            admitted.intersect(&theirs);
        }
        self.check_residual(query, &mut admitted);
        admitted
    }

    /// Removes from `slots` those failing the bounds no set holds.
    pub(super) fn check_residual(&self, query: &IndexQuery, slots: &mut Bits) {
        let stale_ones = self
            .verified
            .first_key_value()
            .is_some_and(|(oldest, _)| *oldest < query.fresh_since);
        if !stale_ones && query.max_price_cents.is_none() {
            return;
        }
        slots.retain(|slot| {
            self.facts.get(slot).is_some_and(|facts| {
                facts.verified_at >= query.fresh_since
                    && query
                        .max_price_cents
                        .is_none_or(|max| facts.min_price_cents <= max)
            })
        });
    }

    /// The facets of the matching slots (`count` of them), as `count_facets` defines them.
    pub(super) fn facets(&self, matched: &Bits, count: u64) -> Vec<FacetCounts> {
        let tally = if count * SPARSE_MATCHES < self.facts.len() as u64 {
            self.tally_by_match(matched, count)
        } else {
            self.tally_by_set(matched, count)
        };
        self.buckets(tally)
    }

    /// Counts as intersections with every value's set: for many matches.
    pub(super) fn tally_by_set(&self, matched: &Bits, count: u64) -> Tally {
        let sets = &self.sets;
        let counts =
            |of: &[Bits]| -> Vec<u64> { of.iter().map(|set| matched.count_common(set)).collect() };
        Tally {
            category: counts(&sets.category),
            subcategory: counts(&sets.subcategory),
            listed: counts(&sets.listed),
            everywhere: matched.count_common(&sets.everywhere),
            first_everywhere: matched.first_common(&sets.everywhere),
            free: matched.count_common(&sets.free),
            matched: count,
        }
    }

    /// Counts match by match: for few matches.
    pub(super) fn tally_by_match(&self, matched: &Bits, count: u64) -> Tally {
        let mut tally = Tally {
            category: vec![0; self.sets.category.len()],
            subcategory: vec![0; self.sets.subcategory.len()],
            listed: vec![0; self.sets.listed.len()],
            everywhere: 0,
            first_everywhere: None,
            free: 0,
            matched: count,
        };
        let add = |counts: &mut Vec<u64>, at: usize| {
            if let Some(n) = counts.get_mut(at) {
                *n += 1;
            }
        };
        for slot in matched.ones() {
            let Some(facts) = self.facts.get(slot) else {
                continue;
            };
            add(&mut tally.category, usize::from(facts.category));
            add(&mut tally.subcategory, usize::from(facts.subcategory));
            tally.free += u64::from(facts.free);
            if facts.everywhere {
                tally.everywhere += 1;
                tally.first_everywhere.get_or_insert(slot);
            } else {
                for &c in Documents::run(&self.comuni_runs, facts) {
                    add(&mut tally.listed, usize::from(c));
                }
            }
        }
        tally
    }

    /// The buckets of a tally, each facet's sorted by count, then value.
    pub(super) fn buckets(&self, tally: Tally) -> Vec<FacetCounts> {
        let mut comune = tally.listed;
        comune.resize(self.comuni.len(), 0);
        // Listings serving the whole territory count once per comune of the first one's area.
        if let Some(facts) = tally.first_everywhere.and_then(|slot| self.facts.get(slot)) {
            for &c in Documents::run(&self.comuni_runs, facts) {
                if let Some(n) = comune.get_mut(usize::from(c)) {
                    *n += tally.everywhere;
                }
            }
        }
        let buckets = |field: &'static str, counts: Vec<(String, u64)>| {
            let mut buckets: Vec<(String, u64)> =
                counts.into_iter().filter(|(_, n)| *n > 0).collect();
            buckets.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            FacetCounts { field, buckets }
        };
        let nth = |counts: &[u64], i: usize| counts.get(i).copied().unwrap_or(0);
        vec![
            buckets(
                "category",
                Category::ALL
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (c.code().to_owned(), nth(&tally.category, i)))
                    .collect(),
            ),
            buckets(
                "subcategory",
                Subcategory::all()
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (s.code.to_owned(), nth(&tally.subcategory, i)))
                    .collect(),
            ),
            buckets("comune", self.comuni.iter().cloned().zip(comune).collect()),
            buckets(
                "price",
                vec![
                    ("free".to_owned(), tally.free),
                    ("paid".to_owned(), tally.matched - tally.free),
                ],
            ),
        ]
    }
}
