//! `disco run`: build the machine, boot, connect the console, report.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use machine::{Machine, MachineConfig, Stop};

use crate::cli::{RunArgs, TimingArg, TraceEvent};
use crate::console::{Input, RawTerminal, StdinReader};
use crate::exec_output::ExecOutput;
use crate::images;

/// Kernel command line used for every boot; `--append` adds to it.
pub const DEFAULT_BOOTARGS: &str = "console=ttyS0,115200 earlycon panic=-1";

/// Exit status when `--max-time` expires (as timeout(1) does).
const TIMEOUT_STATUS: u8 = 124;

/// Runs `disco run` and returns the process exit status.
pub fn run(args: RunArgs) -> Result<ExitCode> {
    let (kernel_path, initrd_path) = resolve_images(&args)?;
    let kernel = read_file(&kernel_path, "kernel")?;
    let initrd = initrd_path
        .as_deref()
        .map(|p| read_file(p, "initrd"))
        .transpose()?;
    let mut bootargs = DEFAULT_BOOTARGS.to_string();
    if let Some(extra) = &args.append {
        bootargs.push(' ');
        bootargs.push_str(extra);
    }
    let mut config = MachineConfig::new(kernel, initrd);
    config.mem_bytes = args.mem;
    config.cpu_hz = args.cpu_mhz * 1_000_000;
    config.bootargs = bootargs;
    config.exec = args.exec.clone();
    config.cpus = args.cpus;
    config.nodes = args.nodes.unwrap_or(args.cpus);
    config.interleave = args.interleave;
    config.quantum = args.quantum;
    crate::trace::init(&args.trace);
    let mut m =
        Machine::new(&config).with_context(|| format!("cannot boot {}", kernel_path.display()))?;
    m.set_trace_instructions(args.trace.contains(&TraceEvent::Insn));
    if args.timing == TimingArg::Detailed {
        m.set_timing_mode(machine::simctl::TimingMode::Detailed);
    }

    let started = Instant::now();
    let outcome = if args.exec.is_some() {
        run_exec(&mut m, &args)
    } else {
        run_interactive(&mut m, &args)
    };
    print_summary(&m, started.elapsed());
    outcome
}

fn resolve_images(args: &RunArgs) -> Result<(std::path::PathBuf, Option<std::path::PathBuf>)> {
    if let Some(kernel) = &args.kernel {
        return Ok((kernel.clone(), args.initrd.clone()));
    }
    let mut progress = images::stderr_progress;
    let imgs = images::ensure_default_images(&mut progress)?;
    Ok((
        imgs.kernel,
        Some(args.initrd.clone().unwrap_or(imgs.initrd)),
    ))
}

fn read_file(path: &Path, what: &str) -> Result<Vec<u8>> {
    let data =
        std::fs::read(path).with_context(|| format!("cannot read {what} '{}'", path.display()))?;
    if data.is_empty() {
        bail!("{what} '{}' is empty", path.display());
    }
    Ok(data)
}

fn max_cycles(m: &Machine, args: &RunArgs) -> Option<u64> {
    args.max_time
        .map(|s| (s.max(0.0) * m.clock().hz() as f64) as u64)
}

/// Runs the guest with `--exec`: hide the boot, stream the command's output,
/// exit with its status.
fn run_exec(m: &mut Machine, args: &RunArgs) -> Result<ExitCode> {
    let limit = max_cycles(m, args);
    let mut out = ExecOutput::new(args.show_boot);
    let stdout = std::io::stdout();
    let slice = m.clock().hz() / 100; // 10 ms of simulated time
    loop {
        let stop = m.run_for(slice);
        out.feed(&m.take_console_output(), &mut stdout.lock())?;
        if let Some(stop) = stop {
            return Ok(match stop {
                Stop::Exit(status) if out.started() => ExitCode::from(status as u8),
                other => {
                    if !out.started() {
                        eprint!("{}", out.boot_log_tail());
                    }
                    report_stop(&other, "before the command finished");
                    ExitCode::FAILURE
                }
            });
        }
        if limit.is_some_and(|l| m.cycles() >= l) {
            eprintln!(
                "disco: stopped after {} simulated seconds (--max-time)",
                args.max_time.unwrap_or(0.0)
            );
            return Ok(ExitCode::from(TIMEOUT_STATUS));
        }
    }
}

/// Runs the guest with its console attached to the terminal.
fn run_interactive(m: &mut Machine, args: &RunArgs) -> Result<ExitCode> {
    let limit = max_cycles(m, args);
    let _raw = RawTerminal::enter();
    let mut input = StdinReader::spawn();
    let mut stdout = std::io::stdout();
    let slice = m.clock().hz() / 1000; // 1 ms of simulated time
    let mut pacer = Pacer::new(m.sim_ns());
    let mut pending: Vec<u8> = Vec::new();
    loop {
        match input.poll() {
            Some(Input::Quit) => {
                eprintln!("\r\ndisco: quit (Ctrl-A x)\r");
                return Ok(ExitCode::SUCCESS);
            }
            Some(Input::Bytes(b)) => pending.extend_from_slice(&b),
            None => {}
        }
        if !pending.is_empty() {
            let n = pending.len().min(m.console_input_space());
            m.push_console_input(&pending[..n]);
            pending.drain(..n);
        }
        let stop = m.run_for(slice);
        let output = m.take_console_output();
        if !output.is_empty() {
            stdout.write_all(&output)?;
            stdout.flush()?;
        }
        if let Some(stop) = stop {
            return Ok(match stop {
                Stop::Exit(status) => ExitCode::from(status as u8),
                Stop::PowerOff => {
                    eprintln!("\r\ndisco: the guest powered off\r");
                    ExitCode::SUCCESS
                }
                other => {
                    report_stop(&other, "");
                    ExitCode::FAILURE
                }
            });
        }
        if limit.is_some_and(|l| m.cycles() >= l) {
            eprintln!(
                "\r\ndisco: stopped after {} simulated seconds (--max-time)\r",
                args.max_time.unwrap_or(0.0)
            );
            return Ok(ExitCode::from(TIMEOUT_STATUS));
        }
        pacer.pace(m.sim_ns());
    }
}

fn report_stop(stop: &Stop, when: &str) {
    let sep = if when.is_empty() { "" } else { " " };
    match stop {
        Stop::Exit(status) => eprintln!("disco: the guest exited with status {status}{sep}{when}"),
        Stop::Reboot => eprintln!("disco: the guest rebooted{sep}{when} (a kernel panic reboots: see the log above)"),
        Stop::PowerOff => eprintln!("disco: the guest powered off{sep}{when}"),
        Stop::Wedged { cpu, vector, cause, epc } => eprintln!(
            "disco: CPU {cpu} is wedged{sep}{when}: exception {} at {epc:#x} sent it to vector {vector:#x}, which it cannot fetch",
            cause.name()
        ),
    }
}

fn print_summary(m: &Machine, host: Duration) {
    let insns = m.instructions();
    let host_s = host.as_secs_f64();
    let sim_s = m.sim_ns() as f64 / 1e9;
    let mips = if host_s > 0.0 {
        insns as f64 / host_s / 1e6
    } else {
        0.0
    };
    eprintln!(
        "disco: {insns} instructions, {sim_s:.3} s simulated, {host_s:.2} s host, {mips:.0} MIPS"
    );
}

/// Keeps simulated time from running ahead of wall-clock time in interactive
/// sessions, so an idle guest does not spin the host and `sleep 1` in the
/// guest takes about a second.
struct Pacer {
    wall: Instant,
    sim_ns: u64,
}

impl Pacer {
    fn new(sim_ns: u64) -> Self {
        Pacer {
            wall: Instant::now(),
            sim_ns,
        }
    }

    fn pace(&mut self, sim_ns: u64) {
        let sim = Duration::from_nanos(sim_ns.saturating_sub(self.sim_ns));
        let wall = self.wall.elapsed();
        if sim > wall {
            std::thread::sleep((sim - wall).min(Duration::from_millis(20)));
        } else if wall - sim > Duration::from_millis(100) {
            // The guest was busy and simulated time fell behind: re-anchor
            // rather than letting it race to catch up later.
            self.wall = Instant::now();
            self.sim_ns = sim_ns;
        }
    }
}
