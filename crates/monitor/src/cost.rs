//! What the monitor's work costs in simulated time, and where time goes.
//!
//! The monitor runs as native code, so its work is charged to the physical
//! CPU that did it from a cost table, per trap kind; in detailed timing
//! mode the memory references it makes to its own data structures (the
//! vCPU, pmap and l2tlb entries it reads and writes) are simulated too,
//! at addresses in the machine memory reserved for the monitor
//! ([`crate::memory::alloc::MONITOR_RESERVED`]).
//!
//! The default costs are estimates for a statically scheduled 400 MHz
//! MIPS core running a monitor like Disco's (hand-tuned trap paths of a few
//! dozen instructions), not measurements:
//!
//! | Kind | Cycles | What the monitor does |
//! |---|---|---|
//! | every trap | 40 | exception entry, saving and restoring guest registers, return |
//! | TLB write | +80 | emulate `tlbwi`/`tlbwr`: read the guest entry, pmap lookups, l2tlb update, physical TLB insert |
//! | other privileged instruction | +20 | emulate a CP0 move, `eret`, `wait`, `cache`, `di`/`ei` on the virtual CP0 |
//! | kernel TLB fault | +60 | map an unmapped-segment region of the guest from the pmap |
//! | l2tlb refill | +40 | find the guest entry, build and insert its machine translation |
//! | exception reflection | +50 | update the virtual CP0 and redirect to the guest's vector |
//! | device access | +100 | decode the faulting load/store and run the device model |
//! | rewriting a privileged instruction | +100 | check the instruction words, write the rewrite, make the instruction cache see it ([`crate::patch`]) |
//! | memory backing | +500 per 16 MiB chunk | allocate and map machine memory; reused memory is also zeroed at 8 bytes per cycle |
//! | copy-on-write fault | +1500 | allocate a page, copy 4 KiB (512 doubleword loads and stores, mostly cache misses), update pmap and memmap |
//! | TLB shootdown | +100 per entry dropped | find and invalidate a stale translation in a physical TLB (an inter-processor interrupt for another CPU's, amortised) |
//! | disk-cache mapping | +150 per page | B-tree lookup (and insert), memmap and pmap update for a disk page mapped instead of copied |
//! | hot page | +300 | take the hot-page interrupt, read the page's counters and its memmap entry, decide ([`crate::numa`]) |
//! | migration | +1500 | allocate a page on the target node, update pmap, memmap and history; the 4 KiB copy (1024 cycles, and its cache misses in detailed timing) and the shootdowns are added |
//! | replication | +1500 | allocate the replica, downgrade the pmap entry, record the replica in the memmap; copy and shootdowns added |
//! | collapse | +1000 | fold a replicated page's copies into one writable page before a write (no copy: every replica holds the data); shootdowns added |
//! | shootdown interrupt | +300 per other CPU | a CPU whose TLB held an entry of a migrated or replicated page takes an inter-processor interrupt and drops it |

use serde::Serialize;

/// Cycles charged per kind of monitor work (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CostTable {
    /// Entering and leaving the monitor, for every trap.
    pub trap: u64,
    /// Emulating a TLB write.
    pub tlb_write: u64,
    /// Emulating another privileged instruction.
    pub other_priv: u64,
    /// Filling a kernel TLB fault.
    pub kernel_tlb_fault: u64,
    /// Refilling the TLB from the l2tlb.
    pub l2tlb_refill: u64,
    /// Reflecting an exception to the guest.
    pub reflect: u64,
    /// Emulating a device register access.
    pub device: u64,
    /// Rewriting a privileged instruction into register-page accesses.
    pub patch: u64,
    /// Backing a chunk of guest memory.
    pub back_chunk: u64,
    /// Zeroing reused memory: bytes per cycle.
    pub zero_bytes_per_cycle: u64,
    /// A copy-on-write fault (allocate, copy, remap).
    pub cow_fault: u64,
    /// Dropping one stale translation from a physical TLB.
    pub shootdown: u64,
    /// Mapping a disk-cache page at a DMA destination.
    pub map_page: u64,
    /// Taking a hot-page notification and deciding about it.
    pub numa_hot_page: u64,
    /// Migrating a page, beyond its copy and shootdowns.
    pub migrate: u64,
    /// Replicating a page, beyond its copy and shootdowns.
    pub replicate: u64,
    /// Collapsing a replicated page's copies before a write.
    pub collapse: u64,
    /// An inter-processor interrupt for a shootdown, on the CPU taking it.
    pub ipi: u64,
}

impl Default for CostTable {
    fn default() -> Self {
        CostTable {
            trap: 40,
            tlb_write: 80,
            other_priv: 20,
            kernel_tlb_fault: 60,
            l2tlb_refill: 40,
            reflect: 50,
            device: 100,
            patch: 100,
            back_chunk: 500,
            zero_bytes_per_cycle: 8,
            cow_fault: 1500,
            shootdown: 100,
            map_page: 150,
            numa_hot_page: 300,
            migrate: 1500,
            replicate: 1500,
            collapse: 1000,
            ipi: 300,
        }
    }
}

impl CostTable {
    /// This table with every cost multiplied by `factor` (rounded to the
    /// nearest cycle): the costs are estimates, and `disco run --cost-scale`
    /// shows how much a result depends on them. The zeroing rate is a
    /// speed, so it is divided by `factor` (at least 1 byte per cycle).
    pub fn scaled(&self, factor: f64) -> CostTable {
        let f = |c: u64| (c as f64 * factor).round() as u64;
        CostTable {
            trap: f(self.trap),
            tlb_write: f(self.tlb_write),
            other_priv: f(self.other_priv),
            kernel_tlb_fault: f(self.kernel_tlb_fault),
            l2tlb_refill: f(self.l2tlb_refill),
            reflect: f(self.reflect),
            device: f(self.device),
            patch: f(self.patch),
            back_chunk: f(self.back_chunk),
            cow_fault: f(self.cow_fault),
            shootdown: f(self.shootdown),
            map_page: f(self.map_page),
            numa_hot_page: f(self.numa_hot_page),
            migrate: f(self.migrate),
            replicate: f(self.replicate),
            collapse: f(self.collapse),
            ipi: f(self.ipi),
            zero_bytes_per_cycle: ((self.zero_bytes_per_cycle as f64 / factor).round() as u64)
                .max(1),
        }
    }
}

/// Categories of monitor time: the columns of the paper's Table 2, and two
/// more this monitor distinguishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// Emulating TLB writes ("TLB Writes").
    TlbWrite,
    /// Emulating other privileged instructions ("Other Privs").
    OtherPriv,
    /// Device emulation and memory backing ("Monitor Services").
    Services,
    /// Filling kernel TLB faults ("Kernel TLB faults").
    KernelTlbFault,
    /// Refilling the TLB from the l2tlb.
    L2tlbRefill,
    /// Reflecting exceptions and interrupts to the guest.
    Reflect,
    /// Page migration and replication ([`crate::numa`]).
    Numa,
}

/// Where a vCPU's simulated time went, and what the monitor did for it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VcpuStats {
    /// Cycles running guest user code.
    pub user_cycles: u64,
    /// Cycles running guest kernel code.
    pub kernel_cycles: u64,
    /// Cycles waiting (descheduled after `WAIT`).
    pub idle_cycles: u64,
    /// Monitor cycles emulating TLB writes.
    pub tlb_write_cycles: u64,
    /// Monitor cycles emulating other privileged instructions.
    pub other_priv_cycles: u64,
    /// Monitor cycles for device emulation and memory backing.
    pub services_cycles: u64,
    /// Monitor cycles filling kernel TLB faults.
    pub kernel_tlb_fault_cycles: u64,
    /// Monitor cycles refilling from the l2tlb.
    pub l2tlb_refill_cycles: u64,
    /// Monitor cycles reflecting exceptions.
    pub reflect_cycles: u64,
    /// Monitor cycles migrating and replicating pages (hot pages taken on
    /// this vCPU's CPU, and shootdown interrupts it received).
    pub numa_cycles: u64,
    /// Of the monitor cycles: memory stalls of the monitor's own references
    /// (detailed timing). The machine counts them in its local and remote
    /// stall cycles too.
    pub monitor_stall_cycles: u64,
    /// TLB writes emulated.
    pub tlb_writes: u64,
    /// Other privileged instructions emulated.
    pub other_privs: u64,
    /// Kernel TLB faults.
    pub kernel_tlb_faults: u64,
    /// TLB misses refilled from the l2tlb.
    pub l2tlb_hits: u64,
    /// TLB misses forwarded to the guest (the l2tlb missed too).
    pub l2tlb_misses: u64,
    /// Exceptions and interrupts reflected to the guest.
    pub reflected: u64,
    /// Device register accesses emulated.
    pub device_accesses: u64,
    /// Times it was descheduled for `WAIT`.
    pub waits: u64,
    /// Privileged instructions rewritten into register-page accesses.
    pub patches: u64,
    /// Times it was switched onto a physical CPU.
    pub switches: u64,
}

impl VcpuStats {
    /// Adds `cycles` of monitor work of kind `work`.
    pub fn charge(&mut self, work: Work, cycles: u64) {
        let slot = match work {
            Work::TlbWrite => &mut self.tlb_write_cycles,
            Work::OtherPriv => &mut self.other_priv_cycles,
            Work::Services => &mut self.services_cycles,
            Work::KernelTlbFault => &mut self.kernel_tlb_fault_cycles,
            Work::L2tlbRefill => &mut self.l2tlb_refill_cycles,
            Work::Reflect => &mut self.reflect_cycles,
            Work::Numa => &mut self.numa_cycles,
        };
        *slot += cycles;
    }

    /// All monitor cycles.
    pub fn monitor_cycles(&self) -> u64 {
        self.tlb_write_cycles
            + self.other_priv_cycles
            + self.services_cycles
            + self.kernel_tlb_fault_cycles
            + self.l2tlb_refill_cycles
            + self.reflect_cycles
            + self.numa_cycles
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, o: &VcpuStats) {
        macro_rules! add {
            ($($f:ident),*) => { $(self.$f += o.$f;)* };
        }
        add!(
            user_cycles,
            kernel_cycles,
            idle_cycles,
            tlb_write_cycles,
            other_priv_cycles,
            services_cycles,
            kernel_tlb_fault_cycles,
            l2tlb_refill_cycles,
            reflect_cycles,
            numa_cycles,
            monitor_stall_cycles,
            tlb_writes,
            other_privs,
            kernel_tlb_faults,
            l2tlb_hits,
            l2tlb_misses,
            reflected,
            patches,
            device_accesses,
            waits,
            switches
        );
    }
}

#[cfg(test)]
mod tests {
    use super::CostTable;

    #[test]
    fn scaled_multiplies_costs_and_divides_the_zeroing_rate() {
        let base = CostTable::default();
        assert_eq!(base.scaled(1.0), base);
        let double = base.scaled(2.0);
        assert_eq!(double.trap, 2 * base.trap);
        assert_eq!(double.tlb_write, 2 * base.tlb_write);
        assert_eq!(double.back_chunk, 2 * base.back_chunk);
        assert_eq!(double.zero_bytes_per_cycle, base.zero_bytes_per_cycle / 2);
        let half = base.scaled(0.5);
        assert_eq!(half.other_priv, base.other_priv / 2);
        assert_eq!(half.zero_bytes_per_cycle, 2 * base.zero_bytes_per_cycle);
    }
}
