//! The register page: a vCPU's privileged registers in memory (§4.3.3).
//!
//! Disco let a guest kernel read and write frequently used privileged
//! registers with ordinary loads and stores on a special page instead of
//! trapping. Each vCPU here has such a page: one 4 KiB page of machine
//! memory in the monitor's reserved area, mapped (global, writable) at the
//! top of the guest kernel's address space, [`REGPAGE_VA`], which a load or
//! store with base register `$zero` reaches in one instruction. Linux never
//! maps that page (its fixmap ends at `0xffff_ffff_fffe_0000`); user mode
//! cannot reach it (it is in kseg3).
//!
//! The page holds one 8-byte slot per CP0 register (`rd`, `sel`) at
//! `(rd * 8 + sel) * 8`, and the interrupt-enable word at [`IE_OFFSET`]
//! (non-zero when Status.IE is set). The monitor keeps it coherent with the
//! vCPU's virtual CP0 around every stretch of guest execution:
//! [`publish`] before the guest runs writes every slot a rewritten
//! instruction may read; [`absorb`] after it stops takes back what the
//! guest may have written (the slots of [`writable`] registers and the IE
//! word) into the virtual CP0. The guest reaches the page only through the
//! instructions the monitor rewrote ([`crate::patch`]).

use mips::cp0::{reg, ENTRYHI_MASK};
use mips::memory::PhysMem;
use mips::tlb::{TlbEntry, LO_G};
use mips::Cpu;

use crate::memory::alloc::MONITOR_RESERVED;

/// Guest virtual address of the register page (`$zero` − 8192).
pub const REGPAGE_VA: u64 = 0xffff_ffff_ffff_e000;
/// Bytes of the page.
pub const REGPAGE_BYTES: u64 = 4096;
/// Offset of the interrupt-enable word.
pub const IE_OFFSET: u64 = 256 * 8;
/// Offset of the Status slot. [`publish`] writes Status there, but Status
/// is not [`readable`]: the IE bit in the slot goes stale when a rewritten
/// `di`/`ei` changes the IE word, so only reads that discard IE load it
/// ([`crate::ie_dead`]).
pub const STATUS_OFFSET: u64 = (reg::STATUS as u64 * 8) * 8;
/// Machine address of the first vCPU's register page; the pages of
/// further vCPUs follow.
const AREA: u64 = 0x20_0000;
/// The most vCPUs (of all VMs together) with a register page.
pub const MAX_PAGES: usize = 512;

const _: () = assert!(AREA + MAX_PAGES as u64 * REGPAGE_BYTES <= MONITOR_RESERVED / 4);

/// Offset of the slot of CP0 register (`rd`, `sel`).
pub fn slot_offset(rd: u8, sel: u8) -> u64 {
    (u64::from(rd & 31) * 8 + u64::from(sel & 7)) * 8
}

/// Machine address of the register page of vCPU number `n` (counting the
/// vCPUs of all VMs in order), if there may be one.
pub fn page_address(n: usize) -> Option<u64> {
    (n < MAX_PAGES).then(|| AREA + n as u64 * REGPAGE_BYTES)
}

/// The TLB entry pair mapping the register page at machine address `page`:
/// global, writable, cached; the odd page of the pair is left invalid.
pub fn tlb_entry(page: u64) -> TlbEntry {
    let lo0 = crate::memory::pmap::PmapEntry::new(page >> 12).lo | LO_G;
    TlbEntry::from_registers(0, REGPAGE_VA & ENTRYHI_MASK & !0xff, lo0, LO_G)
}

/// True when `va` lies in the register page.
pub fn contains(va: u64) -> bool {
    (REGPAGE_VA..REGPAGE_VA + REGPAGE_BYTES).contains(&va)
}

/// Registers whose value changes only when the monitor runs (guest traps,
/// interrupt posting, exception reflection), so that a copy published
/// before the guest runs stays exact while it runs: a read of them may
/// become a load. Not Random and Count (they change with time), nor Status
/// (its IE bit lives in the IE word, which rewritten `di`/`ei` change).
const READABLE: [(u8, u8); 30] = [
    (reg::INDEX, 0),
    (reg::ENTRYLO0, 0),
    (reg::ENTRYLO1, 0),
    (reg::CONTEXT, 0),
    (reg::CONTEXT, 2),
    (reg::PAGEMASK, 0),
    (reg::WIRED, 0),
    (reg::HWRENA, 0),
    (reg::BADVADDR, 0),
    (reg::ENTRYHI, 0),
    (reg::COMPARE, 0),
    (reg::STATUS, 1),
    (reg::CAUSE, 0),
    (reg::EPC, 0),
    (reg::PRID, 0),
    (reg::PRID, 1),
    (reg::CONFIG, 0),
    (reg::CONFIG, 1),
    (reg::CONFIG, 2),
    (reg::CONFIG, 3),
    (reg::CONFIG, 7),
    (reg::XCONTEXT, 0),
    (reg::ERROREPC, 0),
    (reg::KSCRATCH, 0),
    (reg::KSCRATCH, 2),
    (reg::KSCRATCH, 3),
    (reg::KSCRATCH, 4),
    (reg::KSCRATCH, 5),
    (reg::KSCRATCH, 6),
    (reg::KSCRATCH, 7),
];

/// Registers a guest write of which may become a store, with their width
/// (`true`: 64-bit, written with `dmtc0`/`sd`; `false`: 32-bit, `mtc0`/`sw`).
/// They are plain storage until an instruction that traps uses them
/// (`tlbwi`, `eret`), and [`absorb`] has taken them back by then. Writes of
/// other registers have side effects (mode, ASID, timer, TLB random index)
/// and keep trapping.
const WRITABLE: [(u8, u8, bool); 13] = [
    (reg::ENTRYLO0, 0, true),
    (reg::ENTRYLO1, 0, true),
    (reg::EPC, 0, true),
    (reg::ERROREPC, 0, true),
    (reg::KSCRATCH, 0, true),
    (reg::KSCRATCH, 2, true),
    (reg::KSCRATCH, 3, true),
    (reg::KSCRATCH, 4, true),
    (reg::KSCRATCH, 5, true),
    (reg::KSCRATCH, 6, true),
    (reg::KSCRATCH, 7, true),
    (reg::INDEX, 0, false),
    (reg::PAGEMASK, 0, false),
];

/// True when a read of CP0 register (`rd`, `sel`) may become a load from
/// its slot (see [`READABLE`]).
pub fn readable(rd: u8, sel: u8) -> bool {
    READABLE.contains(&(rd, sel))
}

/// How a guest write of (`rd`, `sel`) may become a store: `Some(true)` for
/// a 64-bit register written with `dmtc0` (a `sd`), `Some(false)` for a
/// 32-bit one written with `mtc0` (a `sw`), `None` when it must trap.
pub fn writable(rd: u8, sel: u8) -> Option<bool> {
    WRITABLE
        .iter()
        .find(|&&(r, s, _)| (r, s) == (rd, sel))
        .map(|&(_, _, wide)| wide)
}

/// The bytes of the page that [`publish`] and [`absorb`] use.
const USED_BYTES: usize = (IE_OFFSET + 8) as usize;

/// Writes `shadow`'s virtual CP0 into the register page at machine address
/// `page`: every readable slot, the Status slot and the IE word.
pub fn publish(mem: &mut PhysMem, page: u64, shadow: &Cpu) {
    let mut bytes = [0u8; USED_BYTES];
    for (rd, sel) in READABLE {
        let at = slot_offset(rd, sel) as usize;
        bytes[at..at + 8].copy_from_slice(&shadow.read_cp0(rd, sel).to_le_bytes());
    }
    let at = STATUS_OFFSET as usize;
    bytes[at..at + 8].copy_from_slice(&shadow.read_cp0(reg::STATUS, 0).to_le_bytes());
    let ie = shadow.cp0.status & mips::cp0::status::IE;
    bytes[IE_OFFSET as usize..].copy_from_slice(&ie.to_le_bytes());
    // The page lies in the monitor's reserved memory, inside RAM.
    let _ = mem.write_bytes(page, &bytes);
}

/// Takes what the guest may have stored in the register page at `page`
/// into `shadow`'s virtual CP0: the writable registers that changed (with
/// the masks a `mtc0`/`dmtc0` applies) and Status.IE from the IE word.
pub fn absorb(mem: &PhysMem, page: u64, shadow: &mut Cpu) {
    let mut bytes = [0u8; USED_BYTES];
    if mem.read_bytes(page, &mut bytes).is_err() {
        return;
    }
    let word = |at: u64| {
        let at = at as usize;
        u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
    };
    for (rd, sel, wide) in WRITABLE {
        let v = word(slot_offset(rd, sel));
        let v = if wide {
            v
        } else {
            v as u32 as i32 as i64 as u64
        };
        if v != shadow.read_cp0(rd, sel) {
            shadow.write_cp0(rd, sel, v, wide);
        }
    }
    let ie = word(IE_OFFSET) != 0;
    let status = shadow.cp0.status;
    if (status & mips::cp0::status::IE != 0) != ie {
        shadow.set_status(status ^ mips::cp0::status::IE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mips::cp0::status;

    fn kernel_shadow() -> Cpu {
        let mut c = Cpu::new(0);
        c.set_status(status::KX | status::SX | status::UX | status::IE);
        c
    }

    /// Every (rd, sel) pair.
    fn all_registers() -> impl Iterator<Item = (u8, u8)> {
        (0..32u8).flat_map(|rd| (0..8u8).map(move |sel| (rd, sel)))
    }

    #[test]
    fn every_writable_register_is_readable() {
        for (rd, sel, _) in WRITABLE {
            assert!(readable(rd, sel), "({rd}, {sel})");
        }
    }

    #[test]
    fn every_slot_is_reachable_from_zero_with_a_16_bit_offset() {
        for (rd, sel) in all_registers() {
            let va = REGPAGE_VA + slot_offset(rd, sel);
            let off = va as i64;
            assert!((-32768..32768).contains(&off));
            assert!(contains(va));
        }
        assert!(contains(REGPAGE_VA + IE_OFFSET));
        assert!(!contains(REGPAGE_VA + REGPAGE_BYTES));
    }

    #[test]
    fn published_registers_read_back_and_written_ones_are_absorbed() {
        let mut mem = PhysMem::new(64 << 20).unwrap();
        let page = page_address(3).unwrap();
        let mut c = kernel_shadow();
        c.write_cp0(reg::EPC, 0, 0xffff_ffff_8012_3456, true);
        c.write_cp0(reg::ENTRYHI, 0, 0x4000_2000 | 5, true);
        publish(&mut mem, page, &c);
        let slot = |rd, sel| {
            let mut b = [0; 8];
            mem.read_bytes(page + slot_offset(rd, sel), &mut b).unwrap();
            u64::from_le_bytes(b)
        };
        assert_eq!(slot(reg::EPC, 0), 0xffff_ffff_8012_3456);
        assert_eq!(slot(reg::ENTRYHI, 0), 0x4000_2000 | 5);
        assert_eq!(slot(reg::CONFIG, 1), c.read_cp0(reg::CONFIG, 1));
        // The guest stores EntryLo0 (sd), PageMask (sw) and disables
        // interrupts (the IE word).
        mem.write_bytes(
            page + slot_offset(reg::ENTRYLO0, 0),
            &0x1234_5647u64.to_le_bytes(),
        )
        .unwrap();
        mem.write_bytes(
            page + slot_offset(reg::PAGEMASK, 0),
            &0x6000u32.to_le_bytes(),
        )
        .unwrap();
        mem.write_bytes(page + IE_OFFSET, &0u64.to_le_bytes())
            .unwrap();
        // ... and EntryHi, which is not writable through the page.
        mem.write_bytes(page + slot_offset(reg::ENTRYHI, 0), &7u64.to_le_bytes())
            .unwrap();
        absorb(&mem, page, &mut c);
        assert_eq!(c.read_cp0(reg::ENTRYLO0, 0), 0x1234_5647);
        assert_eq!(c.read_cp0(reg::PAGEMASK, 0), 0x6000);
        assert_eq!(c.cp0.status & status::IE, 0);
        assert_eq!(c.read_cp0(reg::ENTRYHI, 0), 0x4000_2000 | 5);
        assert_eq!(c.read_cp0(reg::EPC, 0), 0xffff_ffff_8012_3456);
        // Any non-zero IE word enables (a rewritten `ei` stores $sp).
        mem.write_bytes(page + IE_OFFSET, &0x9800_0000_0123_4560u64.to_le_bytes())
            .unwrap();
        absorb(&mem, page, &mut c);
        assert_ne!(c.cp0.status & status::IE, 0);
    }

    #[test]
    fn publishing_then_absorbing_changes_nothing() {
        let mut mem = PhysMem::new(64 << 20).unwrap();
        let page = page_address(0).unwrap();
        let mut c = kernel_shadow();
        c.write_cp0(reg::INDEX, 0, 0x8000_0000_0000_0011, false);
        c.write_cp0(reg::ENTRYLO1, 0, (0x1234 << 6) | 0x1f, true);
        c.write_cp0(reg::PAGEMASK, 0, 0x1fe000, false);
        let before: Vec<u64> = all_registers()
            .map(|(rd, sel)| c.read_cp0(rd, sel))
            .collect();
        let status = c.cp0.status;
        publish(&mut mem, page, &c);
        absorb(&mem, page, &mut c);
        let after: Vec<u64> = all_registers()
            .map(|(rd, sel)| c.read_cp0(rd, sel))
            .collect();
        assert_eq!(before, after);
        assert_eq!(c.cp0.status, status);
    }

    #[test]
    fn the_page_is_mapped_global_and_writable_at_the_top() {
        let e = tlb_entry(page_address(2).unwrap());
        assert!(e.global);
        assert!(e.matches(REGPAGE_VA + IE_OFFSET, 0x17));
        assert_eq!(e.lo[0] >> 6, page_address(2).unwrap() >> 12);
        assert_eq!(e.lo[1] & crate::memory::pmap::LO_V, 0);
    }

    #[test]
    fn pages_fit_the_reserved_area() {
        assert!(page_address(MAX_PAGES - 1).is_some());
        assert_eq!(page_address(MAX_PAGES), None);
        assert_eq!(
            page_address(1).unwrap() - page_address(0).unwrap(),
            REGPAGE_BYTES
        );
    }
}
