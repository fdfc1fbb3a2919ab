//! Self-modifying code (a store to an instruction that already ran makes the
//! new instruction run the next time, whatever virtual alias the store goes
//! through) and determinism of whole runs.
//!
//! The patching sequences follow the MIPS64 Release 2 rules for instruction
//! stores (Volume II, SYNCI): store, `synci` on the line, `sync`, then
//! `jalr.hb` to the new code. The simulator's decoded-block cache promises
//! more (any store invalidates, `crate::code`), but these tests only rely on
//! what the architecture guarantees.

mod common;

use common::asm::*;
use common::harness::*;
use mips::cp0::status;
use mips::{CpuStats, RunExit};

/// A function `f() { return 1; }` at CODE + 0x2000 (its own page): `jr ra`
/// with `addiu v0, $0, 1` in the delay slot.
const F: u64 = CODE + 0x2000;
const F_PA: u64 = CODE_PA + 0x2000;

fn returns(v: i16) -> u32 {
    addiu(V0, ZERO, v)
}

/// Virtual aliases of F's page, as seen from kernel mode.
#[derive(Clone, Copy, Debug)]
enum Alias {
    Kseg0,
    Kseg1,
    Xkphys,
    /// Mapped through the TLB at 0x1000_0000.
    Mapped,
}

impl Alias {
    fn base(self) -> u64 {
        match self {
            Alias::Kseg0 => F,
            Alias::Kseg1 => KSEG1 + F_PA,
            Alias::Xkphys => 0x9800_0000_0000_0000 | F_PA,
            Alias::Mapped => 0x1000_0000,
        }
    }
}

/// How the new instruction is stored (into F + 4, through base register A0).
#[derive(Clone, Copy, Debug)]
enum Store {
    Sw,
    Sd,
    Swl,
    Swr,
    Sc,
}

impl Store {
    /// Code storing `returns(2)` over F's delay slot; may use T0..T2.
    fn code(self) -> Vec<u32> {
        let new = returns(2);
        let mut c = li32(T0, new as i32).to_vec();
        match self {
            Store::Sw => c.push(sw(T0, 4, A0)),
            Store::Swl => c.push(swl(T0, 7, A0)),
            Store::Swr => c.push(swr(T0, 4, A0)),
            Store::Sd => {
                c = li64(T0, (new as u64) << 32 | jr(RA) as u64);
                c.push(sd(T0, 0, A0));
            }
            Store::Sc => c.extend([ll(T1, 4, A0), mov(T1, T0), sc(T1, 4, A0)]),
        }
        c
    }
}

/// A machine with F loaded and the alias mapped; A0 holds the alias of F.
fn smc_machine(alias: Alias) -> Machine {
    let mut m = Machine::new();
    m.load(F, &[jr(RA), returns(1)]);
    m.map(0, 0, Alias::Mapped.base(), entrylo(F_PA, LO_VDG), LO_G);
    m.set(A0, alias.base());
    m
}

/// `synci` on F's line, `sync`, then a hazard-clearing call of F.
fn sync_and_call_f() -> Vec<u32> {
    let mut c = vec![synci(4, A0), sync(0)];
    c.extend(li32(T9, F as i32));
    c.extend([jalr_hb(RA, T9), NOP]);
    c
}

/// Calls F, patches it with `store`, calls it again; returns both results.
/// With `touch_first`, the page is written (data, far from F) before F first
/// runs.
fn call_patch_call(alias: Alias, store: Store, touch_first: bool) -> (u64, u64) {
    let mut m = smc_machine(alias);
    let mut code = Vec::new();
    if touch_first {
        code.push(sw(ZERO, 0x800, A0));
    }
    code.extend([jal(F), NOP, mov(S1, V0)]);
    code.extend(store.code());
    code.extend(sync_and_call_f());
    code.push(mov(V1, V0));
    m.program(&code);
    m.run_to_sentinel();
    (m.reg(S1), m.reg(V1))
}

#[test]
fn store_over_executed_code_runs_the_new_instruction_through_every_alias() {
    let mut bad = Vec::new();
    for alias in [Alias::Kseg0, Alias::Kseg1, Alias::Xkphys, Alias::Mapped] {
        for store in [Store::Sw, Store::Sd, Store::Swl, Store::Swr, Store::Sc] {
            let got = call_patch_call(alias, store, false);
            if got != (1, 2) {
                bad.push(format!(
                    "{store:?} via {alias:?}: f() returned {got:?}, expected (1, 2)"
                ));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn store_over_code_invalidates_even_if_the_page_was_written_before_it_ran() {
    // The page is first written as data (through the same alias), then F runs
    // (its page now holds code), then F is patched and called again.
    let mut bad = Vec::new();
    for alias in [Alias::Kseg0, Alias::Kseg1, Alias::Mapped] {
        let got = call_patch_call(alias, Store::Sw, true);
        if got != (1, 2) {
            bad.push(format!(
                "via {alias:?}: f() returned {got:?}, expected (1, 2)"
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn patching_code_in_a_loop_runs_each_new_version() {
    // for i in 1..=5 { *(F + 4) = addiu v0, $0, i; sum += f(); }
    // A JIT-like pattern: the first patch happens before F ever ran.
    let mut m = smc_machine(Alias::Kseg0);
    let mut body = vec![
        addiu(S0, S0, 1),
        // T0 = returns(0) | i  (the immediate is the low half)
        lui(T0, (returns(0) >> 16) as u16),
        or(T0, T0, S0),
        sw(T0, 4, A0),
    ];
    body.extend(sync_and_call_f());
    body.extend([daddu(S1, S1, V0), addiu(T1, S0, -5)]);
    let back = -(body.len() as i16 + 1);
    body.extend([bne(T1, ZERO, back), NOP]);
    m.program(&body);
    m.run_to_sentinel();
    assert_eq!(m.reg(S1), 1 + 2 + 3 + 4 + 5);
}

#[test]
fn store_into_the_running_page_is_seen_after_a_branch() {
    let mut m = Machine::new();
    let target = CODE + 0x100;
    m.load(target, &[returns(1), brk(SENTINEL)]);
    let mut code = li64(A0, target);
    code.extend(li32(T0, returns(7) as i32));
    code.extend([sw(T0, 0, A0), synci(0, A0), sync(0), jr_hb(A0), NOP]);
    m.program(&code);
    // Run the target once first so that it is decoded.
    m.cpu.pc = target;
    m.run_to_sentinel();
    assert_eq!(m.reg(V0), 1);
    m.cpu.pc = CODE;
    m.run_to_sentinel();
    assert_eq!(m.reg(V0), 7);
}

#[test]
fn host_write_to_code_between_runs_is_seen() {
    let mut m = smc_machine(Alias::Kseg0);
    m.program(&[jal(F), NOP]);
    m.run_to_sentinel();
    assert_eq!(m.reg(V0), 1);
    m.mem.write_u32(F_PA + 4, returns(3)).unwrap();
    m.cpu.pc = CODE;
    m.run_to_sentinel();
    assert_eq!(m.reg(V0), 3);
}

/// A kernel-mode program with a timer interrupt handler (re-arming Compare
/// every 200 ticks and counting in s7), a TLB refill handler (mapping every
/// page pair of useg onto the same two data pages with tlbwr) and a loop
/// that stores, loads and multiplies across 64 pages. Ends in `wait` after
/// the final `break`.
fn busy_machine() -> Machine {
    let mut m = Machine::with_vectors();
    let mut refill = li64(K0, entrylo(DATA_PA, LO_VDG));
    refill.extend([
        dmtc0(K0, c0::ENTRYLO0, 0),
        daddiu(K0, K0, 0x40),
        dmtc0(K0, c0::ENTRYLO1, 0),
        TLBWR,
        ERET,
    ]);
    m.load(KSEG0 + 0x080, &refill);
    m.load(
        KSEG0 + 0x180,
        &[
            mfc0(K0, c0::CAUSE, 0),
            andi(K0, K0, 0x7c),
            bne(K0, ZERO, 6),
            NOP,
            mfc0(K1, c0::COUNT, 0),
            addiu(K1, K1, 200),
            mtc0(K1, c0::COMPARE, 0),
            daddiu(23, 23, 1),
            ERET,
            WAIT,
        ],
    );
    let mut code = vec![
        mfc0(T0, c0::COUNT, 0),
        addiu(T0, T0, 200),
        mtc0(T0, c0::COMPARE, 0),
    ];
    code.extend(li64(T0, KERNEL_STATUS | status::IE | (1 << 15)));
    code.push(mtc0(T0, c0::STATUS, 0));
    code.extend([
        addiu(S0, ZERO, 3000), // iterations
        lui(S1, 0x1000),       // base of the mapped area
        // loop:
        andi(T1, S0, 63),
        dsll(T1, T1, 12),
        daddu(T1, T1, S1),
        sd(S0, 8, T1),
        ld(T2, 8, T1),
        dmultu(T2, S0),
        mflo(T3),
        daddu(V0, V0, T3),
        addiu(S0, S0, -1),
        bne(S0, ZERO, -10),
        NOP,
    ]);
    m.program(&code);
    m
}

/// Everything observable after a run.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    cycles: u64,
    stats: CpuStats,
    gpr: [u64; 32],
    count: u64,
    cause: u64,
    epc: u64,
}

fn outcome(m: &Machine) -> Outcome {
    Outcome {
        cycles: m.cpu.cycles(),
        stats: m.cpu.stats(),
        gpr: m.cpu.gpr,
        count: m.cp0(c0::COUNT),
        cause: m.cp0(c0::CAUSE),
        epc: m.cp0(c0::EPC),
    }
}

fn run_busy(slice: u64) -> Outcome {
    let mut m = busy_machine();
    loop {
        match m.run_for(slice) {
            RunExit::Limit => continue,
            RunExit::Halted => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    outcome(&m)
}

#[test]
fn the_same_program_runs_identically_twice() {
    let first = run_busy(u64::MAX / 4);
    let second = run_busy(u64::MAX / 4);
    assert_eq!(first, second);
    assert!(
        first.gpr[23] > 20,
        "timer interrupts taken: {}",
        first.gpr[23]
    );
    assert!(
        first.stats.tlb_refills >= 32,
        "refills: {}",
        first.stats.tlb_refills
    );
    assert_eq!(first.stats.exceptions[9], 1, "one breakpoint at the end");
}

#[test]
fn running_in_slices_does_not_change_the_outcome() {
    // A machine runs CPUs in quanta: where the quanta end must not matter.
    let whole = run_busy(u64::MAX / 4);
    for slice in [1000, 777, 64, 1] {
        assert_eq!(run_busy(slice), whole, "slices of {slice} cycles");
    }
}
