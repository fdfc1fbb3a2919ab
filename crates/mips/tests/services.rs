//! Kernel-service attribution on the bare CPU: exceptions taken in user
//! mode through the vectors start a service, the `eret` back to user mode
//! ends it.

mod common;

use common::asm::*;
use common::harness::*;
use mips::ServiceKey;

/// n64 `getpid`.
const GETPID: u64 = 5038;
/// Two user addresses in different TLB page pairs, not mapped at first.
const UNMAPPED: [u64; 2] = [0x1000_0000, 0x1000_4000];

/// A refill handler (for EBase + 0x000 and + 0x080): maps the page pair
/// the exception put in EntryHi to DATA_PA, then returns.
fn refill_handler() -> Vec<u32> {
    let mut h = li32(K0, entrylo(DATA_PA, LO_VDG) as i32).to_vec();
    h.push(dmtc0(K0, c0::ENTRYLO0, 0));
    h.extend(li32(K0, entrylo(DATA_PA + 0x1000, LO_VDG) as i32));
    h.push(dmtc0(K0, c0::ENTRYLO1, 0));
    h.extend([mtc0(ZERO, c0::PAGEMASK, 0), TLBWR, ERET]);
    h
}

/// The general handler (EBase + 0x180): a system call returns after the
/// `syscall` (doing some work first); anything else halts with `wait`.
fn general_handler() -> Vec<u32> {
    vec![
        mfc0(K0, c0::CAUSE, 0),
        srl(K0, K0, 2),
        andi(K0, K0, 31),
        addiu(K1, ZERO, 8),
        bne(K0, K1, 9),
        NOP,
        addiu(T9, ZERO, 20), // 20 iterations of kernel work
        addiu(T9, T9, -1),
        bne(T9, ZERO, -2),
        NOP,
        dmfc0(K0, c0::EPC, 0),
        daddiu(K0, K0, 4),
        dmtc0(K0, c0::EPC, 0),
        ERET,
        WAIT, // target of the bne (index 4 + 1 + 9 = 14)
    ]
}

/// The user program: three `getpid`s, loads from two unmapped page pairs
/// (two refills), a load from the first again (no refill), then the
/// sentinel `break`, which halts in the general handler.
fn user_code() -> Vec<u32> {
    let mut u = Vec::new();
    for _ in 0..3 {
        u.extend([ori(V0, ZERO, GETPID as u16), syscall(0)]);
    }
    for va in UNMAPPED {
        u.extend(li32(T0, va as i32));
        u.push(lw(T1, 0, T0));
    }
    u.extend(li32(T0, UNMAPPED[0] as i32));
    u.push(lw(T1, 8, T0));
    u
}

fn machine() -> Machine {
    let mut m = Machine::with_vectors();
    let refill = refill_handler();
    assert!(refill.len() <= 32);
    m.load(KSEG0, &refill);
    m.load(KSEG0 + 0x080, &refill);
    let general = general_handler();
    assert_eq!(decode_bne_target(&general), 14);
    m.load(KSEG0 + 0x180, &general);
    m.user_program(&user_code());
    m.enter_mode(2, 0);
    m
}

/// Index of the `wait` the general handler's `bne` jumps to.
fn decode_bne_target(h: &[u32]) -> usize {
    let off = (h[4] & 0xffff) as i16 as isize;
    (4 + 1 + off) as usize
}

#[test]
fn system_calls_and_refills_taken_in_user_mode_are_counted_with_their_cycles() {
    let mut m = machine();
    m.cpu.set_service_tracking(true);
    assert_eq!(m.cpu.services().unwrap().counts().len(), 0);
    assert_eq!(m.run_to_wait(), KSEG0 + 0x180 + 4 * 14);
    let t = m.cpu.services().expect("tracking is on");
    let counts = t.counts();
    let getpid = counts[&ServiceKey::Syscall(GETPID)];
    let refill = counts[&ServiceKey::TlbRefill];
    assert_eq!(getpid.count, 3, "{counts:?}");
    assert_eq!(refill.count, 2, "{counts:?}");
    assert_eq!(
        counts.len(),
        2,
        "nothing else returned to user mode: {counts:?}"
    );
    // The sentinel break entered the kernel and never returned.
    assert_eq!(t.current(), Some(ServiceKey::Exception(9)));
    // A refill runs its 9 handler instructions: 9 cycles each.
    assert_eq!(refill.cycles, 2 * 9);
    // A getpid runs 14 instructions plus 19 more loop iterations of 3.
    assert_eq!(getpid.cycles, 3 * (14 + 19 * 3));
    let s = m.cpu.stats();
    let kernel = s.mode_cycles[0] + s.stall_cycles[0];
    assert!(
        getpid.cycles + refill.cycles <= kernel,
        "{} + {} > kernel {kernel}",
        getpid.cycles,
        refill.cycles
    );
    assert_eq!(s.tlb_refills, 2);
}

#[test]
fn tracking_is_off_by_default_and_changes_no_cycle_count() {
    let mut off = machine();
    assert!(off.cpu.services().is_none());
    off.run_to_wait();
    assert!(off.cpu.services().is_none());
    let mut on = machine();
    on.cpu.set_service_tracking(true);
    on.run_to_wait();
    assert_eq!(off.cpu.cycles(), on.cpu.cycles());
    assert_eq!(off.cpu.stats(), on.cpu.stats());
}

#[test]
fn a_reset_forgets_the_counts_and_the_service_in_progress() {
    let mut m = machine();
    m.cpu.set_service_tracking(true);
    m.run_to_wait();
    m.cpu.reset_stats();
    let t = m.cpu.services().unwrap();
    assert!(t.counts().is_empty());
    assert_eq!(t.current(), None);
}

#[test]
fn native_delivery_counts_nothing() {
    // Under native delivery (a monitor) the CPU takes no exceptions itself.
    let mut m = Machine::new();
    m.cpu.set_service_tracking(true);
    m.user_program(&[ori(V0, ZERO, GETPID as u16)]);
    m.enter_mode(2, 0);
    m.run_to_sentinel();
    assert!(m.cpu.services().unwrap().counts().is_empty());
    assert_eq!(m.cpu.services().unwrap().current(), None);
}
