//! The MIPS Coherent Processing System (CPS): Coherence Manager global
//! configuration registers (GCRs), Cluster Power Controller (CPC) and Global
//! Interrupt Controller (GIC), as the stock Linux 6.1 `generic` kernel
//! (`CONFIG_MIPS_CPS=y`) uses them to bring up secondary CPUs and to route
//! device interrupts and IPIs.
//!
//! # Topology
//!
//! One CPU is one core with one VP (no MT ASE): CPU number = core number =
//! GIC VP number. The CPU model must report `Config3.CMGCR = 1`,
//! `Config3.MT = 0` and the same `CMGCRBase` (CP0 $15 sel 3, value = GCR
//! physical base >> 4) on every core.
//!
//! # Pieces
//!
//! * [`Cps`] ([`cm`] and [`cpc`]): the GCRs and the CPC in one struct,
//!   because they share the per-core state (power, reset base, coherence).
//!   Its two register windows are reached through [`Cps::gcr_read`] /
//!   [`Cps::gcr_write`] and [`Cps::cpc_read`] / [`Cps::cpc_write`], or
//!   through the thin views [`Cps::gcr`] and [`Cps::cpc`], which implement
//!   [`CpuMmioDevice`]. Starting and stopping cores produces [`CpsEvent`]s the
//!   machine collects with [`Cps::take_events`].
//! * [`Gic`] ([`gic`]): shared and VP-local interrupt state; device lines go
//!   in with [`Gic::set_shared_level`], per-VP CPU pins come out of
//!   [`Gic::cpu_pins`].
//!
//! # Accesses
//!
//! The register windows are arrays of 32-bit little-endian words. Every
//! device here accepts
//!
//! * 4-byte accesses at 4-byte aligned offsets inside the window, and
//! * 8-byte accesses at 8-byte aligned offsets, which act on the two words
//!   at `offset` (low half) and `offset + 4` (high half) — for the 64-bit
//!   registers that is exactly the register (CM 3 style accesses), for a
//!   pair of 32-bit registers it is both of them (the write goes to the low
//!   word first).
//!
//! Anything else (sizes 1, 2 or other, misaligned offsets, offsets outside
//! the window, an accessing CPU that does not exist) is a [`DeviceError`].
//! Unknown words inside a window read 0 and ignore writes. Nothing panics on
//! guest input.
//!
//! The CM revision is 2.5 (`GCR_REV = 0x0700`), so Linux sets
//! `mips_cm_is64 = false` and uses 32-bit accesses everywhere, reading and
//! writing 64-bit registers as two halves (high word at +4 first).
//!
//! # Device tree (what the board must describe)
//!
//! The GCR window needs no node: Linux finds it through `CMGCRBase`. The
//! other two windows and every interrupt that goes through the GIC need:
//!
//! ```dts
//! / {
//!     #address-cells = <2>; #size-cells = <2>;   /* or 1/1 below 4 GiB */
//!     interrupt-parent = <&gic>;                  /* recommended, see below */
//!
//!     gic: interrupt-controller@... {
//!         compatible = "mti,gic";
//!         reg = <GIC_BASE 0x20000>;               /* 128 KiB aligned */
//!         interrupt-controller;
//!         #interrupt-cells = <3>;
//!     };
//!
//!     cpc@... {
//!         compatible = "mti,mips-cpc";
//!         reg = <CPC_BASE 0x8000>;                /* 32 KiB aligned */
//!     };
//!
//!     serial@... {
//!         /* ... */
//!         interrupt-parent = <&gic>;
//!         interrupts = <0 N 4>;                   /* GIC_SHARED, shared N, IRQ_TYPE_LEVEL_HIGH */
//!     };
//! };
//! ```
//!
//! * `mti,gic`: `#interrupt-cells = <3>` — cell 0 is 0 (`GIC_SHARED`) or 1
//!   (`GIC_LOCAL`), cell 1 the interrupt number within that class, cell 2
//!   the trigger type (4 = level high). Linux's hwirq is `7 + N` for shared
//!   interrupt N. `reg` is required in practice: with it Linux writes
//!   `GCR_GIC_BASE = reg | GICEN` before it touches the GIC (without it, it
//!   falls back to the base [`Cps::new`] pre-programs into `GCR_GIC_BASE`).
//!   The node needs no `interrupt-parent` and no CPU interrupt-controller
//!   node is needed: the driver chains itself to CPU interrupt 2 (GIC pin 0
//!   → `Cause.IP2`). No `mti,reserved-cpu-vectors`, no
//!   `mti,reserved-ipi-vectors`, no `timer` subnode (`mti,gic-timer`): the
//!   CP0 count/compare stays the clock event device.
//! * IPIs: Linux reserves the **top `2 × possible CPUs` shared interrupts**
//!   for IPIs (64 shared, 4 CPUs → 56..63). Device interrupts must use
//!   numbers below that range, or the mapping fails with `-EBUSY`.
//! * `mti,mips-cpc`: `reg` = the CPC window. It is only read when
//!   `GCR_CPC_BASE.CPCEN` is clear at boot, which [`Cps::new`] arranges when
//!   the CPC base is at or above 4 GiB (see [`Cps::new`]); describing it
//!   always is harmless and recommended.
//! * Devices: `interrupts = <0 N 4>` and `interrupt-parent = <&gic>` (or an
//!   `interrupt-parent = <&gic>` on the root node, which Boston's DT uses;
//!   `mips_smp_ipi_allocate()` looks up the IPI domain of the root's
//!   interrupt parent, and also finds the GIC's IPI domain without it).
//! * CPU count comes from `GCR_CONFIG.PCORES`, not from `cpu@N` nodes (extra
//!   `cpu` nodes are harmless; `cpu@0` still needs `clocks`).
//!
//! # How the board wires it
//!
//! * Decode the GCR window at [`Cps::gcr_base`] (size [`GCR_WINDOW_SIZE`]),
//!   the CPC window at [`Cps::cpc_window`] and the GIC at
//!   [`Cps::gic_window`] (size [`gic::GIC_WINDOW_SIZE`]) — the latter two
//!   follow what the guest writes to `GCR_CPC_BASE` / `GCR_GIC_BASE`. Pass
//!   the number of the CPU that performs the access. No L2-only sync page
//!   needs decoding: `GCR_L2_ONLY_SYNC_BASE` resets to "enabled at 0", so
//!   Linux maps none (see [`cm`], "Addresses above 4 GiB", which also
//!   explains why the CPC is pre-enabled only below 4 GiB).
//! * After every GCR/CPC write, drain [`Cps::take_events`] (or check
//!   [`Cps::has_events`]): [`CpsEvent::StartCore`] means "reset that CPU and
//!   let it run from `reset_pc`" (architectural reset: `Status.BEV = ERL =
//!   1`, `CMGCRBase`/Config as at power-on), [`CpsEvent::StopCore`] means
//!   "stop running that CPU".
//! * Feed device interrupt outputs into [`Gic::set_shared_level`] and drive
//!   each CPU's `Cause.IP2..IP7` from [`Gic::cpu_pins`] of its VP (bit p →
//!   `IP(p+2)`; Linux uses pin 0 only). The CP0 timer keeps its own
//!   `IntCtl.IPTI` line: the GIC reports it as not routable.
//!
//! [`Cps`]: crate::cps::Cps
//! [`Cps::new`]: crate::cps::Cps::new
//! [`Cps::gcr`]: crate::cps::Cps::gcr
//! [`Cps::cpc`]: crate::cps::Cps::cpc
//! [`Cps::gcr_read`]: crate::cps::Cps::gcr_read
//! [`Cps::gcr_write`]: crate::cps::Cps::gcr_write
//! [`Cps::cpc_read`]: crate::cps::Cps::cpc_read
//! [`Cps::cpc_write`]: crate::cps::Cps::cpc_write
//! [`Cps::gcr_base`]: crate::cps::Cps::gcr_base
//! [`Cps::gic_window`]: crate::cps::Cps::gic_window
//! [`Cps::cpc_window`]: crate::cps::Cps::cpc_window
//! [`Cps::has_events`]: crate::cps::Cps::has_events
//! [`Cps::take_events`]: crate::cps::Cps::take_events
//! [`CpsEvent`]: crate::cps::CpsEvent
//! [`CpsEvent::StartCore`]: crate::cps::CpsEvent::StartCore
//! [`CpsEvent::StopCore`]: crate::cps::CpsEvent::StopCore
//! [`CpuMmioDevice`]: crate::cps::CpuMmioDevice
//! [`DeviceError`]: crate::device::DeviceError
//! [`GCR_WINDOW_SIZE`]: crate::cps::GCR_WINDOW_SIZE
//! [`Gic`]: crate::cps::Gic
//! [`Gic::set_shared_level`]: crate::cps::Gic::set_shared_level
//! [`Gic::cpu_pins`]: crate::cps::Gic::cpu_pins
//! [`gic::GIC_WINDOW_SIZE`]: crate::cps::gic::GIC_WINDOW_SIZE
//! [`cm`]: crate::cps::cm
//! [`cpc`]: crate::cps::cpc
//! [`gic`]: crate::cps::gic

pub mod cm;
pub mod cpc;
pub mod gic;

use thiserror::Error;

use crate::device::DeviceError;

pub use cm::{
    CpcWindow, Cps, CpsEvent, GcrWindow, CPC_WINDOW_SIZE, GCR_REV_CM2_5, GCR_WINDOW_SIZE, MAX_CORES,
};
pub use gic::{Gic, DEFAULT_SHARED_IRQS, GIC_COUNTER_HZ, GIC_WINDOW_SIZE, MAX_VPS};

/// A memory-mapped device whose registers depend on the accessing CPU.
///
/// Like [`MmioDevice`](crate::device::MmioDevice), but every access also
/// names the CPU that performs it, because the core-local and VP-local
/// register blocks show the accessing CPU's own registers.
pub trait CpuMmioDevice {
    /// Reads `size` bytes at `offset` on behalf of CPU `cpu`; `now_ns` is the
    /// simulated time in nanoseconds.
    fn read(&mut self, cpu: u32, offset: u64, size: u8, now_ns: u64) -> Result<u64, DeviceError>;

    /// Writes the low `size` bytes of `value` at `offset` on behalf of CPU
    /// `cpu`.
    fn write(
        &mut self,
        cpu: u32,
        offset: u64,
        size: u8,
        value: u64,
        now_ns: u64,
    ) -> Result<(), DeviceError>;

    /// Short name for traces ("gcr", "cpc", "gic").
    fn name(&self) -> &'static str;
}

/// An invalid CPS or GIC configuration (a board bug, never guest input).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum CpsConfigError {
    /// The number of cores (or VPs) is 0 or above the supported maximum.
    #[error("unsupported number of cores/VPs {0} (1..={max})", max = MAX_CORES)]
    BadCoreCount(u32),
    /// The number of shared GIC interrupts is not a multiple of 8 in 8..=256.
    #[error("unsupported number of shared GIC interrupts {0} (a multiple of 8 in 8..=256)")]
    BadSharedIrqCount(u32),
    /// A window base is misaligned or beyond the 48-bit physical address
    /// space the base registers hold.
    #[error("{what} base {base:#x} must be aligned to {align:#x} and below 2^48")]
    BadBase {
        /// Which window ("GCR", "CPC", "GIC").
        what: &'static str,
        /// The rejected base.
        base: u64,
        /// The required alignment.
        align: u64,
    },
}

/// Checks a window base: aligned to `align` and below 2^48.
fn check_base(what: &'static str, base: u64, align: u64) -> Result<(), CpsConfigError> {
    if !base.is_multiple_of(align) || base >> 48 != 0 {
        return Err(CpsConfigError::BadBase { what, base, align });
    }
    Ok(())
}

/// Performs a read of `size` bytes at `offset` in a window of `window` bytes
/// made of 32-bit words, reading each word with `word` (see the module
/// documentation for the accepted accesses).
fn read_words(
    offset: u64,
    size: u8,
    window: u64,
    mut word: impl FnMut(u64) -> u32,
) -> Result<u64, DeviceError> {
    match size {
        4 if offset.is_multiple_of(4) && offset < window => Ok(u64::from(word(offset))),
        8 if offset.is_multiple_of(8) && offset < window => {
            let lo = u64::from(word(offset));
            let hi = u64::from(word(offset + 4));
            Ok(lo | hi << 32)
        }
        _ => Err(DeviceError),
    }
}

/// Performs a write of the low `size` bytes of `value` at `offset` in a
/// window of `window` bytes made of 32-bit words, writing each word with
/// `word` (low word first).
fn write_words(
    offset: u64,
    size: u8,
    value: u64,
    window: u64,
    mut word: impl FnMut(u64, u32),
) -> Result<(), DeviceError> {
    match size {
        4 if offset.is_multiple_of(4) && offset < window => {
            word(offset, value as u32);
            Ok(())
        }
        8 if offset.is_multiple_of(8) && offset < window => {
            word(offset, value as u32);
            word(offset + 4, (value >> 32) as u32);
            Ok(())
        }
        _ => Err(DeviceError),
    }
}

/// The low (`hi == false`) or high 32-bit half of a 64-bit value.
fn half(value: u64, hi: bool) -> u32 {
    if hi {
        (value >> 32) as u32
    } else {
        value as u32
    }
}

/// Replaces one 32-bit half of a 64-bit register, keeping only `mask` bits.
fn set_half(reg: u64, hi: bool, value: u32, mask: u64) -> u64 {
    let new = if hi {
        (reg & 0xffff_ffff) | u64::from(value) << 32
    } else {
        (reg & !0xffff_ffff) | u64::from(value)
    };
    new & mask
}

#[cfg(test)]
mod tests;
