//! The board's device bus: decodes physical addresses in the device window,
//! forwards accesses to the device models and collects interrupt lines.
//!
//! On a multiprocessor the Coherence Manager, CPC and GIC are present; device
//! interrupt lines then feed GIC shared interrupts and each CPU's lines are
//! the GIC's pins for that CPU. On a uniprocessor device lines go straight to
//! CPU 0's interrupt inputs.

use mips::{Bus, BusError, PhysMem};

use crate::clock::Clock;
use crate::cps::{Cps, CpsConfigError, CpuMmioDevice, Gic, DEFAULT_SHARED_IRQS};
use crate::device::{DeviceError, MmioDevice};
use crate::exitdev::{ExitDevice, EXIT_DEVICE_WINDOW_SIZE};
use crate::layout::{
    virtio_irq, virtio_window, CPC_BASE, CPC_WINDOW, EXIT_BASE, GCR_BASE, GCR_WINDOW, GIC_BASE,
    GIC_WINDOW, RTC_BASE, RTC_IRQ, SIMCTL_BASE, UART_BASE, UART_IRQ,
};
use crate::rtc::{GoldfishRtc, RTC_WINDOW_SIZE};
use crate::simctl::{SimCtl, TimingMode, SIMCTL_WINDOW_SIZE};
use crate::timing::{self, MemSystem};
use crate::uart::{Uart, UART_WINDOW_SIZE};
use crate::virtio::VirtioMmio;

/// The multiprocessor's interrupt and power controllers.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct CpsDevices {
    /// Coherence Manager GCRs and Cluster Power Controller.
    pub cps: Cps,
    /// Global Interrupt Controller.
    pub gic: Gic,
}

/// One of the CPS register windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpsWindow {
    /// Coherence Manager global configuration registers.
    Gcr,
    /// Cluster Power Controller.
    Cpc,
    /// Global Interrupt Controller.
    Gic,
}

impl CpsDevices {
    /// The CPS devices of a `cpus`-CPU machine (or VM), in their reset
    /// state, at the board's addresses.
    pub fn new(cpus: u32) -> Result<Self, CpsConfigError> {
        Ok(CpsDevices {
            cps: Cps::new(cpus, GCR_BASE, CPC_BASE, GIC_BASE)?,
            gic: Gic::new(cpus, DEFAULT_SHARED_IRQS)?,
        })
    }

    /// The window physical address `pa` falls in, and the offset in it.
    pub fn decode(pa: u64) -> Option<(CpsWindow, u64)> {
        let windows = [
            (CpsWindow::Gcr, GCR_BASE, GCR_WINDOW),
            (CpsWindow::Cpc, CPC_BASE, CPC_WINDOW),
            (CpsWindow::Gic, GIC_BASE, GIC_WINDOW),
        ];
        windows.into_iter().find_map(|(w, base, size)| {
            pa.checked_sub(base)
                .filter(|off| *off < size)
                .map(|off| (w, off))
        })
    }

    /// Reads (`write` = `None`) or writes `size` bytes at offset `off` of
    /// `window` on behalf of CPU `cpu` at `now` (ns); a read returns the
    /// value, a write 0.
    pub fn access(
        &mut self,
        cpu: u32,
        window: CpsWindow,
        off: u64,
        size: u8,
        write: Option<u64>,
        now: u64,
    ) -> Result<u64, DeviceError> {
        match (window, write) {
            (CpsWindow::Gcr, Some(v)) => self.cps.gcr_write(cpu, off, size, v, now).map(|()| 0),
            (CpsWindow::Gcr, None) => self.cps.gcr_read(cpu, off, size, now),
            (CpsWindow::Cpc, Some(v)) => self.cps.cpc_write(cpu, off, size, v, now).map(|()| 0),
            (CpsWindow::Cpc, None) => self.cps.cpc_read(cpu, off, size, now),
            (CpsWindow::Gic, Some(v)) => self.gic.write(cpu, off, size, v, now).map(|()| 0),
            (CpsWindow::Gic, None) => self.gic.read(cpu, off, size, now),
        }
    }

    /// Feeds the board's device interrupt outputs into the GIC's shared
    /// interrupts: the UART's, the RTC's and virtio device `i`'s (in order).
    pub fn set_device_lines(&mut self, uart: bool, rtc: bool, virtio: impl Iterator<Item = bool>) {
        self.gic.set_shared_level(UART_IRQ, uart);
        self.gic.set_shared_level(RTC_IRQ, rtc);
        for (i, level) in virtio.enumerate() {
            self.gic.set_shared_level(virtio_irq(i, true), level);
        }
    }

    /// CPU `cpu`'s interrupt lines in Cause.IP layout: GIC pin p drives
    /// `Cause.IP(p + 2)`.
    pub fn lines_for(&self, cpu: u32) -> u8 {
        self.gic.cpu_pins(cpu) << 2
    }
}

/// The devices of one machine.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Devices {
    /// Console UART.
    pub uart: Uart,
    /// Exit/power device.
    pub exit: ExitDevice,
    /// Real-time clock.
    pub rtc: GoldfishRtc,
    /// Simulation control (timing mode, statistics).
    pub simctl: SimCtl,
    /// CPS devices, on a multiprocessor.
    pub smp: Option<CpsDevices>,
    /// The memory system's timing model (used in detailed timing mode).
    pub timing: MemSystem,
    /// Virtio devices (disks), at `VIRTIO_BASE + i * VIRTIO_STRIDE`.
    #[serde(skip)]
    pub virtio: VirtioDevices,
    /// The CPU whose accesses the bus is serving (the machine sets it before
    /// running each CPU).
    pub current_cpu: u32,
    clock: Clock,
}

/// The board's virtio devices. They hold open host files, so checkpoints
/// do not carry them ([`crate::checkpoint`] refuses a machine with disks)
/// and a clone has none.
#[derive(Debug, Default)]
pub struct VirtioDevices(pub Vec<VirtioMmio>);

impl Clone for VirtioDevices {
    /// An empty set: open disks cannot be duplicated (see the type's docs).
    fn clone(&self) -> Self {
        VirtioDevices::default()
    }
}

/// Which device a physical address selects.
enum Target {
    Virtio(usize),
    Uart,
    Exit,
    Rtc,
    SimCtl,
    Cps(CpsWindow),
}

impl Devices {
    /// The standard device set for `cpus` CPUs, with memory timing model
    /// `timing`. `rtc_epoch_ns` is the wall-clock time (ns since 1970) the
    /// RTC shows at simulated time zero.
    pub fn new(
        clock: Clock,
        rtc_epoch_ns: u64,
        cpus: u32,
        timing: MemSystem,
    ) -> Result<Self, CpsConfigError> {
        let smp = if cpus > 1 {
            Some(CpsDevices::new(cpus)?)
        } else {
            None
        };
        Ok(Devices {
            uart: Uart::new(),
            exit: ExitDevice::new(),
            rtc: GoldfishRtc::new(rtc_epoch_ns),
            simctl: SimCtl::new(TimingMode::Fast),
            smp,
            timing,
            virtio: VirtioDevices::default(),
            current_cpu: 0,
            clock,
        })
    }

    /// Checks devices restored from a checkpoint against the machine they
    /// belong to (`cpus` CPUs, `clock`): every model has the shape the
    /// machine would build. Returns the devices ready to use.
    pub fn check_restored(mut self, cpus: u32, clock: Clock) -> Result<Self, String> {
        self.uart.check_restored()?;
        if self.clock != clock || self.current_cpu >= cpus {
            return Err("devices belong to another machine".into());
        }
        match (&self.smp, cpus > 1) {
            (None, false) => {}
            (Some(smp), true) => {
                let fresh = CpsDevices::new(cpus).map_err(|e| e.to_string())?;
                if !smp.cps.has_shape_of(&fresh.cps) || !smp.gic.has_shape_of(&fresh.gic) {
                    return Err("CPS devices do not match the CPU count".into());
                }
            }
            _ => return Err("CPS devices do not match the CPU count".into()),
        }
        let nodes = self.timing.nodes();
        self.timing = self
            .timing
            .check_restored(cpus, nodes)
            .map_err(|e| e.to_string())?;
        Ok(self)
    }

    fn decode(&self, pa: u64) -> Option<(Target, u64)> {
        let within = |base: u64, size: u64| pa.checked_sub(base).filter(|off| *off < size);
        let simple = [
            (Target::Uart, UART_BASE, UART_WINDOW_SIZE),
            (Target::Exit, EXIT_BASE, EXIT_DEVICE_WINDOW_SIZE),
            (Target::Rtc, RTC_BASE, RTC_WINDOW_SIZE),
            (Target::SimCtl, SIMCTL_BASE, SIMCTL_WINDOW_SIZE),
        ];
        for (t, base, size) in simple {
            if let Some(off) = within(base, size) {
                return Some((t, off));
            }
        }
        if let Some((i, off)) = virtio_window(pa, self.virtio.0.len()) {
            return Some((Target::Virtio(i), off));
        }
        self.smp.as_ref()?;
        CpsDevices::decode(pa).map(|(w, off)| (Target::Cps(w), off))
    }

    fn device(&mut self, t: &Target) -> Option<&mut dyn MmioDevice> {
        Some(match t {
            Target::Uart => &mut self.uart,
            Target::Exit => &mut self.exit,
            Target::Rtc => &mut self.rtc,
            Target::SimCtl => &mut self.simctl,
            Target::Virtio(i) => self.virtio.0.get_mut(*i)?,
            _ => return None,
        })
    }

    fn access(
        &mut self,
        pa: u64,
        size: u8,
        write: Option<u64>,
        cycle: u64,
    ) -> Result<u64, BusError> {
        let now = self.clock.ns(cycle);
        let cpu = self.current_cpu;
        let (t, off) = self.decode(pa).ok_or(BusError)?;
        let r = if let Some(dev) = self.device(&t) {
            let r = match write {
                Some(v) => dev.write(off, size, v, now).map(|()| 0),
                None => dev.read(off, size, now),
            };
            tracing::trace!(target: "machine::dev", "{} {} +{off:#x} {write:x?} -> {r:x?}", dev.name(), size * 8);
            r
        } else {
            let (Some(smp), Target::Cps(window)) = (self.smp.as_mut(), t) else {
                return Err(BusError);
            };
            let r = smp.access(cpu, window, off, size, write, now);
            tracing::trace!(target: "machine::dev", "cps cpu{cpu} {pa:#x} {write:x?} -> {r:x?}");
            r
        };
        self.sync_gic_inputs();
        r.map_err(|_| BusError)
    }

    /// Feeds the device interrupt lines into the GIC (multiprocessor).
    fn sync_gic_inputs(&mut self) {
        let (uart, rtc) = (self.uart.irq_level(), self.rtc.irq_level());
        if let Some(smp) = &mut self.smp {
            smp.set_device_lines(uart, rtc, self.virtio.0.iter().map(VirtioMmio::irq_level));
        }
    }

    /// Serves the virtio devices at cycle `cycle`: requests of notified
    /// queues, and completions that are due (RAM is their DMA memory).
    pub fn service_virtio(&mut self, mem: &mut PhysMem, cycle: u64) {
        let now = self.clock.ns(cycle);
        for dev in &mut self.virtio.0 {
            dev.service(mem, now);
        }
        self.sync_gic_inputs();
    }

    /// Interrupt lines of CPU `cpu` in Cause.IP layout (bit n = IPn).
    pub fn lines_for(&self, cpu: u32) -> u8 {
        match &self.smp {
            Some(smp) => smp.lines_for(cpu),
            None if cpu == 0 => {
                let mut lines = 0u8;
                if self.uart.irq_level() {
                    lines |= 1 << UART_IRQ;
                }
                if self.rtc.irq_level() {
                    lines |= 1 << RTC_IRQ;
                }
                for (i, dev) in self.virtio.0.iter().enumerate() {
                    if dev.irq_level() {
                        lines |= 1 << virtio_irq(i, false);
                    }
                }
                lines
            }
            None => 0,
        }
    }

    /// Cycle of the next time-driven device event (RTC alarm), if any.
    pub fn next_event(&self) -> Option<u64> {
        let virtio = self.virtio.0.iter().filter_map(VirtioMmio::next_event_ns);
        let next = self.rtc.next_event_ns().into_iter().chain(virtio).min();
        next.map(|ns| self.clock.cycles(ns))
    }

    /// Lets time-driven devices catch up to cycle `cycle`.
    pub fn advance_to(&mut self, cycle: u64) {
        self.rtc.advance_to(self.clock.ns(cycle));
        self.sync_gic_inputs();
    }

    /// Types `bytes` on the console.
    pub fn push_console_input(&mut self, bytes: &[u8]) {
        self.uart.push_input(bytes);
        self.sync_gic_inputs();
    }
}

impl Bus for Devices {
    fn read(&mut self, pa: u64, size: u8, cycle: u64) -> Result<u64, BusError> {
        self.access(pa, size, None, cycle)
    }

    fn write(&mut self, pa: u64, size: u8, value: u64, cycle: u64) -> Result<(), BusError> {
        self.access(pa, size, Some(value), cycle).map(|_| ())
    }

    fn irq_lines(&mut self) -> u8 {
        self.lines_for(self.current_cpu)
    }

    fn mem_access(&mut self, pa: u64, kind: mips::Access, cycle: u64) -> u32 {
        let kind = match kind {
            mips::Access::Fetch => timing::Access::Fetch,
            mips::Access::Load => timing::Access::Load,
            mips::Access::Store => timing::Access::Store,
        };
        self.timing.access(self.current_cpu, pa, kind, cycle)
    }

    fn stop_requested(&self) -> bool {
        self.exit.request().is_some()
            || self.simctl.has_request()
            || self.virtio.0.iter().any(VirtioMmio::has_work)
            || self.smp.as_ref().is_some_and(|s| s.cps.has_events())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exitdev::ExitRequest;

    fn devices(cpus: u32) -> Devices {
        let timing = MemSystem::new(
            timing::TimingConfig::default(),
            (0..cpus).collect(),
            cpus,
            timing::HomeMap::Contiguous {
                node_bytes: 1 << 20,
            },
        );
        Devices::new(Clock::new(400_000_000), 0, cpus, timing).unwrap()
    }

    #[test]
    fn unmapped_addresses_are_bus_errors() {
        let mut d = devices(1);
        assert_eq!(d.read(UART_BASE - 1, 1, 0), Err(BusError));
        assert_eq!(d.read(UART_BASE + 0x800, 1, 0), Err(BusError));
        assert_eq!(d.write(0x1234, 4, 0, 0), Err(BusError));
        // No CPS devices on a uniprocessor.
        assert_eq!(d.read(GIC_BASE, 4, 0), Err(BusError));
    }

    #[test]
    fn uart_output_and_interrupt_line() {
        let mut d = devices(1);
        d.write(UART_BASE, 1, b'A' as u64, 0).unwrap();
        assert_eq!(d.uart.take_output(), b"A");
        assert_eq!(d.lines_for(0), 0);
        // Enable the transmitter-empty interrupt: line IP2 rises.
        d.write(UART_BASE + 1, 1, 0x02, 0).unwrap();
        assert_eq!(d.lines_for(0), 1 << UART_IRQ);
    }

    #[test]
    fn exit_register_requests_a_stop() {
        let mut d = devices(1);
        assert!(!d.stop_requested());
        d.write(EXIT_BASE, 4, 3, 0).unwrap();
        assert!(d.stop_requested());
        assert_eq!(d.exit.request(), Some(ExitRequest::Exit(3)));
    }

    #[test]
    fn rtc_reads_simulated_time() {
        let mut d = devices(1);
        // One simulated second is 400M cycles.
        let lo = d.read(RTC_BASE, 4, 400_000_000).unwrap();
        let hi = d.read(RTC_BASE + 4, 4, 400_000_000).unwrap();
        assert_eq!((hi << 32) | lo, 1_000_000_000);
    }

    #[test]
    fn multiprocessor_uart_interrupt_reaches_the_cpu_the_gic_routes_it_to() {
        let mut d = devices(4);
        d.current_cpu = 0;
        // GIC: shared interrupt UART_IRQ to pin 0 of VP 2, level high, enabled.
        let map_pin = 0x500 + 4 * UART_IRQ as u64;
        let map_vp = 0x2000 + 0x20 * UART_IRQ as u64;
        d.write(GIC_BASE + map_pin, 4, 0x8000_0000, 0).unwrap();
        d.write(GIC_BASE + map_vp, 4, 1 << 2, 0).unwrap();
        d.write(GIC_BASE + 0x380, 4, 1 << UART_IRQ, 0).unwrap(); // SMASK
        assert_eq!(d.lines_for(2), 0);
        d.write(UART_BASE + 1, 1, 0x02, 0).unwrap(); // THRE interrupt on
        assert_eq!(d.lines_for(2), 1 << 2, "IP2 of CPU 2");
        assert_eq!(d.lines_for(0), 0);
    }

    #[test]
    fn gcr_reports_the_cores_to_the_accessing_cpu() {
        let mut d = devices(4);
        d.current_cpu = 3;
        // GCR_CONFIG.PCORES = cores - 1; GCR_CL_ID = the accessing core.
        assert_eq!(d.read(GCR_BASE, 4, 0).unwrap() & 0xff, 3);
        assert_eq!(d.read(GCR_BASE + 0x2028, 4, 0).unwrap(), 3);
    }
}
