//! `disco experiment` end to end: the `selftest` experiment runs `true` on
//! the default busybox guest, bare and in a VM at monitor cost scales 1
//! and 2, as real `disco run` subprocesses; its results are cached, an
//! interrupted sweep resumes, and the Slurm path's `--collect` gives what
//! a local run gives.

use std::path::Path;

use serde_json::Value;

mod common;
use common::{run, stderr, stdout};

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap()
}

fn cached_results(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join("cache"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    v.sort();
    v
}

#[test]
fn experiment_selftest_runs_caches_resumes_and_collects() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let out = run(&[
        "experiment",
        "selftest",
        "--quick",
        "--jobs",
        "2",
        "--out",
        d,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("3 runs: 3 executed, 0 cached, 0 failed"),
        "{}",
        stderr(&out)
    );
    let table = stdout(&out);
    assert!(table.contains("true         vm x2"), "{table}");

    let j = read_json(&dir.path().join("selftest.json"));
    assert_eq!(j["experiment"], "selftest");
    assert_eq!(j["quick"], true);
    assert_eq!(j["timing_mode"], "fast");
    assert_eq!(j["cost_table"]["trap"], 40);
    let runs = j["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    for r in runs {
        assert_eq!(r["result"]["ok"], true, "{r}");
    }
    let bars = j["figure"]["workloads"][0]["bars"].as_array().unwrap();
    assert_eq!(bars.len(), 3);
    assert_eq!(bars[0]["normalised"]["total"], 100.0);
    // Bare has no monitor; the VMs do, twice as much at scale 2.
    let monitor = |i: usize| bars[i]["normalised"]["monitor"].as_f64().unwrap();
    assert_eq!(monitor(0), 0.0);
    assert!(monitor(1) > 0.0);
    assert!(
        monitor(2) > 1.5 * monitor(1),
        "{} {}",
        monitor(1),
        monitor(2)
    );
    // The VM at scale 2 ran with the doubled cost table.
    let cached = cached_results(dir.path());
    assert_eq!(cached.len(), 3);
    let x2 = cached
        .iter()
        .map(|p| read_json(p))
        .find(|c| c["spec"]["cost_scale"] == 2.0)
        .unwrap();
    assert_eq!(x2["stats"]["monitor"]["costs"]["trap"], 80);
    // Valid plot files.
    let svg = std::fs::read_to_string(dir.path().join("selftest.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("</svg>"));
    let png = std::fs::read(dir.path().join("selftest.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");

    // A second invocation runs nothing and writes the same result.
    let again = run(&["experiment", "selftest", "--quick", "--out", d]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("0 executed, 3 cached"),
        "{}",
        stderr(&again)
    );
    assert_eq!(read_json(&dir.path().join("selftest.json")), j);

    // Resume: only the deleted result is redone.
    std::fs::remove_file(&cached[0]).unwrap();
    let resumed = run(&["experiment", "selftest", "--quick", "--out", d]);
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    assert!(
        stderr(&resumed).contains("1 executed, 2 cached"),
        "{}",
        stderr(&resumed)
    );
    let resumed_json = read_json(&dir.path().join("selftest.json"));
    // Deterministic simulation: the same figure (host seconds aside).
    assert_eq!(resumed_json["figure"], j["figure"]);

    // The Slurm path: emit, run each array task by hand, collect.
    let array = tempfile::tempdir().unwrap();
    let a = array.path().to_str().unwrap();
    let emitted = run(&["experiment", "selftest", "--quick", "--emit-slurm", a]);
    assert_eq!(emitted.status.code(), Some(0), "{}", stderr(&emitted));
    let script = std::fs::read_to_string(array.path().join("selftest.sbatch")).unwrap();
    assert!(script.contains("#SBATCH --array=0-2"), "{script}");
    // Collecting before any task ran reports the missing runs.
    let early = run(&["experiment", "selftest", "--quick", "--collect", a]);
    assert_ne!(early.status.code(), Some(0));
    assert!(
        stderr(&early).contains("has no result"),
        "{}",
        stderr(&early)
    );
    // The tasks' results: copied from the local run's cache (each is what
    // `--run-one` would store; one task is run for real).
    std::fs::create_dir_all(array.path().join("cache")).unwrap();
    for p in cached_results(dir.path()) {
        std::fs::copy(&p, array.path().join("cache").join(p.file_name().unwrap())).unwrap();
    }
    let one = cached_results(array.path())[0].clone();
    std::fs::remove_file(&one).unwrap();
    // Which task that is: the run list gives each index's hash.
    let list = read_json(&array.path().join("selftest.runs.json"));
    let stem = one.file_stem().unwrap().to_str().unwrap();
    let index = list["runs"]
        .as_array()
        .unwrap()
        .iter()
        .position(|r| r["hash"] == stem)
        .unwrap();
    let task = run(&[
        "experiment",
        "selftest",
        "--quick",
        "--run-one",
        &index.to_string(),
        "--out",
        a,
    ]);
    assert_eq!(task.status.code(), Some(0), "{}", stderr(&task));
    assert!(one.exists());
    let collected = run(&["experiment", "selftest", "--quick", "--collect", a]);
    assert_eq!(collected.status.code(), Some(0), "{}", stderr(&collected));
    let mut cj = read_json(&array.path().join("selftest.json"));
    let mut lj = resumed_json;
    // Host seconds differ between two executions of the same run.
    for j in [&mut cj, &mut lj] {
        for r in j["runs"].as_array_mut().unwrap() {
            r["result"]["host_seconds"] = Value::Null;
        }
    }
    assert_eq!(cj, lj);
}

#[test]
fn experiment_list_and_unknown_names() {
    let out = run(&["experiment", "list"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("fig6"));
    assert!(stdout(&out).contains("selftest"));
    assert!(stdout(&out).contains("table2"));
    assert!(stdout(&out).contains("fig7"));
    assert!(stdout(&out).contains("sharing"));
    let bad = run(&["experiment", "fig99"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("no experiment 'fig99'"),
        "{}",
        stderr(&bad)
    );
    let bad = run(&[
        "experiment",
        "selftest",
        "--run-one",
        "9",
        "--out",
        "/nonexistent/x",
    ]);
    assert_eq!(bad.status.code(), Some(1));
}
