//! The guest to boot: kernel and initramfs (the user's or the default
//! Debian images), files added to the initramfs, kernel command line.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::addfiles::{append_files, AddedFile};
use crate::images;

/// Kernel command line used for every boot; `--append` adds to it.
pub const DEFAULT_BOOTARGS: &str = "console=ttyS0,115200 earlycon panic=-1";

/// Which images to boot.
#[derive(Clone, Debug, Default)]
pub struct GuestSpec {
    /// Kernel (default: Debian's).
    pub kernel: Option<PathBuf>,
    /// Initramfs (default: the one built around Debian's busybox).
    pub initrd: Option<PathBuf>,
    /// Host files to put into the initramfs.
    pub add: Vec<AddedFile>,
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
/// needed; the default initramfs gets this disco's `/init`) and appends the
/// added files. Returns the kernel's path, the kernel and the initrd.
pub fn guest_images(spec: &GuestSpec) -> Result<(PathBuf, Vec<u8>, Option<Vec<u8>>)> {
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
    if !spec.add.is_empty() {
        let Some(initrd) = initrd.as_mut() else {
            bail!("adding files needs an initrd (give one with the kernel)");
        };
        append_files(initrd, &spec.add)?;
    }
    Ok((kernel_path, kernel, initrd))
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
