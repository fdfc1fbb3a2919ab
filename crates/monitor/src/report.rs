//! Per-VM and per-vCPU accounting in the columns of the paper's Table 2.

use mips::PhysMem;
use serde::Serialize;

use crate::cost::{CostTable, VcpuStats};
use crate::footprint::{Footprint, MachineFootprint, MonitorBytes};
use crate::memory::SharingStats;
use crate::vm::VmState;
use crate::Monitor;

/// One VM's figures.
#[derive(Clone, Debug, Serialize)]
pub struct VmReport {
    /// Its name.
    pub name: String,
    /// How it ended (or "running").
    pub state: String,
    /// Totals over its vCPUs.
    pub total: VcpuStats,
    /// Per vCPU.
    pub vcpus: Vec<VcpuStats>,
    /// Kernel services over its vCPUs, most cycles first, when service
    /// tracking is on ([`Monitor::set_service_tracking`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<crate::services::VmServiceReport>>,
    /// What memory sharing did for it.
    pub sharing: SharingStats,
    /// What the NUMA policy did for it (§4.2.3).
    pub numa: crate::numa::NumaStats,
    /// Its memory footprint now, or when it ended.
    pub footprint: Footprint,
}

/// Machine memory as the monitor uses it.
#[derive(Clone, Debug, Serialize)]
pub struct MemorySummary {
    /// Machine pages used by one VM each.
    pub private_pages: u64,
    /// Shared machine pages (each counted once).
    pub shared_pages: u64,
    /// Mappings of shared pages into VMs (the guest pages they back).
    pub shared_mappings: u64,
    /// Pages in the global disk cache (mapped or kept for later reads).
    pub disk_cache_pages: u64,
    /// Free machine memory, bytes.
    pub free_bytes: u64,
    /// The footprint over all VMs (each VM's now, or when it ended), as
    /// in Fig. 7.
    pub footprint: MachineFootprint,
    /// Replicas of pages made by the NUMA policy, in use now.
    pub replica_pages: u64,
}

/// The NUMA policy: its parameters and what it did machine-wide.
#[derive(Clone, Debug, Serialize)]
pub struct NumaSummary {
    /// The parameters.
    pub config: crate::numa::NumaConfig,
    /// Totals over the VMs.
    pub total: crate::numa::NumaStats,
    /// Cycles of NUMA work done on CPUs with no vCPU loaded (not in any
    /// VM's figures).
    pub unattributed_cycles: u64,
}

/// The monitor's figures.
#[derive(Clone, Debug, Serialize)]
pub struct MonitorReport {
    /// The cost table the monitor cycles come from.
    pub costs: CostTable,
    /// Per VM.
    pub vms: Vec<VmReport>,
    /// Per physical CPU: cycles with no vCPU to run.
    pub pcpu_idle_cycles: Vec<u64>,
    /// Machine memory.
    pub memory: MemorySummary,
    /// The NUMA policy.
    pub numa: NumaSummary,
}

impl Monitor {
    /// The accounting so far (`mem`: machine memory, to tell the pages
    /// holding data).
    pub fn report(&self, mem: &PhysMem) -> MonitorReport {
        let vms: Vec<VmReport> = self
            .vms
            .iter()
            .enumerate()
            .map(|(i, vm)| {
                let vcpus: Vec<VcpuStats> = vm.vcpus.iter().map(|v| v.stats.clone()).collect();
                let mut total = VcpuStats::default();
                vcpus.iter().for_each(|s| total.add(s));
                VmReport {
                    name: vm.name.clone(),
                    state: describe(&vm.state),
                    total,
                    vcpus,
                    services: crate::services::collect(&vm.vcpus),
                    sharing: self.memory.sharing.get(i).copied().unwrap_or_default(),
                    numa: self.numa_stats(i),
                    footprint: vm.final_footprint.clone().unwrap_or_else(|| {
                        Footprint::of(&vm.pmap, &self.memory, mem, vm.kernel_image)
                    }),
                }
            })
            .collect();
        let mm = &self.memory;
        let monitor = MonitorBytes {
            pmaps: self.vms.iter().map(|vm| vm.pmap.structure_bytes()).sum(),
            ..mm.structure_bytes()
        };
        let footprint = MachineFootprint::of(vms.iter().map(|v: &VmReport| &v.footprint), monitor);
        let memory = MemorySummary {
            private_pages: mm.memmap.private_pages() as u64,
            shared_pages: mm.memmap.shared_pages().count() as u64,
            shared_mappings: mm
                .memmap
                .shared_pages()
                .map(|(_, s)| s.users.len() as u64)
                .sum(),
            disk_cache_pages: mm.disk_cache.pages() as u64,
            free_bytes: mm.free_bytes(),
            footprint,
            replica_pages: mm.memmap.replica_pages() as u64,
        };
        let mut total = crate::numa::NumaStats::default();
        vms.iter().for_each(|v| total.add(&v.numa));
        let numa = NumaSummary {
            config: self.numa.cfg.clone(),
            total,
            unattributed_cycles: self.numa.unattributed_cycles,
        };
        MonitorReport {
            costs: self.costs.clone(),
            vms,
            pcpu_idle_cycles: self.pcpus.iter().map(|p| p.idle_cycles).collect(),
            memory,
            numa,
        }
    }
}

impl Monitor {
    /// Zeroes the accounting (a measured region starts now).
    pub fn reset_stats(&mut self) {
        for vm in &mut self.vms {
            for v in &mut vm.vcpus {
                v.stats = crate::cost::VcpuStats::default();
                if let Some(s) = v.services.as_deref_mut() {
                    s.reset();
                }
            }
        }
        for p in &mut self.pcpus {
            p.idle_cycles = 0;
        }
        self.memory.numa.clear();
        self.numa.unattributed_cycles = 0;
        self.region = None;
    }

    /// The accounting when a guest ended its measured region (simctl
    /// COMMAND 2) since the last reset, if one did.
    pub fn region_report(&self) -> Option<&MonitorReport> {
        self.region.as_deref()
    }

    /// Applies what VM `vi` asked of its simulation-control device to the
    /// machine (timing mode, statistics, measured region) and to the
    /// monitor's accounting.
    pub(crate) fn apply_simctl(&mut self, m: &mut machine::Machine, vi: usize) {
        use machine::simctl::SimRequest;
        while let Some(req) = self.vms[vi].devices.simctl.take_request() {
            match req {
                SimRequest::SetMode(mode) => {
                    m.set_timing_mode(mode);
                    for vm in &mut self.vms {
                        vm.devices.simctl.set_mode(mode);
                    }
                }
                SimRequest::ResetStats => {
                    m.reset_stats();
                    self.reset_stats();
                }
                SimRequest::EndRegion => {
                    m.end_region();
                    self.region = Some(Box::new(self.report(&m.mem)));
                }
            }
        }
    }
}

/// A VM state in words.
pub fn describe(state: &VmState) -> String {
    match state {
        VmState::Running => "running".into(),
        VmState::Exited(s) => format!("exited with status {s}"),
        VmState::Rebooted => "rebooted (a kernel panic reboots)".into(),
        VmState::PoweredOff => "powered off".into(),
        VmState::Failed(why) => format!("stopped by the monitor: {why}"),
    }
}

impl MonitorReport {
    /// A table: per VM, simulated time split into the paper's Table 2
    /// columns (guest user, guest kernel, TLB writes, other privileged
    /// instructions, monitor services, kernel TLB faults) plus l2tlb refills,
    /// exception reflection and idle; then the event counts.
    pub fn table(&self, cpu_hz: u64) -> String {
        use std::fmt::Write;
        let mut t = String::new();
        let ms = |c: u64| c as f64 * 1e3 / cpu_hz as f64;
        let _ = writeln!(
            t,
            "monitor time per VM in ms (costs: trap {} + TLB write {} / other priv {} / kernel TLB fault {} / l2tlb refill {} / reflection {} / device {} / rewrite {} cycles):",
            self.costs.trap,
            self.costs.tlb_write,
            self.costs.other_priv,
            self.costs.kernel_tlb_fault,
            self.costs.l2tlb_refill,
            self.costs.reflect,
            self.costs.device,
            self.costs.patch
        );
        let _ = writeln!(
            t,
            "{:<12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "vm",
            "user",
            "kernel",
            "tlbwrite",
            "otherpriv",
            "services",
            "ktlbfault",
            "l2tlb",
            "reflect",
            "numa",
            "idle"
        );
        for vm in &self.vms {
            let s = &vm.total;
            let _ = writeln!(
                t,
                "{:<12} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                vm.name,
                ms(s.user_cycles),
                ms(s.kernel_cycles),
                ms(s.tlb_write_cycles),
                ms(s.other_priv_cycles),
                ms(s.services_cycles),
                ms(s.kernel_tlb_fault_cycles),
                ms(s.l2tlb_refill_cycles),
                ms(s.reflect_cycles),
                ms(s.numa_cycles),
                ms(s.idle_cycles),
            );
        }
        let _ = writeln!(
            t,
            "{:<12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "counts",
            "tlbwrite",
            "otherpriv",
            "ktlbfault",
            "l2tlb-hit",
            "forwarded",
            "reflected",
            "device",
            "waits",
            "patched"
        );
        for vm in &self.vms {
            let s = &vm.total;
            let _ = writeln!(
                t,
                "{:<12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
                vm.name,
                s.tlb_writes,
                s.other_privs,
                s.kernel_tlb_faults,
                s.l2tlb_hits,
                s.l2tlb_misses,
                s.reflected,
                s.device_accesses,
                s.waits,
                s.patches
            );
        }
        let _ = writeln!(
            t,
            "{:<12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "sharing",
            "backed",
            "shared",
            "cachehit",
            "cachefill",
            "kernshare",
            "kernoffer",
            "kernunshr",
            "cowfault",
            "cowfresh"
        );
        for vm in &self.vms {
            let s = &vm.sharing;
            let _ = writeln!(
                t,
                "{:<12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
                vm.name,
                vm.footprint.pages_backed,
                vm.footprint.pages_shared,
                s.cache_hits,
                s.cache_fills,
                s.kernel_pages_mapped,
                s.kernel_pages_offered,
                s.kernel_regions_unshared,
                s.cow_faults,
                s.cow_replaced
            );
        }
        let m = &self.memory;
        let mib = |pages: u64| pages as f64 * 4096.0 / (1 << 20) as f64;
        let _ = writeln!(
            t,
            "machine memory: {:.1} MiB private, {:.1} MiB shared ({} pages mapped {} times), {:.1} MiB in the disk cache, {:.1} MiB free",
            mib(m.private_pages),
            mib(m.shared_pages),
            m.shared_pages,
            m.shared_mappings,
            mib(m.disk_cache_pages),
            m.free_bytes as f64 / (1 << 20) as f64
        );
        if self.numa.config.enabled() {
            t.push_str(&self.numa_table(cpu_hz));
        }
        for vm in &self.vms {
            let _ = writeln!(t, "{}: {}", vm.name, vm.state);
        }
        for vm in &self.vms {
            if let Some(services) = &vm.services {
                let kernel = vm.total.kernel_cycles + vm.total.monitor_cycles();
                t.push_str(&crate::services::table(
                    &vm.name, services, kernel, cpu_hz, 10,
                ));
            }
        }
        t
    }
}

impl MonitorReport {
    /// The NUMA policy's table: per VM the hot pages taken, migrations and
    /// replications with their rate and average latency (as the paper's
    /// Table 3), collapses, freezes and the refusals by reason.
    pub fn numa_table(&self, cpu_hz: u64) -> String {
        use std::fmt::Write;
        let mut t = String::new();
        let c = &self.numa.config;
        let _ = writeln!(
            t,
            "NUMA policy: migrate {} replicate {}, trigger {} sharing {} write {} move limit {} reset {} ms freeze {}x{}; {} replica pages now",
            c.migrate,
            c.replicate,
            c.trigger,
            c.sharing,
            c.write,
            c.move_limit,
            c.reset_interval_ms,
            c.freeze_after,
            c.freeze_intervals,
            self.memory.replica_pages
        );
        let _ = writeln!(
            t,
            "{:<12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7}  refused",
            "numa",
            "hot",
            "migrate",
            "mig-us",
            "replicate",
            "repl-us",
            "collapse",
            "shootdown",
            "frozen"
        );
        let us = |cycles: u64, n: u64| {
            if n == 0 {
                0.0
            } else {
                cycles as f64 / n as f64 * 1e6 / cpu_hz as f64
            }
        };
        for vm in &self.vms {
            let s = &vm.numa;
            let refused: Vec<String> = s.refused.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let _ = writeln!(
                t,
                "{:<12} {:>9} {:>9} {:>9.1} {:>9} {:>9.1} {:>9} {:>9} {:>7}  {}",
                vm.name,
                s.hot_pages,
                s.migrations,
                us(s.migrate_cycles, s.migrations),
                s.replications,
                us(s.replicate_cycles, s.replications),
                s.collapses,
                s.shootdowns,
                s.freezes,
                refused.join(", ")
            );
        }
        t
    }
}
