//! Semantics of every non-privileged instruction.
//!
//! 32-bit operations compute on the low word and sign-extend the result, as
//! MIPS64 requires. Privileged instructions are in [`crate::privileged`], FPU
//! arithmetic in [`crate::fpu`].

use crate::bus::Bus;
use crate::cp0::status;
use crate::cpu::{Cpu, Flow};
use crate::exception::{ExcCode, Exception};
use crate::instr::Instr;
use crate::memory::PhysMem;
use crate::mmu::Privilege;

/// Sign-extends the low 32 bits.
#[inline(always)]
pub(crate) fn sx32(v: u64) -> u64 {
    v as i32 as i64 as u64
}

#[inline(always)]
fn branch_target(pc: u64, off: i16) -> u64 {
    pc.wrapping_add(4).wrapping_add(((off as i64) << 2) as u64)
}

#[inline(always)]
fn branch(cond: bool, pc: u64, off: i16) -> Flow {
    Flow::Branch(if cond {
        branch_target(pc, off)
    } else {
        pc.wrapping_add(8)
    })
}

#[inline(always)]
fn branch_likely(cond: bool, pc: u64, off: i16) -> Flow {
    if cond {
        Flow::Branch(branch_target(pc, off))
    } else {
        Flow::SkipDelaySlot
    }
}

#[inline(always)]
fn mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

#[inline(always)]
fn trap_if(cond: bool) -> Result<Flow, Exception> {
    if cond {
        Err(Exception::new(ExcCode::Tr))
    } else {
        Ok(Flow::Next)
    }
}

impl Cpu {
    #[inline(always)]
    fn addr(&self, base: u8, off: i16) -> u64 {
        self.gpr(base).wrapping_add(off as i64 as u64)
    }

    #[inline(always)]
    pub(crate) fn cop1_usable(&self) -> Result<(), Exception> {
        if self.cp0.status & status::CU1 != 0 {
            Ok(())
        } else {
            Err(Exception::cop_unusable(1))
        }
    }

    #[inline(always)]
    pub(crate) fn fr(&self) -> bool {
        self.cp0.status & status::FR != 0
    }

    /// Executes one instruction at `pc`.
    #[inline(always)]
    pub(crate) fn step(
        &mut self,
        ins: &Instr,
        pc: u64,
        mem: &mut PhysMem,
        bus: &mut dyn Bus,
    ) -> Result<Flow, Exception> {
        use Instr::*;
        self.cur_pc = pc;
        if !self.ops64 && ins.is_64bit_op() {
            return Err(Exception::new(ExcCode::Ri));
        }
        match *ins {
            Nop | Ssnop | Ehb => {}
            Sll { rd, rt, sa } => self.set_gpr(
                rd,
                sx32((self.gpr(rt) as u32).wrapping_shl(sa as u32) as u64),
            ),
            Srl { rd, rt, sa } => self.set_gpr(rd, sx32(((self.gpr(rt) as u32) >> sa) as u64)),
            Sra { rd, rt, sa } => self.set_gpr(rd, ((self.gpr(rt) as i32) >> sa) as i64 as u64),
            Rotr { rd, rt, sa } => self.set_gpr(
                rd,
                sx32((self.gpr(rt) as u32).rotate_right(sa as u32) as u64),
            ),
            Dsll { rd, rt, sa } => self.set_gpr(rd, self.gpr(rt) << sa),
            Dsrl { rd, rt, sa } => self.set_gpr(rd, self.gpr(rt) >> sa),
            Dsra { rd, rt, sa } => self.set_gpr(rd, ((self.gpr(rt) as i64) >> sa) as u64),
            Drotr { rd, rt, sa } => self.set_gpr(rd, self.gpr(rt).rotate_right(sa as u32)),
            Dsll32 { rd, rt, sa } => self.set_gpr(rd, self.gpr(rt) << (sa + 32)),
            Dsrl32 { rd, rt, sa } => self.set_gpr(rd, self.gpr(rt) >> (sa + 32)),
            Dsra32 { rd, rt, sa } => self.set_gpr(rd, ((self.gpr(rt) as i64) >> (sa + 32)) as u64),
            Drotr32 { rd, rt, sa } => self.set_gpr(rd, self.gpr(rt).rotate_right(sa as u32 + 32)),
            Sllv { rd, rt, rs } => {
                let s = self.gpr(rs) as u32 & 31;
                self.set_gpr(rd, sx32(((self.gpr(rt) as u32) << s) as u64))
            }
            Srlv { rd, rt, rs } => {
                let s = self.gpr(rs) as u32 & 31;
                self.set_gpr(rd, sx32(((self.gpr(rt) as u32) >> s) as u64))
            }
            Srav { rd, rt, rs } => {
                let s = self.gpr(rs) as u32 & 31;
                self.set_gpr(rd, ((self.gpr(rt) as i32) >> s) as i64 as u64)
            }
            Rotrv { rd, rt, rs } => {
                let s = self.gpr(rs) as u32 & 31;
                self.set_gpr(rd, sx32((self.gpr(rt) as u32).rotate_right(s) as u64))
            }
            Dsllv { rd, rt, rs } => self.set_gpr(rd, self.gpr(rt) << (self.gpr(rs) & 63)),
            Dsrlv { rd, rt, rs } => self.set_gpr(rd, self.gpr(rt) >> (self.gpr(rs) & 63)),
            Dsrav { rd, rt, rs } => {
                self.set_gpr(rd, ((self.gpr(rt) as i64) >> (self.gpr(rs) & 63)) as u64)
            }
            Drotrv { rd, rt, rs } => {
                self.set_gpr(rd, self.gpr(rt).rotate_right((self.gpr(rs) & 63) as u32))
            }

            Add { rd, rs, rt } => {
                let r = (self.gpr(rs) as i32).checked_add(self.gpr(rt) as i32);
                let r = r.ok_or(Exception::new(ExcCode::Ov))?;
                self.set_gpr(rd, r as i64 as u64)
            }
            Addu { rd, rs, rt } => self.set_gpr(rd, sx32(self.gpr(rs).wrapping_add(self.gpr(rt)))),
            Sub { rd, rs, rt } => {
                let r = (self.gpr(rs) as i32).checked_sub(self.gpr(rt) as i32);
                let r = r.ok_or(Exception::new(ExcCode::Ov))?;
                self.set_gpr(rd, r as i64 as u64)
            }
            Subu { rd, rs, rt } => self.set_gpr(rd, sx32(self.gpr(rs).wrapping_sub(self.gpr(rt)))),
            Dadd { rd, rs, rt } => {
                let r = (self.gpr(rs) as i64).checked_add(self.gpr(rt) as i64);
                let r = r.ok_or(Exception::new(ExcCode::Ov))?;
                self.set_gpr(rd, r as u64)
            }
            Daddu { rd, rs, rt } => self.set_gpr(rd, self.gpr(rs).wrapping_add(self.gpr(rt))),
            Dsub { rd, rs, rt } => {
                let r = (self.gpr(rs) as i64).checked_sub(self.gpr(rt) as i64);
                let r = r.ok_or(Exception::new(ExcCode::Ov))?;
                self.set_gpr(rd, r as u64)
            }
            Dsubu { rd, rs, rt } => self.set_gpr(rd, self.gpr(rs).wrapping_sub(self.gpr(rt))),
            And { rd, rs, rt } => self.set_gpr(rd, self.gpr(rs) & self.gpr(rt)),
            Or { rd, rs, rt } => self.set_gpr(rd, self.gpr(rs) | self.gpr(rt)),
            Xor { rd, rs, rt } => self.set_gpr(rd, self.gpr(rs) ^ self.gpr(rt)),
            Nor { rd, rs, rt } => self.set_gpr(rd, !(self.gpr(rs) | self.gpr(rt))),
            Slt { rd, rs, rt } => {
                self.set_gpr(rd, ((self.gpr(rs) as i64) < (self.gpr(rt) as i64)) as u64)
            }
            Sltu { rd, rs, rt } => self.set_gpr(rd, (self.gpr(rs) < self.gpr(rt)) as u64),
            Movz { rd, rs, rt } => {
                if self.gpr(rt) == 0 {
                    self.set_gpr(rd, self.gpr(rs))
                }
            }
            Movn { rd, rs, rt } => {
                if self.gpr(rt) != 0 {
                    self.set_gpr(rd, self.gpr(rs))
                }
            }
            Movci { rd, rs, cc, tf } => {
                self.cop1_usable()?;
                if self.fpu.condition(cc) == tf {
                    self.set_gpr(rd, self.gpr(rs))
                }
            }

            Mfhi { rd } => self.set_gpr(rd, self.hi),
            Mthi { rs } => self.hi = self.gpr(rs),
            Mflo { rd } => self.set_gpr(rd, self.lo),
            Mtlo { rs } => self.lo = self.gpr(rs),
            Mult { rs, rt } => {
                let p = (self.gpr(rs) as i32 as i64) * (self.gpr(rt) as i32 as i64);
                self.set_hilo32(p as u64)
            }
            Multu { rs, rt } => {
                let p = (self.gpr(rs) as u32 as u64) * (self.gpr(rt) as u32 as u64);
                self.set_hilo32(p)
            }
            Div { rs, rt } => {
                let (a, b) = (self.gpr(rs) as i32, self.gpr(rt) as i32);
                if b != 0 {
                    self.lo = a.wrapping_div(b) as i64 as u64;
                    self.hi = a.wrapping_rem(b) as i64 as u64;
                }
            }
            Divu { rs, rt } => {
                let (a, b) = (self.gpr(rs) as u32, self.gpr(rt) as u32);
                if let (Some(q), Some(r)) = (a.checked_div(b), a.checked_rem(b)) {
                    self.lo = sx32(q as u64);
                    self.hi = sx32(r as u64);
                }
            }
            Dmult { rs, rt } => {
                let p = (self.gpr(rs) as i64 as i128) * (self.gpr(rt) as i64 as i128);
                self.lo = p as u64;
                self.hi = (p >> 64) as u64;
            }
            Dmultu { rs, rt } => {
                let p = (self.gpr(rs) as u128) * (self.gpr(rt) as u128);
                self.lo = p as u64;
                self.hi = (p >> 64) as u64;
            }
            Ddiv { rs, rt } => {
                let (a, b) = (self.gpr(rs) as i64, self.gpr(rt) as i64);
                if b != 0 {
                    self.lo = a.wrapping_div(b) as u64;
                    self.hi = a.wrapping_rem(b) as u64;
                }
            }
            Ddivu { rs, rt } => {
                let (a, b) = (self.gpr(rs), self.gpr(rt));
                if let (Some(q), Some(r)) = (a.checked_div(b), a.checked_rem(b)) {
                    self.lo = q;
                    self.hi = r;
                }
            }
            Madd { rs, rt } => {
                let p = (self.gpr(rs) as i32 as i64) * (self.gpr(rt) as i32 as i64);
                self.set_hilo32(self.hilo32().wrapping_add(p as u64))
            }
            Maddu { rs, rt } => {
                let p = (self.gpr(rs) as u32 as u64) * (self.gpr(rt) as u32 as u64);
                self.set_hilo32(self.hilo32().wrapping_add(p))
            }
            Msub { rs, rt } => {
                let p = (self.gpr(rs) as i32 as i64) * (self.gpr(rt) as i32 as i64);
                self.set_hilo32(self.hilo32().wrapping_sub(p as u64))
            }
            Msubu { rs, rt } => {
                let p = (self.gpr(rs) as u32 as u64) * (self.gpr(rt) as u32 as u64);
                self.set_hilo32(self.hilo32().wrapping_sub(p))
            }
            Mul { rd, rs, rt } => {
                let p = (self.gpr(rs) as i32).wrapping_mul(self.gpr(rt) as i32);
                self.set_gpr(rd, p as i64 as u64)
            }
            Clz { rd, rs } => self.set_gpr(rd, (self.gpr(rs) as u32).leading_zeros() as u64),
            Clo { rd, rs } => self.set_gpr(rd, (self.gpr(rs) as u32).leading_ones() as u64),
            Dclz { rd, rs } => self.set_gpr(rd, self.gpr(rs).leading_zeros() as u64),
            Dclo { rd, rs } => self.set_gpr(rd, self.gpr(rs).leading_ones() as u64),

            Addi { rt, rs, imm } => {
                let r = (self.gpr(rs) as i32).checked_add(imm as i32);
                let r = r.ok_or(Exception::new(ExcCode::Ov))?;
                self.set_gpr(rt, r as i64 as u64)
            }
            Addiu { rt, rs, imm } => {
                self.set_gpr(rt, sx32(self.gpr(rs).wrapping_add(imm as i64 as u64)))
            }
            Daddi { rt, rs, imm } => {
                let r = (self.gpr(rs) as i64).checked_add(imm as i64);
                let r = r.ok_or(Exception::new(ExcCode::Ov))?;
                self.set_gpr(rt, r as u64)
            }
            Daddiu { rt, rs, imm } => {
                self.set_gpr(rt, self.gpr(rs).wrapping_add(imm as i64 as u64))
            }
            Slti { rt, rs, imm } => self.set_gpr(rt, ((self.gpr(rs) as i64) < imm as i64) as u64),
            Sltiu { rt, rs, imm } => self.set_gpr(rt, (self.gpr(rs) < imm as i64 as u64) as u64),
            Andi { rt, rs, imm } => self.set_gpr(rt, self.gpr(rs) & imm as u64),
            Ori { rt, rs, imm } => self.set_gpr(rt, self.gpr(rs) | imm as u64),
            Xori { rt, rs, imm } => self.set_gpr(rt, self.gpr(rs) ^ imm as u64),
            Lui { rt, imm } => self.set_gpr(rt, ((imm as i16 as i64) << 16) as u64),

            Ext { rt, rs, pos, size } => {
                let v = (self.gpr(rs) >> pos) & mask(size as u32);
                self.set_gpr(rt, sx32(v))
            }
            Dext { rt, rs, pos, size } => {
                let v = (self.gpr(rs) >> pos) & mask(size as u32);
                self.set_gpr(rt, v)
            }
            Ins { rt, rs, pos, size } => {
                let m = mask(size as u32) << pos;
                let v = (self.gpr(rt) & !m) | ((self.gpr(rs) << pos) & m);
                self.set_gpr(rt, sx32(v))
            }
            Dins { rt, rs, pos, size } => {
                let m = mask(size as u32) << pos;
                let v = (self.gpr(rt) & !m) | ((self.gpr(rs) << pos) & m);
                self.set_gpr(rt, v)
            }
            Wsbh { rd, rt } => {
                let v = self.gpr(rt) as u32;
                let v = ((v & 0x00ff_00ff) << 8) | ((v >> 8) & 0x00ff_00ff);
                self.set_gpr(rd, sx32(v as u64))
            }
            Seb { rd, rt } => self.set_gpr(rd, self.gpr(rt) as i8 as i64 as u64),
            Seh { rd, rt } => self.set_gpr(rd, self.gpr(rt) as i16 as i64 as u64),
            Dsbh { rd, rt } => {
                let v = self.gpr(rt);
                let v = ((v & 0x00ff_00ff_00ff_00ff) << 8) | ((v >> 8) & 0x00ff_00ff_00ff_00ff);
                self.set_gpr(rd, v)
            }
            Dshd { rd, rt } => {
                let v = self.gpr(rt);
                let v = ((v & 0xffff) << 48)
                    | ((v & 0xffff_0000) << 16)
                    | ((v >> 16) & 0xffff_0000)
                    | (v >> 48);
                self.set_gpr(rd, v)
            }

            Beq { rs, rt, off } => return Ok(branch(self.gpr(rs) == self.gpr(rt), pc, off)),
            Bne { rs, rt, off } => return Ok(branch(self.gpr(rs) != self.gpr(rt), pc, off)),
            Blez { rs, off } => return Ok(branch(self.gpr(rs) as i64 <= 0, pc, off)),
            Bgtz { rs, off } => return Ok(branch(self.gpr(rs) as i64 > 0, pc, off)),
            Bltz { rs, off } => return Ok(branch((self.gpr(rs) as i64) < 0, pc, off)),
            Bgez { rs, off } => return Ok(branch(self.gpr(rs) as i64 >= 0, pc, off)),
            Bltzal { rs, off } => {
                let c = (self.gpr(rs) as i64) < 0;
                self.set_gpr(31, pc.wrapping_add(8));
                return Ok(branch(c, pc, off));
            }
            Bgezal { rs, off } => {
                let c = self.gpr(rs) as i64 >= 0;
                self.set_gpr(31, pc.wrapping_add(8));
                return Ok(branch(c, pc, off));
            }
            Beql { rs, rt, off } => {
                return Ok(branch_likely(self.gpr(rs) == self.gpr(rt), pc, off))
            }
            Bnel { rs, rt, off } => {
                return Ok(branch_likely(self.gpr(rs) != self.gpr(rt), pc, off))
            }
            Blezl { rs, off } => return Ok(branch_likely(self.gpr(rs) as i64 <= 0, pc, off)),
            Bgtzl { rs, off } => return Ok(branch_likely(self.gpr(rs) as i64 > 0, pc, off)),
            Bltzl { rs, off } => return Ok(branch_likely((self.gpr(rs) as i64) < 0, pc, off)),
            Bgezl { rs, off } => return Ok(branch_likely(self.gpr(rs) as i64 >= 0, pc, off)),
            Bltzall { rs, off } => {
                let c = (self.gpr(rs) as i64) < 0;
                self.set_gpr(31, pc.wrapping_add(8));
                return Ok(branch_likely(c, pc, off));
            }
            Bgezall { rs, off } => {
                let c = self.gpr(rs) as i64 >= 0;
                self.set_gpr(31, pc.wrapping_add(8));
                return Ok(branch_likely(c, pc, off));
            }
            J { target } => {
                return Ok(Flow::Branch(
                    (pc.wrapping_add(4) & !0x0fff_ffff) | ((target as u64) << 2),
                ))
            }
            Jal { target } => {
                self.set_gpr(31, pc.wrapping_add(8));
                return Ok(Flow::Branch(
                    (pc.wrapping_add(4) & !0x0fff_ffff) | ((target as u64) << 2),
                ));
            }
            Jr { rs, .. } => return Ok(Flow::Branch(self.gpr(rs))),
            Jalr { rd, rs, .. } => {
                let target = self.gpr(rs);
                self.set_gpr(rd, pc.wrapping_add(8));
                return Ok(Flow::Branch(target));
            }

            Syscall { .. } => return Err(Exception::new(ExcCode::Sys)),
            Break { .. } => return Err(Exception::new(ExcCode::Bp)),
            Sdbbp { .. } => return Err(Exception::new(ExcCode::Ri)),
            Teq { rs, rt, .. } => return trap_if(self.gpr(rs) == self.gpr(rt)),
            Tne { rs, rt, .. } => return trap_if(self.gpr(rs) != self.gpr(rt)),
            Tge { rs, rt, .. } => return trap_if(self.gpr(rs) as i64 >= self.gpr(rt) as i64),
            Tgeu { rs, rt, .. } => return trap_if(self.gpr(rs) >= self.gpr(rt)),
            Tlt { rs, rt, .. } => return trap_if((self.gpr(rs) as i64) < self.gpr(rt) as i64),
            Tltu { rs, rt, .. } => return trap_if(self.gpr(rs) < self.gpr(rt)),
            Teqi { rs, imm } => return trap_if(self.gpr(rs) as i64 == imm as i64),
            Tnei { rs, imm } => return trap_if(self.gpr(rs) as i64 != imm as i64),
            Tgei { rs, imm } => return trap_if(self.gpr(rs) as i64 >= imm as i64),
            Tgeiu { rs, imm } => return trap_if(self.gpr(rs) >= imm as i64 as u64),
            Tlti { rs, imm } => return trap_if((self.gpr(rs) as i64) < imm as i64),
            Tltiu { rs, imm } => return trap_if(self.gpr(rs) < imm as i64 as u64),

            Lb { rt, base, off } => {
                let v = self.load::<1>(mem, bus, self.addr(base, off))?;
                self.set_gpr(rt, v as i8 as i64 as u64)
            }
            Lbu { rt, base, off } => {
                let v = self.load::<1>(mem, bus, self.addr(base, off))?;
                self.set_gpr(rt, v)
            }
            Lh { rt, base, off } => {
                let v = self.load::<2>(mem, bus, self.addr(base, off))?;
                self.set_gpr(rt, v as i16 as i64 as u64)
            }
            Lhu { rt, base, off } => {
                let v = self.load::<2>(mem, bus, self.addr(base, off))?;
                self.set_gpr(rt, v)
            }
            Lw { rt, base, off } => {
                let v = self.load::<4>(mem, bus, self.addr(base, off))?;
                self.set_gpr(rt, sx32(v))
            }
            Lwu { rt, base, off } => {
                let v = self.load::<4>(mem, bus, self.addr(base, off))?;
                self.set_gpr(rt, v)
            }
            Ld { rt, base, off } => {
                let v = self.load::<8>(mem, bus, self.addr(base, off))?;
                self.set_gpr(rt, v)
            }
            Lwl { rt, base, off } => {
                let va = self.addr(base, off);
                let word = self.load::<4>(mem, bus, va & !3)? as u32;
                let shift = (3 - (va & 3) as u32) * 8;
                let keep = if shift == 0 { 0 } else { (1u32 << shift) - 1 };
                let v = (word << shift) | (self.gpr(rt) as u32 & keep);
                self.set_gpr(rt, sx32(v as u64))
            }
            Lwr { rt, base, off } => {
                let va = self.addr(base, off);
                let word = self.load::<4>(mem, bus, va & !3)? as u32;
                let shift = (va & 3) as u32 * 8;
                let keep = if shift == 0 { 0 } else { !(u32::MAX >> shift) };
                let v = (word >> shift) | (self.gpr(rt) as u32 & keep);
                self.set_gpr(rt, sx32(v as u64))
            }
            Ldl { rt, base, off } => {
                let va = self.addr(base, off);
                let dw = self.load::<8>(mem, bus, va & !7)?;
                let shift = (7 - (va & 7) as u32) * 8;
                let keep = if shift == 0 { 0 } else { (1u64 << shift) - 1 };
                self.set_gpr(rt, (dw << shift) | (self.gpr(rt) & keep))
            }
            Ldr { rt, base, off } => {
                let va = self.addr(base, off);
                let dw = self.load::<8>(mem, bus, va & !7)?;
                let shift = (va & 7) as u32 * 8;
                let keep = if shift == 0 { 0 } else { !(u64::MAX >> shift) };
                self.set_gpr(rt, (dw >> shift) | (self.gpr(rt) & keep))
            }
            Ll { rt, base, off } => {
                let va = self.addr(base, off);
                let v = self.load::<4>(mem, bus, va)?;
                self.link(va, v);
                self.set_gpr(rt, sx32(v))
            }
            Lld { rt, base, off } => {
                let va = self.addr(base, off);
                let v = self.load::<8>(mem, bus, va)?;
                self.link(va, v);
                self.set_gpr(rt, v)
            }
            Sb { rt, base, off } => {
                self.store::<1>(mem, bus, self.addr(base, off), self.gpr(rt))?
            }
            Sh { rt, base, off } => {
                self.store::<2>(mem, bus, self.addr(base, off), self.gpr(rt))?
            }
            Sw { rt, base, off } => {
                self.store::<4>(mem, bus, self.addr(base, off), self.gpr(rt))?
            }
            Sd { rt, base, off } => {
                self.store::<8>(mem, bus, self.addr(base, off), self.gpr(rt))?
            }
            Swl { rt, base, off } => {
                let va = self.addr(base, off);
                let word = self.load_for_merge::<4>(mem, bus, va & !3)? as u32;
                let shift = (3 - (va & 3) as u32) * 8;
                let r = self.gpr(rt) as u32;
                let v = (word & !(u32::MAX >> shift)) | (r >> shift);
                self.store::<4>(mem, bus, va & !3, v as u64)?
            }
            Swr { rt, base, off } => {
                let va = self.addr(base, off);
                let word = self.load_for_merge::<4>(mem, bus, va & !3)? as u32;
                let shift = (va & 3) as u32 * 8;
                let r = self.gpr(rt) as u32;
                let keep = if shift == 0 { 0 } else { (1u32 << shift) - 1 };
                let v = (word & keep) | (r << shift);
                self.store::<4>(mem, bus, va & !3, v as u64)?
            }
            Sdl { rt, base, off } => {
                let va = self.addr(base, off);
                let dw = self.load_for_merge::<8>(mem, bus, va & !7)?;
                let shift = (7 - (va & 7) as u32) * 8;
                let v = (dw & !(u64::MAX >> shift)) | (self.gpr(rt) >> shift);
                self.store::<8>(mem, bus, va & !7, v)?
            }
            Sdr { rt, base, off } => {
                let va = self.addr(base, off);
                let dw = self.load_for_merge::<8>(mem, bus, va & !7)?;
                let shift = (va & 7) as u32 * 8;
                let keep = if shift == 0 { 0 } else { (1u64 << shift) - 1 };
                let v = (dw & keep) | (self.gpr(rt) << shift);
                self.store::<8>(mem, bus, va & !7, v)?
            }
            Sc { rt, base, off } => {
                let va = self.addr(base, off);
                let ok = self.ll_bit
                    && self.ll_va == va
                    && self.store_conditional::<4>(
                        mem,
                        bus,
                        va,
                        self.ll_value & 0xffff_ffff,
                        self.gpr(rt),
                    )?;
                if !ok {
                    // SC still takes the exceptions of a store.
                    self.probe_store::<4>(mem, bus, va)?;
                }
                self.ll_bit = false;
                self.set_gpr(rt, ok as u64)
            }
            Scd { rt, base, off } => {
                let va = self.addr(base, off);
                let ok = self.ll_bit
                    && self.ll_va == va
                    && self.store_conditional::<8>(mem, bus, va, self.ll_value, self.gpr(rt))?;
                if !ok {
                    self.probe_store::<8>(mem, bus, va)?;
                }
                self.ll_bit = false;
                self.set_gpr(rt, ok as u64)
            }

            Lwc1 { ft, base, off } => {
                self.cop1_usable()?;
                let v = self.load::<4>(mem, bus, self.addr(base, off))?;
                let fr = self.fr();
                self.fpu.write_w(ft, v as u32, fr)
            }
            Ldc1 { ft, base, off } => {
                self.cop1_usable()?;
                let v = self.load::<8>(mem, bus, self.addr(base, off))?;
                let fr = self.fr();
                self.fpu.write_l(ft, v, fr)
            }
            Swc1 { ft, base, off } => {
                self.cop1_usable()?;
                let v = self.fpu.read_w(ft, self.fr());
                self.store::<4>(mem, bus, self.addr(base, off), v as u64)?
            }
            Sdc1 { ft, base, off } => {
                self.cop1_usable()?;
                let v = self.fpu.read_l(ft, self.fr());
                self.store::<8>(mem, bus, self.addr(base, off), v)?
            }
            Lwxc1 { fd, base, index } => {
                self.cop1_usable()?;
                let va = self.gpr(base).wrapping_add(self.gpr(index));
                let v = self.load::<4>(mem, bus, va)?;
                let fr = self.fr();
                self.fpu.write_w(fd, v as u32, fr)
            }
            Ldxc1 { fd, base, index } => {
                self.cop1_usable()?;
                let va = self.gpr(base).wrapping_add(self.gpr(index));
                let v = self.load::<8>(mem, bus, va)?;
                let fr = self.fr();
                self.fpu.write_l(fd, v, fr)
            }
            Luxc1 { fd, base, index } => {
                self.cop1_usable()?;
                let va = self.gpr(base).wrapping_add(self.gpr(index)) & !7;
                let v = self.load::<8>(mem, bus, va)?;
                let fr = self.fr();
                self.fpu.write_l(fd, v, fr)
            }
            Swxc1 { fs, base, index } => {
                self.cop1_usable()?;
                let va = self.gpr(base).wrapping_add(self.gpr(index));
                let v = self.fpu.read_w(fs, self.fr());
                self.store::<4>(mem, bus, va, v as u64)?
            }
            Sdxc1 { fs, base, index } => {
                self.cop1_usable()?;
                let va = self.gpr(base).wrapping_add(self.gpr(index));
                let v = self.fpu.read_l(fs, self.fr());
                self.store::<8>(mem, bus, va, v)?
            }
            Suxc1 { fs, base, index } => {
                self.cop1_usable()?;
                let va = self.gpr(base).wrapping_add(self.gpr(index)) & !7;
                let v = self.fpu.read_l(fs, self.fr());
                self.store::<8>(mem, bus, va, v)?
            }
            Prefx { .. } => self.cop1_usable()?,
            Bc1 {
                cc,
                tf,
                likely,
                off,
            } => {
                self.cop1_usable()?;
                let c = self.fpu.condition(cc) == tf;
                return Ok(if likely {
                    branch_likely(c, pc, off)
                } else {
                    branch(c, pc, off)
                });
            }
            Fpu(ref f) => {
                self.cop1_usable()?;
                let fr = self.fr();
                self.fpu
                    .execute(f, &mut self.gpr, fr)
                    .map_err(|e| match e {
                        crate::fpu::FpuException::FloatingPoint => Exception::new(ExcCode::Fpe),
                        crate::fpu::FpuException::Reserved => Exception::new(ExcCode::Ri),
                    })?;
                self.gpr[0] = 0;
            }

            Pref { .. } | Sync { .. } | Synci { .. } => {}
            Rdhwr { rt, rd } => {
                let v = self.read_hwr(rd, pc)?;
                self.set_gpr(rt, v)
            }
            CopUnusable { cop } => return Err(Exception::cop_unusable(cop)),
            // Coprocessor Unusable has priority over Reserved Instruction:
            // an undefined COP1/COP1X encoding with CU1 = 0 raises CpU.
            Reserved(w) if matches!(w >> 26, 0x11 | 0x13) => {
                self.cop1_usable()?;
                return Err(Exception::new(ExcCode::Ri));
            }
            Reserved(_) => return Err(Exception::new(ExcCode::Ri)),

            Cache { .. }
            | Mfc0 { .. }
            | Dmfc0 { .. }
            | Mtc0 { .. }
            | Dmtc0 { .. }
            | Di { .. }
            | Ei { .. }
            | Rdpgpr { .. }
            | Wrpgpr { .. }
            | Tlbr
            | Tlbwi
            | Tlbwr
            | Tlbp
            | Eret
            | Deret
            | Wait => return self.exec_privileged(ins, pc),
        }
        Ok(Flow::Next)
    }

    #[inline(always)]
    fn hilo32(&self) -> u64 {
        (self.hi << 32) | (self.lo & 0xffff_ffff)
    }

    #[inline(always)]
    fn set_hilo32(&mut self, v: u64) {
        self.lo = sx32(v);
        self.hi = sx32(v >> 32);
    }

    #[inline(always)]
    fn link(&mut self, va: u64, v: u64) {
        self.ll_bit = true;
        self.ll_va = va;
        self.ll_value = v;
    }

    /// Reads the word a partial store (SWL/SWR/SDL/SDR) merges into, checking
    /// store permission first so that faults are reported as store faults.
    #[inline(always)]
    fn load_for_merge<const N: usize>(
        &mut self,
        mem: &mut PhysMem,
        bus: &mut dyn Bus,
        va: u64,
    ) -> Result<u64, Exception> {
        self.probe_store::<N>(mem, bus, va)?;
        self.load::<N>(mem, bus, va)
    }

    /// Raises the exception a store to `va` would raise, without storing.
    #[inline(always)]
    fn probe_store<const N: usize>(
        &mut self,
        _mem: &mut PhysMem,
        _bus: &mut dyn Bus,
        va: u64,
    ) -> Result<(), Exception> {
        let e = self
            .stlb
            .get(crate::softtlb::slot(self.privilege as usize, va));
        if e.write == va & (crate::softtlb::PAGE_MASK | (N as u64 - 1)) {
            return Ok(());
        }
        if va & (N as u64 - 1) != 0 {
            return Err(Exception::at(ExcCode::AdES, va));
        }
        self.translate(va, crate::mmu::Access::Store).map(|_| ())
    }

    /// RDHWR: hardware registers readable by user code when HWREna allows.
    fn read_hwr(&self, rd: u8, pc: u64) -> Result<u64, Exception> {
        let allowed = self.privilege == Privilege::Kernel
            || self.cp0.status & status::CU0 != 0
            || self.cp0.hwrena & (1 << rd) != 0;
        if !allowed {
            return Err(Exception::new(ExcCode::Ri));
        }
        Ok(match rd {
            // CPUNum is EBase.CPUNum (which a monitor sets to the vCPU's).
            0 => self.cp0.ebase & 0x3ff,
            1 => 32,
            2 => sx32(self.count_at(self.now(pc)) as u64),
            3 => 2,
            29 => self.cp0.userlocal,
            _ => return Err(Exception::new(ExcCode::Ri)),
        })
    }
}
