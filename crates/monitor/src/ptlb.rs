//! What the monitor keeps in each physical CPU's TLB.
//!
//! The 64 entries are split: the first [`PhysTlb::kernel_slots`] hold the
//! entries that map VMs' unmapped kernel segments ([`crate::memory::ktlb`]), the rest hold
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

use crate::memory::ktlb::KernelPair;

/// Physical TLB slots reserved for kernel-segment mappings while every
/// chunk is whole (16 MiB pairs).
pub const KERNEL_SLOTS: usize = 8;
/// Slots reserved once shared pages split chunks: the kernel segments are
/// then mapped with smaller pairs (see [`crate::memory::ktlb`]). Measured
/// on a root-disk boot: 324 000 kernel TLB faults with 8 slots, 2 600 with
/// 16; on pmake (quick, in a VM) 16 and 24 slots cost about the same, the
/// kernel TLB faults saved going to l2tlb refills of the smaller guest part.
pub const KERNEL_SLOTS_SPLIT: usize = 16;

/// What a physical TLB slot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// Nothing (invalid entry).
    Empty,
    /// A kernel-segment pair of VM `vm` ([`crate::memory::ktlb::kernel_pair`]).
    Kernel {
        /// The VM.
        vm: usize,
        /// First guest page of the pair's range.
        first_page: u64,
        /// Guest pages the range spans.
        pages: u64,
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
    kernel_slots: usize,
    next_kernel: usize,
    next_guest: usize,
}

impl Default for PhysTlb {
    fn default() -> Self {
        PhysTlb {
            slots: [Slot::Empty; TLB_ENTRIES],
            kernel_slots: KERNEL_SLOTS,
            next_kernel: 0,
            next_guest: KERNEL_SLOTS,
        }
    }
}

impl PhysTlb {
    /// Slots reserved for kernel-segment mappings (the rest hold guest
    /// translations).
    pub fn kernel_slots(&self) -> usize {
        self.kernel_slots
    }

    /// Reserves `n` slots for kernel-segment mappings, dropping the
    /// translations in slots that change part.
    pub fn set_kernel_slots(&mut self, cpu: &mut Cpu, n: usize) {
        if n == self.kernel_slots {
            return;
        }
        let (lo, hi) = (n.min(self.kernel_slots), n.max(self.kernel_slots));
        for i in lo..hi {
            if self.slots[i] != Slot::Empty {
                cpu.tlb_write(i, TlbEntry::default());
                self.slots[i] = Slot::Empty;
            }
        }
        self.kernel_slots = n;
        self.next_kernel = 0;
        self.next_guest = n;
    }

    /// What slot `i` holds.
    pub fn slot(&self, i: usize) -> Slot {
        self.slots[i]
    }

    /// Installs kernel-segment pair `pair` of VM `vm`, replacing the slots
    /// whose entries overlap its virtual range (a smaller or larger pair of
    /// the same region: two matching entries must never coexist).
    pub fn insert_kernel(&mut self, cpu: &mut Cpu, pair: &KernelPair, vm: usize) {
        let slot = Slot::Kernel {
            vm,
            first_page: pair.first_page,
            pages: pair.pages,
        };
        self.drop_overlapping(cpu, 0..self.kernel_slots, &pair.entry, |s| {
            matches!(s, Slot::Kernel { .. })
        });
        self.insert_in_kernel_part(cpu, pair.entry, slot, |s| s == Slot::Empty);
    }

    /// Empties the slots among `slots` that `candidate` selects and whose
    /// entries would match an address that `entry` matches.
    fn drop_overlapping(
        &mut self,
        cpu: &mut Cpu,
        slots: std::ops::Range<usize>,
        entry: &TlbEntry,
        candidate: impl Fn(Slot) -> bool,
    ) {
        // Inclusive ends: the last region's range wraps to 0.
        let (start, end) = entry.virtual_range();
        let last = end.wrapping_sub(1);
        for i in slots {
            if !candidate(self.slots[i]) {
                continue;
            }
            let old = cpu.tlb().entry(i);
            let (s, e) = old.virtual_range();
            let same_space =
                old.global || entry.global || (old.entryhi & 0xff) == (entry.entryhi & 0xff);
            if s <= last && start <= e.wrapping_sub(1) && same_space {
                cpu.tlb_write(i, TlbEntry::default());
                self.slots[i] = Slot::Empty;
            }
        }
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
        let found = (0..self.kernel_slots).find(|&i| same(self.slots[i]));
        let i = found.unwrap_or_else(|| {
            let i = self.next_kernel;
            self.next_kernel = (i + 1) % self.kernel_slots;
            i
        });
        cpu.tlb_write(i, entry);
        self.slots[i] = slot;
    }

    /// Installs `entry`, the machine translation of guest TLB entry
    /// `guest_index` (whose halves map `guest_pages`), replacing any
    /// translation of that entry it overlaps. Only those can overlap: the
    /// guest's own entries do not, and the translations of an entry it
    /// replaces are dropped at once; but one large guest page may be mapped
    /// in pieces of different sizes ([`crate::vcpu::machine_entry`]).
    pub fn insert_guest(
        &mut self,
        cpu: &mut Cpu,
        entry: TlbEntry,
        vm: usize,
        guest_index: usize,
        guest_pages: [u64; 2],
    ) {
        self.drop_overlapping(cpu, self.kernel_slots..TLB_ENTRIES, &entry, |s| {
            matches!(s, Slot::Guest { vm: v, guest_index: g, .. } if v == vm && g == guest_index)
        });
        let i = self.next_guest;
        self.next_guest = if i + 1 == TLB_ENTRIES {
            self.kernel_slots
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
        for i in self.kernel_slots..TLB_ENTRIES {
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
        self.next_guest = self.kernel_slots;
    }

    /// Empties every slot that maps guest page `guest_page` of VM `vm` (it
    /// was remapped); returns how many.
    pub fn shoot_down(&mut self, cpu: &mut Cpu, vm: usize, guest_page: u64) -> usize {
        let slots = self.mappings_of(vm, guest_page);
        for &i in &slots {
            cpu.tlb_write(i, TlbEntry::default());
            self.slots[i] = Slot::Empty;
        }
        slots.len()
    }

    /// Slots whose entry maps guest page `guest_page` of VM `vm`, directly
    /// or through a kernel-segment pair: the backmap of that page on this
    /// CPU.
    pub fn mappings_of(&self, vm: usize, guest_page: u64) -> Vec<usize> {
        (0..TLB_ENTRIES)
            .filter(|&i| match self.slots[i] {
                Slot::Kernel {
                    vm: v,
                    first_page,
                    pages,
                } => v == vm && (first_page..first_page + pages).contains(&guest_page),
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
    use mips::tlb::LO_G;
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
                    let (phys, pages) = machine_entry(&guest, va, |gpa, _| Some((gpa + (1 << 30), true)));
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
        let pair = |k: u64, size_pages: u64| KernelPair {
            entry: TlbEntry::from_registers(
                (size_pages * 4096 - 4096) << 1,
                0xffff_ffff_8000_0000 + (k << 25),
                (5 << 6) | 2 | LO_G,
                (6 << 6) | 2 | LO_G,
            ),
            first_page: k << 13,
            pages: 2 * size_pages,
        };
        for k in 0..12u64 {
            t.insert_kernel(&mut cpu, &pair(k, 4096), 0);
        }
        // The kernel slots are reused round-robin; the guest part is untouched.
        assert!(matches!(t.slot(0), Slot::Kernel { first_page, .. } if first_page == 8 << 13));
        assert_eq!(t.slot(KERNEL_SLOTS), Slot::Empty);
        // A smaller pair of the same region replaces the large one.
        t.insert_kernel(&mut cpu, &pair(10, 1), 0);
        let kernel = (0..TLB_ENTRIES)
            .filter(
                |&i| matches!(t.slot(i), Slot::Kernel { first_page, .. } if first_page == 10 << 13),
            )
            .count();
        assert_eq!(kernel, 1);
        assert_eq!(t.mappings_of(0, (10 << 13) + 5), Vec::<usize>::new());
        assert_eq!(t.mappings_of(0, (10 << 13) + 1).len(), 1);
        assert_eq!(t.shoot_down(&mut cpu, 0, (10 << 13) + 1), 1);
        assert_eq!(t.mappings_of(0, (10 << 13) + 1).len(), 0);
        t.insert_guest(&mut cpu, entry(0x40_0000), 0, 7, [100, 101]);
        assert_eq!(t.mappings_of(0, 101), vec![KERNEL_SLOTS]);
        t.drop_guest_index(&mut cpu, 7);
        assert_eq!(t.mappings_of(0, 101), Vec::<usize>::new());
        assert_eq!(*cpu.tlb().entry(KERNEL_SLOTS), TlbEntry::default());
        // Growing the kernel part drops the guest translations it takes.
        t.insert_guest(&mut cpu, entry(0x40_0000), 0, 7, [100, 101]);
        assert_eq!(t.mappings_of(0, 100), vec![KERNEL_SLOTS + 1]);
        t.set_kernel_slots(&mut cpu, KERNEL_SLOTS_SPLIT);
        assert_eq!(t.mappings_of(0, 100), Vec::<usize>::new());
        t.insert_guest(&mut cpu, entry(0x40_0000), 0, 7, [100, 101]);
        assert_eq!(t.mappings_of(0, 100), vec![KERNEL_SLOTS_SPLIT]);
    }
}
