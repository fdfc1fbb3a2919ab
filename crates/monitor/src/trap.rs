//! Handling a trap from a running vCPU: emulate, refill, or reflect.
//!
//! | Trap | What the monitor does |
//! |---|---|
//! | Coprocessor Unusable from a CP0 instruction | emulate it on the virtual CP0 ([`mips::Cpu::emulate_privileged`]); a TLB write also updates the l2tlb and the physical TLB; `wait` deschedules the vCPU; an `eret` right after a TLB write is emulated in the same trap |
//! | TLB miss in an unmapped kernel segment (guest in kernel mode) | *kernel TLB fault*: map the region from the pmap ([`crate::ktlb`]), or emulate a device access |
//! | TLB miss elsewhere, guest TLB has the entry | refill the physical TLB from the l2tlb |
//! | TLB miss elsewhere, guest TLB misses too | forward (reflect) the TLB exception to the guest |
//! | access to a device page | emulate the load or store ([`crate::mmio`]) |
//! | anything else (syscall, break, reserved instruction, address error, FPU ...) | reflect it to the guest |

use machine::simctl::TimingMode;
use machine::Machine;
use mips::{Access, Cpu, Emulated, ExcCode, Exception, Instr, Trap};

use crate::cost::Work;
use crate::memory::alloc::{CHUNK_SHIFT, MONITOR_RESERVED};
use crate::memory::ktlb;
use crate::memory::memmap::{PageKind, SharedKind};
use crate::mmio;
use crate::patch;
use crate::regpage;
use crate::sched::sync_physical;
use crate::vcpu::{machine_entry, placed_run, Vcpu, VcpuState};
use crate::vm::VmState;
use crate::Monitor;

/// Accounts a loaded vCPU's guest time up to physical cycle `now` to the
/// mode it is in.
pub(crate) fn account(v: &mut Vcpu, now: u64) {
    let delta = now.saturating_sub(v.mark);
    if v.in_kernel() {
        v.stats.kernel_cycles += delta;
    } else {
        v.stats.user_cycles += delta;
    }
    v.mark = v.mark.max(now);
}

/// Charges `cycles` of monitor work of kind `work` to the physical CPU and
/// the vCPU it was done for.
pub(crate) fn charge(cpu: &mut Cpu, v: &mut Vcpu, work: Work, cycles: u64) {
    cpu.spend_cycles(cycles);
    v.stats.charge(work, cycles);
    v.mark = cpu.cycles();
}

/// The vCPU on `cpu` stopped and the monitor takes over: its time so far
/// is accounted and its registers go to the shadow.
fn enter(cpu: &Cpu, v: &mut Vcpu) {
    account(v, cpu.cycles());
    v.shadow.copy_registers_from(cpu);
    v.shadow.advance_clock(cpu.cycles());
}

/// The monitor is done with the vCPU on `cpu` (`cycles` of `work`): the
/// shadow's registers and mode go back to the CPU.
fn leave(cpu: &mut Cpu, v: &mut Vcpu, work: Work, cycles: u64) {
    cpu.copy_registers_from(&v.shadow);
    sync_physical(cpu, &v.shadow);
    charge(cpu, v, work, cycles);
    if v.state == VcpuState::Waiting {
        v.wait_start = cpu.cycles();
    }
}

/// The start of a trap taken in guest user mode while service tracking is
/// on ([`crate::services`]): the physical cycle and the vCPU's statistics
/// once its user time is accounted.
pub(crate) fn service_start(v: &Vcpu, now: u64) -> Option<(u64, Box<crate::cost::VcpuStats>)> {
    (v.services.is_some() && v.shadow.privilege() == mips::Privilege::User)
        .then(|| (now, Box::new(v.stats.clone())))
}

/// Exception `e` was just delivered to the guest kernel of `v`, from user
/// mode at `start` (from [`service_start`]): a guest service starts.
pub(crate) fn service_enter(
    v: &mut Vcpu,
    e: &Exception,
    start: Option<(u64, Box<crate::cost::VcpuStats>)>,
) {
    if let (Some((now, before)), Some(s)) = (start, v.services.as_deref_mut()) {
        s.enter(mips::ServiceKey::of(e, v.shadow.gpr[2]), now, &before);
    }
}

/// What to do after a trap.
enum Outcome {
    /// Resume the guest where the shadow's PC says.
    Resume(Work, u64),
    /// Reflect this exception to the guest.
    Reflect(Exception),
    /// Stop the VM: it failed.
    Fail(String),
}

impl Monitor {
    /// The vCPU on physical CPU `p` reached a `b .; nop` loop (its PC on the
    /// branch): only an interrupt can end it, as a `wait`, so it waits the
    /// same way. Woken, it takes the interrupt with EPC on the branch, as
    /// when spinning. With its interrupts disabled it never wakes, which is
    /// how Linux parks the other CPUs when it halts or powers off (see
    /// `detect_poweroff`). Shortcut: the monitor notices the loop at once
    /// instead of at the end of the vCPU's timeslice; the loop counts as
    /// idle time and one privileged-instruction trap.
    pub(crate) fn handle_spin(&mut self, m: &mut Machine, p: usize) {
        let Some((vi, ci)) = self.pcpus[p].current else {
            return;
        };
        let cpu = &mut m.cpus[p];
        let v = &mut self.vms[vi].vcpus[ci];
        enter(cpu, v);
        tracing::trace!(target: "monitor::trap", cpu = p, vm = vi, "spin loop at pc={:#x}: wait", v.shadow.pc);
        v.state = VcpuState::Waiting;
        v.stats.waits += 1;
        let cycles = self.costs.trap + self.costs.other_priv;
        leave(cpu, v, Work::OtherPriv, cycles);
    }

    /// Handles trap `t` of the vCPU on physical CPU `p`.
    pub(crate) fn handle_trap(&mut self, m: &mut Machine, p: usize, t: Trap) {
        let Some((vi, ci)) = self.pcpus[p].current else {
            return;
        };
        let now_ns = m.clock().ns(m.cpus[p].cycles());
        let detailed = m.timing_mode() == TimingMode::Detailed;
        let node = m.devices.timing.node_of_cpu(p as u32);
        let (start, tracking) = {
            let v = &mut self.vms[vi].vcpus[ci];
            enter(&m.cpus[p], v);
            (service_start(v, m.cpus[p].cycles()), v.services.is_some())
        };
        let was_kernel = tracking && self.vms[vi].vcpus[ci].in_kernel();
        let outcome = self.decide(m, p, vi, ci, &t, now_ns, node);
        let l2tlb_refill = matches!(outcome, Outcome::Resume(Work::L2tlbRefill, _));
        tracing::trace!(
            target: "monitor::trap",
            cpu = p,
            vm = vi,
            "{} pc={:#x} badvaddr={:#x} bd={} instr={:?} -> {}",
            t.exception.code.name(),
            t.pc,
            t.exception.badvaddr,
            t.in_delay_slot,
            t.instr,
            match &outcome {
                Outcome::Resume(w, _) => format!("{w:?}, resume at {:#x}", self.vms[vi].vcpus[ci].shadow.pc),
                Outcome::Reflect(e) => format!("reflect {}", e.code.name()),
                Outcome::Fail(why) => format!("fail: {why}"),
            }
        );
        let costs = &self.costs;
        let (work, mut cycles) = match outcome {
            Outcome::Resume(work, extra) => (work, costs.trap + extra),
            Outcome::Reflect(e) => {
                let v = &mut self.vms[vi].vcpus[ci];
                let pc = if t.in_delay_slot {
                    t.pc.wrapping_add(4)
                } else {
                    t.pc
                };
                v.shadow.take_exception(e, pc, t.in_delay_slot);
                service_enter(v, &e, start.clone());
                v.last_vector = v.shadow.pc;
                v.stats.reflected += 1;
                if e.is_tlb() {
                    v.stats.l2tlb_misses += 1;
                }
                (Work::Reflect, costs.trap + costs.reflect)
            }
            Outcome::Fail(why) => {
                self.stop_vm(m, vi, VmState::Failed(why));
                return;
            }
        };
        if self.vms[vi].check_exit() {
            let state = self.vms[vi].state.clone();
            self.vms[vi].state = VmState::Running;
            self.stop_vm(m, vi, state);
            return;
        }
        if self.vms[vi].devices.simctl.has_request() {
            self.apply_simctl(m, vi);
        }
        if detailed {
            let stall = self.monitor_references(m, p, vi, ci, &t);
            self.vms[vi].vcpus[ci].stats.monitor_stall_cycles += stall;
            cycles += stall;
        }
        if self.vms[vi].vcpus[ci].shadow.privilege() == mips::Privilege::User {
            self.share_kernel_image(m, p, vi, ci);
        }
        leave(&mut m.cpus[p], &mut self.vms[vi].vcpus[ci], work, cycles);
        if tracking {
            let v = &mut self.vms[vi].vcpus[ci];
            let now = m.cpus[p].cycles();
            let back_in_user = v.shadow.privilege() == mips::Privilege::User;
            if let Some(s) = v.services.as_deref_mut() {
                match start {
                    // A TLB miss from user mode refilled from the l2tlb:
                    // a whole service in the monitor.
                    Some((at, before)) if l2tlb_refill => {
                        s.record(mips::ServiceKey::TlbRefill, at, &before, now, &v.stats)
                    }
                    // An emulated eret returned to user mode.
                    None if was_kernel && back_in_user => s.exit(now, &v.stats),
                    _ => {}
                }
            }
        }
    }

    /// Decides and does the work for trap `t` (guest registers are in the
    /// shadow).
    #[allow(clippy::too_many_arguments)]
    fn decide(
        &mut self,
        m: &mut Machine,
        p: usize,
        vi: usize,
        ci: usize,
        t: &Trap,
        now_ns: u64,
        node: u32,
    ) -> Outcome {
        let e = t.exception;
        let outcome = self.decide_kind(m, p, vi, ci, t, now_ns, node);
        let v = &self.vms[vi].vcpus[ci];
        match outcome {
            Outcome::Reflect(r)
                if t.instr.is_none() && t.pc == v.last_vector && r.code != ExcCode::Int =>
            {
                // Fetching the handler the guest was just sent to failed:
                // it would fault forever (no handler, or a wild EBase).
                Outcome::Fail(format!(
                    "it cannot fetch its exception vector {:#x} ({})",
                    t.pc,
                    e.code.name()
                ))
            }
            other => other,
        }
    }

    /// [`Monitor::decide`] by exception kind.
    #[allow(clippy::too_many_arguments)]
    fn decide_kind(
        &mut self,
        m: &mut Machine,
        p: usize,
        vi: usize,
        ci: usize,
        t: &Trap,
        now_ns: u64,
        node: u32,
    ) -> Outcome {
        let e = t.exception;
        match e.code {
            ExcCode::CpU if e.ce == 0 && t.instr.is_some() => self.privileged(m, p, vi, ci, t),
            ExcCode::TlbL | ExcCode::TlbS | ExcCode::Mod => {
                self.tlb_fault(m, p, vi, ci, t, now_ns, node)
            }
            // Physical interrupts are never enabled for guests.
            ExcCode::Int => Outcome::Resume(Work::Reflect, 0),
            _ => Outcome::Reflect(e),
        }
    }

    /// Emulates a privileged instruction.
    fn privileged(&mut self, m: &mut Machine, p: usize, vi: usize, ci: usize, t: &Trap) -> Outcome {
        let ins = t.instr.expect("checked by the caller");
        let at = instruction_address(t);
        let next = next_pc(t);
        let costs = self.costs.clone();
        let patching = self.vms[vi].vcpus[ci].regs_page.is_some();
        let vm = &mut self.vms[vi];
        let v = &mut vm.vcpus[ci];
        let outcome = match v.shadow.emulate_privileged(&ins, at) {
            Err(e) => Outcome::Reflect(e),
            Ok(Emulated::Next) => {
                v.shadow.pc = next;
                v.stats.other_privs += 1;
                let patched = patching && self.patch_site(m, p, vi, ci, t, &ins);
                let extra = if patched { costs.patch } else { 0 };
                Outcome::Resume(Work::OtherPriv, costs.other_priv + extra)
            }
            Ok(Emulated::Eret(target)) => {
                v.shadow.pc = target;
                v.stats.other_privs += 1;
                Outcome::Resume(Work::OtherPriv, costs.other_priv)
            }
            Ok(Emulated::Wait) => {
                v.shadow.pc = next;
                v.state = VcpuState::Waiting;
                v.stats.other_privs += 1;
                v.stats.waits += 1;
                Outcome::Resume(Work::OtherPriv, costs.other_priv)
            }
            Ok(Emulated::TlbWritten { index, .. }) => {
                v.shadow.pc = next;
                v.stats.tlb_writes += 1;
                let entry = *v.shadow.tlb().entry(index);
                v.l2tlb.update(index, entry);
                let cpu = &mut m.cpus[p];
                self.pcpus[p].tlb.drop_guest_index(cpu, index);
                // Insert the new translation right away (§4.2.2: "inserted
                // into the l2tlb and the R10000 TLB").
                if (entry.lo[0] | entry.lo[1]) & mips::tlb::LO_V != 0 {
                    let va = entry.virtual_range().0;
                    let node = m.devices.timing.node_of_cpu(p as u32);
                    let (phys, pages) = {
                        let (pmap, memory) = (&vm.pmap, &self.memory);
                        machine_entry(&entry, va, |g, n| placed_run(memory, pmap, node, g, n))
                    };
                    if pages.iter().any(|&g| g != u64::MAX) {
                        self.pcpus[p].tlb.insert_guest(cpu, phys, vi, index, pages);
                    }
                }
                Outcome::Resume(Work::TlbWrite, costs.tlb_write)
            }
        };
        if matches!(outcome, Outcome::Resume(Work::TlbWrite, _)) {
            self.emulate_following_eret(m, p, vi, ci);
        }
        outcome
    }

    /// Emulates, within the trap of a TLB write just emulated, an `eret`
    /// that immediately follows it (Linux's TLB refill handler ends
    /// `tlbwr; eret`): the guest would trap on it at once, so emulating it
    /// now is exact and saves a trap's entry and exit. Only after a TLB
    /// write, which changes neither mode nor ASID, so that the physical
    /// CPU (not yet synchronised with the shadow) fetches the next word as
    /// the guest would. Not when that word lies on an unmapped page, or a
    /// virtual interrupt is due first.
    fn emulate_following_eret(&mut self, m: &mut Machine, p: usize, vi: usize, ci: usize) {
        let v = &mut self.vms[vi].vcpus[ci];
        if v.state != VcpuState::Runnable || !v.in_kernel() || v.shadow.interrupt_would_be_taken() {
            return;
        }
        let at = v.shadow.pc;
        let cpu = &mut m.cpus[p];
        let Ok(tr) = cpu.translate(at, Access::Fetch) else {
            return;
        };
        if m.mem.read_u32(tr.pa).map(mips::decode) != Ok(Instr::Eret) {
            return;
        }
        let Ok(Emulated::Eret(target)) = v.shadow.emulate_privileged(&Instr::Eret, at) else {
            return;
        };
        v.shadow.pc = target;
        v.stats.other_privs += 1;
        tracing::trace!(target: "monitor::trap", cpu = p, vm = vi, "Eret pc={at:#x} (after the emulated instruction) -> resume at {target:#x}");
        charge(cpu, v, Work::OtherPriv, self.costs.other_priv);
    }

    /// Rewrites the privileged instruction of trap `t` (just emulated) in
    /// guest memory, if [`patch::rewrite`] has a rewrite for it; true when
    /// it did. The instruction is found through the physical CPU's TLB,
    /// which just fetched it, and must still be the word that trapped.
    fn patch_site(
        &mut self,
        m: &mut Machine,
        p: usize,
        vi: usize,
        ci: usize,
        t: &Trap,
        ins: &Instr,
    ) -> bool {
        let at = instruction_address(t);
        let Ok(tr) = m.cpus[p].translate(at, Access::Fetch) else {
            return false;
        };
        let word = |k: u64| m.mem.read_u32(tr.pa + 4 * k).ok();
        if word(0).map(mips::decode) != Some(*ins) {
            return false;
        }
        let on_page = |k: u64| (tr.pa & 0xfff) + 4 * k < 0x1000;
        let following: Vec<u32> = (1..=patch::WINDOW as u64)
            .take_while(|&k| on_page(k))
            .map_while(word)
            .collect();
        let Some(rewrite) = patch::rewrite(ins, t.in_delay_slot, &following) else {
            return false;
        };
        // The monitor never writes a shared page in place, with one
        // exception: a rewrite in shared kernel text is the same for every
        // VM (every vCPU's register page is at the same address, with the
        // same layout), so it is made in place, for all the sharers at once,
        // as if each had trapped there. A disk-cache page is copied first.
        // A replicated page (the CPU fetched from the master or a replica)
        // is rewritten in all its copies alike, like shared kernel text.
        let mut pa = match self.memory.memmap.master_of(tr.pa >> 12) {
            Some(master) => (master << 12) | (tr.pa & 0xfff),
            None => tr.pa,
        };
        let shared = self.memory.memmap.shared(pa >> 12).map(|s| {
            let me = s.users.iter().find(|u| u.vm == vi).copied();
            (s.kind, me)
        });
        // In a kernel-image page (shared, or private to a VM that may share
        // it later) the original words are kept, so that the image still
        // compares equal with those of VMs that have not trapped there yet.
        let keep_original = match shared {
            Some((SharedKind::KernelText { .. }, _)) => true,
            Some((_, Some(user))) => {
                let node = m.devices.timing.node_of_cpu(p as u32);
                if self
                    .copy_on_write(
                        m,
                        vi,
                        user.guest_page,
                        node,
                        "monitor rewriting an instruction",
                    )
                    .is_err()
                {
                    return false;
                }
                let Some(e) = self.vms[vi].pmap.entry(user.guest_page) else {
                    return false;
                };
                pa = (e.machine_page << 12) | (pa & 0xfff);
                false
            }
            Some((_, None)) => return false,
            None => {
                let image = self.vms[vi].kernel_image;
                self.memory.share_kernel
                    && self.memory.memmap.user(pa >> 12).is_some_and(|u| {
                        image.is_some_and(|(first, end)| (first..end).contains(&u.guest_page))
                    })
            }
        };
        if keep_original {
            for k in 0..rewrite.words.len() as u64 {
                let Some(word) = m.mem.read_u32(pa + 4 * k).ok() else {
                    return false;
                };
                self.memory.record_kernel_patch(pa + 4 * k, word);
            }
        }
        let offset = pa & 0xfff;
        let copies = std::iter::once(pa >> 12)
            .chain(self.memory.memmap.replicas(pa >> 12).iter().map(|r| r.page))
            .collect::<Vec<_>>();
        for page in copies {
            for (k, &w) in rewrite.words.iter().enumerate() {
                if m.mem
                    .write_u32((page << 12) + offset + 4 * k as u64, w)
                    .is_err()
                {
                    return false;
                }
            }
        }
        let v = &mut self.vms[vi].vcpus[ci];
        rewrite.complete(&mut v.shadow, at);
        v.stats.patches += 1;
        tracing::trace!(target: "monitor::patch", cpu = p, vm = vi, "rewrote {ins:?} at {at:#x} into {:x?}", rewrite.words);
        true
    }

    /// Handles a TLB exception at a guest address.
    #[allow(clippy::too_many_arguments)]
    fn tlb_fault(
        &mut self,
        m: &mut Machine,
        p: usize,
        vi: usize,
        ci: usize,
        t: &Trap,
        now_ns: u64,
        node: u32,
    ) -> Outcome {
        let e = t.exception;
        let va = e.badvaddr;
        let access = match (e.code, t.instr) {
            (ExcCode::TlbS | ExcCode::Mod, _) => Access::Store,
            (_, None) => Access::Fetch,
            _ => Access::Load,
        };
        let costs = self.costs.clone();
        let in_kernel = self.vms[vi].vcpus[ci].in_kernel();
        let regs_page = self.vms[vi].vcpus[ci].regs_page;
        if let (true, true, Some(page)) = (in_kernel, regpage::contains(va), regs_page) {
            // A rewritten instruction reaches the register page.
            let entry = regpage::tlb_entry(page);
            self.pcpus[p].tlb.insert_registers(&mut m.cpus[p], entry);
            self.vms[vi].vcpus[ci].stats.kernel_tlb_faults += 1;
            return Outcome::Resume(Work::KernelTlbFault, costs.kernel_tlb_fault);
        }
        if in_kernel {
            if let Some(gpa) = ktlb::unmapped_gpa(va) {
                return self.kernel_tlb_fault(m, p, vi, ci, t, va, gpa, access, now_ns, node);
            }
        }
        let vm = &mut self.vms[vi];
        let translated = vm.vcpus[ci].shadow.translate(va, access);
        let gpa = match translated {
            Err(ge) => return Outcome::Reflect(ge),
            Ok(tr) => tr.pa,
        };
        if !vm.pmap.contains(gpa) {
            return self.device_access(m, p, vi, ci, t, gpa, access, now_ns);
        }
        let chunk = gpa >> CHUNK_SHIFT;
        if self
            .memory
            .back(&mut m.mem, &mut vm.pmap, vi, chunk, node)
            .is_err()
        {
            return Outcome::Fail("machine memory is exhausted".into());
        }
        // A store the guest's entry allows, to a page the VM shares: a
        // copy-on-write fault.
        let mut extra = 0;
        if access == Access::Store {
            let writer = if in_kernel {
                "kernel store"
            } else {
                "user store"
            };
            match self.copy_on_write(m, vi, gpa >> 12, node, writer) {
                Ok(cycles) => extra = cycles,
                Err(why) => return Outcome::Fail(why),
            }
        }
        let vm = &mut self.vms[vi];
        let v = &mut vm.vcpus[ci];
        let Some((index, guest)) = v.l2tlb.find(va, v.shadow.cp0.asid()) else {
            // The guest's TLB translated it, so the l2tlb mirrors it.
            return Outcome::Fail(format!("l2tlb lost the guest's entry for {va:#x}"));
        };
        let (phys, pages) = {
            let (pmap, memory) = (&vm.pmap, &self.memory);
            machine_entry(&guest, va, |g, n| placed_run(memory, pmap, node, g, n))
        };
        self.pcpus[p]
            .tlb
            .insert_guest(&mut m.cpus[p], phys, vi, index, pages);
        let v = &mut self.vms[vi].vcpus[ci];
        if extra > 0 {
            return Outcome::Resume(Work::Services, extra);
        }
        v.stats.l2tlb_hits += 1;
        Outcome::Resume(Work::L2tlbRefill, costs.l2tlb_refill)
    }

    /// Gives VM `vi` a private copy of guest page `guest_page` if it is
    /// shared, and shoots down the old translations: a copy-on-write fault.
    /// A page of a shared kernel-image region unshares the whole region
    /// ([`crate::textshare`]). Returns the cycles it cost (0 when the page
    /// was private).
    pub(crate) fn copy_on_write(
        &mut self,
        m: &mut Machine,
        vi: usize,
        guest_page: u64,
        node: u32,
        writer: &str,
    ) -> Result<u64, String> {
        let kernel_text = self.vms[vi]
            .pmap
            .entry(guest_page)
            .filter(|e| !e.writable())
            .is_some_and(|e| {
                matches!(
                    self.memory.memmap.kind(e.machine_page),
                    PageKind::Shared(SharedKind::KernelText { .. })
                )
            });
        let cycles = if kernel_text {
            self.unshare_kernel_region(m, vi, guest_page)?
        } else {
            0
        };
        Ok(cycles + self.copy_page_on_write(m, vi, guest_page, node, writer)?)
    }

    /// Gives VM `vi` a private copy of guest page `guest_page` if it is
    /// shared and shoots down the old translations; returns the cycles.
    pub(crate) fn copy_page_on_write(
        &mut self,
        m: &mut Machine,
        vi: usize,
        guest_page: u64,
        node: u32,
        writer: &str,
    ) -> Result<u64, String> {
        let vm = &mut self.vms[vi];
        let collapses = self.memory.collapsed.len();
        match self
            .memory
            .make_private(&mut m.mem, &mut vm.pmap, vi, guest_page, node, true, writer)
        {
            Ok(None) => Ok(0),
            Ok(Some(_)) => {
                let dropped = self.shoot_down(m, vi, guest_page) as u64;
                if self.memory.collapsed.len() != collapses {
                    // Replicas folded: no copy was made.
                    let cycles = self.costs.collapse + dropped * self.costs.shootdown;
                    self.memory.numa_mut(vi).collapse_cycles += cycles;
                    return Ok(cycles);
                }
                Ok(self.costs.cow_fault + dropped * self.costs.shootdown)
            }
            Err(_) => Err("machine memory is exhausted".into()),
        }
    }

    /// A TLB miss in an unmapped kernel segment: map RAM, emulate devices.
    #[allow(clippy::too_many_arguments)]
    fn kernel_tlb_fault(
        &mut self,
        m: &mut Machine,
        p: usize,
        vi: usize,
        ci: usize,
        t: &Trap,
        va: u64,
        gpa: u64,
        access: Access,
        now_ns: u64,
        node: u32,
    ) -> Outcome {
        let vm = &mut self.vms[vi];
        if !vm.pmap.contains(gpa) {
            return self.device_access(m, p, vi, ci, t, gpa, access, now_ns);
        }
        let chunk = gpa >> CHUNK_SHIFT;
        let mut extra = self.costs.kernel_tlb_fault;
        let mut work = Work::KernelTlbFault;
        match self.memory.back(&mut m.mem, &mut vm.pmap, vi, chunk, node) {
            Err(_) => return Outcome::Fail("machine memory is exhausted".into()),
            Ok(Some(_)) => {
                extra += self.costs.back_chunk;
                work = Work::Services;
            }
            Ok(None) => {}
        }
        if access == Access::Store {
            // The kernel writes a shared page through its direct map.
            match self.copy_on_write(m, vi, gpa >> 12, node, "kernel store, direct map") {
                Ok(0) => {}
                Ok(cycles) => {
                    extra += cycles;
                    work = Work::Services;
                }
                Err(why) => return Outcome::Fail(why),
            }
        }
        let vm = &mut self.vms[vi];
        let memory = &self.memory;
        let pair = ktlb::kernel_pair_with(va, gpa, &vm.pmap, |first, pages| {
            memory.placed_run(&vm.pmap, first, pages, node)
        });
        let Some(pair) = pair else {
            return Outcome::Fail(format!(
                "guest-physical {gpa:#x} is not backed after backing it"
            ));
        };
        // Once pages are shared, regions split into smaller pairs: the
        // kernel part of the TLB grows.
        let slots = if self.memory.chunks_split() {
            crate::ptlb::KERNEL_SLOTS_SPLIT
        } else {
            crate::ptlb::KERNEL_SLOTS
        };
        let tlb = &mut self.pcpus[p].tlb;
        tlb.set_kernel_slots(&mut m.cpus[p], slots);
        tlb.insert_kernel(&mut m.cpus[p], &pair, vi);
        vm.vcpus[ci].stats.kernel_tlb_faults += 1;
        Outcome::Resume(work, extra)
    }

    /// Emulates the access of trap `t` to guest-physical `gpa` outside RAM;
    /// a virtio notify is served at once (its DMA through the pmap).
    #[allow(clippy::too_many_arguments)]
    fn device_access(
        &mut self,
        m: &mut Machine,
        p: usize,
        vi: usize,
        ci: usize,
        t: &Trap,
        gpa: u64,
        access: Access,
        now_ns: u64,
    ) -> Outcome {
        let bus_error = Exception::new(if access == Access::Fetch {
            ExcCode::Ibe
        } else {
            ExcCode::Dbe
        });
        let Some(decoded) = t.instr.as_ref().and_then(mmio::decode) else {
            return Outcome::Reflect(bus_error);
        };
        let vm = &mut self.vms[vi];
        let v = &mut vm.vcpus[ci];
        let vcpu = v.id;
        if vm
            .devices
            .perform(vcpu, gpa, decoded, now_ns, &mut v.shadow.gpr)
            .is_err()
        {
            return Outcome::Reflect(bus_error);
        }
        v.shadow.pc = next_pc(t);
        v.stats.device_accesses += 1;
        let mut extra = 0;
        if vm.devices.virtio_due(now_ns) {
            extra = self.service_vm_devices(m, vi, now_ns);
        }
        if self.vms[vi].devices.smp.is_some() {
            self.apply_cps_events(m, p, vi);
            // An IPI (a GIC write) wakes a waiting vCPU now, not at the
            // next scheduling point.
            self.wake_vm_waiters(vi, m.cpus[p].cycles());
        }
        Outcome::Resume(Work::Services, self.costs.device + extra)
    }

    /// Simulated cycles of the memory references the monitor made for trap
    /// `t` (detailed timing): the vCPU structure, and for TLB work the pmap
    /// entry of the page involved, at addresses in the monitor's reserved
    /// memory.
    fn monitor_references(
        &mut self,
        m: &mut Machine,
        p: usize,
        vi: usize,
        ci: usize,
        t: &Trap,
    ) -> u64 {
        use machine::timing::Access as A;
        const VCPU_AREA: u64 = 0x10_0000;
        const PMAP_AREA: u64 = 0x40_0000;
        let vcpu_index = self.vms[..vi]
            .iter()
            .map(|vm| vm.vcpus.len())
            .sum::<usize>()
            + ci;
        let vcpu_line = VCPU_AREA + (vcpu_index as u64 % 1024) * 1024;
        let mut refs = vec![(vcpu_line, A::Load), (vcpu_line + 64, A::Store)];
        if matches!(
            t.exception.code,
            ExcCode::TlbL | ExcCode::TlbS | ExcCode::Mod | ExcCode::CpU
        ) {
            let page = (t.exception.badvaddr >> 12) & 0xf_ffff;
            let span = MONITOR_RESERVED - PMAP_AREA;
            refs.push((
                PMAP_AREA + ((vi as u64 * 0x1_0000 + page) * 16) % span,
                A::Load,
            ));
        }
        let now = m.cpus[p].cycles();
        refs.into_iter()
            .map(|(pa, kind)| u64::from(m.devices.timing.access(p as u32, pa, kind, now)))
            .sum()
    }
}

/// Address of the instruction that trapped.
fn instruction_address(t: &Trap) -> u64 {
    if t.in_delay_slot {
        t.pc.wrapping_add(4)
    } else {
        t.pc
    }
}

/// Where the guest continues once the trapping instruction is complete.
fn next_pc(t: &Trap) -> u64 {
    match t.resume_at {
        Some(after) if t.in_delay_slot => after,
        _ => t.pc.wrapping_add(4),
    }
}
