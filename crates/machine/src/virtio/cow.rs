//! A copy-on-write disk's private sectors (paper §4.2.5).
//!
//! A copy-on-write disk never modifies its base image: the file is opened
//! read-only and every sector the guest writes goes into this overlay, a
//! B-tree from sector number to the sector's data (Rust's `BTreeMap`). A
//! read merges: base image first, then the overlay's sectors over it. The
//! overlay lives as long as the device — one VM's run — and is dropped
//! with it: copy-on-write disks are non-persistent. Sectors are kept in
//! memory up to a limit; beyond it new sectors are spilled to an unlinked
//! temporary file, which also disappears with the device.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use super::block::SECTOR;

/// Default bytes of written sectors kept in memory before spilling.
pub const MEMORY_LIMIT: u64 = 64 << 20;

/// Where a written sector's data is.
#[derive(Debug)]
enum Place {
    Memory(Box<[u8; SECTOR as usize]>),
    /// At this offset of the spill file.
    Spilled(u64),
}

/// Sectors a guest wrote to a copy-on-write disk.
#[derive(Debug)]
pub struct Overlay {
    sectors: BTreeMap<u64, Place>,
    in_memory: u64,
    limit: u64,
    spill: Option<File>,
    spill_len: u64,
}

impl Default for Overlay {
    fn default() -> Self {
        Overlay::with_limit(MEMORY_LIMIT)
    }
}

impl Overlay {
    /// An empty overlay keeping up to `limit` bytes in memory.
    pub fn with_limit(limit: u64) -> Self {
        Overlay {
            sectors: BTreeMap::new(),
            in_memory: 0,
            limit,
            spill: None,
            spill_len: 0,
        }
    }

    /// True when the guest wrote any sector in `first..end`.
    pub fn modified(&self, first: u64, end: u64) -> bool {
        self.sectors.range(first..end).next().is_some()
    }

    /// Sectors written so far.
    pub fn sectors(&self) -> u64 {
        self.sectors.len() as u64
    }

    /// Bytes of written sectors spilled to the temporary file.
    pub fn spilled_bytes(&self) -> u64 {
        self.spill_len
    }

    /// Reads `buf.len()` bytes (whole sectors) at sector `sector`: the base
    /// image's, with the written sectors over them.
    pub fn read(&self, base: &File, sector: u64, buf: &mut [u8]) -> io::Result<()> {
        base.read_exact_at(buf, sector * SECTOR)?;
        let end = sector + buf.len() as u64 / SECTOR;
        for (&s, place) in self.sectors.range(sector..end) {
            let at = ((s - sector) * SECTOR) as usize;
            let dst = &mut buf[at..at + SECTOR as usize];
            match place {
                Place::Memory(data) => dst.copy_from_slice(&data[..]),
                Place::Spilled(off) => self
                    .spill
                    .as_ref()
                    .expect("spilled sectors have a file")
                    .read_exact_at(dst, *off)?,
            }
        }
        Ok(())
    }

    /// Records `data` (whole sectors) as written at sector `sector`.
    pub fn write(&mut self, sector: u64, data: &[u8]) -> io::Result<()> {
        for (i, chunk) in data.chunks_exact(SECTOR as usize).enumerate() {
            let s = sector + i as u64;
            match self.sectors.get_mut(&s) {
                Some(Place::Memory(d)) => d.copy_from_slice(chunk),
                Some(Place::Spilled(off)) => {
                    let off = *off;
                    self.spill_file()?.write_all_at(chunk, off)?;
                }
                None if self.in_memory + SECTOR <= self.limit => {
                    let mut d = Box::new([0u8; SECTOR as usize]);
                    d.copy_from_slice(chunk);
                    self.sectors.insert(s, Place::Memory(d));
                    self.in_memory += SECTOR;
                }
                None => {
                    let off = self.spill_len;
                    self.spill_file()?.write_all_at(chunk, off)?;
                    self.spill_len += SECTOR;
                    self.sectors.insert(s, Place::Spilled(off));
                }
            }
        }
        Ok(())
    }

    /// The spill file, created (unlinked, in the temporary directory) on
    /// first use.
    fn spill_file(&mut self) -> io::Result<&File> {
        if self.spill.is_none() {
            self.spill = Some(tempfile::tempfile()?);
        }
        Ok(self.spill.as_ref().expect("just created"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Write;

    fn base(sectors: u64) -> File {
        let mut f = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..sectors * SECTOR).map(|i| (i / SECTOR) as u8).collect();
        f.write_all(&data).unwrap();
        f
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Reads through the overlay equal a plain copy of the disk that
        /// the writes went to, in memory or spilled; the base never changes.
        #[test]
        fn the_overlay_reads_like_a_written_copy(
            ops in prop::collection::vec((any::<bool>(), 0u64..60, 1u64..5, any::<u8>()), 1..60),
            limit in 0u64..8,
        ) {
            let file = base(64);
            let mut model: Vec<u8> = (0..64 * SECTOR).map(|i| (i / SECTOR) as u8).collect();
            let mut o = Overlay::with_limit(limit * SECTOR);
            for (write, sector, n, byte) in ops {
                let len = (n * SECTOR) as usize;
                let at = (sector * SECTOR) as usize;
                if write {
                    let data = vec![byte; len];
                    o.write(sector, &data).unwrap();
                    model[at..at + len].copy_from_slice(&data);
                } else {
                    let mut buf = vec![0u8; len];
                    o.read(&file, sector, &mut buf).unwrap();
                    prop_assert_eq!(&buf[..], &model[at..at + len]);
                }
                prop_assert_eq!(o.modified(sector, sector + n), o.sectors.range(sector..sector + n).count() > 0);
            }
            let mut after = vec![0u8; (64 * SECTOR) as usize];
            file.read_exact_at(&mut after, 0).unwrap();
            prop_assert!(after.iter().enumerate().all(|(i, b)| *b == (i as u64 / SECTOR) as u8));
        }
    }

    #[test]
    fn sectors_beyond_the_limit_are_spilled() {
        let file = base(8);
        let mut o = Overlay::with_limit(2 * SECTOR);
        o.write(0, &[7u8; 4 * SECTOR as usize]).unwrap();
        assert_eq!(o.spilled_bytes(), 2 * SECTOR);
        o.write(3, &[9u8; SECTOR as usize]).unwrap();
        assert_eq!(o.spilled_bytes(), 2 * SECTOR, "rewritten in place");
        let mut buf = vec![0u8; 5 * SECTOR as usize];
        o.read(&file, 0, &mut buf).unwrap();
        assert!(buf[..3 * SECTOR as usize].iter().all(|b| *b == 7));
        assert!(buf[3 * SECTOR as usize..4 * SECTOR as usize]
            .iter()
            .all(|b| *b == 9));
        assert!(buf[4 * SECTOR as usize..].iter().all(|b| *b == 4));
        assert!(o.modified(3, 4) && !o.modified(4, 8));
    }
}
