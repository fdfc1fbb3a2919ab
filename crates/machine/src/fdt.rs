//! The flattened device tree the loader hands to Linux (UHI boot: `a0 = -2`,
//! `a1` = the tree's address).
//!
//! [`build_fdt`] turns a [`BoardDescription`] into a DTB for the stock Debian
//! MIPS "generic" kernel, following `linux-mips-generic-platform.md` §3:
//!
//! * `/` — `#address-cells`/`#size-cells`, `compatible`, `model`, and
//!   `interrupt-parent` pointing at the CPU interrupt controller;
//! * `/chosen` — `bootargs` (the kernel's only command-line source),
//!   `stdout-path = "serial0:115200n8"` (with a UART), the initrd range,
//!   `kaslr-seed`, and any extra string properties;
//! * `/aliases` — `serial0` (with a UART; ttyS0 takes its number from it);
//! * `/cpus/cpu@N` — `device_type = "cpu"`, `compatible = "mti,mips64r2"`,
//!   `reg = <N>`, `clocks = <&cpuclk>`;
//! * `/cpu-clock` — the `fixed-clock` at the CPU frequency (Linux runs CP0
//!   Count at half of it; without this clock the kernel has no timer);
//! * `/memory@BASE` — one per RAM range, `device_type = "memory"`;
//! * `/interrupt-controller` — `mti,cpu-interrupt-controller`, one cell per
//!   interrupt: the CPU interrupt line, 2 to 6 for devices (0 and 1 are the
//!   software interrupts, 7 the CP0 timer);
//! * `/serial@BASE` — `ns16550a`, `reg-shift = <0>`, `clock-frequency`,
//!   `interrupts`;
//! * `/power@BASE` — the exit device as `"disco,power", "syscon"`, plus
//!   `/reboot` — `syscon-reboot` writing 1 at offset 4;
//! * `/rtc@BASE` — `google,goldfish-rtc`.
//! * `/virtio@BASE` — `virtio,mmio`, one per virtio device.
//!
//! # Cell sizes
//!
//! The root `#address-cells` and `#size-cells` are both 1 when every base
//! address and every size in the tree fits in 32 bits (the layout of the
//! known-good QEMU reference tree), and both 2 otherwise. Linux handles both.
//! The initrd properties in `/chosen` are read by length, so they are written
//! as 32-bit values when both fit, else as 64-bit values.
//!
//! # Validation
//!
//! The description is checked before anything is written, each problem
//! reported as one [`FdtError`]: no RAM, empty or wrapping ranges,
//! overlapping RAM ranges or device windows, CPU count and clock, interrupt
//! lines outside 2..=6, a UART and RTC sharing a line (the goldfish driver
//! requests its interrupt unshared), a misaligned or misplaced initrd, bad
//! `/chosen` property names and NUL bytes in strings.

use std::collections::BTreeSet;

use thiserror::Error;
use vm_fdt::FdtWriter;

use crate::exitdev::{EXIT_DEVICE_WINDOW_SIZE, RESET_REG, RESET_VALUE};
use crate::rtc::RTC_WINDOW_SIZE;
use crate::uart::UART_WINDOW_SIZE;
use crate::virtio::VIRTIO_WINDOW_SIZE;

/// Most CPUs a description may have (the Debian kernel supports 16; more
/// `cpu@N` nodes are ignored by it, not harmful).
pub const MAX_CPUS: u32 = 256;

/// Lowest CPU interrupt line a device may use (0 and 1 are software
/// interrupts).
pub const FIRST_DEVICE_IRQ: u32 = 2;
/// Highest CPU interrupt line a device may use (7 is the CP0 timer).
pub const LAST_DEVICE_IRQ: u32 = 6;

/// Root `compatible` string. The generic kernel boots with any value.
pub const BOARD_COMPATIBLE: &str = "disco,mips64r2-machine";

/// Initrd start alignment Linux requires (`init_initrd()` rejects others).
const INITRD_ALIGN: u64 = 0x1000;

/// Longest property name the device-tree specification allows.
const PROPERTY_NAME_MAX_LEN: usize = 31;

/// Phandles of the nodes other nodes refer to.
mod phandle {
    pub const CPU_INTC: u32 = 1;
    pub const CPU_CLOCK: u32 = 2;
    pub const POWER: u32 = 3;
    pub const GIC: u32 = 4;
}

/// `/chosen` properties the builder writes itself.
const RESERVED_CHOSEN: [&str; 7] = [
    "bootargs",
    "stdout-path",
    "linux,initrd-start",
    "linux,initrd-end",
    "kaslr-seed",
    "name",
    "phandle",
];

/// The console UART as the device tree describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UartNode {
    /// Physical base address of the register window.
    pub base: u64,
    /// Size of the register window in bytes (at least 8).
    pub size: u64,
    /// CPU interrupt line, 2..=6.
    pub irq: u32,
    /// Input clock in Hz (1843200 for the classic 16550 crystal).
    pub clock_hz: u32,
}

/// The Coherent Processing System nodes of a multiprocessor: with them,
/// device interrupts are GIC shared interrupts (`<0 N 4>`: shared, level
/// high) instead of CPU interrupt lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpsNodes {
    /// GIC register window (base, size): `mti,gic`.
    pub gic: (u64, u64),
    /// CPC register window (base, size): `mti,mips-cpc`.
    pub cpc: (u64, u64),
}

/// Highest GIC shared interrupt a device may use (the top ones are left for
/// the IPIs Linux allocates: two per CPU out of 64).
pub const LAST_GIC_DEVICE_IRQ: u32 = 31;

/// Everything the device tree says about the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardDescription {
    /// Root `model`, e.g. "disco FLASH-like MIPS64 machine".
    pub model: String,
    /// RAM ranges as (physical base, size).
    pub memory: Vec<(u64, u64)>,
    /// Number of CPUs: nodes `cpu@0` to `cpu@{cpus-1}`.
    pub cpus: u32,
    /// Frequency of the fixed clock feeding the CPUs (Linux derives the CP0
    /// Count rate, half of it, from `cpu@0`'s clock).
    pub cpu_clock_hz: u32,
    /// Kernel command line (`/chosen/bootargs`).
    pub bootargs: String,
    /// Initrd as (physical start, physical end), end exclusive.
    pub initrd: Option<(u64, u64)>,
    /// The console UART, if any.
    pub uart: Option<UartNode>,
    /// Base address of the exit/power device, if any (adds the `syscon` and
    /// `syscon-reboot` nodes).
    pub exit_device: Option<u64>,
    /// Goldfish RTC as (base address, CPU interrupt line), if any.
    pub rtc: Option<(u64, u32)>,
    /// Extra string properties for `/chosen` (e.g. "disco,exec" → command).
    pub chosen_extra: Vec<(String, String)>,
    /// `/chosen/kaslr-seed`, if any.
    pub kaslr_seed: Option<u64>,
    /// CPS (GIC and CPC) for a multiprocessor; `None` on a uniprocessor.
    pub cps: Option<CpsNodes>,
    /// Virtio-mmio devices as (base address, interrupt); several may share
    /// an interrupt (the driver requests it shared).
    pub virtio: Vec<(u64, u32)>,
}

/// Why a device tree could not be built.
#[derive(Debug, Error)]
pub enum FdtError {
    /// The description has no RAM.
    #[error("the board has no memory: at least one RAM range is needed")]
    NoMemory,
    /// A RAM range or device window has size 0.
    #[error("{region} at {base:#x} has size 0")]
    EmptyRegion {
        /// Which region ("memory range", "uart window").
        region: &'static str,
        /// Its base address.
        base: u64,
    },
    /// A RAM range or device window runs past the end of the address space.
    #[error("{region} {base:#x}+{size:#x} extends past the 64-bit address space")]
    RegionOverflow {
        /// Which region.
        region: &'static str,
        /// Its base address.
        base: u64,
        /// Its size.
        size: u64,
    },
    /// Two RAM ranges or device windows overlap.
    #[error("{first} {first_base:#x}+{first_size:#x} overlaps {second} {second_base:#x}+{second_size:#x}")]
    Overlap {
        /// The region that starts first.
        first: &'static str,
        /// Its base address.
        first_base: u64,
        /// Its size.
        first_size: u64,
        /// The region that starts inside it.
        second: &'static str,
        /// Its base address.
        second_base: u64,
        /// Its size.
        second_size: u64,
    },
    /// The description has no CPU.
    #[error("the board needs at least one CPU")]
    NoCpus,
    /// More CPUs than [`MAX_CPUS`].
    #[error("{0} CPUs requested; at most {MAX_CPUS} are supported")]
    TooManyCpus(u32),
    /// The CPU clock frequency is 0.
    #[error("the CPU clock frequency must not be 0 (Linux derives its timer from it)")]
    ZeroCpuClock,
    /// A device interrupt line outside 2..=6.
    #[error("{device} interrupt line {irq} is invalid: devices use CPU interrupt lines {FIRST_DEVICE_IRQ} to {LAST_DEVICE_IRQ}")]
    BadIrq {
        /// The device ("uart", "rtc").
        device: &'static str,
        /// The line asked for.
        irq: u32,
    },
    /// The UART and the RTC were given the same interrupt line.
    #[error("the uart and the rtc cannot share interrupt line {0}: the goldfish RTC driver requests its interrupt unshared")]
    SharedRtcIrq(u32),
    /// A virtio device was given the UART's or the RTC's interrupt line.
    #[error("a virtio device cannot share interrupt line {0} with the uart or the rtc")]
    SharedVirtioIrq(u32),
    /// The UART clock frequency is 0.
    #[error("the uart clock frequency must not be 0 (the 8250 driver needs it)")]
    ZeroUartClock,
    /// The UART window cannot hold the eight 16550 registers.
    #[error("the uart window is {0:#x} bytes; the eight 16550 registers need at least 8")]
    UartWindowTooSmall(u64),
    /// The initrd range is empty or reversed.
    #[error("initrd range {start:#x}..{end:#x} is empty or reversed")]
    EmptyInitrd {
        /// Start address.
        start: u64,
        /// End address (exclusive).
        end: u64,
    },
    /// The initrd does not start on a page boundary.
    #[error("initrd start {0:#x} is not 4 KiB aligned (Linux ignores such an initrd)")]
    UnalignedInitrd(u64),
    /// The initrd is not inside one RAM range.
    #[error("initrd {start:#x}..{end:#x} is not inside one RAM range")]
    InitrdOutsideMemory {
        /// Start address.
        start: u64,
        /// End address (exclusive).
        end: u64,
    },
    /// An extra `/chosen` property has an invalid name.
    #[error("/chosen property name {0:?} is invalid: use 1 to 31 of 0-9 a-z A-Z , . _ + ? # -")]
    BadPropertyName(String),
    /// An extra `/chosen` property is given twice or clashes with one the
    /// builder writes.
    #[error("/chosen property {0:?} is given twice or clashes with one the builder writes")]
    DuplicateProperty(String),
    /// A string value contains a NUL byte.
    #[error("{0} contains a NUL byte")]
    NulInString(String),
    /// The device-tree writer refused the tree (should not happen once the
    /// description is validated).
    #[error("device-tree writer failed")]
    Writer(#[from] vm_fdt::Error),
}

/// A physical address range with a name for error messages.
#[derive(Debug, Clone, Copy)]
struct Region {
    name: &'static str,
    base: u64,
    size: u64,
}

impl Region {
    fn end(&self) -> u64 {
        // Validated not to overflow before use.
        self.base.saturating_add(self.size)
    }

    fn fits_32_bits(&self) -> bool {
        self.base <= u64::from(u32::MAX) && self.size <= u64::from(u32::MAX)
    }
}

/// Builds the device tree blob for `desc`.
pub fn build_fdt(desc: &BoardDescription) -> Result<Vec<u8>, FdtError> {
    let regions = validate(desc)?;
    let cells = if regions.iter().all(Region::fits_32_bits) {
        1
    } else {
        2
    };
    Writer {
        fdt: FdtWriter::new()?,
        cells,
        gic: false,
    }
    .write(desc)
}

/// Checks `desc`; returns every physical region (RAM and device windows).
fn validate(desc: &BoardDescription) -> Result<Vec<Region>, FdtError> {
    if desc.memory.is_empty() {
        return Err(FdtError::NoMemory);
    }
    if desc.cpus == 0 {
        return Err(FdtError::NoCpus);
    }
    if desc.cpus > MAX_CPUS {
        return Err(FdtError::TooManyCpus(desc.cpus));
    }
    if desc.cpu_clock_hz == 0 {
        return Err(FdtError::ZeroCpuClock);
    }
    check_string("model", &desc.model)?;
    check_string("bootargs", &desc.bootargs)?;

    let mut regions: Vec<Region> = desc
        .memory
        .iter()
        .map(|&(base, size)| Region {
            name: "memory range",
            base,
            size,
        })
        .collect();
    let check_irq = |device: &'static str, irq: u32| check_irq(device, irq, desc.cps.is_some());
    if let Some(uart) = &desc.uart {
        check_irq("uart", uart.irq)?;
        if uart.clock_hz == 0 {
            return Err(FdtError::ZeroUartClock);
        }
        if uart.size != 0 && uart.size < UART_WINDOW_SIZE {
            return Err(FdtError::UartWindowTooSmall(uart.size));
        }
        regions.push(Region {
            name: "uart window",
            base: uart.base,
            size: uart.size,
        });
    }
    if let Some(base) = desc.exit_device {
        regions.push(Region {
            name: "exit device window",
            base,
            size: EXIT_DEVICE_WINDOW_SIZE,
        });
    }
    if let Some((base, irq)) = desc.rtc {
        check_irq("rtc", irq)?;
        if desc.uart.is_some_and(|uart| uart.irq == irq) {
            return Err(FdtError::SharedRtcIrq(irq));
        }
        regions.push(Region {
            name: "rtc window",
            base,
            size: RTC_WINDOW_SIZE,
        });
    }
    for &(base, irq) in &desc.virtio {
        check_irq("virtio", irq)?;
        if desc.uart.is_some_and(|uart| uart.irq == irq)
            || desc.rtc.is_some_and(|(_, rtc)| rtc == irq)
        {
            return Err(FdtError::SharedVirtioIrq(irq));
        }
        regions.push(Region {
            name: "virtio window",
            base,
            size: VIRTIO_WINDOW_SIZE,
        });
    }
    if let Some(cps) = &desc.cps {
        regions.push(Region {
            name: "gic window",
            base: cps.gic.0,
            size: cps.gic.1,
        });
        regions.push(Region {
            name: "cpc window",
            base: cps.cpc.0,
            size: cps.cpc.1,
        });
    }
    check_regions(&regions)?;
    if let Some((start, end)) = desc.initrd {
        check_initrd(start, end, &desc.memory)?;
    }
    check_chosen_extra(&desc.chosen_extra)?;
    Ok(regions)
}

fn check_string(what: &str, value: &str) -> Result<(), FdtError> {
    if value.contains('\0') {
        return Err(FdtError::NulInString(what.to_string()));
    }
    Ok(())
}

fn check_irq(device: &'static str, irq: u32, gic: bool) -> Result<(), FdtError> {
    let valid = if gic {
        irq <= LAST_GIC_DEVICE_IRQ
    } else {
        (FIRST_DEVICE_IRQ..=LAST_DEVICE_IRQ).contains(&irq)
    };
    if !valid {
        return Err(FdtError::BadIrq { device, irq });
    }
    Ok(())
}

/// Every region non-empty, inside the address space, and no two overlapping.
fn check_regions(regions: &[Region]) -> Result<(), FdtError> {
    for region in regions {
        if region.size == 0 {
            return Err(FdtError::EmptyRegion {
                region: region.name,
                base: region.base,
            });
        }
        if region.base.checked_add(region.size).is_none() {
            return Err(FdtError::RegionOverflow {
                region: region.name,
                base: region.base,
                size: region.size,
            });
        }
    }
    let mut sorted = regions.to_vec();
    sorted.sort_by_key(|region| (region.base, region.size));
    // Comparing each region with the one reaching furthest so far finds any
    // overlap.
    let mut furthest: Option<Region> = None;
    for region in sorted {
        if let Some(previous) = furthest {
            if region.base < previous.end() {
                return Err(FdtError::Overlap {
                    first: previous.name,
                    first_base: previous.base,
                    first_size: previous.size,
                    second: region.name,
                    second_base: region.base,
                    second_size: region.size,
                });
            }
        }
        if furthest.is_none_or(|previous| region.end() > previous.end()) {
            furthest = Some(region);
        }
    }
    Ok(())
}

fn check_initrd(start: u64, end: u64, memory: &[(u64, u64)]) -> Result<(), FdtError> {
    if end <= start {
        return Err(FdtError::EmptyInitrd { start, end });
    }
    if start & (INITRD_ALIGN - 1) != 0 {
        return Err(FdtError::UnalignedInitrd(start));
    }
    // Memory ranges are validated not to overflow before this runs.
    let inside = memory
        .iter()
        .any(|&(base, size)| start >= base && end <= base.saturating_add(size));
    if !inside {
        return Err(FdtError::InitrdOutsideMemory { start, end });
    }
    Ok(())
}

fn check_chosen_extra(extra: &[(String, String)]) -> Result<(), FdtError> {
    let mut seen = BTreeSet::new();
    for (name, value) in extra {
        let valid_char = |c: char| c.is_ascii_alphanumeric() || ",._+?#-".contains(c);
        if name.is_empty() || name.len() > PROPERTY_NAME_MAX_LEN || !name.chars().all(valid_char) {
            return Err(FdtError::BadPropertyName(name.clone()));
        }
        if RESERVED_CHOSEN.contains(&name.as_str()) || !seen.insert(name.as_str()) {
            return Err(FdtError::DuplicateProperty(name.clone()));
        }
        check_string(&format!("/chosen/{name}"), value)?;
    }
    Ok(())
}

/// Writes a validated description.
struct Writer {
    fdt: FdtWriter,
    /// Root `#address-cells` and `#size-cells` (1 or 2).
    cells: u32,
    /// Device interrupts go to the GIC (3 cells) rather than the CPU (1).
    gic: bool,
}

impl Writer {
    fn write(mut self, desc: &BoardDescription) -> Result<Vec<u8>, FdtError> {
        let root = self.fdt.begin_node("")?;
        self.fdt.property_u32("#address-cells", self.cells)?;
        self.fdt.property_u32("#size-cells", self.cells)?;
        self.fdt.property_string("compatible", BOARD_COMPATIBLE)?;
        self.fdt.property_string("model", &desc.model)?;
        let parent = if desc.cps.is_some() {
            phandle::GIC
        } else {
            phandle::CPU_INTC
        };
        self.fdt.property_u32("interrupt-parent", parent)?;
        self.gic = desc.cps.is_some();

        self.chosen(desc)?;
        if let Some(uart) = &desc.uart {
            let aliases = self.fdt.begin_node("aliases")?;
            self.fdt
                .property_string("serial0", &format!("/{}", uart_node_name(uart)))?;
            self.fdt.end_node(aliases)?;
        }
        self.cpus(desc)?;
        for &(base, size) in &desc.memory {
            let memory = self.fdt.begin_node(&format!("memory@{base:x}"))?;
            self.fdt.property_string("device_type", "memory")?;
            self.reg(base, size)?;
            self.fdt.end_node(memory)?;
        }
        match &desc.cps {
            Some(cps) => self.cps(cps)?,
            // With a GIC there is no CPU interrupt-controller node: it would
            // inherit the GIC as parent and be initialised after the GIC,
            // whose chained handler needs the CPU's IRQ domain first. Linux
            // then registers the CPU controller itself (as on Boston).
            None => self.interrupt_controller()?,
        }
        if let Some(uart) = &desc.uart {
            self.uart(uart)?;
        }
        if let Some(base) = desc.exit_device {
            self.power(base)?;
        }
        if let Some((base, irq)) = desc.rtc {
            let rtc = self.fdt.begin_node(&format!("rtc@{base:x}"))?;
            self.fdt
                .property_string("compatible", "google,goldfish-rtc")?;
            self.reg(base, RTC_WINDOW_SIZE)?;
            self.interrupts(irq)?;
            self.fdt.end_node(rtc)?;
        }
        for &(base, irq) in &desc.virtio {
            let node = self.fdt.begin_node(&format!("virtio@{base:x}"))?;
            self.fdt.property_string("compatible", "virtio,mmio")?;
            self.reg(base, VIRTIO_WINDOW_SIZE)?;
            self.interrupts(irq)?;
            self.fdt.end_node(node)?;
        }
        self.fdt.end_node(root)?;
        Ok(self.fdt.finish()?)
    }

    /// A `reg` property with the root's cell sizes.
    fn reg(&mut self, base: u64, size: u64) -> Result<(), FdtError> {
        if self.cells == 1 {
            // Validated: every base and size fits when cells == 1.
            self.fdt
                .property_array_u32("reg", &[base as u32, size as u32])?;
        } else {
            self.fdt.property_array_u64("reg", &[base, size])?;
        }
        Ok(())
    }

    fn chosen(&mut self, desc: &BoardDescription) -> Result<(), FdtError> {
        let chosen = self.fdt.begin_node("chosen")?;
        self.fdt.property_string("bootargs", &desc.bootargs)?;
        if desc.uart.is_some() {
            self.fdt
                .property_string("stdout-path", "serial0:115200n8")?;
        }
        if let Some((start, end)) = desc.initrd {
            match (u32::try_from(start), u32::try_from(end)) {
                (Ok(start), Ok(end)) => {
                    self.fdt.property_u32("linux,initrd-start", start)?;
                    self.fdt.property_u32("linux,initrd-end", end)?;
                }
                _ => {
                    self.fdt.property_u64("linux,initrd-start", start)?;
                    self.fdt.property_u64("linux,initrd-end", end)?;
                }
            }
        }
        if let Some(seed) = desc.kaslr_seed {
            self.fdt.property_u64("kaslr-seed", seed)?;
        }
        for (name, value) in &desc.chosen_extra {
            self.fdt.property_string(name, value)?;
        }
        self.fdt.end_node(chosen)?;
        Ok(())
    }

    fn cpus(&mut self, desc: &BoardDescription) -> Result<(), FdtError> {
        let cpus = self.fdt.begin_node("cpus")?;
        self.fdt.property_u32("#address-cells", 1)?;
        self.fdt.property_u32("#size-cells", 0)?;
        for n in 0..desc.cpus {
            let cpu = self.fdt.begin_node(&format!("cpu@{n:x}"))?;
            self.fdt.property_string("device_type", "cpu")?;
            self.fdt.property_string("compatible", "mti,mips64r2")?;
            self.fdt.property_u32("reg", n)?;
            self.fdt.property_u32("clocks", phandle::CPU_CLOCK)?;
            self.fdt.end_node(cpu)?;
        }
        self.fdt.end_node(cpus)?;

        let clock = self.fdt.begin_node("cpu-clock")?;
        self.fdt.property_string("compatible", "fixed-clock")?;
        self.fdt.property_u32("#clock-cells", 0)?;
        self.fdt
            .property_u32("clock-frequency", desc.cpu_clock_hz)?;
        self.fdt.property_phandle(phandle::CPU_CLOCK)?;
        self.fdt.end_node(clock)?;
        Ok(())
    }

    /// A device's `interrupts`: a CPU line, or a level-high GIC shared interrupt.
    fn interrupts(&mut self, irq: u32) -> Result<(), FdtError> {
        if self.gic {
            self.fdt.property_array_u32("interrupts", &[0, irq, 4])?;
        } else {
            self.fdt.property_u32("interrupts", irq)?;
        }
        Ok(())
    }

    fn cps(&mut self, cps: &CpsNodes) -> Result<(), FdtError> {
        let (base, size) = cps.gic;
        let gic = self
            .fdt
            .begin_node(&format!("interrupt-controller@{base:x}"))?;
        self.fdt.property_string("compatible", "mti,gic")?;
        self.reg(base, size)?;
        self.fdt.property_null("interrupt-controller")?;
        self.fdt.property_u32("#interrupt-cells", 3)?;
        self.fdt.property_phandle(phandle::GIC)?;
        self.fdt.end_node(gic)?;
        let (base, size) = cps.cpc;
        let cpc = self.fdt.begin_node(&format!("cpc@{base:x}"))?;
        self.fdt.property_string("compatible", "mti,mips-cpc")?;
        self.reg(base, size)?;
        self.fdt.end_node(cpc)?;
        Ok(())
    }

    fn interrupt_controller(&mut self) -> Result<(), FdtError> {
        let intc = self.fdt.begin_node("interrupt-controller")?;
        self.fdt
            .property_string("compatible", "mti,cpu-interrupt-controller")?;
        self.fdt.property_null("interrupt-controller")?;
        self.fdt.property_u32("#interrupt-cells", 1)?;
        self.fdt.property_u32("#address-cells", 0)?;
        self.fdt.property_phandle(phandle::CPU_INTC)?;
        self.fdt.end_node(intc)?;
        Ok(())
    }

    fn uart(&mut self, uart: &UartNode) -> Result<(), FdtError> {
        let node = self.fdt.begin_node(&uart_node_name(uart))?;
        self.fdt.property_string("compatible", "ns16550a")?;
        self.reg(uart.base, uart.size)?;
        self.fdt.property_u32("reg-shift", 0)?;
        self.fdt.property_u32("clock-frequency", uart.clock_hz)?;
        self.interrupts(uart.irq)?;
        self.fdt.end_node(node)?;
        Ok(())
    }

    fn power(&mut self, base: u64) -> Result<(), FdtError> {
        let power = self.fdt.begin_node(&format!("power@{base:x}"))?;
        self.fdt
            .property_string_list("compatible", vec!["disco,power".into(), "syscon".into()])?;
        self.reg(base, EXIT_DEVICE_WINDOW_SIZE)?;
        self.fdt.property_phandle(phandle::POWER)?;
        self.fdt.end_node(power)?;

        let reboot = self.fdt.begin_node("reboot")?;
        self.fdt.property_string("compatible", "syscon-reboot")?;
        self.fdt.property_u32("regmap", phandle::POWER)?;
        // Offset and value are tiny constants; the casts cannot truncate.
        self.fdt.property_u32("offset", RESET_REG as u32)?;
        self.fdt.property_u32("value", RESET_VALUE)?;
        self.fdt.property_u32("mask", u32::MAX)?;
        self.fdt.end_node(reboot)?;
        Ok(())
    }
}

fn uart_node_name(uart: &UartNode) -> String {
    format!("serial@{:x}", uart.base)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// A parsed device tree: node path → property name → raw value.
    #[derive(Debug)]
    struct Tree {
        nodes: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    }

    fn be32(bytes: &[u8], at: usize) -> u32 {
        let word: [u8; 4] = bytes
            .get(at..at + 4)
            .and_then(|s| s.try_into().ok())
            .unwrap_or_else(|| panic!("DTB truncated at {at:#x}"));
        u32::from_be_bytes(word)
    }

    fn c_string(bytes: &[u8], at: usize) -> String {
        let tail = &bytes[at..];
        let len = tail
            .iter()
            .position(|&b| b == 0)
            .expect("NUL-terminated string");
        String::from_utf8(tail[..len].to_vec()).expect("UTF-8 string")
    }

    /// A small FDT reader, enough to check what the builder wrote.
    fn parse(dtb: &[u8]) -> Tree {
        assert_eq!(be32(dtb, 0), 0xd00d_feed, "FDT magic");
        assert_eq!(be32(dtb, 4) as usize, dtb.len(), "totalsize");
        let struct_off = be32(dtb, 8) as usize;
        let strings_off = be32(dtb, 12) as usize;
        assert_eq!(be32(dtb, 20), 17, "version");
        assert_eq!(be32(dtb, 24), 16, "last compatible version");
        let mut nodes = BTreeMap::new();
        let mut path: Vec<String> = Vec::new();
        let mut at = struct_off;
        let join = |path: &[String]| {
            if path.len() <= 1 {
                "/".to_string()
            } else {
                path[1..]
                    .iter()
                    .map(|p| format!("/{p}"))
                    .collect::<String>()
            }
        };
        loop {
            let token = be32(dtb, at);
            at += 4;
            match token {
                1 => {
                    let name = c_string(dtb, at);
                    at += (name.len() + 1).next_multiple_of(4);
                    path.push(name);
                    let previous = nodes.insert(join(&path), BTreeMap::new());
                    assert!(previous.is_none(), "duplicate node {}", join(&path));
                }
                2 => {
                    path.pop().expect("END_NODE without BEGIN_NODE");
                }
                3 => {
                    let len = be32(dtb, at) as usize;
                    let name = c_string(dtb, strings_off + be32(dtb, at + 4) as usize);
                    let value = dtb[at + 8..at + 8 + len].to_vec();
                    at += 8 + len.next_multiple_of(4);
                    let props = nodes.get_mut(&join(&path)).expect("property inside a node");
                    assert!(
                        props.insert(name.clone(), value).is_none(),
                        "duplicate {name}"
                    );
                }
                4 => {}
                9 => break,
                other => panic!("unknown FDT token {other:#x} at {at:#x}"),
            }
        }
        assert!(path.is_empty(), "unclosed nodes");
        Tree { nodes }
    }

    impl Tree {
        fn has(&self, path: &str) -> bool {
            self.nodes.contains_key(path)
        }

        fn raw(&self, path: &str, name: &str) -> &[u8] {
            self.nodes
                .get(path)
                .unwrap_or_else(|| panic!("no node {path}"))
                .get(name)
                .unwrap_or_else(|| panic!("no property {path}:{name}"))
        }

        fn has_prop(&self, path: &str, name: &str) -> bool {
            self.nodes
                .get(path)
                .is_some_and(|props| props.contains_key(name))
        }

        fn cells(&self, path: &str, name: &str) -> Vec<u32> {
            let raw = self.raw(path, name);
            assert_eq!(raw.len() % 4, 0, "{path}:{name} is not a cell array");
            (0..raw.len()).step_by(4).map(|i| be32(raw, i)).collect()
        }

        fn u32(&self, path: &str, name: &str) -> u32 {
            let cells = self.cells(path, name);
            assert_eq!(cells.len(), 1, "{path}:{name} is not one cell");
            cells[0]
        }

        fn u64(&self, path: &str, name: &str) -> u64 {
            let raw = self.raw(path, name);
            let bytes: [u8; 8] = raw.try_into().expect("8-byte property");
            u64::from_be_bytes(bytes)
        }

        fn strings(&self, path: &str, name: &str) -> Vec<String> {
            let raw = self.raw(path, name);
            assert_eq!(raw.last(), Some(&0), "{path}:{name} is NUL-terminated");
            raw[..raw.len() - 1]
                .split(|&b| b == 0)
                .map(|s| String::from_utf8(s.to_vec()).expect("UTF-8"))
                .collect()
        }

        fn string(&self, path: &str, name: &str) -> String {
            let strings = self.strings(path, name);
            assert_eq!(strings.len(), 1, "{path}:{name} is one string");
            strings[0].clone()
        }

        /// The path of the node whose `phandle` is `value`.
        fn by_phandle(&self, value: u32) -> String {
            let matches: Vec<&String> = self
                .nodes
                .iter()
                .filter(|(_, props)| {
                    props
                        .get("phandle")
                        .is_some_and(|v| v.as_slice() == value.to_be_bytes())
                })
                .map(|(path, _)| path)
                .collect();
            assert_eq!(matches.len(), 1, "exactly one node with phandle {value}");
            matches[0].clone()
        }
    }

    /// The machine of `qemu-ref`, with every optional device.
    fn full_board() -> BoardDescription {
        BoardDescription {
            model: "disco FLASH-like MIPS64 machine".into(),
            memory: vec![(0, 0x1000_0000)],
            cpus: 1,
            cpu_clock_hz: 200_000_000,
            bootargs: "console=ttyS0,115200 earlycon rdinit=/init".into(),
            initrd: Some((0x0500_0000, 0x0540_0123)),
            uart: Some(UartNode {
                base: 0x1f00_0000,
                size: 0x100,
                irq: 2,
                clock_hz: 1_843_200,
            }),
            exit_device: Some(0x1f01_0000),
            rtc: Some((0x1f02_0000, 3)),
            chosen_extra: vec![("disco,exec".into(), "/bin/true".into())],
            kaslr_seed: Some(0x0123_4567_89ab_cdef),
            cps: None,
            virtio: vec![(0x1f03_0000, 4)],
        }
    }

    fn minimal_board() -> BoardDescription {
        BoardDescription {
            model: "minimal".into(),
            memory: vec![(0, 0x800_0000)],
            cpus: 1,
            cpu_clock_hz: 100_000_000,
            bootargs: String::new(),
            initrd: None,
            uart: None,
            exit_device: None,
            rtc: None,
            chosen_extra: Vec::new(),
            kaslr_seed: None,
            cps: None,
            virtio: Vec::new(),
        }
    }

    fn build(desc: &BoardDescription) -> Tree {
        parse(&build_fdt(desc).expect("valid description builds"))
    }

    fn error(desc: &BoardDescription) -> FdtError {
        build_fdt(desc).expect_err("invalid description is rejected")
    }

    #[test]
    fn root_describes_the_board() {
        let tree = build(&full_board());
        assert_eq!(tree.u32("/", "#address-cells"), 1);
        assert_eq!(tree.u32("/", "#size-cells"), 1);
        assert_eq!(tree.string("/", "compatible"), BOARD_COMPATIBLE);
        assert_eq!(tree.string("/", "model"), "disco FLASH-like MIPS64 machine");
        let intc = tree.by_phandle(tree.u32("/", "interrupt-parent"));
        assert_eq!(intc, "/interrupt-controller");
    }

    #[test]
    fn virtio_devices_have_nodes_and_may_not_share_the_uart_line() {
        let tree = build(&full_board());
        assert_eq!(tree.string("/virtio@1f030000", "compatible"), "virtio,mmio");
        assert_eq!(
            tree.cells("/virtio@1f030000", "reg"),
            vec![0x1f03_0000, 0x200]
        );
        assert_eq!(tree.u32("/virtio@1f030000", "interrupts"), 4);
        let mut desc = full_board();
        desc.virtio.push((0x1f03_1000, 2));
        assert!(matches!(error(&desc), FdtError::SharedVirtioIrq(2)));
        let mut desc = full_board();
        desc.virtio.push((0x1f03_0100, 5));
        assert!(matches!(error(&desc), FdtError::Overlap { .. }));
    }

    #[test]
    fn cpu_interrupt_controller_has_one_cell_interrupts() {
        let tree = build(&minimal_board());
        let path = "/interrupt-controller";
        assert_eq!(
            tree.string(path, "compatible"),
            "mti,cpu-interrupt-controller"
        );
        assert!(tree.raw(path, "interrupt-controller").is_empty());
        assert_eq!(tree.u32(path, "#interrupt-cells"), 1);
        assert_eq!(tree.u32(path, "#address-cells"), 0);
    }

    #[test]
    fn chosen_carries_bootargs_console_initrd_seed_and_extras() {
        let tree = build(&full_board());
        let chosen = "/chosen";
        assert_eq!(
            tree.string(chosen, "bootargs"),
            "console=ttyS0,115200 earlycon rdinit=/init"
        );
        assert_eq!(tree.string(chosen, "stdout-path"), "serial0:115200n8");
        assert_eq!(tree.u32(chosen, "linux,initrd-start"), 0x0500_0000);
        assert_eq!(tree.u32(chosen, "linux,initrd-end"), 0x0540_0123);
        assert_eq!(tree.u64(chosen, "kaslr-seed"), 0x0123_4567_89ab_cdef);
        assert_eq!(tree.string(chosen, "disco,exec"), "/bin/true");
    }

    #[test]
    fn minimal_board_has_empty_bootargs_and_no_optional_nodes() {
        let tree = build(&minimal_board());
        assert_eq!(tree.string("/chosen", "bootargs"), "");
        for prop in [
            "stdout-path",
            "linux,initrd-start",
            "linux,initrd-end",
            "kaslr-seed",
        ] {
            assert!(!tree.has_prop("/chosen", prop), "no {prop}");
        }
        for node in ["/aliases", "/reboot"] {
            assert!(!tree.has(node), "no {node}");
        }
        let devices = tree
            .nodes
            .keys()
            .filter(|p| {
                p.starts_with("/serial") || p.starts_with("/power") || p.starts_with("/rtc")
            })
            .count();
        assert_eq!(devices, 0);
    }

    #[test]
    fn serial0_alias_points_at_the_uart_node() {
        let tree = build(&full_board());
        let target = tree.string("/aliases", "serial0");
        assert_eq!(target, "/serial@1f000000");
        assert!(tree.has(&target));
    }

    #[test]
    fn cpus_reference_the_fixed_clock() {
        let mut desc = full_board();
        desc.cpus = 4;
        let tree = build(&desc);
        assert_eq!(tree.u32("/cpus", "#address-cells"), 1);
        assert_eq!(tree.u32("/cpus", "#size-cells"), 0);
        for n in 0..4 {
            let cpu = format!("/cpus/cpu@{n}");
            assert_eq!(tree.string(&cpu, "device_type"), "cpu");
            assert_eq!(tree.string(&cpu, "compatible"), "mti,mips64r2");
            assert_eq!(tree.u32(&cpu, "reg"), n);
            let clock = tree.by_phandle(tree.u32(&cpu, "clocks"));
            assert_eq!(clock, "/cpu-clock");
        }
        assert!(!tree.has("/cpus/cpu@4"));
        assert_eq!(tree.string("/cpu-clock", "compatible"), "fixed-clock");
        assert_eq!(tree.u32("/cpu-clock", "#clock-cells"), 0);
        assert_eq!(tree.u32("/cpu-clock", "clock-frequency"), 200_000_000);
    }

    #[test]
    fn multiprocessor_boards_route_device_interrupts_through_the_gic() {
        let mut desc = full_board();
        desc.cpus = 4;
        desc.cps = Some(CpsNodes {
            gic: (0x1612_0000, 0x2_0000),
            cpc: (0x1620_0000, 0x8000),
        });
        let tree = build(&desc);
        let gic = tree.by_phandle(tree.u32("/", "interrupt-parent"));
        assert_eq!(gic, "/interrupt-controller@16120000");
        assert_eq!(tree.string(&gic, "compatible"), "mti,gic");
        assert_eq!(tree.u32(&gic, "#interrupt-cells"), 3);
        assert!(tree.has_prop(&gic, "interrupt-controller"));
        assert_eq!(tree.cells(&gic, "reg"), [0x1612_0000, 0x2_0000]);
        assert_eq!(tree.string("/cpc@16200000", "compatible"), "mti,mips-cpc");
        assert!(
            !tree.has("/interrupt-controller"),
            "no CPU interrupt-controller node"
        );
        // Shared interrupt 2, level high.
        assert_eq!(tree.cells("/serial@1f000000", "interrupts"), [0, 2, 4]);
        assert_eq!(tree.cells("/rtc@1f020000", "interrupts"), [0, 3, 4]);
    }

    #[test]
    fn gic_device_interrupts_must_stay_below_the_ipis() {
        let mut desc = full_board();
        desc.cps = Some(CpsNodes {
            gic: (0x1612_0000, 0x2_0000),
            cpc: (0x1620_0000, 0x8000),
        });
        desc.rtc = Some((0x1f02_0000, 40));
        assert!(matches!(
            build_fdt(&desc),
            Err(FdtError::BadIrq {
                device: "rtc",
                irq: 40
            })
        ));
    }

    #[test]
    fn memory_nodes_have_device_type_and_reg() {
        let mut desc = minimal_board();
        desc.memory = vec![(0, 0x1000_0000), (0x2000_0000, 0x800_0000)];
        let tree = build(&desc);
        assert_eq!(tree.string("/memory@0", "device_type"), "memory");
        assert_eq!(tree.cells("/memory@0", "reg"), [0, 0x1000_0000]);
        assert_eq!(tree.string("/memory@20000000", "device_type"), "memory");
        assert_eq!(
            tree.cells("/memory@20000000", "reg"),
            [0x2000_0000, 0x800_0000]
        );
    }

    #[test]
    fn uart_node_is_an_ns16550a() {
        let tree = build(&full_board());
        let uart = "/serial@1f000000";
        assert_eq!(tree.string(uart, "compatible"), "ns16550a");
        assert_eq!(tree.cells(uart, "reg"), [0x1f00_0000, 0x100]);
        assert_eq!(tree.u32(uart, "reg-shift"), 0);
        assert_eq!(tree.u32(uart, "clock-frequency"), 1_843_200);
        assert_eq!(tree.u32(uart, "interrupts"), 2);
    }

    #[test]
    fn exit_device_is_a_syscon_with_a_reboot_node() {
        let tree = build(&full_board());
        let power = "/power@1f010000";
        assert_eq!(tree.strings(power, "compatible"), ["disco,power", "syscon"]);
        assert_eq!(tree.cells(power, "reg"), [0x1f01_0000, 0x1000]);
        assert_eq!(tree.string("/reboot", "compatible"), "syscon-reboot");
        assert_eq!(tree.by_phandle(tree.u32("/reboot", "regmap")), power);
        assert_eq!(tree.u32("/reboot", "offset"), 4);
        assert_eq!(tree.u32("/reboot", "value"), 1);
        assert_eq!(tree.u32("/reboot", "mask"), 0xffff_ffff);
    }

    #[test]
    fn rtc_node_is_a_goldfish_rtc() {
        let tree = build(&full_board());
        let rtc = "/rtc@1f020000";
        assert_eq!(tree.string(rtc, "compatible"), "google,goldfish-rtc");
        assert_eq!(tree.cells(rtc, "reg"), [0x1f02_0000, 0x1000]);
        assert_eq!(tree.u32(rtc, "interrupts"), 3);
    }

    #[test]
    fn memory_beyond_4_gib_switches_to_two_cells() {
        let mut desc = full_board();
        desc.memory = vec![(0, 0x1000_0000), (0x1_0000_0000, 0x1_0000_0000)];
        desc.initrd = Some((0x1_0000_0000, 0x1_0010_0000));
        let tree = build(&desc);
        assert_eq!(tree.u32("/", "#address-cells"), 2);
        assert_eq!(tree.u32("/", "#size-cells"), 2);
        assert_eq!(tree.cells("/memory@0", "reg"), [0, 0, 0, 0x1000_0000]);
        assert_eq!(tree.cells("/memory@100000000", "reg"), [1, 0, 1, 0]);
        assert_eq!(
            tree.cells("/serial@1f000000", "reg"),
            [0, 0x1f00_0000, 0, 0x100]
        );
        assert_eq!(tree.u64("/chosen", "linux,initrd-start"), 0x1_0000_0000);
        assert_eq!(tree.u64("/chosen", "linux,initrd-end"), 0x1_0010_0000);
    }

    #[test]
    fn exactly_4_gib_of_ram_needs_two_size_cells() {
        let mut desc = minimal_board();
        desc.memory = vec![(0, 0x1_0000_0000)];
        let tree = build(&desc);
        assert_eq!(tree.u32("/", "#size-cells"), 2);
        assert_eq!(tree.cells("/memory@0", "reg"), [0, 0, 1, 0]);
    }

    #[test]
    fn dtb_is_deterministic() {
        assert_eq!(build_fdt(&full_board()).ok(), build_fdt(&full_board()).ok());
    }

    #[test]
    fn no_memory_is_rejected() {
        let mut desc = minimal_board();
        desc.memory.clear();
        assert!(matches!(error(&desc), FdtError::NoMemory));
    }

    #[test]
    fn empty_memory_range_is_rejected() {
        let mut desc = minimal_board();
        desc.memory.push((0x4000_0000, 0));
        assert!(matches!(
            error(&desc),
            FdtError::EmptyRegion {
                base: 0x4000_0000,
                ..
            }
        ));
    }

    #[test]
    fn wrapping_memory_range_is_rejected() {
        let mut desc = minimal_board();
        desc.memory = vec![(u64::MAX - 0xfff, 0x2000)];
        assert!(matches!(error(&desc), FdtError::RegionOverflow { .. }));
    }

    #[test]
    fn overlapping_memory_ranges_are_rejected() {
        let mut desc = minimal_board();
        desc.memory = vec![(0x1000_0000, 0x1000_0000), (0, 0x1000_1000)];
        let err = error(&desc);
        assert!(matches!(
            err,
            FdtError::Overlap {
                first_base: 0,
                second_base: 0x1000_0000,
                ..
            }
        ));
        assert!(err.to_string().contains("overlaps"), "{err}");
    }

    #[test]
    fn device_window_inside_ram_is_rejected() {
        let mut desc = minimal_board();
        // RAM [0, 0x3000_0000) contains the uart window at 0x1f00_0000.
        desc.memory = vec![(0, 0x3000_0000)];
        desc.uart = full_board().uart;
        assert!(matches!(
            error(&desc),
            FdtError::Overlap {
                second: "uart window",
                ..
            }
        ));
    }

    #[test]
    fn device_window_overlapping_another_is_rejected() {
        let mut desc = full_board();
        desc.rtc = Some((0x1f01_0800, 3));
        let err = error(&desc);
        assert!(matches!(
            err,
            FdtError::Overlap {
                first: "exit device window",
                second: "rtc window",
                ..
            }
        ));
    }

    #[test]
    fn cpu_count_and_clock_are_checked() {
        let mut desc = minimal_board();
        desc.cpus = 0;
        assert!(matches!(error(&desc), FdtError::NoCpus));
        desc.cpus = MAX_CPUS + 1;
        assert!(matches!(error(&desc), FdtError::TooManyCpus(_)));
        desc.cpus = 1;
        desc.cpu_clock_hz = 0;
        assert!(matches!(error(&desc), FdtError::ZeroCpuClock));
    }

    #[test]
    fn device_irqs_must_be_lines_2_to_6() {
        for bad in [0, 1, 7, 8, u32::MAX] {
            let mut desc = full_board();
            desc.uart.as_mut().expect("uart").irq = bad;
            assert!(
                matches!(error(&desc), FdtError::BadIrq { device: "uart", .. }),
                "{bad}"
            );
            let mut desc = full_board();
            desc.rtc = Some((0x1f02_0000, bad));
            assert!(
                matches!(error(&desc), FdtError::BadIrq { device: "rtc", .. }),
                "{bad}"
            );
        }
        for good in 2..=6 {
            let mut desc = minimal_board();
            desc.uart = full_board().uart.map(|uart| UartNode { irq: good, ..uart });
            assert!(build_fdt(&desc).is_ok(), "line {good}");
        }
    }

    #[test]
    fn rtc_cannot_share_the_uart_line() {
        let mut desc = full_board();
        desc.rtc = Some((0x1f02_0000, 2));
        assert!(matches!(error(&desc), FdtError::SharedRtcIrq(2)));
    }

    #[test]
    fn uart_needs_a_clock_and_eight_registers() {
        let mut desc = full_board();
        desc.uart.as_mut().expect("uart").clock_hz = 0;
        assert!(matches!(error(&desc), FdtError::ZeroUartClock));
        let mut desc = full_board();
        desc.uart.as_mut().expect("uart").size = 4;
        assert!(matches!(error(&desc), FdtError::UartWindowTooSmall(4)));
        let mut desc = full_board();
        desc.uart.as_mut().expect("uart").size = 0;
        assert!(matches!(
            error(&desc),
            FdtError::EmptyRegion {
                region: "uart window",
                ..
            }
        ));
    }

    #[test]
    fn initrd_must_be_non_empty_aligned_and_in_ram() {
        let mut desc = full_board();
        desc.initrd = Some((0x0500_0000, 0x0500_0000));
        assert!(matches!(error(&desc), FdtError::EmptyInitrd { .. }));
        desc.initrd = Some((0x0500_0800, 0x0510_0000));
        assert!(matches!(
            error(&desc),
            FdtError::UnalignedInitrd(0x0500_0800)
        ));
        desc.initrd = Some((0x0ff0_0000, 0x1000_1000));
        assert!(matches!(error(&desc), FdtError::InitrdOutsideMemory { .. }));
    }

    #[test]
    fn chosen_extra_names_are_checked() {
        for bad in ["", "has space", "a/b", "x".repeat(32).as_str(), "caf\u{e9}"] {
            let mut desc = minimal_board();
            desc.chosen_extra = vec![(bad.to_string(), "v".into())];
            assert!(
                matches!(error(&desc), FdtError::BadPropertyName(_)),
                "{bad:?}"
            );
        }
        let mut desc = minimal_board();
        desc.chosen_extra = vec![("bootargs".into(), "x".into())];
        assert!(matches!(error(&desc), FdtError::DuplicateProperty(_)));
        desc.chosen_extra = vec![
            ("disco,a".into(), "1".into()),
            ("disco,a".into(), "2".into()),
        ];
        assert!(matches!(error(&desc), FdtError::DuplicateProperty(_)));
    }

    #[test]
    fn nul_bytes_in_strings_are_rejected() {
        let mut desc = minimal_board();
        desc.bootargs = "a\0b".into();
        assert!(matches!(error(&desc), FdtError::NulInString(ref what) if what == "bootargs"));
        let mut desc = minimal_board();
        desc.model = "\0".into();
        assert!(matches!(error(&desc), FdtError::NulInString(ref what) if what == "model"));
        let mut desc = minimal_board();
        desc.chosen_extra = vec![("disco,exec".into(), "x\0".into())];
        let err = error(&desc);
        assert_eq!(err.to_string(), "/chosen/disco,exec contains a NUL byte");
    }

    #[test]
    fn error_messages_are_one_clear_line() {
        let mut desc = full_board();
        desc.uart.as_mut().expect("uart").irq = 7;
        let message = error(&desc).to_string();
        assert_eq!(
            message,
            "uart interrupt line 7 is invalid: devices use CPU interrupt lines 2 to 6"
        );
    }
}
