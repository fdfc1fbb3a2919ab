//! `disco experiment`: a figure of the paper as one command, a JSON file
//! and a plot.
//!
//! An experiment ([`spec::Experiment`]) is data: a list of independent
//! runs, each a `disco run` of a guest command with labels saying which
//! bar it feeds. [`sweep`] executes the runs that have no cached result
//! (as subprocesses, `--jobs` at once: [`exec`]), [`write_outputs`] turns
//! the results into `DIR/NAME.json`, `DIR/NAME.svg` and `DIR/NAME.png`
//! ([`figure`], [`plot`]; for Table 2 [`services`]) and a table with the paper's figures beside
//! ours. The same runs can execute as a Slurm job array instead
//! ([`slurm`]); `--collect` then gives the same output as a local run.

pub mod exec;
pub mod figure;
pub mod memory;
pub mod numa;
pub mod plot;
pub mod services;
pub mod slurm;
pub mod spec;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::{json, Value};

use exec::{Cache, Executor, RunResult};
use spec::{Experiment, Run};

/// The version that, with the run spec and the guest images, keys cached
/// results. It does not change with every commit: clear `DIR/cache` after
/// changing the simulator or the monitor.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Options of `disco experiment`.
#[derive(Debug, Args)]
pub struct ExperimentArgs {
    /// `list`, or the experiment to run (see `disco experiment list`).
    pub name: String,
    /// Run the workloads at their quick scale.
    #[arg(long)]
    pub quick: bool,
    /// Runs to execute at once.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=256))]
    pub jobs: u32,
    /// Where to write NAME.json, NAME.svg, NAME.png and the result cache.
    #[arg(long, value_name = "DIR", default_value = "results")]
    pub out: PathBuf,
    /// Instead of running, write a Slurm job array script (DIR/NAME.sbatch,
    /// one run per array task) and the run list (DIR/NAME.runs.json).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["collect", "run_one"])]
    pub emit_slurm: Option<PathBuf>,
    /// Merge the per-run results in DIR (from the Slurm job array) into
    /// DIR/NAME.json and the plots, running nothing.
    #[arg(long, value_name = "DIR", conflicts_with = "run_one")]
    pub collect: Option<PathBuf>,
    /// Run only run INDEX (from 0) and store its result in the cache of --out.
    #[arg(long, value_name = "INDEX")]
    pub run_one: Option<usize>,
}

/// Runs `disco experiment`.
pub fn experiment(args: ExperimentArgs) -> Result<ExitCode> {
    if args.name == "list" {
        for (name, summary) in spec::EXPERIMENTS {
            println!("{name:<10} {summary}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(e) = spec::experiment(&args.name, args.quick) else {
        bail!(
            "no experiment '{}' (there are: {})",
            args.name,
            spec::EXPERIMENTS
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    if let Some(dir) = &args.emit_slurm {
        let images = images_identity(&e)?;
        let exe = std::env::current_exe().context("cannot find the disco executable")?;
        let script = slurm::emit(&e, dir, &exe, &images)?;
        println!(
            "wrote {} ({} runs); submit it with: sbatch {}",
            script.display(),
            e.runs.len(),
            script.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(dir) = &args.collect {
        let images = images_identity(&e)?;
        let results = collect(&e, &Cache::in_dir(dir), &images);
        return finish(&e, dir, &results);
    }
    let images = images_identity(&e)?;
    let executor = exec::Subprocess::current()?;
    let cache = Cache::in_dir(&args.out);
    if let Some(index) = args.run_one {
        let r = run_one(&e, &cache, &images, &executor, index)?;
        eprintln!(
            "disco experiment: {} run {index} ({}): {}",
            e.name,
            run_label(&e.runs[index]),
            outcome_words(&r)
        );
        if !r.ok {
            eprint!("{}", exec::tail(&r.output_tail, 1500));
        }
        return Ok(if r.ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let (results, report) = sweep(&e, &cache, &images, &executor, args.jobs as usize)?;
    eprintln!(
        "disco experiment: {} runs: {} executed, {} cached, {} failed",
        e.runs.len(),
        report.executed,
        report.cached,
        report.failed.len()
    );
    finish(&e, &args.out, &results)
}

/// Writes the outputs, prints the table and the failures; the exit status
/// says whether every run succeeded.
fn finish(e: &Experiment, out: &Path, results: &[Option<RunResult>]) -> Result<ExitCode> {
    let table = write_outputs(e, out, results)?;
    print!("{table}");
    let mut all_ok = true;
    for (i, r) in results.iter().enumerate() {
        match r {
            Some(r) if r.ok => {}
            Some(r) => {
                all_ok = false;
                eprintln!(
                    "disco experiment: run {i} ({}) FAILED: {}; it is retried on the next invocation. Output tail:\n{}",
                    run_label(&e.runs[i]),
                    outcome_words(r),
                    exec::tail(&r.output_tail, 1500)
                );
            }
            None => {
                all_ok = false;
                eprintln!(
                    "disco experiment: run {i} ({}) has no result",
                    run_label(&e.runs[i])
                );
            }
        }
    }
    println!(
        "wrote {}",
        ["json", "svg", "png"]
            .map(|x| out.join(format!("{}.{x}", e.name)).display().to_string())
            .join(", ")
    );
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A run in words: `pmake vm x0.5`.
pub fn run_label(r: &Run) -> String {
    if r.labels.mode == "vm" {
        format!("{} vm x{}", r.labels.workload, r.labels.cost_scale)
    } else {
        format!("{} {}", r.labels.workload, r.labels.mode)
    }
}

fn outcome_words(r: &RunResult) -> String {
    match (r.ok, r.exit_status) {
        (true, _) => format!("ok in {:.1} s", r.host_seconds),
        (false, Some(0)) if r.stats.is_none() => "exit status 0 but no statistics".into(),
        (false, Some(0)) => format!(
            "exit status 0 but the output lacks '{}'",
            r.spec.expect.as_deref().unwrap_or("")
        ),
        (false, Some(s)) => format!("exit status {s}"),
        (false, None) => "killed or not started".into(),
    }
}

/// The identity of the guest images the runs of `e` boot: the default
/// images' description (package versions), and for runs on the root disk
/// the root disk's entry and description (its name hashes the package
/// list and the workloads). Both are fetched or built here if missing, so
/// that parallel runs do not each wait for them.
pub fn images_identity(e: &Experiment) -> Result<String> {
    let mut progress = crate::images::stderr_progress;
    let images = crate::images::ensure_default_images(&mut progress)
        .context("cannot get the default guest images")?;
    let mut id = images.description;
    if e.runs.iter().any(|r| r.spec.rootfs) {
        let disk = crate::images::rootfs::ensure_rootfs(&mut progress)
            .context("cannot get the Debian root disk")?;
        let entry = disk
            .image
            .parent()
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        id.push_str(&format!("; rootfs {entry}: {}", disk.description));
    }
    Ok(id)
}

/// What a sweep did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Runs executed now.
    pub executed: usize,
    /// Runs whose successful result was cached.
    pub cached: usize,
    /// Indices of the runs that failed.
    pub failed: Vec<usize>,
}

/// The cached results of the runs of `e` (failed ones included; `None`
/// for runs with none).
pub fn collect(e: &Experiment, cache: &Cache, images: &str) -> Vec<Option<RunResult>> {
    e.runs
        .iter()
        .map(|r| cache.load(&r.spec.hash(VERSION, images)))
        .collect()
}

/// Runs run `index` of `e` unless its successful result is cached, and
/// stores its result.
pub fn run_one(
    e: &Experiment,
    cache: &Cache,
    images: &str,
    executor: &dyn Executor,
    index: usize,
) -> Result<RunResult> {
    let Some(run) = e.runs.get(index) else {
        bail!(
            "{} has runs 0 to {}, not {index}",
            e.name,
            e.runs.len().saturating_sub(1)
        );
    };
    let hash = run.spec.hash(VERSION, images);
    if let Some(r) = cache.load(&hash).filter(|r| r.ok) {
        return Ok(r);
    }
    let r = exec::execute(executor, cache, &run.spec, &run.labels, &hash, images);
    cache.store(&r)?;
    Ok(r)
}

/// Executes, `jobs` at once, the runs of `e` without a successful cached
/// result; stores each result as it finishes. Returns every run's result.
pub fn sweep(
    e: &Experiment,
    cache: &Cache,
    images: &str,
    executor: &dyn Executor,
    jobs: usize,
) -> Result<(Vec<Option<RunResult>>, SweepReport)> {
    std::fs::create_dir_all(cache.dir())
        .with_context(|| format!("cannot create {}", cache.dir().display()))?;
    let hashes: Vec<String> = e
        .runs
        .iter()
        .map(|r| r.spec.hash(VERSION, images))
        .collect();
    let mut results: Vec<Option<RunResult>> = Vec::with_capacity(e.runs.len());
    let mut todo = Vec::new();
    for (i, h) in hashes.iter().enumerate() {
        match cache.load(h).filter(|r| r.ok) {
            Some(r) => results.push(Some(r)),
            None => {
                // The same spec twice runs once.
                if !todo.iter().any(|&j: &usize| hashes[j] == *h) {
                    todo.push(i);
                }
                results.push(None);
            }
        }
    }
    let mut report = SweepReport {
        cached: e.runs.len() - todo.len(),
        ..SweepReport::default()
    };
    let progress = Progress::new(e.runs.len(), report.cached);
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<(usize, RunResult)>> = Mutex::new(Vec::new());
    let store_error: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, todo.len().max(1)) {
            s.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::SeqCst);
                let Some(&i) = todo.get(k) else { break };
                let run = &e.runs[i];
                progress.started();
                let r = exec::execute(executor, cache, &run.spec, &run.labels, &hashes[i], images);
                if let Err(err) = cache.store(&r) {
                    store_error.lock().unwrap().get_or_insert(err);
                }
                progress.finished(&run_label(run), &outcome_words(&r));
                done.lock().unwrap().push((i, r));
            });
        }
    });
    progress.end();
    if let Some(err) = store_error.into_inner().unwrap() {
        return Err(err);
    }
    for (i, r) in done.into_inner().unwrap() {
        report.executed += 1;
        if !r.ok {
            report.failed.push(i);
        }
        results[i] = Some(r);
    }
    // Duplicates of a run take its result.
    for i in 0..results.len() {
        if results[i].is_none() {
            results[i] = results
                .iter()
                .zip(&hashes)
                .find(|(r, h)| r.is_some() && **h == hashes[i])
                .and_then(|(r, _)| r.clone());
        }
    }
    report.failed.sort_unstable();
    Ok((results, report))
}

/// Progress of a sweep: a bar on a terminal, else one line per finished run.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    total: usize,
    done: AtomicUsize,
    running: AtomicUsize,
}

impl Progress {
    fn new(total: usize, cached: usize) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::new(total as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} runs done, {msg} [{elapsed_precise}]",
            ) {
                b.set_style(style);
            }
            b.set_position(cached as u64);
            b.set_message("0 running");
            b
        });
        Progress {
            bar,
            total,
            done: AtomicUsize::new(cached),
            running: AtomicUsize::new(0),
        }
    }

    fn started(&self) {
        let running = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(b) = &self.bar {
            b.set_message(format!("{running} running"));
        }
    }

    fn finished(&self, label: &str, outcome: &str) {
        let running = self.running.fetch_sub(1, Ordering::SeqCst) - 1;
        let done = self.done.fetch_add(1, Ordering::SeqCst) + 1;
        match &self.bar {
            Some(b) => {
                b.println(format!("{label}: {outcome}"));
                b.inc(1);
                b.set_message(format!("{running} running"));
            }
            None => eprintln!(
                "disco experiment: [{done}/{} done, {running} running] {label}: {outcome}",
                self.total
            ),
        }
    }

    fn end(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// The content of `NAME.json` for the results of the runs of `e`.
pub fn result_json(e: &Experiment, results: &[Option<RunResult>]) -> Value {
    let summaries: Vec<Option<figure::Summary>> = results
        .iter()
        .map(|r| r.as_ref().map(figure::summarise))
        .collect();
    let usable: Vec<figure::Summary> = summaries
        .iter()
        .map(|s| {
            s.clone().unwrap_or(figure::Summary {
                hash: String::new(),
                ok: false,
                exit_status: None,
                host_seconds: 0.0,
                sim_seconds: None,
                timing_mode: None,
                measured_region: None,
                instructions: None,
                breakdown: None,
                failure: Some("no result".into()),
            })
        })
        .collect();
    let fig = match e.figure {
        spec::FigureKind::NormalisedBreakdown => json!(figure::figure(e, &usable)),
        spec::FigureKind::ServiceTable => json!(services::service_table(e, results)),
        spec::FigureKind::MemoryFootprint => json!(memory::footprints(e, results)),
        spec::FigureKind::NumaBreakdown => json!(numa::figure(e, results)),
    };
    let ok_stats = || {
        results
            .iter()
            .flatten()
            .filter(|r| r.ok)
            .filter_map(|r| r.stats.as_ref())
    };
    let mut modes: Vec<String> = ok_stats()
        .filter_map(|s| s.get("timing_mode").and_then(Value::as_str))
        .map(str::to_lowercase)
        .collect();
    modes.sort();
    modes.dedup();
    let cost_table = results
        .iter()
        .flatten()
        .filter(|r| r.ok && r.spec.vm && r.spec.cost_scale == 1.0)
        .find_map(|r| r.stats.as_ref()?.get("monitor")?.get("costs").cloned())
        .unwrap_or(Value::Null);
    let runs: Vec<Value> = e
        .runs
        .iter()
        .zip(&summaries)
        .enumerate()
        .map(|(i, (run, s))| {
            json!({
                "index": i,
                "spec": run.spec,
                "labels": run.labels,
                "command": run.spec.command_line(),
                "result": s,
            })
        })
        .collect();
    json!({
        "experiment": e.name,
        "title": e.title,
        "disco_version": VERSION,
        "quick": e.quick,
        "timing_mode": match modes.len() {
            0 => Value::Null,
            1 => Value::String(modes[0].clone()),
            _ => Value::String(format!("mixed: {}", modes.join(", "))),
        },
        "cost_table": cost_table,
        "cost_table_note": "monitor.costs of the VM runs at cost scale 1; the runs at scale F multiply every cost by F (see disco run --cost-scale)",
        "runs": runs,
        "figure": fig,
        "paper": if e.paper_services.is_empty() {
            json!({"source": e.paper_source, "bars": e.paper})
        } else {
            json!({
                "source": e.paper_source,
                "bars": e.paper,
                "services": e.paper_services,
                "system_time_factors": spec::PAPER_SYSTEM_TIME_FACTORS,
            })
        },
    })
}

/// Writes `DIR/NAME.json`, `DIR/NAME.svg` and `DIR/NAME.png`; returns the
/// table to print.
pub fn write_outputs(e: &Experiment, out: &Path, results: &[Option<RunResult>]) -> Result<String> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let j = result_json(e, results);
    let path = out.join(format!("{}.json", e.name));
    let tmp = out.join(format!(".{}.json.tmp", e.name));
    std::fs::write(&tmp, serde_json::to_string_pretty(&j)? + "\n")
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
    let timing = j["timing_mode"]
        .as_str()
        .unwrap_or("no successful run")
        .to_string();
    let subtitle = format!(
        "{} runs, timing at the end: {timing}{}",
        if e.quick { "quick" } else { "full" },
        if results.iter().all(|r| r.as_ref().is_some_and(|r| r.ok)) {
            String::new()
        } else {
            ", SOME RUNS FAILED".to_string()
        }
    );
    let (svg, png) = (
        out.join(format!("{}.svg", e.name)),
        out.join(format!("{}.png", e.name)),
    );
    let mut t = match e.figure {
        spec::FigureKind::NormalisedBreakdown => {
            let fig: figure::Figure = serde_json::from_value(j["figure"].clone())?;
            plot::draw(e, &fig, &subtitle, &svg, &png)?;
            figure::table(e, &fig)
        }
        spec::FigureKind::ServiceTable => {
            let table: services::ServiceTable = serde_json::from_value(j["figure"].clone())?;
            plot::draw_services(e, &table, &subtitle, &svg, &png)?;
            services::table(e, &table)
        }
        spec::FigureKind::MemoryFootprint => {
            let f: memory::Footprints = serde_json::from_value(j["figure"].clone())?;
            plot::draw_footprints(e, &f, &subtitle, &svg, &png)?;
            memory::table(&f)
        }
        spec::FigureKind::NumaBreakdown => {
            let f: numa::NumaFigure = serde_json::from_value(j["figure"].clone())?;
            plot::numa_chart(e, &f, &subtitle).draw(&svg, &png)?;
            numa::table(&f)
        }
    };
    t.push_str(&format!("timing: {timing}; paper: {}\n", e.paper_source));
    let unmeasured = results
        .iter()
        .flatten()
        .filter(|r| r.ok)
        .filter(|r| r.stats.as_ref().and_then(figure::measured_region) != Some(true))
        .count();
    if unmeasured > 0 {
        t.push_str(&format!(
            "note: {unmeasured} run(s) do not say their statistics are those of a guest-marked measured region\n"
        ));
    }
    Ok(t)
}

#[cfg(test)]
mod tests;
