//! Stock Debian Linux in virtual machines on the Disco monitor: the same
//! command bare and in a VM, several VMs with separate consoles, and a
//! panicking VM that does not take the others down.

use std::process::Output;

mod common;
use common::{disco, run, stderr, stdout, summary_counts};

const CMD: &str = "uname -a; grep -c processor /proc/cpuinfo; echo $((6*7)); exit 3";

/// The counts row of a `--stats` report: TLB writes, other privileged
/// instructions, ..., rewritten instructions (last).
fn monitor_counts(err: &str) -> Vec<u64> {
    let counts = err
        .lines()
        .skip_while(|l| !l.starts_with("counts"))
        .nth(1)
        .unwrap_or_else(|| panic!("no counts row:\n{err}"));
    counts
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap())
        .collect()
}

#[test]
fn a_command_runs_the_same_bare_and_in_a_vm() {
    let bare = run(&["run", "--exec", CMD]);
    let vm = run(&["run", "--vm", "--exec", CMD, "--stats"]);
    let trap_all = run(&["run", "--vm", "--no-patch", "--exec", CMD, "--stats"]);
    for out in [&bare, &vm, &trap_all] {
        assert_eq!(out.status.code(), Some(3), "{}", stderr(out));
    }
    assert_eq!(stdout(&vm), stdout(&bare));
    assert_eq!(stdout(&trap_all), stdout(&bare));
    assert!(
        stdout(&vm).starts_with("Linux disco 6.1"),
        "{}",
        stdout(&vm)
    );
    // The monitor's accounting: every Table 2 column, and real work in them.
    let err = stderr(&vm);
    for column in [
        "user",
        "kernel",
        "tlbwrite",
        "otherpriv",
        "services",
        "ktlbfault",
        "patched",
    ] {
        assert!(err.contains(column), "no {column} column:\n{err}");
    }
    // Pure trap-and-emulate: every privileged instruction traps, nothing is
    // rewritten. With rewriting, hundreds of sites stop trapping and the
    // privileged-instruction traps drop to less than half.
    let patched = monitor_counts(&err);
    let trapped = monitor_counts(&stderr(&trap_all));
    assert!(
        trapped[0] > 1000 && trapped[1] > 100_000 && trapped[8] == 0,
        "trap-all counts: {trapped:?}"
    );
    assert!(
        patched[8] > 100 && patched[1] * 2 < trapped[1],
        "rewriting: {patched:?} against {trapped:?}"
    );
    assert!(patched[0] > 1000, "TLB writes still trap: {patched:?}");
    // Deterministic: the same run again gives the same counts.
    let again = run(&["run", "--vm", "--exec", CMD]);
    assert_eq!(summary_counts(&again), summary_counts(&vm));
}

fn up(file: &std::path::Path, extra: &[&str]) -> Output {
    let mut args = vec!["up", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn two_vms_boot_with_separate_consoles() {
    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/two-vms.toml");
    let logs = tempfile::tempdir().unwrap();
    let o = up(&example, &["--logs", logs.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("[alpha] hello from alpha"), "{out}");
    assert!(out.contains("[beta] hello from beta"), "{out}");
    assert!(!out.contains("[beta] hello from alpha") && !out.contains("[alpha] hello from beta"));
    assert!(out.contains("[alpha] Linux disco 6.1"), "{out}");
    let alpha = std::fs::read_to_string(logs.path().join("alpha.log")).unwrap();
    let beta = std::fs::read_to_string(logs.path().join("beta.log")).unwrap();
    assert!(alpha.contains("hello from alpha") && !alpha.contains("hello from beta"));
    assert!(beta.contains("hello from beta") && !beta.contains("hello from alpha"));
    let err = stderr(&o);
    assert!(err.contains("alpha: exited with status 0"), "{err}");
    assert!(err.contains("beta: exited with status 0"), "{err}");
}

#[test]
fn multiprocessor_vms_bring_up_every_vcpu() {
    // Field 39 of /proc/self/stat: the CPU the process runs on.
    let cmd = "nproc; taskset -c 1 cut -d' ' -f39 /proc/self/stat; grep -c IPI /proc/interrupts";
    let bare = run(&["run", "--cpus", "2", "--exec", cmd]);
    let vm = run(&["run", "--vm", "--vcpus", "2", "--cpus", "2", "--exec", cmd]);
    for out in [&bare, &vm] {
        assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
    }
    assert_eq!(stdout(&bare), "2\n1\n4\n");
    assert_eq!(
        stdout(&vm),
        stdout(&bare),
        "the VM is the bare machine's twin"
    );
    // More vCPUs than physical CPUs.
    let crowded = run(&["run", "--vm", "--vcpus", "3", "--cpus", "1", "--exec", cmd]);
    assert_eq!(crowded.status.code(), Some(0), "{}", stderr(&crowded));
    assert_eq!(stdout(&crowded), "3\n1\n6\n");
    // Two SMP VMs side by side.
    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/smp-vms.toml");
    let o = up(&example, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    for line in [
        "[left] left has 2 CPUs",
        "[right] right has 2 CPUs",
        "[right] cat ran on CPU 0",
        "[right] cat ran on CPU 1",
    ] {
        assert!(out.contains(line), "no '{line}' in:\n{out}");
    }
}

#[test]
fn a_panicking_vm_does_not_stop_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vms.toml");
    std::fs::write(
        &file,
        r#"
[machine]
cpus = 1

[[vm]]
name = "doomed"
mem = "128M"
append = "rdinit=/nonexistent init=/nonexistent"

[[vm]]
name = "steady"
mem = "128M"
exec = "sleep 1; echo still here"
"#,
    )
    .unwrap();
    let o = up(&file, &["--stats"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "not every VM succeeded:\n{}",
        stderr(&o)
    );
    let out = stdout(&o);
    assert!(
        out.lines()
            .any(|l| l.starts_with("[doomed]") && l.contains("Kernel panic - not syncing")),
        "{out}"
    );
    assert!(out.contains("[steady] still here"), "{out}");
    let err = stderr(&o);
    assert!(err.contains("doomed: rebooted"), "{err}");
    assert!(err.contains("steady: exited with status 0"), "{err}");
}

#[test]
fn bad_vm_configurations_are_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[[vm]]\nmem = \"100M\"\n", "multiple of 16 MiB"),
        (
            "[[vm]]\nname = \"a\"\n[[vm]]\nname = \"a\"\n",
            "two VMs are named 'a'",
        ),
        ("[machine]\ncpus = 1\n", "describes no virtual machine"),
        ("[[vm]]\nvcpus = 17\n", "a VM has 1 to 16 virtual CPUs"),
        ("[[vm]]\nkernel = \"nope\"\n", "cannot read kernel"),
        ("[[vm]]\ncolour = 3\n", "unknown field"),
    ];
    for (text, expect) in cases {
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, text).unwrap();
        let o = disco().arg("up").arg(&file).output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{text}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(expect), "{text}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
