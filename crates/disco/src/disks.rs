//! Disks on the command line and in configuration files: `PATH[,ro]`.

use std::path::PathBuf;

use machine::virtio::DiskConfig;

/// Parses `PATH` or `PATH,ro` (read-only).
pub fn parse_disk(arg: &str) -> Result<DiskConfig, String> {
    let (path, read_only) = match arg.rsplit_once(',') {
        Some((p, "ro")) => (p, true),
        Some((p, "rw")) => (p, false),
        Some((_, other)) => {
            return Err(format!(
                "disk '{arg}': unknown option '{other}' (PATH, PATH,ro or PATH,rw)"
            ))
        }
        None => (arg, false),
    };
    if path.is_empty() {
        return Err(format!("disk '{arg}': empty path"));
    }
    Ok(DiskConfig {
        path: PathBuf::from(path),
        read_only,
    })
}

/// Fails if a disk is used twice with one of the uses writable: two
/// writers (or a writer and a reader) would see each other's blocks
/// change underneath their caches. Persistent disks are one VM's at a time
/// (§4.2.5).
pub fn check_exclusive<'a>(disks: impl IntoIterator<Item = &'a DiskConfig>) -> Result<(), String> {
    let mut seen: Vec<(PathBuf, bool)> = Vec::new();
    for d in disks {
        let key = std::fs::canonicalize(&d.path).unwrap_or_else(|_| d.path.clone());
        if let Some((_, ro)) = seen.iter().find(|(p, _)| *p == key) {
            if !ro || !d.read_only {
                return Err(format!(
                    "disk '{}' is used twice and writable: a writable disk belongs to one guest (add ,ro to share it read-only)",
                    d.path.display()
                ));
            }
        }
        seen.push((key, d.read_only));
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
                read_only: false
            }
        );
        assert!(parse_disk("/x/b.img,ro").unwrap().read_only);
        assert!(!parse_disk("b.img,rw").unwrap().read_only);
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
        assert!(check_exclusive([&a, &b]).is_ok());
        assert!(check_exclusive([&r, &r]).is_ok());
        assert!(check_exclusive([&a, &r]).is_err());
        assert!(check_exclusive([&a, &a]).is_err());
    }
}
