//! The multiprocessor NUMA machine with the real Debian guest: SMP boot,
//! LL/SC across CPUs, NUMA miss accounting checked by hand, determinism.
//!
//! Guest programs in `tests/guest/` are built with Debian's cross compiler
//! (`scripts/test` installs it) and put into the initramfs with `--add`.

use std::collections::HashMap;

mod common;
use common::{build_guest, run, stderr, stdout, summary_counts};

#[test]
fn eight_cpus_boot_and_all_take_timer_interrupts_and_ipis() {
    let o = run(&[
        "run",
        "--cpus",
        "8",
        "--nodes",
        "8",
        "--exec",
        "nproc; cat /proc/interrupts",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("8"), "{out}");
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        (0..8).map(|c| format!("CPU{c}")).collect::<Vec<_>>()
    );
    // Per CPU: timer interrupts, IPI calls and IPI reschedules taken.
    let mut taken: HashMap<&str, [u64; 8]> = HashMap::new();
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 10 || !fields[0].ends_with(':') {
            continue;
        }
        let kind = if line.ends_with("timer") {
            "timer"
        } else if line.ends_with("IPI call") {
            "call"
        } else if line.ends_with("IPI resched") {
            "resched"
        } else {
            continue;
        };
        let row = taken.entry(kind).or_default();
        for (cpu, n) in fields[1..9].iter().enumerate() {
            row[cpu] += n.parse::<u64>().unwrap();
        }
    }
    for kind in ["timer", "call", "resched"] {
        let row = taken
            .get(kind)
            .unwrap_or_else(|| panic!("no {kind} row:\n{out}"));
        assert!(row.iter().all(|&n| n > 0), "{kind}: {row:?}\n{out}");
    }
}

#[test]
fn powering_off_a_multiprocessor_guest_ends_the_simulation() {
    // Linux halts the boot CPU with `wait` and parks the others in
    // `while (1);` with interrupts off: the machine sees every CPU stopped
    // for good, and the monitor every vCPU waiting with no interrupt able
    // to wake it. Had they kept spinning, --max-time would end the run
    // with 124.
    for vm in [&[][..], &["--vm", "--vcpus", "2"][..]] {
        let mut args = vec!["run", "--cpus", "2", "--max-time", "30"];
        args.extend(vm);
        args.extend(["--exec", "poweroff -f; sleep 5; echo still running"]);
        let o = run(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{vm:?}: {err}");
        assert!(
            err.contains("the guest powered off before the command finished"),
            "{vm:?}: {err}"
        );
        assert!(!stdout(&o).contains("still running"), "{vm:?}");
    }
}

#[test]
fn llsc_stays_atomic_across_cpus() {
    let prog = build_guest("llsc_smp");
    let add = prog.to_str().unwrap();
    let o = run(&[
        "run",
        "--cpus",
        "4",
        "--add",
        add,
        "--exec",
        "llsc_smp 4 100000",
    ]);
    assert_eq!(
        stdout(&o),
        "llsc ok 4 x 100000 on 4 CPUs\n",
        "{}",
        stderr(&o)
    );
    assert_eq!(o.status.code(), Some(0));
}

/// The numa program's page lines: (virtual address, frame number, reader CPU).
fn numa_pages(out: &str) -> Vec<(String, u64, usize)> {
    out.lines()
        .filter_map(|l| l.strip_prefix("page "))
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let pfn = u64::from_str_radix(f[1].trim_start_matches("0x"), 16).unwrap();
            (f[0].to_string(), pfn, f[2].parse().unwrap())
        })
        .collect()
}

#[test]
fn numa_misses_are_counted_per_page_and_node_and_remote_ones_stall_longer() {
    const PAGES: u64 = 16;
    const LINES_PER_PAGE: u64 = 4096 / 128; // one read per L2 line
    const REMOTE_CYCLES: u64 = 360; // 900 ns at 400 MHz
    let prog = build_guest("numa");
    let dir = tempfile::tempdir().unwrap();
    let run_numa = |json: &str, table: bool| {
        let json = dir.path().join(json);
        let mut args = vec![
            "run",
            "--cpus",
            "4",
            "--nodes",
            "2",
            "--add",
            prog.to_str().unwrap(),
            "--exec",
            "numa 0 16 1 3",
            "--stats-json",
            json.to_str().unwrap(),
        ];
        if table {
            args.push("--stats");
        }
        let o = run(&args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        (o, report)
    };
    let (o, report) = run_numa("first.json", true);
    let out = stdout(&o);
    assert!(out.ends_with("numa done\n"), "{out}");
    let pages = numa_pages(&out);
    assert_eq!(pages.len() as u64, PAGES, "{out}");

    // CPU 0 wrote the pages in fast mode. In detailed mode, right after the
    // statistics were reset, CPU 1 (node 0) and CPU 3 (node 1) read every
    // L2 line of every other page once, in parallel.
    let cpus = report["cpus"].as_array().unwrap();
    let node_of = |cpu: usize| cpus[cpu]["node"].as_u64().unwrap() as usize;
    assert_eq!((node_of(0), node_of(1), node_of(3)), (0, 0, 1));
    let counters: HashMap<u64, (u64, Vec<u64>)> = report["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let misses = p["misses"].as_array().unwrap();
            (
                p["page"].as_u64().unwrap(),
                (
                    p["home"].as_u64().unwrap(),
                    misses.iter().map(|m| m.as_u64().unwrap()).collect(),
                ),
            )
        })
        .collect();
    for (va, pfn, reader) in &pages {
        let (home, misses) = counters
            .get(pfn)
            .unwrap_or_else(|| panic!("no counters for page {va} (frame {pfn:#x})"));
        assert_eq!(
            *home, 0,
            "page {va} (frame {pfn:#x}) is not in node 0's memory"
        );
        let mut want = vec![0, 0];
        want[node_of(*reader)] = LINES_PER_PAGE;
        assert_eq!(
            misses, &want,
            "page {va} (frame {pfn:#x}) read by CPU {reader}"
        );
    }
    // Each reader missed on its 8 pages: CPU 1 in its own node's memory,
    // CPU 3 remotely, stalling at least the remote latency for each.
    let per_reader = PAGES / 2 * LINES_PER_PAGE;
    let caches = |cpu: usize, what: &str| cpus[cpu]["caches"][what].as_u64().unwrap();
    assert!(caches(1, "mem_local") >= per_reader);
    assert_eq!(caches(1, "mem_remote"), 0);
    assert!(caches(3, "mem_remote") >= per_reader);
    assert_eq!(caches(3, "mem_local"), 0);
    let stall_remote = cpus[3]["stall_remote"].as_u64().unwrap();
    assert!(
        stall_remote >= per_reader * REMOTE_CYCLES,
        "remote stall {stall_remote}"
    );
    assert!(stall_remote > 2 * cpus[1]["stall_remote"].as_u64().unwrap());
    // The table shows the stall split and the pages with their home and
    // per-node counts (the kernel's busiest pages come first).
    let table = stderr(&o);
    assert!(
        table.contains("stall-L%") && table.contains("stall-R%"),
        "{table}"
    );
    assert!(table.contains("pages with the most L2 misses"), "{table}");
    assert!(table.contains(", home node 0): ["), "{table}");

    // The same configuration and input again: identical cycle counts, down
    // to every counter.
    let (again, report_again) = run_numa("second.json", false);
    assert_eq!(stdout(&again), out);
    assert_eq!(summary_counts(&again), summary_counts(&o));
    assert_eq!(report_again, report);
}
