//! The interface between the board's bus and a memory-mapped device model.
//!
//! A device sees offsets within its own window only: the board decodes the
//! physical address, subtracts the window base and calls [`MmioDevice::read`]
//! or [`MmioDevice::write`]. Every access carries the simulated time so that
//! devices with a notion of time (the RTC) need no clock of their own and the
//! simulation stays deterministic.
//!
//! Register accesses come from the guest, so an implementation must accept
//! *any* offset, size and value without panicking: what it does not support
//! it answers with [`DeviceError`], which the CPU turns into a bus error.

use thiserror::Error;

/// Error for an access a device does not accept (bad offset or size); the CPU
/// turns it into a bus error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("device does not accept this access (bad offset or size)")]
pub struct DeviceError;

/// A memory-mapped device. It sees offsets within its own window only.
pub trait MmioDevice {
    /// Reads `size` bytes (1, 2, 4 or 8) at `offset`; `now_ns` is the
    /// simulated time in nanoseconds.
    fn read(&mut self, offset: u64, size: u8, now_ns: u64) -> Result<u64, DeviceError>;

    /// Writes the low `size` bytes of `value` at `offset`.
    fn write(&mut self, offset: u64, size: u8, value: u64, now_ns: u64) -> Result<(), DeviceError>;

    /// Level of the device's interrupt output (level-triggered, active high).
    fn irq_level(&self) -> bool {
        false
    }

    /// Short name for traces ("uart", "exit", "rtc").
    fn name(&self) -> &'static str;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device that only implements the required methods.
    struct Minimal;

    impl MmioDevice for Minimal {
        fn read(&mut self, _offset: u64, _size: u8, _now_ns: u64) -> Result<u64, DeviceError> {
            Err(DeviceError)
        }
        fn write(
            &mut self,
            _offset: u64,
            _size: u8,
            _value: u64,
            _now: u64,
        ) -> Result<(), DeviceError> {
            Err(DeviceError)
        }
        fn name(&self) -> &'static str {
            "minimal"
        }
    }

    #[test]
    fn irq_level_defaults_to_low() {
        assert!(!Minimal.irq_level());
    }

    #[test]
    fn device_is_usable_as_a_trait_object() {
        let mut dev: Box<dyn MmioDevice> = Box::new(Minimal);
        assert_eq!(dev.read(0, 4, 0), Err(DeviceError));
        assert_eq!(dev.name(), "minimal");
    }

    #[test]
    fn device_error_displays_a_message() {
        assert!(DeviceError.to_string().contains("bad offset or size"));
    }
}
