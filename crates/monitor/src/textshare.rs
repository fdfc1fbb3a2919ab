//! When to share a VM's kernel image, and the remapping it takes
//! ([`crate::memory::kernel`]).
//!
//! The image is looked at when the VM first runs in user mode (Linux has
//! patched its text by then), then [`KERNEL_SCANS`]` - 1` more times,
//! [`KERNEL_SCAN_INTERVAL_NS`] apart: VMs reach user mode at different
//! moments, and a kernel flips some of its static keys (rewriting text)
//! when user space first uses a feature, so a region that differed a
//! moment ago may match now.
//!
//! The image is shared and unshared by whole, aligned regions of
//! [`KERNEL_REGION_PAGES`]: a region is shared only when every page of it
//! has a twin, and the first write to a shared region gives every VM
//! sharing it its own copy of the whole region. Each region therefore
//! stays one run of machine memory in every VM, mapped by the kernel
//! segment's large pages. Sharing page by page left the kernel's data
//! (identical in every VM at boot, then written) a patchwork of shared and
//! private pages, mapped with 4 KiB pages: a pmake run then took four times
//! as many kernel TLB faults.

use std::ops::Range;

use machine::Machine;

use crate::cost::Work;
use crate::memory::kernel::{page_hash, Twin};
use crate::memory::memmap::{PageKind, PageUser, SharedKind};
use crate::memory::pmap::PmapEntry;
use crate::trap::charge;
use crate::Monitor;

/// Guest pages per kernel-image region (1 MiB, aligned).
pub const KERNEL_REGION_PAGES: u64 = 256;
/// Looks at a VM's kernel image for sharing.
pub const KERNEL_SCANS: u32 = 8;
/// Simulated time between them.
pub const KERNEL_SCAN_INTERVAL_NS: u64 = 250_000_000;

/// The region of the kernel image `[first, end)` holding `guest_page`.
fn region_of(guest_page: u64, (first, end): (u64, u64)) -> Range<u64> {
    let start = guest_page / KERNEL_REGION_PAGES * KERNEL_REGION_PAGES;
    start.max(first)..(start + KERNEL_REGION_PAGES).min(end)
}

impl Monitor {
    /// When VM `vi`'s vCPU `ci` (on CPU `p`) runs in user mode and a look
    /// at its kernel image is due: the image's regions that are not shared
    /// (and were never written while shared) are shared with identical
    /// regions of other VMs or offered to them.
    pub(crate) fn share_kernel_image(&mut self, m: &mut Machine, p: usize, vi: usize, ci: usize) {
        // Called after every trap from user mode: the cheap tests first.
        let vm = &self.vms[vi];
        if !self.memory.share_kernel || vm.kernel_scans >= KERNEL_SCANS {
            return;
        }
        let Some(image) = vm.kernel_image else {
            return;
        };
        let now = m.sim_ns();
        if now < vm.next_kernel_scan_ns {
            return;
        }
        let vm = &mut self.vms[vi];
        vm.kernel_scans += 1;
        vm.next_kernel_scan_ns = now + KERNEL_SCAN_INTERVAL_NS;
        let mut cycles = 0;
        let mut at = image.0;
        while at < image.1 {
            let region = region_of(at, image);
            at = region.end;
            if !self.vms[vi].kernel_regions_written.contains(&region.start) {
                cycles += self.share_kernel_region(m, vi, region);
            }
        }
        let s = self.memory.sharing_mut(vi);
        tracing::debug!(target: "monitor::cow", vm = vi, "kernel image: {} pages shared with other VMs, {} offered", s.kernel_pages_mapped, s.kernel_pages_offered);
        charge(
            &mut m.cpus[p],
            &mut self.vms[vi].vcpus[ci],
            Work::Services,
            cycles,
        );
    }

    /// Shares the kernel-image pages `region` of VM `vi` if every one has
    /// a twin in another VM, else offers those that have none. Returns the
    /// cycles it cost.
    fn share_kernel_region(&mut self, m: &mut Machine, vi: usize, region: Range<u64>) -> u64 {
        let mut data = [0u8; 4096];
        let mut pages = Vec::new();
        let mut twins = 0;
        for guest_page in region {
            let Some(e) = self.vms[vi]
                .pmap
                .entry(guest_page)
                .filter(PmapEntry::writable)
            else {
                continue;
            };
            if m.mem.read_bytes(e.machine_page << 12, &mut data).is_err() {
                continue;
            }
            self.memory.unpatched(e.machine_page, &mut data);
            let hash = page_hash(&data);
            let twin = self.memory.kernel_twin(&m.mem, hash, &data, vi, guest_page);
            twins += usize::from(twin.is_some());
            pages.push((guest_page, e.machine_page, hash, twin.is_some()));
        }
        let mut cycles = pages.len() as u64 * self.costs.map_page;
        if twins < pages.len() {
            for (guest_page, page, hash, twin) in pages {
                if !twin {
                    let owner = PageUser { vm: vi, guest_page };
                    self.memory.offer_kernel_page(hash, page, owner);
                }
            }
            return cycles;
        }
        for (guest_page, page, hash, _) in pages {
            // Looked up again: an earlier page of the region may have
            // turned an offered twin into a shared one.
            m.mem
                .read_bytes(page << 12, &mut data)
                .expect("mapped pages lie in RAM");
            self.memory.unpatched(page, &mut data);
            let twin = self.memory.kernel_twin(&m.mem, hash, &data, vi, guest_page);
            let page = match twin {
                // Cannot happen (nothing was written since); stays private.
                None => continue,
                Some(Twin::Shared(page)) => page,
                Some(Twin::Offered(c)) => {
                    self.memory.share_offered(c, hash);
                    let owner = &mut self.vms[c.owner.vm];
                    owner
                        .pmap
                        .remap(c.owner.guest_page, PmapEntry::read_only(c.page));
                    cycles += self.shoot_down(m, c.owner.vm, c.owner.guest_page) as u64
                        * self.costs.shootdown;
                    c.page
                }
            };
            let vm = &mut self.vms[vi];
            self.memory.map_shared(&mut vm.pmap, vi, guest_page, page);
            self.memory.sharing_mut(vi).kernel_pages_mapped += 1;
            cycles += self.shoot_down(m, vi, guest_page) as u64 * self.costs.shootdown;
        }
        cycles
    }

    /// Guest page `guest_page` of VM `vi` is about to be written, or was
    /// just given a private page by a device's DMA: if it lies in a shared
    /// region of its kernel image, every VM sharing that region gets its
    /// own copy of the region (the VM whose chunk a page came from keeps
    /// it), and `vi`'s pages go back to their places in its chunk. Returns
    /// the cycles it cost.
    pub(crate) fn unshare_kernel_region(
        &mut self,
        m: &mut Machine,
        vi: usize,
        guest_page: u64,
    ) -> Result<u64, String> {
        let Some(image) = self.vms[vi].kernel_image else {
            return Ok(0);
        };
        if !(image.0..image.1).contains(&guest_page) {
            return Ok(0);
        }
        let region = region_of(guest_page, image);
        self.vms[vi].kernel_regions_written.insert(region.start);
        let mut cycles = 0;
        let mut unshared = 0;
        for g in region.clone() {
            let Some(e) = self.vms[vi].pmap.entry(g) else {
                continue;
            };
            let page = e.machine_page;
            if !matches!(
                self.memory.memmap.kind(page),
                PageKind::Shared(SharedKind::KernelText { .. })
            ) {
                continue;
            }
            unshared += 1;
            let users = self
                .memory
                .memmap
                .shared(page)
                .map(|s| s.users.clone())
                .unwrap_or_default();
            let mut owner = None;
            for u in users {
                self.vms[u.vm].kernel_regions_written.insert(region.start);
                if self.vms[u.vm].pmap.own_page(u.guest_page) == Some(page) {
                    owner = Some(u);
                    continue;
                }
                let node = self.vms[u.vm].node;
                cycles += self.copy_page_on_write(m, u.vm, u.guest_page, node, "kernel region")?;
            }
            if let Some(u) = owner {
                let pmap = &mut self.vms[u.vm].pmap;
                self.memory.keep_kernel_page(pmap, page, u);
                cycles += self.costs.map_page
                    + self.shoot_down(m, u.vm, u.guest_page) as u64 * self.costs.shootdown;
            }
        }
        for g in region.clone() {
            let vm = &mut self.vms[vi];
            if self
                .memory
                .move_home(&mut m.mem, &mut vm.pmap, vi, g)
                .is_some()
            {
                cycles +=
                    self.costs.cow_fault + self.shoot_down(m, vi, g) as u64 * self.costs.shootdown;
            }
        }
        if unshared > 0 {
            self.memory.sharing_mut(vi).kernel_regions_unshared += 1;
            tracing::debug!(target: "monitor::cow", vm = vi, "kernel image region {:#x}..{:#x} unshared ({unshared} shared pages)", region.start, region.end);
        }
        Ok(cycles)
    }
}
