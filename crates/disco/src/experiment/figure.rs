//! From run statistics to the bars of a figure.
//!
//! Where the time of a run went, in simulated cycles summed over the
//! physical CPUs (for one CPU: the run's execution time):
//!
//! * **bare** (the machine's `cpus[]`, `crates/machine/src/report.rs`):
//!   `user = user + stall_user`, `kernel = kernel + supervisor +
//!   stall_kernel`, `idle = idle`; `total = cycles`. The machine counts
//!   memory stalls apart from the mode cycles; they are given back to the
//!   mode that stalled, as the paper's bars include memory stall time.
//!   (Statistics without `stall_user`/`stall_kernel` split
//!   `stall_local + stall_remote` in proportion to user and kernel cycles.)
//! * **VM** (the monitor's `monitor.vms[].total`,
//!   `crates/monitor/src/cost.rs`): `user = user_cycles`, `kernel =
//!   kernel_cycles` (guest time between traps, stalls included), `monitor
//!   = tlb_write_cycles + other_priv_cycles + services_cycles +
//!   kernel_tlb_fault_cycles + l2tlb_refill_cycles + reflect_cycles` (the
//!   cost table's charges plus, in detailed timing, the monitor's own
//!   simulated memory references), `idle = idle_cycles` (vCPUs waiting
//!   after `WAIT`); `total` = the physical CPUs' `cycles`.
//!
//! `other = total - (user + kernel + monitor + idle)`: time the
//! accounting does not attribute (near zero when it is consistent; it is
//! reported, never hidden). Bars are normalised to the bare run of the
//! same workload: its `total` is 100.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::exec::RunResult;
use super::spec::{Experiment, Run};

/// Simulated cycles by where they went.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Breakdown {
    /// Guest user code.
    pub user: f64,
    /// Guest kernel code.
    pub kernel: f64,
    /// The monitor.
    pub monitor: f64,
    /// Idle.
    pub idle: f64,
    /// Not attributed: `total` minus the others.
    pub other: f64,
    /// All cycles.
    pub total: f64,
}

impl Breakdown {
    /// System time (kernel + monitor) here over `bare`'s kernel time: the
    /// paper's "system time increases by a factor of 2.15".
    pub fn system_time_factor(&self, bare: &Breakdown) -> Option<f64> {
        (bare.kernel > 0.0).then(|| (self.kernel + self.monitor) / bare.kernel)
    }

    /// Each part divided by `base` and times 100.
    pub fn normalised(&self, base: f64) -> Breakdown {
        let n = |x: f64| if base > 0.0 { 100.0 * x / base } else { 0.0 };
        Breakdown {
            user: n(self.user),
            kernel: n(self.kernel),
            monitor: n(self.monitor),
            idle: n(self.idle),
            other: n(self.other),
            total: n(self.total),
        }
    }
}

/// The fields of a VM's `total` that are monitor time.
pub const MONITOR_FIELDS: [&str; 7] = [
    "tlb_write_cycles",
    "other_priv_cycles",
    "services_cycles",
    "kernel_tlb_fault_cycles",
    "l2tlb_refill_cycles",
    "reflect_cycles",
    "numa_cycles",
];

/// The number at `key` of a JSON object (0 when absent).
pub(super) fn num(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

/// The breakdown of a run's statistics JSON (see the module documentation
/// for the formulas).
pub fn breakdown(stats: &Value) -> Breakdown {
    let cpus: Vec<&Value> = stats
        .get("cpus")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let total: f64 = cpus.iter().map(|c| num(c, "cycles")).sum();
    let mut b = Breakdown {
        total,
        ..Breakdown::default()
    };
    if let Some(vms) = stats
        .get("monitor")
        .and_then(|m| m.get("vms"))
        .and_then(Value::as_array)
    {
        for vm in vms {
            let t = vm.get("total").unwrap_or(&Value::Null);
            b.user += num(t, "user_cycles");
            b.kernel += num(t, "kernel_cycles");
            b.idle += num(t, "idle_cycles");
            b.monitor += MONITOR_FIELDS.iter().map(|k| num(t, k)).sum::<f64>();
        }
    } else {
        for c in &cpus {
            let user = num(c, "user");
            let kernel = num(c, "kernel") + num(c, "supervisor");
            let (su, sk) = if c.get("stall_user").is_some() {
                (num(c, "stall_user"), num(c, "stall_kernel"))
            } else {
                let stall = num(c, "stall_local") + num(c, "stall_remote");
                let busy = user + kernel;
                let su = if busy > 0.0 { stall * user / busy } else { 0.0 };
                (su, stall - su)
            };
            b.user += user + su;
            b.kernel += kernel + sk;
            b.idle += num(c, "idle");
        }
    }
    b.other = b.total - (b.user + b.kernel + b.monitor + b.idle);
    b
}

/// Whether the statistics are those of a measured region the guest marked,
/// if the statistics say (`measured_region` or `measured` at the top).
pub fn measured_region(stats: &Value) -> Option<bool> {
    ["measured_region", "measured"]
        .iter()
        .find_map(|k| stats.get(*k).and_then(Value::as_bool))
}

/// What `NAME.json` keeps of a run's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The cache key.
    pub hash: String,
    /// Exit status 0 and statistics written.
    pub ok: bool,
    /// Exit status.
    pub exit_status: Option<i32>,
    /// Host seconds.
    pub host_seconds: f64,
    /// Simulated seconds since power-on.
    pub sim_seconds: Option<f64>,
    /// Timing mode at the end.
    pub timing_mode: Option<String>,
    /// Whether the statistics are those of a guest-marked measured region
    /// (`None`: the statistics do not say).
    pub measured_region: Option<bool>,
    /// Instructions, all CPUs.
    pub instructions: Option<f64>,
    /// Cycles by where they went.
    pub breakdown: Option<Breakdown>,
    /// For a failed run: the end of its output.
    pub failure: Option<String>,
}

/// The summary of `r`.
pub fn summarise(r: &RunResult) -> Summary {
    let stats = r.stats.as_ref();
    Summary {
        hash: r.hash.clone(),
        ok: r.ok,
        exit_status: r.exit_status,
        host_seconds: r.host_seconds,
        sim_seconds: stats
            .and_then(|s| s.get("sim_seconds"))
            .and_then(Value::as_f64),
        timing_mode: stats
            .and_then(|s| s.get("timing_mode"))
            .and_then(Value::as_str)
            .map(str::to_string),
        measured_region: stats.and_then(measured_region),
        instructions: stats
            .and_then(|s| s.get("cpus"))
            .and_then(Value::as_array)
            .map(|a| a.iter().map(|c| num(c, "instructions")).sum()),
        breakdown: if r.ok { stats.map(breakdown) } else { None },
        failure: (!r.ok).then(|| super::exec::tail(&r.output_tail, 1500)),
    }
}

/// One bar: a run normalised to its workload's bare run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    /// `bare` or `vm`.
    pub mode: String,
    /// Monitor cost scale.
    pub cost_scale: f64,
    /// Percent of the bare run's execution time.
    pub normalised: Breakdown,
}

impl Bar {
    /// Its label on the plot and in the table.
    pub fn label(&self) -> String {
        match self.mode.as_str() {
            "bare" => "bare".into(),
            "vm" => format!("vm x{}", self.cost_scale),
            other => other.into(),
        }
    }
}

/// One workload's bars.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkloadBars {
    /// The workload.
    pub workload: String,
    /// Bare first, then the VM runs in the experiment's order (bars of
    /// failed runs are missing).
    pub bars: Vec<Bar>,
    /// The VM's overhead at cost scale 1 in percent, if both ran.
    pub overhead_pct: Option<f64>,
    /// System time (kernel + monitor) in the VM at cost scale 1 over the
    /// bare kernel time (the paper: x2.15 for Pmake).
    pub system_time_factor: Option<f64>,
    /// The paper's VM bar (bare = 100), if the text gives it.
    pub paper_vm: Option<f64>,
}

/// The computed figure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// What the numbers are.
    pub unit: String,
    /// Per workload.
    pub workloads: Vec<WorkloadBars>,
}

/// The figure of `e` from its runs' summaries (in run order).
pub fn figure(e: &Experiment, summaries: &[Summary]) -> Figure {
    let mut order: Vec<&str> = Vec::new();
    for r in &e.runs {
        if !order.contains(&r.labels.workload.as_str()) {
            order.push(&r.labels.workload);
        }
    }
    let runs: Vec<(&Run, &Summary)> = e.runs.iter().zip(summaries).collect();
    let workloads = order
        .iter()
        .map(|&w| {
            let of_w: Vec<&(&Run, &Summary)> = runs
                .iter()
                .filter(|(r, _)| r.labels.workload == w)
                .collect();
            let bare = of_w
                .iter()
                .find(|(r, _)| r.labels.mode == "bare")
                .and_then(|(_, s)| s.breakdown.clone());
            let mut bars = Vec::new();
            if let Some(bare) = &bare {
                for (r, s) in &of_w {
                    if let Some(b) = &s.breakdown {
                        bars.push(Bar {
                            mode: r.labels.mode.clone(),
                            cost_scale: r.labels.cost_scale,
                            normalised: b.normalised(bare.total),
                        });
                    }
                }
            }
            let vm1 = bars
                .iter()
                .find(|b| b.mode == "vm" && b.cost_scale == 1.0)
                .map(|b| b.normalised.clone());
            let bare_n = bars
                .iter()
                .find(|b| b.mode == "bare")
                .map(|b| &b.normalised);
            let system_time_factor = vm1
                .as_ref()
                .zip(bare_n.as_ref())
                .and_then(|(v, b)| v.system_time_factor(b));
            WorkloadBars {
                workload: w.to_string(),
                overhead_pct: vm1.as_ref().map(|v| v.total - 100.0),
                system_time_factor,
                paper_vm: e
                    .paper
                    .iter()
                    .find(|p| p.workload == w)
                    .and_then(|p| p.vm_normalised),
                bars,
            }
        })
        .collect();
    Figure {
        unit: "percent of the bare run's execution time (simulated cycles, all CPUs)".into(),
        workloads,
    }
}

/// The figure as a table, with the paper's figures beside ours.
pub fn table(e: &Experiment, f: &Figure) -> String {
    use std::fmt::Write;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{}: execution time normalised to bare (bare = 100)",
        e.name
    );
    let _ = writeln!(
        t,
        "{:<12} {:<9} {:>7} {:>7} {:>7} {:>8} {:>7} {:>7}  paper",
        "workload", "run", "total", "user", "kernel", "monitor", "idle", "other"
    );
    for w in &f.workloads {
        if w.bars.is_empty() {
            let _ = writeln!(t, "{:<12} (no result: see the failed runs)", w.workload);
        }
        let paper = e.paper.iter().find(|p| p.workload == w.workload);
        for b in &w.bars {
            let n = &b.normalised;
            let p = match (b.mode.as_str(), b.cost_scale, paper) {
                ("bare", _, Some(_)) => "100".to_string(),
                ("vm", 1.0, Some(p)) => match p.vm_normalised {
                    Some(v) => format!("{v:.0} ({})", p.note),
                    None => p.note.clone(),
                },
                _ => String::new(),
            };
            let _ = writeln!(
                t,
                "{:<12} {:<9} {:>7.1} {:>7.1} {:>7.1} {:>8.1} {:>7.1} {:>7.1}  {}",
                w.workload,
                b.label(),
                n.total,
                n.user,
                n.kernel,
                n.monitor,
                n.idle,
                n.other,
                p
            );
        }
        if let (Some(o), Some(s)) = (w.overhead_pct, w.system_time_factor) {
            let _ = writeln!(
                t,
                "{:<12} overhead {o:+.1}% (paper: {}), system time (kernel + monitor) x{s:.2} of bare kernel",
                "",
                w.paper_vm
                    .map_or("not given".to_string(), |p| format!("{:+.0}%", p - 100.0))
            );
        }
    }
    t
}
