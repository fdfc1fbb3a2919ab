//! Per-CPU memory-system statistics.

use serde::{Deserialize, Serialize};

/// What one CPU's memory references did, since the last reset.
///
/// Every access is counted exactly once in `l1i_*` (fetches) or `l1d_*`
/// (loads and stores). An L1 miss is then either an `l2_hits` (no coherence
/// transaction needed) or one of `l2_misses`. A store that hits its L1 line
/// but finds it shared counts as an L1 hit and as an ownership upgrade (one
/// of `l2_misses`). `l2_misses` — every transaction with the home node — is
/// split once by who supplied the data: `mem_local + mem_remote + cache_local
/// + cache_remote == l2_misses`; `upgrades` are counted in `mem_*` by home.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CacheStats {
    /// Instruction fetches that hit the L1 I-cache.
    pub l1i_hits: u64,
    /// Instruction fetches that missed the L1 I-cache.
    pub l1i_misses: u64,
    /// Loads and stores that hit the L1 D-cache.
    pub l1d_hits: u64,
    /// Loads and stores that missed the L1 D-cache.
    pub l1d_misses: u64,
    /// L1 misses served by the L2 without a coherence transaction.
    pub l2_hits: u64,
    /// Transactions with the home node: L2 misses and ownership upgrades.
    /// These are what the per-page miss counters count.
    pub l2_misses: u64,
    /// Of `l2_misses`: stores to a line held shared (ownership without data).
    pub upgrades: u64,
    /// Of `l2_misses`: served by the directory/memory of the CPU's own node.
    pub mem_local: u64,
    /// Of `l2_misses`: served by the directory/memory of another node.
    pub mem_remote: u64,
    /// Of `l2_misses`: served from a dirty line in another cache on the
    /// CPU's own node.
    pub cache_local: u64,
    /// Of `l2_misses`: served from a dirty line in a cache on another node.
    pub cache_remote: u64,
    /// Copies in other CPUs' caches this CPU's stores invalidated.
    pub invalidations_sent: u64,
    /// Copies in this CPU's L2 that other CPUs' stores invalidated.
    pub invalidations_received: u64,
    /// Dirty L2 lines this CPU wrote back to their home on eviction.
    pub writebacks: u64,
    /// L1 lines dropped because their L2 line was evicted (inclusion).
    pub inclusion_invalidations: u64,
    /// Stall cycles of L2 hits.
    pub stall_l2: u64,
    /// Stall cycles of transactions served on the CPU's own node (home and,
    /// for a dirty line, the owning cache both local), waiting included.
    pub stall_local: u64,
    /// Stall cycles of all other transactions, waiting included.
    pub stall_remote: u64,
    /// Of `stall_local + stall_remote`: cycles spent waiting for a busy home
    /// controller.
    pub stall_contention: u64,
}

impl CacheStats {
    /// Adds `other` into `self` field by field.
    pub fn add(&mut self, other: &CacheStats) {
        let CacheStats {
            l1i_hits,
            l1i_misses,
            l1d_hits,
            l1d_misses,
            l2_hits,
            l2_misses,
            upgrades,
            mem_local,
            mem_remote,
            cache_local,
            cache_remote,
            invalidations_sent,
            invalidations_received,
            writebacks,
            inclusion_invalidations,
            stall_l2,
            stall_local,
            stall_remote,
            stall_contention,
        } = other;
        self.l1i_hits += l1i_hits;
        self.l1i_misses += l1i_misses;
        self.l1d_hits += l1d_hits;
        self.l1d_misses += l1d_misses;
        self.l2_hits += l2_hits;
        self.l2_misses += l2_misses;
        self.upgrades += upgrades;
        self.mem_local += mem_local;
        self.mem_remote += mem_remote;
        self.cache_local += cache_local;
        self.cache_remote += cache_remote;
        self.invalidations_sent += invalidations_sent;
        self.invalidations_received += invalidations_received;
        self.writebacks += writebacks;
        self.inclusion_invalidations += inclusion_invalidations;
        self.stall_l2 += stall_l2;
        self.stall_local += stall_local;
        self.stall_remote += stall_remote;
        self.stall_contention += stall_contention;
    }

    /// All stall cycles (L2 hits, local and remote transactions).
    pub fn stall_cycles(&self) -> u64 {
        self.stall_l2 + self.stall_local + self.stall_remote
    }

    /// Fraction of `l2_misses` served on the CPU's own node (memory or a
    /// cache there), or `None` without any miss: the "local miss fraction"
    /// of TOCS'97 §5.5.
    pub fn local_miss_fraction(&self) -> Option<f64> {
        (self.l2_misses != 0)
            .then(|| (self.mem_local + self.cache_local) as f64 / self.l2_misses as f64)
    }
}
