//! Coprocessor 1: the floating-point unit.
//!
//! Registers live in [`Fpu::fpr`] as 32 64-bit values. With `Status.FR = 1`
//! each register is independent. With `FR = 0` the architecture has 32 32-bit
//! registers and doubles occupy even/odd pairs; we store odd register `2n+1` in
//! the upper half of `fpr[2n]`, so a double in pair `2n` is simply `fpr[2n]`.
//!
//! Arithmetic follows QEMU's model of a MIPS64 Release 2 FPU with legacy NaN
//! encoding (see `exec.rs` for the exception and FCSR rules): round to
//! nearest runs on host floats with cheap exactness checks (`arith.rs`),
//! everything else (directed rounding, NaNs, overflow, tiny results, FCSR.FS)
//! goes through an exact software implementation (`soft.rs`).

mod arith;
mod decode;
mod exec;
mod instr;
mod soft;
#[cfg(test)]
mod tests;

pub use decode::{decode_cop1, decode_cop1x};
pub use exec::FpuException;
pub use instr::{BinOp, Fmt, FpInstr, MaddOp, Rounding, UnOp};

/// FIR (FPU implementation register, CP1 control register 0): single, double,
/// word, long and 64-bit registers; no paired-single, no 3D; legacy NaNs.
pub const FIR: u32 = (1 << 22) | (1 << 21) | (1 << 20) | (1 << 17) | (1 << 16);

/// FCSR bits that software can write (RM, flags, enables, cause, FS, condition
/// codes), as QEMU's MIPS64R2-generic. NAN2008/ABS2008 (bits 18, 19) and bits
/// 20..22 read as zero: this FPU uses legacy NaNs.
pub const FCSR_WRITABLE: u32 = 0xff83_ffff;

/// Architectural state of the FPU.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Fpu {
    /// Floating-point registers (see the module docs for the FR=0 layout).
    pub fpr: [u64; 32],
    /// FCSR (CP1 control register 31).
    pub fcsr: u32,
}

impl Fpu {
    /// A reset FPU: registers zero, FCSR zero (round to nearest, no traps).
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the 32-bit view of register `r` (a single or a word).
    #[inline]
    pub fn read_w(&self, r: u8, fr: bool) -> u32 {
        let r = (r & 31) as usize;
        if fr {
            self.fpr[r] as u32
        } else {
            (self.fpr[r & !1] >> ((r & 1) * 32)) as u32
        }
    }

    /// Writes the 32-bit view of register `r`. With FR=1 the upper half keeps
    /// its value (architecturally unpredictable).
    #[inline]
    pub fn write_w(&mut self, r: u8, v: u32, fr: bool) {
        let r = (r & 31) as usize;
        let (slot, shift) = if fr { (r, 0) } else { (r & !1, (r & 1) * 32) };
        let mask = 0xffff_ffffu64 << shift;
        self.fpr[slot] = (self.fpr[slot] & !mask) | ((v as u64) << shift);
    }

    /// Reads the 64-bit view of register `r` (a double or a long). With FR=0
    /// an odd `r` is unpredictable; we read its even pair.
    #[inline]
    pub fn read_l(&self, r: u8, fr: bool) -> u64 {
        let r = (r & 31) as usize;
        self.fpr[if fr { r } else { r & !1 }]
    }

    /// Writes the 64-bit view of register `r`.
    #[inline]
    pub fn write_l(&mut self, r: u8, v: u64, fr: bool) {
        let r = (r & 31) as usize;
        self.fpr[if fr { r } else { r & !1 }] = v;
    }

    /// Value of FP condition code `cc` (0..8).
    #[inline]
    pub fn condition(&self, cc: u8) -> bool {
        let bit = if cc == 0 { 23 } else { 24 + cc as u32 };
        self.fcsr & (1 << bit) != 0
    }

    /// Sets FP condition code `cc`.
    #[inline]
    pub fn set_condition(&mut self, cc: u8, v: bool) {
        let bit = if cc == 0 { 23 } else { 24 + cc as u32 };
        if v {
            self.fcsr |= 1 << bit;
        } else {
            self.fcsr &= !(1 << bit);
        }
    }
}
