//! The monitor's NUMA page migration and replication on the real Debian
//! guest: a program hunting stale and torn pages while the policy moves
//! them thousands of times, determinism with the policy on, and the
//! command line's errors.

mod common;
use common::{build_guest, run, stderr, stdout};

/// Switches to detailed timing (the miss counters count only there), runs
/// `cmd`, switches back.
fn detailed(cmd: &str) -> String {
    format!("devmem 0xf0003000 32 1; {cmd}; s=$?; devmem 0xf0003000 32 0; exit $s")
}

/// Thresholds low enough that pages move all the time, and an L2 small
/// enough that the pages keep missing.
const EAGER: [&str; 10] = [
    "--l2",
    "64K",
    "--numa-set",
    "trigger=4",
    "--numa-set",
    "sharing=2",
    "--numa-set",
    "reset_interval_ms=1",
    "--numa-set",
    "freeze_after=1000",
];

fn numa_total(stats: &serde_json::Value) -> &serde_json::Value {
    &stats["monitor"]["numa"]["total"]
}

/// Runs `cmd` with guest program `add` in a VM of `vcpus` vCPUs on as many
/// CPUs and nodes, with the eager policy; its output and statistics.
fn run_vm(vcpus: &str, add: &str, cmd: &str) -> (std::process::Output, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("stats.json");
    let mut args = vec![
        "run",
        "--vm",
        "--vcpus",
        vcpus,
        "--cpus",
        vcpus,
        "--nodes",
        vcpus,
        "--mem",
        "256M",
        "--add",
        add,
        "--stats-json",
        json.to_str().unwrap(),
        "--exec",
        cmd,
    ];
    args.extend(EAGER);
    let o = run(&args);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let stats = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    (o, stats)
}

#[test]
fn seqlock_readers_never_see_a_stale_or_torn_page_bare_and_in_a_vm() {
    let prog = build_guest("seqlock");
    let add = prog.to_str().unwrap();
    let cmd = detailed("seqlock 4 100");
    // Bare: the program and the machine's coherence agree.
    let o = run(&[
        "run", "--cpus", "4", "--nodes", "4", "--add", add, "--exec", &cmd,
    ]);
    assert!(
        stdout(&o).contains("seqlock ok 4 x 100"),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
    // In a VM whose pages migrate, replicate and collapse all the time.
    let (o, stats) = run_vm("4", add, &cmd);
    let out = stdout(&o);
    assert!(out.contains("seqlock ok 4 x 100"), "{out}{}", stderr(&o));
    let n = numa_total(&stats);
    let count = |k: &str| n[k].as_u64().unwrap();
    assert!(
        count("migrations") + count("replications") >= 1000,
        "pages must move thousands of times: {n}"
    );
    assert!(
        count("migrations") >= 100 && count("replications") >= 100,
        "{n}"
    );
    assert!(count("collapses") >= 10, "writes to replicated pages: {n}");
    assert!(count("shootdowns") > 0, "{n}");
}

#[test]
fn runs_with_the_policy_on_are_deterministic() {
    let prog = build_guest("seqlock");
    let add = prog.to_str().unwrap();
    let cmd = detailed("seqlock 2 30");
    let ((_, a), (_, b)) = (run_vm("2", add, &cmd), run_vm("2", add, &cmd));
    let moved = numa_total(&a)["migrations"].as_u64().unwrap()
        + numa_total(&a)["replications"].as_u64().unwrap();
    assert!(moved > 0, "the policy acted: {}", numa_total(&a));
    assert_eq!(
        a["cpus"], b["cpus"],
        "the same cycles, instructions, misses"
    );
    assert_eq!(numa_total(&a), numa_total(&b));
}

#[test]
fn numa_options_are_checked() {
    let o = run(&["run", "--numa", "off", "--exec", "true"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("need --vm"), "{}", stderr(&o));
    let o = run(&["run", "--vm", "--numa-set", "bogus=1", "--exec", "true"]);
    assert!(
        stderr(&o).contains("no parameter 'bogus'"),
        "{}",
        stderr(&o)
    );
    let o = run(&["run", "--vm", "--numa-set", "trigger", "--exec", "true"]);
    assert!(stderr(&o).contains("expected KEY=VALUE"), "{}", stderr(&o));
    let o = run(&[
        "run",
        "--vm",
        "--cpus",
        "2",
        "--interleave",
        "--exec",
        "true",
    ]);
    assert!(
        stderr(&o).contains("turn --interleave off"),
        "{}",
        stderr(&o)
    );
    let o = run(&["run", "--l2", "300K", "--exec", "true"]);
    assert!(stderr(&o).contains("power of two"), "{}", stderr(&o));
}
