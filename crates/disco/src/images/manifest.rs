//! The plain-text `MANIFEST` of a cached image set.
//!
//! ```text
//! # disco guest images (written by disco; do not edit)
//! format 1
//! initramfs 2
//! name debian-6.1.0-50
//! description Debian linux-image-6.1.0-50-mips64r2el 6.1.176-1, busybox-static 1:1.35.0-4+deb12u1+b1
//! package linux-image-6.1.0-50-mips64r2el 6.1.176-1
//! package busybox-static 1:1.35.0-4+deb12u1+b1
//! file vmlinuz 5060312 sha256:<64 hex digits>
//! file initrd.gz 1102348 sha256:<64 hex digits>
//! ```
//!
//! One record per line: a keyword, a space, the value. Blank lines, `#` comments
//! and unknown keywords are ignored, so later versions can add records.
//!
//! `initramfs` is the layout version of `initrd.gz`
//! ([`INITRAMFS_VERSION`](super::initramfs::INITRAMFS_VERSION)); manifests
//! written before it existed lack it (version 1). The cache uses only entries
//! of the current version, so a new layout rebuilds old entries, while older
//! discos, which ignore the record, still use new ones.

use std::fmt::Write;

/// The manifest format version written by this code.
pub const FORMAT: u32 = 1;

/// A Debian package that went into the images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageRecord {
    /// Package name, e.g. `busybox-static`.
    pub name: String,
    /// Debian version, e.g. `1:1.35.0-4+deb12u1+b1`.
    pub version: String,
}

/// One output file of the image set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    /// File name inside the entry directory, e.g. `vmlinuz`.
    pub name: String,
    /// Length in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256.
    pub sha256: String,
}

impl FileRecord {
    /// The record as a manifest line: `file NAME SIZE sha256:HEX`.
    pub fn to_line(&self) -> String {
        format!(
            "file {} {} sha256:{}",
            one_line(&self.name),
            self.size,
            self.sha256
        )
    }

    /// Parses the value of a `file` record: `NAME SIZE sha256:HEX`.
    pub fn parse(value: &str) -> Result<FileRecord, &'static str> {
        let mut it = value.split(' ');
        let (Some(name), Some(size), Some(hash), None) =
            (it.next(), it.next(), it.next(), it.next())
        else {
            return Err("expected `file NAME SIZE sha256:HEX`");
        };
        let size = size.parse().map_err(|_| "bad file size")?;
        let hash = hash
            .strip_prefix("sha256:")
            .filter(|h| {
                h.len() == 64
                    && h.bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            })
            .ok_or("bad sha256")?;
        if name.is_empty() || name.contains('/') {
            return Err("bad file name");
        }
        Ok(FileRecord {
            name: name.to_string(),
            size,
            sha256: hash.to_string(),
        })
    }
}

/// The contents of a `MANIFEST` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Entry name, e.g. `debian-6.1.0-50` (also the directory name).
    pub name: String,
    /// One-line human description.
    pub description: String,
    /// Layout version of the initramfs (1 when the record is absent).
    pub initramfs: u32,
    /// Source packages.
    pub packages: Vec<PackageRecord>,
    /// Output files.
    pub files: Vec<FileRecord>,
}

/// A malformed manifest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("MANIFEST line {line}: {problem}")]
pub struct ManifestError {
    /// 1-based line number (0: the file as a whole).
    pub line: usize,
    /// What is wrong.
    pub problem: String,
}

/// `s` on one line: control characters become spaces.
pub(crate) fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

impl Manifest {
    /// The record for file `name`, if any.
    pub fn file(&self, name: &str) -> Option<&FileRecord> {
        self.files.iter().find(|f| f.name == name)
    }

    /// Serialises the manifest (names and versions must not contain spaces).
    pub fn to_text(&self) -> String {
        let mut s = String::from("# disco guest images (written by disco; do not edit)\n");
        let _ = writeln!(s, "format {FORMAT}");
        let _ = writeln!(s, "initramfs {}", self.initramfs);
        let _ = writeln!(s, "name {}", one_line(&self.name));
        let _ = writeln!(s, "description {}", one_line(&self.description));
        for p in &self.packages {
            let _ = writeln!(s, "package {} {}", one_line(&p.name), one_line(&p.version));
        }
        for f in &self.files {
            let _ = writeln!(s, "{}", f.to_line());
        }
        s
    }

    /// Parses manifest text.
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let mut format = None;
        let mut name = None;
        let mut description = String::new();
        let mut initramfs = 1;
        let mut packages = Vec::new();
        let mut files = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let err = |problem: &str| ManifestError {
                line: i + 1,
                problem: problem.to_string(),
            };
            let line = line.trim_end();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            match key {
                "format" => {
                    let v: u32 = value.parse().map_err(|_| err("bad format number"))?;
                    if v != FORMAT {
                        return Err(err(&format!("unsupported format {v}")));
                    }
                    format = Some(v);
                }
                "name" if !value.is_empty() => name = Some(value.to_string()),
                "name" => return Err(err("empty name")),
                "description" => description = value.to_string(),
                "initramfs" => {
                    initramfs = value
                        .parse()
                        .ok()
                        .filter(|&v| v >= 1)
                        .ok_or_else(|| err("bad initramfs version"))?;
                }
                "package" => {
                    let mut it = value.split(' ');
                    match (it.next(), it.next(), it.next()) {
                        (Some(n), Some(v), None) if !n.is_empty() && !v.is_empty() => packages
                            .push(PackageRecord {
                                name: n.to_string(),
                                version: v.to_string(),
                            }),
                        _ => return Err(err("expected `package NAME VERSION`")),
                    }
                }
                "file" => files.push(FileRecord::parse(value).map_err(err)?),
                _ => {} // unknown records: ignored for forward compatibility
            }
        }
        let whole = |problem: &str| ManifestError {
            line: 0,
            problem: problem.to_string(),
        };
        format.ok_or_else(|| whole("no format record"))?;
        Ok(Manifest {
            name: name.ok_or_else(|| whole("no name record"))?,
            description,
            initramfs,
            packages,
            files,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            name: "debian-6.1.0-50".into(),
            description: "Debian kernel 6.1.176-1, busybox-static 1:1.35.0-4+deb12u1+b1".into(),
            initramfs: 2,
            packages: vec![
                PackageRecord {
                    name: "linux-image-6.1.0-50-mips64r2el".into(),
                    version: "6.1.176-1".into(),
                },
                PackageRecord {
                    name: "busybox-static".into(),
                    version: "1:1.35.0-4+deb12u1+b1".into(),
                },
            ],
            files: vec![
                FileRecord {
                    name: "vmlinuz".into(),
                    size: 5060312,
                    sha256: "ab".repeat(32),
                },
                FileRecord {
                    name: "initrd.gz".into(),
                    size: 1,
                    sha256: "0".repeat(64),
                },
            ],
        }
    }

    #[test]
    fn round_trip() {
        let m = sample();
        let text = m.to_text();
        assert!(text.contains("\nfile vmlinuz 5060312 sha256:abab"));
        assert!(text.contains("\npackage busybox-static 1:1.35.0-4+deb12u1+b1\n"));
        assert!(text.contains("\nformat 1\ninitramfs 2\n"));
        assert_eq!(Manifest::parse(&text).unwrap(), m);
        assert_eq!(m.file("initrd.gz").unwrap().size, 1);
        assert!(m.file("nope").is_none());
    }

    #[test]
    fn tolerant_of_comments_and_unknown_records() {
        let text = format!(
            "# hi\n\n{}future-record something\n",
            sample().to_text().replace("description ", "description  ")
        );
        let m = Manifest::parse(&text).unwrap();
        assert_eq!(m.files.len(), 2);
    }

    #[test]
    fn rejects_malformed() {
        let good = sample().to_text();
        let cases = [
            ("", 0),
            (&good.replace("format 1", "format 2"), 2),
            (&good.replace("format 1", "format x"), 2),
            (&good.replace("initramfs 2", "initramfs x"), 3),
            (&good.replace("initramfs 2", "initramfs 0"), 3),
            (&good.replace("name debian-6.1.0-50", "name"), 4),
            (&good.replace("format 1\n", ""), 0),
            (&good.replace("sha256:abab", "sha256:XYab"), 8),
            (&good.replace(" 5060312 ", " -5 "), 8),
            (&good.replace("file vmlinuz", "file ../vmlinuz"), 8),
            (
                &good.replace("package busybox-static ", "package busybox-static"),
                7,
            ),
        ];
        for (text, line) in cases {
            let e = Manifest::parse(text).unwrap_err();
            assert_eq!(e.line, line, "{e} for:\n{text}");
        }
    }

    #[test]
    fn manifests_without_an_initramfs_record_are_version_1() {
        let text = sample().to_text().replace("initramfs 2\n", "");
        let m = Manifest::parse(&text).unwrap();
        assert_eq!(m.initramfs, 1);
        assert_eq!(m.files, sample().files);
    }

    #[test]
    fn control_characters_cannot_break_lines() {
        let mut m = sample();
        m.description = "two\nlines".into();
        let parsed = Manifest::parse(&m.to_text()).unwrap();
        assert_eq!(parsed.description, "two lines");
    }
}
