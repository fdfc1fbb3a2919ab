//! The physical memory map of the simulated machine.
//!
//! RAM starts at 0. Devices live in one window far above any RAM size we
//! support, so RAM is never split by an I/O hole; Linux reaches them through
//! XKPHYS uncached addresses. Interrupt lines are CPU interrupt lines
//! (Cause.IP2..IP6) described to Linux by the `mti,cpu-interrupt-controller`.

/// Start of the device window (64 GiB).
pub const DEVICE_BASE: u64 = 0x10_0000_0000;
/// Largest RAM size: RAM must end below the device window.
pub const MAX_RAM: u64 = DEVICE_BASE;
/// Smallest RAM size that fits the Debian kernel, its relocation (KASLR) and
/// an initrd placed at [`INITRD_BASE`].
pub const MIN_RAM: u64 = 128 << 20;

/// NS16550A console UART.
pub const UART_BASE: u64 = DEVICE_BASE;
/// The UART's CPU interrupt line.
pub const UART_IRQ: u32 = 2;
/// UART input clock (the classic 1.8432 MHz crystal).
pub const UART_CLOCK_HZ: u32 = 1_843_200;
/// Exit/power device (exit status, reboot).
pub const EXIT_BASE: u64 = DEVICE_BASE + 0x1000;
/// Goldfish real-time clock.
pub const RTC_BASE: u64 = DEVICE_BASE + 0x2000;
/// The RTC's CPU interrupt line.
pub const RTC_IRQ: u32 = 3;

/// Where the initrd is loaded: above everything the Debian kernel's
/// self-relocation (KASLR) may overwrite (it reaches about 53 MiB).
pub const INITRD_BASE: u64 = 0x0400_0000;
