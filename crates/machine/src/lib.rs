//! The simulated machine: memory map, device models, boot, and the loop that
//! runs it all in simulated time.
//!
//! Devices implement [`MmioDevice`]: they see offsets inside their own
//! register window, take the simulated time with every access, expose a
//! level-triggered interrupt output and never panic on guest input. The
//! board ([`board::Devices`]) decodes the device window and implements the
//! CPU's [`mips::Bus`]. [`Machine`] owns CPU, RAM, code cache and devices and
//! boots a kernel with the UHI protocol ([`boot`]).

/// The board's device bus.
pub mod board;
/// Kernel loading and the UHI hand-off.
pub mod boot;
/// Machine checkpoints (save and restore the whole machine).
pub mod checkpoint;
/// Cycles and simulated time.
pub mod clock;
/// The MIPS Coherent Processing System: CM GCRs, CPC and GIC.
pub mod cps;
/// The memory-mapped device interface.
pub mod device;
/// ELF64 little-endian MIPS kernel parsing.
pub mod elf;
/// The simulation exit/power device (exit status, reboot).
pub mod exitdev;
/// The device tree handed to Linux.
pub mod fdt;
/// The physical memory map.
pub mod layout;
/// The whole machine and its run loop.
pub mod machine;
/// Statistics reports (table and JSON).
pub mod report;
/// The Goldfish real-time clock.
pub mod rtc;
/// Kernel-service attribution (the paper's Table 2) on the bare machine.
pub mod services;
/// The simulation-control device (timing mode, statistics).
pub mod simctl;
/// n64 system-call names (generated).
pub mod syscalls_n64;
/// The detailed memory-timing model: caches, coherence, NUMA latency, miss counters.
pub mod timing;
/// The NS16550A UART console.
pub mod uart;
/// Virtio devices on the virtio-mmio transport (block).
pub mod virtio;

pub use clock::Clock;
pub use device::{DeviceError, MmioDevice};
pub use elf::{kernel_virt_to_phys, parse_elf, ElfError, ElfImage, ElfSegment};
pub use exitdev::{ExitDevice, ExitRequest};
pub use fdt::{build_fdt, BoardDescription, CpsNodes, FdtError, UartNode};
pub use machine::{board_description, new_cpu, Machine, MachineConfig, MachineError, Stop};
pub use rtc::GoldfishRtc;
pub use uart::Uart;
