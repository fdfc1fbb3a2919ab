//! Hand-checked scenarios for the whole memory system.
//!
//! With the default configuration at 400 MHz: L2 hit 20 cycles, local miss
//! 120, remote miss 360, remote dirty 480, controller occupancy 60. The L1 D
//! has 512 sets of 32-byte lines (addresses 16 KiB apart share a set), the L2
//! 4096 sets of 128-byte lines (addresses 512 KiB apart share a set).

use super::cache::INVALID;
use super::coherence::{EXCLUSIVE, L1_KEY_SHIFT, L2_KEY_SHIFT, MODIFIED, WRITABLE};
use super::*;
use proptest::prelude::*;

const L2HIT: u32 = 20;
const LOCAL: u32 = 120;
const REMOTE: u32 = 360;
const DIRTY: u32 = 480;
const OCC: u32 = 60;
/// Memory per node in the contiguous layouts.
const NODE: u64 = 64 << 20;
/// A comfortable gap between accesses, so that nothing contends.
const GAP: u64 = 10_000;

/// `cpus_per_node` CPUs on each of `nodes` nodes, contiguous homes.
fn machine(nodes: u32, cpus_per_node: u32) -> MemSystem {
    let node_of_cpu = (0..nodes * cpus_per_node)
        .map(|c| c / cpus_per_node)
        .collect();
    MemSystem::new(
        TimingConfig::default(),
        node_of_cpu,
        nodes,
        HomeMap::Contiguous { node_bytes: NODE },
    )
}

/// Runs `(cpu, pa, kind)` accesses GAP cycles apart from `t0`; returns stalls.
fn run(m: &mut MemSystem, t0: u64, seq: &[(u32, u64, Access)]) -> Vec<u32> {
    seq.iter()
        .enumerate()
        .map(|(i, &(cpu, pa, kind))| m.access(cpu, pa, kind, t0 + i as u64 * GAP))
        .collect()
}

use Access::{Fetch, Load, Store};

#[test]
fn default_cycles() {
    let c = Cycles::from_config(&TimingConfig::default());
    assert_eq!(
        (c.l2_hit, c.local, c.remote, c.remote_dirty, c.occupancy),
        (
            u64::from(L2HIT),
            u64::from(LOCAL),
            u64::from(REMOTE),
            u64::from(DIRTY),
            u64::from(OCC)
        )
    );
}

#[test]
fn cold_miss_to_local_and_remote_memory() {
    let mut m = machine(2, 1);
    let local = 0x1000;
    let remote = NODE + 0x1000;
    assert_eq!(
        run(
            &mut m,
            0,
            &[
                (0, local, Load),
                (0, remote, Load),
                (1, remote + 0x80, Fetch)
            ]
        ),
        vec![LOCAL, REMOTE, LOCAL]
    );
    let s0 = m.cpu_stats(0);
    assert_eq!((s0.mem_local, s0.mem_remote, s0.l2_misses), (1, 1, 2));
    assert_eq!(
        (s0.stall_local, s0.stall_remote),
        (u64::from(LOCAL), u64::from(REMOTE))
    );
    let s1 = m.cpu_stats(1);
    assert_eq!((s1.l1i_misses, s1.mem_local, s1.l1d_misses), (1, 1, 0));
}

#[test]
fn l1_and_l2_hits_after_a_miss() {
    let mut m = machine(2, 1);
    let a = 0x10_0000;
    assert_eq!(
        run(
            &mut m,
            0,
            &[
                (0, a, Load),
                (0, a, Load),
                (0, a + 8, Store), // E line: silent upgrade, no stall
                (0, a + 16, Store),
                (0, a + 32, Load), // same L2 line, next L1 line
                (0, a + 40, Load),
            ]
        ),
        vec![LOCAL, 0, 0, 0, L2HIT, 0]
    );
    let s = m.cpu_stats(0);
    assert_eq!((s.l1d_hits, s.l1d_misses), (4, 2));
    assert_eq!((s.l2_hits, s.l2_misses, s.upgrades), (1, 1, 0));
    assert_eq!((s.stall_l2, s.stall_local), (20, 120));
    // The L2 line is Modified now, and the new L1 line came in writable.
    assert_eq!(m.access(0, a + 48, Store, 100_000), 0);
}

#[test]
fn l1_conflict_evicts_to_the_l2() {
    let mut m = machine(1, 1);
    let a = 0x4000; // a, a+16K, a+32K share an L1 set, not an L2 set
    let (b, c) = (a + (16 << 10), a + (32 << 10));
    assert_eq!(
        run(
            &mut m,
            0,
            &[
                (0, a, Load),
                (0, b, Load),
                (0, c, Load), // evicts a from the L1 (2-way LRU)
                (0, a, Load), // L2 hit, evicts b
                (0, c, Load), // still in L1
                (0, b, Load), // L2 hit
            ]
        ),
        vec![LOCAL, LOCAL, LOCAL, L2HIT, 0, L2HIT]
    );
    let s = m.cpu_stats(0);
    assert_eq!(
        (s.l2_hits, s.l2_misses, s.inclusion_invalidations),
        (2, 3, 0)
    );
}

#[test]
fn l2_eviction_invalidates_the_l1_copies() {
    let mut m = machine(1, 1);
    let a = 0x2000;
    // Same L2 set, different L1 sets.
    let b = a + (512 << 10) + 32;
    let c = a + (1024 << 10) + 64;
    assert_eq!(
        run(
            &mut m,
            0,
            &[
                (0, a, Store), // a Modified
                (0, a, Fetch), // and in the L1 I-cache too
                (0, b, Load),
                (0, c, Load), // evicts a from the L2, and so from both L1s
                (0, a, Load), // so this misses to memory, not an L1 hit
                (0, a, Fetch),
            ]
        ),
        vec![LOCAL, L2HIT, LOCAL, LOCAL, LOCAL, L2HIT]
    );
    // Evicting a dropped its L1 D and L1 I lines and wrote it back; loading
    // a again then evicted b (LRU) and its L1 D line.
    let s = m.cpu_stats(0);
    assert_eq!((s.inclusion_invalidations, s.writebacks), (3, 1));
    // b is gone; bringing it back evicts c (a was touched last).
    assert_eq!(m.access(0, b, Load, 1_000_000), LOCAL);
    assert_eq!(m.access(0, a, Load, 1_010_000), 0);
    assert_eq!(m.cpu_stats(0).inclusion_invalidations, 4);
}

#[test]
fn store_invalidates_other_copies_and_causes_a_coherence_miss() {
    let mut m = machine(2, 1);
    let a = 0x8000; // home node 0
    let page = a >> PAGE_SHIFT;
    assert_eq!(
        run(
            &mut m,
            0,
            &[
                (0, a, Load),  // E in cpu 0
                (1, a, Load),  // remote memory; both Shared
                (0, a, Store), // L1 hit, but Shared: upgrade at the local home
                (1, a, Load),  // coherence miss: dirty in cpu 0's cache on node 0
                (0, a, Load),  // cpu 0 kept a Shared copy
                (0, a, Store), // upgrade again
            ]
        ),
        vec![LOCAL, REMOTE, LOCAL, DIRTY, 0, LOCAL]
    );
    let (s0, s1) = (m.cpu_stats(0).clone(), m.cpu_stats(1).clone());
    assert_eq!((s0.invalidations_sent, s0.invalidations_received), (2, 0));
    assert_eq!((s1.invalidations_sent, s1.invalidations_received), (0, 2));
    assert_eq!((s0.upgrades, s0.l2_misses, s0.mem_local), (2, 3, 3));
    assert_eq!((s1.l2_misses, s1.mem_remote, s1.cache_remote), (2, 1, 1));
    assert_eq!(s1.stall_remote, u64::from(REMOTE + DIRTY));
    assert_eq!(m.counters().page_counts(page), Some(&[3, 2][..]));
    // cpu 1's copy is gone: its next load misses again, served by cpu 0.
    assert_eq!(m.access(1, a + 8, Load, 1_000_000), DIRTY);
    assert_eq!(m.counters().get(page, 1), 3);
}

#[test]
fn load_served_from_a_dirty_line_on_another_node_downgrades_it() {
    let mut m = machine(2, 1);
    let b = 0x20_0000; // home node 0
    assert_eq!(
        run(
            &mut m,
            0,
            &[
                (1, b, Store), // remote home: Modified in cpu 1
                (0, b, Load),  // owner on node 1: three hops
                (1, b, Load),  // cpu 1 kept a Shared copy
                (1, b, Store), // so it must upgrade (remote home)
                (0, b, Load),  // cpu 0's copy was invalidated
            ]
        ),
        vec![REMOTE, DIRTY, 0, REMOTE, DIRTY]
    );
    assert_eq!(m.cpu_stats(0).cache_remote, 2);
    assert_eq!(m.cpu_stats(1).invalidations_sent, 1);
}

#[test]
fn dirty_line_in_a_cache_on_the_same_node_costs_a_memory_miss() {
    let mut m = machine(2, 2); // cpus 0, 1 on node 0; 2, 3 on node 1
    let a = 0x3000; // home node 0
    let r = NODE + 0x3000; // home node 1
    assert_eq!(
        run(
            &mut m,
            0,
            &[
                (0, a, Store),
                (1, a, Load), // served by cpu 0's cache: local
                (0, r, Store),
                (1, r, Load), // served by cpu 0's cache, via the remote home
                (2, a, Store),
            ]
        ),
        vec![LOCAL, LOCAL, REMOTE, REMOTE, REMOTE]
    );
    let s1 = m.cpu_stats(1);
    assert_eq!(
        (s1.cache_local, s1.stall_local, s1.stall_remote),
        (2, 120, 360)
    );
    // cpu 2's write miss invalidated both Shared copies on node 0.
    assert_eq!(m.cpu_stats(2).invalidations_sent, 2);
}

#[test]
fn contention_at_the_home_controller() {
    let mut m = machine(2, 1);
    let (a, b, c) = (0x1000, 0x5000, 0x9000); // all homed on node 0
    let r = NODE + 0x1000;
    assert_eq!(m.access(0, a, Load, 1000), LOCAL);
    assert_eq!(m.access(1, b, Load, 1000), REMOTE + OCC);
    assert_eq!(m.access(1, r, Load, 1000), LOCAL); // node 1 is idle
    assert_eq!(m.access(0, c, Load, 1030), LOCAL + 2 * OCC - 30);
    assert_eq!(m.cpu_stats(1).stall_contention, u64::from(OCC));
    assert_eq!(m.cpu_stats(0).stall_contention, u64::from(2 * OCC - 30));
    // A request from the past (another CPU's earlier quantum) is not queued
    // behind the future: the controller was idle at cycle 100.
    assert_eq!(m.access(1, c + 0x1000, Load, 100), REMOTE);
    // L2 hits never touch the controller.
    assert_eq!(m.access(0, a + 32, Load, 1000), L2HIT);
}

#[test]
fn miss_counters_for_a_scripted_sequence() {
    let mut m = machine(2, 1);
    let p = 0x7000u64; // page 7, home node 0
    let page = p >> PAGE_SHIFT;
    let mut t = 0;
    let mut go = |m: &mut MemSystem, cpu, pa, kind| {
        t += GAP;
        m.access(cpu, pa, kind, t)
    };
    // CPU 1 (node 1) reads 10 distinct L2 lines of page P...
    for i in 0..10 {
        go(&mut m, 1, p + i * 128, Load);
    }
    // ...and re-reads them and their other L1 lines: hits, not counted.
    for i in 0..10 {
        go(&mut m, 1, p + i * 128 + 64, Load);
        go(&mut m, 1, p + i * 128, Load);
    }
    assert_eq!(m.counters().get(page, 1), 10);
    assert_eq!(m.counters().get(page, 0), 0);
    // CPU 0 writes 3 of those lines (3 write misses) and reads one more.
    for i in 0..3 {
        go(&mut m, 0, p + i * 128, Store);
    }
    go(&mut m, 0, p + 31 * 128, Load);
    // CPU 1 re-reads the 3 lines it lost (3 misses) and writes line 5, which
    // it holds Exclusive: silent, not counted. Then it writes line 0, which
    // is Shared with CPU 0: an upgrade, counted.
    for i in 0..3 {
        go(&mut m, 1, p + i * 128, Load);
    }
    go(&mut m, 1, p + 5 * 128, Store);
    go(&mut m, 1, p, Store);
    assert_eq!(m.counters().page_counts(page), Some(&[4, 14][..]));
    assert_eq!(m.counters().total(page), 18);
    assert_eq!(m.counters().get(page + 1, 1), 0);
    let total = m.total_stats();
    assert_eq!(total.l2_misses, 18);
    assert_eq!(total.upgrades, 1);
    let pages: Vec<u64> = m.counters().iter().map(|(p, _)| p).collect();
    assert_eq!(pages, vec![page]);
    m.counters_mut().reset_page(page);
    assert_eq!(m.counters().total(page), 0);
}

#[test]
fn interleaved_and_contiguous_homes() {
    let node_of_cpu = vec![0, 1];
    let cfg = TimingConfig::default;
    let mut inter = MemSystem::new(
        cfg(),
        node_of_cpu.clone(),
        2,
        HomeMap::Interleaved { page_bytes: 4096 },
    );
    let mut contig = MemSystem::new(
        cfg(),
        node_of_cpu,
        2,
        HomeMap::Contiguous { node_bytes: NODE },
    );
    let seq = [
        (0, 0x0000, Load),
        (0, 0x1000, Load),
        (0, 0x2000, Load),
        (1, 0x3000, Load),
        (1, NODE, Load),
    ];
    assert_eq!(
        run(&mut inter, 0, &seq),
        vec![LOCAL, REMOTE, LOCAL, LOCAL, REMOTE]
    );
    assert_eq!(
        run(&mut contig, 0, &seq),
        vec![LOCAL, LOCAL, LOCAL, REMOTE, LOCAL]
    );
    assert_eq!(inter.home_of(0x1fff), 1);
    assert_eq!(contig.home_of(NODE - 1), 0);
}

#[test]
fn hot_page_notification_at_the_threshold() {
    let mut m = machine(2, 1);
    m.set_hot_threshold(5);
    let p = 0x40_0000u64;
    for i in 0..4 {
        m.access(1, p + i * 128, Load, i * GAP);
    }
    assert!(m.take_hot_pages().is_empty());
    m.access(1, p + 4 * 128, Load, 4 * GAP);
    m.access(0, p + 5 * 128, Load, 5 * GAP);
    assert_eq!(
        m.take_hot_pages(),
        vec![HotPage {
            page: p >> PAGE_SHIFT,
            node: 1,
            count: 5
        }]
    );
    m.access(1, p + 6 * 128, Load, 6 * GAP);
    assert!(m.take_hot_pages().is_empty());
    m.counters_mut().reset_all();
    for i in 0..5 {
        m.access(1, p + (10 + i) * 128, Load, (10 + i) * GAP);
    }
    assert_eq!(m.take_hot_pages().len(), 1);
}

#[test]
fn stats_reset_keeps_caches_and_counters() {
    let mut m = machine(2, 1);
    m.access(0, 0x1000, Load, 0);
    m.reset_stats();
    assert_eq!(*m.cpu_stats(0), CacheStats::default());
    assert_eq!(m.access(0, 0x1000, Load, GAP), 0);
    assert_eq!(m.cpu_stats(0).l1d_hits, 1);
    assert_eq!(m.counters().get(1, 0), 1);
}

#[test]
fn flush_cpu_empties_its_caches_only() {
    let mut m = machine(2, 1);
    m.access(0, 0x1000, Load, 0);
    m.access(1, 0x2000, Load, 0);
    m.flush_cpu(0);
    assert_eq!(m.access(0, 0x1000, Load, GAP), LOCAL);
    assert_eq!(m.access(1, 0x2000, Load, GAP), 0);
}

/// A deterministic mixed workload: 4 CPUs on 2 nodes, a few hot lines,
/// conflicts, stores.
fn workload(n: usize, seed: u64) -> Vec<(u32, u64, Access)> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let cpu = (x % 4) as u32;
            let region = (x >> 8) % 4;
            let pa = match region {
                0 => (x >> 16) % 64 * 8,                    // a few shared lines
                1 => NODE + (x >> 16) % 4096 * 8,           // shared, remote to node 0
                2 => ((x >> 16) % 8) * (512 << 10) + 0x100, // L2 set conflicts
                _ => ((x >> 16) % (4 << 20)) & !7,          // a wider footprint
            };
            let kind = match (x >> 40) % 8 {
                0 | 1 => Store,
                2 => Fetch,
                _ => Load,
            };
            (cpu, pa, kind)
        })
        .collect()
}

fn run_timed(m: &mut MemSystem, seq: &[(u32, u64, Access)], t0: u64) -> Vec<u32> {
    // Per-CPU clocks advance by 1 + stall: the way a CPU simulator calls us.
    let mut clock = [t0; 4];
    seq.iter()
        .map(|&(cpu, pa, kind)| {
            let s = m.access(cpu, pa, kind, clock[cpu as usize]);
            clock[cpu as usize] += 1 + u64::from(s);
            s
        })
        .collect()
}

#[test]
fn determinism() {
    let seq = workload(50_000, 7);
    let mut a = machine(2, 2);
    let mut b = machine(2, 2);
    a.set_hot_threshold(20);
    b.set_hot_threshold(20);
    assert_eq!(run_timed(&mut a, &seq, 0), run_timed(&mut b, &seq, 0));
    for c in 0..4 {
        assert_eq!(a.cpu_stats(c), b.cpu_stats(c));
    }
    assert_eq!(a.counters(), b.counters());
    assert_eq!(a.take_hot_pages(), b.take_hot_pages());
}

#[test]
fn serde_round_trip_continues_identically() {
    let seq = workload(40_000, 99);
    let (first, rest) = seq.split_at(20_000);
    let mut a = machine(2, 2);
    a.set_hot_threshold(10);
    run_timed(&mut a, first, 0);
    let json = serde_json::to_string(&a).unwrap();
    let mut b: MemSystem = serde_json::from_str(&json).unwrap();
    assert_eq!(serde_json::to_string(&b).unwrap(), json);
    assert_eq!(
        run_timed(&mut a, rest, 1 << 20),
        run_timed(&mut b, rest, 1 << 20)
    );
    for c in 0..4 {
        assert_eq!(a.cpu_stats(c), b.cpu_stats(c));
    }
    assert_eq!(a.counters(), b.counters());
    assert_eq!(a.take_hot_pages(), b.take_hot_pages());
    assert!(a.total_stats().cache_remote > 0 && a.total_stats().invalidations_sent > 0);
}

#[test]
fn invalid_configurations_are_refused() {
    let cfg = TimingConfig::default;
    let home = HomeMap::Contiguous { node_bytes: NODE };
    assert!(MemSystem::try_new(cfg(), vec![0, 2], 2, home).is_err());
    assert!(MemSystem::try_new(cfg(), vec![], 2, home).is_err());
    assert!(MemSystem::try_new(cfg(), vec![0], 0, home).is_err());
    let bad = TimingConfig {
        l2_bytes: 1000,
        ..cfg()
    };
    assert!(MemSystem::try_new(bad, vec![0], 1, home).is_err());
}

/// Checks the coherence and inclusion invariants of every line.
fn check_invariants(m: &MemSystem) {
    let cpus = m.node_of_cpu.len();
    let l2 = &m.l2;
    let ratio = l2.line_shift - m.l1d.line_shift;
    for c in 0..cpus {
        for (i, &e) in l2.tags[c * l2.cpu_stride..(c + 1) * l2.cpu_stride]
            .iter()
            .enumerate()
        {
            if e == INVALID {
                continue;
            }
            let line = e >> L2_KEY_SHIFT;
            assert_eq!(
                (line & l2.set_mask) as usize,
                i / l2.ways,
                "line in the wrong set"
            );
            let state = e & 3;
            assert_ne!(state, 0);
            for o in (0..cpus).filter(|&o| o != c) {
                let b = l2.base(o, line);
                if let Some(w) = l2.find(b, line) {
                    let other = l2.tags[b + w] & 3;
                    assert!(
                        state != MODIFIED
                            && state != EXCLUSIVE
                            && other != MODIFIED
                            && other != EXCLUSIVE,
                        "line {line:#x}: cpu {c} state {state}, cpu {o} state {other}"
                    );
                }
            }
        }
        // Inclusion, and write permission only on Modified lines.
        for l1 in [&m.l1d, &m.l1i] {
            for &e in &l1.tags[c * l1.cpu_stride..(c + 1) * l1.cpu_stride] {
                if e == INVALID {
                    continue;
                }
                let line2 = (e >> L1_KEY_SHIFT) >> ratio;
                let b = l2.base(c, line2);
                let w = l2.find(b, line2).expect("L1 line not in the L2");
                if e & WRITABLE != 0 {
                    assert_eq!(l2.tags[b + w] & 3, MODIFIED);
                }
            }
        }
    }
    let total = m.total_stats();
    assert_eq!(
        total.mem_local + total.mem_remote + total.cache_local + total.cache_remote,
        total.l2_misses
    );
    let counted: u64 = m
        .counters()
        .iter()
        .map(|(p, _)| m.counters().total(p))
        .sum();
    assert_eq!(counted, total.l2_misses);
    assert_eq!(total.invalidations_sent, total.invalidations_received);
}

#[test]
fn invariants_hold_on_a_long_mixed_workload() {
    let mut m = machine(2, 2);
    let seq = workload(200_000, 3);
    let stalls = run_timed(&mut m, &seq, 0);
    check_invariants(&m);
    let total = m.total_stats();
    assert_eq!(
        total.l1i_hits + total.l1i_misses + total.l1d_hits + total.l1d_misses,
        seq.len() as u64
    );
    let sum: u64 = stalls.iter().map(|&s| u64::from(s)).sum();
    assert_eq!(sum, total.stall_cycles());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn invariants_hold_on_random_sequences(
        ops in prop::collection::vec((0u32..3, 0u64..48, 0u8..3), 1..400)
    ) {
        // 3 CPUs on 3 nodes; 48 lines spread over a few L2 sets so that
        // evictions, sharing and invalidations all happen.
        let mut m = machine(3, 1);
        for (i, &(cpu, l, k)) in ops.iter().enumerate() {
            let pa = (l % 6) * (512 << 10) + (l / 6) * 32 + (l % 3) * NODE;
            let kind = [Load, Store, Fetch][k as usize];
            m.access(cpu, pa, kind, i as u64 * 7);
            check_invariants(&m);
        }
    }
}
