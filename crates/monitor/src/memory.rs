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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Checks the pmap/memmap invariants: every backed guest page's machine
    /// page is recorded in the memmap as that page's, no machine page backs
    /// two guest pages, and free plus used chunks account for all memory.
    fn check(mm: &MachineMemory, pmaps: &[Pmap]) {
        let mut used = 0usize;
        for (vm, pmap) in pmaps.iter().enumerate() {
            for (chunk, machine) in pmap.backed_chunks() {
                used += 1;
                for i in 0..CHUNK_PAGES {
                    let page = chunk * CHUNK_PAGES + i;
                    let e = pmap.entry(page).expect("backed chunk pages are mapped");
                    assert_eq!(e.machine_page, u64::from(machine) * CHUNK_PAGES + i);
                    assert_eq!(
                        mm.memmap.user(e.machine_page),
                        Some(PageUser {
                            vm,
                            guest_page: page
                        })
                    );
                }
            }
        }
        assert_eq!(mm.memmap.used_pages() as u64, used as u64 * CHUNK_PAGES);
        assert_eq!(mm.alloc.free_chunks() + used, mm.alloc.total_chunks());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn pmap_and_memmap_stay_consistent(
            ops in prop::collection::vec((0usize..3, 0u64..8, 0u32..2, any::<bool>()), 1..80)
        ) {
            // 3 VMs of 128 MiB on a 2-node, 256 MiB machine: memory runs out.
            let mut mem = PhysMem::new(256 << 20).unwrap();
            let mut mm = MachineMemory::new(256 << 20, 2, |pa| (pa >> 27) as u32);
            let mut pmaps = vec![Pmap::new(128 << 20); 3];
            for (vm, chunk, node, release) in ops {
                if release {
                    mm.release(&mut mem, &mut pmaps[vm]);
                } else {
                    let got = mm.back(&mut mem, &mut pmaps[vm], vm, chunk, node);
                    prop_assert_eq!(got.is_some(), pmaps[vm].chunk(chunk).is_some());
                }
                check(&mm, &pmaps);
            }
        }
    }

    #[test]
    fn reused_memory_is_zeroed_fresh_memory_is_not_rewritten() {
        let mut mem = PhysMem::new(64 << 20).unwrap();
        let mut mm = MachineMemory::new(64 << 20, 1, |_| 0);
        let mut a = Pmap::new(32 << 20);
        let m = mm.back(&mut mem, &mut a, 0, 0, 0).unwrap();
        assert_eq!(mm.zeroed_chunks, 0);
        let pa = u64::from(m) * CHUNK_BYTES + 100;
        mem.write_bytes(pa, b"secret").unwrap();
        mm.release(&mut mem, &mut a);
        let mut b = Pmap::new(32 << 20);
        // The lowest free chunk comes back first: the one just released.
        assert_eq!(mm.back(&mut mem, &mut b, 1, 0, 0), Some(m));
        assert_eq!(mm.zeroed_chunks, 1);
        let mut buf = [0u8; 6];
        mem.read_bytes(pa, &mut buf).unwrap();
        assert_eq!(buf, [0; 6], "one VM never sees another's data");
    }
}
