//! Kernel-service attribution in a VM (the paper's Table 2, "Relative
//! Execution Time on Disco").
//!
//! A guest *service* is what entered the guest kernel from guest user mode
//! until it returned there, as on the bare machine ([`mips::services`]):
//!
//! * it **starts** when the monitor delivers an exception to the guest
//!   kernel ([`mips::Cpu::take_exception`] on the shadow: a reflected
//!   system call, TLB exception, address error ..., or a virtual interrupt)
//!   while the vCPU is in guest user mode; the key is the exception's
//!   (`$v0` for a `syscall`, `tlb-refill` for a TLB miss sent to the
//!   guest's refill vector);
//! * it **ends** when the monitor leaves a trap with the vCPU back in guest
//!   user mode: the emulated `eret` (also the one emulated right after a
//!   TLB write in the same trap);
//! * a TLB miss from user mode that the monitor refills from the l2tlb
//!   without the guest is a complete `tlb-refill` service, entered and left
//!   in the monitor.
//!
//! At the start the vCPU's [`VcpuStats`] are snapshot (after its user time
//! is accounted, before the trap's own cost is charged); at the end (after
//! the trap's cost is charged) the deltas are added to the service's
//! entry. The paper's five columns are formed from them as follows
//! ([`ServiceSplit::columns`]); the JSON keeps every raw delta.
//!
//! | Table 2 column | deltas of |
//! |---|---|
//! | Kernel Exec | `kernel_cycles` (guest kernel instructions and their memory stalls) |
//! | TLB Writes | `tlb_write_cycles` + `l2tlb_refill_cycles` (the monitor writing the hardware TLB for the guest: emulated `tlbwr`/`tlbwi`, and refills from the l2tlb — the paper's UTLB-MISS row, mostly served by the l2tlb, is almost all "TLB Writes") |
//! | Other Privs | `other_priv_cycles` + `reflect_cycles` (emulating privileged instructions, `eret` included, and the hardware's exception entry on the virtual CP0 — the paper's QUICK-FAULT, a reflected refill, shows no monitor services) |
//! | Monitor Services | `services_cycles` (device emulation, backing and zeroing memory) and `numa_cycles` (page migration and replication) |
//! | Kernel TLB faults | `kernel_tlb_fault_cycles` |
//!
//! A service's `cycles` is the sum of the deltas (guest user time, which
//! is none, included; time waiting descheduled after `wait` excluded);
//! `wall_cycles` is the physical time from start to end, which also counts
//! waiting and other vCPUs' turns on the CPU.

use std::collections::BTreeMap;

use mips::ServiceKey;
use serde::Serialize;

use crate::cost::VcpuStats;

/// What a vCPU's services cost, per column.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ServiceSplit {
    /// Completed services.
    pub count: u64,
    /// Their accounted cycles: the sum of the deltas below.
    pub cycles: u64,
    /// Physical cycles from start to end.
    pub wall_cycles: u64,
    /// Guest kernel execution.
    pub kernel_cycles: u64,
    /// Guest user execution (none: a service ends on the return to user mode).
    pub user_cycles: u64,
    /// Emulating TLB writes.
    pub tlb_write_cycles: u64,
    /// Refilling the TLB from the l2tlb.
    pub l2tlb_refill_cycles: u64,
    /// Emulating other privileged instructions.
    pub other_priv_cycles: u64,
    /// Reflecting exceptions and interrupts.
    pub reflect_cycles: u64,
    /// Device emulation and memory backing.
    pub services_cycles: u64,
    /// Kernel TLB faults.
    pub kernel_tlb_fault_cycles: u64,
    /// Page migration and replication (counted in Monitor Services).
    pub numa_cycles: u64,
    /// Waiting descheduled after `wait` (not in `cycles`).
    pub idle_cycles: u64,
}

/// The paper's five columns of one service's time, in cycles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Columns {
    /// Kernel Exec.
    pub kernel_exec: u64,
    /// TLB Writes.
    pub tlb_writes: u64,
    /// Other Privs.
    pub other_privs: u64,
    /// Monitor Services.
    pub monitor_services: u64,
    /// Kernel TLB faults.
    pub kernel_tlb_faults: u64,
}

impl Columns {
    /// The five columns together.
    pub fn total(&self) -> u64 {
        self.kernel_exec
            + self.tlb_writes
            + self.other_privs
            + self.monitor_services
            + self.kernel_tlb_faults
    }
}

impl ServiceSplit {
    /// Adds one service that ran from `before` to `after` (`wall` cycles).
    fn add_service(&mut self, before: &VcpuStats, after: &VcpuStats, wall: u64) {
        let mut one = ServiceSplit {
            count: 1,
            wall_cycles: wall,
            ..ServiceSplit::default()
        };
        macro_rules! delta {
            ($($f:ident),*) => { $(one.$f = after.$f.saturating_sub(before.$f);)* };
        }
        delta!(
            kernel_cycles,
            user_cycles,
            tlb_write_cycles,
            l2tlb_refill_cycles,
            other_priv_cycles,
            reflect_cycles,
            services_cycles,
            kernel_tlb_fault_cycles,
            numa_cycles,
            idle_cycles
        );
        // Every delta but idle's falls in exactly one column.
        one.cycles = one.columns().total();
        self.add(&one);
    }

    /// Adds `o`'s figures to these.
    pub fn add(&mut self, o: &ServiceSplit) {
        macro_rules! add {
            ($($f:ident),*) => { $(self.$f += o.$f;)* };
        }
        add!(
            count,
            cycles,
            wall_cycles,
            kernel_cycles,
            user_cycles,
            tlb_write_cycles,
            l2tlb_refill_cycles,
            other_priv_cycles,
            reflect_cycles,
            services_cycles,
            kernel_tlb_fault_cycles,
            numa_cycles,
            idle_cycles
        );
    }

    /// The paper's columns (see the module documentation).
    pub fn columns(&self) -> Columns {
        Columns {
            kernel_exec: self.kernel_cycles + self.user_cycles,
            tlb_writes: self.tlb_write_cycles + self.l2tlb_refill_cycles,
            other_privs: self.other_priv_cycles + self.reflect_cycles,
            monitor_services: self.services_cycles + self.numa_cycles,
            kernel_tlb_faults: self.kernel_tlb_fault_cycles,
        }
    }
}

/// A vCPU's service accounting.
#[derive(Clone, Debug, Default)]
pub struct VcpuServices {
    /// The service in progress: key, physical cycle and stats at its start.
    current: Option<(ServiceKey, u64, Box<VcpuStats>)>,
    counts: BTreeMap<ServiceKey, ServiceSplit>,
}

impl VcpuServices {
    /// The completed services.
    pub fn counts(&self) -> &BTreeMap<ServiceKey, ServiceSplit> {
        &self.counts
    }

    /// The service in progress.
    pub fn current(&self) -> Option<ServiceKey> {
        self.current.as_ref().map(|(k, ..)| *k)
    }

    /// Forgets everything (a measured region starts: a service in
    /// progress is not counted).
    pub fn reset(&mut self) {
        self.current = None;
        self.counts.clear();
    }

    /// Forgets the service in progress (the vCPU was reset).
    pub fn drop_current(&mut self) {
        self.current = None;
    }

    /// Service `key` starts at physical cycle `now` with the vCPU's
    /// statistics `stats`.
    pub(crate) fn enter(&mut self, key: ServiceKey, now: u64, stats: &VcpuStats) {
        self.current = Some((key, now, Box::new(stats.clone())));
    }

    /// The service in progress ends at `now` with statistics `stats`.
    pub(crate) fn exit(&mut self, now: u64, stats: &VcpuStats) {
        if let Some((key, start, before)) = self.current.take() {
            let wall = now.saturating_sub(start);
            self.counts
                .entry(key)
                .or_default()
                .add_service(&before, stats, wall);
        }
    }

    /// A complete service `key` (handled by the monitor alone) from
    /// `before` at `start` to `after` at `now`.
    pub(crate) fn record(
        &mut self,
        key: ServiceKey,
        start: u64,
        before: &VcpuStats,
        now: u64,
        after: &VcpuStats,
    ) {
        self.counts
            .entry(key)
            .or_default()
            .add_service(before, after, now.saturating_sub(start));
    }
}

/// One service's totals over a VM's vCPUs.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct VmServiceReport {
    /// Its name ([`machine::services::service_name`]).
    pub name: String,
    /// The figures.
    #[serde(flatten)]
    pub split: ServiceSplit,
    /// The paper's columns.
    pub columns: Columns,
}

/// The services of `vcpus` (those tracking), summed, most cycles first;
/// `None` when none tracks.
pub fn collect<'a>(
    vcpus: impl IntoIterator<Item = &'a crate::vcpu::Vcpu>,
) -> Option<Vec<VmServiceReport>> {
    let mut on = false;
    let mut sum: BTreeMap<ServiceKey, ServiceSplit> = BTreeMap::new();
    for t in vcpus.into_iter().filter_map(|v| v.services.as_deref()) {
        on = true;
        for (k, s) in t.counts() {
            sum.entry(*k).or_default().add(s);
        }
    }
    on.then(|| {
        let mut v: Vec<VmServiceReport> = sum
            .into_iter()
            .map(|(k, split)| VmServiceReport {
                name: machine::services::service_name(&k),
                columns: split.columns(),
                split,
            })
            .collect();
        v.sort_by(|a, b| {
            b.split
                .cycles
                .cmp(&a.split.cycles)
                .then_with(|| a.name.cmp(&b.name))
        });
        v
    })
}

/// A table of VM `name`'s `top` services: share of the VM's kernel time
/// (`kernel_cycles`: guest kernel plus monitor), count, average latency,
/// and its split into the paper's columns (average µs each) at `cpu_hz`.
pub fn table(
    name: &str,
    services: &[VmServiceReport],
    kernel_cycles: u64,
    cpu_hz: u64,
    top: usize,
) -> String {
    use machine::services::{avg_us, percent};
    use std::fmt::Write;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{name}: top kernel services (average µs; kern% of guest kernel + monitor time):"
    );
    let _ = writeln!(
        t,
        "  {:<22} {:>6} {:>9} {:>9} | {:>8} {:>8} {:>8} {:>8} {:>8}",
        "service", "kern%", "count", "avg", "kernel", "tlbwrite", "priv", "monsvc", "ktlbflt"
    );
    for s in services.iter().take(top) {
        let n = s.split.count;
        let us = |c: u64| avg_us(c, n, cpu_hz);
        let c = &s.columns;
        let _ = writeln!(
            t,
            "  {:<22} {:>6.1} {:>9} {:>9.3} | {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3}",
            s.name,
            percent(s.split.cycles, kernel_cycles),
            n,
            us(s.split.cycles),
            us(c.kernel_exec),
            us(c.tlb_writes),
            us(c.other_privs),
            us(c.monitor_services),
            us(c.kernel_tlb_faults),
        );
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_adds_the_deltas_and_the_columns_group_them() {
        let mut t = VcpuServices::default();
        let mut s = VcpuStats {
            kernel_cycles: 1000,
            idle_cycles: 7,
            ..VcpuStats::default()
        };
        t.enter(ServiceKey::Syscall(5000), 100, &s);
        assert_eq!(t.current(), Some(ServiceKey::Syscall(5000)));
        s.kernel_cycles += 50;
        s.reflect_cycles += 90;
        s.other_priv_cycles += 60;
        s.tlb_write_cycles += 120;
        s.l2tlb_refill_cycles += 80;
        s.services_cycles += 100;
        s.kernel_tlb_fault_cycles += 100;
        s.idle_cycles += 1000;
        t.exit(2000, &s);
        let r = &t.counts()[&ServiceKey::Syscall(5000)];
        assert_eq!(r.count, 1);
        assert_eq!(r.cycles, 600);
        assert_eq!(r.wall_cycles, 1900);
        assert_eq!(r.idle_cycles, 1000);
        let c = r.columns();
        assert_eq!(
            c,
            Columns {
                kernel_exec: 50,
                tlb_writes: 200,
                other_privs: 150,
                monitor_services: 100,
                kernel_tlb_faults: 100
            }
        );
        t.exit(3000, &s);
        assert_eq!(t.counts()[&ServiceKey::Syscall(5000)].count, 1);
        t.enter(ServiceKey::TlbRefill, 0, &s);
        t.reset();
        assert!(t.counts().is_empty() && t.current().is_none());
    }
}
