//! Architectural exceptions as values.
//!
//! Instruction execution returns `Err(Exception)`; the CPU then either delivers
//! it through the MIPS exception vectors (bare operating system) or hands it,
//! as a [`Trap`], to native code such as the monitor (see
//! [`crate::TrapDelivery`]).

use crate::instr::Instr;

/// MIPS64 exception codes (`Cause.ExcCode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ExcCode {
    /// Interrupt.
    Int = 0,
    /// TLB modification: store to a page whose TLB entry has D = 0.
    Mod = 1,
    /// TLB miss or invalid entry on a load or instruction fetch.
    TlbL = 2,
    /// TLB miss or invalid entry on a store.
    TlbS = 3,
    /// Address error on a load or instruction fetch.
    AdEL = 4,
    /// Address error on a store.
    AdES = 5,
    /// Bus error on an instruction fetch.
    Ibe = 6,
    /// Bus error on a data access.
    Dbe = 7,
    /// `syscall`.
    Sys = 8,
    /// `break`.
    Bp = 9,
    /// Reserved instruction.
    Ri = 10,
    /// Coprocessor unusable.
    CpU = 11,
    /// Integer overflow.
    Ov = 12,
    /// Trap instruction.
    Tr = 13,
    /// Floating-point exception.
    Fpe = 15,
}

impl ExcCode {
    /// The code held in a Cause register value (unknown codes read as RI).
    pub fn from_cause(cause: u64) -> Self {
        match (cause >> 2) & 0x1f {
            0 => ExcCode::Int,
            1 => ExcCode::Mod,
            2 => ExcCode::TlbL,
            3 => ExcCode::TlbS,
            4 => ExcCode::AdEL,
            5 => ExcCode::AdES,
            6 => ExcCode::Ibe,
            7 => ExcCode::Dbe,
            8 => ExcCode::Sys,
            9 => ExcCode::Bp,
            11 => ExcCode::CpU,
            12 => ExcCode::Ov,
            13 => ExcCode::Tr,
            15 => ExcCode::Fpe,
            _ => ExcCode::Ri,
        }
    }

    /// The short name used by the MIPS manuals and in traces.
    pub fn name(self) -> &'static str {
        match self {
            ExcCode::Int => "Int",
            ExcCode::Mod => "Mod",
            ExcCode::TlbL => "TLBL",
            ExcCode::TlbS => "TLBS",
            ExcCode::AdEL => "AdEL",
            ExcCode::AdES => "AdES",
            ExcCode::Ibe => "IBE",
            ExcCode::Dbe => "DBE",
            ExcCode::Sys => "Sys",
            ExcCode::Bp => "Bp",
            ExcCode::Ri => "RI",
            ExcCode::CpU => "CpU",
            ExcCode::Ov => "Ov",
            ExcCode::Tr => "Tr",
            ExcCode::Fpe => "FPE",
        }
    }
}

/// One architectural exception raised by an instruction or an interrupt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exception {
    /// What happened.
    pub code: ExcCode,
    /// Faulting virtual address for address and TLB exceptions (else 0).
    pub badvaddr: u64,
    /// TLB refill (no matching entry), which uses the refill vectors, as opposed
    /// to a matching but invalid entry.
    pub refill: bool,
    /// Coprocessor number for Coprocessor Unusable.
    pub ce: u8,
}

impl Exception {
    /// An exception that carries no address.
    pub const fn new(code: ExcCode) -> Self {
        Exception {
            code,
            badvaddr: 0,
            refill: false,
            ce: 0,
        }
    }

    /// An address or TLB exception at `badvaddr`.
    pub const fn at(code: ExcCode, badvaddr: u64) -> Self {
        Exception {
            code,
            badvaddr,
            refill: false,
            ce: 0,
        }
    }

    /// A TLB refill (no matching entry) at `badvaddr`.
    pub const fn refill(code: ExcCode, badvaddr: u64) -> Self {
        Exception {
            code,
            badvaddr,
            refill: true,
            ce: 0,
        }
    }

    /// Coprocessor Unusable for coprocessor `ce`.
    pub const fn cop_unusable(ce: u8) -> Self {
        Exception {
            code: ExcCode::CpU,
            badvaddr: 0,
            refill: false,
            ce,
        }
    }

    /// True for the exceptions that load BadVAddr.
    pub fn sets_badvaddr(&self) -> bool {
        matches!(
            self.code,
            ExcCode::Mod | ExcCode::TlbL | ExcCode::TlbS | ExcCode::AdEL | ExcCode::AdES
        )
    }

    /// True for the TLB exceptions that also load EntryHi, Context and XContext.
    pub fn is_tlb(&self) -> bool {
        matches!(self.code, ExcCode::Mod | ExcCode::TlbL | ExcCode::TlbS)
    }
}

/// An exception handed to native code instead of the guest's vectors.
///
/// The CPU's architectural state is exactly as before the faulting
/// instruction: `pc` is the instruction that faulted (the branch, when the
/// fault is in a delay slot) and no CP0 register has been changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trap {
    /// The exception.
    pub exception: Exception,
    /// Address to restart at: the faulting instruction, or its branch when
    /// `in_delay_slot` is set (the value hardware would put in EPC).
    pub pc: u64,
    /// The faulting instruction was in a branch delay slot.
    pub in_delay_slot: bool,
    /// The faulting instruction, when the fault came from executing one (not
    /// for interrupts or instruction-fetch faults).
    pub instr: Option<Instr>,
    /// For a fault in a delay slot: where execution continues once the
    /// delay-slot instruction has completed (the branch target, or the
    /// fall-through address of a branch not taken). A monitor that emulates
    /// the instruction resumes there.
    pub resume_at: Option<u64>,
}
