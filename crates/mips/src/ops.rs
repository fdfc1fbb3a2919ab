//! Threaded code: the form a decoded block is executed in.
//!
//! When a block is built, every [`Instr`] is lowered to an [`Op`]: a pointer
//! to a small handler function plus the instruction's operands in fixed
//! slots; a final `op_end` sentinel closes the block.
//!
//! Execution is *direct threaded*: a handler does its work and then calls the
//! next op's handler itself (a sibling call the compiler turns into a jump),
//! so there is no central dispatch loop and each handler's indirect jump is
//! predicted on its own. The chain returns to the run loop only when the
//! block ends ([`Exit::Goto`], with [`Cpu::retired_to`] telling how far it
//! got) or an instruction faults ([`Exit::Fault`]). Blocks hold at most
//! [`crate::code::MAX_BLOCK`] instructions, so the call depth is bounded even
//! where the compiler does not turn the calls into jumps.
//!
//! A branch records its decision ([`Cpu::branch_taken`],
//! [`Cpu::branch_target`]) and chains to its delay slot, which is lowered to
//! a *delay-slot* handler: after its own work it leaves the block for the
//! target if the branch was taken and otherwise continues in the block.
//!
//! Frequent instructions have their own handlers; all others run through the
//! full interpreter ([`Cpu::step`]) from a generic handler that decodes the
//! instruction word it carries. Both implement the same semantics.

use crate::access::{try_read_le, try_write_le};
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

/// How a chain of handlers ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    /// The block is finished; continue at this address. [`Cpu::retired_to`]
    /// is the address after the last instruction that took a cycle.
    Goto(u64),
    /// An instruction raised [`Cpu::fault`] at [`Cpu::fault_pc`].
    Fault,
}

/// Executes op `i` (which is `op`) of block `ops`.
pub(crate) type Handler = fn(&mut Cpu, &mut Ctx<'_>, &[Op], usize, &Op) -> Exit;

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
    /// Shift amount or bit position.
    pub x: u8,
    /// Immediate: sign-extended offset, constant, jump target, field size,
    /// or the instruction word (generic handlers).
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

/// Reads register `n` of an op's register slot.
#[inline(always)]
fn r(cpu: &Cpu, n: u8) -> u64 {
    debug_assert!(n < 32);
    // SAFETY: `lower_block` masks every register slot to five bits.
    unsafe { *cpu.gpr.get_unchecked(n as usize) }
}

/// Writes register `n` (`$zero` stays zero).
#[inline(always)]
fn w(cpu: &mut Cpu, n: u8, v: u64) {
    cpu.gpr[(n & 31) as usize] = v;
    cpu.gpr[0] = 0;
}

/// Writes register `n`, which is never `$zero`: [`lower_plain`] turns a
/// register-only instruction whose destination is `$zero` into a `nop`, so
/// its handler need not restore `$zero` after every write.
#[inline(always)]
fn set(cpu: &mut Cpu, n: u8, v: u64) {
    debug_assert!(n != 0 && n < 32, "a register-only op writes {n}");
    // SAFETY: `lower_block` masks every register slot to five bits.
    unsafe { *cpu.gpr.get_unchecked_mut(n as usize) = v }
}

#[inline(always)]
fn simm(op: &Op) -> u64 {
    op.imm as i32 as i64 as u64
}

/// Address of op `i` of the executing block.
#[inline(always)]
fn pc_of(cpu: &Cpu, i: usize) -> u64 {
    cpu.block_pc.wrapping_add((i as u64) << 2)
}

/// Continues the chain with op `j`.
#[inline(always)]
fn go(cpu: &mut Cpu, x: &mut Ctx<'_>, ops: &[Op], j: usize) -> Exit {
    debug_assert!(j < ops.len(), "an op chained past the sentinel");
    // SAFETY: `ops` is a block's code from `lower_block`, which always ends
    // with the `op_end` sentinel; no handler chains from the sentinel, and a
    // handler at `i` chains to at most `i + 1`, or to `i + 2` when `i + 1` is
    // its delay slot (so not the sentinel). Hence `j < ops.len()`.
    let op = unsafe { ops.get_unchecked(j) };
    (op.f)(cpu, x, ops, j, op)
}

/// Ends the block before op `j`: continue at its address.
fn end_at(cpu: &mut Cpu, j: usize) -> Exit {
    let pc = pc_of(cpu, j);
    cpu.retired_to = pc;
    Exit::Goto(pc)
}

/// Ends the block after op `i` (which took its cycle), continuing at `target`.
#[inline(always)]
fn leave(cpu: &mut Cpu, i: usize, target: u64) -> Exit {
    cpu.retired_to = pc_of(cpu, i + 1);
    Exit::Goto(target)
}

/// Records exception `e` raised by op `i`.
#[cold]
#[inline(never)]
fn fault(cpu: &mut Cpu, e: Exception, i: usize) -> Exit {
    cpu.fault = e;
    cpu.fault_pc = pc_of(cpu, i);
    cpu.fault_in_delay_slot = false;
    Exit::Fault
}

/// The sentinel closing every block.
fn op_end(cpu: &mut Cpu, _: &mut Ctx<'_>, _: &[Op], i: usize, _: &Op) -> Exit {
    end_at(cpu, i)
}

/// After the instruction in a delay slot (op `i`) completed: leave the block
/// if its branch was taken, else continue with the next op.
#[inline(always)]
fn after_delay_slot(cpu: &mut Cpu, x: &mut Ctx<'_>, ops: &[Op], i: usize) -> Exit {
    if cpu.branch_taken {
        let target = cpu.branch_target;
        leave(cpu, i, target)
    } else {
        go(cpu, x, ops, i + 1)
    }
}

/// The instruction in a delay slot (op `i`) faulted: EPC will point at the
/// branch.
#[cold]
fn delay_slot_fault(cpu: &mut Cpu) -> Exit {
    cpu.fault_in_delay_slot = true;
    Exit::Fault
}

/// Defines, for each semantic function `sem(cpu, x, op, i) -> bool` (false:
/// a fault was recorded), a chaining handler and a delay-slot handler.
macro_rules! handlers {
    ($($chain:ident / $slot:ident = $sem:ident;)*) => {$(
        fn $chain(cpu: &mut Cpu, x: &mut Ctx<'_>, ops: &[Op], i: usize, op: &Op) -> Exit {
            if $sem(cpu, x, op, i) {
                go(cpu, x, ops, i + 1)
            } else {
                Exit::Fault
            }
        }
        fn $slot(cpu: &mut Cpu, x: &mut Ctx<'_>, ops: &[Op], i: usize, op: &Op) -> Exit {
            if $sem(cpu, x, op, i) {
                after_delay_slot(cpu, x, ops, i)
            } else {
                delay_slot_fault(cpu)
            }
        }
    )*};
}

/// Defines semantic functions computing `d = f(s, t)` from two registers.
macro_rules! reg3 {
    ($($name:ident = |$a:ident, $b:ident| $e:expr;)*) => {$(
        #[inline(always)]
        fn $name(cpu: &mut Cpu, _: &mut Ctx<'_>, op: &Op, _: usize) -> bool {
            let ($a, $b) = (r(cpu, op.s), r(cpu, op.t));
            set(cpu, op.d, $e);
            true
        }
    )*};
}

reg3! {
    sem_addu = |a, b| sx32(a.wrapping_add(b));
    sem_subu = |a, b| sx32(a.wrapping_sub(b));
    sem_daddu = |a, b| a.wrapping_add(b);
    sem_dsubu = |a, b| a.wrapping_sub(b);
    sem_and = |a, b| a & b;
    sem_or = |a, b| a | b;
    sem_xor = |a, b| a ^ b;
    sem_nor = |a, b| !(a | b);
    sem_slt = |a, b| ((a as i64) < (b as i64)) as u64;
    sem_sltu = |a, b| (a < b) as u64;
    sem_mul = |a, b| (a as i32).wrapping_mul(b as i32) as i64 as u64;
    // Variable shifts: s = rs (amount), t = rt (value).
    sem_sllv = |a, b| sx32(((b as u32) << (a & 31)) as u64);
    sem_srlv = |a, b| sx32(((b as u32) >> (a & 31)) as u64);
    sem_srav = |a, b| ((b as i32) >> (a & 31)) as i64 as u64;
    sem_dsllv = |a, b| b << (a & 63);
    sem_dsrlv = |a, b| b >> (a & 63);
    sem_dsrav = |a, b| ((b as i64) >> (a & 63)) as u64;
}

#[inline(always)]
fn sem_movz(cpu: &mut Cpu, _: &mut Ctx<'_>, op: &Op, _: usize) -> bool {
    if r(cpu, op.t) == 0 {
        set(cpu, op.d, r(cpu, op.s));
    }
    true
}

#[inline(always)]
fn sem_movn(cpu: &mut Cpu, _: &mut Ctx<'_>, op: &Op, _: usize) -> bool {
    if r(cpu, op.t) != 0 {
        set(cpu, op.d, r(cpu, op.s));
    }
    true
}

/// Defines semantic functions computing `d = f(t, x)`: shifts by a constant.
macro_rules! shift {
    ($($name:ident = |$v:ident, $n:ident| $e:expr;)*) => {$(
        #[inline(always)]
        fn $name(cpu: &mut Cpu, _: &mut Ctx<'_>, op: &Op, _: usize) -> bool {
            let ($v, $n) = (r(cpu, op.t), op.x as u32);
            set(cpu, op.d, $e);
            true
        }
    )*};
}

shift! {
    sem_sll = |v, n| sx32(((v as u32) << n) as u64);
    sem_srl = |v, n| sx32(((v as u32) >> n) as u64);
    sem_sra = |v, n| ((v as i32) >> n) as i64 as u64;
    sem_dsll = |v, n| v << n;
    sem_dsrl = |v, n| v >> n;
    sem_dsra = |v, n| ((v as i64) >> n) as u64;
    sem_dsll32 = |v, n| v << (n + 32);
    sem_dsrl32 = |v, n| v >> (n + 32);
    sem_dsra32 = |v, n| ((v as i64) >> (n + 32)) as u64;
    sem_seb = |v, _n| v as i8 as i64 as u64;
    sem_seh = |v, _n| v as i16 as i64 as u64;
}

/// Defines semantic functions computing `d = f(s, imm)`.
macro_rules! regimm {
    ($($name:ident = |$a:ident, $i:ident| $e:expr;)*) => {$(
        #[inline(always)]
        fn $name(cpu: &mut Cpu, _: &mut Ctx<'_>, op: &Op, _: usize) -> bool {
            let ($a, $i) = (r(cpu, op.s), op.imm);
            set(cpu, op.d, $e);
            true
        }
    )*};
}

regimm! {
    sem_addiu = |a, i| sx32(a.wrapping_add(i as i32 as i64 as u64));
    sem_daddiu = |a, i| a.wrapping_add(i as i32 as i64 as u64);
    sem_slti = |a, i| ((a as i64) < (i as i32 as i64)) as u64;
    sem_sltiu = |a, i| (a < i as i32 as i64 as u64) as u64;
    sem_andi = |a, i| a & i as u64;
    sem_ori = |a, i| a | i as u64;
    sem_xori = |a, i| a ^ i as u64;
    sem_lui = |_a, i| i as i32 as i64 as u64;
}

#[inline(always)]
fn field_mask(size: u32) -> u64 {
    if size >= 64 {
        u64::MAX
    } else {
        (1u64 << size) - 1
    }
}

/// Defines bit-field semantic functions; `x` is the position, `imm` the size.
macro_rules! field {
    ($($name:ident = |$old:ident, $src:ident, $pos:ident, $m:ident| $e:expr;)*) => {$(
        #[inline(always)]
        fn $name(cpu: &mut Cpu, _: &mut Ctx<'_>, op: &Op, _: usize) -> bool {
            let ($old, $src, $pos, $m) = (r(cpu, op.d), r(cpu, op.s), op.x as u32, field_mask(op.imm));
            set(cpu, op.d, $e);
            true
        }
    )*};
}

field! {
    sem_ext = |_old, src, pos, m| sx32((src >> pos) & m);
    sem_dext = |_old, src, pos, m| (src >> pos) & m;
    sem_ins = |old, src, pos, m| sx32((old & !(m << pos)) | ((src << pos) & (m << pos)));
    sem_dins = |old, src, pos, m| (old & !(m << pos)) | ((src << pos) & (m << pos));
}

#[inline(always)]
fn sem_nop(_: &mut Cpu, _: &mut Ctx<'_>, _: &Op, _: usize) -> bool {
    true
}

#[inline(always)]
fn sem_mfhi(cpu: &mut Cpu, _: &mut Ctx<'_>, op: &Op, _: usize) -> bool {
    set(cpu, op.d, cpu.hi);
    true
}

#[inline(always)]
fn sem_mflo(cpu: &mut Cpu, _: &mut Ctx<'_>, op: &Op, _: usize) -> bool {
    set(cpu, op.d, cpu.lo);
    true
}

#[inline(always)]
fn sem_mult(cpu: &mut Cpu, _: &mut Ctx<'_>, op: &Op, _: usize) -> bool {
    let p = (r(cpu, op.s) as i32 as i64) * (r(cpu, op.t) as i32 as i64);
    cpu.lo = sx32(p as u64);
    cpu.hi = sx32((p >> 32) as u64);
    true
}

#[inline(always)]
fn sem_multu(cpu: &mut Cpu, _: &mut Ctx<'_>, op: &Op, _: usize) -> bool {
    let p = (r(cpu, op.s) as u32 as u64) * (r(cpu, op.t) as u32 as u64);
    cpu.lo = sx32(p);
    cpu.hi = sx32(p >> 32);
    true
}

#[inline(always)]
fn sem_dmultu(cpu: &mut Cpu, _: &mut Ctx<'_>, op: &Op, _: usize) -> bool {
    let p = (r(cpu, op.s) as u128) * (r(cpu, op.t) as u128);
    cpu.lo = p as u64;
    cpu.hi = (p >> 64) as u64;
    true
}

/// Slow path of a load: translate, fill the soft TLB or reach a device, then
/// extend and write the destination. Returns false after recording a fault.
#[inline(always)]
fn load_slow_path(
    cpu: &mut Cpu,
    x: &mut Ctx<'_>,
    op: &Op,
    i: usize,
    size: u64,
    ext: fn(u64) -> u64,
) -> bool {
    let va = r(cpu, op.s).wrapping_add(simm(op));
    cpu.cur_pc = pc_of(cpu, i);
    match cpu.load_slow(x.mem, x.bus, va, size) {
        Ok(v) => {
            w(cpu, op.d, ext(v));
            true
        }
        Err(e) => {
            fault(cpu, e, i);
            false
        }
    }
}

/// Slow path of a store. Returns false after recording a fault.
#[inline(always)]
fn store_slow_path(cpu: &mut Cpu, x: &mut Ctx<'_>, op: &Op, i: usize, size: u64) -> bool {
    let va = r(cpu, op.s).wrapping_add(simm(op));
    let v = r(cpu, op.t);
    cpu.cur_pc = pc_of(cpu, i);
    match cpu.store_slow(x.mem, x.bus, va, size, v) {
        Ok(()) => true,
        Err(e) => {
            fault(cpu, e, i);
            false
        }
    }
}

/// Defines a memory-access handler pair from a fast path (`$fast`: returns
/// false on a soft-TLB miss) and a slow path. The slow path is a separate,
/// cold function reached by a tail call, so the fast path needs no stack
/// frame and its own continuation stays a jump.
macro_rules! mem_handlers {
    ($($chain:ident / $single:ident, $miss:ident / $miss1:ident: $fast:expr, $slow:expr;)*) => {$(
        fn $chain(cpu: &mut Cpu, x: &mut Ctx<'_>, ops: &[Op], i: usize, op: &Op) -> Exit {
            let fast: fn(&mut Cpu, &mut Ctx<'_>, &Op) -> bool = $fast;
            if fast(cpu, x, op) {
                go(cpu, x, ops, i + 1)
            } else {
                $miss(cpu, x, ops, i, op)
            }
        }
        #[cold]
        #[inline(never)]
        fn $miss(cpu: &mut Cpu, x: &mut Ctx<'_>, ops: &[Op], i: usize, op: &Op) -> Exit {
            let slow: fn(&mut Cpu, &mut Ctx<'_>, &Op, usize) -> bool = $slow;
            if slow(cpu, x, op, i) {
                go(cpu, x, ops, i + 1)
            } else {
                Exit::Fault
            }
        }
        fn $single(cpu: &mut Cpu, x: &mut Ctx<'_>, ops: &[Op], i: usize, op: &Op) -> Exit {
            let fast: fn(&mut Cpu, &mut Ctx<'_>, &Op) -> bool = $fast;
            if fast(cpu, x, op) {
                after_delay_slot(cpu, x, ops, i)
            } else {
                $miss1(cpu, x, ops, i, op)
            }
        }
        #[cold]
        #[inline(never)]
        fn $miss1(cpu: &mut Cpu, x: &mut Ctx<'_>, ops: &[Op], i: usize, op: &Op) -> Exit {
            let slow: fn(&mut Cpu, &mut Ctx<'_>, &Op, usize) -> bool = $slow;
            if slow(cpu, x, op, i) {
                after_delay_slot(cpu, x, ops, i)
            } else {
                delay_slot_fault(cpu)
            }
        }
    )*};
}

/// The soft-TLB fast path of a load of `N` bytes, extended by `ext`.
#[inline(always)]
fn load_fast<const N: usize>(cpu: &mut Cpu, x: &mut Ctx<'_>, op: &Op, ext: fn(u64) -> u64) -> bool {
    let va = r(cpu, op.s).wrapping_add(simm(op));
    let e = cpu.stlb.get(slot(cpu.privilege as usize, va));
    if e.read != va & (PAGE_MASK | (N as u64 - 1)) {
        return false;
    }
    // The soft TLB only holds RAM pages; a RAM that is not this CPU's (a
    // test harness swapping memories) falls back to the slow path.
    let Some(v) = try_read_le::<N>(x.mem.ram(), va.wrapping_add(e.addend) as usize) else {
        return false;
    };
    // Loads into `$zero` run through the generic handler (see `lower_plain`).
    set(cpu, op.d, ext(v));
    true
}

/// The soft-TLB fast path of a store of `N` bytes.
#[inline(always)]
fn store_fast<const N: usize>(cpu: &mut Cpu, x: &mut Ctx<'_>, op: &Op) -> bool {
    let va = r(cpu, op.s).wrapping_add(simm(op));
    let e = cpu.stlb.get(slot(cpu.privilege as usize, va));
    if e.write != va & (PAGE_MASK | (N as u64 - 1)) {
        return false;
    }
    try_write_le::<N>(
        x.mem.ram_mut(),
        va.wrapping_add(e.addend) as usize,
        r(cpu, op.t),
    )
}

fn ext_b(v: u64) -> u64 {
    v as i8 as i64 as u64
}
fn ext_h(v: u64) -> u64 {
    v as i16 as i64 as u64
}
fn ext_none(v: u64) -> u64 {
    v
}

mem_handlers! {
    op_lb / op_lb_slot, lb_miss / lb_miss_slot:
        |c, x, o| load_fast::<1>(c, x, o, ext_b), |c, x, o, i| load_slow_path(c, x, o, i, 1, ext_b);
    op_lbu / op_lbu_slot, lbu_miss / lbu_miss_slot:
        |c, x, o| load_fast::<1>(c, x, o, ext_none), |c, x, o, i| load_slow_path(c, x, o, i, 1, ext_none);
    op_lh / op_lh_slot, lh_miss / lh_miss_slot:
        |c, x, o| load_fast::<2>(c, x, o, ext_h), |c, x, o, i| load_slow_path(c, x, o, i, 2, ext_h);
    op_lhu / op_lhu_slot, lhu_miss / lhu_miss_slot:
        |c, x, o| load_fast::<2>(c, x, o, ext_none), |c, x, o, i| load_slow_path(c, x, o, i, 2, ext_none);
    op_lw / op_lw_slot, lw_miss / lw_miss_slot:
        |c, x, o| load_fast::<4>(c, x, o, sx32), |c, x, o, i| load_slow_path(c, x, o, i, 4, sx32);
    op_lwu / op_lwu_slot, lwu_miss / lwu_miss_slot:
        |c, x, o| load_fast::<4>(c, x, o, ext_none), |c, x, o, i| load_slow_path(c, x, o, i, 4, ext_none);
    op_ld / op_ld_slot, ld_miss / ld_miss_slot:
        |c, x, o| load_fast::<8>(c, x, o, ext_none), |c, x, o, i| load_slow_path(c, x, o, i, 8, ext_none);
    op_sb / op_sb_slot, sb_miss / sb_miss_slot:
        |c, x, o| store_fast::<1>(c, x, o), |c, x, o, i| store_slow_path(c, x, o, i, 1);
    op_sh / op_sh_slot, sh_miss / sh_miss_slot:
        |c, x, o| store_fast::<2>(c, x, o), |c, x, o, i| store_slow_path(c, x, o, i, 2);
    op_sw / op_sw_slot, sw_miss / sw_miss_slot:
        |c, x, o| store_fast::<4>(c, x, o), |c, x, o, i| store_slow_path(c, x, o, i, 4);
    op_sd / op_sd_slot, sd_miss / sd_miss_slot:
        |c, x, o| store_fast::<8>(c, x, o), |c, x, o, i| store_slow_path(c, x, o, i, 8);
}

handlers! {
    op_nop / op_nop_slot = sem_nop;
    op_addu / op_addu_slot = sem_addu;
    op_subu / op_subu_slot = sem_subu;
    op_daddu / op_daddu_slot = sem_daddu;
    op_dsubu / op_dsubu_slot = sem_dsubu;
    op_and / op_and_slot = sem_and;
    op_or / op_or_slot = sem_or;
    op_xor / op_xor_slot = sem_xor;
    op_nor / op_nor_slot = sem_nor;
    op_slt / op_slt_slot = sem_slt;
    op_sltu / op_sltu_slot = sem_sltu;
    op_mul / op_mul_slot = sem_mul;
    op_sllv / op_sllv_slot = sem_sllv;
    op_srlv / op_srlv_slot = sem_srlv;
    op_srav / op_srav_slot = sem_srav;
    op_dsllv / op_dsllv_slot = sem_dsllv;
    op_dsrlv / op_dsrlv_slot = sem_dsrlv;
    op_dsrav / op_dsrav_slot = sem_dsrav;
    op_movz / op_movz_slot = sem_movz;
    op_movn / op_movn_slot = sem_movn;
    op_sll / op_sll_slot = sem_sll;
    op_srl / op_srl_slot = sem_srl;
    op_sra / op_sra_slot = sem_sra;
    op_dsll / op_dsll_slot = sem_dsll;
    op_dsrl / op_dsrl_slot = sem_dsrl;
    op_dsra / op_dsra_slot = sem_dsra;
    op_dsll32 / op_dsll32_slot = sem_dsll32;
    op_dsrl32 / op_dsrl32_slot = sem_dsrl32;
    op_dsra32 / op_dsra32_slot = sem_dsra32;
    op_seb / op_seb_slot = sem_seb;
    op_seh / op_seh_slot = sem_seh;
    op_addiu / op_addiu_slot = sem_addiu;
    op_daddiu / op_daddiu_slot = sem_daddiu;
    op_slti / op_slti_slot = sem_slti;
    op_sltiu / op_sltiu_slot = sem_sltiu;
    op_andi / op_andi_slot = sem_andi;
    op_ori / op_ori_slot = sem_ori;
    op_xori / op_xori_slot = sem_xori;
    op_lui / op_lui_slot = sem_lui;
    op_ext / op_ext_slot = sem_ext;
    op_dext / op_dext_slot = sem_dext;
    op_ins / op_ins_slot = sem_ins;
    op_dins / op_dins_slot = sem_dins;
    op_mfhi / op_mfhi_slot = sem_mfhi;
    op_mflo / op_mflo_slot = sem_mflo;
    op_mult / op_mult_slot = sem_mult;
    op_multu / op_multu_slot = sem_multu;
    op_dmultu / op_dmultu_slot = sem_dmultu;
}

/// Runs the instruction whose word `op.imm` carries through the full
/// interpreter. `None` when it fell through; otherwise how the block ends
/// (after it, or by its fault).
#[inline(always)]
fn generic_step(cpu: &mut Cpu, x: &mut Ctx<'_>, op: &Op, i: usize) -> Option<Exit> {
    let pc = pc_of(cpu, i);
    let ins = decode(op.imm);
    match cpu.step(&ins, pc, x.mem, x.bus) {
        Ok(Flow::Next) => None,
        Ok(Flow::Jump(target)) => Some(leave(cpu, i, target)),
        Ok(Flow::Halt) => {
            cpu.halted = true;
            cpu.force_check();
            Some(leave(cpu, i, pc.wrapping_add(4)))
        }
        // Stop; branches only reach here from a delay slot (UNPREDICTABLE).
        Ok(_) => Some(leave(cpu, i, pc.wrapping_add(4))),
        Err(e) => Some(fault(cpu, e, i)),
    }
}

/// Instructions without their own handler.
fn op_generic(cpu: &mut Cpu, x: &mut Ctx<'_>, ops: &[Op], i: usize, op: &Op) -> Exit {
    match generic_step(cpu, x, op, i) {
        None => go(cpu, x, ops, i + 1),
        Some(exit) => exit,
    }
}

/// Instructions without their own handler, in a delay slot.
fn op_generic_slot(cpu: &mut Cpu, x: &mut Ctx<'_>, ops: &[Op], i: usize, op: &Op) -> Exit {
    match generic_step(cpu, x, op, i) {
        None => after_delay_slot(cpu, x, ops, i),
        Some(Exit::Fault) => delay_slot_fault(cpu),
        // The delay slot changed machine state: leave after it, for the
        // branch target or the fall-through address.
        Some(_) => {
            let target = if cpu.branch_taken {
                cpu.branch_target
            } else {
                pc_of(cpu, i + 1)
            };
            leave(cpu, i, target)
        }
    }
}

/// A branch or jump at op `i` decided (`taken`, `target`): record it and
/// continue with its delay slot (op `i + 1`, a delay-slot handler).
#[inline(always)]
fn branch_to(
    cpu: &mut Cpu,
    x: &mut Ctx<'_>,
    ops: &[Op],
    i: usize,
    taken: bool,
    target: u64,
) -> Exit {
    cpu.branch_taken = taken;
    cpu.branch_target = target;
    go(cpu, x, ops, i + 1)
}

/// A branch-likely: not taken, the delay slot is nullified (it still takes
/// its cycle).
#[inline(always)]
fn branch_likely_to(
    cpu: &mut Cpu,
    x: &mut Ctx<'_>,
    ops: &[Op],
    i: usize,
    taken: bool,
    target: u64,
) -> Exit {
    if taken {
        branch_to(cpu, x, ops, i, true, target)
    } else {
        cpu.nullified += 1;
        go(cpu, x, ops, i + 2)
    }
}

#[inline(always)]
fn branch_target(cpu: &Cpu, i: usize, op: &Op) -> u64 {
    pc_of(cpu, i).wrapping_add(4).wrapping_add(simm(op) << 2)
}

/// Defines conditional branches on `f(rs, rt)`.
macro_rules! branch {
    ($($name:ident = |$a:ident, $b:ident| $c:expr, $tail:ident;)*) => {$(
        fn $name(cpu: &mut Cpu, x: &mut Ctx<'_>, ops: &[Op], i: usize, op: &Op) -> Exit {
            let ($a, $b) = (r(cpu, op.s), r(cpu, op.t));
            let target = branch_target(cpu, i, op);
            $tail(cpu, x, ops, i, $c, target)
        }
    )*};
}

branch! {
    op_beq = |a, b| a == b, branch_to;
    op_bne = |a, b| a != b, branch_to;
    op_blez = |a, _b| (a as i64) <= 0, branch_to;
    op_bgtz = |a, _b| (a as i64) > 0, branch_to;
    op_bltz = |a, _b| (a as i64) < 0, branch_to;
    op_bgez = |a, _b| (a as i64) >= 0, branch_to;
    op_beql = |a, b| a == b, branch_likely_to;
    op_bnel = |a, b| a != b, branch_likely_to;
    op_blezl = |a, _b| (a as i64) <= 0, branch_likely_to;
    op_bgtzl = |a, _b| (a as i64) > 0, branch_likely_to;
    op_bltzl = |a, _b| (a as i64) < 0, branch_likely_to;
    op_bgezl = |a, _b| (a as i64) >= 0, branch_likely_to;
}

fn op_bal(cpu: &mut Cpu, x: &mut Ctx<'_>, ops: &[Op], i: usize, op: &Op) -> Exit {
    set(cpu, 31, pc_of(cpu, i + 2));
    let target = branch_target(cpu, i, op);
    branch_to(cpu, x, ops, i, true, target)
}

#[inline(always)]
fn jump_target(cpu: &Cpu, i: usize, op: &Op) -> u64 {
    (pc_of(cpu, i + 1) & !0x0fff_ffff) | ((op.imm as u64) << 2)
}

fn op_j(cpu: &mut Cpu, x: &mut Ctx<'_>, ops: &[Op], i: usize, op: &Op) -> Exit {
    let target = jump_target(cpu, i, op);
    branch_to(cpu, x, ops, i, true, target)
}

fn op_jal(cpu: &mut Cpu, x: &mut Ctx<'_>, ops: &[Op], i: usize, op: &Op) -> Exit {
    set(cpu, 31, pc_of(cpu, i + 2));
    let target = jump_target(cpu, i, op);
    branch_to(cpu, x, ops, i, true, target)
}

fn op_jr(cpu: &mut Cpu, x: &mut Ctx<'_>, ops: &[Op], i: usize, op: &Op) -> Exit {
    let target = r(cpu, op.s);
    branch_to(cpu, x, ops, i, true, target)
}

fn op_jalr(cpu: &mut Cpu, x: &mut Ctx<'_>, ops: &[Op], i: usize, op: &Op) -> Exit {
    let target = r(cpu, op.s);
    w(cpu, op.d, pc_of(cpu, i + 2));
    branch_to(cpu, x, ops, i, true, target)
}

/// Branches without their own handler (link-and-branch on a condition, FP
/// condition branches): the full interpreter decides, then the delay slot
/// runs as for any branch.
fn op_branch_generic(cpu: &mut Cpu, x: &mut Ctx<'_>, ops: &[Op], i: usize, op: &Op) -> Exit {
    let pc = pc_of(cpu, i);
    match cpu.step(&decode(op.imm), pc, x.mem, x.bus) {
        Ok(Flow::Branch(target)) => branch_to(cpu, x, ops, i, target != pc.wrapping_add(8), target),
        Ok(Flow::SkipDelaySlot) => branch_likely_to(cpu, x, ops, i, false, 0),
        Ok(_) => leave(cpu, i, pc.wrapping_add(4)),
        Err(e) => fault(cpu, e, i),
    }
}

/// True for `b .` with a `nop` in its delay slot: `while (1);`, which only
/// an interrupt can leave.
pub(crate) fn is_spin(branch: &Instr, delay_slot: &Instr) -> bool {
    matches!(
        (branch, delay_slot),
        (
            Instr::Beq {
                rs: 0,
                rt: 0,
                off: -1
            },
            Instr::Nop
        )
    )
}

/// `b .; nop` ([`is_spin`]): the CPU halts on the branch as in `WAIT`
/// ([`Cpu::halt_spinning`]). In VM mode the run then ends with
/// [`crate::RunExit::Halted`] and the monitor makes the vCPU wait.
fn op_spin(cpu: &mut Cpu, _: &mut Ctx<'_>, _: &[Op], i: usize, _: &Op) -> Exit {
    cpu.halt_spinning();
    end_at(cpu, i)
}

/// A branch whose delay slot lies on the next page (the block's last
/// instruction): the run loop executes the delay slot next.
fn op_branch_pending(cpu: &mut Cpu, x: &mut Ctx<'_>, _: &[Op], i: usize, op: &Op) -> Exit {
    let pc = pc_of(cpu, i);
    match cpu.step(&decode(op.imm), pc, x.mem, x.bus) {
        Ok(Flow::Branch(target)) => {
            cpu.delay_target = Some(target);
            cpu.force_check();
            leave(cpu, i, pc.wrapping_add(4))
        }
        Ok(Flow::SkipDelaySlot) => {
            cpu.nullified += 1;
            leave(cpu, i + 1, pc.wrapping_add(8))
        }
        Ok(_) => leave(cpu, i, pc.wrapping_add(4)),
        Err(e) => fault(cpu, e, i),
    }
}

/// The handler pair (chaining, single-step) and operands for a
/// non-branch instruction.
fn lower_plain(ins: &Instr, word: u32) -> (Handler, Handler, [u8; 4], u32) {
    use Instr::*;
    let si = |i: i16| i as i32 as u32;
    let (f, f1): (Handler, Handler) = match *ins {
        Nop | Ssnop | Ehb | Pref { .. } | Sync { .. } | Synci { .. } => (op_nop, op_nop_slot),
        Sll { .. } => (op_sll, op_sll_slot),
        Srl { .. } => (op_srl, op_srl_slot),
        Sra { .. } => (op_sra, op_sra_slot),
        Dsll { .. } => (op_dsll, op_dsll_slot),
        Dsrl { .. } => (op_dsrl, op_dsrl_slot),
        Dsra { .. } => (op_dsra, op_dsra_slot),
        Dsll32 { .. } => (op_dsll32, op_dsll32_slot),
        Dsrl32 { .. } => (op_dsrl32, op_dsrl32_slot),
        Dsra32 { .. } => (op_dsra32, op_dsra32_slot),
        Seb { .. } => (op_seb, op_seb_slot),
        Seh { .. } => (op_seh, op_seh_slot),
        Sllv { .. } => (op_sllv, op_sllv_slot),
        Srlv { .. } => (op_srlv, op_srlv_slot),
        Srav { .. } => (op_srav, op_srav_slot),
        Dsllv { .. } => (op_dsllv, op_dsllv_slot),
        Dsrlv { .. } => (op_dsrlv, op_dsrlv_slot),
        Dsrav { .. } => (op_dsrav, op_dsrav_slot),
        Addu { .. } => (op_addu, op_addu_slot),
        Subu { .. } => (op_subu, op_subu_slot),
        Daddu { .. } => (op_daddu, op_daddu_slot),
        Dsubu { .. } => (op_dsubu, op_dsubu_slot),
        And { .. } => (op_and, op_and_slot),
        Or { .. } => (op_or, op_or_slot),
        Xor { .. } => (op_xor, op_xor_slot),
        Nor { .. } => (op_nor, op_nor_slot),
        Slt { .. } => (op_slt, op_slt_slot),
        Sltu { .. } => (op_sltu, op_sltu_slot),
        Mul { .. } => (op_mul, op_mul_slot),
        Movz { .. } => (op_movz, op_movz_slot),
        Movn { .. } => (op_movn, op_movn_slot),
        Addiu { .. } => (op_addiu, op_addiu_slot),
        Daddiu { .. } => (op_daddiu, op_daddiu_slot),
        Slti { .. } => (op_slti, op_slti_slot),
        Sltiu { .. } => (op_sltiu, op_sltiu_slot),
        Andi { .. } => (op_andi, op_andi_slot),
        Ori { .. } => (op_ori, op_ori_slot),
        Xori { .. } => (op_xori, op_xori_slot),
        Lui { .. } => (op_lui, op_lui_slot),
        Ext { .. } => (op_ext, op_ext_slot),
        Dext { .. } => (op_dext, op_dext_slot),
        Ins { .. } => (op_ins, op_ins_slot),
        Dins { .. } => (op_dins, op_dins_slot),
        Mfhi { .. } => (op_mfhi, op_mfhi_slot),
        Mflo { .. } => (op_mflo, op_mflo_slot),
        Mult { .. } => (op_mult, op_mult_slot),
        Multu { .. } => (op_multu, op_multu_slot),
        Dmultu { .. } => (op_dmultu, op_dmultu_slot),
        Lb { .. } => (op_lb, op_lb_slot),
        Lbu { .. } => (op_lbu, op_lbu_slot),
        Lh { .. } => (op_lh, op_lh_slot),
        Lhu { .. } => (op_lhu, op_lhu_slot),
        Lw { .. } => (op_lw, op_lw_slot),
        Lwu { .. } => (op_lwu, op_lwu_slot),
        Ld { .. } => (op_ld, op_ld_slot),
        Sb { .. } => (op_sb, op_sb_slot),
        Sh { .. } => (op_sh, op_sh_slot),
        Sw { .. } => (op_sw, op_sw_slot),
        Sd { .. } => (op_sd, op_sd_slot),
        _ => return (op_generic, op_generic_slot, [0; 4], word),
    };
    // Operand slots: [d, s, t, x], imm, and what slot `d` is.
    let (regs, imm, d) = match *ins {
        Sll { rd, rt, sa }
        | Srl { rd, rt, sa }
        | Sra { rd, rt, sa }
        | Dsll { rd, rt, sa }
        | Dsrl { rd, rt, sa }
        | Dsra { rd, rt, sa }
        | Dsll32 { rd, rt, sa }
        | Dsrl32 { rd, rt, sa }
        | Dsra32 { rd, rt, sa } => ([rd, 0, rt, sa], 0, Dest::Only),
        Seb { rd, rt } | Seh { rd, rt } => ([rd, 0, rt, 0], 0, Dest::Only),
        Sllv { rd, rt, rs }
        | Srlv { rd, rt, rs }
        | Srav { rd, rt, rs }
        | Dsllv { rd, rt, rs }
        | Dsrlv { rd, rt, rs }
        | Dsrav { rd, rt, rs } => ([rd, rs, rt, 0], 0, Dest::Only),
        Addu { rd, rs, rt }
        | Subu { rd, rs, rt }
        | Daddu { rd, rs, rt }
        | Dsubu { rd, rs, rt }
        | And { rd, rs, rt }
        | Or { rd, rs, rt }
        | Xor { rd, rs, rt }
        | Nor { rd, rs, rt }
        | Slt { rd, rs, rt }
        | Sltu { rd, rs, rt }
        | Mul { rd, rs, rt }
        | Movz { rd, rs, rt }
        | Movn { rd, rs, rt } => ([rd, rs, rt, 0], 0, Dest::Only),
        Addiu { rt, rs, imm }
        | Daddiu { rt, rs, imm }
        | Slti { rt, rs, imm }
        | Sltiu { rt, rs, imm } => ([rt, rs, 0, 0], si(imm), Dest::Only),
        Andi { rt, rs, imm } | Ori { rt, rs, imm } | Xori { rt, rs, imm } => {
            ([rt, rs, 0, 0], imm as u32, Dest::Only)
        }
        Lui { rt, imm } => ([rt, 0, 0, 0], (imm as u32) << 16, Dest::Only),
        Ext { rt, rs, pos, size }
        | Dext { rt, rs, pos, size }
        | Ins { rt, rs, pos, size }
        | Dins { rt, rs, pos, size } => ([rt, rs, 0, pos], size as u32, Dest::Only),
        Mfhi { rd } | Mflo { rd } => ([rd, 0, 0, 0], 0, Dest::Only),
        Mult { rs, rt } | Multu { rs, rt } | Dmultu { rs, rt } => ([0, rs, rt, 0], 0, Dest::None),
        Lb { rt, base, off }
        | Lbu { rt, base, off }
        | Lh { rt, base, off }
        | Lhu { rt, base, off }
        | Lw { rt, base, off }
        | Lwu { rt, base, off }
        | Ld { rt, base, off } => ([rt, base, 0, 0], si(off), Dest::Load),
        Sb { rt, base, off }
        | Sh { rt, base, off }
        | Sw { rt, base, off }
        | Sd { rt, base, off } => ([0, base, rt, 0], si(off), Dest::None),
        _ => ([0; 4], 0, Dest::None),
    };
    match d {
        // A load into `$zero` still accesses memory; it is rare enough to
        // run generically, so the load handlers never write `$zero`.
        Dest::Load if regs[0] == 0 => (op_generic, op_generic_slot, [0; 4], word),
        // Writing only `$zero` does nothing; the handlers rely on never
        // seeing it.
        Dest::Only if regs[0] == 0 => (op_nop, op_nop_slot, [0; 4], 0),
        _ => (f, f1, regs, imm),
    }
}

/// What an op's slot `d` is, for [`lower_plain`].
enum Dest {
    /// The destination register, and writing it is the op's only effect.
    Only,
    /// The destination register of a load.
    Load,
    /// Unused.
    None,
}

/// The handler and operands for a branch or jump whose delay slot follows
/// in the block.
fn lower_branch(ins: &Instr, word: u32) -> (Handler, [u8; 4], u32) {
    use Instr::*;
    let si = |i: i16| i as i32 as u32;
    match *ins {
        Beq { rs, rt, off } => (op_beq, [0, rs, rt, 0], si(off)),
        Bne { rs, rt, off } => (op_bne, [0, rs, rt, 0], si(off)),
        Blez { rs, off } => (op_blez, [0, rs, 0, 0], si(off)),
        Bgtz { rs, off } => (op_bgtz, [0, rs, 0, 0], si(off)),
        Bltz { rs, off } => (op_bltz, [0, rs, 0, 0], si(off)),
        Bgez { rs, off } => (op_bgez, [0, rs, 0, 0], si(off)),
        Beql { rs, rt, off } => (op_beql, [0, rs, rt, 0], si(off)),
        Bnel { rs, rt, off } => (op_bnel, [0, rs, rt, 0], si(off)),
        Blezl { rs, off } => (op_blezl, [0, rs, 0, 0], si(off)),
        Bgtzl { rs, off } => (op_bgtzl, [0, rs, 0, 0], si(off)),
        Bltzl { rs, off } => (op_bltzl, [0, rs, 0, 0], si(off)),
        Bgezl { rs, off } => (op_bgezl, [0, rs, 0, 0], si(off)),
        Bgezal { rs: 0, off } => (op_bal, [0; 4], si(off)),
        J { target } => (op_j, [0; 4], target),
        Jal { target } => (op_jal, [0; 4], target),
        Jr { rs, .. } => (op_jr, [0, rs, 0, 0], 0),
        Jalr { rd, rs, .. } => (op_jalr, [rd, rs, 0, 0], 0),
        _ => (op_branch_generic, [0; 4], word),
    }
}

/// The handler of a block's header op ([`crate::code`]), which is never
/// executed: it ends the block where it is if it ever were.
pub(crate) fn op_header(cpu: &mut Cpu, _: &mut Ctx<'_>, _: &[Op], _: usize, _: &Op) -> Exit {
    Exit::Goto(cpu.pc)
}

/// Lowers a block's instructions (decoded from `words`) to threaded code,
/// ending with the sentinel.
pub(crate) fn lower_block(instrs: &[Instr], words: &[u32]) -> Vec<Op> {
    // Register slots are masked to five bits: the handlers index the
    // register file with them unchecked.
    let mk = |f: Handler, [d, s, t, x]: [u8; 4], imm: u32| Op {
        f,
        d: d & 31,
        s: s & 31,
        t: t & 31,
        x,
        imm,
    };
    let mut ops = Vec::with_capacity(instrs.len() + 1);
    let mut in_delay_slot = false;
    for (i, (ins, &word)) in instrs.iter().zip(words).enumerate() {
        let op = if in_delay_slot {
            in_delay_slot = false;
            let (_, single, regs, imm) = lower_plain(ins, word);
            // A branch in a delay slot (UNPREDICTABLE) runs generically too.
            let single = if ins.has_delay_slot() {
                op_generic_slot as Handler
            } else {
                single
            };
            mk(single, regs, if ins.has_delay_slot() { word } else { imm })
        } else if ins.has_delay_slot() {
            in_delay_slot = true;
            if i + 1 < instrs.len() {
                let (f, regs, imm) = lower_branch(ins, word);
                let f = if is_spin(ins, &instrs[i + 1]) {
                    op_spin as Handler
                } else {
                    f
                };
                mk(f, regs, imm)
            } else {
                mk(op_branch_pending, [0; 4], word)
            }
        } else {
            let (chain, _, regs, imm) = lower_plain(ins, word);
            mk(chain, regs, imm)
        };
        ops.push(op);
    }
    ops.push(mk(op_end, [0; 4], 0));
    ops
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode;

    fn lower_words(words: &[u32]) -> Vec<Op> {
        let instrs: Vec<Instr> = words.iter().map(|&w| decode(w)).collect();
        lower_block(&instrs, words)
    }

    #[test]
    fn ops_stay_two_words() {
        assert_eq!(std::mem::size_of::<Op>(), 16);
    }

    #[test]
    fn blocks_end_with_the_sentinel_and_delay_slots_are_single_step() {
        // addiu; beq; addiu (delay slot); addu
        let ops = lower_words(&[0x2484_0001, 0x1085_0003, 0x2484_0001, 0x0085_1021]);
        assert_eq!(ops.len(), 5);
        assert_eq!(ops[0].f as usize, op_addiu as Handler as usize);
        assert_eq!(ops[1].f as usize, op_beq as Handler as usize);
        assert_eq!(ops[2].f as usize, op_addiu_slot as Handler as usize);
        assert_eq!(ops[3].f as usize, op_addu as Handler as usize);
        assert_eq!(ops[4].f as usize, op_end as Handler as usize);
    }

    #[test]
    fn a_branch_without_its_delay_slot_is_pending() {
        let ops = lower_words(&[0x2484_0001, 0x1085_0003]);
        assert_eq!(ops[1].f as usize, op_branch_pending as Handler as usize);
        assert_eq!(ops[1].imm, 0x1085_0003);
    }

    #[test]
    fn writes_to_zero_become_nops_and_loads_into_zero_run_generically() {
        // addu $0,$4,$5; lui $0,1; lw $0,0($4); addu $2,$4,$5
        let ops = lower_words(&[0x0085_0021, 0x3c00_0001, 0x8c80_0000, 0x0085_1021]);
        assert_eq!(ops[0].f as usize, op_nop as Handler as usize);
        assert_eq!(ops[1].f as usize, op_nop as Handler as usize);
        assert_eq!(ops[2].f as usize, op_generic as Handler as usize);
        assert_eq!(ops[2].imm, 0x8c80_0000);
        assert_eq!(ops[3].f as usize, op_addu as Handler as usize);
        assert_eq!(ops[3].d, 2);
    }

    #[test]
    fn rare_instructions_use_the_generic_handler_with_their_word() {
        let ops = lower_words(&[0x4200_0002, 0x4200_0018]);
        assert_eq!(ops[0].f as usize, op_generic as Handler as usize);
        assert_eq!(ops[1].imm, 0x4200_0018);
    }
}
