//! Guest images: a stock Debian mips64el kernel and an initramfs around Debian's
//! static busybox (plus the kernel's virtio modules), fetched once and kept in a
//! cache outside the repository.
//!
//! * [`ensure_default_images`] returns the cached images, fetching them first if
//!   needed; [`fetch_default_images`] always fetches.
//! * [`build_initramfs`] builds the same initramfs around any busybox binary.
//!
//! # Guest protocol (what the board provides)
//!
//! The initramfs's `/init` reads three optional NUL-terminated string properties
//! of the device tree's `/chosen` node:
//!
//! * `disco,exec`: a shell command. If present, `/init` prints exactly one line
//!   [`EXEC_BEGIN_MARKER`] on the console (with `stty -onlcr`, so lines end in a
//!   plain `\n`), runs `sh -c "$cmd"` (stdin is the console), prints nothing else,
//!   and writes the command's exit status (0–255) as a 32-bit value to the exit
//!   register.
//! * `disco,exit-address`: the physical address of the EXIT register of the
//!   `disco,power` syscon (offset 0), as text such as `0x1fe00000`.
//! * `disco,command-from-console` (used to save checkpoints): `/init` turns
//!   the console's echo off, prints [`READY_MARKER`] and reads one line: the
//!   command, base64-encoded, which it then runs as for `disco,exec`; an
//!   empty line starts the interactive shell.
//!
//! Without a command (or if writing the exit register did not end the
//! simulation) `/init` prints [`GUEST_UP_MARKER`] and starts a root shell with job
//! control on the console, prompt `/ # `.
//!
//! Before all that, if the device tree has a node named `virtio@<address>` (a
//! `virtio,mmio` device), `/init` loads the [`VIRTIO_MODULES`] from
//! `/lib/modules/<name>.ko` in that order (Debian's kernel has virtio, its block
//! and network drivers only as modules), with kernel messages off. A module that
//! fails to load costs one line on stderr; the boot goes on. Without such a node
//! no module is loaded.
//!
//! # Cache
//!
//! See [`cache_dir`] for where, and the `cache` module for the layout: entries
//! `images/<name>/{vmlinuz,initrd.gz,MANIFEST}` are built in a staging directory and
//! renamed into place, so they are complete or absent; a `flock` on
//! `images/.lock` serialises fetches between processes.

use std::path::{Path, PathBuf};

mod cache;
pub mod cpio;
mod debian;
mod error;
mod initramfs;
mod lock;
pub mod manifest;
mod progress;
pub mod rootfs;
mod sha256;
mod tool;

pub use cache::{verify_entry, INITRD_FILE, KERNEL_FILE, MANIFEST_FILE};
pub use error::ImageError;
pub use initramfs::{
    build_initramfs, initramfs_entries, module_files, COMMAND_FROM_CONSOLE_PROPERTY,
    EXEC_BEGIN_MARKER, EXEC_PROPERTY, EXIT_ADDRESS_PROPERTY, GUEST_UP_MARKER, INITRAMFS_VERSION,
    INIT_SCRIPT, MODULES_DIR, READY_MARKER, VIRTIO_MODULES,
};

use cache::ImagesDir;
use manifest::PackageRecord;

/// A guest kernel and initramfs ready to boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestImages {
    /// The kernel: a little-endian MIPS ELF64 `vmlinuz`.
    pub kernel: PathBuf,
    /// The gzip-compressed newc cpio initramfs.
    pub initrd: PathBuf,
    /// One line saying what these images are (packages and versions).
    pub description: String,
}

/// The cache directory: `$DISCO_CACHE` if set, else `$XDG_CACHE_HOME/disco`, else
/// `$HOME/.cache/disco`. It is not created here.
pub fn cache_dir() -> Result<PathBuf, ImageError> {
    cache::resolve_cache_dir(
        std::env::var_os("DISCO_CACHE"),
        std::env::var_os("XDG_CACHE_HOME"),
        std::env::var_os("HOME"),
    )
}

/// Returns the default Debian images, fetching and building them if missing.
///
/// Once cached, this neither runs apt nor needs the network. Concurrent callers
/// (threads or processes) wait for a single fetch and share its result.
/// `progress` receives one short line per step, such as `downloading
/// linux-image-6.1.0-50-mips64r2el 6.1.176-1 (43.8 MB)`, without a trailing
/// newline or a `disco:` prefix; [`stderr_progress`] prints them.
pub fn ensure_default_images(progress: &mut dyn FnMut(&str)) -> Result<GuestImages, ImageError> {
    provide(&cache_dir()?, &mut debian::Debian::new(), progress, false)
}

/// Re-fetches the default Debian images even when cached (resolving the current
/// kernel package again) and replaces the cached entry. See
/// [`ensure_default_images`].
pub fn fetch_default_images(progress: &mut dyn FnMut(&str)) -> Result<GuestImages, ImageError> {
    provide(&cache_dir()?, &mut debian::Debian::new(), progress, true)
}

/// Makes `initrd` (a cached default initramfs, possibly built by an older
/// disco) run this disco's `/init`, by appending it as one more archive.
///
/// The cache only hands out initramfs of the current layout
/// ([`INITRAMFS_VERSION`]), so the kernel modules this `/init` loads are there.
pub fn refresh_init(initrd: &mut Vec<u8>) -> Result<(), cpio::CpioError> {
    let init = cpio::Entry::file("init", 0o755, INIT_SCRIPT.as_bytes().to_vec());
    cpio::append_archive(initrd, &[init])
}

/// A progress callback for [`ensure_default_images`]: prints `disco: <message>`
/// on stderr (ignoring a closed stderr).
pub fn stderr_progress(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "disco: {message}");
}

/// What a [`Source`] resolved: the cache entry to build and its packages.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    /// Cache entry name, e.g. `debian-6.1.0-50`.
    pub name: String,
    /// One-line description for [`GuestImages::description`].
    pub description: String,
    /// Packages (name and version) that go into the entry.
    pub packages: Vec<PackageRecord>,
}

/// The raw material of an entry.
#[derive(Debug)]
pub(crate) struct Downloaded {
    /// The kernel, in the scratch directory.
    pub kernel: PathBuf,
    /// The static busybox binary.
    pub busybox: Vec<u8>,
    /// The kernel modules for the initramfs: name (`virtio`) and contents of
    /// the `.ko` file, in load order (see [`VIRTIO_MODULES`]).
    pub modules: Vec<(String, Vec<u8>)>,
}

/// Where images come from (Debian's archive; a fake in tests).
pub(crate) trait Source {
    /// Decides what to fetch (cheap: no downloads).
    fn resolve(&mut self, progress: &mut dyn FnMut(&str)) -> Result<Resolved, ImageError>;
    /// Downloads `resolved` into `scratch`.
    fn download(
        &mut self,
        resolved: &Resolved,
        scratch: &Path,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Downloaded, ImageError>;
}

/// The default images in cache directory `cache`, from `source` when missing or
/// when `force` is set.
pub(crate) fn provide(
    cache: &Path,
    source: &mut dyn Source,
    progress: &mut dyn FnMut(&str),
    force: bool,
) -> Result<GuestImages, ImageError> {
    let images = ImagesDir::new(cache);
    if !force {
        if let Some(found) = images.lookup_default() {
            return Ok(found);
        }
    }
    images.create()?;
    let lock_path = images.lock_file();
    let _lock = lock::FileLock::acquire(&lock_path, &mut || {
        progress("waiting for another disco process that is fetching the guest images")
    })
    .map_err(|e| ImageError::io("lock", &lock_path, e))?;
    if !force {
        // Somebody else may have fetched while we waited.
        if let Some(found) = images.lookup_default() {
            return Ok(found);
        }
    }
    images.remove_stale();
    let resolved = source.resolve(progress)?;
    if !force {
        if let Some(found) = images.lookup(&resolved.name) {
            images.set_default(&resolved.name)?;
            return Ok(found);
        }
    }
    let dir = images.install(&resolved.name, |entry, scratch| {
        let downloaded = source.download(&resolved, scratch, progress)?;
        progress("building the initramfs");
        let initrd = build_initramfs(&downloaded.busybox, &module_files(&downloaded.modules));
        cache::write_entry(
            entry,
            &resolved.name,
            &resolved.description,
            &resolved.packages,
            &downloaded.kernel,
            &initrd,
        )?;
        Ok(())
    })?;
    images.set_default(&resolved.name)?;
    progress(&format!("guest images ready in {}", dir.display()));
    images.lookup(&resolved.name).ok_or_else(|| {
        ImageError::io(
            "use",
            &dir,
            std::io::Error::other("the entry vanished right after it was installed"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    /// A source that counts downloads and can be told to fail.
    #[derive(Clone, Default)]
    struct Fake {
        downloads: Arc<AtomicUsize>,
        fail: bool,
        version: &'static str,
        delay_ms: u64,
    }

    impl Source for Fake {
        fn resolve(&mut self, _: &mut dyn FnMut(&str)) -> Result<Resolved, ImageError> {
            Ok(Resolved {
                name: "fake-1".into(),
                description: format!("fake {}", self.version),
                packages: vec![PackageRecord {
                    name: "fake".into(),
                    version: self.version.into(),
                }],
            })
        }

        fn download(
            &mut self,
            _: &Resolved,
            scratch: &Path,
            progress: &mut dyn FnMut(&str),
        ) -> Result<Downloaded, ImageError> {
            progress("downloading fake");
            self.downloads.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(self.delay_ms));
            let kernel = scratch.join("k");
            std::fs::write(&kernel, b"\x7fELF kernel").unwrap();
            if self.fail {
                return Err(ImageError::Apt {
                    command: "apt-get download fake".into(),
                    message: "E: Temporary failure resolving 'deb.debian.org'".into(),
                });
            }
            Ok(Downloaded {
                kernel,
                busybox: b"busybox".to_vec(),
                modules: VIRTIO_MODULES
                    .iter()
                    .map(|&(name, _)| (name.to_string(), format!("{name} module").into_bytes()))
                    .collect(),
            })
        }
    }

    fn fake(version: &'static str) -> Fake {
        Fake {
            version,
            ..Fake::default()
        }
    }

    #[test]
    fn fetches_once_then_uses_cache() {
        let cache = tempfile::tempdir().unwrap();
        let mut src = fake("1");
        let mut log = Vec::new();
        let first = provide(
            cache.path(),
            &mut src,
            &mut |m| log.push(m.to_string()),
            false,
        )
        .unwrap();
        assert_eq!(first.description, "fake 1");
        assert!(first.kernel.starts_with(cache.path().join("images/fake-1")));
        assert_eq!(std::fs::read(&first.kernel).unwrap(), b"\x7fELF kernel");
        let initrd = std::fs::read(&first.initrd).unwrap();
        assert_eq!(&initrd[..2], &[0x1f, 0x8b], "gzip");
        assert!(log.iter().any(|m| m == "building the initramfs"), "{log:?}");
        verify_entry(first.kernel.parent().unwrap()).unwrap();

        let again = provide(cache.path(), &mut src, &mut |_| {}, false).unwrap();
        assert_eq!(again, first);
        assert_eq!(src.downloads.load(Ordering::SeqCst), 1);

        // Forced: fetched again and replaced in place.
        let mut newer = fake("2");
        let forced = provide(cache.path(), &mut newer, &mut |_| {}, true).unwrap();
        assert_eq!(forced.description, "fake 2");
        assert_eq!(forced.kernel, first.kernel);
        assert_eq!(newer.downloads.load(Ordering::SeqCst), 1);
    }

    /// The members of the gzip-compressed cpio archive at `path`.
    fn initrd_entries(path: &Path) -> Vec<cpio::Entry> {
        use std::io::Read;
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(&std::fs::read(path).unwrap()[..])
            .read_to_end(&mut raw)
            .unwrap();
        cpio::parse(&raw).unwrap()
    }

    #[test]
    fn initramfs_has_the_modules() {
        let cache = tempfile::tempdir().unwrap();
        let images = provide(cache.path(), &mut fake("1"), &mut |_| {}, false).unwrap();
        let entries = initrd_entries(&images.initrd);
        let modules: Vec<(String, u32, Vec<u8>)> = entries
            .iter()
            .filter(|e| e.name.starts_with("lib/modules/"))
            .map(|e| (e.name.clone(), e.mode, e.data.clone()))
            .collect();
        let expected: Vec<(String, u32, Vec<u8>)> = VIRTIO_MODULES
            .iter()
            .map(|&(name, _)| {
                (
                    format!("lib/modules/{name}.ko"),
                    cpio::S_IFREG | 0o644,
                    format!("{name} module").into_bytes(),
                )
            })
            .collect();
        assert_eq!(modules, expected);
        // Their directories come first.
        let pos = |name: &str| entries.iter().position(|e| e.name == name).unwrap();
        assert!(pos("lib") < pos("lib/modules"));
        assert!(pos("lib/modules") < pos("lib/modules/virtio.ko"));
    }

    #[test]
    fn entries_of_an_older_initramfs_layout_are_rebuilt() {
        let cache = tempfile::tempdir().unwrap();
        let mut src = fake("1");
        let first = provide(cache.path(), &mut src, &mut |_| {}, false).unwrap();
        // As written by a disco whose initramfs had no modules.
        let manifest = first.kernel.parent().unwrap().join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&manifest).unwrap();
        let record = format!("initramfs {INITRAMFS_VERSION}\n");
        std::fs::write(&manifest, text.replace(&record, "")).unwrap();
        let second = provide(cache.path(), &mut src, &mut |_| {}, false).unwrap();
        assert_eq!(src.downloads.load(Ordering::SeqCst), 2);
        assert_eq!(second, first);
        let text = std::fs::read_to_string(&manifest).unwrap();
        assert!(text.contains(&record), "{text}");
        // Current now: no further download.
        provide(cache.path(), &mut src, &mut |_| {}, false).unwrap();
        assert_eq!(src.downloads.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn failed_fetch_leaves_no_entry() {
        let cache = tempfile::tempdir().unwrap();
        let mut src = Fake {
            fail: true,
            ..fake("1")
        };
        let err = provide(cache.path(), &mut src, &mut |_| {}, false).unwrap_err();
        assert!(
            err.to_string().contains("Temporary failure resolving"),
            "{err}"
        );
        let left: Vec<_> = std::fs::read_dir(cache.path().join("images"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(left, [".lock"]);
        // A later successful fetch works normally.
        let ok = provide(cache.path(), &mut fake("1"), &mut |_| {}, false).unwrap();
        assert!(ok.kernel.is_file());
    }

    #[test]
    fn damaged_entry_is_fetched_again() {
        let cache = tempfile::tempdir().unwrap();
        let mut src = fake("1");
        let first = provide(cache.path(), &mut src, &mut |_| {}, false).unwrap();
        std::fs::write(&first.initrd, b"truncated").unwrap();
        let second = provide(cache.path(), &mut src, &mut |_| {}, false).unwrap();
        assert_eq!(src.downloads.load(Ordering::SeqCst), 2);
        verify_entry(second.kernel.parent().unwrap()).unwrap();
    }

    #[test]
    fn concurrent_callers_share_one_fetch() {
        let cache = tempfile::tempdir().unwrap();
        let src = Fake {
            delay_ms: 300,
            ..fake("1")
        };
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (path, mut src) = (cache.path().to_path_buf(), src.clone());
                std::thread::spawn(move || provide(&path, &mut src, &mut |_| {}, false).unwrap())
            })
            .collect();
        let results: Vec<GuestImages> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert!(results.windows(2).all(|w| w[0] == w[1]));
        assert_eq!(src.downloads.load(Ordering::SeqCst), 1);
    }
}
