//! The simulator's own translation cache ("soft TLB").
//!
//! It maps 4 KiB virtual pages straight to offsets in RAM so that most loads,
//! stores and instruction fetches cost one index, one compare and one RAM
//! access. It is a cache of what the architectural TLB and the segment rules
//! already allow and never changes what software sees: every change to the
//! architectural state it depends on (TLB writes, ASID, Status.ERL/KX/SX/UX)
//! invalidates the affected entries.
//!
//! There is one array per privilege level, so switching between kernel and
//! user mode needs no flush. Each entry keeps separate tags for reads,
//! writes and fetches; write tags are only set for pages that are dirty in the
//! TLB and hold no decoded code, so that stores to code go through the slow
//! path that keeps the block cache coherent. Device (MMIO) pages never enter.

use crate::memory::PAGE_SHIFT;

/// log2 of the number of entries per privilege level.
const BITS: u32 = 10;
/// Entries per privilege level.
pub(crate) const ENTRIES: usize = 1 << BITS;
/// Number of privilege levels with their own array (kernel, supervisor,
/// user; the fourth is unused and keeps the table a power of two, so that
/// indexing needs no bounds check).
pub(crate) const LEVELS: usize = 4;
/// Total entries.
const TOTAL: usize = ENTRIES * LEVELS;
/// Tag value that never matches (its low bits are set, aligned addresses' are not).
pub(crate) const INVALID: u64 = u64::MAX;
/// Page-number bits of an address.
pub(crate) const PAGE_MASK: u64 = !((1 << PAGE_SHIFT) - 1);

/// One cached page translation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry {
    /// Page address allowed for loads, or [`INVALID`].
    pub read: u64,
    /// Page address allowed for stores, or [`INVALID`].
    pub write: u64,
    /// Page address allowed for instruction fetch, or [`INVALID`].
    pub fetch: u64,
    /// Added (wrapping) to a virtual address to get its RAM offset.
    pub addend: u64,
}

const EMPTY: Entry = Entry {
    read: INVALID,
    write: INVALID,
    fetch: INVALID,
    addend: 0,
};

/// Per-CPU soft TLB.
#[derive(Clone, Debug)]
pub(crate) struct SoftTlb {
    entries: Box<[Entry; TOTAL]>,
}

impl Default for SoftTlb {
    fn default() -> Self {
        SoftTlb {
            entries: Box::new([EMPTY; TOTAL]),
        }
    }
}

/// Index of `va`'s entry for privilege `level` (0..3).
#[inline(always)]
pub(crate) fn slot(level: usize, va: u64) -> usize {
    ((level << BITS) | ((va >> PAGE_SHIFT) as usize & (ENTRIES - 1))) & (TOTAL - 1)
}

impl SoftTlb {
    #[inline(always)]
    pub(crate) fn get(&self, i: usize) -> &Entry {
        &self.entries[i & (TOTAL - 1)]
    }

    /// Installs a translation of the page of `va` to RAM offset `pa`.
    pub(crate) fn fill(&mut self, level: usize, va: u64, pa: u64, writable: bool) {
        let page = va & PAGE_MASK;
        self.entries[slot(level, va)] = Entry {
            read: page,
            write: if writable { page } else { INVALID },
            fetch: page,
            addend: (pa & PAGE_MASK).wrapping_sub(page),
        };
    }

    /// Drops every entry.
    pub(crate) fn flush(&mut self) {
        self.entries.fill(EMPTY);
    }

    /// Drops all write permissions (a page may have become a code page).
    pub(crate) fn flush_writes(&mut self) {
        for e in self.entries.iter_mut() {
            e.write = INVALID;
        }
    }

    /// Drops entries for virtual pages in each `[start, end)` of `ranges`,
    /// in every level; a range flagged `any_cca` also covers its addresses
    /// with any cache attribute (xkphys bits 61:59). Small ranges are
    /// probed page by page; large ones are checked in one pass over the
    /// entries, which keeps the entries of other pages (a monitor changes
    /// large kernel-segment mappings often, and a full flush would make
    /// every CPU start cold).
    pub(crate) fn flush_ranges(&mut self, ranges: &[(u64, u64, bool)]) {
        const CCA: u64 = 7 << 59;
        let mut large = [(0u64, 0u64, false); 8];
        let mut n = 0;
        for &(start, end, any_cca) in ranges {
            let len = end.wrapping_sub(start);
            let pages = len >> PAGE_SHIFT;
            if pages > ENTRIES as u64 / 4 && n < large.len() {
                let base = if any_cca { start & !CCA } else { start } & PAGE_MASK;
                large[n] = (base, len, any_cca);
                n += 1;
                continue;
            }
            if pages > ENTRIES as u64 / 4 {
                self.flush();
                return;
            }
            for cca in 0..if any_cca { 8 } else { 1 } {
                let mut page = (if any_cca {
                    (start & !CCA) | (cca << 59)
                } else {
                    start
                }) & PAGE_MASK;
                for _ in 0..pages.max(1) {
                    for level in 0..LEVELS {
                        let e = &mut self.entries[slot(level, page)];
                        if e.read == page || e.write == page || e.fetch == page {
                            *e = EMPTY;
                        }
                    }
                    page = page.wrapping_add(1 << PAGE_SHIFT);
                }
            }
        }
        if n == 0 {
            return;
        }
        let large = &large[..n];
        let inside = |tag: u64| {
            tag != INVALID
                && large.iter().any(|&(base, len, any_cca)| {
                    let t = if any_cca && tag >> 62 == 2 {
                        tag & !CCA
                    } else {
                        tag
                    };
                    t.wrapping_sub(base) < len
                })
        };
        for e in self.entries.iter_mut() {
            if inside(e.read) || inside(e.write) || inside(e.fetch) {
                *e = EMPTY;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cached(t: &SoftTlb, va: u64) -> bool {
        t.get(slot(0, va)).read == va & PAGE_MASK
    }

    #[test]
    fn large_and_small_range_flushes_drop_exactly_their_pages() {
        let xk = |cca: u64, pa: u64| (2 << 62) | (cca << 59) | pa;
        // Pages in distinct slots of the direct-mapped table.
        let pages = [
            0x40_5000,
            0x40_1000,
            0x1000_2000,
            0x1100_3000,
            xk(3, 0x20_0000),
            xk(5, 0x20_3000),
            xk(3, 0x80_6000),
        ];
        let mut t = SoftTlb::default();
        let fill = |t: &mut SoftTlb| {
            for &p in &pages {
                t.fill(0, p, 0, true);
            }
        };
        fill(&mut t);
        // A 16 MiB range (checked entry by entry) and a small one.
        t.flush_ranges(&[
            (0x1000_0000, 0x1100_0000, false),
            (0x40_1000, 0x40_2000, false),
        ]);
        let left: Vec<bool> = pages.iter().map(|&p| cached(&t, p)).collect();
        assert_eq!(left, [true, false, false, true, true, true, true]);
        // xkphys with any cache attribute, small and large.
        fill(&mut t);
        t.flush_ranges(&[(xk(0, 0x20_0000), xk(0, 0x20_4000), true)]);
        let left: Vec<bool> = pages.iter().map(|&p| cached(&t, p)).collect();
        assert_eq!(left, [true, true, true, true, false, false, true]);
        fill(&mut t);
        t.flush_ranges(&[(xk(1, 0), xk(1, 0x200_0000), true)]);
        let left: Vec<bool> = pages.iter().map(|&p| cached(&t, p)).collect();
        assert_eq!(left, [true, true, true, true, false, false, false]);
    }
}
