//! Machine statistics as one serialisable report: per CPU, simulated cycles
//! split into user / kernel / supervisor / idle / memory stall (local and
//! remote), instructions, exceptions and cache behaviour; per machine page,
//! cache misses by node (FLASH's counters).

use serde::Serialize;

use crate::machine::Machine;
use crate::simctl::TimingMode;
use crate::timing::CacheStats;

/// The statistics of one CPU.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CpuReport {
    /// CPU number.
    pub cpu: u32,
    /// Its NUMA node.
    pub node: u32,
    /// Powered on (secondary CPUs start powered down).
    pub powered: bool,
    /// Instructions executed.
    pub instructions: u64,
    /// All cycles since the statistics were reset.
    pub cycles: u64,
    /// Cycles executing user code (stalls excluded).
    pub user: u64,
    /// Cycles executing kernel code (stalls excluded).
    pub kernel: u64,
    /// Cycles executing supervisor code (stalls excluded).
    pub supervisor: u64,
    /// Cycles halted in `WAIT`.
    pub idle: u64,
    /// Memory stall cycles served by the CPU's own node (L2 hits included).
    pub stall_local: u64,
    /// Memory stall cycles served by other nodes.
    pub stall_remote: u64,
    /// Memory stall cycles in user mode (part of `stall_local` +
    /// `stall_remote`; `user` excludes them).
    pub stall_user: u64,
    /// Memory stall cycles in kernel and supervisor mode (the rest of
    /// `stall_local` + `stall_remote`).
    pub stall_kernel: u64,
    /// Exceptions taken, by name.
    pub exceptions: Vec<(String, u64)>,
    /// TLB refill exceptions.
    pub tlb_refills: u64,
    /// Cache behaviour (detailed timing only; zero in fast mode).
    pub caches: CacheStats,
}

/// Misses to one machine page, by requesting node.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct PageReport {
    /// Page number (physical address / 4096).
    pub page: u64,
    /// The node whose memory holds the page.
    pub home: u32,
    /// Misses from CPUs of node 0, 1, ...
    pub misses: Vec<u32>,
}

/// Everything the machine counted since its statistics were last reset.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Report {
    /// Timing mode at the end of the run.
    pub timing_mode: TimingMode,
    /// CPU clock in Hz.
    pub cpu_hz: u64,
    /// Simulated seconds since power-on.
    pub sim_seconds: f64,
    /// Per-CPU statistics.
    pub cpus: Vec<CpuReport>,
    /// Per-page miss counters, pages with at least one miss, ascending.
    pub pages: Vec<PageReport>,
    /// Kernel services summed over the CPUs, most cycles first, when
    /// service tracking is on ([`Machine::set_service_tracking`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<crate::services::ServiceReport>>,
}

/// Collects the report of `m`.
pub fn report(m: &Machine) -> Report {
    let timing = &m.devices.timing;
    let cpus = m
        .cpus
        .iter()
        .enumerate()
        .map(|(i, cpu)| {
            let s = cpu.stats();
            let caches = timing.cpu_stats(i as u32).clone();
            let exceptions = s
                .exceptions
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(code, n)| {
                    (
                        mips::ExcCode::from_cause((code as u64) << 2)
                            .name()
                            .to_string(),
                        *n,
                    )
                })
                .collect();
            CpuReport {
                cpu: i as u32,
                node: timing.node_of_cpu(i as u32),
                powered: m.powered()[i],
                instructions: s.instructions,
                cycles: s.cycles,
                kernel: s.mode_cycles[0],
                supervisor: s.mode_cycles[1],
                user: s.mode_cycles[2],
                idle: s.idle_cycles,
                stall_local: caches.stall_local + caches.stall_l2,
                stall_remote: caches.stall_remote,
                stall_user: s.stall_cycles[2],
                stall_kernel: s.stall_cycles[0] + s.stall_cycles[1],
                exceptions,
                tlb_refills: s.tlb_refills,
                caches,
            }
        })
        .collect();
    let pages = timing
        .counters()
        .iter()
        .map(|(page, misses)| PageReport {
            page,
            home: timing.home_of(page << 12),
            misses: misses.to_vec(),
        })
        .collect();
    Report {
        timing_mode: m.timing_mode(),
        cpu_hz: m.clock().hz(),
        sim_seconds: m.sim_ns() as f64 / 1e9,
        cpus,
        pages,
        services: crate::services::collect(&m.cpus),
    }
}

impl Report {
    /// A human-readable table: one line per powered CPU, then the pages with
    /// the most misses.
    pub fn table(&self, top_pages: usize) -> String {
        use std::fmt::Write;
        let mut t = String::new();
        let mode = match self.timing_mode {
            TimingMode::Fast => "fast (1 cycle per instruction)",
            TimingMode::Detailed => "detailed (caches, coherence, NUMA latency)",
        };
        let _ = writeln!(
            t,
            "timing: {mode}, {} MHz, {:.3} s simulated",
            self.cpu_hz / 1_000_000,
            self.sim_seconds
        );
        let pct = |part: u64, all: u64| {
            if all == 0 {
                0.0
            } else {
                100.0 * part as f64 / all as f64
            }
        };
        let _ = writeln!(
            t,
            "{:>3} {:>4} {:>14} {:>7} {:>7} {:>7} {:>8} {:>8} {:>10} {:>10} {:>10}",
            "cpu",
            "node",
            "instructions",
            "user%",
            "kern%",
            "idle%",
            "stall-L%",
            "stall-R%",
            "L1 misses",
            "L2 local",
            "L2 remote"
        );
        for c in self.cpus.iter().filter(|c| c.powered) {
            let _ = writeln!(
                t,
                "{:>3} {:>4} {:>14} {:>7.1} {:>7.1} {:>7.1} {:>8.1} {:>8.1} {:>10} {:>10} {:>10}",
                c.cpu,
                c.node,
                c.instructions,
                pct(c.user, c.cycles),
                pct(c.kernel + c.supervisor, c.cycles),
                pct(c.idle, c.cycles),
                pct(c.stall_local, c.cycles),
                pct(c.stall_remote, c.cycles),
                c.caches.l1i_misses + c.caches.l1d_misses,
                c.caches.mem_local + c.caches.cache_local,
                c.caches.mem_remote + c.caches.cache_remote,
            );
        }
        if let Some(services) = &self.services {
            let kernel: u64 = self
                .cpus
                .iter()
                .map(|c| c.kernel + c.supervisor + c.stall_kernel)
                .sum();
            t.push_str(&crate::services::table(services, kernel, self.cpu_hz, 10));
        }
        if top_pages > 0 && !self.pages.is_empty() {
            let mut pages: Vec<&PageReport> = self.pages.iter().collect();
            pages.sort_by_key(|p| {
                std::cmp::Reverse(p.misses.iter().map(|&m| m as u64).sum::<u64>())
            });
            let _ = writeln!(
                t,
                "pages with the most L2 misses (misses from node 0, 1, ...):"
            );
            for p in pages.iter().take(top_pages) {
                let _ = writeln!(
                    t,
                    "  page {:#010x} (pa {:#x}, home node {}): {:?}",
                    p.page,
                    p.page << 12,
                    p.home,
                    p.misses
                );
            }
        }
        t
    }
}
