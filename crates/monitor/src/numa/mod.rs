//! NUMA memory management (§4.2.3): dynamic page migration and
//! replication driven by the machine's per-page, per-node miss counters.
//!
//! The machine counts every L2 transaction per 4 KiB machine page and per
//! node, and reports a page once one node's count reaches the policy's
//! trigger (FLASH's hot-page interrupt, [`machine::timing::MissCounters`]).
//! After every slice of simulated time the monitor takes those
//! notifications, in the order they happened, and for each:
//!
//! 1. looks the page up in the memmap: a VM's private page, a page several
//!    VMs share read-only, or something it leaves alone (a replica, free or
//!    monitor memory);
//! 2. decides from the page's counters ([`policy::decide`]): migrate it to
//!    the hot node, replicate it there, or leave it (and why);
//! 3. does it ([`crate::memory::placement`]) on a CPU of the hot node: the
//!    copy is made through the simulated memory system (in detailed timing
//!    its loads miss to the page's home and its stores to the new page),
//!    every TLB entry mapping the page is shot down — the CPU doing the work
//!    pays per entry, every other CPU that held one pays an interrupt — and
//!    the counters of both pages restart from zero (the copy's own traffic
//!    is not the guest's).
//!
//! A write to a replicated page — a store, the kernel's store through its
//! direct map, a DMA — collapses the replicas first
//! ([`crate::memory::MachineMemory::make_private`]). Every counter is
//! cleared each reset interval; each page's move score is halved then, and
//! a page whose score reaches the freeze threshold stays put for a while.
//!
//! The counters count only in detailed timing mode, so the policy acts only
//! there. It needs memory in per-node ranges (FLASH's layout; not
//! `--interleave`). All of it is deterministic: decisions happen at slice
//! boundaries, in detection order, from simulated state only.

pub mod policy;

use std::collections::BTreeMap;

use machine::simctl::TimingMode;
use machine::timing::{Access, HotPage};
use machine::Machine;
use serde::Serialize;

use crate::cost::Work;
use crate::memory::memmap::{PageKind, PageUser};
use crate::memory::placement::NotMoved;
use crate::trap::account;
use crate::Monitor;

pub use policy::{Action, NumaConfig, Refusal};

/// What the NUMA policy did for one VM (a shared page's decisions count
/// for the VM that mapped it first).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NumaStats {
    /// Hot-page notifications taken.
    pub hot_pages: u64,
    /// Pages migrated.
    pub migrations: u64,
    /// Replicas made.
    pub replications: u64,
    /// Replicated pages folded back into one writable page before a write.
    pub collapses: u64,
    /// Hot pages left where they were, by reason ([`Refusal::name`]).
    pub refused: BTreeMap<&'static str, u64>,
    /// Times a page was frozen for bouncing.
    pub freezes: u64,
    /// Cycles of all migrations (decision, copy, shootdown, bookkeeping).
    pub migrate_cycles: u64,
    /// Cycles of all replications.
    pub replicate_cycles: u64,
    /// Cycles of all collapses.
    pub collapse_cycles: u64,
    /// Cycles of hot pages that were left where they were.
    pub refuse_cycles: u64,
    /// TLB entries shot down by migrations and replications.
    pub shootdowns: u64,
    /// Interrupts sent to other CPUs holding such entries.
    pub ipis: u64,
}

impl NumaStats {
    /// Adds `o`'s figures to these.
    pub fn add(&mut self, o: &NumaStats) {
        self.hot_pages += o.hot_pages;
        self.migrations += o.migrations;
        self.replications += o.replications;
        self.collapses += o.collapses;
        for (k, v) in &o.refused {
            *self.refused.entry(k).or_default() += v;
        }
        self.freezes += o.freezes;
        self.migrate_cycles += o.migrate_cycles;
        self.replicate_cycles += o.replicate_cycles;
        self.collapse_cycles += o.collapse_cycles;
        self.refuse_cycles += o.refuse_cycles;
        self.shootdowns += o.shootdowns;
        self.ipis += o.ipis;
    }
}

/// A page's moving history, keyed by its current (master) machine page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct History {
    /// Migrations in the current reset interval.
    moves: u32,
    /// Migrations and collapses, halved every interval.
    score: u32,
    /// Frozen until this interval (exclusive).
    frozen_until: u64,
}

/// The policy's state in the monitor.
#[derive(Debug)]
pub(crate) struct NumaState {
    pub cfg: NumaConfig,
    /// Reset intervals since the start.
    interval: u64,
    /// Cycle of the next counter reset.
    next_reset: u64,
    /// Cycles per reset interval.
    reset_cycles: u64,
    history: BTreeMap<u64, History>,
    /// Work done on CPUs that had no vCPU loaded.
    pub unattributed_cycles: u64,
    /// Memory stall cycles of the copy being charged.
    copy_stall: u64,
}

impl NumaState {
    pub(crate) fn new(cfg: NumaConfig, cpu_hz: u64, now: u64) -> Self {
        let reset_cycles = ((cfg.reset_interval_ms * cpu_hz as f64 / 1000.0) as u64).max(1);
        NumaState {
            cfg,
            interval: 0,
            next_reset: now + reset_cycles,
            reset_cycles,
            history: BTreeMap::new(),
            unattributed_cycles: 0,
            copy_stall: 0,
        }
    }

    /// Starts a new reset interval: move scores halve, counts restart.
    fn new_interval(&mut self) {
        self.interval += 1;
        let now = self.interval;
        self.history.retain(|_, h| {
            h.moves = 0;
            h.score /= 2;
            h.score > 0 || h.frozen_until > now
        });
    }

    fn history(&self, page: u64) -> History {
        self.history.get(&page).copied().unwrap_or_default()
    }

    fn frozen(&self, page: u64) -> bool {
        self.history(page).frozen_until > self.interval
    }

    /// The page at `old` now lives at `new` (its history follows it), and
    /// moved once more; true if that froze it.
    fn moved(&mut self, old: u64, new: u64, migration: bool) -> bool {
        let mut h = self.history.remove(&old).unwrap_or_default();
        if migration {
            h.moves += 1;
        }
        h.score += 1;
        let freeze = h.score >= self.cfg.freeze_after && h.frozen_until <= self.interval;
        if freeze {
            h.frozen_until = self.interval + u64::from(self.cfg.freeze_intervals);
        }
        self.history.insert(new, h);
        freeze
    }
}

/// Who uses a hot page.
enum Owner {
    /// A VM's private page.
    Private(PageUser),
    /// A page several VMs map read-only.
    Shared(Vec<PageUser>),
}

impl Monitor {
    /// What the NUMA policy did for VM `vm`.
    pub fn numa_stats(&self, vm: usize) -> NumaStats {
        self.memory.numa.get(vm).cloned().unwrap_or_default()
    }

    /// After a slice: starts a new reset interval when one is due, then
    /// acts on the hot pages the machine reported.
    pub(crate) fn numa_tick(&mut self, m: &mut Machine) {
        // Collapses (on any write path) count toward their page's score.
        for (vm, master, kept) in std::mem::take(&mut self.memory.collapsed) {
            if self.numa.moved(master, kept, false) {
                self.memory.numa_mut(vm).freezes += 1;
                tracing::debug!(target: "monitor::numa", vm, "page {kept:#x} frozen for {} intervals: its replicas keep collapsing", self.numa.cfg.freeze_intervals);
            }
        }
        if !self.numa.cfg.enabled() {
            return;
        }
        if self.now >= self.numa.next_reset {
            m.devices.timing.counters_mut().reset_all();
            self.numa.new_interval();
            self.numa.next_reset = self.now + self.numa.reset_cycles;
        }
        for hot in m.devices.timing.take_hot_pages() {
            self.hot_page(m, hot);
        }
    }

    /// Decides about, and acts on, one hot page.
    fn hot_page(&mut self, m: &mut Machine, hot: HotPage) {
        let page = hot.page;
        let owner = match self.memory.memmap.kind(page) {
            PageKind::Private => Owner::Private(self.memory.memmap.user(page).expect("a user")),
            PageKind::Shared(_) => match self.memory.memmap.shared(page) {
                Some(s) if !s.users.is_empty() => Owner::Shared(s.users.clone()),
                // An unused disk-cache page: nobody to help.
                _ => return,
            },
            // Monitor memory, free pages, replicas (read locally).
            PageKind::Free | PageKind::Replica(_) => return,
        };
        let vm = match &owner {
            Owner::Private(u) => u.vm,
            Owner::Shared(users) => users[0].vm,
        };
        if self.vms[vm].state.ended() {
            return;
        }
        let Some(p) =
            (0..m.cpus.len()).find(|&c| m.devices.timing.node_of_cpu(c as u32) == hot.node)
        else {
            return;
        };
        let counters = m.devices.timing.counters();
        let counts: Vec<u32> = counters
            .page_counts(page)
            .map(<[u32]>::to_vec)
            .unwrap_or_default();
        let writes = counters.writes(page);
        let replica_nodes = self
            .memory
            .memmap
            .replicas(page)
            .iter()
            .filter(|r| r.node < 64)
            .fold(0u64, |mask, r| mask | 1 << r.node);
        let floor =
            self.memory.pages_on(hot.node) * u64::from(self.numa.cfg.min_free_percent) / 100;
        let facts = policy::PageFacts {
            counts: &counts,
            writes,
            hot_node: hot.node,
            home: self.memory.node_of_page(page),
            replica_nodes,
            shared: matches!(owner, Owner::Shared(_)),
            kernel_image: self.in_kernel_image(&owner, page),
            moves: self.numa.history(page).moves,
            frozen: self.numa.frozen(page),
            room: self.memory.free_pages_on(hot.node) > floor.max(1),
        };
        let decision = policy::decide(&self.numa.cfg, &facts);
        let home = facts.home;
        let start = m.cpus[p].cycles();
        let mut cycles = self.costs.numa_hot_page;
        let outcome = match decision {
            Ok(Action::Migrate) => match owner {
                Owner::Private(u) => self
                    .do_migrate(m, p, u, hot.node)
                    .map(|c| (Action::Migrate, c)),
                Owner::Shared(_) => Err(NotMoved::NotMovable),
            },
            Ok(Action::Replicate) => self
                .do_replicate(m, p, page, &owner, hot.node)
                .map(|c| (Action::Replicate, c)),
            Err(r) => {
                self.refuse(vm, r);
                tracing::debug!(target: "monitor::numa", vm, "hot page {page:#x} on node {home} from node {}: counts {counts:?} writes {writes} -> left ({})", hot.node, r.name());
                self.numa_charge(m, p, cycles, 0);
                self.memory.numa_mut(vm).refuse_cycles += cycles;
                return;
            }
        };
        let (action, work) = match outcome {
            Ok(done) => done,
            Err(e) => {
                let r = match e {
                    NotMoved::NoMemory => Refusal::NoMemory,
                    NotMoved::NotMovable => Refusal::NotMovable,
                };
                self.refuse(vm, r);
                self.numa_charge(m, p, cycles, 0);
                self.memory.numa_mut(vm).refuse_cycles += cycles;
                return;
            }
        };
        cycles += work;
        let stall = std::mem::take(&mut self.numa.copy_stall);
        self.numa_charge(m, p, cycles, stall);
        let stats = self.memory.numa_mut(vm);
        stats.hot_pages += 1;
        match action {
            Action::Migrate => {
                stats.migrations += 1;
                stats.migrate_cycles += cycles;
            }
            Action::Replicate => {
                stats.replications += 1;
                stats.replicate_cycles += cycles;
            }
        }
        let us = cycles as f64 / m.clock().hz() as f64 * 1e6;
        tracing::debug!(target: "monitor::numa", vm, cpu = p, "hot page {page:#x} on node {home} from node {}: counts {counts:?} writes {writes} -> {} to node {} ({cycles} cycles, {us:.1} us, from cycle {start})", hot.node, match action { Action::Migrate => "migrate", Action::Replicate => "replicate" }, hot.node);
    }

    /// True when `page` belongs to a guest kernel's image.
    fn in_kernel_image(&self, owner: &Owner, page: u64) -> bool {
        match owner {
            Owner::Private(u) => self.vms[u.vm]
                .kernel_image
                .is_some_and(|(first, end)| (first..end).contains(&u.guest_page)),
            Owner::Shared(_) => matches!(
                self.memory.memmap.kind(page),
                PageKind::Shared(crate::memory::memmap::SharedKind::KernelText { .. })
            ),
        }
    }

    /// Counts a refusal for VM `vm`.
    fn refuse(&mut self, vm: usize, r: Refusal) {
        let stats = self.memory.numa_mut(vm);
        stats.hot_pages += 1;
        *stats.refused.entry(r.name()).or_default() += 1;
    }

    /// Migrates private page `u` to `node` on CPU `p`; the cycles of the
    /// copy and the shootdown.
    fn do_migrate(
        &mut self,
        m: &mut Machine,
        p: usize,
        u: PageUser,
        node: u32,
    ) -> Result<u64, NotMoved> {
        let vm = &mut self.vms[u.vm];
        let (old, new) = self
            .memory
            .migrate(&mut m.mem, &mut vm.pmap, u.vm, u.guest_page, node)?;
        let mut cycles = self.costs.migrate + self.copy_cycles(m, p, old, new);
        cycles += self.numa_shoot_down(m, p, u);
        let counters = m.devices.timing.counters_mut();
        counters.reset_page(old);
        counters.reset_page(new);
        if self.numa.moved(old, new, true) {
            self.memory.numa_mut(u.vm).freezes += 1;
            tracing::debug!(target: "monitor::numa", vm = u.vm, "page {new:#x} frozen for {} intervals: it bounces", self.numa.cfg.freeze_intervals);
        }
        Ok(cycles)
    }

    /// Replicates `page` to `node` on CPU `p`; the cycles of the copy and
    /// the shootdowns.
    fn do_replicate(
        &mut self,
        m: &mut Machine,
        p: usize,
        page: u64,
        owner: &Owner,
        node: u32,
    ) -> Result<u64, NotMoved> {
        let pmap = match owner {
            Owner::Private(u) => Some(&mut self.vms[u.vm].pmap),
            Owner::Shared(_) => None,
        };
        let (copy, users) = self.memory.replicate(&mut m.mem, pmap, page, node)?;
        let mut cycles = self.costs.replicate + self.copy_cycles(m, p, page, copy);
        for u in users {
            cycles += self.numa_shoot_down(m, p, u);
        }
        let counters = m.devices.timing.counters_mut();
        counters.reset_page(page);
        counters.reset_page(copy);
        Ok(cycles)
    }

    /// Cycles CPU `p` takes to copy machine page `from` to `to`: 512
    /// doubleword loads and stores, each one cycle, plus (in detailed
    /// timing) what each costs in the memory system.
    fn copy_cycles(&mut self, m: &mut Machine, p: usize, from: u64, to: u64) -> u64 {
        const WORDS: u64 = 4096 / 8;
        if m.timing_mode() != TimingMode::Detailed {
            return 2 * WORDS;
        }
        let timing = &mut m.devices.timing;
        let mut now = m.cpus[p].cycles();
        let start = now;
        for w in 0..WORDS {
            for (pa, kind) in [
                ((from << 12) + 8 * w, Access::Load),
                ((to << 12) + 8 * w, Access::Store),
            ] {
                now += 1 + u64::from(timing.access(p as u32, pa, kind, now));
            }
        }
        now - start
    }

    /// Shoots down every TLB entry mapping `u`'s page on every CPU: CPU
    /// `p` pays per entry, every other CPU that held one pays an
    /// interrupt. Returns `p`'s cycles.
    fn numa_shoot_down(&mut self, m: &mut Machine, p: usize, u: PageUser) -> u64 {
        let dropped = self.shoot_down_each(m, u.vm, u.guest_page);
        for (q, _) in dropped
            .iter()
            .enumerate()
            .filter(|&(q, &n)| n > 0 && q != p)
        {
            let ipi = self.costs.ipi;
            self.numa_charge(m, q, ipi, 0);
            self.memory.numa_mut(u.vm).ipis += 1;
        }
        let total = dropped.iter().sum::<usize>() as u64;
        self.memory.numa_mut(u.vm).shootdowns += total;
        total * self.costs.shootdown
    }

    /// Charges `cycles` of NUMA work (`stall` of them memory stalls) to
    /// physical CPU `p` and the vCPU it runs (if any).
    fn numa_charge(&mut self, m: &mut Machine, p: usize, cycles: u64, stall: u64) {
        let cpu = &mut m.cpus[p];
        match self.pcpus[p].current {
            Some((vi, ci)) => {
                let v = &mut self.vms[vi].vcpus[ci];
                account(v, cpu.cycles());
                cpu.spend_cycles(cycles);
                v.stats.charge(Work::Numa, cycles);
                v.stats.monitor_stall_cycles += stall;
                v.mark = cpu.cycles();
            }
            None => {
                cpu.spend_cycles(cycles);
                self.numa.unattributed_cycles += cycles;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_that_bounce_are_frozen_then_melt() {
        let cfg = NumaConfig {
            freeze_after: 3,
            freeze_intervals: 2,
            ..NumaConfig::default()
        };
        let mut s = NumaState::new(cfg, 400_000_000, 0);
        assert_eq!(s.reset_cycles, 40_000_000, "100 ms at 400 MHz");
        // Two migrations in one interval: the move count follows the page.
        assert!(!s.moved(10, 11, true));
        assert_eq!(s.history(11).moves, 1);
        assert_eq!(s.history(10), History::default());
        assert!(!s.moved(11, 12, true));
        s.new_interval();
        assert_eq!(s.history(12).moves, 0, "counted per interval");
        assert_eq!(s.history(12).score, 1, "the score halves");
        // A collapse counts toward the score but is no migration.
        assert!(!s.moved(12, 12, false));
        assert!(
            s.moved(12, 13, true),
            "the third move in a short time freezes it"
        );
        assert!(s.frozen(13));
        s.new_interval();
        assert!(s.frozen(13));
        s.new_interval();
        assert!(!s.frozen(13), "it melts after freeze_intervals");
        for _ in 0..4 {
            s.new_interval();
        }
        assert!(s.history.is_empty(), "quiet pages are forgotten");
    }
}
