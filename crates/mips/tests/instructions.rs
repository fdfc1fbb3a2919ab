//! Instruction-level tests: every integer instruction of `Instr` run on the
//! CPU in kernel mode, with expected values from the MIPS64 Release 2 manual
//! (Volume II). The table-driven groups live in `common/cases.rs` and are
//! also checked against QEMU by `differential.rs`; the tests below them cover
//! what depends on the machine (absolute jumps, exception codes and trap
//! fields, modes, coprocessor enables).

mod common;

use common::asm::*;
use common::cases::{self, check_all, on_cpu};
use common::harness::*;
use mips::cp0::status;
use mips::{ExcCode, Instr, Trap};

#[test]
fn add_and_subtract_sign_extend_and_trap_on_overflow() {
    check_all("add/sub", &cases::add_sub_cases(), on_cpu);
}

#[test]
fn logic_compare_and_conditional_moves() {
    check_all("logic/compare", &cases::logic_compare_cases(), on_cpu);
}

#[test]
fn shifts_and_rotates_by_immediate_and_register() {
    check_all("shift", &cases::shift_cases(), on_cpu);
}

#[test]
fn multiply_divide_and_accumulate() {
    check_all("multiply/divide", &cases::multiply_divide_cases(), on_cpu);
}

#[test]
fn count_leading_zeros_and_ones() {
    check_all("count bits", &cases::count_bits_cases(), on_cpu);
}

#[test]
fn bit_field_extract_insert_and_byte_swaps() {
    check_all("bit field", &cases::bitfield_cases(), on_cpu);
}

#[test]
fn loads_and_stores_of_every_width() {
    check_all("load/store", &cases::load_store_cases(), on_cpu);
}

#[test]
fn unaligned_left_right_loads_and_stores_at_every_offset() {
    check_all("unaligned", &cases::unaligned_cases(), on_cpu);
}

#[test]
fn load_linked_store_conditional() {
    check_all("ll/sc", &cases::ll_sc_cases(), on_cpu);
}

#[test]
fn branches_delay_slots_and_links() {
    check_all("branch", &cases::branch_cases(), on_cpu);
}

#[test]
fn conditional_traps() {
    check_all("trap", &cases::trap_cases(), on_cpu);
}

#[test]
fn sync_prefetch_and_reserved_encodings() {
    check_all("misc", &cases::misc_cases(), on_cpu);
}

/// Runs `code` in kernel mode and returns the first fault (not the sentinel).
fn fault_of(code: &[u32]) -> (Machine, Trap) {
    let mut m = Machine::new();
    m.program(code);
    let t = m.run_to_fault();
    (m, t)
}

#[test]
fn overflow_trap_reports_the_instruction_and_does_not_write() {
    let mut m = Machine::new();
    m.program(&[addiu(V1, ZERO, 1), add(V0, A0, A1), addiu(V1, ZERO, 2)]);
    m.set(A0, 0x7fff_ffff);
    m.set(A1, 1);
    m.set(V0, 0x1234);
    let t = m.run_to_fault();
    assert_eq!(t.exception.code, ExcCode::Ov);
    assert_eq!(t.pc, CODE + 4);
    assert!(!t.in_delay_slot);
    assert_eq!(
        t.instr,
        Some(Instr::Add {
            rd: V0,
            rs: A0,
            rt: A1
        })
    );
    assert_eq!(
        m.cpu.pc,
        CODE + 4,
        "native delivery stops at the faulting instruction"
    );
    assert_eq!((m.reg(V0), m.reg(V1)), (0x1234, 1));
}

#[test]
fn j_and_jal_stay_in_the_current_256mb_region() {
    // j/jal at the end of a region's first page jump within the region of the
    // delay slot; jal links pc + 8.
    let target = CODE + 0x100;
    let mut m = Machine::new();
    m.program(&[jal(target), addiu(V0, V0, 1), addiu(V1, V1, 1)]);
    m.load(target, &[j(target + 0x20), addiu(T0, T0, 1)]);
    m.load(target + 0x20, &[addiu(T1, T1, 1), brk(SENTINEL)]);
    m.run_to_sentinel();
    assert_eq!(m.reg(RA), CODE + 8);
    assert_eq!((m.reg(V0), m.reg(V1), m.reg(T0), m.reg(T1)), (1, 0, 1, 1));
    assert_eq!(m.cpu.pc, target + 0x24);
}

#[test]
fn jump_target_uses_the_region_of_the_delay_slot() {
    // A j in the last word of a 256 MiB region jumps into the next region,
    // because the upper address bits come from the delay slot's address.
    // Use KSEG0 0x8fff_fffc -> physical 0x0fff_fffc: needs 256 MiB of RAM.
    let mut m = Machine::with_ram(0x1000_2000);
    let jump_at = KSEG0 + 0x0fff_fffc;
    let next_region = KSEG0 + 0x1000_0000;
    m.load(jump_at, &[j(next_region + 0x1000)]);
    m.load(next_region, &[addiu(V0, V0, 1)]);
    m.load(next_region + 0x1000, &[addiu(V1, V1, 1), brk(SENTINEL)]);
    m.cpu.pc = jump_at;
    m.run_to_sentinel();
    assert_eq!((m.reg(V0), m.reg(V1)), (1, 1));
}

#[test]
fn syscall_and_break_carry_their_codes() {
    for (word, code, instr) in [
        (syscall(0), ExcCode::Sys, Instr::Syscall { code: 0 }),
        (
            syscall(0xabcde),
            ExcCode::Sys,
            Instr::Syscall { code: 0xabcde },
        ),
        (brk(7), ExcCode::Bp, Instr::Break { code: 7 }),
        (brk(0xfffff), ExcCode::Bp, Instr::Break { code: 0xfffff }),
    ] {
        let (m, t) = fault_of(&[NOP, word]);
        assert_eq!(
            (t.exception.code, t.pc, t.instr),
            (code, CODE + 4, Some(instr))
        );
        assert_eq!(m.cpu.pc, CODE + 4);
    }
}

#[test]
fn trap_instructions_carry_their_code_field() {
    let (_, t) = fault_of(&[teq(ZERO, ZERO, 0x3ff)]);
    assert_eq!(t.exception.code, ExcCode::Tr);
    assert_eq!(
        t.instr,
        Some(Instr::Teq {
            rs: 0,
            rt: 0,
            code: 0x3ff
        })
    );
}

#[test]
fn cop2_instructions_raise_coprocessor_unusable_2() {
    for word in [cop2(0x1234), lwc2(V0, 0, ZERO)] {
        let (_, t) = fault_of(&[word]);
        assert_eq!(
            (t.exception.code, t.exception.ce),
            (ExcCode::CpU, 2),
            "{word:#010x}"
        );
    }
}

#[test]
fn fpu_instructions_with_cu1_clear_raise_coprocessor_unusable_1() {
    let words = [
        mfc1(V0, 0),
        mtc1(V0, 0),
        add_d(0, 2, 4),
        lwc1(0, 0, ZERO),
        ldc1(0, 0, ZERO),
        swc1(0, 0, ZERO),
        sdc1(0, 0, ZERO),
        bc1f(2),
        movf(V0, V1, 0),
        ldxc1(0, A0, A1),
    ];
    for word in words {
        let mut m = Machine::new();
        m.set_status(KERNEL_STATUS | status::FR);
        m.program(&[word, NOP]);
        let t = m.run_to_fault();
        assert_eq!(
            (t.exception.code, t.exception.ce, t.pc),
            (ExcCode::CpU, 1, CODE),
            "{word:#010x}"
        );
    }
}

#[test]
fn fpu_instructions_run_once_cu1_is_set() {
    let mut m = Machine::new();
    m.set_status(KERNEL_STATUS | status::FR | status::CU1);
    // mtc1 a0 -> f0; mfc1 f0 -> v0 (sign-extended word).
    m.program(&[mtc1(A0, 0), mfc1(V0, 0)]);
    m.set(A0, 0xffff_ffff_8765_4321);
    m.run_to_sentinel();
    assert_eq!(m.reg(V0), 0xffff_ffff_8765_4321);
}

#[test]
fn cache_is_a_no_op_in_kernel_mode() {
    let mut m = Machine::new();
    m.program(&[cache(0x15, 0, ZERO), addiu(V0, ZERO, 1)]);
    m.run_to_sentinel();
    assert_eq!(m.reg(V0), 1);
}

#[test]
fn sdbbp_without_ejtag_is_reserved() {
    let (_, t) = fault_of(&[sdbbp(0)]);
    assert_eq!(t.exception.code, ExcCode::Ri);
}

#[test]
fn rdhwr_in_kernel_mode_reads_every_implemented_register() {
    let mut m = Machine::new();
    m.cpu.cp0.userlocal = 0x1234_5678_9abc_def0;
    m.program(&[rdhwr(V0, 0), rdhwr(V1, 1), rdhwr(A0, 3), rdhwr(A1, 29)]);
    m.run_to_sentinel();
    // CPUNum 0, SYNCI_Step 32 bytes (the L1 line), CCRes 2 (Count ticks every
    // other cycle), UserLocal.
    assert_eq!(
        (m.reg(V0), m.reg(V1), m.reg(A0), m.reg(A1)),
        (0, 32, 2, 0x1234_5678_9abc_def0)
    );
}

#[test]
fn rdhwr_of_an_unimplemented_register_is_reserved() {
    let (_, t) = fault_of(&[rdhwr(V0, 5)]);
    assert_eq!(t.exception.code, ExcCode::Ri);
}

#[test]
fn rdhwr_cc_reads_count() {
    let mut m = Machine::new();
    m.program(&[mfc0(V0, c0::COUNT, 0), NOP, NOP, NOP, rdhwr(V1, 2)]);
    m.run_to_sentinel();
    // Four instructions later Count has advanced by two.
    assert_eq!(m.reg(V1).wrapping_sub(m.reg(V0)), 2);
}

/// Runs `words` in user mode and returns the trap.
fn user_trap(words: &[u32], extra_status: u64, hwrena: u64) -> (Machine, Trap) {
    let mut m = Machine::new();
    m.user_program(words);
    m.set_cp0(c0::HWRENA, hwrena);
    m.enter_mode(2, extra_status);
    let t = m.run_to_trap();
    (m, t)
}

#[test]
fn rdhwr_in_user_mode_follows_hwrena() {
    // UserLocal (29) allowed by HWREna bit 29; CPUNum (0) not enabled.
    let (m, t) = user_trap(&[rdhwr(V0, 29), rdhwr(V1, 0)], 0, 1 << 29);
    assert_eq!(t.exception.code, ExcCode::Ri);
    assert_eq!(t.pc, USER_CODE + 4);
    assert_eq!(m.reg(V0), 0);
    let (m, t) = user_trap(&[rdhwr(V0, 1), rdhwr(V1, 2)], 0, 0b0110);
    assert!(is_sentinel(&t), "{t:?}");
    assert_eq!(m.reg(V0), 32);
}

#[test]
fn rdhwr_in_user_mode_is_allowed_with_cu0() {
    let (m, t) = user_trap(&[rdhwr(V0, 3)], status::CU0, 0);
    assert!(is_sentinel(&t), "{t:?}");
    assert_eq!(m.reg(V0), 2);
}

#[test]
fn cache_in_user_mode_raises_coprocessor_unusable_0() {
    let (_, t) = user_trap(&[cache(0x15, 0, ZERO)], 0, 0);
    assert_eq!(
        (t.exception.code, t.exception.ce, t.pc),
        (ExcCode::CpU, 0, USER_CODE)
    );
}

#[test]
fn sixty_four_bit_operations_in_user_mode_need_ux() {
    // MIPS64 Vol. III, "64-bit Addressing and Operations Enables": in user
    // mode 64-bit operations are enabled only when Status.UX or Status.PX is
    // set, otherwise they raise Reserved Instruction (QEMU: check_mips_64).
    let ops = [
        ("daddu", daddu(V0, A0, A1)),
        ("dsll32", dsll32(V0, A0, 1)),
        ("ld", ld(V0, 0x800, A2)),
        ("dmultu", dmultu(A0, A1)),
    ];
    let mut bad = Vec::new();
    for (ux, expect_ri) in [(status::UX, false), (0, true)] {
        for (name, word) in ops {
            let mut m = Machine::new();
            m.user_program(&[word]);
            m.set(A2, USER_CODE);
            m.set_status((2 << status::KSU_SHIFT) | ux);
            let t = m.run_to_trap();
            let got_ri = t.exception.code == ExcCode::Ri && t.pc == USER_CODE;
            if got_ri != expect_ri || (!got_ri && !is_sentinel(&t)) {
                bad.push(format!(
                    "{name} with UX = {}: {:?} at {:#x}",
                    ux != 0,
                    t.exception.code,
                    t.pc
                ));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "expected RI exactly when UX = 0:\n{}",
        bad.join("\n")
    );
}

#[test]
fn misaligned_sc_and_scd_raise_address_errors_even_without_a_link() {
    // SC/SCD pseudocode (Vol. II) checks alignment before anything else.
    // (QEMU's user mode skips the check when the link is not set, so these
    // are not in the QEMU-checked tables.)
    for (word, off) in [(sc(V0, 2, A0), 2), (scd(V0, 4, A0), 4)] {
        for with_link in [false, true] {
            let mut m = Machine::new();
            m.set(A0, DATA);
            let mut code = if with_link {
                vec![lld(T0, 0, A0)]
            } else {
                vec![]
            };
            code.push(word);
            m.program(&code);
            m.set(V0, 0x77);
            let t = m.run_to_fault();
            assert_eq!(
                (t.exception.code, t.exception.badvaddr, m.reg(V0)),
                (ExcCode::AdES, DATA + off, 0x77),
                "{word:#010x} with_link={with_link}"
            );
        }
    }
}

#[test]
fn reserved_fpu_encodings_with_cu1_clear_raise_coprocessor_unusable() {
    // MIPS64 Vol. III, exception priorities: "If both exceptions occur on the
    // same instruction, the Coprocessor Unusable Exception takes priority over
    // the Reserved Instruction Exception." (QEMU: check_cp1_enabled runs
    // before the COP1/COP1X decode.) With CU1 set they are reserved.
    let words = [
        ("bc1any2 (MIPS-3D)", 0x4520_0000u32),
        ("add.ps (no paired single)", 0x46c0_0000),
        ("COP1 fmt S, funct 0x18", 0x4600_0018),
        ("COP1X funct 3", 0x4c00_0003),
    ];
    let mut bad = Vec::new();
    for (name, word) in words {
        for (cu1, want) in [(0, (ExcCode::CpU, 1)), (status::CU1, (ExcCode::Ri, 0))] {
            let mut m = Machine::new();
            m.set_status(KERNEL_STATUS | status::FR | cu1);
            m.program(&[word]);
            let t = m.run_to_fault();
            let got = (t.exception.code, t.exception.ce);
            if got != want {
                bad.push(format!(
                    "{name} ({word:#010x}) with CU1 = {}: {got:?}, expected {want:?}",
                    cu1 != 0
                ));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn writes_to_zero_are_discarded_and_loads_into_zero_still_fault() {
    // Register-only instructions writing $zero are lowered to nops and loads
    // into $zero to the generic handler; both must keep $zero at 0, and the
    // load must still access memory (a misaligned one faults), also in a
    // delay slot.
    let mut m = Machine::new();
    m.poke_u64(DATA, 0x1122_3344_5566_7788);
    m.set(A0, DATA);
    m.program(&[
        addiu(ZERO, ZERO, 5),
        lui(ZERO, 0x1234),
        daddu(ZERO, A0, A0),
        mfhi(ZERO),
        lw(ZERO, 0, A0),
        ld(ZERO, 0, A0),
        addu(V0, ZERO, ZERO),
        beq(ZERO, ZERO, 1),
        lw(ZERO, 4, A0),
        NOP,
        or(V1, ZERO, A0),
    ]);
    m.run_to_sentinel();
    assert_eq!(m.reg(ZERO), 0);
    assert_eq!(m.reg(V0), 0);
    assert_eq!(m.reg(V1), DATA);

    let mut m = Machine::new();
    m.set(A0, DATA);
    m.program(&[addiu(ZERO, ZERO, 1), lw(ZERO, 2, A0)]);
    let t = m.run_to_fault();
    assert_eq!(t.exception.code, ExcCode::AdEL);
    assert_eq!(t.pc, CODE + 4);
    assert_eq!(m.reg(ZERO), 0);
}
