//! The memmap: for every machine page, which VM and guest page use it
//! (paper §4.2.3). The monitor consults it to find the users of a machine
//! page (for TLB shootdowns, and later for sharing, migration and
//! replication); here every machine page has at most one user.

/// A machine page's user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageUser {
    /// The VM.
    pub vm: usize,
    /// The guest-physical page number.
    pub guest_page: u64,
}

/// Users of every machine page.
#[derive(Clone, Debug)]
pub struct MemMap {
    users: Vec<Option<PageUser>>,
}

impl MemMap {
    /// A memmap for `pages` machine pages, all unused.
    pub fn new(pages: u64) -> Self {
        MemMap {
            users: vec![None; pages as usize],
        }
    }

    /// The user of machine page `page`.
    pub fn user(&self, page: u64) -> Option<PageUser> {
        self.users.get(page as usize).copied().flatten()
    }

    /// Records that `user` now uses machine page `page`.
    pub fn set(&mut self, page: u64, user: PageUser) {
        self.users[page as usize] = Some(user);
    }

    /// Records that machine page `page` is free.
    pub fn clear(&mut self, page: u64) {
        self.users[page as usize] = None;
    }

    /// Machine pages in use.
    pub fn used_pages(&self) -> usize {
        self.users.iter().filter(|u| u.is_some()).count()
    }
}
