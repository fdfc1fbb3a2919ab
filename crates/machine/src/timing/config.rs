//! Parameters of the memory system and the values derived from them.

use serde::{Deserialize, Serialize};

/// The timing parameters of the memory system.
///
/// The defaults describe the machine of Disco's evaluation (TOCS'97 §5.1): a
/// FLASH-like ccNUMA multiprocessor simulated by SimOS with statically
/// scheduled CPUs at twice the R10000 clock, the R10000's on-chip 32 KB split
/// L1 caches, a 1 MB board-level cache, and 300 ns / 900 ns minimum local /
/// remote miss latency. See the module documentation for the source of each
/// value and for the values that are estimates.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TimingConfig {
    /// CPU clock in Hz (400 MHz: twice the 200 MHz R10000).
    pub cpu_hz: u64,
    /// L1 instruction cache size in bytes (32 KiB).
    pub l1i_bytes: u32,
    /// L1 data cache size in bytes (32 KiB).
    pub l1d_bytes: u32,
    /// Associativity of both L1 caches (2, as the R10000's).
    pub l1_ways: u32,
    /// L1 line size in bytes, both caches (32, the R10000 data-cache line).
    pub l1_line: u32,
    /// Board-level (L2) cache size in bytes (1 MiB).
    pub l2_bytes: u32,
    /// L2 associativity (2, as the R10000's secondary cache).
    pub l2_ways: u32,
    /// L2 line size in bytes (128, as on the Origin 2000): also the
    /// coherence unit.
    pub l2_line: u32,
    /// Latency of an L1 miss that hits in the L2, in ns (50).
    pub l2_hit_ns: u32,
    /// Minimum latency of a miss served by the local node's memory, in ns (300).
    pub local_miss_ns: u32,
    /// Minimum latency of a miss served by a remote node's memory, in ns (900).
    pub remote_miss_ns: u32,
    /// Latency of a miss served from a dirty line in a cache on another node
    /// (a three-hop transaction), in ns (1200, an estimate).
    pub remote_dirty_ns: u32,
    /// How long one memory/directory transaction occupies the home node's
    /// controller, in ns (150, an estimate).
    pub mem_occupancy_ns: u32,
}

impl Default for TimingConfig {
    fn default() -> Self {
        TimingConfig {
            cpu_hz: 400_000_000,
            l1i_bytes: 32 * 1024,
            l1d_bytes: 32 * 1024,
            l1_ways: 2,
            l1_line: 32,
            l2_bytes: 1024 * 1024,
            l2_ways: 2,
            l2_line: 128,
            l2_hit_ns: 50,
            local_miss_ns: 300,
            remote_miss_ns: 900,
            remote_dirty_ns: 1200,
            mem_occupancy_ns: 150,
        }
    }
}

/// How physical (machine) memory is divided among the nodes.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum HomeMap {
    /// Node `k` owns `[k * node_bytes, (k + 1) * node_bytes)`: FLASH's actual
    /// layout, which Disco used. Addresses beyond the last node belong to the
    /// last node.
    Contiguous {
        /// Bytes of memory per node.
        node_bytes: u64,
    },
    /// Pages of `page_bytes` are dealt to the nodes round-robin: the layout
    /// the paper used for its IRIX runs (§5.4).
    Interleaved {
        /// Interleaving unit in bytes (a power of two, at least one L2 line).
        page_bytes: u64,
    },
}

/// Why a memory-system configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimingError {
    /// A cache's geometry is not made of powers of two or does not fit.
    #[error("timing: bad {cache} geometry: {why}")]
    Geometry {
        /// Which cache ("L1I", "L1D", "L2").
        cache: &'static str,
        /// What is wrong.
        why: String,
    },
    /// The clock or the node/CPU description is unusable.
    #[error("timing: {0}")]
    Machine(String),
}

/// Number of `hz` cycles covering `ns` nanoseconds, rounded up.
pub(crate) fn ns_to_cycles(ns: u32, hz: u64) -> u64 {
    (u128::from(ns) * u128::from(hz)).div_ceil(1_000_000_000) as u64
}

/// Checks one cache geometry.
fn check_cache(cache: &'static str, bytes: u32, ways: u32, line: u32) -> Result<(), TimingError> {
    let bad = |why: String| Err(TimingError::Geometry { cache, why });
    if !bytes.is_power_of_two() || !ways.is_power_of_two() || !line.is_power_of_two() {
        return bad(format!(
            "size {bytes}, ways {ways} and line {line} must be powers of two"
        ));
    }
    if line < 8 {
        return bad(format!("line {line} is smaller than an 8-byte access"));
    }
    if u64::from(ways) * u64::from(line) > u64::from(bytes) {
        return bad(format!(
            "{ways} ways of {line}-byte lines do not fit in {bytes} bytes"
        ));
    }
    Ok(())
}

impl TimingConfig {
    /// This machine made uniform (the paper's "optimistic UMA", §5.5):
    /// every miss takes the local latency, wherever the line's home or
    /// owner is. Contention stays per node controller.
    pub fn uma(&self) -> TimingConfig {
        TimingConfig {
            remote_miss_ns: self.local_miss_ns,
            remote_dirty_ns: self.local_miss_ns,
            ..self.clone()
        }
    }

    /// Checks the configuration: power-of-two geometries, L1 lines no larger
    /// than L2 lines, L2 lines no larger than a 4 KiB page, a non-zero clock.
    pub fn validate(&self) -> Result<(), TimingError> {
        check_cache("L1I", self.l1i_bytes, self.l1_ways, self.l1_line)?;
        check_cache("L1D", self.l1d_bytes, self.l1_ways, self.l1_line)?;
        check_cache("L2", self.l2_bytes, self.l2_ways, self.l2_line)?;
        if self.l1_line > self.l2_line {
            return Err(TimingError::Geometry {
                cache: "L2",
                why: format!(
                    "line {} is smaller than the L1 line {} (inclusion needs L1 lines inside L2 lines)",
                    self.l2_line, self.l1_line
                ),
            });
        }
        if u64::from(self.l2_line) > super::PAGE_BYTES {
            return Err(TimingError::Geometry {
                cache: "L2",
                why: format!("line {} is larger than a 4 KiB page", self.l2_line),
            });
        }
        if self.cpu_hz == 0 {
            return Err(TimingError::Machine("cpu_hz must be non-zero".into()));
        }
        Ok(())
    }
}

/// Latencies converted to CPU cycles (rounded up).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Cycles {
    pub l2_hit: u64,
    pub local: u64,
    pub remote: u64,
    pub remote_dirty: u64,
    pub occupancy: u64,
}

impl Cycles {
    pub(crate) fn from_config(cfg: &TimingConfig) -> Self {
        let c = |ns| ns_to_cycles(ns, cfg.cpu_hz);
        Cycles {
            l2_hit: c(cfg.l2_hit_ns),
            local: c(cfg.local_miss_ns),
            remote: c(cfg.remote_miss_ns),
            remote_dirty: c(cfg.remote_dirty_ns),
            occupancy: c(cfg.mem_occupancy_ns),
        }
    }
}

impl HomeMap {
    /// Checks the map against the L2 line: a line must have a single home.
    pub(crate) fn validate(&self, l2_line: u32) -> Result<(), TimingError> {
        match *self {
            HomeMap::Contiguous { node_bytes } => {
                if node_bytes == 0 || node_bytes % u64::from(l2_line) != 0 {
                    return Err(TimingError::Machine(format!(
                        "node_bytes {node_bytes} must be a non-zero multiple of the {l2_line}-byte L2 line"
                    )));
                }
            }
            HomeMap::Interleaved { page_bytes } => {
                if !page_bytes.is_power_of_two() || page_bytes < u64::from(l2_line) {
                    return Err(TimingError::Machine(format!(
                        "interleave unit {page_bytes} must be a power of two of at least one {l2_line}-byte L2 line"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The home node of physical address `pa` on a machine of `nodes` nodes.
    #[inline]
    pub fn home_of(&self, pa: u64, nodes: u32) -> u32 {
        match *self {
            HomeMap::Contiguous { node_bytes } => {
                (pa / node_bytes).min(u64::from(nodes - 1)) as u32
            }
            HomeMap::Interleaved { page_bytes } => {
                ((pa >> page_bytes.trailing_zeros()) % u64::from(nodes)) as u32
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_converts_to_cycles() {
        let cfg = TimingConfig::default();
        cfg.validate().unwrap();
        let c = Cycles::from_config(&cfg);
        assert_eq!(
            (c.l2_hit, c.local, c.remote, c.remote_dirty, c.occupancy),
            (20, 120, 360, 480, 60)
        );
    }

    #[test]
    fn conversion_rounds_up() {
        assert_eq!(ns_to_cycles(1, 400_000_000), 1);
        assert_eq!(ns_to_cycles(3, 400_000_000), 2);
        assert_eq!(ns_to_cycles(300, 150_000_000), 45);
        assert_eq!(ns_to_cycles(301, 150_000_000), 46);
        assert_eq!(ns_to_cycles(0, 400_000_000), 0);
    }

    #[test]
    fn bad_geometries_are_refused() {
        let mut cfg = TimingConfig {
            l1_ways: 3,
            ..TimingConfig::default()
        };
        assert!(cfg.validate().is_err());
        cfg.l1_ways = 2;
        cfg.l2_line = 16;
        assert!(cfg.validate().is_err());
        cfg.l2_line = 8192;
        assert!(cfg.validate().is_err());
        assert!(HomeMap::Interleaved { page_bytes: 64 }
            .validate(128)
            .is_err());
        assert!(HomeMap::Contiguous { node_bytes: 0 }.validate(128).is_err());
    }

    #[test]
    fn homes() {
        let c = HomeMap::Contiguous {
            node_bytes: 1 << 20,
        };
        assert_eq!(c.home_of(0, 4), 0);
        assert_eq!(c.home_of((1 << 20) - 1, 4), 0);
        assert_eq!(c.home_of(3 << 20, 4), 3);
        assert_eq!(c.home_of(9 << 20, 4), 3);
        let i = HomeMap::Interleaved { page_bytes: 4096 };
        assert_eq!(i.home_of(0, 4), 0);
        assert_eq!(i.home_of(4096, 4), 1);
        assert_eq!(i.home_of(4 * 4096 + 5, 4), 0);
        assert_eq!(i.home_of(7 * 4096, 4), 3);
    }
}
