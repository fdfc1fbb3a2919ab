//! Virtual machines: configuration, guest memory, virtual devices, state.

use machine::board::CpsDevices;
use machine::boot::{self, BootLayout};
use machine::cps::CpsEvent;
use machine::exitdev::{ExitDevice, ExitRequest, EXIT_DEVICE_WINDOW_SIZE};
use machine::layout::{
    virtio_irq, virtio_window, EXIT_BASE, MAX_VIRTIO, RTC_BASE, RTC_IRQ, SIMCTL_BASE, UART_BASE,
    UART_IRQ,
};
use machine::rtc::{GoldfishRtc, RTC_WINDOW_SIZE};
use machine::simctl::{SimCtl, TimingMode, SIMCTL_WINDOW_SIZE};
use machine::uart::{Uart, UART_WINDOW_SIZE};
use machine::virtio::{
    Backend, DiskConfig, DiskError, DiskTiming, DmaMemory, NetDevice, VirtioMmio,
};
use machine::{DeviceError, MachineConfig, MmioDevice};
use mips::PhysMem;

use crate::dma::GuestMemory;

use crate::memory::alloc::CHUNK_BYTES;
use crate::memory::pmap::Pmap;
use crate::memory::MachineMemory;
use crate::mmio::{self, Access};
use crate::vcpu::{Vcpu, VcpuState};
use crate::MonitorError;

/// Smallest guest memory: what the Debian kernel, its relocation and an
/// initrd at 64 MiB need.
pub const MIN_GUEST_MEM: u64 = 128 << 20;

/// Most vCPUs in one VM (the Linux `generic` kernel's `NR_CPUS` is 16).
pub const MAX_VCPUS: u32 = 16;

/// What to run in a virtual machine.
#[derive(Clone, Debug)]
pub struct VmConfig {
    /// Name, used in reports and console prefixes.
    pub name: String,
    /// Guest-physical memory in bytes (a multiple of 16 MiB).
    pub mem_bytes: u64,
    /// Virtual CPUs.
    pub vcpus: u32,
    /// The kernel (ELF64 little-endian MIPS).
    pub kernel: Vec<u8>,
    /// Optional initramfs.
    pub initrd: Option<Vec<u8>>,
    /// Kernel command line.
    pub bootargs: String,
    /// Command for the guest's `/init` to run (`/chosen/disco,exec`).
    pub exec: Option<String>,
    /// More `/chosen` string properties.
    pub chosen: Vec<(String, String)>,
    /// Wall-clock time the VM's RTC shows at simulated time zero, ns.
    pub rtc_epoch_ns: u64,
    /// Disks: `/dev/vda`, `/dev/vdb`, ... (virtio block devices).
    pub disks: Vec<DiskConfig>,
    /// How long the simulated disks take.
    pub disk_timing: DiskTiming,
    /// A network interface on the monitor's virtual subnet (after the
    /// disks: `eth0`).
    pub net: bool,
}

impl VmConfig {
    /// Checks what can be checked before loading: memory size and vCPUs.
    pub fn validate(&self) -> Result<(), MonitorError> {
        let bad = |why: String| Err(MonitorError::Config(format!("VM '{}': {why}", self.name)));
        if self.mem_bytes < MIN_GUEST_MEM || !self.mem_bytes.is_multiple_of(CHUNK_BYTES) {
            return bad(format!(
                "memory must be a multiple of 16 MiB and at least {} MiB (got {:.1} MiB)",
                MIN_GUEST_MEM >> 20,
                self.mem_bytes as f64 / (1 << 20) as f64
            ));
        }
        if self.mem_bytes > machine::layout::DEVICE_BASE {
            return bad("memory must end below the device window (3.75 GiB)".into());
        }
        if self.disks.len() + usize::from(self.net) > MAX_VIRTIO {
            return bad(format!(
                "{} disks{}: at most {MAX_VIRTIO} virtio devices are supported",
                self.disks.len(),
                if self.net {
                    " and a network interface"
                } else {
                    ""
                }
            ));
        }
        if !(1..=MAX_VCPUS).contains(&self.vcpus) {
            return bad(format!(
                "{} vCPUs: a VM has 1 to {MAX_VCPUS} virtual CPUs",
                self.vcpus
            ));
        }
        Ok(())
    }
}

/// Where a VM is in its life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VmState {
    /// Its vCPUs run.
    Running,
    /// The guest wrote its exit device: the status.
    Exited(u32),
    /// The guest asked to reboot (Linux does after a panic with `panic=`).
    Rebooted,
    /// Every vCPU waits with interrupts disabled (Linux's `poweroff`).
    PoweredOff,
    /// The monitor stopped the VM: why.
    Failed(String),
}

impl VmState {
    /// True once the VM has stopped for good.
    pub fn ended(&self) -> bool {
        *self != VmState::Running
    }
}

/// A VM's devices: console UART, real-time clock, exit/power device,
/// virtio disks and network, and for a multiprocessor VM the Coherence
/// Manager, CPC and GIC, at the guest-physical addresses of the bare
/// machine's (so the same kernel, device tree and initramfs work
/// unchanged).
#[derive(Debug)]
pub struct VmDevices {
    /// Console.
    pub uart: Uart,
    /// Real-time clock.
    pub rtc: GoldfishRtc,
    /// Exit/power device.
    pub exit: ExitDevice,
    /// Virtio block devices; their DMA goes through the VM's pmap.
    pub virtio: Vec<VirtioMmio>,
    /// Virtual CM, CPC and GIC of a multiprocessor VM: its vCPUs are the
    /// cores, device interrupts and IPIs reach them through the GIC.
    pub smp: Option<CpsDevices>,
    /// The simulation-control device, at the bare machine's address: the
    /// monitor applies its requests to the whole machine (timing mode,
    /// statistics, the measured region) and to its own accounting.
    pub simctl: SimCtl,
}

impl VmDevices {
    fn new(config: &VmConfig, index: usize) -> Result<Self, String> {
        let mut virtio: Vec<VirtioMmio> = config
            .disks
            .iter()
            .map(|d| VirtioMmio::disk(d, config.disk_timing))
            .collect::<Result<_, DiskError>>()
            .map_err(|e| e.to_string())?;
        if config.net {
            let nic = NetDevice::new(crate::subnet::mac_of_vm(index));
            virtio.push(VirtioMmio::new(Backend::Net(nic)));
        }
        let smp = match config.vcpus {
            1 => None,
            n => Some(CpsDevices::new(n).map_err(|e| e.to_string())?),
        };
        let rtc_epoch_ns = config.rtc_epoch_ns;
        Ok(VmDevices {
            uart: Uart::new(),
            rtc: GoldfishRtc::new(rtc_epoch_ns),
            exit: ExitDevice::new(),
            simctl: SimCtl::new(TimingMode::Fast),
            virtio,
            smp,
        })
    }

    /// Performs `access` at guest-physical `gpa` for vCPU `vcpu` at
    /// `now_ns`, with the guest's registers `gpr`. `Err` when no device is
    /// there or the device refuses the access (a bus error for the guest).
    pub fn perform(
        &mut self,
        vcpu: u32,
        gpa: u64,
        access: Access,
        now_ns: u64,
        gpr: &mut [u64; 32],
    ) -> Result<(), DeviceError> {
        let smp_window = self
            .smp
            .as_mut()
            .and_then(|smp| CpsDevices::decode(gpa).map(|(w, off)| (smp, w, off)));
        if let Some((smp, window, offset)) = smp_window {
            let mut dev = mmio::OnCpu {
                devices: smp,
                window,
                cpu: vcpu,
            };
            mmio::perform(access, &mut dev, offset, now_ns, gpr)
        } else {
            let (dev, offset) = self.at(gpa).ok_or(DeviceError)?;
            mmio::perform(access, dev, offset, now_ns, gpr)
        }
    }

    /// Feeds the device interrupt outputs into the GIC (multiprocessor).
    /// [`VmDevices::lines_for`] does it before it reads a vCPU's pins, which
    /// the monitor does before every run of a vCPU, so the GIC always sees
    /// current device levels when the guest reaches it.
    fn sync_gic_inputs(&mut self) {
        if let Some(smp) = &mut self.smp {
            let (uart, rtc) = (self.uart.irq_level(), self.rtc.irq_level());
            smp.set_device_lines(uart, rtc, self.virtio.iter().map(VirtioMmio::irq_level));
        }
    }

    /// Cores the VM's CPC started or stopped since the last call.
    pub fn take_cps_events(&mut self) -> Vec<CpsEvent> {
        match &mut self.smp {
            Some(smp) if smp.cps.has_events() => smp.cps.take_events(),
            _ => Vec::new(),
        }
    }

    /// The device at guest-physical address `gpa` and the offset in it.
    pub fn at(&mut self, gpa: u64) -> Option<(&mut dyn MmioDevice, u64)> {
        let within = |base: u64, size: u64| gpa.checked_sub(base).filter(|o| *o < size);
        if let Some((i, o)) = virtio_window(gpa, self.virtio.len()) {
            return Some((&mut self.virtio[i], o));
        }
        if let Some(o) = within(UART_BASE, UART_WINDOW_SIZE) {
            return Some((&mut self.uart, o));
        }
        if let Some(o) = within(EXIT_BASE, EXIT_DEVICE_WINDOW_SIZE) {
            return Some((&mut self.exit, o));
        }
        if let Some(o) = within(SIMCTL_BASE, SIMCTL_WINDOW_SIZE) {
            return Some((&mut self.simctl, o));
        }
        within(RTC_BASE, RTC_WINDOW_SIZE).map(|o| (&mut self.rtc as &mut dyn MmioDevice, o))
    }

    /// Interrupt lines of vCPU `vcpu` in Cause.IP layout (bit n = IPn):
    /// its GIC pins on a multiprocessor VM, else the device lines.
    pub fn lines_for(&mut self, vcpu: u32) -> u8 {
        self.sync_gic_inputs();
        if let Some(smp) = &self.smp {
            return smp.lines_for(vcpu);
        }
        let mut lines = (u8::from(self.uart.irq_level()) << UART_IRQ)
            | (u8::from(self.rtc.irq_level()) << RTC_IRQ);
        for (i, dev) in self.virtio.iter().enumerate() {
            lines |= u8::from(dev.irq_level()) << virtio_irq(i, false);
        }
        lines
    }

    /// The network interface, if the VM has one.
    pub fn nic_mut(&mut self) -> Option<&mut NetDevice> {
        self.virtio.iter_mut().find_map(|d| match d.backend_mut() {
            Backend::Net(n) => Some(n),
            Backend::Block(_) => None,
        })
    }

    /// Serves the virtio devices at `now_ns`: requests of notified queues
    /// and completions that are due, DMA going to `mem`.
    pub fn service_virtio(&mut self, mem: &mut dyn DmaMemory, now_ns: u64) {
        for dev in &mut self.virtio {
            dev.service(mem, now_ns);
        }
    }

    /// True when a virtio device has requests to take or completions due
    /// by `now_ns` (then call [`Vm::service_devices`]).
    pub fn virtio_due(&self, now_ns: u64) -> bool {
        self.virtio.iter().any(|d| d.is_due(now_ns))
    }

    /// Lets time-driven devices catch up to `now_ns`.
    pub fn advance_to(&mut self, now_ns: u64) {
        self.rtc.advance_to(now_ns);
    }

    /// Simulated time of the next device event, ns.
    pub fn next_event_ns(&self) -> Option<u64> {
        let virtio = self.virtio.iter().filter_map(VirtioMmio::next_event_ns);
        self.rtc.next_event_ns().into_iter().chain(virtio).min()
    }
}

/// One virtual machine.
#[derive(Debug)]
pub struct Vm {
    /// Its configuration (the images are dropped once loaded).
    pub name: String,
    /// Guest-physical to machine map.
    pub pmap: Pmap,
    /// Virtual CPUs.
    pub vcpus: Vec<Vcpu>,
    /// Virtual devices.
    pub devices: VmDevices,
    /// Life cycle.
    pub state: VmState,
    /// Where the loader put kernel, initrd and device tree.
    pub layout: BootLayout,
    /// The node its memory comes from.
    pub node: u32,
    /// Its memory footprint when it ended (its memory is then released).
    pub final_footprint: Option<crate::footprint::Footprint>,
    /// Guest pages `[first, end)` where its kernel's self-decompressing
    /// image puts the decompressed kernel, if it has that layout.
    pub kernel_image: Option<(u64, u64)>,
    /// Times its kernel image was looked at for sharing
    /// ([`crate::textshare`]).
    pub kernel_scans: u32,
    /// Simulated time (ns) of its next look.
    pub next_kernel_scan_ns: u64,
    /// First guest pages of the image regions that were written while
    /// shared: they are not shared again.
    pub kernel_regions_written: std::collections::BTreeSet<u64>,
}

/// Guest-physical address where the kernel of Linux's generic MIPS
/// platform is decompressed to (`load-$(CONFIG_MIPS_GENERIC)`).
pub const KERNEL_LOAD: u64 = 0x10_0000;

/// The guest pages of the decompressed kernel when the loaded image has
/// the layout of Debian's self-decompressing kernel: entry (the
/// decompressor) in kseg0 above [`KERNEL_LOAD`]; the kernel is then
/// decompressed to `[KERNEL_LOAD, entry)` (its BSS starts where the
/// decompressor was loaded).
pub fn decompressed_kernel_pages(entry: u64) -> Option<(u64, u64)> {
    const CKSEG0: u64 = 0xffff_ffff_8000_0000;
    let pa = entry.checked_sub(CKSEG0).filter(|pa| *pa < 0x2000_0000)?;
    (pa > KERNEL_LOAD).then_some((KERNEL_LOAD >> 12, pa >> 12))
}

impl Vm {
    /// Checks `config`, loads its kernel, initrd and device tree into fresh
    /// guest memory (backed from `memory`, nearest node `node`) and sets up
    /// vCPU 0 to enter the kernel. `index` is the VM's number.
    pub(crate) fn boot(
        index: usize,
        config: &VmConfig,
        cpu_hz: u32,
        memory: &mut MachineMemory,
        mem: &mut PhysMem,
        node: u32,
    ) -> Result<Vm, MonitorError> {
        let bad = |why: String| MonitorError::Config(format!("VM '{}': {why}", config.name));
        config.validate()?;
        let mut board = MachineConfig::new(Vec::new(), None);
        board.mem_bytes = config.mem_bytes;
        board.cpus = config.vcpus;
        board.cpu_hz = cpu_hz;
        board.bootargs = config.bootargs.clone();
        board.exec = config.exec.clone();
        board.chosen = config.chosen.clone();
        board.disks = config.disks.clone();
        board.net = config.net;
        let devices = VmDevices::new(config, index).map_err(bad)?;
        let mut pmap = Pmap::new(config.mem_bytes);
        let mut target = GuestMemory::new(index, &mut pmap, memory, mem, node);
        let loaded = boot::load(
            &mut target,
            &config.kernel,
            config.initrd.as_deref(),
            machine::board_description(&board),
        );
        if target.out_of_memory {
            memory.release(index, &mut pmap);
            return Err(MonitorError::OutOfMemory(config.name.clone()));
        }
        let layout = match loaded {
            Ok(layout) => layout,
            Err(e) => {
                memory.release(index, &mut pmap);
                return Err(bad(format!("cannot load the kernel: {}", error_chain(&e))));
            }
        };
        let smp = config.vcpus > 1;
        let mut vcpus: Vec<Vcpu> = (0..config.vcpus).map(|id| Vcpu::new(id, smp)).collect();
        boot::uhi_handoff(&mut vcpus[0].shadow, &layout);
        // Secondary cores are powered down until the guest starts them
        // through the CPC, as on the bare machine.
        for v in &mut vcpus[1..] {
            v.state = VcpuState::Offline;
        }
        Ok(Vm {
            name: config.name.clone(),
            pmap,
            vcpus,
            devices,
            state: VmState::Running,
            layout,
            node,
            final_footprint: None,
            kernel_image: decompressed_kernel_pages(layout.entry),
            kernel_scans: 0,
            next_kernel_scan_ns: 0,
            kernel_regions_written: std::collections::BTreeSet::new(),
        })
    }

    /// Serves the VM's virtio devices at `now_ns`, their DMA translated
    /// through the pmap (chunks the devices write are backed on the VM's
    /// node). Returns the guest pages whose machine page changed: the
    /// caller shoots down their translations
    /// ([`crate::Monitor::shoot_down`]).
    #[must_use]
    pub(crate) fn service_devices(
        &mut self,
        vm: usize,
        memory: &mut MachineMemory,
        mem: &mut PhysMem,
        now_ns: u64,
    ) -> Vec<u64> {
        let mut guest = GuestMemory::new(vm, &mut self.pmap, memory, mem, self.node);
        self.devices.service_virtio(&mut guest, now_ns);
        guest.remapped
    }

    /// Records what the exit device asked for, if anything; true if the VM
    /// ended.
    pub(crate) fn check_exit(&mut self) -> bool {
        match self.devices.exit.request() {
            Some(ExitRequest::Exit(status)) => self.state = VmState::Exited(status),
            Some(ExitRequest::Reboot) => self.state = VmState::Rebooted,
            None => return false,
        }
        true
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}
