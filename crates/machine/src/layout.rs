//! The physical memory map of the simulated machine.
//!
//! RAM starts at 0. Devices live in one window just below 4 GiB, above any
//! RAM size we support. The window must be below 4 GiB: Linux 6.1 insists
//! that the Coherence Manager's L2-only sync region, which by default follows
//! the GCRs, fits 32-bit address fields (`mips_cm_probe_l2sync()` BUGs
//! otherwise). Linux reaches every device through XKPHYS uncached addresses.
//!
//! Interrupts: on a uniprocessor machine (no Coherence Manager) device lines
//! are CPU interrupt lines (Cause.IP2..IP6) described by the
//! `mti,cpu-interrupt-controller`; on a multiprocessor they are GIC shared
//! interrupts routed by Linux to a CPU's IP2. The CP0 timer is on IP7.

/// Start of the device window (3.75 GiB).
pub const DEVICE_BASE: u64 = 0xf000_0000;
/// Largest RAM size: RAM must end below the device window.
pub const MAX_RAM: u64 = DEVICE_BASE;
/// Smallest RAM size that fits the Debian kernel, its relocation (KASLR) and
/// an initrd placed at [`INITRD_BASE`].
pub const MIN_RAM: u64 = 128 << 20;

/// NS16550A console UART.
pub const UART_BASE: u64 = DEVICE_BASE;
/// The UART's interrupt: CPU line (uniprocessor) or GIC shared interrupt.
pub const UART_IRQ: u32 = 2;
/// UART input clock (the classic 1.8432 MHz crystal).
pub const UART_CLOCK_HZ: u32 = 1_843_200;
/// Exit/power device (exit status, reboot).
pub const EXIT_BASE: u64 = DEVICE_BASE + 0x1000;
/// Goldfish real-time clock.
pub const RTC_BASE: u64 = DEVICE_BASE + 0x2000;
/// The RTC's interrupt: CPU line (uniprocessor) or GIC shared interrupt.
pub const RTC_IRQ: u32 = 3;
/// Simulation-control device (timing mode switch, statistics).
pub const SIMCTL_BASE: u64 = DEVICE_BASE + 0x3000;

/// First virtio-mmio device window; device `i` is at
/// `VIRTIO_BASE + i * VIRTIO_STRIDE`.
pub const VIRTIO_BASE: u64 = DEVICE_BASE + 0x1_0000;
/// Distance between virtio-mmio windows.
pub const VIRTIO_STRIDE: u64 = 0x1000;
/// Most virtio devices a machine (or VM) has.
pub const MAX_VIRTIO: usize = 8;

/// The virtio device (index, offset in its window) at physical address
/// `pa`, on a board with `count` virtio devices.
pub fn virtio_window(pa: u64, count: usize) -> Option<(usize, u64)> {
    let off = pa.checked_sub(VIRTIO_BASE)?;
    let (i, within) = (off / VIRTIO_STRIDE, off % VIRTIO_STRIDE);
    (i < count as u64 && within < crate::virtio::VIRTIO_WINDOW_SIZE).then_some((i as usize, within))
}

/// Interrupt of virtio device `i`: on a uniprocessor the CPU lines 4 to 6,
/// shared round-robin (the virtio-mmio driver takes its line shared); on a
/// multiprocessor its own GIC shared interrupt from 8 up.
pub fn virtio_irq(i: usize, gic: bool) -> u32 {
    if gic {
        8 + i as u32
    } else {
        4 + (i % 3) as u32
    }
}

/// Coherence Manager global configuration registers (32 KiB). Linux 6.1
/// maps no L2-only sync page after them: the CM reports that region
/// disabled.
pub const GCR_BASE: u64 = DEVICE_BASE + 0x10_0000;
/// Size of the GCR window (the registers only).
pub const GCR_WINDOW: u64 = 0x8000;
/// Global Interrupt Controller (128 KiB, 128 KiB aligned).
pub const GIC_BASE: u64 = DEVICE_BASE + 0x12_0000;
/// Size of the GIC window.
pub const GIC_WINDOW: u64 = 0x2_0000;
/// Cluster Power Controller (32 KiB, 32 KiB aligned).
pub const CPC_BASE: u64 = DEVICE_BASE + 0x20_0000;
/// Size of the CPC window.
pub const CPC_WINDOW: u64 = 0x8000;

/// Where the initrd is loaded: above everything the Debian kernel's
/// self-relocation (KASLR) may overwrite (it reaches about 53 MiB).
pub const INITRD_BASE: u64 = 0x0400_0000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtio_windows_decode_only_present_devices_and_register_space() {
        assert_eq!(virtio_window(VIRTIO_BASE, 2), Some((0, 0)));
        assert_eq!(
            virtio_window(VIRTIO_BASE + VIRTIO_STRIDE + 0x1fc, 2),
            Some((1, 0x1fc))
        );
        assert_eq!(
            virtio_window(VIRTIO_BASE + 0x200, 2),
            None,
            "gap after a window"
        );
        assert_eq!(
            virtio_window(VIRTIO_BASE + 2 * VIRTIO_STRIDE, 2),
            None,
            "no third device"
        );
        assert_eq!(virtio_window(VIRTIO_BASE - 4, 2), None);
    }
}
