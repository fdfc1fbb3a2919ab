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

/// One page's line from the numa program: (virtual address, frame number).
fn numa_pages(out: &str) -> Vec<(String, u64)> {
    out.lines()
        .filter_map(|l| l.strip_prefix("page "))
        .map(|l| {
            let (va, pfn) = l.split_once(' ').unwrap();
            let pfn = u64::from_str_radix(pfn.trim_start_matches("0x"), 16).unwrap();
            (va.to_string(), pfn)
        })
        .collect()
}

#[test]
fn numa_misses_are_remote_and_counted_per_page_and_node() {
    const PAGES: usize = 16;
    const LINES_PER_PAGE: u64 = 4096 / 128; // one read per L2 line
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
            "numa 0 3 16",
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
    assert!(out.contains("numa done 0 3"), "{out}");
    let pages = numa_pages(&out);
    assert_eq!(pages.len(), PAGES, "{out}");

    // CPU 0 (node 0) wrote the pages; CPU 3 (node 1) read each L2 line once
    // in detailed mode, right after the statistics were reset.
    let cpus = report["cpus"].as_array().unwrap();
    assert_eq!(cpus[0]["node"], 0);
    assert_eq!(cpus[3]["node"], 1);
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
    for (va, pfn) in &pages {
        let (home, misses) = counters
            .get(pfn)
            .unwrap_or_else(|| panic!("no counters for page {va} (frame {pfn:#x})"));
        assert_eq!(
            *home, 0,
            "page {va} (frame {pfn:#x}) is not in node 0's memory"
        );
        assert_eq!(
            misses,
            &vec![0, LINES_PER_PAGE],
            "page {va} (frame {pfn:#x}): misses by node"
        );
    }
    // The reader's misses were remote, and it stalled for them: at least the
    // remote latency (900 ns = 360 cycles at 400 MHz) for each.
    let reader = &cpus[3];
    let remote = reader["caches"]["mem_remote"].as_u64().unwrap();
    let want = PAGES as u64 * LINES_PER_PAGE;
    assert!(remote >= want, "remote misses {remote} < {want}");
    let stall = reader["stall_remote"].as_u64().unwrap();
    assert!(stall >= want * 360, "remote stall {stall} cycles");
    assert_eq!(
        cpus[0]["stall_remote"], 0,
        "the writer did not read remotely"
    );
    // The table shows the split and the pages with their home and counts.
    let table = stderr(&o);
    assert!(
        table.contains("stall-L%") && table.contains("stall-R%"),
        "{table}"
    );
    assert!(table.contains("home node 0): [0, 32]"), "{table}");

    // The same configuration and input again: identical cycle counts, down
    // to every counter.
    let (again, report_again) = run_numa("second.json", false);
    assert_eq!(stdout(&again), out);
    assert_eq!(summary_counts(&again), summary_counts(&o));
    assert_eq!(report_again, report);
}
