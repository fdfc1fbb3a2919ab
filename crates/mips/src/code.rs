//! The decoded-block cache.
//!
//! A block is a run of decoded instructions starting at a physical address:
//! it ends after the delay slot of the first branch or jump, after an
//! instruction that changes machine state the following instructions depend
//! on (see [`Instr::ends_block`]), at the end of the page, or at
//! [`MAX_BLOCK`] instructions. Blocks are keyed by physical address, so TLB
//! changes never invalidate them; stores into a page holding blocks do (see
//! [`crate::memory`]). The cache is shared by all CPUs of a machine.

use std::collections::HashMap;

use crate::decode::decode;
use crate::instr::Instr;
use crate::memory::{PhysMem, PAGE_SHIFT, PAGE_SIZE};
use crate::ops::{lower_block, Op};

/// Longest block, in instructions.
pub const MAX_BLOCK: usize = 64;

/// log2 of the size of the direct-mapped lookup table.
const FAST_BITS: u32 = 14;

/// A straight-line run of decoded instructions.
#[derive(Debug)]
pub(crate) struct Block {
    /// Physical address of the first instruction.
    pub pa: u64,
    /// The instructions.
    pub instrs: Box<[Instr]>,
    /// A header (the block's id and code length, see [`header`]), then the
    /// instructions lowered to threaded code, then a final sentinel.
    ops: Box<[Op]>,
}

impl Block {
    /// The threaded code: the lowered instructions and the sentinel.
    pub(crate) fn code(&self) -> &[Op] {
        &self.ops[1..]
    }
}

/// The header op in front of a block's threaded code: `imm` is the code's
/// length, `d`, `s`, `t`, `x` the block id's bytes. It is never executed; a
/// lookup reads it through the pointer to the code, from the cache line the
/// code starts in.
fn header(id: u32, len: usize) -> Op {
    let [d, s, t, x] = id.to_le_bytes();
    Op {
        f: crate::ops::op_header,
        d,
        s,
        t,
        x,
        imm: len as u32,
    }
}

/// A direct-mapped lookup entry: a block's address and its threaded code
/// (just past its header).
#[derive(Clone, Copy, Debug)]
struct Fast {
    pa: u64,
    code: *const Op,
}

const NO_FAST: Fast = Fast {
    pa: u64::MAX,
    code: std::ptr::null(),
};

/// Decoded blocks of all CPUs of one machine.
#[derive(Debug)]
pub struct CodeCache {
    blocks: Vec<Option<Block>>,
    free: Vec<u32>,
    index: HashMap<u64, u32>,
    fast: Box<[Fast]>,
    by_page: HashMap<u64, Vec<u32>>,
    decoded: u64,
    invalidated: u64,
}

impl Default for CodeCache {
    fn default() -> Self {
        Self::new()
    }
}

impl CodeCache {
    /// An empty cache.
    pub fn new() -> Self {
        CodeCache {
            blocks: Vec::new(),
            free: Vec::new(),
            index: HashMap::new(),
            fast: vec![NO_FAST; 1 << FAST_BITS].into_boxed_slice(),
            by_page: HashMap::new(),
            decoded: 0,
            invalidated: 0,
        }
    }

    #[inline(always)]
    fn fast_slot(pa: u64) -> usize {
        ((pa >> 2) as usize) & ((1 << FAST_BITS) - 1)
    }

    /// Finds the block starting at `pa`, building it from RAM if needed.
    /// `pa` must be a word-aligned RAM address.
    #[inline(always)]
    pub(crate) fn get_or_build(&mut self, mem: &mut PhysMem, pa: u64) -> (u32, &[Op]) {
        let f = self.fast[Self::fast_slot(pa)];
        if f.pa == pa {
            // SAFETY: a fast entry points just past the header op of the
            // boxed ops of a live block: entries are cleared when their
            // block is dropped, a block's boxed slice never moves while it
            // lives, and the header says how many ops follow it.
            let (header, code) = unsafe {
                let h = &*f.code.sub(1);
                (h, std::slice::from_raw_parts(f.code, h.imm as usize))
            };
            let id = u32::from_le_bytes([header.d, header.s, header.t, header.x]);
            return (id, code);
        }
        self.lookup_slow(mem, pa)
    }

    #[cold]
    #[inline(never)]
    fn lookup_slow(&mut self, mem: &mut PhysMem, pa: u64) -> (u32, &[Op]) {
        let id = match self.index.get(&pa) {
            Some(&id) => id,
            None => self.build(mem, pa),
        };
        let code = self.block(id).code();
        self.fast[Self::fast_slot(pa)] = Fast {
            pa,
            code: code.as_ptr(),
        };
        (id, self.block(id).code())
    }

    /// The block with identifier `id`.
    #[inline(always)]
    pub(crate) fn block(&self, id: u32) -> &Block {
        match &self.blocks[id as usize] {
            Some(b) => b,
            None => unreachable!("block {id} used after invalidation"),
        }
    }

    fn build(&mut self, mem: &mut PhysMem, pa: u64) -> u32 {
        let page_end = (pa | (PAGE_SIZE - 1)) + 1;
        let ram = mem.ram();
        let mut instrs = Vec::with_capacity(16);
        let mut words = Vec::with_capacity(16);
        let mut addr = pa;
        // After a branch: its delay slot is the next instruction; the block
        // continues past it only for conditional branches (the fall-through
        // path), and ends after it for jumps.
        let mut delay_slot_of: Option<Instr> = None;
        while addr < page_end && instrs.len() < MAX_BLOCK {
            let a = addr as usize;
            let word = u32::from_le_bytes([ram[a], ram[a + 1], ram[a + 2], ram[a + 3]]);
            let ins = decode(word);
            instrs.push(ins);
            words.push(word);
            addr += 4;
            if let Some(branch) = delay_slot_of.take() {
                if !branch.is_conditional_branch() || ins.ends_block() || ins.has_delay_slot() {
                    break;
                }
                continue;
            }
            if ins.has_delay_slot() {
                delay_slot_of = Some(ins);
            } else if ins.ends_block() {
                break;
            }
        }
        let page = pa >> PAGE_SHIFT;
        mem.mark_code_page(page);
        let code = lower_block(&instrs, &words);
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                self.blocks.push(None);
                (self.blocks.len() - 1) as u32
            }
        };
        let mut ops = Vec::with_capacity(code.len() + 1);
        ops.push(header(id, code.len()));
        ops.extend(code);
        self.blocks[id as usize] = Some(Block {
            pa,
            instrs: instrs.into_boxed_slice(),
            ops: ops.into_boxed_slice(),
        });
        self.index.insert(pa, id);
        self.by_page.entry(page).or_default().push(id);
        self.decoded += 1;
        id
    }

    /// Drops every block of the code pages written since the last call.
    pub(crate) fn invalidate_written(&mut self, mem: &mut PhysMem) {
        for page in mem.take_written_code_pages() {
            self.invalidate_page(mem, page);
        }
    }

    /// Drops every block in physical page `page`.
    pub fn invalidate_page(&mut self, mem: &mut PhysMem, page: u64) {
        let Some(ids) = self.by_page.remove(&page) else {
            return;
        };
        for id in ids {
            if let Some(b) = self.blocks[id as usize].take() {
                self.index.remove(&b.pa);
                let slot = &mut self.fast[Self::fast_slot(b.pa)];
                if slot.pa == b.pa {
                    *slot = NO_FAST;
                }
                self.free.push(id);
                self.invalidated += 1;
            }
        }
        mem.clear_code_page(page);
    }

    /// Blocks decoded so far.
    pub fn blocks_decoded(&self) -> u64 {
        self.decoded
    }

    /// Blocks dropped because their code was overwritten.
    pub fn blocks_invalidated(&self) -> u64 {
        self.invalidated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mem_with(words: &[u32], at: u64) -> PhysMem {
        let mut m = PhysMem::new(4 * PAGE_SIZE).unwrap();
        for (i, w) in words.iter().enumerate() {
            m.write_u32(at + 4 * i as u64, *w).unwrap();
        }
        m
    }

    #[test]
    fn block_ends_after_the_delay_slot() {
        // addiu; beq; addiu (delay slot); addiu (next block)
        let mut m = mem_with(&[0x2484_0001, 0x1000_0002, 0x2484_0001, 0x2484_0001], 0x100);
        let mut c = CodeCache::new();
        let (id, _) = c.get_or_build(&mut m, 0x100);
        assert_eq!(c.block(id).instrs.len(), 3);
        assert!(m.is_code_page(0));
    }

    #[test]
    fn block_stops_at_page_end_even_inside_a_branch() {
        let mut m = mem_with(&[0x2484_0001, 0x1000_0002], PAGE_SIZE - 8);
        let mut c = CodeCache::new();
        let (id, _) = c.get_or_build(&mut m, PAGE_SIZE - 8);
        assert_eq!(c.block(id).instrs.len(), 2);
    }

    #[test]
    fn writing_a_code_page_invalidates_its_blocks() {
        let mut m = mem_with(&[0x2484_0001, 0x0000_0000], 0x200);
        let mut c = CodeCache::new();
        let (first, _) = c.get_or_build(&mut m, 0x200);
        assert_eq!(c.block(first).instrs[0], decode(0x2484_0001));
        m.write_u32(0x200, 0x2484_0002).unwrap();
        c.invalidate_written(&mut m);
        assert!(!m.is_code_page(0));
        let (second, _) = c.get_or_build(&mut m, 0x200);
        assert_eq!(c.block(second).instrs[0], decode(0x2484_0002));
        assert_eq!(c.blocks_invalidated(), 1);
    }
}
