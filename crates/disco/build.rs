//! Embeds the workloads (`/workloads` of the repository: scripts, sources,
//! expected results) into the binary, so `disco fetch --rootfs` can put
//! them on the root disk wherever disco is installed.

use std::fmt::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn collect(dir: &Path, base: &Path, out: &mut Vec<(String, PathBuf, u32)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            collect(&path, base, out);
        } else if meta.is_file() {
            let rel = path.strip_prefix(base).unwrap_or(&path);
            let mode = if meta.permissions().mode() & 0o111 != 0 {
                0o755
            } else {
                0o644
            };
            out.push((rel.to_string_lossy().into_owned(), path.clone(), mode));
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let dir = manifest.join("../../workloads");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files = Vec::new();
    collect(&dir, &dir, &mut files);
    let mut code =
        String::from("/// The workload files: (path under `workloads/`, contents, mode).\n");
    code.push_str("pub const WORKLOAD_FILES: &[(&str, &[u8], u32)] = &[\n");
    for (rel, path, mode) in files {
        let _ = writeln!(
            code,
            "    ({rel:?}, include_bytes!({:?}), 0o{mode:o}),",
            path.canonicalize().unwrap_or(path.clone())
        );
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("workloads.rs");
    std::fs::write(out, code).unwrap();
}
