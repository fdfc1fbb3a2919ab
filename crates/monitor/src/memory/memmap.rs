//! The memmap: for every machine page, its kind and which VM and guest
//! pages use it (paper §4.2.3). The monitor consults it to find the users
//! of a machine page: to shoot down their translations when the page is
//! remapped, and to know when a shared page's last user has gone.
//!
//! Most pages are *private*: one user, kept in a flat array. A *shared*
//! page (a global disk-cache page, a shared kernel-text page) may have any
//! number of users and is never written in place; those are few and live in
//! an ordered map (ordered, so that every walk over them is deterministic).
//! Which virtual addresses currently map a page on each CPU — the other
//! half of the paper's backmaps — is what the monitor put in each physical
//! TLB ([`crate::ptlb::PhysTlb::mappings_of`]).

use std::collections::BTreeMap;

/// A machine page's user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PageUser {
    /// The VM.
    pub vm: usize,
    /// The guest-physical page number.
    pub guest_page: u64,
}

impl PageUser {
    /// Packed in 64 bits (VM in the top 16, guest page in the low 48) for
    /// the flat array of private pages.
    fn pack(self) -> u64 {
        assert!(
            self.vm < 0xffff && self.guest_page < 1 << 48,
            "VM numbers fit in 16 bits, guest pages in 48"
        );
        ((self.vm as u64) << 48) | self.guest_page
    }

    fn unpack(v: u64) -> Option<PageUser> {
        (v != NO_USER).then_some(PageUser {
            vm: (v >> 48) as usize,
            guest_page: v & ((1 << 48) - 1),
        })
    }
}

/// A free entry of the private-page array.
const NO_USER: u64 = u64::MAX;

/// What a shared machine page holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SharedKind {
    /// Sectors of a copy-on-write disk's base image, in the global disk
    /// cache ([`crate::memory::diskcache`]).
    DiskCache {
        /// The disk (index in the disk cache).
        disk: u32,
        /// Its first sector.
        sector: u64,
    },
    /// A page of a guest kernel's image, identical in every VM that maps
    /// it ([`crate::memory::MachineMemory::share_kernel_page`]).
    KernelText {
        /// Hash of its contents (its key in the table of such pages).
        hash: u64,
    },
}

/// A shared page: what it holds and who maps it (read-only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedPage {
    /// What it holds.
    pub kind: SharedKind,
    /// Its users, in the order they came.
    pub users: Vec<PageUser>,
}

/// The kind of a machine page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageKind {
    /// Not used.
    Free,
    /// One VM's page, writable.
    Private,
    /// Shared read-only.
    Shared(SharedKind),
}

/// Kinds and users of every machine page.
#[derive(Clone, Debug)]
pub struct MemMap {
    private: Vec<u64>,
    shared: BTreeMap<u64, SharedPage>,
}

impl MemMap {
    /// A memmap for `pages` machine pages, all unused.
    pub fn new(pages: u64) -> Self {
        MemMap {
            private: vec![NO_USER; pages as usize],
            shared: BTreeMap::new(),
        }
    }

    /// Bytes the memmap takes in the monitor's memory (B-tree overhead
    /// estimated at a third of the entries).
    pub fn structure_bytes(&self) -> u64 {
        let users: usize = self.shared.values().map(|s| s.users.len()).sum();
        let shared = std::mem::size_of::<u64>() + std::mem::size_of::<SharedPage>();
        (self.private.len() * std::mem::size_of::<u64>()
            + self.shared.len() * shared * 4 / 3
            + users * std::mem::size_of::<PageUser>()) as u64
    }

    /// The kind of machine page `page`.
    pub fn kind(&self, page: u64) -> PageKind {
        if let Some(s) = self.shared.get(&page) {
            PageKind::Shared(s.kind)
        } else if self.user(page).is_some() {
            PageKind::Private
        } else {
            PageKind::Free
        }
    }

    /// The user of private machine page `page`.
    pub fn user(&self, page: u64) -> Option<PageUser> {
        self.private
            .get(page as usize)
            .copied()
            .and_then(PageUser::unpack)
    }

    /// Records that `user` now uses machine page `page` privately.
    pub fn set(&mut self, page: u64, user: PageUser) {
        debug_assert!(
            !self.shared.contains_key(&page),
            "a shared page made private"
        );
        self.private[page as usize] = user.pack();
    }

    /// Records that private machine page `page` is free.
    pub fn clear(&mut self, page: u64) {
        self.private[page as usize] = NO_USER;
    }

    /// Records machine page `page` as a shared page holding `kind`, with no
    /// users yet.
    pub fn make_shared(&mut self, page: u64, kind: SharedKind) {
        debug_assert!(self.user(page).is_none(), "a private page made shared");
        self.shared.insert(
            page,
            SharedPage {
                kind,
                users: Vec::new(),
            },
        );
    }

    /// The shared page `page`, if it is one.
    pub fn shared(&self, page: u64) -> Option<&SharedPage> {
        self.shared.get(&page)
    }

    /// Adds `user` to shared page `page`.
    pub fn add_user(&mut self, page: u64, user: PageUser) {
        let s = self.shared.get_mut(&page).expect("a shared page");
        if !s.users.contains(&user) {
            s.users.push(user);
        }
    }

    /// Removes `user` from shared page `page`; returns the users left.
    pub fn remove_user(&mut self, page: u64, user: PageUser) -> usize {
        let s = self.shared.get_mut(&page).expect("a shared page");
        s.users.retain(|u| *u != user);
        s.users.len()
    }

    /// Forgets shared page `page` (it is free again).
    pub fn drop_shared(&mut self, page: u64) {
        self.shared.remove(&page);
    }

    /// Shared pages with their machine page numbers, in order.
    pub fn shared_pages(&self) -> impl Iterator<Item = (u64, &SharedPage)> {
        self.shared.iter().map(|(p, s)| (*p, s))
    }

    /// Machine pages used privately.
    pub fn private_pages(&self) -> usize {
        self.private.iter().filter(|u| **u != NO_USER).count()
    }

    /// Machine pages in use (private or shared).
    pub fn used_pages(&self) -> usize {
        self.private_pages() + self.shared.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_users() {
        let mut m = MemMap::new(16);
        let a = PageUser {
            vm: 0,
            guest_page: 5,
        };
        let b = PageUser {
            vm: 1,
            guest_page: 9,
        };
        assert_eq!(m.kind(3), PageKind::Free);
        m.set(3, a);
        assert_eq!(m.kind(3), PageKind::Private);
        let kind = SharedKind::DiskCache { disk: 0, sector: 8 };
        m.make_shared(4, kind);
        m.add_user(4, a);
        m.add_user(4, b);
        m.add_user(4, b);
        assert_eq!(m.kind(4), PageKind::Shared(kind));
        assert_eq!(m.shared(4).unwrap().users, vec![a, b]);
        assert_eq!(m.used_pages(), 2);
        assert_eq!(m.remove_user(4, a), 1);
        assert_eq!(m.remove_user(4, b), 0);
        m.drop_shared(4);
        m.clear(3);
        assert_eq!(m.used_pages(), 0);
    }
}
