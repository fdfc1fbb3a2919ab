//! Set-associative tag arrays, one per cache level, holding every CPU's
//! cache in one flat vector.
//!
//! An entry is a 64-bit word: the line number (`pa >> line_shift`) shifted
//! left by [`TagArray::key_shift`] bits, with the low bits holding the line's
//! state (the L1 data cache keeps a write-permission bit, the L2 a MESI
//! state). [`INVALID`] marks an empty way; shifted right it is larger than any
//! real line number, so a lookup needs no separate valid bit. The ways of a set
//! are kept in recency order, most recently used first: a hit on the MRU way
//! costs one load and one compare and changes nothing, a hit on another way
//! rotates it to the front, a fill evicts the last way, and an invalidated
//! entry is moved to the back so that the next fill reuses it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An empty way.
pub(crate) const INVALID: u64 = u64::MAX;

/// The caches of one level for all CPUs.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct TagArray {
    /// `cpus * sets * ways` entries; set `s` of CPU `c` starts at
    /// `c * cpu_stride + s * ways`, most recently used first.
    pub tags: Vec<u64>,
    /// Ways per set.
    pub ways: usize,
    /// `sets - 1`.
    pub set_mask: u64,
    /// Entries per CPU (`sets * ways`).
    pub cpu_stride: usize,
    /// `log2(line bytes)`.
    pub line_shift: u32,
    /// Bits of state below the line number in an entry.
    pub key_shift: u32,
}

impl fmt::Debug for TagArray {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TagArray")
            .field("cpus", &(self.tags.len() / self.cpu_stride.max(1)))
            .field("sets", &(self.set_mask + 1))
            .field("ways", &self.ways)
            .field("line_bytes", &(1u64 << self.line_shift))
            .finish()
    }
}

impl TagArray {
    /// `cpus` caches of `bytes` bytes, `ways` ways, `line`-byte lines (all
    /// powers of two, already validated).
    pub fn new(cpus: usize, bytes: u32, ways: u32, line: u32, key_shift: u32) -> Self {
        let sets = bytes / (ways * line);
        let cpu_stride = (sets * ways) as usize;
        TagArray {
            tags: vec![INVALID; cpus * cpu_stride],
            ways: ways as usize,
            set_mask: u64::from(sets - 1),
            cpu_stride,
            line_shift: line.trailing_zeros(),
            key_shift,
        }
    }

    /// True when `self` has the geometry of `fresh` (same CPUs, sets, ways,
    /// line size and entry layout).
    pub fn has_shape_of(&self, fresh: &TagArray) -> bool {
        self.tags.len() == fresh.tags.len()
            && self.ways == fresh.ways
            && self.set_mask == fresh.set_mask
            && self.cpu_stride == fresh.cpu_stride
            && self.line_shift == fresh.line_shift
            && self.key_shift == fresh.key_shift
    }

    /// Line number of physical address `pa`.
    #[inline(always)]
    pub fn line_of(&self, pa: u64) -> u64 {
        pa >> self.line_shift
    }

    /// Index of the first (MRU) way of the set holding `line` in `cpu`'s cache.
    #[inline(always)]
    pub fn base(&self, cpu: usize, line: u64) -> usize {
        cpu * self.cpu_stride + (line & self.set_mask) as usize * self.ways
    }

    /// The way of the set at `base` holding `line`, if any.
    #[inline]
    pub fn find(&self, base: usize, line: u64) -> Option<usize> {
        let shift = self.key_shift;
        self.tags[base..base + self.ways]
            .iter()
            .position(|&e| e >> shift == line)
    }

    /// Makes way `way` of the set at `base` the most recently used.
    #[inline]
    pub fn touch(&mut self, base: usize, way: usize) {
        if way != 0 {
            let set = &mut self.tags[base..=base + way];
            let hit = set[way];
            for k in (1..=way).rev() {
                set[k] = set[k - 1];
            }
            set[0] = hit;
        }
    }

    /// Inserts `entry` as the most recently used way of the set at `base`,
    /// returning the evicted least recently used entry ([`INVALID`] if the
    /// way was empty).
    #[inline]
    pub fn insert(&mut self, base: usize, entry: u64) -> u64 {
        let set = &mut self.tags[base..base + self.ways];
        let last = set.len() - 1;
        let victim = set[last];
        for k in (1..=last).rev() {
            set[k] = set[k - 1];
        }
        set[0] = entry;
        victim
    }

    /// Empties way `way` of the set at `base`, moving it to the LRU end.
    #[inline]
    pub fn remove(&mut self, base: usize, way: usize) {
        let set = &mut self.tags[base..base + self.ways];
        let last = set.len() - 1;
        for k in way..last {
            set[k] = set[k + 1];
        }
        set[last] = INVALID;
    }

    /// Empties every way of `cpu`'s cache.
    pub fn flush_cpu(&mut self, cpu: usize) {
        let start = cpu * self.cpu_stride;
        self.tags[start..start + self.cpu_stride].fill(INVALID);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lru_order_fill_hit_evict_remove() {
        // 2 CPUs, 4 sets of 2 ways, 32-byte lines, 1 state bit.
        let mut t = TagArray::new(2, 256, 2, 32, 1);
        assert_eq!(t.set_mask, 3);
        let (a, b, c) = (0u64, 4u64, 8u64); // all in set 0
        let base = t.base(1, a);
        assert_eq!(base, 8);
        assert_eq!(t.find(base, a), None);
        assert_eq!(t.insert(base, a << 1), INVALID);
        assert_eq!(t.insert(base, b << 1 | 1), INVALID);
        assert_eq!(t.find(base, a), Some(1));
        assert_eq!(t.find(base, b), Some(0));
        t.touch(base, 1); // a becomes MRU
        assert_eq!(t.find(base, a), Some(0));
        assert_eq!(t.insert(base, c << 1), b << 1 | 1); // evicts b (LRU)
        t.remove(base, 0); // c gone, a is MRU again, empty way last
        assert_eq!(t.find(base, a), Some(0));
        assert_eq!(t.tags[base + 1], INVALID);
        // The other CPU's cache is untouched.
        assert!(t.tags[..8].iter().all(|&e| e == INVALID));
        t.flush_cpu(1);
        assert!(t.tags.iter().all(|&e| e == INVALID));
    }
}
