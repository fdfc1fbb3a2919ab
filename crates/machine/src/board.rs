//! The board's device bus: decodes physical addresses in the device window,
//! forwards accesses to the device models and collects interrupt lines.

use mips::{Bus, BusError};

use crate::clock::Clock;
use crate::device::MmioDevice;
use crate::exitdev::{ExitDevice, EXIT_DEVICE_WINDOW_SIZE};
use crate::layout::{EXIT_BASE, RTC_BASE, RTC_IRQ, SIMCTL_BASE, UART_BASE, UART_IRQ};
use crate::rtc::{GoldfishRtc, RTC_WINDOW_SIZE};
use crate::simctl::{SimCtl, TimingMode, SIMCTL_WINDOW_SIZE};
use crate::uart::{Uart, UART_WINDOW_SIZE};

/// The devices of one machine.
#[derive(Debug)]
pub struct Devices {
    /// Console UART.
    pub uart: Uart,
    /// Exit/power device.
    pub exit: ExitDevice,
    /// Real-time clock.
    pub rtc: GoldfishRtc,
    /// Simulation control (timing mode, statistics).
    pub simctl: SimCtl,
    /// The CPU whose accesses the bus is serving (the machine sets it before
    /// running each CPU).
    pub current_cpu: u32,
    clock: Clock,
}

/// Which device a physical address selects, and the offset within it.
enum Target {
    Uart,
    Exit,
    Rtc,
    SimCtl,
}

impl Devices {
    /// The standard device set. `rtc_epoch_ns` is the wall-clock time (ns since
    /// 1970) the RTC shows at simulated time zero.
    pub fn new(clock: Clock, rtc_epoch_ns: u64) -> Self {
        Devices {
            uart: Uart::new(),
            exit: ExitDevice::new(),
            rtc: GoldfishRtc::new(rtc_epoch_ns),
            simctl: SimCtl::new(TimingMode::Fast),
            current_cpu: 0,
            clock,
        }
    }

    fn decode(pa: u64) -> Option<(Target, u64)> {
        let within = |base: u64, size: u64| pa.checked_sub(base).filter(|off| *off < size);
        if let Some(off) = within(UART_BASE, UART_WINDOW_SIZE) {
            return Some((Target::Uart, off));
        }
        if let Some(off) = within(EXIT_BASE, EXIT_DEVICE_WINDOW_SIZE) {
            return Some((Target::Exit, off));
        }
        if let Some(off) = within(RTC_BASE, RTC_WINDOW_SIZE) {
            return Some((Target::Rtc, off));
        }
        within(SIMCTL_BASE, SIMCTL_WINDOW_SIZE).map(|off| (Target::SimCtl, off))
    }

    fn device(&mut self, t: Target) -> &mut dyn MmioDevice {
        match t {
            Target::Uart => &mut self.uart,
            Target::Exit => &mut self.exit,
            Target::Rtc => &mut self.rtc,
            Target::SimCtl => &mut self.simctl,
        }
    }

    /// Interrupt lines of CPU `cpu` in Cause.IP layout (bit n = IPn).
    pub fn lines_for(&self, cpu: u32) -> u8 {
        if cpu == 0 {
            self.lines()
        } else {
            0
        }
    }

    /// Interrupt lines in Cause.IP layout (bit n = IPn).
    pub fn lines(&self) -> u8 {
        let mut lines = 0u8;
        if self.uart.irq_level() {
            lines |= 1 << UART_IRQ;
        }
        if self.rtc.irq_level() {
            lines |= 1 << RTC_IRQ;
        }
        lines
    }

    /// Cycle of the next time-driven device event (RTC alarm), if any.
    pub fn next_event(&self) -> Option<u64> {
        self.rtc.next_event_ns().map(|ns| self.clock.cycles(ns))
    }

    /// Lets time-driven devices catch up to cycle `cycle`.
    pub fn advance_to(&mut self, cycle: u64) {
        self.rtc.advance_to(self.clock.ns(cycle));
    }
}

impl Bus for Devices {
    fn read(&mut self, pa: u64, size: u8, cycle: u64) -> Result<u64, BusError> {
        let now = self.clock.ns(cycle);
        let (t, off) = Self::decode(pa).ok_or(BusError)?;
        let dev = self.device(t);
        let r = dev.read(off, size, now).map_err(|_| BusError);
        tracing::trace!(target: "machine::dev", "{} read{} +{:#x} -> {:x?}", dev.name(), size * 8, off, r);
        r
    }

    fn write(&mut self, pa: u64, size: u8, value: u64, cycle: u64) -> Result<(), BusError> {
        let now = self.clock.ns(cycle);
        let (t, off) = Self::decode(pa).ok_or(BusError)?;
        let dev = self.device(t);
        tracing::trace!(target: "machine::dev", "{} write{} +{:#x} <- {:#x}", dev.name(), size * 8, off, value);
        dev.write(off, size, value, now).map_err(|_| BusError)
    }

    fn irq_lines(&mut self) -> u8 {
        self.lines_for(self.current_cpu)
    }

    fn stop_requested(&self) -> bool {
        self.exit.request().is_some() || self.simctl.has_request()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exitdev::ExitRequest;

    fn devices() -> Devices {
        Devices::new(Clock::new(400_000_000), 0)
    }

    #[test]
    fn unmapped_addresses_are_bus_errors() {
        let mut d = devices();
        assert_eq!(d.read(UART_BASE - 1, 1, 0), Err(BusError));
        assert_eq!(d.read(UART_BASE + 0x800, 1, 0), Err(BusError));
        assert_eq!(d.write(0x1234, 4, 0, 0), Err(BusError));
    }

    #[test]
    fn uart_output_and_interrupt_line() {
        let mut d = devices();
        d.write(UART_BASE, 1, b'A' as u64, 0).unwrap();
        assert_eq!(d.uart.take_output(), b"A");
        assert_eq!(d.lines(), 0);
        // Enable the transmitter-empty interrupt: line IP2 rises.
        d.write(UART_BASE + 1, 1, 0x02, 0).unwrap();
        assert_eq!(d.lines(), 1 << UART_IRQ);
    }

    #[test]
    fn exit_register_requests_a_stop() {
        let mut d = devices();
        assert!(!d.stop_requested());
        d.write(EXIT_BASE, 4, 3, 0).unwrap();
        assert!(d.stop_requested());
        assert_eq!(d.exit.request(), Some(ExitRequest::Exit(3)));
    }

    #[test]
    fn rtc_reads_simulated_time() {
        let mut d = devices();
        // One simulated second is 400M cycles.
        let lo = d.read(RTC_BASE, 4, 400_000_000).unwrap();
        let hi = d.read(RTC_BASE + 4, 4, 400_000_000).unwrap();
        assert_eq!((hi << 32) | lo, 1_000_000_000);
    }
}
