//! The cpio "newc" archive format: what the Linux kernel unpacks as an initramfs.
//!
//! Each entry is a 110-byte ASCII header (`070701` followed by 13 fields of 8 hex
//! digits: ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor,
//! rdevmajor, rdevminor, namesize, check), the NUL-terminated name, padding so that
//! header + name is a multiple of 4 bytes, the data, and padding of the data to a
//! multiple of 4 bytes. The archive ends with an entry named `TRAILER!!!`.
//!
//! [`Writer`] produces archives; [`parse`] reads them back (used by the tests and
//! handy for checking an initramfs).

use std::io::{self, Write};

/// Mask of the file-type bits in a mode.
pub const S_IFMT: u32 = 0o170_000;
/// File type: directory.
pub const S_IFDIR: u32 = 0o040_000;
/// File type: regular file.
pub const S_IFREG: u32 = 0o100_000;
/// File type: symbolic link (the data is the link target).
pub const S_IFLNK: u32 = 0o120_000;
/// File type: character device.
pub const S_IFCHR: u32 = 0o020_000;
/// File type: block device.
pub const S_IFBLK: u32 = 0o060_000;

const MAGIC: &[u8; 6] = b"070701";
const MAGIC_CRC: &[u8; 6] = b"070702";
const HEADER_LEN: usize = 110;
const TRAILER: &str = "TRAILER!!!";

/// One archive member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path inside the archive, relative (no leading `/`), e.g. `bin/busybox`.
    pub name: String,
    /// File type and permission bits (`S_IFREG | 0o755`, ...).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time (seconds since the epoch).
    pub mtime: u32,
    /// Device major number (character and block devices).
    pub rdev_major: u32,
    /// Device minor number (character and block devices).
    pub rdev_minor: u32,
    /// File contents; the target for a symbolic link; empty otherwise.
    pub data: Vec<u8>,
}

impl Entry {
    fn new(name: &str, mode: u32, data: Vec<u8>) -> Entry {
        Entry {
            name: name.to_string(),
            mode,
            uid: 0,
            gid: 0,
            mtime: 0,
            rdev_major: 0,
            rdev_minor: 0,
            data,
        }
    }

    /// A directory with permission bits `perm`, owned by root.
    pub fn dir(name: &str, perm: u32) -> Entry {
        Entry::new(name, S_IFDIR | (perm & 0o7777), Vec::new())
    }

    /// A regular file with permission bits `perm`, owned by root.
    pub fn file(name: &str, perm: u32, data: Vec<u8>) -> Entry {
        Entry::new(name, S_IFREG | (perm & 0o7777), data)
    }

    /// A symbolic link to `target`, owned by root.
    pub fn symlink(name: &str, target: &str) -> Entry {
        Entry::new(name, S_IFLNK | 0o777, target.as_bytes().to_vec())
    }

    /// A character device node `major:minor` with permission bits `perm`.
    pub fn char_device(name: &str, perm: u32, major: u32, minor: u32) -> Entry {
        let mut e = Entry::new(name, S_IFCHR | (perm & 0o7777), Vec::new());
        e.rdev_major = major;
        e.rdev_minor = minor;
        e
    }

    /// The file-type bits of `mode`.
    pub fn file_type(&self) -> u32 {
        self.mode & S_IFMT
    }
}

/// Errors from writing or parsing an archive.
#[derive(Debug, thiserror::Error)]
pub enum CpioError {
    /// The entry name is empty, contains NUL or a `..` component, or is reserved.
    #[error("invalid cpio entry name {0:?}")]
    InvalidName(String),
    /// The entry data does not fit the 32-bit size field.
    #[error("cpio entry {0:?} is larger than 4 GiB")]
    TooLarge(String),
    /// The data ends inside the entry that starts at this offset.
    #[error("the archive ends before the entry at offset {0} is complete")]
    Truncated(usize),
    /// The header at this offset does not start with `070701`.
    #[error("no newc cpio header (070701) at offset {0}")]
    BadMagic(usize),
    /// A header field is not 8 hex digits.
    #[error("malformed cpio header field at offset {0}")]
    BadField(usize),
    /// An entry name is not NUL-terminated or not UTF-8.
    #[error("malformed cpio entry name at offset {0}")]
    BadName(usize),
    /// The data ended without a `TRAILER!!!` entry.
    #[error("the cpio archive has no TRAILER!!! entry")]
    MissingTrailer,
    /// The underlying writer failed.
    #[error("writing the cpio archive")]
    Io(#[from] io::Error),
}

/// Normalises an archive member name: drops leading `/` and `.` components and
/// repeated slashes; rejects empty names, NUL bytes, `..` components and the
/// reserved trailer name.
pub fn normalize_name(name: &str) -> Result<String, CpioError> {
    let invalid = || CpioError::InvalidName(name.to_string());
    if name.contains('\0') {
        return Err(invalid());
    }
    let mut parts = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(invalid()),
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    if joined.is_empty() || joined == TRAILER {
        return Err(invalid());
    }
    Ok(joined)
}

/// Streams a newc archive into `W`.
#[derive(Debug)]
pub struct Writer<W: Write> {
    out: W,
    next_ino: u32,
}

impl<W: Write> Writer<W> {
    /// Starts an archive.
    pub fn new(out: W) -> Writer<W> {
        Writer { out, next_ino: 1 }
    }

    /// Appends `entry` (its name is normalised with [`normalize_name`]).
    pub fn add(&mut self, entry: &Entry) -> Result<(), CpioError> {
        let name = normalize_name(&entry.name)?;
        let data: &[u8] = match entry.file_type() {
            S_IFREG | S_IFLNK => &entry.data,
            _ => &[],
        };
        let nlink = if entry.file_type() == S_IFDIR { 2 } else { 1 };
        let ino = self.next_ino;
        self.next_ino = self.next_ino.wrapping_add(1);
        self.record(
            ino,
            entry.mode,
            entry.uid,
            entry.gid,
            nlink,
            entry.mtime,
            (entry.rdev_major, entry.rdev_minor),
            &name,
            data,
        )
    }

    /// Writes the trailer and returns the underlying writer.
    pub fn finish(mut self) -> Result<W, CpioError> {
        self.record(0, 0, 0, 0, 1, 0, (0, 0), TRAILER, &[])?;
        self.out.flush()?;
        Ok(self.out)
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        ino: u32,
        mode: u32,
        uid: u32,
        gid: u32,
        nlink: u32,
        mtime: u32,
        rdev: (u32, u32),
        name: &str,
        data: &[u8],
    ) -> Result<(), CpioError> {
        let size = u32::try_from(data.len()).map_err(|_| CpioError::TooLarge(name.to_string()))?;
        let namesize = name.len() + 1;
        let fields = [
            ino,
            mode,
            uid,
            gid,
            nlink,
            mtime,
            size,
            0,
            0,
            rdev.0,
            rdev.1,
            namesize as u32,
            0,
        ];
        let mut header = Vec::with_capacity(HEADER_LEN + namesize + 3);
        header.extend_from_slice(MAGIC);
        for f in fields {
            header.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        header.extend_from_slice(name.as_bytes());
        header.push(0);
        header.resize(align4(header.len()), 0);
        self.out.write_all(&header)?;
        self.out.write_all(data)?;
        let padded = align4(data.len());
        self.out.write_all(&[0u8; 3][..padded - data.len()])?;
        Ok(())
    }
}

/// Builds a complete archive from `entries` in memory.
pub fn archive(entries: &[Entry]) -> Result<Vec<u8>, CpioError> {
    let mut w = Writer::new(Vec::new());
    for e in entries {
        w.add(e)?;
    }
    w.finish()
}

/// Appends `entries` to `initrd` as one more archive. Linux unpacks
/// concatenated archives in order, so files there replace earlier ones of
/// the same name.
pub fn append_archive(initrd: &mut Vec<u8>, entries: &[Entry]) -> Result<(), CpioError> {
    let extra = archive(entries)?;
    // Archives must start on a 4-byte boundary; the kernel skips zero padding.
    initrd.resize(align4(initrd.len()), 0);
    initrd.extend_from_slice(&extra);
    Ok(())
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Parses a newc archive up to its `TRAILER!!!` entry (anything after it, such as
/// padding or a second concatenated archive, is ignored).
pub fn parse(data: &[u8]) -> Result<Vec<Entry>, CpioError> {
    let mut entries = Vec::new();
    let mut pos = 0usize;
    loop {
        let start = pos;
        let header = data
            .get(pos..pos + HEADER_LEN)
            .ok_or(if pos >= data.len() {
                CpioError::MissingTrailer
            } else {
                CpioError::Truncated(start)
            })?;
        if &header[..6] != MAGIC && &header[..6] != MAGIC_CRC {
            return Err(CpioError::BadMagic(start));
        }
        let mut fields = [0u32; 13];
        for (i, f) in fields.iter_mut().enumerate() {
            let text = &header[6 + 8 * i..14 + 8 * i];
            *f = parse_hex(text).ok_or(CpioError::BadField(start + 6 + 8 * i))?;
        }
        let [_ino, mode, uid, gid, _nlink, mtime, filesize, _maj, _min, rmaj, rmin, namesize, _check] =
            fields;
        pos += HEADER_LEN;
        let namesize = namesize as usize;
        let raw_name = data
            .get(pos..pos + namesize)
            .ok_or(CpioError::Truncated(start))?;
        let name = match raw_name.split_last() {
            Some((0, name)) => std::str::from_utf8(name).map_err(|_| CpioError::BadName(start))?,
            _ => return Err(CpioError::BadName(start)),
        };
        pos = align4(pos + namesize);
        if name == TRAILER {
            return Ok(entries);
        }
        let filesize = filesize as usize;
        let contents = data
            .get(pos..pos + filesize)
            .ok_or(CpioError::Truncated(start))?;
        pos = align4(pos + filesize);
        entries.push(Entry {
            name: name.to_string(),
            mode,
            uid,
            gid,
            mtime,
            rdev_major: rmaj,
            rdev_minor: rmin,
            data: contents.to_vec(),
        });
    }
}

fn parse_hex(text: &[u8]) -> Option<u32> {
    if text.len() != 8 || !text.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u32::from_str_radix(std::str::from_utf8(text).ok()?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::process::{Command, Stdio};

    fn sample() -> Vec<Entry> {
        vec![
            Entry::dir("bin", 0o755),
            Entry::dir("dev", 0o755),
            Entry::dir("tmp", 0o1777),
            Entry::file("bin/hello", 0o755, b"#!/bin/sh\necho hello\n".to_vec()),
            Entry::file("empty", 0o644, Vec::new()),
            // Lengths 1..=4 exercise every padding case of data and name.
            Entry::file("a", 0o600, b"1".to_vec()),
            Entry::file("ab", 0o600, b"12".to_vec()),
            Entry::file("abc", 0o600, b"123".to_vec()),
            Entry::file("abcd", 0o600, b"1234".to_vec()),
            Entry::symlink("bin/sh", "hello"),
            Entry::char_device("dev/console", 0o600, 5, 1),
            Entry::char_device("dev/null", 0o666, 1, 3),
        ]
    }

    /// Entries that Debian's `cpio -i` can extract without privileges (no devices).
    fn extractable() -> Vec<Entry> {
        sample()
            .into_iter()
            .filter(|e| e.file_type() != S_IFCHR)
            .collect()
    }

    #[test]
    fn header_layout() {
        let bytes = archive(&[Entry::file("ab", 0o644, b"xyz".to_vec())]).unwrap();
        // 110-byte header + "ab\0" = 113, padded to 116; data 3 padded to 4.
        assert_eq!(&bytes[..6], b"070701");
        assert_eq!(&bytes[6..14], b"00000001", "ino");
        assert_eq!(&bytes[14..22], b"000081a4", "mode");
        assert_eq!(&bytes[54..62], b"00000003", "filesize");
        assert_eq!(&bytes[94..102], b"00000003", "namesize");
        assert_eq!(&bytes[110..116], b"ab\0\0\0\0");
        assert_eq!(&bytes[116..120], b"xyz\0");
        assert_eq!(&bytes[120..126], b"070701");
        let trailer_name = 120 + 110;
        assert_eq!(&bytes[trailer_name..trailer_name + 11], b"TRAILER!!!\0");
        assert_eq!(bytes.len() % 4, 0);
        assert_eq!(bytes.len(), 120 + align4(110 + 11));
    }

    #[test]
    fn round_trip() {
        let entries = sample();
        let bytes = archive(&entries).unwrap();
        assert_eq!(parse(&bytes).unwrap(), entries);
    }

    #[test]
    fn names_are_normalized() {
        assert_eq!(normalize_name("/bin/busybox").unwrap(), "bin/busybox");
        assert_eq!(normalize_name("./etc//passwd").unwrap(), "etc/passwd");
        assert_eq!(normalize_name("init").unwrap(), "init");
        for bad in ["", "/", ".", "../x", "a/../b", "a\0b", "TRAILER!!!"] {
            assert!(
                matches!(normalize_name(bad), Err(CpioError::InvalidName(_))),
                "{bad:?}"
            );
        }
        let bytes = archive(&[Entry::file("/etc/x", 0o644, vec![])]).unwrap();
        assert_eq!(parse(&bytes).unwrap()[0].name, "etc/x");
        assert!(archive(&[Entry::file("../x", 0o644, vec![])]).is_err());
    }

    #[test]
    fn parse_rejects_bad_input() {
        let bytes = archive(&sample()).unwrap();
        assert!(matches!(parse(&[]), Err(CpioError::MissingTrailer)));
        assert!(matches!(parse(b"hello"), Err(CpioError::Truncated(0))));
        let mut bad = bytes.clone();
        bad[0] = b'1';
        assert!(matches!(parse(&bad), Err(CpioError::BadMagic(0))));
        let mut bad = bytes.clone();
        bad[10] = b'g';
        assert!(matches!(parse(&bad), Err(CpioError::BadField(6))));
        // Every truncation fails cleanly (no panic).
        let trailer_at = bytes.len() - align4(HEADER_LEN + TRAILER.len() + 1);
        for len in 0..trailer_at {
            assert!(parse(&bytes[..len]).is_err(), "truncated to {len}");
        }
        // Garbage never panics.
        let mut noise = bytes.clone();
        for i in (0..noise.len()).step_by(7) {
            noise[i] = noise[i].wrapping_mul(31).wrapping_add(i as u8);
            let _ = parse(&noise);
        }
    }

    /// Runs Debian's `cpio` (package `cpio`) with `args`, feeding `input`.
    fn run_cpio(args: &[&str], dir: &Path, input: &[u8]) -> Vec<u8> {
        let mut child = match Command::new("cpio")
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => panic!(
                "cannot run `cpio` ({e}): this test needs GNU cpio, install the Debian \
                 package `cpio` (apt-get install cpio)"
            ),
        };
        child
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(input)
            .expect("feeding cpio");
        let out = child.wait_with_output().expect("waiting for cpio");
        assert!(
            out.status.success(),
            "cpio {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    fn cpio_listing(args: &[&str], dir: &Path, input: &[u8]) -> String {
        String::from_utf8(run_cpio(args, dir, input)).expect("cpio lists UTF-8 names")
    }

    #[test]
    fn debian_cpio_lists_archive() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = archive(&sample()).unwrap();
        let listing = cpio_listing(&["-t", "--quiet"], dir.path(), &bytes);
        let names: Vec<&str> = listing.lines().collect();
        let expected: Vec<String> = sample().into_iter().map(|e| e.name).collect();
        assert_eq!(names, expected);

        let verbose = cpio_listing(&["-tv", "--quiet"], dir.path(), &bytes);
        let console = verbose
            .lines()
            .find(|l| l.ends_with("dev/console"))
            .expect("dev/console listed");
        assert!(console.starts_with("crw-------"), "{console}");
        assert!(console.contains("5,"), "{console}");
        let null = verbose
            .lines()
            .find(|l| l.ends_with("dev/null"))
            .expect("dev/null listed");
        assert!(null.starts_with("crw-rw-rw-"), "{null}");
        let link = verbose
            .lines()
            .find(|l| l.contains("bin/sh"))
            .expect("bin/sh listed");
        assert!(
            link.starts_with('l') && link.ends_with("bin/sh -> hello"),
            "{link}"
        );
    }

    #[test]
    fn debian_cpio_extracts_archive() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = archive(&extractable()).unwrap();
        run_cpio(
            &["-i", "--quiet", "-d", "--no-absolute-filenames"],
            dir.path(),
            &bytes,
        );
        for e in extractable() {
            let path = dir.path().join(&e.name);
            let meta = std::fs::symlink_metadata(&path)
                .unwrap_or_else(|err| panic!("{} not extracted: {err}", e.name));
            use std::os::unix::fs::PermissionsExt;
            match e.file_type() {
                S_IFREG => {
                    assert_eq!(std::fs::read(&path).unwrap(), e.data, "{}", e.name);
                    assert_eq!(meta.permissions().mode() & 0o7777, e.mode & 0o7777);
                }
                S_IFDIR => assert!(meta.is_dir(), "{}", e.name),
                S_IFLNK => assert_eq!(
                    std::fs::read_link(&path)
                        .unwrap()
                        .as_os_str()
                        .as_encoded_bytes(),
                    e.data.as_slice()
                ),
                _ => unreachable!(),
            }
        }
    }

    #[test]
    fn parses_archive_made_by_debian_cpio() {
        let src = tempfile::tempdir().unwrap();
        std::fs::create_dir(src.path().join("d")).unwrap();
        std::fs::write(src.path().join("d/f"), b"contents").unwrap();
        let bytes = run_cpio(&["-o", "-H", "newc", "--quiet"], src.path(), b"d\nd/f\n");
        let entries = parse(&bytes).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].name, "d");
        assert_eq!(entries[0].file_type(), S_IFDIR);
        assert_eq!(entries[1].name, "d/f");
        assert_eq!(entries[1].data, b"contents");
    }
}
