//! `disco run --add HOST[:GUEST]`: host files put into the guest's initramfs.
//!
//! The files go into a second, uncompressed newc cpio archive appended to the
//! initrd; Linux unpacks concatenated archives one after the other, so the
//! original initrd is never rebuilt.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::images::cpio::{append_archive, Entry};

/// One `--add` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddedFile {
    /// File on the host.
    pub host: PathBuf,
    /// Absolute path in the guest.
    pub guest: String,
}

/// Parses `HOST[:GUEST]`; without a guest path the file goes to `/bin/<name>`.
pub fn parse_add(arg: &str) -> Result<AddedFile, String> {
    let (host, guest) = match arg.split_once(':') {
        Some((h, g)) => (h, g.to_string()),
        None => {
            let name = Path::new(arg)
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| format!("--add {arg}: no file name"))?;
            (arg, format!("/bin/{name}"))
        }
    };
    if host.is_empty() {
        return Err(format!("--add {arg}: empty host path"));
    }
    if !guest.starts_with('/') || guest.ends_with('/') || guest.split('/').any(|c| c == "..") {
        return Err(format!(
            "--add {arg}: the guest path must be an absolute file path"
        ));
    }
    Ok(AddedFile {
        host: PathBuf::from(host),
        guest,
    })
}

/// Appends `files` to `initrd` as a cpio archive (directories created as
/// needed; files keep their host permission bits).
pub fn append_files(initrd: &mut Vec<u8>, files: &[AddedFile]) -> Result<()> {
    if files.is_empty() {
        return Ok(());
    }
    let mut entries = Vec::new();
    let mut dirs = std::collections::BTreeSet::new();
    for f in files {
        let data = std::fs::read(&f.host)
            .with_context(|| format!("cannot read --add file '{}'", f.host.display()))?;
        let perm = file_permissions(&f.host)?;
        let name = f.guest.trim_start_matches('/');
        let mut parent = Path::new(name).parent();
        while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
            dirs.insert(p.to_string_lossy().into_owned());
            parent = p.parent();
        }
        entries.push(Entry::file(name, perm, data));
    }
    let mut all: Vec<Entry> = dirs.iter().map(|d| Entry::dir(d, 0o755)).collect();
    all.extend(entries);
    append_archive(initrd, &all).context("building the --add archive")
}

#[cfg(unix)]
fn file_permissions(path: &Path) -> Result<u32> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path)
        .with_context(|| format!("cannot read --add file '{}'", path.display()))?;
    if !meta.is_file() {
        bail!("--add '{}' is not a regular file", path.display());
    }
    Ok(meta.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
fn file_permissions(path: &Path) -> Result<u32> {
    if !std::fs::metadata(path)?.is_file() {
        bail!("--add '{}' is not a regular file", path.display());
    }
    Ok(0o755)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::cpio::parse;

    #[test]
    fn parses_host_and_guest_paths() {
        assert_eq!(
            parse_add("./out/prog:/usr/bin/prog").unwrap(),
            AddedFile {
                host: "./out/prog".into(),
                guest: "/usr/bin/prog".into()
            }
        );
        assert_eq!(parse_add("/tmp/x").unwrap().guest, "/bin/x");
        assert!(parse_add("a:relative").is_err());
        assert!(parse_add("a:/bin/../etc/passwd").is_err());
        assert!(parse_add(":/bin/x").is_err());
    }

    #[test]
    fn appended_archive_holds_the_file_and_its_directories() {
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().join("prog");
        std::fs::write(&host, b"hello").unwrap();
        let mut initrd = vec![1, 2, 3];
        append_files(
            &mut initrd,
            &[AddedFile {
                host,
                guest: "/opt/t/prog".into(),
            }],
        )
        .unwrap();
        assert_eq!(&initrd[..4], &[1, 2, 3, 0], "padded to 4 bytes");
        let entries = parse(&initrd[4..]).unwrap();
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["opt", "opt/t", "opt/t/prog"]);
        assert_eq!(entries[2].data, b"hello");
    }

    #[test]
    fn missing_files_are_errors() {
        let mut initrd = Vec::new();
        let missing = AddedFile {
            host: "/nonexistent/x".into(),
            guest: "/bin/x".into(),
        };
        assert!(append_files(&mut initrd, &[missing]).is_err());
    }
}
