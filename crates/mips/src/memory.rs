//! Physical memory (RAM) as the CPUs see it, with tracking of pages that hold
//! decoded instructions so that stores keep the decoded-block cache coherent.
//!
//! RAM starts at physical address 0. Everything above [`PhysMem::size`] is
//! device space, reached through [`crate::Bus`].

use thiserror::Error;

/// log2 of the page size used for translation caches and code tracking.
pub const PAGE_SHIFT: u32 = 12;
/// Page size used for translation caches and code tracking.
pub const PAGE_SIZE: u64 = 1 << PAGE_SHIFT;

/// Errors creating or accessing RAM from outside the CPU.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum MemError {
    /// The requested size is zero or not a multiple of the page size.
    #[error("memory size {0:#x} must be a non-zero multiple of 4 KiB")]
    BadSize(u64),
    /// An access falls outside RAM.
    #[error("physical range {addr:#x}+{len:#x} is outside RAM ({size:#x} bytes)")]
    OutOfRange {
        /// Start of the access.
        addr: u64,
        /// Length of the access.
        len: u64,
        /// RAM size.
        size: u64,
    },
}

/// The machine's RAM.
#[derive(Debug)]
pub struct PhysMem {
    ram: Vec<u8>,
    /// One bit per page: the page holds instructions of a cached decoded block.
    code_pages: Vec<u64>,
    /// Code pages written since the block cache last synchronised.
    written_code_pages: Vec<u64>,
    /// Incremented whenever a page becomes a code page, so CPUs know to drop
    /// fast write permissions they may hold on it.
    code_epoch: u64,
}

impl PhysMem {
    /// Allocates `size` bytes of zeroed RAM.
    pub fn new(size: u64) -> Result<Self, MemError> {
        if size == 0 || !size.is_multiple_of(PAGE_SIZE) || usize::try_from(size).is_err() {
            return Err(MemError::BadSize(size));
        }
        let pages = size >> PAGE_SHIFT;
        Ok(PhysMem {
            ram: vec![0; size as usize],
            code_pages: vec![0; pages.div_ceil(64) as usize],
            written_code_pages: Vec::new(),
            code_epoch: 0,
        })
    }

    /// RAM size in bytes.
    #[inline]
    pub fn size(&self) -> u64 {
        self.ram.len() as u64
    }

    /// True when `[addr, addr+len)` lies in RAM.
    #[inline]
    pub fn contains(&self, addr: u64, len: u64) -> bool {
        addr.checked_add(len).is_some_and(|end| end <= self.size())
    }

    fn check(&self, addr: u64, len: u64) -> Result<std::ops::Range<usize>, MemError> {
        if self.contains(addr, len) {
            Ok(addr as usize..(addr + len) as usize)
        } else {
            Err(MemError::OutOfRange {
                addr,
                len,
                size: self.size(),
            })
        }
    }

    /// Copies RAM into `buf` (loaders, devices doing DMA, tests).
    pub fn read_bytes(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        let r = self.check(addr, buf.len() as u64)?;
        buf.copy_from_slice(&self.ram[r]);
        Ok(())
    }

    /// Copies `data` into RAM, keeping decoded code coherent.
    pub fn write_bytes(&mut self, addr: u64, data: &[u8]) -> Result<(), MemError> {
        let r = self.check(addr, data.len() as u64)?;
        self.ram[r].copy_from_slice(data);
        if !data.is_empty() {
            let first = addr >> PAGE_SHIFT;
            let last = (addr + data.len() as u64 - 1) >> PAGE_SHIFT;
            for page in first..=last {
                self.note_write(page);
            }
        }
        Ok(())
    }

    /// Reads a little-endian 32-bit word (for loaders and tests).
    pub fn read_u32(&self, addr: u64) -> Result<u32, MemError> {
        let mut b = [0; 4];
        self.read_bytes(addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// Writes a little-endian 32-bit word (for loaders and tests).
    pub fn write_u32(&mut self, addr: u64, v: u32) -> Result<(), MemError> {
        self.write_bytes(addr, &v.to_le_bytes())
    }

    /// The whole of RAM, read-only (checkpoints, inspection).
    pub fn as_slice(&self) -> &[u8] {
        &self.ram
    }

    /// True when `page` (a page number) holds cached decoded code.
    #[inline]
    pub fn is_code_page(&self, page: u64) -> bool {
        self.code_pages
            .get((page / 64) as usize)
            .is_some_and(|w| w & (1 << (page % 64)) != 0)
    }

    /// Marks `page` as holding decoded code.
    pub(crate) fn mark_code_page(&mut self, page: u64) {
        let w = &mut self.code_pages[(page / 64) as usize];
        if *w & (1 << (page % 64)) == 0 {
            *w |= 1 << (page % 64);
            self.code_epoch += 1;
        }
    }

    /// Clears the code mark of `page` (its blocks were dropped).
    pub(crate) fn clear_code_page(&mut self, page: u64) {
        self.code_pages[(page / 64) as usize] &= !(1 << (page % 64));
    }

    /// Generation of the code-page set; changes when a page becomes code.
    #[inline]
    pub(crate) fn code_epoch(&self) -> u64 {
        self.code_epoch
    }

    /// Records a write to `page`; if it holds code, queues its invalidation.
    #[inline]
    pub(crate) fn note_write(&mut self, page: u64) {
        if self.is_code_page(page) {
            self.written_code_pages.push(page);
        }
    }

    /// True when code pages were written since the last [`Self::take_written_code_pages`].
    #[inline]
    pub(crate) fn has_written_code(&self) -> bool {
        !self.written_code_pages.is_empty()
    }

    /// Takes the list of written code pages.
    pub(crate) fn take_written_code_pages(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.written_code_pages)
    }

    /// RAM as a mutable slice for the CPU's fast paths.
    #[inline]
    pub(crate) fn ram_mut(&mut self) -> &mut [u8] {
        &mut self.ram
    }

    /// RAM as a slice for the CPU's fast paths.
    #[inline]
    pub(crate) fn ram(&self) -> &[u8] {
        &self.ram
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_sizes() {
        assert_eq!(PhysMem::new(0).unwrap_err(), MemError::BadSize(0));
        assert_eq!(PhysMem::new(4097).unwrap_err(), MemError::BadSize(4097));
    }

    #[test]
    fn out_of_range_access_is_an_error_not_a_panic() {
        let mut m = PhysMem::new(8192).unwrap();
        assert!(m.write_bytes(8190, &[1, 2, 3]).is_err());
        assert!(m.read_u32(u64::MAX - 1).is_err());
        m.write_u32(8188, 0xdead_beef).unwrap();
        assert_eq!(m.read_u32(8188).unwrap(), 0xdead_beef);
    }

    #[test]
    fn writes_to_code_pages_are_queued_for_invalidation() {
        let mut m = PhysMem::new(4 * PAGE_SIZE).unwrap();
        m.mark_code_page(2);
        m.write_bytes(PAGE_SIZE, &[0; 8]).unwrap();
        assert!(!m.has_written_code());
        m.write_bytes(2 * PAGE_SIZE - 4, &[0; 8]).unwrap();
        assert_eq!(m.take_written_code_pages(), vec![2]);
    }
}
