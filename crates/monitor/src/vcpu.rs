//! Virtual CPUs and their second-level TLBs.

use mips::cp0::{ENTRYHI_MASK, TLB_ENTRIES};
use mips::tlb::{TlbEntry, LO_G};
use mips::Cpu;

use crate::cost::VcpuStats;
use crate::memory::alloc::CHUNK_BYTES;
use crate::memory::pmap::{Pmap, LO_D, LO_V};
use crate::memory::MachineMemory;

/// A vCPU's scheduling state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VcpuState {
    /// Ready to run (or running).
    Runnable,
    /// Executed `WAIT`: descheduled until an interrupt is asserted.
    Waiting,
    /// Powered down (a secondary vCPU before its VM's CPC starts it, or
    /// after it stops it): not scheduled, interrupts do not wake it.
    Offline,
    /// Its VM ended.
    Stopped,
}

/// A virtual CPU: like a process table entry (§4.2.1), it keeps what the
/// guest's CPU is when it does not run — and the privileged state always.
///
/// The privileged state is a *shadow* [`Cpu`]: its CP0 is the virtual CP0,
/// its TLB is the guest's view of its TLB, and it executes the privileged
/// instructions the guest traps on and takes the exceptions the monitor
/// reflects, with the architecture's exact semantics. While the vCPU runs
/// on a physical CPU the live registers are there; the monitor copies them
/// into the shadow around each trap.
#[derive(Debug)]
pub struct Vcpu {
    /// The vCPU's number in its VM.
    pub id: u32,
    /// Virtual CP0, the guest TLB, and the registers while not running.
    pub shadow: Cpu,
    /// Machine translations of the guest's TLB entries.
    pub l2tlb: L2Tlb,
    /// Scheduling state.
    pub state: VcpuState,
    /// The physical CPU it runs on now.
    pub loaded_on: Option<usize>,
    /// The physical CPU it prefers (its memory is allocated on that CPU's node).
    pub home: usize,
    /// Accounting.
    pub stats: VcpuStats,
    /// Physical cycle up to which its time has been accounted (while loaded).
    pub(crate) mark: u64,
    /// Cycle at which its current turn on a physical CPU began.
    pub(crate) turn_start: u64,
    /// Cycle at which it started waiting (while waiting).
    pub(crate) wait_start: u64,
    /// The exception vector the monitor last sent it to.
    pub(crate) last_vector: u64,
    /// Machine address of its register page ([`crate::regpage`]), when the
    /// monitor rewrites privileged instructions.
    pub(crate) regs_page: Option<u64>,
    /// Kernel-service attribution, when on ([`crate::services`]).
    pub services: Option<Box<crate::services::VcpuServices>>,
}

impl Vcpu {
    /// vCPU `id` in its reset state, runnable; `smp`: it is a core of a
    /// multiprocessor VM, whose CP0 reports the Coherence Manager.
    pub fn new(id: u32, smp: bool) -> Self {
        Vcpu {
            id,
            shadow: machine::new_cpu(id, smp),
            l2tlb: L2Tlb::default(),
            state: VcpuState::Runnable,
            loaded_on: None,
            home: 0,
            stats: VcpuStats::default(),
            mark: 0,
            turn_start: 0,
            wait_start: 0,
            last_vector: u64::MAX,
            regs_page: None,
            services: None,
        }
    }

    /// Resets the vCPU as its core's power-up does: architectural reset
    /// state (`Status.BEV = ERL = 1`) at `pc`, Count `count` at cycle `at`,
    /// an empty TLB; runnable. Statistics, home and register page stay.
    pub fn power_up(&mut self, pc: u64, at: u64, count: u32) {
        let smp = self.shadow.cp0.config3 & mips::cp0::CONFIG3_CMGCR != 0;
        self.shadow = machine::new_cpu(self.id, smp);
        self.shadow.pc = pc;
        self.shadow.start_at(at, count);
        self.l2tlb.clear();
        self.state = VcpuState::Runnable;
        self.mark = at;
        self.turn_start = at;
        self.last_vector = u64::MAX;
        if let Some(s) = self.services.as_deref_mut() {
            s.drop_current();
        }
    }

    /// True when the guest is in (virtual) kernel mode.
    pub fn in_kernel(&self) -> bool {
        self.shadow.privilege() == mips::Privilege::Kernel
    }
}

/// The second-level software TLB of a vCPU (§4.2.2): a machine-address
/// translation of every entry of the guest's TLB, so that a physical TLB
/// miss on a guest-mapped address is refilled by the monitor whenever the
/// guest's own TLB would have hit, and forwarded to the guest only when the
/// guest's TLB misses too. (The paper's l2tlb also keeps entries the guest
/// replaced, making the TLB look larger; Linux invalidates entries by
/// overwriting them and never flushes what its TLB no longer holds, so
/// this l2tlb mirrors the guest TLB exactly.)
#[derive(Clone, Debug)]
pub struct L2Tlb {
    entries: [TlbEntry; TLB_ENTRIES],
}

impl Default for L2Tlb {
    fn default() -> Self {
        L2Tlb {
            entries: [TlbEntry::default(); TLB_ENTRIES],
        }
    }
}

impl L2Tlb {
    /// Records that guest TLB entry `index` is now `entry`.
    pub fn update(&mut self, index: usize, entry: TlbEntry) {
        self.entries[index % TLB_ENTRIES] = entry;
    }

    /// Guest entry `index` as the l2tlb has it.
    pub fn entry(&self, index: usize) -> TlbEntry {
        self.entries[index % TLB_ENTRIES]
    }

    /// The guest entry that translates `va` for address space `asid`.
    pub fn find(&self, va: u64, asid: u8) -> Option<(usize, TlbEntry)> {
        let i = self
            .entries
            .iter()
            .position(|e| (e.lo[0] | e.lo[1]) & LO_V != 0 && e.matches(va, asid))?;
        Some((i, self.entries[i]))
    }

    /// Forgets everything (the guest TLB was reset).
    pub fn clear(&mut self) {
        self.entries = [TlbEntry::default(); TLB_ENTRIES];
    }
}

/// A physical TLB entry for the page pair around `va` made from guest entry
/// `guest`: the same virtual pages and protection, machine frames from
/// `run_of(gpa, bytes)` (the machine address of the `bytes` of guest RAM
/// at `gpa` and whether they are writable, when one TLB page can map them
/// — see [`Pmap::run`]; `None` for anything else). A half `run_of` refuses
/// is left invalid so that accesses trap; a page the VM may not write
/// (shared) loses the dirty bit, so stores trap too. Pages larger than
/// 16 MiB are mapped 16 MiB at a time, and smaller when the guest pages
/// behind the half around `va` are not one machine run. Returns the entry
/// and the guest pages of its halves (`u64::MAX` when invalid).
pub fn machine_entry(
    guest: &TlbEntry,
    va: u64,
    mut run_of: impl FnMut(u64, u64) -> Option<(u64, bool)>,
) -> (TlbEntry, [u64; 2]) {
    let gsize = guest.page_size();
    let mut psize = gsize.min(CHUNK_BYTES);
    loop {
        let (entry, pages, complete) = entry_of_size(guest, va, psize, &mut run_of);
        if complete || psize == 4096 {
            return (entry, pages);
        }
        psize /= 4;
    }
}

/// [`machine_entry`] with physical pages of `psize` bytes; also whether
/// the half around `va` is mapped as the guest maps it.
fn entry_of_size(
    guest: &TlbEntry,
    va: u64,
    psize: u64,
    run_of: &mut impl FnMut(u64, u64) -> Option<(u64, bool)>,
) -> (TlbEntry, [u64; 2], bool) {
    let gsize = guest.page_size();
    let base = va & !(2 * psize - 1);
    let g = if guest.global { LO_G } else { 0 };
    let mut lo = [g; 2];
    let mut pages = [u64::MAX; 2];
    let mut complete = true;
    for (h, slot) in lo.iter_mut().enumerate() {
        let hva = base + h as u64 * psize;
        let glo = guest.lo[usize::from(hva & gsize != 0)];
        if glo & LO_V == 0 {
            continue;
        }
        let gpa = (((glo >> 6) << 12) & !(gsize - 1)) | (hva & (gsize - 1) & !(psize - 1));
        match run_of(gpa, psize) {
            Some((ma, writable)) => {
                let d = if writable { glo & LO_D } else { 0 };
                *slot = ((ma >> 12) << 6) | (glo & (0x7 << 3)) | d | LO_V | g;
                pages[h] = gpa >> 12;
            }
            // Within RAM but not one run: try smaller pages (only the half
            // around `va` matters).
            None if psize > 4096 && (va & psize != 0) == (h == 1) => complete = false,
            None => {}
        }
    }
    let pagemask = (psize - 4096) << 1;
    let hi = (base & ENTRYHI_MASK & !0xff) | (guest.entryhi & 0xff);
    (
        TlbEntry::from_registers(pagemask, hi, lo[0], lo[1]),
        pages,
        complete,
    )
}

/// Where the `bytes` of guest RAM at `gpa` are in `pmap`: the machine
/// address and whether the VM may write them, when one TLB page can map
/// them (see [`Pmap::run`]).
pub fn backed_run(pmap: &Pmap, gpa: u64, bytes: u64) -> Option<(u64, bool)> {
    if !pmap.contains(gpa) {
        return None;
    }
    pmap.run(gpa >> 12, bytes >> 12)
        .map(|(m, writable)| (m << 12, writable))
}

/// [`backed_run`] for a physical CPU on node `node`: a replicated page is
/// mapped from its copy nearest `node` ([`MachineMemory::placed_run`]).
pub fn placed_run(
    memory: &MachineMemory,
    pmap: &Pmap,
    node: u32,
    gpa: u64,
    bytes: u64,
) -> Option<(u64, bool)> {
    if !pmap.contains(gpa) {
        return None;
    }
    memory
        .placed_run(pmap, gpa >> 12, bytes >> 12, node)
        .map(|(m, writable)| (m << 12, writable))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lo(pfn: u64, flags: u64) -> u64 {
        (pfn << 6) | flags
    }

    #[test]
    fn guest_entries_become_machine_entries_with_the_guest_protection() {
        // Guest maps 0x40_0000 (even) to guest frame 0x100, read-only, and
        // the odd page to a device frame.
        let guest =
            TlbEntry::from_registers(0, 0x40_0000 | 9, lo(0x100, LO_V), lo(0xf0000, LO_V | LO_D));
        let (e, pages) = machine_entry(&guest, 0x40_0123, |gpa, _| {
            (gpa < 0x1000_0000).then_some((gpa + 0x2000_0000, true))
        });
        assert_eq!(pages, [0x100, u64::MAX]);
        assert_eq!(e.lo[0] >> 6, 0x20100);
        assert_eq!(e.lo[0] & (LO_V | LO_D), LO_V, "read-only stays read-only");
        assert_eq!(e.lo[1] & LO_V, 0, "device pages trap");
        assert_eq!(e.entryhi & 0xff, 9);
        assert!(!e.global);
    }

    #[test]
    fn huge_guest_pages_are_mapped_16_mib_at_a_time() {
        // A 64 MiB guest page pair at va 0 → guest 256 MiB.
        let mask = ((64u64 << 20) - 4096) << 1;
        let guest = TlbEntry::from_registers(mask, 0, lo(0x10000, LO_V | LO_D), lo(0x14000, LO_V));
        let (e, pages) = machine_entry(&guest, 0x0130_0000, |gpa, _| Some((gpa, true)));
        assert_eq!(e.page_size(), 16 << 20);
        assert_eq!(e.virtual_range(), (0x0000_0000, 0x0200_0000));
        assert_eq!(pages, [0x10000, 0x11000]);
    }

    #[test]
    fn shared_pages_lose_the_dirty_bit_and_split_huge_pages() {
        use crate::memory::pmap::PmapEntry;
        let mut pmap = Pmap::new(64 << 20);
        pmap.back_chunk(1, 5);
        pmap.remap(0x1000 + 0x13, PmapEntry::read_only(77));
        // A 1 MiB guest page pair over guest 16 MiB, writable.
        let mask = ((1u64 << 20) - 4096) << 1;
        let guest =
            TlbEntry::from_registers(mask, 0, lo(0x1000, LO_V | LO_D), lo(0x1100, LO_V | LO_D));
        // Around the shared page: down to a 4 KiB pair, the page read-only.
        let (e, pages) = machine_entry(&guest, 0x13_000, |g, b| backed_run(&pmap, g, b));
        assert_eq!(e.page_size(), 4096);
        assert_eq!(pages, [0x1012, 0x1013]);
        assert_eq!(e.lo[1] >> 6, 77);
        assert_eq!(e.lo[1] & (LO_V | LO_D), LO_V);
        assert_eq!(e.lo[0] & (LO_V | LO_D), LO_V | LO_D);
        // The other 1 MiB half is still one run.
        let (e, pages) = machine_entry(&guest, 0x10_0000, |g, b| backed_run(&pmap, g, b));
        assert_eq!(e.page_size(), 1 << 20);
        assert_eq!(
            pages,
            [u64::MAX, 0x1100],
            "the half with the shared page is left out"
        );
        assert_eq!(e.lo[1] >> 6, 5 * 4096 + 0x100);
    }

    #[test]
    fn the_l2tlb_finds_entries_by_address_and_asid() {
        let mut t = L2Tlb::default();
        let e = TlbEntry::from_registers(0, 0x40_0000 | 3, lo(1, LO_V), 0);
        t.update(12, e);
        assert_eq!(t.find(0x40_0010, 3), Some((12, e)));
        assert_eq!(t.find(0x40_0010, 4), None);
        t.update(12, TlbEntry::default());
        assert_eq!(t.find(0x40_0010, 3), None);
    }
}
