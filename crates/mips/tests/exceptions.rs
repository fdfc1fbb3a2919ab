//! Exceptions through both delivery paths: the MIPS vectors (CP0 updated as
//! the MIPS64 Release 2 manual, Volume III, chapter 6 specifies) and native
//! delivery (a `Trap` with CP0 untouched, `pc` at the restart address).

mod common;

use common::asm::*;
use common::harness::*;
use mips::cp0::status;
use mips::{ExcCode, RunExit, TrapDelivery};

const REFILL: u64 = KSEG0;
const XTLB_REFILL: u64 = KSEG0 + 0x080;
const GENERAL: u64 = KSEG0 + 0x180;
const INTERRUPT: u64 = KSEG0 + 0x200;
const BEV_BASE: u64 = 0xffff_ffff_bfc0_0200;

/// A kernel-mode machine with `wait` vectors, or with native delivery.
fn machine_for(delivery: TrapDelivery) -> Machine {
    match delivery {
        TrapDelivery::Vectors => Machine::with_vectors(),
        TrapDelivery::Native => Machine::new(),
    }
}

/// An unmapped user-segment address (mapped segment, no TLB entry).
const UNMAPPED: u64 = 0x1000_0000;

/// One faulting program, with what both delivery paths must report.
struct Fault {
    name: &'static str,
    code: Vec<u32>,
    setup: fn(&mut Machine),
    exc: ExcCode,
    /// The restart address (EPC): the faulting instruction or its branch.
    epc: u64,
    bd: bool,
    badvaddr: Option<u64>,
    refill: bool,
    ce: u8,
    /// Vector offset from EBase.
    vector: u64,
}

fn fault(name: &'static str, code: Vec<u32>, exc: ExcCode, epc_index: u64) -> Fault {
    Fault {
        name,
        code,
        setup: |_| {},
        exc,
        epc: CODE + 4 * epc_index,
        bd: false,
        badvaddr: None,
        refill: false,
        ce: 0,
        vector: 0x180,
    }
}

impl Fault {
    fn in_delay_slot(mut self) -> Self {
        self.bd = true;
        self
    }
    fn bad(mut self, va: u64) -> Self {
        self.badvaddr = Some(va);
        self
    }
    fn refill(mut self, vector: u64) -> Self {
        self.refill = true;
        self.vector = vector;
        self
    }
    fn ce(mut self, ce: u8) -> Self {
        self.ce = ce;
        self
    }
    fn setup(mut self, f: fn(&mut Machine)) -> Self {
        self.setup = f;
        self
    }
    fn epc(mut self, epc: u64) -> Self {
        self.epc = epc;
        self
    }
}

fn set_overflow_operands(m: &mut Machine) {
    m.set(A0, 0x7fff_ffff);
    m.set(A1, 1);
}

/// Maps UNMAPPED's page pair, even page clean (D = 0), odd page invalid.
fn map_clean_and_invalid(m: &mut Machine) {
    m.map(0, 0, UNMAPPED, entrylo(DATA_PA, LO_V | LO_G), LO_G);
}

fn faults() -> Vec<Fault> {
    vec![
        fault("add overflow", vec![NOP, add(V0, A0, A1)], ExcCode::Ov, 1)
            .setup(set_overflow_operands),
        fault(
            "overflow in a taken branch's delay slot",
            vec![NOP, beq(ZERO, ZERO, 2), add(V0, A0, A1), NOP, NOP],
            ExcCode::Ov,
            1,
        )
        .in_delay_slot()
        .setup(set_overflow_operands),
        fault(
            "misaligned load",
            vec![daddiu(A0, ZERO, 0x1002), lw(V0, 0, A0)],
            ExcCode::AdEL,
            1,
        )
        .bad(0x1002),
        fault(
            "misaligned store in a jump's delay slot",
            vec![bal(1), NOP, jr(RA), sd(V0, 4, ZERO)],
            ExcCode::AdES,
            2,
        )
        .in_delay_slot()
        .bad(4),
        fault(
            "load TLB refill",
            vec![lui(A0, 0x1000), ld(V0, 8, A0)],
            ExcCode::TlbL,
            1,
        )
        .bad(UNMAPPED + 8)
        .refill(0x080),
        fault(
            "store TLB refill",
            vec![lui(A0, 0x1000), sw(V0, 0, A0)],
            ExcCode::TlbS,
            1,
        )
        .bad(UNMAPPED)
        .refill(0x080),
        fault(
            "store to a clean page",
            vec![lui(A0, 0x1000), sw(V0, 0x10, A0)],
            ExcCode::Mod,
            1,
        )
        .bad(UNMAPPED + 0x10)
        .setup(map_clean_and_invalid),
        fault(
            "load from an invalid page",
            vec![lui(A0, 0x1000), lw(V0, 0x1000, A0)],
            ExcCode::TlbL,
            1,
        )
        .bad(UNMAPPED + 0x1000)
        .setup(map_clean_and_invalid),
        fault(
            "fetch TLB refill",
            vec![lui(A0, 0x1000), jr(A0), NOP],
            ExcCode::TlbL,
            0,
        )
        .epc(UNMAPPED)
        .bad(UNMAPPED)
        .refill(0x080),
        fault(
            "misaligned fetch",
            vec![addiu(A0, A0, 2), jr(A0), NOP],
            ExcCode::AdEL,
            0,
        )
        .epc(CODE + 2)
        .bad(CODE + 2)
        .setup(|m| m.set(A0, CODE)),
        fault(
            "reserved instruction",
            vec![NOP, NOP, 0x7000_0003],
            ExcCode::Ri,
            2,
        ),
        fault("coprocessor 2", vec![cop2(1)], ExcCode::CpU, 0).ce(2),
        fault(
            "coprocessor 1 disabled",
            vec![NOP, mfc1(V0, 1)],
            ExcCode::CpU,
            1,
        )
        .ce(1),
        fault(
            "floating-point invalid operation with the trap enabled",
            vec![
                lui(A0, 0xbff0),
                dsll32(A0, A0, 0), // -1.0
                dmtc1(A0, 2),
                ori(A1, ZERO, 1 << 11), // FCSR.Enables.V
                ctc1(A1, 31),
                sqrt_d(0, 2),
            ],
            ExcCode::Fpe,
            5,
        )
        .setup(|m| m.set_status(KERNEL_STATUS | status::CU1 | status::FR)),
        fault("syscall", vec![syscall(3)], ExcCode::Sys, 0),
        fault("breakpoint", vec![NOP, brk(1)], ExcCode::Bp, 1),
        fault("trap", vec![teq(ZERO, ZERO, 0)], ExcCode::Tr, 0),
        // KSEG1 beyond RAM is device space; with no device there it is a bus error.
        fault(
            "data bus error",
            vec![lui(A0, 0xbf00), lw(V0, 0, A0)],
            ExcCode::Dbe,
            1,
        ),
    ]
}

#[test]
fn faults_through_the_vectors_update_cp0() {
    for f in faults() {
        let mut m = Machine::with_vectors();
        (f.setup)(&mut m);
        m.program(&f.code);
        let at = m.run_to_wait();
        let name = f.name;
        assert_eq!(at, KSEG0 + f.vector, "{name}: vector");
        assert_eq!(m.exc_code(), f.exc, "{name}: Cause.ExcCode");
        assert_eq!(m.cp0(c0::EPC), f.epc, "{name}: EPC");
        let cause = m.cp0(c0::CAUSE);
        assert_eq!(cause & cause::BD != 0, f.bd, "{name}: Cause.BD");
        assert_eq!(
            (cause >> cause::CE_SHIFT) & 3,
            f.ce as u64,
            "{name}: Cause.CE"
        );
        if let Some(va) = f.badvaddr {
            assert_eq!(m.cp0(c0::BADVADDR), va, "{name}: BadVAddr");
        }
        assert_ne!(m.status() & status::EXL, 0, "{name}: Status.EXL");
    }
}

#[test]
fn faults_through_native_delivery_leave_cp0_alone() {
    for f in faults() {
        let mut m = Machine::new();
        (f.setup)(&mut m);
        m.program(&f.code);
        let before = m.cpu.cp0.clone();
        let t = m.run_to_fault();
        let name = f.name;
        assert_eq!(t.exception.code, f.exc, "{name}");
        assert_eq!(t.pc, f.epc, "{name}: restart address");
        assert_eq!(m.cpu.pc, f.epc, "{name}: cpu.pc");
        assert_eq!(t.in_delay_slot, f.bd, "{name}: in_delay_slot");
        assert_eq!(t.exception.ce, f.ce, "{name}: ce");
        assert_eq!(t.exception.refill, f.refill, "{name}: refill");
        if let Some(va) = f.badvaddr {
            assert_eq!(t.exception.badvaddr, va, "{name}: badvaddr");
        }
        assert_eq!(m.cpu.cp0, before, "{name}: CP0 changed");
    }
}

#[test]
fn native_trap_reports_the_faulting_delay_slot_instruction() {
    let mut m = Machine::new();
    set_overflow_operands(&mut m);
    m.program(&[beq(ZERO, ZERO, 2), add(V0, A0, A1), NOP, NOP]);
    let t = m.run_to_fault();
    assert_eq!(
        t.instr,
        Some(mips::Instr::Add {
            rd: V0,
            rs: A0,
            rt: A1
        })
    );
}

#[test]
fn fault_in_a_delay_slot_on_the_next_page_reports_the_branch() {
    // beq at the last word of a page, an overflowing add as its delay slot in
    // the first word of the next page.
    let branch = CODE + 0xffc;
    for delivery in [TrapDelivery::Vectors, TrapDelivery::Native] {
        let mut m = machine_for(delivery);
        set_overflow_operands(&mut m);
        m.load(branch, &[beq(ZERO, ZERO, 4), add(V0, A0, A1)]);
        m.cpu.pc = branch;
        if delivery == TrapDelivery::Vectors {
            assert_eq!(m.run_to_wait(), GENERAL);
            assert_eq!(m.cp0(c0::EPC), branch);
            assert_ne!(m.cp0(c0::CAUSE) & cause::BD, 0);
            assert_eq!(m.exc_code(), ExcCode::Ov);
        } else {
            let t = m.run_to_fault();
            assert_eq!(
                (t.exception.code, t.pc, t.in_delay_slot),
                (ExcCode::Ov, branch, true)
            );
        }
    }
}

#[test]
fn branch_at_a_page_end_runs_its_delay_slot_on_the_next_page() {
    // Taken, not taken, and likely-not-taken branches in a page's last word.
    let at = CODE + 0xffc;
    let cases: [(u32, u64, u64); 3] = [
        (beq(ZERO, ZERO, 2), 1, 0),  // taken: slot runs, fall-through skipped
        (bne(ZERO, ZERO, 2), 1, 1),  // not taken: slot and fall-through run
        (bnel(ZERO, ZERO, 2), 0, 1), // likely, not taken: slot nullified
    ];
    for (branch, slot_runs, fallthrough_runs) in cases {
        let mut m = Machine::new();
        m.load(
            at,
            &[
                branch,
                addiu(V0, V0, 1),
                addiu(V1, V1, 1),
                NOP,
                brk(SENTINEL),
            ],
        );
        m.cpu.pc = at;
        m.run_to_sentinel();
        assert_eq!(
            (m.reg(V0), m.reg(V1)),
            (slot_runs, fallthrough_runs),
            "{branch:#010x}"
        );
    }
}

/// Kernel-mode machine running mapped code: USER page A (odd page of the
/// pair at 0x40_0000) mapped to CODE_PA + 0x1000, the next page (0x40_2000,
/// the next pair) left unmapped.
const MAPPED_A: u64 = 0x0040_1000;
const MAPPED_B: u64 = 0x0040_2000;

fn mapped_code_machine(delivery: TrapDelivery) -> Machine {
    let mut m = machine_for(delivery);
    m.map(1, 0, 0x0040_0000, LO_G, entrylo(CODE_PA + 0x1000, LO_VDG));
    // Page A ends with `jal B+8` whose delay slot is the first word of B.
    let a_end = CODE_PA + 0x1ffc;
    m.load_pa(a_end - 4, &[addiu(V0, ZERO, 0), jal(MAPPED_B + 8)]);
    m.load_pa(
        CODE_PA + 0x2000,
        &[addiu(V0, V0, 1), addiu(V1, V1, 100), brk(SENTINEL)],
    );
    m.cpu.pc = MAPPED_A + 0xff8;
    m
}

#[test]
fn delay_slot_fetch_refill_on_the_next_page_reports_the_branch() {
    let mut m = mapped_code_machine(TrapDelivery::Vectors);
    assert_eq!(m.run_to_wait(), XTLB_REFILL);
    assert_eq!(m.exc_code(), ExcCode::TlbL);
    assert_eq!(m.cp0(c0::EPC), MAPPED_A + 0xffc);
    assert_ne!(m.cp0(c0::CAUSE) & cause::BD, 0);
    assert_eq!(m.cp0(c0::BADVADDR), MAPPED_B);
}

#[test]
fn native_monitor_can_map_the_delay_slot_page_and_resume() {
    let mut m = mapped_code_machine(TrapDelivery::Native);
    let t = m.run_to_fault();
    assert_eq!(
        (t.exception.code, t.exception.refill, t.exception.badvaddr),
        (ExcCode::TlbL, true, MAPPED_B)
    );
    assert_eq!(
        (t.pc, t.in_delay_slot, t.instr),
        (MAPPED_A + 0xffc, true, None)
    );
    // The "monitor" maps page B and restarts at the branch.
    m.map(2, 0, MAPPED_B, entrylo(CODE_PA + 0x2000, LO_VDG), LO_G);
    m.run_to_sentinel();
    assert_eq!(m.reg(RA), MAPPED_B + 4, "jal links past its delay slot");
    assert_eq!(
        (m.reg(V0), m.reg(V1)),
        (1, 0),
        "delay slot ran once, B+4 skipped"
    );
}

#[test]
fn tlb_refill_at_exception_level_uses_the_general_vector_and_keeps_epc() {
    let mut m = Machine::with_vectors();
    m.set_status(KERNEL_STATUS | status::EXL);
    m.set_cp0(c0::EPC, 0x1234_5678);
    m.cpu.cp0.cause |= cause::BD;
    m.program(&[lui(A0, 0x1000), lw(V0, 0, A0)]);
    assert_eq!(m.run_to_wait(), GENERAL);
    assert_eq!(m.exc_code(), ExcCode::TlbL);
    assert_eq!(m.cp0(c0::EPC), 0x1234_5678, "EPC unchanged with EXL = 1");
    assert_ne!(m.cp0(c0::CAUSE) & cause::BD, 0, "BD unchanged with EXL = 1");
    assert_eq!(m.cp0(c0::BADVADDR), UNMAPPED);
}

#[test]
fn exception_vectors_follow_ebase() {
    let mut m = Machine::with_vectors();
    m.cpu.write_cp0(c0::PRID, 1, 0xffff_ffff_8004_0000, true);
    m.load(KSEG0 + 0x4_0180, &[WAIT]);
    m.program(&[syscall(0)]);
    assert_eq!(m.run_to_wait(), KSEG0 + 0x4_0180);
}

/// A machine with RAM under the boot ROM vectors (0x1fc00000) and `wait` in
/// each BEV vector slot.
fn bev_machine() -> Machine {
    let mut m = Machine::with_ram(0x2000_0000);
    m.cpu.set_trap_delivery(TrapDelivery::Vectors);
    for off in [0x000, 0x080, 0x180, 0x200] {
        m.load(BEV_BASE + off, &[WAIT]);
    }
    m
}

#[test]
fn bev_moves_every_vector_to_the_boot_rom() {
    let cases: [(&str, u64, Vec<u32>, u64); 4] = [
        ("general", KERNEL_STATUS, vec![syscall(0)], 0x180),
        (
            "refill, 32-bit",
            0,
            vec![lui(A0, 0x1000), lw(V0, 0, A0)],
            0x000,
        ),
        (
            "refill, 64-bit",
            status::UX,
            vec![lui(A0, 0x1000), lw(V0, 0, A0)],
            0x080,
        ),
        (
            "interrupt with IV",
            KERNEL_STATUS | status::IE | (1 << 8),
            {
                let mut c = li32(A0, 1 << 23 | 1 << 8).to_vec();
                c.push(mtc0(A0, c0::CAUSE, 0));
                c
            },
            0x200,
        ),
    ];
    for (name, st, code, off) in cases {
        let mut m = bev_machine();
        m.set_status(st | status::BEV);
        m.program(&code);
        assert_eq!(m.run_to_wait(), BEV_BASE + off, "{name}");
    }
}

#[test]
fn bev_exception_without_boot_rom_reports_a_wedged_cpu() {
    let mut m = Machine::new();
    m.cpu.set_trap_delivery(TrapDelivery::Vectors);
    m.set_status(KERNEL_STATUS | status::BEV);
    m.program(&[NOP, syscall(0)]);
    assert_eq!(
        m.run(),
        RunExit::Wedged {
            vector: BEV_BASE + 0x180,
            cause: ExcCode::Sys,
            epc: CODE + 4
        }
    );
}

#[test]
fn software_interrupt_uses_the_interrupt_vector_only_with_iv() {
    for (iv, vector) in [(true, INTERRUPT), (false, GENERAL)] {
        let mut m = Machine::with_vectors();
        m.set_status(KERNEL_STATUS | status::IE | (1 << 9));
        let cause_value = (1 << 9) | if iv { 1 << 23 } else { 0 };
        let mut code = li32(A0, cause_value).to_vec();
        code.push(mtc0(A0, c0::CAUSE, 0));
        code.push(addiu(V0, ZERO, 1));
        m.program(&code);
        assert_eq!(m.run_to_wait(), vector, "IV = {iv}");
        assert_eq!(m.exc_code(), ExcCode::Int);
        // The interrupt is taken right after the MTC0 that raised it.
        assert_eq!(m.cp0(c0::EPC), CODE + 12);
        assert_eq!(m.reg(V0), 0);
        assert_ne!(m.cp0(c0::CAUSE) & (1 << 9), 0, "Cause.IP1");
    }
}

#[test]
fn hardware_interrupt_is_taken_only_when_enabled_and_unmasked() {
    let run = |st: u64| {
        let mut m = Machine::with_vectors();
        m.set_status(st);
        m.cpu.set_irq_lines(1 << 3); // IP3
        m.program(&[addiu(V0, ZERO, 1), NOP]);
        m.run_to_wait()
    };
    assert_eq!(run(KERNEL_STATUS | status::IE | (1 << 11)), GENERAL);
    // Masked (IM3 clear), disabled (IE clear), or at exception level: the
    // program runs to its end (the sentinel `break` then vectors to GENERAL
    // with Cause.ExcCode = Bp).
    for st in [
        KERNEL_STATUS | status::IE | (1 << 10),
        KERNEL_STATUS | (1 << 11),
        KERNEL_STATUS | status::IE | status::ERL | (1 << 11),
    ] {
        let mut m = Machine::with_vectors();
        m.set_status(st);
        m.cpu.set_irq_lines(1 << 3);
        m.program(&[addiu(V0, ZERO, 1), NOP]);
        m.run_to_wait();
        assert_eq!(
            (m.exc_code(), m.reg(V0)),
            (ExcCode::Bp, 1),
            "status {st:#x}"
        );
    }
    let mut m = Machine::with_vectors();
    m.set_status(KERNEL_STATUS | status::IE | (1 << 11));
    m.cpu.set_irq_lines(1 << 3);
    m.program(&[addiu(V0, ZERO, 1)]);
    m.run_to_wait();
    assert_eq!(m.exc_code(), ExcCode::Int);
    assert_eq!(
        m.cp0(c0::EPC),
        CODE,
        "interrupt before the first instruction"
    );
    assert_ne!(
        m.cp0(c0::CAUSE) & (1 << 11),
        0,
        "Cause.IP3 reflects the line"
    );
}

#[test]
fn refill_vector_depends_on_the_segment_and_the_x_bits() {
    // (Status, address, vector offset). MIPS64 Vol. III 6.2.x: the XTLB
    // refill vector serves 64-bit address spaces (xuseg with UX, xsseg,
    // xkseg with KX); compatibility addresses use the 32-bit refill vector
    // unless their region's X bit is set.
    let cases: [(u64, u64, u64); 6] = [
        (0, UNMAPPED, 0x000),
        (status::UX, UNMAPPED, 0x080),
        (status::KX, 0xc000_0000_0001_0000, 0x080),
        (0, 0xffff_ffff_c000_0000, 0x000),
        (status::KX, 0xffff_ffff_c000_0000, 0x080),
        (status::KX | status::SX, 0x4000_0000_0001_0000, 0x080),
    ];
    for (st, va, off) in cases {
        let mut m = Machine::with_vectors();
        m.set_status(st);
        m.set(A0, va);
        m.program(&[lw(V0, 0, A0)]);
        assert_eq!(
            m.run_to_wait(),
            REFILL + off,
            "status {st:#x} address {va:#x}"
        );
        assert_eq!(m.cp0(c0::BADVADDR), va);
        assert_eq!(m.exc_code(), ExcCode::TlbL);
    }
}

#[test]
fn tlb_refill_loads_entryhi_context_and_xcontext() {
    let va = 0xc000_0012_3456_7000u64;
    let mut m = Machine::with_vectors();
    m.set_cp0(c0::ENTRYHI, 5);
    m.set_cp0(c0::CONTEXT, 0xffff_ff00_0000_0000);
    m.set_cp0(c0::XCONTEXT, 0xabc0_0000_0000_0000);
    m.set(A0, va);
    m.program(&[sd(V0, 0x18, A0)]);
    assert_eq!(m.run_to_wait(), XTLB_REFILL);
    assert_eq!(m.exc_code(), ExcCode::TlbS);
    assert_eq!(m.cp0(c0::BADVADDR), va + 0x18);
    // EntryHi: R (63:62), VPN2 (39:13) of the address, ASID kept.
    assert_eq!(m.cp0(c0::ENTRYHI), 0xc000_0012_3456_6005);
    // Context: PTEBase kept, BadVPN2 = VA[31:13] at bit 4.
    assert_eq!(m.cp0(c0::CONTEXT), 0xffff_ff00_0000_0000 | (0x1_a2b3 << 4));
    // XContext: PTEBase kept, R at bits 32:31, BadVPN2 = VA[39:13] at bit 4.
    assert_eq!(
        m.cp0(c0::XCONTEXT),
        0xabc0_0000_0000_0000 | (3 << 31) | (0x91_a2b3 << 4)
    );
}

#[test]
fn native_monitor_can_fix_a_refill_and_resume() {
    let mut m = Machine::new();
    m.poke_u64(DATA + 8, 0x1122_3344_5566_7788);
    m.program(&[lui(A0, 0x1000), ld(V0, 8, A0), addiu(V1, ZERO, 1)]);
    let t = m.run_to_fault();
    assert_eq!((t.exception.code, t.pc), (ExcCode::TlbL, CODE + 4));
    m.map(3, 0, UNMAPPED, entrylo(DATA_PA, LO_VDG), LO_G);
    m.run_to_sentinel();
    assert_eq!((m.reg(V0), m.reg(V1)), (0x1122_3344_5566_7788, 1));
}

#[test]
fn native_monitor_can_enable_the_fpu_and_resume() {
    let mut m = Machine::new();
    m.set_status(KERNEL_STATUS | status::FR);
    m.program(&[mtc1(A0, 4), mfc1(V0, 4)]);
    m.set(A0, 77);
    let t = m.run_to_fault();
    assert_eq!(
        (t.exception.code, t.exception.ce, t.pc),
        (ExcCode::CpU, 1, CODE)
    );
    m.set_status(KERNEL_STATUS | status::FR | status::CU1);
    m.run_to_sentinel();
    assert_eq!(m.reg(V0), 77);
}

/// Machine running `words` at USER_CODE in user (ksu 2) or supervisor (ksu
/// 1) mode, with vectors or native delivery.
fn mode_machine(words: &[u32], ksu: u64, extra: u64, delivery: TrapDelivery) -> Machine {
    let mut m = machine_for(delivery);
    m.user_program(words);
    m.enter_mode(ksu, extra);
    m
}

/// Every privileged instruction, with operands that are harmless when they
/// are allowed to run.
fn privileged_instructions() -> Vec<(&'static str, u32)> {
    vec![
        ("mfc0", mfc0(V0, c0::STATUS, 0)),
        ("dmfc0", dmfc0(V0, c0::EPC, 0)),
        ("mtc0", mtc0(ZERO, c0::COMPARE, 0)),
        ("dmtc0", dmtc0(ZERO, c0::CONTEXT, 0)),
        ("tlbp", TLBP),
        ("tlbr", TLBR),
        ("tlbwi", TLBWI),
        ("tlbwr", TLBWR),
        ("di", di(V0)),
        ("ei", ei(V0)),
        ("cache", cache(0x15, 0, ZERO)),
        ("rdpgpr", rdpgpr(V0, V1)),
        ("wrpgpr", wrpgpr(V0, V1)),
        ("eret", ERET),
        ("wait", WAIT),
    ]
}

#[test]
fn privileged_instructions_outside_kernel_mode_raise_coprocessor_unusable_0() {
    for ksu in [1, 2] {
        for (name, word) in privileged_instructions() {
            let mut m = mode_machine(&[word], ksu, 0, TrapDelivery::Native);
            let before = m.cpu.cp0.clone();
            let t = m.run_to_fault();
            assert_eq!(
                (t.exception.code, t.exception.ce, t.pc),
                (ExcCode::CpU, 0, USER_CODE),
                "{name} with KSU = {ksu}"
            );
            assert_eq!(m.cpu.cp0, before, "{name}: CP0 changed");
            let mut m = mode_machine(&[word], ksu, 0, TrapDelivery::Vectors);
            assert_eq!(m.run_to_wait(), GENERAL, "{name}");
            assert_eq!(
                (m.exc_code(), (m.cp0(c0::CAUSE) >> 28) & 3),
                (ExcCode::CpU, 0)
            );
            assert_eq!(m.cp0(c0::EPC), USER_CODE);
        }
    }
}

#[test]
fn privileged_instructions_outside_kernel_mode_run_with_cu0() {
    for ksu in [1, 2] {
        for (name, word) in privileged_instructions() {
            let mut m = mode_machine(
                &[word, addiu(T0, ZERO, 1)],
                ksu,
                status::CU0,
                TrapDelivery::Native,
            );
            m.set_cp0(c0::INDEX, 7);
            m.set_cp0(c0::EPC, USER_CODE + 4);
            match m.run() {
                RunExit::Halted => assert_eq!(name, "wait"),
                RunExit::Trap(t) => assert!(is_sentinel(&t), "{name} with KSU = {ksu}: {t:?}"),
                other => panic!("{name}: {other:?}"),
            }
            if name != "wait" {
                assert_eq!(m.reg(T0), 1, "{name}");
            }
        }
    }
}

#[test]
fn mfc0_with_cu0_in_user_mode_reads_cp0() {
    let mut m = mode_machine(
        &[mfc0(V0, c0::STATUS, 0)],
        2,
        status::CU0,
        TrapDelivery::Native,
    );
    m.run_to_sentinel();
    assert_eq!(m.reg(V0), KERNEL_STATUS | status::CU0 | (2 << 3));
}

#[test]
fn user_mode_cannot_reach_kernel_segments() {
    // (address, is store, expected code)
    let cases: [(u64, bool, ExcCode); 5] = [
        (KSEG0 + 0x100, false, ExcCode::AdEL),
        (KSEG1 + 0x100, true, ExcCode::AdES),
        (0xffff_ffff_c000_0000, false, ExcCode::AdEL),
        (0x9800_0000_0000_0100, false, ExcCode::AdEL),
        (0xc000_0000_0000_0100, true, ExcCode::AdES),
    ];
    for (va, store, code) in cases {
        let word = if store {
            sw(ZERO, 0, A0)
        } else {
            lw(V0, 0, A0)
        };
        let mut m = mode_machine(&[word], 2, 0, TrapDelivery::Vectors);
        m.set(A0, va);
        assert_eq!(m.run_to_wait(), GENERAL, "{va:#x}");
        assert_eq!((m.exc_code(), m.cp0(c0::BADVADDR)), (code, va), "{va:#x}");
        assert_eq!(m.cp0(c0::EPC), USER_CODE);
    }
}

#[test]
fn user_mode_fetch_from_kseg0_is_an_address_error() {
    let mut m = mode_machine(&[jr(A0), NOP], 2, 0, TrapDelivery::Vectors);
    m.set(A0, CODE);
    assert_eq!(m.run_to_wait(), GENERAL);
    assert_eq!(
        (m.exc_code(), m.cp0(c0::BADVADDR), m.cp0(c0::EPC)),
        (ExcCode::AdEL, CODE, CODE)
    );
}

#[test]
fn supervisor_mode_reaches_sseg_but_not_kseg0() {
    let mut m = mode_machine(&[lw(V0, 0, A0)], 1, 0, TrapDelivery::Native);
    m.set(A0, 0xffff_ffff_c000_1000);
    let t = m.run_to_fault();
    assert_eq!(
        (t.exception.code, t.exception.refill),
        (ExcCode::TlbL, true)
    );
    let mut m = mode_machine(&[lw(V0, 0, A0)], 1, 0, TrapDelivery::Native);
    m.set(A0, KSEG0);
    assert_eq!(m.run_to_fault().exception.code, ExcCode::AdEL);
}

#[test]
fn user_mode_64_bit_addresses_need_ux() {
    let va = 0x1_0000_0000u64;
    let mut m = mode_machine(&[lw(V0, 0, A0)], 2, 0, TrapDelivery::Native);
    m.set_status(2 << 3); // user mode, UX = 0
    m.set(A0, va);
    let t = m.run_to_fault();
    assert_eq!(
        (t.exception.code, t.exception.badvaddr),
        (ExcCode::AdEL, va)
    );
    let mut m = mode_machine(&[lw(V0, 0, A0)], 2, 0, TrapDelivery::Native);
    m.set(A0, va);
    let t = m.run_to_fault();
    assert_eq!(
        (t.exception.code, t.exception.refill),
        (ExcCode::TlbL, true)
    );
}

#[test]
fn xkphys_needs_kx_and_maps_physical_memory() {
    let va = 0x9800_0000_0000_0000 | DATA_PA;
    let mut m = Machine::new();
    m.set_status(0);
    m.set(A0, va);
    m.program(&[ld(V0, 0, A0)]);
    let t = m.run_to_fault();
    assert_eq!(
        (t.exception.code, t.exception.badvaddr),
        (ExcCode::AdEL, va)
    );
    let mut m = Machine::new();
    m.poke_u64(DATA, 0xfeed_f00d);
    m.set(A0, va);
    m.program(&[ld(V0, 0, A0)]);
    m.run_to_sentinel();
    assert_eq!(m.reg(V0), 0xfeed_f00d);
}

#[test]
fn misaligned_store_in_user_mode_reports_ades() {
    let mut m = mode_machine(&[sh(ZERO, 1, A0)], 2, 0, TrapDelivery::Vectors);
    m.set(A0, USER_CODE + 0x800);
    assert_eq!(m.run_to_wait(), GENERAL);
    assert_eq!(
        (m.exc_code(), m.cp0(c0::BADVADDR)),
        (ExcCode::AdES, USER_CODE + 0x801)
    );
}

#[test]
fn branch_ending_a_full_block_runs_its_delay_slot_from_the_next_block() {
    // A decoded block holds at most 64 instructions: a branch in 64th place
    // has its delay slot in the next block.
    let mut code = vec![NOP; 63];
    code.extend([beq(ZERO, ZERO, 2), addiu(V0, V0, 1), addiu(V1, V1, 1), NOP]);
    let mut m = Machine::new();
    m.program(&code);
    m.run_to_sentinel();
    assert_eq!((m.reg(V0), m.reg(V1)), (1, 0));
    // The same delay slot faulting reports the branch.
    let mut code = vec![NOP; 63];
    code.extend([beq(ZERO, ZERO, 2), add(V0, A0, A1), NOP, NOP]);
    for delivery in [TrapDelivery::Vectors, TrapDelivery::Native] {
        let mut m = machine_for(delivery);
        set_overflow_operands(&mut m);
        m.program(&code);
        if delivery == TrapDelivery::Vectors {
            assert_eq!(m.run_to_wait(), GENERAL);
            assert_eq!(m.cp0(c0::EPC), CODE + 63 * 4);
            assert_ne!(m.cp0(c0::CAUSE) & cause::BD, 0);
        } else {
            let t = m.run_to_fault();
            assert_eq!((t.pc, t.in_delay_slot), (CODE + 63 * 4, true));
        }
    }
}

#[test]
fn stopping_between_a_page_end_branch_and_its_delay_slot_resumes_correctly() {
    // A countdown loop whose backward branch is the last word of a page: run
    // it one cycle at a time, so that runs end between branch and slot.
    let at = CODE + 0xff8;
    let mut m = Machine::new();
    m.load(
        at,
        &[
            addiu(A0, A0, -1),
            bne(A0, ZERO, -2),
            addiu(V0, V0, 1), // delay slot, first word of the next page
            addiu(V1, V1, 1),
            brk(SENTINEL),
        ],
    );
    m.cpu.pc = at;
    m.set(A0, 10);
    let mut runs = 0;
    loop {
        runs += 1;
        match m.run_for(1) {
            RunExit::Limit => continue,
            RunExit::Trap(t) if is_sentinel(&t) => break,
            other => panic!("{other:?} at {:#x}", m.cpu.pc),
        }
    }
    assert_eq!((m.reg(A0), m.reg(V0), m.reg(V1)), (0, 10, 1));
    // Runs execute at least a block each; the loop was cut many times.
    assert!(runs > 10, "{runs} runs");
}
