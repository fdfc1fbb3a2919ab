//! The kernel modules that mounting the root disk takes (ext4 and what it
//! needs, overlayfs for a read-only disk), in load order, from an unpacked
//! kernel package.
//!
//! Debian's package has no `modules.dep` (its `postinst` runs `depmod`), so
//! dependencies come from each module's own `.modinfo` record `depends=`,
//! which the kernel build writes; `softdep` pre-dependencies that name a
//! crypto algorithm (ext4 and jbd2 want `crc32c`) are listed by hand in
//! [`ROOT_MODULES`].

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::images::error::{ImageError, IoContext};

/// The modules `/init` loads to mount the root disk, besides the virtio ones
/// the initramfs already has: their dependencies come first automatically.
/// `crc32c_generic` is ext4's and jbd2's `softdep` (metadata checksums).
pub const ROOT_MODULES: &[&str] = &["crc32c_generic", "ext4", "overlay"];

/// The `depends=` list of a module file's `.modinfo` (empty if none).
pub fn modinfo_depends(data: &[u8]) -> Vec<String> {
    const KEY: &[u8] = b"\0depends=";
    let Some(start) = data.windows(KEY.len()).position(|w| w == KEY) else {
        return Vec::new();
    };
    let value = &data[start + KEY.len()..];
    let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
    String::from_utf8_lossy(&value[..end])
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Module name of a `.ko` file: its stem with `-` as `_`.
fn module_name(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?.strip_suffix(".ko")?;
    Some(name.replace('-', "_"))
}

/// Every `.ko` under `dir`, by module name.
pub fn index_modules(dir: &Path) -> BTreeMap<String, PathBuf> {
    let mut found = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Some(name) = module_name(&path) {
                found.insert(name, path);
            }
        }
    }
    found
}

/// `wanted` and all their dependencies, each after what it depends on:
/// (name, contents). `index` maps module names to files; `skip` are
/// modules already loaded (the initramfs's virtio set).
pub fn load_order(
    index: &BTreeMap<String, PathBuf>,
    wanted: &[&str],
    skip: &[&str],
    package: &str,
) -> Result<Vec<(String, Vec<u8>)>, ImageError> {
    let mut order: Vec<(String, Vec<u8>)> = Vec::new();
    // Depth-first with an explicit "visiting" set, so a (malformed) cycle
    // ends instead of recursing forever.
    fn visit(
        name: &str,
        index: &BTreeMap<String, PathBuf>,
        skip: &[&str],
        package: &str,
        visiting: &mut Vec<String>,
        order: &mut Vec<(String, Vec<u8>)>,
    ) -> Result<(), ImageError> {
        if skip.contains(&name)
            || order.iter().any(|(n, _)| n == name)
            || visiting.iter().any(|v| v == name)
        {
            return Ok(());
        }
        let path = index.get(name).ok_or_else(|| ImageError::MissingFile {
            package: package.to_string(),
            path: format!("lib/modules/*/kernel/.../{name}.ko"),
        })?;
        let data = fs::read(path).ctx("read", path)?;
        visiting.push(name.to_string());
        for dep in modinfo_depends(&data) {
            visit(&dep, index, skip, package, visiting, order)?;
        }
        visiting.pop();
        order.push((name.to_string(), data));
        Ok(())
    }
    let mut visiting = Vec::new();
    for name in wanted {
        visit(name, index, skip, package, &mut visiting, &mut order)?;
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(deps: &str) -> Vec<u8> {
        let mut data = b"\x7fELF....\0license=GPL\0".to_vec();
        data.extend_from_slice(format!("depends={deps}\0vermagic=6.1\0").as_bytes());
        data
    }

    #[test]
    fn depends_records() {
        assert_eq!(
            modinfo_depends(&module("jbd2,mbcache,crc16")),
            ["jbd2", "mbcache", "crc16"]
        );
        assert!(modinfo_depends(&module("")).is_empty());
        assert!(modinfo_depends(b"no record").is_empty());
    }

    #[test]
    fn dependencies_load_first() {
        let dir = tempfile::tempdir().unwrap();
        let files = [
            ("fs/ext4/ext4.ko", "jbd2,mbcache,crc16"),
            ("fs/jbd2/jbd2.ko", ""),
            ("fs/mbcache.ko", ""),
            ("lib/crc16.ko", ""),
            ("crypto/crc32c_generic.ko", ""),
            ("fs/overlayfs/overlay.ko", ""),
            ("drivers/block/virtio_blk.ko", "virtio,virtio_ring"),
            ("fs/loop-a.ko", "loop_a"),
        ];
        for (path, deps) in files {
            let p = dir.path().join(path);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, module(deps)).unwrap();
        }
        let index = index_modules(dir.path());
        assert!(index.contains_key("loop_a"));
        let order = load_order(&index, ROOT_MODULES, &[], "k").unwrap();
        let names: Vec<&str> = order.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "crc32c_generic",
                "jbd2",
                "mbcache",
                "crc16",
                "ext4",
                "overlay"
            ]
        );
        // Already-loaded modules are skipped; a self-cycle ends.
        let order = load_order(
            &index,
            &["virtio_blk", "loop_a"],
            &["virtio", "virtio_ring"],
            "k",
        )
        .unwrap();
        let names: Vec<&str> = order.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["virtio_blk", "loop_a"]);
        assert!(matches!(
            load_order(&index, &["nope"], &[], "k"),
            Err(ImageError::MissingFile { .. })
        ));
    }
}
