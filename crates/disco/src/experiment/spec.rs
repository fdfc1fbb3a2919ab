//! Runs and experiments as data.
//!
//! A [`RunSpec`] is everything that decides a run's result: the `disco run`
//! arguments (machine, bare or VM, monitor cost scale) and the guest
//! command. Its [`RunSpec::hash`] (SHA-256 of a canonical serialisation,
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
    /// `stats_json`.
    pub fn args(&self, stats_json: &std::path::Path) -> Vec<String> {
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
        if let Some(t) = self.max_time {
            a.extend(["--max-time".into(), t.to_string()]);
        }
        if self.vm {
            a.extend(["--vm".into(), "--vcpus".into(), self.vcpus.to_string()]);
            if self.cost_scale != 1.0 {
                a.extend(["--cost-scale".into(), self.cost_scale.to_string()]);
            }
        }
        a.extend([
            "--stats-json".into(),
            stats_json.display().to_string(),
            "--exec".into(),
            self.exec.clone(),
        ]);
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
}

/// The experiments `disco experiment list` shows: name and summary.
pub const EXPERIMENTS: &[(&str, &str)] = &[
    (
        "fig6",
        "Figure 6 (§5.2): pmake, engineering, raytrace, database on one CPU, bare and in a VM (monitor costs x1, x0.5, x2); time normalised to bare, split into user/kernel/monitor/idle",
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

/// The experiment called `name`.
pub fn experiment(name: &str, quick: bool) -> Option<Experiment> {
    match name {
        "fig6" => Some(fig6(quick)),
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

/// Figure 6: each workload on one CPU, bare and in one VM, on the Debian
/// root disk. The workload starts the measured region (detailed timing,
/// statistics reset) itself after preparing, and ends it before checking.
fn fig6(quick: bool) -> Experiment {
    let workloads: Vec<(&str, RunSpec)> = FIG6_WORKLOADS
        .iter()
        .map(|&w| {
            let q = if quick { " --quick" } else { "" };
            let mut spec = RunSpec::bare(&format!("/opt/disco/bin/workload {w} --cpus 1{q}"));
            spec.rootfs = true;
            spec.expect = Some(format!("disco-workload: {w} ok"));
            // A wedged guest ends (exit 124, a failed run) rather than
            // simulating for ever.
            spec.max_time = Some(3600.0);
            (w, spec)
        })
        .collect();
    let paper = |w: &str, name: &str, v: Option<f64>, note: &str| PaperBar {
        workload: w.into(),
        paper_name: name.into(),
        vm_normalised: v,
        note: note.into(),
    };
    Experiment {
        name: "fig6".into(),
        summary: EXPERIMENTS[0].1.into(),
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
    }
}

/// The runner's own check: `true` on the default busybox guest, bare and
/// in a VM at cost scales 1 and 2 (about ten seconds a run).
fn selftest(quick: bool) -> Experiment {
    let bare = RunSpec::bare("true");
    Experiment {
        name: "selftest".into(),
        summary: EXPERIMENTS[1].1.into(),
        title: "Runner self-test: boot and `true`".into(),
        quick,
        runs: runs_for(&[("true", bare)], &[1.0, 2.0]),
        figure: FigureKind::NormalisedBreakdown,
        paper: Vec::new(),
        paper_source: "none (not a figure of the paper)".into(),
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
}
