//! Fetches the real default guest images (needs Debian, root or an enabled
//! mips64el architecture, and network on first run) and checks what came out.
//! This test fails, rather than skips, when those are missing.

use std::io::Read;

use disco::images::{self, cpio};

fn is_mips64el_elf(bytes: &[u8]) -> bool {
    bytes.len() >= 20
        && bytes[..4] == *b"\x7fELF"
        && bytes[4] == 2 // ELFCLASS64
        && bytes[5] == 1 // little-endian
        && u16::from_le_bytes([bytes[18], bytes[19]]) == 8 // EM_MIPS
}

#[test]
fn ensure_default_images_provides_bootable_images() {
    let guest = images::ensure_default_images(&mut images::stderr_progress)
        .unwrap_or_else(|e| panic!("fetching the default guest images failed: {e}"));
    eprintln!("{}: {}", guest.description, guest.kernel.display());
    assert!(
        guest.description.contains("linux-image-"),
        "{}",
        guest.description
    );
    assert!(
        guest.description.contains("busybox-static"),
        "{}",
        guest.description
    );

    let kernel = std::fs::read(&guest.kernel).expect("reading the kernel");
    assert!(
        is_mips64el_elf(&kernel),
        "{} is not an ELF64 LE MIPS file",
        guest.kernel.display()
    );

    let gz = std::fs::read(&guest.initrd).expect("reading the initrd");
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut raw)
        .expect("the initrd is gzip-compressed");
    let entries = cpio::parse(&raw).expect("the initrd is a newc cpio archive");
    let find = |name: &str| {
        entries
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("the initrd has no {name}"))
    };
    let init = find("init");
    assert_eq!(init.mode, cpio::S_IFREG | 0o755);
    assert!(init.data.starts_with(b"#!/bin/busybox sh\n"));
    let busybox = find("bin/busybox");
    assert_eq!(busybox.mode, cpio::S_IFREG | 0o755);
    assert!(
        is_mips64el_elf(&busybox.data),
        "bin/busybox is not MIPS64 LE"
    );

    let dir = guest.kernel.parent().expect("entry directory");
    let manifest = images::verify_entry(dir).expect("cached files match their MANIFEST");
    assert_eq!(manifest.packages.len(), 2);

    // Cached now: the second call is a lookup returning the same images.
    let again = images::ensure_default_images(&mut |m| panic!("unexpected step: {m}"))
        .expect("cached images");
    assert_eq!(again, guest);
}
