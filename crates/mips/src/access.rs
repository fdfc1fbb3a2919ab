//! Loads, stores and instruction fetch: the soft-TLB fast paths and the slow
//! paths that translate, fill the soft TLB, reach devices and keep decoded
//! code coherent.

use crate::bus::Bus;
use crate::code::CodeCache;
use crate::cpu::Cpu;
use crate::exception::{ExcCode, Exception};
use crate::memory::{PhysMem, PAGE_SHIFT};
use crate::mmu::{translate, Access, Translation};
use crate::softtlb::{slot, PAGE_MASK};

/// Reads `N` little-endian bytes of RAM at `off`.
#[inline(always)]
pub(crate) fn read_le<const N: usize>(ram: &[u8], off: usize) -> u64 {
    let b = &ram[off..off + N];
    match N {
        1 => b[0] as u64,
        2 => u16::from_le_bytes([b[0], b[1]]) as u64,
        4 => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64,
        _ => u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
    }
}

/// Writes the low `N` bytes of `v` to RAM at `off`, little-endian.
#[inline(always)]
pub(crate) fn write_le<const N: usize>(ram: &mut [u8], off: usize, v: u64) {
    ram[off..off + N].copy_from_slice(&v.to_le_bytes()[..N]);
}

/// Reads `N` little-endian bytes of RAM at `off`, or `None` past its end.
/// The fast paths use this form: it has no panic path, so they need no
/// stack frame.
#[inline(always)]
pub(crate) fn try_read_le<const N: usize>(ram: &[u8], off: usize) -> Option<u64> {
    let b: &[u8; N] = ram.get(off..off.wrapping_add(N))?.try_into().ok()?;
    let mut v = [0u8; 8];
    v[..N].copy_from_slice(b);
    Some(u64::from_le_bytes(v))
}

/// Writes the low `N` bytes of `v` to RAM at `off`, little-endian; false
/// (and nothing written) past its end.
#[inline(always)]
pub(crate) fn try_write_le<const N: usize>(ram: &mut [u8], off: usize, v: u64) -> bool {
    match ram.get_mut(off..off.wrapping_add(N)) {
        Some(b) => {
            b.copy_from_slice(&v.to_le_bytes()[..N]);
            true
        }
        None => false,
    }
}

fn read_le_dyn(ram: &[u8], off: usize, size: u64) -> u64 {
    let mut b = [0u8; 8];
    b[..size as usize].copy_from_slice(&ram[off..off + size as usize]);
    u64::from_le_bytes(b)
}

impl Cpu {
    /// Translates `va` with the current privilege, Status and ASID.
    #[inline]
    pub fn translate(&self, va: u64, access: Access) -> Result<Translation, Exception> {
        translate(
            &self.tlb,
            va,
            access,
            self.privilege,
            self.cp0.status,
            self.cp0.asid(),
            self.vm_mode,
        )
    }

    /// Loads `N` bytes (1, 2, 4, 8) at `va`, zero-extended.
    #[inline(always)]
    pub(crate) fn load<const N: usize>(
        &mut self,
        mem: &mut PhysMem,
        bus: &mut dyn Bus,
        va: u64,
    ) -> Result<u64, Exception> {
        let e = self.stlb.get(slot(self.privilege as usize, va));
        if e.read == va & (PAGE_MASK | (N as u64 - 1)) {
            let off = va.wrapping_add(e.addend);
            if self.detailed {
                self.charge_access(bus, off, Access::Load);
            }
            Ok(read_le::<N>(mem.ram(), off as usize))
        } else {
            self.load_slow(mem, bus, va, N as u64)
        }
    }

    /// Stores the low `N` bytes of `v` at `va`.
    #[inline(always)]
    pub(crate) fn store<const N: usize>(
        &mut self,
        mem: &mut PhysMem,
        bus: &mut dyn Bus,
        va: u64,
        v: u64,
    ) -> Result<(), Exception> {
        let e = self.stlb.get(slot(self.privilege as usize, va));
        if e.write == va & (PAGE_MASK | (N as u64 - 1)) {
            let off = va.wrapping_add(e.addend);
            if self.detailed {
                self.charge_access(bus, off, Access::Store);
            }
            write_le::<N>(mem.ram_mut(), off as usize, v);
            Ok(())
        } else {
            self.store_slow(mem, bus, va, N as u64, v)
        }
    }

    /// Finds (or decodes) the block at `pc`.
    #[inline(always)]
    pub(crate) fn fetch_block<'c>(
        &mut self,
        mem: &mut PhysMem,
        code: &'c mut CodeCache,
        pc: u64,
    ) -> Result<(u32, &'c [crate::ops::Op]), Exception> {
        let e = self.stlb.get(slot(self.privilege as usize, pc));
        let pa = if e.fetch == pc & (PAGE_MASK | 3) {
            pc.wrapping_add(e.addend)
        } else {
            self.fetch_slow(mem, pc)?
        };
        let found = code.get_or_build(mem, pa);
        if mem.code_epoch() != self.code_epoch {
            // A page just became a code page: stores to it must now take the
            // slow path, which invalidates its blocks.
            self.code_epoch = mem.code_epoch();
            self.stlb.flush_writes();
        }
        Ok(found)
    }

    /// Installs a RAM translation in the soft TLB.
    fn fill_soft_tlb(&mut self, mem: &PhysMem, va: u64, t: &Translation) {
        let writable = t.writable && !mem.is_code_page(t.pa >> PAGE_SHIFT);
        self.stlb.fill(self.privilege as usize, va, t.pa, writable);
    }

    #[cold]
    #[inline(never)]
    fn fetch_slow(&mut self, mem: &mut PhysMem, pc: u64) -> Result<u64, Exception> {
        if pc & 3 != 0 {
            return Err(Exception::at(ExcCode::AdEL, pc));
        }
        let t = self.translate(pc, Access::Fetch)?;
        if !mem.contains(t.pa, 4) {
            // Executing from device space is not supported by any device here.
            return Err(Exception::new(ExcCode::Ibe));
        }
        self.fill_soft_tlb(mem, pc, &t);
        Ok(t.pa)
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn load_slow(
        &mut self,
        mem: &mut PhysMem,
        bus: &mut dyn Bus,
        va: u64,
        size: u64,
    ) -> Result<u64, Exception> {
        if va & (size - 1) != 0 {
            return Err(Exception::at(ExcCode::AdEL, va));
        }
        let t = self.translate(va, Access::Load)?;
        if mem.contains(t.pa, size) {
            self.fill_soft_tlb(mem, va, &t);
            if self.detailed {
                self.charge_access(bus, t.pa, Access::Load);
            }
            return Ok(read_le_dyn(mem.ram(), t.pa as usize, size));
        }
        let v = bus
            .read(t.pa, size as u8, self.now(self.cur_pc))
            .map_err(|_| Exception::new(ExcCode::Dbe));
        tracing::trace!(target: "mips::mmio", "read{} {:#x} -> {:x?}", size * 8, t.pa, v);
        self.after_device_access(bus);
        v
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn store_slow(
        &mut self,
        mem: &mut PhysMem,
        bus: &mut dyn Bus,
        va: u64,
        size: u64,
        v: u64,
    ) -> Result<(), Exception> {
        if va & (size - 1) != 0 {
            return Err(Exception::at(ExcCode::AdES, va));
        }
        let t = self.translate(va, Access::Store)?;
        if mem.contains(t.pa, size) {
            if self.detailed {
                self.charge_access(bus, t.pa, Access::Store);
            }
            let off = t.pa as usize;
            mem.ram_mut()[off..off + size as usize]
                .copy_from_slice(&v.to_le_bytes()[..size as usize]);
            let page = t.pa >> PAGE_SHIFT;
            if mem.is_code_page(page) {
                mem.note_write(page);
                self.force_check();
            }
            self.fill_soft_tlb(mem, va, &t);
            return Ok(());
        }
        tracing::trace!(target: "mips::mmio", "write{} {:#x} <- {:#x}", size * 8, t.pa, v);
        let r = bus
            .write(t.pa, size as u8, v, self.now(self.cur_pc))
            .map_err(|_| Exception::new(ExcCode::Dbe));
        self.after_device_access(bus);
        r
    }

    fn after_device_access(&mut self, bus: &mut dyn Bus) {
        let lines = bus.irq_lines();
        self.set_irq_lines(lines);
        if bus.stop_requested() {
            self.stop_requested = true;
            self.force_check();
        }
    }

    /// The store half of SC/SCD: stores `v` at `va` only if memory still holds
    /// `expected` there (compare-and-swap, which keeps LL/SC atomic across
    /// CPUs). Returns whether the store happened. Takes the same exceptions as
    /// a store.
    #[inline]
    pub(crate) fn store_conditional<const N: usize>(
        &mut self,
        mem: &mut PhysMem,
        bus: &mut dyn Bus,
        va: u64,
        expected: u64,
        v: u64,
    ) -> Result<bool, Exception> {
        let e = self.stlb.get(slot(self.privilege as usize, va));
        let off = if e.write == va & (PAGE_MASK | (N as u64 - 1)) {
            va.wrapping_add(e.addend) as usize
        } else {
            if va & (N as u64 - 1) != 0 {
                return Err(Exception::at(ExcCode::AdES, va));
            }
            let t = self.translate(va, Access::Store)?;
            if !mem.contains(t.pa, N as u64) {
                // SC to device space is undefined; report a bus error.
                return Err(Exception::new(ExcCode::Dbe));
            }
            self.fill_soft_tlb(mem, va, &t);
            t.pa as usize
        };
        if self.detailed {
            self.charge_access(bus, off as u64, Access::Store);
        }
        if read_le::<N>(mem.ram(), off) != expected {
            return Ok(false);
        }
        write_le::<N>(mem.ram_mut(), off, v);
        let page = off as u64 >> PAGE_SHIFT;
        if mem.is_code_page(page) {
            mem.note_write(page);
            self.force_check();
        }
        Ok(true)
    }
}
