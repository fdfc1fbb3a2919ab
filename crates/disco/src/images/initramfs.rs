//! The guest initramfs: busybox, a few device nodes and config files, the
//! kernel modules for virtio-mmio devices, and `/init`.

use flate2::write::GzEncoder;
use flate2::Compression;

use super::cpio::{self, Entry, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};

/// The `/init` script (a busybox `sh` script). See `init.sh` for the protocol.
pub const INIT_SCRIPT: &str = include_str!("init.sh");

/// Marker line that `/init` prints before running the `disco,exec` command.
pub const EXEC_BEGIN_MARKER: &str = "@@DISCO-EXEC-BEGIN@@";

/// Line that `/init` prints before starting the interactive shell.
pub const GUEST_UP_MARKER: &str = "GUEST UP";

/// `/chosen` property holding the command to run (NUL-terminated string).
pub const EXEC_PROPERTY: &str = "disco,exec";

/// `/chosen` property telling `/init` to take its command from the console
/// (see [`READY_MARKER`]).
pub const COMMAND_FROM_CONSOLE_PROPERTY: &str = "disco,command-from-console";

/// Line `/init` prints when it waits for its command on the console: one
/// line, base64-encoded, or empty for the interactive shell.
pub const READY_MARKER: &str = "@@DISCO-READY@@";

/// `/chosen` property holding the physical address of the EXIT register
/// (NUL-terminated string such as `0x1fe00000`).
pub const EXIT_ADDRESS_PROPERTY: &str = "disco,exit-address";

/// Version of the default initramfs's layout, recorded in the cache's
/// `MANIFEST` (`initramfs N`). Cached entries with another version (older ones
/// have none) are rebuilt, because [`refresh_init`](super::refresh_init) gives
/// them this disco's `/init`, which expects this layout.
///
/// * 1 (implicit, no record): busybox and `/init`.
/// * 2: also the [`VIRTIO_MODULES`] in `/lib/modules`.
pub const INITRAMFS_VERSION: u32 = 2;

/// Directory of the initramfs holding the kernel modules, flat:
/// `/lib/modules/<name>.ko`.
pub const MODULES_DIR: &str = "lib/modules";

/// The kernel modules that the default initramfs carries (Debian's mips64r2el
/// kernel has virtio as modules only), in load order (each after the modules it
/// depends on): the module name, and its path under
/// `lib/modules/<kernel version>/kernel/` in the kernel package. `/init` loads
/// them, in this order, when the device tree has a `virtio@<address>` node.
pub const VIRTIO_MODULES: [(&str, &str); 7] = [
    ("virtio", "drivers/virtio/virtio.ko"),
    ("virtio_ring", "drivers/virtio/virtio_ring.ko"),
    ("virtio_mmio", "drivers/virtio/virtio_mmio.ko"),
    ("virtio_blk", "drivers/block/virtio_blk.ko"),
    ("failover", "net/core/failover.ko"),
    ("net_failover", "drivers/net/net_failover.ko"),
    ("virtio_net", "drivers/net/virtio_net.ko"),
];

/// `extra_files` for [`build_initramfs`] that install `modules` (name, contents
/// of the `.ko` file) as `/lib/modules/<name>.ko`.
pub fn module_files(modules: &[(String, Vec<u8>)]) -> Vec<(String, Vec<u8>, u32)> {
    modules
        .iter()
        .map(|(name, data)| (format!("{MODULES_DIR}/{name}.ko"), data.clone(), 0o644))
        .collect()
}

const DIRS: &[(&str, u32)] = &[
    ("bin", 0o755),
    ("sbin", 0o755),
    ("usr", 0o755),
    ("usr/bin", 0o755),
    ("usr/sbin", 0o755),
    ("proc", 0o555),
    ("sys", 0o555),
    ("dev", 0o755),
    ("tmp", 0o1777),
    ("root", 0o700),
    ("etc", 0o755),
    ("mnt", 0o755),
];

/// The archive members of the standard initramfs, then `extra_files` (see
/// [`build_initramfs`]), in archive order.
pub fn initramfs_entries(busybox: &[u8], extra_files: &[(String, Vec<u8>, u32)]) -> Vec<Entry> {
    let mut entries: Vec<Entry> = DIRS.iter().map(|&(d, p)| Entry::dir(d, p)).collect();
    entries.extend([
        Entry::file("bin/busybox", 0o755, busybox.to_vec()),
        Entry::char_device("dev/console", 0o600, 5, 1),
        Entry::char_device("dev/null", 0o666, 1, 3),
        Entry::file(
            "etc/passwd",
            0o644,
            b"root:x:0:0:root:/root:/bin/sh\n".to_vec(),
        ),
        Entry::file("etc/group", 0o644, b"root:x:0:\n".to_vec()),
        Entry::file("etc/hostname", 0o644, b"disco\n".to_vec()),
        Entry::file("init", 0o755, INIT_SCRIPT.as_bytes().to_vec()),
    ]);
    for (name, data, mode) in extra_files {
        let Ok(name) = cpio::normalize_name(name) else {
            tracing::warn!("initramfs: skipping extra file with invalid name {name:?}");
            continue;
        };
        // Parent directories the standard layout does not have.
        let mut parent = String::new();
        for part in name
            .split('/')
            .collect::<Vec<_>>()
            .split_last()
            .map_or(&[][..], |p| p.1)
        {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(part);
            if !entries.iter().any(|e| e.name == parent) {
                entries.push(Entry::dir(&parent, 0o755));
            }
        }
        let entry = match mode & S_IFMT {
            0 | S_IFREG => Entry::file(&name, *mode, data.clone()),
            S_IFDIR => Entry::dir(&name, *mode),
            S_IFLNK => {
                let mut e = Entry::symlink(&name, "");
                e.data = data.clone();
                e
            }
            _ => {
                tracing::warn!("initramfs: skipping {name:?}: unsupported file type {mode:o}");
                continue;
            }
        };
        // Later entries replace earlier ones when the kernel unpacks the archive,
        // but keep the archive tidy: an extra file replaces a standard one in place.
        match entries.iter_mut().find(|e| e.name == entry.name) {
            Some(existing) => *existing = entry,
            None => entries.push(entry),
        }
    }
    entries
}

/// Builds the gzip-compressed newc initramfs around `busybox` (a static
/// mips64el busybox binary, installed as `/bin/busybox`).
///
/// `extra_files` are `(path, contents, mode)`: `path` is absolute or relative to
/// the archive root; `mode` holds permission bits (`0o644`), optionally with a file
/// type: regular file (default), directory, or symbolic link (`S_IFLNK`, contents =
/// target). Missing parent directories are created. An extra file with the path of
/// a standard one (such as `/init`) replaces it. Entries that cannot be represented
/// (empty name, `..` component, other file types, more than 4 GiB) are skipped with
/// a warning.
///
/// The output is deterministic: all timestamps are zero.
pub fn build_initramfs(busybox: &[u8], extra_files: &[(String, Vec<u8>, u32)]) -> Vec<u8> {
    let mut writer = cpio::Writer::new(GzEncoder::new(Vec::new(), Compression::best()));
    for entry in initramfs_entries(busybox, extra_files) {
        if let Err(e) = writer.add(&entry) {
            tracing::warn!("initramfs: skipping {:?}: {e}", entry.name);
        }
    }
    // Writing into a Vec cannot fail, so neither can finishing the archive or gzip.
    let gz = match writer.finish() {
        Ok(gz) => gz,
        Err(e) => unreachable_io(e),
    };
    match gz.finish() {
        Ok(bytes) => bytes,
        Err(e) => unreachable_io(e.into()),
    }
}

#[cold]
fn unreachable_io(e: cpio::CpioError) -> ! {
    unreachable!("writing an initramfs into memory failed: {e}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::cpio::{S_IFCHR, S_IFDIR};
    use std::io::Read;

    fn unpack(gz: &[u8]) -> Vec<Entry> {
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(gz)
            .read_to_end(&mut raw)
            .unwrap();
        cpio::parse(&raw).unwrap()
    }

    fn find<'a>(entries: &'a [Entry], name: &str) -> &'a Entry {
        entries
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("{name} missing"))
    }

    #[test]
    fn standard_contents() {
        let entries = unpack(&build_initramfs(b"BUSYBOX", &[]));
        for d in [
            "bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "tmp", "root", "etc", "mnt",
        ] {
            assert_eq!(find(&entries, d).file_type(), S_IFDIR, "{d}");
        }
        let bb = find(&entries, "bin/busybox");
        assert_eq!(bb.mode, S_IFREG | 0o755);
        assert_eq!(bb.data, b"BUSYBOX");
        let init = find(&entries, "init");
        assert_eq!(init.mode, S_IFREG | 0o755);
        assert_eq!(init.data, INIT_SCRIPT.as_bytes());
        let console = find(&entries, "dev/console");
        assert_eq!(
            (console.file_type(), console.rdev_major, console.rdev_minor),
            (S_IFCHR, 5, 1)
        );
        let null = find(&entries, "dev/null");
        assert_eq!(
            (null.file_type(), null.rdev_major, null.rdev_minor),
            (S_IFCHR, 1, 3)
        );
        assert_eq!(find(&entries, "etc/hostname").data, b"disco\n");
        assert!(find(&entries, "etc/passwd")
            .data
            .starts_with(b"root:x:0:0:"));
        assert!(find(&entries, "etc/group").data.starts_with(b"root:x:0:"));
        // Parents come before children.
        for (i, e) in entries.iter().enumerate() {
            if let Some((parent, _)) = e.name.rsplit_once('/') {
                assert!(
                    entries[..i].iter().any(|p| p.name == parent),
                    "{} before its parent",
                    e.name
                );
            }
        }
    }

    #[test]
    fn deterministic() {
        assert_eq!(build_initramfs(b"x", &[]), build_initramfs(b"x", &[]));
    }

    #[test]
    fn extra_files() {
        let extra = vec![
            ("/etc/profile".to_string(), b"echo hi\n".to_vec(), 0o644),
            ("opt/tool/run".to_string(), b"#!/bin/sh\n".to_vec(), 0o755),
            ("/init".to_string(), b"#!/bin/sh\nexec sh\n".to_vec(), 0o755),
            ("/bin/ash".to_string(), b"busybox".to_vec(), S_IFLNK | 0o777),
            ("../escape".to_string(), b"no".to_vec(), 0o644),
            ("/dev/weird".to_string(), Vec::new(), 0o060_644),
        ];
        let entries = unpack(&build_initramfs(b"BB", &extra));
        assert_eq!(find(&entries, "etc/profile").data, b"echo hi\n");
        assert_eq!(find(&entries, "opt").file_type(), S_IFDIR);
        assert_eq!(find(&entries, "opt/tool").file_type(), S_IFDIR);
        assert_eq!(find(&entries, "opt/tool/run").mode, S_IFREG | 0o755);
        assert_eq!(find(&entries, "init").data, b"#!/bin/sh\nexec sh\n");
        assert_eq!(entries.iter().filter(|e| e.name == "init").count(), 1);
        let ash = find(&entries, "bin/ash");
        assert_eq!(
            (ash.file_type(), ash.data.as_slice()),
            (S_IFLNK, &b"busybox"[..])
        );
        assert!(!entries
            .iter()
            .any(|e| e.name.contains("escape") || e.name == "dev/weird"));
    }

    #[test]
    fn init_script_protocol() {
        let s = INIT_SCRIPT;
        assert!(s.starts_with("#!/bin/busybox sh\n"));
        for needle in [
            "/bin/busybox --install -s",
            "mount -t proc proc /proc",
            "mount -t sysfs sysfs /sys",
            "mount -t devtmpfs devtmpfs /dev 2>/dev/null",
            "hostname -F /etc/hostname",
            "/proc/device-tree/chosen/$1",
            "tr -d '\\000'",
            &format!("[ -e /proc/device-tree/chosen/{EXEC_PROPERTY} ]"),
            &format!("run_command \"$(chosen {EXEC_PROPERTY})\""),
            &format!("[ -e /proc/device-tree/chosen/{COMMAND_FROM_CONSOLE_PROPERTY} ]"),
            &format!("echo '{READY_MARKER}'"),
            "run_command \"$(echo \"$line\" | base64 -d)\"",
            &format!("exit_address=$(chosen {EXIT_ADDRESS_PROPERTY})"),
            "stty -onlcr",
            &format!("echo '{EXEC_BEGIN_MARKER}'"),
            "sh -c \"$cmd\"\n\tstatus=$?",
            "devmem \"$exit_address\" 32 \"$status\"",
            &format!("echo '{GUEST_UP_MARKER}'"),
            "PS1='\\w \\$ '",
            SHELL_LINE,
            "trap power_off USR1 USR2 TERM",
            "exec switch_root /newroot /run/disco/busybox sh /run/disco/init stage2",
        ] {
            assert!(s.contains(needle), "init script lacks {needle:?}");
        }
        // The marker is printed once, and nothing else goes to stdout between it and
        // the exit device write.
        let echo_marker = format!("echo '{EXEC_BEGIN_MARKER}'");
        assert_eq!(s.matches(&echo_marker).count(), 1);
        let begin = s.find(&echo_marker).unwrap() + echo_marker.len();
        let exit = s.find("devmem").unwrap();
        assert!(!s[begin..exit].contains("echo"));
        // The exec branch comes before the interactive shell.
        assert!(exit < s.find(&format!("echo '{GUEST_UP_MARKER}'")).unwrap());
        // No CR line ends (the script runs as is).
        assert!(!s.contains('\r'));
    }

    /// The line of `/init` that starts the interactive shell.
    const SHELL_LINE: &str = "\tsetsid cttyhack \"$shell\" -l &\n";

    /// Runs `/init` with the host's `sh`, a fake device tree and stubs for the
    /// commands that need a guest. Returns stdout, stderr and the stub calls.
    fn run_init(exec: Option<&str>, exit_address: Option<&str>) -> (String, String, String) {
        run_init_with_console(exec, exit_address, None)
    }

    /// [`run_init`], with `console` (if any) as the console's input and the
    /// command-from-console property set.
    fn run_init_with_console(
        exec: Option<&str>,
        exit_address: Option<&str>,
        console: Option<&str>,
    ) -> (String, String, String) {
        run_init_with_devices(exec, exit_address, console, &[], &[])
    }

    /// [`run_init_with_console`] with device-tree nodes `nodes` next to
    /// `chosen`; `insmod` of the modules in `failing` fails.
    fn run_init_with_devices(
        exec: Option<&str>,
        exit_address: Option<&str>,
        console: Option<&str>,
        nodes: &[&str],
        failing: &[&str],
    ) -> (String, String, String) {
        let dir = tempfile::tempdir().unwrap();
        let chosen = dir.path().join("chosen");
        std::fs::create_dir(&chosen).unwrap();
        for node in nodes {
            std::fs::create_dir(dir.path().join(node)).unwrap();
        }
        if console.is_some() {
            std::fs::write(chosen.join(COMMAND_FROM_CONSOLE_PROPERTY), "1\0").unwrap();
        }
        if let Some(cmd) = exec {
            std::fs::write(chosen.join(EXEC_PROPERTY), format!("{cmd}\0")).unwrap();
        }
        if let Some(addr) = exit_address {
            std::fs::write(chosen.join(EXIT_ADDRESS_PROPERTY), format!("{addr}\0")).unwrap();
        }
        let log = dir.path().join("calls");
        let script = INIT_SCRIPT
            .replace("/bin/busybox --install -s", ":")
            .replace("/proc/device-tree/chosen", &chosen.display().to_string())
            .replace(
                "/proc/device-tree/virtio@",
                &dir.path().join("virtio@").display().to_string(),
            )
            .replace("</proc/sys/kernel/printk", "<<EOF\n4 4 1 7\nEOF\n")
            // No root= (the host's own command line must never count).
            .replace("$(cat /proc/cmdline)", "")
            .replace(SHELL_LINE, "\techo SHELL\n\treturn\n");
        // Each stub logs its arguments; devmem "ends the simulation".
        let stubs = r#"
            call() { echo "$*" >>"$STUB_LOG"; }
            mount() { call mount "$@"; }
            hostname() { call hostname "$@"; }
            stty() { call stty "$@"; }
            dmesg() { call dmesg "$@"; }
            devmem() { call devmem "$@"; exit 0; }
            sync() { call sync; }
            poweroff() { call poweroff "$@"; exit 0; }
            insmod() {
                call insmod "$@"
                case " $STUB_FAIL " in *" ${1##*/} "*)
                    echo "insmod: can't insert '$1': Unknown symbol in module" >&2
                    return 1;;
                esac
            }
        "#;
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{stubs}{script}"))
            .env("STUB_LOG", &log)
            .env("STUB_FAIL", failing.join(" "))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("running sh");
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(console.unwrap_or("").as_bytes()).unwrap();
        }
        let out = child.wait_with_output().expect("running sh");
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            std::fs::read_to_string(&log).unwrap_or_default(),
        )
    }

    const MOUNTS: &str = "mount -t proc proc /proc\nmount -t sysfs sysfs /sys\n\
                          mount -t devtmpfs devtmpfs /dev\nhostname -F /etc/hostname\n";

    /// What `/init` does when the interactive shell ends: power off.
    const POWER_OFF: &str = "sync\ndevmem 0x1fe00000 32 0\n";

    /// The calls that load all the modules, with kernel messages off.
    fn insmod_calls() -> String {
        let mut calls = String::from("dmesg -n 1\n");
        for (name, _) in VIRTIO_MODULES {
            calls += &format!("insmod /lib/modules/{name}.ko\n");
        }
        calls + "dmesg -n 4\n"
    }

    #[test]
    fn init_loads_the_virtio_modules_in_order() {
        let nodes = ["virtio@10001000", "virtio@10002000"];
        let (out, err, calls) = run_init_with_devices(None, Some("0x1fe00000"), None, &nodes, &[]);
        assert_eq!(out, "GUEST UP\nSHELL\n");
        assert_eq!(err, "");
        let mounts = MOUNTS.replacen("hostname", &format!("{}hostname", insmod_calls()), 1);
        assert_eq!(calls, mounts + POWER_OFF);
        // The script's list is VIRTIO_MODULES, in order.
        let names: Vec<&str> = VIRTIO_MODULES.iter().map(|&(n, _)| n).collect();
        assert!(
            INIT_SCRIPT.contains(&format!("for m in {}; do", names.join(" "))),
            "init.sh's module list differs from VIRTIO_MODULES"
        );
        // Also before a command, whose output stays clean.
        let (out, _, calls) =
            run_init_with_devices(Some("echo hi"), Some("0x1fe00000"), None, &nodes[..1], &[]);
        assert_eq!(out, "@@DISCO-EXEC-BEGIN@@\nhi\n");
        assert!(calls.starts_with(&MOUNTS.replacen(
            "hostname",
            &format!("{}hostname", insmod_calls()),
            1
        )));
    }

    #[test]
    fn init_reports_a_failing_module_and_goes_on() {
        let (out, err, calls) = run_init_with_devices(
            Some("exit 5"),
            Some("0x1fe00000"),
            None,
            &["virtio@10001000"],
            &["virtio_blk.ko", "virtio_net.ko"],
        );
        assert_eq!(out, "@@DISCO-EXEC-BEGIN@@\n");
        assert_eq!(
            err,
            "disco: cannot load kernel module virtio_blk (Unknown symbol in module)\n\
             disco: cannot load kernel module virtio_net (Unknown symbol in module)\n"
        );
        assert!(calls.contains(&insmod_calls()), "{calls}");
        assert!(calls.ends_with("devmem 0x1fe00000 32 5\n"), "{calls}");
    }

    #[test]
    fn init_loads_nothing_without_virtio_nodes() {
        // Other nodes do not count.
        let nodes = ["virtio", "virtio-foo@1000", "serial@1fe00100"];
        let (out, err, calls) = run_init_with_devices(None, Some("0x1fe00000"), None, &nodes, &[]);
        assert_eq!(out, "GUEST UP\nSHELL\n");
        assert_eq!(err, "");
        assert_eq!(calls, format!("{MOUNTS}{POWER_OFF}"));
        assert!(!calls.contains("insmod"));
    }

    #[test]
    fn init_exec_branch_reports_status() {
        let (out, err, calls) = run_init(
            Some("echo one; echo 'two  \"q\"' $((1+1)); echo warn >&2; exit 3"),
            Some("0x1fe00000"),
        );
        assert_eq!(out, "@@DISCO-EXEC-BEGIN@@\none\ntwo  \"q\" 2\n");
        assert_eq!(err, "warn\n");
        assert_eq!(
            calls,
            format!("{MOUNTS}dmesg -n 1\nstty -onlcr\ndevmem 0x1fe00000 32 3\n")
        );
    }

    #[test]
    fn init_exec_branch_without_exit_device_falls_through() {
        let (out, err, calls) = run_init(Some("true"), None);
        assert_eq!(out, "@@DISCO-EXEC-BEGIN@@\nGUEST UP\nSHELL\n");
        assert_eq!(
            err,
            "disco: no exit device (disco,exit-address: absent); \
             the command exited with status 0\n"
        );
        assert_eq!(
            calls,
            format!("{MOUNTS}dmesg -n 1\nstty -onlcr\nstty onlcr\ndmesg -n 4\nsync\npoweroff -f\n")
        );
    }

    #[test]
    fn init_console_branch_runs_the_base64_command() {
        // "echo hi; exit 2", base64-encoded, as `disco run --restore` types it.
        let (out, _, calls) =
            run_init_with_console(None, Some("0x1fe00000"), Some("ZWNobyBoaTsgZXhpdCAy\n"));
        assert_eq!(out, "@@DISCO-READY@@\n@@DISCO-EXEC-BEGIN@@\nhi\n");
        assert_eq!(
            calls,
            format!(
                "{MOUNTS}stty -echo\nstty echo\ndmesg -n 1\nstty -onlcr\ndevmem 0x1fe00000 32 2\n"
            )
        );
    }

    #[test]
    fn init_console_branch_with_an_empty_line_starts_the_shell() {
        let (out, _, _) = run_init_with_console(None, Some("0x1fe00000"), Some("\n"));
        assert_eq!(out, "@@DISCO-READY@@\nGUEST UP\nSHELL\n");
    }

    #[test]
    fn init_interactive_branch() {
        let (out, err, calls) = run_init(None, Some("0x1fe00000"));
        assert_eq!(out, "GUEST UP\nSHELL\n");
        assert_eq!(err, "");
        assert_eq!(calls, format!("{MOUNTS}{POWER_OFF}"));
    }
}
