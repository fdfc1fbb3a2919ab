//! A VM's guest-physical memory as the monitor reaches it: to load a kernel
//! and for its virtual devices' DMA.
//!
//! Every guest-physical address goes through the VM's pmap (§4.2.4: Disco
//! "must intercept such DMA requests to translate the physical addresses");
//! an address outside the VM's memory is refused ([`DmaError`]), which the
//! device reports to that guest. A write to a chunk the guest has not
//! touched yet backs it first (on the VM's node); a read of one returns
//! zeros without allocating. A write to a shared page gives the VM a
//! private copy first (a fresh page when the write covers it whole): DMA
//! never writes a shared page in place.
//!
//! For copy-on-write disks a whole, page-aligned page read is served from
//! the global disk cache ([`crate::memory::diskcache`]): the cached machine
//! page is mapped read-only at the destination, filled from the disk first
//! if the cache does not have it.
//!
//! Every guest page whose machine page changed is listed in
//! [`GuestMemory::remapped`]; the caller shoots down its translations.

use machine::boot::LoadTarget;
use machine::virtio::{DiskPage, DmaError, DmaMemory, LoadPage, MappedPage};
use mips::{MemError, PhysMem};

use crate::memory::alloc::CHUNK_SHIFT;
use crate::memory::memmap::SharedKind;
use crate::memory::pmap::Pmap;
use crate::memory::MachineMemory;

/// VM `vm`'s memory: its pmap over machine memory.
pub(crate) struct GuestMemory<'a> {
    /// The VM's index.
    pub vm: usize,
    /// Its pmap.
    pub pmap: &'a mut Pmap,
    /// The monitor's machine memory (to back chunks).
    pub memory: &'a mut MachineMemory,
    /// Machine RAM.
    pub mem: &'a mut PhysMem,
    /// Node to take new chunks from.
    pub node: u32,
    /// Set when backing a chunk failed: machine memory is exhausted.
    pub out_of_memory: bool,
    /// Guest pages remapped (their translations must be shot down).
    pub remapped: Vec<u64>,
}

impl<'a> GuestMemory<'a> {
    /// VM `vm`'s memory on node `node`.
    pub fn new(
        vm: usize,
        pmap: &'a mut Pmap,
        memory: &'a mut MachineMemory,
        mem: &'a mut PhysMem,
        node: u32,
    ) -> Self {
        GuestMemory {
            vm,
            pmap,
            memory,
            mem,
            node,
            out_of_memory: false,
            remapped: Vec::new(),
        }
    }

    /// Backs the chunk of `gpa` if it is not; false when memory ran out.
    fn back(&mut self, gpa: u64) -> bool {
        let chunk = gpa >> CHUNK_SHIFT;
        let backed = self
            .memory
            .back(self.mem, self.pmap, self.vm, chunk, self.node);
        self.out_of_memory |= backed.is_err();
        backed.is_ok()
    }

    /// Calls `f(machine address, range of the caller's buffer)` for each
    /// page-sized piece of `len` bytes at `gpa`, backing chunks first when
    /// `write` (else pieces in unbacked chunks get `None`) and making
    /// shared pages private before they are written.
    fn pieces(
        &mut self,
        gpa: u64,
        len: usize,
        write: bool,
        mut f: impl FnMut(&mut PhysMem, Option<u64>, std::ops::Range<usize>) -> Result<(), MemError>,
    ) -> Result<(), DmaError> {
        let refuse = DmaError {
            addr: gpa,
            len: len as u64,
        };
        self.check(gpa, len as u64)?;
        let mut done = 0usize;
        while done < len {
            let at = gpa + done as u64;
            let n = (4096 - (at & 4095) as usize).min(len - done);
            let page = at >> 12;
            if write {
                if !self.back(at) {
                    return Err(refuse);
                }
                let whole = n == 4096;
                match self.memory.make_private(
                    self.mem,
                    self.pmap,
                    self.vm,
                    page,
                    self.node,
                    !whole,
                    "device DMA",
                ) {
                    Ok(Some(_)) => self.remapped.push(page),
                    Ok(None) => {}
                    Err(_) => {
                        self.out_of_memory = true;
                        return Err(refuse);
                    }
                }
            }
            let entry = self.pmap.entry(page);
            let machine = entry.map(|e| (e.machine_page << 12) + (at & 4095));
            f(self.mem, machine, done..done + n).map_err(|_| refuse)?;
            done += n;
        }
        Ok(())
    }
}

impl DmaMemory for GuestMemory<'_> {
    fn check(&self, addr: u64, len: u64) -> Result<(), DmaError> {
        match addr.checked_add(len) {
            Some(end) if end <= self.pmap.mem_bytes() => Ok(()),
            _ => Err(DmaError { addr, len }),
        }
    }

    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), DmaError> {
        self.pieces(
            addr,
            buf.len(),
            false,
            |mem, machine, range| match machine {
                Some(pa) => mem.read_bytes(pa, &mut buf[range]),
                None => {
                    buf[range].fill(0);
                    Ok(())
                }
            },
        )
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), DmaError> {
        self.pieces(addr, data.len(), true, |mem, machine, range| {
            let pa = machine.expect("backed before writing");
            mem.write_bytes(pa, &data[range])
        })
    }

    fn maps_disk_pages(&self) -> bool {
        self.memory.sharing_on
    }

    fn map_disk_page(
        &mut self,
        addr: u64,
        page: &DiskPage<'_>,
        load: &mut LoadPage<'_>,
    ) -> Result<MappedPage, DmaError> {
        self.check(addr, 4096)?;
        if !self.back(addr) {
            // Out of memory: the copy will fail and say so.
            return Ok(MappedPage::Declined);
        }
        let disk = self.memory.disk_cache.disk(page.disk);
        let (machine, outcome) = match self.memory.disk_cache.lookup(disk, page.sector) {
            Some(m) => (m, MappedPage::Hit),
            None => {
                let Ok(m) = self.memory.alloc_page(self.mem, self.node) else {
                    return Ok(MappedPage::Declined);
                };
                let mut buf = [0u8; 4096];
                if load(&mut buf).is_err() {
                    self.memory.free_unused_page(m);
                    return Ok(MappedPage::ReadFailed);
                }
                self.mem
                    .write_bytes(m << 12, &buf)
                    .expect("allocated pages lie in RAM");
                let kind = SharedKind::DiskCache {
                    disk,
                    sector: page.sector,
                };
                self.memory.memmap.make_shared(m, kind);
                self.memory.disk_cache.insert(disk, page.sector, m);
                (m, MappedPage::Filled)
            }
        };
        let guest_page = addr >> 12;
        let before = self.pmap.entry(guest_page).map(|e| e.machine_page);
        self.memory
            .map_shared(self.pmap, self.vm, guest_page, machine);
        if before != Some(machine) {
            self.remapped.push(guest_page);
        }
        let stats = self.memory.sharing_mut(self.vm);
        if outcome == MappedPage::Hit {
            stats.cache_hits += 1;
        } else {
            stats.cache_fills += 1;
        }
        tracing::debug!(target: "monitor::cow", vm = self.vm, guest_page = format_args!("{guest_page:#x}"), "disk read of sector {} {} machine page {machine:#x}", page.sector, if outcome == MappedPage::Hit { "mapped from cached" } else { "read into cache and mapped as" });
        Ok(outcome)
    }
}

impl LoadTarget for GuestMemory<'_> {
    fn size(&self) -> u64 {
        self.pmap.mem_bytes()
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MemError> {
        DmaMemory::write(self, addr, data).map_err(|e| MemError::OutOfRange {
            addr: e.addr,
            len: e.len,
            size: self.pmap.mem_bytes(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::alloc::CHUNK_BYTES;

    #[test]
    fn dma_goes_through_the_pmap_and_stays_inside_the_guest() {
        let machine_bytes = 8 * CHUNK_BYTES;
        let mut mem = PhysMem::new(machine_bytes).unwrap();
        let mut memory = MachineMemory::new(machine_bytes, 1, |_| 0);
        let guest_bytes = 2 * CHUNK_BYTES;
        let mut pmap = Pmap::new(guest_bytes);
        let mut g = GuestMemory::new(0, &mut pmap, &mut memory, &mut mem, 0);
        // Reading untouched memory allocates nothing and reads zeros.
        let mut buf = [1u8; 8];
        g.read(CHUNK_BYTES - 4, &mut buf).unwrap();
        assert_eq!(buf, [0; 8]);
        assert_eq!(g.pmap.backed_chunks().count(), 0);
        // A write across a chunk boundary backs both chunks.
        DmaMemory::write(&mut g, CHUNK_BYTES - 4, b"abcdefgh").unwrap();
        g.read(CHUNK_BYTES - 4, &mut buf).unwrap();
        assert_eq!(&buf, b"abcdefgh");
        let chunks: Vec<_> = g.pmap.backed_chunks().collect();
        assert_eq!(chunks, vec![0, 1]);
        // The data is in the machine pages the pmap names.
        let m1 = g.pmap.contiguous_chunk(1).unwrap();
        let mut first = [0u8; 4];
        g.mem
            .read_bytes(u64::from(m1) * CHUNK_BYTES, &mut first)
            .unwrap();
        assert_eq!(&first, b"efgh");
        // Outside the guest's memory: refused, nothing written.
        assert_eq!(
            DmaMemory::write(&mut g, guest_bytes - 2, b"xyz"),
            Err(DmaError {
                addr: guest_bytes - 2,
                len: 3
            })
        );
        assert!(g.read(u64::MAX - 1, &mut buf).is_err());
        assert!(g.check(guest_bytes, 1).is_err());
        assert!(g.check(0, guest_bytes).is_ok());
    }
}
