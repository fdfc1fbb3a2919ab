//! End-to-end tests of the Debian root disk (`disco run --rootfs`): the
//! userland runs, the base image is never written, the paper's workloads
//! give their checked results bare and in a VM.
//!
//! The first test to run builds the root disk through disco's own builder
//! (`disco fetch --rootfs`: ~100 MB of Debian packages); the others wait
//! for it on the cache's lock.

mod common;
use common::{run, stderr, stdout, Console};

use common::{root_disk_image as image, sha256_file};

/// (length, modification time, SHA-256) of a file.
fn fingerprint(path: &std::path::Path) -> (u64, std::time::SystemTime, String) {
    let meta = std::fs::metadata(path).unwrap();
    (meta.len(), meta.modified().unwrap(), sha256_file(path))
}

#[test]
fn gcc_compiles_and_runs_a_program_in_the_guest() {
    let o = run(&[
        "run",
        "--rootfs",
        "--exec",
        "echo \"int main(){return 42;}\" > /tmp/a.c && gcc /tmp/a.c -o /tmp/a; /tmp/a; echo $?",
    ]);
    assert!(o.status.success(), "stderr:\n{}", stderr(&o));
    assert_eq!(stdout(&o), "42\n");
}

#[test]
fn the_base_image_is_never_written() {
    let image = image();
    let before = fingerprint(&image);
    // The guest writes all over its root file system, and sees its writes.
    let o = run(&[
        "run",
        "--rootfs",
        "--exec",
        "echo changed > /etc/motd && rm /usr/bin/which && mkdir /new && sync && \
         cat /etc/motd && ls /usr/bin/which 2>&1; grep -c '^/dev/vda / ext4 rw' /proc/mounts",
    ]);
    assert!(o.status.success(), "stderr:\n{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("changed\n"), "{out}");
    assert!(out.contains("No such file"), "{out}");
    assert!(
        out.ends_with("1\n"),
        "the root is not the copy-on-write disk mounted read-write:\n{out}"
    );
    assert_eq!(fingerprint(&image), before, "{} changed", image.display());
    // The next boot sees the base as it was.
    let o = run(&[
        "run",
        "--rootfs",
        "--exec",
        "test -x /usr/bin/which && ! test -e /new",
    ]);
    assert!(o.status.success(), "stderr:\n{}", stderr(&o));
}

#[test]
fn the_root_disk_is_a_debian_system_with_the_workloads_tools() {
    let o = run(&[
        "run",
        "--rootfs",
        "--exec",
        ". /etc/os-release; echo $VERSION_CODENAME; stat -f -c %S /; \
         for t in gcc g++ make povray iverilog vvp sqlite3 rpcbind; do command -v $t >/dev/null || echo missing $t; done; \
         test -f /opt/disco/src/gnuchess/src/main.cc || echo missing gnuchess; \
         ls -1 /opt/disco/workloads",
    ]);
    assert!(o.status.success(), "stderr:\n{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "bookworm\n4096\nREADME.md\ndatabase\nengineering\npmake\nraytrace\n"
    );
}

#[test]
fn poweroff_ends_a_root_disk_session() {
    let mut c = Console::start(&["run", "--rootfs"]);
    c.wait_for("GUEST UP");
    c.send("echo typed-$((6*7))\n");
    c.wait_for("typed-42");
    c.send("poweroff\n");
    let (code, err) = c.finish();
    assert_eq!(code, Some(0), "stderr:\n{err}");
}

/// Runs every workload, quick and in fast mode (the checks are what is
/// tested here, not the timing), in one boot; returns the result lines.
fn workloads(vm: bool) -> Vec<String> {
    let cmd = "for w in pmake engineering raytrace database; do \
               workload $w --quick --fast --cpus 1 || exit 1; done";
    let mut args = vec!["run", "--rootfs", "--mem", "1G", "--exec", cmd];
    if vm {
        args.push("--vm");
    }
    let o = run(&args);
    let out = stdout(&o);
    assert!(
        o.status.success(),
        "workloads failed (vm: {vm}):\n{out}\n{}",
        stderr(&o)
    );
    let lines: Vec<String> = out
        .lines()
        .filter(|l| l.starts_with("disco-workload: "))
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), 4, "{out}");
    for (line, w) in lines
        .iter()
        .zip(["pmake", "engineering", "raytrace", "database"])
    {
        assert!(
            line.starts_with(&format!("disco-workload: {w} ok")),
            "{line}"
        );
    }
    lines
}

#[test]
fn the_workloads_give_their_checked_results_bare_and_in_a_vm() {
    assert_eq!(workloads(false), workloads(true));
}

#[test]
fn a_vm_can_be_booted_from_the_root_disk_by_disco_up() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vms.toml");
    std::fs::write(
        &file,
        "[[vm]]\nname = \"a\"\nrootfs = true\nexec = \"sqlite3 :memory: 'select 6*7'\"\n\
         [[vm]]\nname = \"b\"\nrootfs = true\nexec = \"gcc --version | head -1\"\n",
    )
    .unwrap();
    let o = run(&["up", file.to_str().unwrap()]);
    assert!(o.status.success(), "stderr:\n{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("[a] 42\n"), "{out}");
    assert!(out.contains("[b] gcc (Debian 12"), "{out}");
    assert!(!out.contains("@@DISCO-EXEC-BEGIN@@"), "{out}");
}
