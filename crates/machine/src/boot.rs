//! Loading a kernel and handing over to it with the UHI boot protocol.
//!
//! The loader copies the kernel's ELF segments (for Debian: the
//! self-decompressing "zboot" image, whose decompressor then runs on the
//! simulated CPU), places the initrd at [`INITRD_BASE`] and the device tree
//! right after it, and sets the boot CPU's registers as UHI prescribes:
//! `a0 = -2`, `a1` = kernel-segment address of the device tree, `a2 = a3 = 0`,
//! `pc` = ELF entry, CPU in its reset state (Status = BEV | ERL).

use mips::{Cpu, MemError, PhysMem};
use thiserror::Error;

use crate::elf::{parse_elf, ElfError};
use crate::fdt::{build_fdt, BoardDescription, FdtError};
use crate::layout::INITRD_BASE;

/// Why a machine could not be prepared for boot.
#[derive(Debug, Error)]
pub enum BootError {
    /// The kernel file is not a loadable MIPS64 kernel.
    #[error("kernel")]
    Elf(#[from] ElfError),
    /// The device tree could not be built.
    #[error("device tree")]
    Fdt(#[from] FdtError),
    /// A kernel segment does not fit in RAM.
    #[error("kernel segment at {addr:#x} ({len:#x} bytes) does not fit in {ram} MiB of RAM")]
    KernelDoesNotFit {
        /// Physical load address.
        addr: u64,
        /// Bytes in memory.
        len: u64,
        /// RAM size in MiB.
        ram: u64,
    },
    /// The initrd and device tree do not fit in RAM.
    #[error("initrd of {len} bytes does not fit in RAM above {INITRD_BASE:#x} ({ram} MiB of RAM)")]
    InitrdDoesNotFit {
        /// Initrd size.
        len: u64,
        /// RAM size in MiB.
        ram: u64,
    },
    /// The kernel overlaps the initrd area.
    #[error(
        "kernel segment at {addr:#x} overlaps the initrd/device tree area at {INITRD_BASE:#x}"
    )]
    KernelOverlapsInitrd {
        /// Physical load address of the segment.
        addr: u64,
    },
    /// RAM access failed (should not happen after the checks above).
    #[error("loading into RAM")]
    Mem(#[from] MemError),
}

/// Memory a kernel can be loaded into: a machine's RAM, or a virtual
/// machine's guest-physical memory.
pub trait LoadTarget {
    /// Size in bytes (addresses `0..size` exist).
    fn size(&self) -> u64;
    /// Writes `data` at address `addr` (the range is inside `0..size`).
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MemError>;
}

impl LoadTarget for PhysMem {
    fn size(&self) -> u64 {
        PhysMem::size(self)
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MemError> {
        self.write_bytes(addr, data)
    }
}

/// Where things were placed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BootLayout {
    /// Kernel entry point (virtual).
    pub entry: u64,
    /// Initrd physical range (start, end), if any.
    pub initrd: Option<(u64, u64)>,
    /// Physical address of the device tree blob.
    pub dtb: u64,
    /// Size of the device tree blob.
    pub dtb_len: u64,
}

/// Loads `kernel` and `initrd` into `mem`, builds the device tree from `desc`
/// (its `initrd` field is filled in here) and places it.
pub fn load(
    mem: &mut dyn LoadTarget,
    kernel: &[u8],
    initrd: Option<&[u8]>,
    mut desc: BoardDescription,
) -> Result<BootLayout, BootError> {
    let ram = mem.size();
    let image = parse_elf(kernel)?;
    for seg in &image.segments {
        if seg.paddr.checked_add(seg.memsz).is_none_or(|end| end > ram) {
            return Err(BootError::KernelDoesNotFit {
                addr: seg.paddr,
                len: seg.memsz,
                ram: ram >> 20,
            });
        }
        if seg.paddr.saturating_add(seg.memsz) > INITRD_BASE {
            return Err(BootError::KernelOverlapsInitrd { addr: seg.paddr });
        }
        mem.write(seg.paddr, seg.data)?;
        let bss = seg.memsz - seg.data.len() as u64;
        if bss > 0 {
            mem.write(seg.paddr + seg.data.len() as u64, &vec![0; bss as usize])?;
        }
    }

    let initrd_range = initrd.map(|i| (INITRD_BASE, INITRD_BASE + i.len() as u64));
    let too_big = |len: u64| BootError::InitrdDoesNotFit {
        len,
        ram: ram >> 20,
    };
    if let Some((_, end)) = initrd_range {
        if end > ram {
            return Err(too_big(end - INITRD_BASE));
        }
    }
    desc.initrd = initrd_range;
    let fdt = build_fdt(&desc)?;
    // The device tree goes on the next page boundary after the initrd (libfdt
    // only needs 8-byte alignment).
    let dtb = initrd_range.map_or(INITRD_BASE, |(_, end)| end.next_multiple_of(4096));
    let needed = dtb + fdt.len() as u64;
    if needed > ram {
        return Err(too_big(initrd.map_or(0, |i| i.len() as u64)));
    }
    if let Some(i) = initrd {
        mem.write(INITRD_BASE, i)?;
    }
    mem.write(dtb, &fdt)?;
    Ok(BootLayout {
        entry: image.entry,
        initrd: initrd_range,
        dtb,
        dtb_len: fdt.len() as u64,
    })
}

/// Sets `cpu` up to enter the kernel with the UHI protocol.
pub fn uhi_handoff(cpu: &mut Cpu, layout: &BootLayout) {
    cpu.pc = layout.entry;
    cpu.set_gpr(4, (-2i64) as u64);
    // A KSEG0 pointer when the tree lies in the low 512 MiB (as firmware
    // passes it), else an XKPHYS cached pointer, which Linux accepts too.
    let dtb_ptr = if layout.dtb + layout.dtb_len <= 0x2000_0000 {
        0xffff_ffff_8000_0000 | layout.dtb
    } else {
        0x9800_0000_0000_0000 | layout.dtb
    };
    cpu.set_gpr(5, dtb_ptr);
    cpu.set_gpr(6, 0);
    cpu.set_gpr(7, 0);
}
