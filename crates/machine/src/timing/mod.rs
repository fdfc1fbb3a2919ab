//! The detailed memory-timing model: per-CPU L1 I/D and L2 caches kept
//! coherent across CPUs, NUMA memory latency with controller contention, and
//! FLASH-style per-page per-node cache-miss counters.
//!
//! The CPU simulator calls [`MemSystem::access`] for every memory reference
//! in *detailed* mode (and never in *fast* mode); it returns the stall cycles
//! the reference costs beyond the instruction's own cycle. The model holds
//! tags and states only, never data, and is deterministic: no host time, no
//! hash-order iteration, the same calls give the same results, and a
//! serialized copy (serde) continues exactly like the original.
//!
//! # The machine
//!
//! The defaults ([`TimingConfig::default`]):
//!
//! Disco's evaluation (TOCS'97 §5.1) simulated a FLASH-like machine with
//! SimOS: "statically scheduled, non-superscalar processors running at twice
//! the clock rate" of the R10000, with "the on-chip caches of the MIPS R10000
//! (32KB split instruction/data) and a 1MB board-level cache", and "in the
//! absence of memory system contention, the minimum latency of a cache miss
//! is 300 nanoseconds to local memory and 900 nanoseconds to remote memory".
//!
//! | Parameter | Value | Source |
//! |---|---|---|
//! | `cpu_hz` | 400 MHz | twice the 200 MHz R10000 (§5.1; ARCHITECTURE.md) |
//! | L1 I, L1 D | 32 KiB each, 2-way, 32-byte lines | R10000 on-chip caches (§5.1). The R10000 I-cache has 64-byte lines; one L1 line size is used for both (the D-cache's) |
//! | L2 | 1 MiB, 2-way, 128-byte lines | "1MB board-level cache" (§5.1); 2-way and 128 B as the R10000 secondary cache in the Origin 2000 |
//! | `l2_hit_ns` | 50 ns (20 cycles) | an estimate, not a paper figure: an R10000 secondary-cache hit takes roughly 10 cycles of the 195 MHz R10000 of the Origin 2000 (≈ 50–55 ns) |
//! | `local_miss_ns` | 300 ns (120 cycles) | §5.1 |
//! | `remote_miss_ns` | 900 ns (360 cycles) | §5.1 |
//! | `remote_dirty_ns` | 1200 ns (480 cycles) | estimate: the 600 ns a remote miss adds over a local one is two network traversals (request, reply), so a third hop (home to owner) adds about 300 ns |
//! | `mem_occupancy_ns` | 150 ns (60 cycles) | estimate: about the time to move one 128-byte line at the ~800 MB/s memory bandwidth of an Origin 2000 node (160 ns), directory update overlapped |
//!
//! Nanoseconds become cycles with `cpu_hz`, rounded up.
//!
//! # Caches
//!
//! * Every CPU has an L1 I-cache, an L1 D-cache and a unified L2, all
//!   set-associative with LRU replacement.
//! * The L1s are *included* in the L2: evicting or invalidating an L2 line
//!   drops the L1 copies inside it (counted as `inclusion_invalidations`).
//! * The L1 D-cache is write-back into the L2 and never stalls on it: the
//!   L2's state stands for both levels, and an L1 victim needs no action. An
//!   L1 D line carries a write-permission bit, set only while the L2 line is
//!   Modified, so that a store hitting a writable L1 line is one compare.
//! * Instruction fetches are not coherent with the same CPU's stores (as on
//!   MIPS, where software flushes the I-cache); other CPUs' stores do
//!   invalidate a CPU's I-cache lines through inclusion.
//!
//! # Coherence (MESI at L2-line granularity)
//!
//! * A load or fetch that misses the L2 asks the home node. If another cache
//!   holds the line Modified, that cache supplies it and keeps a Shared copy
//!   (memory is updated by the same transaction); an Exclusive or Shared
//!   copy elsewhere is downgraded to Shared and memory supplies the data (as
//!   the Origin's speculative memory reply does for clean-exclusive lines).
//!   The requester gets the line Exclusive if no other cache had it, Shared
//!   otherwise.
//! * A store that misses the L2 asks for the line exclusively: every other
//!   copy is invalidated (`invalidations_sent` / `invalidations_received`, one
//!   per cache); data comes from a Modified owner if there is one, otherwise
//!   from memory. The requester gets the line Modified.
//! * A store to a Shared line is an *upgrade*: the other copies are
//!   invalidated and the writer pays the directory latency of the home, as
//!   for a miss. A store to an Exclusive line turns it Modified silently.
//! * A Modified line evicted from an L2 is written back: it occupies its home
//!   controller but does not stall the CPU (write-back buffer).
//! * There is no directory array: the sharers are found by probing the same
//!   set of every other CPU's L2 on a transaction (never on a hit), in CPU
//!   order. This is what FLASH's full-map directory would hold, and costs
//!   nothing on hits.
//!
//! # Latency and contention
//!
//! * L1 hit: 0 stall cycles. L2 hit: `l2_hit_ns`.
//! * A transaction with the home node (L2 miss or upgrade) costs one of:
//!   `remote_dirty_ns` when the data comes from a Modified line in a cache on
//!   another node; otherwise `local_miss_ns` when the home node is the
//!   CPU's node and `remote_miss_ns` when it is not (this includes a dirty
//!   line supplied by another cache on the CPU's own node: it still goes
//!   through the home's directory). These are whole-miss latencies; the L2
//!   lookup is not added.
//! * Contention: each transaction (and each write-back) occupies the home
//!   node's memory/directory controller for `mem_occupancy_ns`; a request
//!   that finds the controller busy at cycle `now` waits, and the wait is
//!   added to its stall. Because CPUs are simulated in quanta, requests
//!   arrive out of time order; the controller therefore keeps a history of
//!   busy intervals and a request takes the earliest free gap at or after its
//!   own time (see [`contention`]): in-order requests see exact FCFS
//!   queueing, a late request fills gaps of its own time instead of queueing
//!   behind requests from the future. The network and the owner's cache are
//!   not modelled as contended resources.
//! * `now` should include the stalls already returned, so that one CPU's
//!   successive misses do not queue behind each other (a blocking cache).
//!
//! # Miss counters
//!
//! Every transaction with the home node (read miss, write miss, upgrade;
//! not write-backs) adds one to the counter of its 4 KiB machine page for
//! the requesting CPU's node ([`MissCounters`]), exactly. A hot-page
//! threshold ([`MemSystem::set_hot_threshold`]) makes the model report each
//! (page, node) counter that reaches it ([`MemSystem::take_hot_pages`]), as
//! FLASH notifies Disco of hot pages (§4.2.3).
//!
//! # Cost
//!
//! An L1 hit on the most recently used way is an inline shift, a load, one
//! compare and a statistics increment; everything else is out of line. The
//! benchmark `cargo bench -p machine --bench timing_cost` prints host
//! nanoseconds per access for L1 hits, L2 hits and misses.
//!
//! [`MemSystem::access`]: crate::timing::MemSystem::access
//! [`MemSystem::set_hot_threshold`]: crate::timing::MemSystem::set_hot_threshold
//! [`MemSystem::take_hot_pages`]: crate::timing::MemSystem::take_hot_pages
//! [`TimingConfig::default`]: crate::timing::TimingConfig::default
//! [`MissCounters`]: crate::timing::MissCounters
//! [`contention`]: crate::timing::contention

mod cache;
mod coherence;
pub mod config;
pub mod contention;
pub mod counters;
pub mod stats;

#[cfg(test)]
mod tests;

pub use config::{HomeMap, TimingConfig, TimingError};
pub use counters::{HotPage, MissCounters};
pub use stats::CacheStats;

use cache::TagArray;
use coherence::{L1_KEY_SHIFT, L2_KEY_SHIFT, WRITABLE};
use config::Cycles;
use contention::NodeQueue;
use serde::{Deserialize, Serialize};

/// Log2 of the machine page size the miss counters use.
pub const PAGE_SHIFT: u32 = 12;
/// The machine page size the miss counters use (4 KiB).
pub const PAGE_BYTES: u64 = 1 << PAGE_SHIFT;

/// The kind of a memory reference.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub enum Access {
    /// An instruction fetch (L1 I-cache).
    Fetch,
    /// A data load (L1 D-cache).
    Load,
    /// A data store (L1 D-cache; needs ownership of the line).
    Store,
}

/// The memory system of the whole machine: every CPU's caches, the node
/// controllers, the miss counters and the statistics.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MemSystem {
    cfg: TimingConfig,
    cycles: Cycles,
    node_of_cpu: Vec<u32>,
    nodes: u32,
    home: HomeMap,
    l1i: TagArray,
    l1d: TagArray,
    l2: TagArray,
    stats: Vec<CacheStats>,
    queues: Vec<NodeQueue>,
    counters: MissCounters,
}

impl MemSystem {
    /// A memory system with cold caches for CPUs `0..node_of_cpu.len()`,
    /// where CPU `c` sits on node `node_of_cpu[c]` of `nodes`, and `home`
    /// gives each physical address its home node.
    ///
    /// # Panics
    ///
    /// If the configuration is invalid (see [`MemSystem::try_new`]).
    pub fn new(cfg: TimingConfig, node_of_cpu: Vec<u32>, nodes: u32, home: HomeMap) -> Self {
        match Self::try_new(cfg, node_of_cpu, nodes, home) {
            Ok(m) => m,
            Err(e) => panic!("{e}"),
        }
    }

    /// Like [`MemSystem::new`], but refuses an invalid configuration: bad
    /// cache geometry, no CPU or node, a CPU on a node that does not exist,
    /// or a home map whose unit is not a multiple of the L2 line.
    pub fn try_new(
        cfg: TimingConfig,
        node_of_cpu: Vec<u32>,
        nodes: u32,
        home: HomeMap,
    ) -> Result<Self, TimingError> {
        cfg.validate()?;
        home.validate(cfg.l2_line)?;
        if nodes == 0 || node_of_cpu.is_empty() {
            return Err(TimingError::Machine(
                "a machine needs at least one node and one CPU".into(),
            ));
        }
        if let Some((c, n)) = node_of_cpu.iter().enumerate().find(|(_, &n)| n >= nodes) {
            return Err(TimingError::Machine(format!(
                "CPU {c} is on node {n}, but there are {nodes} nodes"
            )));
        }
        let cpus = node_of_cpu.len();
        Ok(MemSystem {
            cycles: Cycles::from_config(&cfg),
            l1i: TagArray::new(cpus, cfg.l1i_bytes, cfg.l1_ways, cfg.l1_line, L1_KEY_SHIFT),
            l1d: TagArray::new(cpus, cfg.l1d_bytes, cfg.l1_ways, cfg.l1_line, L1_KEY_SHIFT),
            l2: TagArray::new(cpus, cfg.l2_bytes, cfg.l2_ways, cfg.l2_line, L2_KEY_SHIFT),
            stats: vec![CacheStats::default(); cpus],
            queues: vec![NodeQueue::default(); nodes as usize],
            counters: MissCounters::new(nodes),
            cfg,
            node_of_cpu,
            nodes,
            home,
        })
    }

    /// Models one access of at most 8 naturally aligned bytes at physical
    /// address `pa` by `cpu` at simulated cycle `now`; returns the stall
    /// cycles beyond the single cycle the instruction takes.
    ///
    /// # Panics
    ///
    /// If `cpu` does not exist.
    #[inline]
    pub fn access(&mut self, cpu: u32, pa: u64, kind: Access, now: u64) -> u32 {
        let c = cpu as usize;
        // Fast path: a hit on the most recently used way of the L1 set.
        let (l1, want, mask) = match kind {
            Access::Fetch => (&self.l1i, 0, !WRITABLE),
            Access::Load => (&self.l1d, 0, !WRITABLE),
            Access::Store => (&self.l1d, WRITABLE, !0),
        };
        let line = l1.line_of(pa);
        let b = l1.base(c, line);
        if let Some(&e) = l1.tags.get(b) {
            if e & mask == (line << L1_KEY_SHIFT | want) {
                let st = &mut self.stats[c];
                if kind == Access::Fetch {
                    st.l1i_hits += 1;
                } else {
                    st.l1d_hits += 1;
                }
                return 0;
            }
        }
        self.access_slow(c, pa, kind, now)
    }

    /// Checks a memory system restored from a checkpoint against the
    /// machine it belongs to (`cpus` CPUs on `nodes` nodes): a valid
    /// configuration and caches, statistics, controllers and counters of the
    /// sizes that configuration gives. Derived values are recomputed.
    pub fn check_restored(mut self, cpus: u32, nodes: u32) -> Result<Self, TimingError> {
        let bad = |what: &str| TimingError::Machine(format!("checkpoint: {what}"));
        if self.node_of_cpu.len() != cpus as usize || self.nodes != nodes {
            return Err(bad("timing model has another CPU or node count"));
        }
        let fresh = MemSystem::try_new(
            self.cfg.clone(),
            self.node_of_cpu.clone(),
            self.nodes,
            self.home,
        )?;
        let caches_fit = self.l1i.has_shape_of(&fresh.l1i)
            && self.l1d.has_shape_of(&fresh.l1d)
            && self.l2.has_shape_of(&fresh.l2);
        if !caches_fit
            || self.stats.len() != fresh.stats.len()
            || self.queues.len() != fresh.queues.len()
        {
            return Err(bad(
                "cache or controller state does not fit the configuration",
            ));
        }
        if !self.inclusion_holds() {
            return Err(bad("an L1 cache holds a line its L2 does not"));
        }
        self.counters.check_restored(nodes).map_err(|e| bad(&e))?;
        self.cycles = fresh.cycles;
        Ok(self)
    }

    /// True when every valid L1 line of every CPU sits in its own set and in
    /// that CPU's L2: the inclusion the coherence protocol relies on.
    fn inclusion_holds(&self) -> bool {
        let l2 = &self.l2;
        [&self.l1i, &self.l1d].iter().all(|l1| {
            l1.tags.iter().enumerate().all(|(i, &e)| {
                if e == cache::INVALID {
                    return true;
                }
                let (cpu, set) = (i / l1.cpu_stride, i % l1.cpu_stride / l1.ways);
                let line1 = e >> L1_KEY_SHIFT;
                let line2 = l2.line_of(line1 << l1.line_shift);
                (line1 & l1.set_mask) as usize == set
                    && l2.find(l2.base(cpu, line2), line2).is_some()
            })
        })
    }

    /// The configuration.
    pub fn config(&self) -> &TimingConfig {
        &self.cfg
    }

    /// Number of CPUs.
    pub fn cpus(&self) -> u32 {
        self.node_of_cpu.len() as u32
    }

    /// Number of nodes.
    pub fn nodes(&self) -> u32 {
        self.nodes
    }

    /// The node of CPU `cpu`.
    pub fn node_of_cpu(&self, cpu: u32) -> u32 {
        self.node_of_cpu[cpu as usize]
    }

    /// How memory is divided among the nodes.
    pub fn home_map(&self) -> HomeMap {
        self.home
    }

    /// The home node of physical address `pa`.
    pub fn home_of(&self, pa: u64) -> u32 {
        self.home.home_of(pa, self.nodes)
    }

    /// CPU `cpu`'s statistics since the last [`MemSystem::reset_stats`].
    pub fn cpu_stats(&self, cpu: u32) -> &CacheStats {
        &self.stats[cpu as usize]
    }

    /// The sum of all CPUs' statistics.
    pub fn total_stats(&self) -> CacheStats {
        let mut total = CacheStats::default();
        for s in &self.stats {
            total.add(s);
        }
        total
    }

    /// Zeroes every CPU's statistics (not the miss counters, not the caches).
    pub fn reset_stats(&mut self) {
        self.stats.fill(CacheStats::default());
    }

    /// The per-page, per-node miss counters.
    pub fn counters(&self) -> &MissCounters {
        &self.counters
    }

    /// The miss counters, to reset a page or all of them.
    pub fn counters_mut(&mut self) -> &mut MissCounters {
        &mut self.counters
    }

    /// Sets the FLASH-style hot-page threshold in misses from one node to
    /// one page (0 turns notification off); see
    /// [`MissCounters::set_hot_threshold`].
    pub fn set_hot_threshold(&mut self, misses: u32) {
        self.counters.set_hot_threshold(misses);
    }

    /// Pages whose count from some node reached the hot threshold since
    /// they were last reset and not yet taken, in detection order.
    pub fn take_hot_pages(&mut self) -> Vec<HotPage> {
        self.counters.take_hot_pages()
    }

    /// Empties all of `cpu`'s caches (dirty lines are dropped without a
    /// write-back: the CPU is being reset).
    pub fn flush_cpu(&mut self, cpu: u32) {
        let c = cpu as usize;
        self.l1i.flush_cpu(c);
        self.l1d.flush_cpu(c);
        self.l2.flush_cpu(c);
    }
}
