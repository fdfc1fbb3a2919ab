//! The Coherence Manager's Global Configuration Registers (GCRs), modelled
//! as a CM 2.5 (`GCR_REV = 0x0700`), and the per-core state they share with
//! the CPC ([`super::cpc`]).
//!
//! # Global block (offsets 0x0000..0x1fff)
//!
//! 64-bit registers are two words, high half at +4.
//!
//! | offset | register | model |
//! |--------|----------|-------|
//! | 0x000 | GCR_CONFIG (64, RO) | PCORES 7:0 = cores − 1; NUMIOCU = 0; high word 0 |
//! | 0x008 | GCR_BASE (64) | GCRBASE 47:15 = the window base, read-only (the GCRs cannot be moved); CMDEFTGT 1:0 read/write |
//! | 0x020 | GCR_ACCESS | read/write, stored (no access control is enforced) |
//! | 0x030 | GCR_REV (RO) | 0x0700 (CM 2.5) |
//! | 0x038 | GCR_ERR_CONTROL | reads 0 (no L2 ECC), writes ignored |
//! | 0x040..0x05f | GCR_ERR_MASK/CAUSE/ADDR/MULT (64) | read 0 (no CM error ever occurs), writes ignored |
//! | 0x070 | GCR_L2_ONLY_SYNC_BASE (64) | SYNCBASE 47:12, SYNCEN 0 stored; **resets to 0x1** (see below) |
//! | 0x080 | GCR_GIC_BASE (64) | GICBASE 47:17, GICEN 0 stored; resets to the GIC base with GICEN clear |
//! | 0x088 | GCR_CPC_BASE (64) | CPCBASE 47:15, CPCEN 0 stored; resets to the CPC base, CPCEN set when that base is below 4 GiB |
//! | 0x090..0x0cf | GCR_REG0..3_BASE/MASK (64) | read 0, writes ignored (address regions are not modelled) |
//! | 0x0d0 | GCR_GIC_STATUS (RO) | EX = 1 |
//! | 0x0f0 | GCR_CPC_STATUS (RO) | EX = 1 |
//!
//! # Core-local (0x2000..0x3fff) and core-other (0x4000..0x5fff) blocks
//!
//! Core-local shows the accessing core's registers; core-other those of the
//! core selected by the accessing core's GCR_Cx_OTHER.CORENUM (bits 31:16,
//! the CM 2 layout). A selection naming a core that does not exist reads 0
//! and ignores writes.
//!
//! | offset | register | model |
//! |--------|----------|-------|
//! | +0x00 | GCR_Cx_RESET_RELEASE | reads 1 while the core is powered down (held in reset), 0 while it runs; writing 0 to a powered-down core starts it (the no-CPC boot path); other writes are ignored |
//! | +0x08 | GCR_Cx_COHERENCE | COHDOMAINEN 7:0, stored; resets to 0 |
//! | +0x10 | GCR_Cx_CONFIG (RO) | 0 (PVPE = 0: one VP per core, IOCUTYPE 0) |
//! | +0x18 | GCR_Cx_OTHER | CORENUM 31:16, stored |
//! | +0x20 | GCR_Cx_RESET_BASE | BEVExcBase 31:12, stored; resets to 0xbfc0_0000 |
//! | +0x28 | GCR_Cx_ID (RO) | the core number (cluster 0) |
//! | +0x30 | GCR_Cx_RESET_EXT_BASE | stored as written (UEB etc. have no effect: the reset PC comes from RESET_BASE) |
//!
//! The global debug block (0x6000..0x7fff) reads 0.
//!
//! # Core start and stop
//!
//! Core 0 runs from the start; the others are powered down. A core starts
//! when it is powered down and the guest writes `GCR_Cx_RESET_RELEASE = 0`
//! or the CPC commands RESET or PWRUP; CPC RESET on a running core restarts
//! it. Each start queues [`CpsEvent::StartCore`] with `reset_pc` = the core's
//! GCR_Cx_RESET_BASE (bits 31:12) sign-extended — a KSEG1 address such as
//! `0xffff_ffff_a0xx_x000` for Linux's `mips_cps_core_entry`; in BEV mode the
//! core's exception vectors are at `reset_pc + 0x200 ..= 0x480` as usual.
//! The machine performs the architectural reset of that CPU. The core
//! reports `SEQSTATE = U6` at once (starting is instantaneous). PWRDOWN
//! (and CLOCKOFF, see [`super::cpc`]) queues [`CpsEvent::StopCore`].
//!
//! # Addresses above 4 GiB
//!
//! Linux 6.1 truncates two base fields to 32 bits (`GENMASK(31, n)`), which
//! matters when the CPS windows live above 4 GiB:
//!
//! * `mips_cpc_phys_base()` uses a pre-enabled `GCR_CPC_BASE` masked with
//!   bits 31:15. So [`Cps::new`] pre-enables the CPC only when its base is
//!   below 4 GiB; otherwise CPCEN starts clear and Linux writes the base from
//!   the `mti,mips-cpc` DT node (full 64 bits) with CPCEN.
//! * `mips_cm_probe_l2sync()` (CM ≥ 2) would place the L2-only sync page at
//!   GCR base + 0x8000 and `BUG()`s if that is not within bits 31:12 — unless
//!   GCR_L2_ONLY_SYNC_BASE already has SYNCEN set, in which case it takes
//!   the SYNCBASE field as is and maps nothing when it is 0. This model
//!   therefore resets GCR_L2_ONLY_SYNC_BASE to `0x1` (enabled, base 0):
//!   Linux maps no L2-sync page (6.1 never calls `mips_cm_l2sync()` anyway),
//!   so the board needs no L2-sync window and any GCR base works.

use serde::{Deserialize, Serialize};
use tracing::debug;

use super::{check_base, half, read_words, set_half, write_words, CpsConfigError, CpuMmioDevice};
use crate::device::DeviceError;

/// Size of the GCR register window in bytes.
pub const GCR_WINDOW_SIZE: u64 = 0x8000;
/// Size of the CPC register window in bytes.
pub const CPC_WINDOW_SIZE: u64 = 0x8000;
/// The modelled CM revision: CM 2.5 (major 7, minor 0).
pub const GCR_REV_CM2_5: u32 = 0x0700;
/// The largest number of cores supported (the GIC's VP numbers are 6 bits).
pub const MAX_CORES: u32 = 64;

/// GCR register offsets and fields.
pub(super) mod reg {
    pub const CONFIG: u64 = 0x000;
    pub const BASE: u64 = 0x008;
    pub const ACCESS: u64 = 0x020;
    pub const REV: u64 = 0x030;
    pub const L2_ONLY_SYNC_BASE: u64 = 0x070;
    pub const GIC_BASE: u64 = 0x080;
    pub const CPC_BASE: u64 = 0x088;
    pub const GIC_STATUS: u64 = 0x0d0;
    pub const CPC_STATUS: u64 = 0x0f0;

    /// Core-local block.
    pub const CORE_LOCAL: u64 = 0x2000;
    /// Core-other block.
    pub const CORE_OTHER: u64 = 0x4000;
    /// Size of a core block.
    pub const CORE_BLOCK_SIZE: u64 = 0x2000;

    pub const CX_RESET_RELEASE: u64 = 0x00;
    pub const CX_COHERENCE: u64 = 0x08;
    pub const CX_CONFIG: u64 = 0x10;
    pub const CX_OTHER: u64 = 0x18;
    pub const CX_RESET_BASE: u64 = 0x20;
    pub const CX_ID: u64 = 0x28;
    pub const CX_RESET_EXT_BASE: u64 = 0x30;

    /// GCR_BASE.CMDEFTGT (1:0).
    pub const CMDEFTGT_MASK: u32 = 0x3;
    /// GCR_L2_ONLY_SYNC_BASE: SYNCBASE 47:12 and SYNCEN 0.
    pub const L2SYNC_MASK: u64 = 0xffff_ffff_f001;
    /// GCR_L2_ONLY_SYNC_BASE.SYNCEN.
    pub const L2SYNC_EN: u64 = 0x1;
    /// GCR_GIC_BASE: GICBASE 47:17 and GICEN 0.
    pub const GIC_BASE_MASK: u64 = 0xffff_fffe_0001;
    /// GCR_GIC_BASE.GICEN.
    pub const GICEN: u64 = 0x1;
    /// GCR_CPC_BASE: CPCBASE 47:15 and CPCEN 0.
    pub const CPC_BASE_MASK: u64 = 0xffff_ffff_8001;
    /// GCR_CPC_BASE.CPCEN.
    pub const CPCEN: u64 = 0x1;
    /// GCR_Cx_COHERENCE.COHDOMAINEN.
    pub const COHERENCE_MASK: u32 = 0xff;
    /// GCR_Cx_OTHER.CORENUM (CM < 3).
    pub const OTHER_CORENUM_MASK: u32 = 0xffff_0000;
    pub const OTHER_CORENUM_SHIFT: u32 = 16;
    /// GCR_Cx_RESET_BASE.BEVExcBase.
    pub const RESET_BASE_MASK: u32 = 0xffff_f000;
    /// GCR_Cx_RESET_BASE after reset: the MIPS reset vector in KSEG1.
    pub const RESET_BASE_DEFAULT: u32 = 0xbfc0_0000;
}

/// Something the machine must do to a CPU because of a GCR/CPC write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CpsEvent {
    /// Reset CPU `core` architecturally and let it run from `reset_pc`.
    StartCore {
        /// The core (= CPU) number.
        core: u32,
        /// The sign-extended GCR_Cx_RESET_BASE (bits 31:12), a KSEG1
        /// address in practice.
        reset_pc: u64,
    },
    /// Stop running CPU `core` (it was powered down).
    StopCore {
        /// The core (= CPU) number.
        core: u32,
    },
}

/// Per-core state shared by the GCRs and the CPC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Core {
    /// The core is powered up and running (SEQSTATE U6), else powered down
    /// (D0).
    pub(super) running: bool,
    /// GCR_Cx_COHERENCE.
    pub(super) coherence: u32,
    /// GCR_Cx_OTHER as written by this core.
    pub(super) gcr_other: u32,
    /// GCR_Cx_RESET_BASE.
    pub(super) reset_base: u32,
    /// GCR_Cx_RESET_EXT_BASE.
    pub(super) reset_ext_base: u32,
    /// CPC_Cx_OTHER as written by this core.
    pub(super) cpc_other: u32,
    /// The last command written to CPC_Cx_CMD (bits 3:0).
    pub(super) cpc_cmd: u32,
}

impl Core {
    fn new(running: bool) -> Self {
        Core {
            running,
            coherence: 0,
            gcr_other: 0,
            reset_base: reg::RESET_BASE_DEFAULT,
            reset_ext_base: 0,
            cpc_other: 0,
            cpc_cmd: 0,
        }
    }

    /// The sign-extended reset vector.
    fn reset_pc(&self) -> u64 {
        i64::from((self.reset_base & reg::RESET_BASE_MASK) as i32) as u64
    }
}

/// The Coherence Manager GCRs and the Cluster Power Controller of one
/// cluster (see the module documentation for the registers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cps {
    /// Physical base of the GCR window (GCR_BASE.GCRBASE).
    gcr_base: u64,
    /// GCR_BASE.CMDEFTGT.
    cmdeftgt: u32,
    /// GCR_ACCESS.
    access: u32,
    /// GCR_L2_ONLY_SYNC_BASE.
    l2_only_sync_base: u64,
    /// GCR_GIC_BASE.
    gic_base: u64,
    /// GCR_CPC_BASE.
    cpc_base: u64,
    pub(super) cores: Vec<Core>,
    events: Vec<CpsEvent>,
}

impl Cps {
    /// True when `self` (restored from a checkpoint, say) describes as many
    /// cores as `fresh`, a CPS built by [`Cps::new`] for the same machine.
    pub fn has_shape_of(&self, fresh: &Cps) -> bool {
        self.cores.len() == fresh.cores.len()
    }

    /// A CPS with `cores` cores (core 0 running, the others powered down),
    /// the GCRs at `gcr_base` (32 KiB aligned; the CPU's `CMGCRBase` must be
    /// `gcr_base >> 4`), the CPC at `cpc_base` (32 KiB aligned) and the GIC
    /// at `gic_base` (128 KiB aligned).
    ///
    /// `GCR_CPC_BASE` starts enabled at `cpc_base` when that is below 4 GiB
    /// and disabled otherwise (Linux then programs it from the DT; see the
    /// module documentation). `GCR_GIC_BASE` starts at `gic_base` with
    /// GICEN clear; Linux enables it at its DT `reg` before use.
    pub fn new(
        cores: u32,
        gcr_base: u64,
        cpc_base: u64,
        gic_base: u64,
    ) -> Result<Self, CpsConfigError> {
        if cores == 0 || cores > MAX_CORES {
            return Err(CpsConfigError::BadCoreCount(cores));
        }
        check_base("GCR", gcr_base, GCR_WINDOW_SIZE)?;
        check_base("CPC", cpc_base, CPC_WINDOW_SIZE)?;
        check_base("GIC", gic_base, super::gic::GIC_WINDOW_SIZE)?;
        let cpcen = if cpc_base >> 32 == 0 { reg::CPCEN } else { 0 };
        Ok(Cps {
            gcr_base,
            cmdeftgt: 0,
            access: 0,
            l2_only_sync_base: reg::L2SYNC_EN,
            gic_base,
            cpc_base: cpc_base | cpcen,
            cores: (0..cores).map(|core| Core::new(core == 0)).collect(),
            events: Vec::new(),
        })
    }

    /// The number of cores.
    pub fn cores(&self) -> u32 {
        self.cores.len() as u32
    }

    /// Physical base of the GCR window (fixed; the guest cannot move it).
    pub fn gcr_base(&self) -> u64 {
        self.gcr_base
    }

    /// Physical base of the GIC window while GCR_GIC_BASE.GICEN is set.
    pub fn gic_window(&self) -> Option<u64> {
        (self.gic_base & reg::GICEN != 0).then_some(self.gic_base & !reg::GICEN)
    }

    /// Physical base of the CPC window while GCR_CPC_BASE.CPCEN is set.
    pub fn cpc_window(&self) -> Option<u64> {
        (self.cpc_base & reg::CPCEN != 0).then_some(self.cpc_base & !reg::CPCEN)
    }

    /// Physical base of the 4 KiB L2-only sync page while
    /// GCR_L2_ONLY_SYNC_BASE.SYNCEN is set and the base is not 0 (never the
    /// case with Linux 6.1 and this model's reset value; accesses to that
    /// page would have no effect).
    pub fn l2sync_window(&self) -> Option<u64> {
        let base = self.l2_only_sync_base & !reg::L2SYNC_EN;
        (self.l2_only_sync_base & reg::L2SYNC_EN != 0 && base != 0).then_some(base)
    }

    /// Whether core `core` is powered up and running.
    pub fn core_running(&self, core: u32) -> bool {
        self.cores.get(core as usize).is_some_and(|c| c.running)
    }

    /// Whether events are waiting for [`Cps::take_events`].
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// The core start/stop events since the last call, oldest first.
    pub fn take_events(&mut self) -> Vec<CpsEvent> {
        std::mem::take(&mut self.events)
    }

    /// A view of the GCR window as a [`CpuMmioDevice`].
    pub fn gcr(&mut self) -> GcrWindow<'_> {
        GcrWindow(self)
    }

    /// A view of the CPC window as a [`CpuMmioDevice`].
    pub fn cpc(&mut self) -> CpcWindow<'_> {
        CpcWindow(self)
    }

    /// Reads the GCR window on behalf of CPU `cpu`.
    pub fn gcr_read(
        &mut self,
        cpu: u32,
        offset: u64,
        size: u8,
        _now_ns: u64,
    ) -> Result<u64, DeviceError> {
        let cpu = self.check_cpu(cpu)?;
        read_words(offset, size, GCR_WINDOW_SIZE, |off| {
            self.gcr_read_word(cpu, off)
        })
    }

    /// Writes the GCR window on behalf of CPU `cpu`.
    pub fn gcr_write(
        &mut self,
        cpu: u32,
        offset: u64,
        size: u8,
        value: u64,
        _now_ns: u64,
    ) -> Result<(), DeviceError> {
        let cpu = self.check_cpu(cpu)?;
        write_words(offset, size, value, GCR_WINDOW_SIZE, |off, v| {
            self.gcr_write_word(cpu, off, v)
        })
    }

    /// The accessing CPU as an index, or an error if it does not exist.
    pub(super) fn check_cpu(&self, cpu: u32) -> Result<usize, DeviceError> {
        let cpu = cpu as usize;
        if cpu < self.cores.len() {
            Ok(cpu)
        } else {
            Err(DeviceError)
        }
    }

    /// The core a GCR core-other access by `cpu` targets, if it exists.
    fn gcr_other_core(&self, cpu: usize) -> Option<usize> {
        let other = (self.cores[cpu].gcr_other >> reg::OTHER_CORENUM_SHIFT) as usize;
        (other < self.cores.len()).then_some(other)
    }

    /// The core a core-local (`0x2000`) or core-other (`0x4000`) access at
    /// `offset` by `cpu` targets, and the offset inside the block; `None`
    /// for a global-block offset. The inner `Option` is `None` when the
    /// core-other selection names no existing core.
    fn core_block(&self, cpu: usize, offset: u64) -> Option<(Option<usize>, u64)> {
        let block = offset & !(reg::CORE_BLOCK_SIZE - 1);
        let inner = offset & (reg::CORE_BLOCK_SIZE - 1);
        match block {
            reg::CORE_LOCAL => Some((Some(cpu), inner)),
            reg::CORE_OTHER => Some((self.gcr_other_core(cpu), inner)),
            _ => None,
        }
    }

    fn gcr_read_word(&mut self, cpu: usize, offset: u64) -> u32 {
        if let Some((core, inner)) = self.core_block(cpu, offset) {
            return core.map_or(0, |core| self.core_read(core, inner));
        }
        let hi = offset & 4 != 0;
        match offset & !4 {
            reg::CONFIG if !hi => self.cores.len() as u32 - 1,
            reg::BASE => half(self.gcr_base | u64::from(self.cmdeftgt), hi),
            reg::ACCESS if !hi => self.access,
            reg::REV if !hi => GCR_REV_CM2_5,
            reg::L2_ONLY_SYNC_BASE => half(self.l2_only_sync_base, hi),
            reg::GIC_BASE => half(self.gic_base, hi),
            reg::CPC_BASE => half(self.cpc_base, hi),
            reg::GIC_STATUS | reg::CPC_STATUS if !hi => 1,
            _ => 0,
        }
    }

    fn gcr_write_word(&mut self, cpu: usize, offset: u64, value: u32) {
        if let Some((core, inner)) = self.core_block(cpu, offset) {
            if let Some(core) = core {
                self.core_write(core, inner, value);
            }
            return;
        }
        let hi = offset & 4 != 0;
        match offset & !4 {
            reg::BASE if !hi => self.cmdeftgt = value & reg::CMDEFTGT_MASK,
            reg::ACCESS if !hi => self.access = value,
            reg::L2_ONLY_SYNC_BASE => {
                self.l2_only_sync_base =
                    set_half(self.l2_only_sync_base, hi, value, reg::L2SYNC_MASK);
            }
            reg::GIC_BASE => {
                self.gic_base = set_half(self.gic_base, hi, value, reg::GIC_BASE_MASK);
            }
            reg::CPC_BASE => {
                self.cpc_base = set_half(self.cpc_base, hi, value, reg::CPC_BASE_MASK);
            }
            _ => {}
        }
    }

    fn core_read(&self, core: usize, inner: u64) -> u32 {
        let c = &self.cores[core];
        match inner {
            reg::CX_RESET_RELEASE => u32::from(!c.running),
            reg::CX_COHERENCE => c.coherence,
            reg::CX_OTHER => c.gcr_other,
            reg::CX_RESET_BASE => c.reset_base,
            reg::CX_ID => core as u32,
            reg::CX_RESET_EXT_BASE => c.reset_ext_base,
            // PVPE = 0: one VP per core.
            reg::CX_CONFIG => 0,
            _ => 0,
        }
    }

    fn core_write(&mut self, core: usize, inner: u64, value: u32) {
        let c = &mut self.cores[core];
        match inner {
            reg::CX_RESET_RELEASE if value == 0 && !c.running => self.start_core(core),
            reg::CX_COHERENCE => c.coherence = value & reg::COHERENCE_MASK,
            reg::CX_OTHER => c.gcr_other = value & reg::OTHER_CORENUM_MASK,
            reg::CX_RESET_BASE => c.reset_base = value & reg::RESET_BASE_MASK,
            reg::CX_RESET_EXT_BASE => c.reset_ext_base = value,
            _ => {}
        }
    }

    /// Powers `core` up (or restarts it) at its reset vector.
    pub(super) fn start_core(&mut self, core: usize) {
        let c = &mut self.cores[core];
        c.running = true;
        let reset_pc = c.reset_pc();
        let core = core as u32;
        debug!(target: "machine::cps", core, reset_pc = format_args!("{reset_pc:#x}"), "start core");
        self.events.push(CpsEvent::StartCore { core, reset_pc });
    }

    /// Powers `core` down if it runs.
    pub(super) fn stop_core(&mut self, core: usize) {
        let c = &mut self.cores[core];
        if c.running {
            c.running = false;
            let core = core as u32;
            debug!(target: "machine::cps", core, "stop core");
            self.events.push(CpsEvent::StopCore { core });
        }
    }
}

/// The GCR window of a [`Cps`] as a [`CpuMmioDevice`] ([`Cps::gcr`]).
#[derive(Debug)]
pub struct GcrWindow<'a>(&'a mut Cps);

impl CpuMmioDevice for GcrWindow<'_> {
    fn read(&mut self, cpu: u32, offset: u64, size: u8, now_ns: u64) -> Result<u64, DeviceError> {
        self.0.gcr_read(cpu, offset, size, now_ns)
    }

    fn write(
        &mut self,
        cpu: u32,
        offset: u64,
        size: u8,
        value: u64,
        now_ns: u64,
    ) -> Result<(), DeviceError> {
        self.0.gcr_write(cpu, offset, size, value, now_ns)
    }

    fn name(&self) -> &'static str {
        "gcr"
    }
}

/// The CPC window of a [`Cps`] as a [`CpuMmioDevice`] ([`Cps::cpc`]).
#[derive(Debug)]
pub struct CpcWindow<'a>(&'a mut Cps);

impl CpuMmioDevice for CpcWindow<'_> {
    fn read(&mut self, cpu: u32, offset: u64, size: u8, now_ns: u64) -> Result<u64, DeviceError> {
        self.0.cpc_read(cpu, offset, size, now_ns)
    }

    fn write(
        &mut self,
        cpu: u32,
        offset: u64,
        size: u8,
        value: u64,
        now_ns: u64,
    ) -> Result<(), DeviceError> {
        self.0.cpc_write(cpu, offset, size, value, now_ns)
    }

    fn name(&self) -> &'static str {
        "cpc"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GCR: u64 = 0x1610_0000;
    const CPC: u64 = 0x1620_0000;
    const GIC: u64 = 0x1612_0000;

    fn cps(cores: u32) -> Cps {
        Cps::new(cores, GCR, CPC, GIC).expect("valid configuration")
    }

    fn rd(cps: &mut Cps, cpu: u32, off: u64) -> u32 {
        cps.gcr_read(cpu, off, 4, 0).expect("GCR read") as u32
    }

    fn wr(cps: &mut Cps, cpu: u32, off: u64, v: u32) {
        cps.gcr_write(cpu, off, 4, u64::from(v), 0)
            .expect("GCR write");
    }

    #[test]
    fn bad_configurations_are_rejected() {
        assert_eq!(
            Cps::new(0, GCR, CPC, GIC),
            Err(CpsConfigError::BadCoreCount(0))
        );
        assert_eq!(
            Cps::new(65, GCR, CPC, GIC),
            Err(CpsConfigError::BadCoreCount(65))
        );
        assert!(matches!(
            Cps::new(2, GCR + 0x1000, CPC, GIC),
            Err(CpsConfigError::BadBase { what: "GCR", .. })
        ));
        assert!(matches!(
            Cps::new(2, GCR, CPC + 0x10, GIC),
            Err(CpsConfigError::BadBase { what: "CPC", .. })
        ));
        assert!(matches!(
            Cps::new(2, GCR, CPC, GIC + 0x8000),
            Err(CpsConfigError::BadBase { what: "GIC", .. })
        ));
        assert!(matches!(
            Cps::new(2, 1 << 48, CPC, GIC),
            Err(CpsConfigError::BadBase { what: "GCR", .. })
        ));
        let err = Cps::new(2, GCR, CPC, GIC + 0x8000).expect_err("misaligned");
        assert!(err.to_string().contains("GIC base"));
    }

    #[test]
    fn reset_state() {
        let cps = cps(4);
        assert_eq!(cps.cores(), 4);
        assert_eq!(cps.gcr_base(), GCR);
        assert!(cps.core_running(0));
        assert!(!cps.core_running(1));
        assert!(!cps.core_running(4), "no such core");
        assert_eq!(cps.cpc_window(), Some(CPC));
        assert_eq!(
            cps.gic_window(),
            None,
            "GIC disabled until Linux enables it"
        );
        assert_eq!(cps.l2sync_window(), None);
        assert!(!cps.has_events());
    }

    #[test]
    fn global_registers() {
        let mut cps = cps(4);
        assert_eq!(rd(&mut cps, 0, reg::CONFIG), 3, "PCORES = cores - 1");
        assert_eq!(rd(&mut cps, 0, reg::CONFIG + 4), 0);
        assert_eq!(rd(&mut cps, 0, reg::REV), 0x0700);
        assert_eq!(rd(&mut cps, 1, reg::GIC_STATUS), 1);
        assert_eq!(rd(&mut cps, 2, reg::CPC_STATUS), 1);
        wr(&mut cps, 0, reg::ACCESS, 0x0e);
        assert_eq!(rd(&mut cps, 3, reg::ACCESS), 0x0e);
        for off in [0x038, 0x040, 0x048, 0x04c, 0x050, 0x058] {
            wr(&mut cps, 0, off, 0xffff_ffff);
            assert_eq!(rd(&mut cps, 0, off), 0, "error register {off:#x}");
        }
        for off in (0x090..0x0d0).step_by(4) {
            wr(&mut cps, 0, off, 0xffff_0000);
            assert_eq!(rd(&mut cps, 0, off), 0, "region register {off:#x}");
        }
        assert_eq!(rd(&mut cps, 0, 0x6000), 0, "debug block");
        assert_eq!(rd(&mut cps, 0, 0x1ffc), 0);
    }

    #[test]
    fn gcr_base_is_fixed_but_cmdeftgt_is_writable() {
        let high = 0x10_0000_0000 + 0x1_0000;
        let mut cps = Cps::new(2, high, CPC, GIC).expect("valid");
        assert_eq!(rd(&mut cps, 0, reg::BASE), 0x0001_0000);
        assert_eq!(rd(&mut cps, 0, reg::BASE + 4), 0x10);
        wr(&mut cps, 0, reg::BASE, 0x1234_8003);
        wr(&mut cps, 0, reg::BASE + 4, 0x77);
        assert_eq!(rd(&mut cps, 0, reg::BASE), 0x0001_0003);
        assert_eq!(rd(&mut cps, 0, reg::BASE + 4), 0x10);
        assert_eq!(cps.gcr_base(), high);
        assert_eq!(cps.gcr_read(1, reg::BASE, 8, 0), Ok(high | 3));
    }

    #[test]
    fn base_registers_are_writable_in_halves_and_whole() {
        let mut cps = cps(2);
        // GIC: the driver writes the DT base | GICEN (high half first).
        wr(&mut cps, 0, reg::GIC_BASE + 4, 0x10);
        wr(&mut cps, 0, reg::GIC_BASE, 0x0004_0001 | 0x1_fffe);
        assert_eq!(cps.gic_window(), Some(0x10_0004_0000));
        assert_eq!(rd(&mut cps, 0, reg::GIC_BASE), 0x0004_0001);
        cps.gcr_write(0, reg::GIC_BASE, 8, GIC, 0).expect("64-bit");
        assert_eq!(cps.gic_window(), None);
        assert_eq!(cps.gcr_read(0, reg::GIC_BASE, 8, 0), Ok(GIC));
        // CPC: can be moved and disabled.
        cps.gcr_write(0, reg::CPC_BASE, 8, 0x10_0001_8001, 0)
            .expect("64-bit");
        assert_eq!(cps.cpc_window(), Some(0x10_0001_8000));
        wr(&mut cps, 0, reg::CPC_BASE, 0);
        assert_eq!(cps.cpc_window(), None);
        // L2 sync: stored.
        wr(&mut cps, 0, reg::L2_ONLY_SYNC_BASE, 0x1610_8fff);
        assert_eq!(rd(&mut cps, 0, reg::L2_ONLY_SYNC_BASE), 0x1610_8001);
        assert_eq!(cps.l2sync_window(), Some(0x1610_8000));
    }

    #[test]
    fn cpc_above_4_gib_starts_disabled() {
        let mut cps = Cps::new(2, GCR, 0x10_0002_0000, GIC).expect("valid");
        assert_eq!(cps.cpc_window(), None);
        assert_eq!(cps.gcr_read(0, reg::CPC_BASE, 8, 0), Ok(0x10_0002_0000));
    }

    #[test]
    fn core_local_registers_belong_to_the_accessing_core() {
        let mut cps = cps(4);
        for cpu in 0..4 {
            assert_eq!(rd(&mut cps, cpu, 0x2000 + reg::CX_ID), cpu);
            assert_eq!(rd(&mut cps, cpu, 0x2000 + reg::CX_CONFIG), 0);
            assert_eq!(rd(&mut cps, cpu, 0x2000 + reg::CX_RESET_BASE), 0xbfc0_0000);
        }
        wr(&mut cps, 1, 0x2000 + reg::CX_COHERENCE, 0x1ff);
        assert_eq!(rd(&mut cps, 1, 0x2000 + reg::CX_COHERENCE), 0xff);
        assert_eq!(rd(&mut cps, 0, 0x2000 + reg::CX_COHERENCE), 0);
        wr(&mut cps, 2, 0x2000 + reg::CX_RESET_EXT_BASE, 0x4000_0000);
        assert_eq!(
            rd(&mut cps, 2, 0x2000 + reg::CX_RESET_EXT_BASE),
            0x4000_0000
        );
        assert_eq!(rd(&mut cps, 0, 0x2000 + 0x38), 0, "unknown core register");
        assert_eq!(rd(&mut cps, 0, 0x2000 + reg::CX_RESET_RELEASE), 0);
        assert_eq!(rd(&mut cps, 3, 0x2000 + reg::CX_RESET_RELEASE), 1);
    }

    #[test]
    fn core_other_follows_the_accessing_cores_selection() {
        let mut cps = cps(4);
        wr(&mut cps, 0, 0x2000 + reg::CX_OTHER, 2 << 16 | 0xffff);
        wr(&mut cps, 1, 0x2000 + reg::CX_OTHER, 3 << 16);
        assert_eq!(rd(&mut cps, 0, 0x2000 + reg::CX_OTHER), 2 << 16);
        assert_eq!(rd(&mut cps, 0, 0x4000 + reg::CX_ID), 2);
        assert_eq!(rd(&mut cps, 1, 0x4000 + reg::CX_ID), 3);
        assert_eq!(rd(&mut cps, 2, 0x4000 + reg::CX_ID), 0, "core 2 selects 0");
        wr(&mut cps, 0, 0x4000 + reg::CX_COHERENCE, 0xff);
        assert_eq!(rd(&mut cps, 2, 0x2000 + reg::CX_COHERENCE), 0xff);
        // A selection naming no core reads 0 and ignores writes.
        wr(&mut cps, 0, 0x2000 + reg::CX_OTHER, 9 << 16);
        assert_eq!(rd(&mut cps, 0, 0x4000 + reg::CX_ID), 0);
        wr(&mut cps, 0, 0x4000 + reg::CX_RESET_RELEASE, 0);
        assert!(!cps.has_events());
    }

    #[test]
    fn reset_release_starts_a_powered_down_core_once() {
        let mut cps = cps(2);
        wr(&mut cps, 0, 0x2000 + reg::CX_OTHER, 1 << 16);
        wr(&mut cps, 0, 0x4000 + reg::CX_RESET_BASE, 0x8012_3fff);
        assert_eq!(rd(&mut cps, 0, 0x4000 + reg::CX_RESET_BASE), 0x8012_3000);
        wr(&mut cps, 0, 0x4000 + reg::CX_RESET_RELEASE, 1);
        assert!(!cps.has_events(), "non-zero keeps the core in reset");
        wr(&mut cps, 0, 0x4000 + reg::CX_RESET_RELEASE, 0);
        assert_eq!(
            cps.take_events(),
            vec![CpsEvent::StartCore {
                core: 1,
                reset_pc: 0xffff_ffff_8012_3000
            }]
        );
        assert!(cps.core_running(1));
        assert_eq!(rd(&mut cps, 0, 0x4000 + reg::CX_RESET_RELEASE), 0);
        wr(&mut cps, 0, 0x4000 + reg::CX_RESET_RELEASE, 0);
        assert!(cps.take_events().is_empty(), "already running");
    }

    #[test]
    fn window_views_are_cpu_mmio_devices() {
        let mut cps = cps(2);
        {
            let mut gcr = cps.gcr();
            assert_eq!(gcr.name(), "gcr");
            assert_eq!(gcr.read(1, 0x2028, 4, 0), Ok(1));
            gcr.write(1, 0x2008, 4, 0xff, 0).expect("write");
        }
        assert_eq!(rd(&mut cps, 1, 0x2008), 0xff);
        let mut cpc = cps.cpc();
        assert_eq!(cpc.name(), "cpc");
        cpc.write(0, 0x2010, 4, 1 << 16, 0).expect("write");
        assert_eq!(cpc.read(0, 0x2010, 4, 0), Ok(1 << 16));
    }

    #[test]
    fn bad_accesses_are_errors() {
        let mut cps = cps(2);
        for size in [0, 1, 2, 3, 5, 16] {
            assert_eq!(cps.gcr_read(0, 0, size, 0), Err(DeviceError));
            assert_eq!(cps.gcr_write(0, 0, size, 0, 0), Err(DeviceError));
        }
        for off in [2, 0x8000, u64::MAX - 3, u64::MAX] {
            assert_eq!(cps.gcr_read(0, off, 4, 0), Err(DeviceError));
            assert_eq!(cps.gcr_write(0, off, 4, 0, 0), Err(DeviceError));
        }
        assert_eq!(cps.gcr_read(0, 4, 8, 0), Err(DeviceError), "misaligned");
        assert_eq!(cps.gcr_read(0, 0x7ff8, 8, 0), Ok(0));
        assert_eq!(cps.gcr_read(2, 0, 4, 0), Err(DeviceError), "no CPU 2");
        assert_eq!(cps.gcr_write(7, 0, 4, 0, 0), Err(DeviceError), "no CPU 7");
    }

    #[test]
    fn state_round_trips_through_serde() {
        let mut cps = cps(3);
        wr(&mut cps, 0, 0x2000 + reg::CX_OTHER, 2 << 16);
        wr(&mut cps, 0, 0x4000 + reg::CX_RESET_RELEASE, 0);
        let json = serde_json::to_string(&cps).expect("serialize");
        let back: Cps = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, cps);
    }
}
