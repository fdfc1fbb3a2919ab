//! The software-refilled joint TLB: 64 paired entries with variable page size.

use crate::cp0::{ENTRYHI_MASK, ENTRYLO_MASK, PAGEMASK_MASK, TLB_ENTRIES};

/// One JTLB entry: a pair of pages (even, odd) of the same size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TlbEntry {
    /// PageMask (bits 28:13 set for pages larger than 4 KiB).
    pub pagemask: u64,
    /// EntryHi: R, VPN2 and ASID.
    pub entryhi: u64,
    /// Global: matches any ASID (the AND of both EntryLo G bits).
    pub global: bool,
    /// EntryLo0 and EntryLo1 (PFN, C, D, V; G cleared).
    pub lo: [u64; 2],
}

/// EntryLo bit: valid.
pub const LO_V: u64 = 1 << 1;
/// EntryLo bit: dirty (writable).
pub const LO_D: u64 = 1 << 2;
/// EntryLo bit: global.
pub const LO_G: u64 = 1;

/// Result of a successful TLB lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlbHit {
    /// Index of the matching entry.
    pub index: usize,
    /// The EntryLo of the page (even or odd) containing the address.
    pub lo: u64,
    /// Size in bytes of that page.
    pub page_size: u64,
}

impl TlbHit {
    /// Physical address of `va` through this page.
    #[inline]
    pub fn physical(&self, va: u64) -> u64 {
        let pfn_base = ((self.lo >> 6) << 12) & !(self.page_size - 1);
        pfn_base | (va & (self.page_size - 1))
    }
}

impl TlbEntry {
    /// Builds an entry from the CP0 registers as `tlbwi`/`tlbwr` do.
    pub fn from_registers(pagemask: u64, entryhi: u64, lo0: u64, lo1: u64) -> Self {
        let pagemask = pagemask & PAGEMASK_MASK;
        TlbEntry {
            pagemask,
            entryhi: entryhi & ENTRYHI_MASK & !(pagemask | 0x1fff) | (entryhi & 0xff),
            global: lo0 & lo1 & LO_G != 0,
            lo: [lo0 & ENTRYLO_MASK & !LO_G, lo1 & ENTRYLO_MASK & !LO_G],
        }
    }

    /// The address bits compared against EntryHi.VPN2 and R.
    #[inline]
    fn vpn_mask(&self) -> u64 {
        ENTRYHI_MASK & !0xff & !(self.pagemask | 0x1fff)
    }

    /// Size of each of the two pages of the entry.
    #[inline]
    pub fn page_size(&self) -> u64 {
        (self.pagemask + 0x2000) >> 1
    }

    /// True when the entry translates `va` under `asid`.
    #[inline]
    pub fn matches(&self, va: u64, asid: u8) -> bool {
        let m = self.vpn_mask();
        (va & m) == (self.entryhi & m) && (self.global || self.entryhi as u8 == asid)
    }

    /// The virtual range `[start, end)` covered by both pages of the entry.
    pub fn virtual_range(&self) -> (u64, u64) {
        let start = self.entryhi & self.vpn_mask();
        (start, start.wrapping_add(self.page_size() * 2))
    }
}

/// The JTLB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tlb {
    entries: [TlbEntry; TLB_ENTRIES],
}

impl Default for Tlb {
    fn default() -> Self {
        Tlb {
            entries: [TlbEntry::default(); TLB_ENTRIES],
        }
    }
}

impl Tlb {
    /// Finds the entry translating `va` for `asid`. When several match (software
    /// error), the lowest index wins; no machine check is raised.
    pub fn lookup(&self, va: u64, asid: u8) -> Option<TlbHit> {
        let index = self.entries.iter().position(|e| e.matches(va, asid))?;
        let e = &self.entries[index];
        let page_size = e.page_size();
        let odd = (va & page_size != 0) as usize;
        Some(TlbHit {
            index,
            lo: e.lo[odd],
            page_size,
        })
    }

    /// `tlbp`: index of the entry matching EntryHi (VPN2 and ASID), if any.
    pub fn probe(&self, entryhi: u64) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.matches(entryhi, entryhi as u8))
    }

    /// Entry at `index` (modulo the TLB size).
    pub fn entry(&self, index: usize) -> &TlbEntry {
        &self.entries[index % TLB_ENTRIES]
    }

    /// Replaces entry `index`, returning the previous one.
    pub fn write(&mut self, index: usize, entry: TlbEntry) -> TlbEntry {
        std::mem::replace(&mut self.entries[index % TLB_ENTRIES], entry)
    }

    /// All entries, for inspection and checkpoints.
    pub fn entries(&self) -> &[TlbEntry; TLB_ENTRIES] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lo(pfn: u64, flags: u64) -> u64 {
        (pfn << 6) | flags
    }

    #[test]
    fn paired_4k_pages_select_even_and_odd_halves() {
        let mut tlb = Tlb::default();
        let e =
            TlbEntry::from_registers(0, 0x0040_0000 | 5, lo(0x100, LO_V), lo(0x200, LO_V | LO_D));
        tlb.write(3, e);
        let even = tlb.lookup(0x0040_0123, 5).unwrap();
        assert_eq!(even.index, 3);
        assert_eq!(even.physical(0x0040_0123), 0x10_0123);
        let odd = tlb.lookup(0x0040_1456, 5).unwrap();
        assert_eq!(odd.physical(0x0040_1456), 0x20_0456);
        assert_ne!(odd.lo & LO_D, 0);
        assert!(tlb.lookup(0x0040_2000, 5).is_none());
    }

    #[test]
    fn asid_must_match_unless_global() {
        let mut tlb = Tlb::default();
        tlb.write(
            0,
            TlbEntry::from_registers(0, 0x1000_0000 | 7, lo(1, LO_V), lo(2, LO_V)),
        );
        assert!(tlb.lookup(0x1000_0000, 7).is_some());
        assert!(tlb.lookup(0x1000_0000, 8).is_none());
        tlb.write(
            0,
            TlbEntry::from_registers(0, 0x1000_0000 | 7, lo(1, LO_V | LO_G), lo(2, LO_V | LO_G)),
        );
        assert!(tlb.lookup(0x1000_0000, 8).is_some());
    }

    #[test]
    fn large_pages_use_pagemask() {
        let mut tlb = Tlb::default();
        // 1 MiB pages: PageMask = 0x1fe000, pair covers 2 MiB.
        let e = TlbEntry::from_registers(
            0x1fe000,
            0xc000_0000_0020_0000,
            lo(0x400, LO_V),
            lo(0x800, LO_V),
        );
        tlb.write(1, e);
        let hit = tlb.lookup(0xc000_0000_0034_5678, 0).unwrap();
        assert_eq!(hit.page_size, 1 << 20);
        assert_eq!(hit.physical(0xc000_0000_0034_5678), 0x80_0000 | 0x4_5678);
    }

    #[test]
    fn probe_finds_the_entry_for_entryhi() {
        let mut tlb = Tlb::default();
        tlb.write(9, TlbEntry::from_registers(0, 0x2000 | 3, lo(1, LO_V), 0));
        assert_eq!(tlb.probe(0x2000 | 3), Some(9));
        assert_eq!(tlb.probe(0x2000 | 4), None);
    }
}
