//! What a virtual machine monitor needs from the CPU.
//!
//! A monitor runs a guest kernel in supervisor mode on a CPU in *VM mode*
//! ([`Cpu::set_vm_mode`]): there, supervisor code may use every kernel
//! segment, and the segments that are unmapped for a real kernel (kseg0,
//! kseg1, xkphys) are translated through the TLB like mapped ones, so the
//! monitor decides where the guest's "physical" memory lives. Exceptions go
//! to the monitor ([`crate::TrapDelivery::Native`]).
//!
//! The monitor keeps each virtual CPU's privileged state (virtual CP0, the
//! guest's view of its TLB) in a second, *shadow* [`Cpu`] that never runs
//! code: it executes the privileged instructions the guest traps on
//! ([`Cpu::emulate_privileged`]) and takes the exceptions the monitor
//! reflects to the guest ([`Cpu::take_exception`]), with exactly the
//! architecture's semantics.

use crate::cp0::{cause, status};
use crate::cpu::{Cpu, Flow};
use crate::exception::Exception;
use crate::instr::Instr;
use crate::tlb::TlbEntry;

/// What an emulated privileged instruction did (see [`Cpu::emulate_privileged`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Emulated {
    /// Done; continue with the next instruction.
    Next,
    /// `tlbwi`/`tlbwr` replaced TLB entry `index`, which held `old`.
    TlbWritten {
        /// The entry written.
        index: usize,
        /// What it held before.
        old: TlbEntry,
    },
    /// `eret`: continue at this address (no delay slot).
    Eret(u64),
    /// `wait`: the CPU idles until an interrupt is asserted.
    Wait,
}

impl Cpu {
    /// Turns VM mode on or off (see the module documentation).
    pub fn set_vm_mode(&mut self, on: bool) {
        if self.vm_mode != on {
            self.vm_mode = on;
            self.stlb.flush();
            self.force_check();
        }
    }

    /// True in VM mode.
    pub fn vm_mode(&self) -> bool {
        self.vm_mode
    }

    /// Executes the privileged instruction `ins`, found at `pc`, on this
    /// CPU's state as the CPU itself would: an error is the exception the
    /// instruction raises (Coprocessor Unusable outside kernel mode, Reserved
    /// Instruction for what is not privileged). The program counter is left
    /// alone.
    pub fn emulate_privileged(&mut self, ins: &Instr, pc: u64) -> Result<Emulated, Exception> {
        // Time-dependent registers (Count) read the CPU's clock as it is.
        self.block_pc = pc;
        let written = match *ins {
            Instr::Tlbwi => Some((self.cp0.index & 0x3f) as usize),
            Instr::Tlbwr => Some(self.random as usize),
            _ => None,
        };
        let old = written.map(|i| *self.tlb.entry(i));
        let flow = self.exec_privileged(ins, pc)?;
        Ok(match (flow, written, old) {
            (_, Some(index), Some(old)) => Emulated::TlbWritten { index, old },
            (Flow::Jump(target), ..) => Emulated::Eret(target),
            (Flow::Halt, ..) => Emulated::Wait,
            _ => Emulated::Next,
        })
    }

    /// Takes exception `e` raised by the instruction at `pc` (in a branch
    /// delay slot when `in_delay_slot`; then `pc` is the delay slot's
    /// address) exactly as the hardware does through its vectors: CP0 is
    /// updated and the program counter moves to the vector.
    pub fn take_exception(&mut self, e: Exception, pc: u64, in_delay_slot: bool) {
        let epc = self.count_exception(&e, pc, in_delay_slot);
        self.deliver_to_vector(e, epc, in_delay_slot);
    }

    /// Moves the clock of a CPU that is not executing (a shadow) forward to
    /// `cycles`; its timer fires if Count passes Compare.
    pub fn advance_clock(&mut self, cycles: u64) {
        if cycles <= self.cycles {
            return;
        }
        self.cycles = cycles;
        if self.cycles >= self.timer_deadline {
            self.cp0.cause |= cause::TI;
            // The next match is a full Count period after the one passed.
            while self.timer_deadline <= self.cycles {
                self.timer_deadline += 2u64 << 32;
            }
            self.update_interrupts();
        }
    }

    /// True when an interrupt would be taken now (enabled, unmasked,
    /// asserted, not at exception level).
    pub fn interrupt_would_be_taken(&self) -> bool {
        self.interrupt_pending()
    }

    /// True when some interrupt line enabled in Status.IM is asserted: what
    /// ends a `WAIT`, whatever Status.IE says.
    pub fn interrupt_asserted(&self) -> bool {
        self.cp0.cause & self.cp0.status & status::IM != 0
    }

    /// Invalidates every TLB entry, and every translation cached from them.
    pub fn flush_tlb(&mut self) {
        for i in 0..crate::cp0::TLB_ENTRIES {
            self.tlb.write(i, TlbEntry::default());
        }
        self.stlb.flush();
    }

    /// Charges `n` cycles of work done on this CPU outside its instructions
    /// (a monitor's trap handling).
    pub fn spend_cycles(&mut self, n: u64) {
        self.cycles += n;
        self.exception_cycles += n;
    }

    /// Copies what a program sees of `other`'s execution state: general
    /// registers, HI/LO, PC, FPU, the LL link and a pending delay slot. The
    /// CPU then runs that context, so a halt it was in ends.
    pub fn copy_registers_from(&mut self, other: &Cpu) {
        self.gpr = other.gpr;
        self.hi = other.hi;
        self.lo = other.lo;
        self.pc = other.pc;
        self.fpu = other.fpu.clone();
        self.ll_bit = other.ll_bit;
        self.ll_va = other.ll_va;
        self.ll_value = other.ll_value;
        self.delay_target = other.delay_target;
        // The context loaded here runs: a halt of the previous one ends.
        self.halted = false;
        self.force_check();
    }

    /// True when the CPU stopped between a taken branch and its delay slot
    /// (at a page boundary); it must run on before an exception can be
    /// taken at `pc`.
    pub fn in_delay_slot(&self) -> bool {
        self.delay_target.is_some()
    }

    /// Sets CP0 Count to `value` now.
    pub fn set_count(&mut self, value: u32) {
        self.write_count(value, self.cycles);
    }

    /// Sets Status directly (as a monitor configures the CPU a guest runs
    /// on), with every derived state updated.
    pub fn set_status(&mut self, value: u64) {
        let old = self.cp0.status;
        self.cp0.status = value;
        self.status_changed(old);
    }

    /// Drops the LL link (a monitor switched contexts or emulated an
    /// exception return).
    pub fn clear_ll(&mut self) {
        self.ll_bit = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cp0::reg;
    use crate::exception::ExcCode;
    use crate::mmu::{Access, Privilege};
    use crate::tlb::{LO_D, LO_G, LO_V};

    fn kernel_cpu() -> Cpu {
        let mut c = Cpu::new(0);
        c.set_status(status::KX | status::SX | status::UX);
        c
    }

    #[test]
    fn vm_mode_maps_kernel_segments_for_supervisor() {
        let mut c = Cpu::new(0);
        c.set_status(status::KX | status::SX | status::UX | (1 << status::KSU_SHIFT));
        assert_eq!(c.privilege(), Privilege::Supervisor);
        // Without VM mode, kseg0 is out of reach for supervisor code.
        let e = c
            .translate(0xffff_ffff_8010_0000, Access::Load)
            .unwrap_err();
        assert_eq!(e.code, ExcCode::AdEL);
        c.set_vm_mode(true);
        // In VM mode it is a TLB refill...
        let e = c
            .translate(0xffff_ffff_8010_0000, Access::Load)
            .unwrap_err();
        assert!(e.refill && e.code == ExcCode::TlbL);
        // ... until the monitor maps it (here to machine page 0x345).
        let hi = 0xffff_ffff_8010_0000u64 & crate::cp0::ENTRYHI_MASK;
        let lo = (0x345 << 6) | LO_V | LO_D | LO_G;
        c.tlb_write(0, TlbEntry::from_registers(0, hi, lo, lo));
        let t = c.translate(0xffff_ffff_8010_0123, Access::Store).unwrap();
        assert_eq!(t.pa, 0x34_5123);
        // xkphys too, whatever its cache attribute, and beyond PABITS fails.
        let e = c
            .translate(0x9000_0000_1fc0_0000, Access::Load)
            .unwrap_err();
        assert!(e.refill);
        let e = c
            .translate(0x9000_1000_0000_0000, Access::Load)
            .unwrap_err();
        assert_eq!(e.code, ExcCode::AdEL);
        // User mode still cannot touch kernel segments.
        c.set_status(status::KX | status::SX | status::UX | (2 << status::KSU_SHIFT));
        let e = c
            .translate(0xffff_ffff_8010_0000, Access::Load)
            .unwrap_err();
        assert_eq!(e.code, ExcCode::AdEL);
    }

    #[test]
    fn tlb_writes_are_reported_with_the_entry_they_replace() {
        let mut c = kernel_cpu();
        c.write_cp0(reg::ENTRYHI, 0, 0x4000_2000 | 7, true);
        c.write_cp0(reg::ENTRYLO0, 0, (0x11 << 6) | LO_V, true);
        c.write_cp0(reg::ENTRYLO1, 0, (0x12 << 6) | LO_V, true);
        c.write_cp0(reg::INDEX, 0, 5, false);
        let r = c.emulate_privileged(&Instr::Tlbwi, 0).unwrap();
        assert_eq!(
            r,
            Emulated::TlbWritten {
                index: 5,
                old: TlbEntry::default()
            }
        );
        assert_eq!(c.tlb().entry(5).entryhi, 0x4000_2000 | 7);
        let Emulated::TlbWritten { index, .. } = c.emulate_privileged(&Instr::Tlbwr, 0).unwrap()
        else {
            panic!("tlbwr writes an entry");
        };
        assert_eq!(index, 63, "Random starts at the top");
    }

    #[test]
    fn privileged_instructions_outside_kernel_mode_raise_cpu() {
        let mut c = Cpu::new(0);
        c.set_status(status::KX | status::SX | status::UX | (2 << status::KSU_SHIFT));
        let e = c
            .emulate_privileged(
                &Instr::Mtc0 {
                    rt: 2,
                    rd: 12,
                    sel: 0,
                },
                0,
            )
            .unwrap_err();
        assert_eq!(e.code, ExcCode::CpU);
    }

    #[test]
    fn reflected_exceptions_update_cp0_and_eret_returns() {
        let mut c = kernel_cpu();
        c.write_cp0(reg::PRID, 1, 0x8000_1000, false);
        // User mode, interrupts on: a syscall in a delay slot.
        c.set_status(status::KX | status::SX | status::UX | (2 << status::KSU_SHIFT) | 1);
        c.take_exception(Exception::new(ExcCode::Sys), 0x1_0004, true);
        assert_eq!(c.pc, 0xffff_ffff_8000_1180);
        assert_eq!(c.cp0.epc, 0x1_0000);
        assert_ne!(c.cp0.cause & cause::BD, 0);
        assert_eq!(c.privilege(), Privilege::Kernel);
        assert_eq!(
            c.emulate_privileged(&Instr::Eret, c.pc),
            Ok(Emulated::Eret(0x1_0000))
        );
        assert_eq!(c.privilege(), Privilege::User);
    }

    #[test]
    fn a_shadow_clock_fires_its_timer() {
        let mut c = kernel_cpu();
        c.set_status(status::KX | 1 | (1 << (status::IM_SHIFT + 7)));
        c.write_cp0(reg::COMPARE, 0, 100, false);
        c.advance_clock(150);
        assert!(!c.interrupt_asserted());
        c.advance_clock(202);
        assert!(c.interrupt_asserted() && c.interrupt_would_be_taken());
        assert_eq!(c.emulate_privileged(&Instr::Wait, 0), Ok(Emulated::Wait));
    }
}
