//! The vCPU scheduler and the run loop (§4.2.1, §4.3.3).
//!
//! Physical CPUs run one after another in quanta of simulated time, as on
//! the bare machine, so runs are deterministic. Each physical CPU runs one
//! vCPU at a time: the one it was running while that vCPU stays runnable
//! and no other wants the CPU for longer than a timeslice; otherwise the
//! next runnable vCPU whose home it is (round-robin), or else one taken
//! from another CPU's share. Switching vCPUs flushes the physical TLB. A
//! vCPU that executes `wait` is descheduled until an interrupt is asserted
//! for it; a CPU with nothing to run idles until the next event.
//!
//! Virtual interrupts (the vCPU's timer, its VM's devices) are posted to the
//! vCPU's virtual Cause register and delivered through the guest's vectors
//! when its virtual Status allows; slices end at the next timer or device
//! event so that delivery is on time.

use machine::Machine;
use mips::cp0::{reg, status};
use mips::{Cpu, ExcCode, Exception, RunExit};

use crate::cost::Work;
use crate::trap::{account, charge};
use crate::vcpu::VcpuState;
use crate::vm::VmState;
use crate::Monitor;

/// The Status a physical CPU runs a vCPU with, given the vCPU's virtual
/// Status: guest kernel mode (virtual KSU = 0, EXL or ERL) runs in
/// supervisor mode, anything else in user mode; 64-bit addressing as the
/// guest asked for user mode (always for the kernel); the guest's FPU
/// enable and register mode; no interrupts (the monitor posts virtual ones)
/// and no CP0 access (it traps).
pub fn physical_status(virtual_status: u64) -> u64 {
    let v = virtual_status;
    let kernel = v & (status::EXL | status::ERL) != 0 || v & status::KSU == 0;
    let ksu: u64 = if kernel { 1 } else { 2 };
    status::KX
        | status::SX
        | (v & (status::UX | status::CU1 | status::FR))
        | (ksu << status::KSU_SHIFT)
}

/// Makes physical CPU `cpu` reflect what the guest set in `shadow`'s CP0
/// that runs without traps: the mode, the ASID, UserLocal and HWREna (for
/// `rdhwr`: the guest's in user mode, everything in kernel mode, where
/// `rdhwr` is always allowed), and Count.
pub fn sync_physical(cpu: &mut Cpu, shadow: &Cpu) {
    let ps = physical_status(shadow.cp0.status);
    if cpu.cp0.status != ps {
        cpu.set_status(ps);
    }
    if cpu.cp0.asid() != shadow.cp0.asid() {
        cpu.write_cp0(reg::ENTRYHI, 0, u64::from(shadow.cp0.asid()), true);
    }
    cpu.cp0.userlocal = shadow.cp0.userlocal;
    cpu.cp0.hwrena = if shadow.privilege() == mips::Privilege::Kernel {
        mips::cp0::HWRENA_MASK
    } else {
        shadow.cp0.hwrena
    };
    if cpu.count() != shadow.count() {
        cpu.set_count(shadow.count());
    }
}

impl Monitor {
    /// Runs the VMs for up to `cycles` simulated cycles; returns true once
    /// every VM has ended.
    pub fn run_for(&mut self, m: &mut Machine, cycles: u64) -> bool {
        let end = self.now.saturating_add(cycles);
        let clock = m.clock();
        while self.now < end && !self.all_ended() {
            let now = self.now;
            crate::subnet::switch_frames(&mut self.vms);
            for i in 0..self.vms.len() {
                let vm = &mut self.vms[i];
                if vm.state.ended() {
                    continue;
                }
                vm.devices.advance_to(clock.ns(now));
                if vm.devices.virtio_due(clock.ns(now)) {
                    // Completions only: requests are taken (and their pages
                    // mapped, charged) in the notifying vCPU's trap.
                    let _ = self.service_vm_devices(m, i, clock.ns(now));
                }
            }
            self.wake_waiters(now);
            let mut slice_end = end.min(now.saturating_add(self.quantum));
            for vm in self.vms.iter().filter(|vm| !vm.state.ended()) {
                if let Some(ns) = vm.devices.next_event_ns() {
                    slice_end = slice_end.min(clock.cycles(ns).max(now + 1));
                }
                let live = |v: &&crate::vcpu::Vcpu| {
                    !matches!(v.state, VcpuState::Stopped | VcpuState::Offline)
                };
                for v in vm.vcpus.iter().filter(live) {
                    let t = v.shadow.timer_deadline();
                    if t > now {
                        slice_end = slice_end.min(t);
                    }
                }
            }
            for p in 0..self.pcpus.len() {
                self.run_pcpu(m, p, slice_end);
            }
            self.now = slice_end;
            m.set_time(slice_end);
            self.numa_tick(m);
            self.detect_poweroff(m);
        }
        self.all_ended()
    }

    /// Makes waiting vCPUs with an asserted interrupt runnable.
    fn wake_waiters(&mut self, now: u64) {
        for vi in 0..self.vms.len() {
            self.wake_vm_waiters(vi, now);
        }
    }

    /// Makes VM `vi`'s waiting vCPUs with an asserted interrupt runnable
    /// at cycle `now`.
    pub(crate) fn wake_vm_waiters(&mut self, vi: usize, now: u64) {
        let vm = &mut self.vms[vi];
        if vm.state.ended() {
            return;
        }
        for v in vm.vcpus.iter_mut() {
            if v.state != VcpuState::Waiting {
                continue;
            }
            v.shadow.set_irq_lines(vm.devices.lines_for(v.id));
            v.shadow.advance_clock(now);
            if v.shadow.interrupt_would_be_taken() {
                tracing::trace!(target: "monitor::irq", "vCPU {} wakes at cycle {now}", v.id);
                v.state = VcpuState::Runnable;
                v.stats.idle_cycles += now.saturating_sub(v.wait_start);
                v.mark = v.mark.max(now);
            }
        }
    }

    /// Ends VMs whose every vCPU is powered down or waits with no
    /// interrupt able to wake it.
    fn detect_poweroff(&mut self, m: &mut Machine) {
        for vi in 0..self.vms.len() {
            let vm = &self.vms[vi];
            let off = !vm.state.ended()
                && vm.vcpus.iter().all(|v| {
                    v.state == VcpuState::Offline
                        || (v.state == VcpuState::Waiting && !v.shadow.can_be_woken())
                });
            if off {
                self.stop_vm(m, vi, VmState::PoweredOff);
            }
        }
    }

    /// Runs physical CPU `p` up to cycle `until`.
    fn run_pcpu(&mut self, m: &mut Machine, p: usize, until: u64) {
        loop {
            let now = m.cpus[p].cycles();
            if now >= until {
                return;
            }
            let Some((vi, ci)) = self.choose(m, p, now) else {
                // Nothing to run: idle to the end of the slice.
                let cpu = &mut m.cpus[p];
                while cpu.cycles() < until {
                    cpu.idle_until(until);
                }
                self.pcpus[p].idle_cycles += until - now;
                return;
            };
            self.deliver_interrupt(m, p, vi, ci);
            let deadline = self.vms[vi].vcpus[ci].shadow.timer_deadline();
            let run_until = if deadline > now {
                until.min(deadline)
            } else {
                until
            };
            let page = self.vms[vi].vcpus[ci].regs_page;
            if let Some(page) = page {
                crate::regpage::publish(&mut m.mem, page, &self.vms[vi].vcpus[ci].shadow);
            }
            let exit = m.run_cpu_raw(p, run_until);
            if let Some(page) = page {
                crate::regpage::absorb(&m.mem, page, &mut self.vms[vi].vcpus[ci].shadow);
            }
            match exit {
                RunExit::Limit | RunExit::Stop => {}
                RunExit::Trap(t) => self.handle_trap(m, p, t),
                // WAIT traps in VM mode; only a `b .; nop` loop halts.
                RunExit::Halted => self.handle_spin(m, p),
                RunExit::Wedged { vector, .. } => self.stop_vm(
                    m,
                    vi,
                    VmState::Failed(format!("its CPU cannot fetch {vector:#x}")),
                ),
            }
        }
    }

    /// The vCPU physical CPU `p` runs now, switching if needed.
    fn choose(&mut self, m: &mut Machine, p: usize, now: u64) -> Option<(usize, usize)> {
        let current = self.pcpus[p].current;
        if let Some((vi, ci)) = current {
            let v = &self.vms[vi].vcpus[ci];
            let runnable = v.state == VcpuState::Runnable;
            if runnable && now - v.turn_start < self.timeslice {
                return current;
            }
            match self.pick(p, current) {
                Some(next) if Some(next) != current => {
                    self.switch(m, p, Some(next));
                    Some(next)
                }
                _ if runnable => {
                    self.vms[vi].vcpus[ci].turn_start = now;
                    current
                }
                _ => None,
            }
        } else {
            let next = self.pick(p, None)?;
            self.switch(m, p, Some(next));
            Some(next)
        }
    }

    /// The next runnable vCPU for physical CPU `p` (not running elsewhere):
    /// its own first, round-robin after the last pick, else another's.
    fn pick(&mut self, p: usize, current: Option<(usize, usize)>) -> Option<(usize, usize)> {
        let all: Vec<(usize, usize)> = self
            .vms
            .iter()
            .enumerate()
            .flat_map(|(vi, vm)| (0..vm.vcpus.len()).map(move |ci| (vi, ci)))
            .collect();
        let n = all.len();
        let start = self.pcpus[p].last_pick;
        let candidates = (1..=n).map(|k| (start + k) % n);
        let free = |&(vi, ci): &(usize, usize)| {
            let v = &self.vms[vi].vcpus[ci];
            v.state == VcpuState::Runnable
                && (v.loaded_on.is_none() || v.loaded_on == Some(p))
                && Some((vi, ci)) != current
        };
        let own = candidates
            .clone()
            .find(|&k| free(&all[k]) && self.vms[all[k].0].vcpus[all[k].1].home == p);
        let k = own.or_else(|| candidates.clone().find(|&k| free(&all[k])))?;
        self.pcpus[p].last_pick = k;
        Some(all[k])
    }

    /// Puts `next` (or nothing) on physical CPU `p`, saving the vCPU there.
    fn switch(&mut self, m: &mut Machine, p: usize, next: Option<(usize, usize)>) {
        let cpu = &mut m.cpus[p];
        if let Some((vi, ci)) = self.pcpus[p].current.take() {
            let v = &mut self.vms[vi].vcpus[ci];
            account(v, cpu.cycles());
            v.shadow.copy_registers_from(cpu);
            v.loaded_on = None;
        }
        self.pcpus[p].tlb.flush(cpu);
        if let Some((vi, ci)) = next {
            let v = &mut self.vms[vi].vcpus[ci];
            v.shadow.advance_clock(cpu.cycles());
            cpu.copy_registers_from(&v.shadow);
            cpu.cp0.ebase = (cpu.cp0.ebase & !0x3ff) | u64::from(v.id);
            sync_physical(cpu, &v.shadow);
            v.loaded_on = Some(p);
            v.mark = cpu.cycles();
            v.turn_start = cpu.cycles();
            v.stats.switches += 1;
            self.pcpus[p].current = next;
        }
    }

    /// Delivers a pending virtual interrupt to the vCPU on `p`, if its
    /// virtual Status allows one now.
    fn deliver_interrupt(&mut self, m: &mut Machine, p: usize, vi: usize, ci: usize) {
        let vm = &mut self.vms[vi];
        let lines = vm.devices.lines_for(ci as u32);
        let v = &mut vm.vcpus[ci];
        let cpu = &mut m.cpus[p];
        v.shadow.set_irq_lines(lines);
        v.shadow.advance_clock(cpu.cycles());
        if !v.shadow.interrupt_would_be_taken() || cpu.in_delay_slot() {
            return;
        }
        account(v, cpu.cycles());
        v.shadow.copy_registers_from(cpu);
        let start = crate::trap::service_start(v, cpu.cycles());
        let pc = cpu.pc;
        tracing::trace!(target: "monitor::irq", cpu = p, vm = vi, "interrupt at pc={pc:#x} cause={:#x}", v.shadow.cp0.cause);
        let int = Exception::new(ExcCode::Int);
        v.shadow.take_exception(int, pc, false);
        crate::trap::service_enter(v, &int, start);
        v.last_vector = v.shadow.pc;
        cpu.copy_registers_from(&v.shadow);
        cpu.clear_ll();
        sync_physical(cpu, &v.shadow);
        v.stats.reflected += 1;
        let cost = self.costs.trap + self.costs.reflect;
        charge(cpu, v, Work::Reflect, cost);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_kernel_runs_in_supervisor_mode_and_user_in_user_mode() {
        let kernel = physical_status(status::BEV | status::ERL | status::CU1);
        assert_eq!((kernel & status::KSU) >> status::KSU_SHIFT, 1);
        assert_eq!(
            kernel & (status::ERL | status::EXL | status::IE | status::BEV),
            0
        );
        assert_ne!(kernel & status::CU1, 0);
        assert_eq!(kernel & status::CU0, 0, "CP0 access traps");
        let user = physical_status(status::UX | (2 << status::KSU_SHIFT) | status::IE);
        assert_eq!((user & status::KSU) >> status::KSU_SHIFT, 2);
        assert_ne!(user & status::UX, 0);
        assert_eq!(user & status::IE, 0, "the monitor posts interrupts");
        // EXL from user mode (a guest exception handler) is kernel mode.
        let handler = physical_status((2 << status::KSU_SHIFT) | status::EXL);
        assert_eq!((handler & status::KSU) >> status::KSU_SHIFT, 1);
    }
}
