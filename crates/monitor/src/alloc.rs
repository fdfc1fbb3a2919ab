//! Machine memory for virtual machines, handed out in chunks.
//!
//! Guest-physical memory is backed by 16 MiB *chunks* of machine memory,
//! each machine-contiguous and aligned, allocated when a VM first touches
//! any page of the chunk, from the node of the CPU that touched it. The
//! per-page structures (pmap, memmap) stay page-grained, as the paper's are;
//! contiguity lets the monitor map a VM's unmapped kernel segments with
//! large TLB pages (see [`crate::ktlb`]).
//!
//! Machine memory below [`MONITOR_RESERVED`] holds no guest memory: it is
//! where the monitor's own data structures are taken to live when their
//! memory references are simulated (detailed timing).

/// log2 of the chunk size.
pub const CHUNK_SHIFT: u32 = 24;
/// Chunk size: 16 MiB, the largest MIPS page that a TLB entry pair of
/// 16 MiB pages maps two of.
pub const CHUNK_BYTES: u64 = 1 << CHUNK_SHIFT;
/// Pages per chunk.
pub const CHUNK_PAGES: u64 = CHUNK_BYTES >> 12;
/// Machine memory reserved for the monitor at the bottom of RAM.
pub const MONITOR_RESERVED: u64 = CHUNK_BYTES;

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
        let nodes = self.free.len() as i64;
        let want = i64::from(node).min(nodes - 1);
        let mut order: Vec<i64> = (0..nodes).collect();
        order.sort_by_key(|&n| ((n - want).abs(), n));
        order.into_iter().find_map(|n| self.free[n as usize].pop())
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

    /// Free chunks in all nodes.
    pub fn free_chunks(&self) -> usize {
        self.free.iter().map(Vec::len).sum()
    }

    /// Chunks the allocator manages (free or not).
    pub fn total_chunks(&self) -> usize {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
