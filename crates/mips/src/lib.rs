//! A MIPS64 Release 2 little-endian CPU for full-system simulation.
//!
//! * [`decode()`] turns instruction words into the typed [`Instr`] that the
//!   interpreter executes, [`disasm()`] prints and a monitor inspects.
//! * [`Cpu`] holds the architectural state (GPRs, HI/LO, [`Cp0`], [`Fpu`],
//!   [`Tlb`]) and runs decoded blocks from a shared [`CodeCache`] against
//!   [`PhysMem`] and a machine-provided [`Bus`].
//! * Exceptions are values ([`Exception`]); the CPU delivers them through the
//!   MIPS vectors or, for a monitor, returns them as a [`Trap`]
//!   ([`TrapDelivery`]).
//!
//! The crate knows nothing of devices, NUMA or the monitor.

mod access;
pub mod bus;
pub mod code;
pub mod cp0;
mod cpu;
pub mod decode;
pub mod disasm;
pub mod exception;
mod exec;
pub mod fpu;
pub mod instr;
pub mod memory;
pub mod mmu;
mod ops;
mod privileged;
pub mod services;
mod softtlb;
pub mod tlb;
mod virt;

pub use bus::{Bus, BusError, NoDevices};
pub use code::CodeCache;
pub use cp0::Cp0;
pub use cpu::{BadCpuState, Cpu, CpuState, CpuStats, RunExit, TrapDelivery};
pub use decode::decode;
pub use disasm::disasm;
pub use exception::{ExcCode, Exception, Trap};
pub use fpu::Fpu;
pub use instr::Instr;
pub use memory::{MemError, PhysMem};
pub use mmu::{Access, Privilege, Translation};
pub use services::{ServiceCount, ServiceKey, ServiceTracker};
pub use tlb::{Tlb, TlbEntry};
pub use virt::Emulated;
