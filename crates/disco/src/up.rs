//! `disco up FILE`: several virtual machines on the Disco monitor.
//!
//! The file has the `[machine]` and `[timing]` sections of `disco run
//! --config` and one `[[vm]]` table per VM. Every VM's console is shown on
//! stdout, each line prefixed with `[NAME] `, and with `--logs DIR` also
//! written to `DIR/NAME.log`. `--attach NAME` connects the terminal to that
//! VM's console instead (Ctrl-A x quits), the other consoles then going to
//! their log files only. The run ends when every VM has ended.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use machine::simctl::TimingMode;
use machine::virtio::DiskTiming;
use machine::{Machine, MachineConfig};
use monitor::memory::alloc::MONITOR_RESERVED;
use monitor::report::describe;
use monitor::vm::{VmConfig, VmState};
use monitor::{Monitor, MonitorConfig};

use crate::addfiles::parse_add;
use crate::cli::{TimingArg, TraceEvent};
use crate::config::{ConfigFile, VmSection};
use crate::console::{Input, RawTerminal, StdinReader};
use crate::guest::{guest_images, GuestSpec};
use crate::images::EXEC_BEGIN_MARKER;

/// Default memory of a VM.
const DEFAULT_VM_MEM: u64 = 256 << 20;

/// Options of `disco up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// The configuration: `[machine]`, `[timing]` and one `[[vm]]` per VM.
    pub file: PathBuf,
    /// Timing mode to start in (overrides the file).
    #[arg(long, value_name = "MODE")]
    pub timing: Option<TimingArg>,
    /// Stop after this many simulated seconds (exit status 124).
    #[arg(long, value_name = "SECONDS")]
    pub max_time: Option<f64>,
    /// Also write each VM's console to DIR/NAME.log.
    #[arg(long, value_name = "DIR")]
    pub logs: Option<PathBuf>,
    /// Connect the terminal to this VM's console (Ctrl-A x quits).
    #[arg(long, value_name = "NAME")]
    pub attach: Option<String>,
    /// Print the machine's statistics and the monitor's accounting on exit.
    #[arg(long)]
    pub stats: bool,
    /// Write the statistics and the accounting as JSON.
    #[arg(long, value_name = "FILE")]
    pub stats_json: Option<PathBuf>,
    /// Write the memory footprint of each VM and of the machine at the end
    /// of the run as JSON (Fig. 7: V and M per category) and print it as a
    /// table.
    #[arg(long, value_name = "FILE")]
    pub memory_report: Option<PathBuf>,
    /// Attribute each VM's kernel time to kernel services (as `disco run
    /// --services`).
    #[arg(long)]
    pub services: bool,
    /// Trace events to stderr (as for `disco run`).
    #[arg(long, value_name = "EVENTS", value_delimiter = ',')]
    pub trace: Vec<TraceEvent>,
    /// Never rewrite privileged instructions: every one traps to the
    /// monitor every time (pure trap-and-emulate; overrides the file).
    #[arg(long)]
    pub no_patch: bool,
    /// Share no memory between VMs: copy-on-write disks' pages are never
    /// mapped from the global disk cache (every read is copied into the
    /// reading VM's own memory) and kernel images are not shared
    /// (overrides the file; to measure what sharing costs and saves).
    #[arg(long)]
    pub no_sharing: bool,
    /// Do not share the pages of the decompressed kernel image between VMs
    /// booting the same kernel (see docs/sharing.md; overrides the file).
    #[arg(long)]
    pub no_kernel_sharing: bool,
    /// The NUMA policy (overrides the file's `[numa]`).
    #[command(flatten)]
    pub numa: crate::cli::NumaArgs,
}

/// Runs `disco up` and returns the exit status: 0 when every VM exited
/// with status 0 or powered off, 124 when `--max-time` expired, 1 otherwise.
pub fn up(args: UpArgs) -> Result<ExitCode> {
    crate::trace::init(&args.trace);
    let file = ConfigFile::load(&args.file)?;
    if file.vm.is_empty() {
        bail!(
            "'{}' describes no virtual machine (add a [[vm]] table)",
            args.file.display()
        );
    }
    let base = args.file.parent().unwrap_or(Path::new(".")).to_path_buf();
    let vms = file
        .vm
        .iter()
        .enumerate()
        .map(|(i, s)| vm_config(i, s, &base, file.disk_timing()))
        .collect::<Result<Vec<_>>>()?;
    check_names(&vms, args.attach.as_deref())?;
    if !file.machine.disks.is_empty() {
        bail!("[machine] disks are the bare machine's: give each [[vm]] its own `disks`");
    }
    crate::disks::check_exclusive(vms.iter().flat_map(|v| &v.disks)).map_err(anyhow::Error::msg)?;
    for vm in &vms {
        vm.validate()?;
    }
    let config = machine_config(&file, &vms, args.timing)?;
    let mut machine = Machine::new_unbooted(&config).context("cannot build the machine")?;
    let monitor_config = MonitorConfig {
        quantum: config.quantum,
        patch_privileged: !args.no_patch && file.monitor.patch.unwrap_or(true),
        sharing: !args.no_sharing && file.monitor.sharing.unwrap_or(true),
        share_kernel: !args.no_kernel_sharing && file.monitor.share_kernel.unwrap_or(true),
        numa: args.numa.apply(file.numa.clone())?,
        ..MonitorConfig::default()
    };
    let mut monitor = Monitor::new(&mut machine, &vms, monitor_config)?;
    monitor.set_service_tracking(args.services);
    let mut consoles = Consoles::new(&monitor, args.logs.as_deref(), args.attach.as_deref())?;
    let started = Instant::now();
    let timed_out = if consoles.attached.is_some() {
        run_attached(&mut machine, &mut monitor, &mut consoles, args.max_time)?
    } else {
        run_detached(&mut machine, &mut monitor, &mut consoles, args.max_time)?
    };
    consoles.finish()?;
    for vm in &monitor.vms {
        eprintln!("disco: {}: {}", vm.name, describe(&vm.state));
    }
    let insns = machine.instructions();
    let host = started.elapsed().as_secs_f64();
    eprintln!(
        "disco: {} VMs, {insns} instructions, {:.3} s simulated, {host:.2} s host, {:.0} MIPS",
        monitor.vms.len(),
        machine.sim_ns() as f64 / 1e9,
        insns as f64 / host.max(1e-9) / 1e6
    );
    write_reports(&machine, &monitor, &args)?;
    if timed_out {
        return Ok(ExitCode::from(124));
    }
    let ok = monitor
        .vms
        .iter()
        .all(|vm| matches!(vm.state, VmState::Exited(0) | VmState::PoweredOff));
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The monitor's configuration of `[[vm]]` number `i`.
fn vm_config(i: usize, s: &VmSection, base: &Path, disk_timing: DiskTiming) -> Result<VmConfig> {
    let name = s.name.clone().unwrap_or_else(|| format!("vm{i}"));
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        bail!("VM name '{name}': use letters, digits, '-', '_' and '.'");
    }
    let at = |p: &PathBuf| base.join(p);
    let add = s
        .add
        .iter()
        .map(|a| {
            let mut f = parse_add(a).map_err(anyhow::Error::msg)?;
            f.host = at(&f.host);
            Ok(f)
        })
        .collect::<Result<Vec<_>>>()
        .with_context(|| format!("VM '{name}'"))?;
    let spec = GuestSpec {
        kernel: s.kernel.as_ref().map(at),
        initrd: s.initrd.as_ref().map(at),
        add,
        rootfs: s.rootfs.unwrap_or(false),
    };
    let guest = guest_images(&spec).with_context(|| format!("VM '{name}'"))?;
    let disks = guest.disks(
        crate::config::disks_relative_to(&s.disks, base).with_context(|| format!("VM '{name}'"))?,
    );
    let bootargs = guest.bootargs(s.append.as_deref());
    let (kernel, initrd) = (guest.kernel, guest.initrd);
    Ok(VmConfig {
        name,
        mem_bytes: s
            .mem
            .as_ref()
            .map(|m| m.bytes())
            .transpose()?
            .unwrap_or(DEFAULT_VM_MEM),
        vcpus: s.vcpus.unwrap_or(1),
        kernel,
        initrd,
        bootargs,
        exec: s.exec.clone(),
        chosen: Vec::new(),
        rtc_epoch_ns: MachineConfig::DEFAULT_RTC_EPOCH_NS,
        disks,
        disk_timing,
        net: s.net.unwrap_or(false),
    })
}

fn check_names(vms: &[VmConfig], attach: Option<&str>) -> Result<()> {
    let mut seen = HashSet::new();
    for vm in vms {
        if !seen.insert(vm.name.as_str()) {
            bail!("two VMs are named '{}'", vm.name);
        }
    }
    if let Some(name) = attach {
        if !seen.contains(name) {
            bail!("--attach {name}: there is no VM of that name");
        }
    }
    Ok(())
}

/// The machine: `[machine]` and `[timing]`, with as many CPUs as vCPUs (up
/// to 16) and enough memory for all VMs by default.
fn machine_config(
    file: &ConfigFile,
    vms: &[VmConfig],
    timing: Option<TimingArg>,
) -> Result<MachineConfig> {
    let m = &file.machine;
    let mut c = MachineConfig::new(Vec::new(), None);
    let vcpus: u32 = vms.iter().map(|v| v.vcpus).sum();
    c.cpus = m.cpus.unwrap_or(vcpus.clamp(1, 16));
    c.nodes = m.nodes.unwrap_or(c.cpus);
    let needed = vms.iter().map(|v| v.mem_bytes).sum::<u64>() + MONITOR_RESERVED;
    c.mem_bytes = file.mem_bytes()?.unwrap_or(needed);
    c.cpu_hz = m.cpu_mhz.map_or(c.cpu_hz, |mhz| mhz * 1_000_000);
    c.interleave = m.interleave.unwrap_or(false);
    c.quantum = m.quantum.unwrap_or(c.quantum);
    c.timing = file.timing_config();
    c.timing_mode = match timing {
        Some(TimingArg::Fast) => TimingMode::Fast,
        Some(TimingArg::Detailed) => TimingMode::Detailed,
        None => file.timing_mode()?.unwrap_or(TimingMode::Fast),
    };
    Ok(c)
}

/// Where each VM's console goes.
struct Consoles {
    names: Vec<String>,
    partial: Vec<Vec<u8>>,
    logs: Vec<Option<std::fs::File>>,
    attached: Option<usize>,
}

impl Consoles {
    fn new(monitor: &Monitor, logs: Option<&Path>, attach: Option<&str>) -> Result<Self> {
        let names: Vec<String> = monitor.vms.iter().map(|vm| vm.name.clone()).collect();
        let mut files = Vec::new();
        for name in &names {
            files.push(match logs {
                Some(dir) => {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("cannot create '{}'", dir.display()))?;
                    let path = dir.join(format!("{name}.log"));
                    Some(
                        std::fs::File::create(&path)
                            .with_context(|| format!("cannot create '{}'", path.display()))?,
                    )
                }
                None => None,
            });
        }
        let attached = attach.and_then(|a| names.iter().position(|n| n == a));
        Ok(Consoles {
            partial: vec![Vec::new(); names.len()],
            names,
            logs: files,
            attached,
        })
    }

    /// Takes every VM's console output and shows it.
    fn drain(&mut self, monitor: &mut Monitor, out: &mut impl Write) -> Result<()> {
        for i in 0..self.names.len() {
            let bytes = monitor.take_console_output(i);
            if bytes.is_empty() {
                continue;
            }
            if let Some(f) = self.logs[i].as_mut() {
                f.write_all(&bytes)?;
            }
            if self.attached == Some(i) {
                let marker = format!("{EXEC_BEGIN_MARKER}\n");
                let text = String::from_utf8_lossy(&bytes).replace(&marker, "");
                out.write_all(text.as_bytes())?;
            } else if self.attached.is_none() {
                self.partial[i].extend_from_slice(&bytes);
                while let Some(pos) = self.partial[i].iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = self.partial[i].drain(..=pos).collect();
                    write_line(out, &self.names[i], &line)?;
                }
            }
        }
        out.flush()?;
        Ok(())
    }

    /// Shows unfinished lines and flushes the logs.
    fn finish(&mut self) -> Result<()> {
        let mut out = std::io::stdout().lock();
        for i in 0..self.names.len() {
            let rest = std::mem::take(&mut self.partial[i]);
            if !rest.is_empty() {
                write_line(&mut out, &self.names[i], &rest)?;
            }
            if let Some(f) = self.logs[i].as_mut() {
                f.flush()?;
            }
        }
        Ok(())
    }
}

fn write_line(out: &mut impl Write, name: &str, line: &[u8]) -> Result<()> {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end_matches(['\n', '\r']).replace('\r', "");
    // /init's marker before a command's output is for `disco run`.
    if text == EXEC_BEGIN_MARKER {
        return Ok(());
    }
    writeln!(out, "[{name}] {text}")?;
    Ok(())
}

/// Runs until every VM ended (false) or `--max-time` (true), printing
/// consoles.
fn run_detached(
    machine: &mut Machine,
    monitor: &mut Monitor,
    consoles: &mut Consoles,
    max_time: Option<f64>,
) -> Result<bool> {
    let hz = machine.clock().hz();
    let limit = max_time.map(|s| (s.max(0.0) * hz as f64) as u64);
    let slice = hz / 100;
    let stdout = std::io::stdout();
    loop {
        let done = monitor.run_for(machine, slice);
        consoles.drain(monitor, &mut stdout.lock())?;
        if done {
            return Ok(false);
        }
        if limit.is_some_and(|l| machine.cycles() >= l) {
            eprintln!(
                "disco: stopped after {} simulated seconds (--max-time)",
                max_time.unwrap_or(0.0)
            );
            return Ok(true);
        }
    }
}

/// Like [`run_detached`], with the terminal connected to one VM's console.
fn run_attached(
    machine: &mut Machine,
    monitor: &mut Monitor,
    consoles: &mut Consoles,
    max_time: Option<f64>,
) -> Result<bool> {
    let vm = consoles.attached.expect("attached");
    let hz = machine.clock().hz();
    let limit = max_time.map(|s| (s.max(0.0) * hz as f64) as u64);
    let _raw = RawTerminal::enter();
    let mut input = StdinReader::spawn();
    let mut pending: Vec<u8> = Vec::new();
    let stdout = std::io::stdout();
    let slice = hz / 1000;
    let wall = Instant::now();
    let sim0 = machine.sim_ns();
    loop {
        match input.poll() {
            Some(Input::Quit) => {
                eprintln!("\r\ndisco: quit (Ctrl-A x)\r");
                return Ok(false);
            }
            Some(Input::Bytes(b)) => pending.extend_from_slice(&b),
            None => {}
        }
        let n = pending.len().min(monitor.console_input_space(vm));
        if n > 0 {
            monitor.push_console_input(vm, &pending[..n]);
            pending.drain(..n);
        }
        let done = monitor.run_for(machine, slice);
        consoles.drain(monitor, &mut stdout.lock())?;
        if done || monitor.vms[vm].state.ended() {
            return Ok(false);
        }
        if limit.is_some_and(|l| machine.cycles() >= l) {
            eprintln!(
                "\r\ndisco: stopped after {} simulated seconds (--max-time)\r",
                max_time.unwrap_or(0.0)
            );
            return Ok(true);
        }
        // Keep simulated time from running ahead of the wall clock.
        let sim = std::time::Duration::from_nanos(machine.sim_ns() - sim0);
        if let Some(ahead) = sim.checked_sub(wall.elapsed()) {
            std::thread::sleep(ahead.min(std::time::Duration::from_millis(20)));
        }
    }
}

fn write_reports(machine: &Machine, monitor: &Monitor, args: &UpArgs) -> Result<()> {
    crate::stats::write(
        machine,
        Some(monitor),
        args.stats,
        args.stats_json.as_deref(),
    )?;
    if let Some(path) = &args.memory_report {
        crate::memreport::write(machine, Some(monitor), path)?;
    }
    Ok(())
}
