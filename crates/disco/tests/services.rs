//! `disco run --services`: stock Debian's system calls counted by name,
//! bare and in a VM (the paper's Table 2).

mod common;
use common::{run, stderr, summary_counts};

const CMD: &str = "dd if=/dev/zero of=/dev/null bs=1 count=1000";

/// Runs `CMD` with `--services --stats-json` (and `extra`); returns the
/// output and the JSON report.
fn run_services(extra: &[&str]) -> (std::process::Output, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("stats.json");
    let mut args = vec!["run", "--services", "--exec", CMD, "--stats"];
    args.extend_from_slice(extra);
    args.extend(["--stats-json", json.to_str().unwrap()]);
    let o = run(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    (o, report)
}

/// The count of service `name` in a `services` list.
fn count(services: &serde_json::Value, name: &str) -> u64 {
    services
        .as_array()
        .expect("a services list")
        .iter()
        .find(|s| s["name"] == name)
        .and_then(|s| s["count"].as_u64())
        .unwrap_or(0)
}

#[test]
fn dd_reads_and_writes_are_counted_bare_and_in_a_vm() {
    let (bare, report) = run_services(&[]);
    let services = &report["services"];
    assert!(count(services, "read") >= 1000, "{services}");
    assert!(count(services, "write") >= 1000, "{services}");
    assert!(count(services, "tlb-refill") > 0, "{services}");
    assert!(count(services, "execve") > 0, "{services}");
    assert!(stderr(&bare).contains("top kernel services"));

    let (vm, report) = run_services(&["--vm"]);
    let services = &report["monitor"]["vms"][0]["services"];
    assert!(count(services, "read") >= 1000, "{services}");
    assert!(count(services, "write") >= 1000, "{services}");
    let read = services
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "read")
        .unwrap();
    assert!(read["columns"]["kernel_exec"].as_u64().unwrap() > 0);
    assert!(read["columns"]["other_privs"].as_u64().unwrap() > 0);
    assert!(stderr(&vm).contains("tlbwrite"));

    // Tracking changes no simulated count.
    let plain = run(&["run", "--exec", CMD]);
    assert_eq!(summary_counts(&plain), summary_counts(&bare));
}
