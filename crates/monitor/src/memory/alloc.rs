//! Machine memory for virtual machines: chunks, and single pages.
//!
//! Guest-physical memory is backed by 16 MiB *chunks* of machine memory,
//! each machine-contiguous and aligned, allocated when a VM first touches
//! any page of the chunk, from the node of the CPU that touched it.
//! Contiguity lets the monitor map a VM's unmapped kernel segments with
//! large TLB pages (see [`crate::memory::ktlb`]). Sharing needs single
//! pages too (a copy-on-write copy, a disk-cache page): [`PagePool`] hands
//! them out of chunks it breaks up, and takes back any page, returning a
//! chunk to the [`ChunkAllocator`] once all its pages are free again.
//!
//! Machine memory below [`MONITOR_RESERVED`] holds no guest memory: it is
//! where the monitor's own data structures are taken to live when their
//! memory references are simulated (detailed timing).

use std::collections::{BTreeMap, BTreeSet};

/// log2 of the chunk size.
pub const CHUNK_SHIFT: u32 = 24;
/// Chunk size: 16 MiB, the largest MIPS page that a TLB entry pair of
/// 16 MiB pages maps two of.
pub const CHUNK_BYTES: u64 = 1 << CHUNK_SHIFT;
/// Pages per chunk.
pub const CHUNK_PAGES: u64 = CHUNK_BYTES >> 12;
/// Machine memory reserved for the monitor at the bottom of RAM.
pub const MONITOR_RESERVED: u64 = CHUNK_BYTES;

/// The `nodes` node numbers, `node` first, then by distance from it (ties
/// to the lower node).
fn nearest_first(nodes: usize, node: u32) -> impl Iterator<Item = usize> {
    let want = (node as usize).min(nodes.max(1) - 1);
    let mut order: Vec<usize> = (0..nodes).collect();
    order.sort_by_key(|&n| (n.abs_diff(want), n));
    order.into_iter()
}

/// Free machine chunks, per node.
#[derive(Debug, Clone)]
pub struct ChunkAllocator {
    /// Free chunk numbers of each node, highest first (allocation pops the
    /// lowest).
    free: Vec<Vec<u32>>,
    node_of: Vec<u32>,
    total: usize,
}

impl ChunkAllocator {
    /// Chunks of a machine with `mem_bytes` of RAM, chunk `c` belonging to
    /// node `node_of_pa(c * CHUNK_BYTES)` of `nodes`; the monitor's reserved
    /// memory is not handed out.
    pub fn new(mem_bytes: u64, nodes: u32, node_of_pa: impl Fn(u64) -> u32) -> Self {
        let first = (MONITOR_RESERVED >> CHUNK_SHIFT) as u32;
        let count = (mem_bytes >> CHUNK_SHIFT) as u32;
        let node_of: Vec<u32> = (0..count)
            .map(|c| node_of_pa(u64::from(c) << CHUNK_SHIFT).min(nodes.max(1) - 1))
            .collect();
        let mut free = vec![Vec::new(); nodes.max(1) as usize];
        for c in (first..count).rev() {
            free[node_of[c as usize] as usize].push(c);
        }
        ChunkAllocator {
            free,
            node_of,
            total: count.saturating_sub(first) as usize,
        }
    }

    /// A free chunk, from node `node` if it has one, else from the nearest
    /// node that does (by node number distance; ties to the lower node).
    pub fn alloc(&mut self, node: u32) -> Option<u32> {
        nearest_first(self.free.len(), node).find_map(|n| self.free[n].pop())
    }

    /// A free chunk of node `node` itself, if it has one.
    pub fn alloc_on(&mut self, node: u32) -> Option<u32> {
        self.free.get_mut(node as usize)?.pop()
    }

    /// Returns chunk `chunk` to its node's free list.
    pub fn free(&mut self, chunk: u32) {
        let node = self.node_of[chunk as usize] as usize;
        let list = &mut self.free[node];
        let at = list.partition_point(|&c| c > chunk);
        list.insert(at, chunk);
    }

    /// The node whose memory holds `chunk`.
    pub fn node_of(&self, chunk: u32) -> u32 {
        self.node_of[chunk as usize]
    }

    /// Chunks of node `node` (free or not; the reserved one included).
    pub fn chunks_on(&self, node: u32) -> usize {
        self.node_of.iter().filter(|&&n| n == node).count()
    }

    /// Free chunks in all nodes.
    pub fn free_chunks(&self) -> usize {
        self.free.iter().map(Vec::len).sum()
    }

    /// Chunks the allocator manages (free or not).
    pub fn total_chunks(&self) -> usize {
        self.total
    }
}

/// Free single pages, per node, carved out of chunks.
#[derive(Debug, Clone)]
pub struct PagePool {
    /// Free pages of each node (ordered: allocation takes the lowest).
    free: Vec<BTreeSet<u64>>,
    /// Free pages per broken-up chunk.
    free_in_chunk: BTreeMap<u32, u64>,
}

impl PagePool {
    /// An empty pool for `nodes` nodes.
    pub fn new(nodes: u32) -> Self {
        PagePool {
            free: vec![BTreeSet::new(); nodes.max(1) as usize],
            free_in_chunk: BTreeMap::new(),
        }
    }

    /// A free page from node `node` or the nearest node with one, breaking
    /// up a chunk of `chunks` when no pool page is near enough; `None` when
    /// machine memory is exhausted.
    pub fn alloc(&mut self, chunks: &mut ChunkAllocator, node: u32) -> Option<u64> {
        nearest_first(self.free.len(), node).find_map(|n| self.alloc_on(chunks, n as u32))
    }

    /// A free page from node `node` itself (a pool page, else one of a
    /// chunk it breaks up); `None` when that node has no free memory.
    pub fn alloc_on(&mut self, chunks: &mut ChunkAllocator, node: u32) -> Option<u64> {
        let n = node as usize;
        let page = self.free.get_mut(n)?.pop_first().or_else(|| {
            let c = chunks.free[n].pop()?;
            let first = u64::from(c) * CHUNK_PAGES;
            self.free[n].extend(first + 1..first + CHUNK_PAGES);
            self.free_in_chunk.insert(c, CHUNK_PAGES);
            Some(first)
        })?;
        let c = (page / CHUNK_PAGES) as u32;
        *self
            .free_in_chunk
            .get_mut(&c)
            .expect("pool pages belong to broken chunks") -= 1;
        Some(page)
    }

    /// Puts every page of chunk `c` (just taken from the allocator) in the
    /// pool, free.
    pub fn adopt(&mut self, chunks: &ChunkAllocator, c: u32) {
        let first = u64::from(c) * CHUNK_PAGES;
        self.free[chunks.node_of(c) as usize].extend(first..first + CHUNK_PAGES);
        self.free_in_chunk.insert(c, CHUNK_PAGES);
    }

    /// True when chunk `c` is broken up into the pool (some of its pages
    /// may be in use).
    pub fn holds_chunk(&self, c: u32) -> bool {
        self.free_in_chunk.contains_key(&c)
    }

    /// Free pages on node `node`: in the pool and in its whole free chunks.
    pub fn free_on(&self, chunks: &ChunkAllocator, node: u32) -> u64 {
        let n = node as usize;
        self.free.get(n).map_or(0, |s| s.len() as u64)
            + chunks.free.get(n).map_or(0, |c| c.len() as u64) * CHUNK_PAGES
    }

    /// Takes `page` out of the pool if it is there (free in a broken-up
    /// chunk); true if it was.
    pub fn take(&mut self, chunks: &ChunkAllocator, page: u64) -> bool {
        let c = (page / CHUNK_PAGES) as u32;
        let node = chunks.node_of(c) as usize;
        if !self.free[node].remove(&page) {
            return false;
        }
        *self
            .free_in_chunk
            .get_mut(&c)
            .expect("pool pages belong to broken chunks") -= 1;
        true
    }

    /// Takes back `page`; when its whole chunk is free, the chunk goes back
    /// to `chunks`.
    pub fn free(&mut self, chunks: &mut ChunkAllocator, page: u64) {
        let c = (page / CHUNK_PAGES) as u32;
        let node = chunks.node_of(c) as usize;
        let n = self.free_in_chunk.entry(c).or_insert(0);
        *n += 1;
        if *n < CHUNK_PAGES {
            self.free[node].insert(page);
            return;
        }
        self.free_in_chunk.remove(&c);
        let first = u64::from(c) * CHUNK_PAGES;
        let pool = &mut self.free[node];
        let kept: Vec<u64> = pool.range(first..first + CHUNK_PAGES).copied().collect();
        for p in kept {
            pool.remove(&p);
        }
        chunks.free(c);
    }

    /// Free pages in the pool (not counting whole free chunks).
    pub fn free_pages(&self) -> u64 {
        self.free.iter().map(|s| s.len() as u64).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Pages and chunks handed out are never handed out twice, and all
        /// memory comes back when everything is freed.
        #[test]
        fn pages_and_chunks_are_accounted_exactly(
            ops in prop::collection::vec((0u8..3, 0u32..2, any::<prop::sample::Index>()), 1..300)
        ) {
            // 128 MiB in two nodes: 7 chunks after the reserved one.
            let mut chunks = ChunkAllocator::new(128 << 20, 2, |pa| (pa >> 26) as u32);
            let mut pool = PagePool::new(2);
            let mut pages: Vec<u64> = Vec::new();
            let mut whole: Vec<u32> = Vec::new();
            for (op, node, pick) in ops {
                match op {
                    0 => if let Some(p) = pool.alloc(&mut chunks, node) {
                        prop_assert!(!pages.contains(&p));
                        prop_assert!(!whole.contains(&((p / CHUNK_PAGES) as u32)));
                        pages.push(p);
                    },
                    1 => if let Some(c) = chunks.alloc(node) {
                        prop_assert!(!whole.contains(&c));
                        prop_assert!(pages.iter().all(|p| p / CHUNK_PAGES != u64::from(c)));
                        whole.push(c);
                    },
                    _ => if !pages.is_empty() {
                        let p = pages.swap_remove(pick.index(pages.len()));
                        pool.free(&mut chunks, p);
                    },
                }
            }
            for p in pages {
                pool.free(&mut chunks, p);
            }
            for c in whole {
                chunks.free(c);
            }
            prop_assert_eq!(pool.free_pages(), 0);
            prop_assert_eq!(chunks.free_chunks(), chunks.total_chunks());
        }
    }

    fn two_nodes() -> ChunkAllocator {
        // 256 MiB in two 128 MiB nodes.
        ChunkAllocator::new(256 << 20, 2, |pa| (pa >> 27) as u32)
    }

    #[test]
    fn the_reserved_chunk_is_never_handed_out() {
        let mut a = two_nodes();
        assert_eq!(a.total_chunks(), 15);
        let mut got = Vec::new();
        while let Some(c) = a.alloc(0) {
            got.push(c);
        }
        assert_eq!(got.len(), 15);
        assert!(!got.contains(&0));
    }

    #[test]
    fn allocation_prefers_the_asked_node_then_the_nearest() {
        let mut a = two_nodes();
        assert_eq!(a.alloc(1), Some(8));
        assert_eq!(a.node_of(8), 1);
        for _ in 0..7 {
            assert_eq!(a.alloc(0).map(|c| a.node_of(c)), Some(0));
        }
        // Node 0 is full: node 1 serves.
        assert_eq!(a.alloc(0).map(|c| a.node_of(c)), Some(1));
    }

    #[test]
    fn freed_chunks_come_back_lowest_first() {
        let mut a = two_nodes();
        let x = a.alloc(0).unwrap();
        let y = a.alloc(0).unwrap();
        a.free(y);
        a.free(x);
        assert_eq!(a.alloc(0), Some(x));
        assert_eq!(a.alloc(0), Some(y));
    }
}
