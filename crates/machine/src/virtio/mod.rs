//! Virtio devices on the virtio-mmio transport (virtio 1.x, split rings).
//!
//! The paper's Disco gave guests "special device drivers" that hand the
//! monitor a whole request (a DMA map) in one trap (§4.2.4, §4.3.2). Virtio
//! is the modern form of that interface, and the stock Debian kernel has
//! the drivers: a guest writes descriptors into its own memory and notifies
//! the device with one register write.
//!
//! * [`DmaMemory`] is how a device reaches guest memory: the bare machine
//!   gives it RAM directly, the monitor translates every guest-physical
//!   address through the VM's pmap. An address outside the guest's memory
//!   is a [`DmaError`] that the device reports *to the guest* (an I/O error
//!   status or, when the rings themselves are unusable, the virtio
//!   `DEVICE_NEEDS_RESET` status) — never a panic.
//! * [`queue`] walks split virtqueues with full validation.
//! * [`mmio::VirtioMmio`] is the register interface; it owns the backend
//!   ([`block::BlockDevice`], [`net::NetDevice`]). Register writes only record work: the owner
//!   (board or monitor), which has the memory, calls
//!   [`mmio::VirtioMmio::process`] after a notify and
//!   [`mmio::VirtioMmio::complete_due`] as simulated time passes.

use thiserror::Error;

/// The virtio block device.
pub mod block;
/// Copy-on-write disks' written sectors.
pub mod cow;
/// The virtio-mmio register interface.
pub mod mmio;
/// The virtio network device.
pub mod net;
/// Split virtqueues.
pub mod queue;

pub use block::{BlockDevice, DiskConfig, DiskError, DiskIdentity, DiskMode, DiskTiming};
pub use mmio::{Backend, VirtioMmio, VIRTIO_WINDOW_SIZE};
pub use net::NetDevice;

/// A DMA access outside the memory the device may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("DMA to {addr:#x}+{len:#x} is outside the guest's memory")]
pub struct DmaError {
    /// Guest-physical address of the access.
    pub addr: u64,
    /// Its length in bytes.
    pub len: u64,
}

/// A page of a copy-on-write disk's base image: the 8 sectors from
/// `sector` of the file `disk`.
#[derive(Debug, Clone, Copy)]
pub struct DiskPage<'a> {
    /// The base image.
    pub disk: &'a block::DiskIdentity,
    /// Its first sector.
    pub sector: u64,
}

/// What [`DmaMemory::map_disk_page`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MappedPage {
    /// Nothing: the device copies the data as usual.
    Declined,
    /// It mapped a page it already held (no disk time).
    Hit,
    /// It read the page from the disk (with `load`) and mapped it.
    Filled,
    /// Reading the page from the disk failed.
    ReadFailed,
}

/// How a page of disk data is read from the host file: 4096 bytes into
/// the buffer.
pub type LoadPage<'a> = dyn FnMut(&mut [u8]) -> std::io::Result<()> + 'a;

/// Guest memory as a device's DMA engine sees it (guest-physical addresses).
pub trait DmaMemory {
    /// Fails unless `len` bytes at `addr` are guest memory.
    fn check(&self, addr: u64, len: u64) -> Result<(), DmaError>;
    /// Copies guest memory at `addr` into `buf`.
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), DmaError>;
    /// Copies `data` into guest memory at `addr`.
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), DmaError>;
    /// True when [`DmaMemory::map_disk_page`] may map pages (a monitor's
    /// guest memory); devices then offer it every whole page they read.
    fn maps_disk_pages(&self) -> bool {
        false
    }
    /// Puts `page` of a copy-on-write disk at the page-aligned guest
    /// address `addr` by mapping a shared copy (the global disk cache,
    /// §4.2.5), reading it with `load` if it has none. The default
    /// declines.
    fn map_disk_page(
        &mut self,
        addr: u64,
        page: &DiskPage<'_>,
        load: &mut LoadPage<'_>,
    ) -> Result<MappedPage, DmaError> {
        let _ = (addr, page, load);
        Ok(MappedPage::Declined)
    }
}

impl DmaMemory for mips::PhysMem {
    fn check(&self, addr: u64, len: u64) -> Result<(), DmaError> {
        if self.contains(addr, len) {
            Ok(())
        } else {
            Err(DmaError { addr, len })
        }
    }

    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), DmaError> {
        self.read_bytes(addr, buf).map_err(|_| DmaError {
            addr,
            len: buf.len() as u64,
        })
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), DmaError> {
        self.write_bytes(addr, data).map_err(|_| DmaError {
            addr,
            len: data.len() as u64,
        })
    }
}

/// Reads a little-endian integer of `N` bytes at `addr`.
pub(crate) fn read_le<const N: usize>(
    mem: &mut dyn DmaMemory,
    addr: u64,
) -> Result<[u8; N], DmaError> {
    let mut b = [0u8; N];
    mem.read(addr, &mut b)?;
    Ok(b)
}

#[cfg(test)]
pub(crate) mod testmem {
    use super::{DmaError, DmaMemory};

    /// Guest memory for tests: `size` bytes from address 0.
    pub struct TestMem(pub Vec<u8>);

    impl TestMem {
        pub fn new(size: usize) -> Self {
            TestMem(vec![0; size])
        }
        pub fn put(&mut self, addr: u64, data: &[u8]) {
            self.0[addr as usize..addr as usize + data.len()].copy_from_slice(data);
        }
        pub fn get(&self, addr: u64, len: usize) -> &[u8] {
            &self.0[addr as usize..addr as usize + len]
        }
    }

    impl DmaMemory for TestMem {
        fn check(&self, addr: u64, len: u64) -> Result<(), DmaError> {
            match addr.checked_add(len) {
                Some(end) if end <= self.0.len() as u64 => Ok(()),
                _ => Err(DmaError { addr, len }),
            }
        }
        fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), DmaError> {
            self.check(addr, buf.len() as u64)?;
            buf.copy_from_slice(self.get(addr, buf.len()));
            Ok(())
        }
        fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), DmaError> {
            self.check(addr, data.len() as u64)?;
            self.put(addr, data);
            Ok(())
        }
    }
}
