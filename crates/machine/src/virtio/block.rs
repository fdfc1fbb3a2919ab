//! The virtio block device (virtio 1.x §5.2) backed by a host file.
//!
//! Requests are served in order by one simulated disk: a request starts when
//! the previous one has finished and takes `access_ns` plus its bytes at
//! `bytes_per_sec` ([`DiskTiming`]). The data moves between the file and
//! guest memory when the request is taken (the guest cannot look before the
//! completion is posted); the completion — used-ring entry and interrupt —
//! is posted at the simulated time the disk finishes.
//!
//! A disk is persistent (read-write), read-only, or copy-on-write
//! ([`DiskMode`]). A copy-on-write disk opens its file read-only and keeps
//! the guest's writes in an [`Overlay`] dropped with the device. Its whole,
//! page-aligned page reads are offered to the memory first
//! ([`DmaMemory::map_disk_page`]): the monitor maps a page of its global
//! disk cache there instead of copying, and no disk time passes for a page
//! it already had.
//!
//! A data buffer outside the guest's memory, a sector range past the end of
//! the disk, or a write to a read-only disk completes the request with
//! `VIRTIO_BLK_S_IOERR`: the guest sees an I/O error, the disk file is not
//! touched. A request without a header or status byte breaks the ring
//! ([`RequestError::Broken`]).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::cow::Overlay;
use super::queue::Chain;
use super::{DiskPage, DmaMemory, MappedPage};

/// Bytes per sector (the unit of virtio block addresses).
pub const SECTOR: u64 = 512;
/// Largest request the device accepts (larger ones fail with an I/O error).
pub const MAX_REQUEST_BYTES: u64 = 16 << 20;
/// Segments per request the device advertises (`seg_max`).
pub const SEG_MAX: u32 = 128;
/// Largest segment the device advertises (`size_max`): one page, so that
/// Linux gives every page of a request its own descriptor and whole pages
/// can be mapped rather than copied.
pub const SIZE_MAX: u32 = 4096;
/// Bytes moved per host I/O while serving a request.
const PIECE: usize = 64 << 10;
/// Bytes in a page of guest memory.
const PAGE: u64 = 4096;

const T_IN: u32 = 0;
const T_OUT: u32 = 1;
const T_FLUSH: u32 = 4;
const T_GET_ID: u32 = 8;
const S_OK: u8 = 0;
const S_IOERR: u8 = 1;
const S_UNSUPP: u8 = 2;

/// Feature bit: `size_max` is valid.
pub const F_SIZE_MAX: u64 = 1 << 1;
/// Feature bit: `seg_max` is valid.
pub const F_SEG_MAX: u64 = 1 << 2;
/// Feature bit: the disk is read-only.
pub const F_RO: u64 = 1 << 5;
/// Feature bit: `blk_size` is valid.
pub const F_BLK_SIZE: u64 = 1 << 6;
/// Feature bit: the device takes flush requests.
pub const F_FLUSH: u64 = 1 << 9;

/// How a disk's guest may use its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DiskMode {
    /// Persistent: the guest's writes go to the file (one guest at a time).
    #[default]
    ReadWrite,
    /// The guest may not write it.
    ReadOnly,
    /// Copy-on-write: the file is never modified; the guest's writes are
    /// kept apart and dropped when the device goes (§4.2.5's
    /// non-persistent disks). Several guests may share the file.
    CopyOnWrite,
}

impl DiskMode {
    /// The file is only ever read (read-only or copy-on-write).
    pub fn file_read_only(self) -> bool {
        self != DiskMode::ReadWrite
    }

    /// The option name used in configurations (`rw`, `ro`, `cow`).
    pub fn name(self) -> &'static str {
        match self {
            DiskMode::ReadWrite => "rw",
            DiskMode::ReadOnly => "ro",
            DiskMode::CopyOnWrite => "cow",
        }
    }
}

/// A disk of a machine or VM: a host file holding the whole disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskConfig {
    /// The disk image (raw, a whole number of 512-byte sectors).
    pub path: PathBuf,
    /// How the guest may use it.
    pub mode: DiskMode,
}

/// What identifies a disk image file on the host (device, inode, size):
/// two copy-on-write disks on the same file share cached pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskIdentity {
    /// The host file system's device number.
    pub device: u64,
    /// The file's inode number.
    pub inode: u64,
    /// Its size in bytes.
    pub size: u64,
}

/// How long the simulated disk takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DiskTiming {
    /// Fixed time per request (seek, rotation, controller), ns.
    pub access_ns: u64,
    /// Transfer rate, bytes per second.
    pub bytes_per_sec: u64,
}

impl Default for DiskTiming {
    /// 100 µs per request and 200 MB/s: a fast disk, so that I/O does not
    /// dominate the workloads the paper measures (which mostly hit the
    /// buffer cache). Set 10 ms and 2.5 MB/s for a disk of the paper's era.
    fn default() -> Self {
        DiskTiming {
            access_ns: 100_000,
            bytes_per_sec: 200_000_000,
        }
    }
}

impl DiskTiming {
    /// Simulated time for a request moving `bytes`, ns.
    pub fn service_ns(&self, bytes: u64) -> u64 {
        let transfer = if self.bytes_per_sec == 0 {
            0
        } else {
            (u128::from(bytes) * 1_000_000_000 / u128::from(self.bytes_per_sec)) as u64
        };
        self.access_ns.saturating_add(transfer)
    }
}

/// Why a disk could not be opened.
#[derive(Debug, Error)]
pub enum DiskError {
    /// The file could not be opened or examined.
    #[error("disk {path}: {reason}")]
    Io {
        /// The disk image.
        path: PathBuf,
        /// What the OS said (in the message, so not also a `source`: an
        /// error chain would repeat it).
        reason: std::io::Error,
    },
    /// Its size is not a whole number of sectors.
    #[error(
        "disk {path}: size {size} bytes is not a multiple of 512 (a disk holds whole sectors)"
    )]
    PartialSector {
        /// The disk image.
        path: PathBuf,
        /// Its size.
        size: u64,
    },
    /// It is empty.
    #[error("disk {path} is empty")]
    Empty {
        /// The disk image.
        path: PathBuf,
    },
    /// It is not a regular file.
    #[error("disk {path} is not a regular file")]
    NotAFile {
        /// The disk image.
        path: PathBuf,
    },
}

/// A request that cannot even be answered: the ring is broken.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RequestError {
    /// No room for a header or a status byte, or the status byte lies
    /// outside guest memory.
    #[error("malformed block request: {0}")]
    Broken(String),
}

/// What the device did, for reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DiskStats {
    /// Read requests served.
    pub reads: u64,
    /// Write requests served.
    pub writes: u64,
    /// Bytes read from the disk.
    pub bytes_read: u64,
    /// Bytes written to the disk.
    pub bytes_written: u64,
    /// Flush requests served.
    pub flushes: u64,
    /// Requests that completed with an I/O error.
    pub errors: u64,
    /// Of those, requests with a buffer outside guest memory.
    pub dma_errors: u64,
    /// Pages of reads the memory served by mapping a cached page
    /// (copy-on-write disks in a VM).
    pub pages_mapped: u64,
    /// Of those, pages the cache already had (no disk time).
    pub pages_cached: u64,
}

/// A virtio block device on a host file.
#[derive(Debug)]
pub struct BlockDevice {
    file: File,
    path: PathBuf,
    sectors: u64,
    mode: DiskMode,
    identity: DiskIdentity,
    overlay: Option<Overlay>,
    id: String,
    timing: DiskTiming,
    busy_until_ns: u64,
    /// Counters.
    pub stats: DiskStats,
}

/// The outcome of one request: bytes written into the guest's buffers and
/// the simulated time it completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Served {
    /// Bytes the device wrote into the request's buffers (status included).
    pub written: u32,
    /// Completion time, ns.
    pub due_ns: u64,
}

impl BlockDevice {
    /// Opens the disk image at `path` for use in `mode`.
    pub fn open(path: &Path, mode: DiskMode, timing: DiskTiming) -> Result<Self, DiskError> {
        let io = |reason| DiskError::Io {
            path: path.to_path_buf(),
            reason,
        };
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(!mode.file_read_only())
            .open(path)
            .map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            return Err(DiskError::NotAFile {
                path: path.to_path_buf(),
            });
        }
        let size = meta.len();
        if size == 0 {
            return Err(DiskError::Empty {
                path: path.to_path_buf(),
            });
        }
        if size % SECTOR != 0 {
            return Err(DiskError::PartialSector {
                path: path.to_path_buf(),
                size,
            });
        }
        let id = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        use std::os::unix::fs::MetadataExt;
        let identity = DiskIdentity {
            device: meta.dev(),
            inode: meta.ino(),
            size,
        };
        Ok(BlockDevice {
            file,
            path: path.to_path_buf(),
            sectors: size / SECTOR,
            mode,
            identity,
            overlay: (mode == DiskMode::CopyOnWrite).then(Overlay::default),
            id,
            timing,
            busy_until_ns: 0,
            stats: DiskStats::default(),
        })
    }

    /// The disk image's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Capacity in sectors.
    pub fn sectors(&self) -> u64 {
        self.sectors
    }

    /// Read-only disk (the guest may not write it).
    pub fn read_only(&self) -> bool {
        self.mode == DiskMode::ReadOnly
    }

    /// How the guest may use the disk.
    pub fn mode(&self) -> DiskMode {
        self.mode
    }

    /// The file's identity on the host.
    pub fn identity(&self) -> &DiskIdentity {
        &self.identity
    }

    /// A copy-on-write disk's written sectors.
    pub fn overlay(&self) -> Option<&Overlay> {
        self.overlay.as_ref()
    }

    /// Device feature bits (besides the transport's).
    pub fn features(&self) -> u64 {
        let ro = if self.read_only() { F_RO } else { 0 };
        F_SIZE_MAX | F_SEG_MAX | F_BLK_SIZE | F_FLUSH | ro
    }

    /// The configuration space: capacity, size_max, seg_max, geometry,
    /// blk_size.
    pub fn config(&self) -> [u8; 24] {
        let mut c = [0u8; 24];
        c[0..8].copy_from_slice(&self.sectors.to_le_bytes());
        c[8..12].copy_from_slice(&SIZE_MAX.to_le_bytes());
        c[12..16].copy_from_slice(&SEG_MAX.to_le_bytes());
        c[20..24].copy_from_slice(&(SECTOR as u32).to_le_bytes());
        c
    }

    /// Forgets queued work (device reset): the disk is idle from `now_ns`.
    pub fn reset(&mut self) {
        self.busy_until_ns = 0;
    }

    /// Serves request `chain` arriving at `now_ns`.
    pub fn serve(
        &mut self,
        mem: &mut dyn DmaMemory,
        chain: &Chain,
        now_ns: u64,
    ) -> Result<Served, RequestError> {
        if chain.readable_len() < 16 {
            return Err(RequestError::Broken(
                "shorter than its 16-byte header".into(),
            ));
        }
        let writable = chain.writable_len();
        if writable == 0 {
            return Err(RequestError::Broken("no status byte".into()));
        }
        let mut header = [0u8; 16];
        if chain.read(mem, 0, &mut header).is_err() {
            return Err(RequestError::Broken("header outside guest memory".into()));
        }
        let kind = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes"));
        let sector = u64::from_le_bytes(header[8..16].try_into().expect("8 bytes"));
        let (status, data_written, moved) = match kind {
            T_IN => self.read_request(mem, chain, sector, writable - 1),
            T_OUT => self.write_request(mem, chain, sector, chain.readable_len() - 16),
            T_FLUSH => {
                self.stats.flushes += 1;
                let status = if self.mode.file_read_only() || self.file.sync_data().is_ok() {
                    S_OK
                } else {
                    S_IOERR
                };
                (status, 0, 0)
            }
            T_GET_ID => {
                let n = (writable - 1).min(20) as usize;
                let mut id = [0u8; 20];
                let bytes = self.id.as_bytes();
                let len = bytes.len().min(20);
                id[..len].copy_from_slice(&bytes[..len]);
                match chain.write(mem, 0, &id[..n]) {
                    Ok(()) => (S_OK, n as u64, 0),
                    Err(_) => {
                        self.stats.dma_errors += 1;
                        (S_IOERR, 0, 0)
                    }
                }
            }
            _ => (S_UNSUPP, 0, 0),
        };
        if status == S_IOERR {
            self.stats.errors += 1;
        }
        if chain.write(mem, writable - 1, &[status]).is_err() {
            return Err(RequestError::Broken(
                "status byte outside guest memory".into(),
            ));
        }
        let start = now_ns.max(self.busy_until_ns);
        let due_ns = start.saturating_add(if kind == T_GET_ID || status == S_UNSUPP {
            0
        } else {
            self.timing.service_ns(moved)
        });
        self.busy_until_ns = due_ns;
        Ok(Served {
            // Bounded by the request size checks below u32.
            written: u32::try_from(data_written + 1).unwrap_or(u32::MAX),
            due_ns,
        })
    }

    /// Checks that `len` bytes at `sector` are a valid transfer.
    fn range_ok(&self, sector: u64, len: u64) -> bool {
        len.is_multiple_of(SECTOR)
            && len <= MAX_REQUEST_BYTES
            && sector
                .checked_add(len / SECTOR)
                .is_some_and(|end| end <= self.sectors)
    }

    /// A read: disk → guest. Returns (status, bytes written, bytes moved
    /// by the disk).
    fn read_request(
        &mut self,
        mem: &mut dyn DmaMemory,
        chain: &Chain,
        sector: u64,
        len: u64,
    ) -> (u8, u64, u64) {
        if !self.range_ok(sector, len) {
            return (S_IOERR, 0, 0);
        }
        let mapping = self.overlay.is_some() && mem.maps_disk_pages();
        let mut buf = vec![0u8; PIECE.min(len as usize)];
        let (mut done, mut moved) = (0u64, 0u64);
        while done < len {
            let at = sector + done / SECTOR;
            if mapping {
                match self.map_page(mem, chain, at, done, len) {
                    Ok(Some(from_disk)) => {
                        done += PAGE;
                        moved += if from_disk { PAGE } else { 0 };
                        continue;
                    }
                    Ok(None) => {}
                    Err(status) => return (status, done, moved),
                }
            }
            // Copy: up to a piece, or to the next page when pages may be
            // mapped.
            let n = if mapping {
                PAGE - done % PAGE
            } else {
                PIECE as u64
            };
            let n = n.min(len - done) as usize;
            if self.read_sectors(at, &mut buf[..n]).is_err() {
                return (S_IOERR, done, moved);
            }
            if chain.write(mem, done, &buf[..n]).is_err() {
                self.stats.dma_errors += 1;
                return (S_IOERR, done, moved);
            }
            done += n as u64;
            moved += n as u64;
        }
        self.stats.reads += 1;
        self.stats.bytes_read += len;
        (S_OK, len, moved)
    }

    /// Offers the page of data at offset `done` of a read (sector `at`) to
    /// the memory for mapping, when it is a whole page, page-aligned in
    /// guest memory, in one buffer, and not written by this guest.
    /// `Ok(Some(from_disk))` when the memory mapped it, `Ok(None)` when it
    /// is to be copied, `Err(status)` when the request fails.
    fn map_page(
        &mut self,
        mem: &mut dyn DmaMemory,
        chain: &Chain,
        at: u64,
        done: u64,
        len: u64,
    ) -> Result<Option<bool>, u8> {
        let sectors = PAGE / SECTOR;
        let whole = len - done >= PAGE;
        let Some((addr, room)) = chain.locate(true, done).filter(|_| whole) else {
            return Ok(None);
        };
        let overlay = self.overlay.as_ref().expect("only copy-on-write disks map");
        if addr % PAGE != 0 || room < PAGE || overlay.modified(at, at + sectors) {
            return Ok(None);
        }
        let page = DiskPage {
            disk: &self.identity,
            sector: at,
        };
        let file = &self.file;
        let mut load = |buf: &mut [u8]| file.read_exact_at(buf, at * SECTOR);
        match mem.map_disk_page(addr, &page, &mut load) {
            Ok(MappedPage::Declined) => Ok(None),
            Ok(MappedPage::Hit) => {
                self.stats.pages_mapped += 1;
                self.stats.pages_cached += 1;
                Ok(Some(false))
            }
            Ok(MappedPage::Filled) => {
                self.stats.pages_mapped += 1;
                Ok(Some(true))
            }
            Ok(MappedPage::ReadFailed) => Err(S_IOERR),
            Err(_) => {
                self.stats.dma_errors += 1;
                Err(S_IOERR)
            }
        }
    }

    /// Reads whole sectors at `sector`: the file, and for a copy-on-write
    /// disk the guest's written sectors over it.
    fn read_sectors(&self, sector: u64, buf: &mut [u8]) -> std::io::Result<()> {
        match &self.overlay {
            Some(o) => o.read(&self.file, sector, buf),
            None => self.file.read_exact_at(buf, sector * SECTOR),
        }
    }

    /// A write: guest → disk. Every buffer is checked before the disk is
    /// touched, so a request with a wild buffer changes nothing.
    fn write_request(
        &mut self,
        mem: &mut dyn DmaMemory,
        chain: &Chain,
        sector: u64,
        len: u64,
    ) -> (u8, u64, u64) {
        if self.read_only() || !self.range_ok(sector, len) {
            return (S_IOERR, 0, 0);
        }
        let mut skip = 16u64;
        for s in chain.segments.iter().filter(|s| !s.writable) {
            let l = u64::from(s.len);
            let (from, n) = (skip.min(l), l - skip.min(l));
            skip -= from;
            if n > 0 && mem.check(s.addr.saturating_add(from), n).is_err() {
                self.stats.dma_errors += 1;
                return (S_IOERR, 0, 0);
            }
        }
        let mut buf = vec![0u8; PIECE.min(len as usize)];
        let mut done = 0u64;
        while done < len {
            let n = (len - done).min(PIECE as u64) as usize;
            if chain.read(mem, 16 + done, &mut buf[..n]).is_err() {
                self.stats.dma_errors += 1;
                return (S_IOERR, 0, done);
            }
            let at = sector + done / SECTOR;
            let written = match &mut self.overlay {
                Some(o) => o.write(at, &buf[..n]),
                None => self.file.write_all_at(&buf[..n], at * SECTOR),
            };
            if written.is_err() {
                return (S_IOERR, 0, done);
            }
            done += n as u64;
        }
        self.stats.writes += 1;
        self.stats.bytes_written += len;
        (S_OK, 0, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::virtio::queue::Segment;
    use crate::virtio::testmem::TestMem;

    fn disk(sectors: u64, mode: DiskMode) -> (tempfile_path::TempPath, BlockDevice) {
        let p = tempfile_path::TempPath::new();
        let data: Vec<u8> = (0..sectors * SECTOR).map(|i| (i / SECTOR) as u8).collect();
        std::fs::write(&p.0, data).unwrap();
        let d = BlockDevice::open(&p.0, mode, DiskTiming::default()).unwrap();
        (p, d)
    }

    /// A temporary file removed on drop.
    mod tempfile_path {
        pub struct TempPath(pub std::path::PathBuf);
        impl TempPath {
            pub fn new() -> Self {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let n = N.fetch_add(1, Ordering::Relaxed);
                TempPath(
                    std::env::temp_dir()
                        .join(format!("disco-blk-test-{}-{n}.img", std::process::id())),
                )
            }
        }
        impl Drop for TempPath {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    fn request(
        mem: &mut TestMem,
        kind: u32,
        sector: u64,
        data: (u64, u32),
        data_writable: bool,
    ) -> Chain {
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&kind.to_le_bytes());
        h[8..16].copy_from_slice(&sector.to_le_bytes());
        mem.put(0x100, &h);
        Chain {
            head: 0,
            segments: vec![
                Segment {
                    addr: 0x100,
                    len: 16,
                    writable: false,
                },
                Segment {
                    addr: data.0,
                    len: data.1,
                    writable: data_writable,
                },
                Segment {
                    addr: 0x200,
                    len: 1,
                    writable: true,
                },
            ],
        }
    }

    #[test]
    fn reads_and_writes_sectors() {
        let (p, mut d) = disk(8, DiskMode::ReadWrite);
        let mut mem = TestMem::new(0x10000);
        let c = request(&mut mem, T_IN, 2, (0x1000, 1024), true);
        let s = d.serve(&mut mem, &c, 0).unwrap();
        assert_eq!(s.written, 1025);
        assert_eq!(mem.get(0x200, 1), &[S_OK]);
        assert_eq!(mem.get(0x1000, 1), &[2]);
        assert_eq!(mem.get(0x1000 + 512, 1), &[3]);
        // Served by the disk model: access time plus transfer.
        assert_eq!(s.due_ns, DiskTiming::default().service_ns(1024));
        mem.put(0x3000, &[0xab; 512]);
        let c = request(&mut mem, T_OUT, 7, (0x3000, 512), false);
        let s2 = d.serve(&mut mem, &c, 0).unwrap();
        assert_eq!(s2.written, 1);
        assert!(s2.due_ns > s.due_ns, "requests queue behind each other");
        let file = std::fs::read(&p.0).unwrap();
        assert_eq!(&file[7 * 512..8 * 512], &[0xab; 512][..]);
        assert_eq!(d.stats.reads, 1);
        assert_eq!(d.stats.bytes_written, 512);
    }

    #[test]
    fn bad_requests_complete_with_an_error_and_leave_the_disk_alone() {
        let (p, mut d) = disk(8, DiskMode::ReadWrite);
        let before = std::fs::read(&p.0).unwrap();
        let mut mem = TestMem::new(0x10000);
        // Past the end of the disk.
        let c = request(&mut mem, T_IN, 7, (0x1000, 1024), true);
        d.serve(&mut mem, &c, 0).unwrap();
        assert_eq!(mem.get(0x200, 1), &[S_IOERR]);
        // A write whose data lies outside guest memory.
        let c = request(&mut mem, T_OUT, 0, (0xffff_0000, 512), false);
        d.serve(&mut mem, &c, 0).unwrap();
        assert_eq!(mem.get(0x200, 1), &[S_IOERR]);
        // A read into memory the guest does not have.
        let c = request(&mut mem, T_IN, 0, (0xfff0, 512), true);
        d.serve(&mut mem, &c, 0).unwrap();
        assert_eq!(mem.get(0x200, 1), &[S_IOERR]);
        // Not whole sectors; an unknown request type.
        let c = request(&mut mem, T_OUT, 0, (0x1000, 100), false);
        d.serve(&mut mem, &c, 0).unwrap();
        assert_eq!(mem.get(0x200, 1), &[S_IOERR]);
        let c = request(&mut mem, 77, 0, (0x1000, 512), true);
        d.serve(&mut mem, &c, 0).unwrap();
        assert_eq!(mem.get(0x200, 1), &[S_UNSUPP]);
        assert_eq!(d.stats.dma_errors, 2);
        assert_eq!(
            std::fs::read(&p.0).unwrap(),
            before,
            "the disk is untouched"
        );
    }

    #[test]
    fn read_only_disks_refuse_writes() {
        let (p, mut d) = disk(4, DiskMode::ReadOnly);
        assert_ne!(d.features() & F_RO, 0);
        let mut mem = TestMem::new(0x10000);
        let c = request(&mut mem, T_OUT, 0, (0x1000, 512), false);
        d.serve(&mut mem, &c, 0).unwrap();
        assert_eq!(mem.get(0x200, 1), &[S_IOERR]);
        assert_eq!(std::fs::read(&p.0).unwrap()[0], 0);
    }

    #[test]
    fn copy_on_write_disks_keep_writes_apart_and_never_touch_the_file() {
        let (p, mut d) = disk(16, DiskMode::CopyOnWrite);
        let before = std::fs::read(&p.0).unwrap();
        assert_eq!(d.features() & F_RO, 0, "the guest may write");
        let mut mem = TestMem::new(0x10000);
        mem.put(0x3000, &[0xcd; 1024]);
        let c = request(&mut mem, T_OUT, 3, (0x3000, 1024), false);
        d.serve(&mut mem, &c, 0).unwrap();
        assert_eq!(mem.get(0x200, 1), &[S_OK]);
        // Reads see the written sectors over the base.
        let c = request(&mut mem, T_IN, 2, (0x5000, 2048), true);
        d.serve(&mut mem, &c, 0).unwrap();
        assert_eq!(mem.get(0x5000, 1), &[2]);
        assert_eq!(mem.get(0x5000 + 512, 1024), &[0xcd; 1024][..]);
        assert_eq!(mem.get(0x5000 + 1536, 1), &[5]);
        assert_eq!(std::fs::read(&p.0).unwrap(), before);
        assert_eq!(d.overlay().unwrap().sectors(), 2);
        // A new device on the same file starts from the base again.
        let d2 = BlockDevice::open(&p.0, DiskMode::CopyOnWrite, DiskTiming::default()).unwrap();
        assert_eq!(d2.overlay().unwrap().sectors(), 0);
        assert_eq!(d2.identity(), d.identity());
    }

    /// Memory that maps whole disk pages: records them, and reports a hit
    /// for a page it has seen before.
    struct MappingMem {
        inner: TestMem,
        mapped: Vec<(u64, u64)>,
    }

    impl DmaMemory for MappingMem {
        fn check(&self, addr: u64, len: u64) -> Result<(), crate::virtio::DmaError> {
            self.inner.check(addr, len)
        }
        fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), crate::virtio::DmaError> {
            self.inner.read(addr, buf)
        }
        fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), crate::virtio::DmaError> {
            self.inner.write(addr, data)
        }
        fn maps_disk_pages(&self) -> bool {
            true
        }
        fn map_disk_page(
            &mut self,
            addr: u64,
            page: &DiskPage<'_>,
            load: &mut crate::virtio::LoadPage<'_>,
        ) -> Result<MappedPage, crate::virtio::DmaError> {
            let hit = self.mapped.iter().any(|(_, s)| *s == page.sector);
            let mut buf = [0u8; 4096];
            load(&mut buf).unwrap();
            self.inner.write(addr, &buf)?;
            self.mapped.push((addr, page.sector));
            Ok(if hit {
                MappedPage::Hit
            } else {
                MappedPage::Filled
            })
        }
    }

    #[test]
    fn whole_aligned_pages_of_copy_on_write_disks_are_offered_for_mapping() {
        let (_p, mut d) = disk(32, DiskMode::CopyOnWrite);
        let mut mem = MappingMem {
            inner: TestMem::new(0x10000),
            mapped: Vec::new(),
        };
        // Two pages at a page-aligned buffer: both mapped, disk time for both.
        let c = request(&mut mem.inner, T_IN, 8, (0x4000, 8192), true);
        let s = d.serve(&mut mem, &c, 0).unwrap();
        assert_eq!(mem.mapped, vec![(0x4000, 8), (0x5000, 16)]);
        assert_eq!(s.due_ns, DiskTiming::default().service_ns(8192));
        assert_eq!(mem.inner.get(0x5000, 1), &[16]);
        // Again: hits take no transfer time.
        let c = request(&mut mem.inner, T_IN, 8, (0x4000, 4096), true);
        let s2 = d.serve(&mut mem, &c, s.due_ns).unwrap();
        assert_eq!(s2.due_ns - s.due_ns, DiskTiming::default().service_ns(0));
        assert_eq!((d.stats.pages_mapped, d.stats.pages_cached), (3, 1));
        // An unaligned buffer, a partial page and a page this guest wrote
        // are copied.
        let c = request(&mut mem.inner, T_IN, 0, (0x6200, 4096), true);
        d.serve(&mut mem, &c, 0).unwrap();
        let c = request(&mut mem.inner, T_IN, 0, (0x8000, 2048), true);
        d.serve(&mut mem, &c, 0).unwrap();
        mem.inner.put(0x3000, &[0xee; 512]);
        let c = request(&mut mem.inner, T_OUT, 25, (0x3000, 512), false);
        d.serve(&mut mem, &c, 0).unwrap();
        let c = request(&mut mem.inner, T_IN, 24, (0x9000, 4096), true);
        d.serve(&mut mem, &c, 0).unwrap();
        assert_eq!(mem.mapped.len(), 3, "none of those mapped");
        assert_eq!(mem.inner.get(0x9000 + 512, 2), &[0xee, 0xee]);
        assert_eq!(mem.inner.get(0x6200, 1), &[0]);
        // A persistent disk is never offered.
        let (_q, mut rw) = disk(16, DiskMode::ReadWrite);
        let c = request(&mut mem.inner, T_IN, 8, (0x4000, 4096), true);
        rw.serve(&mut mem, &c, 0).unwrap();
        assert_eq!(mem.mapped.len(), 3);
        assert_ne!(rw.features() & F_SIZE_MAX, 0);
        assert_eq!(&rw.config()[8..12], &4096u32.to_le_bytes());
    }

    #[test]
    fn malformed_requests_break_the_ring() {
        let (_p, mut d) = disk(4, DiskMode::ReadWrite);
        let mut mem = TestMem::new(0x10000);
        let short = Chain {
            head: 0,
            segments: vec![Segment {
                addr: 0x100,
                len: 8,
                writable: false,
            }],
        };
        assert!(d.serve(&mut mem, &short, 0).is_err());
        let mut c = request(&mut mem, T_IN, 0, (0x1000, 512), true);
        c.segments[2].addr = 0x20_0000;
        assert!(d.serve(&mut mem, &c, 0).is_err(), "status outside memory");
    }

    #[test]
    fn get_id_and_config() {
        let (p, mut d) = disk(4, DiskMode::ReadWrite);
        let mut mem = TestMem::new(0x10000);
        let c = request(&mut mem, T_GET_ID, 0, (0x1000, 20), true);
        let s = d.serve(&mut mem, &c, 5).unwrap();
        assert_eq!(s.due_ns, 5);
        let name = p.0.file_name().unwrap().to_string_lossy().into_owned();
        let n = name.len().min(20);
        assert_eq!(mem.get(0x1000, n), &name.as_bytes()[..n]);
        assert_eq!(&d.config()[0..8], &4u64.to_le_bytes());
    }

    #[test]
    fn bad_disk_files_are_clear_errors() {
        let p = tempfile_path::TempPath::new();
        assert!(matches!(
            BlockDevice::open(&p.0, DiskMode::ReadWrite, DiskTiming::default()),
            Err(DiskError::Io { .. })
        ));
        std::fs::write(&p.0, [0u8; 100]).unwrap();
        let e = BlockDevice::open(&p.0, DiskMode::ReadWrite, DiskTiming::default()).unwrap_err();
        assert!(e.to_string().contains("not a multiple of 512"), "{e}");
        std::fs::write(&p.0, []).unwrap();
        assert!(matches!(
            BlockDevice::open(&p.0, DiskMode::ReadWrite, DiskTiming::default()),
            Err(DiskError::Empty { .. })
        ));
        assert!(matches!(
            BlockDevice::open(
                &std::env::temp_dir(),
                DiskMode::ReadOnly,
                DiskTiming::default()
            ),
            Err(DiskError::NotAFile { .. } | DiskError::Io { .. })
        ));
    }
}
