//! One MIPS64 CPU: architectural state, the block-executing run loop,
//! exception delivery, interrupts and the CP0 timer.
//!
//! Time is counted in CPU cycles; in this functional model every instruction
//! takes one cycle and `WAIT` lets cycles pass without instructions. CP0 Count
//! runs at half the cycle rate, as on the cores Linux knows.

use crate::bus::Bus;
use crate::code::{Block, CodeCache};
use crate::cp0::{cause, status, Cp0, TLB_ENTRIES};
use crate::exception::{ExcCode, Exception, Trap};
use crate::fpu::Fpu;
use crate::instr::Instr;
use crate::memory::PhysMem;
use crate::mmu::{uses_xtlb_refill, Privilege};
use crate::ops::{Ctx, Exit};
use crate::services::{ServiceKey, ServiceTracker};
use crate::softtlb::SoftTlb;
use crate::tlb::Tlb;

/// Where exceptions go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TrapDelivery {
    /// Through the MIPS exception vectors, updating CP0, as hardware does:
    /// the operating system runs on the bare machine.
    Vectors,
    /// To native code: [`Cpu::run`] returns [`RunExit::Trap`] with the CPU
    /// stopped at the faulting instruction and CP0 untouched. The monitor
    /// uses this to trap-and-emulate.
    Native,
}

/// Why [`Cpu::run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunExit {
    /// The cycle limit was reached.
    Limit,
    /// The CPU executed `WAIT`, or reached a `b .; nop` loop (its PC on the
    /// branch), and no enabled interrupt is pending; call
    /// [`Cpu::idle_until`] to let time pass.
    Halted,
    /// An exception for native delivery ([`TrapDelivery::Native`]).
    Trap(Trap),
    /// A device asked to stop the simulation.
    Stop,
    /// The CPU cannot make progress: fetching the exception vector it was
    /// just sent to faulted (e.g. an exception with Status.BEV = 1 before the
    /// kernel installed handlers, on a machine with no boot ROM). `cause` is
    /// the exception that led there, at `epc`.
    Wedged {
        /// The vector address that could not be fetched.
        vector: u64,
        /// The exception that was being delivered.
        cause: ExcCode,
        /// EPC of that exception.
        epc: u64,
    },
}

/// Counters kept by every CPU (see [`Cpu::stats`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CpuStats {
    /// Instructions executed.
    pub instructions: u64,
    /// Cycles since reset.
    pub cycles: u64,
    /// Cycles spent halted in `WAIT`.
    pub idle_cycles: u64,
    /// Exceptions taken, by exception code.
    pub exceptions: [u64; 32],
    /// TLB refill exceptions (a subset of TLBL/TLBS).
    pub tlb_refills: u64,
    /// Entries written with `tlbwi`/`tlbwr`.
    pub tlb_writes: u64,
    /// Cycles by privilege level (kernel, supervisor, user), excluding idle
    /// and memory stalls.
    pub mode_cycles: [u64; 3],
    /// Memory stall cycles (detailed timing) by privilege level.
    pub stall_cycles: [u64; 3],
}

/// Control flow after one instruction executed by the full interpreter
/// ([`Cpu::step`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Continue with the next instruction.
    Next,
    /// A branch or jump: execute the delay slot, then continue at the target
    /// (the fall-through address for a branch not taken).
    Branch(u64),
    /// A branch-likely not taken: the delay slot is skipped.
    SkipDelaySlot,
    /// Transfer without delay slot (ERET).
    Jump(u64),
    /// State changed: end the block after this instruction.
    Stop,
    /// `WAIT`: halt after this instruction.
    Halt,
}

/// A MIPS64 Release 2 CPU.
#[derive(Debug)]
pub struct Cpu {
    /// General registers; `gpr[0]` always reads zero.
    pub gpr: [u64; 32],
    /// HI register.
    pub hi: u64,
    /// LO register.
    pub lo: u64,
    /// Address of the next instruction to execute.
    pub pc: u64,
    /// Coprocessor 0.
    pub cp0: Cp0,
    /// Coprocessor 1.
    pub fpu: Fpu,
    /// The architectural TLB (read it with [`Cpu::tlb`], change it with
    /// [`Cpu::tlb_write`] so that translation caches stay coherent).
    pub(crate) tlb: Tlb,
    /// Counters; `instructions` and `mode_cycles` are completed by [`Cpu::stats`].
    pub(crate) stats: CpuStats,
    /// Cycles taken by exception entry (one each), not by instructions.
    pub(crate) exception_cycles: u64,
    /// Delay slots nullified by branch-likely instructions not taken (each
    /// takes a cycle but executes nothing).
    pub(crate) nullified: u64,
    /// Memory stall cycles since reset (detailed timing).
    pub(crate) stall_total: u64,
    /// Cycle at which the statistics were last reset.
    pub(crate) stats_since: u64,
    /// Cycle since which the current privilege level has been accounted.
    pub(crate) mode_since: u64,
    pub(crate) cpu_num: u32,
    pub(crate) delivery: TrapDelivery,
    /// Cycles since reset.
    pub(crate) cycles: u64,
    /// Run-loop limit: the hot loop checks only this; setting it to 0 forces
    /// the slow checks at the next block boundary.
    pub(crate) deadline: u64,
    /// Cycle at which Count reaches Compare.
    pub(crate) timer_deadline: u64,
    /// Count = cycles/2 + count_offset (mod 2^32).
    pub(crate) count_offset: u32,
    /// Next TLB index used by `tlbwr`.
    pub(crate) random: u32,
    /// Hardware interrupt lines IP2..IP7 (Cause.IP layout).
    pub(crate) hw_lines: u8,
    /// Cause.TI is routed to this Cause.IP bit (IntCtl.IPTI).
    pub(crate) timer_ip: u8,
    pub(crate) ll_bit: bool,
    pub(crate) ll_va: u64,
    pub(crate) ll_value: u64,
    pub(crate) halted: bool,
    /// A branch was taken at the end of the previous block whose delay slot
    /// (at `pc`) has not executed yet: continue at this target after it.
    pub(crate) delay_target: Option<u64>,
    /// Exception raised by the last threaded-code handler that returned
    /// `Exit::Fault`, at `fault_pc` (in a delay slot if `fault_in_delay_slot`).
    pub(crate) fault: Exception,
    pub(crate) fault_pc: u64,
    pub(crate) fault_in_delay_slot: bool,
    /// When a threaded-code chain ends normally: the address after the last
    /// instruction that took a cycle.
    pub(crate) retired_to: u64,
    /// The decision of the branch whose delay slot threaded code is executing.
    pub(crate) branch_taken: bool,
    pub(crate) branch_target: u64,
    /// Exception waiting to be handed to native code.
    pub(crate) pending_trap: Option<Trap>,
    pub(crate) stop_requested: bool,
    pub(crate) privilege: Privilege,
    /// 64-bit operations are enabled at the current privilege (kernel mode,
    /// or Status.SX / Status.UX for supervisor / user mode).
    pub(crate) ops64: bool,
    /// Detailed timing: every memory access is reported to the bus's memory
    /// model, which adds stall cycles.
    pub(crate) detailed: bool,
    pub(crate) stlb: SoftTlb,
    pub(crate) code_epoch: u64,
    /// Address of the instruction executing on a slow path (set by the full
    /// interpreter and by the threaded handlers' miss paths), so device
    /// accesses are stamped with the exact cycle of their instruction.
    pub(crate) cur_pc: u64,
    /// First instruction address and starting cycle of the executing block,
    /// to compute the exact cycle of an instruction inside it.
    pub(crate) block_pc: u64,
    /// Address of the last exception vector jumped to, to detect a CPU that
    /// cannot fetch its own vector.
    pub(crate) last_vector: u64,
    /// A virtual machine's kernel runs here in supervisor mode: it may use
    /// the kernel segments, all translated through the TLB.
    pub(crate) vm_mode: bool,
    /// Where execution continues after the delay slot being executed, for
    /// a trap raised in it ([`Trap::resume_at`]).
    pub(crate) slot_continuation: u64,
    /// Print every instruction (slow; for debugging).
    pub trace_instructions: bool,
    /// Kernel-service attribution, when on ([`Cpu::set_service_tracking`]).
    pub(crate) services: Option<Box<ServiceTracker>>,
}

impl Cpu {
    /// A CPU in its reset state, numbered `cpu_num` (EBase.CPUNum), starting
    /// at the reset vector.
    pub fn new(cpu_num: u32) -> Self {
        let mut cpu = Cpu {
            gpr: [0; 32],
            hi: 0,
            lo: 0,
            pc: 0xffff_ffff_bfc0_0000,
            cp0: Cp0::reset(cpu_num),
            fpu: Fpu::new(),
            tlb: Tlb::default(),
            stats: CpuStats::default(),
            exception_cycles: 0,
            nullified: 0,
            stall_total: 0,
            stats_since: 0,
            mode_since: 0,
            cpu_num,
            delivery: TrapDelivery::Vectors,
            cycles: 0,
            deadline: 0,
            timer_deadline: 0,
            count_offset: 0,
            random: TLB_ENTRIES as u32 - 1,
            hw_lines: 0,
            timer_ip: 7,
            ll_bit: false,
            ll_va: 0,
            ll_value: 0,
            halted: false,
            delay_target: None,
            fault: Exception::new(ExcCode::Ri),
            fault_pc: 0,
            fault_in_delay_slot: false,
            retired_to: 0,
            branch_taken: false,
            branch_target: 0,
            pending_trap: None,
            stop_requested: false,
            privilege: Privilege::Kernel,
            ops64: true,
            detailed: false,
            stlb: SoftTlb::default(),
            code_epoch: 0,
            block_pc: 0,
            cur_pc: 0,
            last_vector: u64::MAX,
            vm_mode: false,
            slot_continuation: 0,
            trace_instructions: false,
            services: None,
        };
        cpu.reschedule_timer(0);
        cpu.privilege = Privilege::from_status(cpu.cp0.status);
        cpu
    }

    /// Chooses where exceptions are delivered.
    pub fn set_trap_delivery(&mut self, d: TrapDelivery) {
        self.delivery = d;
    }

    /// The CPU number (EBase.CPUNum).
    pub fn cpu_num(&self) -> u32 {
        self.cpu_num
    }

    /// Cycles since reset.
    pub fn cycles(&self) -> u64 {
        self.cycles
    }

    /// True while halted in `WAIT`.
    pub fn is_halted(&self) -> bool {
        self.halted
    }

    /// Current privilege level.
    pub fn privilege(&self) -> Privilege {
        self.privilege
    }

    /// Cycle at which the CP0 timer next fires.
    pub fn timer_deadline(&self) -> u64 {
        self.timer_deadline
    }

    /// True when an interrupt could ever end a `WAIT`: some interrupt line is
    /// enabled in Status.IM. A halted CPU for which this is false (and
    /// interrupts disabled) is stopped for good, the way Linux powers off.
    pub fn can_be_woken(&self) -> bool {
        self.cp0.status & status::IM != 0 && self.cp0.status & status::IE != 0
    }

    /// Halts the CPU on a `b .; nop` loop it is about to run: only an
    /// interrupt can end such a loop, exactly as it ends a `WAIT`, so the
    /// CPU waits for one here (with interrupts disabled, for good: how
    /// Linux parks the other CPUs when it halts or powers off). The PC
    /// stays on the branch, so an interrupt taken has EPC = the branch, as
    /// when spinning. Shortcut: the loop's cycles count as idle, not as
    /// executed instructions.
    pub(crate) fn halt_spinning(&mut self) {
        self.halted = true;
        self.force_check();
    }

    /// Writes a general register (writes to `$0` are discarded).
    #[inline(always)]
    pub fn set_gpr(&mut self, r: u8, v: u64) {
        self.gpr[(r & 31) as usize] = v;
        self.gpr[0] = 0;
    }

    /// Reads a general register.
    #[inline(always)]
    pub fn gpr(&self, r: u8) -> u64 {
        self.gpr[(r & 31) as usize]
    }

    /// Sets the hardware interrupt lines IP2..IP7 (bits 2..7, Cause.IP layout).
    pub fn set_irq_lines(&mut self, lines: u8) {
        if lines != self.hw_lines {
            self.hw_lines = lines & 0xfc;
            self.update_interrupts();
        }
    }

    /// Lets a halted CPU's time pass up to cycle `until` (or its timer).
    pub fn idle_until(&mut self, until: u64) {
        let to = until.min(self.timer_deadline).max(self.cycles);
        self.stats.idle_cycles += to - self.cycles;
        // Idle time belongs to no privilege level.
        self.mode_since += to - self.cycles;
        self.cycles = to;
        if self.cycles >= self.timer_deadline {
            self.fire_timer();
        }
    }

    /// Cycle count at the instruction at `pc` inside the executing block.
    #[inline]
    pub(crate) fn now(&self, pc: u64) -> u64 {
        self.cycles + (pc.wrapping_sub(self.block_pc) >> 2)
    }

    /// Forces the run loop's slow checks at the next block boundary.
    #[inline]
    pub(crate) fn force_check(&mut self) {
        self.deadline = 0;
    }

    /// Recomputes Cause.IP from software bits, hardware lines and the timer,
    /// and arms the run loop if an interrupt can be taken.
    pub(crate) fn update_interrupts(&mut self) {
        let ti = if self.cp0.cause & cause::TI != 0 {
            1u64 << self.timer_ip
        } else {
            0
        };
        let ip = (self.cp0.cause & cause::IP_SW) | ((self.hw_lines as u64 | ti) << cause::IP_SHIFT);
        self.cp0.cause = (self.cp0.cause & !cause::IP) | ip;
        if self.interrupt_pending() {
            self.force_check();
        }
    }

    /// An enabled interrupt is pending and interrupts are enabled.
    #[inline]
    pub(crate) fn interrupt_pending(&self) -> bool {
        let st = self.cp0.status;
        st & (status::IE | status::EXL | status::ERL) == status::IE
            && (self.cp0.cause & st & status::IM) != 0
    }

    /// Runs until cycle `until`, a halt, a native trap or a stop request.
    pub fn run<B: Bus>(
        &mut self,
        mem: &mut PhysMem,
        code: &mut CodeCache,
        bus: &mut B,
        until: u64,
    ) -> RunExit {
        let mut x = Ctx { mem, bus };
        loop {
            let exit = if self.needs_careful_loop() {
                self.run_loop::<true>(&mut x, code, until)
            } else {
                self.run_loop::<false>(&mut x, code, until)
            };
            if let Some(exit) = exit {
                return exit;
            }
        }
    }

    /// The careful executor traces instructions, checks that 64-bit
    /// operations are enabled and reports memory accesses for detailed
    /// timing; the fast one does none of these.
    fn needs_careful_loop(&self) -> bool {
        self.trace_instructions || !self.ops64 || self.detailed
    }

    /// Switches between fast (one cycle per instruction) and detailed timing
    /// (memory accesses reported to [`Bus::mem_access`], which adds stalls).
    pub fn set_detailed_timing(&mut self, on: bool) {
        self.detailed = on;
        self.force_check();
    }

    /// True in detailed timing mode.
    pub fn detailed_timing(&self) -> bool {
        self.detailed
    }

    /// Adds the memory model's stall for an access to `pa` (detailed timing).
    #[cold]
    pub(crate) fn charge_access(&mut self, bus: &mut dyn Bus, pa: u64, kind: crate::mmu::Access) {
        let stall = bus.mem_access(pa, kind, self.now(self.cur_pc)) as u64;
        self.cycles += stall;
        self.stats.stall_cycles[self.privilege as usize] += stall;
        self.stall_total += stall;
    }

    /// Runs blocks until `run` must return (`Some`) or the other executor
    /// variant is needed (`None`).
    fn run_loop<const CAREFUL: bool>(
        &mut self,
        x: &mut Ctx<'_>,
        code: &mut CodeCache,
        until: u64,
    ) -> Option<RunExit> {
        self.force_check();
        loop {
            if self.cycles >= self.deadline {
                if let Some(exit) = self.slow_checks(x, code, until) {
                    return Some(exit);
                }
                if self.needs_careful_loop() != CAREFUL {
                    return None;
                }
                continue;
            }
            let pc = self.pc;
            let (id, ops) = match self.fetch_block(x.mem, code, pc) {
                Ok(found) => found,
                Err(e) => {
                    if pc == self.last_vector && self.delivery == TrapDelivery::Vectors {
                        let cause = ExcCode::from_cause(self.cp0.cause);
                        return Some(RunExit::Wedged {
                            vector: pc,
                            cause,
                            epc: self.cp0.epc,
                        });
                    }
                    self.raise(e, pc, false, None);
                    continue;
                }
            };
            self.block_pc = pc;
            if CAREFUL {
                self.exec_block_careful(code.block(id), x);
            } else if let Some(index) = self.exec_block(ops, x) {
                let ins = code.block(id).instrs.get(index).copied();
                self.raise_fault(ins);
            }
        }
    }

    /// Everything the hot loop does not check per block. Returns `Some` when
    /// `run` must return.
    #[cold]
    fn slow_checks(
        &mut self,
        x: &mut Ctx<'_>,
        code: &mut CodeCache,
        until: u64,
    ) -> Option<RunExit> {
        if x.mem.has_written_code() {
            code.invalidate_written(x.mem);
        }
        if x.mem.code_epoch() != self.code_epoch {
            self.code_epoch = x.mem.code_epoch();
            self.stlb.flush_writes();
        }
        if self.cycles >= self.timer_deadline {
            self.fire_timer();
        }
        if let Some(t) = self.pending_trap.take() {
            return Some(RunExit::Trap(t));
        }
        if self.stop_requested || x.bus.stop_requested() {
            self.stop_requested = false;
            return Some(RunExit::Stop);
        }
        if self.cycles >= until {
            return Some(RunExit::Limit);
        }
        self.deadline = until.min(self.timer_deadline);
        if let Some(target) = self.delay_target.take() {
            self.exec_pending_delay_slot(x, code, target);
            self.force_check();
            return None;
        }
        if self.interrupt_pending() {
            self.halted = false;
            self.raise(Exception::new(ExcCode::Int), self.pc, false, None);
            self.force_check();
            return None;
        }
        if self.halted {
            // Like most Release 2 cores (and Config7.WII = 0), WAIT ends only
            // for an interrupt that can be taken.
            return Some(RunExit::Halted);
        }
        None
    }

    /// Executes one block starting at `self.pc` (= `self.block_pc`) as
    /// threaded code.
    #[inline(always)]
    /// Returns the index of the instruction that faulted, if one did (the
    /// caller then raises the fault with [`Cpu::raise_fault`]).
    fn exec_block(&mut self, ops: &[crate::ops::Op], x: &mut Ctx<'_>) -> Option<usize> {
        let base = self.pc;
        let exit = match ops.first() {
            Some(op) => (op.f)(self, x, ops, 0, op),
            None => Exit::Goto(base),
        };
        match exit {
            Exit::Goto(target) => {
                self.cycles += self.retired_to.wrapping_sub(base) >> 2;
                self.pc = target;
            }
            Exit::Fault => {
                let at = self.fault_pc;
                let index = (at.wrapping_sub(base) >> 2) as usize;
                self.cycles += index as u64;
                return Some(index);
            }
        }
        None
    }

    /// Raises the fault the threaded code recorded, of instruction `instr`.
    #[cold]
    fn raise_fault(&mut self, instr: Option<Instr>) {
        let at = self.fault_pc;
        let e = self.fault;
        let in_slot = self.fault_in_delay_slot;
        if in_slot {
            self.slot_continuation = if self.branch_taken {
                self.branch_target
            } else {
                at.wrapping_add(4)
            };
        }
        self.raise(e, at, in_slot, instr);
    }

    /// Executes one block through the full interpreter, instruction by
    /// instruction, tracing them and checking that 64-bit operations are
    /// enabled (the careful executor).
    #[inline(never)]
    fn exec_block_careful(&mut self, block: &Block, x: &mut Ctx<'_>) {
        let base = self.pc;
        let instrs = &block.instrs[..];
        let n = instrs.len();
        let mut i = 0;
        let mut fetched_chunk = u64::MAX;
        while i < n {
            let pc = base.wrapping_add((i as u64) << 2);
            let ins = &instrs[i];
            if self.trace_instructions {
                self.trace(pc, ins);
            }
            if self.detailed {
                let pa = block.pa + ((i as u64) << 2);
                if pa >> 5 != fetched_chunk {
                    fetched_chunk = pa >> 5;
                    self.cur_pc = pc;
                    self.charge_access(x.bus, pa, crate::mmu::Access::Fetch);
                }
            }
            if instrs
                .get(i + 1)
                .is_some_and(|s| crate::ops::is_spin(ins, s))
            {
                self.retire(i);
                self.pc = pc;
                self.halt_spinning();
                return;
            }
            let flow = match self.step(ins, pc, x.mem, x.bus) {
                Ok(flow) => flow,
                Err(e) => {
                    self.retire(i);
                    self.raise(e, pc, false, Some(*ins));
                    return;
                }
            };
            match flow {
                Flow::Next => i += 1,
                Flow::Branch(target) => {
                    let Some(slot) = instrs.get(i + 1) else {
                        self.pc = pc.wrapping_add(4);
                        self.delay_target = Some(target);
                        self.force_check();
                        self.retire(i + 1);
                        return;
                    };
                    let slot_pc = pc.wrapping_add(4);
                    if self.trace_instructions {
                        self.trace(slot_pc, slot);
                    }
                    match self.step(slot, slot_pc, x.mem, x.bus) {
                        Err(e) => {
                            self.retire(i + 1);
                            self.slot_continuation = target;
                            self.raise(e, slot_pc, true, Some(*slot));
                            return;
                        }
                        Ok(Flow::Next) if target == slot_pc.wrapping_add(4) && i + 2 < n => {
                            i += 2;
                            continue;
                        }
                        Ok(slot_flow) => {
                            if slot_flow == Flow::Halt {
                                self.halted = true;
                                self.force_check();
                            }
                            self.pc = target;
                            self.retire(i + 2);
                            return;
                        }
                    }
                }
                Flow::SkipDelaySlot => {
                    self.nullified += 1;
                    i += 2;
                    if i >= n {
                        self.pc = base.wrapping_add((i as u64) << 2);
                        self.retire(i);
                        return;
                    }
                }
                Flow::Jump(target) => {
                    self.pc = target;
                    self.retire(i + 1);
                    return;
                }
                Flow::Stop => {
                    self.pc = pc.wrapping_add(4);
                    self.retire(i + 1);
                    return;
                }
                Flow::Halt => {
                    self.halted = true;
                    self.force_check();
                    self.pc = pc.wrapping_add(4);
                    self.retire(i + 1);
                    return;
                }
            }
        }
        self.pc = base.wrapping_add((n as u64) << 2);
        self.retire(n);
    }

    /// Executes the delay slot at `self.pc` of a branch taken at the end of the
    /// previous block, then continues at `target`.
    fn exec_pending_delay_slot(&mut self, x: &mut Ctx<'_>, code: &mut CodeCache, target: u64) {
        let pc = self.pc;
        let id = match self.fetch_block(x.mem, code, pc) {
            Ok((id, _)) => id,
            Err(e) => {
                self.slot_continuation = target;
                self.raise(e, pc, true, None);
                return;
            }
        };
        let ins = code.block(id).instrs[0];
        self.block_pc = pc;
        if self.trace_instructions {
            self.trace(pc, &ins);
        }
        match self.step(&ins, pc, x.mem, x.bus) {
            Ok(flow) => {
                if flow == Flow::Halt {
                    self.halted = true;
                }
                self.pc = target;
                self.retire(1);
            }
            Err(e) => {
                self.slot_continuation = target;
                self.raise(e, pc, true, Some(ins))
            }
        }
    }

    #[inline(always)]
    fn retire(&mut self, n: usize) {
        self.cycles += n as u64;
    }

    /// Turns kernel-service attribution on or off ([`crate::services`]):
    /// exceptions taken in user mode through the vectors start a service,
    /// an `eret` back to user mode ends it. Turning it on starts with no
    /// counts. It changes no simulated time.
    pub fn set_service_tracking(&mut self, on: bool) {
        self.services = on.then(Box::default);
    }

    /// The kernel services counted since tracking was turned on or the
    /// statistics were reset, if tracking is on.
    pub fn services(&self) -> Option<&ServiceTracker> {
        self.services.as_deref()
    }

    /// Exception `e` is delivered through the vectors from user mode:
    /// a service starts.
    #[cold]
    fn service_enter(&mut self, e: &Exception) {
        let key = ServiceKey::of(e, self.gpr[2]);
        let (now, idle) = (self.cycles, self.stats.idle_cycles);
        if let Some(t) = self.services.as_deref_mut() {
            t.enter(key, now, idle);
        }
    }

    /// An `eret` returned to user mode, ending at cycle `now`: the service
    /// in progress ends.
    #[cold]
    pub(crate) fn service_exit(&mut self, now: u64) {
        let idle = self.stats.idle_cycles;
        if let Some(t) = self.services.as_deref_mut() {
            t.exit(now, idle);
        }
    }

    /// Zeroes the counters (a measured region starts now).
    pub fn reset_stats(&mut self) {
        if let Some(t) = self.services.as_deref_mut() {
            t.reset();
        }
        self.stats = CpuStats::default();
        self.exception_cycles = 0;
        self.nullified = 0;
        self.stall_total = 0;
        self.stats_since = self.cycles;
        self.mode_since = self.cycles;
    }

    /// A snapshot of the CPU's counters.
    pub fn stats(&self) -> CpuStats {
        let mut s = self.stats.clone();
        s.cycles = self.cycles - self.stats_since;
        s.instructions =
            s.cycles - s.idle_cycles - self.exception_cycles - self.nullified - self.stall_total;
        s.mode_cycles[self.privilege as usize] += self.cycles.saturating_sub(self.mode_since);
        for (m, st) in s.mode_cycles.iter_mut().zip(s.stall_cycles) {
            *m -= st;
        }
        s
    }

    #[cold]
    fn trace(&self, pc: u64, ins: &Instr) {
        eprintln!(
            "cpu{} {:016x}: {}",
            self.cpu_num,
            pc,
            crate::disasm::disasm(ins, pc)
        );
    }

    /// Raises exception `e` for the instruction at `pc` (in a delay slot when
    /// `in_delay_slot`), delivering it as configured.
    #[cold]
    pub(crate) fn raise(
        &mut self,
        e: Exception,
        pc: u64,
        in_delay_slot: bool,
        instr: Option<Instr>,
    ) {
        let epc = self.count_exception(&e, pc, in_delay_slot);
        match self.delivery {
            TrapDelivery::Native => {
                self.pc = epc;
                self.pending_trap = Some(Trap {
                    exception: e,
                    pc: epc,
                    in_delay_slot,
                    instr,
                    resume_at: in_delay_slot.then_some(self.slot_continuation),
                });
                self.force_check();
            }
            TrapDelivery::Vectors => {
                // Taking an exception costs a cycle, so that time advances
                // even if software faults in a loop on its own vector. (With
                // native delivery the handler's cost is the monitor's to
                // account.)
                self.cycles += 1;
                self.exception_cycles += 1;
                if self.services.is_some() && self.privilege == Privilege::User {
                    self.service_enter(&e);
                }
                self.deliver_to_vector(e, epc, in_delay_slot)
            }
        }
    }

    /// Counts exception `e` of the instruction at `pc` and returns its EPC
    /// (the branch's address for a delay slot).
    pub(crate) fn count_exception(&mut self, e: &Exception, pc: u64, in_delay_slot: bool) -> u64 {
        self.stats.exceptions[e.code as usize] += 1;
        if e.refill {
            self.stats.tlb_refills += 1;
        }
        if in_delay_slot {
            pc.wrapping_sub(4)
        } else {
            pc
        }
    }

    pub(crate) fn deliver_to_vector(&mut self, e: Exception, epc: u64, in_delay_slot: bool) {
        let st = self.cp0.status;
        let exl = st & status::EXL != 0;
        tracing::trace!(
            target: "mips::exc",
            cpu = self.cpu_num,
            "{} epc={:#x} badvaddr={:#x} bd={} status={:#x}",
            e.code.name(),
            epc,
            e.badvaddr,
            in_delay_slot,
            st
        );
        if !exl {
            self.cp0.epc = epc;
            if in_delay_slot {
                self.cp0.cause |= cause::BD;
            } else {
                self.cp0.cause &= !cause::BD;
            }
        }
        self.cp0.cause = (self.cp0.cause & !(cause::EXC_MASK | cause::CE))
            | ((e.code as u64) << cause::EXC_SHIFT)
            | ((e.ce as u64 & 3) << cause::CE_SHIFT);
        if e.sets_badvaddr() {
            self.cp0.record_bad_address(e.badvaddr, e.is_tlb());
        }
        let offset = if e.refill && !exl {
            if uses_xtlb_refill(e.badvaddr, st) {
                0x080
            } else {
                0x000
            }
        } else if e.code == ExcCode::Int && self.cp0.cause & cause::IV != 0 {
            0x200
        } else {
            0x180
        };
        let base = if st & status::BEV != 0 {
            0xffff_ffff_bfc0_0200
        } else {
            self.cp0.exception_base()
        };
        self.cp0.status |= status::EXL;
        self.set_privilege();
        self.pc = base.wrapping_add(offset);
        self.last_vector = self.pc;
        self.halted = false;
        self.force_check();
    }

    /// Recomputes the privilege level after a Status change.
    #[inline]
    pub(crate) fn set_privilege(&mut self) {
        self.set_privilege_at(self.cycles);
    }

    /// Recomputes the privilege level after a Status change that takes
    /// effect at cycle `at` (the end of the instruction that made it,
    /// which may lie past `cycles` inside an executing block).
    #[inline]
    pub(crate) fn set_privilege_at(&mut self, at: u64) {
        let p = Privilege::from_status(self.cp0.status);
        let ops64 = match p {
            Privilege::Kernel => true,
            Privilege::Supervisor => self.cp0.status & status::SX != 0,
            Privilege::User => self.cp0.status & status::UX != 0,
        };
        if ops64 != self.ops64 {
            self.ops64 = ops64;
            self.force_check();
        }
        if p != self.privilege {
            self.stats.mode_cycles[self.privilege as usize] += at.saturating_sub(self.mode_since);
            self.mode_since = at;
            self.privilege = p;
        }
    }

    /// Current value of CP0 Count at cycle `at`.
    #[inline]
    pub(crate) fn count_at(&self, at: u64) -> u32 {
        ((at >> 1) as u32).wrapping_add(self.count_offset)
    }

    /// Sets Count to `value` as of cycle `at`.
    pub(crate) fn write_count(&mut self, value: u32, at: u64) {
        self.count_offset = value.wrapping_sub((at >> 1) as u32);
        self.reschedule_timer(at);
    }

    /// Recomputes when Count next equals Compare, as of cycle `at`.
    pub(crate) fn reschedule_timer(&mut self, at: u64) {
        let count = self.count_at(at);
        let mut ticks = self.cp0.compare.wrapping_sub(count) as u64;
        if ticks == 0 {
            ticks = 1 << 32;
        }
        self.timer_deadline = (at & !1) + ticks * 2;
        self.force_check();
    }

    fn fire_timer(&mut self) {
        self.cp0.cause |= cause::TI;
        let at = self.timer_deadline;
        // The next match is a full Count period later.
        self.timer_deadline = at + (2u64 << 32);
        self.update_interrupts();
    }

    /// Starts a CPU that has not run yet (a core powered on) at cycle
    /// `cycles` with CP0 Count = `count`; its statistics start there.
    pub fn start_at(&mut self, cycles: u64, count: u32) {
        self.cycles = cycles;
        self.stats_since = cycles;
        self.mode_since = cycles;
        self.write_count(count, cycles);
    }

    /// Current value of CP0 Count.
    pub fn count(&self) -> u32 {
        self.count_at(self.cycles)
    }
}

/// Everything about a CPU that a checkpoint must keep: architectural state,
/// time and counters. Translation caches and decoded code are not part of it;
/// they are rebuilt after a restore without changing what software sees.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[allow(missing_docs)]
pub struct CpuState {
    pub cpu_num: u32,
    pub gpr: Vec<u64>,
    pub hi: u64,
    pub lo: u64,
    pub pc: u64,
    pub cp0: Cp0,
    pub fpu: Fpu,
    pub tlb: Vec<crate::tlb::TlbEntry>,
    pub delivery: TrapDelivery,
    pub cycles: u64,
    pub timer_deadline: u64,
    pub count_offset: u32,
    pub random: u32,
    pub hw_lines: u8,
    pub timer_ip: u8,
    pub ll_bit: bool,
    pub ll_va: u64,
    pub ll_value: u64,
    pub halted: bool,
    pub delay_target: Option<u64>,
    pub last_vector: u64,
    pub detailed: bool,
    pub stats: CpuStats,
    pub exception_cycles: u64,
    pub nullified: u64,
    pub stall_total: u64,
    pub stats_since: u64,
    pub mode_since: u64,
    #[serde(default)]
    pub vm_mode: bool,
}

/// A checkpoint that does not describe a valid CPU.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid CPU state in checkpoint: {0}")]
pub struct BadCpuState(&'static str);

impl Cpu {
    /// The CPU's state, for a checkpoint. Only valid between calls to
    /// [`Cpu::run`] (no exception is waiting for native delivery then, as
    /// `run` returns it).
    pub fn save_state(&self) -> CpuState {
        CpuState {
            cpu_num: self.cpu_num,
            gpr: self.gpr.to_vec(),
            hi: self.hi,
            lo: self.lo,
            pc: self.pc,
            cp0: self.cp0.clone(),
            fpu: self.fpu.clone(),
            tlb: self.tlb.entries().to_vec(),
            delivery: self.delivery,
            cycles: self.cycles,
            timer_deadline: self.timer_deadline,
            count_offset: self.count_offset,
            random: self.random,
            hw_lines: self.hw_lines,
            timer_ip: self.timer_ip,
            ll_bit: self.ll_bit,
            ll_va: self.ll_va,
            ll_value: self.ll_value,
            halted: self.halted,
            delay_target: self.delay_target,
            last_vector: self.last_vector,
            detailed: self.detailed,
            stats: self.stats.clone(),
            exception_cycles: self.exception_cycles,
            nullified: self.nullified,
            stall_total: self.stall_total,
            stats_since: self.stats_since,
            mode_since: self.mode_since,
            vm_mode: self.vm_mode,
        }
    }

    /// A CPU in the state `s` saved by [`Cpu::save_state`].
    pub fn from_state(s: CpuState) -> Result<Cpu, BadCpuState> {
        let gpr: [u64; 32] = s
            .gpr
            .try_into()
            .map_err(|_| BadCpuState("not 32 registers"))?;
        if s.tlb.len() != TLB_ENTRIES {
            return Err(BadCpuState("wrong number of TLB entries"));
        }
        if gpr[0] != 0 {
            return Err(BadCpuState("register $0 is not zero"));
        }
        let mut cpu = Cpu::new(s.cpu_num);
        cpu.gpr = gpr;
        cpu.hi = s.hi;
        cpu.lo = s.lo;
        cpu.pc = s.pc;
        cpu.cp0 = s.cp0;
        cpu.fpu = s.fpu;
        for (i, e) in s.tlb.into_iter().enumerate() {
            cpu.tlb.write(i, e);
        }
        cpu.delivery = s.delivery;
        cpu.cycles = s.cycles;
        cpu.timer_deadline = s.timer_deadline;
        cpu.count_offset = s.count_offset;
        cpu.random = s.random % TLB_ENTRIES as u32;
        cpu.hw_lines = s.hw_lines;
        cpu.timer_ip = s.timer_ip & 7;
        cpu.ll_bit = s.ll_bit;
        cpu.ll_va = s.ll_va;
        cpu.ll_value = s.ll_value;
        cpu.halted = s.halted;
        cpu.delay_target = s.delay_target;
        cpu.last_vector = s.last_vector;
        cpu.detailed = s.detailed;
        cpu.stats = s.stats;
        cpu.exception_cycles = s.exception_cycles;
        cpu.nullified = s.nullified;
        cpu.stall_total = s.stall_total;
        cpu.stats_since = s.stats_since;
        cpu.mode_since = s.mode_since;
        cpu.vm_mode = s.vm_mode;
        // Derived state: privilege level, 64-bit enable, pending interrupts.
        cpu.privilege = Privilege::from_status(cpu.cp0.status);
        cpu.set_privilege();
        cpu.update_interrupts();
        cpu.force_check();
        Ok(cpu)
    }
}
