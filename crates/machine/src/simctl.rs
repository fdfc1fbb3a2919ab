//! The simulation-control device (disco-specific): lets guest software switch
//! the machine between fast and detailed timing and reset the statistics, so
//! that a boot in fast mode can be followed by a measured region in detailed
//! mode, as SimOS allowed.
//!
//! A 4 KiB window of 32-bit little-endian registers:
//!
//! | offset | register | access |
//! |---|---|---|
//! | `0x00` | `MODE`: 0 = fast, 1 = detailed | read: current mode; write: switch |
//! | `0x04` | `COMMAND`: 1 = reset statistics, 2 = end the measured region | write |
//! | `0x08` | `MAGIC`: `0x4d495344` ("DSIM") | read |
//!
//! From a guest shell: `devmem 0xf0003000 32 1` switches to detailed timing.
//! Ending the measured region (COMMAND 2) keeps a copy of the statistics
//! as they are at that moment: reports show that copy, so what the guest
//! does afterwards (checking results, powering off) is not counted.
//! Requests take effect when the CPU that wrote them finishes its current
//! block (the machine polls [`SimCtl::take_request`]).

use crate::device::{DeviceError, MmioDevice};

/// Size of the register window.
pub const SIMCTL_WINDOW_SIZE: u64 = 0x1000;
/// Value of the MAGIC register ("DSIM" little-endian).
pub const SIMCTL_MAGIC: u32 = 0x4d49_5344;

const MODE: u64 = 0x00;
const COMMAND: u64 = 0x04;
const MAGIC: u64 = 0x08;
const COMMAND_RESET_STATS: u64 = 1;
const COMMAND_END_REGION: u64 = 2;

/// The machine's timing mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TimingMode {
    /// Functional: one cycle per instruction.
    Fast,
    /// Caches, coherence and NUMA memory latency modelled.
    Detailed,
}

/// A request from guest software to the simulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SimRequest {
    /// Switch timing mode.
    SetMode(TimingMode),
    /// Reset all statistics.
    ResetStats,
    /// End the measured region: keep the statistics as they are now.
    EndRegion,
}

/// The device.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct SimCtl {
    detailed: bool,
    pending: Vec<SimRequest>,
}

impl SimCtl {
    /// A device reporting `mode` as current.
    pub fn new(mode: TimingMode) -> Self {
        SimCtl {
            detailed: mode == TimingMode::Detailed,
            pending: Vec::new(),
        }
    }

    /// Records the mode the machine is in (read back by the guest).
    pub fn set_mode(&mut self, mode: TimingMode) {
        self.detailed = mode == TimingMode::Detailed;
    }

    /// True when requests are waiting.
    pub fn has_request(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Takes the oldest pending request.
    pub fn take_request(&mut self) -> Option<SimRequest> {
        (!self.pending.is_empty()).then(|| self.pending.remove(0))
    }
}

impl MmioDevice for SimCtl {
    fn read(&mut self, offset: u64, size: u8, _now_ns: u64) -> Result<u64, DeviceError> {
        if size != 4 || !offset.is_multiple_of(4) || offset >= SIMCTL_WINDOW_SIZE {
            return Err(DeviceError);
        }
        Ok(match offset {
            MODE => self.detailed as u64,
            MAGIC => SIMCTL_MAGIC as u64,
            _ => 0,
        })
    }

    fn write(
        &mut self,
        offset: u64,
        size: u8,
        value: u64,
        _now_ns: u64,
    ) -> Result<(), DeviceError> {
        if size != 4 || !offset.is_multiple_of(4) || offset >= SIMCTL_WINDOW_SIZE {
            return Err(DeviceError);
        }
        let value = value & 0xffff_ffff;
        match (offset, value) {
            (MODE, 0) => self.pending.push(SimRequest::SetMode(TimingMode::Fast)),
            (MODE, 1) => self.pending.push(SimRequest::SetMode(TimingMode::Detailed)),
            (COMMAND, COMMAND_RESET_STATS) => self.pending.push(SimRequest::ResetStats),
            (COMMAND, COMMAND_END_REGION) => self.pending.push(SimRequest::EndRegion),
            // Unknown values and registers are ignored.
            _ => {}
        }
        Ok(())
    }

    fn name(&self) -> &'static str {
        "simctl"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_writes_become_requests_and_reads_show_the_current_mode() {
        let mut d = SimCtl::new(TimingMode::Fast);
        assert_eq!(d.read(MODE, 4, 0), Ok(0));
        d.write(MODE, 4, 1, 0).unwrap();
        assert_eq!(
            d.take_request(),
            Some(SimRequest::SetMode(TimingMode::Detailed))
        );
        assert_eq!(d.take_request(), None);
        d.set_mode(TimingMode::Detailed);
        assert_eq!(d.read(MODE, 4, 0), Ok(1));
    }

    #[test]
    fn reset_command_and_magic() {
        let mut d = SimCtl::new(TimingMode::Fast);
        d.write(COMMAND, 4, 1, 0).unwrap();
        assert_eq!(d.take_request(), Some(SimRequest::ResetStats));
        assert_eq!(d.read(MAGIC, 4, 0), Ok(SIMCTL_MAGIC as u64));
    }

    #[test]
    fn bad_accesses_are_errors_and_unknown_values_ignored() {
        let mut d = SimCtl::new(TimingMode::Fast);
        assert_eq!(d.read(MODE, 1, 0), Err(DeviceError));
        assert_eq!(d.write(2, 4, 1, 0), Err(DeviceError));
        assert_eq!(d.write(0x2000, 4, 1, 0), Err(DeviceError));
        d.write(MODE, 4, 7, 0).unwrap();
        assert!(!d.has_request());
    }
}
