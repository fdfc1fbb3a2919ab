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
    // Built under a name of its own and renamed into place: tests running
    // at once may build the same program, and none may see it half written.
    let tmp = dir.join(format!(
        "{name}.{}.{:?}.tmp",
        std::process::id(),
        std::thread::current().id()
    ));
    let cc = std::env::var("MIPS_CC").unwrap_or_else(|_| "mips64el-linux-gnuabi64-gcc".into());
    let o = Command::new(&cc)
        .args(["-static", "-O2", "-Wall", "-Werror", "-pthread", "-o"])
        .arg(&tmp)
        .arg(&src)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {cc} ({e}); scripts/test installs gcc-mips64el-linux-gnuabi64")
        });
    assert!(o.status.success(), "{cc} failed:\n{}", stderr(&o));
    std::fs::rename(&tmp, &out).unwrap();
    out
}

/// An interactive `disco` session whose console is driven through pipes.
pub struct Console {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    lines: std::sync::mpsc::Receiver<String>,
    seen: String,
}

impl Console {
    /// Starts `disco ARGS` with piped standard streams.
    pub fn start(args: &[&str]) -> Console {
        use std::io::BufRead;
        let mut child = disco()
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("disco starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut r = std::io::BufReader::new(stdout);
            let mut line = Vec::new();
            while r.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
                let _ = tx.send(String::from_utf8_lossy(&line).into_owned());
                line.clear();
            }
        });
        Console {
            child,
            stdin,
            lines,
            seen: String::new(),
        }
    }

    /// Waits (up to 5 minutes) for a line containing `needle`; panics with
    /// the output so far if it never comes.
    pub fn wait_for(&mut self, needle: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
        while std::time::Instant::now() < deadline {
            if let Ok(l) = self.lines.recv_timeout(std::time::Duration::from_secs(1)) {
                self.seen.push_str(&l);
                if l.contains(needle) {
                    return;
                }
            }
        }
        panic!("'{needle}' never appeared; output so far:\n{}", self.seen);
    }

    /// Types `text` on the console.
    pub fn send(&mut self, text: &str) {
        use std::io::Write;
        self.stdin.write_all(text.as_bytes()).unwrap();
        self.stdin.flush().unwrap();
    }

    /// Waits for disco to exit; returns its exit code and standard error.
    pub fn finish(mut self) -> (Option<i32>, String) {
        use std::io::Read;
        let status = self.child.wait().expect("disco exits");
        let mut err = String::new();
        let _ = self.child.stderr.take().unwrap().read_to_string(&mut err);
        (status.code(), err)
    }
}

/// The Debian root disk's image, built through `disco fetch --rootfs` if
/// missing (the first test to ask builds it; the others wait on the
/// cache's lock).
pub fn root_disk_image() -> PathBuf {
    let o = run(&["fetch", "--rootfs"]);
    assert!(o.status.success(), "fetch --rootfs failed:\n{}", stderr(&o));
    let out = stdout(&o);
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("root disk: "))
        .unwrap_or_else(|| panic!("no 'root disk:' line in:\n{out}"));
    PathBuf::from(line)
}

/// The SHA-256 of a file, in hex.
pub fn sha256_file(path: &std::path::Path) -> String {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut f = std::fs::File::open(path).unwrap();
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
