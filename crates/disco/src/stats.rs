//! `--stats` and `--stats-json`: the machine's statistics and, with VMs,
//! the monitor's accounting; those of the guest's measured region when it
//! ended one (simulation-control COMMAND 2).

use std::path::Path;

use anyhow::{Context, Result};
use machine::report::report;
use machine::Machine;
use monitor::Monitor;

/// Prints the tables on stderr (`table`) and writes the JSON (`json`). The
/// JSON's `measured_region` says whether the figures are a measured
/// region's (else: from power-on or the last reset to now).
pub fn write(
    m: &Machine,
    monitor: Option<&Monitor>,
    table: bool,
    json: Option<&Path>,
) -> Result<()> {
    if !table && json.is_none() {
        return Ok(());
    }
    let region = m.region_report().is_some();
    let r = m.region_report().cloned().unwrap_or_else(|| report(m));
    let mr = monitor.map(|mon| {
        mon.region_report()
            .cloned()
            .unwrap_or_else(|| mon.report(&m.mem))
    });
    if table {
        if region {
            eprintln!("disco: statistics of the guest's measured region");
        }
        eprint!("{}", r.table(10));
        if let Some(mr) = &mr {
            eprint!("{}", mr.table(m.clock().hz()));
        }
    }
    if let Some(path) = json {
        let mut value = serde_json::to_value(&r)?;
        value["measured_region"] = serde_json::Value::Bool(region);
        if let Some(mr) = &mr {
            value["monitor"] = serde_json::to_value(mr)?;
        }
        std::fs::write(path, serde_json::to_string_pretty(&value)?)
            .with_context(|| format!("cannot write statistics to '{}'", path.display()))?;
    }
    Ok(())
}
