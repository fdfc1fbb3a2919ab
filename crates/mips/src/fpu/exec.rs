//! Execution of COP1 computational and move instructions.
//!
//! Exception semantics follow QEMU's model of a MIPS64 Release 2 FPU with
//! legacy NaNs: every arithmetic instruction (including compares and
//! conversions) replaces FCSR.Cause with the exceptions it raised; if one of
//! them is enabled the instruction traps with Cause set and neither the
//! destination nor FCSR.Flags is written; otherwise Flags accumulate.
//! `mov`, `abs`, `neg` and the conditional moves are pure bit operations
//! that leave FCSR untouched (QEMU: abs/neg do not signal on sNaN).

use super::arith;
use super::soft::{Env, Format, Rm, D, S};
use super::{BinOp, FpInstr, Fpu, MaddOp, Rounding, UnOp, FCSR_WRITABLE, FIR};
use crate::fpu::Fmt;

/// Why an FPU instruction did not complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FpuException {
    /// Floating-point exception (ExcCode 15): FCSR.Cause holds the reason.
    #[error("floating-point exception")]
    FloatingPoint,
    /// The encoding is reserved for this format or implementation.
    #[error("reserved FPU instruction")]
    Reserved,
}

/// FCSR field positions.
const FLAGS_SHIFT: u32 = 2;
const ENABLES_SHIFT: u32 = 7;
const CAUSE_SHIFT: u32 = 12;
const CAUSE_MASK: u32 = 0x3f << CAUSE_SHIFT;
/// Cause.E (unimplemented operation): always enabled.
const CAUSE_E: u32 = 0x20;
const FS: u32 = 1 << 24;

#[inline(always)]
fn set_gpr(gpr: &mut [u64; 32], rt: u8, v: u64) {
    if rt != 0 {
        gpr[(rt & 31) as usize] = v;
    }
}

impl Fpu {
    /// Executes one non-memory, non-branch COP1/COP1X instruction. `gpr` is the
    /// general register file (for moves; register 0 is never written) and `fr`
    /// the current `Status.FR`.
    pub fn execute(
        &mut self,
        ins: &FpInstr,
        gpr: &mut [u64; 32],
        fr: bool,
    ) -> Result<(), FpuException> {
        match *ins {
            FpInstr::Mfc1 { rt, fs } => {
                set_gpr(gpr, rt, self.read_w(fs, fr) as i32 as i64 as u64);
            }
            FpInstr::Dmfc1 { rt, fs } => set_gpr(gpr, rt, self.read_l(fs, fr)),
            FpInstr::Mfhc1 { rt, fs } => {
                set_gpr(gpr, rt, (self.read_l(fs, fr) >> 32) as i32 as i64 as u64);
            }
            FpInstr::Mtc1 { rt, fs } => self.write_w(fs, gpr[(rt & 31) as usize] as u32, fr),
            FpInstr::Dmtc1 { rt, fs } => self.write_l(fs, gpr[(rt & 31) as usize], fr),
            FpInstr::Mthc1 { rt, fs } => {
                let lo = self.read_l(fs, fr) & 0xffff_ffff;
                self.write_l(fs, lo | (gpr[(rt & 31) as usize] << 32), fr);
            }
            FpInstr::Cfc1 { rt, fs } => {
                set_gpr(gpr, rt, self.read_control(fs) as i32 as i64 as u64)
            }
            FpInstr::Ctc1 { rt, fs } => return self.write_control(fs, gpr[(rt & 31) as usize]),
            FpInstr::Binary {
                op,
                fmt,
                fd,
                fs,
                ft,
            } => match fmt {
                Fmt::S => return self.binary::<S>(op, fd, fs, ft, fr),
                Fmt::D => return self.binary::<D>(op, fd, fs, ft, fr),
                _ => return Err(FpuException::Reserved),
            },
            FpInstr::Unary { op, fmt, fd, fs } => match fmt {
                Fmt::S => return self.unary::<S>(op, fd, fs, fr),
                Fmt::D => return self.unary::<D>(op, fd, fs, fr),
                _ => return Err(FpuException::Reserved),
            },
            FpInstr::ToInt {
                rounding,
                to,
                fmt,
                fd,
                fs,
            } => {
                let rm = match rounding {
                    Rounding::Nearest => Rm::Nearest,
                    Rounding::Zero => Rm::Zero,
                    Rounding::Up => Rm::Up,
                    Rounding::Down => Rm::Down,
                    Rounding::Current => Rm::from_fcsr(self.fcsr),
                };
                let wide = match to {
                    Fmt::W => false,
                    Fmt::L => true,
                    _ => return Err(FpuException::Reserved),
                };
                let mut env = self.env();
                let r = match fmt {
                    Fmt::S => arith::to_int::<S>(&mut env, self.get::<S>(fs, fr), rm, wide),
                    Fmt::D => arith::to_int::<D>(&mut env, self.get::<D>(fs, fr), rm, wide),
                    _ => return Err(FpuException::Reserved),
                };
                self.commit(env.flags)?;
                if wide {
                    self.write_l(fd, r, fr);
                } else {
                    self.write_w(fd, r as u32, fr);
                }
            }
            FpInstr::Cvt { to, fmt, fd, fs } => return self.cvt(to, fmt, fd, fs, fr),
            FpInstr::Movcf {
                fmt,
                fd,
                fs,
                cc,
                tf,
            } => {
                if self.condition(cc) == tf {
                    self.move_fmt(fmt, fd, fs, fr)?;
                }
            }
            FpInstr::Movzn {
                fmt,
                fd,
                fs,
                rt,
                nonzero,
            } => {
                if (gpr[(rt & 31) as usize] != 0) == nonzero {
                    self.move_fmt(fmt, fd, fs, fr)?;
                }
            }
            FpInstr::Cmp {
                fmt,
                cond,
                cc,
                fs,
                ft,
            } => {
                let mut env = self.env();
                let c = match fmt {
                    Fmt::S => {
                        let (a, b) = (self.get::<S>(fs, fr), self.get::<S>(ft, fr));
                        arith::compare::<S>(&mut env, a, b, cond)
                    }
                    Fmt::D => {
                        let (a, b) = (self.get::<D>(fs, fr), self.get::<D>(ft, fr));
                        arith::compare::<D>(&mut env, a, b, cond)
                    }
                    _ => return Err(FpuException::Reserved),
                };
                self.commit(env.flags)?;
                self.set_condition(cc & 7, c);
            }
            FpInstr::Madd {
                op,
                fmt,
                fd,
                fr: r,
                fs,
                ft,
            } => match fmt {
                Fmt::S => return self.madd::<S>(op, fd, r, fs, ft, fr),
                Fmt::D => return self.madd::<D>(op, fd, r, fs, ft, fr),
                _ => return Err(FpuException::Reserved),
            },
        }
        Ok(())
    }

    /// Reads FPU control register `fs` as CFC1 does (unimplemented ones read 0).
    pub fn read_control(&self, fs: u8) -> u32 {
        let f = self.fcsr;
        match fs {
            0 => FIR,
            // FCCR: condition codes 7..1 then 0.
            25 => ((f >> 24) & 0xfe) | ((f >> 23) & 1),
            // FEXR: Cause and Flags.
            26 => f & 0x0003_f07c,
            // FENR: Enables, FS (as bit 2) and RM.
            28 => (f & 0x0000_0f83) | ((f >> 22) & 4),
            31 => f,
            _ => 0,
        }
    }

    /// Writes FPU control register `fs` as CTC1 does. Writes to FCCR, FEXR
    /// or FENR with bits set in their zero fields are ignored (as in QEMU),
    /// as are writes to FIR and unimplemented registers. Raises
    /// `FloatingPoint` if the new Cause has Cause.E or an enabled bit.
    pub fn write_control(&mut self, fs: u8, value: u64) -> Result<(), FpuException> {
        let v = value as u32;
        let f = self.fcsr;
        let new = match fs {
            25 if v & 0xffff_ff00 == 0 => (f & 0x017f_ffff) | ((v & 0xfe) << 24) | ((v & 1) << 23),
            26 if v & 0x007c_0000 == 0 => (f & 0xfffc_0f83) | (v & 0x0003_f07c),
            28 if v & 0x007c_0000 == 0 => (f & 0xfeff_f07c) | (v & 0x0000_0f83) | ((v & 4) << 22),
            31 => (v & FCSR_WRITABLE) | (f & !FCSR_WRITABLE),
            _ => return Ok(()),
        };
        self.fcsr = (new & FCSR_WRITABLE) | (f & !FCSR_WRITABLE);
        let cause = (self.fcsr & CAUSE_MASK) >> CAUSE_SHIFT;
        let enabled = ((self.fcsr >> ENABLES_SHIFT) & 0x1f) | CAUSE_E;
        if cause & enabled != 0 {
            return Err(FpuException::FloatingPoint);
        }
        Ok(())
    }

    #[inline(always)]
    fn env(&self) -> Env {
        Env {
            rm: Rm::from_fcsr(self.fcsr),
            ftz: self.fcsr & FS != 0,
            flags: 0,
        }
    }

    /// Sets FCSR.Cause to `flags`; traps if one is enabled, else accumulates
    /// them into FCSR.Flags.
    #[inline(always)]
    fn commit(&mut self, flags: u32) -> Result<(), FpuException> {
        let fcsr = (self.fcsr & !CAUSE_MASK) | (flags << CAUSE_SHIFT);
        if flags & (fcsr >> ENABLES_SHIFT) != 0 {
            self.fcsr = fcsr;
            return Err(FpuException::FloatingPoint);
        }
        self.fcsr = fcsr | (flags << FLAGS_SHIFT);
        Ok(())
    }

    /// Reads register `r` as a value of format `F`.
    #[inline(always)]
    fn get<F: Format>(&self, r: u8, fr: bool) -> u64 {
        if F::WIDE {
            self.read_l(r, fr)
        } else {
            self.read_w(r, fr) as u64
        }
    }

    /// Writes a value of format `F` to register `r`.
    #[inline(always)]
    fn put<F: Format>(&mut self, r: u8, v: u64, fr: bool) {
        if F::WIDE {
            self.write_l(r, v, fr)
        } else {
            self.write_w(r, v as u32, fr)
        }
    }

    fn move_fmt(&mut self, fmt: Fmt, fd: u8, fs: u8, fr: bool) -> Result<(), FpuException> {
        match fmt {
            Fmt::S => {
                let v = self.get::<S>(fs, fr);
                self.put::<S>(fd, v, fr)
            }
            Fmt::D => {
                let v = self.get::<D>(fs, fr);
                self.put::<D>(fd, v, fr)
            }
            _ => return Err(FpuException::Reserved),
        }
        Ok(())
    }

    #[inline]
    fn binary<F: Format>(
        &mut self,
        op: BinOp,
        fd: u8,
        fs: u8,
        ft: u8,
        fr: bool,
    ) -> Result<(), FpuException> {
        let (a, b) = (self.get::<F>(fs, fr), self.get::<F>(ft, fr));
        let mut env = self.env();
        let r = match op {
            BinOp::Add => arith::add::<F>(&mut env, a, b),
            BinOp::Sub => arith::sub::<F>(&mut env, a, b),
            BinOp::Mul => arith::mul::<F>(&mut env, a, b),
            BinOp::Div => arith::div::<F>(&mut env, a, b),
        };
        self.commit(env.flags)?;
        self.put::<F>(fd, r, fr);
        Ok(())
    }

    #[inline]
    fn unary<F: Format>(&mut self, op: UnOp, fd: u8, fs: u8, fr: bool) -> Result<(), FpuException> {
        let a = self.get::<F>(fs, fr);
        let r = match op {
            UnOp::Mov => a,
            UnOp::Abs => a & !F::SIGN,
            UnOp::Neg => a ^ F::SIGN,
            UnOp::Sqrt | UnOp::Recip | UnOp::Rsqrt => {
                let mut env = self.env();
                let r = match op {
                    UnOp::Sqrt => arith::sqrt::<F>(&mut env, a),
                    UnOp::Recip => arith::div::<F>(&mut env, F::ONE, a),
                    _ => {
                        let s = arith::sqrt::<F>(&mut env, a);
                        arith::div::<F>(&mut env, F::ONE, s)
                    }
                };
                self.commit(env.flags)?;
                r
            }
        };
        self.put::<F>(fd, r, fr);
        Ok(())
    }

    fn cvt(&mut self, to: Fmt, fmt: Fmt, fd: u8, fs: u8, fr: bool) -> Result<(), FpuException> {
        let mut env = self.env();
        let r = match (to, fmt) {
            (Fmt::S, Fmt::D) => arith::convert::<D, S>(&mut env, self.get::<D>(fs, fr)),
            (Fmt::S, Fmt::W) => arith::from_int::<S>(&mut env, self.read_w(fs, fr) as i32 as i64),
            (Fmt::S, Fmt::L) => arith::from_int::<S>(&mut env, self.read_l(fs, fr) as i64),
            (Fmt::D, Fmt::S) => arith::convert::<S, D>(&mut env, self.get::<S>(fs, fr)),
            (Fmt::D, Fmt::W) => arith::from_int::<D>(&mut env, self.read_w(fs, fr) as i32 as i64),
            (Fmt::D, Fmt::L) => arith::from_int::<D>(&mut env, self.read_l(fs, fr) as i64),
            _ => return Err(FpuException::Reserved),
        };
        self.commit(env.flags)?;
        match to {
            Fmt::S => self.put::<S>(fd, r, fr),
            _ => self.put::<D>(fd, r, fr),
        }
        Ok(())
    }

    #[inline]
    fn madd<F: Format>(
        &mut self,
        op: MaddOp,
        fd: u8,
        r: u8,
        fs: u8,
        ft: u8,
        fr: bool,
    ) -> Result<(), FpuException> {
        let (a, b, c) = (
            self.get::<F>(fs, fr),
            self.get::<F>(ft, fr),
            self.get::<F>(r, fr),
        );
        let mut env = self.env();
        // Release 2: the product is rounded, then the sum; the negated forms
        // flip the sign of the rounded result (even of a NaN, as QEMU does).
        let p = arith::mul::<F>(&mut env, a, b);
        let (s, neg) = match op {
            MaddOp::Madd => (arith::add::<F>(&mut env, p, c), false),
            MaddOp::Msub => (arith::sub::<F>(&mut env, p, c), false),
            MaddOp::Nmadd => (arith::add::<F>(&mut env, p, c), true),
            MaddOp::Nmsub => (arith::sub::<F>(&mut env, p, c), true),
        };
        self.commit(env.flags)?;
        self.put::<F>(fd, if neg { s ^ F::SIGN } else { s }, fr);
        Ok(())
    }
}
