//! The Disco virtual machine monitor (Bugnion et al., TOCS 1997, §4).
//!
//! Several unmodified Debian Linux guests run side by side on the simulated
//! ccNUMA machine. Their code runs directly on the simulated CPUs — guest
//! kernels in supervisor mode, their applications in user mode — and traps
//! to this crate (native Rust code, [`mips::TrapDelivery::Native`]) for
//! what a guest may not do itself:
//!
//! * **Privileged instructions** (CP0 moves, TLB operations, `eret`, `wait`,
//!   `cache`, `di`/`ei`) raise Coprocessor Unusable and are emulated on the
//!   vCPU's virtual CP0 ([`vcpu::Vcpu`]).
//! * **Physical memory** is virtualized with an extra level of translation:
//!   each VM's pmap ([`pmap`]) maps guest-physical pages to machine pages.
//!   Guest TLB writes are translated through it ([`vcpu::machine_entry`]),
//!   kept in the vCPU's l2tlb ([`vcpu::L2Tlb`]) and inserted in the physical
//!   TLB ([`ptlb`]); a physical TLB miss is refilled from the l2tlb when the
//!   guest's TLB has the entry and forwarded to the guest otherwise. The
//!   guest kernel's unmapped segments are mapped by the monitor on *kernel
//!   TLB faults* ([`memory::ktlb`]). The memmap ([`memory::memmap`])
//!   records each machine page's kind and users.
//! * **Sharing** (§4.2.5): copy-on-write disks' pages come from a global
//!   disk cache ([`memory::diskcache`]) mapped read-only into every VM that
//!   reads them; a write to a shared page — a store, a kernel store through
//!   the direct map, a DMA — gives the writer a private copy first
//!   ([`memory::MachineMemory::make_private`]), and every stale
//!   translation is shot down on every CPU ([`Monitor::shoot_down`]).
//! * **Devices**: each VM has its own console, clock, exit device and
//!   virtio disks at the addresses of the bare machine's; the monitor
//!   emulates every register access ([`mmio`]) and translates every DMA
//!   address through the pmap, refusing what lies outside the VM.
//! * **Scheduling**: vCPUs timeshare the physical CPUs with affinity; a
//!   vCPU that executes `wait` is descheduled until an interrupt is posted
//!   to it; virtual timer and device interrupts are delivered through the
//!   guest's exception vectors ([`sched`]).
//!
//! Exceptions a guest should see (system calls, page faults, interrupts,
//! address errors) are reflected to it with its virtual CP0 updated, as the
//! hardware would. The monitor's work is charged in simulated cycles from a
//! cost table ([`cost`]) and accounted per vCPU in the columns of the
//! paper's Table 2 ([`report`]).
//!
//! A VM is stopped alone when it fails (its memory is reclaimed); the others
//! keep running.

pub mod cost;
mod dma;
pub mod footprint;
pub mod ie_dead;
pub mod memory;
pub mod mmio;
pub mod numa;
pub mod patch;
mod power;
pub mod ptlb;
pub mod regpage;
pub mod report;
pub mod sched;
pub mod services;
pub mod subnet;
mod textshare;
mod trap;
pub mod vcpu;
pub mod vm;

use machine::{Machine, MachineError};
use mips::TrapDelivery;
use thiserror::Error;

use crate::cost::CostTable;
use crate::memory::MachineMemory;
use crate::ptlb::PhysTlb;
use crate::vm::{Vm, VmConfig, VmState};

/// Why a monitor could not be set up.
#[derive(Debug, Error)]
pub enum MonitorError {
    /// A VM's configuration is unusable.
    #[error("{0}")]
    Config(String),
    /// Machine memory ran out while loading a VM.
    #[error("machine memory is exhausted: cannot load VM '{0}' (give the machine more memory)")]
    OutOfMemory(String),
    /// The machine could not be built.
    #[error(transparent)]
    Machine(#[from] MachineError),
}

/// Tunables of the monitor.
#[derive(Clone, Debug)]
pub struct MonitorConfig {
    /// Cycles charged for the monitor's work.
    pub costs: CostTable,
    /// Cycles the physical CPUs run between scheduling points (they run one
    /// after another, as on the bare machine).
    pub quantum: u64,
    /// Cycles a vCPU keeps a physical CPU that other vCPUs want.
    pub timeslice: u64,
    /// Rewrite privileged instructions into register-page loads and stores
    /// on their first trap ([`patch`], §4.3.3). Off: every privileged
    /// instruction traps every time.
    pub patch_privileged: bool,
    /// Share memory between VMs (§4.2.5): whole pages read from
    /// copy-on-write disks are mapped from the global disk cache. Off:
    /// every read is copied.
    pub sharing: bool,
    /// Also share the regions of identical decompressed kernel images
    /// between VMs ([`memory::kernel`]; needs `sharing`).
    pub share_kernel: bool,
    /// The NUMA policy: page migration and replication ([`numa`]).
    pub numa: numa::NumaConfig,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            costs: CostTable::default(),
            quantum: 10_000,
            timeslice: 4_000_000,
            patch_privileged: true,
            sharing: true,
            share_kernel: true,
            numa: numa::NumaConfig::default(),
        }
    }
}

/// What the monitor keeps about one physical CPU.
#[derive(Debug, Default)]
pub(crate) struct PhysCpu {
    /// The vCPU loaded on it (VM index, vCPU index).
    pub current: Option<(usize, usize)>,
    /// What its TLB holds.
    pub tlb: PhysTlb,
    /// Cycles it had no vCPU to run.
    pub idle_cycles: u64,
    /// Round-robin position of the scheduler.
    pub last_pick: usize,
}

/// The monitor and its virtual machines.
#[derive(Debug)]
pub struct Monitor {
    /// The virtual machines, in configuration order.
    pub vms: Vec<Vm>,
    pub(crate) pcpus: Vec<PhysCpu>,
    pub(crate) memory: MachineMemory,
    pub(crate) costs: CostTable,
    pub(crate) quantum: u64,
    pub(crate) timeslice: u64,
    pub(crate) now: u64,
    /// The accounting when a guest ended its measured region.
    pub(crate) region: Option<Box<report::MonitorReport>>,
    /// The NUMA policy and its state.
    pub(crate) numa: numa::NumaState,
}

impl Monitor {
    /// Takes over `machine` (built with [`Machine::new_unbooted`]): puts its
    /// CPUs in VM mode with native trap delivery, and loads every VM of
    /// `vms` into machine memory. VM `i`'s vCPU 0 prefers physical CPU
    /// `i % cpus` (its vCPU k the k-th CPU after that), and its memory
    /// comes from that CPU's node.
    pub fn new(
        machine: &mut Machine,
        vms: &[VmConfig],
        config: MonitorConfig,
    ) -> Result<Self, MonitorError> {
        if vms.is_empty() {
            return Err(MonitorError::Config("no virtual machine to run".into()));
        }
        config.numa.validate().map_err(MonitorError::Config)?;
        let interleaved = matches!(
            machine.devices.timing.home_map(),
            machine::timing::HomeMap::Interleaved { .. }
        );
        if config.numa.enabled() && interleaved && machine.devices.timing.nodes() > 1 {
            return Err(MonitorError::Config(
                "page migration and replication need each node's memory in one range: turn --interleave off, or the policy (--numa off)".into(),
            ));
        }
        let cpus = machine.cpus.len();
        for cpu in &mut machine.cpus {
            cpu.set_trap_delivery(TrapDelivery::Native);
            cpu.set_vm_mode(true);
        }
        for c in 0..cpus {
            machine.set_powered(c, true);
        }
        if config.numa.enabled() {
            machine
                .devices
                .timing
                .set_hot_threshold(config.numa.trigger);
        }
        let timing = &machine.devices.timing;
        let nodes = timing.nodes();
        let mut memory = MachineMemory::new(machine.mem.size(), nodes, |pa| timing.home_of(pa));
        memory.sharing_on = config.sharing;
        memory.share_kernel = config.sharing && config.share_kernel;
        let cpu_hz = machine.clock().hz() as u32;
        let mut booted = Vec::with_capacity(vms.len());
        for (i, config) in vms.iter().enumerate() {
            let home = i % cpus;
            let node = machine.devices.timing.node_of_cpu(home as u32);
            let mut vm = Vm::boot(i, config, cpu_hz, &mut memory, &mut machine.mem, node)?;
            // A multiprocessor VM's vCPUs prefer consecutive CPUs.
            for (k, v) in vm.vcpus.iter_mut().enumerate() {
                v.home = (home + k) % cpus;
            }
            booted.push(vm);
        }
        if config.patch_privileged {
            let all = booted.iter_mut().flat_map(|vm| vm.vcpus.iter_mut());
            for (n, v) in all.enumerate() {
                v.regs_page = Some(regpage::page_address(n).ok_or_else(|| {
                    MonitorError::Config(format!(
                        "more than {} vCPUs in all: too many for register pages (turn patching off)",
                        regpage::MAX_PAGES
                    ))
                })?);
            }
        }
        Ok(Monitor {
            vms: booted,
            pcpus: (0..cpus).map(|_| PhysCpu::default()).collect(),
            memory,
            costs: config.costs,
            quantum: config.quantum.max(1),
            timeslice: config.timeslice.max(1),
            now: machine.cycles(),
            region: None,
            numa: numa::NumaState::new(config.numa, machine.clock().hz(), machine.cycles()),
        })
    }

    /// Turns kernel-service attribution ([`services`]) on or off for every
    /// vCPU; the report then lists each VM's services. It changes no
    /// simulated time.
    pub fn set_service_tracking(&mut self, on: bool) {
        for v in self.vms.iter_mut().flat_map(|vm| vm.vcpus.iter_mut()) {
            v.services = on.then(Box::default);
        }
    }

    /// True once every VM has ended.
    pub fn all_ended(&self) -> bool {
        self.vms.iter().all(|vm| vm.state.ended())
    }

    /// Takes what VM `vm` wrote to its console.
    pub fn take_console_output(&mut self, vm: usize) -> Vec<u8> {
        self.vms[vm].devices.uart.take_output()
    }

    /// Free space in VM `vm`'s console receive queue.
    pub fn console_input_space(&self, vm: usize) -> usize {
        self.vms[vm].devices.uart.rx_space()
    }

    /// Types `bytes` on VM `vm`'s console.
    pub fn push_console_input(&mut self, vm: usize, bytes: &[u8]) {
        self.vms[vm].devices.uart.push_input(bytes);
    }

    /// Machine chunks (16 MiB) not given to any VM, whole.
    pub fn free_chunks(&self) -> usize {
        self.memory.alloc.free_chunks()
    }

    /// The monitor's machine memory (memmap, disk cache, statistics).
    pub fn memory(&self) -> &MachineMemory {
        &self.memory
    }

    /// Drops every translation of guest page `guest_page` of VM `vm` from
    /// the physical TLBs of all CPUs (its machine page changed); the
    /// l2tlbs hold guest-physical translations, which stay right. Returns
    /// the entries dropped.
    pub(crate) fn shoot_down(&mut self, m: &mut Machine, vm: usize, guest_page: u64) -> usize {
        let dropped: usize = self.shoot_down_each(m, vm, guest_page).iter().sum();
        tracing::trace!(target: "monitor::cow", vm, "shoot down guest page {guest_page:#x}: {dropped} TLB entries");
        dropped
    }

    /// Like [`Monitor::shoot_down`]; the entries dropped on each CPU.
    pub(crate) fn shoot_down_each(
        &mut self,
        m: &mut Machine,
        vm: usize,
        guest_page: u64,
    ) -> Vec<usize> {
        self.pcpus
            .iter_mut()
            .zip(m.cpus.iter_mut())
            .map(|(pc, cpu)| pc.tlb.shoot_down(cpu, vm, guest_page))
            .collect()
    }

    /// Serves VM `vi`'s virtio devices at `now_ns` and shoots down the
    /// translations of the pages their DMA remapped. Returns the cycles of
    /// monitor work that took beyond the device emulation: mapping and
    /// copying pages, shootdowns.
    pub(crate) fn service_vm_devices(&mut self, m: &mut Machine, vi: usize, now_ns: u64) -> u64 {
        let remapped = self.vms[vi].service_devices(vi, &mut self.memory, &mut m.mem, now_ns);
        let mut cycles = remapped.len() as u64 * self.costs.map_page;
        for page in remapped {
            cycles += self.shoot_down(m, vi, page) as u64 * self.costs.shootdown;
            // A write into a shared kernel-image region unshares it. It
            // cannot fail for want of memory here: the page is already
            // private, and copies for other VMs that do not fit leave
            // those VMs sharing (still read-only, still correct).
            cycles += self.unshare_kernel_region(m, vi, page).unwrap_or(0);
        }
        cycles
    }

    /// Stops VM `vi` for good with `state`: its vCPUs leave the physical
    /// CPUs and its memory is reclaimed.
    pub(crate) fn stop_vm(&mut self, m: &mut Machine, vi: usize, state: VmState) {
        let vm = &mut self.vms[vi];
        if vm.state == VmState::Running {
            vm.state = state;
        }
        tracing::debug!(target: "monitor", vm = %vm.name, state = ?vm.state, "VM stopped");
        for ci in 0..self.vms[vi].vcpus.len() {
            self.unload(m, vi, ci);
            self.vms[vi].vcpus[ci].state = vcpu::VcpuState::Stopped;
        }
        let vm = &mut self.vms[vi];
        if vm.final_footprint.is_none() {
            vm.final_footprint = Some(footprint::Footprint::of(
                &vm.pmap,
                &self.memory,
                &m.mem,
                vm.kernel_image,
            ));
        }
        self.memory.release(vi, &mut self.vms[vi].pmap);
    }
}
