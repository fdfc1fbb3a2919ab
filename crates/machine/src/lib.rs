//! The simulated machine: device models and boot helpers.
//!
//! Devices implement [`MmioDevice`]: they see offsets inside their own
//! register window, take the simulated time with every access, expose a
//! level-triggered interrupt output and never panic on guest input. The
//! board (memory map, bus dispatch, event loop) wires them to the CPU.
//!
//! Boot helpers prepare what the UHI boot protocol hands to Linux: the
//! kernel's loadable segments ([`parse_elf`]) and the device tree
//! ([`build_fdt`]).

/// The memory-mapped device interface.
pub mod device;
/// ELF64 little-endian MIPS kernel parsing.
pub mod elf;
/// The simulation exit/power device (exit status, reboot).
pub mod exitdev;
/// The device tree handed to Linux.
pub mod fdt;
/// The Goldfish real-time clock.
pub mod rtc;
/// The NS16550A UART console.
pub mod uart;

pub use device::{DeviceError, MmioDevice};
pub use elf::{kernel_virt_to_phys, parse_elf, ElfError, ElfImage, ElfSegment};
pub use exitdev::{ExitDevice, ExitRequest};
pub use fdt::{build_fdt, BoardDescription, FdtError, UartNode};
pub use rtc::GoldfishRtc;
pub use uart::Uart;
