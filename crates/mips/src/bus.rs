//! The CPU's view of everything outside RAM.

/// A device access failed: no device at the address, or a size the device
/// does not accept. The CPU raises a bus error exception (IBE/DBE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BusError;

/// Physical address space beyond RAM (devices), and the interrupt lines.
///
/// The machine implements this; the CPU calls it only on its slow paths.
pub trait Bus {
    /// Reads `size` bytes (1, 2, 4 or 8) at physical address `pa`; `cycle`
    /// is the accessing CPU's cycle count (the simulated time of the access).
    fn read(&mut self, pa: u64, size: u8, cycle: u64) -> Result<u64, BusError>;
    /// Writes the low `size` bytes of `value` at physical address `pa`.
    fn write(&mut self, pa: u64, size: u8, value: u64, cycle: u64) -> Result<(), BusError>;
    /// Levels of hardware interrupt lines IP2..IP7, as bits 2..7 (Cause.IP
    /// layout). Called after every device access.
    fn irq_lines(&mut self) -> u8;
    /// True when a device asked to stop the simulation (e.g. the exit device).
    fn stop_requested(&self) -> bool {
        false
    }
    /// Detailed timing: the CPU accessed RAM at physical address `pa` (a
    /// fetch is reported once per 32-byte chunk of consecutive instructions)
    /// at cycle `cycle`; returns the stall cycles the memory system adds.
    /// Only called while the CPU is in detailed timing mode.
    fn mem_access(&mut self, pa: u64, kind: crate::mmu::Access, cycle: u64) -> u32 {
        let _ = (pa, kind, cycle);
        0
    }
}

/// A bus with no devices: every access is a bus error, no interrupts. Useful
/// for tests that only run code in RAM.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoDevices;

impl Bus for NoDevices {
    fn read(&mut self, _pa: u64, _size: u8, _cycle: u64) -> Result<u64, BusError> {
        Err(BusError)
    }
    fn write(&mut self, _pa: u64, _size: u8, _value: u64, _cycle: u64) -> Result<(), BusError> {
        Err(BusError)
    }
    fn irq_lines(&mut self) -> u8 {
        0
    }
}
