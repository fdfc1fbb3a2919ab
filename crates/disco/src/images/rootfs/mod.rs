//! The Debian root disk: an ext4 image of a Debian bookworm mips64el system
//! with the workloads' programs (gcc, POV-Ray, Icarus Verilog, SQLite, the
//! NFS server), the workloads themselves and GNU chess's source, built once
//! from Debian's packages and kept in the cache beside the kernel.
//!
//! ```text
//! <cache_dir()>/rootfs/
//!     .lock                     flock(2)ed while building
//!     <name>/                   one image: complete or absent
//!         root.img              ext4, 4 KiB blocks
//!         modules.cpio          the modules mounting it takes, for the initramfs
//!         MANIFEST              written last (see `manifest`)
//!     .tmp-<pid>-<n>/           a build in progress (or interrupted)
//! ```
//!
//! How it is built, with no root mounts, loop devices or binfmt emulation:
//! apt resolves the packages' dependencies for mips64el against an empty
//! package database ([`packages`]), `dpkg-deb -x` unpacks them into a
//! directory, the configuration their maintainer scripts would have written
//! is written by hand ([`tree`]), and `mke2fs -d` makes the file system
//! ([`ext4`]). `<name>` is derived from the kernel, this layout's version
//! and the embedded workloads, so a new disco with other workloads builds
//! a new image and finding the current one needs no network.

mod ext4;
mod manifest;
pub mod modules;
pub mod packages;
pub mod source;
pub mod tree;

use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::cpio;
use super::error::{ImageError, IoContext};
use super::lock::FileLock;
use super::progress::Meter;
use super::sha256::{hex_digest_file, to_hex};
use super::VIRTIO_MODULES;
pub use manifest::RootfsManifest;

include!(concat!(env!("OUT_DIR"), "/workloads.rs"));

/// Version of the image's layout (what is on it and where). Part of the
/// image's name: changing it makes disco build a new image.
pub const ROOTFS_VERSION: u32 = 1;

/// File name of the image inside an entry.
pub const IMAGE_FILE: &str = "root.img";
/// The initramfs addition with the modules for mounting the image.
pub const MODULES_FILE: &str = "modules.cpio";
/// The list of those modules, in load order, inside that archive.
pub const MODULES_ORDER: &str = "lib/modules/root.order";
/// Where the workloads go on the image.
pub const WORKLOADS_DIR: &str = "opt/disco/workloads";
/// The workloads' driver on the image (from `workloads/driver`).
pub const DRIVER: &str = "opt/disco/bin/workload";
/// Where GNU chess's source goes (for the Pmake workload).
pub const GNUCHESS_DIR: &str = "opt/disco/src/gnuchess";
/// The source package of the Pmake workload's program.
pub const GNUCHESS: &str = "gnuchess";

/// A root disk ready to attach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootDisk {
    /// The ext4 image. Never written by disco: attach it read-only.
    pub image: PathBuf,
    /// A newc cpio archive to append to the initramfs: the kernel modules
    /// that mounting the image takes and their load order.
    pub modules: PathBuf,
    /// One line saying what this is.
    pub description: String,
}

/// SHA-256 over the embedded workload files (names, modes, contents).
pub fn workloads_digest() -> String {
    let mut h = Sha256::new();
    for (name, data, mode) in WORKLOAD_FILES {
        h.update(name.as_bytes());
        h.update([0]);
        h.update(mode.to_le_bytes());
        h.update((data.len() as u64).to_le_bytes());
        h.update(data);
    }
    to_hex(&h.finalize())
}

/// The entry name for kernel entry `kernel_entry` (e.g. `debian-6.1.0-50`).
pub fn entry_name(kernel_entry: &str) -> String {
    let mut h = Sha256::new();
    h.update(format!("{ROOTFS_VERSION}\n").as_bytes());
    for p in packages::BASE_PACKAGES
        .iter()
        .chain(packages::WORKLOAD_PACKAGES)
    {
        h.update(p.as_bytes());
        h.update(b"\n");
    }
    h.update(workloads_digest().as_bytes());
    let digest = to_hex(&h.finalize());
    format!("bookworm-{kernel_entry}-{}", &digest[..12])
}

/// Returns the root disk, building it first if it is not in the cache.
pub fn ensure_rootfs(progress: &mut dyn FnMut(&str)) -> Result<RootDisk, ImageError> {
    provide(progress, false)
}

/// Builds the root disk again even if it is cached.
pub fn fetch_rootfs(progress: &mut dyn FnMut(&str)) -> Result<RootDisk, ImageError> {
    provide(progress, true)
}

fn provide(progress: &mut dyn FnMut(&str), force: bool) -> Result<RootDisk, ImageError> {
    let kernel = super::ensure_default_images(progress)?;
    let kernel_dir = kernel
        .kernel
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let kernel_manifest = super::verify_entry(&kernel_dir)?;
    let name = entry_name(&kernel_manifest.name);
    let root = super::cache_dir()?.join("rootfs");
    if !force {
        if let Some(found) = lookup(&root, &name) {
            return Ok(found);
        }
    }
    fs::create_dir_all(&root).ctx("create", &root)?;
    let lock_path = root.join(".lock");
    let _lock = FileLock::acquire(&lock_path, &mut || {
        progress("waiting for another disco process that is building the root disk")
    })
    .map_err(|e| ImageError::io("lock", &lock_path, e))?;
    if !force {
        if let Some(found) = lookup(&root, &name) {
            return Ok(found);
        }
    }
    remove_stale(&root);
    let kernel_pkg = kernel_manifest
        .packages
        .iter()
        .find(|p| p.name.starts_with("linux-image-"))
        .cloned()
        .ok_or_else(|| ImageError::MissingFile {
            package: kernel_manifest.name.clone(),
            path: "a linux-image package in its MANIFEST".into(),
        })?;
    let staging = root.join(format!(".tmp-{}", std::process::id()));
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging).ctx("create", &staging)?;
    let built = build(&staging, &name, &kernel_pkg, progress);
    let result = built.and_then(|()| {
        let target = root.join(&name);
        let _ = fs::remove_dir_all(&target);
        fs::rename(staging.join("entry"), &target).ctx("install", &target)?;
        lookup(&root, &name).ok_or_else(|| {
            ImageError::io(
                "use",
                &target,
                std::io::Error::other("the image vanished right after it was built"),
            )
        })
    });
    let _ = fs::remove_dir_all(&staging);
    let disk = result?;
    progress(&format!("root disk ready: {}", disk.image.display()));
    Ok(disk)
}

/// The complete entry `name` under `root`, if there is one.
fn lookup(root: &Path, name: &str) -> Option<RootDisk> {
    let dir = root.join(name);
    let text = fs::read_to_string(dir.join(manifest::MANIFEST_FILE)).ok()?;
    let m = RootfsManifest::parse(&text).ok()?;
    if m.name != name || m.version != ROOTFS_VERSION {
        return None;
    }
    for file in [IMAGE_FILE, MODULES_FILE] {
        let record = m.files.iter().find(|f| f.name == file)?;
        if fs::metadata(dir.join(file)).ok()?.len() != record.size {
            return None;
        }
    }
    Some(RootDisk {
        image: dir.join(IMAGE_FILE),
        modules: dir.join(MODULES_FILE),
        description: m.description,
    })
}

/// Deletes leftovers of interrupted builds and the images of other names
/// (older layouts, kernels or workloads): each takes about a gigabyte, and
/// building one again takes a minute or two. Call only with the lock held.
fn remove_stale(root: &Path) {
    let Ok(dir) = fs::read_dir(root) else {
        return;
    };
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let image = entry.path().join(manifest::MANIFEST_FILE).is_file();
        if name.starts_with(".tmp-") || (image && !name.starts_with('.')) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Builds entry `name` in `staging/entry` (scratch space beside it).
fn build(
    staging: &Path,
    name: &str,
    kernel_pkg: &super::manifest::PackageRecord,
    progress: &mut dyn FnMut(&str),
) -> Result<(), ImageError> {
    let entry = staging.join("entry");
    let tree_dir = staging.join("tree");
    fs::create_dir_all(&entry).ctx("create", &entry)?;
    fs::create_dir_all(&tree_dir).ctx("create", &tree_dir)?;

    progress("resolving the root disk's packages for mips64el (apt)");
    let apt = packages::PrivateApt::new(&staging.join("apt"))?;
    let wanted: Vec<&str> = packages::BASE_PACKAGES
        .iter()
        .chain(packages::WORKLOAD_PACKAGES)
        .copied()
        .collect();
    let debs = apt.resolve(&wanted)?;
    let bytes: u64 = debs.iter().map(|d| d.size).sum();
    progress(&format!(
        "downloading {} packages ({})",
        debs.len(),
        super::debian::human_size(bytes)
    ));
    let mut meter = Meter::new("downloading", debs.len() as u64);
    apt.download(&debs, &mut |n| meter.set(n as u64))?;
    meter.finish();

    let mut meter = Meter::new("unpacking", debs.len() as u64);
    let mut records = Vec::with_capacity(debs.len());
    for (i, deb) in debs.iter().enumerate() {
        let path = apt.archives().join(&deb.file);
        tree::unpack(&path, &tree_dir)?;
        let (sha256, _) = hex_digest_file(&path).ctx("read", &path)?;
        records.push(manifest::DebRecord {
            name: deb.name.clone(),
            version: deb.version.clone(),
            arch: deb.arch.clone(),
            sha256,
        });
        let _ = fs::remove_file(&path);
        meter.set(i as u64 + 1);
    }
    meter.finish();

    progress("configuring the tree (users, alternatives, /etc)");
    tree::configure(&tree_dir)?;
    install_workloads(&tree_dir)?;
    let gnuchess = source::fetch_upstream_source(
        GNUCHESS,
        &staging.join("source"),
        &tree_dir.join(GNUCHESS_DIR),
        progress,
    )?;

    progress(&format!(
        "getting the root disk's kernel modules from {} {}",
        kernel_pkg.name, kernel_pkg.version
    ));
    let modules = root_modules(&staging.join("kernel"), kernel_pkg)?;
    let modules_path = entry.join(MODULES_FILE);
    fs::write(&modules_path, &modules).ctx("write", &modules_path)?;

    let image = entry.join(IMAGE_FILE);
    progress("making the ext4 file system (mke2fs -d, 4 KiB blocks)");
    ext4::make(&tree_dir, &image)?;
    let _ = fs::remove_dir_all(&tree_dir);
    ext4::check(&image)?;

    let mut files = Vec::new();
    for file in [IMAGE_FILE, MODULES_FILE] {
        let path = entry.join(file);
        let (sha256, size) = hex_digest_file(&path).ctx("read", &path)?;
        files.push(manifest::FileRecord {
            name: file.to_string(),
            size,
            sha256,
        });
    }
    let m = RootfsManifest {
        name: name.to_string(),
        version: ROOTFS_VERSION,
        description: format!(
            "Debian bookworm mips64el root disk: {} packages, {GNUCHESS} {gnuchess} source, \
             workloads {}",
            records.len(),
            &workloads_digest()[..12]
        ),
        kernel: format!("{} {}", kernel_pkg.name, kernel_pkg.version),
        workloads: workloads_digest(),
        debs: records,
        files,
    };
    let path = entry.join(manifest::MANIFEST_FILE);
    fs::write(&path, m.to_text()).ctx("write", &path)
}

/// Puts the embedded workloads and their driver into `root`.
fn install_workloads(root: &Path) -> Result<(), ImageError> {
    for (name, data, mode) in WORKLOAD_FILES {
        let dest = if *name == "driver" {
            root.join(DRIVER)
        } else {
            root.join(WORKLOADS_DIR).join(name)
        };
        tree::write_file(&dest, data, *mode)?;
    }
    Ok(())
}

/// Downloads `kernel_pkg` into `dir` and returns a cpio archive of the
/// modules that mounting the root disk takes ([`modules::ROOT_MODULES`]
/// and their dependencies, minus the initramfs's virtio ones) under
/// `lib/modules/`, with their load order in [`MODULES_ORDER`].
fn root_modules(
    dir: &Path,
    kernel_pkg: &super::manifest::PackageRecord,
) -> Result<Vec<u8>, ImageError> {
    fs::create_dir_all(dir).ctx("create", dir)?;
    let spec = format!(
        "{}:{}={}",
        kernel_pkg.name,
        super::debian::ARCH,
        kernel_pkg.version
    );
    let mut cmd = std::process::Command::new("apt-get");
    cmd.args(["download", "-q", "-o", "APT::Sandbox::User=root", &spec])
        .current_dir(dir)
        .env("LC_ALL", "C");
    super::tool::run(cmd).map_err(|(command, message)| ImageError::Apt { command, message })?;
    let deb = fs::read_dir(dir)
        .ctx("read", dir)?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .ok_or_else(|| ImageError::Apt {
            command: format!("apt-get download {spec}"),
            message: "no .deb file was downloaded".into(),
        })?;
    let unpacked = dir.join("tree");
    tree::unpack(&deb, &unpacked)?;
    let index = modules::index_modules(&unpacked);
    let skip: Vec<&str> = VIRTIO_MODULES.iter().map(|(n, _)| *n).collect();
    let order = modules::load_order(&index, modules::ROOT_MODULES, &skip, &kernel_pkg.name)?;
    let mut entries = vec![
        cpio::Entry::dir("lib", 0o755),
        cpio::Entry::dir("lib/modules", 0o755),
    ];
    let mut list = String::new();
    for (name, data) in order {
        list.push_str(&name);
        list.push('\n');
        entries.push(cpio::Entry::file(
            &format!("lib/modules/{name}.ko"),
            0o644,
            data,
        ));
    }
    entries.push(cpio::Entry::file(MODULES_ORDER, 0o644, list.into_bytes()));
    cpio::archive(&entries).map_err(|e| ImageError::io("build", dir, std::io::Error::other(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_kernel_and_content() {
        let a = entry_name("debian-6.1.0-50");
        assert!(a.starts_with("bookworm-debian-6.1.0-50-"), "{a}");
        assert_eq!(a, entry_name("debian-6.1.0-50"));
        assert_ne!(a, entry_name("debian-6.1.0-51"));
        assert!(super::super::cache::valid_entry_name(&a));
    }

    #[test]
    fn workloads_are_embedded_with_their_driver() {
        let names: Vec<&str> = WORKLOAD_FILES.iter().map(|(n, _, _)| *n).collect();
        assert!(names.contains(&"driver"), "{names:?}");
        let driver = WORKLOAD_FILES
            .iter()
            .find(|(n, _, _)| *n == "driver")
            .unwrap();
        assert_eq!(driver.2, 0o755);
        assert_eq!(workloads_digest().len(), 64);
    }
}
