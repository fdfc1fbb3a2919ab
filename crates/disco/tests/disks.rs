//! Virtio disks with stock Debian Linux: the guest reads and writes a host
//! file as /dev/vda, bare and in a VM; read-only disks; bad disk arguments;
//! and a VM that programs its disk with a wild DMA address while the other
//! VMs keep using theirs.

mod common;
use common::{disco, run, stderr, stdout};

/// A disk image of `sectors` sectors where byte i is `(i * 7 + i / 512) as u8`.
fn patterned_disk(dir: &std::path::Path, name: &str, sectors: usize) -> std::path::PathBuf {
    let path = dir.join(name);
    let data: Vec<u8> = (0..sectors * 512)
        .map(|i| (i * 7 + i / 512) as u8)
        .collect();
    std::fs::write(&path, data).unwrap();
    path
}

/// The host's md5 of `path` (hex).
fn host_md5(path: &std::path::Path) -> String {
    let o = std::process::Command::new("md5sum")
        .arg(path)
        .output()
        .unwrap();
    stdout(&o).split_whitespace().next().unwrap().to_string()
}

const WRITE_AND_CHECK: &str = "cat /sys/block/vda/size; md5sum /dev/vda; \
     echo written-by-guest | dd of=/dev/vda bs=512 seek=3 conv=notrunc 2>/dev/null; sync; \
     dd if=/dev/vda bs=512 skip=3 count=1 2>/dev/null | head -c 16; echo";

#[test]
fn a_disk_is_read_and_written_the_same_bare_and_in_a_vm() {
    let dir = tempfile::tempdir().unwrap();
    for vm in [false, true] {
        let disk = patterned_disk(dir.path(), "disk.img", 2048);
        let md5 = host_md5(&disk);
        let spec = format!("{}", disk.display());
        let mut args = vec!["run", "--disk", &spec, "--exec", WRITE_AND_CHECK];
        if vm {
            args.insert(1, "--vm");
        }
        let o = run(&args);
        assert_eq!(o.status.code(), Some(0), "vm={vm}: {}", stderr(&o));
        let out = stdout(&o);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "2048", "vm={vm}: {out}");
        assert_eq!(lines[1], format!("{md5}  /dev/vda"), "vm={vm}: {out}");
        assert_eq!(lines[2], "written-by-guest", "vm={vm}: {out}");
        // The write reached the host file, and only sector 3 changed.
        let after = std::fs::read(&disk).unwrap();
        assert_eq!(&after[3 * 512..3 * 512 + 17], b"written-by-guest\n");
        let expected: Vec<u8> = (0..2048 * 512).map(|i| (i * 7 + i / 512) as u8).collect();
        assert_eq!(after[..3 * 512], expected[..3 * 512]);
        assert_eq!(after[4 * 512..], expected[4 * 512..]);
    }
}

#[test]
fn a_read_only_disk_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let disk = patterned_disk(dir.path(), "ro.img", 64);
    let before = std::fs::read(&disk).unwrap();
    let spec = format!("{},ro", disk.display());
    let o = run(&[
        "run",
        "--disk",
        &spec,
        "--exec",
        "cat /sys/block/vda/ro; dd if=/dev/zero of=/dev/vda bs=512 count=1 2>/dev/null; echo status $?",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("1\n"), "{out}");
    assert!(!out.contains("status 0"), "the write must fail: {out}");
    assert_eq!(std::fs::read(&disk).unwrap(), before);
}

#[test]
fn bad_disks_are_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("odd.img");
    std::fs::write(&odd, [0u8; 100]).unwrap();
    let good = patterned_disk(dir.path(), "good.img", 8);
    let missing = dir.path().join("missing.img");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--disk".into(), missing.display().to_string()],
            "No such file",
        ),
        (
            vec!["--disk".into(), odd.display().to_string()],
            "not a multiple of 512",
        ),
        (
            vec![
                "--disk".into(),
                good.display().to_string(),
                "--disk".into(),
                format!("{},ro", good.display()),
            ],
            "used twice",
        ),
        (
            vec!["--disk".into(), format!("{},rx", good.display())],
            "unknown option",
        ),
    ];
    for (args, expect) in cases {
        let o = disco()
            .arg("run")
            .args(&args)
            .args(["--exec", "true"])
            .output()
            .unwrap();
        assert_ne!(o.status.code(), Some(0), "{args:?}");
        let err = stderr(&o);
        assert!(err.contains(expect), "{args:?}: {err}");
        // The cause is said once (it used to be repeated by the error chain).
        assert_eq!(err.matches(expect).count(), 1, "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn wild_dma_is_reported_to_its_vm_alone() {
    let dir = tempfile::tempdir().unwrap();
    let a = patterned_disk(dir.path(), "a.img", 256);
    let b = patterned_disk(dir.path(), "b.img", 256);
    let c = patterned_disk(dir.path(), "c.img", 256);
    let md5_b = host_md5(&b);
    // "wild" unbinds its disk driver and programs the device by hand with
    // an available ring at 64 GiB, far outside its 128 MiB; the device must
    // answer DEVICE_NEEDS_RESET (0x40 in the status register).
    let wild = "rmmod virtio_blk; B=$((0xf0010000)); \
        w() { devmem $((B + $1)) 32 $2; }; \
        w 0x70 0; w 0x70 3; w 0x24 1; w 0x20 1; w 0x70 11; w 0x30 0; w 0x38 8; \
        w 0x80 0x100000; w 0x90 0; w 0x94 0x10; w 0xa0 0x101000; w 0x44 1; w 0x70 15; \
        w 0x50 0; echo status $(devmem $((B + 0x70)) 32)";
    let file = dir.path().join("vms.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[machine]
cpus = 2

[[vm]]
name = "wild"
mem = "128M"
disks = ["a.img"]
exec = "{wild}"

[[vm]]
name = "reader"
mem = "128M"
disks = ["b.img,ro"]
exec = "sleep 1; md5sum /dev/vda"

[[vm]]
name = "writer"
mem = "128M"
disks = ["c.img"]
exec = "echo from-writer | dd of=/dev/vda conv=notrunc 2>/dev/null; sync; echo wrote"
"#
        ),
    )
    .unwrap();
    let o = run(&["up", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("[wild] status 0x0000004F"), "{out}");
    assert!(
        out.contains(&format!("[reader] {md5_b}  /dev/vda")),
        "{out}"
    );
    assert!(out.contains("[writer] wrote"), "{out}");
    assert!(std::fs::read(&c).unwrap().starts_with(b"from-writer\n"));
    assert_eq!(host_md5(&a), {
        let fresh = patterned_disk(dir.path(), "fresh.img", 256);
        host_md5(&fresh)
    });
}
