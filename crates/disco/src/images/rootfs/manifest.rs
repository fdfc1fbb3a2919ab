//! The plain-text `MANIFEST` of a root disk.
//!
//! ```text
//! # disco root disk (written by disco; do not edit)
//! format 1
//! version 1
//! name bookworm-debian-6.1.0-50-0123456789ab
//! description Debian bookworm mips64el root disk: ...
//! kernel linux-image-6.1.0-50-mips64r2el 6.1.176-1
//! workloads sha256:<64 hex digits>
//! deb gcc-12 12.2.0-14+deb12u1 mips64el sha256:<64 hex digits>
//! file root.img 1073741824 sha256:<64 hex digits>
//! ```
//!
//! One record per line; blank lines, `#` comments and unknown keywords are
//! ignored.

use std::fmt::Write;

use crate::images::manifest::one_line;
pub use crate::images::manifest::FileRecord;

/// Manifest file name inside an entry.
pub const MANIFEST_FILE: &str = "MANIFEST";

/// A package on the disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebRecord {
    /// Package name.
    pub name: String,
    /// Debian version.
    pub version: String,
    /// Architecture (`mips64el` or `all`).
    pub arch: String,
    /// SHA-256 of the `.deb` file, lower-case hex.
    pub sha256: String,
}

/// The contents of a root disk's `MANIFEST`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RootfsManifest {
    /// Entry name (also its directory's name).
    pub name: String,
    /// Layout version ([`ROOTFS_VERSION`](super::ROOTFS_VERSION)).
    pub version: u32,
    /// One-line description.
    pub description: String,
    /// Kernel package and version whose modules the disk goes with.
    pub kernel: String,
    /// SHA-256 of the embedded workloads.
    pub workloads: String,
    /// The packages, in apt's order.
    pub debs: Vec<DebRecord>,
    /// The entry's files.
    pub files: Vec<FileRecord>,
}

impl RootfsManifest {
    /// Serialises the manifest.
    pub fn to_text(&self) -> String {
        let mut s = String::from("# disco root disk (written by disco; do not edit)\nformat 1\n");
        let _ = writeln!(s, "version {}", self.version);
        let _ = writeln!(s, "name {}", one_line(&self.name));
        let _ = writeln!(s, "description {}", one_line(&self.description));
        let _ = writeln!(s, "kernel {}", one_line(&self.kernel));
        let _ = writeln!(s, "workloads sha256:{}", self.workloads);
        for d in &self.debs {
            let _ = writeln!(
                s,
                "deb {} {} {} sha256:{}",
                one_line(&d.name),
                one_line(&d.version),
                one_line(&d.arch),
                d.sha256
            );
        }
        for f in &self.files {
            let _ = writeln!(s, "{}", f.to_line());
        }
        s
    }

    /// Parses manifest text; the error says which line is wrong.
    pub fn parse(text: &str) -> Result<RootfsManifest, String> {
        let mut m = RootfsManifest::default();
        let mut format = false;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |what: &str| format!("MANIFEST line {}: {what}", i + 1);
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            let fields: Vec<&str> = value.split(' ').collect();
            let hash = |f: &str| {
                f.strip_prefix("sha256:")
                    .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
                    .map(str::to_string)
                    .ok_or_else(|| bad("bad sha256"))
            };
            match key {
                "format" if value == "1" => format = true,
                "format" => return Err(bad("unsupported format")),
                "version" => m.version = value.parse().map_err(|_| bad("bad version"))?,
                "name" => m.name = value.to_string(),
                "description" => m.description = value.to_string(),
                "kernel" => m.kernel = value.to_string(),
                "workloads" => m.workloads = hash(value)?,
                "deb" => {
                    let [name, version, arch, sha] = fields[..] else {
                        return Err(bad("a deb record has 4 fields"));
                    };
                    m.debs.push(DebRecord {
                        name: name.into(),
                        version: version.into(),
                        arch: arch.into(),
                        sha256: hash(sha)?,
                    });
                }
                "file" => m.files.push(FileRecord::parse(value).map_err(bad)?),
                _ => {}
            }
        }
        if !format {
            return Err("MANIFEST: no format record".into());
        }
        if m.name.is_empty() {
            return Err("MANIFEST: no name record".into());
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let h = "ab".repeat(32);
        let m = RootfsManifest {
            name: "bookworm-x".into(),
            version: 1,
            description: "a\ndisk".into(),
            kernel: "linux-image-6.1.0-50-mips64r2el 6.1.176-1".into(),
            workloads: h.clone(),
            debs: vec![DebRecord {
                name: "gcc-12".into(),
                version: "12.2.0-14".into(),
                arch: "mips64el".into(),
                sha256: h.clone(),
            }],
            files: vec![FileRecord {
                name: "root.img".into(),
                size: 4096,
                sha256: h.clone(),
            }],
        };
        let text = m.to_text();
        let back = RootfsManifest::parse(&text).unwrap();
        assert_eq!(back.description, "a disk");
        assert_eq!(back.debs, m.debs);
        assert_eq!(back.files, m.files);
        assert!(RootfsManifest::parse("name x\n").is_err());
        assert!(RootfsManifest::parse("format 2\nname x\n").is_err());
        let err = RootfsManifest::parse("format 1\nname x\nfile a b sha256:00\n").unwrap_err();
        assert!(err.contains("line 3"), "{err}");
        assert!(RootfsManifest::parse("format 1\nname x\ndeb a b\n").is_err());
    }
}
