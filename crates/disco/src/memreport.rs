//! `--memory-report`: the memory footprint of the VMs and of the machine
//! at the end of the run (the paper's Fig. 7), as a table and JSON.

use std::path::Path;

use anyhow::{Context, Result};
use machine::Machine;
use monitor::footprint::{self, Footprint, MachineFootprint, MonitorBytes};
use monitor::vm::decompressed_kernel_pages;
use monitor::Monitor;
use serde::Serialize;

/// The report's JSON.
#[derive(Debug, Serialize)]
pub struct MemoryReport {
    /// What the figures are.
    pub what: &'static str,
    /// `bare` (no monitor: nothing is shared, buffer-cache pages are not
    /// told apart) or `vm`.
    pub mode: &'static str,
    /// Each VM's footprint (when it ended, or at the end of the run); for
    /// a bare run, the machine's.
    pub vms: Vec<VmFootprint>,
    /// The machine's: V and M per category, the monitor's structures.
    pub machine: MachineFootprint,
    /// M / V, the monitor's structures counted in M.
    pub ratio: f64,
    /// The paper's figure for eight VMs (Fig. 7): virtual and machine MB.
    pub paper_8vms_mb: (u32, u32),
}

/// One VM's footprint.
#[derive(Debug, Serialize)]
pub struct VmFootprint {
    /// Its name.
    pub name: String,
    /// Its footprint, in pages.
    pub footprint: Footprint,
}

const WHAT: &str = "memory footprint at the end of the run (Fig. 7): pages holding data, V without sharing, M with it";

/// The report of `monitor`'s VMs now, or of the bare machine.
pub fn collect(machine: &Machine, monitor: Option<&Monitor>) -> MemoryReport {
    let (mode, vms, machine_footprint) = match monitor {
        Some(monitor) => {
            let report = monitor.report(&machine.mem);
            let vms = report
                .vms
                .into_iter()
                .map(|v| VmFootprint {
                    name: v.name,
                    footprint: v.footprint,
                })
                .collect();
            ("vm", vms, report.memory.footprint)
        }
        None => {
            let kernel = decompressed_kernel_pages(machine.layout.entry);
            let f = Footprint::bare(&machine.mem, kernel);
            let m = MachineFootprint::of([&f], MonitorBytes::default());
            let vms = vec![VmFootprint {
                name: "bare".into(),
                footprint: f,
            }];
            ("bare", vms, m)
        }
    };
    MemoryReport {
        what: WHAT,
        mode,
        ratio: machine_footprint.ratio(),
        machine: machine_footprint,
        vms,
        paper_8vms_mb: (77, 38),
    }
}

/// Prints the footprint table to stderr and writes the JSON to `path`.
pub fn write(machine: &Machine, monitor: Option<&Monitor>, path: &Path) -> Result<()> {
    let r = collect(machine, monitor);
    let table = footprint::table(
        r.vms.iter().map(|v| (v.name.as_str(), &v.footprint)),
        &r.machine,
    );
    eprint!("{table}");
    let json = serde_json::to_string_pretty(&r).context("encoding the memory report")?;
    std::fs::write(path, json + "\n")
        .with_context(|| format!("writing the memory report {}", path.display()))
}
