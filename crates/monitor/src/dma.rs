//! A VM's guest-physical memory as the monitor reaches it: to load a kernel
//! and for its virtual devices' DMA.
//!
//! Every guest-physical address goes through the VM's pmap (§4.2.4: Disco
//! "must intercept such DMA requests to translate the physical addresses");
//! an address outside the VM's memory is refused ([`DmaError`]), which the
//! device reports to that guest. A write to a chunk the guest has not
//! touched yet backs it first (on the VM's node); a read of one returns
//! zeros without allocating.

use machine::boot::LoadTarget;
use machine::virtio::{DmaError, DmaMemory};
use mips::{MemError, PhysMem};

use crate::alloc::CHUNK_SHIFT;
use crate::memory::MachineMemory;
use crate::pmap::Pmap;

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
}

impl GuestMemory<'_> {
    /// Calls `f(machine address, range of the caller's buffer)` for each
    /// page-sized piece of `len` bytes at `gpa`, backing chunks first when
    /// `back` (else pieces in unbacked chunks get `None`).
    fn pieces(
        &mut self,
        gpa: u64,
        len: usize,
        back: bool,
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
            let mut entry = self.pmap.entry(page);
            if entry.is_none() && back {
                let chunk = at >> CHUNK_SHIFT;
                if self
                    .memory
                    .back(self.mem, self.pmap, self.vm, chunk, self.node)
                    .is_none()
                {
                    self.out_of_memory = true;
                    return Err(refuse);
                }
                entry = self.pmap.entry(page);
            }
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
    use crate::alloc::CHUNK_BYTES;

    #[test]
    fn dma_goes_through_the_pmap_and_stays_inside_the_guest() {
        let machine_bytes = 8 * CHUNK_BYTES;
        let mut mem = PhysMem::new(machine_bytes).unwrap();
        let mut memory = MachineMemory::new(machine_bytes, 1, |_| 0);
        let guest_bytes = 2 * CHUNK_BYTES;
        let mut pmap = Pmap::new(guest_bytes);
        let mut g = GuestMemory {
            vm: 0,
            pmap: &mut pmap,
            memory: &mut memory,
            mem: &mut mem,
            node: 0,
            out_of_memory: false,
        };
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
        assert_eq!(chunks.len(), 2);
        // The data is in the machine pages the pmap names.
        let (c1, m1) = chunks.iter().copied().find(|(c, _)| *c == 1).unwrap();
        assert_eq!(c1, 1);
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
