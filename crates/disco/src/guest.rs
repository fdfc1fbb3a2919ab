//! The guest to boot: kernel and initramfs (the user's or the default
//! Debian images), files added to the initramfs, kernel command line.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use machine::virtio::DiskConfig;

use crate::addfiles::{append_files, AddedFile};
use crate::images;

/// Kernel command line used for every boot, bare and in VMs; `--append`
/// adds to it. `nokaslr` keeps the kernel where it was decompressed, so
/// that VMs booting the same kernel can share its pages (KASLR would copy
/// it to a random place); `init_on_alloc=0` stops Debian's kernel from
/// zeroing every page it allocates (`CONFIG_INIT_ON_ALLOC_DEFAULT_ON`),
/// which would write over pages the monitor shares. Bare runs get the
/// same arguments, so comparisons stay fair.
pub const DEFAULT_BOOTARGS: &str = "console=ttyS0,115200 earlycon panic=-1 nokaslr init_on_alloc=0";

/// Which images to boot.
#[derive(Clone, Debug, Default)]
pub struct GuestSpec {
    /// Kernel (default: Debian's).
    pub kernel: Option<PathBuf>,
    /// Initramfs (default: the one built around Debian's busybox).
    pub initrd: Option<PathBuf>,
    /// Host files to put into the initramfs.
    pub add: Vec<AddedFile>,
    /// Boot from the Debian root disk (built if missing).
    pub rootfs: bool,
}

/// What to boot: the images read, and the root disk if any.
#[derive(Debug)]
pub struct Guest {
    /// Where the kernel came from.
    pub kernel_path: PathBuf,
    /// The kernel.
    pub kernel: Vec<u8>,
    /// The initramfs, with the root disk's modules and the added files.
    pub initrd: Option<Vec<u8>>,
    /// The root disk, read-only (the guest sees it as `/dev/vda`: it goes
    /// before any other disk). Its base image is never written.
    pub root_disk: Option<DiskConfig>,
}

impl Guest {
    /// The kernel command line: [`bootargs`] with `append`, plus `root=` for
    /// a root disk.
    pub fn bootargs(&self, append: Option<&str>) -> String {
        let mut args = bootargs(append);
        if self.root_disk.is_some() {
            args.push_str(" root=/dev/vda");
        }
        args
    }

    /// The disks: the root disk first, then `others`.
    pub fn disks(&self, others: Vec<DiskConfig>) -> Vec<DiskConfig> {
        self.root_disk.iter().cloned().chain(others).collect()
    }
}

/// The kernel command line: the defaults, then `append`.
pub fn bootargs(append: Option<&str>) -> String {
    let mut bootargs = DEFAULT_BOOTARGS.to_string();
    if let Some(extra) = append {
        bootargs.push(' ');
        bootargs.push_str(extra);
    }
    bootargs
}

/// Reads the kernel and initrd of `spec` (fetching the default images if
/// needed; the default initramfs gets this disco's `/init`), appends the
/// root disk's modules and the added files.
pub fn guest_images(spec: &GuestSpec) -> Result<Guest> {
    let (kernel_path, initrd_path) = resolve_images(spec)?;
    let kernel = read_file(&kernel_path, "kernel")?;
    let mut initrd = initrd_path
        .as_deref()
        .map(|p| read_file(p, "initrd"))
        .transpose()?;
    if spec.kernel.is_none() && spec.initrd.is_none() {
        if let Some(initrd) = initrd.as_mut() {
            // The cached initramfs may predate this disco's /init protocol.
            images::refresh_init(initrd).context("updating the initramfs's /init")?;
        }
    }
    let mut root_disk = None;
    if spec.rootfs {
        if spec.kernel.is_some() || spec.initrd.is_some() {
            bail!("--rootfs boots Debian's kernel with disco's initramfs: drop --kernel/--initrd");
        }
        let disk = images::rootfs::ensure_rootfs(&mut images::stderr_progress)
            .context("cannot provide the Debian root disk")?;
        let modules = read_file(&disk.modules, "root disk modules")?;
        if let Some(initrd) = initrd.as_mut() {
            // Linux unpacks concatenated archives in order.
            initrd.extend_from_slice(&modules);
        }
        // Copy-on-write: the guest writes its root file system freely,
        // the image never changes, and VMs share its pages (§4.2.5).
        root_disk = Some(DiskConfig {
            path: disk.image,
            mode: machine::virtio::DiskMode::CopyOnWrite,
        });
    }
    if !spec.add.is_empty() {
        let Some(initrd) = initrd.as_mut() else {
            bail!("adding files needs an initrd (give one with the kernel)");
        };
        append_files(initrd, &spec.add)?;
    }
    Ok(Guest {
        kernel_path,
        kernel,
        initrd,
        root_disk,
    })
}

fn resolve_images(spec: &GuestSpec) -> Result<(PathBuf, Option<PathBuf>)> {
    if let Some(kernel) = &spec.kernel {
        return Ok((kernel.clone(), spec.initrd.clone()));
    }
    let mut progress = images::stderr_progress;
    let imgs = images::ensure_default_images(&mut progress)?;
    Ok((
        imgs.kernel,
        Some(spec.initrd.clone().unwrap_or(imgs.initrd)),
    ))
}

/// Reads a whole file, refusing an empty one.
pub fn read_file(path: &Path, what: &str) -> Result<Vec<u8>> {
    let data =
        std::fs::read(path).with_context(|| format!("cannot read {what} '{}'", path.display()))?;
    if data.is_empty() {
        bail!("{what} '{}' is empty", path.display());
    }
    Ok(data)
}
