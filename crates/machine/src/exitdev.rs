//! The simulation exit/power device (disco-specific).
//!
//! A 4 KiB window of 32-bit little-endian registers through which guest
//! software ends the simulation or asks for a reboot:
//!
//! | offset | name  | access | meaning |
//! |--------|-------|--------|---------|
//! | 0x00 | EXIT  | write | end the simulation with exit status V (reads 0) |
//! | 0x04 | RESET | write | writing 1 requests a reboot; other values are ignored (reads 0) |
//! | 0x08 | MAGIC | read  | the constant [`EXIT_DEVICE_MAGIC`](crate::exitdev::EXIT_DEVICE_MAGIC) ("DSCO"), writes ignored |
//!
//! Linux reboots through it with the `syscon-reboot` driver (the device tree
//! describes this device as a `syscon` and adds a `syscon-reboot` node with
//! `offset = <4>; value = <1>;`); that driver reads RESET before writing it,
//! so RESET reads as 0.
//!
//! Accesses must be 4 bytes wide and 4-byte aligned inside the window. Other
//! aligned words of the window read as zero and ignore writes, so that a
//! regmap register dump cannot fault; anything else is a [`DeviceError`].
//!
//! The first request is kept (later writes do not replace it) until the board
//! calls [`ExitDevice::clear_request`]; the device itself does nothing else.

use tracing::{debug, trace};

use crate::device::{DeviceError, MmioDevice};

/// Size of the register window in bytes.
pub const EXIT_DEVICE_WINDOW_SIZE: u64 = 0x1000;

/// Value of the MAGIC register: "DSCO" in little-endian byte order.
pub const EXIT_DEVICE_MAGIC: u32 = 0x4f43_5344;

/// Offset of the EXIT register.
pub const EXIT_REG: u64 = 0x00;
/// Offset of the RESET register (the `syscon-reboot` `offset`).
pub const RESET_REG: u64 = 0x04;
/// Offset of the MAGIC register.
pub const MAGIC_REG: u64 = 0x08;
/// Value the guest writes to RESET to reboot (the `syscon-reboot` `value`).
pub const RESET_VALUE: u32 = 1;

/// What the guest asked the simulation to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ExitRequest {
    /// End the simulation with this exit status. A Unix process exit status
    /// carries only the low 8 bits; the caller decides what to do with the
    /// rest.
    Exit(u32),
    /// Reboot the machine.
    Reboot,
}

/// The exit/power device (see the module documentation for the registers).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ExitDevice {
    request: Option<ExitRequest>,
}

impl ExitDevice {
    /// A device with no pending request.
    pub fn new() -> Self {
        Self::default()
    }

    /// The guest's first request since creation or the last
    /// [`ExitDevice::clear_request`], if any.
    pub fn request(&self) -> Option<ExitRequest> {
        self.request
    }

    /// Forgets the pending request (e.g. once the board has rebooted).
    pub fn clear_request(&mut self) {
        self.request = None;
    }

    fn set_request(&mut self, request: ExitRequest) {
        if self.request.is_none() {
            debug!(target: "machine::exit", ?request, "guest request");
            self.request = Some(request);
        }
    }
}

/// Checks an access: a 4-byte aligned word inside the window.
fn check_access(offset: u64, size: u8) -> Result<(), DeviceError> {
    if size != 4 || offset & 3 != 0 || offset >= EXIT_DEVICE_WINDOW_SIZE {
        trace!(target: "machine::exit", offset, size, "rejected access");
        return Err(DeviceError);
    }
    Ok(())
}

impl MmioDevice for ExitDevice {
    fn read(&mut self, offset: u64, size: u8, _now_ns: u64) -> Result<u64, DeviceError> {
        check_access(offset, size)?;
        Ok(match offset {
            MAGIC_REG => u64::from(EXIT_DEVICE_MAGIC),
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
        check_access(offset, size)?;
        // The access is 4 bytes wide: only the low 32 bits are written.
        let value = value as u32;
        match offset {
            EXIT_REG => self.set_request(ExitRequest::Exit(value)),
            RESET_REG if value == RESET_VALUE => self.set_request(ExitRequest::Reboot),
            _ => trace!(target: "machine::exit", offset, value, "write ignored"),
        }
        Ok(())
    }

    fn name(&self) -> &'static str {
        "exit"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_device_has_no_request_and_no_interrupt() {
        let dev = ExitDevice::new();
        assert_eq!(dev.request(), None);
        assert!(!dev.irq_level());
        assert_eq!(dev.name(), "exit");
    }

    #[test]
    fn magic_reads_dsco() {
        let mut dev = ExitDevice::new();
        let magic = dev.read(MAGIC_REG, 4, 0).expect("MAGIC read");
        assert_eq!(magic, 0x4f43_5344);
        assert_eq!(
            &u32::try_from(magic).expect("32-bit").to_le_bytes(),
            b"DSCO"
        );
    }

    #[test]
    fn exit_write_requests_exit_with_the_full_value() {
        let mut dev = ExitDevice::new();
        dev.write(EXIT_REG, 4, 0x1234_5678, 0).expect("EXIT write");
        assert_eq!(dev.request(), Some(ExitRequest::Exit(0x1234_5678)));
    }

    #[test]
    fn exit_zero_is_a_request_too() {
        let mut dev = ExitDevice::new();
        dev.write(EXIT_REG, 4, 0, 0).expect("EXIT write");
        assert_eq!(dev.request(), Some(ExitRequest::Exit(0)));
    }

    #[test]
    fn exit_value_keeps_only_the_accessed_bits() {
        let mut dev = ExitDevice::new();
        dev.write(EXIT_REG, 4, 0xffff_ffff_0000_0003, 0)
            .expect("EXIT write");
        assert_eq!(dev.request(), Some(ExitRequest::Exit(3)));
    }

    #[test]
    fn syscon_reboot_sequence_requests_reboot() {
        // regmap_update_bits(offset 4, mask 0xffffffff, value 1): read, then write.
        let mut dev = ExitDevice::new();
        assert_eq!(dev.read(RESET_REG, 4, 0), Ok(0));
        dev.write(RESET_REG, 4, 1, 0).expect("RESET write");
        assert_eq!(dev.request(), Some(ExitRequest::Reboot));
    }

    #[test]
    fn reset_with_another_value_is_ignored() {
        let mut dev = ExitDevice::new();
        dev.write(RESET_REG, 4, 2, 0).expect("RESET write");
        assert_eq!(dev.request(), None);
    }

    #[test]
    fn exit_and_reset_read_as_zero() {
        let mut dev = ExitDevice::new();
        dev.write(EXIT_REG, 4, 7, 0).expect("EXIT write");
        assert_eq!(dev.read(EXIT_REG, 4, 0), Ok(0));
        assert_eq!(dev.read(RESET_REG, 4, 0), Ok(0));
    }

    #[test]
    fn first_request_wins_until_cleared() {
        let mut dev = ExitDevice::new();
        dev.write(RESET_REG, 4, 1, 0).expect("RESET write");
        dev.write(EXIT_REG, 4, 9, 0).expect("EXIT write");
        assert_eq!(dev.request(), Some(ExitRequest::Reboot));
        dev.clear_request();
        assert_eq!(dev.request(), None);
        dev.write(EXIT_REG, 4, 9, 0).expect("EXIT write");
        assert_eq!(dev.request(), Some(ExitRequest::Exit(9)));
    }

    #[test]
    fn unassigned_words_read_zero_and_ignore_writes() {
        let mut dev = ExitDevice::new();
        assert_eq!(dev.read(0xffc, 4, 0), Ok(0));
        dev.write(0x0c, 4, 1, 0)
            .expect("write to an unassigned word");
        assert_eq!(dev.request(), None);
    }

    #[test]
    fn bad_offsets_and_sizes_are_device_errors() {
        let mut dev = ExitDevice::new();
        for size in [0, 1, 2, 3, 8] {
            assert_eq!(dev.read(0, size, 0), Err(DeviceError), "size {size}");
            assert_eq!(dev.write(0, size, 1, 0), Err(DeviceError), "size {size}");
        }
        for offset in [1, 2, 6, 0x1000, u64::MAX] {
            assert_eq!(
                dev.read(offset, 4, 0),
                Err(DeviceError),
                "offset {offset:#x}"
            );
            assert_eq!(
                dev.write(offset, 4, 1, 0),
                Err(DeviceError),
                "offset {offset:#x}"
            );
        }
        assert_eq!(dev.request(), None, "rejected writes have no effect");
    }
}
