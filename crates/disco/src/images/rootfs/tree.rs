//! The root file system as a directory tree: packages unpacked with
//! `dpkg-deb -x`, then the configuration their maintainer scripts would
//! have written, by hand.
//!
//! No package script runs (that would need the guest's CPU, or binfmt
//! emulation on the host). What those scripts do that matters here is
//! written below instead: the user and group databases (from
//! `base-passwd`'s masters, plus the NFS daemons' users), the
//! `update-alternatives` links (`awk`, `cc`, `c++`, ...), a few files of
//! `/etc`. Nothing else is configured: no init system (disco's `/init`
//! starts the shell or the command), no `ld.so.cache` (the dynamic linker
//! searches the multiarch directories without one), no locales.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::Command;

use crate::images::error::{ImageError, IoContext};

/// Unpacks the `.deb` at `deb` into `root` with `dpkg-deb -x` (owners and
/// modes as in the package when run as root).
pub fn unpack(deb: &Path, root: &Path) -> Result<(), ImageError> {
    let mut cmd = Command::new("dpkg-deb");
    cmd.arg("-x").arg(deb).arg(root);
    crate::images::tool::run(cmd)
        .map(drop)
        .map_err(|(command, message)| ImageError::Tool { command, message })
}

/// Users the NFS server's daemons run as (their packages' `postinst`
/// would add them), appended to base-passwd's master file.
const EXTRA_USERS: &str = "_rpc:x:100:65534::/run/rpcbind:/usr/sbin/nologin\n\
                           statd:x:101:65534::/var/lib/nfs:/usr/sbin/nologin\n";

/// `update-alternatives` links: (link, candidates in order of preference).
const ALTERNATIVES: &[(&str, &[&str])] = &[
    ("usr/bin/awk", &["mawk"]),
    ("usr/bin/nawk", &["mawk"]),
    ("usr/bin/cc", &["gcc"]),
    ("usr/bin/c++", &["g++"]),
    ("usr/bin/c89", &["c89-gcc"]),
    ("usr/bin/c99", &["c99-gcc"]),
    ("usr/bin/which", &["which.debianutils"]),
    ("usr/bin/pager", &["less", "more"]),
    ("bin/sh", &["dash"]),
];

/// Writes the configuration that package scripts would have made (see the
/// module comment) into the unpacked tree `root`.
pub fn configure(root: &Path) -> Result<(), ImageError> {
    for (dir, mode) in [
        ("proc", 0o555),
        ("sys", 0o555),
        ("dev", 0o755),
        ("run", 0o755),
        ("tmp", 0o1777),
        ("var/tmp", 0o1777),
        ("mnt", 0o755),
        ("root", 0o700),
        ("home", 0o755),
        ("opt/disco", 0o755),
    ] {
        let path = root.join(dir);
        fs::create_dir_all(&path).ctx("create", &path)?;
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).ctx("chmod", &path)?;
    }
    let master = |name: &str| {
        let path = root.join("usr/share/base-passwd").join(name);
        fs::read_to_string(&path).ctx("read", &path)
    };
    let passwd = master("passwd.master")? + EXTRA_USERS;
    let group = master("group.master")?;
    let shadow: String = passwd
        .lines()
        .filter_map(|l| l.split(':').next())
        .map(|user| {
            // root logs in on the console without a password, as on the
            // initramfs; the others cannot log in.
            let pw = if user == "root" { "" } else { "*" };
            format!("{user}:{pw}:20454:0:99999:7:::\n")
        })
        .collect();
    let gshadow: String = group
        .lines()
        .filter_map(|l| l.split(':').next())
        .map(|g| format!("{g}:*::\n"))
        .collect();
    let files: [(&str, String, u32); 9] = [
        ("etc/passwd", passwd, 0o644),
        ("etc/group", group, 0o644),
        ("etc/shadow", shadow, 0o640),
        ("etc/gshadow", gshadow, 0o640),
        ("etc/hostname", "disco\n".into(), 0o644),
        (
            "etc/hosts",
            "127.0.0.1\tlocalhost\n127.0.1.1\tdisco\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                .into(),
            0o644,
        ),
        (
            "etc/fstab",
            "# The root disk is mounted by disco's /init.\n\
             proc /proc proc defaults 0 0\n"
                .into(),
            0o644,
        ),
        ("etc/resolv.conf", String::new(), 0o644),
        (
            "etc/profile.d/disco.sh",
            "# disco: the workloads' driver is in /opt/disco/bin.\n\
             PATH=\"$PATH:/opt/disco/bin\"\n"
                .into(),
            0o644,
        ),
    ];
    for (path, text, mode) in files {
        write_file(&root.join(path), text.as_bytes(), mode)?;
    }
    for (link, candidates) in ALTERNATIVES {
        let path = root.join(link);
        if path.symlink_metadata().is_ok() {
            continue;
        }
        let dir = path.parent().unwrap_or(root);
        if let Some(target) = candidates.iter().find(|c| dir.join(c).exists()) {
            symlink(target, &path).ctx("link", &path)?;
        }
    }
    Ok(())
}

/// Writes `data` to `path` with permission bits `mode`, creating parents.
pub fn write_file(path: &Path, data: &[u8], mode: u32) -> Result<(), ImageError> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).ctx("create", parent)?;
    }
    // A package may ship the file as a symlink (e.g. resolv.conf): replace it.
    if path
        .symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink())
    {
        fs::remove_file(path).ctx("replace", path)?;
    }
    fs::write(path, data).ctx("write", path)?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).ctx("chmod", path)
}

/// Bytes the files under `root` take, in 4 KiB blocks, plus one block per
/// inode (directories and symlinks).
pub fn tree_bytes(root: &Path) -> u64 {
    let mut total = 0u64;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            total += meta.len().div_ceil(4096).max(1) * 4096;
            if meta.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_by_hand() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let base = root.join("usr/share/base-passwd");
        fs::create_dir_all(&base).unwrap();
        fs::write(
            base.join("passwd.master"),
            "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n",
        )
        .unwrap();
        fs::write(base.join("group.master"), "root:*:0:\ndaemon:*:1:\n").unwrap();
        fs::create_dir_all(root.join("usr/bin")).unwrap();
        fs::create_dir_all(root.join("bin")).unwrap();
        fs::write(root.join("usr/bin/mawk"), b"").unwrap();
        fs::write(root.join("usr/bin/gcc"), b"").unwrap();
        fs::write(root.join("bin/dash"), b"").unwrap();
        symlink("../run/x", root.join("etc_resolv")).unwrap();
        configure(root).unwrap();

        let passwd = fs::read_to_string(root.join("etc/passwd")).unwrap();
        assert!(passwd.starts_with("root:x:0:0:"));
        assert!(passwd.contains("\n_rpc:x:100:") && passwd.contains("\nstatd:x:101:"));
        let shadow = fs::read_to_string(root.join("etc/shadow")).unwrap();
        assert!(shadow.starts_with("root::") && shadow.contains("\ndaemon:*:"));
        assert_eq!(
            fs::read_link(root.join("usr/bin/awk")).unwrap(),
            Path::new("mawk")
        );
        assert_eq!(
            fs::read_link(root.join("usr/bin/cc")).unwrap(),
            Path::new("gcc")
        );
        assert_eq!(
            fs::read_link(root.join("bin/sh")).unwrap(),
            Path::new("dash")
        );
        // No candidate, no link.
        assert!(root.join("usr/bin/c++").symlink_metadata().is_err());
        let tmp = fs::metadata(root.join("tmp")).unwrap();
        assert_eq!(tmp.permissions().mode() & 0o7777, 0o1777);
        assert_eq!(
            fs::read_to_string(root.join("etc/hostname")).unwrap(),
            "disco\n"
        );
        // Idempotent.
        configure(root).unwrap();
        assert!(tree_bytes(root) > 0);
    }
}
