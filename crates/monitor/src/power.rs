//! Powering a multiprocessor VM's vCPUs up and down through its virtual
//! CPC, as Linux's CPS SMP code does with the bare machine's cores.
//!
//! A secondary vCPU starts [`VcpuState::Offline`]. When the guest releases
//! its core (a CPC `PWRUP`/`RESET` command, or a GCR reset release), the
//! vCPU is reset at the core's reset base with the Count of the vCPU that
//! asked — cores of a CPS count from one reference clock — and becomes
//! runnable; its home physical CPU picks it up at its next scheduling
//! point. Powering a core down takes its vCPU off its physical CPU and
//! marks it offline.

use machine::cps::CpsEvent;
use machine::Machine;

use crate::trap::account;
use crate::vcpu::VcpuState;
use crate::Monitor;

impl Monitor {
    /// Applies the core starts and stops VM `vi`'s CPC produced while the
    /// vCPU on physical CPU `p` ran.
    pub(crate) fn apply_cps_events(&mut self, m: &mut Machine, p: usize, vi: usize) {
        let events = self.vms[vi].devices.take_cps_events();
        if events.is_empty() {
            return;
        }
        let at = m.cpus[p].cycles();
        let count = match self.pcpus[p].current {
            Some((cvi, ci)) if cvi == vi => self.vms[vi].vcpus[ci].shadow.count(),
            _ => m.cpus[p].count(),
        };
        for event in events {
            let (core, start) = match event {
                CpsEvent::StartCore { core, reset_pc } => (core, Some(reset_pc)),
                CpsEvent::StopCore { core } => (core, None),
            };
            let core = core as usize;
            if core >= self.vms[vi].vcpus.len() {
                continue;
            }
            self.unload(m, vi, core);
            let v = &mut self.vms[vi].vcpus[core];
            match start {
                Some(pc) => {
                    v.power_up(pc, at, count);
                    tracing::debug!(target: "monitor::smp", vm = vi, "vCPU {core} starts at {pc:#x} (cycle {at})");
                }
                None => {
                    v.state = VcpuState::Offline;
                    tracing::debug!(target: "monitor::smp", vm = vi, "vCPU {core} powered down (cycle {at})");
                }
            }
        }
    }

    /// Takes VM `vi`'s vCPU `ci` off the physical CPU it is loaded on, if
    /// any, and flushes that CPU's TLB. Its registers are not saved: it is
    /// about to be reset, powered down or stopped for good.
    pub(crate) fn unload(&mut self, m: &mut Machine, vi: usize, ci: usize) {
        let v = &mut self.vms[vi].vcpus[ci];
        let Some(q) = v.loaded_on.take() else {
            return;
        };
        let cpu = &mut m.cpus[q];
        account(v, cpu.cycles());
        self.pcpus[q].current = None;
        self.pcpus[q].tlb.flush(cpu);
    }
}
