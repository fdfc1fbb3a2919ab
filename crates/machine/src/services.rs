//! Kernel services (the paper's Table 2) on the bare machine: names, and
//! the per-service counts of all CPUs ([`mips::services`] defines what a
//! service is and how a CPU counts it).

use std::collections::BTreeMap;

use mips::{Cpu, ServiceCount, ServiceKey};
use serde::Serialize;

use crate::syscalls_n64;

/// The name of n64 system call `n` (5000 = `read`), if it has one.
pub fn syscall_name(n: u64) -> Option<&'static str> {
    let i = n.checked_sub(syscalls_n64::BASE)?;
    syscalls_n64::NAMES
        .get(usize::try_from(i).ok()?)
        .copied()
        .filter(|s| !s.is_empty())
}

/// The name of a service: the system call's (`syscall-N` for an unknown
/// number), `tlb-refill`, `tlb-load`, `tlb-store`, `tlb-modify`,
/// `interrupt`, ...
pub fn service_name(key: &ServiceKey) -> String {
    key.name(syscall_name)
}

/// One service's totals over all CPUs.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ServiceReport {
    /// Its name ([`service_name`]).
    pub name: String,
    /// Times it ran (entered from user mode and returned to it).
    pub count: u64,
    /// Cycles from the exception to the end of the `eret` (memory stalls
    /// included, idle time excluded), summed.
    pub cycles: u64,
}

/// The services counted by `cpus` (those with tracking on), summed over
/// them, by name, most cycles first; `None` when no CPU tracks.
pub fn collect<'a>(cpus: impl IntoIterator<Item = &'a Cpu>) -> Option<Vec<ServiceReport>> {
    let mut on = false;
    let mut sum: BTreeMap<ServiceKey, ServiceCount> = BTreeMap::new();
    for t in cpus.into_iter().filter_map(Cpu::services) {
        on = true;
        for (k, c) in t.counts() {
            let s = sum.entry(*k).or_default();
            s.count += c.count;
            s.cycles += c.cycles;
        }
    }
    on.then(|| sorted(sum.iter().map(|(k, c)| (k, c.count, c.cycles))))
}

/// Service reports by name for (key, count, cycles), most cycles first
/// (then by name).
fn sorted<'a>(items: impl Iterator<Item = (&'a ServiceKey, u64, u64)>) -> Vec<ServiceReport> {
    let mut v: Vec<ServiceReport> = items
        .map(|(k, count, cycles)| ServiceReport {
            name: service_name(k),
            count,
            cycles,
        })
        .collect();
    v.sort_by(|a, b| b.cycles.cmp(&a.cycles).then_with(|| a.name.cmp(&b.name)));
    v
}

/// A table of the `top` services taking the most time: name, share of
/// `kernel_cycles` (all kernel time), count, average latency in µs at
/// `cpu_hz`.
pub fn table(services: &[ServiceReport], kernel_cycles: u64, cpu_hz: u64, top: usize) -> String {
    use std::fmt::Write;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "top kernel services (entered from user mode until the return to it):"
    );
    let _ = writeln!(
        t,
        "  {:<24} {:>7} {:>10} {:>12}",
        "service", "kern%", "count", "avg µs"
    );
    for s in services.iter().take(top) {
        let _ = writeln!(
            t,
            "  {:<24} {:>7.1} {:>10} {:>12.3}",
            s.name,
            percent(s.cycles, kernel_cycles),
            s.count,
            avg_us(s.cycles, s.count, cpu_hz)
        );
    }
    t
}

/// `part` as a percentage of `all` (0 when `all` is 0).
pub fn percent(part: u64, all: u64) -> f64 {
    if all == 0 {
        0.0
    } else {
        100.0 * part as f64 / all as f64
    }
}

/// Average of `cycles` over `count` events, in µs at `cpu_hz`.
pub fn avg_us(cycles: u64, count: u64, cpu_hz: u64) -> f64 {
    if count == 0 || cpu_hz == 0 {
        0.0
    } else {
        cycles as f64 / count as f64 * 1e6 / cpu_hz as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_call_names_come_from_the_n64_table() {
        assert_eq!(syscall_name(5000), Some("read"));
        assert_eq!(syscall_name(5001), Some("write"));
        assert_eq!(syscall_name(5038), Some("getpid"));
        assert_eq!(syscall_name(4999), None);
        assert_eq!(syscall_name(9999), None);
        assert_eq!(service_name(&ServiceKey::Syscall(5057)), "execve");
        assert_eq!(service_name(&ServiceKey::Syscall(7)), "syscall-7");
        assert_eq!(service_name(&ServiceKey::TlbRefill), "tlb-refill");
    }

    #[test]
    fn collect_is_none_without_tracking_and_sums_cpus() {
        let mut a = Cpu::new(0);
        let b = Cpu::new(1);
        assert_eq!(collect([&a, &b]), None);
        a.set_service_tracking(true);
        assert_eq!(collect([&a, &b]), Some(Vec::new()));
        let t = table(&[], 0, 400_000_000, 10);
        assert!(t.contains("service"));
        assert_eq!(avg_us(400, 1, 400_000_000), 1.0);
        assert_eq!(percent(1, 4), 25.0);
    }
}
