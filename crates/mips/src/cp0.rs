//! Coprocessor 0: the privileged registers and their read/write rules.
//!
//! Values follow `shared/research/linux-mips-generic-platform.md` §5: a
//! MIPS64 Release 2 core identified as "MIPS GENERIC QEMU" (PRId 0x00010000),
//! 64-entry JTLB, 32 KiB 4-way L1 caches with Config7.AR (no D-cache aliases),
//! UserLocal, an FPU, 40 virtual and 40 physical address bits (the FLASH
//! machine's 40-bit machine addresses).
//!
//! This module only stores registers and applies write masks; side effects
//! (translation flushes, timer reprogramming, interrupt re-evaluation) are the
//! CPU's job, see [`crate::Cpu`].

/// Virtual address bits of the 64-bit segments (SEGBITS).
pub const SEGBITS: u32 = 40;
/// Physical address bits (PABITS).
pub const PABITS: u32 = 40;
/// Number of JTLB entries.
pub const TLB_ENTRIES: usize = 64;

/// Register numbers (`rd`) of the CP0 registers this CPU implements.
#[allow(missing_docs)]
pub mod reg {
    pub const INDEX: u8 = 0;
    pub const RANDOM: u8 = 1;
    pub const ENTRYLO0: u8 = 2;
    pub const ENTRYLO1: u8 = 3;
    pub const CONTEXT: u8 = 4;
    pub const PAGEMASK: u8 = 5;
    pub const WIRED: u8 = 6;
    pub const HWRENA: u8 = 7;
    pub const BADVADDR: u8 = 8;
    pub const COUNT: u8 = 9;
    pub const ENTRYHI: u8 = 10;
    pub const COMPARE: u8 = 11;
    pub const STATUS: u8 = 12;
    pub const CAUSE: u8 = 13;
    pub const EPC: u8 = 14;
    pub const PRID: u8 = 15;
    pub const CONFIG: u8 = 16;
    pub const LLADDR: u8 = 17;
    pub const XCONTEXT: u8 = 20;
    pub const ERRCTL: u8 = 26;
    pub const TAGLO: u8 = 28;
    pub const TAGHI: u8 = 29;
    pub const ERROREPC: u8 = 30;
    pub const KSCRATCH: u8 = 31;
}

/// Status register bits.
#[allow(missing_docs)]
pub mod status {
    pub const IE: u64 = 1 << 0;
    pub const EXL: u64 = 1 << 1;
    pub const ERL: u64 = 1 << 2;
    pub const KSU_SHIFT: u32 = 3;
    pub const KSU: u64 = 3 << 3;
    pub const UX: u64 = 1 << 5;
    pub const SX: u64 = 1 << 6;
    pub const KX: u64 = 1 << 7;
    pub const IM_SHIFT: u32 = 8;
    pub const IM: u64 = 0xff << 8;
    pub const NMI: u64 = 1 << 19;
    pub const SR: u64 = 1 << 20;
    pub const BEV: u64 = 1 << 22;
    pub const FR: u64 = 1 << 26;
    pub const RP: u64 = 1 << 27;
    pub const CU0: u64 = 1 << 28;
    pub const CU1: u64 = 1 << 29;
    /// Bits software may change.
    pub const WRITABLE: u64 =
        CU0 | CU1 | RP | FR | BEV | SR | NMI | IM | KX | SX | UX | KSU | ERL | EXL | IE;
}

/// Cause register bits.
#[allow(missing_docs)]
pub mod cause {
    pub const EXC_SHIFT: u32 = 2;
    pub const EXC_MASK: u64 = 0x1f << 2;
    pub const IP_SHIFT: u32 = 8;
    pub const IP: u64 = 0xff << 8;
    /// Software interrupts IP1..IP0: the only IP bits software writes.
    pub const IP_SW: u64 = 0x3 << 8;
    pub const IV: u64 = 1 << 23;
    pub const DC: u64 = 1 << 27;
    pub const CE_SHIFT: u32 = 28;
    pub const CE: u64 = 3 << 28;
    pub const TI: u64 = 1 << 30;
    pub const BD: u64 = 1 << 31;
    pub const WRITABLE: u64 = IV | DC | IP_SW;
}

/// PRId: "MIPS GENERIC QEMU", which Linux 6.1 knows as CPU_QEMU_GENERIC.
pub const PRID: u64 = 0x0001_0000;
/// Config0: M, AT=MIPS64, AR=Release 2, MT=standard TLB, K0=3 at reset.
pub const CONFIG0_RESET: u64 = 0x8000_4483;
/// Config0 bits software may change (K0).
pub const CONFIG0_WRITABLE: u64 = 0x7;
/// Config1: M, 64 TLB entries, 32 KiB 4-way 32-byte-line I and D caches, FPU.
pub const CONFIG1: u64 = (1 << 31)
    | (((TLB_ENTRIES as u64) - 1) << 25)
    | (2 << 22) // IS: 256 sets
    | (4 << 19) // IL: 32-byte lines
    | (3 << 16) // IA: 4 ways
    | (2 << 13) // DS
    | (4 << 10) // DL
    | (3 << 7) // DA
    | 1; // FP
/// Config2: M set (Config3 follows), no secondary cache described.
pub const CONFIG2: u64 = 1 << 31;
/// Config3: UserLocal implemented (ULRI); no Config4.
pub const CONFIG3: u64 = 1 << 13;
/// Config3.CMGCR: a Coherence Manager is present (multiprocessor machines).
pub const CONFIG3_CMGCR: u64 = 1 << 29;
/// Config7: AR (the D-cache has no virtual aliases).
pub const CONFIG7: u64 = 1 << 16;
/// IntCtl: the CP0 timer interrupt is on hardware line IP7 (IPTI = 7).
pub const INTCTL_RESET: u64 = 7 << 29;
/// IntCtl bits software may change (vector spacing).
pub const INTCTL_WRITABLE: u64 = 0x1f << 5;
/// EntryHi: R (63:62), VPN2 (SEGBITS-1:13), ASID (7:0).
pub const ENTRYHI_MASK: u64 = (3 << 62) | (((1u64 << SEGBITS) - 1) & !0x1fff) | 0xff;
/// EntryLo: PFN (PABITS-12 bits from bit 6), C, D, V, G. Fill bits read zero.
pub const ENTRYLO_MASK: u64 = (1u64 << (PABITS - 12 + 6)) - 1;
/// PageMask bits that can be set (4 KiB .. 256 MiB pages).
pub const PAGEMASK_MASK: u64 = 0x1fff_e000;
/// HWREna: CPUNum, SYNCI_Step, CC, CCRes, UserLocal.
pub const HWRENA_MASK: u64 = 0xf | (1 << 29);
/// EBase bits software may change (exception base 29:12).
pub const EBASE_WRITABLE: u64 = 0x3fff_f000;
/// Context: PTEBase (63:23) is software's; BadVPN2 (22:4) is hardware's.
pub const CONTEXT_PTEBASE: u64 = !((1u64 << 23) - 1);
/// XContext: BadVPN2 holds VA[SEGBITS-1:13] from bit 4, R the region above it;
/// the bits above both (PTEBase) belong to software.
pub const XCONTEXT_PTEBASE: u64 = !((1u64 << (SEGBITS - 13 + 4 + 2)) - 1);

/// The CP0 register file of one CPU. Count and Random are derived from time
/// and TLB activity and live in the CPU.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[allow(missing_docs)]
pub struct Cp0 {
    pub index: u64,
    pub entrylo0: u64,
    pub entrylo1: u64,
    pub context: u64,
    pub userlocal: u64,
    pub pagemask: u64,
    pub wired: u64,
    pub hwrena: u64,
    pub badvaddr: u64,
    pub entryhi: u64,
    pub compare: u32,
    pub status: u64,
    pub intctl: u64,
    pub cause: u64,
    pub epc: u64,
    pub ebase: u64,
    pub cmgcrbase: u64,
    pub config0: u64,
    pub config3: u64,
    pub lladdr: u64,
    pub xcontext: u64,
    pub errctl: u64,
    pub taglo: u64,
    pub datalo: u64,
    pub taghi: u64,
    pub datahi: u64,
    pub errorepc: u64,
    pub desave: u64,
    pub kscratch: [u64; 6],
}

impl Cp0 {
    /// Reset state of CPU number `cpu_num`: Status = BEV | ERL, EBase =
    /// 0x80000000 | cpu_num.
    pub fn reset(cpu_num: u32) -> Self {
        Cp0 {
            index: 0,
            entrylo0: 0,
            entrylo1: 0,
            context: 0,
            userlocal: 0,
            pagemask: 0,
            wired: 0,
            hwrena: 0,
            badvaddr: 0,
            entryhi: 0,
            compare: 0,
            status: status::BEV | status::ERL,
            intctl: INTCTL_RESET,
            cause: 0,
            epc: 0,
            ebase: 0x8000_0000 | (cpu_num as u64 & 0x3ff),
            cmgcrbase: 0,
            config0: CONFIG0_RESET,
            config3: CONFIG3,
            lladdr: 0,
            xcontext: 0,
            errctl: 0,
            taglo: 0,
            datalo: 0,
            taghi: 0,
            datahi: 0,
            errorepc: 0,
            desave: 0,
            kscratch: [0; 6],
        }
    }

    /// Current ASID (EntryHi 7:0).
    #[inline]
    pub fn asid(&self) -> u8 {
        self.entryhi as u8
    }

    /// Sign-extended exception base for vectors when Status.BEV = 0.
    pub fn exception_base(&self) -> u64 {
        (self.ebase & 0xffff_f000) as u32 as i32 as i64 as u64
    }

    /// Loads the registers a TLB or address exception at `va` updates.
    pub fn record_bad_address(&mut self, va: u64, tlb: bool) {
        self.badvaddr = va;
        if tlb {
            let vpn2 = (va >> 13) & ((1u64 << (SEGBITS - 13)) - 1);
            self.context = (self.context & CONTEXT_PTEBASE) | (((va >> 13) & 0x7_ffff) << 4);
            self.xcontext = (self.xcontext & XCONTEXT_PTEBASE)
                | ((va >> 62) << (SEGBITS - 13 + 4))
                | (vpn2 << 4);
            self.entryhi = (self.entryhi & 0xff) | (va & ENTRYHI_MASK & !0xff);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config1_matches_the_documented_geometry() {
        // 64 entries, 256 sets x 32 B x 4 ways for both caches, FPU present.
        assert_eq!((CONFIG1 >> 25) & 0x3f, 63);
        let sets = 32u64 << (((CONFIG1 >> 22) + 1) & 7);
        let line = 2u64 << ((CONFIG1 >> 19) & 7);
        let ways = ((CONFIG1 >> 16) & 7) + 1;
        assert_eq!(sets * line * ways, 32 * 1024);
        assert_eq!(CONFIG1 & 1, 1);
    }

    #[test]
    fn bad_address_fills_context_and_xcontext_but_keeps_software_bits() {
        let mut c = Cp0::reset(0);
        c.context = 0x1234_5678_0000_0000;
        c.xcontext = 7u64 << 51;
        c.entryhi = 0x42;
        let va = 0xc000_0012_3456_7000u64;
        c.record_bad_address(va, true);
        assert_eq!(c.badvaddr, va);
        assert_eq!(c.context >> 23, 0x1234_5678_0000_0000 >> 23);
        assert_eq!((c.context >> 4) & 0x7_ffff, (va >> 13) & 0x7_ffff);
        assert_eq!(c.xcontext >> 51, 7);
        assert_eq!((c.xcontext >> 4) & 0xff, (va >> 13) & 0xff);
        assert_eq!((c.xcontext >> (SEGBITS - 13 + 4)) & 3, 3);
        assert_eq!(c.entryhi, (va & ENTRYHI_MASK & !0xff) | 0x42);
    }
}
