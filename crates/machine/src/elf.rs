//! Loading the kernel: a parser for ELF64 little-endian MIPS executables.
//!
//! [`parse_elf`] checks the file and returns its entry point and `PT_LOAD`
//! segments; it copies nothing and never panics, whatever the input.
//!
//! MIPS kernels are linked at virtual addresses in the unmapped kernel
//! segments — KSEG0/KSEG1 (`0xffff_ffff_8000_0000..0xffff_ffff_c000_0000`,
//! the low 512 MiB of physical memory, cached/uncached) or XKPHYS
//! (`0x8000_0000_0000_0000..0xc000_0000_0000_0000`, bits 61:59 a cache
//! attribute, the rest the physical address) — so each segment's virtual
//! address must lie in one of them. Its physical load address comes from
//! `p_paddr`, converted the same way when it is itself such a virtual address
//! (the Debian zboot image stores the KSEG0 address there too), or taken as
//! is when it is below 2^[`mips::cp0::PABITS`].

use thiserror::Error;

/// `e_machine` of MIPS.
pub const EM_MIPS: u16 = 8;

const ELF_MAGIC: [u8; 4] = *b"\x7fELF";
const ELFCLASS64: u8 = 2;
const ELFDATA2LSB: u8 = 1;
const ELFDATA2MSB: u8 = 2;
const ET_EXEC: u16 = 2;
const PT_LOAD: u32 = 1;
const EHDR_SIZE: usize = 64;
const PHDR_SIZE: usize = 56;

const KSEG0: u64 = 0xffff_ffff_8000_0000;
const KSEG2: u64 = 0xffff_ffff_c000_0000;
const KSEG_PA_MASK: u64 = 0x1fff_ffff;
const XKPHYS: u64 = 0x8000_0000_0000_0000;
const XKSEG: u64 = 0xc000_0000_0000_0000;
const XKPHYS_PA_MASK: u64 = (1 << 59) - 1;
const PA_LIMIT_MASK: u64 = (1 << mips::cp0::PABITS) - 1;

/// One `PT_LOAD` segment of a kernel image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElfSegment<'a> {
    /// Virtual address the segment is linked at (KSEG0, KSEG1 or XKPHYS).
    pub vaddr: u64,
    /// Physical address to load it at.
    pub paddr: u64,
    /// The bytes to copy there (`p_filesz` bytes of the file).
    pub data: &'a [u8],
    /// Size in memory; the bytes past `data` are zero.
    pub memsz: u64,
}

/// What the loader needs from a kernel ELF file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfImage<'a> {
    /// Entry point as stored in the file: a 64-bit (sign-extended) virtual
    /// address, the PC to start at.
    pub entry: u64,
    /// The non-empty `PT_LOAD` segments, in file order.
    pub segments: Vec<ElfSegment<'a>>,
}

/// Why a file is not a loadable kernel image.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ElfError {
    /// The file does not start with the ELF magic.
    #[error("not an ELF file (bad magic number)")]
    NotElf,
    /// The file is shorter than an ELF64 header.
    #[error("ELF header truncated: the file has {0} bytes, an ELF64 header needs 64")]
    Truncated(usize),
    /// ELF class other than 64-bit.
    #[error("not a 64-bit ELF file (class {0}; expected 2 = ELFCLASS64)")]
    Not64Bit(u8),
    /// Big-endian data encoding.
    #[error("big-endian ELF file: this machine is little-endian (mips64el)")]
    BigEndian,
    /// Data encoding neither little- nor big-endian.
    #[error("invalid ELF data encoding {0} (expected 1 = little-endian)")]
    BadEncoding(u8),
    /// Machine other than MIPS.
    #[error("not a MIPS ELF file (machine {0}; expected 8 = EM_MIPS)")]
    NotMips(u16),
    /// File type other than an executable.
    #[error("not an executable ELF file (type {0}; expected 2 = ET_EXEC)")]
    NotExecutable(u16),
    /// Program header entries smaller than an ELF64 program header.
    #[error("program header entries are {0} bytes; ELF64 needs at least 56")]
    BadProgramHeaderSize(u16),
    /// The program header table is not inside the file.
    #[error("program header table ({count} entries of {entry_size} bytes at {offset:#x}) is outside the file")]
    ProgramHeadersOutOfFile {
        /// `e_phoff`.
        offset: u64,
        /// `e_phnum`.
        count: u16,
        /// `e_phentsize`.
        entry_size: u16,
    },
    /// No non-empty `PT_LOAD` segment.
    #[error("the ELF file has nothing to load (no non-empty PT_LOAD segment)")]
    NoLoadSegments,
    /// A segment's file data is not inside the file.
    #[error("segment {index}: file data {offset:#x}+{filesz:#x} is outside the file ({file_len:#x} bytes)")]
    SegmentOutOfFile {
        /// Program header index.
        index: usize,
        /// `p_offset`.
        offset: u64,
        /// `p_filesz`.
        filesz: u64,
        /// File length.
        file_len: usize,
    },
    /// A segment has more file data than memory.
    #[error("segment {index}: file size {filesz:#x} exceeds memory size {memsz:#x}")]
    FileSizeExceedsMemSize {
        /// Program header index.
        index: usize,
        /// `p_filesz`.
        filesz: u64,
        /// `p_memsz`.
        memsz: u64,
    },
    /// A segment's virtual or physical range is not inside one unmapped
    /// kernel segment (or, for a physical `p_paddr`, beyond the physical
    /// address space).
    #[error("segment {index}: {which} range {addr:#x}+{memsz:#x} is not inside one unmapped kernel segment (KSEG0, KSEG1 or XKPHYS) or physical memory")]
    NotUnmapped {
        /// Program header index.
        index: usize,
        /// "virtual" or "physical".
        which: &'static str,
        /// `p_vaddr` or `p_paddr`.
        addr: u64,
        /// `p_memsz`.
        memsz: u64,
    },
    /// Address or offset arithmetic overflows 64 bits.
    #[error("segment {index}: address or offset arithmetic overflows")]
    Overflow {
        /// Program header index.
        index: usize,
    },
    /// Two segments would be loaded at overlapping physical addresses.
    #[error("segments {first} and {second} overlap in physical memory")]
    SegmentsOverlap {
        /// Program header index of the lower segment.
        first: usize,
        /// Program header index of the other one.
        second: usize,
    },
}

/// The physical address behind an unmapped kernel virtual address (KSEG0,
/// KSEG1 or XKPHYS below 2^PABITS), or `None` for any other address.
pub fn kernel_virt_to_phys(va: u64) -> Option<u64> {
    if (KSEG0..KSEG2).contains(&va) {
        return Some(va & KSEG_PA_MASK);
    }
    if (XKPHYS..XKSEG).contains(&va) {
        let pa = va & XKPHYS_PA_MASK;
        return (pa <= PA_LIMIT_MASK).then_some(pa);
    }
    None
}

/// Physical start of `[addr, addr + memsz)` if the whole range maps
/// contiguously through one unmapped segment (`memsz > 0`).
fn virt_range_to_phys(addr: u64, memsz: u64) -> Option<u64> {
    let start = kernel_virt_to_phys(addr)?;
    let last = kernel_virt_to_phys(addr.checked_add(memsz - 1)?)?;
    (start.checked_add(memsz - 1)? == last).then_some(start)
}

/// Physical start of a segment whose `p_paddr` is `addr`: an unmapped
/// virtual address is converted, a physical one taken as is.
fn load_range_to_phys(addr: u64, memsz: u64) -> Option<u64> {
    if kernel_virt_to_phys(addr).is_some() {
        return virt_range_to_phys(addr, memsz);
    }
    let last = addr.checked_add(memsz - 1)?;
    (last <= PA_LIMIT_MASK).then_some(addr)
}

/// Little-endian field readers over a slice whose length was checked.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn bytes<const N: usize>(&self, at: usize) -> [u8; N] {
        let mut out = [0; N];
        if let Some(src) = self.0.get(at..at + N) {
            out.copy_from_slice(src);
        }
        out
    }
    fn u16(&self, at: usize) -> u16 {
        u16::from_le_bytes(self.bytes(at))
    }
    fn u32(&self, at: usize) -> u32 {
        u32::from_le_bytes(self.bytes(at))
    }
    fn u64(&self, at: usize) -> u64 {
        u64::from_le_bytes(self.bytes(at))
    }
}

/// The fields of one program header that matter here.
struct ProgramHeader {
    p_type: u32,
    offset: u64,
    vaddr: u64,
    paddr: u64,
    filesz: u64,
    memsz: u64,
}

impl ProgramHeader {
    fn read(entry: &[u8]) -> Self {
        let f = Fields(entry);
        ProgramHeader {
            p_type: f.u32(0),
            offset: f.u64(8),
            vaddr: f.u64(16),
            paddr: f.u64(24),
            filesz: f.u64(32),
            memsz: f.u64(40),
        }
    }
}

/// Parses an ELF64 little-endian MIPS executable.
pub fn parse_elf(bytes: &[u8]) -> Result<ElfImage<'_>, ElfError> {
    if bytes.len() < ELF_MAGIC.len() || bytes[..ELF_MAGIC.len()] != ELF_MAGIC {
        return Err(ElfError::NotElf);
    }
    if bytes.len() < EHDR_SIZE {
        return Err(ElfError::Truncated(bytes.len()));
    }
    let header = Fields(&bytes[..EHDR_SIZE]);
    match bytes[4] {
        ELFCLASS64 => {}
        class => return Err(ElfError::Not64Bit(class)),
    }
    match bytes[5] {
        ELFDATA2LSB => {}
        ELFDATA2MSB => return Err(ElfError::BigEndian),
        other => return Err(ElfError::BadEncoding(other)),
    }
    let e_type = header.u16(16);
    let e_machine = header.u16(18);
    if e_machine != EM_MIPS {
        return Err(ElfError::NotMips(e_machine));
    }
    if e_type != ET_EXEC {
        return Err(ElfError::NotExecutable(e_type));
    }
    let entry = header.u64(24);
    let phoff = header.u64(32);
    let phentsize = header.u16(54);
    let phnum = header.u16(56);
    if usize::from(phentsize) < PHDR_SIZE {
        return Err(ElfError::BadProgramHeaderSize(phentsize));
    }

    let table = usize::try_from(phoff)
        .ok()
        .and_then(|start| {
            let len = usize::from(phnum).checked_mul(usize::from(phentsize))?;
            bytes.get(start..start.checked_add(len)?)
        })
        .ok_or(ElfError::ProgramHeadersOutOfFile {
            offset: phoff,
            count: phnum,
            entry_size: phentsize,
        })?;

    let mut segments = Vec::new();
    let mut placed: Vec<(u64, u64, usize)> = Vec::new();
    for (index, entry_bytes) in table.chunks_exact(usize::from(phentsize)).enumerate() {
        let ph = ProgramHeader::read(entry_bytes);
        if ph.p_type != PT_LOAD {
            continue;
        }
        if ph.filesz > ph.memsz {
            return Err(ElfError::FileSizeExceedsMemSize {
                index,
                filesz: ph.filesz,
                memsz: ph.memsz,
            });
        }
        if ph.memsz == 0 {
            continue;
        }
        let data = segment_data(bytes, index, &ph)?;
        let not_unmapped = |which, addr| ElfError::NotUnmapped {
            index,
            which,
            addr,
            memsz: ph.memsz,
        };
        virt_range_to_phys(ph.vaddr, ph.memsz).ok_or_else(|| not_unmapped("virtual", ph.vaddr))?;
        let paddr = load_range_to_phys(ph.paddr, ph.memsz)
            .ok_or_else(|| not_unmapped("physical", ph.paddr))?;
        // Cannot overflow: load_range_to_phys checked paddr + memsz - 1.
        placed.push((paddr, paddr + (ph.memsz - 1), index));
        segments.push(ElfSegment {
            vaddr: ph.vaddr,
            paddr,
            data,
            memsz: ph.memsz,
        });
    }
    if segments.is_empty() {
        return Err(ElfError::NoLoadSegments);
    }
    check_overlaps(placed)?;
    Ok(ElfImage { entry, segments })
}

/// The file bytes of a segment.
fn segment_data<'a>(
    bytes: &'a [u8],
    index: usize,
    ph: &ProgramHeader,
) -> Result<&'a [u8], ElfError> {
    let end = ph
        .offset
        .checked_add(ph.filesz)
        .ok_or(ElfError::Overflow { index })?;
    let range = usize::try_from(ph.offset)
        .ok()
        .zip(usize::try_from(end).ok())
        .and_then(|(start, end)| bytes.get(start..end));
    range.ok_or(ElfError::SegmentOutOfFile {
        index,
        offset: ph.offset,
        filesz: ph.filesz,
        file_len: bytes.len(),
    })
}

/// Rejects segments whose physical ranges (first, last, index) overlap.
fn check_overlaps(mut placed: Vec<(u64, u64, usize)>) -> Result<(), ElfError> {
    placed.sort_unstable();
    for pair in placed.windows(2) {
        let (_, first_last, first) = pair[0];
        let (second_start, _, second) = pair[1];
        if second_start <= first_last {
            return Err(ElfError::SegmentsOverlap { first, second });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// One program header for the synthetic files.
    #[derive(Debug, Clone, Copy)]
    struct Ph {
        p_type: u32,
        offset: u64,
        vaddr: u64,
        paddr: u64,
        filesz: u64,
        memsz: u64,
    }

    fn load(offset: u64, vaddr: u64, filesz: u64, memsz: u64) -> Ph {
        Ph {
            p_type: PT_LOAD,
            offset,
            vaddr,
            paddr: vaddr,
            filesz,
            memsz,
        }
    }

    /// Builds an ELF64 LE MIPS executable: header, program headers at 64,
    /// then `payload_len` bytes of payload (byte i = i % 251) from 0x1000.
    fn elf(entry: u64, phdrs: &[Ph], payload_len: usize) -> Vec<u8> {
        let mut file = vec![0u8; 0x1000 + payload_len];
        file[..4].copy_from_slice(b"\x7fELF");
        file[4] = ELFCLASS64;
        file[5] = ELFDATA2LSB;
        file[6] = 1;
        file[16..18].copy_from_slice(&ET_EXEC.to_le_bytes());
        file[18..20].copy_from_slice(&EM_MIPS.to_le_bytes());
        file[20..24].copy_from_slice(&1u32.to_le_bytes());
        file[24..32].copy_from_slice(&entry.to_le_bytes());
        file[32..40].copy_from_slice(&64u64.to_le_bytes());
        file[52..54].copy_from_slice(&64u16.to_le_bytes());
        file[54..56].copy_from_slice(&56u16.to_le_bytes());
        let count = u16::try_from(phdrs.len()).expect("few program headers");
        file[56..58].copy_from_slice(&count.to_le_bytes());
        for (i, ph) in phdrs.iter().enumerate() {
            let at = 64 + i * 56;
            file[at..at + 4].copy_from_slice(&ph.p_type.to_le_bytes());
            file[at + 4..at + 8].copy_from_slice(&7u32.to_le_bytes());
            file[at + 8..at + 16].copy_from_slice(&ph.offset.to_le_bytes());
            file[at + 16..at + 24].copy_from_slice(&ph.vaddr.to_le_bytes());
            file[at + 24..at + 32].copy_from_slice(&ph.paddr.to_le_bytes());
            file[at + 32..at + 40].copy_from_slice(&ph.filesz.to_le_bytes());
            file[at + 40..at + 48].copy_from_slice(&ph.memsz.to_le_bytes());
            file[at + 48..at + 56].copy_from_slice(&0x1_0000u64.to_le_bytes());
        }
        for (i, byte) in file[0x1000..].iter_mut().enumerate() {
            *byte = (i % 251) as u8;
        }
        file
    }

    /// Shaped like the Debian zboot vmlinuz: one PT_LOAD in KSEG0 with the
    /// KSEG0 address in p_paddr too, entry at its start.
    fn zboot_like() -> Vec<u8> {
        let vaddr = 0xffff_ffff_812a_0000;
        elf(vaddr, &[load(0x1000, vaddr, 0x800, 0x2000)], 0x800)
    }

    #[test]
    fn zboot_like_image_loads_at_its_kseg0_physical_address() {
        let file = zboot_like();
        let image = parse_elf(&file).expect("valid image");
        assert_eq!(image.entry, 0xffff_ffff_812a_0000);
        assert_eq!(image.segments.len(), 1);
        let seg = image.segments[0];
        assert_eq!(seg.vaddr, 0xffff_ffff_812a_0000);
        assert_eq!(seg.paddr, 0x012a_0000);
        assert_eq!(seg.memsz, 0x2000);
        assert_eq!(seg.data, &file[0x1000..0x1800]);
    }

    #[test]
    fn physical_p_paddr_is_taken_as_is() {
        let mut ph = load(0x1000, 0xffff_ffff_8010_0000, 0x100, 0x100);
        ph.paddr = 0x0020_0000;
        let file = elf(0xffff_ffff_8010_0000, &[ph], 0x100);
        let image = parse_elf(&file).expect("valid");
        assert_eq!(image.segments[0].paddr, 0x0020_0000);
    }

    #[test]
    fn kseg1_and_xkphys_addresses_convert() {
        let kseg1 = load(0x1000, 0xffff_ffff_a100_0000, 0x10, 0x10);
        let xkphys = load(0x1010, 0x9800_0000_0200_0000, 0x10, 0x10);
        let file = elf(0, &[kseg1, xkphys], 0x20);
        let image = parse_elf(&file).expect("valid");
        assert_eq!(image.segments[0].paddr, 0x0100_0000);
        assert_eq!(image.segments[1].paddr, 0x0200_0000);
    }

    #[test]
    fn kernel_virt_to_phys_covers_the_unmapped_segments_only() {
        assert_eq!(kernel_virt_to_phys(0xffff_ffff_8000_1000), Some(0x1000));
        assert_eq!(
            kernel_virt_to_phys(0xffff_ffff_bfff_ffff),
            Some(0x1fff_ffff)
        );
        assert_eq!(
            kernel_virt_to_phys(0x9000_0000_1fc0_0000),
            Some(0x1fc0_0000)
        );
        assert_eq!(
            kernel_virt_to_phys(0xa800_00ff_ffff_ffff),
            Some(0xff_ffff_ffff)
        );
        assert_eq!(
            kernel_virt_to_phys(0x9000_0100_0000_0000),
            None,
            "beyond PABITS"
        );
        assert_eq!(
            kernel_virt_to_phys(0xffff_ffff_c000_0000),
            None,
            "KSEG2 is mapped"
        );
        assert_eq!(
            kernel_virt_to_phys(0x0000_0000_8000_0000),
            None,
            "user space"
        );
        assert_eq!(
            kernel_virt_to_phys(0xc000_0000_0000_0000),
            None,
            "XKSEG is mapped"
        );
    }

    #[test]
    fn non_load_and_empty_segments_are_skipped() {
        let mut note = load(0x1000, 0, 0x10, 0x10);
        note.p_type = 0x7000_0003; // PT_MIPS_ABIFLAGS
        let empty = load(0, 0xffff_ffff_8000_0000, 0, 0);
        let real = load(0x1000, 0xffff_ffff_8010_0000, 0x10, 0x10);
        let file = elf(0, &[note, empty, real], 0x10);
        let image = parse_elf(&file).expect("valid");
        assert_eq!(image.segments.len(), 1);
        assert_eq!(image.segments[0].paddr, 0x0010_0000);
    }

    #[test]
    fn bss_only_segment_has_no_data() {
        let bss = load(0, 0xffff_ffff_8100_0000, 0, 0x4000);
        let file = elf(0, &[bss], 0);
        let image = parse_elf(&file).expect("valid");
        assert!(image.segments[0].data.is_empty());
        assert_eq!(image.segments[0].memsz, 0x4000);
    }

    #[test]
    fn bad_magic_is_not_elf() {
        assert_eq!(parse_elf(b""), Err(ElfError::NotElf));
        assert_eq!(parse_elf(b"\x7fEL"), Err(ElfError::NotElf));
        assert_eq!(
            parse_elf(b"MZ\x90\x00 this is not ELF"),
            Err(ElfError::NotElf)
        );
    }

    #[test]
    fn short_file_is_truncated() {
        assert_eq!(parse_elf(&zboot_like()[..40]), Err(ElfError::Truncated(40)));
    }

    #[test]
    fn elf32_is_rejected() {
        let mut file = zboot_like();
        file[4] = 1;
        assert_eq!(parse_elf(&file), Err(ElfError::Not64Bit(1)));
    }

    #[test]
    fn big_endian_is_rejected() {
        let mut file = zboot_like();
        file[5] = ELFDATA2MSB;
        assert_eq!(parse_elf(&file), Err(ElfError::BigEndian));
        file[5] = 0;
        assert_eq!(parse_elf(&file), Err(ElfError::BadEncoding(0)));
    }

    #[test]
    fn other_machines_are_rejected() {
        let mut file = zboot_like();
        file[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
        assert_eq!(parse_elf(&file), Err(ElfError::NotMips(62)));
    }

    #[test]
    fn non_executables_are_rejected() {
        let mut file = zboot_like();
        file[16..18].copy_from_slice(&3u16.to_le_bytes()); // ET_DYN
        assert_eq!(parse_elf(&file), Err(ElfError::NotExecutable(3)));
    }

    #[test]
    fn program_header_table_is_checked() {
        let mut file = zboot_like();
        file[54..56].copy_from_slice(&32u16.to_le_bytes());
        assert_eq!(parse_elf(&file), Err(ElfError::BadProgramHeaderSize(32)));
        let mut file = zboot_like();
        file[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(
            parse_elf(&file),
            Err(ElfError::ProgramHeadersOutOfFile { .. })
        ));
        let mut file = zboot_like();
        file[56..58].copy_from_slice(&u16::MAX.to_le_bytes());
        assert!(matches!(
            parse_elf(&file),
            Err(ElfError::ProgramHeadersOutOfFile { .. })
        ));
    }

    #[test]
    fn larger_program_header_entries_are_accepted() {
        let mut file = zboot_like();
        file[54..56].copy_from_slice(&64u16.to_le_bytes());
        assert!(parse_elf(&file).is_ok());
    }

    #[test]
    fn nothing_to_load_is_rejected() {
        let file = elf(0, &[], 0);
        assert_eq!(parse_elf(&file), Err(ElfError::NoLoadSegments));
    }

    #[test]
    fn segment_data_outside_the_file_is_rejected() {
        let file = elf(
            0,
            &[load(0x1000, 0xffff_ffff_8010_0000, 0x200, 0x200)],
            0x100,
        );
        assert!(matches!(
            parse_elf(&file),
            Err(ElfError::SegmentOutOfFile { index: 0, .. })
        ));
    }

    #[test]
    fn offset_overflow_is_rejected() {
        let file = elf(0, &[load(u64::MAX, 0xffff_ffff_8010_0000, 0x10, 0x10)], 0);
        assert_eq!(parse_elf(&file), Err(ElfError::Overflow { index: 0 }));
    }

    #[test]
    fn filesz_above_memsz_is_rejected() {
        let file = elf(0, &[load(0x1000, 0xffff_ffff_8010_0000, 0x20, 0x10)], 0x20);
        assert!(matches!(
            parse_elf(&file),
            Err(ElfError::FileSizeExceedsMemSize { .. })
        ));
    }

    #[test]
    fn mapped_virtual_addresses_are_rejected() {
        for vaddr in [0x0040_0000, 0xffff_ffff_c000_0000, 0xc000_0000_0000_0000] {
            let file = elf(0, &[load(0x1000, vaddr, 0x10, 0x10)], 0x10);
            let err = parse_elf(&file).expect_err("mapped segment");
            assert!(
                matches!(
                    err,
                    ElfError::NotUnmapped {
                        which: "virtual",
                        ..
                    }
                ),
                "{vaddr:#x}"
            );
        }
    }

    #[test]
    fn segment_crossing_out_of_kseg0_is_rejected() {
        let vaddr = 0xffff_ffff_9fff_f000;
        let file = elf(0, &[load(0x1000, vaddr, 0x10, 0x2000)], 0x10);
        assert!(matches!(
            parse_elf(&file),
            Err(ElfError::NotUnmapped { .. })
        ));
    }

    #[test]
    fn physical_address_beyond_pabits_is_rejected() {
        let mut ph = load(0x1000, 0xffff_ffff_8010_0000, 0x10, 0x10);
        ph.paddr = 1 << mips::cp0::PABITS;
        let err = parse_elf(&elf(0, &[ph], 0x10)).expect_err("beyond PABITS");
        assert!(matches!(
            err,
            ElfError::NotUnmapped {
                which: "physical",
                ..
            }
        ));
    }

    #[test]
    fn overlapping_segments_are_rejected() {
        let a = load(0x1000, 0xffff_ffff_8010_0000, 0x10, 0x1000);
        let b = load(0x1000, 0xffff_ffff_8010_0800, 0x10, 0x10);
        let err = parse_elf(&elf(0, &[a, b], 0x10)).expect_err("overlap");
        assert_eq!(
            err,
            ElfError::SegmentsOverlap {
                first: 0,
                second: 1
            }
        );
    }

    #[test]
    fn errors_read_as_one_clear_line() {
        let mut file = zboot_like();
        file[5] = ELFDATA2MSB;
        let message = parse_elf(&file).expect_err("big-endian").to_string();
        assert_eq!(
            message,
            "big-endian ELF file: this machine is little-endian (mips64el)"
        );
    }

    /// Checks what every successful parse promises.
    fn check_image(bytes: &[u8], image: &ElfImage<'_>) -> Result<(), TestCaseError> {
        prop_assert!(!image.segments.is_empty());
        for seg in &image.segments {
            prop_assert!(seg.data.len() as u64 <= seg.memsz);
            prop_assert!(kernel_virt_to_phys(seg.vaddr).is_some());
            let start = seg.data.as_ptr() as usize - bytes.as_ptr() as usize;
            prop_assert!(start + seg.data.len() <= bytes.len());
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(image) = parse_elf(&bytes) {
                check_image(&bytes, &image)?;
            }
        }

        #[test]
        fn random_bytes_behind_a_valid_ident_never_panic(
            tail in proptest::collection::vec(any::<u8>(), 0..600),
        ) {
            let mut bytes = b"\x7fELF\x02\x01\x01\x00".to_vec();
            bytes.extend(tail);
            if let Ok(image) = parse_elf(&bytes) {
                check_image(&bytes, &image)?;
            }
        }

        #[test]
        fn mutated_headers_never_panic(
            mutations in proptest::collection::vec((0usize..200, any::<u8>()), 1..12),
            truncate_to in proptest::option::of(0usize..0x1100),
        ) {
            let vaddr = 0xffff_ffff_812a_0000;
            let mut bytes = elf(
                vaddr,
                &[load(0x1000, vaddr, 0x40, 0x2000), load(0x1000, vaddr + 0x4000, 0x10, 0x10)],
                0x40,
            );
            // Mutate the ELF header and the two program headers.
            for (at, value) in mutations {
                bytes[at] = value;
            }
            if let Some(len) = truncate_to {
                bytes.truncate(len);
            }
            if let Ok(image) = parse_elf(&bytes) {
                check_image(&bytes, &image)?;
            }
        }

        #[test]
        fn mutated_words_in_program_headers_never_panic(
            field in 0usize..14,
            value in prop_oneof![any::<u64>(), Just(u64::MAX), Just(0), Just(1u64 << 63)],
        ) {
            let vaddr = 0xffff_ffff_812a_0000;
            let mut bytes = elf(vaddr, &[load(0x1000, vaddr, 0x40, 0x2000)], 0x40);
            // Overwrite one 4- or 8-byte-aligned word of the header or phdr.
            let at = if field < 8 { 24 + field * 4 } else { 64 + (field - 8) * 8 };
            let width = if field < 8 { 4 } else { 8 };
            bytes[at..at + width].copy_from_slice(&value.to_le_bytes()[..width]);
            if let Ok(image) = parse_elf(&bytes) {
                check_image(&bytes, &image)?;
            }
        }
    }
}
