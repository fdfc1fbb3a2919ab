//! Getting the guest kernel and busybox from the Debian archive with apt.
//!
//! The kernel is the current `linux-image-mips64r2el` (a meta package; its
//! `Depends` names the versioned package, e.g. `linux-image-6.1.0-50-mips64r2el`),
//! the userland `busybox-static`, both for architecture `mips64el`. From the
//! kernel package we take `boot/vmlinuz-*` and the [`VIRTIO_MODULES`] under
//! `lib/modules/<kernel version>/kernel/` (see [`kernel_modules`]).
//!
//! Compressed modules (`.ko.xz`, `.ko.zst`, `.ko.gz`; Debian's mips64el kernel
//! packages ship plain `.ko` files) are refused with
//! [`ImageError::CompressedModule`] rather than decompressed: disco would need
//! a decompressor for each format, and a kernel package that starts compressing
//! its modules is a change worth noticing.

use std::ffi::OsStr;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::error::{ImageError, IoContext};
use super::initramfs::VIRTIO_MODULES;
use super::manifest::PackageRecord;
use super::tool::command_line;
use super::{Downloaded, Resolved, Source};

/// Debian architecture of the guest.
pub const ARCH: &str = "mips64el";
/// Meta package that depends on the current kernel.
pub const KERNEL_META: &str = "linux-image-mips64r2el";
/// Package with a static busybox.
pub const BUSYBOX: &str = "busybox-static";

const TOOLS: [&str; 4] = ["apt-get", "apt-cache", "dpkg", "dpkg-deb"];

/// Fetches from the Debian archive of the host with apt-get.
#[derive(Debug, Default)]
pub struct Debian {
    updated: bool,
    /// Sizes (bytes) of the resolved packages, for progress messages.
    sizes: Vec<(String, u64)>,
}

/// The fields of one `apt-cache show` stanza that we use.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stanza {
    /// `Package`.
    pub package: String,
    /// `Version`.
    pub version: String,
    /// `Size` of the .deb in bytes.
    pub size: Option<u64>,
    /// `Depends`, unparsed.
    pub depends: String,
}

/// Parses the first stanza of `apt-cache show` output.
pub fn parse_stanza(text: &str) -> Stanza {
    let mut s = Stanza::default();
    for line in text.lines() {
        if line.trim().is_empty() {
            break;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key {
            "Package" => s.package = value.to_string(),
            "Version" => s.version = value.to_string(),
            "Size" => s.size = value.parse().ok(),
            "Depends" => s.depends = value.to_string(),
            _ => {}
        }
    }
    s
}

/// The versioned kernel package among `depends` (a Debian `Depends` value):
/// the first `linux-image-*` alternative, without version or architecture.
pub fn kernel_dependency(depends: &str) -> Option<String> {
    depends
        .split([',', '|'])
        .map(|dep| {
            let name = dep.trim().split([' ', '(']).next().unwrap_or("");
            name.split(':').next().unwrap_or("").to_string()
        })
        .find(|name| name.starts_with("linux-image-") && name != KERNEL_META)
}

/// Cache entry name for kernel package `pkg`: `linux-image-6.1.0-50-mips64r2el`
/// gives `debian-6.1.0-50`.
pub fn entry_name(kernel_package: &str) -> String {
    let abi = kernel_package
        .strip_prefix("linux-image-")
        .unwrap_or(kernel_package);
    let abi = abi.strip_suffix("-mips64r2el").unwrap_or(abi);
    let clean: String = abi
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._+-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("debian-{clean}")
}

/// Whether `header` starts a little-endian ELF64 file for MIPS (EM_MIPS = 8).
pub fn is_mips64el_elf(header: &[u8]) -> bool {
    header.len() >= 20
        && header[..4] == *b"\x7fELF"
        && header[4] == 2
        && header[5] == 1
        && u16::from_le_bytes([header[18], header[19]]) == 8
}

/// "43.8 MB" / "906 kB".
pub fn human_size(bytes: u64) -> String {
    if bytes >= 1_000_000 {
        format!("{:.1} MB", bytes as f64 / 1e6)
    } else {
        format!("{} kB", bytes.div_ceil(1000))
    }
}

/// The line of apt's output that explains a failure: the last `E:` line, else
/// the last non-empty line.
pub fn last_error_line(stderr: &str, stdout: &str) -> Option<String> {
    let lines = || stdout.lines().chain(stderr.lines()).map(str::trim);
    lines()
        .rev()
        .find(|l| l.starts_with("E:"))
        .or_else(|| lines().rev().find(|l| !l.is_empty()))
        .map(|l| l.chars().take(300).collect())
}

fn in_path(tool: &str) -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        fs::metadata(dir.join(tool))
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    })
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions, touches no memory and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// What came of running a command.
struct Ran {
    ok: bool,
    stdout: String,
    stderr: String,
    command: String,
}

impl Ran {
    fn error(&self) -> ImageError {
        ImageError::Apt {
            command: self.command.clone(),
            message: last_error_line(&self.stderr, &self.stdout)
                .unwrap_or_else(|| "no output".to_string()),
        }
    }

    fn check(self) -> Result<String, ImageError> {
        if self.ok {
            Ok(self.stdout)
        } else {
            Err(self.error())
        }
    }
}

fn run(program: &str, args: &[&str], dir: Option<&Path>) -> Result<Ran, ImageError> {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env("LC_ALL", "C")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null());
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    let command = command_line(&cmd);
    let out = cmd.output().map_err(|e| ImageError::Apt {
        command: command.clone(),
        message: e.to_string(),
    })?;
    Ok(Ran {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        command,
    })
}

impl Debian {
    /// A fresh source (runs `apt-get update` at most once).
    pub fn new() -> Debian {
        Debian::default()
    }

    fn update(&mut self, progress: &mut dyn FnMut(&str)) -> Result<(), ImageError> {
        progress("updating package lists (apt-get update)");
        self.updated = true;
        run("apt-get", &["update", "-q"], None)?.check().map(drop)
    }

    fn ensure_arch(&mut self, progress: &mut dyn FnMut(&str)) -> Result<(), ImageError> {
        let native = run("dpkg", &["--print-architecture"], None)?.check()?;
        if native.trim() == ARCH {
            return Ok(());
        }
        let foreign = run("dpkg", &["--print-foreign-architectures"], None)?.check()?;
        if foreign.lines().any(|a| a.trim() == ARCH) {
            return Ok(());
        }
        if !is_root() {
            return Err(ImageError::ArchNotEnabled);
        }
        progress("enabling mips64el packages (dpkg --add-architecture mips64el)");
        run("dpkg", &["--add-architecture", ARCH], None)?.check()?;
        self.update(progress)
    }

    /// `apt-cache show` for `package`, running `apt-get update` once if apt does
    /// not know it.
    fn show(
        &mut self,
        package: &str,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Stanza, ImageError> {
        let spec = format!("{package}:{ARCH}");
        loop {
            let ran = run("apt-cache", &["show", "--no-all-versions", &spec], None)?;
            let stanza = parse_stanza(&ran.stdout);
            if ran.ok && !stanza.version.is_empty() {
                return Ok(stanza);
            }
            let unknown = !ran.ok
                && (ran.stderr.contains("No packages found")
                    || ran.stderr.contains("Unable to locate")
                    || ran.stderr.contains("purely virtual"));
            if !unknown && !ran.ok {
                return Err(ran.error());
            }
            if !self.updated {
                if !is_root() {
                    return Err(ImageError::PackageNotFound {
                        package: package.to_string(),
                        hint: "as root run: apt-get update".to_string(),
                    });
                }
                self.update(progress)?;
                continue;
            }
            return Err(ImageError::PackageNotFound {
                package: package.to_string(),
                hint: "check that /etc/apt/sources.list names a Debian mirror with `main`, \
                       then run apt-get update as root"
                    .to_string(),
            });
        }
    }

    fn size_of(&self, package: &str) -> Option<u64> {
        self.sizes
            .iter()
            .find(|(p, _)| p == package)
            .map(|&(_, s)| s)
    }

    /// Downloads and unpacks `pkg` into `scratch/<name>/`.
    fn fetch_package(
        &self,
        pkg: &PackageRecord,
        scratch: &Path,
        progress: &mut dyn FnMut(&str),
    ) -> Result<PathBuf, ImageError> {
        let size = self
            .size_of(&pkg.name)
            .map(|s| format!(" ({})", human_size(s)))
            .unwrap_or_default();
        progress(&format!("downloading {} {}{size}", pkg.name, pkg.version));
        let debs = scratch.join("debs");
        fs::create_dir_all(&debs).ctx("create", &debs)?;
        // apt drops privileges to `_apt` when root; the cache may be unreachable for
        // that user (e.g. under /root), so download as root.
        let spec = format!("{}:{ARCH}={}", pkg.name, pkg.version);
        super::progress::with_spinner(|| {
            run(
                "apt-get",
                &["download", "-q", "-o", "APT::Sandbox::User=root", &spec],
                Some(&debs),
            )
        })?
        .check()?;
        let prefix = format!("{}_", pkg.name);
        let deb = fs::read_dir(&debs)
            .ctx("read", &debs)?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(OsStr::to_str)
                    .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".deb"))
            })
            .ok_or_else(|| ImageError::Apt {
                command: format!("apt-get download {spec}"),
                message: "no .deb file was downloaded".to_string(),
            })?;
        progress(&format!("extracting {}", pkg.name));
        let tree = scratch.join(&pkg.name);
        let (deb_s, tree_s) = (deb.to_string_lossy(), tree.to_string_lossy());
        run("dpkg-deb", &["-x", &deb_s, &tree_s], None)?.check()?;
        let _ = fs::remove_file(&deb);
        Ok(tree)
    }
}

/// Where kernel packages put modules: `lib/modules`, or `usr/lib/modules` in a
/// package built for a merged /usr.
const MODULE_ROOTS: [&str; 2] = ["lib/modules", "usr/lib/modules"];

/// Extensions of compressed kernel modules (after `.ko`).
const COMPRESSED_MODULE_EXTENSIONS: [&str; 3] = ["xz", "zst", "gz"];

/// Reads the [`VIRTIO_MODULES`] from `tree`, the unpacked kernel package
/// `package` for kernel version `kver` (such as `6.1.0-50-mips64r2el`): from
/// `lib/modules/<kver>/kernel/` (or `usr/lib/...`; if there is no `<kver>`
/// directory, the only directory there). Returns (name, contents) in load order.
///
/// A missing module is [`ImageError::MissingFile`], a compressed one
/// [`ImageError::CompressedModule`], one that is no MIPS64 little-endian ELF
/// file [`ImageError::BadBinary`].
pub fn kernel_modules(
    tree: &Path,
    package: &str,
    kver: &str,
) -> Result<Vec<(String, Vec<u8>)>, ImageError> {
    let (root, kver) = modules_dir(tree, kver).ok_or_else(|| ImageError::MissingFile {
        package: package.to_string(),
        path: format!("{}/{kver}/", MODULE_ROOTS[0]),
    })?;
    let mut modules = Vec::with_capacity(VIRTIO_MODULES.len());
    for (name, rel) in VIRTIO_MODULES {
        let inner = format!("{root}/{kver}/kernel/{rel}");
        let path = tree.join(&inner);
        if !path.is_file() {
            if let Some(ext) = COMPRESSED_MODULE_EXTENSIONS
                .into_iter()
                .find(|ext| tree.join(format!("{inner}.{ext}")).exists())
            {
                return Err(ImageError::CompressedModule {
                    package: package.to_string(),
                    path: format!("{inner}.{ext}"),
                });
            }
            return Err(ImageError::MissingFile {
                package: package.to_string(),
                path: inner,
            });
        }
        check_elf(&path, package, &inner)?;
        modules.push((name.to_string(), fs::read(&path).ctx("read", &path)?));
    }
    Ok(modules)
}

/// The modules directory of `tree` for kernel `kver`: (root, version directory
/// name) such that `tree/root/version` is a directory.
fn modules_dir(tree: &Path, kver: &str) -> Option<(&'static str, String)> {
    let mut found = Vec::new();
    for root in MODULE_ROOTS {
        if tree.join(root).join(kver).is_dir() {
            return Some((root, kver.to_string()));
        }
        let Ok(dir) = fs::read_dir(tree.join(root)) else {
            continue;
        };
        for entry in dir.flatten() {
            if entry.path().is_dir() {
                found.push((root, entry.file_name().to_string_lossy().into_owned()));
            }
        }
    }
    match <[_; 1]>::try_from(found) {
        Ok([only]) => Some(only),
        Err(_) => None,
    }
}

fn check_elf(path: &Path, package: &str, inner: &str) -> Result<(), ImageError> {
    let mut header = [0u8; 20];
    let ok = fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut header))
        .is_ok()
        && is_mips64el_elf(&header);
    if ok {
        Ok(())
    } else {
        Err(ImageError::BadBinary {
            package: package.to_string(),
            path: inner.to_string(),
        })
    }
}

impl Source for Debian {
    fn resolve(&mut self, progress: &mut dyn FnMut(&str)) -> Result<Resolved, ImageError> {
        if let Some(tool) = TOOLS.into_iter().find(|t| !in_path(t)) {
            return Err(ImageError::NotDebian { tool });
        }
        self.ensure_arch(progress)?;
        let meta = self.show(KERNEL_META, progress)?;
        let kernel_pkg =
            kernel_dependency(&meta.depends).ok_or_else(|| ImageError::PackageNotFound {
                package: format!("linux-image-*-mips64r2el (a dependency of {KERNEL_META})"),
                hint: format!("{KERNEL_META} depends on: {}", meta.depends),
            })?;
        let kernel = self.show(&kernel_pkg, progress)?;
        let busybox = self.show(BUSYBOX, progress)?;
        self.sizes = [&kernel, &busybox]
            .iter()
            .filter_map(|s| Some((s.package.clone(), s.size?)))
            .collect();
        Ok(Resolved {
            name: entry_name(&kernel_pkg),
            description: format!(
                "Debian {kernel_pkg} {}, {BUSYBOX} {}",
                kernel.version, busybox.version
            ),
            packages: vec![
                PackageRecord {
                    name: kernel_pkg,
                    version: kernel.version,
                },
                PackageRecord {
                    name: BUSYBOX.to_string(),
                    version: busybox.version,
                },
            ],
        })
    }

    fn download(
        &mut self,
        resolved: &Resolved,
        scratch: &Path,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Downloaded, ImageError> {
        let [kernel_pkg, busybox_pkg] = &resolved.packages[..] else {
            return Err(ImageError::PackageNotFound {
                package: KERNEL_META.to_string(),
                hint: "internal error: expected a kernel and a busybox package".to_string(),
            });
        };

        let tree = self.fetch_package(kernel_pkg, scratch, progress)?;
        let boot = tree.join("boot");
        let abi = kernel_pkg
            .name
            .strip_prefix("linux-image-")
            .unwrap_or(&kernel_pkg.name);
        let mut candidates: Vec<PathBuf> = fs::read_dir(&boot)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        candidates.retain(|p| {
            p.file_name()
                .and_then(OsStr::to_str)
                .is_some_and(|n| n.starts_with("vmlinuz-"))
        });
        candidates.sort();
        let exact = boot.join(format!("vmlinuz-{abi}"));
        let vmlinuz = if candidates.contains(&exact) {
            exact
        } else {
            candidates
                .into_iter()
                .next()
                .ok_or_else(|| ImageError::MissingFile {
                    package: kernel_pkg.name.clone(),
                    path: "boot/vmlinuz-*".to_string(),
                })?
        };
        let inner = format!(
            "boot/{}",
            vmlinuz.file_name().unwrap_or_default().to_string_lossy()
        );
        check_elf(&vmlinuz, &kernel_pkg.name, &inner)?;
        let modules = kernel_modules(&tree, &kernel_pkg.name, abi)?;
        let kernel = scratch.join("vmlinuz");
        fs::rename(&vmlinuz, &kernel).ctx("move", &vmlinuz)?;
        let _ = fs::remove_dir_all(&tree); // ~240 MB of modules

        let tree = self.fetch_package(busybox_pkg, scratch, progress)?;
        let path = tree.join("bin/busybox");
        if !path.is_file() {
            return Err(ImageError::MissingFile {
                package: busybox_pkg.name.clone(),
                path: "bin/busybox".to_string(),
            });
        }
        check_elf(&path, &busybox_pkg.name, "bin/busybox")?;
        let busybox = fs::read(&path).ctx("read", &path)?;
        Ok(Downloaded {
            kernel,
            busybox,
            modules,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stanza_and_dependency() {
        let text = "Package: linux-image-mips64r2el\nSource: linux-signed\nVersion: 6.1.176-1\n\
                    Installed-Size: 12\nDepends: linux-image-6.1.0-50-mips64r2el (= 6.1.176-1)\n\
                    Description: Linux for MIPS\n more text: here\nSize: 1234\n\n\
                    Package: second\nVersion: 9\n";
        let s = parse_stanza(text);
        assert_eq!(s.package, "linux-image-mips64r2el");
        assert_eq!(s.version, "6.1.176-1");
        assert_eq!(s.size, Some(1234));
        assert_eq!(
            kernel_dependency(&s.depends).as_deref(),
            Some("linux-image-6.1.0-50-mips64r2el")
        );
        assert_eq!(
            kernel_dependency("foo, linux-image-6.1.0-9-mips64r2el:mips64el | bar").as_deref(),
            Some("linux-image-6.1.0-9-mips64r2el")
        );
        assert_eq!(kernel_dependency("foo (>= 1), bar"), None);
        assert_eq!(kernel_dependency(""), None);
    }

    #[test]
    fn names_and_sizes() {
        assert_eq!(
            entry_name("linux-image-6.1.0-50-mips64r2el"),
            "debian-6.1.0-50"
        );
        assert_eq!(entry_name("linux-image-6.12/x"), "debian-6.12_x");
        assert_eq!(human_size(43_838_928), "43.8 MB");
        assert_eq!(human_size(905_976), "906 kB");
        assert_eq!(human_size(0), "0 kB");
    }

    #[test]
    fn elf_check() {
        let mut h = [0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 2;
        h[5] = 1;
        h[18] = 8;
        assert!(is_mips64el_elf(&h));
        h[5] = 2; // big-endian
        assert!(!is_mips64el_elf(&h));
        assert!(!is_mips64el_elf(b"\x7fELF"));
    }

    /// A little-endian MIPS ELF64 header followed by `tag`.
    fn elf(tag: &str) -> Vec<u8> {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 2;
        h[5] = 1;
        h[16] = 1; // ET_REL
        h[18] = 8;
        h.extend_from_slice(tag.as_bytes());
        h
    }

    const KVER: &str = "6.1.0-50-mips64r2el";
    const PKG: &str = "linux-image-6.1.0-50-mips64r2el";

    /// An unpacked kernel package with all the modules under `root/<kver>`, and
    /// some others.
    fn package(root: &str, kver: &str) -> tempfile::TempDir {
        let tree = tempfile::tempdir().unwrap();
        let kernel = tree.path().join(root).join(kver).join("kernel");
        for (name, rel) in VIRTIO_MODULES {
            let path = kernel.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, elf(name)).unwrap();
        }
        fs::write(kernel.join("drivers/virtio/virtio_pci.ko"), elf("pci")).unwrap();
        fs::create_dir_all(tree.path().join("boot")).unwrap();
        fs::write(tree.path().join("boot/vmlinuz-x"), elf("kernel")).unwrap();
        tree
    }

    fn names(modules: &[(String, Vec<u8>)]) -> Vec<&str> {
        modules.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn modules_from_a_kernel_package() {
        let order = [
            "virtio",
            "virtio_ring",
            "virtio_mmio",
            "virtio_blk",
            "failover",
            "net_failover",
            "virtio_net",
        ];
        let tree = package("lib/modules", KVER);
        let modules = kernel_modules(tree.path(), PKG, KVER).unwrap();
        assert_eq!(names(&modules), order);
        for (name, data) in &modules {
            assert_eq!(data, &elf(name), "{name}");
        }
        // A merged-/usr package, and a version directory of another name.
        let tree = package("usr/lib/modules", KVER);
        assert_eq!(
            names(&kernel_modules(tree.path(), PKG, KVER).unwrap()),
            order
        );
        let tree = package("lib/modules", "6.1.0-51-mips64r2el");
        assert_eq!(
            names(&kernel_modules(tree.path(), PKG, KVER).unwrap()),
            order
        );
    }

    #[test]
    fn missing_modules_are_errors() {
        // No modules directory at all.
        let empty = tempfile::tempdir().unwrap();
        let err = kernel_modules(empty.path(), PKG, KVER).unwrap_err();
        assert!(
            matches!(&err, ImageError::MissingFile { package, path }
                if package == PKG && path == &format!("lib/modules/{KVER}/")),
            "{err:?}"
        );
        // Two other versions: which one is meant is unclear.
        let tree = package("lib/modules", "a");
        fs::create_dir_all(tree.path().join("lib/modules/b")).unwrap();
        assert!(matches!(
            kernel_modules(tree.path(), PKG, KVER),
            Err(ImageError::MissingFile { .. })
        ));
        // One module missing.
        let tree = package("lib/modules", KVER);
        let gone = format!("lib/modules/{KVER}/kernel/net/core/failover.ko");
        fs::remove_file(tree.path().join(&gone)).unwrap();
        let err = kernel_modules(tree.path(), PKG, KVER).unwrap_err();
        assert!(
            matches!(&err, ImageError::MissingFile { path, .. } if path == &gone),
            "{err:?}"
        );
        assert!(err.to_string().contains(&gone), "{err}");
    }

    #[test]
    fn compressed_and_foreign_modules_are_errors() {
        for ext in ["xz", "zst", "gz"] {
            let tree = package("lib/modules", KVER);
            let plain = format!("lib/modules/{KVER}/kernel/drivers/net/virtio_net.ko");
            let packed = format!("{plain}.{ext}");
            fs::rename(tree.path().join(&plain), tree.path().join(&packed)).unwrap();
            let err = kernel_modules(tree.path(), PKG, KVER).unwrap_err();
            assert!(
                matches!(&err, ImageError::CompressedModule { path, .. } if path == &packed),
                "{err:?}"
            );
            assert!(
                err.to_string().contains("compressed kernel module"),
                "{err}"
            );
        }
        let tree = package("lib/modules", KVER);
        let rel = format!("lib/modules/{KVER}/kernel/drivers/virtio/virtio_mmio.ko");
        fs::write(tree.path().join(&rel), b"not an ELF file at all, no").unwrap();
        let err = kernel_modules(tree.path(), PKG, KVER).unwrap_err();
        assert!(
            matches!(&err, ImageError::BadBinary { path, .. } if path == &rel),
            "{err:?}"
        );
    }

    #[test]
    fn apt_error_lines() {
        let stderr = "W: something\nE: Failed to fetch http://deb.debian.org/x.deb  \
                      Temporary failure resolving 'deb.debian.org'\n";
        assert_eq!(
            last_error_line(stderr, "Err:1 http://x\n").unwrap(),
            "E: Failed to fetch http://deb.debian.org/x.deb  Temporary failure resolving \
             'deb.debian.org'"
        );
        assert_eq!(
            last_error_line("dpkg-deb: error: x is not a debian archive\n\n", "").unwrap(),
            "dpkg-deb: error: x is not a debian archive"
        );
        assert_eq!(last_error_line("", ""), None);
    }
}
