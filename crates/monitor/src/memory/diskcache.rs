//! The global disk cache (paper §4.2.5): machine pages holding sectors of
//! copy-on-write disks' base images, shared by every VM that reads them.
//!
//! Per disk, a B-tree from a page's first sector to the machine page that
//! holds those 8 sectors (Rust's `BTreeMap` is a B-tree). A base image is
//! never written while the monitor runs (a copy-on-write disk opens it
//! read-only and keeps each VM's writes apart), so a cached page stays
//! valid for as long as it is kept. A VM reading a whole, page-aligned
//! page of a base image gets the cached page mapped read-only
//! ([`crate::dma`]); a VM that writes such a page gets a private copy
//! first. Pages no VM maps stay cached until memory runs short
//! ([`super::MachineMemory::evict_unused_cache`]).

use std::collections::BTreeMap;

use machine::virtio::block::DiskIdentity;

/// One disk's cached pages.
#[derive(Debug, Clone)]
struct CachedDisk {
    identity: DiskIdentity,
    pages: BTreeMap<u64, u64>,
}

/// The cache of every copy-on-write disk the monitor has seen.
#[derive(Debug, Clone, Default)]
pub struct DiskCache {
    disks: Vec<CachedDisk>,
}

impl DiskCache {
    /// The cache index of the disk with `identity`, registering it the
    /// first time.
    pub fn disk(&mut self, identity: &DiskIdentity) -> u32 {
        if let Some(i) = self.disks.iter().position(|d| d.identity == *identity) {
            return i as u32;
        }
        self.disks.push(CachedDisk {
            identity: identity.clone(),
            pages: BTreeMap::new(),
        });
        (self.disks.len() - 1) as u32
    }

    /// The machine page holding sectors `sector..sector + 8` of disk
    /// `disk`, if cached.
    pub fn lookup(&self, disk: u32, sector: u64) -> Option<u64> {
        self.disks.get(disk as usize)?.pages.get(&sector).copied()
    }

    /// Records that machine page `page` holds sectors `sector..sector + 8`
    /// of disk `disk`.
    pub fn insert(&mut self, disk: u32, sector: u64, page: u64) {
        self.disks[disk as usize].pages.insert(sector, page);
    }

    /// Forgets the cached page at `sector` of disk `disk`.
    pub fn remove(&mut self, disk: u32, sector: u64) {
        if let Some(d) = self.disks.get_mut(disk as usize) {
            d.pages.remove(&sector);
        }
    }

    /// Cached pages in all.
    pub fn pages(&self) -> usize {
        self.disks.iter().map(|d| d.pages.len()).sum()
    }

    /// Bytes the index takes in the monitor's memory (B-tree entries of
    /// sector and page, overhead estimated at a third).
    pub fn structure_bytes(&self) -> u64 {
        (self.pages() * 16 * 4 / 3 + self.disks.len() * std::mem::size_of::<CachedDisk>()) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn identity(n: u64) -> DiskIdentity {
        DiskIdentity {
            device: 1,
            inode: n,
            size: 1 << 20,
        }
    }

    #[test]
    fn disks_are_registered_once() {
        let mut c = DiskCache::default();
        assert_eq!(c.disk(&identity(5)), 0);
        assert_eq!(c.disk(&identity(6)), 1);
        assert_eq!(c.disk(&identity(5)), 0);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Inserts, removals and lookups agree with a plain list of entries.
        #[test]
        fn the_btree_agrees_with_a_simple_model(
            ops in prop::collection::vec((any::<bool>(), 0u64..64), 1..120)
        ) {
            let mut c = DiskCache::default();
            let d = c.disk(&identity(1));
            let mut model: Vec<(u64, u64)> = Vec::new();
            for (insert, sector) in ops {
                model.retain(|(s, _)| *s != sector);
                if insert {
                    c.insert(d, sector, sector + 1000);
                    model.push((sector, sector + 1000));
                } else {
                    c.remove(d, sector);
                }
                for s in 0..64 {
                    let want = model.iter().find(|(m, _)| *m == s).map(|(_, p)| *p);
                    prop_assert_eq!(c.lookup(d, s), want);
                }
                prop_assert_eq!(c.pages(), model.len());
            }
        }
    }
}
