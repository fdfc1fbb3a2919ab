//! Which Debian packages go onto the root disk, and getting them with apt.
//!
//! apt resolves the dependencies for `mips64el` against an *empty* package
//! database of its own (a private `Dir::State::status`), so the host's
//! installed packages play no part: the closure is what a fresh mips64el
//! system needs. The host's package lists are used as they are (the default
//! images' fetch has enabled `mips64el` and updated them).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::images::debian::{last_error_line, ARCH};
use crate::images::error::{ImageError, IoContext};
use crate::images::tool::{self, command_line};

/// The base system: what a shell session and the workloads' scripts need.
pub const BASE_PACKAGES: &[&str] = &[
    "base-files",
    "base-passwd",
    "bash",
    "busybox-static",
    "coreutils",
    "dash",
    "debianutils",
    "diffutils",
    "findutils",
    "grep",
    "gzip",
    "hostname",
    "iproute2",
    "libc-bin",
    "mawk",
    "ncurses-base",
    "procps",
    "sed",
    "tar",
    "util-linux",
    "xz-utils",
];

/// What the paper's workloads run on (§5.1): the compiler for Pmake, POV-Ray
/// for Raytrace, Icarus Verilog for Engineering, SQLite for the database,
/// and the NFS server that VMs will share files with.
pub const WORKLOAD_PACKAGES: &[&str] = &[
    "binutils",
    "g++",
    "gcc",
    "iverilog",
    "libc6-dev",
    "make",
    "nfs-kernel-server",
    "povray",
    "rpcbind",
    "sqlite3",
];

/// One `.deb` that apt chose: from a `--print-uris` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deb {
    /// Package name.
    pub name: String,
    /// Debian version (epoch included).
    pub version: String,
    /// Architecture (`mips64el` or `all`).
    pub arch: String,
    /// File name apt saves it under.
    pub file: String,
    /// Size in bytes.
    pub size: u64,
}

/// Undoes apt's percent-encoding of `:` (and other bytes) in file names.
fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses one line of `apt-get --print-uris install` output:
/// `'URL' NAME_VERSION_ARCH.deb SIZE HASH`. Other lines give `None`.
pub fn parse_uri_line(line: &str) -> Option<Deb> {
    let rest = line.strip_prefix('\'')?;
    let (_url, rest) = rest.split_once("' ")?;
    let mut fields = rest.split_whitespace();
    let file = fields.next()?.to_string();
    let size = fields.next()?.parse().ok()?;
    let stem = file.strip_suffix(".deb")?;
    let mut parts = stem.splitn(3, '_');
    let (name, version, arch) = (parts.next()?, parts.next()?, parts.next()?);
    if name.is_empty() || version.is_empty() || arch.is_empty() {
        return None;
    }
    Some(Deb {
        name: name.to_string(),
        version: unescape(version),
        arch: arch.to_string(),
        file,
        size,
    })
}

/// A private apt set-up for mips64el: its own empty status file and archive
/// directory under `dir`, the host's package lists.
#[derive(Debug)]
pub struct PrivateApt {
    dir: PathBuf,
}

impl PrivateApt {
    /// Creates the set-up's directories under `dir`.
    pub fn new(dir: &Path) -> Result<PrivateApt, ImageError> {
        for d in ["debs/partial", "cache"] {
            let p = dir.join(d);
            std::fs::create_dir_all(&p).ctx("create", &p)?;
        }
        let status = dir.join("status");
        std::fs::write(&status, b"").ctx("write", &status)?;
        Ok(PrivateApt {
            dir: dir.to_path_buf(),
        })
    }

    /// Where downloaded `.deb` files go.
    pub fn archives(&self) -> PathBuf {
        self.dir.join("debs")
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("apt-get");
        let opt = |k: &str, v: &Path| format!("{k}={}", v.display());
        cmd.env("LC_ALL", "C")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .args(["-q", "-y", "--no-install-recommends"])
            .args(["-o", &opt("Dir::State::status", &self.dir.join("status"))])
            .args(["-o", &opt("Dir::Cache", &self.dir.join("cache"))])
            .args(["-o", &opt("Dir::Cache::archives", &self.archives())])
            .args(["-o", &format!("APT::Architecture={ARCH}")])
            .args(["-o", &format!("APT::Architectures::={ARCH}")])
            .args(["-o", "Debug::NoLocking=1"])
            // apt drops to `_apt` when root, who may not reach the cache.
            .args(["-o", "APT::Sandbox::User=root"]);
        cmd
    }

    /// The `.deb` files that installing `packages` on an empty mips64el
    /// system takes, in apt's order.
    pub fn resolve(&self, packages: &[&str]) -> Result<Vec<Deb>, ImageError> {
        let mut cmd = self.command();
        cmd.args(["install", "--print-uris"]).args(packages);
        let command = command_line(&cmd);
        let out =
            tool::run(cmd).map_err(|(command, message)| ImageError::Apt { command, message })?;
        let debs: Vec<Deb> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(parse_uri_line)
            .collect();
        if debs.is_empty() {
            return Err(ImageError::Apt {
                command,
                message: "apt chose no packages".into(),
            });
        }
        Ok(debs)
    }

    /// Downloads `debs` into [`archives`](Self::archives) (apt checks each
    /// against the archive's signed hashes). `progress` gets the number of
    /// packages fetched so far after each one.
    pub fn download(
        &self,
        debs: &[Deb],
        progress: &mut dyn FnMut(usize),
    ) -> Result<(), ImageError> {
        let mut cmd = self.command();
        cmd.args(["install", "--download-only"])
            .args(
                debs.iter()
                    .map(|d| format!("{}:{}={}", d.name, d.arch, d.version)),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let command = command_line(&cmd);
        let mut child = cmd.spawn().map_err(|e| ImageError::Apt {
            command: command.clone(),
            message: e.to_string(),
        })?;
        let stderr = child.stderr.take().map(|mut e| {
            std::thread::spawn(move || {
                let mut s = String::new();
                let _ = std::io::Read::read_to_string(&mut e, &mut s);
                s
            })
        });
        let mut stdout = String::new();
        let mut fetched = 0;
        if let Some(out) = child.stdout.take() {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if line.starts_with("Get:") {
                    fetched += 1;
                    progress(fetched);
                }
                stdout.push_str(&line);
                stdout.push('\n');
            }
        }
        let status = child.wait().ctx("wait for", PathBuf::from("apt-get"))?;
        let stderr = stderr.and_then(|t| t.join().ok()).unwrap_or_default();
        if !status.success() {
            return Err(ImageError::Apt {
                command,
                message: last_error_line(&stderr, &stdout).unwrap_or_else(|| "no output".into()),
            });
        }
        for deb in debs {
            let path = self.archives().join(&deb.file);
            if !path.is_file() {
                return Err(ImageError::Apt {
                    command: command.clone(),
                    message: format!("{} was not downloaded", deb.file),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_lines() {
        let line = "'http://deb.debian.org/debian/pool/main/p/povray/povray_3.7.0.10-2%2bb2_mips64el.deb' \
                    povray_1%3a3.7.0.10-2+b2_mips64el.deb 1269304 MD5Sum:1be620b8cc27517f287e8a0a0c999197";
        assert_eq!(
            parse_uri_line(line),
            Some(Deb {
                name: "povray".into(),
                version: "1:3.7.0.10-2+b2".into(),
                arch: "mips64el".into(),
                file: "povray_1%3a3.7.0.10-2+b2_mips64el.deb".into(),
                size: 1_269_304,
            })
        );
        let all =
            "'http://x/postgresql_15%2b248_all.deb' postgresql_15+248_all.deb 10224 MD5Sum:8d";
        let deb = parse_uri_line(all).unwrap();
        assert_eq!(
            (deb.name.as_str(), deb.arch.as_str()),
            ("postgresql", "all")
        );
        for junk in [
            "Reading package lists...",
            "",
            "'http://x/a.deb' a.deb notanumber MD5Sum:0",
            "'http://x/a.deb' a.deb 12 MD5Sum:0",
            "'unterminated a_1_all.deb 12",
        ] {
            assert_eq!(parse_uri_line(junk), None, "{junk}");
        }
    }

    #[test]
    fn unescaping() {
        assert_eq!(unescape("1%3a2.0"), "1:2.0");
        assert_eq!(unescape("100%"), "100%");
        assert_eq!(unescape("%zz"), "%zz");
    }
}
