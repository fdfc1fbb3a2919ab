//! Figure 9 (§5.5): what dynamic page migration and replication do for
//! two parallel workloads on the ccNUMA machine.
//!
//! Each workload runs in four configurations of the same machine (one CPU
//! per node, 1 GiB, detailed timing in the measured region):
//!
//! | configuration | what runs | the paper's |
//! |---|---|---|
//! | `NUMA` | bare Linux, memory pages dealt round-robin to the nodes (`--interleave`) | IRIX on the NUMA machine (its local miss fractions, 16 % and 6 %, are those of uniform placement) |
//! | `Disco` | one VM spanning the machine, the NUMA policy on (the default) | Disco with migration and replication |
//! | `policy off` | the same VM with `--numa off`: first-touch placement and vCPU affinity only | not shown in the paper; it separates the policy's gain from Disco's placement |
//! | `UMA` | bare Linux on the machine with every miss at the local latency (`--uma`), pages interleaved as for `NUMA` (so that no node's controller is a hot spot) | the "optimistic UMA" lower bound |
//!
//! Workloads: **Engineering** is six copies of the engineering workload's
//! pair of simulators (Verilog and memory system: the paper's "six Verilog
//! simulations and six memory system simulations") on 8 CPUs;
//! **Raytrace** is the raytrace workload with 16 render threads on 16 CPUs
//! with a 256 KiB L2, as the paper ran it ("Raytrace's largest available
//! data set fully fits in a 1MB cache").
//!
//! Each run's time, summed over its CPUs, is split into instruction
//! execution, local stall, remote stall, monitor overhead and idle (the
//! monitor's own memory stalls count as monitor time; execution is the
//! rest, guest instructions at one cycle each), and
//! normalised to the `NUMA` run of its workload (100); the fraction of L2
//! misses served by the local node is given under each bar, with the
//! paper's. For the Disco runs the policy's migrations and replications per
//! second and their average latency are given beside the paper's Table 3.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::exec::RunResult;
use super::figure::num;
use super::spec::{summary, Experiment, FigureKind, Labels, Run, RunSpec};

/// The configurations, in the order of the bars.
pub const CONFIGS: [&str; 4] = ["NUMA", "Disco", "policy off", "UMA"];

/// The kernel argument that turns RCU stall warnings off (Raytrace runs).
pub const STALL_WARNINGS_OFF: &str = "rcupdate.rcu_cpu_stall_suppress=1";

/// Copies of the engineering pair in the Engineering run.
pub const ENGINEERING_COPIES: u32 = 6;

/// The paper's Figure 9 and Table 3 for one workload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PaperNuma {
    /// Workload.
    pub workload: String,
    /// Execution time (IRIX on NUMA = 100): Disco with the policy, UMA.
    pub disco: f64,
    /// UMA.
    pub uma: f64,
    /// Percent of misses served locally: IRIX, Disco, UMA.
    pub local_pct: [f64; 3],
    /// Migrations per second and their average latency, µs (Table 3).
    pub migrations: (f64, f64),
    /// Replications per second and their average latency, µs (Table 3).
    pub replications: (f64, f64),
}

/// The paper's figures (TOCS'97 Fig. 9; Table 3 from the SOSP'97 version).
pub fn paper() -> Vec<PaperNuma> {
    vec![
        PaperNuma {
            workload: "Engineering".into(),
            disco: 67.0,
            uma: 48.0,
            local_pct: [16.0, 78.0, 100.0],
            migrations: (2461.0, 67.0),
            replications: (2208.0, 57.0),
        },
        PaperNuma {
            workload: "Raytrace".into(),
            disco: 62.0,
            uma: 49.0,
            local_pct: [6.0, 76.0, 100.0],
            migrations: (909.0, 102.0),
            replications: (2671.0, 73.0),
        },
    ]
}

/// The guest command of the Engineering run: prepare the workload once,
/// copy it `copies` times, run every copy's pair side by side in the
/// measured region (detailed timing), then check each.
pub fn engineering_command(copies: u32, quick: bool) -> String {
    let scale = if quick { "quick" } else { "full" };
    format!(
        "W=/opt/disco/workloads/engineering; export WL=$W CPUS=1 SCALE={scale}; N={copies}; \
         sm() {{ devmem $((0xf0003000 + $1)) 32 $2; }}; \
         mkdir -p /tmp/e0 && WORKDIR=/tmp/e0 sh $W/prepare >/tmp/e0.prepare.log 2>&1 || {{ tail /tmp/e0.prepare.log; exit 1; }}; \
         i=1; while [ $i -le $N ]; do cp -a /tmp/e0 /tmp/e$i; i=$((i+1)); done; sync; \
         sm 0 1; sm 4 1; \
         i=1; while [ $i -le $N ]; do (WORKDIR=/tmp/e$i sh $W/run >/tmp/e$i.run.log 2>&1; echo $? >/tmp/e$i.status) & i=$((i+1)); done; wait; \
         sm 4 2; sm 0 0; \
         ok=0; i=1; while [ $i -le $N ]; do [ \"$(cat /tmp/e$i.status)\" = 0 ] && WORKDIR=/tmp/e$i sh $W/check >/dev/null 2>&1 && ok=$((ok+1)); i=$((i+1)); done; \
         echo \"engineering copies ok: $ok/$N\"; [ $ok = $N ]"
    )
}

/// The run of `workload` in configuration `config`.
fn config_run(workload: &str, config: &str, quick: bool) -> Run {
    let (cpus, exec, expect, l2) = match workload {
        "Engineering" => (
            8,
            engineering_command(ENGINEERING_COPIES, quick),
            format!("engineering copies ok: {ENGINEERING_COPIES}/{ENGINEERING_COPIES}"),
            None,
        ),
        // Shortcut: on 16 CPUs the bare Linux reports false RCU stalls (it
        // says "false positive?" itself) and then spins up to 10 s per stall
        // waiting for backtraces from the other CPUs, inside the measured
        // region; the warnings are turned off for every Raytrace run. (The
        // 8-CPU Engineering runs show no such spins.)
        _ => (
            16,
            format!(
                "/opt/disco/bin/workload raytrace --cpus 16{}",
                if quick { " --quick" } else { "" }
            ),
            "disco-workload: raytrace ok".to_string(),
            Some("256K".to_string()),
        ),
    };
    let mut spec = RunSpec::bare(&exec);
    spec.cpus = cpus;
    spec.nodes = cpus;
    spec.rootfs = true;
    spec.mem = "1G".into();
    spec.expect = Some(expect);
    spec.max_time = Some(3600.0);
    spec.l2 = l2;
    if cpus == 16 {
        spec.append = Some(STALL_WARNINGS_OFF.into());
    }
    match config {
        "NUMA" => spec.interleave = true,
        // A bus-based UMA has no node controller to be a hot spot: its
        // memory is spread like the NUMA run's.
        "UMA" => {
            spec.uma = true;
            spec.interleave = true;
        }
        "Disco" | "policy off" => {
            spec.vm = true;
            spec.vcpus = cpus;
            if config == "policy off" {
                spec.numa = Some("off".into());
            }
        }
        other => unreachable!("no configuration {other}"),
    }
    Run {
        spec,
        labels: Labels {
            workload: workload.into(),
            mode: config.into(),
            cost_scale: 1.0,
        },
    }
}

/// The experiment.
pub fn fig9(quick: bool) -> Experiment {
    let runs = ["Engineering", "Raytrace"]
        .iter()
        .flat_map(|w| CONFIGS.iter().map(move |c| config_run(w, c, quick)))
        .collect();
    Experiment {
        name: "fig9".into(),
        summary: summary("fig9"),
        title: "NUMA: migration and replication (Fig. 9)".into(),
        quick,
        runs,
        figure: FigureKind::NumaBreakdown,
        paper: Vec::new(),
        paper_source: "Bugnion et al., TOCS 1997, §5.5 Fig. 9 (IRIX 5.3 on a simulated FLASH, 300/900 ns); Table 3 of the SOSP'97 version".into(),
        paper_services: Vec::new(),
    }
}

/// What the NUMA policy did in a run, per simulated second of its region.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicyFigures {
    /// Migrations per second.
    pub migrations_per_s: f64,
    /// Average migration latency, µs.
    pub migrate_us: f64,
    /// Replications per second.
    pub replications_per_s: f64,
    /// Average replication latency, µs.
    pub replicate_us: f64,
    /// Collapses per second.
    pub collapses_per_s: f64,
    /// Hot pages taken per second.
    pub hot_pages_per_s: f64,
    /// Hot pages left, by reason.
    pub refused: Value,
}

/// One bar: a run's time split, normalised to its workload's NUMA run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NumaBar {
    /// Workload.
    pub workload: String,
    /// Configuration ([`CONFIGS`]).
    pub config: String,
    /// The run succeeded (else the figures are missing).
    pub ok: bool,
    /// Simulated seconds of its measured region.
    pub seconds: Option<f64>,
    /// Parts, normalised (NUMA = 100 in all): instruction execution,
    /// local stall, remote stall, monitor, idle.
    pub parts: Option<[f64; 5]>,
    /// Their sum.
    pub total: Option<f64>,
    /// Fraction of L2 misses served by the local node.
    pub local_fraction: Option<f64>,
    /// The policy's work (Disco runs).
    pub policy: Option<PolicyFigures>,
}

/// The figure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NumaFigure {
    /// Ours.
    pub bars: Vec<NumaBar>,
    /// The paper's.
    pub paper: Vec<PaperNuma>,
}

/// Cycles of a run's statistics, summed over the CPUs: total, execution,
/// local stall, remote stall, monitor, idle; and the local fraction.
fn split(stats: &Value) -> Option<([f64; 6], Option<f64>)> {
    let cpus = stats.get("cpus")?.as_array()?;
    let sum = |k: &str| cpus.iter().map(|c| num(c, k)).sum::<f64>();
    let caches = |k: &str| {
        cpus.iter()
            .map(|c| c.get("caches").map_or(0.0, |s| num(s, k)))
            .sum::<f64>()
    };
    let vms = stats
        .get("monitor")
        .and_then(|m| m.get("vms"))
        .and_then(Value::as_array);
    let over_vms = |f: &dyn Fn(&Value) -> f64| {
        vms.map_or(0.0, |vms| {
            vms.iter()
                .map(|vm| f(vm.get("total").unwrap_or(&Value::Null)))
                .sum()
        })
    };
    let monitor = over_vms(&|t| {
        super::figure::MONITOR_FIELDS
            .iter()
            .map(|k| num(t, k))
            .sum()
    });
    // The monitor's own memory stalls are in its time and in the machine's
    // stall counts: taken out of the latter, in proportion.
    let monitor_stall = over_vms(&|t| num(t, "monitor_stall_cycles"));
    let (total, idle) = (sum("cycles"), sum("idle"));
    let (mut local, mut remote) = (sum("stall_local"), sum("stall_remote"));
    if local + remote > 0.0 {
        let keep = (1.0 - monitor_stall / (local + remote)).max(0.0);
        local *= keep;
        remote *= keep;
    }
    let exec = (total - idle - local - remote - monitor).max(0.0);
    let misses = caches("l2_misses");
    let fraction = (misses > 0.0).then(|| (caches("mem_local") + caches("cache_local")) / misses);
    Some(([total, exec, local, remote, monitor, idle], fraction))
}

/// The policy's figures of a run over `seconds` of simulated time.
fn policy(stats: &Value, seconds: f64) -> Option<PolicyFigures> {
    let t = stats.get("monitor")?.get("numa")?.get("total")?;
    let hz = num(stats, "cpu_hz").max(1.0);
    let per_s = |k: &str| num(t, k) / seconds.max(1e-9);
    let us = |cycles: &str, n: &str| {
        let n = num(t, n);
        if n > 0.0 {
            num(t, cycles) / n / hz * 1e6
        } else {
            0.0
        }
    };
    Some(PolicyFigures {
        migrations_per_s: per_s("migrations"),
        migrate_us: us("migrate_cycles", "migrations"),
        replications_per_s: per_s("replications"),
        replicate_us: us("replicate_cycles", "replications"),
        collapses_per_s: per_s("collapses"),
        hot_pages_per_s: per_s("hot_pages"),
        refused: t.get("refused").cloned().unwrap_or(Value::Null),
    })
}

/// The figure from the runs' results.
pub fn figure(e: &Experiment, results: &[Option<RunResult>]) -> NumaFigure {
    let stats = |r: &Option<RunResult>| r.as_ref().filter(|r| r.ok).and_then(|r| r.stats.clone());
    let mut bars = Vec::new();
    for (run, r) in e.runs.iter().zip(results) {
        let base = e
            .runs
            .iter()
            .zip(results)
            .find(|(b, _)| b.labels.workload == run.labels.workload && b.labels.mode == "NUMA")
            .and_then(|(_, r)| split(&stats(r)?))
            .map(|(c, _)| c[0]);
        let s = stats(r);
        let parts = s.as_ref().and_then(split);
        let seconds = parts.as_ref().map(|(c, _)| {
            c[0] / f64::from(run.spec.cpus)
                / num(s.as_ref().unwrap_or(&Value::Null), "cpu_hz").max(1.0)
        });
        let normalised = match (&parts, base) {
            (Some((c, _)), Some(b)) if b > 0.0 => {
                Some([c[1], c[2], c[3], c[4], c[5]].map(|x| 100.0 * x / b))
            }
            _ => None,
        };
        bars.push(NumaBar {
            workload: run.labels.workload.clone(),
            config: run.labels.mode.clone(),
            ok: s.is_some(),
            seconds,
            total: normalised.map(|p| p.iter().sum()),
            parts: normalised,
            // On the UMA machine every miss takes the local latency: all
            // local, as the paper counts them (its home node is no longer
            // what decides).
            local_fraction: if run.spec.uma {
                parts.as_ref().map(|_| 1.0)
            } else {
                parts.as_ref().and_then(|(_, f)| *f)
            },
            policy: match (&s, seconds) {
                (Some(s), Some(sec)) if run.spec.vm => policy(s, sec),
                _ => None,
            },
        });
    }
    NumaFigure {
        bars,
        paper: paper(),
    }
}

/// The table printed after the runs.
pub fn table(f: &NumaFigure) -> String {
    use std::fmt::Write;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{:<12} {:<11} {:>7} {:>7} {:>7} {:>7} {:>7} {:>6} {:>7} | {:>6} {:>7}",
        "workload",
        "config",
        "total",
        "exec",
        "local",
        "remote",
        "monitor",
        "idle",
        "local%",
        "paper",
        "paper%"
    );
    for b in &f.bars {
        let paper = f.paper.iter().find(|p| p.workload == b.workload);
        let (pt, pl) = match (b.config.as_str(), paper) {
            ("NUMA", Some(p)) => (Some(100.0), Some(p.local_pct[0])),
            ("Disco", Some(p)) => (Some(p.disco), Some(p.local_pct[1])),
            ("UMA", Some(p)) => (Some(p.uma), Some(p.local_pct[2])),
            _ => (None, None),
        };
        let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0}"));
        match b.parts {
            Some(p) => {
                let _ = writeln!(
                    t,
                    "{:<12} {:<11} {:>7.1} {:>7.1} {:>7.1} {:>7.1} {:>7.1} {:>6.1} {:>7} | {:>6} {:>7}",
                    b.workload,
                    b.config,
                    p.iter().sum::<f64>(),
                    p[0],
                    p[1],
                    p[2],
                    p[3],
                    p[4],
                    opt(b.local_fraction.map(|x| 100.0 * x)),
                    opt(pt),
                    opt(pl)
                );
            }
            None => {
                let _ = writeln!(
                    t,
                    "{:<12} {:<11} {:>7} (run failed or its NUMA run did) | {:>6} {:>7}",
                    b.workload,
                    b.config,
                    "-",
                    opt(pt),
                    opt(pl)
                );
            }
        }
    }
    let _ = writeln!(
        t,
        "policy (Disco runs)     migrations/s  us each  replications/s  us each  collapses/s | paper: migr/s us  repl/s us"
    );
    for b in f.bars.iter().filter(|b| b.config == "Disco") {
        let paper = f.paper.iter().find(|p| p.workload == b.workload);
        if let (Some(p), Some(pp)) = (&b.policy, paper) {
            let _ = writeln!(
                t,
                "{:<23} {:>12.0} {:>8.1} {:>15.0} {:>8.1} {:>12.0} | {:>6.0} {:>4.0} {:>6.0} {:>4.0}",
                b.workload,
                p.migrations_per_s,
                p.migrate_us,
                p.replications_per_s,
                p.replicate_us,
                p.collapses_per_s,
                pp.migrations.0,
                pp.migrations.1,
                pp.replications.0,
                pp.replications.1
            );
            let _ = writeln!(
                t,
                "{:<23} hot pages/s {:.0}, left: {}",
                "", p.hot_pages_per_s, p.refused
            );
        }
    }
    t
}
