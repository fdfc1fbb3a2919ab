//! A minimal user-mode operating system, in the test harness, for running
//! static Linux n64 executables on the CPU with native trap delivery:
//!
//! * the ELF's PT_LOAD segments are copied into physical pages the harness
//!   allocates; stack pages are allocated on first touch;
//! * TLB refill and invalid traps are handled by writing a TLB entry for the
//!   faulting page pair (4 KiB pages, ASID 0, round-robin replacement)
//!   through `cpu.tlb`. (That path does not invalidate the CPU's internal
//!   translation cache — see `tlb.rs` — which is harmless here because a
//!   virtual page never changes its physical page.)
//! * `syscall` traps emulate `write` and `exit`/`exit_group`;
//! * Coprocessor Unusable for CP1 enables Status.CU1 (with FR = 1, as the n64
//!   ABI requires) and restarts the instruction.
//!
//! Any other trap ends the run with an error describing it.

use std::collections::HashMap;

use mips::cp0::status;
use mips::{ExcCode, RunExit, TlbEntry, Trap};

use super::asm::{c0, A0, A1, A2, A3, SP, V0};
use super::elf::Elf;
use super::harness::{entrylo, Machine, LO_C3, LO_D, LO_V};

const PAGE: u64 = 4096;
/// Top of the user stack (below 2 GiB, like a 32-bit-compatible layout).
pub const STACK_TOP: u64 = 0x7ff0_0000;
const STACK_SIZE: u64 = 8 << 20;
const RAM: u64 = 64 << 20;
/// First physical page handed out (below is left unused).
const FIRST_FREE_PA: u64 = 1 << 20;

const SYS_WRITE: u64 = 5001;
const SYS_EXIT: u64 = 5058;
const SYS_EXIT_GROUP: u64 = 5205;

/// Counters of the work the OS did, to check that the paths were exercised.
#[derive(Clone, Debug, Default)]
pub struct OsStats {
    pub syscalls: u64,
    pub tlb_faults: u64,
    pub fpu_enables: u64,
}

/// One user process on its own CPU.
#[derive(Debug)]
pub struct Process {
    pub m: Machine,
    /// Virtual page number to physical page address.
    pages: HashMap<u64, u64>,
    /// Virtual ranges that may be allocated on demand.
    demand: Vec<(u64, u64)>,
    next_pa: u64,
    next_tlb: usize,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub stats: OsStats,
}

impl Process {
    /// Loads a static executable and prepares the CPU to run it in user mode.
    pub fn load(elf: &Elf) -> Process {
        let mut p = Process {
            m: Machine::with_ram(RAM),
            pages: HashMap::new(),
            demand: vec![(STACK_TOP - STACK_SIZE, STACK_TOP)],
            next_pa: FIRST_FREE_PA,
            next_tlb: 0,
            stdout: Vec::new(),
            stderr: Vec::new(),
            stats: OsStats::default(),
        };
        for seg in &elf.segments {
            let end = seg.vaddr + seg.memsz;
            let mut page = seg.vaddr & !(PAGE - 1);
            while page < end {
                p.page(page >> 12);
                page += PAGE;
            }
            p.write_virtual(seg.vaddr, &seg.data)
                .expect("segment pages were just allocated");
        }
        // The initial stack: argc = 0, argv and envp empty, auxv AT_NULL.
        let sp = STACK_TOP - 64;
        p.page(sp >> 12);
        p.m.set(SP, sp);
        p.m.cpu.pc = elf.entry;
        // User mode with 64-bit addressing (static binaries live at
        // 0x120000000) and FR = 1; CU1 is enabled on first use.
        p.m.enter_mode(2, status::FR);
        p
    }

    /// The physical page of virtual page `vpn`, allocated (zeroed) if new.
    fn page(&mut self, vpn: u64) -> u64 {
        if let Some(&pa) = self.pages.get(&vpn) {
            return pa;
        }
        let pa = self.next_pa;
        assert!(pa + PAGE <= RAM, "user process out of memory");
        self.next_pa += PAGE;
        self.pages.insert(vpn, pa);
        pa
    }

    fn write_virtual(&mut self, va: u64, data: &[u8]) -> Result<(), String> {
        for (k, chunk) in chunks(va, data.len()) {
            let pa = self.physical(k)?;
            self.m
                .mem
                .write_bytes(pa, &data[chunk])
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn read_virtual(&self, va: u64, len: usize) -> Result<Vec<u8>, String> {
        let mut out = vec![0; len];
        for (k, chunk) in chunks(va, len) {
            let pa = self.physical(k)?;
            self.m
                .mem
                .read_bytes(pa, &mut out[chunk])
                .map_err(|e| e.to_string())?;
        }
        Ok(out)
    }

    fn physical(&self, va: u64) -> Result<u64, String> {
        self.pages
            .get(&(va >> 12))
            .map(|pa| pa + (va & (PAGE - 1)))
            .ok_or_else(|| format!("bad user address {va:#x}"))
    }

    /// Runs until the process exits (its status) or does something this OS
    /// does not support (an error).
    pub fn run(&mut self, max_cycles: u64) -> Result<i32, String> {
        let until = self.m.cpu.cycles() + max_cycles;
        loop {
            let left = until.saturating_sub(self.m.cpu.cycles());
            match self.m.run_for(left) {
                RunExit::Trap(t) => {
                    if let Some(status) = self.handle(&t)? {
                        return Ok(status);
                    }
                }
                RunExit::Limit => return Err(format!("still running at pc {:#x}", self.m.cpu.pc)),
                other => return Err(format!("unexpected {other:?} at pc {:#x}", self.m.cpu.pc)),
            }
        }
    }

    /// Handles one trap; returns the exit status when the process exits.
    fn handle(&mut self, t: &Trap) -> Result<Option<i32>, String> {
        let e = t.exception;
        match e.code {
            ExcCode::Sys if !t.in_delay_slot => {
                self.stats.syscalls += 1;
                let exit = self.syscall()?;
                self.m.cpu.pc = t.pc + 4;
                Ok(exit)
            }
            ExcCode::TlbL | ExcCode::TlbS => {
                self.stats.tlb_faults += 1;
                self.map(e.badvaddr, t)?;
                Ok(None)
            }
            ExcCode::CpU if e.ce == 1 => {
                self.stats.fpu_enables += 1;
                let st = self.m.status();
                self.m.set_status(st | status::CU1);
                Ok(None)
            }
            _ => Err(format!(
                "{:?} (ce {}) at pc {:#x}{}, badvaddr {:#x}, instruction {:?}",
                e.code,
                e.ce,
                t.pc,
                if t.in_delay_slot { " (delay slot)" } else { "" },
                e.badvaddr,
                t.instr
            )),
        }
    }

    /// Writes the TLB entry for the page pair holding `va`.
    fn map(&mut self, va: u64, t: &Trap) -> Result<(), String> {
        let vpn = va >> 12;
        if !self.pages.contains_key(&vpn) {
            if !self.demand.iter().any(|&(s, e)| (s..e).contains(&va)) {
                return Err(format!("segmentation fault at {va:#x} (pc {:#x})", t.pc));
            }
            self.page(vpn);
        }
        let even = vpn & !1;
        let lo = |vpn: u64| {
            self.pages
                .get(&vpn)
                .map_or(0, |&pa| entrylo(pa, LO_V | LO_D | LO_C3))
        };
        let (lo0, lo1) = (lo(even), lo(even + 1));
        let entryhi = even << 12;
        assert_eq!(
            self.m.cp0(c0::ENTRYHI) & 0xff,
            0,
            "the process runs with ASID 0"
        );
        let tlb = self.m.cpu.tlb();
        let index = tlb.probe(entryhi).unwrap_or_else(|| {
            let i = self.next_tlb;
            self.next_tlb = (i + 1) % tlb.entries().len();
            i
        });
        self.m
            .cpu
            .tlb_write(index, TlbEntry::from_registers(0, entryhi, lo0, lo1));
        Ok(())
    }

    fn syscall(&mut self) -> Result<Option<i32>, String> {
        let r = |reg| self.m.reg(reg);
        match r(V0) {
            SYS_WRITE => {
                let (fd, buf, len) = (r(A0), r(A1), r(A2) as usize);
                let bytes = self.read_virtual(buf, len)?;
                match fd {
                    1 => self.stdout.extend_from_slice(&bytes),
                    2 => self.stderr.extend_from_slice(&bytes),
                    _ => return Err(format!("write to fd {fd}")),
                }
                self.m.set(V0, len as u64);
                self.m.set(A3, 0);
                Ok(None)
            }
            SYS_EXIT | SYS_EXIT_GROUP => Ok(Some(r(A0) as i32 & 0xff)),
            n => Err(format!("unsupported syscall {n}")),
        }
    }
}

/// Splits `[va, va+len)` at page boundaries: (address, index range) pairs.
fn chunks(va: u64, len: usize) -> Vec<(u64, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let mut done = 0usize;
    while done < len {
        let a = va + done as u64;
        let n = ((PAGE - (a & (PAGE - 1))) as usize).min(len - done);
        out.push((a, done..done + n));
        done += n;
    }
    out
}
