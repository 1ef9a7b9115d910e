//! Sets of index slots as bits, and counters over them: what the embedded index filters,
//! counts facets and ranks with, a machine word (64 slots) at a time.

/// A set of slots. Words past the end read as zero, so sets of different lengths combine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Bits {
    words: Vec<u64>,
}

const WORD: usize = u64::BITS as usize;

impl Bits {
    /// An empty set with room for `len` slots.
    pub(crate) fn with_len(len: usize) -> Bits {
        Bits {
            words: vec![0; len.div_ceil(WORD)],
        }
    }

    /// The slots `0..len`.
    #[cfg(test)]
    pub(crate) fn full(len: usize) -> Bits {
        let mut bits = Bits {
            words: vec![u64::MAX; len.div_ceil(WORD)],
        };
        if let Some(last) = bits.words.last_mut()
            && !len.is_multiple_of(WORD)
        {
            *last = (1 << (len % WORD)) - 1;
        }
        bits
    }

    /// The word holding slots `64 * i ..`, zero past the end.
    fn word(&self, i: usize) -> u64 {
        self.words.get(i).copied().unwrap_or(0)
    }

    pub(crate) fn insert(&mut self, slot: usize) {
        let i = slot / WORD;
        if i >= self.words.len() {
            self.words.resize(i + 1, 0);
        }
        if let Some(word) = self.words.get_mut(i) {
            *word |= 1 << (slot % WORD);
        }
    }

    pub(crate) fn remove(&mut self, slot: usize) {
        if let Some(word) = self.words.get_mut(slot / WORD) {
            *word &= !(1 << (slot % WORD));
        }
    }

    pub(crate) fn contains(&self, slot: usize) -> bool {
        self.word(slot / WORD) & (1 << (slot % WORD)) != 0
    }

    /// Keeps only the slots also in `other`.
    pub(crate) fn intersect(&mut self, other: &Bits) {
        for (i, word) in self.words.iter_mut().enumerate() {
            *word &= other.word(i);
        }
    }

    /// Adds the slots of `other`.
    pub(crate) fn unite(&mut self, other: &Bits) {
        if other.words.len() > self.words.len() {
            self.words.resize(other.words.len(), 0);
        }
        for (word, theirs) in self.words.iter_mut().zip(&other.words) {
            *word |= theirs;
        }
    }

    /// The slots in `self` and in `other`.
    pub(crate) fn and(&self, other: &Bits) -> Bits {
        let mut both = self.clone();
        both.intersect(other);
        both
    }

    /// The slots in `self` but not in `other`.
    pub(crate) fn and_not(&self, other: &Bits) -> Bits {
        Bits {
            words: self
                .words
                .iter()
                .enumerate()
                .map(|(i, word)| word & !other.word(i))
                .collect(),
        }
    }

    pub(crate) fn len(&self) -> u64 {
        self.words.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    /// How many slots are in `self` and in `other`.
    pub(crate) fn count_common(&self, other: &Bits) -> u64 {
        // Zipped slices, so the compiler counts several words per instruction.
        self.words
            .iter()
            .zip(&other.words)
            .map(|(a, b)| u64::from((a & b).count_ones()))
            .sum()
    }

    /// The first slot in `self` and in `other`.
    pub(crate) fn first_common(&self, other: &Bits) -> Option<usize> {
        self.words
            .iter()
            .zip(&other.words)
            .enumerate()
            .find_map(|(i, (a, b))| {
                let both = a & b;
                (both != 0).then(|| i * WORD + both.trailing_zeros() as usize)
            })
    }

    /// The slots, ascending.
    pub(crate) fn ones(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &word)| {
            let mut rest = word;
            std::iter::from_fn(move || {
                if rest == 0 {
                    return None;
                }
                let bit = rest.trailing_zeros() as usize;
                rest &= rest - 1;
                Some(i * WORD + bit)
            })
        })
    }

    /// Removes the slots `keep` refuses.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(usize) -> bool) {
        for (i, word) in self.words.iter_mut().enumerate() {
            let mut rest = *word;
            while rest != 0 {
                let bit = rest.trailing_zeros() as usize;
                rest &= rest - 1;
                if !keep(i * WORD + bit) {
                    *word &= !(1 << bit);
                }
            }
        }
    }
}

/// How many of several sets hold each slot, as bit planes (plane `p` holds bit `p` of every
/// slot's count), so adding a set costs a few operations per 64 slots.
#[derive(Debug)]
pub(crate) struct Counter {
    planes: Vec<Bits>,
}

impl Counter {
    /// A counter for up to `most` sets over `len` slots.
    pub(crate) fn new(most: usize, len: usize) -> Counter {
        let planes = (usize::BITS - most.leading_zeros()).max(1) as usize;
        Counter {
            planes: (0..planes).map(|_| Bits::with_len(len)).collect(),
        }
    }

    /// Counts one more set.
    pub(crate) fn add(&mut self, set: &Bits) {
        for (i, &word) in set.words.iter().enumerate() {
            let mut carry = word;
            for plane in &mut self.planes {
                if carry == 0 {
                    break;
                }
                if let Some(bits) = plane.words.get_mut(i) {
                    let next = *bits & carry;
                    *bits ^= carry;
                    carry = next;
                }
            }
        }
    }

    /// The slots of `within` counted exactly `n` times.
    pub(crate) fn exactly(&self, n: usize, within: &Bits) -> Bits {
        Bits {
            words: within
                .words
                .iter()
                .enumerate()
                .map(|(i, &word)| {
                    self.planes
                        .iter()
                        .enumerate()
                        .fold(word, |acc, (p, plane)| {
                            if (n >> p) & 1 == 1 {
                                acc & plane.word(i)
                            } else {
                                acc & !plane.word(i)
                            }
                        })
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(len: usize, slots: &[usize]) -> Bits {
        let mut bits = Bits::with_len(len);
        for &s in slots {
            bits.insert(s);
        }
        bits
    }

    #[test]
    fn sets_combine_across_lengths_and_word_boundaries() {
        let a = set(200, &[0, 63, 64, 130, 199]);
        let b = set(70, &[63, 64, 65]);
        assert_eq!(a.and(&b).ones().collect::<Vec<_>>(), vec![63, 64]);
        assert_eq!(a.and_not(&b).ones().collect::<Vec<_>>(), vec![0, 130, 199]);
        let mut c = b.clone();
        c.unite(&a);
        assert_eq!(c.len(), 6);
        assert!(c.contains(199) && c.contains(65) && !c.contains(198));
        assert!(!b.contains(10_000));
        assert_eq!(a.count_common(&b), 2);
        assert_eq!(a.first_common(&b), Some(63));
        assert_eq!(b.first_common(&set(70, &[1])), None);
        assert_eq!(b.count_common(&a), 2);
        let mut d = a.clone();
        d.retain(|s| s % 2 == 1);
        assert_eq!(d.ones().collect::<Vec<_>>(), vec![63, 199]);
        d.remove(63);
        assert_eq!(d.ones().collect::<Vec<_>>(), vec![199]);
        assert_eq!(Bits::full(130).len(), 130);
        assert_eq!(Bits::full(128).len(), 128);
        assert!(!Bits::full(130).contains(130));
    }

    #[test]
    fn the_counter_counts_each_slot() {
        let len = 300;
        let sets: Vec<Bits> = (0..7)
            .map(|k| {
                let slots: Vec<usize> = (0..len).filter(|s| (s * (k + 3)) % (k + 2) == 0).collect();
                set(len, &slots)
            })
            .collect();
        let mut counter = Counter::new(sets.len(), len);
        for s in &sets {
            counter.add(s);
        }
        let everything = Bits::full(len);
        for n in 0..=sets.len() {
            let expected: Vec<usize> = (0..len)
                .filter(|&slot| sets.iter().filter(|s| s.contains(slot)).count() == n)
                .collect();
            assert_eq!(
                counter.exactly(n, &everything).ones().collect::<Vec<_>>(),
                expected,
                "count {n}"
            );
        }
    }
}
