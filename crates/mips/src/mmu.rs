//! Virtual address translation: MIPS64 segments, privilege checks and the TLB.

use crate::cp0::{status, PABITS, SEGBITS};
use crate::exception::{ExcCode, Exception};
use crate::tlb::{Tlb, LO_D, LO_V};

/// Kind of memory access being translated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Data load.
    Load,
    /// Data store.
    Store,
    /// Instruction fetch.
    Fetch,
}

impl Access {
    fn tlb_code(self) -> ExcCode {
        match self {
            Access::Store => ExcCode::TlbS,
            _ => ExcCode::TlbL,
        }
    }
    fn address_code(self) -> ExcCode {
        match self {
            Access::Store => ExcCode::AdES,
            _ => ExcCode::AdEL,
        }
    }
}

/// Privilege level the access is made at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Privilege {
    /// Kernel mode (KSU = 0, or EXL or ERL set).
    Kernel = 0,
    /// Supervisor mode.
    Supervisor = 1,
    /// User mode.
    User = 2,
}

impl Privilege {
    /// Effective privilege for a Status value.
    #[inline]
    pub fn from_status(st: u64) -> Self {
        if st & (status::EXL | status::ERL) != 0 {
            return Privilege::Kernel;
        }
        match (st & status::KSU) >> status::KSU_SHIFT {
            0 => Privilege::Kernel,
            1 => Privilege::Supervisor,
            _ => Privilege::User,
        }
    }
}

/// A successful translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    /// Physical address.
    pub pa: u64,
    /// Stores are allowed (unmapped segment, or TLB entry with D = 1).
    pub writable: bool,
    /// The mapping came from the TLB (as opposed to an unmapped segment).
    pub mapped: bool,
}

/// Where an address lies once the segment rules are applied.
enum Segment {
    Unmapped(u64),
    Mapped,
}

const KSEG0: u64 = 0xffff_ffff_8000_0000;
const KSEG1: u64 = 0xffff_ffff_a000_0000;
const KSSEG: u64 = 0xffff_ffff_c000_0000;
const SEG_SIZE: u64 = 1 << SEGBITS;
const PA_MASK: u64 = (1 << PABITS) - 1;

fn classify(va: u64, prv: Privilege, st: u64, vm: bool) -> Option<Segment> {
    if vm && prv == Privilege::Supervisor {
        // A virtual machine's kernel: every segment kernel mode may use, and
        // the unmapped ones translated through the TLB like mapped ones.
        return match classify(va, Privilege::Kernel, st & !status::ERL, false)? {
            Segment::Unmapped(_) => Some(Segment::Mapped),
            mapped => Some(mapped),
        };
    }
    let kernel = prv == Privilege::Kernel;
    let supervisor = prv == Privilege::Supervisor;
    // Sign-extended 32-bit addresses: the compatibility segments.
    if (va as i32 as i64 as u64) == va {
        if va < 0x8000_0000 {
            // useg / kuseg / suseg.
            if kernel && st & status::ERL != 0 {
                return Some(Segment::Unmapped(va));
            }
            return Some(Segment::Mapped);
        }
        return match va {
            _ if va < KSEG1 => kernel.then_some(Segment::Unmapped(va - KSEG0)),
            _ if va < KSSEG => kernel.then_some(Segment::Unmapped(va - KSEG1)),
            _ if va < 0xffff_ffff_e000_0000 => (kernel || supervisor).then_some(Segment::Mapped),
            _ => kernel.then_some(Segment::Mapped),
        };
    }
    // 64-bit segments, each enabled by the Status.{U,S,K}X bit of the mode.
    let x_enabled = match prv {
        Privilege::Kernel => st & status::KX != 0,
        Privilege::Supervisor => st & status::SX != 0,
        Privilege::User => st & status::UX != 0,
    };
    if !x_enabled {
        return None;
    }
    match va >> 62 {
        0 => (va < SEG_SIZE).then_some(Segment::Mapped),
        1 => ((kernel || supervisor) && va - (1 << 62) < SEG_SIZE).then_some(Segment::Mapped),
        2 => {
            // xkphys: bits 61:59 are the cache attribute, PA below PABITS.
            let pa = va & ((1 << 59) - 1);
            (kernel && pa <= PA_MASK).then_some(Segment::Unmapped(pa))
        }
        _ => (kernel && va - (3 << 62) < SEG_SIZE).then_some(Segment::Mapped),
    }
}

/// Translates `va` for `access` at privilege `prv` under Status `st`, through
/// `tlb` with address-space identifier `asid`. With `vm` (a virtual
/// machine's kernel runs in supervisor mode, see [`crate::Cpu::set_vm_mode`])
/// supervisor mode reaches the kernel segments, and the unmapped ones
/// (kseg0, kseg1, xkphys) are translated through the TLB.
pub fn translate(
    tlb: &Tlb,
    va: u64,
    access: Access,
    prv: Privilege,
    st: u64,
    asid: u8,
    vm: bool,
) -> Result<Translation, Exception> {
    match classify(va, prv, st, vm) {
        None => Err(Exception::at(access.address_code(), va)),
        Some(Segment::Unmapped(pa)) => Ok(Translation {
            pa,
            writable: true,
            mapped: false,
        }),
        Some(Segment::Mapped) => {
            let Some(hit) = tlb.lookup(va, asid) else {
                return Err(Exception::refill(access.tlb_code(), va));
            };
            if hit.lo & LO_V == 0 {
                return Err(Exception::at(access.tlb_code(), va));
            }
            let writable = hit.lo & LO_D != 0;
            if access == Access::Store && !writable {
                return Err(Exception::at(ExcCode::Mod, va));
            }
            Ok(Translation {
                pa: hit.physical(va),
                writable,
                mapped: true,
            })
        }
    }
}

/// True when a TLB refill for `va` uses the 64-bit (XTLB) refill vector,
/// EBase + 0x080, rather than EBase + 0x000.
pub fn uses_xtlb_refill(va: u64, st: u64) -> bool {
    let region = va >> 62;
    (region != 0 || st & status::UX != 0) && (region != 3 || st & status::KX != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tlb::{TlbEntry, LO_G};

    const KERNEL64: u64 = status::KX | status::SX | status::UX;

    fn t(va: u64, prv: Privilege, st: u64) -> Result<Translation, Exception> {
        translate(&Tlb::default(), va, Access::Load, prv, st, 0, false)
    }

    #[test]
    fn kseg0_and_kseg1_are_unmapped_windows_on_low_memory() {
        let k = Privilege::Kernel;
        assert_eq!(t(0xffff_ffff_8012_3456, k, 0).unwrap().pa, 0x12_3456);
        assert_eq!(t(0xffff_ffff_bfc0_0000, k, 0).unwrap().pa, 0x1fc0_0000);
        assert!(!t(0xffff_ffff_8000_0000, k, 0).unwrap().mapped);
    }

    #[test]
    fn xkphys_needs_kx_and_strips_the_cache_attribute() {
        let k = Privilege::Kernel;
        let va = 0x9800_0000_0123_4000;
        assert_eq!(t(va, k, 0).unwrap_err().code, ExcCode::AdEL);
        assert_eq!(t(va, k, KERNEL64).unwrap().pa, 0x123_4000);
        // Beyond PABITS is an address error.
        assert_eq!(
            t(0x9000_0100_0000_0000, k, KERNEL64).unwrap_err().code,
            ExcCode::AdEL
        );
    }

    #[test]
    fn user_mode_cannot_touch_kernel_segments() {
        let u = Privilege::User;
        let e = t(0xffff_ffff_8000_0000, u, KERNEL64).unwrap_err();
        assert_eq!((e.code, e.badvaddr), (ExcCode::AdEL, 0xffff_ffff_8000_0000));
        assert_eq!(
            t(0x9800_0000_0000_0000, u, KERNEL64).unwrap_err().code,
            ExcCode::AdEL
        );
    }

    #[test]
    fn mapped_miss_is_a_refill_and_invalid_entry_is_not() {
        let mut tlb = Tlb::default();
        let u = Privilege::User;
        let e = translate(&tlb, 0x40_0000, Access::Store, u, KERNEL64, 1, false).unwrap_err();
        assert_eq!((e.code, e.refill), (ExcCode::TlbS, true));
        tlb.write(0, TlbEntry::from_registers(0, 0x40_0000 | 1, 0, 0));
        let e = translate(&tlb, 0x40_0000, Access::Load, u, KERNEL64, 1, false).unwrap_err();
        assert_eq!((e.code, e.refill), (ExcCode::TlbL, false));
    }

    #[test]
    fn clean_page_store_raises_mod() {
        let mut tlb = Tlb::default();
        tlb.write(
            0,
            TlbEntry::from_registers(0, 0x40_0000, (5 << 6) | LO_V | LO_G, LO_G),
        );
        let prv = Privilege::User;
        assert_eq!(
            translate(&tlb, 0x40_0010, Access::Load, prv, 0, 9, false)
                .unwrap()
                .pa,
            0x5010
        );
        let e = translate(&tlb, 0x40_0010, Access::Store, prv, 0, 9, false).unwrap_err();
        assert_eq!(e.code, ExcCode::Mod);
    }

    #[test]
    fn erl_makes_kuseg_unmapped() {
        let st = status::ERL;
        assert_eq!(t(0x1000, Privilege::Kernel, st).unwrap().pa, 0x1000);
    }

    #[test]
    fn refill_vector_choice_follows_region_and_x_bits() {
        assert!(uses_xtlb_refill(0x1000, status::UX));
        assert!(!uses_xtlb_refill(0x1000, 0));
        assert!(uses_xtlb_refill(0xc000_0000_0000_2000, status::KX));
        assert!(!uses_xtlb_refill(0xffff_ffff_c000_0000, 0));
        assert!(uses_xtlb_refill(0xffff_ffff_c000_0000, status::KX));
    }
}
