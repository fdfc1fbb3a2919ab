//! Helpers shared by the end-to-end tests: running the `disco` binary and
//! building guest test programs.

#![allow(dead_code)] // each test crate uses its own subset

use std::path::PathBuf;
use std::process::{Command, Output};

/// The `disco` binary under test.
pub fn disco() -> Command {
    Command::new(env!("CARGO_BIN_EXE_disco"))
}

/// Runs `disco` with `args`; panics if it was killed.
pub fn run(args: &[&str]) -> Output {
    let out = disco().args(args).output().expect("disco runs");
    if out.status.code().is_none() {
        panic!("disco was killed: {}", stderr(&out));
    }
    out
}

/// Runs `disco run --exec cmd` on the default machine.
pub fn run_exec(cmd: &str) -> Output {
    run(&["run", "--exec", cmd])
}

/// The standard output, as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The standard error, as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The "N instructions, T" part of the summary line (counts, not host time).
pub fn summary_counts(o: &Output) -> String {
    let err = stderr(o);
    let line = err
        .lines()
        .find(|l| l.contains(" instructions, "))
        .unwrap_or_else(|| panic!("no summary line in stderr:\n{err}"));
    line.split(" simulated").next().unwrap().to_string()
}

/// Builds `tests/guest/NAME.c` into a static mips64el Linux executable
/// (glibc, pthreads) with Debian's cross compiler; returns its path.
pub fn build_guest(name: &str) -> PathBuf {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/guest/{name}.c"));
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("guest");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(name);
    let cc = std::env::var("MIPS_CC").unwrap_or_else(|_| "mips64el-linux-gnuabi64-gcc".into());
    let o = Command::new(&cc)
        .args(["-static", "-O2", "-Wall", "-Werror", "-pthread", "-o"])
        .arg(&out)
        .arg(&src)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {cc} ({e}); scripts/test installs gcc-mips64el-linux-gnuabi64")
        });
    assert!(o.status.success(), "{cc} failed:\n{}", stderr(&o));
    out
}
