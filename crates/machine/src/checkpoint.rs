//! Machine checkpoints: the whole machine state in one file, to boot once
//! and measure many times (as SimOS users did).
//!
//! A checkpoint holds every CPU (registers, CP0, TLB, FPU, time, counters),
//! RAM, every device, the caches and miss counters of the timing model and
//! the statistics. Decoded code and translation caches are not stored: they
//! are rebuilt on demand and do not change what the guest sees or how many
//! cycles it takes, so a restored run gives the same results as the
//! uninterrupted one.
//!
//! File format (version 1):
//!
//! ```text
//! "DISCO-CHECKPOINT" (16 bytes) | version: u32 LE | gzip stream of:
//!     header length: u64 LE | header (postcard: note, machine state)
//!     page records: page number u32 LE | 4096 bytes   (non-zero pages only)
//!     end record:   0xffff_ffff
//! ```
//!
//! The gzip trailer's CRC-32 catches corruption; everything read is checked
//! against the rest before use, so a damaged or hostile file gives an error,
//! never a panic.

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use mips::PhysMem;
use thiserror::Error;

use crate::layout::{MAX_RAM, MIN_RAM};
use crate::machine::{Machine, MachineState};

/// First bytes of every checkpoint file.
pub const MAGIC: &[u8; 16] = b"DISCO-CHECKPOINT";
/// The format version this build writes and reads.
pub const VERSION: u32 = 1;

const PAGE: usize = 4096;
const END: u32 = u32::MAX;
/// Largest header accepted (the state without RAM is a few MiB at most).
const MAX_HEADER: u64 = 256 << 20;

/// Why a checkpoint could not be written or read.
#[derive(Debug, Error)]
pub enum CheckpointError {
    /// The file could not be opened, read or written.
    #[error("{0}")]
    Io(io::Error),
    /// The file is not a disco checkpoint.
    #[error("not a disco checkpoint (bad magic)")]
    NotACheckpoint,
    /// The file was written by an incompatible version.
    #[error("checkpoint format version {0} is not supported (this disco reads version {VERSION})")]
    Version(u32),
    /// The file is damaged or inconsistent.
    #[error("damaged checkpoint: {0}")]
    Corrupt(String),
    /// The machine has disks: their host files and in-flight requests are
    /// not part of a checkpoint (yet).
    #[error("a machine with disks cannot be checkpointed (disk state is not saved yet)")]
    HasDisks,
}

impl From<io::Error> for CheckpointError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            // Damaged compressed data or a failed CRC check.
            io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput => corrupt(e.to_string()),
            io::ErrorKind::UnexpectedEof => corrupt("truncated"),
            _ => CheckpointError::Io(e),
        }
    }
}

fn corrupt(what: impl Into<String>) -> CheckpointError {
    CheckpointError::Corrupt(what.into())
}

/// What a checkpoint file holds: the machine's state and the caller's note.
#[derive(serde::Serialize, serde::Deserialize)]
struct Header<'a> {
    note: String,
    state: MachineState<'a>,
}

impl Machine {
    /// Writes a checkpoint of the machine to `w`, with a free-form `note`
    /// (the caller's, e.g. what the guest is waiting for).
    pub fn write_checkpoint<W: Write>(&self, note: &str, w: W) -> Result<(), CheckpointError> {
        if !self.devices.virtio.0.is_empty() {
            return Err(CheckpointError::HasDisks);
        }
        let mut w = BufWriter::new(w);
        w.write_all(MAGIC)?;
        w.write_all(&VERSION.to_le_bytes())?;
        let mut z = GzEncoder::new(w, Compression::fast());
        let header = Header {
            note: note.to_string(),
            state: self.save_state(),
        };
        let bytes = postcard::to_stdvec(&header)
            .map_err(|e| io::Error::other(format!("cannot encode the machine state: {e}")))?;
        z.write_all(&(bytes.len() as u64).to_le_bytes())?;
        z.write_all(&bytes)?;
        for (n, page) in self.mem.as_slice().chunks_exact(PAGE).enumerate() {
            if page.iter().any(|&b| b != 0) {
                z.write_all(&(n as u32).to_le_bytes())?;
                z.write_all(page)?;
            }
        }
        z.write_all(&END.to_le_bytes())?;
        z.finish()?.flush()?;
        Ok(())
    }

    /// Reads a checkpoint written by [`Machine::write_checkpoint`]; returns
    /// the machine and the note.
    pub fn read_checkpoint<R: Read>(r: R) -> Result<(Machine, String), CheckpointError> {
        let mut r = BufReader::new(r);
        let mut magic = [0u8; 16];
        read_or_truncated(&mut r, &mut magic).map_err(|_| CheckpointError::NotACheckpoint)?;
        if &magic != MAGIC {
            return Err(CheckpointError::NotACheckpoint);
        }
        let version = u32::from_le_bytes(read_array(&mut r)?);
        if version != VERSION {
            return Err(CheckpointError::Version(version));
        }
        let mut z = GzDecoder::new(r);
        let len = u64::from_le_bytes(read_array(&mut z)?);
        if len > MAX_HEADER {
            return Err(corrupt(format!("machine state of {len} bytes")));
        }
        let mut bytes = Vec::new();
        (&mut z).take(len).read_to_end(&mut bytes)?;
        if bytes.len() as u64 != len {
            return Err(corrupt("truncated"));
        }
        let header: Header<'static> =
            postcard::from_bytes(&bytes).map_err(|e| corrupt(format!("machine state: {e}")))?;
        let size = header.state.mem_bytes;
        if !(MIN_RAM..=MAX_RAM).contains(&size) || !size.is_multiple_of(PAGE as u64) {
            return Err(corrupt(format!("memory size {size} is not supported")));
        }
        let mut mem = PhysMem::new(size).map_err(|e| corrupt(format!("memory: {e}")))?;
        read_pages(&mut z, &mut mem)?;
        // Read to the end so that the gzip trailer (CRC-32, length) is checked.
        if z.read(&mut [0u8; 1])? != 0 {
            return Err(corrupt("data after the last memory page"));
        }
        let machine = Machine::from_state(header.state, mem).map_err(corrupt)?;
        Ok((machine, header.note))
    }

    /// Writes a checkpoint file at `path` (replacing it only once complete).
    pub fn save_checkpoint(&self, path: &Path, note: &str) -> Result<(), CheckpointError> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".partial");
        let tmp = std::path::PathBuf::from(tmp);
        let result = std::fs::File::create(&tmp)
            .map_err(CheckpointError::from)
            .and_then(|f| self.write_checkpoint(note, f))
            .and_then(|()| std::fs::rename(&tmp, path).map_err(CheckpointError::from));
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    /// Reads the checkpoint file at `path`; returns the machine and the note.
    pub fn load_checkpoint(path: &Path) -> Result<(Machine, String), CheckpointError> {
        Machine::read_checkpoint(std::fs::File::open(path)?)
    }
}

/// Reads page records into `mem` up to the end record.
fn read_pages(z: &mut impl Read, mem: &mut PhysMem) -> Result<(), CheckpointError> {
    let pages = mem.size() / PAGE as u64;
    let mut page = vec![0u8; PAGE];
    let mut last: Option<u32> = None;
    loop {
        let n = u32::from_le_bytes(read_array(z)?);
        if n == END {
            return Ok(());
        }
        if u64::from(n) >= pages || last.is_some_and(|l| n <= l) {
            return Err(corrupt(format!("memory page {n} out of place")));
        }
        read_or_truncated(z, &mut page)?;
        mem.write_bytes(u64::from(n) * PAGE as u64, &page)
            .map_err(|e| corrupt(format!("memory: {e}")))?;
        last = Some(n);
    }
}

fn read_array<const N: usize>(r: &mut impl Read) -> Result<[u8; N], CheckpointError> {
    let mut a = [0u8; N];
    read_or_truncated(r, &mut a)?;
    Ok(a)
}

fn read_or_truncated(r: &mut impl Read, buf: &mut [u8]) -> Result<(), CheckpointError> {
    Ok(r.read_exact(buf)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::MachineConfig;

    /// A minimal ELF64 little-endian MIPS executable loading `code` at
    /// KSEG0 0x8010_0000 with the entry at its start.
    fn kernel(code: &[u32]) -> Vec<u8> {
        let vaddr: u64 = 0xffff_ffff_8010_0000;
        let text: Vec<u8> = code.iter().flat_map(|w| w.to_le_bytes()).collect();
        let mut f = vec![0u8; 0x1000];
        f[..7].copy_from_slice(b"\x7fELF\x02\x01\x01");
        f[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        f[18..20].copy_from_slice(&8u16.to_le_bytes()); // EM_MIPS
        f[20..24].copy_from_slice(&1u32.to_le_bytes());
        f[24..32].copy_from_slice(&vaddr.to_le_bytes());
        f[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        f[52..54].copy_from_slice(&64u16.to_le_bytes());
        f[54..56].copy_from_slice(&56u16.to_le_bytes());
        f[56..58].copy_from_slice(&1u16.to_le_bytes());
        let ph = &mut f[64..120];
        ph[0..4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
        ph[4..8].copy_from_slice(&7u32.to_le_bytes());
        ph[8..16].copy_from_slice(&0x1000u64.to_le_bytes());
        ph[16..24].copy_from_slice(&vaddr.to_le_bytes());
        ph[24..32].copy_from_slice(&vaddr.to_le_bytes());
        ph[32..40].copy_from_slice(&(text.len() as u64).to_le_bytes());
        ph[40..48].copy_from_slice(&(text.len() as u64).to_le_bytes());
        f.extend_from_slice(&text);
        f
    }

    /// Two CPUs' worth of machine running a loop that counts in $t0 and
    /// stores the count to 0x8020_0000 (the second CPU stays powered down).
    fn machine() -> Machine {
        let code = [
            0x3c08_0000, // lui   t0, 0
            0x3c09_8020, // lui   t1, 0x8020
            0x2508_0001, // addiu t0, t0, 1
            0xad28_0000, // sw    t0, 0(t1)
            0x1000_fffd, // b     -3 (to addiu)
            0x0000_0000, // nop
        ];
        let mut config = MachineConfig::new(kernel(&code), None);
        config.cpus = 2;
        config.nodes = 2;
        Machine::new(&config).expect("machine")
    }

    fn saved(m: &Machine) -> Vec<u8> {
        let mut bytes = Vec::new();
        m.write_checkpoint("note", &mut bytes).unwrap();
        bytes
    }

    /// A checkpoint of `m` whose state `tamper` changed (valid gzip and CRC).
    fn tampered(m: &Machine, tamper: impl FnOnce(&mut MachineState<'_>)) -> Vec<u8> {
        let mut header = Header {
            note: String::new(),
            state: m.save_state(),
        };
        tamper(&mut header.state);
        let body = postcard::to_stdvec(&header).unwrap();
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&VERSION.to_le_bytes());
        let mut z = GzEncoder::new(out, Compression::fast());
        z.write_all(&(body.len() as u64).to_le_bytes()).unwrap();
        z.write_all(&body).unwrap();
        z.write_all(&END.to_le_bytes()).unwrap();
        z.finish().unwrap()
    }

    #[test]
    fn restored_machine_continues_exactly_like_the_original() {
        let mut m = machine();
        m.run_for(12_345);
        let bytes = saved(&m);
        let (mut r, note) = Machine::read_checkpoint(&bytes[..]).unwrap();
        assert_eq!(note, "note");
        m.run_for(50_000);
        r.run_for(50_000);
        assert_eq!(r.cycles(), m.cycles());
        assert_eq!(r.instructions(), m.instructions());
        assert_eq!(r.cpus[0].save_state(), m.cpus[0].save_state());
        assert_eq!(r.mem.as_slice(), m.mem.as_slice());
        let count = m.mem.read_u32(0x20_0000).unwrap();
        assert!(count > 10_000, "the loop ran: {count}");
    }

    #[test]
    fn inconsistent_states_are_refused_not_trusted() {
        let m = machine();
        type Tamper = Box<dyn FnOnce(&mut MachineState<'_>)>;
        let cases: Vec<(&str, Tamper)> = vec![
            ("power flags", Box::new(|s| s.powered.push(true))),
            ("CPU numbering", Box::new(|s| s.cpus[1].cpu_num = 0)),
            ("registers", Box::new(|s| s.cpus[0].gpr.truncate(31))),
            ("clock", Box::new(|s| s.clock_hz = 0)),
            ("quantum", Box::new(|s| s.quantum = 0)),
            ("memory size", Box::new(|s| s.mem_bytes = 12_345)),
            (
                "current CPU",
                Box::new(|s| s.devices.to_mut().current_cpu = 9),
            ),
            ("no CPS", Box::new(|s| s.devices.to_mut().smp = None)),
            (
                "too many CPUs",
                Box::new(|s| {
                    let cpu = s.cpus[1].clone();
                    s.cpus.push(cpu);
                    s.powered.push(false);
                }),
            ),
        ];
        for (what, tamper) in cases {
            let bytes = tampered(&m, tamper);
            match Machine::read_checkpoint(&bytes[..]) {
                Err(CheckpointError::Corrupt(_)) => {}
                other => panic!("{what}: {:?}", other.map(|(_, n)| n)),
            }
        }
        // The untampered state itself is accepted.
        assert!(Machine::read_checkpoint(&tampered(&m, |_| {})[..]).is_ok());
    }

    #[test]
    fn pages_out_of_range_or_order_are_refused() {
        let m = machine();
        let good = tampered(&m, |_| {});
        let mut z = GzDecoder::new(&good[20..]);
        let mut plain = Vec::new();
        z.read_to_end(&mut plain).unwrap();
        plain.truncate(plain.len() - 4); // drop the end record
        for page in [u32::MAX - 1, (m.mem.size() / 4096) as u32] {
            let mut body = plain.clone();
            body.extend_from_slice(&page.to_le_bytes());
            body.extend_from_slice(&[1u8; PAGE]);
            body.extend_from_slice(&END.to_le_bytes());
            let mut out = good[..20].to_vec();
            let mut z = GzEncoder::new(&mut out, Compression::fast());
            z.write_all(&body).unwrap();
            z.finish().unwrap();
            let err = Machine::read_checkpoint(&out[..]).map(|_| ()).unwrap_err();
            assert!(err.to_string().contains("out of place"), "{err}");
        }
    }
}
