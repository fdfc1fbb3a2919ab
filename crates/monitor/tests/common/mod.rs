//! Hand-assembled guest kernels for the monitor's tests: an instruction
//! encoder for the few instructions they use, a minimal ELF writer, and
//! machines running such guests on the monitor.

#![allow(dead_code)] // each test crate uses its own subset

use machine::{Machine, MachineConfig};
use monitor::vm::VmConfig;
use monitor::{Monitor, MonitorConfig};

// Registers.
pub const T0: u32 = 8;
pub const T1: u32 = 9;
pub const T2: u32 = 10;
pub const T3: u32 = 11;
pub const S0: u32 = 16;
pub const S1: u32 = 17;
pub const S2: u32 = 18;
pub const S3: u32 = 19;
pub const SP: u32 = 29;

// CP0 registers.
pub const ENTRYLO0: u32 = 2;
pub const ENTRYLO1: u32 = 3;
pub const PAGEMASK: u32 = 5;
pub const COUNT: u32 = 9;
pub const ENTRYHI: u32 = 10;
pub const COMPARE: u32 = 11;
pub const STATUS: u32 = 12;
pub const CAUSE: u32 = 13;
pub const EPC: u32 = 14;
pub const EBASE: (u32, u32) = (15, 1);
pub const INDEX: u32 = 0;

pub fn i_type(op: u32, rs: u32, rt: u32, imm: u32) -> u32 {
    (op << 26) | (rs << 21) | (rt << 16) | (imm & 0xffff)
}
pub fn lui(rt: u32, imm: u32) -> u32 {
    i_type(0x0f, 0, rt, imm)
}
pub fn ori(rt: u32, rs: u32, imm: u32) -> u32 {
    i_type(0x0d, rs, rt, imm)
}
pub fn addiu(rt: u32, rs: u32, imm: u32) -> u32 {
    i_type(0x09, rs, rt, imm)
}
pub fn sw(rt: u32, base: u32, off: u32) -> u32 {
    i_type(0x2b, base, rt, off)
}
pub fn lw(rt: u32, base: u32, off: u32) -> u32 {
    i_type(0x23, base, rt, off)
}
pub fn special(rs: u32, rt: u32, rd: u32, sa: u32, funct: u32) -> u32 {
    (rs << 21) | (rt << 16) | (rd << 11) | (sa << 6) | funct
}
pub fn or(rd: u32, rs: u32, rt: u32) -> u32 {
    special(rs, rt, rd, 0, 0x25)
}
pub fn dsll32(rd: u32, rt: u32, sa: u32) -> u32 {
    special(0, rt, rd, sa, 0x3c)
}
pub fn dsrl32(rd: u32, rt: u32, sa: u32) -> u32 {
    special(0, rt, rd, sa, 0x3e)
}
pub fn srl(rd: u32, rt: u32, sa: u32) -> u32 {
    special(0, rt, rd, sa, 0x02)
}
pub fn mfc0(rt: u32, rd: u32, sel: u32) -> u32 {
    0x4000_0000 | (rt << 16) | (rd << 11) | sel
}
pub fn mtc0(rt: u32, rd: u32, sel: u32) -> u32 {
    0x4080_0000 | (rt << 16) | (rd << 11) | sel
}
pub fn dmtc0(rt: u32, rd: u32, sel: u32) -> u32 {
    0x40a0_0000 | (rt << 16) | (rd << 11) | sel
}
pub fn dmfc0(rt: u32, rd: u32, sel: u32) -> u32 {
    0x4020_0000 | (rt << 16) | (rd << 11) | sel
}
pub fn di(rt: u32) -> u32 {
    0x4160_6000 | (rt << 16)
}
pub fn andi(rt: u32, rs: u32, imm: u32) -> u32 {
    i_type(0x0c, rs, rt, imm)
}
pub fn xori(rt: u32, rs: u32, imm: u32) -> u32 {
    i_type(0x0e, rs, rt, imm)
}
pub fn addu(rd: u32, rs: u32, rt: u32) -> u32 {
    special(rs, rt, rd, 0, 0x21)
}
pub fn sll(rd: u32, rt: u32, sa: u32) -> u32 {
    special(0, rt, rd, sa, 0x00)
}
/// `bne rs, rt` from instruction `at` to instruction `to` (indices).
pub fn bne(rs: u32, rt: u32, at: usize, to: usize) -> u32 {
    i_type(0x05, rs, rt, (to as i64 - at as i64 - 1) as u32)
}
pub fn cache(op: u32, base: u32, off: u32) -> u32 {
    i_type(0x2f, base, op, off)
}
pub const EI: u32 = 0x4160_6020;
pub const EHB: u32 = 0x0000_00c0;
pub const TLBWI: u32 = 0x4200_0002;
pub const ERET: u32 = 0x4200_0018;
pub const WAIT: u32 = 0x4200_0020;
pub const SYSCALL: u32 = 0x0000_000c;
pub const NOP: u32 = 0;
/// `b .` (branch to itself) with its delay slot: only an interrupt can
/// leave it, so the monitor makes the vCPU wait (with interrupts off, for
/// good).
pub const SPIN: [u32; 2] = [0x1000_ffff, NOP];
/// A loop that keeps the CPU busy: `1: addiu t9, t9, 1; b 1b; nop`.
pub const BUSY: [u32; 3] = [0x2739_0001, 0x1000_fffe, NOP];

/// Loads the 32-bit value `v` zero-extended into `rt` (3 instructions).
pub fn li32(rt: u32, v: u32) -> Vec<u32> {
    vec![lui(rt, v >> 16), ori(rt, rt, v & 0xffff), NOP]
}

/// `rd` = the XKPHYS uncached address of physical `pa` (`scratch` is
/// clobbered).
pub fn uncached(rd: u32, scratch: u32, pa: u32) -> Vec<u32> {
    vec![
        lui(rd, 0x9000),
        dsll32(rd, rd, 0),
        lui(scratch, pa >> 16),
        ori(scratch, scratch, pa & 0xffff),
        dsll32(scratch, scratch, 0),
        dsrl32(scratch, scratch, 0),
        or(rd, rd, scratch),
    ]
}

/// `t3` = the XKPHYS uncached address of the exit device (0xf000_1000).
pub fn exit_device_address() -> Vec<u32> {
    uncached(T3, T2, 0xf000_1000)
}

/// Writes `rs` to the exit device (the VM ends with that status), then spins.
pub fn exit_with(rs: u32) -> Vec<u32> {
    let mut v = exit_device_address();
    v.push(sw(rs, T3, 0));
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
        0x3108_001f, // andi t0, t0, 31
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
