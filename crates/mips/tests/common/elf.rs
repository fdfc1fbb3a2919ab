//! Just enough ELF64 (little-endian, MIPS) to load static executables and to
//! write tiny ones for QEMU.

/// A loadable segment.
#[derive(Clone, Debug)]
pub struct Segment {
    pub vaddr: u64,
    pub data: Vec<u8>,
    pub memsz: u64,
    pub flags: u32,
}

/// A parsed static executable.
#[derive(Clone, Debug)]
pub struct Elf {
    pub entry: u64,
    pub segments: Vec<Segment>,
}

const EM_MIPS: u16 = 8;
const PT_LOAD: u32 = 1;
const EHDR_SIZE: usize = 64;
const PHDR_SIZE: usize = 56;
/// e_flags: EF_MIPS_ARCH_64R2.
const EF_MIPS_ARCH_64R2: u32 = 0x8000_0000;

fn u16_at(b: &[u8], off: usize) -> Result<u16, String> {
    b.get(off..off + 2)
        .map(|s| u16::from_le_bytes(s.try_into().unwrap()))
        .ok_or_else(|| format!("truncated at {off:#x}"))
}

fn u32_at(b: &[u8], off: usize) -> Result<u32, String> {
    b.get(off..off + 4)
        .map(|s| u32::from_le_bytes(s.try_into().unwrap()))
        .ok_or_else(|| format!("truncated at {off:#x}"))
}

fn u64_at(b: &[u8], off: usize) -> Result<u64, String> {
    b.get(off..off + 8)
        .map(|s| u64::from_le_bytes(s.try_into().unwrap()))
        .ok_or_else(|| format!("truncated at {off:#x}"))
}

impl Elf {
    /// Parses a little-endian ELF64 MIPS executable.
    pub fn parse(b: &[u8]) -> Result<Elf, String> {
        if b.len() < EHDR_SIZE || &b[..4] != b"\x7fELF" {
            return Err("not an ELF file".into());
        }
        if b[4] != 2 || b[5] != 1 {
            return Err("not a little-endian ELF64 file".into());
        }
        if u16_at(b, 18)? != EM_MIPS {
            return Err("not a MIPS executable".into());
        }
        let entry = u64_at(b, 24)?;
        let phoff = u64_at(b, 32)? as usize;
        let phentsize = u16_at(b, 54)? as usize;
        let phnum = u16_at(b, 56)? as usize;
        let mut segments = Vec::new();
        for k in 0..phnum {
            let ph = phoff + k * phentsize;
            if u32_at(b, ph)? != PT_LOAD {
                continue;
            }
            let flags = u32_at(b, ph + 4)?;
            let offset = u64_at(b, ph + 8)? as usize;
            let vaddr = u64_at(b, ph + 16)?;
            let filesz = u64_at(b, ph + 32)? as usize;
            let memsz = u64_at(b, ph + 40)?;
            let data = b
                .get(offset..offset + filesz)
                .ok_or_else(|| format!("segment {k} extends past the end of the file"))?
                .to_vec();
            segments.push(Segment {
                vaddr,
                data,
                memsz,
                flags,
            });
        }
        Ok(Elf { entry, segments })
    }
}

/// Builds a static executable with one read/write/execute segment: `image`
/// is mapped at `base` from file offset 0, so its first 0x78 bytes must be
/// left free for the ELF and program headers.
pub fn build(base: u64, entry: u64, mut image: Vec<u8>, memsz: u64) -> Vec<u8> {
    let headers = EHDR_SIZE + PHDR_SIZE;
    assert!(image.len() >= headers && image[..headers].iter().all(|&x| x == 0));
    let mut h = Vec::with_capacity(headers);
    h.extend_from_slice(b"\x7fELF");
    h.extend_from_slice(&[2, 1, 1, 0]); // ELF64, little-endian, version 1, SysV
    h.extend_from_slice(&[0; 8]);
    h.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    h.extend_from_slice(&EM_MIPS.to_le_bytes());
    h.extend_from_slice(&1u32.to_le_bytes());
    h.extend_from_slice(&entry.to_le_bytes());
    h.extend_from_slice(&(EHDR_SIZE as u64).to_le_bytes()); // e_phoff
    h.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    h.extend_from_slice(&EF_MIPS_ARCH_64R2.to_le_bytes());
    h.extend_from_slice(&(EHDR_SIZE as u16).to_le_bytes());
    h.extend_from_slice(&(PHDR_SIZE as u16).to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes()); // e_phnum
    h.extend_from_slice(&[0; 6]); // no sections
    h.extend_from_slice(&PT_LOAD.to_le_bytes());
    h.extend_from_slice(&7u32.to_le_bytes()); // RWX
    h.extend_from_slice(&0u64.to_le_bytes()); // p_offset
    h.extend_from_slice(&base.to_le_bytes());
    h.extend_from_slice(&base.to_le_bytes());
    h.extend_from_slice(&(image.len() as u64).to_le_bytes());
    h.extend_from_slice(&memsz.to_le_bytes());
    h.extend_from_slice(&0x1000u64.to_le_bytes());
    assert_eq!(h.len(), headers);
    image[..headers].copy_from_slice(&h);
    image
}
