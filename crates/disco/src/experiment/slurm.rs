//! The runs of an experiment as a Slurm job array.
//!
//! `--emit-slurm DIR` writes `DIR/NAME.sbatch`, whose array task `i` runs
//! `disco experiment NAME [--quick] --run-one i --out DIR` (the result
//! goes to `DIR/cache`, as in a local run), and `DIR/NAME.runs.json`, the
//! run list. After the array, `disco experiment NAME --collect DIR` writes
//! the same `DIR/NAME.json` and plots a local run would. DIR must be on a
//! file system the compute nodes share, and this disco executable must be
//! at the same path there.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::json;

use super::spec::{shell_quote, Experiment};
use super::VERSION;

/// Writes the job array script and the run list into `dir`; returns the
/// script's path.
pub fn emit(e: &Experiment, dir: &Path, exe: &Path, images: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(dir.join("logs"))
        .with_context(|| format!("cannot create {}", dir.join("logs").display()))?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", dir.display()))?;
    let script = dir.join(format!("{}.sbatch", e.name));
    std::fs::write(&script, sbatch(e, &dir, exe))
        .with_context(|| format!("cannot write {}", script.display()))?;
    let runs: Vec<_> = e
        .runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            json!({
                "index": i,
                "hash": r.spec.hash(VERSION, images),
                "labels": r.labels,
                "spec": r.spec,
                "command": r.spec.command_line(),
            })
        })
        .collect();
    let list = json!({
        "experiment": e.name,
        "quick": e.quick,
        "disco_version": VERSION,
        "images": images,
        "runs": runs,
    });
    let list_path = dir.join(format!("{}.runs.json", e.name));
    std::fs::write(&list_path, serde_json::to_string_pretty(&list)? + "\n")
        .with_context(|| format!("cannot write {}", list_path.display()))?;
    Ok(script)
}

/// The job array script.
pub fn sbatch(e: &Experiment, dir: &Path, exe: &Path) -> String {
    let d = shell_quote(&dir.display().to_string());
    let quick = if e.quick { " --quick" } else { "" };
    format!(
        "#!/bin/bash\n\
         # disco experiment {name}{quick}: {n} runs, one per array task.\n\
         # Submit with `sbatch {script}`; then collect with\n\
         #   {exe} experiment {name}{quick} --collect {d}\n\
         #SBATCH --job-name=disco-{name}\n\
         #SBATCH --array=0-{last}\n\
         #SBATCH --ntasks=1\n\
         #SBATCH --cpus-per-task=1\n\
         #SBATCH --output={dir_plain}/logs/{name}-%a.out\n\
         set -euo pipefail\n\
         exec {exe} experiment {name}{quick} --run-one \"$SLURM_ARRAY_TASK_ID\" --out {d}\n",
        name = e.name,
        n = e.runs.len(),
        last = e.runs.len().saturating_sub(1),
        script = shell_quote(&dir.join(format!("{}.sbatch", e.name)).display().to_string()),
        exe = shell_quote(&exe.display().to_string()),
        dir_plain = dir.display(),
    )
}
