//! CP0 registers through MFC0/MTC0 (MIPS64 Release 2, Volume III chapter 9):
//! write masks, Count/Compare and the timer interrupt, WAIT, ERET, DI/EI.

mod common;

use common::asm::*;
use common::harness::*;
use mips::cp0::status;
use mips::{Cpu, ExcCode, RunExit, TrapDelivery};

/// Writes `value` to CP0 (`rd`, `sel`) with DMTC0 (or MTC0 of its low word)
/// in kernel code and returns what DMFC0 reads back.
fn write_read(rd: u8, sel: u8, value: u64, wide: bool) -> u64 {
    let mut m = Machine::new();
    let mut code = li64(A0, value);
    code.push(if wide {
        dmtc0(A0, rd, sel)
    } else {
        mtc0(A0, rd, sel)
    });
    code.push(dmfc0(V0, rd, sel));
    m.program(&code);
    m.run_to_sentinel();
    m.reg(V0)
}

#[test]
fn status_keeps_its_read_write_fields_and_zero_fields() {
    let rw = status::CU1
        | status::CU0
        | status::FR
        | status::BEV
        | status::IM
        | status::KX
        | status::SX
        | status::UX
        | status::KSU
        | status::ERL
        | status::EXL
        | status::IE;
    // CU3, CU2 (no coprocessor 2), RE (no reverse endian), MX (no DSP/MDMX),
    // bits 18:16 and the upper word (Status is 32 bits) read as zero.
    let zero = !0xffff_ffffu64 | (3 << 30) | (1 << 25) | (1 << 24) | (7 << 16);
    let v = write_read(c0::STATUS, 0, u64::MAX, true);
    assert_eq!(v & rw, rw, "{v:#x}");
    assert_eq!(v & zero, 0, "{v:#x}");
    assert_eq!(write_read(c0::STATUS, 0, 0, true) & rw, 0);
}

#[test]
fn cause_software_writes_reach_only_iv_and_ip1_ip0() {
    let v = write_read(c0::CAUSE, 0, u64::MAX, false);
    let ip_sw = 3 << cause::IP_SHIFT;
    assert_eq!(v & (cause::IV | ip_sw), cause::IV | ip_sw, "{v:#x}");
    // BD, TI, CE, ExcCode, IP7..IP2 are not writable (DC may be).
    let dc = 1 << 27;
    assert_eq!(v & !(cause::IV | ip_sw | dc), 0, "{v:#x}");
}

#[test]
fn entryhi_keeps_r_vpn2_and_asid() {
    // SEGBITS = 40: VPN2 is bits 39:13; bits 61:40 and 12:8 read zero.
    assert_eq!(
        write_read(c0::ENTRYHI, 0, u64::MAX, true),
        0xc000_00ff_ffff_e0ff
    );
}

#[test]
fn entrylo_fill_bits_read_zero() {
    // PABITS = 40: PFN is bits 33:6; MTC0 writes bits 29:0 only.
    for rd in [c0::ENTRYLO0, c0::ENTRYLO1] {
        assert_eq!(write_read(rd, 0, u64::MAX, true), 0x3_ffff_ffff);
        assert_eq!(write_read(rd, 0, u64::MAX, false), 0x3fff_ffff);
    }
}

#[test]
fn pagemask_keeps_the_mask_field() {
    assert_eq!(write_read(c0::PAGEMASK, 0, u64::MAX, true), 0x1fff_e000);
}

#[test]
fn hwrena_keeps_the_implemented_register_bits() {
    // CPUNum, SYNCI_Step, CC, CCRes and UserLocal (29).
    assert_eq!(write_read(c0::HWRENA, 0, u64::MAX, true), 0x2000_000f);
}

#[test]
fn epc_errorepc_and_userlocal_hold_64_bit_values() {
    let v = 0x8765_4321_0fed_cba8;
    for (rd, sel) in [(c0::EPC, 0), (c0::ERROREPC, 0), (c0::CONTEXT, 2)] {
        assert_eq!(write_read(rd, sel, v, true), v, "CP0 {rd}.{sel}");
    }
}

#[test]
fn read_only_registers_ignore_writes() {
    assert_eq!(write_read(c0::PRID, 0, 0x1234, true), 0x0001_0000);
    assert_eq!(write_read(c0::BADVADDR, 0, 0x1234, true), 0);
    assert_eq!(write_read(c0::RANDOM, 0, 3, true), 63);
}

#[test]
fn context_write_keeps_badvpn2() {
    let mut m = Machine::new();
    m.cpu.cp0.context = 0x1a2b30;
    m.cpu.cp0.xcontext = (3 << 31) | 0x91_a2b30;
    m.program(&[
        daddiu(A0, ZERO, -1),
        dmtc0(A0, c0::CONTEXT, 0),
        dmtc0(A0, c0::XCONTEXT, 0),
        dmfc0(V0, c0::CONTEXT, 0),
        dmfc0(V1, c0::XCONTEXT, 0),
    ]);
    m.run_to_sentinel();
    // Context: PTEBase is 63:23. XContext: PTEBase is 63:33 (above R at
    // 32:31 and BadVPN2 at 30:4, for SEGBITS = 40).
    assert_eq!(m.reg(V0), 0xffff_ffff_ff80_0000 | 0x1a2b30);
    assert_eq!(m.reg(V1), 0xffff_fffe_0000_0000 | (3 << 31) | 0x91_a2b30);
}

#[test]
fn ebase_keeps_bits_29_to_12_and_the_cpu_number() {
    let mut m = Machine::new();
    m.cpu = Cpu::new(3);
    m.cpu.set_trap_delivery(TrapDelivery::Native);
    m.set_status(KERNEL_STATUS);
    let mut code = li32(A0, -1).to_vec();
    code.push(mtc0(A0, c0::PRID, 1));
    code.push(mfc0(V0, c0::PRID, 1));
    m.program(&code);
    m.run_to_sentinel();
    // Bits 31:30 are fixed at 1 0; CPUNum (9:0) is read-only.
    assert_eq!(m.reg(V0), 0xffff_ffff_bfff_f003);
}

#[test]
fn writing_wired_resets_random_to_the_top() {
    let mut m = Machine::new();
    let mut code = vec![TLBWR, TLBWR, TLBWR, mfc0(V0, c0::RANDOM, 0)];
    code.extend([
        addiu(A0, ZERO, 10),
        mtc0(A0, c0::WIRED, 0),
        mfc0(V1, c0::RANDOM, 0),
    ]);
    code.push(mfc0(A1, c0::WIRED, 0));
    m.program(&code);
    m.run_to_sentinel();
    assert!(m.reg(V0) < 63, "Random moved after tlbwr: {}", m.reg(V0));
    assert_eq!((m.reg(V1), m.reg(A1)), (63, 10));
}

#[test]
fn count_advances_once_every_two_instructions() {
    let mut m = Machine::new();
    let mut code = vec![mfc0(V0, c0::COUNT, 0)];
    code.extend([NOP; 19]);
    code.push(mfc0(V1, c0::COUNT, 0));
    m.program(&code);
    m.run_to_sentinel();
    assert_eq!(m.reg(V1) - m.reg(V0), 10);
}

#[test]
fn count_over_a_long_loop_is_half_the_instruction_count() {
    let mut m = Machine::new();
    m.program(&[
        mfc0(V0, c0::COUNT, 0),
        addiu(A0, ZERO, 1000),
        addiu(A0, A0, -1),
        bne(A0, ZERO, -2),
        NOP,
        mfc0(V1, c0::COUNT, 0),
    ]);
    m.run_to_sentinel();
    // 1 + 3000 + 1 instructions between the reads (cycle counts may differ
    // by one per taken exception; none here).
    assert_eq!(m.reg(V1) - m.reg(V0), 3002 / 2);
}

#[test]
fn mtc0_count_sets_the_counter() {
    let mut m = Machine::new();
    m.program(&[
        addiu(A0, ZERO, 1000),
        mtc0(A0, c0::COUNT, 0),
        NOP,
        NOP,
        NOP,
        mfc0(V0, c0::COUNT, 0),
    ]);
    m.run_to_sentinel();
    assert_eq!(m.reg(V0), 1002);
}

/// Code setting Compare to Count + `delta`.
fn arm_timer(delta: i16) -> Vec<u32> {
    vec![
        mfc0(T0, c0::COUNT, 0),
        addiu(T0, T0, delta),
        mtc0(T0, c0::COMPARE, 0),
    ]
}

#[test]
fn timer_sets_cause_ti_and_compare_write_clears_it() {
    let mut m = Machine::new();
    let mut code = arm_timer(20);
    code.extend([
        addiu(A0, ZERO, 100),
        addiu(A0, A0, -1),
        bne(A0, ZERO, -2),
        NOP,
    ]);
    code.push(mfc0(V0, c0::CAUSE, 0));
    code.push(mtc0(ZERO, c0::COMPARE, 0));
    code.push(mfc0(V1, c0::CAUSE, 0));
    m.program(&code);
    m.run_to_sentinel();
    let ip7 = 1 << (cause::IP_SHIFT + 7);
    assert_eq!(
        m.reg(V0) & (cause::TI | ip7),
        cause::TI | ip7,
        "{:#x}",
        m.reg(V0)
    );
    assert_eq!(m.reg(V1) & (cause::TI | ip7), 0, "{:#x}", m.reg(V1));
}

#[test]
fn timer_interrupt_is_taken_when_enabled() {
    let mut m = Machine::with_vectors();
    m.set_status(KERNEL_STATUS | status::IE | (1 << 15));
    let mut code = arm_timer(50);
    code.extend([addiu(V0, V0, 1), b(-2), NOP]);
    m.program(&code);
    assert_eq!(m.run_to_wait(), KSEG0 + 0x180);
    assert_eq!(m.exc_code(), ExcCode::Int);
    let c = m.cp0(c0::CAUSE);
    assert_ne!(c & cause::TI, 0);
    assert_ne!(c & (1 << (cause::IP_SHIFT + 7)), 0);
    // Compare = Count + 50 is 100 cycles away: about 33 rounds of the
    // three-instruction loop.
    assert!(
        (30..=36).contains(&m.reg(V0)),
        "loop ran {} times",
        m.reg(V0)
    );
    let epc = m.cp0(c0::EPC);
    assert!(
        (CODE + 12..=CODE + 20).contains(&epc),
        "EPC {epc:#x} inside the loop"
    );
}

#[test]
fn timer_interrupt_is_not_taken_when_im7_is_clear() {
    let mut m = Machine::with_vectors();
    m.set_status(KERNEL_STATUS | status::IE | (0x7f << 8));
    let mut code = arm_timer(50);
    // Not `b .; nop`, which would halt the CPU until an interrupt.
    code.extend([addiu(V0, V0, 1), b(-2), NOP]);
    m.program(&code);
    assert_eq!(m.run_for(2000), RunExit::Limit);
    assert_ne!(m.cp0(c0::CAUSE) & cause::TI, 0, "the timer fired");
    assert!(
        m.cpu.pc >= CODE && m.cpu.pc < CODE + 0x20,
        "still in the loop"
    );
}

#[test]
fn wait_halts_until_an_interrupt_then_resumes_after_it() {
    let mut m = Machine::with_vectors();
    let mut code = arm_timer(1000);
    code.extend(li64(A0, KERNEL_STATUS | status::IE | (1 << 15)));
    code.push(mtc0(A0, c0::STATUS, 0));
    let wait_at = CODE + 4 * code.len() as u64;
    code.extend([WAIT, addiu(V0, ZERO, 1)]);
    m.program(&code);
    assert_eq!(m.run(), RunExit::Halted);
    assert!(m.cpu.is_halted());
    assert!(m.cpu.can_be_woken());
    assert_eq!(m.cpu.pc, wait_at + 4);
    // Nothing pending: running again stays halted.
    assert_eq!(m.run(), RunExit::Halted);
    m.cpu.idle_until(m.cpu.timer_deadline());
    assert_eq!(m.run_to_wait(), KSEG0 + 0x180);
    assert_eq!(m.exc_code(), ExcCode::Int);
    assert_eq!(
        m.cp0(c0::EPC),
        wait_at + 4,
        "EPC is the instruction after WAIT"
    );
    assert_eq!(m.reg(V0), 0);
}

#[test]
fn wait_is_woken_by_a_hardware_interrupt() {
    let mut m = Machine::with_vectors();
    m.set_status(KERNEL_STATUS | status::IE | (1 << 10));
    m.program(&[WAIT, addiu(V0, ZERO, 1)]);
    assert_eq!(m.run(), RunExit::Halted);
    m.cpu.set_irq_lines(1 << 2);
    assert_eq!(m.run_to_wait(), KSEG0 + 0x180);
    assert_eq!((m.exc_code(), m.cp0(c0::EPC)), (ExcCode::Int, CODE + 4));
}

#[test]
fn wait_with_interrupts_disabled_cannot_be_woken() {
    let mut m = Machine::new();
    m.program(&[WAIT]);
    assert_eq!(m.run(), RunExit::Halted);
    assert!(!m.cpu.can_be_woken());
}

/// `b .` (`beq $zero, $zero, -1`).
const BRANCH_TO_SELF: u32 = 0x1000_ffff;

#[test]
fn a_branch_to_itself_halts_like_wait_and_an_interrupt_leaves_it() {
    // Both executors: threaded code, and the careful one (tracing).
    for careful in [false, true] {
        let mut m = Machine::with_vectors();
        m.cpu.trace_instructions = careful;
        m.set_status(KERNEL_STATUS | status::IE | (1 << 10));
        m.program(&[addiu(V0, ZERO, 1), BRANCH_TO_SELF, NOP]);
        assert_eq!(m.run(), RunExit::Halted, "careful {careful}");
        assert_eq!(m.cpu.pc, CODE + 4, "halted on the branch");
        assert_eq!(m.reg(V0), 1, "the instruction before it ran");
        assert!(m.cpu.can_be_woken());
        m.cpu.set_irq_lines(1 << 2);
        assert_eq!(m.run_to_wait(), KSEG0 + 0x180);
        assert_eq!(
            (m.exc_code(), m.cp0(c0::EPC)),
            (ExcCode::Int, CODE + 4),
            "EPC is the branch, as when spinning"
        );
    }
}

#[test]
fn a_branch_to_itself_with_interrupts_disabled_halts_for_good() {
    let mut m = Machine::new();
    m.program(&[BRANCH_TO_SELF, NOP]);
    assert_eq!(m.run(), RunExit::Halted);
    assert!(!m.cpu.can_be_woken());
    // With anything but a `nop` in its delay slot it is an ordinary loop.
    let mut m = Machine::new();
    m.program(&[BRANCH_TO_SELF, addiu(V0, V0, 1)]);
    assert_eq!(m.run_for(10_000), RunExit::Limit);
    assert!(m.reg(V0) > 1000, "the loop ran");
}

#[test]
fn eret_clears_exl_and_returns_to_epc() {
    let mut m = Machine::new();
    m.set_status(KERNEL_STATUS | status::EXL);
    m.set_cp0(c0::EPC, CODE + 12);
    m.program(&[
        ERET,
        addiu(V1, ZERO, 1),
        NOP,
        addiu(V0, ZERO, 1),
        mfc0(A0, c0::STATUS, 0),
    ]);
    m.run_to_sentinel();
    assert_eq!((m.reg(V0), m.reg(V1)), (1, 0), "no delay slot after ERET");
    assert_eq!(m.reg(A0) & status::EXL, 0);
}

#[test]
fn eret_with_erl_returns_to_errorepc_and_clears_only_erl() {
    let mut m = Machine::new();
    m.set_status(KERNEL_STATUS | status::EXL | status::ERL);
    m.set_cp0(c0::EPC, CODE + 4);
    m.set_cp0(c0::ERROREPC, CODE + 8);
    m.program(&[
        ERET,
        addiu(V1, ZERO, 1),
        addiu(V0, ZERO, 1),
        mfc0(A0, c0::STATUS, 0),
    ]);
    m.run_to_sentinel();
    assert_eq!((m.reg(V0), m.reg(V1)), (1, 0));
    assert_eq!(m.reg(A0) & (status::EXL | status::ERL), status::EXL);
}

#[test]
fn eret_to_user_mode_drops_privilege() {
    let mut m = Machine::new();
    m.map(0, 0, USER_CODE, entrylo(CODE_PA + 0x1000, LO_VDG), LO_G);
    m.load(CODE + 0x1000, &[mfc0(V0, c0::STATUS, 0)]);
    m.set_status(KERNEL_STATUS | status::EXL | (2 << status::KSU_SHIFT));
    m.set_cp0(c0::EPC, USER_CODE);
    m.program(&[ERET]);
    let t = m.run_to_fault();
    assert_eq!(
        (t.exception.code, t.exception.ce, t.pc),
        (ExcCode::CpU, 0, USER_CODE)
    );
}

#[test]
fn eret_clears_the_ll_bit() {
    let mut m = Machine::new();
    m.set_status(KERNEL_STATUS | status::EXL);
    m.set_cp0(c0::EPC, CODE + 8);
    m.poke_u32(DATA, 5);
    m.set(A0, DATA);
    m.program(&[ll(V0, 0, A0), ERET, addiu(V0, ZERO, 9), sc(V0, 0, A0)]);
    m.run_to_sentinel();
    assert_eq!((m.reg(V0), m.peek_u32(DATA)), (0, 5), "sc after eret fails");
}

#[test]
fn di_and_ei_return_the_old_status() {
    let mut m = Machine::new();
    let st = KERNEL_STATUS | status::IE | (0x80 << 8);
    m.set_status(st);
    m.program(&[
        di(V0),
        mfc0(V1, c0::STATUS, 0),
        ei(A0),
        mfc0(A1, c0::STATUS, 0),
    ]);
    m.run_to_sentinel();
    assert_eq!((m.reg(V0), m.reg(V1)), (st, st & !status::IE));
    assert_eq!((m.reg(A0), m.reg(A1)), (st & !status::IE, st));
}

#[test]
fn ei_with_a_pending_interrupt_takes_it_after_ei() {
    let mut m = Machine::with_vectors();
    m.set_status(KERNEL_STATUS | (1 << 10));
    m.cpu.set_irq_lines(1 << 2);
    m.program(&[addiu(V0, ZERO, 1), ei(ZERO), addiu(V1, ZERO, 1)]);
    assert_eq!(m.run_to_wait(), KSEG0 + 0x180);
    assert_eq!((m.exc_code(), m.cp0(c0::EPC)), (ExcCode::Int, CODE + 8));
    assert_eq!((m.reg(V0), m.reg(V1)), (1, 0));
}

/// Code with `mfc0 v0, Count` as the 21st instruction of its block, then
/// `mfc0 v1, Count` right after it.
fn count_reads() -> Vec<u32> {
    let mut code = vec![NOP; 20];
    code.extend([mfc0(V0, c0::COUNT, 0), mfc0(V1, c0::COUNT, 0)]);
    code
}

#[test]
fn count_read_by_a_monitor_after_a_native_trap_is_the_time_of_the_trap() {
    // Reference: the same code in kernel mode reads Count itself.
    let mut m = Machine::new();
    m.program(&count_reads());
    m.run_to_sentinel();
    let (native0, native1) = (m.reg(V0), m.reg(V1));
    assert_eq!(native0, 10, "instruction 20 runs at cycle 20");

    // In user mode both reads trap (CpU); a monitor emulates them with
    // `read_cp0(Count)` at the trap's pc and resumes after the instruction.
    let mut m = Machine::new();
    m.user_program(&count_reads());
    m.enter_mode(2, 0);
    let mut emulated = Vec::new();
    for _ in 0..2 {
        let t = m.run_to_fault();
        assert_eq!((t.exception.code, t.exception.ce), (ExcCode::CpU, 0));
        emulated.push(m.cpu.read_cp0(c0::COUNT, 0));
        m.cpu.pc = t.pc + 4;
    }
    // Each trap costs a cycle: allow one tick of difference.
    assert!(
        emulated[0].abs_diff(native0) <= 1 && emulated[1] >= emulated[0],
        "monitor read Count = {emulated:?}; natively the reads give {native0}, {native1}"
    );
}
