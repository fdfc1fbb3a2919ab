//! Disks on the command line and in configuration files:
//! `PATH[,rw|,ro|,cow]`.

use std::path::PathBuf;

use machine::virtio::{DiskConfig, DiskMode};

/// Parses `PATH` or `PATH,rw` (persistent), `PATH,ro` (read-only) or
/// `PATH,cow` (copy-on-write: the file is never modified, the guest's
/// writes last as long as its run).
pub fn parse_disk(arg: &str) -> Result<DiskConfig, String> {
    let (path, mode) = match arg.rsplit_once(',') {
        Some((p, "ro")) => (p, DiskMode::ReadOnly),
        Some((p, "rw")) => (p, DiskMode::ReadWrite),
        Some((p, "cow")) => (p, DiskMode::CopyOnWrite),
        Some((_, other)) => {
            return Err(format!(
                "disk '{arg}': unknown option '{other}' (PATH, PATH,rw, PATH,ro or PATH,cow)"
            ))
        }
        None => (arg, DiskMode::ReadWrite),
    };
    if path.is_empty() {
        return Err(format!("disk '{arg}': empty path"));
    }
    Ok(DiskConfig {
        path: PathBuf::from(path),
        mode,
    })
}

/// Fails if a disk is used twice with one of the uses persistent
/// (writable): two writers (or a writer and a reader) would see each
/// other's blocks change underneath their caches. Persistent disks are one
/// VM's at a time (§4.2.5); read-only and copy-on-write uses never write
/// the file and may share it.
pub fn check_exclusive<'a>(disks: impl IntoIterator<Item = &'a DiskConfig>) -> Result<(), String> {
    let mut seen: Vec<(PathBuf, bool)> = Vec::new();
    for d in disks {
        let key = std::fs::canonicalize(&d.path).unwrap_or_else(|_| d.path.clone());
        let shares = d.mode.file_read_only();
        if let Some((_, other_shares)) = seen.iter().find(|(p, _)| *p == key) {
            if !other_shares || !shares {
                return Err(format!(
                    "disk '{}' is used twice and writable: a persistent disk belongs to one guest (add ,cow or ,ro to share it)",
                    d.path.display()
                ));
            }
        }
        seen.push((key, shares));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paths_and_modes() {
        assert_eq!(
            parse_disk("a.img").unwrap(),
            DiskConfig {
                path: "a.img".into(),
                mode: DiskMode::ReadWrite
            }
        );
        assert_eq!(parse_disk("/x/b.img,ro").unwrap().mode, DiskMode::ReadOnly);
        assert_eq!(parse_disk("b.img,rw").unwrap().mode, DiskMode::ReadWrite);
        assert_eq!(parse_disk("b.img,cow").unwrap().mode, DiskMode::CopyOnWrite);
        assert!(parse_disk("b.img,xx")
            .unwrap_err()
            .contains("unknown option"));
        assert!(parse_disk(",ro").is_err());
    }

    #[test]
    fn writable_disks_are_exclusive() {
        let a = parse_disk("same.img").unwrap();
        let r = parse_disk("same.img,ro").unwrap();
        let b = parse_disk("other.img").unwrap();
        let c = parse_disk("same.img,cow").unwrap();
        assert!(check_exclusive([&a, &b]).is_ok());
        assert!(check_exclusive([&r, &r]).is_ok());
        assert!(check_exclusive([&c, &r, &c]).is_ok());
        assert!(check_exclusive([&a, &r]).is_err());
        assert!(check_exclusive([&c, &a]).is_err());
        assert!(check_exclusive([&a, &a]).is_err());
    }
}
