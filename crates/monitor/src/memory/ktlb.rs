//! The unmapped kernel segments of a virtual machine.
//!
//! A MIPS kernel reaches physical memory through segments that bypass the
//! TLB: kseg0 (cached) and kseg1 (uncached) for the low 512 MiB, and
//! xkphys for all of it. Disco relinked IRIX to run from a mapped segment
//! instead (§4.2.2, §4.3.1). disco keeps Debian's kernel unmodified: the
//! CPU a VM runs on is in VM mode ([`mips::Cpu::set_vm_mode`]), where those
//! segments are translated by the TLB, and a TLB miss there — a *kernel TLB
//! fault* — is the monitor's to fill, without involving the guest.
//!
//! The rule: while the guest is in (virtual) kernel mode, an address in
//! ckseg0 (`0xffff_ffff_8000_0000 + gpa`, gpa < 512 MiB), ckseg1
//! (`0xffff_ffff_a000_0000 + gpa`) or xkphys (`0x8000_0000_0000_0000 +
//! (cca << 59) + gpa`, any cache attribute) means guest-physical address
//! `gpa`. RAM is mapped with one global TLB entry pair covering the region
//! around `gpa`, as large as the pmap allows: two 16 MiB pages when both
//! chunks are still contiguous and private
//! ([`crate::memory::pmap::Pmap::contiguous_chunk`]), else the largest page
//! size (4 MiB, 1 MiB, ... 4 KiB) whose half around `gpa` is one
//! contiguous, uniformly protected run ([`crate::memory::pmap::Pmap::run`]).
//! A shared page is mapped read-only, so the kernel's stores to it through
//! the direct map fault too and get a private copy. An address in the device
//! window is emulated ([`crate::mmio`]); anything else is a bus error for
//! the guest. The cost is one kernel TLB fault per region per TLB refill of
//! that entry (the entries live in their own slots of the physical TLB, see
//! [`crate::ptlb`]), instead of one per 4 KiB page: sharing pages splits
//! regions and costs more faults.

use mips::cp0::ENTRYHI_MASK;
use mips::tlb::{TlbEntry, LO_G};

use crate::memory::alloc::{CHUNK_PAGES, CHUNK_SHIFT};
use crate::memory::pmap::Pmap;

const CKSEG0: u64 = 0xffff_ffff_8000_0000;
const CKSEG1: u64 = 0xffff_ffff_a000_0000;
const CKSSEG: u64 = 0xffff_ffff_c000_0000;
/// Guest-physical addresses reachable through xkphys (PABITS = 40).
const XKPHYS_LIMIT: u64 = 1 << mips::cp0::PABITS;

/// Bytes mapped by the largest entry pair: two 16 MiB pages.
pub const PAIR_BYTES: u64 = 2 << CHUNK_SHIFT;

/// Page sizes an entry pair may use, largest first (MIPS PageMask values
/// of 16 MiB down to 4 KiB).
const PAGE_SIZES: [u64; 7] = [
    16 << 20,
    4 << 20,
    1 << 20,
    256 << 10,
    64 << 10,
    16 << 10,
    4 << 10,
];

/// The guest-physical address `va` stands for, when it lies in one of the
/// segments a kernel uses unmapped.
pub fn unmapped_gpa(va: u64) -> Option<u64> {
    if (va as i32 as i64 as u64) == va {
        return match va {
            _ if (CKSEG0..CKSEG1).contains(&va) => Some(va - CKSEG0),
            _ if (CKSEG1..CKSSEG).contains(&va) => Some(va - CKSEG1),
            _ => None,
        };
    }
    if va >> 62 == 2 {
        let gpa = va & ((1 << 59) - 1);
        return (gpa < XKPHYS_LIMIT).then_some(gpa);
    }
    None
}

/// A kernel-segment mapping: the entry pair and the guest pages it covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelPair {
    /// The TLB entry pair.
    pub entry: TlbEntry,
    /// First guest page of the pair's range (valid halves or not).
    pub first_page: u64,
    /// Guest pages the pair's range spans (twice its page size).
    pub pages: u64,
}

/// The TLB entry pair mapping the region of unmapped-segment address `va`
/// (which stands for `gpa`, in a backed chunk of `pmap`) to the machine
/// pages backing it: the largest page size whose two halves are each one
/// uniform run, or not backed yet, or not RAM (those are left invalid).
/// Requiring both halves keeps pairs of different sizes from ever covering
/// the same address: a large pair next to a split chunk would otherwise
/// evict, and be evicted by, the small pairs inside that chunk on every
/// access. `None` when not even the 4 KiB page of `gpa` is backed.
pub fn kernel_pair(va: u64, gpa: u64, pmap: &Pmap) -> Option<KernelPair> {
    kernel_pair_with(va, gpa, pmap, |first, pages| pmap.run(first, pages))
}

/// [`kernel_pair`] with `run_of(first, pages)` telling where a run of guest
/// pages is instead of [`Pmap::run`] (to map replicated pages from the copy
/// nearest the CPU: [`crate::memory::MachineMemory::placed_run`]).
pub fn kernel_pair_with(
    va: u64,
    gpa: u64,
    pmap: &Pmap,
    run_of: impl Fn(u64, u64) -> Option<(u64, bool)>,
) -> Option<KernelPair> {
    use crate::memory::pmap::{PmapEntry, LO_V};
    let page = gpa >> 12;
    PAGE_SIZES.iter().find_map(|&size| {
        let pages = size >> 12;
        let pair_first = page & !(2 * pages - 1);
        // Some(lo) for a half that may be part of the pair.
        let half = |h: u64| -> Option<u64> {
            let first = pair_first + h * pages;
            if !pmap.contains(first << 12) || !pmap.is_backed(first / CHUNK_PAGES) {
                return Some(LO_G);
            }
            let (machine, writable) = run_of(first, pages)?;
            Some(PmapEntry::with(machine, writable).lo | LO_G)
        };
        let (lo0, lo1) = (half(0)?, half(1)?);
        let mine = if (page - pair_first) < pages {
            lo0
        } else {
            lo1
        };
        if mine & LO_V == 0 {
            return None;
        }
        let va_base = va & !(2 * size - 1);
        Some(KernelPair {
            entry: TlbEntry::from_registers(
                (size - 4096) << 1,
                va_base & ENTRYHI_MASK & !0xff,
                lo0,
                lo1,
            ),
            first_page: pair_first,
            pages: 2 * pages,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmapped_segments_give_guest_physical_addresses() {
        assert_eq!(unmapped_gpa(0xffff_ffff_8123_4567), Some(0x0123_4567));
        assert_eq!(unmapped_gpa(0xffff_ffff_bfc0_0000), Some(0x1fc0_0000));
        assert_eq!(unmapped_gpa(0x9800_0000_1234_5678), Some(0x1234_5678));
        assert_eq!(unmapped_gpa(0x9000_0000_f000_0000), Some(0xf000_0000));
        assert_eq!(unmapped_gpa(0x9000_0100_0000_0000), None, "beyond PABITS");
        assert_eq!(unmapped_gpa(0xffff_ffff_c000_0000), None, "kseg2 is mapped");
        assert_eq!(unmapped_gpa(0xc000_0000_0000_1000), None, "xkseg is mapped");
        assert_eq!(unmapped_gpa(0x0000_0000_0040_0000), None, "useg is mapped");
    }

    #[test]
    fn a_kernel_pair_maps_32_mib_with_the_backed_chunks() {
        let mut pmap = Pmap::new(64 << 20);
        pmap.back_chunk(2, 9); // guest 32..48 MiB at machine chunk 9
        let va = 0x9800_0000_0234_5678;
        let k = kernel_pair(va, 0x0234_5678, &pmap).unwrap();
        let e = k.entry;
        assert!(e.global);
        assert_eq!(e.page_size(), 16 << 20);
        assert_eq!(e.virtual_range().0, 0x8000_0000_0200_0000);
        assert_eq!(e.lo[0] >> 6, 9 << 12, "machine frame of chunk 9");
        assert_ne!(e.lo[0] & crate::memory::pmap::LO_D, 0);
        assert_eq!(
            e.lo[1] & crate::memory::pmap::LO_V,
            0,
            "chunk 3 is not backed"
        );
        assert!(e.matches(0x9000_0000_0200_0000, 0), "any cache attribute");
        assert!(e.matches(va, 0x55), "global");
        assert_eq!((k.first_page, k.pages), (0x2000, 0x2000));
    }

    #[test]
    fn a_shared_page_is_mapped_read_only_with_small_pages_around_it() {
        use crate::memory::pmap::{PmapEntry, LO_D, LO_V};
        let mut pmap = Pmap::new(32 << 20);
        pmap.back_chunk(0, 1);
        pmap.back_chunk(1, 2);
        pmap.remap(0x123, PmapEntry::read_only(7));
        // The shared page itself: a 4 KiB pair, its half read-only.
        let k = kernel_pair(CKSEG0 + 0x12_3456, 0x12_3456, &pmap).unwrap();
        assert_eq!(k.entry.page_size(), 4096);
        assert_eq!(k.entry.lo[1] >> 6, 7);
        assert_eq!(k.entry.lo[1] & (LO_D | LO_V), LO_V);
        assert_eq!(k.entry.lo[0] >> 6, 4096 + 0x122);
        assert_ne!(k.entry.lo[0] & LO_D, 0);
        // Far from it in the same chunk: 4 MiB pages (the 16 MiB pair
        // holds the shared page).
        let k = kernel_pair(CKSEG0 + 0x80_0000, 0x80_0000, &pmap).unwrap();
        assert_eq!(k.entry.page_size(), 4 << 20);
        assert_ne!(k.entry.lo[0] & k.entry.lo[1] & LO_V, 0, "both halves");
        // Near it: the largest pair whose halves both avoid it, 256 KiB.
        let k = kernel_pair(CKSEG0 + 0x5_0000, 0x5_0000, &pmap).unwrap();
        assert_eq!(k.entry.page_size(), 256 << 10);
        // The whole chunk next to the split one: 4 MiB pairs too, never a
        // 16 MiB pair overlapping the split chunk's small pairs.
        let k = kernel_pair(CKSEG0 + 0x100_0000, 0x100_0000, &pmap).unwrap();
        assert_eq!(k.entry.page_size(), 4 << 20);
        assert_eq!(k.entry.lo[0] >> 6, 2 << 12);
        // Next to an unbacked chunk: 16 MiB, that half invalid.
        let mut p2 = Pmap::new(64 << 20);
        p2.back_chunk(2, 9);
        let k = kernel_pair(CKSEG0 + 0x200_0000, 0x200_0000, &p2).unwrap();
        assert_eq!(k.entry.page_size(), 16 << 20);
        assert_eq!(k.entry.lo[1] & LO_V, 0);
    }

    #[test]
    fn a_region_shared_whole_is_mapped_with_large_pages() {
        use crate::memory::pmap::{PmapEntry, LO_D};
        // VM 1 maps guest 1..3 MiB read-only from VM 0's chunk 5 (a shared
        // kernel region); the rest is its own chunk 2.
        let mut pmap = Pmap::new(16 << 20);
        pmap.back_chunk(0, 2);
        for page in 0x100..0x300 {
            pmap.remap(page, PmapEntry::read_only(5 * 4096 + page));
        }
        assert_eq!(pmap.run(0x100, 0x100), Some((5 * 4096 + 0x100, false)));
        assert_eq!(pmap.run(0x200, 0x100), Some((5 * 4096 + 0x200, false)));
        assert_eq!(pmap.run(0x000, 0x200), None, "own and shared pages");
        let k = kernel_pair(CKSEG0 + 0x18_0000, 0x18_0000, &pmap).unwrap();
        assert_eq!(k.entry.page_size(), 1 << 20);
        assert_eq!(k.entry.lo[0] >> 6, 2 * 4096);
        assert_ne!(k.entry.lo[0] & LO_D, 0);
        assert_eq!(k.entry.lo[1] >> 6, 5 * 4096 + 0x100);
        assert_eq!(k.entry.lo[1] & LO_D, 0);
        let k = kernel_pair(CKSEG0 + 0x28_0000, 0x28_0000, &pmap).unwrap();
        assert_eq!(k.entry.page_size(), 1 << 20);
        // One page of the region elsewhere: small pages around it.
        pmap.remap(0x2ff, PmapEntry::read_only(99));
        let k = kernel_pair(CKSEG0 + 0x2f_f000, 0x2f_f000, &pmap).unwrap();
        assert_eq!(k.entry.page_size(), 4096);
    }
}
