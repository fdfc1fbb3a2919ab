//! Making the ext4 image with e2fsprogs (`mke2fs -d`) and checking it
//! (`e2fsck -n`).
//!
//! Blocks are 4 KiB whatever the size (Debian's `mke2fs.conf` would pick
//! 1 KiB blocks for a small file system): a page-sized block is what lets
//! the monitor later share a cached disk page between VMs by mapping it.
//! Times, UUID and directory hash seed are fixed, so the same tree gives
//! the same file system metadata.

use std::path::Path;
use std::process::Command;

use super::tree::tree_bytes;
use crate::images::error::ImageError;

/// Free space left on the image beyond what the files take.
const HEADROOM: u64 = 256 << 20;
/// Fixed UUID of the file system (also the directory hash seed).
const UUID: &str = "d15c0d15-c0d1-4c0d-9d15-c0d15c0d15c0";
/// 2026-01-01T00:00:00Z, the simulated RTC's epoch.
const FAKE_TIME: &str = "1767225600";

/// The size to give a file system holding the tree at `root`: the files'
/// blocks plus a quarter for metadata, plus [`HEADROOM`], in whole MiB.
pub fn image_size(root: &Path) -> u64 {
    let used = tree_bytes(root);
    (used + used / 4 + HEADROOM).div_ceil(1 << 20) << 20
}

/// Makes an ext4 file system at `image` holding the tree at `root`.
pub fn make(root: &Path, image: &Path) -> Result<(), ImageError> {
    let size_k = image_size(root) >> 10;
    let mut cmd = Command::new("mke2fs");
    cmd.env("E2FSPROGS_FAKE_TIME", FAKE_TIME)
        .env("LC_ALL", "C")
        .args(["-q", "-F", "-t", "ext4", "-b", "4096", "-L", "disco-root"])
        .args(["-U", UUID, "-E"])
        .arg(format!("root_owner=0:0,hash_seed={UUID}"))
        .arg("-d")
        .arg(root)
        .arg(image)
        .arg(format!("{size_k}k"));
    run(cmd, "mke2fs")
}

/// Checks the file system at `image` without changing it.
pub fn check(image: &Path) -> Result<(), ImageError> {
    let mut cmd = Command::new("e2fsck");
    cmd.env("LC_ALL", "C").args(["-f", "-n"]).arg(image);
    run(cmd, "e2fsck")
}

fn run(cmd: Command, tool: &str) -> Result<(), ImageError> {
    crate::images::tool::run(cmd)
        .map(drop)
        .map_err(|(command, message)| ImageError::Tool {
            command,
            message: if message.ends_with("not found") {
                format!("{tool} not found: install e2fsprogs")
            } else {
                message
            },
        })
}
