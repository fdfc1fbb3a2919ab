//! End-to-end tests: boot the real Debian guest on the simulated machine.
//!
//! These run the `disco` binary, which fetches the default Debian images
//! through the project's own fetcher when they are not cached (this needs a
//! Debian host with network access and root, as CI has).

use std::io::{BufRead, BufReader, Read, Write};
use std::process::Stdio;

mod common;
use common::{disco, run_exec, stderr, stdout, summary_counts};
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn exec_prints_the_guest_output_and_is_deterministic() {
    let first = run_exec("uname -m; echo ok");
    assert_eq!(first.status.code(), Some(0), "stderr:\n{}", stderr(&first));
    assert_eq!(stdout(&first), "mips64\nok\n");
    // Same machine, same input: same instruction count and simulated time.
    let second = run_exec("uname -m; echo ok");
    assert_eq!(stdout(&second), "mips64\nok\n");
    assert_eq!(summary_counts(&first), summary_counts(&second));
}

#[test]
fn exec_reports_real_system_information() {
    let o = run_exec("uname -a; cat /proc/cpuinfo; ls /");
    assert_eq!(o.status.code(), Some(0), "stderr:\n{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("Linux disco 6.1."), "{out}");
    assert!(out.contains("mips64 GNU/Linux"), "{out}");
    assert!(out.contains("cpu model\t\t: MIPS GENERIC QEMU"), "{out}");
    assert!(out.contains("tlb_entries\t\t: 64"), "{out}");
    assert!(out.contains("fpu"), "{out}");
    for dir in ["bin", "dev", "etc", "init", "proc", "sys"] {
        assert!(
            out.split_whitespace().any(|w| w == dir),
            "ls / lacks {dir}: {out}"
        );
    }
    let summary = stderr(&o);
    assert!(summary.contains(" MIPS"), "summary line missing: {summary}");
}

#[test]
fn exec_exit_status_is_the_commands() {
    let o = run_exec("exit 3");
    assert_eq!(o.status.code(), Some(3), "stderr:\n{}", stderr(&o));
    assert_eq!(stdout(&o), "");
}

#[test]
fn poweroff_in_the_shell_ends_the_simulation() {
    // busybox's poweroff signals PID 1 (/init), which powers the machine off.
    let mut c = common::Console::start(&["run"]);
    c.wait_for("GUEST UP");
    c.send("poweroff\n");
    let (code, err) = c.finish();
    assert_eq!(code, Some(0), "stderr:\n{err}");
    // Leaving the shell does too.
    let mut c = common::Console::start(&["run"]);
    c.wait_for("GUEST UP");
    c.send("exit\n");
    let (code, err) = c.finish();
    assert_eq!(code, Some(0), "stderr:\n{err}");
}

#[test]
fn interactive_console_takes_input() {
    let mut child = disco()
        .arg("run")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("disco starts");
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        let mut line = Vec::new();
        while r.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
            let _ = tx.send(String::from_utf8_lossy(&line).into_owned());
            line.clear();
        }
    });
    let wait_for = |needle: &str| {
        let deadline = std::time::Instant::now() + Duration::from_secs(300);
        let mut seen = String::new();
        while std::time::Instant::now() < deadline {
            if let Ok(l) = rx.recv_timeout(Duration::from_secs(1)) {
                seen.push_str(&l);
                if l.contains(needle) {
                    return seen;
                }
            }
        }
        panic!("'{needle}' never appeared; output so far:\n{seen}");
    };
    wait_for("GUEST UP");
    // Type a command, then end the simulation through the exit device.
    stdin.write_all(b"echo typed-$((6*7))\n").unwrap();
    wait_for("typed-42");
    stdin.write_all(b"devmem 0xf0001000 32 7\n").unwrap();
    let status = child.wait().expect("disco exits");
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(7), "stderr:\n{err}");
}

#[test]
fn missing_kernel_is_one_clear_error() {
    let o = disco()
        .args(["run", "--kernel", "/nonexistent/vmlinuz"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("cannot read kernel '/nonexistent/vmlinuz'"),
        "{err}"
    );
}

#[test]
fn non_elf_kernel_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not-a-kernel");
    std::fs::write(&path, b"#!/bin/sh\necho hello\n").unwrap();
    let o = disco()
        .args(["run", "--kernel"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("not an ELF"), "{err}");
}

#[test]
fn bad_memory_sizes_are_rejected() {
    let o = disco().args(["run", "--mem", "lots"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "clap usage error");
    assert!(stderr(&o).contains("invalid size 'lots'"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k");
    std::fs::write(&path, b"\x7fELF").unwrap();
    let o = disco()
        .args(["run", "--mem", "16M", "--kernel"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("memory size 16 MiB is outside the supported range"),
        "{}",
        stderr(&o)
    );
}
