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
//!
//! A page the NUMA policy replicated ([`crate::numa`]) keeps its kind and
//! users: it is the *master*. Its *replicas* — read-only copies on other
//! nodes — are listed with it (Fig. 2: "pointers to replicas"); a replica
//! page's kind is [`PageKind::Replica`]. One bit per machine page says
//! whether it has replicas, so that mapping a run of pages can tell at
//! once that none has.

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
    /// A read-only copy, on another node, of the master page given.
    Replica(u64),
}

/// A replica of a master page: where it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Replica {
    /// The node whose memory holds it.
    pub node: u32,
    /// Its machine page.
    pub page: u64,
}

/// Kinds and users of every machine page.
#[derive(Clone, Debug)]
pub struct MemMap {
    private: Vec<u64>,
    shared: BTreeMap<u64, SharedPage>,
    /// Master page -> its replicas (at most one per node, by node).
    replicas: BTreeMap<u64, Vec<Replica>>,
    /// Replica page -> its master.
    replica_of: BTreeMap<u64, u64>,
    /// One bit per machine page: it has replicas.
    replicated: Vec<u64>,
}

impl MemMap {
    /// A memmap for `pages` machine pages, all unused.
    pub fn new(pages: u64) -> Self {
        MemMap {
            private: vec![NO_USER; pages as usize],
            shared: BTreeMap::new(),
            replicas: BTreeMap::new(),
            replica_of: BTreeMap::new(),
            replicated: vec![0; pages.div_ceil(64) as usize],
        }
    }

    /// Bytes the memmap takes in the monitor's memory (B-tree overhead
    /// estimated at a third of the entries).
    pub fn structure_bytes(&self) -> u64 {
        let users: usize = self.shared.values().map(|s| s.users.len()).sum();
        let shared = std::mem::size_of::<u64>() + std::mem::size_of::<SharedPage>();
        let replicas = self.replica_of.len()
            * (std::mem::size_of::<Replica>() + 2 * std::mem::size_of::<u64>());
        (self.private.len() * std::mem::size_of::<u64>()
            + self.replicated.len() * std::mem::size_of::<u64>()
            + self.shared.len() * shared * 4 / 3
            + replicas * 4 / 3
            + users * std::mem::size_of::<PageUser>()) as u64
    }

    /// The kind of machine page `page`.
    pub fn kind(&self, page: u64) -> PageKind {
        if let Some(s) = self.shared.get(&page) {
            PageKind::Shared(s.kind)
        } else if self.user(page).is_some() {
            PageKind::Private
        } else if let Some(&master) = self.replica_of.get(&page) {
            PageKind::Replica(master)
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

    /// Machine pages in use (private, shared or replicas).
    pub fn used_pages(&self) -> usize {
        self.private_pages() + self.shared.len() + self.replica_of.len()
    }

    /// True when machine page `page` has replicas.
    #[inline]
    pub fn is_replicated(&self, page: u64) -> bool {
        self.replicated
            .get((page / 64) as usize)
            .is_some_and(|w| w & (1 << (page % 64)) != 0)
    }

    /// True when one of the `pages` machine pages from `first` has
    /// replicas.
    pub fn any_replicated(&self, first: u64, pages: u64) -> bool {
        (first..first + pages).any(|p| {
            // Whole words at a time where they are all in the range.
            if p % 64 == 0 && p + 64 <= first + pages {
                return self
                    .replicated
                    .get((p / 64) as usize)
                    .is_some_and(|w| *w != 0);
            }
            self.is_replicated(p)
        })
    }

    fn set_replicated(&mut self, page: u64, on: bool) {
        let (w, b) = ((page / 64) as usize, page % 64);
        if on {
            self.replicated[w] |= 1 << b;
        } else {
            self.replicated[w] &= !(1 << b);
        }
    }

    /// The replicas of master page `page` (empty when it has none).
    pub fn replicas(&self, page: u64) -> &[Replica] {
        self.replicas.get(&page).map_or(&[], Vec::as_slice)
    }

    /// The master of replica page `page`, if it is one.
    pub fn master_of(&self, page: u64) -> Option<u64> {
        self.replica_of.get(&page).copied()
    }

    /// The copy of master page `page` on node `node`: its replica there,
    /// else the master itself.
    #[inline]
    pub fn nearest(&self, page: u64, node: u32) -> u64 {
        if !self.is_replicated(page) {
            return page;
        }
        self.replicas(page)
            .iter()
            .find(|r| r.node == node)
            .map_or(page, |r| r.page)
    }

    /// Records `replica` as a copy of master page `master`.
    pub fn add_replica(&mut self, master: u64, replica: Replica) {
        debug_assert_eq!(self.kind(replica.page), PageKind::Free);
        let list = self.replicas.entry(master).or_default();
        let at = list.partition_point(|r| r.node < replica.node);
        debug_assert!(list.get(at).is_none_or(|r| r.node != replica.node));
        list.insert(at, replica);
        self.replica_of.insert(replica.page, master);
        self.set_replicated(master, true);
    }

    /// Forgets every replica of master page `master`; returns them (the
    /// caller frees their pages).
    pub fn take_replicas(&mut self, master: u64) -> Vec<Replica> {
        let list = self.replicas.remove(&master).unwrap_or_default();
        for r in &list {
            self.replica_of.remove(&r.page);
        }
        self.set_replicated(master, false);
        list
    }

    /// Masters with replicas, in order, with their replicas.
    pub fn replicated_pages(&self) -> impl Iterator<Item = (u64, &[Replica])> {
        self.replicas.iter().map(|(p, r)| (*p, r.as_slice()))
    }

    /// Replica pages in use.
    pub fn replica_pages(&self) -> usize {
        self.replica_of.len()
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

    #[test]
    fn replicas_are_found_by_node_and_by_page() {
        let mut m = MemMap::new(256);
        m.set(
            70,
            PageUser {
                vm: 0,
                guest_page: 1,
            },
        );
        assert!(!m.is_replicated(70) && !m.any_replicated(0, 256));
        assert_eq!(m.nearest(70, 2), 70);
        m.add_replica(70, Replica { node: 3, page: 200 });
        m.add_replica(70, Replica { node: 1, page: 130 });
        assert!(m.is_replicated(70));
        assert!(m.any_replicated(64, 64) && m.any_replicated(70, 1));
        assert!(!m.any_replicated(0, 64) && !m.any_replicated(71, 100));
        assert_eq!(m.nearest(70, 3), 200);
        assert_eq!(m.nearest(70, 1), 130);
        assert_eq!(m.nearest(70, 0), 70, "no replica there: the master");
        assert_eq!(m.kind(200), PageKind::Replica(70));
        assert_eq!(m.master_of(130), Some(70));
        assert_eq!(
            m.replicas(70).iter().map(|r| r.node).collect::<Vec<_>>(),
            [1, 3]
        );
        assert_eq!(m.used_pages(), 3);
        let gone = m.take_replicas(70);
        assert_eq!(gone.len(), 2);
        assert!(!m.is_replicated(70));
        assert_eq!(m.kind(200), PageKind::Free);
        assert_eq!(m.used_pages(), 1);
    }
}
