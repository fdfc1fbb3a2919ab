//! Host cost of one access to the detailed memory-timing model, by kind
//! (L1 hit, L2 hit, memory miss, misses out of time order, coherence
//! misses). Prints nanoseconds per access; run with
//! `cargo bench -p machine --bench timing_cost`.

use std::hint::black_box;
use std::time::Instant;

use machine::timing::{Access::*, HomeMap, MemSystem, TimingConfig};

fn main() {
    let mut m = MemSystem::new(
        TimingConfig::default(),
        (0..4).collect(),
        4,
        HomeMap::Contiguous {
            node_bytes: 64 << 20,
        },
    );
    let report = |name: &str, n: u64, t: Instant| {
        let ns = t.elapsed().as_nanos() as f64 / n as f64;
        println!("{name:>28}: {ns:6.2} ns/access");
    };
    // L1 hits: loads walking 16 KiB (fits the L1 D).
    let n = 50_000_000u64;
    for i in 0..512 {
        m.access(0, i * 32, Load, 0);
    }
    let t = Instant::now();
    let mut s = 0u64;
    for i in 0..n {
        s += u64::from(m.access(0, black_box((i * 8) & 0x3ff8), Load, i));
    }
    report("L1 hit (load)", n, t);
    let t = Instant::now();
    for i in 0..n {
        s += u64::from(m.access(0, black_box((i * 8) & 0x3ff8), Store, i));
    }
    report("L1 hit (store, writable)", n, t);
    let t = Instant::now();
    for i in 0..n {
        s += u64::from(m.access(0, black_box((i * 4) & 0x3ffc), Fetch, i));
    }
    report("L1 hit (fetch)", n, t);
    // L2 hits: 32-byte stride over 256 KiB (misses the L1, fits the L2).
    let n = 10_000_000u64;
    for i in 0..8192 {
        m.access(1, 0x100_0000 + i * 32, Load, 0);
    }
    let t = Instant::now();
    for i in 0..n {
        s += u64::from(m.access(1, 0x100_0000 + (i * 32) % (256 << 10), Load, i));
    }
    report("L1 miss, L2 hit", n, t);
    // Memory misses: 128-byte stride over 64 MiB across both homes.
    let n = 4_000_000u64;
    let mut now = 0u64;
    let t = Instant::now();
    for i in 0..n {
        now += 1 + u64::from(m.access(2, (i * 128) % (64 << 20), Load, now));
    }
    report("L2 miss (memory)", n, t);
    // The same, two CPUs in turns of 10_000-cycle quanta, one home node:
    // half the requests reach the controller out of time order.
    let n = 4_000_000u64;
    let mut clocks = [now, now];
    let mut done = 0u64;
    let t = Instant::now();
    let mut i = 0u64;
    while done < n {
        let cpu = ((done / 40) & 1) as usize; // about 40 misses per quantum
        let end = clocks[cpu] + 10_000;
        while clocks[cpu] < end {
            let pa = (64 << 20) + ((i * 128) % (32 << 20));
            clocks[cpu] += 1 + u64::from(m.access(cpu as u32 + 2, pa, Load, clocks[cpu]));
            i += 1;
            done += 1;
        }
    }
    report("L2 miss (2 CPUs in quanta)", done, t);
    // Coherence misses: two CPUs writing the same lines in turn.
    let n = 2_000_000u64;
    let t = Instant::now();
    for i in 0..n {
        now += 1 + u64::from(m.access((i & 1) as u32, (i / 2 % 64) * 128, Store, now));
    }
    report("L2 miss (coherence, 4 CPUs)", n, t);
    black_box(s);
}
