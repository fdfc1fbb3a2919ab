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
//! `gpa`. RAM is mapped with one TLB entry pair of two 16 MiB pages covering
//! the 32 MiB-aligned region around `gpa`, global, writable, from the
//! chunks backing it ([`crate::pmap::Pmap::contiguous_chunk`]); an address in
//! the device window is emulated ([`crate::mmio`]); anything else is a bus
//! error for the guest. The cost is one kernel TLB fault per 32 MiB region
//! per TLB refill of that entry (the entries live in their own slots of the
//! physical TLB, see [`crate::ptlb`]), instead of one per 4 KiB page.

use mips::cp0::ENTRYHI_MASK;
use mips::tlb::{TlbEntry, LO_G};

use crate::alloc::CHUNK_SHIFT;
use crate::pmap::Pmap;

const CKSEG0: u64 = 0xffff_ffff_8000_0000;
const CKSEG1: u64 = 0xffff_ffff_a000_0000;
const CKSSEG: u64 = 0xffff_ffff_c000_0000;
/// Guest-physical addresses reachable through xkphys (PABITS = 40).
const XKPHYS_LIMIT: u64 = 1 << mips::cp0::PABITS;

/// PageMask of a 16 MiB page.
pub const PAGEMASK_16M: u64 = 0x01ff_e000;
/// Bytes mapped by one entry pair of 16 MiB pages.
pub const PAIR_BYTES: u64 = 2 << CHUNK_SHIFT;

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

/// The TLB entry pair mapping the 32 MiB region of unmapped-segment address
/// `va` (which stands for `gpa`) to the machine chunks backing it in `pmap`;
/// a half whose chunk is not backed (or not RAM) is invalid.
pub fn kernel_pair(va: u64, gpa: u64, pmap: &Pmap) -> TlbEntry {
    let va_base = va & !(PAIR_BYTES - 1);
    let first_chunk = (gpa & !(PAIR_BYTES - 1)) >> CHUNK_SHIFT;
    let lo = |chunk: u64| match pmap.contiguous_chunk(chunk) {
        Some(m) => {
            let pfn = u64::from(m) << (CHUNK_SHIFT - 12);
            (pfn << 6) | crate::pmap::LO_CACHED | crate::pmap::LO_D | crate::pmap::LO_V | LO_G
        }
        None => LO_G,
    };
    TlbEntry::from_registers(
        PAGEMASK_16M,
        va_base & ENTRYHI_MASK & !0xff,
        lo(first_chunk),
        lo(first_chunk + 1),
    )
}

/// Identifies the region [`kernel_pair`] maps for `va`: entries for the
/// same region replace each other in the physical TLB.
pub fn pair_key(va: u64) -> u64 {
    (va & ENTRYHI_MASK) & !(PAIR_BYTES - 1)
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
        let e = kernel_pair(va, 0x0234_5678, &pmap);
        assert!(e.global);
        assert_eq!(e.page_size(), 16 << 20);
        assert_eq!(e.virtual_range().0, 0x8000_0000_0200_0000);
        assert_eq!(e.lo[0] >> 6, 9 << 12, "machine frame of chunk 9");
        assert_eq!(e.lo[1] & crate::pmap::LO_V, 0, "chunk 3 is not backed");
        assert!(e.matches(0x9000_0000_0200_0000, 0), "any cache attribute");
        assert!(e.matches(va, 0x55), "global");
        assert_eq!(pair_key(va), pair_key(0x9800_0000_0300_0000));
    }
}
