//! Sharing the pages of identical kernel images between VMs.
//!
//! VMs booting the same Debian kernel decompress the same image to the
//! same guest-physical place (`nokaslr` keeps it there) and patch it the
//! same way while booting (ftrace call sites, jump labels). When a VM first
//! enters user mode its kernel is settled: the monitor then looks at every
//! page of its image ([`crate::vm::Vm::kernel_image`]). A page identical to
//! a page another VM offered is shared: that page becomes read-only in
//! both and this VM's copy is freed. Other pages are *offered*: entered in
//! a table by content hash, still private and writable, so that a VM that
//! never meets a twin pays nothing. Pages that are identical at that moment
//! but written later (kernel data) get their copy back on a copy-on-write
//! fault like any shared page.
//!
//! The monitor's own rewriting of privileged instructions would otherwise
//! break the sharing of every page it touches: a rewrite is the same for
//! every VM (every vCPU's register page is at the same address), so it is
//! made in place in the shared page, and the original words are kept to
//! compare the page with the images of VMs that boot later.

use std::hash::Hasher;

use mips::PhysMem;

use super::memmap::{PageKind, PageUser, SharedKind};
use super::pmap::{Pmap, PmapEntry};
use super::MachineMemory;

/// A kernel-image page in the table: a machine page and, for a page still
/// private to the VM that offered it, that VM's guest page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The machine page.
    pub page: u64,
    /// Who offered it.
    pub owner: PageUser,
}

/// The page another VM has with the same contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Twin {
    /// A shared kernel page: map it.
    Shared(u64),
    /// A page still private to `owner`: make it shared (read-only for
    /// `owner` too), then map it.
    Offered(Candidate),
}

/// A deterministic hash of a page's contents (fixed keys).
pub fn page_hash(data: &[u8]) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    h.write(data);
    h.finish()
}

impl MachineMemory {
    /// A page of another VM than `vm` identical to `data` (hash `hash`),
    /// which `vm` holds at `guest_page`. A twin offered at the same guest
    /// page comes first, so that a run of pages maps a run of machine pages.
    pub fn kernel_twin(
        &self,
        mem: &PhysMem,
        hash: u64,
        data: &[u8; 4096],
        vm: usize,
        guest_page: u64,
    ) -> Option<Twin> {
        let mut other = [0u8; 4096];
        let list = self.kernel_pages.get(&hash)?;
        let same = |c: &&Candidate| c.owner.guest_page == guest_page;
        for c in list
            .iter()
            .filter(same)
            .chain(list.iter().filter(|c| !same(c)))
        {
            let twin = match self.memmap.kind(c.page) {
                PageKind::Shared(SharedKind::KernelText { .. }) => Twin::Shared(c.page),
                // Offered and still the owner's own, unshared page.
                PageKind::Private
                    if self.memmap.user(c.page) == Some(c.owner) && c.owner.vm != vm =>
                {
                    Twin::Offered(*c)
                }
                _ => continue,
            };
            if mem.read_bytes(c.page << 12, &mut other).is_err() {
                continue;
            }
            self.unpatched(c.page, &mut other);
            if other == *data {
                return Some(twin);
            }
        }
        None
    }

    /// Puts back in `data`, the contents of kernel-image page `page`, the
    /// words the monitor rewrote: the page as the guest left it. Images
    /// are compared so, whichever instructions each VM has trapped on.
    pub fn unpatched(&self, page: u64, data: &mut [u8; 4096]) {
        for &(off, word) in self
            .kernel_patches
            .get(&page)
            .map_or(&[][..], Vec::as_slice)
        {
            let off = usize::from(off);
            data[off..off + 4].copy_from_slice(&word.to_le_bytes());
        }
    }

    /// Enters private page `page` of `owner` in the table under `hash`
    /// (replacing its entry under another hash, if it had one).
    pub fn offer_kernel_page(&mut self, hash: u64, page: u64, owner: PageUser) {
        match self.kernel_hashes.get(&page).copied() {
            Some(old) if old == hash => return,
            Some(old) => self.forget_kernel_page(page, old),
            None => self.sharing_mut(owner.vm).kernel_pages_offered += 1,
        }
        self.kernel_hashes.insert(page, hash);
        self.kernel_pages
            .entry(hash)
            .or_default()
            .push(Candidate { page, owner });
    }

    /// Makes offered page `c` a shared kernel page (its owner its only user
    /// so far). The caller makes the owner's pmap entry read-only and shoots
    /// down its translations.
    pub fn share_offered(&mut self, c: Candidate, hash: u64) {
        self.memmap.clear(c.page);
        self.memmap
            .make_shared(c.page, SharedKind::KernelText { hash });
        self.memmap.add_user(c.page, c.owner);
    }

    /// Forgets kernel page `page` (freed, or no longer offered).
    pub(crate) fn forget_kernel_page(&mut self, page: u64, hash: u64) {
        self.kernel_patches.remove(&page);
        self.kernel_hashes.remove(&page);
        if let Some(list) = self.kernel_pages.get_mut(&hash) {
            list.retain(|c| c.page != page);
            if list.is_empty() {
                self.kernel_pages.remove(&hash);
            }
        }
    }

    /// `user`, the last user of shared kernel page `page` and the VM whose
    /// chunk it came from, keeps it as its own private, writable page
    /// (`pmap` is `user`'s). The caller shoots down its translations.
    pub fn keep_kernel_page(&mut self, pmap: &mut Pmap, page: u64, user: PageUser) {
        let Some(SharedKind::KernelText { hash }) = self.memmap.shared(page).map(|s| s.kind) else {
            return;
        };
        debug_assert_eq!(
            self.memmap.shared(page).map(|s| s.users.as_slice()),
            Some(&[user][..])
        );
        self.forget_kernel_page(page, hash);
        self.memmap.drop_shared(page);
        // Writable from now on: its replicas go.
        self.drop_replicas(page);
        self.memmap.set(page, user);
        pmap.remap(user.guest_page, PmapEntry::new(page));
    }

    /// Records that the monitor rewrote the word at machine address `pa`
    /// (in a kernel-image page), which held `original`.
    pub fn record_kernel_patch(&mut self, pa: u64, original: u32) {
        let list = self.kernel_patches.entry(pa >> 12).or_default();
        let off = (pa & 0xfff) as u16;
        if !list.iter().any(|(o, _)| *o == off) {
            list.push((off, original));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_pages_of_other_vms_are_found_even_after_rewrites() {
        let (mut mem, mut mm, [mut a, b]) = crate::memory::two_vms(32 << 20);
        let text = [0x5au8; 4096];
        let pa = a.entry(0x100).unwrap().machine_page;
        mem.write_bytes(pa << 12, &text).unwrap();
        let hash = page_hash(&text);
        let owner = PageUser {
            vm: 0,
            guest_page: 0x100,
        };
        // Offered by VM 0: not its own twin, VM 1's.
        mm.offer_kernel_page(hash, pa, owner);
        assert_eq!(mm.kernel_twin(&mem, hash, &text, 0, 0x100), None);
        let c = Candidate { page: pa, owner };
        assert_eq!(
            mm.kernel_twin(&mem, hash, &text, 1, 0x100),
            Some(Twin::Offered(c))
        );
        // Once shared, the monitor rewrites a word in place; later VMs
        // still see their unrewritten page as its twin.
        mm.share_offered(c, hash);
        a.remap(0x100, PmapEntry::read_only(pa));
        mm.record_kernel_patch((pa << 12) + 8, 0x5a5a_5a5a);
        mem.write_u32((pa << 12) + 8, 0x1234_5678).unwrap();
        assert_eq!(
            mm.kernel_twin(&mem, hash, &text, 1, 0x100),
            Some(Twin::Shared(pa))
        );
        // A page that differs is no twin.
        let mut other = text;
        other[100] = 0;
        assert_eq!(mm.kernel_twin(&mem, hash, &other, 1, 0x100), None);
        // An offered page its owner has since written is no twin either.
        let pb = b.entry(0x100).unwrap().machine_page;
        mem.write_bytes(pb << 12, &text).unwrap();
        let ob = PageUser {
            vm: 1,
            guest_page: 0x100,
        };
        mm.offer_kernel_page(hash, pb, ob);
        mem.write_u32(pb << 12, 0).unwrap();
        let mut fresh = text;
        fresh[..4].copy_from_slice(&[0x5a; 4]);
        assert_eq!(
            mm.kernel_twin(&mem, hash, &fresh, 2, 0x100),
            Some(Twin::Shared(pa))
        );
        // The shared page is forgotten when its last user goes.
        mm.release(0, &mut a);
        assert_eq!(mm.kernel_twin(&mem, hash, &text, 2, 0x100), None);
    }
}
