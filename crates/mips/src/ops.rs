//! Threaded code: the form a decoded block is executed in.
//!
//! When a block is built, every [`Instr`] is lowered to an [`Op`]: a pointer
//! to a small handler function plus the instruction's operands in fixed
//! slots. The run loop calls the handlers one after another. Frequent integer
//! instructions have their own handler; all others use [`op_generic`], which
//! executes the block's `Instr` through the full interpreter
//! ([`Cpu::step`]). Both paths implement the same semantics; the handlers
//! here are a fast path, not a second definition (tests run both).

use crate::access::{read_le, write_le};
use crate::bus::Bus;
use crate::cpu::{Cpu, Flow};
use crate::decode::decode;
use crate::exception::Exception;
use crate::exec::sx32;
use crate::instr::Instr;
use crate::memory::PhysMem;
use crate::softtlb::{slot, PAGE_MASK};

/// What a handler needs besides the CPU.
pub(crate) struct Ctx<'a> {
    pub mem: &'a mut PhysMem,
    pub bus: &'a mut dyn Bus,
}

/// Executes one lowered instruction at `pc`.
pub(crate) type Handler = fn(&mut Cpu, &mut Ctx<'_>, &Op, u64) -> Flow;

/// A lowered instruction: handler and operands. Register slots hold GPR
/// numbers; their meaning depends on the handler (see [`lower`]).
#[derive(Clone, Copy)]
pub(crate) struct Op {
    pub f: Handler,
    /// Destination register (rd or rt).
    pub d: u8,
    /// First source register (rs, or base for memory ops).
    pub s: u8,
    /// Second source register (rt).
    pub t: u8,
    /// Shift amount, bit position, or field size.
    pub x: u8,
    /// Immediate: sign-extended offset, zero-extended constant, jump target
    /// or field size, as the handler defines.
    pub imm: u32,
}

impl std::fmt::Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Op(d={}, s={}, t={}, x={}, imm={:#x})",
            self.d, self.s, self.t, self.x, self.imm
        )
    }
}

#[inline(always)]
fn r(cpu: &Cpu, n: u8) -> u64 {
    cpu.gpr[(n & 31) as usize]
}

#[inline(always)]
fn w(cpu: &mut Cpu, n: u8, v: u64) {
    cpu.gpr[(n & 31) as usize] = v;
    cpu.gpr[0] = 0;
}

#[inline(always)]
fn simm(op: &Op) -> u64 {
    op.imm as i32 as i64 as u64
}

#[cold]
fn fault(cpu: &mut Cpu, e: Exception) -> Flow {
    cpu.fault = e;
    Flow::Fault
}

fn op_nop(_: &mut Cpu, _: &mut Ctx<'_>, _: &Op, _: u64) -> Flow {
    Flow::Next
}

/// Runs an instruction without its own handler through the full
/// interpreter; its word is in `imm` (decoding is cheap next to what these
/// rarer instructions do).
fn op_generic(cpu: &mut Cpu, x: &mut Ctx<'_>, op: &Op, pc: u64) -> Flow {
    let ins = decode(op.imm);
    match cpu.step(&ins, pc, x.mem, x.bus) {
        Ok(f) => f,
        Err(e) => fault(cpu, e),
    }
}

/// Defines handlers computing `d = f(s, t)` from two registers.
macro_rules! reg3 {
    ($($name:ident = |$a:ident, $b:ident| $e:expr;)*) => {$(
        fn $name(cpu: &mut Cpu, _: &mut Ctx<'_>, op: &Op, _: u64) -> Flow {
            let ($a, $b) = (r(cpu, op.s), r(cpu, op.t));
            w(cpu, op.d, $e);
            Flow::Next
        }
    )*};
}

reg3! {
    op_addu = |a, b| sx32(a.wrapping_add(b));
    op_subu = |a, b| sx32(a.wrapping_sub(b));
    op_daddu = |a, b| a.wrapping_add(b);
    op_dsubu = |a, b| a.wrapping_sub(b);
    op_and = |a, b| a & b;
    op_or = |a, b| a | b;
    op_xor = |a, b| a ^ b;
    op_nor = |a, b| !(a | b);
    op_slt = |a, b| ((a as i64) < (b as i64)) as u64;
    op_sltu = |a, b| (a < b) as u64;
    op_mul = |a, b| (a as i32).wrapping_mul(b as i32) as i64 as u64;
    // Variable shifts: s = rs (amount), t = rt (value).
    op_sllv = |a, b| sx32(((b as u32) << (a & 31)) as u64);
    op_srlv = |a, b| sx32(((b as u32) >> (a & 31)) as u64);
    op_srav = |a, b| ((b as i32) >> (a & 31)) as i64 as u64;
    op_dsllv = |a, b| b << (a & 63);
    op_dsrlv = |a, b| b >> (a & 63);
    op_dsrav = |a, b| ((b as i64) >> (a & 63)) as u64;
}

/// Defines handlers computing `d = f(t, x)` from a register and a shift amount.
macro_rules! shift {
    ($($name:ident = |$v:ident, $n:ident| $e:expr;)*) => {$(
        fn $name(cpu: &mut Cpu, _: &mut Ctx<'_>, op: &Op, _: u64) -> Flow {
            let ($v, $n) = (r(cpu, op.t), op.x as u32);
            w(cpu, op.d, $e);
            Flow::Next
        }
    )*};
}

shift! {
    op_sll = |v, n| sx32(((v as u32) << n) as u64);
    op_srl = |v, n| sx32(((v as u32) >> n) as u64);
    op_sra = |v, n| ((v as i32) >> n) as i64 as u64;
    op_dsll = |v, n| v << n;
    op_dsrl = |v, n| v >> n;
    op_dsra = |v, n| ((v as i64) >> n) as u64;
    op_dsll32 = |v, n| v << (n + 32);
    op_dsrl32 = |v, n| v >> (n + 32);
    op_dsra32 = |v, n| ((v as i64) >> (n + 32)) as u64;
    op_seb = |v, _n| v as i8 as i64 as u64;
    op_seh = |v, _n| v as i16 as i64 as u64;
}

/// Defines handlers computing `d = f(s, imm)`.
macro_rules! regimm {
    ($($name:ident = |$a:ident, $i:ident| $e:expr;)*) => {$(
        fn $name(cpu: &mut Cpu, _: &mut Ctx<'_>, op: &Op, _: u64) -> Flow {
            let ($a, $i) = (r(cpu, op.s), op.imm);
            w(cpu, op.d, $e);
            Flow::Next
        }
    )*};
}

regimm! {
    op_addiu = |a, i| sx32(a.wrapping_add(i as i32 as i64 as u64));
    op_daddiu = |a, i| a.wrapping_add(i as i32 as i64 as u64);
    op_slti = |a, i| ((a as i64) < (i as i32 as i64)) as u64;
    op_sltiu = |a, i| (a < i as i32 as i64 as u64) as u64;
    op_andi = |a, i| a & i as u64;
    op_ori = |a, i| a | i as u64;
    op_xori = |a, i| a ^ i as u64;
    op_lui = |_a, i| i as i32 as i64 as u64;
}

fn op_movz(cpu: &mut Cpu, _: &mut Ctx<'_>, op: &Op, _: u64) -> Flow {
    if r(cpu, op.t) == 0 {
        w(cpu, op.d, r(cpu, op.s));
    }
    Flow::Next
}

fn op_movn(cpu: &mut Cpu, _: &mut Ctx<'_>, op: &Op, _: u64) -> Flow {
    if r(cpu, op.t) != 0 {
        w(cpu, op.d, r(cpu, op.s));
    }
    Flow::Next
}

#[inline(always)]
fn field_mask(size: u32) -> u64 {
    if size >= 64 {
        u64::MAX
    } else {
        (1u64 << size) - 1
    }
}

fn op_ext(cpu: &mut Cpu, _: &mut Ctx<'_>, op: &Op, _: u64) -> Flow {
    let v = (r(cpu, op.s) >> op.x) & field_mask(op.imm);
    w(cpu, op.d, sx32(v));
    Flow::Next
}

fn op_dext(cpu: &mut Cpu, _: &mut Ctx<'_>, op: &Op, _: u64) -> Flow {
    let v = (r(cpu, op.s) >> op.x) & field_mask(op.imm);
    w(cpu, op.d, v);
    Flow::Next
}

fn op_ins(cpu: &mut Cpu, _: &mut Ctx<'_>, op: &Op, _: u64) -> Flow {
    let m = field_mask(op.imm) << op.x;
    let v = (r(cpu, op.d) & !m) | ((r(cpu, op.s) << op.x) & m);
    w(cpu, op.d, sx32(v));
    Flow::Next
}

fn op_dins(cpu: &mut Cpu, _: &mut Ctx<'_>, op: &Op, _: u64) -> Flow {
    let m = field_mask(op.imm) << op.x;
    let v = (r(cpu, op.d) & !m) | ((r(cpu, op.s) << op.x) & m);
    w(cpu, op.d, v);
    Flow::Next
}

fn op_mfhi(cpu: &mut Cpu, _: &mut Ctx<'_>, op: &Op, _: u64) -> Flow {
    w(cpu, op.d, cpu.hi);
    Flow::Next
}

fn op_mflo(cpu: &mut Cpu, _: &mut Ctx<'_>, op: &Op, _: u64) -> Flow {
    w(cpu, op.d, cpu.lo);
    Flow::Next
}

fn op_multu(cpu: &mut Cpu, _: &mut Ctx<'_>, op: &Op, _: u64) -> Flow {
    let p = (r(cpu, op.s) as u32 as u64) * (r(cpu, op.t) as u32 as u64);
    cpu.lo = sx32(p);
    cpu.hi = sx32(p >> 32);
    Flow::Next
}

fn op_mult(cpu: &mut Cpu, _: &mut Ctx<'_>, op: &Op, _: u64) -> Flow {
    let p = (r(cpu, op.s) as i32 as i64) * (r(cpu, op.t) as i32 as i64);
    cpu.lo = sx32(p as u64);
    cpu.hi = sx32((p >> 32) as u64);
    Flow::Next
}

fn op_dmultu(cpu: &mut Cpu, _: &mut Ctx<'_>, op: &Op, _: u64) -> Flow {
    let p = (r(cpu, op.s) as u128) * (r(cpu, op.t) as u128);
    cpu.lo = p as u64;
    cpu.hi = (p >> 64) as u64;
    Flow::Next
}

#[inline(always)]
fn target(pc: u64, op: &Op) -> u64 {
    pc.wrapping_add(4).wrapping_add(simm(op) << 2)
}

/// Defines conditional branches on `f(rs, rt)`; `likely` ones nullify the
/// delay slot when not taken.
macro_rules! branch {
    ($($name:ident = |$a:ident, $b:ident| $c:expr, $likely:expr;)*) => {$(
        fn $name(cpu: &mut Cpu, _: &mut Ctx<'_>, op: &Op, pc: u64) -> Flow {
            let ($a, $b) = (r(cpu, op.s), r(cpu, op.t));
            if $c {
                Flow::Branch(target(pc, op))
            } else if $likely {
                Flow::SkipDelaySlot
            } else {
                Flow::Branch(pc.wrapping_add(8))
            }
        }
    )*};
}

branch! {
    op_beq = |a, b| a == b, false;
    op_bne = |a, b| a != b, false;
    op_blez = |a, _b| (a as i64) <= 0, false;
    op_bgtz = |a, _b| (a as i64) > 0, false;
    op_bltz = |a, _b| (a as i64) < 0, false;
    op_bgez = |a, _b| (a as i64) >= 0, false;
    op_beql = |a, b| a == b, true;
    op_bnel = |a, b| a != b, true;
    op_blezl = |a, _b| (a as i64) <= 0, true;
    op_bgtzl = |a, _b| (a as i64) > 0, true;
    op_bltzl = |a, _b| (a as i64) < 0, true;
    op_bgezl = |a, _b| (a as i64) >= 0, true;
}

fn op_bal(cpu: &mut Cpu, _: &mut Ctx<'_>, op: &Op, pc: u64) -> Flow {
    w(cpu, 31, pc.wrapping_add(8));
    Flow::Branch(target(pc, op))
}

fn op_j(_: &mut Cpu, _: &mut Ctx<'_>, op: &Op, pc: u64) -> Flow {
    Flow::Branch((pc.wrapping_add(4) & !0x0fff_ffff) | ((op.imm as u64) << 2))
}

fn op_jal(cpu: &mut Cpu, _: &mut Ctx<'_>, op: &Op, pc: u64) -> Flow {
    w(cpu, 31, pc.wrapping_add(8));
    Flow::Branch((pc.wrapping_add(4) & !0x0fff_ffff) | ((op.imm as u64) << 2))
}

fn op_jr(cpu: &mut Cpu, _: &mut Ctx<'_>, op: &Op, _: u64) -> Flow {
    Flow::Branch(r(cpu, op.s))
}

fn op_jalr(cpu: &mut Cpu, _: &mut Ctx<'_>, op: &Op, pc: u64) -> Flow {
    let t = r(cpu, op.s);
    w(cpu, op.d, pc.wrapping_add(8));
    Flow::Branch(t)
}

/// Slow path of a load handler: translate, fill the soft TLB or reach a
/// device, then extend and write the destination. Out of line so the fast
/// path needs no stack frame.
#[cold]
#[inline(never)]
fn load_miss(
    cpu: &mut Cpu,
    x: &mut Ctx<'_>,
    op: &Op,
    pc: u64,
    va: u64,
    size: u64,
    ext: fn(u64) -> u64,
) -> Flow {
    cpu.cur_pc = pc;
    match cpu.load_slow(x.mem, x.bus, va, size) {
        Ok(v) => {
            w(cpu, op.d, ext(v));
            Flow::Next
        }
        Err(e) => fault(cpu, e),
    }
}

/// Slow path of a store handler.
#[cold]
#[inline(never)]
fn store_miss(cpu: &mut Cpu, x: &mut Ctx<'_>, pc: u64, va: u64, size: u64, v: u64) -> Flow {
    cpu.cur_pc = pc;
    match cpu.store_slow(x.mem, x.bus, va, size, v) {
        Ok(()) => Flow::Next,
        Err(e) => fault(cpu, e),
    }
}

/// Defines loads of `N` bytes with an extension function.
macro_rules! load {
    ($($name:ident = $n:literal, $ext:expr;)*) => {$(
        fn $name(cpu: &mut Cpu, x: &mut Ctx<'_>, op: &Op, pc: u64) -> Flow {
            let va = r(cpu, op.s).wrapping_add(simm(op));
            let e = cpu.stlb.get(slot(cpu.privilege as usize, va));
            if e.read == va & (PAGE_MASK | ($n - 1)) {
                let v = read_le::<$n>(x.mem.ram(), va.wrapping_add(e.addend) as usize);
                let ext: fn(u64) -> u64 = $ext;
                w(cpu, op.d, ext(v));
                Flow::Next
            } else {
                load_miss(cpu, x, op, pc, va, $n, $ext)
            }
        }
    )*};
}

load! {
    op_lb = 1, |v| v as i8 as i64 as u64;
    op_lbu = 1, |v| v;
    op_lh = 2, |v| v as i16 as i64 as u64;
    op_lhu = 2, |v| v;
    op_lw = 4, sx32;
    op_lwu = 4, |v| v;
    op_ld = 8, |v| v;
}

/// Defines stores of `N` bytes of register t.
macro_rules! store {
    ($($name:ident = $n:literal;)*) => {$(
        fn $name(cpu: &mut Cpu, x: &mut Ctx<'_>, op: &Op, pc: u64) -> Flow {
            let va = r(cpu, op.s).wrapping_add(simm(op));
            let v = r(cpu, op.t);
            let e = cpu.stlb.get(slot(cpu.privilege as usize, va));
            if e.write == va & (PAGE_MASK | ($n - 1)) {
                write_le::<$n>(x.mem.ram_mut(), va.wrapping_add(e.addend) as usize, v);
                Flow::Next
            } else {
                store_miss(cpu, x, pc, va, $n, v)
            }
        }
    )*};
}

store! {
    op_sb = 1;
    op_sh = 2;
    op_sw = 4;
    op_sd = 8;
}

/// Lowers a decoded instruction (from instruction word `word`) to threaded code.
pub(crate) fn lower(ins: &Instr, word: u32) -> Op {
    use Instr::*;
    let op = |f: Handler, d: u8, s: u8, t: u8, x: u8, imm: u32| Op { f, d, s, t, x, imm };
    let generic = op(op_generic, 0, 0, 0, 0, word);
    let si = |i: i16| i as i32 as u32;
    match *ins {
        Nop | Ssnop | Ehb | Pref { .. } | Sync { .. } | Synci { .. } => op(op_nop, 0, 0, 0, 0, 0),
        Sll { rd, rt, sa } => op(op_sll, rd, 0, rt, sa, 0),
        Srl { rd, rt, sa } => op(op_srl, rd, 0, rt, sa, 0),
        Sra { rd, rt, sa } => op(op_sra, rd, 0, rt, sa, 0),
        Dsll { rd, rt, sa } => op(op_dsll, rd, 0, rt, sa, 0),
        Dsrl { rd, rt, sa } => op(op_dsrl, rd, 0, rt, sa, 0),
        Dsra { rd, rt, sa } => op(op_dsra, rd, 0, rt, sa, 0),
        Dsll32 { rd, rt, sa } => op(op_dsll32, rd, 0, rt, sa, 0),
        Dsrl32 { rd, rt, sa } => op(op_dsrl32, rd, 0, rt, sa, 0),
        Dsra32 { rd, rt, sa } => op(op_dsra32, rd, 0, rt, sa, 0),
        Seb { rd, rt } => op(op_seb, rd, 0, rt, 0, 0),
        Seh { rd, rt } => op(op_seh, rd, 0, rt, 0, 0),
        Sllv { rd, rt, rs } => op(op_sllv, rd, rs, rt, 0, 0),
        Srlv { rd, rt, rs } => op(op_srlv, rd, rs, rt, 0, 0),
        Srav { rd, rt, rs } => op(op_srav, rd, rs, rt, 0, 0),
        Dsllv { rd, rt, rs } => op(op_dsllv, rd, rs, rt, 0, 0),
        Dsrlv { rd, rt, rs } => op(op_dsrlv, rd, rs, rt, 0, 0),
        Dsrav { rd, rt, rs } => op(op_dsrav, rd, rs, rt, 0, 0),
        Addu { rd, rs, rt } => op(op_addu, rd, rs, rt, 0, 0),
        Subu { rd, rs, rt } => op(op_subu, rd, rs, rt, 0, 0),
        Daddu { rd, rs, rt } => op(op_daddu, rd, rs, rt, 0, 0),
        Dsubu { rd, rs, rt } => op(op_dsubu, rd, rs, rt, 0, 0),
        And { rd, rs, rt } => op(op_and, rd, rs, rt, 0, 0),
        Or { rd, rs, rt } => op(op_or, rd, rs, rt, 0, 0),
        Xor { rd, rs, rt } => op(op_xor, rd, rs, rt, 0, 0),
        Nor { rd, rs, rt } => op(op_nor, rd, rs, rt, 0, 0),
        Slt { rd, rs, rt } => op(op_slt, rd, rs, rt, 0, 0),
        Sltu { rd, rs, rt } => op(op_sltu, rd, rs, rt, 0, 0),
        Mul { rd, rs, rt } => op(op_mul, rd, rs, rt, 0, 0),
        Movz { rd, rs, rt } => op(op_movz, rd, rs, rt, 0, 0),
        Movn { rd, rs, rt } => op(op_movn, rd, rs, rt, 0, 0),
        Addiu { rt, rs, imm } => op(op_addiu, rt, rs, 0, 0, si(imm)),
        Daddiu { rt, rs, imm } => op(op_daddiu, rt, rs, 0, 0, si(imm)),
        Slti { rt, rs, imm } => op(op_slti, rt, rs, 0, 0, si(imm)),
        Sltiu { rt, rs, imm } => op(op_sltiu, rt, rs, 0, 0, si(imm)),
        Andi { rt, rs, imm } => op(op_andi, rt, rs, 0, 0, imm as u32),
        Ori { rt, rs, imm } => op(op_ori, rt, rs, 0, 0, imm as u32),
        Xori { rt, rs, imm } => op(op_xori, rt, rs, 0, 0, imm as u32),
        Lui { rt, imm } => op(op_lui, rt, 0, 0, 0, (imm as u32) << 16),
        Ext { rt, rs, pos, size } => op(op_ext, rt, rs, 0, pos, size as u32),
        Dext { rt, rs, pos, size } => op(op_dext, rt, rs, 0, pos, size as u32),
        Ins { rt, rs, pos, size } => op(op_ins, rt, rs, 0, pos, size as u32),
        Dins { rt, rs, pos, size } => op(op_dins, rt, rs, 0, pos, size as u32),
        Mfhi { rd } => op(op_mfhi, rd, 0, 0, 0, 0),
        Mflo { rd } => op(op_mflo, rd, 0, 0, 0, 0),
        Mult { rs, rt } => op(op_mult, 0, rs, rt, 0, 0),
        Multu { rs, rt } => op(op_multu, 0, rs, rt, 0, 0),
        Dmultu { rs, rt } => op(op_dmultu, 0, rs, rt, 0, 0),
        Beq { rs, rt, off } => op(op_beq, 0, rs, rt, 0, si(off)),
        Bne { rs, rt, off } => op(op_bne, 0, rs, rt, 0, si(off)),
        Blez { rs, off } => op(op_blez, 0, rs, 0, 0, si(off)),
        Bgtz { rs, off } => op(op_bgtz, 0, rs, 0, 0, si(off)),
        Bltz { rs, off } => op(op_bltz, 0, rs, 0, 0, si(off)),
        Bgez { rs, off } => op(op_bgez, 0, rs, 0, 0, si(off)),
        Beql { rs, rt, off } => op(op_beql, 0, rs, rt, 0, si(off)),
        Bnel { rs, rt, off } => op(op_bnel, 0, rs, rt, 0, si(off)),
        Blezl { rs, off } => op(op_blezl, 0, rs, 0, 0, si(off)),
        Bgtzl { rs, off } => op(op_bgtzl, 0, rs, 0, 0, si(off)),
        Bltzl { rs, off } => op(op_bltzl, 0, rs, 0, 0, si(off)),
        Bgezl { rs, off } => op(op_bgezl, 0, rs, 0, 0, si(off)),
        Bgezal { rs: 0, off } => op(op_bal, 0, 0, 0, 0, si(off)),
        J { target } => op(op_j, 0, 0, 0, 0, target),
        Jal { target } => op(op_jal, 0, 0, 0, 0, target),
        Jr { rs, .. } => op(op_jr, 0, rs, 0, 0, 0),
        Jalr { rd, rs, .. } => op(op_jalr, rd, rs, 0, 0, 0),
        Lb { rt, base, off } => op(op_lb, rt, base, 0, 0, si(off)),
        Lbu { rt, base, off } => op(op_lbu, rt, base, 0, 0, si(off)),
        Lh { rt, base, off } => op(op_lh, rt, base, 0, 0, si(off)),
        Lhu { rt, base, off } => op(op_lhu, rt, base, 0, 0, si(off)),
        Lw { rt, base, off } => op(op_lw, rt, base, 0, 0, si(off)),
        Lwu { rt, base, off } => op(op_lwu, rt, base, 0, 0, si(off)),
        Ld { rt, base, off } => op(op_ld, rt, base, 0, 0, si(off)),
        Sb { rt, base, off } => op(op_sb, 0, base, rt, 0, si(off)),
        Sh { rt, base, off } => op(op_sh, 0, base, rt, 0, si(off)),
        Sw { rt, base, off } => op(op_sw, 0, base, rt, 0, si(off)),
        Sd { rt, base, off } => op(op_sd, 0, base, rt, 0, si(off)),
        _ => generic,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_stay_two_words() {
        assert_eq!(std::mem::size_of::<Op>(), 16);
    }

    #[test]
    fn rare_instructions_use_the_generic_handler_with_their_word() {
        let tlbwi = lower(&Instr::Tlbwi, 0x4200_0002);
        let eret = lower(&Instr::Eret, 0x4200_0018);
        assert_eq!(tlbwi.f as usize, eret.f as usize);
        assert_eq!(eret.imm, 0x4200_0018);
        let addu = lower(
            &Instr::Addu {
                rd: 1,
                rs: 2,
                rt: 3,
            },
            0x0043_0821,
        );
        assert_ne!(addu.f as usize, tlbwi.f as usize);
    }
}
