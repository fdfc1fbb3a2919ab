//! The software-managed TLB (MIPS64 Release 2, Volume III chapter 4): TLB
//! maintenance instructions, page pairs and sizes, ASIDs, entry attributes,
//! and that the simulator's internal translation cache never outlives a
//! change of the architectural state (TLB writes, ASID, Status).

mod common;

use common::asm::*;
use common::harness::*;
use mips::cp0::status;
use mips::{ExcCode, Trap};

/// Physical pages with recognisable contents: the doubleword at offset `o`
/// of page `p` is `0x1000 * (p + 1) + o`, so every load tells where it went.
const PAGES_PA: u64 = 0x30_0000;

fn marker(pa: u64) -> u64 {
    (pa - PAGES_PA) + 0xaa00_0000
}

fn machine() -> Machine {
    let mut m = Machine::with_ram(64 << 20);
    for page in 0..16u64 {
        for off in [0u64, 8, 0x800, 0xff8] {
            let pa = PAGES_PA + page * 0x1000 + off;
            m.poke_u64(KSEG0 + pa, marker(pa));
        }
    }
    m
}

fn page(n: u64) -> u64 {
    PAGES_PA + n * 0x1000
}

/// Code writing TLB entry `index` with tlbwi.
fn tlbwi_code(index: u64, pagemask: u64, entryhi: u64, lo0: u64, lo1: u64) -> Vec<u32> {
    let mut c = Vec::new();
    for (reg, v) in [
        (c0::INDEX, index),
        (c0::PAGEMASK, pagemask),
        (c0::ENTRYHI, entryhi),
        (c0::ENTRYLO0, lo0),
        (c0::ENTRYLO1, lo1),
    ] {
        c.extend(li64(T0, v));
        c.push(dmtc0(T0, reg, 0));
    }
    c.push(TLBWI);
    c
}

/// Code loading the doubleword at `va` into `rt`.
fn load_code(rt: u8, va: u64) -> Vec<u32> {
    let mut c = li64(T1, va);
    c.push(ld(rt, 0, T1));
    c
}

fn run(m: &mut Machine, code: &[u32]) -> Trap {
    m.program(code);
    m.run_to_trap()
}

fn run_ok(m: &mut Machine, code: &[u32]) {
    m.program(code);
    m.run_to_sentinel();
}

const VA: u64 = 0x1000_0000;

/// Maps `va` to page 0, loads, rewrites the same TLB entry to page 1, loads
/// again: the second load must see page 1.
fn remap_in_place(va: u64) -> Result<(), String> {
    let mut m = machine();
    let mut code = tlbwi_code(4, 0, va, entrylo(page(0), LO_VDG), entrylo(page(0), LO_VDG));
    code.extend(load_code(V0, va + 8));
    code.extend(tlbwi_code(
        4,
        0,
        va,
        entrylo(page(1), LO_VDG),
        entrylo(page(1), LO_VDG),
    ));
    code.extend(load_code(V1, va + 8));
    let t = run(&mut m, &code);
    if !is_sentinel(&t) {
        return Err(format!("{va:#x}: unexpected {t:?}"));
    }
    let got = (m.reg(V0), m.reg(V1));
    let want = (marker(page(0) + 8), marker(page(1) + 8));
    if got != want {
        return Err(format!(
            "{va:#x}: loads read {:#x} then {:#x}, expected {:#x} then {:#x} (new page)",
            got.0, got.1, want.0, want.1
        ));
    }
    Ok(())
}

/// Maps `va` and loads it, then rewrites the entry for another page: `va`
/// must now miss.
fn remap_elsewhere(va: u64) -> Result<(), String> {
    let mut m = machine();
    let mut code = tlbwi_code(4, 0, va, entrylo(page(0), LO_VDG), entrylo(page(0), LO_VDG));
    code.extend(load_code(V0, va));
    code.extend(tlbwi_code(
        4,
        0,
        va + 0x10_0000,
        entrylo(page(1), LO_VDG),
        0,
    ));
    code.extend(load_code(V1, va));
    let t = run(&mut m, &code);
    if (t.exception.code, t.exception.refill, t.exception.badvaddr) != (ExcCode::TlbL, true, va) {
        let what = if is_sentinel(&t) {
            "no exception".into()
        } else {
            format!("{t:?}")
        };
        return Err(format!(
            "{va:#x}: expected a TLB refill for the stale page, got {what}; the load read {:#x} \
             through the overwritten entry",
            m.reg(V1)
        ));
    }
    Ok(())
}

fn check_regions(regions: &[u64], f: fn(u64) -> Result<(), String>) {
    let errors: Vec<String> = regions.iter().filter_map(|&va| f(va).err()).collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// Mapped addresses in useg, xuseg, xsseg and xkseg.
const REGIONS_64: [u64; 4] = [
    VA,
    0x1_0000_0000,
    0x4000_0000_1000_0000,
    0xc000_0000_1000_0000,
];
/// Mapped compatibility addresses in ksseg/kseg2 and kseg3.
const REGIONS_KSEG23: [u64; 2] = [0xffff_ffff_c000_0000, 0xffff_ffff_e000_0000];

#[test]
fn rewriting_a_used_entry_replaces_the_translation_in_user_and_64_bit_segments() {
    check_regions(&REGIONS_64, remap_in_place);
}

#[test]
fn rewriting_a_used_entry_unmaps_the_old_page_in_user_and_64_bit_segments() {
    check_regions(&REGIONS_64, remap_elsewhere);
}

#[test]
fn rewriting_a_used_entry_replaces_the_translation_in_kseg2_and_kseg3() {
    check_regions(&REGIONS_KSEG23, remap_in_place);
}

#[test]
fn rewriting_a_used_entry_unmaps_the_old_page_in_kseg2_and_kseg3() {
    check_regions(&REGIONS_KSEG23, remap_elsewhere);
}

#[test]
fn tlbwr_replacing_a_used_entry_drops_the_old_translation() {
    let mut m = machine();
    // Random starts at 63: map entry 63 with tlbwi, use it, then tlbwr.
    let mut code = tlbwi_code(63, 0, VA, entrylo(page(0), LO_VDG), LO_G);
    code.extend(load_code(V0, VA));
    code.extend(tlbwi_code(0, 0, VA, entrylo(page(2), LO_VDG), LO_G));
    code.pop(); // replace the final tlbwi by tlbwr
    code.push(TLBWR);
    code.extend(load_code(V1, VA));
    run_ok(&mut m, &code);
    assert_eq!((m.reg(V0), m.reg(V1)), (marker(page(0)), marker(page(2))));
}

#[test]
fn paired_pages_translate_even_and_odd_halves_separately() {
    let mut m = machine();
    let mut code = tlbwi_code(7, 0, VA, entrylo(page(3), LO_VDG), entrylo(page(5), LO_VDG));
    code.extend(load_code(V0, VA + 8));
    code.extend(load_code(V1, VA + 0x1ff8));
    run_ok(&mut m, &code);
    assert_eq!(
        (m.reg(V0), m.reg(V1)),
        (marker(page(3) + 8), marker(page(5) + 0xff8))
    );
}

#[test]
fn large_pages_follow_pagemask() {
    // (PageMask, page size)
    for (mask, size) in [
        (0x6000u64, 16u64 << 10),
        (0x1f_e000, 1 << 20),
        (0x1ff_e000, 16 << 20),
    ] {
        let mut m = Machine::with_ram(64 << 20);
        let (even, odd) = (2 * size, 3 * size);
        let va = 0x4000_0000;
        let probes = [(even, size - 8), (even, 0x1000), (odd, 0), (odd, size - 8)];
        for (k, &(base, off)) in probes.iter().enumerate() {
            m.poke_u64(KSEG0 + base + off, 0x5000 + k as u64);
        }
        let mut code = tlbwi_code(2, mask, va, entrylo(even, LO_VDG), entrylo(odd, LO_VDG));
        let regs = [V0, V1, A0, A1];
        for (k, &(base, off)) in probes.iter().enumerate() {
            let va_off = if base == even { off } else { size + off };
            code.extend(load_code(regs[k], va + va_off));
        }
        run_ok(&mut m, &code);
        let got: Vec<u64> = regs.iter().map(|&r| m.reg(r)).collect();
        assert_eq!(got, [0x5000, 0x5001, 0x5002, 0x5003], "page size {size:#x}");
    }
}

#[test]
fn non_global_entries_need_a_matching_asid() {
    let mut m = machine();
    let mut code = tlbwi_code(
        4,
        0,
        VA | 5,
        entrylo(page(0), LO_V | LO_D),
        entrylo(page(1), LO_V | LO_D),
    );
    code.extend(load_code(V0, VA));
    code.extend(li64(T0, 6));
    code.push(dmtc0(T0, c0::ENTRYHI, 0));
    code.extend(load_code(V1, VA));
    let t = run(&mut m, &code);
    assert_eq!(m.reg(V0), marker(page(0)));
    assert_eq!(
        (t.exception.code, t.exception.refill),
        (ExcCode::TlbL, true),
        "ASID 6 must miss"
    );
    // Back to ASID 5: the mapping works again.
    m.set_cp0(c0::ENTRYHI, 5);
    m.run_to_sentinel();
    assert_eq!(m.reg(V1), marker(page(0)));
}

#[test]
fn global_entries_match_every_asid() {
    let mut m = machine();
    let mut code = tlbwi_code(
        4,
        0,
        VA | 5,
        entrylo(page(0), LO_VDG),
        entrylo(page(1), LO_VDG),
    );
    code.extend(load_code(V0, VA));
    code.extend(li64(T0, 6));
    code.push(dmtc0(T0, c0::ENTRYHI, 0));
    code.extend(load_code(V1, VA));
    run_ok(&mut m, &code);
    assert_eq!((m.reg(V0), m.reg(V1)), (marker(page(0)), marker(page(0))));
}

#[test]
fn user_mode_asid_switch_makes_the_old_mapping_inaccessible() {
    // A user program loads VA, makes a syscall during which the "kernel"
    // switches the ASID, and loads VA again.
    let mut m = machine();
    m.map(4, 0, VA | 5, entrylo(page(0), LO_V), entrylo(page(1), LO_V));
    m.set_cp0(c0::ENTRYHI, 5);
    let mut code = load_code(V0, VA);
    code.push(syscall(0));
    code.extend(load_code(V1, VA));
    m.user_program(&code);
    m.enter_mode(2, 0);
    let t = m.run_to_fault();
    assert_eq!(t.exception.code, ExcCode::Sys);
    assert_eq!(m.reg(V0), marker(page(0)));
    m.set_cp0(c0::ENTRYHI, 6);
    m.cpu.pc = t.pc + 4;
    let t = m.run_to_fault();
    assert_eq!(
        (t.exception.code, t.exception.refill, t.exception.badvaddr),
        (ExcCode::TlbL, true, VA)
    );
}

#[test]
fn tlbr_switching_the_asid_drops_old_translations() {
    let mut m = machine();
    m.map(9, 0, 0x2000_0000 | 7, 0, 0);
    let mut code = tlbwi_code(4, 0, VA | 5, entrylo(page(0), LO_V), entrylo(page(1), LO_V));
    code.extend(load_code(V0, VA));
    code.extend(li64(T0, 9));
    code.push(mtc0(T0, c0::INDEX, 0));
    code.push(TLBR); // EntryHi (and so the current ASID) becomes 7
    code.extend(load_code(V1, VA));
    let t = run(&mut m, &code);
    assert_eq!(m.reg(V0), marker(page(0)));
    assert_eq!(m.cp0(c0::ENTRYHI), 0x2000_0000 | 7);
    assert_eq!(
        (t.exception.code, t.exception.refill),
        (ExcCode::TlbL, true)
    );
}

#[test]
fn making_a_clean_page_dirty_allows_stores() {
    let mut m = machine();
    let mut code = tlbwi_code(4, 0, VA, entrylo(page(0), LO_V | LO_G), LO_G);
    code.extend(load_code(V0, VA));
    code.extend(tlbwi_code(4, 0, VA, entrylo(page(0), LO_VDG), LO_G));
    code.extend([addiu(A0, ZERO, 77), sd(A0, 0, T1), ld(V1, 0, T1)]);
    run_ok(&mut m, &code);
    assert_eq!((m.reg(V0), m.reg(V1)), (marker(page(0)), 77));
    assert_eq!(m.peek_u64(KSEG0 + page(0)), 77);
}

#[test]
fn making_a_dirty_page_clean_traps_the_next_store() {
    let mut m = machine();
    let mut code = tlbwi_code(4, 0, VA, entrylo(page(0), LO_VDG), LO_G);
    code.extend(li64(T1, VA));
    code.extend([addiu(A0, ZERO, 1), sd(A0, 0, T1)]);
    code.extend(tlbwi_code(4, 0, VA, entrylo(page(0), LO_V | LO_G), LO_G));
    code.extend([addiu(A0, ZERO, 2), sd(A0, 0, T1)]);
    let t = run(&mut m, &code);
    assert_eq!((t.exception.code, t.exception.badvaddr), (ExcCode::Mod, VA));
    assert_eq!(m.peek_u64(KSEG0 + page(0)), 1);
}

#[test]
fn invalidating_a_used_entry_traps_the_next_access() {
    let mut m = machine();
    let mut code = tlbwi_code(4, 0, VA, entrylo(page(0), LO_VDG), LO_G);
    code.extend(load_code(V0, VA));
    code.extend(tlbwi_code(4, 0, VA, entrylo(page(0), LO_D | LO_G), LO_G));
    code.extend(load_code(V1, VA));
    let t = run(&mut m, &code);
    assert_eq!(
        (t.exception.code, t.exception.refill),
        (ExcCode::TlbL, false)
    );
    // A store to the invalid page is a TLBS (not refill).
    let mut m = machine();
    m.map(4, 0, VA, entrylo(page(0), LO_D | LO_G), LO_G);
    let t = run(&mut m, &[lui(A0, 0x1000), sd(ZERO, 0, A0)]);
    assert_eq!(
        (t.exception.code, t.exception.refill),
        (ExcCode::TlbS, false)
    );
}

#[test]
fn clearing_erl_makes_kuseg_mapped_again() {
    let mut m = machine();
    m.set_status(KERNEL_STATUS | status::ERL);
    m.poke_u64(KSEG0 + page(0), 0x1234);
    let mut code = vec![ld(V0, (page(0) & 0x7fff) as i16, A0)];
    code.extend(li64(T0, KERNEL_STATUS));
    code.push(mtc0(T0, c0::STATUS, 0));
    code.push(ld(V1, (page(0) & 0x7fff) as i16, A0));
    m.set(A0, page(0) & !0x7fff);
    let t = run(&mut m, &code);
    assert_eq!(m.reg(V0), 0x1234, "kuseg is unmapped while ERL = 1");
    assert_eq!(
        (t.exception.code, t.exception.refill),
        (ExcCode::TlbL, true)
    );
    assert_eq!(t.exception.badvaddr, page(0));
}

#[test]
fn tlbwi_then_tlbr_round_trips_every_field() {
    let mut m = machine();
    let (hi, lo0, lo1) = (
        0xc000_0000_1234_8042,
        entrylo(page(4), LO_VDG),
        entrylo(page(8), LO_V | LO_G | LO_C3),
    );
    let mut code = tlbwi_code(5, 0x6000, hi, lo0, lo1);
    for reg in [c0::PAGEMASK, c0::ENTRYHI, c0::ENTRYLO0, c0::ENTRYLO1] {
        code.push(dmtc0(ZERO, reg, 0));
    }
    code.push(TLBR);
    code.extend([
        dmfc0(V0, c0::PAGEMASK, 0),
        dmfc0(V1, c0::ENTRYHI, 0),
        dmfc0(A0, c0::ENTRYLO0, 0),
        dmfc0(A1, c0::ENTRYLO1, 0),
    ]);
    run_ok(&mut m, &code);
    assert_eq!(
        (m.reg(V0), m.reg(V1), m.reg(A0), m.reg(A1)),
        (0x6000, hi, lo0, lo1)
    );
}

#[test]
fn an_entry_is_global_only_if_both_g_bits_are_set() {
    // tlbwi stores G = G0 AND G1; tlbr returns that G in both EntryLos.
    let mut m = machine();
    let mut code = tlbwi_code(
        5,
        0,
        VA | 3,
        entrylo(page(0), LO_VDG),
        entrylo(page(1), LO_V | LO_D),
    );
    code.push(TLBR);
    code.extend([dmfc0(A0, c0::ENTRYLO0, 0), dmfc0(A1, c0::ENTRYLO1, 0)]);
    code.extend(li64(T0, 4));
    code.push(dmtc0(T0, c0::ENTRYHI, 0));
    code.extend(load_code(V0, VA));
    let t = run(&mut m, &code);
    assert_eq!((m.reg(A0) & LO_G, m.reg(A1) & LO_G), (0, 0));
    assert_eq!(
        (t.exception.code, t.exception.refill),
        (ExcCode::TlbL, true),
        "not global"
    );
}

#[test]
fn tlbp_finds_the_matching_entry_or_sets_the_probe_failure_bit() {
    let mut m = machine();
    let mut code = tlbwi_code(
        5,
        0x6000,
        0x1234_8000 | 0x42,
        entrylo(page(0), LO_V),
        entrylo(page(4), LO_V),
    );
    code.extend(tlbwi_code(
        6,
        0,
        0x5000_0000 | 0x11,
        entrylo(page(0), LO_V | LO_G),
        LO_G,
    ));
    // (EntryHi to probe, destination register)
    for (hi, reg) in [
        (0x1234_c000 | 0x42u64, V0), // odd 16 KiB page of entry 5
        (0x1234_8000 | 0x43, V1),    // wrong ASID
        (0x5000_1000 | 0x99, A0),    // global entry 6, any ASID
        (0x7000_0000, A1),           // nothing there
    ] {
        code.extend(li64(T0, hi));
        code.push(dmtc0(T0, c0::ENTRYHI, 0));
        code.push(TLBP);
        code.push(mfc0(reg, c0::INDEX, 0));
    }
    run_ok(&mut m, &code);
    let probe_failed = |v: u64| v & 0xffff_ffff_8000_0000 == 0xffff_ffff_8000_0000;
    assert_eq!((m.reg(V0), m.reg(A0)), (5, 6));
    assert!(probe_failed(m.reg(V1)), "{:#x}", m.reg(V1));
    assert!(probe_failed(m.reg(A1)), "{:#x}", m.reg(A1));
}

#[test]
fn tlbwr_uses_random_which_stays_between_wired_and_63() {
    let mut m = machine();
    let wired = 60u64;
    for i in 0..wired as usize {
        m.map(i, 0, 0x7000_0000 + (i as u64) * 0x2000, LO_G, LO_G);
    }
    let before = m.cpu.tlb().entries()[..wired as usize].to_vec();
    let mut code = li64(T0, wired);
    code.push(mtc0(T0, c0::WIRED, 0));
    code.extend(li64(A0, DATA));
    for k in 0..20u64 {
        code.extend(li64(T0, 0x2000_0000 + k * 0x2000));
        code.push(dmtc0(T0, c0::ENTRYHI, 0));
        code.push(mfc0(T1, c0::RANDOM, 0));
        code.push(sd(T1, (8 * k) as i16, A0));
        code.push(TLBWR);
    }
    run_ok(&mut m, &code);
    let mut last_write = std::collections::HashMap::new();
    for k in 0..20u64 {
        let random = m.peek_u64(DATA + 8 * k);
        assert!(
            (wired..=63).contains(&random),
            "Random = {random} before write {k}"
        );
        last_write.insert(random, k);
    }
    for (index, k) in last_write {
        let e = m.cpu.tlb().entry(index as usize);
        assert_eq!(
            e.entryhi,
            0x2000_0000 + k * 0x2000,
            "tlbwr {k} went to Random ({index})"
        );
    }
    assert_eq!(
        m.cpu.tlb().entries()[..wired as usize],
        before[..],
        "wired entries survive"
    );
}

#[test]
fn tlb_entry_rewritten_by_a_monitor_through_cpu_tlb_is_not_served_stale() {
    // A monitor emulating TLBWI for its guest (native delivery) writes the
    // architectural TLB through the public `cpu.tlb`. The CPU must not keep
    // serving the translation it replaced.
    let mut m = machine();
    m.map(4, 0, VA, entrylo(page(0), LO_VDG), LO_G);
    let mut code = load_code(V0, VA);
    code.push(syscall(0));
    code.push(ld(V1, 0, T1));
    m.program(&code);
    let t = m.run_to_fault();
    assert_eq!(t.exception.code, ExcCode::Sys);
    m.cpu.tlb_write(
        4,
        mips::TlbEntry::from_registers(0, VA, entrylo(page(1), LO_VDG), LO_G),
    );
    m.cpu.pc = t.pc + 4;
    m.run_to_sentinel();
    assert_eq!(m.reg(V0), marker(page(0)));
    assert_eq!(
        m.reg(V1),
        marker(page(1)),
        "the load after the TLB write read {:#x}, through the replaced translation",
        m.reg(V1)
    );
}
