//! Kernel-service attribution in a VM: a hand-assembled guest whose user
//! program makes exactly 3 `getpid` system calls and takes exactly 2 TLB
//! refills, each counted once with its time split into the paper's
//! Table 2 columns.

mod common;

use common::*;
use mips::ServiceKey;
use monitor::vm::VmState;

/// n64 `getpid`.
const GETPID: u32 = 5038;
const EBASE_VA: u32 = 0x8010_1000;
const USER_VA: u32 = 0x40_0000;
const USER_PA: u32 = 0x20_0000;
/// Guest-physical page pair the refill handler maps every miss to.
const DATA_PA: u32 = 0x30_0000;
/// Two user addresses in different TLB page pairs, unmapped at first.
const UNMAPPED: [u32; 2] = [0x1000_0000, 0x1000_4000];

/// The guest kernel: maps the user page (ASID 5), sets EBase, ERETs to
/// user mode. Its refill handler maps the missing pair to DATA_PA; its
/// general handler returns from system calls and exits with ExcCode | 0x40
/// on anything else (the user program ends with a `break`: 0x49).
fn guest() -> Vec<u8> {
    let mut code = load32(T0, EBASE_VA);
    code.push(mtc0(T0, EBASE.0, EBASE.1));
    code.push(mtc0(0, PAGEMASK, 0));
    code.push(mtc0(0, INDEX, 0));
    code.extend(load32(T0, USER_VA | 5));
    code.push(dmtc0(T0, ENTRYHI, 0));
    code.extend(load32(T0, ((USER_PA >> 12) << 6) | 0x1e));
    code.push(dmtc0(T0, ENTRYLO0, 0));
    code.push(dmtc0(0, ENTRYLO1, 0));
    code.push(TLBWI);
    code.extend(load32(T0, USER_VA));
    code.push(dmtc0(T0, EPC, 0));
    // Status: user mode (KSU = 2), EXL, UX.
    code.extend(load32(T0, 0x20 | 0x10 | 0x2));
    code.push(mtc0(T0, STATUS, 0));
    code.push(ERET);
    code.extend(SPIN);

    let mut user = Vec::new();
    for _ in 0..3 {
        user.extend([ori(V0, ZERO, GETPID as u16), syscall(0)]);
    }
    for va in UNMAPPED {
        user.extend(load32(T0, va));
        user.push(lw(T1, 0, T0));
    }
    user.extend(load32(T0, UNMAPPED[0]));
    user.push(lw(T1, 8, T0));
    user.push(brk(0));

    let mut refill = load32(K0, ((DATA_PA >> 12) << 6) | 0x1e);
    refill.push(dmtc0(K0, ENTRYLO0, 0));
    refill.extend(load32(K0, (((DATA_PA + 0x1000) >> 12) << 6) | 0x1e));
    refill.push(dmtc0(K0, ENTRYLO1, 0));
    refill.extend([mtc0(0, PAGEMASK, 0), TLBWR, ERET]);

    let mut general = vec![
        mfc0(K0, CAUSE, 0),
        srl(K0, K0, 2),
        andi(K0, K0, 31),
        addiu(K1, ZERO, 8),
        bne(K0, K1, 5),
        NOP,
        dmfc0(K0, EPC, 0),
        daddiu(K0, K0, 4),
        dmtc0(K0, EPC, 0),
        ERET,
        ori(T0, K0, 0x40), // the bne's target
    ];
    general.extend(exit_with(T0));

    let base = u64::from(EBASE_VA) as i32 as i64 as u64;
    let extra = vec![
        (0xffff_ffff_8000_0000 | u64::from(USER_PA), user),
        (base, refill.clone()),
        (base + 0x080, refill),
        (base + 0x180, general),
    ];
    kernel(&code, &extra)
}

#[test]
fn system_calls_and_refills_from_guest_user_mode_are_counted_with_their_split() {
    for on in [false, true] {
        let (mut m, mut mon) = start_with(1, &[vm("a", guest())], patching(on));
        mon.set_service_tracking(true);
        assert!(mon.run_for(&mut m, 2_000_000));
        assert_eq!(mon.vms[0].state, VmState::Exited(0x49), "patching {on}");
        let v = &mon.vms[0].vcpus[0];
        let t = v.services.as_deref().expect("tracking is on");
        let counts = t.counts();
        assert_eq!(counts.len(), 2, "patching {on}: {counts:?}");
        let getpid = &counts[&ServiceKey::Syscall(u64::from(GETPID))];
        let refill = &counts[&ServiceKey::TlbRefill];
        assert_eq!(getpid.count, 3, "patching {on}");
        assert_eq!(refill.count, 2, "patching {on}");
        // The break entered the guest kernel and never returned.
        assert_eq!(t.current(), Some(ServiceKey::Exception(9)));
        for s in [getpid, refill] {
            let c = s.columns();
            assert!(c.kernel_exec > 0, "patching {on}: {s:?}");
            assert!(c.other_privs > 0, "reflection and eret: {s:?}");
            assert_eq!(s.user_cycles, 0);
            assert_eq!(
                s.cycles,
                c.kernel_exec
                    + c.tlb_writes
                    + c.other_privs
                    + c.monitor_services
                    + c.kernel_tlb_faults
            );
            assert!(s.wall_cycles >= s.cycles);
        }
        assert!(refill.columns().tlb_writes > 0, "the tlbwr: {refill:?}");
        assert_eq!(getpid.tlb_write_cycles, 0);
        // Each service is a part of the VM's kernel + monitor time.
        let st = &v.stats;
        assert!(getpid.kernel_cycles + refill.kernel_cycles <= st.kernel_cycles);
        assert!(getpid.cycles + refill.cycles <= st.kernel_cycles + st.monitor_cycles());
        assert!(getpid.tlb_write_cycles + refill.tlb_write_cycles <= st.tlb_write_cycles);

        let report = mon.report(&m.mem);
        let services = report.vms[0].services.as_ref().expect("in the report");
        let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
        assert!(
            names.contains(&"getpid") && names.contains(&"tlb-refill"),
            "{names:?}"
        );
        let table = report.table(400_000_000);
        assert!(table.contains("getpid"), "{table}");

        mon.reset_stats();
        let t = mon.vms[0].vcpus[0].services.as_deref().unwrap();
        assert!(t.counts().is_empty() && t.current().is_none());
    }
}

#[test]
fn without_tracking_nothing_is_counted_and_time_is_the_same() {
    let run = |track: bool| {
        let (mut m, mut mon) = start(1, &[vm("a", guest())]);
        mon.set_service_tracking(track);
        assert!(mon.run_for(&mut m, 2_000_000));
        assert!(mon.report(&m.mem).vms[0].services.is_some() == track);
        (m.cpus[0].cycles(), mon.vms[0].vcpus[0].stats.clone())
    };
    assert_eq!(run(false), run(true));
}
