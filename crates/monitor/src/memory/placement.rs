//! Where a page's data lives on a NUMA machine: the memory half of page
//! migration and replication (§4.2.3, Fig. 2). The policy that decides is
//! [`crate::numa`]; this module only moves data and keeps the pmap and the
//! memmap right.
//!
//! * **Migration** gives a private page a new machine page on the target
//!   node: copy, repoint the pmap entry, free the old page.
//! * **Replication** keeps the page where it is (the *master*) and adds a
//!   read-only copy on the target node. A private master's pmap entry loses
//!   its write permission, so every write traps; a shared page's entries
//!   are read-only already. A TLB fill maps the copy nearest the physical
//!   CPU that runs the vCPU ([`MachineMemory::placed_run`]).
//! * **Collapse**: before anything writes a replicated private page — a
//!   CPU store, the kernel's store through its direct map, a device's DMA,
//!   all of which go through [`MachineMemory::make_private`] — the replicas
//!   are folded into one writable copy, the writer's node's if it has one.
//!
//! A page moved to a node goes, when it can, to the same offset of one
//! chunk of that node set aside for the pages of its old chunk (its
//! *mirror*): pages of one region moved to one node then stay contiguous,
//! and the kernel's unmapped segments can still map them with large TLB
//! pages ([`crate::memory::ktlb`]) instead of one 4 KiB pair each.
//!
//! Every operation returns what changed; the caller shoots down the
//! translations of the guest pages involved on every CPU.

use mips::PhysMem;

use super::memmap::{PageKind, PageUser, Replica};
use super::pmap::{Pmap, PmapEntry};
use super::{copy_page, MachineMemory, OutOfMemory};
use crate::memory::alloc::CHUNK_PAGES;

/// Why a page cannot be moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotMoved {
    /// The target node has no free page.
    NoMemory,
    /// The page is not one the operation applies to (free, a replica, not
    /// mapped as expected).
    NotMovable,
}

impl From<OutOfMemory> for NotMoved {
    fn from(_: OutOfMemory) -> Self {
        NotMoved::NoMemory
    }
}

impl MachineMemory {
    /// The node whose memory holds machine page `page`.
    pub fn node_of_page(&self, page: u64) -> u32 {
        self.alloc.node_of((page / CHUNK_PAGES) as u32)
    }

    /// Free pages on node `node`.
    pub fn free_pages_on(&self, node: u32) -> u64 {
        self.pool.free_on(&self.alloc, node)
    }

    /// Pages of node `node` in all.
    pub fn pages_on(&self, node: u32) -> u64 {
        self.alloc.chunks_on(node) as u64 * CHUNK_PAGES
    }

    /// Like [`Pmap::run`], for a physical CPU on node `node`: a read-only
    /// page with replicas is mapped from its copy nearest `node`, and a run
    /// of several pages that holds one is refused (mapped smaller), so
    /// that each such page gets its own nearest copy.
    pub fn placed_run(
        &self,
        pmap: &Pmap,
        first: u64,
        pages: u64,
        node: u32,
    ) -> Option<(u64, bool)> {
        let (machine, writable) = pmap.run(first, pages)?;
        // Writable pages never have replicas.
        if writable {
            return Some((machine, true));
        }
        if pages == 1 {
            return Some((self.memmap.nearest(machine, node), false));
        }
        (!self.memmap.any_replicated(machine, pages)).then_some((machine, false))
    }

    /// Moves VM `vm`'s private guest page `guest_page` to a new machine
    /// page on node `node`, copying its data. Returns the old and new
    /// machine pages; the caller shoots down the page's translations.
    pub fn migrate(
        &mut self,
        mem: &mut PhysMem,
        pmap: &mut Pmap,
        vm: usize,
        guest_page: u64,
        node: u32,
    ) -> Result<(u64, u64), NotMoved> {
        let old = pmap
            .entry(guest_page)
            .filter(PmapEntry::writable)
            .ok_or(NotMoved::NotMovable)?
            .machine_page;
        let user = PageUser { vm, guest_page };
        if self.memmap.user(old) != Some(user) || self.memmap.is_replicated(old) {
            return Err(NotMoved::NotMovable);
        }
        let new = self.page_on(old, node).ok_or(NotMoved::NoMemory)?;
        self.mark_dirty(new);
        copy_page(mem, old, new);
        // The monitor's rewrites in a kernel-image page move with it.
        if let Some(patches) = self.kernel_patches.remove(&old) {
            self.kernel_patches.insert(new, patches);
        }
        self.move_user(pmap, vm, guest_page, old, new);
        self.pages_moved += 1;
        Ok((old, new))
    }

    /// Adds a read-only copy of machine page `page` on node `node`. A
    /// private page's entry in its user's pmap (`pmap`, which must be that
    /// user's) becomes read-only; a shared page's are already. Returns the
    /// replica's machine page and the users whose translations the caller
    /// shoots down.
    pub fn replicate(
        &mut self,
        mem: &mut PhysMem,
        pmap: Option<&mut Pmap>,
        page: u64,
        node: u32,
    ) -> Result<(u64, Vec<PageUser>), NotMoved> {
        let users = match self.memmap.kind(page) {
            PageKind::Private => {
                let user = self.memmap.user(page).expect("a private page has a user");
                let pmap = pmap.ok_or(NotMoved::NotMovable)?;
                if pmap.entry(user.guest_page).map(|e| e.machine_page) != Some(page) {
                    return Err(NotMoved::NotMovable);
                }
                pmap.remap(user.guest_page, PmapEntry::read_only(page));
                vec![user]
            }
            PageKind::Shared(_) => self
                .memmap
                .shared(page)
                .map(|s| s.users.clone())
                .unwrap_or_default(),
            PageKind::Free | PageKind::Replica(_) => return Err(NotMoved::NotMovable),
        };
        if self.node_of_page(page) == node
            || self.memmap.replicas(page).iter().any(|r| r.node == node)
        {
            return Err(NotMoved::NotMovable);
        }
        let Some(copy) = self.page_on(page, node) else {
            return Err(NotMoved::NoMemory);
        };
        self.mark_dirty(copy);
        copy_page(mem, page, copy);
        self.memmap.add_replica(page, Replica { node, page: copy });
        self.pages_moved += 1;
        debug_assert_eq!(self.check_copies(mem, page), Ok(()));
        Ok((copy, users))
    }

    /// Folds the replicas of VM `vm`'s private guest page `guest_page`
    /// into one writable page: the copy on node `node` if there is one,
    /// else the master. Returns the machine page it was mapped to and the
    /// one it is mapped to now (`None` when the page has no replicas); the
    /// caller shoots down the page's translations.
    pub fn collapse(
        &mut self,
        pmap: &mut Pmap,
        vm: usize,
        guest_page: u64,
        node: u32,
    ) -> Option<(u64, u64)> {
        let master = pmap.entry(guest_page)?.machine_page;
        if !self.memmap.is_replicated(master) || self.memmap.kind(master) != PageKind::Private {
            return None;
        }
        let user = PageUser { vm, guest_page };
        let keep = self.memmap.nearest(master, node);
        for r in self.memmap.take_replicas(master) {
            if r.page != keep {
                self.free_page(r.page);
            }
        }
        if keep != master {
            if let Some(patches) = self.kernel_patches.remove(&master) {
                self.kernel_patches.insert(keep, patches);
            }
            self.memmap.set(keep, user);
            self.drop_user(master, user);
        }
        pmap.remap(guest_page, PmapEntry::new(keep));
        self.collapsed.push((vm, master, keep));
        self.numa_mut(vm).collapses += 1;
        Some((master, keep))
    }

    /// A free page on node `node` to move machine page `page` to: the page
    /// at its offset in its chunk's mirror on that node (a whole free chunk
    /// of the node becomes the mirror if there is none yet), else any free
    /// page of the node.
    fn page_on(&mut self, page: u64, node: u32) -> Option<u64> {
        let chunk = (page / CHUNK_PAGES) as u32;
        let offset = page % CHUNK_PAGES;
        let mirror = match self.mirrors.get(&(chunk, node)) {
            // Still broken up in the pool (else it went back whole).
            Some(&m) if self.pool.holds_chunk(m) => Some(m),
            _ => self.alloc.alloc_on(node).inspect(|&m| {
                self.pool.adopt(&self.alloc, m);
                self.mirrors.insert((chunk, node), m);
            }),
        };
        if let Some(m) = mirror {
            let want = u64::from(m) * CHUNK_PAGES + offset;
            if self.pool.take(&self.alloc, want) {
                return Some(want);
            }
        }
        self.pool.alloc_on(&mut self.alloc, node)
    }

    /// Frees the replicas of master page `page` (it is being freed, or
    /// made writable by its last user).
    pub(crate) fn drop_replicas(&mut self, page: u64) {
        if self.memmap.is_replicated(page) {
            for r in self.memmap.take_replicas(page) {
                self.pool.free(&mut self.alloc, r.page);
            }
        }
    }

    /// Returns machine page `page` to the free pool, with its replicas.
    pub(crate) fn free_page(&mut self, page: u64) {
        self.drop_replicas(page);
        self.pool.free(&mut self.alloc, page);
    }

    /// Checks the replicas of master page `master`: there is one at least,
    /// each holds the master's bytes, on a node of its own that is not the
    /// master's.
    pub fn check_copies(&self, mem: &PhysMem, master: u64) -> Result<(), String> {
        let replicas = self.memmap.replicas(master);
        if replicas.is_empty() {
            return Err(format!("{master:#x} is marked replicated with no replica"));
        }
        let home = self.node_of_page(master);
        let mut a = [0u8; 4096];
        let mut b = [0u8; 4096];
        mem.read_bytes(master << 12, &mut a)
            .map_err(|e| e.to_string())?;
        for (i, r) in replicas.iter().enumerate() {
            if r.node == home || self.node_of_page(r.page) != r.node {
                return Err(format!(
                    "replica {:#x} of {master:#x} is on the wrong node",
                    r.page
                ));
            }
            if replicas[..i].iter().any(|o| o.node == r.node) {
                return Err(format!("two replicas of {master:#x} on node {}", r.node));
            }
            mem.read_bytes(r.page << 12, &mut b)
                .map_err(|e| e.to_string())?;
            if a != b {
                return Err(format!("replica {:#x} of {master:#x} is stale", r.page));
            }
        }
        Ok(())
    }

    /// Checks the replica invariants against the VMs' pmaps (`pmaps[vm]`)
    /// and the memory's contents; the first violation found. Every replica
    /// holds its master's bytes, lies on another node than the master and
    /// than its siblings, and no pmap entry maps a replicated page (or a
    /// replica) writable.
    pub fn check_replicas(&self, pmaps: &[&Pmap], mem: &PhysMem) -> Result<(), String> {
        for (master, _) in self.memmap.replicated_pages() {
            self.check_copies(mem, master)?;
        }
        for (vm, pmap) in pmaps.iter().enumerate() {
            for (g, e) in pmap.entries() {
                let page = e.machine_page;
                if self.memmap.master_of(page).is_some() {
                    return Err(format!(
                        "VM {vm} guest page {g:#x} maps replica {page:#x} in its pmap"
                    ));
                }
                if e.writable() && self.memmap.is_replicated(page) {
                    return Err(format!(
                        "VM {vm} guest page {g:#x} maps replicated {page:#x} writable"
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 128 MiB on two nodes (64 MiB each), VM 0 with guest chunk 0 backed
    /// on node 0.
    fn two_nodes() -> (PhysMem, MachineMemory, Pmap) {
        let mut mem = PhysMem::new(128 << 20).unwrap();
        let mut mm = MachineMemory::new(128 << 20, 2, |pa| (pa >> 26) as u32);
        let mut pmap = Pmap::new(32 << 20);
        mm.back(&mut mem, &mut pmap, 0, 0, 0).unwrap();
        (mem, mm, pmap)
    }

    fn fill(mem: &mut PhysMem, page: u64, byte: u8) {
        mem.write_bytes(page << 12, &[byte; 4096]).unwrap();
    }

    #[test]
    fn migration_copies_and_frees_the_old_page() {
        let (mut mem, mut mm, mut pmap) = two_nodes();
        let old = pmap.entry(7).unwrap().machine_page;
        assert_eq!(mm.node_of_page(old), 0);
        fill(&mut mem, old, 0x5a);
        let (from, to) = mm.migrate(&mut mem, &mut pmap, 0, 7, 1).unwrap();
        assert_eq!((from, mm.node_of_page(to)), (old, 1));
        let e = pmap.entry(7).unwrap();
        assert_eq!(e.machine_page, to);
        assert!(e.writable());
        assert_eq!(mem.read_u32(to << 12).unwrap(), 0x5a5a_5a5a);
        assert_eq!(mm.memmap.kind(old), PageKind::Free);
        assert_eq!(
            mm.memmap.user(to),
            Some(PageUser {
                vm: 0,
                guest_page: 7
            })
        );
        assert_eq!(
            mm.migrate(&mut mem, &mut pmap, 0, 7, 5),
            Err(NotMoved::NoMemory)
        );
    }

    #[test]
    fn pages_moved_from_one_region_stay_one_run() {
        let (mut mem, mut mm, mut pmap) = two_nodes();
        for g in 16..32 {
            mm.migrate(&mut mem, &mut pmap, 0, g, 1).unwrap();
        }
        let (first, writable) = pmap.run(16, 16).expect("one run on node 1");
        assert!(writable);
        assert_eq!(mm.node_of_page(first), 1);
        assert_eq!(first % CHUNK_PAGES, 16, "same offsets in the mirror chunk");
        // The kernel segments map the region with one pair again.
        let pair =
            crate::memory::ktlb::kernel_pair(0xffff_ffff_8001_0000, 0x1_0000, &pmap).unwrap();
        assert_eq!(pair.pages, 32);
    }

    #[test]
    fn replicas_are_read_only_and_collapse_to_the_writer() {
        let (mut mem, mut mm, mut pmap) = two_nodes();
        let master = pmap.entry(9).unwrap().machine_page;
        fill(&mut mem, master, 0x11);
        let (copy, users) = mm.replicate(&mut mem, Some(&mut pmap), master, 1).unwrap();
        assert_eq!(
            users,
            vec![PageUser {
                vm: 0,
                guest_page: 9
            }]
        );
        assert!(!pmap.entry(9).unwrap().writable(), "every write must trap");
        assert_eq!(mm.memmap.nearest(master, 1), copy);
        assert_eq!(mm.placed_run(&pmap, 9, 1, 1), Some((copy, false)));
        assert_eq!(mm.placed_run(&pmap, 9, 1, 0), Some((master, false)));
        assert_eq!(
            mm.placed_run(&pmap, 8, 4, 1),
            None,
            "a run holding it is refused"
        );
        mm.check_replicas(&[&pmap], &mem).unwrap();
        // A second replica on the same node, or on the master's, is refused.
        assert!(mm.replicate(&mut mem, Some(&mut pmap), master, 1).is_err());
        assert!(mm.replicate(&mut mem, Some(&mut pmap), master, 0).is_err());
        // A write from node 1 keeps node 1's copy.
        let (from, to) = mm.collapse(&mut pmap, 0, 9, 1).unwrap();
        assert_eq!((from, to), (master, copy));
        assert!(pmap.entry(9).unwrap().writable());
        assert_eq!(mm.memmap.kind(master), PageKind::Free);
        assert_eq!(mm.memmap.replica_pages(), 0);
        mm.check_replicas(&[&pmap], &mem).unwrap();
        assert_eq!(
            mm.collapse(&mut pmap, 0, 9, 1),
            None,
            "nothing left to fold"
        );
    }

    #[test]
    fn the_kernel_direct_map_reaches_the_nearest_copy() {
        use crate::memory::ktlb::kernel_pair_with;
        let (mut mem, mut mm, mut pmap) = two_nodes();
        let master = pmap.entry(0x25).unwrap().machine_page;
        let (copy, _) = mm.replicate(&mut mem, Some(&mut pmap), master, 1).unwrap();
        let va = 0xffff_ffff_8002_5000; // ckseg0, guest page 0x25
        let pair_on = |node: u32| {
            kernel_pair_with(va, 0x25 << 12, &pmap, |first, pages| {
                mm.placed_run(&pmap, first, pages, node)
            })
            .unwrap()
        };
        for (node, want) in [(0, master), (1, copy)] {
            let p = pair_on(node);
            assert_eq!(p.pages, 2, "a replicated page is mapped with 4 KiB pages");
            let lo = p.entry.lo[(0x25 - p.first_page) as usize];
            assert_eq!(lo >> 6, want, "node {node}");
            assert_eq!(lo & crate::memory::pmap::LO_D, 0, "read-only: stores fault");
        }
    }

    #[test]
    fn a_write_through_make_private_collapses_first() {
        let (mut mem, mut mm, mut pmap) = two_nodes();
        let master = pmap.entry(3).unwrap().machine_page;
        mm.replicate(&mut mem, Some(&mut pmap), master, 1).unwrap();
        let moved = mm
            .make_private(&mut mem, &mut pmap, 0, 3, 0, true, "test")
            .unwrap();
        assert_eq!(moved, Some((master, master)), "node 0 keeps the master");
        assert!(pmap.entry(3).unwrap().writable());
        assert_eq!(mm.memmap.replica_pages(), 0);
        let cow = mm.sharing.first().map_or(0, |s| s.cow_faults);
        assert_eq!(cow, 0, "a collapse is not a copy-on-write fault");
    }

    #[test]
    fn freeing_a_replicated_page_frees_its_replicas() {
        let (mut mem, mut mm, mut pmap) = two_nodes();
        let before = mm.free_bytes();
        let master = pmap.entry(4).unwrap().machine_page;
        mm.replicate(&mut mem, Some(&mut pmap), master, 1).unwrap();
        assert_eq!(mm.free_bytes(), before - 4096);
        mm.release(0, &mut pmap);
        assert_eq!(mm.memmap.used_pages(), 0);
        assert_eq!(mm.memmap.replica_pages(), 0);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        /// Whatever sequence of migrations, replications, CPU stores, DMA
        /// overwrites and releases: every copy of every page (the pmap's,
        /// and the one each node's TLB fill would map) holds what was last
        /// written, and the replica invariants hold.
        #[test]
        fn no_copy_is_ever_stale(
            ops in proptest::collection::vec((0u8..5, 0u64..24, 0u32..4), 1..120)
        ) {
            let nodes = 4;
            let mut mem = PhysMem::new(256 << 20).unwrap();
            let mut mm = MachineMemory::new(256 << 20, nodes, |pa| (pa >> 26) as u32);
            let mut pmap = Pmap::new(16 << 20);
            mm.back(&mut mem, &mut pmap, 0, 0, 0).unwrap();
            let mut model = [0u8; 24];
            for (op, g, node) in ops {
                match op {
                    0 => { let _ = mm.migrate(&mut mem, &mut pmap, 0, g, node); }
                    1 => {
                        let page = pmap.entry(g).unwrap().machine_page;
                        let _ = mm.replicate(&mut mem, Some(&mut pmap), page, node);
                    }
                    // A CPU store from `node`: made writable, then written.
                    2 | 3 => {
                        let whole = op == 3; // a DMA writing the page whole
                        mm.make_private(&mut mem, &mut pmap, 0, g, node, !whole, "test").unwrap();
                        let e = pmap.entry(g).unwrap();
                        proptest::prop_assert!(e.writable());
                        model[g as usize] = model[g as usize].wrapping_add(1 + node as u8);
                        let byte = model[g as usize];
                        if whole {
                            fill(&mut mem, e.machine_page, byte);
                        } else {
                            mem.write_bytes(e.machine_page << 12, &[byte; 64]).unwrap();
                            mem.write_bytes((e.machine_page << 12) + 64, &[byte; 4032]).unwrap();
                        }
                    }
                    _ => {
                        // Nothing written: only reads happen.
                    }
                }
                mm.check_replicas(&[&pmap], &mem).map_err(proptest::test_runner::TestCaseError::fail)?;
                for (g, &byte) in model.iter().enumerate() {
                    let master = pmap.entry(g as u64).unwrap().machine_page;
                    for n in 0..nodes {
                        let copy = mm.memmap.nearest(master, n);
                        let mut got = [0u8; 4096];
                        mem.read_bytes(copy << 12, &mut got).unwrap();
                        proptest::prop_assert!(got.iter().all(|&b| b == byte), "guest page {} on node {}", g, n);
                    }
                }
            }
            let used = mm.memmap.used_pages();
            proptest::prop_assert_eq!(used, mm.memmap.private_pages() + mm.memmap.replica_pages());
            mm.release(0, &mut pmap);
            proptest::prop_assert_eq!(mm.memmap.used_pages(), 0);
        }
    }
}
