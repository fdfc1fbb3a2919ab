//! `disco run`: build the machine, boot, connect the console, report.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use machine::simctl::TimingMode;
use machine::{Machine, MachineConfig};
use monitor::vm::VmConfig;
use monitor::{Monitor, MonitorConfig};

use crate::checkpoint::{boot_and_save, PendingInput, COMMAND_FROM_CONSOLE_PROPERTY};
use crate::config::ConfigFile;
use crate::guest::{guest_images, GuestSpec};

use crate::cli::{RunArgs, TimingArg, TraceEvent};
use crate::console::{Input, RawTerminal, StdinReader};
use crate::exec_output::ExecOutput;
use crate::session::{Bare, Ending, Session, Virtual};

pub use crate::guest::DEFAULT_BOOTARGS;

/// Exit status when `--max-time` expires (as timeout(1) does).
const TIMEOUT_STATUS: u8 = 124;

/// Runs `disco run` and returns the process exit status.
pub fn run(args: RunArgs) -> Result<ExitCode> {
    crate::trace::init(&args.trace);
    if args.numa.given() && !args.vm {
        anyhow::bail!("--numa and --numa-set set the monitor's policy: they need --vm");
    }
    if args.vm {
        let mut session = boot_vm(&args)?;
        session
            .machine
            .set_trace_instructions(args.trace.contains(&TraceEvent::Insn));
        session.monitor.set_service_tracking(args.services);
        return run_session(&mut session, &args, PendingInput::default());
    }
    let (mut m, input) = match &args.restore {
        Some(path) => restore(path, &args)?,
        None => (boot(&args)?, PendingInput::default()),
    };
    m.set_trace_instructions(args.trace.contains(&TraceEvent::Insn));
    m.set_service_tracking(args.services);
    if let Some(path) = &args.save_checkpoint {
        let start = Mark::now(&m);
        let (limit, slice) = (max_cycles(&m, &args), exec_slice(&m));
        let outcome =
            boot_and_save(&mut m, path, args.show_boot, slice, limit).map(|()| ExitCode::SUCCESS);
        print_summary(&m, &start);
        return outcome;
    }
    run_session(&mut Bare(m), &args, input)
}

/// Runs the guest of `session` with `--exec` or interactively, then reports.
fn run_session(session: &mut dyn Session, args: &RunArgs, input: PendingInput) -> Result<ExitCode> {
    let start = Mark::now(session.machine());
    let outcome = if args.exec.is_some() {
        run_exec(session, args, input)
    } else {
        run_interactive(session, args, input)
    };
    print_summary(session.machine(), &start);
    write_reports(session, args)?;
    outcome
}

/// The guest `disco run` boots.
fn spec(args: &RunArgs) -> GuestSpec {
    GuestSpec {
        kernel: args.kernel.clone(),
        initrd: args.initrd.clone(),
        add: args.add.clone(),
        rootfs: args.rootfs,
    }
}

/// Builds the machine and loads the kernel and initrd.
fn boot(args: &RunArgs) -> Result<Machine> {
    let guest = guest_images(&spec(args))?;
    let bootargs = guest.bootargs(args.append.as_deref());
    let mut config = machine_config(args, guest.kernel.clone(), guest.initrd.clone())?;
    config.disks = guest.disks(std::mem::take(&mut config.disks));
    config.bootargs = bootargs;
    let kernel_path = guest.kernel_path;
    config.exec = args.exec.clone();
    if args.save_checkpoint.is_some() {
        config
            .chosen
            .push((COMMAND_FROM_CONSOLE_PROPERTY.to_string(), "1".to_string()));
    }
    Machine::new(&config).with_context(|| format!("cannot boot {}", kernel_path.display()))
}

/// Builds a machine with the monitor running the guest in one VM
/// (`--vm`): the VM gets `--mem` of memory, the machine that plus the
/// monitor's reserve.
fn boot_vm(args: &RunArgs) -> Result<Virtual> {
    let guest = guest_images(&spec(args))?;
    let mut config = machine_config(args, Vec::new(), None)?;
    let guest_mem = config.mem_bytes;
    config.mem_bytes = guest_mem + monitor::memory::alloc::MONITOR_RESERVED;
    // The disks are the VM's, not the machine's.
    let disks = guest.disks(std::mem::take(&mut config.disks));
    let bootargs = guest.bootargs(args.append.as_deref());
    let (kernel_path, kernel, initrd) = (guest.kernel_path, guest.kernel, guest.initrd);
    let mut machine = Machine::new_unbooted(&config).context("cannot build the machine")?;
    let vm = VmConfig {
        name: "vm0".to_string(),
        mem_bytes: guest_mem,
        vcpus: args.vcpus,
        kernel,
        initrd,
        bootargs,
        exec: args.exec.clone(),
        chosen: Vec::new(),
        rtc_epoch_ns: config.rtc_epoch_ns,
        disks,
        disk_timing: config.disk_timing,
        net: false,
    };
    let monitor_config = MonitorConfig {
        quantum: config.quantum,
        patch_privileged: !args.no_patch && config_file(args)?.monitor.patch.unwrap_or(true),
        sharing: !args.no_sharing && config_file(args)?.monitor.sharing.unwrap_or(true),
        share_kernel: !args.no_kernel_sharing
            && config_file(args)?.monitor.share_kernel.unwrap_or(true),
        costs: monitor::cost::CostTable::default().scaled(args.cost_scale.unwrap_or(1.0)),
        numa: args.numa.apply(config_file(args)?.numa)?,
        ..MonitorConfig::default()
    };
    let monitor = Monitor::new(&mut machine, &[vm], monitor_config)
        .with_context(|| format!("cannot boot {} in a VM", kernel_path.display()))?;
    Ok(Virtual {
        machine,
        monitor,
        vm: 0,
    })
}

/// Parses `--cost-scale`: a positive, finite factor.
pub fn parse_cost_scale(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if f.is_finite() && f > 0.0 => Ok(f),
        _ => Err(format!("'{s}' is not a positive number")),
    }
}

/// Restores `--restore`'s checkpoint, with the timing mode of `--timing`
/// and statistics counting from now.
fn restore(path: &Path, args: &RunArgs) -> Result<(Machine, PendingInput)> {
    let (mut m, input) = crate::checkpoint::restore(path, args.exec.as_deref())?;
    match args.timing {
        Some(TimingArg::Fast) => m.set_timing_mode(TimingMode::Fast),
        Some(TimingArg::Detailed) => m.set_timing_mode(TimingMode::Detailed),
        None => {}
    }
    m.reset_stats();
    Ok((m, PendingInput::new(input)))
}

/// Where a run started: its summary counts from here.
struct Mark {
    host: Instant,
    instructions: u64,
    sim_ns: u64,
}

impl Mark {
    fn now(m: &Machine) -> Self {
        Mark {
            host: Instant::now(),
            instructions: m.instructions(),
            sim_ns: m.sim_ns(),
        }
    }
}

/// The `--config` file, or an empty configuration.
fn config_file(args: &RunArgs) -> Result<ConfigFile> {
    match &args.config {
        Some(path) => ConfigFile::load(path),
        None => Ok(ConfigFile::default()),
    }
}

/// The machine configuration: defaults, then the `--config` file, then the
/// command-line options.
fn machine_config(
    args: &RunArgs,
    kernel: Vec<u8>,
    initrd: Option<Vec<u8>>,
) -> Result<MachineConfig> {
    let file = config_file(args)?;
    if !file.vm.is_empty() {
        anyhow::bail!("the configuration describes virtual machines: run it with `disco up`");
    }
    let mut c = MachineConfig::new(kernel, initrd);
    let m = &file.machine;
    c.mem_bytes = args.mem.or(file.mem_bytes()?).unwrap_or(c.mem_bytes);
    c.cpu_hz = args
        .cpu_mhz
        .or(m.cpu_mhz)
        .map_or(c.cpu_hz, |mhz| mhz * 1_000_000);
    c.cpus = args.cpus.or(m.cpus).unwrap_or(1);
    c.nodes = args.nodes.or(m.nodes).unwrap_or(c.cpus);
    c.interleave = args.interleave || m.interleave.unwrap_or(false);
    c.quantum = args.quantum.or(m.quantum).unwrap_or(c.quantum);
    c.timing = file.timing_config();
    if let Some(bytes) = args.l2 {
        c.timing.l2_bytes = u32::try_from(bytes)
            .ok()
            .filter(|b| b.is_power_of_two())
            .with_context(|| {
                format!("--l2 {bytes}: the L2 size must be a power of two below 4 GiB")
            })?;
    }
    if args.uma {
        c.timing = c.timing.uma();
    }
    let base = args
        .config
        .as_deref()
        .and_then(Path::parent)
        .unwrap_or(Path::new(""));
    c.disks = crate::config::disks_relative_to(&file.machine.disks, base)?;
    c.disks.extend(args.disks.iter().cloned());
    crate::disks::check_exclusive(&c.disks).map_err(anyhow::Error::msg)?;
    c.disk_timing = file.disk_timing();
    let mode = match args.timing {
        Some(TimingArg::Fast) => Some(TimingMode::Fast),
        Some(TimingArg::Detailed) => Some(TimingMode::Detailed),
        None => file.timing_mode()?,
    };
    c.timing_mode = mode.unwrap_or(TimingMode::Fast);
    Ok(c)
}

/// The simulated cycle at which `--max-time` (counted from now) expires.
fn max_cycles(m: &Machine, args: &RunArgs) -> Option<u64> {
    args.max_time
        .map(|s| m.cycles() + (s.max(0.0) * m.clock().hz() as f64) as u64)
}

/// Simulated cycles run between console checks without a terminal: 10 ms.
fn exec_slice(m: &Machine) -> u64 {
    m.clock().hz() / 100
}

/// Runs the guest with `--exec`: hide the boot, stream the command's output,
/// exit with its status.
fn run_exec(s: &mut dyn Session, args: &RunArgs, mut input: PendingInput) -> Result<ExitCode> {
    let limit = max_cycles(s.machine(), args);
    let mut out = ExecOutput::new(args.show_boot);
    let stdout = std::io::stdout();
    let slice = exec_slice(s.machine());
    loop {
        input.feed(s);
        let stop = s.run_for(slice);
        out.feed(&s.take_console_output(), &mut stdout.lock())?;
        if let Some(stop) = stop {
            return Ok(match stop {
                Ending::Exit(status) if out.started() => ExitCode::from(status as u8),
                other => {
                    if !out.started() {
                        eprint!("{}", out.boot_log_tail());
                    }
                    report_stop(&other, "before the command finished");
                    ExitCode::FAILURE
                }
            });
        }
        if limit.is_some_and(|l| s.machine().cycles() >= l) {
            eprintln!(
                "disco: stopped after {} simulated seconds (--max-time)",
                args.max_time.unwrap_or(0.0)
            );
            return Ok(ExitCode::from(TIMEOUT_STATUS));
        }
    }
}

/// Runs the guest with its console attached to the terminal.
fn run_interactive(
    s: &mut dyn Session,
    args: &RunArgs,
    mut pending: PendingInput,
) -> Result<ExitCode> {
    let limit = max_cycles(s.machine(), args);
    let _raw = RawTerminal::enter();
    let mut input = StdinReader::spawn();
    let mut stdout = std::io::stdout();
    let slice = s.machine().clock().hz() / 1000; // 1 ms of simulated time
    let mut pacer = Pacer::new(s.machine().sim_ns());
    loop {
        match input.poll() {
            Some(Input::Quit) => {
                eprintln!("\r\ndisco: quit (Ctrl-A x)\r");
                return Ok(ExitCode::SUCCESS);
            }
            Some(Input::Bytes(b)) => pending.extend(&b),
            None => {}
        }
        pending.feed(s);
        let stop = s.run_for(slice);
        let output = s.take_console_output();
        if !output.is_empty() {
            stdout.write_all(&output)?;
            stdout.flush()?;
        }
        if let Some(stop) = stop {
            return Ok(match stop {
                Ending::Exit(status) => ExitCode::from(status as u8),
                Ending::PowerOff => {
                    eprintln!("\r\ndisco: the guest powered off\r");
                    ExitCode::SUCCESS
                }
                other => {
                    report_stop(&other, "");
                    ExitCode::FAILURE
                }
            });
        }
        if limit.is_some_and(|l| s.machine().cycles() >= l) {
            eprintln!(
                "\r\ndisco: stopped after {} simulated seconds (--max-time)\r",
                args.max_time.unwrap_or(0.0)
            );
            return Ok(ExitCode::from(TIMEOUT_STATUS));
        }
        pacer.pace(s.machine().sim_ns());
    }
}

fn report_stop(stop: &Ending, when: &str) {
    let sep = if when.is_empty() { "" } else { " " };
    match stop {
        Ending::Exit(status) => {
            eprintln!("disco: the guest exited with status {status}{sep}{when}")
        }
        Ending::Reboot => eprintln!(
            "disco: the guest rebooted{sep}{when} (a kernel panic reboots: see the log above)"
        ),
        Ending::PowerOff => eprintln!("disco: the guest powered off{sep}{when}"),
        Ending::Failed(why) => eprintln!("disco: the guest stopped{sep}{when}: {why}"),
    }
}

/// `--stats` and `--stats-json`: the machine's statistics, and with a VM
/// the monitor's accounting.
fn write_reports(s: &dyn Session, args: &RunArgs) -> Result<()> {
    crate::stats::write(
        s.machine(),
        s.monitor(),
        args.stats,
        args.stats_json.as_deref(),
    )?;
    if let Some(path) = &args.memory_report {
        crate::memreport::write(s.machine(), s.monitor(), path)?;
    }
    Ok(())
}

/// Prints the one-line summary of the run since `start`.
fn print_summary(m: &Machine, start: &Mark) {
    let insns = m.instructions() - start.instructions;
    let host_s = start.host.elapsed().as_secs_f64();
    let sim_s = (m.sim_ns() - start.sim_ns) as f64 / 1e9;
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
