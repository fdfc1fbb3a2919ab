//! FLASH-style per-page, per-node cache-miss counters and hot-page
//! notification.
//!
//! FLASH "counts cache misses to each page from every physical processor"
//! (TOCS'97 §4.2.3); here a counter exists per 4 KiB machine page and per
//! node (the FLASH nodes have one processor each; with several CPUs per node
//! their misses add up). Every memory transaction an L2 makes — a read miss,
//! a write miss, or an ownership upgrade of a shared line — counts once, for
//! the page of the address and the node of the requesting CPU.
//!
//! Besides the per-node counts, each page has one count of the transactions
//! that asked for ownership (store misses and upgrades, from any node): the
//! NUMA policy needs to know whether a page is written before it replicates
//! it (Verghese et al.'s write threshold).
//!
//! Storage is sparse: pages are grouped in chunks of [`CHUNK_PAGES`] pages
//! (1 MiB of memory), and a chunk's counters (`CHUNK_PAGES * (nodes + 1)`
//! u32s) are allocated the first time one of its pages misses. The chunk index costs
//! 4 bytes per MiB of the highest address touched (256 KiB for 64 GiB).

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// Log2 of the pages per counter chunk.
const CHUNK_SHIFT: u32 = 8;
/// Pages per counter chunk (256 pages, 1 MiB of memory).
pub const CHUNK_PAGES: usize = 1 << CHUNK_SHIFT;

/// A page whose miss count from one node reached the hot threshold.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HotPage {
    /// Machine page number (physical address >> 12).
    pub page: u64,
    /// The node whose CPUs made the misses.
    pub node: u32,
    /// That node's count for the page when the notification was taken.
    pub count: u32,
}

/// Per-page, per-node miss counters.
///
/// Memory: 4 bytes per node for every page of each 1 MiB chunk touched
/// (64 bytes per 4 KiB page with 16 nodes, 1.6 % of the memory touched).
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MissCounters {
    nodes: u32,
    /// Chunk number -> 1 + its slot in `pool`; 0 when not allocated.
    index: Vec<u32>,
    /// Allocated chunks, `CHUNK_PAGES * (nodes + 1)` counters each,
    /// page-major: a page's per-node counts, then its write count.
    pool: Vec<u32>,
    /// Notification threshold; 0 disables notification.
    threshold: u32,
    /// (page, node) pairs that reached the threshold, in detection order.
    pending: Vec<(u64, u32)>,
}

impl fmt::Debug for MissCounters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MissCounters")
            .field("nodes", &self.nodes)
            .field("chunks", &(self.pool.len() / (CHUNK_PAGES * self.stride())))
            .field("threshold", &self.threshold)
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl MissCounters {
    /// Counters for a machine of `nodes` nodes, all zero, notification off.
    pub fn new(nodes: u32) -> Self {
        MissCounters {
            nodes: nodes.max(1),
            index: Vec::new(),
            pool: Vec::new(),
            threshold: 0,
            pending: Vec::new(),
        }
    }

    /// Number of nodes (counters per page).
    pub fn nodes(&self) -> u32 {
        self.nodes
    }

    /// Counters stored per page: one per node and the write count.
    #[inline]
    fn stride(&self) -> usize {
        self.nodes as usize + 1
    }

    /// Checks counters restored from a checkpoint: `nodes` counters per
    /// page, whole chunks, and an index that points only at them.
    pub(crate) fn check_restored(&self, nodes: u32) -> Result<(), String> {
        let chunk = CHUNK_PAGES * (nodes.max(1) as usize + 1);
        if self.nodes != nodes || !self.pool.len().is_multiple_of(chunk) {
            return Err("miss counters do not match the node count".into());
        }
        let chunks = self.pool.len() / chunk;
        if self.index.iter().any(|&slot| slot as usize > chunks) {
            return Err("miss-counter index points outside its counters".into());
        }
        if self.pending.iter().any(|&(_, n)| n >= nodes) {
            return Err("hot-page notification for a node that does not exist".into());
        }
        Ok(())
    }

    /// Offset in `pool` of `page`'s counters, if its chunk is allocated.
    #[inline]
    fn offset(&self, page: u64) -> Option<usize> {
        let chunk = usize::try_from(page >> CHUNK_SHIFT).ok()?;
        let slot = *self.index.get(chunk)?;
        if slot == 0 {
            return None;
        }
        let in_chunk = (page as usize) & (CHUNK_PAGES - 1);
        Some(((slot as usize - 1) * CHUNK_PAGES + in_chunk) * self.stride())
    }

    /// The counters of `page` (one per node), or `None` if no miss to its
    /// 1 MiB chunk was ever counted (all zero).
    pub fn page_counts(&self, page: u64) -> Option<&[u32]> {
        let off = self.offset(page)?;
        Some(&self.pool[off..off + self.nodes as usize])
    }

    /// Transactions to `page` that asked for ownership (store misses and
    /// upgrades), from any node.
    pub fn writes(&self, page: u64) -> u32 {
        self.offset(page)
            .map_or(0, |off| self.pool[off + self.nodes as usize])
    }

    /// Misses to `page` from CPUs of `node`.
    pub fn get(&self, page: u64, node: u32) -> u32 {
        match self.page_counts(page) {
            Some(c) => c.get(node as usize).copied().unwrap_or(0),
            None => 0,
        }
    }

    /// Misses to `page` from all nodes.
    pub fn total(&self, page: u64) -> u64 {
        self.page_counts(page)
            .map_or(0, |c| c.iter().map(|&n| u64::from(n)).sum())
    }

    /// Every page with a non-zero count, in ascending page order, with its
    /// per-node counters.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[u32])> + '_ {
        let nodes = self.nodes as usize;
        let stride = self.stride();
        self.index
            .iter()
            .enumerate()
            .filter(|&(_, &slot)| slot != 0)
            .flat_map(move |(chunk, &slot)| {
                let base = (slot as usize - 1) * CHUNK_PAGES * stride;
                (0..CHUNK_PAGES).map(move |p| {
                    let page = ((chunk as u64) << CHUNK_SHIFT) | p as u64;
                    let off = base + p * stride;
                    (page, &self.pool[off..off + nodes])
                })
            })
            .filter(|(_, c)| c.iter().any(|&n| n != 0))
    }

    /// Counts one miss to `page` from `node` (`write`: one that asked for
    /// ownership); returns the node's new count.
    #[inline]
    pub(crate) fn record(&mut self, page: u64, node: u32, write: bool) -> u32 {
        let off = match self.offset(page) {
            Some(off) => off,
            None => self.allocate(page),
        };
        if write {
            let w = &mut self.pool[off + self.nodes as usize];
            *w = w.saturating_add(1);
        }
        let c = &mut self.pool[off + node as usize];
        if *c == u32::MAX {
            return *c; // saturated: no further crossing to report
        }
        *c += 1;
        let count = *c;
        if count == self.threshold {
            self.pending.push((page, node));
        }
        count
    }

    /// Allocates the chunk of `page`; returns the page's offset.
    #[cold]
    fn allocate(&mut self, page: u64) -> usize {
        let chunk = usize::try_from(page >> CHUNK_SHIFT).expect("page number fits the host");
        if self.index.len() <= chunk {
            self.index.resize(chunk + 1, 0);
        }
        let slot = self.pool.len() / (CHUNK_PAGES * self.stride());
        self.pool
            .resize(self.pool.len() + CHUNK_PAGES * self.stride(), 0);
        self.index[chunk] = u32::try_from(slot + 1).expect("fewer than 2^32 chunks");
        self.offset(page).expect("chunk just allocated")
    }

    /// Zeroes the counters of `page` (its write count too) and drops its
    /// pending notifications.
    pub fn reset_page(&mut self, page: u64) {
        if let Some(off) = self.offset(page) {
            let n = self.stride();
            self.pool[off..off + n].fill(0);
        }
        self.pending.retain(|&(p, _)| p != page);
    }

    /// Zeroes every counter and drops all pending notifications (the memory
    /// already allocated for touched chunks is kept).
    pub fn reset_all(&mut self) {
        self.pool.fill(0);
        self.pending.clear();
    }

    /// The hot-page threshold (0: notification off).
    pub fn hot_threshold(&self) -> u32 {
        self.threshold
    }

    /// Sets the hot-page threshold (0 turns notification off). A (page,
    /// node) counter is reported once when it reaches the threshold; it is
    /// reported again only after a reset of the page, or on reaching a new,
    /// higher threshold. Lowering the threshold reports at once the counters
    /// now at or above it that had not reached the old one.
    pub fn set_hot_threshold(&mut self, misses: u32) {
        let old = self.threshold;
        self.threshold = misses;
        if misses == 0 || (old != 0 && misses >= old) {
            return;
        }
        let newly: Vec<(u64, u32)> = self
            .iter()
            .flat_map(|(page, counts)| {
                counts
                    .iter()
                    .enumerate()
                    .filter(|&(_, &c)| c >= misses && (old == 0 || c < old))
                    .map(move |(node, _)| (page, node as u32))
            })
            .collect();
        self.pending.extend(newly);
    }

    /// Takes the pending notifications: each (page, node) that reached the
    /// threshold since the last take, in the order they were detected, with
    /// the node's current count.
    pub fn take_hot_pages(&mut self) -> Vec<HotPage> {
        let mut seen = BTreeSet::new();
        let pending = std::mem::take(&mut self.pending);
        pending
            .into_iter()
            .filter(|&key| seen.insert(key))
            .map(|(page, node)| HotPage {
                page,
                node,
                count: self.get(page, node),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_sparse_pages_exactly() {
        let mut m = MissCounters::new(4);
        assert_eq!(m.get(5, 1), 0);
        assert!(m.page_counts(5).is_none());
        for _ in 0..10 {
            m.record(5, 1, false);
        }
        m.record(5, 3, false);
        // A page at 60 GiB allocates one more chunk, not the whole range.
        let far = (60u64 << 30) >> 12;
        m.record(far, 0, false);
        assert_eq!(m.page_counts(5), Some(&[0, 10, 0, 1][..]));
        assert_eq!(m.total(5), 11);
        assert_eq!(m.get(far, 0), 1);
        assert_eq!(m.get(6, 1), 0);
        assert_eq!(m.pool.len(), 2 * CHUNK_PAGES * 5);
        assert_eq!(m.writes(5), 0);
        m.record(5, 2, true);
        m.record(5, 2, true);
        assert_eq!(m.writes(5), 2);
        assert_eq!(m.page_counts(5), Some(&[0, 10, 2, 1][..]));
        let pages: Vec<u64> = m.iter().map(|(p, _)| p).collect();
        assert_eq!(pages, vec![5, far]);
        m.reset_page(5);
        assert_eq!(m.total(5), 0);
        assert_eq!(m.get(far, 0), 1);
        m.reset_all();
        assert_eq!(m.iter().count(), 0);
    }

    #[test]
    fn hot_pages_fire_once_at_the_threshold() {
        let mut m = MissCounters::new(2);
        m.set_hot_threshold(3);
        m.record(7, 0, false);
        m.record(7, 0, false);
        assert!(m.take_hot_pages().is_empty());
        m.record(7, 0, false);
        m.record(7, 0, false);
        m.record(9, 1, false);
        assert_eq!(
            m.take_hot_pages(),
            vec![HotPage {
                page: 7,
                node: 0,
                count: 4
            }]
        );
        m.record(7, 0, false);
        assert!(m.take_hot_pages().is_empty());
        m.reset_page(7);
        for _ in 0..3 {
            m.record(7, 0, false);
        }
        assert_eq!(m.take_hot_pages().len(), 1);
    }

    #[test]
    fn lowering_the_threshold_reports_pages_already_above_it() {
        let mut m = MissCounters::new(2);
        m.set_hot_threshold(10);
        for _ in 0..5 {
            m.record(1, 1, false);
        }
        for _ in 0..12 {
            m.record(2, 0, false);
        }
        assert_eq!(m.take_hot_pages().len(), 1); // page 2 reached 10
        m.set_hot_threshold(4);
        assert_eq!(
            m.take_hot_pages(),
            vec![HotPage {
                page: 1,
                node: 1,
                count: 5
            }]
        );
        m.set_hot_threshold(0);
        for _ in 0..20 {
            m.record(3, 0, false);
        }
        assert!(m.take_hot_pages().is_empty());
    }
}
