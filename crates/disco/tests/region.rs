//! The measured region: a guest resets the statistics and later ends the
//! region through the simulation-control device, bare and in a VM; the
//! statistics disco reports are the region's, not the whole run's.

mod common;
use common::{run, stderr};

/// Runs `busy(N)` loops before, inside and after the region; returns the
/// statistics JSON and the run's total instructions (its summary line).
fn region_run(vm: bool) -> (serde_json::Value, u64) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("stats.json");
    let cmd = "busy() { i=0; while [ $i -lt $1 ]; do i=$((i+1)); done; }; busy 3000; \
               devmem 0xf0003004 32 1; busy 2000; devmem 0xf0003004 32 2; busy 20000";
    let mut args = vec!["run", "--exec", cmd, "--stats-json", json.to_str().unwrap()];
    if vm {
        args.push("--vm");
    }
    let o = run(&args);
    assert!(o.status.success(), "stderr:\n{}", stderr(&o));
    let total: u64 = stderr(&o)
        .lines()
        .find_map(|l| {
            l.strip_prefix("disco: ")?
                .split(" instructions")
                .next()?
                .parse()
                .ok()
        })
        .expect("summary line");
    let stats = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    (stats, total)
}

#[test]
fn statistics_are_those_of_the_measured_region_bare_and_in_a_vm() {
    for vm in [false, true] {
        let (stats, total) = region_run(vm);
        assert_eq!(stats["measured_region"], true, "vm {vm}");
        let region = stats["cpus"][0]["instructions"].as_u64().unwrap();
        // The region's loop is a tenth of the one after it: the region has
        // far fewer instructions than the boot and both loops together.
        assert!(
            region > 0 && region * 5 < total,
            "vm {vm}: {region} of {total}"
        );
        if vm {
            let user = stats["monitor"]["vms"][0]["total"]["user_cycles"]
                .as_u64()
                .unwrap();
            let kernel = stats["monitor"]["vms"][0]["total"]["kernel_cycles"]
                .as_u64()
                .unwrap();
            // The monitor's accounting was reset and kept with the machine's.
            let cycles = stats["cpus"][0]["cycles"].as_u64().unwrap();
            assert!(user + kernel <= cycles, "{user} + {kernel} > {cycles}");
            assert!(user + kernel > cycles / 2, "{user} + {kernel} of {cycles}");
        }
    }
    // Without a region, the figures are the whole run's.
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("s.json");
    let o = run(&[
        "run",
        "--exec",
        "true",
        "--stats-json",
        json.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(stats["measured_region"], false);
}
