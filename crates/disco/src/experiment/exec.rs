//! Executing one run, and the cache of run results.
//!
//! Runs execute as subprocesses of this disco (`disco run ... --exec CMD
//! --stats-json FILE`), so they are isolated and several can run at once.
//! [`Executor`] is the seam tests replace with a fake. Results live in
//! `DIR/cache/<hash>.json`, written atomically (a temporary file renamed
//! into place), so an interrupted sweep resumes where it stopped and a
//! finished run is never redone; a failed run is stored as failed (for
//! the report) and run again on the next invocation.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::spec::{Labels, RunSpec};

/// Characters of console output kept with a result.
pub const OUTPUT_TAIL: usize = 4000;

/// What executing a run gave.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// The exit status (`None`: killed by a signal or not started).
    pub status: Option<i32>,
    /// The statistics JSON, if the run wrote one.
    pub stats: Option<Value>,
    /// The end of its output (stdout, then stderr).
    pub output_tail: String,
    /// Host seconds it took.
    pub host_seconds: f64,
}

/// Executes runs.
pub trait Executor: Sync {
    /// Runs `spec`; `scratch` is a directory of its own for temporary
    /// files. An `Err` is a failure to start it, not a failed run.
    fn execute(&self, spec: &RunSpec, scratch: &Path) -> Result<Outcome>;
}

/// Runs `disco run` as a subprocess of the executable `exe`.
#[derive(Debug, Clone)]
pub struct Subprocess {
    /// The disco executable.
    pub exe: PathBuf,
}

impl Subprocess {
    /// This executable.
    pub fn current() -> Result<Subprocess> {
        Ok(Subprocess {
            exe: std::env::current_exe().context("cannot find the disco executable")?,
        })
    }
}

impl Executor for Subprocess {
    fn execute(&self, spec: &RunSpec, scratch: &Path) -> Result<Outcome> {
        let stats_path = scratch.join("stats.json");
        let memory_path = scratch.join(super::spec::MEMORY_REPORT);
        let _ = std::fs::remove_file(&stats_path);
        let _ = std::fs::remove_file(&memory_path);
        spec.prepare(scratch)?;
        let start = Instant::now();
        let out = Command::new(&self.exe)
            .args(spec.args(&stats_path))
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("cannot start {}", self.exe.display()));
        for i in 0..spec.vms.unwrap_or(1).max(1) {
            let _ = std::fs::remove_file(RunSpec::work_disk(scratch, i));
        }
        let out = out?;
        let host_seconds = start.elapsed().as_secs_f64();
        let read =
            |p: &Path| -> Option<Value> { serde_json::from_slice(&std::fs::read(p).ok()?).ok() };
        let mut stats = read(&stats_path);
        if spec.memory_report {
            // A run without its footprint has no usable statistics.
            match (stats.as_mut(), read(&memory_path)) {
                (Some(Value::Object(s)), Some(m)) => {
                    s.insert("memory_report".into(), m);
                }
                _ => stats = None,
            }
        }
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        Ok(Outcome {
            status: out.status.code(),
            stats,
            output_tail: tail(&text, OUTPUT_TAIL),
            host_seconds,
        })
    }
}

/// The last `n` characters of `s` (at a character boundary).
pub fn tail(s: &str, n: usize) -> String {
    let count = s.chars().count();
    s.chars().skip(count.saturating_sub(n)).collect()
}

/// A run's stored result.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunResult {
    /// The cache key.
    pub hash: String,
    /// What ran.
    pub spec: RunSpec,
    /// Its labels (not part of the key).
    pub labels: Labels,
    /// disco's version.
    pub disco_version: String,
    /// The guest images' identity.
    pub images: String,
    /// Exit status 0, statistics written and the expected output seen.
    pub ok: bool,
    /// The exit status (`None`: killed by a signal, or never started).
    pub exit_status: Option<i32>,
    /// Host seconds the run took.
    pub host_seconds: f64,
    /// The end of its console output and disco's messages.
    pub output_tail: String,
    /// The statistics JSON of `disco run --stats-json`.
    pub stats: Option<Value>,
}

/// The result cache, `DIR/cache`.
#[derive(Clone, Debug)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// The cache in output directory `out`.
    pub fn in_dir(out: &Path) -> Cache {
        Cache {
            dir: out.join("cache"),
        }
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the result of `hash` is stored.
    pub fn path(&self, hash: &str) -> PathBuf {
        self.dir.join(format!("{hash}.json"))
    }

    /// The stored result of `hash`, if any (an unreadable file counts as
    /// none: the run is redone).
    pub fn load(&self, hash: &str) -> Option<RunResult> {
        let bytes = std::fs::read(self.path(hash)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Stores `r` atomically.
    pub fn store(&self, r: &RunResult) -> Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        let path = self.path(&r.hash);
        let tmp = self.dir.join(format!(
            ".{}.{}.{:?}.tmp",
            r.hash,
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::write(&tmp, serde_json::to_vec_pretty(r)?)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &path)
            .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))?;
        Ok(())
    }

    /// A fresh scratch directory for run `hash`.
    pub fn scratch(&self, hash: &str) -> Result<PathBuf> {
        let d = self.dir.join(format!(
            ".scratch-{}-{}",
            &hash[..16.min(hash.len())],
            std::process::id()
        ));
        std::fs::create_dir_all(&d).with_context(|| format!("cannot create {}", d.display()))?;
        Ok(d)
    }
}

/// Executes `spec` with `executor` and makes a result of it (a failure to
/// start is a failed result with the error as its output).
pub fn execute(
    executor: &dyn Executor,
    cache: &Cache,
    spec: &RunSpec,
    labels: &Labels,
    hash: &str,
    images: &str,
) -> RunResult {
    let outcome = cache
        .scratch(hash)
        .and_then(|scratch| {
            let o = executor.execute(spec, &scratch);
            let _ = std::fs::remove_dir_all(&scratch);
            o
        })
        .unwrap_or_else(|e| Outcome {
            status: None,
            output_tail: format!("disco experiment: {e:#}"),
            ..Outcome::default()
        });
    RunResult {
        hash: hash.to_string(),
        spec: spec.clone(),
        labels: labels.clone(),
        disco_version: super::VERSION.to_string(),
        images: images.to_string(),
        ok: outcome.status == Some(0)
            && outcome.stats.is_some()
            && spec
                .expect
                .as_ref()
                .is_none_or(|e| outcome.output_tail.contains(e.as_str())),
        exit_status: outcome.status,
        host_seconds: outcome.host_seconds,
        output_tail: outcome.output_tail,
        stats: outcome.stats,
    }
}
