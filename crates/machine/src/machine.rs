//! The whole simulated computer: CPUs, RAM, decoded-code cache and devices,
//! and the loop that advances them in simulated time.
//!
//! CPUs run one after another in fixed *quanta* of simulated time: every
//! powered CPU runs until the end of the current quantum before the next
//! quantum starts. The order and the quantum are fixed, so a run is
//! deterministic: the same configuration and input give the same cycle
//! counts. Effects between CPUs (stores, IPIs) become visible at most one
//! quantum later, as on a real machine they would after some latency.

use mips::{CodeCache, Cpu, CpuState, CpuStats, ExcCode, MemError, PhysMem, RunExit};
use thiserror::Error;

use crate::board::Devices;
use crate::boot::{self, BootError, BootLayout};
use crate::clock::Clock;
use crate::cps::CpsEvent;
use crate::exitdev::ExitRequest;
use crate::fdt::{BoardDescription, CpsNodes, UartNode};
use crate::layout::{
    virtio_irq, CPC_BASE, CPC_WINDOW, EXIT_BASE, GCR_BASE, GIC_BASE, GIC_WINDOW, MAX_RAM,
    MAX_VIRTIO, MIN_RAM, RTC_BASE, RTC_IRQ, UART_BASE, UART_CLOCK_HZ, UART_IRQ, VIRTIO_BASE,
    VIRTIO_STRIDE,
};
use crate::simctl::{SimRequest, TimingMode};
use crate::timing::{HomeMap, MemSystem, TimingConfig};
use crate::uart::UART_WINDOW_SIZE;
use crate::virtio::block::DiskConfig;
use crate::virtio::{DiskError, DiskTiming, VirtioMmio};

/// Largest number of CPUs (Linux's `NR_CPUS` in the Debian kernel is 16).
pub const MAX_CPUS: u32 = 16;

/// Everything needed to build and boot a machine.
#[derive(Clone, Debug)]
pub struct MachineConfig {
    /// RAM size in bytes.
    pub mem_bytes: u64,
    /// CPU clock in Hz (CP0 Count runs at half of it).
    pub cpu_hz: u32,
    /// Number of CPUs (1..=16).
    pub cpus: u32,
    /// Number of NUMA nodes (1..=cpus); CPUs are spread evenly over them.
    pub nodes: u32,
    /// Interleave memory pages round-robin across nodes instead of giving
    /// each node one consecutive range.
    pub interleave: bool,
    /// Cycles each CPU runs before the next one takes its turn.
    pub quantum: u64,
    /// Parameters of the detailed timing model (its `cpu_hz` is replaced by
    /// [`MachineConfig::cpu_hz`]).
    pub timing: TimingConfig,
    /// Timing mode at power-on.
    pub timing_mode: TimingMode,
    /// The kernel: an ELF64 little-endian MIPS executable.
    pub kernel: Vec<u8>,
    /// Optional initrd (initramfs) image.
    pub initrd: Option<Vec<u8>>,
    /// Kernel command line.
    pub bootargs: String,
    /// A shell command for the guest's init to run (`/chosen/disco,exec`).
    pub exec: Option<String>,
    /// More `/chosen` string properties (name, value) for the guest.
    pub chosen: Vec<(String, String)>,
    /// Wall-clock time the RTC shows at simulated time zero, ns since 1970.
    /// Fixed by default so that runs are deterministic.
    pub rtc_epoch_ns: u64,
    /// Disks, in order: `/dev/vda`, `/dev/vdb`, ... (virtio block devices).
    pub disks: Vec<DiskConfig>,
    /// How long the simulated disks take.
    pub disk_timing: DiskTiming,
    /// A virtio network interface after the disks (virtual machines only:
    /// the bare machine has no network to attach it to).
    pub net: bool,
}

impl MachineConfig {
    /// Default CPU clock: 400 MHz, twice the R10000's as in the paper's SimOS setup.
    pub const DEFAULT_CPU_HZ: u32 = 400_000_000;
    /// Default RAM size: 512 MiB.
    pub const DEFAULT_MEM: u64 = 512 << 20;
    /// Default RTC epoch: 2026-01-01T00:00:00Z.
    pub const DEFAULT_RTC_EPOCH_NS: u64 = 1_767_225_600 * 1_000_000_000;
    /// Default quantum: 10,000 cycles (25 µs at 400 MHz).
    pub const DEFAULT_QUANTUM: u64 = 10_000;

    /// A configuration with the defaults for everything but the images.
    pub fn new(kernel: Vec<u8>, initrd: Option<Vec<u8>>) -> Self {
        MachineConfig {
            mem_bytes: Self::DEFAULT_MEM,
            cpu_hz: Self::DEFAULT_CPU_HZ,
            cpus: 1,
            nodes: 1,
            interleave: false,
            quantum: Self::DEFAULT_QUANTUM,
            timing: TimingConfig::default(),
            timing_mode: TimingMode::Fast,
            kernel,
            initrd,
            bootargs: String::new(),
            exec: None,
            chosen: Vec::new(),
            rtc_epoch_ns: Self::DEFAULT_RTC_EPOCH_NS,
            disks: Vec::new(),
            disk_timing: DiskTiming::default(),
            net: false,
        }
    }
}

/// Why a machine could not be built.
#[derive(Debug, Error)]
pub enum MachineError {
    /// RAM size outside what the board supports.
    #[error("memory size {size} MiB is outside the supported range {min}..={max} MiB")]
    MemSize {
        /// Requested size in MiB.
        size: u64,
        /// Smallest size in MiB.
        min: u64,
        /// Largest size in MiB.
        max: u64,
    },
    /// CPU or node counts the board does not support.
    #[error("{0}")]
    Topology(String),
    /// RAM could not be allocated or is malformed.
    #[error(transparent)]
    Mem(#[from] MemError),
    /// Loading the kernel, initrd or device tree failed.
    #[error(transparent)]
    Boot(#[from] BootError),
    /// A disk image could not be used.
    #[error(transparent)]
    Disk(#[from] DiskError),
}

/// Why the simulation stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The guest wrote its exit status to the exit device.
    Exit(u32),
    /// The guest asked to reboot (Linux's `reboot`, or `panic=` after a panic).
    Reboot,
    /// Every CPU halted with interrupts disabled: nothing can ever wake them
    /// (Linux's `poweroff`/`halt` end like this).
    PowerOff,
    /// A CPU cannot make progress (see [`RunExit::Wedged`]).
    Wedged {
        /// The CPU.
        cpu: u32,
        /// The exception vector that could not be fetched.
        vector: u64,
        /// The exception being delivered.
        cause: ExcCode,
        /// Where it happened.
        epc: u64,
    },
}

/// A machine's state apart from RAM and caches of decoded code and
/// translations (which are rebuilt): what a checkpoint stores.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct MachineState<'a> {
    pub cpus: Vec<CpuState>,
    pub powered: Vec<bool>,
    pub mem_bytes: u64,
    pub devices: std::borrow::Cow<'a, Devices>,
    pub layout: BootLayout,
    pub clock_hz: u64,
    pub quantum: u64,
    pub now: u64,
    pub instructions_before_reset: u64,
}

/// A complete simulated machine.
#[derive(Debug)]
pub struct Machine {
    /// The CPUs; CPU 0 boots, the others start powered down.
    pub cpus: Vec<Cpu>,
    /// Which CPUs are powered (running or halted in `WAIT`).
    powered: Vec<bool>,
    /// RAM.
    pub mem: PhysMem,
    /// Decoded instructions, shared by all CPUs.
    pub code: CodeCache,
    /// Devices.
    pub devices: Devices,
    /// Where the boot loader placed things.
    pub layout: BootLayout,
    clock: Clock,
    quantum: u64,
    /// Simulated time all CPUs have reached.
    now: u64,
    /// Instructions counted before the last statistics reset.
    instructions_before_reset: u64,
    /// The statistics when the guest ended its measured region (simctl
    /// COMMAND 2), if it did since the last reset.
    region: Option<Box<crate::report::Report>>,
}

/// A CPU in its reset state; on a multiprocessor it reports the Coherence
/// Manager (Config3.CMGCR and CMGCRBase), as every core of a CPS does.
pub fn new_cpu(n: u32, smp: bool) -> Cpu {
    let mut cpu = Cpu::new(n);
    if smp {
        cpu.cp0.config3 |= mips::cp0::CONFIG3_CMGCR;
        cpu.cp0.cmgcrbase = GCR_BASE >> 4;
    }
    cpu
}

/// Node of each CPU: CPUs are spread evenly, consecutive CPUs on a node.
pub fn node_of_cpus(cpus: u32, nodes: u32) -> Vec<u32> {
    let per_node = (cpus / nodes.max(1)).max(1);
    (0..cpus).map(|c| (c / per_node).min(nodes - 1)).collect()
}

/// The timing model for `config`: memory split among the nodes in
/// consecutive ranges (FLASH's layout), or page-interleaved.
fn memory_system(config: &MachineConfig) -> Result<MemSystem, MachineError> {
    let home = if config.interleave {
        HomeMap::Interleaved { page_bytes: 4096 }
    } else {
        let node_bytes = config
            .mem_bytes
            .div_ceil(config.nodes as u64)
            .next_multiple_of(4096);
        HomeMap::Contiguous { node_bytes }
    };
    let mut timing = config.timing.clone();
    timing.cpu_hz = config.cpu_hz as u64;
    MemSystem::try_new(
        timing,
        node_of_cpus(config.cpus, config.nodes),
        config.nodes,
        home,
    )
    .map_err(|e| MachineError::Topology(format!("timing model: {e}")))
}

fn check_topology(config: &MachineConfig) -> Result<(), MachineError> {
    let err = |m: String| Err(MachineError::Topology(m));
    if !(1..=MAX_CPUS).contains(&config.cpus) {
        return err(format!("--cpus {} is outside 1..={MAX_CPUS}", config.cpus));
    }
    if config.nodes == 0 || config.nodes > config.cpus {
        return err(format!(
            "--nodes {} must be between 1 and the number of CPUs ({})",
            config.nodes, config.cpus
        ));
    }
    if !config.cpus.is_multiple_of(config.nodes) {
        return err(format!(
            "{} CPUs cannot be spread evenly over {} nodes",
            config.cpus, config.nodes
        ));
    }
    if config.quantum == 0 {
        return err("the quantum must be at least one cycle".to_string());
    }
    Ok(())
}

/// The device tree of the standard board for `config`: its memory, CPUs,
/// UART, exit device, RTC and (with several CPUs) CPS, and the `/chosen`
/// strings (`bootargs`, `disco,exit-address`, `disco,exec`, the extras).
/// A virtual machine is described the same way.
pub fn board_description(config: &MachineConfig) -> BoardDescription {
    let mut chosen_extra = vec![("disco,exit-address".to_string(), format!("{EXIT_BASE:#x}"))];
    if let Some(cmd) = &config.exec {
        chosen_extra.push(("disco,exec".to_string(), cmd.clone()));
    }
    chosen_extra.extend(config.chosen.iter().cloned());
    BoardDescription {
        model: "disco FLASH-like MIPS64 machine".to_string(),
        memory: vec![(0, config.mem_bytes)],
        cpus: config.cpus,
        cpu_clock_hz: config.cpu_hz,
        bootargs: config.bootargs.clone(),
        initrd: None,
        uart: Some(UartNode {
            base: UART_BASE,
            size: UART_WINDOW_SIZE,
            irq: UART_IRQ,
            clock_hz: UART_CLOCK_HZ,
        }),
        exit_device: Some(EXIT_BASE),
        rtc: Some((RTC_BASE, RTC_IRQ)),
        chosen_extra,
        kaslr_seed: None,
        cps: (config.cpus > 1).then_some(CpsNodes {
            gic: (GIC_BASE, GIC_WINDOW),
            cpc: (CPC_BASE, CPC_WINDOW),
        }),
        virtio: (0..config.disks.len() + usize::from(config.net))
            .map(|i| {
                let base = VIRTIO_BASE + i as u64 * VIRTIO_STRIDE;
                (base, virtio_irq(i, config.cpus > 1))
            })
            .collect(),
    }
}

impl Machine {
    /// Builds a machine, loads the kernel and initrd, and sets CPU 0 up to
    /// enter the kernel.
    pub fn new(config: &MachineConfig) -> Result<Self, MachineError> {
        let mut m = Self::new_unbooted(config)?;
        m.layout = boot::load(
            &mut m.mem,
            &config.kernel,
            config.initrd.as_deref(),
            board_description(config),
        )?;
        boot::uhi_handoff(&mut m.cpus[0], &m.layout);
        Ok(m)
    }

    /// Builds a machine with nothing loaded: CPUs in their reset state (only
    /// CPU 0 powered), zeroed RAM. `config.kernel` is ignored. A monitor
    /// builds its machine this way and powers the CPUs itself.
    pub fn new_unbooted(config: &MachineConfig) -> Result<Self, MachineError> {
        let mb = |b: u64| b >> 20;
        if !(MIN_RAM..=MAX_RAM).contains(&config.mem_bytes) {
            return Err(MachineError::MemSize {
                size: mb(config.mem_bytes),
                min: mb(MIN_RAM),
                max: mb(MAX_RAM),
            });
        }
        check_topology(config)?;
        let mem = PhysMem::new(config.mem_bytes)?;
        let clock = Clock::new(config.cpu_hz as u64);
        let layout = BootLayout::default();
        let devices = Devices::new(
            clock,
            config.rtc_epoch_ns,
            config.cpus,
            memory_system(config)?,
        )
        .map_err(|e| MachineError::Topology(e.to_string()))?;
        let mut devices = devices;
        if config.net {
            return Err(MachineError::Topology(
                "the bare machine has no network: network interfaces belong to VMs ([[vm]] net = true)"
                    .into(),
            ));
        }
        if config.disks.len() > MAX_VIRTIO {
            return Err(MachineError::Topology(format!(
                "{} disks: at most {MAX_VIRTIO} are supported",
                config.disks.len()
            )));
        }
        for disk in &config.disks {
            devices
                .virtio
                .0
                .push(VirtioMmio::disk(disk, config.disk_timing)?);
        }
        let smp = config.cpus > 1;
        let cpus: Vec<Cpu> = (0..config.cpus).map(|n| new_cpu(n, smp)).collect();
        let mut powered = vec![false; config.cpus as usize];
        powered[0] = true;
        let mut m = Machine {
            cpus,
            powered,
            mem,
            code: CodeCache::new(),
            devices,
            layout,
            clock,
            quantum: if config.cpus > 1 {
                config.quantum
            } else {
                u64::MAX
            },
            now: 0,
            instructions_before_reset: 0,
            region: None,
        };
        m.set_timing_mode(config.timing_mode);
        Ok(m)
    }

    /// The CPU clock.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Simulated cycles since power-on.
    pub fn cycles(&self) -> u64 {
        self.now
    }

    /// Simulated nanoseconds since power-on.
    pub fn sim_ns(&self) -> u64 {
        self.clock.ns(self.now)
    }

    /// Which CPUs are powered.
    pub fn powered(&self) -> &[bool] {
        &self.powered
    }

    /// Counters of every CPU.
    pub fn cpu_stats(&self) -> Vec<CpuStats> {
        self.cpus.iter().map(Cpu::stats).collect()
    }

    /// Instructions executed by all CPUs since power-on (statistics resets
    /// do not affect it).
    pub fn instructions(&self) -> u64 {
        self.instructions_before_reset
            + self
                .cpus
                .iter()
                .map(|c| c.stats().instructions)
                .sum::<u64>()
    }

    /// Takes the bytes the guest wrote to its console.
    pub fn take_console_output(&mut self) -> Vec<u8> {
        self.devices.uart.take_output()
    }

    /// Free space in the console's receive queue.
    pub fn console_input_space(&self) -> usize {
        self.devices.uart.rx_space()
    }

    /// Types `bytes` on the console.
    pub fn push_console_input(&mut self, bytes: &[u8]) {
        self.devices.push_console_input(bytes);
        self.update_all_irq_lines();
    }

    /// Switches every CPU between fast and detailed timing.
    pub fn set_timing_mode(&mut self, mode: TimingMode) {
        for cpu in &mut self.cpus {
            cpu.set_detailed_timing(mode == TimingMode::Detailed);
        }
        self.devices.simctl.set_mode(mode);
    }

    /// The current timing mode.
    pub fn timing_mode(&self) -> TimingMode {
        if self.cpus[0].detailed_timing() {
            TimingMode::Detailed
        } else {
            TimingMode::Fast
        }
    }

    /// Zeroes every statistic (a measured region starts now).
    pub fn reset_stats(&mut self) {
        self.region = None;
        self.instructions_before_reset = self.instructions();
        for cpu in &mut self.cpus {
            cpu.reset_stats();
        }
        self.devices.timing.reset_stats();
        self.devices.timing.counters_mut().reset_all();
    }

    /// Ends the measured region: keeps the statistics as they are now, for
    /// [`region_report`](Self::region_report).
    pub fn end_region(&mut self) {
        self.region = Some(Box::new(crate::report::report(self)));
    }

    /// The statistics at the end of the measured region, if the guest ended
    /// one since the last reset.
    pub fn region_report(&self) -> Option<&crate::report::Report> {
        self.region.as_deref()
    }

    /// Turns kernel-service attribution ([`crate::services`]) on or off on
    /// every CPU; the statistics report then lists the services. It
    /// changes no simulated time.
    pub fn set_service_tracking(&mut self, on: bool) {
        for cpu in &mut self.cpus {
            cpu.set_service_tracking(on);
        }
    }

    /// Prints every instruction of every CPU to stderr (very slow).
    pub fn set_trace_instructions(&mut self, on: bool) {
        for cpu in &mut self.cpus {
            cpu.trace_instructions = on;
        }
    }

    fn update_all_irq_lines(&mut self) {
        for (i, cpu) in self.cpus.iter_mut().enumerate() {
            cpu.set_irq_lines(self.devices.lines_for(i as u32));
        }
    }

    /// Runs for up to `cycles` simulated cycles. Returns `Some` when the
    /// simulation stopped for good.
    pub fn run_for(&mut self, cycles: u64) -> Option<Stop> {
        let end = self.now.saturating_add(cycles);
        while self.now < end {
            self.devices.advance_to(self.now);
            self.devices.service_virtio(&mut self.mem, self.now);
            let mut slice_end = end.min(self.now.saturating_add(self.quantum));
            if let Some(e) = self.devices.next_event() {
                slice_end = slice_end.min(e.max(self.now + 1));
            }
            for c in 0..self.cpus.len() {
                if self.powered[c] {
                    if let Some(stop) = self.run_cpu(c, slice_end) {
                        return Some(stop);
                    }
                }
            }
            self.now = slice_end;
            if self.all_stopped_for_good() {
                return Some(Stop::PowerOff);
            }
        }
        None
    }

    /// Runs CPU `c` (powered or not) until cycle `until`, a halt, a native
    /// trap or a stop request, and returns why it stopped: the primitive a
    /// monitor builds its own scheduling on. Does not move machine time
    /// ([`Machine::set_time`]).
    pub fn run_cpu_raw(&mut self, c: usize, until: u64) -> RunExit {
        self.devices.current_cpu = c as u32;
        let lines = self.devices.lines_for(c as u32);
        let cpu = &mut self.cpus[c];
        cpu.set_irq_lines(lines);
        cpu.run(&mut self.mem, &mut self.code, &mut self.devices, until)
    }

    /// Records that every CPU has reached cycle `now` (a monitor's slice
    /// ended) and lets the board's devices catch up.
    pub fn set_time(&mut self, now: u64) {
        self.now = self.now.max(now);
        self.devices.advance_to(self.now);
    }

    /// Powers CPU `c` on or off (for a monitor; a bare machine's CPUs are
    /// powered by the Cluster Power Controller).
    pub fn set_powered(&mut self, c: usize, on: bool) {
        if let Some(p) = self.powered.get_mut(c) {
            *p = on;
        }
    }

    /// Runs CPU `c` up to cycle `until`.
    fn run_cpu(&mut self, c: usize, until: u64) -> Option<Stop> {
        self.devices.current_cpu = c as u32;
        loop {
            let lines = self.devices.lines_for(c as u32);
            let cpu = &mut self.cpus[c];
            cpu.set_irq_lines(lines);
            match cpu.run(&mut self.mem, &mut self.code, &mut self.devices, until) {
                RunExit::Limit => return None,
                RunExit::Halted => {
                    if !cpu.can_be_woken() {
                        // Stopped for good unless another CPU resets it;
                        // let its time pass with the others'.
                        cpu.idle_until(until);
                        return None;
                    }
                    cpu.idle_until(until);
                    if cpu.cycles() >= until {
                        return None;
                    }
                }
                RunExit::Stop => {
                    match self.devices.exit.request() {
                        Some(ExitRequest::Exit(status)) => return Some(Stop::Exit(status)),
                        Some(ExitRequest::Reboot) => return Some(Stop::Reboot),
                        None => {}
                    }
                    if self.devices.virtio.0.iter().any(VirtioMmio::has_work) {
                        let at = self.cpus[c].cycles();
                        self.devices.service_virtio(&mut self.mem, at);
                    }
                    while let Some(req) = self.devices.simctl.take_request() {
                        match req {
                            SimRequest::SetMode(mode) => self.set_timing_mode(mode),
                            SimRequest::ResetStats => self.reset_stats(),
                            SimRequest::EndRegion => self.end_region(),
                        }
                    }
                    self.apply_cps_events(c);
                }
                RunExit::Wedged { vector, cause, epc } => {
                    return Some(Stop::Wedged {
                        cpu: c as u32,
                        vector,
                        cause,
                        epc,
                    })
                }
                RunExit::Trap(t) => {
                    // Bare machines deliver exceptions through the vectors;
                    // a native trap here means the CPU was misconfigured.
                    return Some(Stop::Wedged {
                        cpu: c as u32,
                        vector: t.pc,
                        cause: t.exception.code,
                        epc: t.pc,
                    });
                }
            }
        }
    }

    /// Starts and stops cores as the CPC (or GCR) asked while CPU `by` ran;
    /// a started core begins at the time of the request.
    fn apply_cps_events(&mut self, by: usize) {
        let Some(smp) = &mut self.devices.smp else {
            return;
        };
        let at = self.cpus[by].cycles();
        // Cores of a CPS count time from one reference clock: a core that
        // powers up sees the Count the others see (QEMU models it so too).
        // Linux's counter synchronisation then only fine-tunes.
        let count = self.cpus[by].count();
        for event in smp.cps.take_events() {
            match event {
                CpsEvent::StartCore { core, reset_pc } => {
                    let Some(slot) = self.cpus.get_mut(core as usize) else {
                        continue;
                    };
                    let mut cpu = new_cpu(core, true);
                    cpu.pc = reset_pc;
                    cpu.trace_instructions = slot.trace_instructions;
                    cpu.set_detailed_timing(slot.detailed_timing());
                    cpu.start_at(at, count);
                    *slot = cpu;
                    self.powered[core as usize] = true;
                    tracing::debug!(target: "machine::smp", "CPU {core} starts at {reset_pc:#x} (cycle {at})");
                }
                CpsEvent::StopCore { core } => {
                    if let Some(p) = self.powered.get_mut(core as usize) {
                        *p = false;
                    }
                }
            }
        }
    }

    /// Everything but RAM, for a checkpoint. Only valid between runs.
    pub(crate) fn save_state(&self) -> MachineState<'_> {
        MachineState {
            cpus: self.cpus.iter().map(Cpu::save_state).collect(),
            powered: self.powered.clone(),
            mem_bytes: self.mem.size(),
            devices: std::borrow::Cow::Borrowed(&self.devices),
            layout: self.layout,
            clock_hz: self.clock.hz(),
            quantum: self.quantum,
            now: self.now,
            instructions_before_reset: self.instructions_before_reset,
        }
    }

    /// A machine in the state `s` with RAM `mem`, after checking that every
    /// part fits the others (a checkpoint is untrusted input).
    pub(crate) fn from_state(s: MachineState<'_>, mem: PhysMem) -> Result<Machine, String> {
        let n = s.cpus.len();
        if n == 0 || n > MAX_CPUS as usize || s.powered.len() != n {
            return Err(format!("{n} CPUs, or a power state per CPU missing"));
        }
        if s.mem_bytes != mem.size() || s.clock_hz == 0 || s.quantum == 0 {
            return Err("memory size, clock or quantum is invalid".into());
        }
        if !(MIN_RAM..=MAX_RAM).contains(&s.mem_bytes) || !s.mem_bytes.is_multiple_of(4096) {
            return Err(format!("memory size {} is not supported", s.mem_bytes));
        }
        let mut cpus = Vec::with_capacity(n);
        for (i, state) in s.cpus.into_iter().enumerate() {
            if state.cpu_num as usize != i {
                return Err(format!("CPU {i} is saved as CPU {}", state.cpu_num));
            }
            cpus.push(Cpu::from_state(state).map_err(|e| e.to_string())?);
        }
        let clock = Clock::new(s.clock_hz);
        let devices = s.devices.into_owned().check_restored(n as u32, clock)?;
        Ok(Machine {
            cpus,
            powered: s.powered,
            mem,
            code: CodeCache::new(),
            devices,
            layout: s.layout,
            clock,
            quantum: s.quantum,
            now: s.now,
            instructions_before_reset: s.instructions_before_reset,
            region: None,
        })
    }

    /// True when every powered CPU is halted with no way to be woken.
    fn all_stopped_for_good(&self) -> bool {
        self.cpus
            .iter()
            .zip(&self.powered)
            .filter(|(_, p)| **p)
            .all(|(c, _)| c.is_halted() && !c.can_be_woken())
    }
}
