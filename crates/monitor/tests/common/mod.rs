//! Hand-assembled guest kernels for the monitor's tests: the CPU tests'
//! instruction encoder, a few instruction sequences, a minimal ELF writer,
//! and machines running such guests on the monitor.

#![allow(dead_code, unused_imports)] // each test crate uses its own subset

use machine::{Machine, MachineConfig};
use monitor::vm::VmConfig;
use monitor::{Monitor, MonitorConfig};

/// The CPU tests' instruction encoder (checked against the GNU assembler
/// there): n64 register names, GNU operand order.
#[path = "../../../mips/tests/common/asm.rs"]
mod asm;
pub use asm::*;
pub use mips::cp0::reg::{
    CAUSE, COMPARE, COUNT, ENTRYHI, ENTRYLO0, ENTRYLO1, EPC, INDEX, PAGEMASK, STATUS,
};

/// EBase: CP0 register 15, select 1.
pub const EBASE: (u8, u8) = (15, 1);

/// The offset of a branch at instruction index `at` to index `to`.
pub fn rel(at: usize, to: usize) -> i16 {
    (to as i64 - at as i64 - 1) as i16
}
/// `b .` (branch to itself) with its delay slot: only an interrupt can
/// leave it, so the monitor makes the vCPU wait (with interrupts off, for
/// good).
pub const SPIN: [u32; 2] = [0x1000_ffff, NOP];
/// A loop that keeps the CPU busy: `1: addiu t9, t9, 1; b 1b; nop`.
pub fn busy() -> [u32; 3] {
    [addiu(T9, T9, 1), b(-2), NOP]
}

/// Loads `v` sign-extended into `rt`, as a vector to build on.
pub fn load32(rt: u8, v: u32) -> Vec<u32> {
    li32(rt, v as i32).to_vec()
}

/// `rd` = the XKPHYS uncached address of physical `pa`.
pub fn uncached(rd: u8, pa: u32) -> Vec<u32> {
    li64(rd, 0x9000_0000_0000_0000 | u64::from(pa))
}

/// `t3` = the XKPHYS uncached address of the exit device (0xf000_1000).
pub fn exit_device_address() -> Vec<u32> {
    uncached(T3, 0xf000_1000)
}

/// Writes `rs` to the exit device (the VM ends with that status), then spins.
pub fn exit_with(rs: u8) -> Vec<u32> {
    let mut v = exit_device_address();
    v.push(sw(rs, 0, T3));
    v.extend(SPIN);
    v
}

/// A general exception handler at `ebase` + 0x180 that exits with the
/// virtual Cause's ExcCode | 0x40 (so an interrupt exits with 0x40): the
/// (address, words) segment for [`kernel`].
pub fn exit_on_exception(ebase: u32) -> (u64, Vec<u32>) {
    let mut handler = vec![
        mfc0(T0, CAUSE, 0),
        srl(T0, T0, 2),
        andi(T0, T0, 31),
        ori(T0, T0, 0x40),
    ];
    handler.extend(exit_with(T0));
    (u64::from(ebase) as i32 as i64 as u64 + 0x180, handler)
}

/// Kernel entry, where the code is loaded (kseg0, guest-physical 1 MiB).
pub const ENTRY: u64 = 0xffff_ffff_8010_0000;

/// A minimal ELF64 little-endian MIPS executable with `words` at [`ENTRY`],
/// and `extra` (address, words) segments.
pub fn kernel(words: &[u32], extra: &[(u64, Vec<u32>)]) -> Vec<u8> {
    let mut segs: Vec<(u64, Vec<u8>)> = vec![(ENTRY, bytes(words))];
    segs.extend(extra.iter().map(|(a, w)| (*a, bytes(w))));
    let mut f = vec![0u8; 0x1000];
    f[..7].copy_from_slice(b"\x7fELF\x02\x01\x01");
    f[16..18].copy_from_slice(&2u16.to_le_bytes());
    f[18..20].copy_from_slice(&8u16.to_le_bytes());
    f[20..24].copy_from_slice(&1u32.to_le_bytes());
    f[24..32].copy_from_slice(&ENTRY.to_le_bytes());
    f[32..40].copy_from_slice(&64u64.to_le_bytes());
    f[52..54].copy_from_slice(&64u16.to_le_bytes());
    f[54..56].copy_from_slice(&56u16.to_le_bytes());
    f[56..58].copy_from_slice(&(segs.len() as u16).to_le_bytes());
    for (i, (addr, data)) in segs.iter().enumerate() {
        let off = f.len() as u64;
        let ph = 64 + i * 56;
        f[ph..ph + 4].copy_from_slice(&1u32.to_le_bytes());
        f[ph + 4..ph + 8].copy_from_slice(&7u32.to_le_bytes());
        f[ph + 8..ph + 16].copy_from_slice(&off.to_le_bytes());
        f[ph + 16..ph + 24].copy_from_slice(&addr.to_le_bytes());
        f[ph + 24..ph + 32].copy_from_slice(&addr.to_le_bytes());
        f[ph + 32..ph + 40].copy_from_slice(&(data.len() as u64).to_le_bytes());
        f[ph + 40..ph + 48].copy_from_slice(&(data.len() as u64).to_le_bytes());
        f.extend_from_slice(data);
    }
    f
}

pub fn bytes(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

pub fn vm(name: &str, kernel: Vec<u8>) -> VmConfig {
    VmConfig {
        name: name.to_string(),
        mem_bytes: 128 << 20,
        vcpus: 1,
        kernel,
        initrd: None,
        bootargs: String::new(),
        exec: None,
        chosen: Vec::new(),
        rtc_epoch_ns: 0,
        disks: Vec::new(),
        disk_timing: Default::default(),
        net: false,
    }
}

/// A machine of `cpus` CPUs running `vms` on the monitor.
pub fn start(cpus: u32, vms: &[VmConfig]) -> (Machine, Monitor) {
    start_with(cpus, vms, MonitorConfig::default())
}

/// [`start`] with a monitor configuration.
pub fn start_with(cpus: u32, vms: &[VmConfig], config: MonitorConfig) -> (Machine, Monitor) {
    let mut c = MachineConfig::new(Vec::new(), None);
    c.cpus = cpus;
    c.nodes = cpus;
    c.mem_bytes = 512 << 20;
    let mut m = Machine::new_unbooted(&c).unwrap();
    let mon = Monitor::new(&mut m, vms, config).unwrap();
    (m, mon)
}

/// The monitor configuration with privileged-instruction rewriting on or off.
pub fn patching(on: bool) -> MonitorConfig {
    MonitorConfig {
        patch_privileged: on,
        ..MonitorConfig::default()
    }
}
