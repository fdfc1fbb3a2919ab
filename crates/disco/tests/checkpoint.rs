//! Checkpoints of the real Debian guest: a restored run gives exactly the
//! results of the uninterrupted one, and damaged files are refused cleanly.
//!
//! The default Debian images are fetched through the project's own fetcher
//! when missing (a Debian host with network access and root, as CI has).

use machine::report::report;
use machine::simctl::TimingMode;
use machine::{Machine, MachineConfig, Stop};

mod common;
use common::{disco, stderr, summary_counts};

/// A 2-CPU, 2-node machine booting the default guest with `exec`.
fn smp_machine(exec: &str) -> Machine {
    let images = disco::images::ensure_default_images(&mut |_| {}).expect("guest images");
    let kernel = std::fs::read(&images.kernel).unwrap();
    let mut initrd = std::fs::read(&images.initrd).unwrap();
    disco::images::refresh_init(&mut initrd).unwrap();
    let mut config = MachineConfig::new(kernel, Some(initrd));
    config.cpus = 2;
    config.nodes = 2;
    config.bootargs = disco::run::DEFAULT_BOOTARGS.to_string();
    config.exec = Some(exec.to_string());
    Machine::new(&config).expect("machine")
}

/// Everything observable about the rest of a run.
#[derive(Debug, PartialEq)]
struct Outcome {
    stop: Stop,
    console: String,
    cycles: u64,
    instructions: u64,
    cpu_cycles: Vec<u64>,
    report: String,
}

/// Runs `m` to its end in 10 ms slices (as `disco run` does).
fn finish(m: &mut Machine) -> Outcome {
    let slice = m.clock().hz() / 100;
    let mut console = Vec::new();
    let stop = loop {
        let stop = m.run_for(slice);
        console.extend(m.take_console_output());
        if let Some(stop) = stop {
            break stop;
        }
        assert!(m.sim_ns() < 60_000_000_000, "the guest never finished");
    };
    Outcome {
        stop,
        console: String::from_utf8_lossy(&console).into_owned(),
        cycles: m.cycles(),
        instructions: m.instructions(),
        cpu_cycles: m.cpus.iter().map(|c| c.cycles()).collect(),
        report: serde_json::to_string(&report(m)).unwrap(),
    }
}

#[test]
fn restored_run_equals_the_uninterrupted_run_in_detailed_smp_mode() {
    let mut m = smp_machine("i=0; while [ $i -lt 300 ]; do i=$((i+1)); done; echo counted $i");
    let hz = m.clock().hz();
    let slice = hz / 100;
    // Fast mode to late boot, then detailed timing so that caches,
    // directory state, controller queues and miss counters are all live.
    while m.cycles() < hz * 7 {
        assert_eq!(m.run_for(slice), None, "stopped during boot");
    }
    m.set_timing_mode(TimingMode::Detailed);
    for _ in 0..10 {
        assert_eq!(m.run_for(slice), None);
    }
    assert!(m.powered().iter().all(|&p| p), "both CPUs run");
    let mut saved = Vec::new();
    m.write_checkpoint("test", &mut saved).expect("checkpoint");

    let uninterrupted = finish(&mut m);
    let (mut restored, note) = Machine::read_checkpoint(&saved[..]).expect("restore");
    assert_eq!(note, "test");
    let resumed = finish(&mut restored);

    assert_eq!(uninterrupted.stop, Stop::Exit(0));
    assert!(
        uninterrupted.console.contains("counted 300"),
        "{}",
        uninterrupted.console
    );
    assert_eq!(resumed, uninterrupted);
    // The detailed region really ran: remote memory misses were counted.
    let r: serde_json::Value = serde_json::from_str(&uninterrupted.report).unwrap();
    let remote: u64 = r["cpus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["caches"]["mem_remote"].as_u64().unwrap())
        .sum();
    assert!(remote > 0, "{}", uninterrupted.report);
}

#[test]
fn damaged_checkpoints_are_refused_with_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.ckpt");
    let mut m = smp_machine("true");
    m.run_for(m.clock().hz() / 10);
    m.save_checkpoint(&path, "note").unwrap();
    let good = std::fs::read(&path).unwrap();
    assert!(Machine::load_checkpoint(&path).is_ok());

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", Vec::new(), "not a disco checkpoint"),
        (
            "text",
            b"hello, world, not a checkpoint".to_vec(),
            "not a disco checkpoint",
        ),
        (
            "truncated",
            good[..good.len() / 2].to_vec(),
            "damaged checkpoint",
        ),
        ("flipped", flip(&good, good.len() / 3), "damaged checkpoint"),
        ("trailer", flip(&good, good.len() - 6), "damaged checkpoint"),
        ("version", flip(&good, 17), "version"),
    ];
    for (what, bytes, expect) in cases {
        let bad = dir.path().join(what);
        std::fs::write(&bad, &bytes).unwrap();
        let err = Machine::load_checkpoint(&bad).expect_err(what).to_string();
        assert!(err.contains(expect), "{what}: {err}");

        let o = disco()
            .args(["run", "--restore"])
            .arg(&bad)
            .args(["--exec", "true"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{what}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains("cannot restore checkpoint"), "{what}: {err}");
        assert!(!err.contains("panicked"), "{what}: {err}");
    }
}

fn flip(data: &[u8], at: usize) -> Vec<u8> {
    let mut d = data.to_vec();
    d[at] ^= 0x55;
    d
}

#[test]
fn save_then_restore_runs_commands_on_the_booted_guest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("booted.ckpt");
    let o = disco()
        .args(["run", "--cpus", "2", "--save-checkpoint"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("saved checkpoint"), "{}", stderr(&o));

    let restore = |cmd: &str| {
        disco()
            .args(["run", "--restore"])
            .arg(&path)
            .args(["--exec", cmd])
            .output()
            .unwrap()
    };
    let cmd = "nproc; echo \"it's $((6*7))\"; exit 4";
    let first = restore(cmd);
    assert_eq!(first.status.code(), Some(4), "{}", stderr(&first));
    assert_eq!(String::from_utf8_lossy(&first.stdout), "2\nit's 42\n");
    // The same checkpoint and command: the same counts, to the instruction.
    let second = restore(cmd);
    assert_eq!(first.stdout, second.stdout);
    assert_eq!(summary_counts(&first), summary_counts(&second));

    // A checkpoint cannot be combined with options that change the machine.
    let o = disco()
        .args(["run", "--cpus", "4", "--restore"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}
