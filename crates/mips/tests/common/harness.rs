//! A bare machine for instruction-level tests: one CPU, RAM, no devices.
//!
//! Programs run in kernel mode from KSEG0 (or in user/supervisor mode from a
//! TLB-mapped page, see [`Machine::enter_mode`]) and stop at a sentinel:
//! `break` with [`SENTINEL`] under native delivery, or `wait` under vector
//! delivery.

use mips::cp0::status;
use mips::{
    Bus, CodeCache, Cpu, ExcCode, Instr, NoDevices, PhysMem, RunExit, TlbEntry, Trap, TrapDelivery,
};

use super::asm::{self, c0};

/// Base of KSEG0 (unmapped, cached window on physical address 0).
pub const KSEG0: u64 = 0xffff_ffff_8000_0000;
/// Base of KSEG1 (unmapped, uncached window on physical address 0).
pub const KSEG1: u64 = 0xffff_ffff_a000_0000;
/// Default RAM size.
pub const RAM_SIZE: u64 = 4 << 20;
/// Physical address of test code.
pub const CODE_PA: u64 = 0x10_0000;
/// Virtual (KSEG0) address of test code.
pub const CODE: u64 = KSEG0 + CODE_PA;
/// Physical address of the test data buffer.
pub const DATA_PA: u64 = 0x20_0000;
/// Virtual (KSEG0) address of the test data buffer.
pub const DATA: u64 = KSEG0 + DATA_PA;
/// Virtual address (useg) where [`Machine::user_program`] maps test code.
pub const USER_CODE: u64 = 0x0040_0000;
/// `break` code that ends a test program.
pub const SENTINEL: u32 = 0x5a5a5;
/// Cycle limit for test programs: a program that runs this long is stuck.
pub const LIMIT: u64 = 10_000_000;
/// Status for kernel-mode tests: kernel mode, 64-bit segments enabled,
/// vectors at EBase, no exception level.
pub const KERNEL_STATUS: u64 = status::KX | status::SX | status::UX;

/// The physical address of a KSEG0/KSEG1 address.
pub fn unmapped_pa(va: u64) -> u64 {
    assert!(
        (KSEG0..KSEG1 + 0x2000_0000).contains(&va),
        "{va:#x} is not KSEG0/1"
    );
    va & 0x1fff_ffff
}

/// One CPU with its RAM and block cache.
#[derive(Debug)]
pub struct Machine<B: Bus = NoDevices> {
    pub cpu: Cpu,
    pub mem: PhysMem,
    pub code: CodeCache,
    pub bus: B,
}

impl Machine {
    /// A kernel-mode CPU with native trap delivery and [`RAM_SIZE`] of RAM.
    pub fn new() -> Self {
        Self::with_ram(RAM_SIZE)
    }

    /// Like [`Machine::new`] with `size` bytes of RAM.
    pub fn with_ram(size: u64) -> Self {
        Machine::with_bus(NoDevices, size)
    }

    /// Like [`Machine::new`] with vector delivery; every vector slot (EBase +
    /// 0x000, 0x080, 0x180, 0x200) holds `wait`, so a run that takes an
    /// exception ends [`RunExit::Halted`] with `pc` = vector + 4.
    pub fn with_vectors() -> Self {
        let mut m = Self::new();
        m.use_wait_vectors();
        m
    }
}

impl Default for Machine {
    fn default() -> Self {
        Self::new()
    }
}

impl<B: Bus> Machine<B> {
    /// A kernel-mode CPU with native trap delivery, `ram` bytes of RAM and
    /// `bus` beyond it.
    pub fn with_bus(bus: B, ram: u64) -> Self {
        let mut m = Machine {
            cpu: Cpu::new(0),
            mem: PhysMem::new(ram).expect("RAM"),
            code: CodeCache::new(),
            bus,
        };
        m.cpu.set_trap_delivery(TrapDelivery::Native);
        m.set_status(KERNEL_STATUS);
        m.cpu.pc = CODE;
        m
    }

    /// Switches to vector delivery with `wait` in every vector slot at EBase.
    pub fn use_wait_vectors(&mut self) {
        self.cpu.set_trap_delivery(TrapDelivery::Vectors);
        for off in [0x000, 0x080, 0x180, 0x200] {
            self.load(KSEG0 + off, &[asm::WAIT]);
        }
    }

    /// Writes Status through the CPU (so that privilege and soft-TLB state
    /// follow).
    pub fn set_status(&mut self, v: u64) {
        self.cpu.write_cp0(c0::STATUS, 0, v, true);
    }

    pub fn status(&self) -> u64 {
        self.cp0(c0::STATUS)
    }

    /// Writes a CP0 register as DMTC0 would.
    pub fn set_cp0(&mut self, rd: u8, v: u64) {
        self.cpu.write_cp0(rd, 0, v, true);
    }

    /// Reads a CP0 register as DMFC0 would.
    pub fn cp0(&self, rd: u8) -> u64 {
        self.cpu.read_cp0(rd, 0)
    }

    /// Writes instruction words at the KSEG0/KSEG1 address `va`.
    pub fn load(&mut self, va: u64, words: &[u32]) {
        self.load_pa(unmapped_pa(va), words);
    }

    /// Writes instruction words at physical address `pa`.
    pub fn load_pa(&mut self, pa: u64, words: &[u32]) {
        for (k, w) in words.iter().enumerate() {
            self.mem
                .write_u32(pa + 4 * k as u64, *w)
                .expect("code in RAM");
        }
    }

    /// Writes bytes at the KSEG0/KSEG1 address `va`.
    pub fn poke(&mut self, va: u64, bytes: &[u8]) {
        self.mem
            .write_bytes(unmapped_pa(va), bytes)
            .expect("in RAM");
    }

    pub fn poke_u64(&mut self, va: u64, v: u64) {
        self.poke(va, &v.to_le_bytes());
    }

    pub fn poke_u32(&mut self, va: u64, v: u32) {
        self.poke(va, &v.to_le_bytes());
    }

    /// Reads `n` bytes at the KSEG0/KSEG1 address `va`.
    pub fn peek(&self, va: u64, n: usize) -> Vec<u8> {
        let mut b = vec![0; n];
        self.mem
            .read_bytes(unmapped_pa(va), &mut b)
            .expect("in RAM");
        b
    }

    pub fn peek_u64(&self, va: u64) -> u64 {
        u64::from_le_bytes(self.peek(va, 8).try_into().unwrap())
    }

    pub fn peek_u32(&self, va: u64) -> u32 {
        u32::from_le_bytes(self.peek(va, 4).try_into().unwrap())
    }

    pub fn set(&mut self, reg: u8, v: u64) {
        self.cpu.set_gpr(reg, v);
    }

    pub fn reg(&self, reg: u8) -> u64 {
        self.cpu.gpr(reg)
    }

    /// Loads `words` at [`CODE`] followed by the sentinel `break`, and points
    /// the CPU at it.
    pub fn program(&mut self, words: &[u32]) {
        self.program_at(CODE, words);
    }

    /// Like [`Machine::program`] at the KSEG0 address `va`.
    pub fn program_at(&mut self, va: u64, words: &[u32]) {
        let mut code = words.to_vec();
        code.push(asm::brk(SENTINEL));
        self.load(va, &code);
        self.cpu.pc = va;
    }

    /// Maps the page pair at [`USER_CODE`] (TLB entry 0, global, writable) to
    /// CODE_PA and loads `words` plus the sentinel there, for user or
    /// supervisor mode (see [`Machine::enter_mode`]); points the CPU at it.
    pub fn user_program(&mut self, words: &[u32]) {
        self.map(
            0,
            0,
            USER_CODE,
            entrylo(CODE_PA, LO_VDG),
            entrylo(CODE_PA + 0x1000, LO_VDG),
        );
        self.program(words);
        self.cpu.pc = USER_CODE;
    }

    /// Runs for at most `cycles` more cycles.
    pub fn run_for(&mut self, cycles: u64) -> RunExit {
        let until = self.cpu.cycles() + cycles;
        self.cpu
            .run(&mut self.mem, &mut self.code, &mut self.bus, until)
    }

    /// Runs until the CPU stops; panics if it is still running after [`LIMIT`].
    pub fn run(&mut self) -> RunExit {
        let exit = self.run_for(LIMIT);
        assert_ne!(
            exit,
            RunExit::Limit,
            "program still running at pc {:#x}",
            self.cpu.pc
        );
        exit
    }

    /// Runs until a native trap and returns it.
    pub fn run_to_trap(&mut self) -> Trap {
        match self.run() {
            RunExit::Trap(t) => t,
            other => panic!("expected a trap, got {other:?} at pc {:#x}", self.cpu.pc),
        }
    }

    /// Runs until a trap that is not the sentinel; panics on the sentinel.
    pub fn run_to_fault(&mut self) -> Trap {
        let t = self.run_to_trap();
        assert!(!is_sentinel(&t), "program completed without faulting");
        t
    }

    /// Runs to the sentinel `break`; panics on any other trap.
    pub fn run_to_sentinel(&mut self) {
        let t = self.run_to_trap();
        assert!(
            is_sentinel(&t),
            "expected to reach the sentinel, got {:?} at {:#x} (in delay slot: {})",
            t.exception,
            t.pc,
            t.in_delay_slot
        );
    }

    /// Runs (vector delivery) until `wait` halts the CPU; returns the address
    /// of that `wait`.
    pub fn run_to_wait(&mut self) -> u64 {
        match self.run() {
            RunExit::Halted => self.cpu.pc - 4,
            other => panic!("expected WAIT, got {other:?} at pc {:#x}", self.cpu.pc),
        }
    }

    /// Cause.ExcCode.
    pub fn exc_code(&self) -> ExcCode {
        ExcCode::from_cause(self.cp0(c0::CAUSE))
    }

    /// Writes TLB entry `index` through the CPU's public TLB-write API.
    pub fn map(&mut self, index: usize, pagemask: u64, entryhi: u64, lo0: u64, lo1: u64) {
        self.cpu
            .tlb_write(index, TlbEntry::from_registers(pagemask, entryhi, lo0, lo1));
    }

    /// Switches to user (`ksu` = 2) or supervisor (`ksu` = 1) mode with the
    /// given extra Status bits, keeping the 64-bit segment enables.
    pub fn enter_mode(&mut self, ksu: u64, extra: u64) {
        self.set_status(KERNEL_STATUS | (ksu << status::KSU_SHIFT) | extra);
    }
}

/// EntryLo value for physical page frame of `pa` with flags.
pub fn entrylo(pa: u64, flags: u64) -> u64 {
    ((pa >> 12) << 6) | flags
}

/// EntryLo flag bits.
pub const LO_G: u64 = 1;
pub const LO_V: u64 = 2;
pub const LO_D: u64 = 4;
/// Cacheability attribute 3 (cacheable noncoherent).
pub const LO_C3: u64 = 3 << 3;
/// Valid, dirty, global, cacheable.
pub const LO_VDG: u64 = LO_V | LO_D | LO_G | LO_C3;

/// True for the trap of the sentinel `break`.
pub fn is_sentinel(t: &Trap) -> bool {
    t.exception.code == ExcCode::Bp && t.instr == Some(Instr::Break { code: SENTINEL })
}

/// Bits of Cause.
pub mod cause {
    pub const BD: u64 = 1 << 31;
    pub const TI: u64 = 1 << 30;
    pub const CE_SHIFT: u32 = 28;
    pub const IV: u64 = 1 << 23;
    pub const IP_SHIFT: u32 = 8;
}

/// Cause.ExcCode field of a Cause value.
pub fn exccode_field(cause: u64) -> u64 {
    (cause >> 2) & 0x1f
}
