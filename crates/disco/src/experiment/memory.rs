//! Figure 7 (§5.3): the memory footprint of eight Pmake instances on an
//! eight-CPU machine, bare and split into 1, 2, 4 and 8 VMs.
//!
//! Every configuration has the same CPUs and memory in total (each VM an
//! equal share). Each OS boots from the shared copy-on-write Debian root
//! disk and gets a fresh, empty ext4 disk of its own (persistent, `/dev/vdb`)
//! for its instances' files; each instance runs `workload pmake --cpus 1`
//! (make -j2) in a mount namespace of its own whose /tmp is a directory of
//! that disk. At the end each run writes its footprint
//! (`--memory-report`): per category, the virtual footprint V and the
//! machine footprint M ([`monitor::footprint`]).
//!
//! Differences from the paper's set-up: the paper gave each instance its
//! own disk (ten disks); here each OS has one work disk (a machine has at
//! most eight virtio devices), with a directory per instance: the work
//! files are private to their OS either way. The machine has 2 GiB (the
//! paper's 256 MB scaled to Linux 6.1 and gcc 12, 256 MiB per VM at eight
//! VMs). The bare run cannot tell buffer-cache pages from other data (no
//! monitor sees its disk reads): its buffer cache is in "other data".

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::exec::RunResult;
use super::spec::{summary, Experiment, FigureKind, Labels, Run, RunSpec};

/// CPUs of the machine.
pub const CPUS: u32 = 8;
/// Pmake instances in every configuration.
pub const INSTANCES: u32 = 8;
/// The machine's memory for the VMs (or the bare OS), MiB.
pub const MEM_MIB: u32 = 2048;
/// Each OS's work disk, MiB.
pub const WORK_DISK_MIB: u32 = 512;
/// The configurations: VMs (0 = bare).
pub const CONFIGS: [u32; 5] = [0, 1, 2, 4, 8];
/// The paper's eight-VM footprint: virtual and machine MB.
pub const PAPER_8VMS_MB: (f64, f64) = (77.0, 38.0);

/// The guest command of an OS running `n` instances: mount the work disk,
/// run the instances side by side, each with /tmp on its own directory,
/// then say how many succeeded (the exit status too).
pub fn instances_command(n: u32, quick: bool) -> String {
    let q = if quick { " --quick" } else { "" };
    format!(
        "mount /dev/vdb /mnt && i=1; while [ $i -le {n} ]; do mkdir -p /mnt/$i; \
         unshare -m sh -c \"mount --bind /mnt/$i /tmp && exec /opt/disco/bin/workload pmake --cpus 1 --fast{q}\" \
         > /mnt/$i.log 2>&1 & i=$((i+1)); done; wait; \
         ok=$(cat /mnt/*.log | grep -c 'disco-workload: pmake ok'); \
         echo \"pmake instances ok: $ok/{n}\"; sync; [ \"$ok\" = {n} ]"
    )
}

/// The run of configuration `vms` (0: bare).
fn config_run(vms: u32, quick: bool) -> Run {
    let per = INSTANCES / vms.max(1);
    let mut spec = RunSpec::bare(&instances_command(per, quick));
    spec.cpus = CPUS;
    spec.nodes = CPUS;
    spec.rootfs = true;
    spec.mem = format!("{MEM_MIB}M");
    spec.expect = Some(format!("pmake instances ok: {per}/{per}"));
    spec.max_time = Some(3600.0);
    spec.work_disk_mib = Some(WORK_DISK_MIB);
    spec.memory_report = true;
    if vms > 0 {
        spec.vm = true;
        spec.vms = Some(vms);
        spec.vcpus = CPUS / vms;
    }
    Run {
        spec,
        labels: Labels {
            workload: "pmake x8".into(),
            mode: config_name(vms),
            cost_scale: 1.0,
        },
    }
}

/// `bare`, `1 VM`, `2 VMs`, ...
pub fn config_name(vms: u32) -> String {
    match vms {
        0 => "bare".into(),
        1 => "1 VM".into(),
        n => format!("{n} VMs"),
    }
}

/// The experiment.
pub fn fig7(quick: bool) -> Experiment {
    Experiment {
        name: "fig7".into(),
        summary: summary("fig7"),
        title: "Memory footprint of eight Pmake instances (Fig. 7)".into(),
        quick,
        runs: CONFIGS.iter().map(|&v| config_run(v, quick)).collect(),
        figure: FigureKind::MemoryFootprint,
        paper: Vec::new(),
        paper_source: "Bugnion et al., TOCS 1997, §5.3 text: 8 VMs, 77 MB virtual, 38 MB machine (IRIX 5.3, 256 MB machine)".into(),
        paper_services: Vec::new(),
    }
}

/// Pages per category, as the memory report gives them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Split {
    /// The decompressed kernel image.
    pub kernel_image: f64,
    /// Pages mapped from the global disk cache.
    pub buffer_cache: f64,
    /// Other data.
    pub data: f64,
}

impl Split {
    fn from_pages(v: &Value) -> Option<Split> {
        let mib = |k: &str| Some(v.get(k)?.as_f64()? * 4096.0 / f64::from(1 << 20));
        Some(Split {
            kernel_image: mib("kernel_image")?,
            buffer_cache: mib("buffer_cache")?,
            data: mib("data")?,
        })
    }

    /// All categories.
    pub fn total(&self) -> f64 {
        self.kernel_image + self.buffer_cache + self.data
    }
}

/// One configuration's footprint, MiB.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    /// `bare`, `1 VM`, ...
    pub config: String,
    /// Whether the run succeeded (else the figures are missing).
    pub ok: bool,
    /// Virtual footprint (V).
    pub virtual_mib: Option<Split>,
    /// Machine footprint (M), the monitor's structures apart.
    pub machine_mib: Option<Split>,
    /// The monitor's structures, MiB.
    pub monitor_mib: Option<f64>,
    /// M / V.
    pub ratio: Option<f64>,
}

/// The figure: a bar per configuration, and the paper's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Footprints {
    /// Ours.
    pub bars: Vec<Bar>,
    /// The paper's eight-VM footprint, MB: virtual, machine.
    pub paper_8vms_mb: (f64, f64),
}

/// The figure from the runs' results.
pub fn footprints(e: &Experiment, results: &[Option<RunResult>]) -> Footprints {
    let bars = e
        .runs
        .iter()
        .zip(results)
        .map(|(run, r)| {
            let ok = r.as_ref().is_some_and(|r| r.ok);
            let report = r
                .as_ref()
                .filter(|r| r.ok)
                .and_then(|r| r.stats.as_ref()?.get("memory_report"));
            let machine = report.and_then(|m| m.get("machine"));
            Bar {
                config: run.labels.mode.clone(),
                ok,
                virtual_mib: machine.and_then(|m| Split::from_pages(m.get("virtual_pages")?)),
                machine_mib: machine.and_then(|m| Split::from_pages(m.get("machine_pages")?)),
                monitor_mib: machine.and_then(|m| {
                    let b = m.get("monitor")?;
                    let sum: f64 = ["pmaps", "memmap", "disk_cache", "kernel_table"]
                        .iter()
                        .filter_map(|k| b.get(k)?.as_f64())
                        .sum();
                    Some(sum / f64::from(1 << 20))
                }),
                ratio: report.and_then(|m| m.get("ratio")?.as_f64()),
            }
        })
        .collect();
    Footprints {
        bars,
        paper_8vms_mb: PAPER_8VMS_MB,
    }
}

/// The table printed after the runs.
pub fn table(f: &Footprints) -> String {
    use std::fmt::Write;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{:<8} {:>3} {:>13} {:>13} {:>11} {:>8} {:>8} {:>6}",
        "config", "", "kernel image", "buffer cache", "other data", "monitor", "total", "M/V"
    );
    for b in &f.bars {
        let (Some(v), Some(m)) = (b.virtual_mib, b.machine_mib) else {
            let _ = writeln!(t, "{:<8} (no result)", b.config);
            continue;
        };
        let mon = b.monitor_mib.unwrap_or(0.0);
        let _ = writeln!(
            t,
            "{:<8} {:>3} {:>13.1} {:>13.1} {:>11.1} {:>8} {:>8.1}",
            b.config,
            "V",
            v.kernel_image,
            v.buffer_cache,
            v.data,
            "",
            v.total()
        );
        let _ = writeln!(
            t,
            "{:<8} {:>3} {:>13.1} {:>13.1} {:>11.1} {:>8.1} {:>8.1} {:>6.2}",
            "",
            "M",
            m.kernel_image,
            m.buffer_cache,
            m.data,
            mon,
            m.total() + mon,
            b.ratio.unwrap_or(0.0)
        );
    }
    let (pv, pm) = f.paper_8vms_mb;
    let _ = writeln!(
        t,
        "paper    8 VMs: V {pv:.0} MB, M {pm:.0} MB, M/V {:.2} (IRIX 5.3 on a 256 MB machine; goal: ours at 8 VMs no worse)",
        pm / pv
    );
    let _ = writeln!(
        t,
        "MiB of pages holding data at the end of the run; bare Linux's buffer cache is counted in other data"
    );
    t
}
