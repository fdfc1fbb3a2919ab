//! When to share a VM's kernel image, and the remapping it takes
//! ([`crate::memory::kernel`]).

use machine::Machine;

use crate::cost::Work;
use crate::memory::kernel::{page_hash, Twin};
use crate::memory::memmap::PageUser;
use crate::memory::pmap::PmapEntry;
use crate::trap::charge;
use crate::Monitor;

impl Monitor {
    /// Once per boot, when VM `vi`'s vCPU `ci` (on CPU `p`) first runs in
    /// user mode: its kernel is settled, its image's pages are shared with
    /// identical pages of other VMs or offered to them.
    pub(crate) fn share_kernel_image_once(
        &mut self,
        m: &mut Machine,
        p: usize,
        vi: usize,
        ci: usize,
    ) {
        let vm = &self.vms[vi];
        let Some((first, end)) = vm.kernel_image else {
            return;
        };
        if vm.kernel_shared || !self.memory.share_kernel {
            return;
        }
        self.vms[vi].kernel_shared = true;
        let mut cycles = 0;
        let mut data = [0u8; 4096];
        for guest_page in first..end {
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
            let hash = page_hash(&data);
            cycles += self.costs.map_page;
            let page = match self.memory.kernel_twin(&m.mem, hash, &data, vi) {
                None => {
                    let owner = PageUser { vm: vi, guest_page };
                    self.memory.offer_kernel_page(hash, e.machine_page, owner);
                    continue;
                }
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
        let s = self.memory.sharing_mut(vi);
        tracing::debug!(target: "monitor::cow", vm = vi, "kernel image: {} pages shared with other VMs, {} offered", s.kernel_pages_mapped, s.kernel_pages_offered);
        charge(
            &mut m.cpus[p],
            &mut self.vms[vi].vcpus[ci],
            Work::Services,
            cycles,
        );
    }
}
