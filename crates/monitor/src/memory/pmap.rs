//! The pmap: one entry per guest-physical page of a VM (paper §4.2.2).
//!
//! An entry holds the machine page that backs the guest page and the
//! precomputed EntryLo a TLB entry for it carries (machine frame number,
//! cacheable, dirty, valid), to which the guest's own protection bits are
//! merged when the guest maps the page. A page the VM shares with others
//! has the dirty bit clear: a store to it faults, and the monitor gives the
//! VM a private copy first. Guest pages are backed a chunk at a time
//! ([`crate::memory::alloc`]); a chunk's pages start out machine-contiguous
//! and writable, which lets the unmapped kernel segments be mapped with
//! 16 MiB pages ([`Pmap::contiguous_chunk`]). Once one page of a chunk is
//! remapped ([`Pmap::remap`]) the chunk is *split*: its pages are mapped
//! with smaller TLB pages ([`Pmap::run`]).
//!
//! Which virtual addresses currently map a page (the paper's backmaps) is
//! known from what the monitor put in each physical TLB
//! ([`crate::ptlb::PhysTlb::mappings_of`]).

use std::collections::{BTreeMap, BTreeSet};

use crate::memory::alloc::{CHUNK_PAGES, CHUNK_SHIFT};

/// EntryLo cache attribute the monitor uses: cacheable noncoherent (3).
pub const LO_CACHED: u64 = 3 << 3;
/// EntryLo dirty (writable) bit.
pub const LO_D: u64 = mips::tlb::LO_D;
/// EntryLo valid bit.
pub const LO_V: u64 = mips::tlb::LO_V;

/// One guest page's mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PmapEntry {
    /// Machine page number backing the guest page.
    pub machine_page: u64,
    /// EntryLo for a writable, cacheable mapping of that machine page.
    pub lo: u64,
}

impl PmapEntry {
    /// The entry for machine page `machine_page`, writable or not.
    pub fn with(machine_page: u64, writable: bool) -> Self {
        let d = if writable { LO_D } else { 0 };
        PmapEntry {
            machine_page,
            lo: (machine_page << 6) | LO_CACHED | d | LO_V,
        }
    }

    /// The entry for machine page `machine_page`, writable.
    pub fn new(machine_page: u64) -> Self {
        PmapEntry::with(machine_page, true)
    }

    /// The entry for machine page `machine_page`, shared read-only.
    pub fn read_only(machine_page: u64) -> Self {
        PmapEntry::with(machine_page, false)
    }

    /// True when the VM may write the page in place.
    pub fn writable(&self) -> bool {
        self.lo & LO_D != 0
    }
}

/// A pmap slot: an entry packed in 32 bits (machine page << 1 | writable;
/// the EntryLo is rebuilt on reading), or [`NO_ENTRY`]. Machine page
/// numbers fit in 31 bits (8 TiB of machine memory).
type Slot = u32;
/// The slot of an unbacked guest page.
const NO_ENTRY: Slot = u32::MAX;

fn pack(e: PmapEntry) -> Slot {
    let page = u32::try_from(e.machine_page)
        .ok()
        .filter(|p| *p < (1 << 31) - 1)
        .expect("machine page numbers fit in 31 bits");
    (page << 1) | u32::from(e.writable())
}

fn unpack(s: Slot) -> Option<PmapEntry> {
    (s != NO_ENTRY).then(|| PmapEntry::with(u64::from(s >> 1), s & 1 != 0))
}

/// How a guest chunk is backed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunk {
    /// Not yet.
    Unbacked,
    /// By machine chunk `m`, page for page, all writable.
    Contiguous(u32),
    /// Page by page (some page was remapped): by machine chunk `m` except
    /// for the pages listed in the pmap's `irregular` set, or (`None`) by
    /// single pages from the start.
    Split(Option<u32>),
}

/// A VM's guest-physical to machine map.
#[derive(Clone, Debug)]
pub struct Pmap {
    pages: Vec<Slot>,
    chunks: Vec<Chunk>,
    /// Per split chunk: the pages (offsets in the chunk) no longer backed
    /// by their own page of the chunk's machine chunk, writable.
    irregular: BTreeMap<u64, BTreeSet<u16>>,
}

impl Pmap {
    /// An empty pmap for `mem_bytes` of guest memory (a multiple of the
    /// chunk size).
    pub fn new(mem_bytes: u64) -> Self {
        Pmap {
            pages: vec![NO_ENTRY; (mem_bytes >> 12) as usize],
            chunks: vec![Chunk::Unbacked; (mem_bytes >> CHUNK_SHIFT) as usize],
            irregular: BTreeMap::new(),
        }
    }

    /// Bytes the pmap takes in the monitor's memory (an estimate for the
    /// set of remapped pages: a B-tree node per 8 entries).
    pub fn structure_bytes(&self) -> u64 {
        let irregular: usize = self.irregular.values().map(BTreeSet::len).sum();
        (self.pages.len() * std::mem::size_of::<Slot>()
            + self.chunks.len() * std::mem::size_of::<Chunk>()
            + irregular * 4) as u64
    }

    /// Guest memory size in bytes.
    pub fn mem_bytes(&self) -> u64 {
        (self.pages.len() as u64) << 12
    }

    /// True when guest-physical address `gpa` is guest RAM.
    pub fn contains(&self, gpa: u64) -> bool {
        gpa < self.mem_bytes()
    }

    /// The entry of guest page `page`, if it is backed.
    pub fn entry(&self, page: u64) -> Option<PmapEntry> {
        self.pages.get(page as usize).copied().and_then(unpack)
    }

    /// True when guest chunk `chunk` is backed.
    pub fn is_backed(&self, chunk: u64) -> bool {
        self.chunks
            .get(chunk as usize)
            .is_some_and(|c| *c != Chunk::Unbacked)
    }

    /// Guest chunk `chunk`'s machine chunk when all its pages are still
    /// backed by that chunk in order and writable (so one large TLB page
    /// can map it).
    pub fn contiguous_chunk(&self, chunk: u64) -> Option<u32> {
        match self.chunks.get(chunk as usize) {
            Some(Chunk::Contiguous(m)) => Some(*m),
            _ => None,
        }
    }

    /// When the `pages` guest pages from `first` (a power of two, `first`
    /// aligned to it) are backed by machine pages that are contiguous,
    /// aligned the same way, and all writable or all read-only: the first
    /// machine page and whether they are writable. One TLB page of that
    /// size can then map them.
    pub fn run(&self, first: u64, pages: u64) -> Option<(u64, bool)> {
        let chunk = first / CHUNK_PAGES;
        let offset = first % CHUNK_PAGES;
        if pages <= CHUNK_PAGES {
            match self.chunks.get(chunk as usize) {
                Some(Chunk::Contiguous(m)) => {
                    return Some((u64::from(*m) * CHUNK_PAGES + offset, true))
                }
                // Known without looking at the pages: whole unless a page
                // in the range was remapped; not one run if some pages were
                // remapped and some not (a remapped page is read-only or
                // elsewhere). Only a range remapped whole (a shared kernel
                // region) is looked at page by page.
                Some(Chunk::Split(Some(m))) if pages > 1 => {
                    let remapped = self.irregular.get(&chunk).map_or(0, |set| {
                        set.range(offset as u16..(offset + pages) as u16).count() as u64
                    });
                    if remapped == 0 {
                        return Some((u64::from(*m) * CHUNK_PAGES + offset, true));
                    }
                    if remapped < pages {
                        return None;
                    }
                }
                _ => {}
            }
        }
        let e0 = self.entry(first)?;
        if e0.machine_page % pages != 0 {
            return None;
        }
        let uniform = (1..pages).all(|i| {
            self.entry(first + i).is_some_and(|e| {
                e.machine_page == e0.machine_page + i && e.writable() == e0.writable()
            })
        });
        uniform.then_some((e0.machine_page, e0.writable()))
    }

    /// The machine page that backed guest page `page` when its chunk was
    /// whole (for a chunk backed by a machine chunk), whatever backs it now.
    pub fn own_page(&self, page: u64) -> Option<u64> {
        match self.chunks.get((page / CHUNK_PAGES) as usize)? {
            Chunk::Contiguous(m) | Chunk::Split(Some(m)) => {
                Some(u64::from(*m) * CHUNK_PAGES + page % CHUNK_PAGES)
            }
            _ => None,
        }
    }

    /// Backs guest chunk `chunk` with machine chunk `machine`: fills the
    /// entries of its pages.
    ///
    /// # Panics
    ///
    /// If the chunk is outside guest memory or already backed.
    pub fn back_chunk(&mut self, chunk: u64, machine: u32) {
        assert!(!self.is_backed(chunk), "chunk backed twice");
        self.chunks[chunk as usize] = Chunk::Contiguous(machine);
        let first = chunk * CHUNK_PAGES;
        let machine_first = u64::from(machine) * CHUNK_PAGES;
        for i in 0..CHUNK_PAGES {
            self.pages[(first + i) as usize] = pack(PmapEntry::new(machine_first + i));
        }
    }

    /// Backs guest chunk `chunk` with the single machine pages `machine`
    /// (one per guest page, in order): the chunk is split from the start.
    ///
    /// # Panics
    ///
    /// If the chunk is outside guest memory or already backed, or the
    /// number of pages is not a chunk's.
    pub fn back_split(&mut self, chunk: u64, machine: &[u64]) {
        assert!(!self.is_backed(chunk), "chunk backed twice");
        assert_eq!(machine.len() as u64, CHUNK_PAGES);
        self.chunks[chunk as usize] = Chunk::Split(None);
        let first = chunk * CHUNK_PAGES;
        for (i, &m) in machine.iter().enumerate() {
            self.pages[first as usize + i] = pack(PmapEntry::new(m));
        }
    }

    /// Points guest page `page` (in a backed chunk) at `entry`; its chunk
    /// is split from then on. Returns the entry it replaces.
    ///
    /// # Panics
    ///
    /// If the page's chunk is not backed.
    pub fn remap(&mut self, page: u64, entry: PmapEntry) -> PmapEntry {
        let chunk = page / CHUNK_PAGES;
        let state = &mut self.chunks[chunk as usize];
        let base = match *state {
            Chunk::Unbacked => panic!("remapping an unbacked page"),
            Chunk::Contiguous(m) | Chunk::Split(Some(m)) => Some(m),
            Chunk::Split(None) => None,
        };
        *state = Chunk::Split(base);
        if let Some(m) = base {
            let offset = (page % CHUNK_PAGES) as u16;
            let own = PmapEntry::new(u64::from(m) * CHUNK_PAGES + u64::from(offset));
            let set = self.irregular.entry(chunk).or_default();
            if entry == own {
                set.remove(&offset);
            } else {
                set.insert(offset);
            }
        }
        let old = std::mem::replace(&mut self.pages[page as usize], pack(entry));
        unpack(old).expect("backed chunks have all their pages")
    }

    /// Drops every mapping; returns the (guest page, entry) pairs it had.
    pub fn release(&mut self) -> Vec<(u64, PmapEntry)> {
        self.chunks.iter_mut().for_each(|c| *c = Chunk::Unbacked);
        self.irregular.clear();
        self.pages
            .iter_mut()
            .enumerate()
            .filter_map(|(i, p)| unpack(std::mem::replace(p, NO_ENTRY)).map(|e| (i as u64, e)))
            .collect()
    }

    /// Guest chunks currently backed.
    pub fn backed_chunks(&self) -> impl Iterator<Item = u64> + '_ {
        self.chunks
            .iter()
            .enumerate()
            .filter(|(_, c)| **c != Chunk::Unbacked)
            .map(|(i, _)| i as u64)
    }

    /// Backed guest pages and their entries, in order.
    pub fn entries(&self) -> impl Iterator<Item = (u64, PmapEntry)> + '_ {
        self.pages
            .iter()
            .enumerate()
            .filter_map(|(i, p)| unpack(*p).map(|e| (i as u64, e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backing_a_chunk_maps_its_pages_in_order() {
        let mut p = Pmap::new(64 << 20);
        assert!(p.contains((64 << 20) - 1) && !p.contains(64 << 20));
        assert_eq!(p.entry(4096), None);
        p.back_chunk(1, 7);
        let e = p.entry(4096 + 5).unwrap();
        assert_eq!(e.machine_page, 7 * 4096 + 5);
        assert_eq!(e.lo >> 6, e.machine_page);
        assert_eq!(e.lo & (LO_D | LO_V), LO_D | LO_V);
        assert_eq!(p.contiguous_chunk(1), Some(7));
        assert_eq!(p.run(4096, 4096), Some((7 * 4096, true)));
        assert_eq!(p.run(4096 + 16, 16), Some((7 * 4096 + 16, true)));
        assert_eq!(p.release().len(), 4096);
        assert_eq!(p.entry(4096 + 5), None);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// The quick answers of `run` (whole and split chunks) agree with
        /// looking at every page: they may only miss a run, never invent
        /// one.
        #[test]
        fn runs_agree_with_the_pages(
            remaps in proptest::collection::vec((0u64..64, 0u8..3), 0..12),
            queries in proptest::collection::vec((0u32..7, 0u64..8192), 1..40),
        ) {
            let mut p = Pmap::new(32 << 20);
            p.back_chunk(0, 3);
            p.back_chunk(1, 4);
            for (page, how) in remaps {
                let e = match how {
                    0 => PmapEntry::read_only(9000 + page),
                    1 => PmapEntry::new(9000 + page),
                    _ => PmapEntry::new(3 * CHUNK_PAGES + page), // back to its own
                };
                p.remap(page, e);
            }
            for (log4, at) in queries {
                let pages = 1u64 << (2 * log4);
                let first = at & !(pages - 1);
                let scan = {
                    let e0 = p.entry(first).unwrap();
                    let uniform = e0.machine_page.is_multiple_of(pages) && (1..pages).all(|i| {
                        p.entry(first + i).is_some_and(|e| {
                            e.machine_page == e0.machine_page + i && e.writable() == e0.writable()
                        })
                    });
                    uniform.then_some((e0.machine_page, e0.writable()))
                };
                let quick = p.run(first, pages);
                if quick.is_some() || pages == 1 {
                    proptest::prop_assert_eq!(quick, scan);
                }
            }
        }
    }

    #[test]
    fn a_remapped_page_splits_its_chunk() {
        let mut p = Pmap::new(32 << 20);
        p.back_chunk(0, 3);
        p.back_chunk(1, 4);
        let old = p.remap(5, PmapEntry::read_only(99));
        assert_eq!(old.machine_page, 3 * 4096 + 5);
        assert!(!p.entry(5).unwrap().writable());
        assert_eq!(p.contiguous_chunk(0), None);
        // Runs around the remapped page are still whole, not across it.
        assert_eq!(p.run(0, 4), Some((3 * 4096, true)));
        assert_eq!(p.run(4, 4), None);
        assert_eq!(p.run(5, 1), Some((99, false)));
        assert_eq!(p.run(8, 8), Some((3 * 4096 + 8, true)));
        assert_eq!(p.run(4096, 1), Some((4 * 4096, true)), "chunk 1 untouched");
        assert!(p.is_backed(0));
    }
}
