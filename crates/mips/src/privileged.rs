//! Privileged instructions: CP0 moves, TLB maintenance, ERET, WAIT, DI/EI.
//!
//! All of them require kernel mode or Status.CU0; otherwise they raise
//! Coprocessor Unusable (CE = 0), which is how a monitor running the guest
//! kernel in supervisor mode gets to emulate them.

use crate::cp0::{self, cause, reg, status};
use crate::cpu::{Cpu, Flow};
use crate::exception::{ExcCode, Exception};
use crate::exec::sx32;
use crate::instr::Instr;
use crate::mmu::Privilege;
use crate::tlb::{TlbEntry, LO_G};

/// Index.P: set by `tlbp` when no entry matches.
const INDEX_P: u64 = 1 << 31;

impl Cpu {
    /// True when privileged instructions may execute.
    #[inline]
    pub fn cop0_usable(&self) -> bool {
        self.privilege == Privilege::Kernel || self.cp0.status & status::CU0 != 0
    }

    pub(crate) fn exec_privileged(&mut self, ins: &Instr, pc: u64) -> Result<Flow, Exception> {
        if !self.cop0_usable() {
            return Err(Exception::cop_unusable(0));
        }
        match *ins {
            Instr::Cache { .. } => Ok(Flow::Next),
            Instr::Mfc0 { rt, rd, sel } => {
                let v = self.read_cp0_at(rd, sel, self.now(pc));
                self.set_gpr(rt, sx32(v));
                Ok(Flow::Next)
            }
            Instr::Dmfc0 { rt, rd, sel } => {
                let v = self.read_cp0_at(rd, sel, self.now(pc));
                self.set_gpr(rt, v);
                Ok(Flow::Next)
            }
            Instr::Mtc0 { rt, rd, sel } => {
                self.write_cp0_at(rd, sel, sx32(self.gpr(rt)), false, self.now(pc));
                Ok(Flow::Stop)
            }
            Instr::Dmtc0 { rt, rd, sel } => {
                self.write_cp0_at(rd, sel, self.gpr(rt), true, self.now(pc));
                Ok(Flow::Stop)
            }
            Instr::Di { rt } => {
                let old = self.cp0.status;
                self.cp0.status &= !status::IE;
                self.set_gpr(rt, sx32(old));
                Ok(Flow::Stop)
            }
            Instr::Ei { rt } => {
                let old = self.cp0.status;
                self.cp0.status |= status::IE;
                self.set_gpr(rt, sx32(old));
                self.update_interrupts();
                Ok(Flow::Stop)
            }
            // No shadow register sets: the previous set is the current one.
            Instr::Rdpgpr { rd, rt } | Instr::Wrpgpr { rd, rt } => {
                self.set_gpr(rd, self.gpr(rt));
                Ok(Flow::Next)
            }
            Instr::Tlbr => {
                let e = *self.tlb.entry((self.cp0.index & 0x3f) as usize);
                let g = if e.global { LO_G } else { 0 };
                self.cp0.pagemask = e.pagemask;
                self.cp0.entrylo0 = e.lo[0] | g;
                self.cp0.entrylo1 = e.lo[1] | g;
                self.set_entryhi(e.entryhi);
                Ok(Flow::Stop)
            }
            Instr::Tlbwi => {
                self.tlb_write_from_cp0((self.cp0.index & 0x3f) as usize);
                Ok(Flow::Stop)
            }
            Instr::Tlbwr => {
                let index = self.random as usize;
                self.random = if self.random as u64 <= self.cp0.wired {
                    cp0::TLB_ENTRIES as u32 - 1
                } else {
                    self.random - 1
                };
                self.tlb_write_from_cp0(index);
                Ok(Flow::Stop)
            }
            Instr::Tlbp => {
                self.cp0.index = match self.tlb.probe(self.cp0.entryhi) {
                    Some(i) => i as u64,
                    None => INDEX_P | (self.cp0.index & 0x3f),
                };
                Ok(Flow::Next)
            }
            Instr::Eret => {
                // The mode changes at the end of the eret's cycle.
                let end = self.now(pc) + 1;
                let target = self.eret(end);
                if self.services.is_some() && self.privilege == Privilege::User {
                    self.service_exit(end);
                }
                Ok(Flow::Jump(target))
            }
            Instr::Wait => Ok(Flow::Halt),
            // No EJTAG debug mode.
            Instr::Deret => Err(Exception::new(ExcCode::Ri)),
            _ => Err(Exception::new(ExcCode::Ri)),
        }
    }

    /// ERET, ending at cycle `end`: leave exception (or error) level;
    /// returns the resume address.
    fn eret(&mut self, end: u64) -> u64 {
        let old = self.cp0.status;
        let target = if old & status::ERL != 0 {
            self.cp0.status &= !status::ERL;
            self.cp0.errorepc
        } else {
            self.cp0.status &= !status::EXL;
            self.cp0.epc
        };
        self.ll_bit = false;
        self.status_changed_at(old, end);
        target
    }

    /// `tlbwi`/`tlbwr`: writes entry `index` from the CP0 registers.
    fn tlb_write_from_cp0(&mut self, index: usize) {
        let c = &self.cp0;
        let new = TlbEntry::from_registers(c.pagemask, c.entryhi, c.entrylo0, c.entrylo1);
        self.tlb_write(index, new);
        self.stats.tlb_writes += 1;
        tracing::trace!(
            target: "mips::tlb",
            cpu = self.cpu_num,
            "write [{index}] hi={:#x} mask={:#x} lo0={:#x} lo1={:#x}{}",
            new.entryhi,
            new.pagemask,
            new.lo[0],
            new.lo[1],
            if new.global { " G" } else { "" }
        );
    }

    /// The architectural TLB.
    pub fn tlb(&self) -> &crate::tlb::Tlb {
        &self.tlb
    }

    /// Replaces TLB entry `index` (as `tlbwi` would, but without touching
    /// CP0) and drops every cached translation derived from the old or the
    /// new entry. Returns the old entry. This is how a monitor installs
    /// translations.
    pub fn tlb_write(&mut self, index: usize, entry: TlbEntry) -> TlbEntry {
        let old = self.tlb.write(index, entry);
        let mut ranges = [(0u64, 0u64, false); 4];
        let mut n = 0;
        for e in [old, entry] {
            let (start, end) = e.virtual_range();
            // Region 2 (xkphys, mapped in VM mode) entries translate every
            // cache attribute (bits 61:59) of their addresses.
            ranges[n] = (start, end, start >> 62 == 2 && self.vm_mode);
            n += 1;
            // Region 3 entries also translate the sign-extended 32-bit
            // compatibility segments (KSSEG, KSEG3), whose addresses have
            // bits 61..SEGBITS set where the entry's (XKSEG form) are clear.
            if start >> 62 == 3 {
                let compat = !((1u64 << cp0::SEGBITS) - 1) & !(3 << 62);
                let alias = start | compat;
                ranges[n] = (alias, alias.wrapping_add(end.wrapping_sub(start)), false);
                n += 1;
            }
        }
        self.stlb.flush_ranges(&ranges[..n]);
        old
    }

    fn set_entryhi(&mut self, v: u64) {
        let old_asid = self.cp0.asid();
        self.cp0.entryhi = v & cp0::ENTRYHI_MASK;
        if self.cp0.asid() != old_asid {
            self.stlb.flush();
        }
    }

    /// Applies the side effects of a Status change from `old`.
    pub(crate) fn status_changed(&mut self, old: u64) {
        self.status_changed_at(old, self.cycles);
    }

    /// [`Self::status_changed`] by an instruction that ends at cycle `at`
    /// (when the new privilege level starts to be accounted).
    pub(crate) fn status_changed_at(&mut self, old: u64, at: u64) {
        let new = self.cp0.status;
        if (old ^ new) & (status::ERL | status::KX | status::SX | status::UX) != 0 {
            self.stlb.flush();
        }
        self.set_privilege_at(at);
        self.update_interrupts();
        self.force_check();
    }

    /// Value of CP0 register (`rd`, `sel`) as DMFC0 returns it (32-bit
    /// registers sign-extended), now. Unimplemented registers read zero.
    /// For a monitor emulating MFC0/DMFC0.
    pub fn read_cp0(&self, rd: u8, sel: u8) -> u64 {
        self.read_cp0_at(rd, sel, self.cycles)
    }

    /// Writes CP0 register (`rd`, `sel`) now, as MTC0 (`wide` false; `v`
    /// already sign-extended) or DMTC0 (`wide` true) would, with masks and
    /// side effects. For a monitor emulating MTC0/DMTC0.
    pub fn write_cp0(&mut self, rd: u8, sel: u8, v: u64, wide: bool) {
        self.write_cp0_at(rd, sel, v, wide, self.cycles);
    }

    /// [`Self::read_cp0`] at cycle `now` (time-dependent registers: Count).
    pub(crate) fn read_cp0_at(&self, rd: u8, sel: u8, now: u64) -> u64 {
        let c = &self.cp0;
        let v32 = |v: u64| sx32(v);
        match (rd, sel) {
            (reg::INDEX, 0) => v32(c.index),
            (reg::RANDOM, 0) => self.random as u64,
            (reg::ENTRYLO0, 0) => c.entrylo0,
            (reg::ENTRYLO1, 0) => c.entrylo1,
            (reg::CONTEXT, 0) => c.context,
            (reg::CONTEXT, 2) => c.userlocal,
            (reg::PAGEMASK, 0) => c.pagemask,
            (reg::WIRED, 0) => c.wired,
            (reg::HWRENA, 0) => c.hwrena,
            (reg::BADVADDR, 0) => c.badvaddr,
            (reg::COUNT, 0) => v32(self.count_at(now) as u64),
            (reg::ENTRYHI, 0) => c.entryhi,
            (reg::COMPARE, 0) => v32(c.compare as u64),
            (reg::STATUS, 0) => v32(c.status),
            (reg::STATUS, 1) => v32(c.intctl),
            (reg::CAUSE, 0) => v32(c.cause),
            (reg::EPC, 0) => c.epc,
            (reg::PRID, 0) => cp0::PRID,
            (reg::PRID, 1) => v32(c.ebase),
            (reg::PRID, 3) => c.cmgcrbase,
            (reg::CONFIG, 0) => v32(c.config0),
            (reg::CONFIG, 1) => v32(cp0::CONFIG1),
            (reg::CONFIG, 2) => v32(cp0::CONFIG2),
            (reg::CONFIG, 3) => v32(c.config3),
            (reg::CONFIG, 7) => v32(cp0::CONFIG7),
            (reg::LLADDR, 0) => c.lladdr,
            (reg::XCONTEXT, 0) => c.xcontext,
            (reg::TAGLO, 0 | 2) => c.taglo,
            (reg::TAGLO, 1 | 3) => c.datalo,
            (reg::TAGHI, 0 | 2) => c.taghi,
            (reg::TAGHI, 1 | 3) => c.datahi,
            (reg::ERROREPC, 0) => c.errorepc,
            (reg::KSCRATCH, 0) => c.desave,
            (reg::KSCRATCH, 2..=7) => c.kscratch[(sel - 2) as usize],
            _ => 0,
        }
    }

    /// [`Self::write_cp0`] at cycle `now`.
    pub(crate) fn write_cp0_at(&mut self, rd: u8, sel: u8, v: u64, wide: bool, now: u64) {
        match (rd, sel) {
            (reg::INDEX, 0) => self.cp0.index = (self.cp0.index & INDEX_P) | (v & 0x3f),
            (reg::ENTRYLO0, 0) => self.cp0.entrylo0 = entrylo(v, wide),
            (reg::ENTRYLO1, 0) => self.cp0.entrylo1 = entrylo(v, wide),
            (reg::CONTEXT, 0) => {
                self.cp0.context =
                    (v & cp0::CONTEXT_PTEBASE) | (self.cp0.context & !cp0::CONTEXT_PTEBASE)
            }
            (reg::CONTEXT, 2) => self.cp0.userlocal = v,
            (reg::PAGEMASK, 0) => self.cp0.pagemask = v & cp0::PAGEMASK_MASK,
            (reg::WIRED, 0) => {
                self.cp0.wired = v & 0x3f;
                self.random = cp0::TLB_ENTRIES as u32 - 1;
            }
            (reg::HWRENA, 0) => self.cp0.hwrena = v & cp0::HWRENA_MASK,
            (reg::COUNT, 0) => self.write_count(v as u32, now),
            (reg::ENTRYHI, 0) => self.set_entryhi(v),
            (reg::COMPARE, 0) => {
                self.cp0.compare = v as u32;
                self.cp0.cause &= !cause::TI;
                self.update_interrupts();
                self.reschedule_timer(now);
            }
            (reg::STATUS, 0) => {
                let old = self.cp0.status;
                self.cp0.status = (old & !status::WRITABLE) | (v & status::WRITABLE);
                self.status_changed_at(old, now + 1);
            }
            (reg::STATUS, 1) => {
                self.cp0.intctl =
                    (self.cp0.intctl & !cp0::INTCTL_WRITABLE) | (v & cp0::INTCTL_WRITABLE)
            }
            (reg::CAUSE, 0) => {
                self.cp0.cause = (self.cp0.cause & !cause::WRITABLE) | (v & cause::WRITABLE);
                self.update_interrupts();
            }
            (reg::EPC, 0) => self.cp0.epc = v,
            (reg::PRID, 1) => {
                self.cp0.ebase = (self.cp0.ebase & !cp0::EBASE_WRITABLE) | (v & cp0::EBASE_WRITABLE)
            }
            (reg::CONFIG, 0) => {
                self.cp0.config0 =
                    (self.cp0.config0 & !cp0::CONFIG0_WRITABLE) | (v & cp0::CONFIG0_WRITABLE)
            }
            (reg::XCONTEXT, 0) => {
                self.cp0.xcontext =
                    (v & cp0::XCONTEXT_PTEBASE) | (self.cp0.xcontext & !cp0::XCONTEXT_PTEBASE)
            }
            (reg::TAGLO, 0 | 2) => self.cp0.taglo = v,
            (reg::TAGLO, 1 | 3) => self.cp0.datalo = v,
            (reg::TAGHI, 0 | 2) => self.cp0.taghi = v,
            (reg::TAGHI, 1 | 3) => self.cp0.datahi = v,
            (reg::ERROREPC, 0) => self.cp0.errorepc = v,
            (reg::KSCRATCH, 0) => self.cp0.desave = v,
            (reg::KSCRATCH, 2..=7) => self.cp0.kscratch[(sel - 2) as usize] = v,
            // Read-only or unimplemented (Random, BadVAddr, PRId, Config1-7,
            // LLAddr, CMGCRBase, watch, performance, ErrCtl, ...): ignored.
            _ => {}
        }
        self.force_check();
    }
}

/// EntryLo as written: MTC0 carries 30 bits (PFN up to bit 29), DMTC0 all
/// implemented bits; fill bits read zero.
fn entrylo(v: u64, wide: bool) -> u64 {
    let v = if wide { v } else { v & 0x3fff_ffff };
    v & cp0::ENTRYLO_MASK
}
