//! The Cluster Power Controller (CPC) registers of a [`Cps`], as a CM 2.5
//! system's Linux uses them.
//!
//! Blocks: 0x0000 global, 0x2000 core-local (the accessing core),
//! 0x4000 core-other (the core selected by the accessing core's
//! CPC_Cx_OTHER.CORENUM, bits 23:16 — with CM < 3 the CPC has its own
//! selection, independent of GCR_Cx_OTHER). All registers are 32-bit.
//!
//! | offset | register | model |
//! |--------|----------|-------|
//! | global 0x000..0x1fff | CPC_ACCESS, SEQDEL, RAIL, RESETLEN, REVISION, … | read 0, writes ignored (Linux 6.1 uses none of them with CM 2.5) |
//! | +0x00 | CPC_Cx_CMD | writing runs the command in bits 3:0 (below); reads the last command |
//! | +0x08 | CPC_Cx_STAT_CONF (RO) | SEQSTATE 22:19 = U6 (7) while the core runs, D0 (0) while powered down; PWRDN_IMPL (16) = 1; CLKGAT_IMPL (17) = 0; EJTAG_PROBE (15) = 0 |
//! | +0x10 | CPC_Cx_OTHER | CORENUM 23:16, stored (meaningful in the core-local block) |
//! | +0x30 | CPC_Cx_VP_RUNNING (RO) | bit 0 = the core runs |
//! | other | VP_STOP, VP_RUN (CM 3 only), … | read 0, writes ignored |
//!
//! Commands (CPC_Cx_CMD bits 3:0):
//!
//! * **RESET (4)**: (re)starts the core at its GCR_Cx_RESET_BASE —
//!   [`CpsEvent::StartCore`](super::CpsEvent::StartCore), whether it was
//!   powered down or running. This is what `boot_core()` writes.
//! * **PWRUP (3)**: starts a powered-down core like RESET; on a running core
//!   it does nothing. `mips_smp_send_ipi_mask()` writes it again and again
//!   to a core that has not yet marked itself coherent, so it must not
//!   restart the core.
//! * **PWRDOWN (2)**: stops a running core —
//!   [`CpsEvent::StopCore`](super::CpsEvent::StopCore) — and SEQSTATE
//!   becomes D0. Linux's CPU hotplug has the dying core write it to its own
//!   core-local block.
//! * **CLOCKOFF (1)**: clock gating is not implemented (STAT_CONF.CLKGAT_IMPL
//!   = 0, so Linux never uses it); it acts as PWRDOWN.
//! * Other values are stored in CMD and do nothing else.

use super::cm::Cps;
use super::{read_words, write_words, CPC_WINDOW_SIZE};
use crate::device::DeviceError;

/// CPC register offsets and fields.
pub(super) mod reg {
    /// Core-local block.
    pub const CORE_LOCAL: u64 = 0x2000;
    /// Core-other block.
    pub const CORE_OTHER: u64 = 0x4000;
    /// Size of a core block.
    pub const CORE_BLOCK_SIZE: u64 = 0x2000;

    pub const CX_CMD: u64 = 0x00;
    pub const CX_STAT_CONF: u64 = 0x08;
    pub const CX_OTHER: u64 = 0x10;
    pub const CX_VP_RUNNING: u64 = 0x30;

    /// CPC_Cx_CMD.CMD.
    pub const CMD_MASK: u32 = 0xf;
    pub const CMD_CLOCKOFF: u32 = 1;
    pub const CMD_PWRDOWN: u32 = 2;
    pub const CMD_PWRUP: u32 = 3;
    pub const CMD_RESET: u32 = 4;

    /// CPC_Cx_STAT_CONF.SEQSTATE position.
    pub const SEQSTATE_SHIFT: u32 = 19;
    /// SEQSTATE D0: powered down.
    pub const SEQSTATE_D0: u32 = 0x0;
    /// SEQSTATE U6: powered up and coherent.
    pub const SEQSTATE_U6: u32 = 0x7;
    /// CPC_Cx_STAT_CONF.PWRDN_IMPL.
    pub const PWRDN_IMPL: u32 = 1 << 16;

    /// CPC_Cx_OTHER.CORENUM (CM < 3).
    pub const OTHER_CORENUM_MASK: u32 = 0x00ff_0000;
    pub const OTHER_CORENUM_SHIFT: u32 = 16;
}

impl Cps {
    /// Reads the CPC window on behalf of CPU `cpu`.
    pub fn cpc_read(
        &mut self,
        cpu: u32,
        offset: u64,
        size: u8,
        _now_ns: u64,
    ) -> Result<u64, DeviceError> {
        let cpu = self.check_cpu(cpu)?;
        read_words(offset, size, CPC_WINDOW_SIZE, |off| {
            self.cpc_read_word(cpu, off)
        })
    }

    /// Writes the CPC window on behalf of CPU `cpu`.
    pub fn cpc_write(
        &mut self,
        cpu: u32,
        offset: u64,
        size: u8,
        value: u64,
        _now_ns: u64,
    ) -> Result<(), DeviceError> {
        let cpu = self.check_cpu(cpu)?;
        write_words(offset, size, value, CPC_WINDOW_SIZE, |off, v| {
            self.cpc_write_word(cpu, off, v)
        })
    }

    /// The core a CPC access at `offset` by `cpu` targets and the offset in
    /// its block: `None` for the global block, `Some((None, _))` when the
    /// core-other selection names no existing core.
    fn cpc_core_block(&self, cpu: usize, offset: u64) -> Option<(Option<usize>, u64)> {
        let block = offset & !(reg::CORE_BLOCK_SIZE - 1);
        let inner = offset & (reg::CORE_BLOCK_SIZE - 1);
        match block {
            reg::CORE_LOCAL => Some((Some(cpu), inner)),
            reg::CORE_OTHER => {
                let other = (self.cores[cpu].cpc_other >> reg::OTHER_CORENUM_SHIFT) as usize;
                Some(((other < self.cores.len()).then_some(other), inner))
            }
            _ => None,
        }
    }

    fn cpc_read_word(&self, cpu: usize, offset: u64) -> u32 {
        let Some((Some(core), inner)) = self.cpc_core_block(cpu, offset) else {
            return 0;
        };
        let c = &self.cores[core];
        match inner {
            reg::CX_CMD => c.cpc_cmd,
            reg::CX_STAT_CONF => {
                let seq = if c.running {
                    reg::SEQSTATE_U6
                } else {
                    reg::SEQSTATE_D0
                };
                seq << reg::SEQSTATE_SHIFT | reg::PWRDN_IMPL
            }
            reg::CX_OTHER => c.cpc_other,
            reg::CX_VP_RUNNING => u32::from(c.running),
            _ => 0,
        }
    }

    fn cpc_write_word(&mut self, cpu: usize, offset: u64, value: u32) {
        let Some((Some(core), inner)) = self.cpc_core_block(cpu, offset) else {
            return;
        };
        match inner {
            reg::CX_CMD => {
                let cmd = value & reg::CMD_MASK;
                self.cores[core].cpc_cmd = cmd;
                match cmd {
                    reg::CMD_RESET => self.start_core(core),
                    reg::CMD_PWRUP if !self.cores[core].running => self.start_core(core),
                    reg::CMD_PWRDOWN | reg::CMD_CLOCKOFF => self.stop_core(core),
                    _ => {}
                }
            }
            reg::CX_OTHER => self.cores[core].cpc_other = value & reg::OTHER_CORENUM_MASK,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::CpsEvent;
    use super::*;

    fn cps(cores: u32) -> Cps {
        Cps::new(cores, 0x1610_0000, 0x1620_0000, 0x1612_0000).expect("valid")
    }

    fn rd(cps: &mut Cps, cpu: u32, off: u64) -> u32 {
        cps.cpc_read(cpu, off, 4, 0).expect("CPC read") as u32
    }

    fn wr(cps: &mut Cps, cpu: u32, off: u64, v: u32) {
        cps.cpc_write(cpu, off, 4, u64::from(v), 0)
            .expect("CPC write");
    }

    fn seqstate(cps: &mut Cps, cpu: u32, off: u64) -> u32 {
        (rd(cps, cpu, off) >> 19) & 0xf
    }

    #[test]
    fn stat_conf_reports_power_state() {
        let mut cps = cps(3);
        assert_eq!(seqstate(&mut cps, 0, 0x2008), 7, "core 0 runs");
        assert_eq!(seqstate(&mut cps, 1, 0x2008), 0, "core 1 is down");
        let stat = rd(&mut cps, 0, 0x2008);
        assert_eq!(stat & (1 << 17), 0, "no clock gating");
        assert_ne!(stat & (1 << 16), 0, "power gating");
        assert_eq!(stat & (1 << 15), 0, "no EJTAG probe");
        assert_eq!(rd(&mut cps, 0, 0x2030), 1);
        assert_eq!(rd(&mut cps, 2, 0x2030), 0);
    }

    #[test]
    fn core_other_uses_the_cpc_selection() {
        let mut cps = cps(3);
        wr(&mut cps, 0, 0x2010, 0xff02_ffff);
        assert_eq!(rd(&mut cps, 0, 0x2010), 0x0002_0000);
        assert_eq!(seqstate(&mut cps, 0, 0x4008), 0, "core 2 is down");
        // The GCR selection does not steer the CPC with CM < 3.
        cps.gcr_write(0, 0x2018, 4, 0, 0).expect("GCR write");
        assert_eq!(seqstate(&mut cps, 0, 0x4008), 0);
        // A selection naming no core reads 0 and ignores writes.
        wr(&mut cps, 0, 0x2010, 5 << 16);
        assert_eq!(rd(&mut cps, 0, 0x4008), 0);
        wr(&mut cps, 0, 0x4000, 4);
        assert!(!cps.has_events());
    }

    #[test]
    fn reset_starts_and_restarts_pwrup_only_starts() {
        let mut cps = cps(2);
        wr(&mut cps, 0, 0x2010, 1 << 16);
        wr(&mut cps, 0, 0x4000, 3);
        assert_eq!(
            cps.take_events(),
            vec![CpsEvent::StartCore {
                core: 1,
                reset_pc: 0xffff_ffff_bfc0_0000
            }]
        );
        assert_eq!(rd(&mut cps, 0, 0x4000), 3, "CMD reads the last command");
        for _ in 0..5 {
            wr(&mut cps, 0, 0x4000, 3);
        }
        assert!(cps.take_events().is_empty(), "PWRUP on a running core");
        wr(&mut cps, 0, 0x4000, 4);
        assert_eq!(
            cps.take_events(),
            vec![CpsEvent::StartCore {
                core: 1,
                reset_pc: 0xffff_ffff_bfc0_0000
            }],
            "RESET restarts a running core"
        );
    }

    #[test]
    fn pwrdown_and_clockoff_stop_a_core() {
        let mut cps = cps(2);
        wr(&mut cps, 0, 0x2010, 1 << 16);
        wr(&mut cps, 0, 0x4000, 4);
        cps.take_events();
        // Hotplug: the dying core powers itself down through core-local.
        wr(&mut cps, 1, 0x2000, 2);
        assert_eq!(cps.take_events(), vec![CpsEvent::StopCore { core: 1 }]);
        assert_eq!(seqstate(&mut cps, 0, 0x4008), 0, "D0");
        wr(&mut cps, 0, 0x4000, 2);
        assert!(cps.take_events().is_empty(), "already down");
        wr(&mut cps, 0, 0x4000, 3);
        wr(&mut cps, 0, 0x4000, 1);
        assert_eq!(
            cps.take_events(),
            vec![
                CpsEvent::StartCore {
                    core: 1,
                    reset_pc: 0xffff_ffff_bfc0_0000
                },
                CpsEvent::StopCore { core: 1 }
            ]
        );
        assert!(!cps.core_running(1));
    }

    #[test]
    fn other_commands_and_global_registers_do_nothing() {
        let mut cps = cps(2);
        wr(&mut cps, 0, 0x2010, 1 << 16);
        for cmd in [0, 5, 6, 0xf, 0xfff0] {
            wr(&mut cps, 0, 0x4000, cmd);
        }
        assert!(!cps.has_events());
        for off in [0x000, 0x008, 0x020, 0x138, 0x140, 0x1ffc, 0x6000, 0x7ffc] {
            wr(&mut cps, 0, off, 0xffff_ffff);
            assert_eq!(rd(&mut cps, 0, off), 0, "offset {off:#x}");
        }
        wr(&mut cps, 0, 0x4020, 0xf);
        wr(&mut cps, 0, 0x4028, 1);
        assert!(!cps.has_events(), "VP_STOP/VP_RUN are CM 3 only");
    }

    #[test]
    fn bad_accesses_are_errors() {
        let mut cps = cps(2);
        assert_eq!(cps.cpc_read(0, 0x2000, 2, 0), Err(DeviceError));
        assert_eq!(cps.cpc_write(0, 0x2001, 4, 4, 0), Err(DeviceError));
        assert_eq!(cps.cpc_write(0, 0x8000, 4, 4, 0), Err(DeviceError));
        assert_eq!(cps.cpc_read(2, 0x2008, 4, 0), Err(DeviceError));
        assert!(!cps.has_events());
        // An 8-byte access covers CMD and its neighbour.
        assert_eq!(cps.cpc_read(0, 0x2008, 8, 0), Ok(0x7 << 19 | 1 << 16));
    }
}
