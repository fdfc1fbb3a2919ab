//! What the monitor keeps in each physical CPU's TLB.
//!
//! The 64 entries are split: [`KERNEL_SLOTS`] hold the large entries that
//! map VMs' unmapped kernel segments ([`crate::ktlb`]), the rest hold
//! translations of guest TLB entries (guest virtual → machine, made from the
//! guest's entry and the pmap). Each part is replaced round-robin, so the
//! guest's own TLB traffic cannot push out the kernel-segment mappings and
//! vice versa. For each slot the monitor remembers where the entry came
//! from: that is how a guest TLB write drops the machine translations of
//! the entry it replaced, and how the virtual addresses mapping a guest page
//! are found ([`PhysTlb::mappings_of`], the paper's backmaps).

use mips::cp0::TLB_ENTRIES;
use mips::tlb::TlbEntry;
use mips::Cpu;

/// Physical TLB slots reserved for kernel-segment mappings.
pub const KERNEL_SLOTS: usize = 8;

/// What a physical TLB slot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// Nothing (invalid entry).
    Empty,
    /// A kernel-segment pair of VM `vm` (identified by [`crate::ktlb::pair_key`]).
    Kernel {
        /// The VM.
        vm: usize,
        /// The region's key.
        key: u64,
        /// First guest chunk of the pair.
        first_chunk: u64,
    },
    /// The register page ([`crate::regpage`]) of the vCPU that runs on this
    /// CPU (the TLB is flushed when another vCPU is loaded).
    Registers,
    /// The translation of guest TLB entry `guest_index` of a vCPU of VM `vm`.
    Guest {
        /// The VM.
        vm: usize,
        /// Index of the guest TLB entry it translates.
        guest_index: usize,
        /// Guest pages of the two halves (`u64::MAX` for an invalid half).
        guest_pages: [u64; 2],
        /// Page size of the physical entry, bytes.
        page_size: u64,
    },
}

/// The monitor's view of one physical CPU's TLB.
#[derive(Clone, Debug)]
pub struct PhysTlb {
    slots: [Slot; TLB_ENTRIES],
    next_kernel: usize,
    next_guest: usize,
}

impl Default for PhysTlb {
    fn default() -> Self {
        PhysTlb {
            slots: [Slot::Empty; TLB_ENTRIES],
            next_kernel: 0,
            next_guest: KERNEL_SLOTS,
        }
    }
}

impl PhysTlb {
    /// What slot `i` holds.
    pub fn slot(&self, i: usize) -> Slot {
        self.slots[i]
    }

    /// Installs kernel-segment pair `entry` (region `key`), replacing the
    /// slot that already maps that region if there is one.
    pub fn insert_kernel(
        &mut self,
        cpu: &mut Cpu,
        entry: TlbEntry,
        vm: usize,
        key: u64,
        first_chunk: u64,
    ) {
        let slot = Slot::Kernel {
            vm,
            key,
            first_chunk,
        };
        self.insert_in_kernel_part(
            cpu,
            entry,
            slot,
            |s| matches!(s, Slot::Kernel { vm: v, key: k, .. } if v == vm && k == key),
        );
    }

    /// Installs `entry`, the mapping of the register page of the vCPU
    /// running here, among the kernel-segment slots.
    pub fn insert_registers(&mut self, cpu: &mut Cpu, entry: TlbEntry) {
        self.insert_in_kernel_part(cpu, entry, Slot::Registers, |s| s == Slot::Registers);
    }

    /// Writes `entry` as `slot` into the kernel part: over the slot `same`
    /// finds, else round-robin.
    fn insert_in_kernel_part(
        &mut self,
        cpu: &mut Cpu,
        entry: TlbEntry,
        slot: Slot,
        same: impl Fn(Slot) -> bool,
    ) {
        let found = (0..KERNEL_SLOTS).find(|&i| same(self.slots[i]));
        let i = found.unwrap_or_else(|| {
            let i = self.next_kernel;
            self.next_kernel = (i + 1) % KERNEL_SLOTS;
            i
        });
        cpu.tlb_write(i, entry);
        self.slots[i] = slot;
    }

    /// Installs `entry`, the machine translation of guest TLB entry
    /// `guest_index` (whose halves map `guest_pages`).
    pub fn insert_guest(
        &mut self,
        cpu: &mut Cpu,
        entry: TlbEntry,
        vm: usize,
        guest_index: usize,
        guest_pages: [u64; 2],
    ) {
        let i = self.next_guest;
        self.next_guest = if i + 1 == TLB_ENTRIES {
            KERNEL_SLOTS
        } else {
            i + 1
        };
        cpu.tlb_write(i, entry);
        self.slots[i] = Slot::Guest {
            vm,
            guest_index,
            guest_pages,
            page_size: entry.page_size(),
        };
    }

    /// Drops every translation made from guest TLB entry `guest_index`
    /// (the guest just replaced it).
    pub fn drop_guest_index(&mut self, cpu: &mut Cpu, guest_index: usize) {
        for i in KERNEL_SLOTS..TLB_ENTRIES {
            if matches!(self.slots[i], Slot::Guest { guest_index: g, .. } if g == guest_index) {
                cpu.tlb_write(i, TlbEntry::default());
                self.slots[i] = Slot::Empty;
            }
        }
    }

    /// Empties the TLB (a different vCPU is about to run).
    pub fn flush(&mut self, cpu: &mut Cpu) {
        cpu.flush_tlb();
        self.slots = [Slot::Empty; TLB_ENTRIES];
        self.next_kernel = 0;
        self.next_guest = KERNEL_SLOTS;
    }

    /// Slots whose entry maps guest page `guest_page` of VM `vm`, directly
    /// or through a kernel-segment pair: the backmap of that page on this
    /// CPU.
    pub fn mappings_of(&self, vm: usize, guest_page: u64) -> Vec<usize> {
        let chunk = guest_page >> (crate::alloc::CHUNK_SHIFT - 12);
        (0..TLB_ENTRIES)
            .filter(|&i| match self.slots[i] {
                Slot::Kernel {
                    vm: v, first_chunk, ..
                } => v == vm && (chunk == first_chunk || chunk == first_chunk + 1),
                Slot::Guest {
                    vm: v,
                    guest_pages,
                    page_size,
                    ..
                } => {
                    let pages = page_size >> 12;
                    v == vm
                        && guest_pages
                            .iter()
                            .any(|&g| g != u64::MAX && (g..g + pages).contains(&guest_page))
                }
                Slot::Registers | Slot::Empty => false,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vcpu::{machine_entry, L2Tlb};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Whatever the guest writes and the monitor refills, every
        /// physical translation of a guest entry still matches what that
        /// guest entry maps, and the physical TLB never holds a translation
        /// of an entry the guest has replaced.
        #[test]
        fn physical_translations_follow_the_guest_tlb(
            ops in prop::collection::vec((0usize..64, 0u64..16, 0u8..3, any::<bool>()), 1..200)
        ) {
            let mut cpu = Cpu::new(0);
            let mut t = PhysTlb::default();
            let mut l2 = L2Tlb::default();
            for (index, page, asid, write) in ops {
                let va = page << 13;
                if write {
                    // The guest writes entry `index`: the l2tlb mirrors it
                    // and the physical TLB drops the old translations.
                    let lo = |pfn: u64| (pfn << 6) | 2 | 4;
                    let e = TlbEntry::from_registers(0, va | u64::from(asid), lo(page * 2), lo(page * 2 + 1));
                    l2.update(index, e);
                    t.drop_guest_index(&mut cpu, index);
                } else if let Some((g, guest)) = l2.find(va, asid) {
                    // A physical miss refilled from the l2tlb.
                    let (phys, pages) = machine_entry(&guest, va, |gpa| Some(gpa + (1 << 30)));
                    t.insert_guest(&mut cpu, phys, 0, g, pages);
                }
                for i in KERNEL_SLOTS..TLB_ENTRIES {
                    if let Slot::Guest { guest_index, guest_pages, .. } = t.slot(i) {
                        let phys = cpu.tlb().entry(i);
                        let guest = l2.entry(guest_index);
                        prop_assert!(
                            guest.matches(phys.virtual_range().0, phys.entryhi as u8),
                            "a physical translation outlived its guest entry"
                        );
                        prop_assert_eq!(guest_pages[0], guest.lo[0] >> 6);
                        prop_assert_eq!(phys.lo[0] >> 6, (guest.lo[0] >> 6) + (1 << 18));
                    }
                }
            }
        }
    }

    fn entry(va: u64) -> TlbEntry {
        TlbEntry::from_registers(0, va, (5 << 6) | 2, (6 << 6) | 2)
    }

    #[test]
    fn kernel_and_guest_entries_use_separate_slots() {
        let mut cpu = Cpu::new(0);
        let mut t = PhysTlb::default();
        for k in 0..20u64 {
            t.insert_kernel(&mut cpu, entry(k << 25), 0, k << 25, 2 * k);
        }
        // 16 kernel slots, reused round-robin; the guest part is untouched.
        assert!(matches!(t.slot(0), Slot::Kernel { key, .. } if key == 16 << 25));
        assert_eq!(t.slot(KERNEL_SLOTS), Slot::Empty);
        // The same region replaces its own slot.
        t.insert_kernel(&mut cpu, entry(5 << 25), 0, 5 << 25, 10);
        let kernel = (0..TLB_ENTRIES)
            .filter(|&i| matches!(t.slot(i), Slot::Kernel { key, .. } if key == 5 << 25))
            .count();
        assert_eq!(kernel, 1);
        t.insert_guest(&mut cpu, entry(0x40_0000), 0, 7, [100, 101]);
        assert_eq!(t.mappings_of(0, 101), vec![KERNEL_SLOTS]);
        t.drop_guest_index(&mut cpu, 7);
        assert_eq!(t.mappings_of(0, 101), Vec::<usize>::new());
        assert_eq!(*cpu.tlb().entry(KERNEL_SLOTS), TlbEntry::default());
    }
}
