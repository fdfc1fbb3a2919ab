//! The monitor's machine memory: allocation by chunk and by page, the
//! memmap, zeroing, copy-on-write and the global disk cache.
//!
//! One rule holds everywhere: a shared page is never written in place.
//! Every pmap entry of a shared page is read-only ([`pmap::PmapEntry::read_only`]),
//! so CPU stores fault; device DMA and the monitor's own writes to guest
//! memory call [`MachineMemory::make_private`] first. Whoever remaps a
//! guest page must then shoot down its translations on every CPU
//! ([`crate::Monitor::shoot_down`]).

pub mod alloc;
pub mod diskcache;
pub mod kernel;
pub mod ktlb;
pub mod memmap;
pub mod placement;
pub mod pmap;

use std::collections::BTreeMap;

use mips::PhysMem;

use self::alloc::{ChunkAllocator, PagePool, CHUNK_BYTES, CHUNK_PAGES};
use self::diskcache::DiskCache;
use self::memmap::{MemMap, PageKind, PageUser, SharedKind};
use self::pmap::{Pmap, PmapEntry};

/// What sharing did for one VM.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SharingStats {
    /// Copy-on-write faults: a write to a shared page gave the VM a private
    /// copy (CPU stores and partial DMA writes).
    pub cow_faults: u64,
    /// Shared pages replaced by a fresh page because a device overwrote
    /// them whole (no copy needed).
    pub cow_replaced: u64,
    /// Disk reads of a whole page served by mapping a page already in the
    /// global disk cache (no copy, no disk time).
    pub cache_hits: u64,
    /// Disk reads of a whole page that filled the cache from the disk and
    /// mapped the new cache page.
    pub cache_fills: u64,
    /// Pages of its kernel image mapped from an identical page another VM
    /// offered (its own copy freed).
    pub kernel_pages_mapped: u64,
    /// Pages of its kernel image it offered for sharing (no identical page
    /// was there yet); they become shared when another VM matches them.
    pub kernel_pages_offered: u64,
    /// Shared regions of its kernel image it wrote to: every VM sharing
    /// such a region got its own copy of all of it.
    pub kernel_regions_unshared: u64,
}

/// Machine memory as the monitor hands it to VMs.
#[derive(Debug)]
pub struct MachineMemory {
    /// Free chunks per node.
    pub alloc: ChunkAllocator,
    /// Free single pages per node.
    pub pool: PagePool,
    /// Kind and users of every machine page.
    pub memmap: MemMap,
    /// The global disk cache.
    pub disk_cache: DiskCache,
    /// Pages that held data since power-on (zeroed before reuse), one bit
    /// per page.
    dirty: Vec<u64>,
    /// Pages zeroed for reuse.
    pub zeroed_pages: u64,
    /// Per VM: what sharing did.
    pub sharing: Vec<SharingStats>,
    /// Disk reads may map pages of the global disk cache.
    pub sharing_on: bool,
    /// VMs share identical kernel-image pages.
    pub share_kernel: bool,
    /// Kernel-image pages by content hash ([`kernel`]).
    kernel_pages: BTreeMap<u64, Vec<kernel::Candidate>>,
    /// The hash each kernel-image page is entered under.
    kernel_hashes: BTreeMap<u64, u64>,
    /// Instructions the monitor rewrote in place in shared kernel-image
    /// pages: per machine page, (byte offset, original word).
    kernel_patches: BTreeMap<u64, Vec<(u16, u32)>>,
    /// Pages migrated or replicated ([`placement`]) since power-on.
    pub pages_moved: u64,
    /// Replicated pages folded back into one before a write, not yet seen
    /// by the NUMA policy: (VM, master, the page kept).
    pub(crate) collapsed: Vec<(usize, u64, u64)>,
    /// Per VM: what the NUMA policy did ([`crate::numa`]).
    pub numa: Vec<crate::numa::NumaStats>,
    /// Per (machine chunk, node): the chunk of that node whose pages at
    /// the same offsets receive the chunk's pages moved there
    /// ([`placement`]).
    mirrors: BTreeMap<(u32, u32), u32>,
}

/// Machine memory ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfMemory;

impl MachineMemory {
    /// The machine memory of a machine with `mem_bytes` of RAM on `nodes`
    /// nodes, `node_of_pa` giving the home node of an address.
    pub fn new(mem_bytes: u64, nodes: u32, node_of_pa: impl Fn(u64) -> u32) -> Self {
        let pages = mem_bytes >> 12;
        MachineMemory {
            alloc: ChunkAllocator::new(mem_bytes, nodes, node_of_pa),
            pool: PagePool::new(nodes),
            memmap: MemMap::new(pages),
            disk_cache: DiskCache::default(),
            dirty: vec![0; pages.div_ceil(64) as usize],
            zeroed_pages: 0,
            sharing: Vec::new(),
            sharing_on: true,
            share_kernel: false,
            kernel_pages: BTreeMap::new(),
            kernel_hashes: BTreeMap::new(),
            kernel_patches: BTreeMap::new(),
            pages_moved: 0,
            collapsed: Vec::new(),
            numa: Vec::new(),
            mirrors: BTreeMap::new(),
        }
    }

    /// The sharing statistics of VM `vm`.
    pub fn sharing_mut(&mut self, vm: usize) -> &mut SharingStats {
        if self.sharing.len() <= vm {
            self.sharing.resize(vm + 1, SharingStats::default());
        }
        &mut self.sharing[vm]
    }

    /// The NUMA statistics of VM `vm`.
    pub fn numa_mut(&mut self, vm: usize) -> &mut crate::numa::NumaStats {
        if self.numa.len() <= vm {
            self.numa.resize(vm + 1, crate::numa::NumaStats::default());
        }
        &mut self.numa[vm]
    }

    /// Marks `page` as holding data; true if it already did.
    fn mark_dirty(&mut self, page: u64) -> bool {
        let (w, b) = ((page / 64) as usize, page % 64);
        let was = self.dirty[w] & (1 << b) != 0;
        self.dirty[w] |= 1 << b;
        was
    }

    /// Zeroes machine page `page` if it held data before.
    fn zero_if_reused(&mut self, mem: &mut PhysMem, page: u64) {
        if self.mark_dirty(page) {
            mem.write_bytes(page << 12, &[0u8; 4096])
                .expect("allocated pages lie in RAM");
            self.zeroed_pages += 1;
        }
    }

    /// Backs guest chunk `chunk` of VM `vm` (pmap `pmap`) with a machine
    /// chunk from node `node` or the nearest one with free memory; the
    /// chunk's pages read zero. Returns the machine chunk (none if the
    /// chunk was already backed), or `Err` when machine memory is
    /// exhausted.
    pub fn back(
        &mut self,
        mem: &mut PhysMem,
        pmap: &mut Pmap,
        vm: usize,
        chunk: u64,
        node: u32,
    ) -> Result<Option<u32>, OutOfMemory> {
        if pmap.is_backed(chunk) {
            return Ok(None);
        }
        let m = match self.alloc.alloc(node) {
            Some(m) => m,
            None => {
                // Whole chunks are gone: unused disk-cache pages may give
                // one back; else back the chunk page by page.
                self.evict_unused_cache();
                match self.alloc.alloc(node) {
                    Some(m) => m,
                    None => {
                        return self
                            .back_by_pages(mem, pmap, vm, chunk, node)
                            .map(|()| None)
                    }
                }
            }
        };
        let first = u64::from(m) * CHUNK_PAGES;
        // Fresh machine memory is zero; reused memory is zeroed here, as
        // Disco zeroes pages before giving them to a VM.
        for i in 0..CHUNK_PAGES {
            self.zero_if_reused(mem, first + i);
        }
        pmap.back_chunk(chunk, m);
        for i in 0..CHUNK_PAGES {
            self.memmap.set(
                first + i,
                PageUser {
                    vm,
                    guest_page: chunk * CHUNK_PAGES + i,
                },
            );
        }
        Ok(Some(m))
    }

    /// Backs guest chunk `chunk` with single pages (no whole machine chunk
    /// is free): the chunk is split from the start.
    fn back_by_pages(
        &mut self,
        mem: &mut PhysMem,
        pmap: &mut Pmap,
        vm: usize,
        chunk: u64,
        node: u32,
    ) -> Result<(), OutOfMemory> {
        let mut pages = Vec::with_capacity(CHUNK_PAGES as usize);
        for _ in 0..CHUNK_PAGES {
            match self.alloc_page(mem, node) {
                Ok(p) => pages.push(p),
                Err(e) => {
                    for p in pages {
                        self.pool.free(&mut self.alloc, p);
                    }
                    return Err(e);
                }
            }
        }
        pmap.back_split(chunk, &pages);
        for (i, &p) in pages.iter().enumerate() {
            let guest_page = chunk * CHUNK_PAGES + i as u64;
            self.memmap.set(p, PageUser { vm, guest_page });
        }
        Ok(())
    }

    /// A zeroed free page from node `node` or the nearest node with one
    /// (unused disk-cache pages are dropped if memory is short). Not yet
    /// recorded in the memmap.
    pub fn alloc_page(&mut self, mem: &mut PhysMem, node: u32) -> Result<u64, OutOfMemory> {
        let page = match self.pool.alloc(&mut self.alloc, node) {
            Some(p) => p,
            None => {
                self.evict_unused_cache();
                self.pool.alloc(&mut self.alloc, node).ok_or(OutOfMemory)?
            }
        };
        self.zero_if_reused(mem, page);
        Ok(page)
    }

    /// Takes back `page`, just allocated and never recorded in the memmap.
    pub fn free_unused_page(&mut self, page: u64) {
        self.pool.free(&mut self.alloc, page);
    }

    /// Drops disk-cache pages no VM maps (memory is short); returns how
    /// many.
    pub fn evict_unused_cache(&mut self) -> usize {
        let unused: Vec<(u64, u32, u64)> = self
            .memmap
            .shared_pages()
            .filter(|(_, s)| s.users.is_empty())
            .filter_map(|(p, s)| match s.kind {
                SharedKind::DiskCache { disk, sector } => Some((p, disk, sector)),
                SharedKind::KernelText { .. } => None,
            })
            .collect();
        for &(page, disk, sector) in &unused {
            tracing::debug!(target: "monitor::cow", "disk cache page {page:#x} (disk {disk} sector {sector}) freed: memory is short");
            self.disk_cache.remove(disk, sector);
            self.memmap.drop_shared(page);
            self.free_page(page);
        }
        unused.len()
    }

    /// `user` no longer uses machine page `page`: a private page is freed,
    /// a shared page loses a user (and is freed with its last one, unless
    /// the disk cache keeps it).
    pub(crate) fn drop_user(&mut self, page: u64, user: PageUser) {
        match self.memmap.kind(page) {
            PageKind::Private => {
                if let Some(hash) = self.kernel_hashes.get(&page).copied() {
                    self.forget_kernel_page(page, hash);
                }
                self.kernel_patches.remove(&page);
                self.memmap.clear(page);
                self.free_page(page);
                tracing::trace!(target: "monitor::cow", "machine page {page:#x} freed (VM {} guest page {:#x})", user.vm, user.guest_page);
            }
            PageKind::Shared(kind) => {
                let left = self.memmap.remove_user(page, user);
                let cached = matches!(kind, SharedKind::DiskCache { .. });
                if left == 0 && !cached {
                    if let SharedKind::KernelText { hash } = kind {
                        self.forget_kernel_page(page, hash);
                    }
                    self.memmap.drop_shared(page);
                    self.free_page(page);
                    tracing::debug!(target: "monitor::cow", "machine page {page:#x} freed (its last user, VM {}, left)", user.vm);
                }
            }
            PageKind::Free | PageKind::Replica(_) => {
                debug_assert!(false, "dropping a page no VM maps")
            }
        }
    }

    /// Gives VM `vm` a private, writable copy of guest page `guest_page`
    /// if it is shared (copying its data when `copy`, else leaving the new
    /// page zero for a writer that overwrites it whole). Returns the old and
    /// new machine pages when it remapped the page; the caller shoots down
    /// the page's translations. `writer` says who wrote (for the trace).
    #[allow(clippy::too_many_arguments)]
    pub fn make_private(
        &mut self,
        mem: &mut PhysMem,
        pmap: &mut Pmap,
        vm: usize,
        guest_page: u64,
        node: u32,
        copy: bool,
        writer: &str,
    ) -> Result<Option<(u64, u64)>, OutOfMemory> {
        let Some(old) = pmap.entry(guest_page) else {
            return Ok(None);
        };
        if old.writable() {
            return Ok(None);
        }
        // A private page made read-only by replication: fold the replicas.
        if let Some(moved) = self.collapse(pmap, vm, guest_page, node) {
            tracing::debug!(target: "monitor::numa", vm, "collapse guest page {guest_page:#x} ({writer}): machine page {:#x} -> {:#x}", moved.0, moved.1);
            return Ok(Some(moved));
        }
        // The page's own place in its chunk if it is free (keeping the
        // chunk one run, mappable with large pages), else any page.
        let new = match pmap.own_page(guest_page) {
            Some(own) if self.pool.take(&self.alloc, own) => {
                self.zero_if_reused(mem, own);
                own
            }
            _ => self.alloc_page(mem, node)?,
        };
        if copy {
            copy_page(mem, old.machine_page, new);
        }
        self.move_user(pmap, vm, guest_page, old.machine_page, new);
        let stats = self.sharing_mut(vm);
        if copy {
            stats.cow_faults += 1;
        } else {
            stats.cow_replaced += 1;
        }
        tracing::debug!(target: "monitor::cow", vm, "copy-on-write fault at guest page {guest_page:#x} ({writer}): machine page {:#x} -> {new:#x}{}", old.machine_page, if copy { ", copied" } else { ", overwritten whole" });
        Ok(Some((old.machine_page, new)))
    }

    /// Moves VM `vm`'s private guest page `guest_page` back to its own
    /// place in its chunk when another page backs it and that place is
    /// free (so the chunk becomes one run again). Returns the old and new
    /// machine pages when it moved; the caller shoots down the page's
    /// translations.
    pub fn move_home(
        &mut self,
        mem: &mut PhysMem,
        pmap: &mut Pmap,
        vm: usize,
        guest_page: u64,
    ) -> Option<(u64, u64)> {
        let old = pmap.entry(guest_page).filter(PmapEntry::writable)?;
        let own = pmap.own_page(guest_page)?;
        if own == old.machine_page || !self.pool.take(&self.alloc, own) {
            return None;
        }
        self.mark_dirty(own);
        copy_page(mem, old.machine_page, own);
        self.move_user(pmap, vm, guest_page, old.machine_page, own);
        Some((old.machine_page, own))
    }

    /// Points VM `vm`'s guest page `guest_page` at its new private page
    /// `new`, and drops its use of `old`.
    fn move_user(&mut self, pmap: &mut Pmap, vm: usize, guest_page: u64, old: u64, new: u64) {
        let user = PageUser { vm, guest_page };
        pmap.remap(guest_page, PmapEntry::new(new));
        self.memmap.set(new, user);
        self.drop_user(old, user);
    }

    /// Maps shared machine page `page` read-only at guest page
    /// `guest_page` of VM `vm` (its chunk backed), dropping what backed it
    /// before. The caller shoots down the page's translations.
    pub fn map_shared(&mut self, pmap: &mut Pmap, vm: usize, guest_page: u64, page: u64) {
        let old = pmap
            .entry(guest_page)
            .expect("the chunk is backed before mapping");
        if old.machine_page == page {
            return;
        }
        let user = PageUser { vm, guest_page };
        pmap.remap(guest_page, PmapEntry::read_only(page));
        self.memmap.add_user(page, user);
        self.drop_user(old.machine_page, user);
    }

    /// Takes all of VM `vm`'s memory back.
    pub fn release(&mut self, vm: usize, pmap: &mut Pmap) {
        for (guest_page, e) in pmap.release() {
            self.drop_user(e.machine_page, PageUser { vm, guest_page });
        }
    }

    /// Bytes of the monitor's structures for machine memory (the pmaps are
    /// the VMs').
    pub fn structure_bytes(&self) -> crate::footprint::MonitorBytes {
        let entries: usize = self.kernel_pages.values().map(Vec::len).sum();
        crate::footprint::MonitorBytes {
            pmaps: 0,
            memmap: self.memmap.structure_bytes(),
            disk_cache: self.disk_cache.structure_bytes(),
            kernel_table: (entries * std::mem::size_of::<kernel::Candidate>() * 4 / 3) as u64,
        }
    }

    /// True once some guest chunk may be mapped page by page: pages are
    /// shared, or were migrated or replicated (the kernel segments then
    /// need more TLB slots, see [`crate::ptlb`]).
    pub fn chunks_split(&self) -> bool {
        self.pages_moved > 0 || self.memmap.shared_pages().next().is_some()
    }

    /// Free machine memory in bytes (whole chunks and single pages).
    pub fn free_bytes(&self) -> u64 {
        self.alloc.free_chunks() as u64 * CHUNK_BYTES + (self.pool.free_pages() << 12)
    }
}

/// Copies machine page `from` to machine page `to`.
pub(crate) fn copy_page(mem: &mut PhysMem, from: u64, to: u64) {
    let mut buf = [0u8; 4096];
    mem.read_bytes(from << 12, &mut buf)
        .expect("mapped pages lie in RAM");
    mem.write_bytes(to << 12, &buf)
        .expect("allocated pages lie in RAM");
}

/// For tests: 64 MiB of machine memory on one node, and two VMs of
/// `guest_bytes` each with its guest chunk 0 backed.
#[cfg(test)]
pub(crate) fn two_vms(guest_bytes: u64) -> (PhysMem, MachineMemory, [Pmap; 2]) {
    let mut mem = PhysMem::new(64 << 20).unwrap();
    let mut mm = MachineMemory::new(64 << 20, 1, |_| 0);
    let mut pmaps = [Pmap::new(guest_bytes), Pmap::new(guest_bytes)];
    for (vm, pmap) in pmaps.iter_mut().enumerate() {
        mm.back(&mut mem, pmap, vm, 0, 0).unwrap();
    }
    (mem, mm, pmaps)
}

#[cfg(test)]
mod tests;
