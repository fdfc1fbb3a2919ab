//! The on-disk image cache: where it is, what an entry looks like, and installing
//! entries atomically.
//!
//! ```text
//! <cache_dir()>/images/
//!     .lock                 flock(2)ed while fetching
//!     DEFAULT               name of the default entry, e.g. "debian-6.1.0-50\n"
//!     debian-6.1.0-50/      one entry: complete or absent, never partial
//!         vmlinuz
//!         initrd.gz
//!         MANIFEST          written last; see manifest.rs
//!     .tmp-<pid>-<n>/       staging area of a fetch in progress (or interrupted)
//! ```
//!
//! An entry is built in a staging directory on the same file system and renamed
//! into place, so an interrupted fetch leaves at most a `.tmp-*` directory, which
//! lookups ignore and the next fetch deletes.
//!
//! Lookups also ignore entries whose initramfs has another layout version than
//! [`INITRAMFS_VERSION`] (e.g. built before the initramfs had kernel modules), so
//! the next fetch rebuilds them.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::error::{ImageError, IoContext};
use super::initramfs::INITRAMFS_VERSION;
use super::manifest::{FileRecord, Manifest, PackageRecord};
use super::sha256;
use super::GuestImages;

/// Kernel file name inside an entry.
pub const KERNEL_FILE: &str = "vmlinuz";
/// Initramfs file name inside an entry.
pub const INITRD_FILE: &str = "initrd.gz";
/// Manifest file name inside an entry.
pub const MANIFEST_FILE: &str = "MANIFEST";
const DEFAULT_FILE: &str = "DEFAULT";
const LOCK_FILE: &str = ".lock";
const STAGING_PREFIX: &str = ".tmp-";
const OLD_PREFIX: &str = ".old-";

/// Picks the cache directory from the values of `DISCO_CACHE`, `XDG_CACHE_HOME`
/// and `HOME`: `$DISCO_CACHE`, else `$XDG_CACHE_HOME/disco` (if absolute, as the
/// XDG spec requires), else `$HOME/.cache/disco`. Empty values count as unset.
pub fn resolve_cache_dir(
    disco_cache: Option<OsString>,
    xdg_cache_home: Option<OsString>,
    home: Option<OsString>,
) -> Result<PathBuf, ImageError> {
    let set = |v: Option<OsString>| v.filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = set(disco_cache) {
        return Ok(dir);
    }
    if let Some(xdg) = set(xdg_cache_home).filter(|p| p.is_absolute()) {
        return Ok(xdg.join("disco"));
    }
    set(home)
        .map(|h| h.join(".cache").join("disco"))
        .ok_or(ImageError::NoCacheDir)
}

/// The `images/` directory of a cache.
#[derive(Debug, Clone)]
pub struct ImagesDir {
    root: PathBuf,
}

impl ImagesDir {
    /// The `images/` directory under cache directory `cache`.
    pub fn new(cache: &Path) -> ImagesDir {
        ImagesDir {
            root: cache.join("images"),
        }
    }

    /// The directory itself.
    #[cfg(test)]
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Directory of entry `name`.
    pub fn entry(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// The lock file.
    pub fn lock_file(&self) -> PathBuf {
        self.root.join(LOCK_FILE)
    }

    /// Creates the directory (and parents) if missing.
    pub fn create(&self) -> Result<(), ImageError> {
        fs::create_dir_all(&self.root).ctx("create", &self.root)
    }

    /// The default entry, if `DEFAULT` names a complete one.
    pub fn lookup_default(&self) -> Option<GuestImages> {
        let name = fs::read_to_string(self.root.join(DEFAULT_FILE)).ok()?;
        self.lookup(name.trim())
    }

    /// Entry `name` if it is complete (manifest readable, files of the recorded
    /// size) and its initramfs has the current layout ([`INITRAMFS_VERSION`]).
    pub fn lookup(&self, name: &str) -> Option<GuestImages> {
        if !valid_entry_name(name) {
            return None;
        }
        let dir = self.entry(name);
        let manifest = read_manifest(&dir).ok()?;
        if manifest.name != name || manifest.initramfs != INITRAMFS_VERSION {
            return None;
        }
        for file in [KERNEL_FILE, INITRD_FILE] {
            let record = manifest.file(file)?;
            let meta = fs::metadata(dir.join(file)).ok()?;
            if !meta.is_file() || meta.len() != record.size {
                return None;
            }
        }
        Some(GuestImages {
            kernel: dir.join(KERNEL_FILE),
            initrd: dir.join(INITRD_FILE),
            description: manifest.description,
        })
    }

    /// Makes `name` the default entry (atomically replacing `DEFAULT`).
    pub fn set_default(&self, name: &str) -> Result<(), ImageError> {
        let tmp = self.root.join(format!("{STAGING_PREFIX}{}", unique()));
        write_synced(&tmp, format!("{name}\n").as_bytes())?;
        let target = self.root.join(DEFAULT_FILE);
        if let Err(e) = fs::rename(&tmp, &target) {
            let _ = fs::remove_file(&tmp);
            return Err(ImageError::io("write", target, e));
        }
        sync_dir(&self.root)
    }

    /// Deletes leftovers of interrupted fetches. Call only while holding the lock.
    pub fn remove_stale(&self) {
        let Ok(dir) = fs::read_dir(&self.root) else {
            return;
        };
        for entry in dir.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(STAGING_PREFIX) || name.starts_with(OLD_PREFIX) {
                let path = entry.path();
                let _ = fs::remove_dir_all(&path).or_else(|_| fs::remove_file(&path));
            }
        }
    }

    /// Builds entry `name` atomically: `fill` gets an empty staging directory for
    /// the entry's files and a scratch directory (same file system, deleted
    /// afterwards). On success the staged entry replaces any existing entry `name`;
    /// on failure nothing changes. Call only while holding the lock.
    pub fn install(
        &self,
        name: &str,
        fill: impl FnOnce(&Path, &Path) -> Result<(), ImageError>,
    ) -> Result<PathBuf, ImageError> {
        if !valid_entry_name(name) {
            return Err(ImageError::io(
                "create",
                self.entry(name),
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "invalid entry name"),
            ));
        }
        self.create()?;
        let staging = Staging::create(self.root.join(format!("{STAGING_PREFIX}{}", unique())))?;
        let staged_entry = staging.0.join("entry");
        let scratch = staging.0.join("work");
        for d in [&staged_entry, &scratch] {
            fs::create_dir(d).ctx("create", d)?;
        }
        fill(&staged_entry, &scratch)?;
        sync_dir(&staged_entry)?;

        let target = self.entry(name);
        let old = self.root.join(format!("{OLD_PREFIX}{}", unique()));
        let had_old = match fs::rename(&target, &old) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(ImageError::io("replace", &target, e)),
        };
        if let Err(e) = fs::rename(&staged_entry, &target) {
            if had_old {
                let _ = fs::rename(&old, &target);
            }
            return Err(ImageError::io("create", target, e));
        }
        sync_dir(&self.root)?;
        if had_old {
            let _ = fs::remove_dir_all(&old);
        }
        Ok(target)
    }
}

/// Removes a staging directory when dropped (success or failure).
struct Staging(PathBuf);

impl Staging {
    fn create(path: PathBuf) -> Result<Staging, ImageError> {
        fs::create_dir(&path).ctx("create", &path)?;
        Ok(Staging(path))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A name for a fresh temporary file or directory.
fn unique() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Whether `name` is usable as an entry directory name.
pub fn valid_entry_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b))
        && name != DEFAULT_FILE
}

fn write_synced(path: &Path, data: &[u8]) -> Result<(), ImageError> {
    let mut f = File::create(path).ctx("create", path)?;
    f.write_all(data).ctx("write", path)?;
    f.sync_all().ctx("write", path)
}

fn sync_dir(dir: &Path) -> Result<(), ImageError> {
    File::open(dir).and_then(|d| d.sync_all()).ctx("sync", dir)
}

fn read_manifest(dir: &Path) -> Result<Manifest, ImageError> {
    let path = dir.join(MANIFEST_FILE);
    let text = fs::read_to_string(&path).ctx("read", &path)?;
    Manifest::parse(&text).map_err(|e| ImageError::io("parse", path, std::io::Error::other(e)))
}

/// Fills staged entry directory `dir`: moves `kernel` in as `vmlinuz` (it must be
/// on the same file system, e.g. in the scratch directory), writes `initrd` (an
/// initramfs of the current layout, [`INITRAMFS_VERSION`]), and writes the
/// manifest last.
pub fn write_entry(
    dir: &Path,
    name: &str,
    description: &str,
    packages: &[PackageRecord],
    kernel: &Path,
    initrd: &[u8],
) -> Result<Manifest, ImageError> {
    let kernel_dst = dir.join(KERNEL_FILE);
    fs::rename(kernel, &kernel_dst).ctx("move", kernel)?;
    File::open(&kernel_dst)
        .and_then(|f| f.sync_all())
        .ctx("write", &kernel_dst)?;
    write_synced(&dir.join(INITRD_FILE), initrd)?;
    let mut files = Vec::new();
    for file in [KERNEL_FILE, INITRD_FILE] {
        let path = dir.join(file);
        let (sha256, size) = sha256::hex_digest_file(&path).ctx("read", &path)?;
        files.push(FileRecord {
            name: file.to_string(),
            size,
            sha256,
        });
    }
    let manifest = Manifest {
        name: name.to_string(),
        description: description.to_string(),
        initramfs: INITRAMFS_VERSION,
        packages: packages.to_vec(),
        files,
    };
    write_synced(&dir.join(MANIFEST_FILE), manifest.to_text().as_bytes())?;
    Ok(manifest)
}

/// Re-hashes the files of the entry in `dir` against its manifest.
pub fn verify_entry(dir: &Path) -> Result<Manifest, ImageError> {
    let manifest = read_manifest(dir)?;
    for file in [KERNEL_FILE, INITRD_FILE] {
        let path = dir.join(file);
        let damaged = |why: &str| {
            ImageError::io(
                "use",
                &path,
                std::io::Error::other(format!("{why}; delete {} to fetch it again", dir.display())),
            )
        };
        let record = manifest
            .file(file)
            .ok_or_else(|| damaged("not in MANIFEST"))?;
        let (hash, size) = sha256::hex_digest_file(&path).ctx("read", &path)?;
        if size != record.size || hash != record.sha256 {
            return Err(damaged("contents differ from MANIFEST"));
        }
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> Option<OsString> {
        Some(OsString::from(s))
    }

    #[test]
    fn cache_dir_resolution() {
        let r = resolve_cache_dir;
        assert_eq!(
            r(os("/c"), os("/x"), os("/h")).unwrap(),
            PathBuf::from("/c")
        );
        assert_eq!(
            r(None, os("/x"), os("/h")).unwrap(),
            PathBuf::from("/x/disco")
        );
        assert_eq!(
            r(os(""), os(""), os("/h")).unwrap(),
            PathBuf::from("/h/.cache/disco")
        );
        assert_eq!(
            r(None, os("relative"), os("/h")).unwrap(),
            PathBuf::from("/h/.cache/disco"),
            "relative XDG_CACHE_HOME is ignored"
        );
        assert_eq!(r(os("rel"), None, None).unwrap(), PathBuf::from("rel"));
        assert!(matches!(r(None, None, None), Err(ImageError::NoCacheDir)));
        assert!(matches!(
            r(None, os("x"), os("")),
            Err(ImageError::NoCacheDir)
        ));
    }

    #[test]
    fn entry_names() {
        assert!(valid_entry_name("debian-6.1.0-50"));
        assert!(valid_entry_name("debian-6.1.0-50+b1_x"));
        for bad in ["", ".tmp-1", "a/b", "..", "DEFAULT", "a b", "é"] {
            assert!(!valid_entry_name(bad), "{bad:?}");
        }
    }

    fn fill_ok(entry: &Path, work: &Path) -> Result<(), ImageError> {
        let kernel = work.join("k");
        fs::write(&kernel, b"kernel").unwrap();
        let pkgs = [PackageRecord {
            name: "p".into(),
            version: "1".into(),
        }];
        write_entry(entry, "e-1", "desc", &pkgs, &kernel, b"initrd")?;
        Ok(())
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn install_lookup_verify() {
        let cache = tempfile::tempdir().unwrap();
        let images = ImagesDir::new(cache.path());
        assert!(images.lookup("e-1").is_none());
        let dir = images.install("e-1", fill_ok).unwrap();
        assert_eq!(listing(&dir), ["MANIFEST", "initrd.gz", "vmlinuz"]);
        assert_eq!(listing(images.path()), ["e-1"], "staging removed");
        let found = images.lookup("e-1").unwrap();
        assert_eq!(found.kernel, dir.join("vmlinuz"));
        assert_eq!(found.initrd, dir.join("initrd.gz"));
        assert_eq!(found.description, "desc");
        let m = verify_entry(&dir).unwrap();
        assert_eq!(
            m.file("vmlinuz").unwrap().sha256,
            sha256::hex_digest(b"kernel")
        );

        assert!(images.lookup_default().is_none());
        images.set_default("e-1").unwrap();
        assert_eq!(images.lookup_default().unwrap(), found);

        // Damage: a truncated file makes the entry invalid; changed bytes of the
        // same length are caught by verify_entry.
        fs::write(dir.join("initrd.gz"), b"init").unwrap();
        assert!(images.lookup("e-1").is_none());
        fs::write(dir.join("initrd.gz"), b"INITRD").unwrap();
        assert!(images.lookup("e-1").is_some());
        assert!(verify_entry(&dir).is_err());
        fs::remove_file(dir.join("MANIFEST")).unwrap();
        assert!(images.lookup("e-1").is_none());
    }

    #[test]
    fn entries_of_another_initramfs_layout_are_ignored() {
        let cache = tempfile::tempdir().unwrap();
        let images = ImagesDir::new(cache.path());
        let dir = images.install("e-1", fill_ok).unwrap();
        images.set_default("e-1").unwrap();
        let manifest = dir.join(MANIFEST_FILE);
        let text = fs::read_to_string(&manifest).unwrap();
        let current = format!("\ninitramfs {INITRAMFS_VERSION}\n");
        assert!(text.contains(&current), "{text}");
        assert!(images.lookup_default().is_some());
        // Written by an older disco: no record (version 1).
        fs::write(&manifest, text.replace(&current, "\n")).unwrap();
        assert!(images.lookup("e-1").is_none());
        assert!(images.lookup_default().is_none());
        verify_entry(&dir).unwrap();
        // A newer layout is not used either.
        let newer = format!("\ninitramfs {}\n", INITRAMFS_VERSION + 1);
        fs::write(&manifest, text.replace(&current, &newer)).unwrap();
        assert!(images.lookup("e-1").is_none());
    }

    #[test]
    fn failed_install_leaves_nothing() {
        let cache = tempfile::tempdir().unwrap();
        let images = ImagesDir::new(cache.path());
        let err = images
            .install("e-1", |entry, work| {
                // Half-way: some files written, then the "download" fails.
                fs::write(entry.join("vmlinuz"), b"partial").unwrap();
                fs::write(work.join("x.deb"), b"partial").unwrap();
                Err(ImageError::Apt {
                    command: "apt-get download".into(),
                    message: "E: network down".into(),
                })
            })
            .unwrap_err();
        assert!(matches!(err, ImageError::Apt { .. }));
        assert!(listing(images.path()).is_empty());
        assert!(images.lookup("e-1").is_none());
    }

    #[test]
    fn interrupted_install_is_ignored_then_cleaned() {
        let cache = tempfile::tempdir().unwrap();
        let images = ImagesDir::new(cache.path());
        // What a killed process leaves: a staging directory with a complete-looking
        // entry inside it.
        let stale = images.path().join(".tmp-1-2-3");
        fs::create_dir_all(stale.join("entry")).unwrap();
        fill_ok(&stale.join("entry"), &stale).unwrap();
        fs::write(images.path().join("DEFAULT"), "e-1\n").unwrap();
        assert!(images.lookup_default().is_none());
        images.remove_stale();
        assert_eq!(listing(images.path()), ["DEFAULT"]);
    }

    #[test]
    fn reinstall_replaces_entry() {
        let cache = tempfile::tempdir().unwrap();
        let images = ImagesDir::new(cache.path());
        let dir = images.install("e-1", fill_ok).unwrap();
        fs::write(dir.join("stray"), b"x").unwrap();
        let err = images.install("e-1", |_, _| Err(ImageError::NoCacheDir));
        assert!(err.is_err());
        assert!(
            dir.join("stray").exists(),
            "failed reinstall keeps the old entry"
        );
        images.install("e-1", fill_ok).unwrap();
        assert!(!dir.join("stray").exists());
        assert!(images.lookup("e-1").is_some());
        assert_eq!(listing(images.path()), ["e-1"]);
    }
}
