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

    /// Drops entries for virtual pages in `[start, end)`, in every level.
    pub(crate) fn flush_range(&mut self, start: u64, end: u64) {
        let pages = end.wrapping_sub(start) >> PAGE_SHIFT;
        if pages > ENTRIES as u64 / 4 {
            self.flush();
            return;
        }
        let mut page = start & PAGE_MASK;
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
