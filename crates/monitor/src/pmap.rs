//! The pmap: one entry per guest-physical page of a VM (paper §4.2.2).
//!
//! An entry holds the machine page that backs the guest page and the
//! precomputed EntryLo a TLB entry for it carries (machine frame number,
//! cacheable, dirty, valid), to which the guest's own protection bits are
//! merged when the guest maps the page. Guest pages are backed a chunk at a
//! time ([`crate::alloc`]); a chunk's pages start out machine-contiguous,
//! which lets the unmapped kernel segments be mapped with 16 MiB pages
//! ([`Pmap::contiguous_chunk`]).
//!
//! Which virtual addresses currently map a page (the paper's backmaps) is
//! known from what the monitor put in each physical TLB
//! ([`crate::ptlb::PhysTlb::mappings_of`]).

use crate::alloc::{CHUNK_PAGES, CHUNK_SHIFT};

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
    /// The entry for machine page `machine_page`.
    pub fn new(machine_page: u64) -> Self {
        PmapEntry {
            machine_page,
            lo: (machine_page << 6) | LO_CACHED | LO_D | LO_V,
        }
    }
}

/// A VM's guest-physical to machine map.
#[derive(Clone, Debug)]
pub struct Pmap {
    pages: Vec<Option<PmapEntry>>,
    chunks: Vec<Option<u32>>,
}

impl Pmap {
    /// An empty pmap for `mem_bytes` of guest memory (a multiple of the
    /// chunk size).
    pub fn new(mem_bytes: u64) -> Self {
        Pmap {
            pages: vec![None; (mem_bytes >> 12) as usize],
            chunks: vec![None; (mem_bytes >> CHUNK_SHIFT) as usize],
        }
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
        self.pages.get(page as usize).copied().flatten()
    }

    /// The machine chunk backing guest chunk `chunk`, if any.
    pub fn chunk(&self, chunk: u64) -> Option<u32> {
        self.chunks.get(chunk as usize).copied().flatten()
    }

    /// Guest chunk `chunk`'s machine chunk when all its pages are still
    /// backed by that chunk in order (so one large TLB page can map it).
    pub fn contiguous_chunk(&self, chunk: u64) -> Option<u32> {
        // Pages are only ever backed a whole chunk at a time, in order, so
        // a backed chunk is contiguous.
        self.chunk(chunk)
    }

    /// Backs guest chunk `chunk` with machine chunk `machine`: fills the
    /// entries of its pages.
    ///
    /// # Panics
    ///
    /// If the chunk is outside guest memory or already backed.
    pub fn back_chunk(&mut self, chunk: u64, machine: u32) {
        assert!(self.chunks[chunk as usize].is_none(), "chunk backed twice");
        self.chunks[chunk as usize] = Some(machine);
        let first = chunk * CHUNK_PAGES;
        let machine_first = u64::from(machine) * CHUNK_PAGES;
        for i in 0..CHUNK_PAGES {
            self.pages[(first + i) as usize] = Some(PmapEntry::new(machine_first + i));
        }
    }

    /// Drops every mapping; returns the machine chunks that backed them.
    pub fn release(&mut self) -> Vec<u32> {
        self.pages.iter_mut().for_each(|p| *p = None);
        self.chunks.iter_mut().filter_map(Option::take).collect()
    }

    /// Guest chunks (index, machine chunk) currently backed.
    pub fn backed_chunks(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.chunks
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.map(|m| (i as u64, m)))
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
        assert_eq!(p.release(), vec![7]);
        assert_eq!(p.entry(4096 + 5), None);
    }
}
