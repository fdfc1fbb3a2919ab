//! The monitor with tiny hand-assembled guest kernels: privileged
//! instruction emulation, kernel TLB faults, device emulation, guest TLB
//! writes with l2tlb refills, exception reflection, ERET to user mode,
//! `wait` descheduling until the virtual timer fires, TLB flushes on vCPU
//! switches, fault containment, and virtio DMA translated and validated
//! through the pmap.

mod common;

use common::*;
use monitor::vcpu::VcpuState;
use monitor::vm::{VmConfig, VmState};
use monitor::MonitorConfig;

#[test]
fn privileged_instructions_run_on_the_virtual_cp0_and_devices_are_emulated() {
    // Compare := 0x1234, read it back, exit with it.
    let mut code = load32(T0, 0x1234);
    code.push(mtc0(T0, COMPARE, 0));
    code.push(mfc0(T1, COMPARE, 0));
    code.extend(exit_with(T1));
    let (mut m, mut mon) = start(1, &[vm("a", kernel(&code, &[]))]);
    assert!(mon.run_for(&mut m, 1_000_000));
    assert_eq!(mon.vms[0].state, VmState::Exited(0x1234));
    let s = &mon.vms[0].vcpus[0].stats;
    assert_eq!(s.other_privs, 2, "mtc0 and mfc0 were emulated");
    assert_eq!(s.device_accesses, 1, "the exit write was emulated");
    assert!(
        s.kernel_tlb_faults >= 1,
        "kseg0 code was mapped on a kernel TLB fault"
    );
    // The physical CPU's own Compare was never touched by the guest.
    assert_eq!(m.cpus[0].cp0.compare, 0);
}

/// A guest that runs, five times over, every kind of rewritable privileged
/// instruction (`ei`, the `local_irq_save` idiom, `di`, `dmfc0`, `cache`)
/// and checks Status.IE through trapping `mfc0`s; it exits with
/// `IE saved | IE after irq_save << 4 | IE after ei << 8 | sum of EPC << 12`.
fn rewritable_guest() -> Vec<u32> {
    let mut c = load32(SP, 0x8020_0000);
    c.extend(load32(T0, 0x12));
    c.push(dmtc0(T0, EPC, 0));
    c.extend([or(S0, 0, 0), or(S1, 0, 0), or(S2, 0, 0), or(S3, 0, 0)]);
    c.extend(load32(T2, 5));
    let top = c.len();
    c.extend([ei(ZERO), di(T3), andi(T3, T3, 1), EHB]);
    c.extend([mfc0(T1, STATUS, 0), andi(T1, T1, 1)]);
    c.extend([addu(S0, S0, T3), addu(S1, S1, T1)]);
    c.extend([
        ei(ZERO),
        mfc0(T1, STATUS, 0),
        andi(T1, T1, 1),
        addu(S2, S2, T1),
    ]);
    c.extend([di(0), dmfc0(T1, EPC, 0), addu(S3, S3, T1)]);
    c.push(cache(0x15, 0, SP));
    c.push(addiu(T2, T2, -1));
    c.push(bne(T2, 0, rel(c.len(), top)));
    c.push(NOP);
    c.extend([sll(S1, S1, 4), sll(S2, S2, 8), sll(S3, S3, 12)]);
    c.extend([or(S0, S0, S1), or(S0, S0, S2), or(S0, S0, S3)]);
    c.extend(exit_with(S0));
    c
}

#[test]
fn rewritten_privileged_instructions_keep_their_meaning_and_stop_trapping() {
    let code = rewritable_guest();
    let first_ei = code.iter().position(|&w| w == ei(ZERO)).unwrap() as u64;
    let run = |on: bool| {
        let (mut m, mut mon) = start_with(1, &[vm("a", kernel(&code, &[]))], patching(on));
        // The kernel is loaded at guest-physical 1 MiB, in guest chunk 0.
        let chunk = mon.vms[0]
            .pmap
            .contiguous_chunk(0)
            .expect("kernel chunk backed");
        let ei_at = (u64::from(chunk) << 24) + 0x10_0000 + 4 * first_ei;
        assert!(mon.run_for(&mut m, 2_000_000));
        let ei_word = m.mem.read_u32(ei_at).unwrap();
        (
            mon.vms[0].state.clone(),
            mon.vms[0].vcpus[0].stats.clone(),
            ei_word,
        )
    };
    let (state_on, on, ei_on) = run(true);
    let (state_off, off, ei_off) = run(false);
    let expected = 5 | (5 << 8) | ((5 * 0x12) << 12);
    assert_eq!(state_on, VmState::Exited(expected));
    assert_eq!(state_off, VmState::Exited(expected));
    // dmtc0 EPC, ei twice, the idiom, di, dmfc0 and cache: rewritten on
    // their first trap, and never trapping again (6 sites x 4 more runs).
    assert_eq!(on.patches, 7);
    assert_eq!(off.patches, 0);
    assert_eq!(off.other_privs - on.other_privs, 6 * 4);
    assert_eq!(
        ei_off,
        ei(ZERO),
        "without patching the guest's code is untouched"
    );
    assert!(monitor::patch::is_rewritten(ei_on), "{ei_on:#x}");
    assert_ne!(ei_on, ei(ZERO));
}

#[test]
fn a_status_read_whose_ie_bit_is_discarded_becomes_a_load_and_reads_the_same() {
    // Five times: disable interrupts with a rewritten `di`, then read Status
    // at two sites. Site A discards IE (`ori 0x1f; xori 0x1f`, as Linux's
    // exception return does) and may become a load of the Status slot, whose
    // IE bit is stale after the `di`; site B feeds IE to an `addu` and must
    // keep trapping. The guest exits with 1 if ever A != (B & ~0x1f).
    let mut c = load32(SP, 0x8020_0000);
    c.push(ei(ZERO));
    c.extend(load32(T2, 5));
    let top = c.len();
    c.push(di(0));
    let site_a = c.len();
    c.extend([mfc0(T0, STATUS, 0), ori(T0, T0, 0x1f), xori(T0, T0, 0x1f)]);
    c.extend([mfc0(T1, STATUS, 0), addu(S0, S0, T1)]);
    c.extend([ori(T1, T1, 0x1f), xori(T1, T1, 0x1f), ei(ZERO)]);
    let mismatch = c.len();
    c.extend([NOP, NOP]);
    c.push(addiu(T2, T2, -1));
    c.push(bne(T2, 0, rel(c.len(), top)));
    c.push(NOP);
    c.extend(exit_with(0));
    c[mismatch] = bne(T0, T1, rel(mismatch, c.len()));
    c.extend(load32(T0, 1));
    c.extend(exit_with(T0));
    let run = |on: bool| {
        let (mut m, mut mon) = start_with(1, &[vm("a", kernel(&c, &[]))], patching(on));
        let chunk = mon.vms[0]
            .pmap
            .contiguous_chunk(0)
            .expect("kernel chunk backed");
        let at = (u64::from(chunk) << 24) + 0x10_0000 + 4 * site_a as u64;
        assert!(mon.run_for(&mut m, 2_000_000));
        let word = m.mem.read_u32(at).unwrap();
        (
            mon.vms[0].state.clone(),
            mon.vms[0].vcpus[0].stats.clone(),
            word,
        )
    };
    let (state_on, on, word_on) = run(true);
    let (state_off, off, word_off) = run(false);
    assert_eq!(state_on, VmState::Exited(0));
    assert_eq!(state_off, VmState::Exited(0));
    assert_eq!(word_off, mfc0(T0, STATUS, 0));
    assert!(monitor::patch::is_rewritten(word_on), "{word_on:#x}");
    // Rewritten: both `ei` sites, `di` and site A; site B traps every time.
    // The loop's three rewritten sites trap once instead of five times.
    assert_eq!(on.patches, 4);
    assert_eq!(off.other_privs - on.other_privs, 3 * 4);
}

#[test]
fn an_eret_right_after_an_emulated_instruction_is_emulated_in_the_same_trap() {
    // Map a user page, then `tlbwi` and `eret` to user mode, adjacent or
    // with a `nop` between; the user code makes a syscall and the guest's
    // handler exits with the ExcCode (8). The adjacent `eret` costs its
    // emulation but no trap of its own.
    let run = |adjacent: bool| {
        let user_va = 0x40_0000u32;
        let user_pa = 0x20_0000u32;
        let ebase = 0x8010_1000u32;
        let mut code = load32(T0, ebase);
        code.push(mtc0(T0, EBASE.0, EBASE.1));
        code.extend(load32(T0, user_va));
        code.push(dmtc0(T0, EPC, 0));
        code.extend(load32(T0, 0x20 | 0x10 | 0x2));
        code.push(mtc0(T0, STATUS, 0));
        code.push(mtc0(0, PAGEMASK, 0));
        code.push(mtc0(0, INDEX, 0));
        code.extend(load32(T0, user_va | 5));
        code.push(dmtc0(T0, ENTRYHI, 0));
        code.extend(load32(T0, ((user_pa >> 12) << 6) | 0x1e));
        code.push(dmtc0(T0, ENTRYLO0, 0));
        code.push(dmtc0(0, ENTRYLO1, 0));
        code.push(TLBWI);
        if !adjacent {
            code.push(NOP);
        }
        code.push(ERET);
        code.extend(SPIN);
        let mut user_code = vec![syscall(0), NOP];
        user_code.extend(SPIN);
        let extra = vec![
            (0xffff_ffff_8000_0000 | u64::from(user_pa), user_code),
            exit_on_exception(ebase),
        ];
        let (mut m, mut mon) = start(1, &[vm("a", kernel(&code, &extra))]);
        assert!(mon.run_for(&mut m, 1_000_000));
        (mon.vms[0].state.clone(), mon.vms[0].vcpus[0].stats.clone())
    };
    let (state_adjacent, adjacent) = run(true);
    let (state_apart, apart) = run(false);
    assert_eq!(state_adjacent, VmState::Exited(0x40 | 8));
    assert_eq!(state_apart, VmState::Exited(0x40 | 8));
    assert_eq!(adjacent.other_privs, apart.other_privs);
    assert_eq!(adjacent.tlb_writes, 1);
    let costs = monitor::cost::CostTable::default();
    assert_eq!(
        apart.other_priv_cycles - adjacent.other_priv_cycles,
        costs.trap,
        "the adjacent eret saved exactly one trap entry and exit"
    );
}

#[test]
fn a_rewritten_count_read_sees_the_virtual_count() {
    // Count := 0x1000_0000; read it twice at one site (rewritten into
    // `rdhwr $2` after the first) and exit with the second value minus
    // 0x1000_0000: a few ticks, had the physical Count not followed the
    // virtual one it would be far off.
    let mut c = load32(T0, 0x1000_0000);
    c.push(mtc0(T0, COUNT, 0));
    c.extend(load32(T2, 2));
    let top = c.len();
    c.push(mfc0(T1, COUNT, 0));
    c.push(addiu(T2, T2, -1));
    c.push(bne(T2, 0, rel(c.len(), top)));
    c.push(NOP);
    c.push(lui(T0, 0x1000));
    c.push(subu(T1, T1, T0)); // subu t1, t1, t0
    c.extend(exit_with(T1));
    for on in [true, false] {
        let (mut m, mut mon) = start_with(1, &[vm("a", kernel(&c, &[]))], patching(on));
        assert!(mon.run_for(&mut m, 1_000_000));
        let VmState::Exited(ticks) = mon.vms[0].state.clone() else {
            panic!("patching {on}: {:?}", mon.vms[0].state);
        };
        assert!(ticks < 200, "patching {on}: Count advanced {ticks} ticks");
        assert_eq!(mon.vms[0].vcpus[0].stats.patches, u64::from(on));
    }
}

#[test]
fn an_interrupt_a_rewritten_ei_enables_is_delivered() {
    // Pass 1 runs `ei` (rewritten) and `di`, arms the timer with IE off and
    // waits for Cause.TI (a rewritten read); pass 2 runs the rewritten `ei`
    // and spins. The interrupt handler exits with ExcCode (0 = Int) | 0x40.
    let ebase = 0x8010_1000u32;
    let mut c = load32(T0, ebase);
    c.push(mtc0(T0, EBASE.0, EBASE.1));
    c.extend(load32(SP, 0x8020_0000));
    c.push(or(T2, 0, 0));
    let top = c.len();
    c.push(ei(ZERO));
    let to_spin = c.len();
    c.extend([0, NOP]); // bne t2, zero, spin (patched below)
    c.push(di(0));
    c.push(mfc0(T0, COUNT, 0));
    c.push(addiu(T0, T0, 100));
    c.push(mtc0(T0, COMPARE, 0));
    c.extend(load32(T0, 0x8000 | 0x80)); // IM7, KX, IE off
    c.push(mtc0(T0, STATUS, 0));
    c.push(lui(T3, 0x4000)); // Cause.TI
    let poll = c.len();
    c.extend([mfc0(T1, CAUSE, 0), and(T1, T1, T3)]); // and t1, t1, t3
    c.push(beq(T1, ZERO, rel(c.len(), poll)));
    c.push(NOP);
    c.push(ori(T2, 0, 1));
    c.push(b(rel(c.len(), top)));
    c.push(NOP);
    let spin = c.len();
    c.extend(SPIN);
    c[to_spin] = bne(T2, 0, rel(to_spin, spin));
    let extra = vec![exit_on_exception(ebase)];
    for on in [true, false] {
        let (mut m, mut mon) = start_with(1, &[vm("a", kernel(&c, &extra))], patching(on));
        let ended = mon.run_for(&mut m, 2_000_000);
        let v = &mon.vms[0].vcpus[0];
        assert!(ended, "patching {on}: no interrupt: {:?}", v.stats);
        assert_eq!(mon.vms[0].state, VmState::Exited(0x40), "patching {on}");
        assert_eq!(mon.vms[0].vcpus[0].stats.patches > 0, on);
    }
}

#[test]
fn guest_tlb_writes_user_mode_and_syscalls_are_virtualized() {
    // The kernel maps user page 0x40_0000 to guest-physical 0x20_0000 (where
    // the user code is loaded), sets EBase, ERETs to user mode there. The
    // user code loads a word from its own page and makes a syscall; the
    // guest's general exception handler (EBase + 0x180) exits with the
    // ExcCode from virtual Cause (8 = Sys) plus 16 x the loaded word's low
    // nibble.
    let user_va = 0x40_0000u32;
    let user_pa = 0x20_0000u32;
    let ebase = 0x8010_1000u32;
    let mut code = Vec::new();
    code.extend(load32(T0, ebase));
    code.push(mtc0(T0, EBASE.0, EBASE.1));
    code.push(mtc0(0, PAGEMASK, 0));
    code.push(mtc0(0, INDEX, 0));
    code.extend(load32(T0, user_va | 5)); // ASID 5
    code.push(dmtc0(T0, ENTRYHI, 0));
    code.extend(load32(T0, ((user_pa >> 12) << 6) | 0x1e)); // C=3 D V
    code.push(dmtc0(T0, ENTRYLO0, 0));
    code.push(dmtc0(0, ENTRYLO1, 0));
    code.push(TLBWI);
    code.extend(load32(T0, user_va));
    code.push(dmtc0(T0, EPC, 0));
    // Status: user mode (KSU = 2), EXL, UX, BEV clear.
    code.extend(load32(T0, 0x20 | 0x10 | 0x2));
    code.push(mtc0(T0, STATUS, 0));
    code.push(ERET);
    code.extend(SPIN);
    // t2 = user_va; lw t1, DATA(t2); syscall; spin; DATA: 7.
    let mut user_code = load32(T2, user_va);
    let data_index = user_code.len() + 5;
    user_code.push(lw(T1, 4 * data_index as i16, T2));
    user_code.extend([syscall(0), NOP]);
    user_code.extend(SPIN);
    user_code.push(0x0000_0007);
    assert_eq!(user_code[data_index], 7);
    let mut handler = vec![mfc0(T0, CAUSE, 0), srl(T0, T0, 2), addiu(T1, T1, 0)];
    // status = (ExcCode & 31) | (t1 << 4): t1 = 7 → 0x78
    handler.extend([andi(T0, T0, 31), sll(T1, T1, 4), or(T0, T0, T1)]);
    handler.extend(exit_with(T0));
    let extra = vec![
        (0xffff_ffff_8000_0000 | u64::from(user_pa), user_code),
        (u64::from(ebase) as i32 as i64 as u64 + 0x180, handler),
    ];
    let (mut m, mut mon) = start(1, &[vm("a", kernel(&code, &extra))]);
    assert!(mon.run_for(&mut m, 1_000_000));
    assert_eq!(mon.vms[0].state, VmState::Exited(8 | (7 << 4)));
    let s = &mon.vms[0].vcpus[0].stats;
    assert_eq!(s.tlb_writes, 1);
    assert!(s.user_cycles > 0, "user code ran in user mode");
    assert!(s.reflected >= 1, "the syscall was reflected");
}

/// A guest that sets Compare := Count + 10_000 ticks, enables IE and IM7,
/// then runs `idle` (at the returned address); its interrupt handler
/// (EBase + 0x180) exits with ExcCode (0 = Int) | 0x40.
fn timer_guest(idle: &[u32]) -> (Vec<u8>, u64) {
    let ebase = 0x8010_1000u32;
    let mut code = load32(T0, ebase);
    code.push(mtc0(T0, EBASE.0, EBASE.1));
    code.push(mfc0(T0, COUNT, 0));
    code.push(addiu(T0, T0, 10_000));
    code.push(mtc0(T0, COMPARE, 0));
    code.extend(load32(T0, 0x8000 | 0x80 | 0x1)); // IM7, KX, IE
    code.push(mtc0(T0, STATUS, 0));
    let at = ENTRY + 4 * code.len() as u64;
    code.extend(idle);
    (kernel(&code, &[exit_on_exception(ebase)]), at)
}

/// Runs `timer_guest(idle)` to its exit; checks that the vCPU waited once
/// and was idle for nearly all of the 10,000 Count ticks (20,000 cycles).
/// Returns the vCPU's EPC and the address of `idle`.
fn run_timer_guest(idle: &[u32]) -> (u64, u64) {
    let (image, at) = timer_guest(idle);
    let (mut m, mut mon) = start(1, &[vm("a", image)]);
    assert!(mon.run_for(&mut m, 1_000_000));
    assert_eq!(mon.vms[0].state, VmState::Exited(0x40));
    let v = &mon.vms[0].vcpus[0];
    assert_eq!(v.stats.waits, 1);
    let idle = v.stats.idle_cycles;
    assert!((19_000..=20_000).contains(&idle), "idle {idle}");
    (v.shadow.cp0.epc, at)
}

#[test]
fn wait_deschedules_until_the_virtual_timer_fires() {
    let mut idle = vec![WAIT];
    idle.extend(SPIN);
    let (epc, at) = run_timer_guest(&idle);
    assert_eq!(epc, at + 4, "the interrupt is taken after the wait");
}

#[test]
fn a_spin_loop_waits_for_an_interrupt_and_takes_it_on_the_branch() {
    // `b .; nop` instead of `wait`: the vCPU waits instead of spinning,
    // and the interrupt is taken with EPC on the branch.
    let (epc, at) = run_timer_guest(&SPIN);
    assert_eq!(epc, at);

    // With interrupts off nothing can end the loop: the VM is powered off.
    let (mut m, mut mon) = start(1, &[vm("a", kernel(&SPIN, &[]))]);
    assert!(mon.run_for(&mut m, 1_000_000));
    assert_eq!(mon.vms[0].state, VmState::PoweredOff);
    assert_eq!(mon.vms[0].vcpus[0].stats.waits, 1);
}

#[test]
fn vcpus_timeshare_a_cpu_and_the_tlb_is_flushed_on_each_switch() {
    // Two VMs looping in kseg0 on one CPU.
    let (mut m, mut mon) = start(
        1,
        &[vm("a", kernel(&busy(), &[])), vm("b", kernel(&busy(), &[]))],
    );
    let slice = MonitorConfig::default().timeslice;
    assert!(!mon.run_for(&mut m, 5 * slice));
    let (a, b) = (&mon.vms[0].vcpus[0], &mon.vms[1].vcpus[0]);
    assert!(a.stats.switches >= 2 && b.stats.switches >= 2);
    let (ka, kb) = (a.stats.kernel_cycles, b.stats.kernel_cycles);
    assert!(ka.abs_diff(kb) <= slice + 1000, "fair shares: {ka} vs {kb}");
    // After each switch the kernel code had to be mapped again.
    assert!(a.stats.kernel_tlb_faults >= 2 && b.stats.kernel_tlb_faults >= 2);
    // Only the running VM's translations are in the physical TLB.
    let running = mon
        .vms
        .iter()
        .position(|vm| vm.vcpus[0].loaded_on == Some(0))
        .unwrap();
    let other = &mon.vms[1 - running];
    let base = other
        .pmap
        .contiguous_chunk(0)
        .map(|c| u64::from(c) << 24)
        .unwrap();
    for e in m.cpus[0].tlb().entries() {
        for lo in e.lo {
            if lo & 2 != 0 {
                let pa = (lo >> 6) << 12;
                assert!(
                    !(base..base + (16 << 20)).contains(&pa),
                    "stale mapping {e:?}"
                );
            }
        }
    }
}

#[test]
fn a_failing_vm_stops_alone_and_its_memory_is_reclaimed() {
    // "wild": stores to a guest-physical address that is neither RAM nor a
    // device (3 GiB) with BEV set, so the bus error goes to a vector that
    // does not exist. "good" exits normally a little later.
    let mut wild = uncached(T3, 0xc000_0000);
    wild.push(sw(ZERO, 0, T3));
    wild.extend(SPIN);
    let mut good = load32(T1, 100_000);
    good.extend([addiu(T1, T1, -1), bne(T1, ZERO, -2), NOP]);
    good.extend(load32(T0, 9));
    good.extend(exit_with(T0));
    let (mut m, mut mon) = start(
        1,
        &[
            vm("wild", kernel(&wild, &[])),
            vm("good", kernel(&good, &[])),
        ],
    );
    let free_before = mon.free_chunks();
    assert!(mon.run_for(&mut m, 10_000_000));
    match &mon.vms[0].state {
        VmState::Failed(why) => assert!(why.contains("exception vector"), "{why}"),
        other => panic!("wild VM: {other:?}"),
    }
    assert_eq!(mon.vms[0].vcpus[0].state, VcpuState::Stopped);
    assert_eq!(mon.vms[1].state, VmState::Exited(9));
    assert!(mon.free_chunks() > free_before, "memory came back");
}

/// A guest driving virtio block device 0 (at 0xf001_0000) by hand: it
/// resets and initialises the device, sets up queue 0 (8 entries: the
/// descriptor table at guest-physical `desc` (64-bit), the rings at
/// 0x20_1000 and 0x20_2000), posts descriptor 0, notifies, waits until the
/// used index moves unless `poll` is false, then exits with
/// `device status << 8 | request status byte` (the byte at 0x20_5000).
fn virtio_guest(desc: u64, poll: bool) -> Vec<u32> {
    // t3 = XKPHYS uncached 0xf001_0000; t1 = kseg0 0x8020_0000.
    let mut g = uncached(T3, 0xf001_0000);
    let store = |g: &mut Vec<u32>, value: u32, reg: i16| {
        g.extend(load32(T0, value));
        g.push(sw(T0, reg, T3));
    };
    store(&mut g, 0, 0x70); // reset
    store(&mut g, 3, 0x70); // ACKNOWLEDGE | DRIVER
    store(&mut g, 1, 0x24); // driver features, high word:
    store(&mut g, 1, 0x20); //   VIRTIO_F_VERSION_1
    store(&mut g, 0xb, 0x70); // FEATURES_OK
    store(&mut g, 0, 0x30); // queue 0
    store(&mut g, 8, 0x38);
    store(&mut g, desc as u32, 0x80);
    store(&mut g, (desc >> 32) as u32, 0x84);
    store(&mut g, 0x20_1000, 0x90);
    store(&mut g, 0x20_2000, 0xa0);
    store(&mut g, 1, 0x44); // ready
    store(&mut g, 0xf, 0x70); // DRIVER_OK
    store(&mut g, 0, 0x50); // notify queue 0
    g.extend(load32(T1, 0x8020_0000));
    if poll {
        // until used.idx (0x20_2002) != 0
        g.extend([lhu(T0, 0x2002, T1), NOP, beq(T0, ZERO, -3), NOP]);
    }
    g.extend([
        lw(T0, 0x70, T3),
        NOP,
        sll(T0, T0, 8),
        lbu(V0, 0x5000, T1),
        NOP,
        or(T0, T0, V0),
    ]);
    g.extend(exit_with(T0));
    g
}

/// Guest memory for [`virtio_guest`]: one write request of sector 2 from
/// `data` (512 bytes) in descriptors at 0x20_0000, made available, and
/// 512 bytes of 0x5a at 0x20_4000.
fn virtio_request(data: u64) -> Vec<(u64, Vec<u32>)> {
    let k = |pa: u64| 0xffff_ffff_8000_0000 | pa;
    let desc = vec![
        // header: addr, len 16, NEXT, next 1
        0x20_3000,
        0,
        16,
        1 | (1 << 16),
        // data: device reads it, NEXT, next 2
        data as u32,
        (data >> 32) as u32,
        512,
        1 | (2 << 16),
        // status byte: WRITE
        0x20_5000,
        0,
        1,
        2,
    ];
    vec![
        (k(0x20_0000), desc),
        (k(0x20_1000), vec![1 << 16, 0]), // avail: flags 0, idx 1, ring[0] = 0
        (k(0x20_3000), vec![1, 0, 2, 0]), // VIRTIO_BLK_T_OUT, sector 2
        (k(0x20_4000), vec![0x5a5a_5a5a; 128]),
        (k(0x20_5000), vec![0xff]),
    ]
}

/// A 4 KiB disk image of zeros in a fresh temporary file.
fn scratch_disk(name: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("disco-dma-{name}-{}.img", std::process::id()));
    std::fs::write(&path, [0u8; 4096]).unwrap();
    path
}

fn with_disk(mut config: VmConfig, path: &std::path::Path) -> VmConfig {
    config.disks = vec![machine::virtio::DiskConfig {
        path: path.to_path_buf(),
        mode: machine::virtio::DiskMode::ReadWrite,
    }];
    config
}

#[test]
fn virtio_dma_goes_through_the_pmap_and_wild_dma_is_refused_to_its_guest_alone() {
    let good_disk = scratch_disk("good");
    let wild_data_disk = scratch_disk("wild-data");
    let wild_ring_disk = scratch_disk("wild-ring");
    // "good": a write from its own memory. "wild-data": the data buffer
    // lies at 1 GiB, outside its 128 MiB. "wild-ring": the descriptor table
    // lies at 64 GiB.
    let vms = [
        with_disk(
            vm(
                "good",
                kernel(&virtio_guest(0x20_0000, true), &virtio_request(0x20_4000)),
            ),
            &good_disk,
        ),
        with_disk(
            vm(
                "wild-data",
                kernel(&virtio_guest(0x20_0000, true), &virtio_request(0x4000_0000)),
            ),
            &wild_data_disk,
        ),
        with_disk(
            vm(
                "wild-ring",
                kernel(
                    &virtio_guest(0x10_0020_0000, false),
                    &virtio_request(0x20_4000),
                ),
            ),
            &wild_ring_disk,
        ),
    ];
    let (mut m, mut mon) = start(2, &vms);
    assert!(mon.run_for(&mut m, 400_000_000), "every VM ends");
    // Completed with VIRTIO_BLK_S_OK; the data reached the disk.
    assert_eq!(mon.vms[0].state, VmState::Exited(0x0f00));
    let disk = std::fs::read(&good_disk).unwrap();
    assert!(disk[1024..1536].iter().all(|b| *b == 0x5a));
    assert!(disk[..1024].iter().chain(&disk[1536..]).all(|b| *b == 0));
    // Completed with VIRTIO_BLK_S_IOERR; the disk is untouched.
    assert_eq!(mon.vms[1].state, VmState::Exited(0x0f01));
    assert!(std::fs::read(&wild_data_disk)
        .unwrap()
        .iter()
        .all(|b| *b == 0));
    // The device reports DEVICE_NEEDS_RESET (0x40) and never answered the
    // request (its status byte still holds 0xff).
    assert_eq!(mon.vms[2].state, VmState::Exited(0x4fff));
    for p in [good_disk, wild_data_disk, wild_ring_disk] {
        std::fs::remove_file(p).unwrap();
    }
}
