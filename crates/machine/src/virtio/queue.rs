//! Split virtqueues (virtio 1.x §2.7): the descriptor table, the driver's
//! available ring and the device's used ring, all in guest memory.
//!
//! Everything read from the guest is validated: descriptor indices, chain
//! length (a loop is an error, not a hang), ring indices, and every address
//! through [`DmaMemory`]. Indirect descriptors and event suppression are not
//! offered, so the driver never uses them.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::{read_le, DmaError, DmaMemory};

/// Descriptor flag: the chain continues at `next`.
const DESC_NEXT: u16 = 1;
/// Descriptor flag: the device writes this buffer.
const DESC_WRITE: u16 = 2;
/// Descriptor flag: the buffer holds a table of descriptors (not offered).
const DESC_INDIRECT: u16 = 4;
/// Largest queue the devices offer.
pub const QUEUE_SIZE_MAX: u16 = 256;

/// Why a queue cannot be used: the driver broke the ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum QueueError {
    /// A ring or descriptor lies outside guest memory.
    #[error(transparent)]
    Dma(#[from] DmaError),
    /// A descriptor index beyond the table.
    #[error("descriptor index {0} is beyond the queue")]
    BadIndex(u16),
    /// A chain longer than the queue (a loop).
    #[error("descriptor chain loops")]
    Loop,
    /// An indirect descriptor (the feature was not offered).
    #[error("indirect descriptor used but not negotiated")]
    Indirect,
    /// The available index ran more than a queue ahead of the device.
    #[error("available index {avail} is {ahead} entries ahead of the device (queue of {size})")]
    AvailOverrun {
        /// The driver's available index.
        avail: u16,
        /// How far ahead it is.
        ahead: u16,
        /// The queue size.
        size: u16,
    },
    /// The queue was enabled without a valid size.
    #[error("queue size {0} is not a power of two up to the maximum")]
    BadSize(u16),
}

/// One buffer of a descriptor chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Guest-physical address.
    pub addr: u64,
    /// Length in bytes.
    pub len: u32,
    /// The device writes it (else reads it).
    pub writable: bool,
}

/// A request: the chain of buffers starting at descriptor `head`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// Index of the first descriptor (returned in the used ring).
    pub head: u16,
    /// The buffers in chain order.
    pub segments: Vec<Segment>,
}

impl Chain {
    /// Total bytes the device may read.
    pub fn readable_len(&self) -> u64 {
        self.segments
            .iter()
            .filter(|s| !s.writable)
            .map(|s| u64::from(s.len))
            .sum()
    }

    /// Total bytes the device may write.
    pub fn writable_len(&self) -> u64 {
        self.segments
            .iter()
            .filter(|s| s.writable)
            .map(|s| u64::from(s.len))
            .sum()
    }

    /// The guest address of byte `offset` of the writable (or readable)
    /// buffers, and the bytes left in its buffer from there.
    pub fn locate(&self, writable: bool, offset: u64) -> Option<(u64, u64)> {
        let mut skip = offset;
        for s in self.segments.iter().filter(|s| s.writable == writable) {
            let seg_len = u64::from(s.len);
            if skip < seg_len {
                return Some((s.addr.checked_add(skip)?, seg_len - skip));
            }
            skip -= seg_len;
        }
        None
    }

    /// Reads `buf.len()` bytes of the readable buffers, starting `offset`
    /// bytes into them.
    pub fn read(
        &self,
        mem: &mut dyn DmaMemory,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<(), DmaError> {
        self.transfer(false, offset, buf.len() as u64, |addr, range| {
            mem.read(addr, &mut buf[range])
        })
    }

    /// Writes `data` into the writable buffers, starting `offset` bytes in.
    pub fn write(&self, mem: &mut dyn DmaMemory, offset: u64, data: &[u8]) -> Result<(), DmaError> {
        self.transfer(true, offset, data.len() as u64, |addr, range| {
            mem.write(addr, &data[range])
        })
    }

    /// Calls `f(guest address, range in the caller's buffer)` for each
    /// piece of the `len` bytes at `offset` within the readable (or
    /// writable) buffers.
    fn transfer(
        &self,
        writable: bool,
        offset: u64,
        len: u64,
        mut f: impl FnMut(u64, std::ops::Range<usize>) -> Result<(), DmaError>,
    ) -> Result<(), DmaError> {
        let mut skip = offset;
        let mut done = 0u64;
        for s in self.segments.iter().filter(|s| s.writable == writable) {
            if done == len {
                break;
            }
            let seg_len = u64::from(s.len);
            if skip >= seg_len {
                skip -= seg_len;
                continue;
            }
            let n = (seg_len - skip).min(len - done);
            let addr = s.addr.checked_add(skip).ok_or(DmaError {
                addr: s.addr,
                len: seg_len,
            })?;
            f(addr, done as usize..(done + n) as usize)?;
            done += n;
            skip = 0;
        }
        if done < len {
            // The chain is shorter than the request: nothing to transfer to.
            return Err(DmaError {
                addr: self.segments.last().map_or(0, |s| s.addr),
                len: len - done,
            });
        }
        Ok(())
    }
}

/// A split virtqueue's configuration and the device's position in it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Virtqueue {
    /// Entries (set by the driver; a power of two).
    pub size: u16,
    /// The driver enabled the queue.
    pub ready: bool,
    /// Descriptor table address.
    pub desc: u64,
    /// Available ring address.
    pub avail: u64,
    /// Used ring address.
    pub used: u64,
    /// Next available-ring entry the device will take.
    pub next_avail: u16,
    /// Next used-ring index the device will fill.
    pub next_used: u16,
}

impl Virtqueue {
    /// Back to the reset state.
    pub fn reset(&mut self) {
        *self = Virtqueue::default();
    }

    /// Checks the size the driver chose when it enables the queue.
    pub fn check_size(&self) -> Result<(), QueueError> {
        if self.size == 0 || !self.size.is_power_of_two() || self.size > QUEUE_SIZE_MAX {
            return Err(QueueError::BadSize(self.size));
        }
        Ok(())
    }

    /// Takes the next request the driver made available, if any.
    pub fn pop(&mut self, mem: &mut dyn DmaMemory) -> Result<Option<Chain>, QueueError> {
        self.check_size()?;
        let avail_idx = u16::from_le_bytes(read_le::<2>(mem, offset(self.avail, 2)?)?);
        let ahead = avail_idx.wrapping_sub(self.next_avail);
        if ahead == 0 {
            return Ok(None);
        }
        if ahead > self.size {
            return Err(QueueError::AvailOverrun {
                avail: avail_idx,
                ahead,
                size: self.size,
            });
        }
        let slot = u64::from(self.next_avail % self.size);
        let head = u16::from_le_bytes(read_le::<2>(mem, offset(self.avail, 4 + 2 * slot)?)?);
        let chain = self.chain(mem, head)?;
        self.next_avail = self.next_avail.wrapping_add(1);
        Ok(Some(chain))
    }

    /// Reads the descriptor chain starting at `head`.
    fn chain(&self, mem: &mut dyn DmaMemory, head: u16) -> Result<Chain, QueueError> {
        let mut segments = Vec::new();
        let mut index = head;
        loop {
            if index >= self.size {
                return Err(QueueError::BadIndex(index));
            }
            if segments.len() == usize::from(self.size) {
                return Err(QueueError::Loop);
            }
            let d = read_le::<16>(mem, offset(self.desc, 16 * u64::from(index))?)?;
            let addr = u64::from_le_bytes(d[0..8].try_into().expect("8 bytes"));
            let len = u32::from_le_bytes(d[8..12].try_into().expect("4 bytes"));
            let flags = u16::from_le_bytes([d[12], d[13]]);
            let next = u16::from_le_bytes([d[14], d[15]]);
            if flags & DESC_INDIRECT != 0 {
                return Err(QueueError::Indirect);
            }
            segments.push(Segment {
                addr,
                len,
                writable: flags & DESC_WRITE != 0,
            });
            if flags & DESC_NEXT == 0 {
                return Ok(Chain { head, segments });
            }
            index = next;
        }
    }

    /// Returns request `head` to the driver with `len` bytes written.
    pub fn push_used(
        &mut self,
        mem: &mut dyn DmaMemory,
        head: u16,
        len: u32,
    ) -> Result<(), QueueError> {
        self.check_size()?;
        let slot = u64::from(self.next_used % self.size);
        let mut entry = [0u8; 8];
        entry[..4].copy_from_slice(&u32::from(head).to_le_bytes());
        entry[4..].copy_from_slice(&len.to_le_bytes());
        mem.write(offset(self.used, 4 + 8 * slot)?, &entry)?;
        let next_used = self.next_used.wrapping_add(1);
        mem.write(offset(self.used, 2)?, &next_used.to_le_bytes())?;
        self.next_used = next_used;
        Ok(())
    }
}

/// `base + off`, an error if it leaves the address space.
fn offset(base: u64, off: u64) -> Result<u64, DmaError> {
    base.checked_add(off).ok_or(DmaError {
        addr: base,
        len: off,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::virtio::testmem::TestMem;

    /// Ring addresses used by the tests (a queue of 8).
    pub const DESC: u64 = 0x1000;
    pub const AVAIL: u64 = 0x2000;
    pub const USED: u64 = 0x3000;

    pub fn queue() -> Virtqueue {
        Virtqueue {
            size: 8,
            ready: true,
            desc: DESC,
            avail: AVAIL,
            used: USED,
            ..Virtqueue::default()
        }
    }

    /// Writes descriptor `i`.
    pub fn put_desc(mem: &mut TestMem, i: u16, addr: u64, len: u32, flags: u16, next: u16) {
        let mut d = [0u8; 16];
        d[0..8].copy_from_slice(&addr.to_le_bytes());
        d[8..12].copy_from_slice(&len.to_le_bytes());
        d[12..14].copy_from_slice(&flags.to_le_bytes());
        d[14..16].copy_from_slice(&next.to_le_bytes());
        mem.put(DESC + 16 * u64::from(i), &d);
    }

    /// Makes `heads` available (after `already` earlier entries).
    pub fn make_available(mem: &mut TestMem, already: u16, heads: &[u16]) {
        for (n, h) in heads.iter().enumerate() {
            let slot = (already as usize + n) % 8;
            mem.put(AVAIL + 4 + 2 * slot as u64, &h.to_le_bytes());
        }
        let idx = already.wrapping_add(heads.len() as u16);
        mem.put(AVAIL + 2, &idx.to_le_bytes());
    }

    #[test]
    fn pops_chains_in_order_and_fills_the_used_ring() {
        let mut mem = TestMem::new(0x10000);
        let mut q = queue();
        put_desc(&mut mem, 0, 0x4000, 16, DESC_NEXT, 3);
        put_desc(&mut mem, 3, 0x5000, 512, DESC_WRITE, 0);
        put_desc(&mut mem, 1, 0x6000, 8, 0, 0);
        assert_eq!(q.pop(&mut mem).unwrap(), None);
        make_available(&mut mem, 0, &[0, 1]);
        let c = q.pop(&mut mem).unwrap().unwrap();
        assert_eq!(c.head, 0);
        assert_eq!(c.readable_len(), 16);
        assert_eq!(c.writable_len(), 512);
        let c2 = q.pop(&mut mem).unwrap().unwrap();
        assert_eq!(
            c2.segments,
            vec![Segment {
                addr: 0x6000,
                len: 8,
                writable: false
            }]
        );
        assert_eq!(q.pop(&mut mem).unwrap(), None);
        q.push_used(&mut mem, 1, 0).unwrap();
        q.push_used(&mut mem, 0, 513).unwrap();
        assert_eq!(mem.get(USED + 2, 2), &2u16.to_le_bytes());
        assert_eq!(mem.get(USED + 4, 8), &[1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(mem.get(USED + 12, 8), &[0, 0, 0, 0, 1, 2, 0, 0]);
    }

    #[test]
    fn reads_and_writes_span_segments() {
        let mut mem = TestMem::new(0x10000);
        let c = Chain {
            head: 0,
            segments: vec![
                Segment {
                    addr: 0x100,
                    len: 3,
                    writable: false,
                },
                Segment {
                    addr: 0x200,
                    len: 5,
                    writable: false,
                },
                Segment {
                    addr: 0x300,
                    len: 4,
                    writable: true,
                },
                Segment {
                    addr: 0x400,
                    len: 4,
                    writable: true,
                },
            ],
        };
        mem.put(0x100, b"abc");
        mem.put(0x200, b"defgh");
        let mut buf = [0u8; 4];
        c.read(&mut mem, 2, &mut buf).unwrap();
        assert_eq!(&buf, b"cdef");
        c.write(&mut mem, 2, b"WXYZ").unwrap();
        assert_eq!(mem.get(0x302, 2), b"WX");
        assert_eq!(mem.get(0x400, 2), b"YZ");
        assert!(c.write(&mut mem, 6, b"123").is_err(), "past the end");
    }

    #[test]
    fn broken_rings_are_errors() {
        let mut mem = TestMem::new(0x10000);
        let mut q = queue();
        // A loop: 0 -> 1 -> 0.
        put_desc(&mut mem, 0, 0x4000, 16, DESC_NEXT, 1);
        put_desc(&mut mem, 1, 0x4000, 16, DESC_NEXT, 0);
        make_available(&mut mem, 0, &[0]);
        assert_eq!(q.pop(&mut mem), Err(QueueError::Loop));
        // An index beyond the table.
        let mut q = queue();
        make_available(&mut mem, 0, &[9]);
        assert_eq!(q.pop(&mut mem), Err(QueueError::BadIndex(9)));
        // Indirect descriptors were not offered.
        let mut q = queue();
        put_desc(&mut mem, 2, 0x4000, 16, DESC_INDIRECT, 0);
        make_available(&mut mem, 0, &[2]);
        assert_eq!(q.pop(&mut mem), Err(QueueError::Indirect));
        // The driver claims more entries than the queue holds.
        let mut q = queue();
        mem.put(AVAIL + 2, &20u16.to_le_bytes());
        assert!(matches!(
            q.pop(&mut mem),
            Err(QueueError::AvailOverrun { .. })
        ));
        // Rings outside guest memory.
        let mut q = queue();
        q.avail = 0xffff_ffff_0000;
        assert!(matches!(q.pop(&mut mem), Err(QueueError::Dma(_))));
        let mut q = queue();
        q.used = u64::MAX - 3;
        assert!(matches!(
            q.push_used(&mut mem, 0, 0),
            Err(QueueError::Dma(_))
        ));
        // A size that is not a power of two.
        let mut q = queue();
        q.size = 6;
        assert_eq!(q.pop(&mut mem), Err(QueueError::BadSize(6)));
    }
}
