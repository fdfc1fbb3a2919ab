//! The paper's Table 2 from runs with kernel-service attribution
//! (`disco run --services`).
//!
//! The bare run's statistics list its services at the top (`services`:
//! `name`, `count`, `cycles` summed over the CPUs, from the exception that
//! entered the kernel from user mode to the `eret` back, memory stalls in,
//! idle out); the VM run's at `monitor.vms[0].services`, whose `cycles`
//! are the monitor's accounting of the same span (the guest kernel's
//! execution and the monitor's work for it, idle out) and whose `columns`
//! split them as the paper does (`crates/monitor/src/services.rs`).
//!
//! For each of the bare run's top services by cycles:
//!
//! * `kernel_time_pct = 100 * bare cycles / bare kernel time`, the kernel
//!   time being that of the run's breakdown ([`super::figure::breakdown`]:
//!   kernel + supervisor + their memory stalls);
//! * `latency_us = cycles / count / cpu_hz * 1e6` (bare and VM);
//! * `slowdown = VM latency / bare latency`;
//! * each column `= VM column cycles / VM count / bare latency`, so the
//!   columns sum to the slowdown (`other` keeps whatever the columns do
//!   not cover: zero when the monitor's accounting is consistent).
//!
//! The system time factor is `(VM guest kernel + monitor) / bare kernel`
//! over the whole measured region, as for Figure 6.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::exec::RunResult;
use super::figure::{breakdown, num};
use super::spec::{
    paper_names, Experiment, PaperService, ServiceColumns, PAPER_SYSTEM_TIME_FACTORS,
};

/// Rows of the table: the bare run's top services by kernel time.
pub const TOP: usize = 10;

/// One service's totals in a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceTotals {
    /// Its name.
    pub name: String,
    /// Times it ran.
    pub count: u64,
    /// Cycles, summed.
    pub cycles: f64,
    /// The VM's columns in cycles (zero for a bare run).
    pub columns: ServiceColumns,
}

/// The services of a run's statistics: the first VM's with `monitor`,
/// else the machine's. `None` if the statistics have none (a run without
/// `--services`).
pub fn services_of(stats: &Value) -> Option<Vec<ServiceTotals>> {
    let (list, vm) = match stats.get("monitor") {
        Some(m) => (m.get("vms")?.get(0)?.get("services")?, true),
        None => (stats.get("services")?, false),
    };
    Some(
        list.as_array()?
            .iter()
            .map(|s| {
                let c = s.get("columns").unwrap_or(&Value::Null);
                ServiceTotals {
                    name: s
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                        .to_string(),
                    count: s.get("count").and_then(Value::as_u64).unwrap_or(0),
                    cycles: num(s, "cycles"),
                    columns: if vm {
                        ServiceColumns {
                            kernel_exec: num(c, "kernel_exec"),
                            tlb_writes: num(c, "tlb_writes"),
                            other_privs: num(c, "other_privs"),
                            monitor_services: num(c, "monitor_services"),
                            kernel_tlb_faults: num(c, "kernel_tlb_faults"),
                        }
                    } else {
                        ServiceColumns::default()
                    },
                }
            })
            .collect(),
    )
}

/// One row of the table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceRow {
    /// Our name (`read`, `tlb-load`, ...).
    pub name: String,
    /// The paper's rows it corresponds to, roughly.
    pub paper_names: Vec<String>,
    /// Percent of the bare run's kernel time.
    pub kernel_time_pct: f64,
    /// Times it ran, bare.
    pub count: u64,
    /// Cycles, bare.
    pub cycles: f64,
    /// Average latency bare, µs.
    pub latency_us: f64,
    /// Times it ran in the VM (`None`: not at all).
    pub vm_count: Option<u64>,
    /// Cycles in the VM.
    pub vm_cycles: Option<f64>,
    /// Average latency in the VM, µs.
    pub vm_latency_us: Option<f64>,
    /// VM latency / bare latency.
    pub slowdown: Option<f64>,
    /// The slowdown split into the paper's columns (fractions of the bare
    /// latency).
    pub columns: Option<ServiceColumns>,
    /// `slowdown` minus the columns' sum (zero when consistent).
    pub other: Option<f64>,
}

/// The computed table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceTable {
    /// The workload.
    pub workload: String,
    /// What the numbers are.
    pub unit: String,
    /// The simulated CPU's clock (the bare run's).
    pub cpu_hz: Option<f64>,
    /// The bare run's kernel time, cycles.
    pub bare_kernel_cycles: Option<f64>,
    /// Percent of the bare kernel time inside services (all of them, not
    /// only the rows); the rest is kernel time not entered from user mode
    /// (kernel threads, the idle path's kernel work ...).
    pub services_kernel_pct: Option<f64>,
    /// Services in the bare run.
    pub bare_services: usize,
    /// The rows: the bare run's top services by cycles.
    pub rows: Vec<ServiceRow>,
    /// (VM guest kernel + monitor) / bare kernel.
    pub system_time_factor: Option<f64>,
    /// The VM's execution time over bare, minus 1, in percent.
    pub overhead_pct: Option<f64>,
    /// The paper's system time factors, `(release, factor)`.
    pub paper_system_time_factors: Vec<(String, f64)>,
    /// What is missing, if anything (a failed run, no services).
    pub missing: Vec<String>,
    /// How to read it.
    pub notes: Vec<String>,
}

/// The notes printed under the table and kept in the JSON.
pub fn notes() -> Vec<String> {
    vec![
        "names: ours are Linux n64 system calls by name and exceptions; the paper's DEMAND-ZERO and QUICK-FAULT (page faults, QUICK-FAULT a slow TLB refill) are roughly our tlb-load / tlb-store, UTLB-MISS our tlb-refill, COPY-ON-WRITE our tlb-modify, open our openat".into(),
        "a service runs from the exception that entered the kernel from user mode to the return to user mode (interrupts taken meanwhile included, idle excluded); latency = cycles / count / cpu_hz".into(),
        "columns are fractions of the bare latency and sum to the slowdown: Kernel Exec (guest kernel), TLB Writes (emulated tlbwr/tlbwi + l2tlb refills), Other Privs (other privileged instructions + exception reflection), Monitor Services (device emulation, memory backing and zeroing), Kernel TLB Faults".into(),
        "the paper's numbers are IRIX 5.3 on SimOS (32 bit, 4 KB pages) unless marked IRIX 6.2; the text gives the whole table, copied as printed: its IRIX 5.3 write row's columns sum to 1.94, not to its slowdown 2.14 (every other row sums within 0.02)".into(),
    ]
}

fn stats_of(r: Option<&RunResult>) -> Option<&Value> {
    r.filter(|r| r.ok)?.stats.as_ref()
}

/// The table of `e` (its runs: one bare, one VM at cost scale 1) from
/// their results, in run order.
pub fn service_table(e: &Experiment, results: &[Option<RunResult>]) -> ServiceTable {
    let pick = |mode: &str| {
        e.runs
            .iter()
            .zip(results)
            .find(|(r, _)| r.labels.mode == mode && (mode == "bare" || r.labels.cost_scale == 1.0))
            .and_then(|(_, res)| stats_of(res.as_ref()))
    };
    let workload = e
        .runs
        .first()
        .map(|r| r.labels.workload.clone())
        .unwrap_or_default();
    let bare = pick("bare");
    let vm = pick("vm");
    let mut missing = Vec::new();
    if bare.is_none() {
        missing.push("the bare run has no result".to_string());
    }
    if vm.is_none() {
        missing.push("the VM run has no result".to_string());
    }
    let bare_services = bare.and_then(services_of);
    let vm_services = vm.and_then(services_of);
    if bare.is_some() && bare_services.is_none() {
        missing.push("the bare run's statistics have no services (run without --services?)".into());
    }
    if vm.is_some() && vm_services.is_none() {
        missing.push("the VM run's statistics have no services (run without --services?)".into());
    }
    let cpu_hz = bare
        .or(vm)
        .and_then(|s| s.get("cpu_hz"))
        .and_then(Value::as_f64)
        .filter(|&h| h > 0.0);
    let bare_b = bare.map(breakdown);
    let vm_b = vm.map(breakdown);
    let bare_kernel = bare_b.as_ref().map(|b| b.kernel);
    let us = |cycles: f64, count: u64| match (cpu_hz, count) {
        (Some(hz), c) if c > 0 => cycles / c as f64 / hz * 1e6,
        _ => 0.0,
    };
    let pct = |cycles: f64| match bare_kernel {
        Some(k) if k > 0.0 => 100.0 * cycles / k,
        _ => 0.0,
    };
    let mut sorted = bare_services.clone().unwrap_or_default();
    sorted.sort_by(|a, b| b.cycles.total_cmp(&a.cycles).then(a.name.cmp(&b.name)));
    let rows = sorted
        .iter()
        .take(TOP)
        .map(|s| {
            let v = vm_services
                .as_ref()
                .and_then(|l| l.iter().find(|v| v.name == s.name && v.count > 0));
            let bare_lat = if s.count > 0 {
                s.cycles / s.count as f64
            } else {
                0.0
            };
            // Per-service cycles in the VM over the bare latency.
            let rel = |x: f64, n: u64| {
                if bare_lat > 0.0 {
                    x / n as f64 / bare_lat
                } else {
                    0.0
                }
            };
            let slowdown = v.map(|v| rel(v.cycles, v.count));
            let columns = v.map(|v| ServiceColumns {
                kernel_exec: rel(v.columns.kernel_exec, v.count),
                tlb_writes: rel(v.columns.tlb_writes, v.count),
                other_privs: rel(v.columns.other_privs, v.count),
                monitor_services: rel(v.columns.monitor_services, v.count),
                kernel_tlb_faults: rel(v.columns.kernel_tlb_faults, v.count),
            });
            ServiceRow {
                name: s.name.clone(),
                paper_names: paper_names(&s.name).iter().map(|n| n.to_string()).collect(),
                kernel_time_pct: pct(s.cycles),
                count: s.count,
                cycles: s.cycles,
                latency_us: us(s.cycles, s.count),
                vm_count: v.map(|v| v.count),
                vm_cycles: v.map(|v| v.cycles),
                vm_latency_us: v.map(|v| us(v.cycles, v.count)),
                slowdown,
                other: slowdown.zip(columns).map(|(s, c)| s - c.sum()),
                columns,
            }
        })
        .collect();
    let system_time_factor = vm_b
        .as_ref()
        .zip(bare_b.as_ref())
        .and_then(|(v, b)| v.system_time_factor(b));
    let overhead_pct = match (&bare_b, &vm_b) {
        (Some(b), Some(v)) if b.total > 0.0 => Some(100.0 * (v.total / b.total - 1.0)),
        _ => None,
    };
    ServiceTable {
        workload,
        unit: "latency in µs of simulated time; slowdown and columns relative to the bare latency"
            .into(),
        cpu_hz,
        bare_kernel_cycles: bare_kernel,
        services_kernel_pct: bare_services
            .as_ref()
            .map(|l| pct(l.iter().map(|s| s.cycles).sum())),
        bare_services: bare_services.as_ref().map_or(0, Vec::len),
        rows,
        system_time_factor,
        overhead_pct,
        paper_system_time_factors: PAPER_SYSTEM_TIME_FACTORS
            .iter()
            .map(|(r, f)| (r.to_string(), *f))
            .collect(),
        missing,
        notes: notes(),
    }
}

fn opt(v: Option<f64>, prec: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.prec$}"))
}

/// A latency in µs with sensible digits.
fn micros(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

const HEADER_COLS: &str = " kern   tlbw  privs  monsv  ktlbf";

fn columns_text(c: Option<&ServiceColumns>) -> String {
    match c {
        Some(c) => c
            .parts()
            .iter()
            .map(|(_, v)| format!("{v:>5.2}"))
            .collect::<Vec<_>>()
            .join("  "),
        None => format!("{:>5}  {:>5}  {:>5}  {:>5}  {:>5}", "-", "-", "-", "-", "-"),
    }
}

/// The paper's slowdowns for our row: `DEMAND-ZERO 1.42, QUICK-FAULT 3.17`.
fn paper_for(row: &ServiceRow, paper: &[PaperService]) -> String {
    row.paper_names
        .iter()
        .filter_map(|n| {
            paper
                .iter()
                .find(|p| p.release == "IRIX 5.3" && p.name == *n)
                .or_else(|| paper.iter().find(|p| p.name == *n))
                .map(|p| {
                    let rel = if p.release == "IRIX 5.3" {
                        String::new()
                    } else {
                        format!(" ({})", p.release)
                    };
                    format!("{} {:.2}{rel}", p.name, p.slowdown)
                })
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The table as text, the paper's beside ours.
pub fn table(e: &Experiment, t: &ServiceTable) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}: top kernel services of {}, bare and in one VM; slowdown = VM latency / bare latency, split into kern(el exec), TLB w(rites), other priv(ilege)s, mon(itor) s(er)v(ices), k(ernel) TLB f(aults)",
        e.name, t.workload
    );
    let _ = writeln!(
        s,
        "{:<14} {:>6} {:>8} {:>9} | {:>8} {:>9} {:>8}  {HEADER_COLS}  paper (IRIX 5.3)",
        "service", "%kern", "count", "avg µs", "vm count", "vm avg µs", "slowdown"
    );
    for r in &t.rows {
        let _ = writeln!(
            s,
            "{:<14} {:>5.1}% {:>8} {:>9} | {:>8} {:>9} {:>8}  {}  {}",
            r.name,
            r.kernel_time_pct,
            r.count,
            micros(r.latency_us),
            r.vm_count.map_or("-".into(), |c| c.to_string()),
            r.vm_latency_us.map_or("-".into(), micros),
            opt(r.slowdown, 2),
            columns_text(r.columns.as_ref()),
            paper_for(r, &e.paper_services)
        );
    }
    if t.rows
        .iter()
        .any(|r| r.other.is_some_and(|o| o.abs() > 0.005))
    {
        let _ = writeln!(
            s,
            "note: for some rows the columns do not sum to the slowdown (see `other` in the JSON)"
        );
    }
    let paper_factors = t
        .paper_system_time_factors
        .iter()
        .map(|(r, f)| format!("x{f:.2} {r}"))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(
        s,
        "system time (guest kernel + monitor) / bare kernel: {} (paper: {paper_factors}); execution time {} (paper: +16% IRIX 5.3, +6% IRIX 6.2)",
        t.system_time_factor
            .map_or("-".into(), |f| format!("x{f:.2}")),
        t.overhead_pct.map_or("-".into(), |o| format!("{o:+.1}%")),
    );
    if let Some(p) = t.services_kernel_pct {
        let _ = writeln!(
            s,
            "services: {} in the bare run, {p:.1}% of its kernel time (the top {} above: {:.1}%)",
            t.bare_services,
            t.rows.len(),
            t.rows.iter().map(|r| r.kernel_time_pct).sum::<f64>()
        );
    }
    for m in &t.missing {
        let _ = writeln!(s, "MISSING: {m}");
    }
    let mut release = "";
    for p in &e.paper_services {
        if p.release != release {
            release = &p.release;
            let _ = writeln!(s, "paper, Table 2, {release}:");
        }
        let _ = writeln!(
            s,
            "{:<14} {:>5.0}% {:>8} {:>9} | {:>8} {:>9} {:>8.2}  {}",
            p.name,
            p.kernel_time_pct,
            p.count,
            micros(p.latency_us),
            "",
            "",
            p.slowdown,
            columns_text(Some(&p.columns)),
        );
    }
    for n in &t.notes {
        let _ = writeln!(s, "note: {n}");
    }
    s
}
