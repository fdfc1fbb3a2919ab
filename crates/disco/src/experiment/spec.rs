//! Runs and experiments as data.
//!
//! A [`RunSpec`] is everything that decides a run's result: the `disco run`
//! arguments (machine, bare or VM, monitor cost scale, kernel-service
//! attribution) and the guest command. Its [`RunSpec::hash`] (SHA-256 of a canonical serialisation,
//! this disco's version and the guest images' identity) names its cached
//! result. An [`Experiment`] is a list of independent runs, each with
//! [`Labels`] saying which bar of the figure it feeds.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `disco run` of one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// Physical CPUs (`--cpus`).
    pub cpus: u32,
    /// NUMA nodes (`--nodes`).
    pub nodes: u32,
    /// Memory (`--mem`): the machine's, or the VM's with `vm`.
    pub mem: String,
    /// Timing mode at power-on (`--timing`); workloads switch to detailed
    /// timing themselves for their measured region.
    pub timing: String,
    /// Boot the Debian root disk (`--rootfs`) instead of the initramfs.
    pub rootfs: bool,
    /// Run the guest in a VM on the monitor (`--vm`).
    pub vm: bool,
    /// Virtual CPUs of the VM (`--vcpus`; only with `vm`).
    pub vcpus: u32,
    /// Monitor cost table scale (`--cost-scale`; only with `vm`).
    pub cost_scale: f64,
    /// The guest command (`--exec`).
    pub exec: String,
    /// Simulated-time limit (`--max-time`), so a wedged guest ends.
    pub max_time: Option<f64>,
    /// Text the run's output must contain to count as a success (a
    /// workload's `disco-workload: NAME ok`), besides exit status 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<String>,
    /// Attribute kernel time to kernel services (`--services`, for Table
    /// 2). Left out of the serialisation (the cache key) when off, so that
    /// the keys of runs without it stay as they were.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub services: bool,
    /// Split the machine into this many VMs, each with an equal share of
    /// the CPUs (`vcpus` each) and of `mem`, each running `exec` (a `disco
    /// up` of a generated configuration) instead of one `disco run`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vms: Option<u32>,
    /// Give each OS (the bare machine, or each VM) a fresh, empty ext4
    /// disk of this many MiB as its second disk (persistent, `/dev/vdb`),
    /// made in the run's scratch directory and deleted after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work_disk_mib: Option<u32>,
    /// Write the memory footprint (`--memory-report`) into the results.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub memory_report: bool,
    /// In a VM, share no memory (`--no-sharing`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_sharing: bool,
    /// Memory pages dealt round-robin to the nodes (`--interleave`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interleave: bool,
    /// Every miss at the local latency (`--uma`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub uma: bool,
    /// The L2 size (`--l2`), when not the default 1M.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l2: Option<String>,
    /// In a VM, the NUMA policy mode (`--numa`), when not the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numa: Option<String>,
    /// Extra kernel command-line arguments (`--append`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub append: Option<String>,
}

impl RunSpec {
    /// A 1-CPU, 512 MiB bare run of `exec`, booting in fast mode.
    pub fn bare(exec: &str) -> RunSpec {
        RunSpec {
            cpus: 1,
            nodes: 1,
            mem: "512M".into(),
            timing: "fast".into(),
            rootfs: false,
            vm: false,
            vcpus: 1,
            cost_scale: 1.0,
            exec: exec.into(),
            max_time: None,
            expect: None,
            services: false,
            vms: None,
            work_disk_mib: None,
            memory_report: false,
            no_sharing: false,
            interleave: false,
            uma: false,
            l2: None,
            numa: None,
            append: None,
        }
    }

    /// The same run in one VM with the monitor's costs scaled by `scale`.
    pub fn in_vm(&self, scale: f64) -> RunSpec {
        RunSpec {
            vm: true,
            cost_scale: scale,
            ..self.clone()
        }
    }

    /// The arguments of `disco` for this run, writing its statistics to
    /// `stats_json`; the files [`RunSpec::prepare`] makes are beside it.
    pub fn args(&self, stats_json: &std::path::Path) -> Vec<String> {
        let dir = stats_json.parent().unwrap_or(std::path::Path::new("."));
        let mut a = match self.vms {
            Some(_) => self.up_args(dir),
            None => self.run_args(dir),
        };
        a.extend(["--stats-json".into(), stats_json.display().to_string()]);
        if self.memory_report {
            a.extend([
                "--memory-report".into(),
                dir.join(MEMORY_REPORT).display().to_string(),
            ]);
        }
        if self.vms.is_none() {
            a.extend(["--exec".into(), self.exec.clone()]);
        }
        a
    }

    /// `disco up` of the configuration [`RunSpec::prepare`] writes.
    fn up_args(&self, dir: &std::path::Path) -> Vec<String> {
        let mut a = vec!["up".into(), dir.join(UP_CONFIG).display().to_string()];
        if let Some(t) = self.max_time {
            a.extend(["--max-time".into(), t.to_string()]);
        }
        if self.services {
            a.push("--services".into());
        }
        if self.no_sharing {
            a.push("--no-sharing".into());
        }
        a
    }

    /// Work disk `i` of the run, in `dir`.
    pub fn work_disk(dir: &std::path::Path, i: u32) -> std::path::PathBuf {
        dir.join(format!("work-{i}.img"))
    }

    /// The configuration file of a run split into VMs.
    pub fn up_config(&self) -> String {
        let vms = self.vms.unwrap_or(1).max(1);
        let mib = crate::size::parse_size(&self.mem).unwrap_or(0) >> 20;
        let mut t = format!(
            "[machine]\ncpus = {}\nnodes = {}\n[timing]\nmode = \"{}\"\n",
            self.cpus, self.nodes, self.timing
        );
        for i in 0..vms {
            t.push_str(&format!(
                "[[vm]]\nname = \"vm{i}\"\nmem = \"{}M\"\nvcpus = {}\nrootfs = {}\nexec = {}\n",
                mib / u64::from(vms),
                self.vcpus,
                self.rootfs,
                toml_string(&self.exec)
            ));
            if self.work_disk_mib.is_some() {
                t.push_str(&format!("disks = [\"work-{i}.img\"]\n"));
            }
        }
        t
    }

    /// Makes the files the run needs in `dir`: its work disks (fresh ext4
    /// images) and, split into VMs, its configuration file.
    pub fn prepare(&self, dir: &std::path::Path) -> anyhow::Result<()> {
        use anyhow::Context;
        if let Some(mib) = self.work_disk_mib {
            for i in 0..self.vms.unwrap_or(1).max(1) {
                let path = Self::work_disk(dir, i);
                let f = std::fs::File::create(&path)
                    .with_context(|| format!("cannot create {}", path.display()))?;
                f.set_len(u64::from(mib) << 20)?;
                let out = std::process::Command::new("mke2fs")
                    .args(["-q", "-F", "-t", "ext4", "-E"])
                    .arg("lazy_itable_init=0,lazy_journal_init=0")
                    .arg(&path)
                    .output()
                    .context("cannot run mke2fs (e2fsprogs) to make a work disk")?;
                if !out.status.success() {
                    anyhow::bail!(
                        "mke2fs {} failed: {}",
                        path.display(),
                        String::from_utf8_lossy(&out.stderr).trim()
                    );
                }
            }
        }
        if self.vms.is_some() {
            let path = dir.join(UP_CONFIG);
            std::fs::write(&path, self.up_config())
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(())
    }

    /// `disco run` of the run.
    fn run_args(&self, dir: &std::path::Path) -> Vec<String> {
        let mut a: Vec<String> = vec![
            "run".into(),
            "--cpus".into(),
            self.cpus.to_string(),
            "--nodes".into(),
            self.nodes.to_string(),
            "--mem".into(),
            self.mem.clone(),
            "--timing".into(),
            self.timing.clone(),
        ];
        if self.rootfs {
            a.push("--rootfs".into());
        }
        if self.interleave {
            a.push("--interleave".into());
        }
        if self.uma {
            a.push("--uma".into());
        }
        if let Some(l2) = &self.l2 {
            a.extend(["--l2".into(), l2.clone()]);
        }
        if let Some(args) = &self.append {
            a.extend(["--append".into(), args.clone()]);
        }
        if let Some(t) = self.max_time {
            a.extend(["--max-time".into(), t.to_string()]);
        }
        if self.services {
            a.push("--services".into());
        }
        if self.vm {
            a.extend(["--vm".into(), "--vcpus".into(), self.vcpus.to_string()]);
            if self.cost_scale != 1.0 {
                a.extend(["--cost-scale".into(), self.cost_scale.to_string()]);
            }
            if self.no_sharing {
                a.push("--no-sharing".into());
            }
            if let Some(mode) = &self.numa {
                a.extend(["--numa".into(), mode.clone()]);
            }
        }
        if self.work_disk_mib.is_some() {
            a.extend([
                "--disk".into(),
                Self::work_disk(dir, 0).display().to_string(),
            ]);
        }
        a
    }

    /// The command line, for people (logs, the Slurm run list).
    pub fn command_line(&self) -> String {
        let args = self.args(std::path::Path::new("STATS.json"));
        let quoted: Vec<String> = args.iter().map(|a| shell_quote(a)).collect();
        format!("disco {}", quoted.join(" "))
    }

    /// The cache key: SHA-256 (hex) of the canonical JSON of this spec,
    /// `version` (this disco's) and `images` (the guest images' identity).
    pub fn hash(&self, version: &str, images: &str) -> String {
        let canonical = serde_json::to_string(self).expect("a run spec serialises");
        let mut h = Sha256::new();
        h.update(b"disco-experiment-run v1\n");
        h.update(version.as_bytes());
        h.update(b"\n");
        h.update(images.as_bytes());
        h.update(b"\n");
        h.update(canonical.as_bytes());
        h.finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    }
}

/// The memory report's file name in a run's scratch directory.
pub const MEMORY_REPORT: &str = "memory.json";
/// The `disco up` configuration's file name in a run's scratch directory.
pub const UP_CONFIG: &str = "vms.toml";

/// `s` as a TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Quotes `s` for a POSIX shell when it needs it.
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Which bar of the figure a run feeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Labels {
    /// The workload (`pmake`, ...).
    pub workload: String,
    /// `bare` or `vm`.
    pub mode: String,
    /// The monitor cost scale (1 for bare runs).
    pub cost_scale: f64,
}

/// One run of an experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// What to run.
    pub spec: RunSpec,
    /// What it is.
    pub labels: Labels,
}

/// The kind of figure an experiment draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FigureKind {
    /// Execution time normalised to bare, split into user, kernel,
    /// monitor and idle (the paper's Figure 6).
    NormalisedBreakdown,
    /// The top kernel services of one workload, bare and in a VM: their
    /// share of kernel time, count and latency, and the VM's slowdown
    /// split into the paper's five columns (the paper's Table 2).
    ServiceTable,
    /// Per configuration, the virtual and machine memory footprints split
    /// into kernel image, buffer cache, other data and the monitor (the
    /// paper's Figure 7).
    MemoryFootprint,
    /// Per workload and NUMA configuration, execution time split into
    /// instruction execution, local stall, remote stall, monitor and idle,
    /// with the local miss fraction (the paper's Figure 9).
    NumaBreakdown,
}

/// The paper's figure for one workload: the VM's execution time
/// normalised to bare (100), or `None` where the text does not give it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PaperBar {
    /// Workload.
    pub workload: String,
    /// The paper's name for it.
    pub paper_name: String,
    /// VM execution time, bare = 100.
    pub vm_normalised: Option<f64>,
    /// What the paper says.
    pub note: String,
}

/// Where the VM's extra time for a kernel service goes, as the paper's
/// Table 2 splits it: in the paper (and in a computed table's rows)
/// fractions of the bare latency, summing to the slowdown; in a run's
/// statistics, cycles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceColumns {
    /// The guest kernel's own execution (Kernel Exec).
    pub kernel_exec: f64,
    /// Emulated TLB writes and second-level TLB refills (TLB Writes).
    pub tlb_writes: f64,
    /// Other privileged instructions and exception reflection (Other
    /// Privs).
    pub other_privs: f64,
    /// Monitor calls, device emulation, memory backing and zeroing
    /// (Monitor Services).
    pub monitor_services: f64,
    /// TLB misses emulating the unmapped kernel segments (Kernel TLB
    /// Faults).
    pub kernel_tlb_faults: f64,
}

impl ServiceColumns {
    /// The columns in the paper's order, with the paper's names.
    pub fn parts(&self) -> [(&'static str, f64); 5] {
        [
            ("Kernel Exec", self.kernel_exec),
            ("TLB Writes", self.tlb_writes),
            ("Other Privs", self.other_privs),
            ("Monitor Services", self.monitor_services),
            ("Kernel TLB Faults", self.kernel_tlb_faults),
        ]
    }

    /// Their sum.
    pub fn sum(&self) -> f64 {
        self.parts().iter().map(|(_, v)| v).sum()
    }
}

/// One row of the paper's Table 2 (the top kernel services of Pmake).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PaperService {
    /// `IRIX 5.3` (32 bit, 4 KB pages) or `IRIX 6.2` (64 bit, 16 KB).
    pub release: String,
    /// The paper's name for the service (`DEMAND-ZERO`, `open`, ...).
    pub name: String,
    /// Percent of the kernel time on bare IRIX.
    pub kernel_time_pct: f64,
    /// Times it ran.
    pub count: u64,
    /// Average latency on bare IRIX, µs.
    pub latency_us: f64,
    /// Latency on Disco over latency on bare IRIX.
    pub slowdown: f64,
    /// The slowdown split into the five columns (fractions of the bare
    /// latency).
    pub columns: ServiceColumns,
}

/// The paper's system time (kernel + Disco) factors for Pmake in one VM
/// over bare IRIX, `(release, factor)` (§5.2 text).
pub const PAPER_SYSTEM_TIME_FACTORS: [(&str, f64); 2] = [("IRIX 5.3", 2.15), ("IRIX 6.2", 1.62)];

/// The paper's Table 2, both releases, as printed: release, service, % of
/// kernel time, count, average latency (µs), slowdown, then Kernel Exec,
/// TLB Writes, Other Privs, Monitor Services, Kernel TLB Faults. The IRIX
/// 5.3 `write` row's columns sum to 1.94, not to its slowdown 2.14: kept as
/// printed.
#[allow(clippy::type_complexity)]
const PAPER_TABLE2: &[(&str, &str, f64, u64, f64, f64, [f64; 5])] = &[
    (
        "IRIX 5.3",
        "DEMAND-ZERO",
        30.0,
        4328,
        21.0,
        1.42,
        [0.43, 0.21, 0.16, 0.47, 0.16],
    ),
    (
        "IRIX 5.3",
        "QUICK-FAULT",
        10.0,
        5745,
        5.0,
        3.17,
        [1.27, 0.80, 0.56, 0.00, 0.53],
    ),
    (
        "IRIX 5.3",
        "open",
        9.0,
        667,
        42.0,
        1.63,
        [1.16, 0.08, 0.06, 0.02, 0.30],
    ),
    (
        "IRIX 5.3",
        "UTLB-MISS",
        7.0,
        630_000,
        0.035,
        1.35,
        [0.07, 1.22, 0.05, 0.00, 0.02],
    ),
    (
        "IRIX 5.3",
        "write",
        6.0,
        1610,
        12.0,
        2.14,
        [1.01, 0.24, 0.21, 0.31, 0.17],
    ),
    (
        "IRIX 5.3",
        "read",
        6.0,
        733,
        23.0,
        1.53,
        [1.10, 0.13, 0.09, 0.01, 0.20],
    ),
    (
        "IRIX 5.3",
        "execve",
        6.0,
        42,
        437.0,
        1.60,
        [0.97, 0.03, 0.05, 0.17, 0.40],
    ),
    (
        "IRIX 6.2",
        "DEMAND-ZERO",
        27.0,
        1134,
        57.0,
        1.01,
        [0.17, 0.05, 0.10, 0.68, 0.01],
    ),
    (
        "IRIX 6.2",
        "execve",
        16.0,
        42,
        608.0,
        1.30,
        [0.81, 0.01, 0.03, 0.33, 0.11],
    ),
    (
        "IRIX 6.2",
        "open",
        10.0,
        667,
        37.0,
        1.37,
        [1.17, 0.00, 0.08, 0.02, 0.11],
    ),
    (
        "IRIX 6.2",
        "read",
        6.0,
        733,
        21.0,
        1.32,
        [1.13, 0.00, 0.12, 0.00, 0.07],
    ),
    (
        "IRIX 6.2",
        "write",
        6.0,
        1640,
        9.0,
        1.71,
        [0.98, 0.00, 0.31, 0.35, 0.06],
    ),
    (
        "IRIX 6.2",
        "COPY-ON-WRITE",
        5.0,
        120,
        94.0,
        1.16,
        [0.59, 0.03, 0.06, 0.41, 0.06],
    ),
    (
        "IRIX 6.2",
        "QUICK-FAULT",
        5.0,
        2196,
        5.0,
        2.83,
        [1.28, 0.49, 0.89, 0.00, 0.16],
    ),
];

/// The paper's Table 2 as [`PaperService`]s, in the paper's order.
pub fn paper_table2() -> Vec<PaperService> {
    PAPER_TABLE2
        .iter()
        .map(
            |&(release, name, kernel_time_pct, count, latency_us, slowdown, c)| PaperService {
                release: release.into(),
                name: name.into(),
                kernel_time_pct,
                count,
                latency_us,
                slowdown,
                columns: ServiceColumns {
                    kernel_exec: c[0],
                    tlb_writes: c[1],
                    other_privs: c[2],
                    monitor_services: c[3],
                    kernel_tlb_faults: c[4],
                },
            },
        )
        .collect()
}

/// The paper's rows that our service `ours` roughly corresponds to: page
/// faults (`tlb-load`, `tlb-store`) to DEMAND-ZERO and QUICK-FAULT (a slow
/// TLB refill), `tlb-refill` to UTLB-MISS, `tlb-modify` to COPY-ON-WRITE,
/// `openat` to open, any other to the same name.
pub fn paper_names(ours: &str) -> Vec<&str> {
    match ours {
        "tlb-load" | "tlb-store" => vec!["DEMAND-ZERO", "QUICK-FAULT"],
        "tlb-refill" => vec!["UTLB-MISS"],
        "tlb-modify" => vec!["COPY-ON-WRITE"],
        "openat" => vec!["open"],
        other => vec![other],
    }
}

/// An experiment: runs, and what to draw from them.
#[derive(Clone, Debug, PartialEq)]
pub struct Experiment {
    /// Its name (`fig6`).
    pub name: String,
    /// One line for `disco experiment list`.
    pub summary: String,
    /// The figure's title.
    pub title: String,
    /// Whether the runs are the quick ones.
    pub quick: bool,
    /// The runs, in order (a run's index is its Slurm array task).
    pub runs: Vec<Run>,
    /// What to draw.
    pub figure: FigureKind,
    /// The paper's figures.
    pub paper: Vec<PaperBar>,
    /// Where they come from.
    pub paper_source: String,
    /// The paper's service table (Table 2; empty for other experiments).
    pub paper_services: Vec<PaperService>,
}

/// The experiments `disco experiment list` shows: name and summary.
pub const EXPERIMENTS: &[(&str, &str)] = &[
    (
        "fig6",
        "Figure 6 (§5.2): pmake, engineering, raytrace, database on one CPU, bare and in a VM (monitor costs x1, x0.5, x2); time normalised to bare, split into user/kernel/monitor/idle",
    ),
    (
        "table2",
        "Table 2 (§5.2): pmake's top 10 kernel services on one CPU, bare (% of kernel time, count, latency) and in a VM (slowdown split into kernel exec, TLB writes, other privs, monitor services, kernel TLB faults); system time factor",
    ),
    (
        "fig7",
        "Figure 7 (§5.3): eight pmake instances on 8 CPUs, bare and in 1, 2, 4, 8 VMs from one copy-on-write root disk; virtual and machine memory footprints per category",
    ),
    (
        "fig9",
        "Figure 9 (§5.5): Engineering on 8 CPUs and Raytrace on 16 CPUs (256 KiB L2): bare NUMA (interleaved), Disco with page migration and replication, Disco with the policy off, UMA; time split into execution, local and remote stall, monitor; local miss fraction; migration and replication rates (Table 3)",
    ),
    (
        "sharing",
        "Fig. 6 runs at monitor cost scale 1 with memory sharing on (the default) and off (--no-sharing): what sharing costs each workload in one VM",
    ),
    (
        "selftest",
        "a check of the runner itself: `true` on the busybox guest, bare and in a VM (costs x1, x2); seconds per run",
    ),
];

/// The monitor cost scales of the VM runs: the table as given, and half
/// and twice its costs.
pub const COST_SCALES: [f64; 3] = [1.0, 0.5, 2.0];

/// The Figure 6 workloads, in the paper's order.
pub const FIG6_WORKLOADS: [&str; 4] = ["pmake", "engineering", "raytrace", "database"];

/// The summary line of experiment `name` in [`EXPERIMENTS`].
pub fn summary(name: &str) -> String {
    EXPERIMENTS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("", |(_, s)| s)
        .into()
}

/// The experiment called `name`.
pub fn experiment(name: &str, quick: bool) -> Option<Experiment> {
    match name {
        "fig6" => Some(fig6(quick)),
        "table2" => Some(table2(quick)),
        "fig7" => Some(super::memory::fig7(quick)),
        "fig9" => Some(super::numa::fig9(quick)),
        "sharing" => Some(sharing(quick)),
        "selftest" => Some(selftest(quick)),
        _ => None,
    }
}

/// Bare, then VM runs at every cost scale in `scales`, for each workload.
fn runs_for(workloads: &[(&str, RunSpec)], scales: &[f64]) -> Vec<Run> {
    let mut runs = Vec::new();
    for (workload, bare) in workloads {
        runs.push(Run {
            spec: bare.clone(),
            labels: Labels {
                workload: workload.to_string(),
                mode: "bare".into(),
                cost_scale: 1.0,
            },
        });
        for &scale in scales {
            runs.push(Run {
                spec: bare.in_vm(scale),
                labels: Labels {
                    workload: workload.to_string(),
                    mode: "vm".into(),
                    cost_scale: scale,
                },
            });
        }
    }
    runs
}

/// The bare run of workload `w` on one CPU on the Debian root disk
/// (Figure 6, Table 2). The workload starts the measured region (detailed
/// timing, statistics reset) itself after preparing, and ends it before
/// checking.
fn workload_run(w: &str, quick: bool) -> RunSpec {
    let q = if quick { " --quick" } else { "" };
    let mut spec = RunSpec::bare(&format!("/opt/disco/bin/workload {w} --cpus 1{q}"));
    spec.rootfs = true;
    spec.expect = Some(format!("disco-workload: {w} ok"));
    // A wedged guest ends (exit 124, a failed run) rather than simulating
    // for ever.
    spec.max_time = Some(3600.0);
    spec
}

/// Figure 6: each workload on one CPU, bare and in one VM, on the Debian
/// root disk.
fn fig6(quick: bool) -> Experiment {
    let workloads: Vec<(&str, RunSpec)> = FIG6_WORKLOADS
        .iter()
        .map(|&w| (w, workload_run(w, quick)))
        .collect();
    let paper = |w: &str, name: &str, v: Option<f64>, note: &str| PaperBar {
        workload: w.into(),
        paper_name: name.into(),
        vm_normalised: v,
        note: note.into(),
    };
    Experiment {
        name: "fig6".into(),
        summary: summary("fig6"),
        title: "Overhead of virtualization (Fig. 6)".into(),
        quick,
        runs: runs_for(&workloads, &COST_SCALES),
        figure: FigureKind::NormalisedBreakdown,
        paper: vec![
            paper(
                "pmake",
                "Pmake",
                Some(116.0),
                "16% slowdown; system time (kernel + Disco) x2.15",
            ),
            paper(
                "engineering",
                "Engineering",
                None,
                "not given in text (the overheads range from 3% to 16%)",
            ),
            paper("raytrace", "Raytrace", Some(103.0), "3% (the lowest)"),
            paper(
                "database",
                "Database",
                Some(116.0),
                "16% (high TLB miss rate)",
            ),
        ],
        paper_source: "Bugnion et al., TOCS 1997, §5.2 text (Fig. 6 bars are not in the text)"
            .into(),
        paper_services: Vec::new(),
    }
}

/// Table 2: pmake on one CPU with kernel-service attribution, bare and in
/// one VM at cost scale 1.
fn table2(quick: bool) -> Experiment {
    let mut bare = workload_run("pmake", quick);
    bare.services = true;
    Experiment {
        name: "table2".into(),
        summary: summary("table2"),
        title: "Pmake's top kernel services in a VM (Table 2)".into(),
        quick,
        runs: runs_for(&[("pmake", bare)], &[1.0]),
        figure: FigureKind::ServiceTable,
        paper: Vec::new(),
        paper_source: "Bugnion et al., TOCS 1997, §5.2, Table 2 (IRIX 5.3 and IRIX 6.2 rows, from the text) and the system time factors x2.15 / x1.62".into(),
        paper_services: paper_table2(),
    }
}

/// Fig. 6's bare and VM (cost scale 1) runs, plus the VM with sharing off
/// (labelled `no-sharing`). The first two are Fig. 6's own runs: with the
/// same output directory their cached results are reused.
fn sharing(quick: bool) -> Experiment {
    let mut runs = Vec::new();
    for w in FIG6_WORKLOADS {
        let bare = workload_run(w, quick);
        let mut off = bare.in_vm(1.0);
        off.no_sharing = true;
        let label = |mode: &str| Labels {
            workload: w.to_string(),
            mode: mode.into(),
            cost_scale: 1.0,
        };
        runs.push(Run {
            spec: bare.clone(),
            labels: label("bare"),
        });
        runs.push(Run {
            spec: bare.in_vm(1.0),
            labels: label("vm"),
        });
        runs.push(Run {
            spec: off,
            labels: label("no-sharing"),
        });
    }
    let f6 = fig6(quick);
    Experiment {
        name: "sharing".into(),
        summary: summary("sharing"),
        title: "What memory sharing costs in one VM (Fig. 6 runs, sharing on and off)".into(),
        quick,
        runs,
        figure: FigureKind::NormalisedBreakdown,
        paper: f6.paper,
        paper_source: f6.paper_source,
        paper_services: Vec::new(),
    }
}

/// The runner's own check: `true` on the default busybox guest, bare and
/// in a VM at cost scales 1 and 2 (about ten seconds a run).
fn selftest(quick: bool) -> Experiment {
    let bare = RunSpec::bare("true");
    Experiment {
        name: "selftest".into(),
        summary: summary("selftest"),
        title: "Runner self-test: boot and `true`".into(),
        quick,
        runs: runs_for(&[("true", bare)], &[1.0, 2.0]),
        figure: FigureKind::NormalisedBreakdown,
        paper: Vec::new(),
        paper_source: "none (not a figure of the paper)".into(),
        paper_services: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fig6_has_bare_and_three_vm_runs_per_workload() {
        let e = experiment("fig6", true).unwrap();
        assert_eq!(e.runs.len(), 16);
        assert_eq!(e.runs[0].labels.mode, "bare");
        assert!(e.runs[0]
            .spec
            .exec
            .ends_with("workload pmake --cpus 1 --quick"));
        assert!(e.runs[0].spec.rootfs);
        let vm: Vec<f64> = e.runs[1..4].iter().map(|r| r.spec.cost_scale).collect();
        assert_eq!(vm, vec![1.0, 0.5, 2.0]);
        assert!(!experiment("fig6", false).unwrap().runs[0]
            .spec
            .exec
            .contains("--quick"));
        assert!(experiment("nope", false).is_none());
    }

    #[test]
    fn args_and_hash() {
        let bare = RunSpec::bare("echo 'hi'");
        let vm = bare.in_vm(2.0);
        let a = vm.args(std::path::Path::new("/tmp/s.json"));
        assert!(a.windows(2).any(|w| w == ["--cost-scale", "2"]));
        assert!(a.contains(&"--vm".to_string()));
        assert!(!bare
            .in_vm(1.0)
            .args(std::path::Path::new("x"))
            .contains(&"--cost-scale".into()));
        assert_eq!(a.last().unwrap(), "echo 'hi'");
        assert_eq!(bare.hash("1", "img").len(), 64);
        assert_eq!(bare.hash("1", "img"), bare.clone().hash("1", "img"));
        assert_ne!(bare.hash("1", "img"), vm.hash("1", "img"));
        assert_ne!(bare.hash("1", "img"), bare.hash("2", "img"));
        assert_ne!(bare.hash("1", "img"), bare.hash("1", "other"));
        assert!(vm.command_line().contains("--exec 'echo '\\''hi'\\'''"));
    }

    #[test]
    fn table2_is_pmake_bare_and_in_a_vm_with_services() {
        let e = experiment("table2", true).unwrap();
        assert_eq!(e.figure, FigureKind::ServiceTable);
        assert_eq!(e.runs.len(), 2);
        let (bare, vm) = (&e.runs[0], &e.runs[1]);
        assert_eq!(bare.labels.mode, "bare");
        assert_eq!(vm.labels.mode, "vm");
        assert_eq!(vm.labels.cost_scale, 1.0);
        for r in &e.runs {
            assert_eq!(r.labels.workload, "pmake");
            assert!(r.spec.services && r.spec.rootfs);
            assert_eq!(r.spec.cpus, 1);
            assert!(r.spec.exec.ends_with("workload pmake --cpus 1 --quick"));
            assert_eq!(r.spec.expect.as_deref(), Some("disco-workload: pmake ok"));
            assert!(r.spec.command_line().contains(" --services "));
        }
        assert!(vm.spec.vm && !bare.spec.vm);
        assert!(!experiment("table2", false).unwrap().runs[0]
            .spec
            .exec
            .contains("--quick"));
        assert!(EXPERIMENTS.iter().any(|(n, _)| *n == "table2"));
        assert_eq!(e.paper_services.len(), 14);
        assert!(experiment("fig6", true).unwrap().paper_services.is_empty());
        assert_eq!(paper_names("tlb-load"), ["DEMAND-ZERO", "QUICK-FAULT"]);
        assert_eq!(paper_names("tlb-refill"), ["UTLB-MISS"]);
        assert_eq!(paper_names("openat"), ["open"]);
        assert_eq!(paper_names("read"), ["read"]);
    }

    #[test]
    fn services_off_leaves_the_cache_key_unchanged() {
        let bare = RunSpec::bare("true");
        let json = serde_json::to_string(&bare).unwrap();
        assert!(!json.contains("services"), "{json}");
        assert!(!bare
            .args(std::path::Path::new("x"))
            .contains(&"--services".to_string()));
        // A spec serialised before the field existed reads back as off.
        let back: RunSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, bare);
        let mut with = bare.clone();
        with.services = true;
        assert!(serde_json::to_string(&with)
            .unwrap()
            .contains("\"services\":true"));
        assert_ne!(with.hash("1", "img"), bare.hash("1", "img"));
    }

    #[test]
    fn sharing_reuses_fig6_runs_and_adds_no_sharing_ones() {
        let e = experiment("sharing", true).unwrap();
        let f6 = experiment("fig6", true).unwrap();
        assert_eq!(e.runs.len(), 12);
        let hashes: Vec<String> = f6.runs.iter().map(|r| r.spec.hash("1", "i")).collect();
        for r in &e.runs {
            let in_fig6 = hashes.contains(&r.spec.hash("1", "i"));
            assert_eq!(in_fig6, r.labels.mode != "no-sharing", "{:?}", r.labels);
            let args = r.spec.args(std::path::Path::new("/s/stats.json"));
            assert_eq!(args.contains(&"--no-sharing".into()), r.spec.no_sharing);
        }
        assert!(e.runs[2].spec.no_sharing && e.runs[2].spec.vm);
        assert_eq!(summary("selftest"), EXPERIMENTS.last().unwrap().1);
    }
}
