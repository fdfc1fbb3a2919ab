//! Per-VM and per-vCPU accounting in the columns of the paper's Table 2.

use serde::Serialize;

use crate::cost::{CostTable, VcpuStats};
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
}

impl Monitor {
    /// The accounting so far.
    pub fn report(&self) -> MonitorReport {
        let vms = self
            .vms
            .iter()
            .map(|vm| {
                let vcpus: Vec<VcpuStats> = vm.vcpus.iter().map(|v| v.stats.clone()).collect();
                let mut total = VcpuStats::default();
                vcpus.iter().for_each(|s| total.add(s));
                VmReport {
                    name: vm.name.clone(),
                    state: describe(&vm.state),
                    total,
                    vcpus,
                    services: crate::services::collect(&vm.vcpus),
                }
            })
            .collect();
        MonitorReport {
            costs: self.costs.clone(),
            vms,
            pcpu_idle_cycles: self.pcpus.iter().map(|p| p.idle_cycles).collect(),
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
                    self.region = Some(Box::new(self.report()));
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
            "{:<12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "vm",
            "user",
            "kernel",
            "tlbwrite",
            "otherpriv",
            "services",
            "ktlbfault",
            "l2tlb",
            "reflect",
            "idle"
        );
        for vm in &self.vms {
            let s = &vm.total;
            let _ = writeln!(
                t,
                "{:<12} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                vm.name,
                ms(s.user_cycles),
                ms(s.kernel_cycles),
                ms(s.tlb_write_cycles),
                ms(s.other_priv_cycles),
                ms(s.services_cycles),
                ms(s.kernel_tlb_fault_cycles),
                ms(s.l2tlb_refill_cycles),
                ms(s.reflect_cycles),
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
