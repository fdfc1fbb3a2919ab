//! End-to-end tests of memory sharing (§4.2.5): VMs booted from one
//! copy-on-write root disk share its pages through the global disk cache,
//! keep their writes to themselves, and never change the base image.
//!
//! The root disk is built through disco's own builder on first use
//! (`disco fetch --rootfs`), as in `rootfs.rs`.

mod common;
use common::{root_disk_image, run, sha256_file as sha256, stderr, stdout};

/// Runs `disco up` on the configuration `toml`; returns its output, its
/// statistics (`--stats-json`) and its memory report (`--memory-report`).
/// Fails unless every VM ended well.
fn up_with_reports(toml: &str) -> (String, serde_json::Value, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vms.toml");
    std::fs::write(&file, toml).unwrap();
    let stats = dir.path().join("stats.json");
    let memory = dir.path().join("memory.json");
    let o = run(&[
        "up",
        file.to_str().unwrap(),
        "--stats-json",
        stats.to_str().unwrap(),
        "--memory-report",
        memory.to_str().unwrap(),
    ]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}\nstderr:\n{}", stderr(&o));
    let read =
        |p: &std::path::Path| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    assert!(
        stderr(&o).contains("M/V = "),
        "the footprint table: {}",
        stderr(&o)
    );
    (out, read(&stats), read(&memory))
}

fn u(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn four_vms_share_one_copy_on_write_root_disk() {
    let image = root_disk_image();
    let before = sha256(&image);
    let mut toml = String::from("[machine]\ncpus = 4\nnodes = 2\nmem = \"1280M\"\n");
    for name in ["a", "b", "c", "d"] {
        // Each VM writes a file of its own over the shared root, lists
        // what is there, and runs a workload from the shared disk.
        toml.push_str(&format!(
            "[[vm]]\nname = \"{name}\"\nmem = \"256M\"\nrootfs = true\n\
             exec = \"echo {name} > /etc/mine-{name}; ls /etc | grep mine-; \
             workload database --quick --fast --cpus 1\"\n"
        ));
    }
    let (out, json, memory) = up_with_reports(&toml);
    for name in ["a", "b", "c", "d"] {
        // A VM sees its own file and no other VM's.
        let mine: Vec<&str> = out
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("[{name}] ")))
            .filter(|l| l.starts_with("mine-"))
            .collect();
        assert_eq!(mine, vec![format!("mine-{name}")], "{out}");
        assert!(
            out.contains(&format!("[{name}] disco-workload: database ok")),
            "{out}"
        );
    }
    assert_eq!(sha256(&image), before, "the base image was written");
    let mon = &json["monitor"];
    let cached = u(&mon["memory"]["disk_cache_pages"]);
    let mut mapped = 0;
    let mut cow_faults = 0;
    for vm in mon["vms"].as_array().unwrap() {
        let s = &vm["sharing"];
        mapped += u(&s["cache_hits"]) + u(&s["cache_fills"]);
        cow_faults += u(&s["cow_faults"]);
        assert!(u(&s["cache_hits"]) > 0, "{vm}");
        assert!(u(&vm["footprint"]["pages_shared"]) > 0, "{vm}");
    }
    // The root disk's pages are in machine memory once, mapped by all four:
    // the machine footprint grows by one copy, not four.
    assert!(cached > 1000, "{cached} pages cached");
    assert!(
        mapped >= 3 * cached,
        "{mapped} disk pages mapped into VMs from {cached} cached pages"
    );
    // The footprint report: the buffer cache is held once on the machine.
    let m = &memory["machine"];
    let (v_cache, m_cache) = (
        u(&m["virtual_pages"]["buffer_cache"]),
        u(&m["machine_pages"]["buffer_cache"]),
    );
    assert!(v_cache >= 2 * m_cache && m_cache > 0, "{m}");
    eprintln!(
        "root disk pages: {cached} in the cache, mapped {mapped} times; {cow_faults} copy-on-write faults; \
         buffer cache {v_cache} virtual, {m_cache} machine pages; M/V {}",
        memory["ratio"]
    );
}

#[test]
fn vms_booting_one_kernel_share_its_image() {
    let (out, json, memory) = up_with_reports(
        "[machine]\ncpus = 2\nnodes = 2\nmem = \"544M\"\n\
         [[vm]]\nname = \"a\"\nmem = \"256M\"\nexec = \"echo a: $(uname -r)\"\n\
         [[vm]]\nname = \"b\"\nmem = \"256M\"\nexec = \"echo b: $(uname -r)\"\n",
    );
    assert!(out.contains("[a] a: 6.1.0"), "{out}");
    assert!(out.contains("[b] b: 6.1.0"), "{out}");
    let vms = json["monitor"]["vms"].as_array().unwrap();
    let kernel = |i: usize, what: &str| u(&vms[i]["sharing"][what]);
    // The kernel image is ~4 500 pages: one VM offered them, the other
    // found nearly all of them identical (same kernel, same patches).
    let offered = kernel(0, "kernel_pages_offered") + kernel(1, "kernel_pages_offered");
    let mapped = kernel(0, "kernel_pages_mapped") + kernel(1, "kernel_pages_mapped");
    assert!(
        mapped > 4000,
        "{mapped} kernel pages shared, {offered} offered"
    );
    assert!(u(&vms[0]["footprint"]["pages_shared"]) > 2000, "{}", vms[0]);
    // Sharing is by 1 MiB region: the kernel's data regions, identical at
    // boot, are written and unshared whole; its text stays shared.
    let unshared = kernel(0, "kernel_regions_unshared") + kernel(1, "kernel_regions_unshared");
    assert!(
        (1..=6).contains(&unshared),
        "{unshared} of ~18 kernel regions unshared"
    );
    // The footprint report counts the shared kernel pages once.
    let m = &memory["machine"];
    let (v_image, m_image) = (
        u(&m["virtual_pages"]["kernel_image"]),
        u(&m["machine_pages"]["kernel_image"]),
    );
    assert!(
        m_image < v_image * 6 / 10 && m_image > v_image / 2 - 1,
        "kernel image: {v_image} virtual, {m_image} machine pages"
    );
    assert_eq!(memory["vms"].as_array().unwrap().len(), 2);
}
