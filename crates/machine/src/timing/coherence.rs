//! The slow path of an access: L1 misses, L2 lookups, coherence
//! transactions with the home node, L2 evictions.
//!
//! There is no separate directory structure: the sharers of a line are found
//! by probing the same set of every other CPU's L2 tags when a transaction
//! happens (L2 misses and upgrades only). Thanks to inclusion, an L2 probe
//! also covers the L1s. The result is what a full-map directory (FLASH's)
//! would record, computed deterministically in CPU order; it costs
//! `cpus * l2_ways` compares per transaction and nothing on hits.

use super::cache::INVALID;
use super::{Access, MemSystem, PAGE_SHIFT};

/// L2 line states (the low two bits of an L2 entry).
pub(crate) const SHARED: u64 = 1;
/// Clean and held by this cache only: a store makes it `MODIFIED` silently.
pub(crate) const EXCLUSIVE: u64 = 2;
/// Dirty and held by this cache only.
pub(crate) const MODIFIED: u64 = 3;
/// Bits of state under the line number in an L2 entry.
pub(crate) const L2_KEY_SHIFT: u32 = 2;
/// The L1 D-cache's write-permission bit (set only while the L2 line is
/// `MODIFIED`); L1 entries are `line << 1 | writable`.
pub(crate) const WRITABLE: u64 = 1;
/// Bits of state under the line number in an L1 entry.
pub(crate) const L1_KEY_SHIFT: u32 = 1;

/// What a CPU asks the home node for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Request {
    /// A copy to read (load or fetch miss).
    Read,
    /// A copy to write (store miss).
    ReadExclusive,
    /// Ownership of a line already held shared (store to a shared line).
    Upgrade,
}

impl MemSystem {
    /// Everything but an L1 hit on the most recently used way.
    #[inline(never)]
    pub(super) fn access_slow(&mut self, c: usize, pa: u64, kind: Access, now: u64) -> u32 {
        let is_fetch = kind == Access::Fetch;
        let l1 = if is_fetch {
            &mut self.l1i
        } else {
            &mut self.l1d
        };
        let line1 = l1.line_of(pa);
        let b1 = l1.base(c, line1);
        if let Some(way) = l1.find(b1, line1) {
            l1.touch(b1, way);
            let writable = l1.tags[b1] & WRITABLE != 0;
            let st = &mut self.stats[c];
            if is_fetch {
                st.l1i_hits += 1;
                return 0;
            }
            st.l1d_hits += 1;
            if kind == Access::Load || writable {
                return 0;
            }
            return self.store_to_readonly_l1_line(c, pa, b1, now);
        }

        // L1 miss.
        if is_fetch {
            self.stats[c].l1i_misses += 1;
        } else {
            self.stats[c].l1d_misses += 1;
        }
        let line2 = self.l2.line_of(pa);
        let b2 = self.l2.base(c, line2);
        let (stall, state) = if let Some(way) = self.l2.find(b2, line2) {
            self.l2.touch(b2, way);
            let state = self.l2.tags[b2] & 3;
            if kind == Access::Store && state == SHARED {
                let stall = self.transaction(c, pa, Request::Upgrade, now);
                self.l2.tags[b2] = line2 << L2_KEY_SHIFT | MODIFIED;
                (stall, MODIFIED)
            } else {
                let state = if kind == Access::Store {
                    MODIFIED
                } else {
                    state
                };
                self.l2.tags[b2] = line2 << L2_KEY_SHIFT | state;
                let stall = self.cycles.l2_hit;
                let st = &mut self.stats[c];
                st.l2_hits += 1;
                st.stall_l2 += stall;
                (stall, state)
            }
        } else {
            let request = if kind == Access::Store {
                Request::ReadExclusive
            } else {
                Request::Read
            };
            let (stall, state) = self.miss(c, pa, request, now);
            let victim = self.l2.insert(b2, line2 << L2_KEY_SHIFT | state);
            if victim != INVALID {
                self.evict_l2(c, victim, now + stall);
            }
            (stall, state)
        };

        // Fill the L1 (its victim needs no action: write-backs to the L2
        // cost nothing, and the L2 still holds the line).
        if is_fetch {
            self.l1i.insert(b1, line1 << L1_KEY_SHIFT);
        } else {
            let w = u64::from(state == MODIFIED);
            self.l1d.insert(b1, line1 << L1_KEY_SHIFT | w);
        }
        clamp(stall)
    }

    /// A store hit an L1 D-cache line without write permission: the L2 line
    /// (present by inclusion) is `SHARED` or `EXCLUSIVE`.
    fn store_to_readonly_l1_line(&mut self, c: usize, pa: u64, b1: usize, now: u64) -> u32 {
        let line2 = self.l2.line_of(pa);
        let b2 = self.l2.base(c, line2);
        let way = self
            .l2
            .find(b2, line2)
            .expect("inclusion: an L1 line is in the L2");
        self.l2.touch(b2, way);
        let stall = if self.l2.tags[b2] & 3 == SHARED {
            self.transaction(c, pa, Request::Upgrade, now)
        } else {
            0
        };
        self.l2.tags[b2] = line2 << L2_KEY_SHIFT | MODIFIED;
        self.l1d.tags[b1] |= WRITABLE;
        clamp(stall)
    }

    /// An L2 miss: fetches the line, returning the stall and its new state.
    fn miss(&mut self, c: usize, pa: u64, request: Request, now: u64) -> (u64, u64) {
        let others_hold = self.transaction_probe(c, pa, request);
        let state = match request {
            Request::Read if others_hold.any => SHARED,
            Request::Read => EXCLUSIVE,
            _ => MODIFIED,
        };
        (
            self.charge(c, pa, request, others_hold.dirty_owner, now),
            state,
        )
    }

    /// An upgrade (or any transaction whose resulting state the caller
    /// knows): returns the stall.
    fn transaction(&mut self, c: usize, pa: u64, request: Request, now: u64) -> u64 {
        let probe = self.transaction_probe(c, pa, request);
        self.charge(c, pa, request, probe.dirty_owner, now)
    }

    /// Looks the line up in every other CPU's L2 and applies the request's
    /// effect on their copies: a read downgrades an `EXCLUSIVE` or
    /// `MODIFIED` copy to `SHARED`; a write invalidates every copy.
    fn transaction_probe(&mut self, c: usize, pa: u64, request: Request) -> Probe {
        let line2 = self.l2.line_of(pa);
        let mut probe = Probe {
            any: false,
            dirty_owner: None,
        };
        for o in 0..self.node_of_cpu.len() {
            if o == c {
                continue;
            }
            let b = self.l2.base(o, line2);
            let Some(way) = self.l2.find(b, line2) else {
                continue;
            };
            let state = self.l2.tags[b + way] & 3;
            probe.any = true;
            if state == MODIFIED {
                probe.dirty_owner = Some(o);
            }
            if request == Request::Read {
                if state != SHARED {
                    self.l2.tags[b + way] = line2 << L2_KEY_SHIFT | SHARED;
                    self.l1d_revoke_write(o, line2);
                }
            } else {
                self.l2.remove(b, way);
                self.l1_invalidate(o, line2);
                self.stats[o].invalidations_received += 1;
                self.stats[c].invalidations_sent += 1;
            }
        }
        probe
    }

    /// Latency, contention, statistics and miss counter of one transaction.
    fn charge(
        &mut self,
        c: usize,
        pa: u64,
        request: Request,
        dirty_owner: Option<usize>,
        now: u64,
    ) -> u64 {
        let node = self.node_of_cpu[c];
        let home = self.home.home_of(pa, self.nodes);
        let owner_node = dirty_owner.map(|o| self.node_of_cpu[o]);
        let latency = match owner_node {
            Some(n) if n != node => self.cycles.remote_dirty,
            _ if home == node => self.cycles.local,
            _ => self.cycles.remote,
        };
        let wait = self.queues[home as usize].reserve(now, self.cycles.occupancy);
        let stall = wait + latency;
        let st = &mut self.stats[c];
        st.l2_misses += 1;
        if request == Request::Upgrade {
            st.upgrades += 1;
        }
        match owner_node {
            Some(n) if n == node => st.cache_local += 1,
            Some(_) => st.cache_remote += 1,
            None if home == node => st.mem_local += 1,
            None => st.mem_remote += 1,
        }
        let local = home == node && owner_node.is_none_or(|n| n == node);
        if local {
            st.stall_local += stall;
        } else {
            st.stall_remote += stall;
        }
        st.stall_contention += wait;
        self.counters
            .record(pa >> PAGE_SHIFT, node, request != Request::Read);
        stall
    }

    /// CPU `c`'s L2 dropped `victim`: enforce inclusion, write back if dirty
    /// (occupying the home controller at `when`, without stalling the CPU).
    fn evict_l2(&mut self, c: usize, victim: u64, when: u64) {
        let line2 = victim >> L2_KEY_SHIFT;
        let dropped = self.l1_invalidate(c, line2);
        self.stats[c].inclusion_invalidations += dropped;
        if victim & 3 == MODIFIED {
            let home = self.home.home_of(line2 << self.l2.line_shift, self.nodes);
            self.queues[home as usize].reserve(when, self.cycles.occupancy);
            self.stats[c].writebacks += 1;
        }
    }

    /// Removes every L1 (I and D) line of CPU `o` inside L2 line `line2`;
    /// returns how many there were.
    fn l1_invalidate(&mut self, o: usize, line2: u64) -> u64 {
        let ratio_shift = self.l2.line_shift - self.l1d.line_shift;
        let mut dropped = 0;
        for k in 0..1u64 << ratio_shift {
            let line1 = line2 << ratio_shift | k;
            for l1 in [&mut self.l1d, &mut self.l1i] {
                let b = l1.base(o, line1);
                if let Some(way) = l1.find(b, line1) {
                    l1.remove(b, way);
                    dropped += 1;
                }
            }
        }
        dropped
    }

    /// Clears the write permission of CPU `o`'s L1 D-cache lines inside L2
    /// line `line2`.
    fn l1d_revoke_write(&mut self, o: usize, line2: u64) {
        let ratio_shift = self.l2.line_shift - self.l1d.line_shift;
        for k in 0..1u64 << ratio_shift {
            let line1 = line2 << ratio_shift | k;
            let b = self.l1d.base(o, line1);
            if let Some(way) = self.l1d.find(b, line1) {
                self.l1d.tags[b + way] &= !WRITABLE;
            }
        }
    }
}

/// What the other caches held.
struct Probe {
    /// Some other cache held the line.
    any: bool,
    /// The cache that held it `MODIFIED`.
    dirty_owner: Option<usize>,
}

/// Stall cycles as returned by [`MemSystem::access`].
#[inline]
fn clamp(stall: u64) -> u32 {
    u32::try_from(stall).unwrap_or(u32::MAX)
}
