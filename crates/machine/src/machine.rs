//! The whole simulated computer: CPU, RAM, decoded-code cache and devices,
//! and the loop that advances them in simulated time.

use mips::{CodeCache, Cpu, ExcCode, MemError, PhysMem, RunExit};
use thiserror::Error;

use crate::board::Devices;
use crate::boot::{self, BootError, BootLayout};
use crate::clock::Clock;
use crate::exitdev::ExitRequest;
use crate::fdt::{BoardDescription, UartNode};
use crate::layout::{
    EXIT_BASE, MAX_RAM, MIN_RAM, RTC_BASE, RTC_IRQ, UART_BASE, UART_CLOCK_HZ, UART_IRQ,
};
use crate::uart::UART_WINDOW_SIZE;

/// Everything needed to build and boot a machine.
#[derive(Clone, Debug)]
pub struct MachineConfig {
    /// RAM size in bytes.
    pub mem_bytes: u64,
    /// CPU clock in Hz (CP0 Count runs at half of it).
    pub cpu_hz: u32,
    /// The kernel: an ELF64 little-endian MIPS executable.
    pub kernel: Vec<u8>,
    /// Optional initrd (initramfs) image.
    pub initrd: Option<Vec<u8>>,
    /// Kernel command line.
    pub bootargs: String,
    /// A shell command for the guest's init to run (`/chosen/disco,exec`).
    pub exec: Option<String>,
    /// Wall-clock time the RTC shows at simulated time zero, ns since 1970.
    /// Fixed by default so that runs are deterministic.
    pub rtc_epoch_ns: u64,
}

impl MachineConfig {
    /// Default CPU clock: 400 MHz, twice the R10000's as in the paper's SimOS setup.
    pub const DEFAULT_CPU_HZ: u32 = 400_000_000;
    /// Default RAM size: 512 MiB.
    pub const DEFAULT_MEM: u64 = 512 << 20;
    /// Default RTC epoch: 2026-01-01T00:00:00Z.
    pub const DEFAULT_RTC_EPOCH_NS: u64 = 1_767_225_600 * 1_000_000_000;
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
    /// RAM could not be allocated or is malformed.
    #[error(transparent)]
    Mem(#[from] MemError),
    /// Loading the kernel, initrd or device tree failed.
    #[error(transparent)]
    Boot(#[from] BootError),
}

/// Why the simulation stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The guest wrote its exit status to the exit device.
    Exit(u32),
    /// The guest asked to reboot (Linux's `reboot`, or `panic=` after a panic).
    Reboot,
    /// The guest halted with interrupts disabled: nothing can ever wake it
    /// (Linux's `poweroff`/`halt` end like this).
    PowerOff,
    /// The CPU cannot make progress (see [`RunExit::Wedged`]).
    Wedged {
        /// The exception vector that could not be fetched.
        vector: u64,
        /// The exception being delivered.
        cause: ExcCode,
        /// Where it happened.
        epc: u64,
    },
}

/// A complete simulated machine.
#[derive(Debug)]
pub struct Machine {
    /// The CPU.
    pub cpu: Cpu,
    /// RAM.
    pub mem: PhysMem,
    /// Decoded instructions.
    pub code: CodeCache,
    /// Devices.
    pub devices: Devices,
    /// Where the boot loader placed things.
    pub layout: BootLayout,
    clock: Clock,
}

impl Machine {
    /// Builds a machine, loads the kernel and initrd, and sets the CPU up to
    /// enter the kernel.
    pub fn new(config: &MachineConfig) -> Result<Self, MachineError> {
        let mb = |b: u64| b >> 20;
        if !(MIN_RAM..=MAX_RAM).contains(&config.mem_bytes) {
            return Err(MachineError::MemSize {
                size: mb(config.mem_bytes),
                min: mb(MIN_RAM),
                max: mb(MAX_RAM),
            });
        }
        let mut mem = PhysMem::new(config.mem_bytes)?;
        let clock = Clock::new(config.cpu_hz as u64);
        let mut chosen_extra = vec![("disco,exit-address".to_string(), format!("{EXIT_BASE:#x}"))];
        if let Some(cmd) = &config.exec {
            chosen_extra.push(("disco,exec".to_string(), cmd.clone()));
        }
        let desc = BoardDescription {
            model: "disco FLASH-like MIPS64 machine".to_string(),
            memory: vec![(0, config.mem_bytes)],
            cpus: 1,
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
        };
        let layout = boot::load(&mut mem, &config.kernel, config.initrd.as_deref(), desc)?;
        let mut cpu = Cpu::new(0);
        boot::uhi_handoff(&mut cpu, &layout);
        Ok(Machine {
            cpu,
            mem,
            code: CodeCache::new(),
            devices: Devices::new(clock, config.rtc_epoch_ns),
            layout,
            clock,
        })
    }

    /// The CPU clock.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Simulated cycles since power-on.
    pub fn cycles(&self) -> u64 {
        self.cpu.cycles()
    }

    /// Simulated nanoseconds since power-on.
    pub fn sim_ns(&self) -> u64 {
        self.clock.ns(self.cpu.cycles())
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
        self.devices.uart.push_input(bytes);
        self.cpu.set_irq_lines(self.devices.lines());
    }

    /// Runs for up to `cycles` simulated cycles. Returns `Some` when the
    /// simulation stopped for good.
    pub fn run_for(&mut self, cycles: u64) -> Option<Stop> {
        let end = self.cpu.cycles().saturating_add(cycles);
        loop {
            let now = self.cpu.cycles();
            if now >= end {
                return None;
            }
            self.devices.advance_to(now);
            self.cpu.set_irq_lines(self.devices.lines());
            let until = self
                .devices
                .next_event()
                .map_or(end, |e| e.clamp(now + 1, end));
            match self
                .cpu
                .run(&mut self.mem, &mut self.code, &mut self.devices, until)
            {
                RunExit::Limit => {}
                RunExit::Halted => {
                    if !self.cpu.can_be_woken() {
                        return Some(Stop::PowerOff);
                    }
                    self.cpu.idle_until(until);
                }
                RunExit::Stop => match self.devices.exit.request() {
                    Some(ExitRequest::Exit(status)) => return Some(Stop::Exit(status)),
                    Some(ExitRequest::Reboot) => return Some(Stop::Reboot),
                    None => {}
                },
                RunExit::Wedged { vector, cause, epc } => {
                    return Some(Stop::Wedged { vector, cause, epc })
                }
                RunExit::Trap(t) => {
                    // Bare machines deliver exceptions through the vectors;
                    // a native trap here means the CPU was misconfigured.
                    return Some(Stop::Wedged {
                        vector: t.pc,
                        cause: t.exception.code,
                        epc: t.pc,
                    });
                }
            }
        }
    }
}
