//! The monitor's machine memory: chunk allocation, the memmap, zeroing.

use mips::PhysMem;

use crate::alloc::{ChunkAllocator, CHUNK_BYTES, CHUNK_PAGES};
use crate::memmap::{MemMap, PageUser};
use crate::pmap::Pmap;

/// Machine memory as the monitor hands it to VMs.
#[derive(Debug)]
pub struct MachineMemory {
    /// Free chunks per node.
    pub alloc: ChunkAllocator,
    /// Users of every machine page.
    pub memmap: MemMap,
    /// Chunks that held a VM's data since power-on (zeroed before reuse).
    dirty: Vec<bool>,
    /// Chunks zeroed for reuse.
    pub zeroed_chunks: u64,
}

impl MachineMemory {
    /// The machine memory of a machine with `mem_bytes` of RAM on `nodes`
    /// nodes, `node_of_pa` giving the home node of an address.
    pub fn new(mem_bytes: u64, nodes: u32, node_of_pa: impl Fn(u64) -> u32) -> Self {
        let chunks = (mem_bytes / CHUNK_BYTES) as usize;
        MachineMemory {
            alloc: ChunkAllocator::new(mem_bytes, nodes, node_of_pa),
            memmap: MemMap::new(mem_bytes >> 12),
            dirty: vec![false; chunks],
            zeroed_chunks: 0,
        }
    }

    /// Backs guest chunk `chunk` of VM `vm` (pmap `pmap`) with a machine
    /// chunk from node `node` or the nearest one with free memory; the
    /// chunk's pages read zero. Returns the machine chunk, or `None` when
    /// machine memory is exhausted.
    pub fn back(
        &mut self,
        mem: &mut PhysMem,
        pmap: &mut Pmap,
        vm: usize,
        chunk: u64,
        node: u32,
    ) -> Option<u32> {
        if let Some(m) = pmap.chunk(chunk) {
            return Some(m);
        }
        let m = self.alloc.alloc(node)?;
        if std::mem::replace(&mut self.dirty[m as usize], true) {
            // Fresh machine memory is zero; reused memory is zeroed here,
            // as Disco zeroes pages before giving them to a VM.
            let zeros = vec![0u8; CHUNK_BYTES as usize];
            mem.write_bytes(u64::from(m) * CHUNK_BYTES, &zeros)
                .expect("allocated chunks lie in RAM");
            self.zeroed_chunks += 1;
        }
        pmap.back_chunk(chunk, m);
        let first = u64::from(m) * CHUNK_PAGES;
        for i in 0..CHUNK_PAGES {
            self.memmap.set(
                first + i,
                PageUser {
                    vm,
                    guest_page: chunk * CHUNK_PAGES + i,
                },
            );
        }
        Some(m)
    }

    /// Takes all of a VM's memory back.
    pub fn release(&mut self, _mem: &mut PhysMem, pmap: &mut Pmap) {
        for m in pmap.release() {
            let first = u64::from(m) * CHUNK_PAGES;
            for i in 0..CHUNK_PAGES {
                self.memmap.clear(first + i);
            }
            self.alloc.free(m);
        }
    }
}
