//! A small MIPS64 Release 2 instruction encoder, so that tests need no
//! toolchain. Operand order follows the GNU assembler (`addiu rt, rs, imm`,
//! `lw rt, off(base)` is `lw(rt, off, base)`); branch offsets are in
//! instructions relative to the delay slot, as in the encoding.
//! `differential.rs` checks every encoder against `mips64el-linux-gnuabi64-as`.

#![allow(clippy::too_many_arguments)]

/// Register numbers (n64 names).
pub const ZERO: u8 = 0;
pub const AT: u8 = 1;
pub const V0: u8 = 2;
pub const V1: u8 = 3;
pub const A0: u8 = 4;
pub const A1: u8 = 5;
pub const A2: u8 = 6;
pub const A3: u8 = 7;
pub const T0: u8 = 12;
pub const T1: u8 = 13;
pub const T2: u8 = 14;
pub const T3: u8 = 15;
pub const S0: u8 = 16;
pub const S1: u8 = 17;
pub const S2: u8 = 18;
pub const S3: u8 = 19;
pub const T8: u8 = 24;
pub const T9: u8 = 25;
pub const K0: u8 = 26;
pub const K1: u8 = 27;
pub const GP: u8 = 28;
pub const SP: u8 = 29;
pub const RA: u8 = 31;

/// CP0 register numbers, as the CPU crate defines them.
pub use mips::cp0::reg as c0;

fn r(rs: u8, rt: u8, rd: u8, sa: u8, funct: u32) -> u32 {
    ((rs as u32 & 31) << 21)
        | ((rt as u32 & 31) << 16)
        | ((rd as u32 & 31) << 11)
        | ((sa as u32 & 31) << 6)
        | funct
}

fn i(op: u32, rs: u8, rt: u8, imm: u16) -> u32 {
    (op << 26) | ((rs as u32 & 31) << 21) | ((rt as u32 & 31) << 16) | imm as u32
}

fn special2(rs: u8, rt: u8, rd: u8, sa: u8, funct: u32) -> u32 {
    (0x1c << 26) | r(rs, rt, rd, sa, funct)
}

fn special3(rs: u8, rt: u8, rd: u8, sa: u8, funct: u32) -> u32 {
    (0x1f << 26) | r(rs, rt, rd, sa, funct)
}

fn regimm(rs: u8, code: u8, off: i16) -> u32 {
    i(1, rs, code, off as u16)
}

pub const NOP: u32 = 0;

// Shifts.
pub fn sll(rd: u8, rt: u8, sa: u8) -> u32 {
    r(0, rt, rd, sa, 0x00)
}
pub fn srl(rd: u8, rt: u8, sa: u8) -> u32 {
    r(0, rt, rd, sa, 0x02)
}
pub fn rotr(rd: u8, rt: u8, sa: u8) -> u32 {
    r(1, rt, rd, sa, 0x02)
}
pub fn sra(rd: u8, rt: u8, sa: u8) -> u32 {
    r(0, rt, rd, sa, 0x03)
}
pub fn sllv(rd: u8, rt: u8, rs: u8) -> u32 {
    r(rs, rt, rd, 0, 0x04)
}
pub fn srlv(rd: u8, rt: u8, rs: u8) -> u32 {
    r(rs, rt, rd, 0, 0x06)
}
pub fn rotrv(rd: u8, rt: u8, rs: u8) -> u32 {
    r(rs, rt, rd, 1, 0x06)
}
pub fn srav(rd: u8, rt: u8, rs: u8) -> u32 {
    r(rs, rt, rd, 0, 0x07)
}
pub fn dsll(rd: u8, rt: u8, sa: u8) -> u32 {
    r(0, rt, rd, sa, 0x38)
}
pub fn dsrl(rd: u8, rt: u8, sa: u8) -> u32 {
    r(0, rt, rd, sa, 0x3a)
}
pub fn drotr(rd: u8, rt: u8, sa: u8) -> u32 {
    r(1, rt, rd, sa, 0x3a)
}
pub fn dsra(rd: u8, rt: u8, sa: u8) -> u32 {
    r(0, rt, rd, sa, 0x3b)
}
pub fn dsll32(rd: u8, rt: u8, sa: u8) -> u32 {
    r(0, rt, rd, sa, 0x3c)
}
pub fn dsrl32(rd: u8, rt: u8, sa: u8) -> u32 {
    r(0, rt, rd, sa, 0x3e)
}
pub fn drotr32(rd: u8, rt: u8, sa: u8) -> u32 {
    r(1, rt, rd, sa, 0x3e)
}
pub fn dsra32(rd: u8, rt: u8, sa: u8) -> u32 {
    r(0, rt, rd, sa, 0x3f)
}
pub fn dsllv(rd: u8, rt: u8, rs: u8) -> u32 {
    r(rs, rt, rd, 0, 0x14)
}
pub fn dsrlv(rd: u8, rt: u8, rs: u8) -> u32 {
    r(rs, rt, rd, 0, 0x16)
}
pub fn drotrv(rd: u8, rt: u8, rs: u8) -> u32 {
    r(rs, rt, rd, 1, 0x16)
}
pub fn dsrav(rd: u8, rt: u8, rs: u8) -> u32 {
    r(rs, rt, rd, 0, 0x17)
}

// Three-register arithmetic and logic.
macro_rules! rrr {
    ($($name:ident = $funct:expr),* $(,)?) => {$(
        pub fn $name(rd: u8, rs: u8, rt: u8) -> u32 {
            r(rs, rt, rd, 0, $funct)
        }
    )*};
}
rrr!(
    movz = 0x0a,
    movn = 0x0b,
    add = 0x20,
    addu = 0x21,
    sub = 0x22,
    subu = 0x23,
    and = 0x24,
    or = 0x25,
    xor = 0x26,
    nor = 0x27,
    slt = 0x2a,
    sltu = 0x2b,
    dadd = 0x2c,
    daddu = 0x2d,
    dsub = 0x2e,
    dsubu = 0x2f,
);

/// `move rd, rs` (`or rd, rs, $0`).
pub fn mov(rd: u8, rs: u8) -> u32 {
    or(rd, rs, ZERO)
}

// HI/LO.
macro_rules! hilo {
    ($($name:ident = $funct:expr),* $(,)?) => {$(
        pub fn $name(rs: u8, rt: u8) -> u32 {
            r(rs, rt, 0, 0, $funct)
        }
    )*};
}
hilo!(
    mult = 0x18,
    multu = 0x19,
    div = 0x1a,
    divu = 0x1b,
    dmult = 0x1c,
    dmultu = 0x1d,
    ddiv = 0x1e,
    ddivu = 0x1f,
);
pub fn mfhi(rd: u8) -> u32 {
    r(0, 0, rd, 0, 0x10)
}
pub fn mthi(rs: u8) -> u32 {
    r(rs, 0, 0, 0, 0x11)
}
pub fn mflo(rd: u8) -> u32 {
    r(0, 0, rd, 0, 0x12)
}
pub fn mtlo(rs: u8) -> u32 {
    r(rs, 0, 0, 0, 0x13)
}
pub fn madd(rs: u8, rt: u8) -> u32 {
    special2(rs, rt, 0, 0, 0x00)
}
pub fn maddu(rs: u8, rt: u8) -> u32 {
    special2(rs, rt, 0, 0, 0x01)
}
pub fn msub(rs: u8, rt: u8) -> u32 {
    special2(rs, rt, 0, 0, 0x04)
}
pub fn msubu(rs: u8, rt: u8) -> u32 {
    special2(rs, rt, 0, 0, 0x05)
}
pub fn mul(rd: u8, rs: u8, rt: u8) -> u32 {
    special2(rs, rt, rd, 0, 0x02)
}
pub fn clz(rd: u8, rs: u8) -> u32 {
    special2(rs, rd, rd, 0, 0x20)
}
pub fn clo(rd: u8, rs: u8) -> u32 {
    special2(rs, rd, rd, 0, 0x21)
}
pub fn dclz(rd: u8, rs: u8) -> u32 {
    special2(rs, rd, rd, 0, 0x24)
}
pub fn dclo(rd: u8, rs: u8) -> u32 {
    special2(rs, rd, rd, 0, 0x25)
}
pub fn sdbbp(code: u32) -> u32 {
    (0x1c << 26) | ((code & 0xf_ffff) << 6) | 0x3f
}

// Immediate arithmetic and logic.
pub fn addi(rt: u8, rs: u8, imm: i16) -> u32 {
    i(0x08, rs, rt, imm as u16)
}
pub fn addiu(rt: u8, rs: u8, imm: i16) -> u32 {
    i(0x09, rs, rt, imm as u16)
}
pub fn slti(rt: u8, rs: u8, imm: i16) -> u32 {
    i(0x0a, rs, rt, imm as u16)
}
pub fn sltiu(rt: u8, rs: u8, imm: i16) -> u32 {
    i(0x0b, rs, rt, imm as u16)
}
pub fn andi(rt: u8, rs: u8, imm: u16) -> u32 {
    i(0x0c, rs, rt, imm)
}
pub fn ori(rt: u8, rs: u8, imm: u16) -> u32 {
    i(0x0d, rs, rt, imm)
}
pub fn xori(rt: u8, rs: u8, imm: u16) -> u32 {
    i(0x0e, rs, rt, imm)
}
pub fn lui(rt: u8, imm: u16) -> u32 {
    i(0x0f, 0, rt, imm)
}
pub fn daddi(rt: u8, rs: u8, imm: i16) -> u32 {
    i(0x18, rs, rt, imm as u16)
}
pub fn daddiu(rt: u8, rs: u8, imm: i16) -> u32 {
    i(0x19, rs, rt, imm as u16)
}

/// Loads any 64-bit constant into `rt` using only `rt` (6 instructions).
pub fn li64(rt: u8, v: u64) -> Vec<u32> {
    vec![
        lui(rt, (v >> 48) as u16),
        ori(rt, rt, (v >> 32) as u16),
        dsll(rt, rt, 16),
        ori(rt, rt, (v >> 16) as u16),
        dsll(rt, rt, 16),
        ori(rt, rt, v as u16),
    ]
}

/// Loads a sign-extended 32-bit constant into `rt` (2 instructions).
pub fn li32(rt: u8, v: i32) -> [u32; 2] {
    [lui(rt, (v >> 16) as u16), ori(rt, rt, v as u16)]
}

// Bit fields (Release 2): `pos`/`size` as in the assembler.
pub fn ext(rt: u8, rs: u8, pos: u8, size: u8) -> u32 {
    special3(rs, rt, size - 1, pos, 0x00)
}
pub fn dextm(rt: u8, rs: u8, pos: u8, size: u8) -> u32 {
    special3(rs, rt, size - 33, pos, 0x01)
}
pub fn dextu(rt: u8, rs: u8, pos: u8, size: u8) -> u32 {
    special3(rs, rt, size - 1, pos - 32, 0x02)
}
pub fn dext(rt: u8, rs: u8, pos: u8, size: u8) -> u32 {
    special3(rs, rt, size - 1, pos, 0x03)
}
pub fn ins(rt: u8, rs: u8, pos: u8, size: u8) -> u32 {
    special3(rs, rt, pos + size - 1, pos, 0x04)
}
pub fn dinsm(rt: u8, rs: u8, pos: u8, size: u8) -> u32 {
    special3(rs, rt, pos + size - 33, pos, 0x05)
}
pub fn dinsu(rt: u8, rs: u8, pos: u8, size: u8) -> u32 {
    special3(rs, rt, pos + size - 33, pos - 32, 0x06)
}
pub fn dins(rt: u8, rs: u8, pos: u8, size: u8) -> u32 {
    special3(rs, rt, pos + size - 1, pos, 0x07)
}
pub fn wsbh(rd: u8, rt: u8) -> u32 {
    special3(0, rt, rd, 0x02, 0x20)
}
pub fn seb(rd: u8, rt: u8) -> u32 {
    special3(0, rt, rd, 0x10, 0x20)
}
pub fn seh(rd: u8, rt: u8) -> u32 {
    special3(0, rt, rd, 0x18, 0x20)
}
pub fn dsbh(rd: u8, rt: u8) -> u32 {
    special3(0, rt, rd, 0x02, 0x24)
}
pub fn dshd(rd: u8, rt: u8) -> u32 {
    special3(0, rt, rd, 0x05, 0x24)
}
pub fn rdhwr(rt: u8, rd: u8) -> u32 {
    special3(0, rt, rd, 0, 0x3b)
}

// Branches and jumps.
pub fn beq(rs: u8, rt: u8, off: i16) -> u32 {
    i(0x04, rs, rt, off as u16)
}
pub fn bne(rs: u8, rt: u8, off: i16) -> u32 {
    i(0x05, rs, rt, off as u16)
}
pub fn blez(rs: u8, off: i16) -> u32 {
    i(0x06, rs, 0, off as u16)
}
pub fn bgtz(rs: u8, off: i16) -> u32 {
    i(0x07, rs, 0, off as u16)
}
pub fn beql(rs: u8, rt: u8, off: i16) -> u32 {
    i(0x14, rs, rt, off as u16)
}
pub fn bnel(rs: u8, rt: u8, off: i16) -> u32 {
    i(0x15, rs, rt, off as u16)
}
pub fn blezl(rs: u8, off: i16) -> u32 {
    i(0x16, rs, 0, off as u16)
}
pub fn bgtzl(rs: u8, off: i16) -> u32 {
    i(0x17, rs, 0, off as u16)
}
pub fn bltz(rs: u8, off: i16) -> u32 {
    regimm(rs, 0x00, off)
}
pub fn bgez(rs: u8, off: i16) -> u32 {
    regimm(rs, 0x01, off)
}
pub fn bltzl(rs: u8, off: i16) -> u32 {
    regimm(rs, 0x02, off)
}
pub fn bgezl(rs: u8, off: i16) -> u32 {
    regimm(rs, 0x03, off)
}
pub fn bltzal(rs: u8, off: i16) -> u32 {
    regimm(rs, 0x10, off)
}
pub fn bgezal(rs: u8, off: i16) -> u32 {
    regimm(rs, 0x11, off)
}
pub fn bltzall(rs: u8, off: i16) -> u32 {
    regimm(rs, 0x12, off)
}
pub fn bgezall(rs: u8, off: i16) -> u32 {
    regimm(rs, 0x13, off)
}
/// `b off` (`beq $0, $0, off`).
pub fn b(off: i16) -> u32 {
    beq(ZERO, ZERO, off)
}
/// `bal off` (`bgezal $0, off`).
pub fn bal(off: i16) -> u32 {
    bgezal(ZERO, off)
}
/// `j target`: `target` is the absolute address (same 256 MiB region).
pub fn j(target: u64) -> u32 {
    (0x02 << 26) | ((target >> 2) as u32 & 0x03ff_ffff)
}
pub fn jal(target: u64) -> u32 {
    (0x03 << 26) | ((target >> 2) as u32 & 0x03ff_ffff)
}
pub fn jr(rs: u8) -> u32 {
    r(rs, 0, 0, 0, 0x08)
}
pub fn jr_hb(rs: u8) -> u32 {
    r(rs, 0, 0, 16, 0x08)
}
pub fn jalr(rd: u8, rs: u8) -> u32 {
    r(rs, 0, rd, 0, 0x09)
}
pub fn jalr_hb(rd: u8, rs: u8) -> u32 {
    r(rs, 0, rd, 16, 0x09)
}

// Exceptions and traps.
pub fn syscall(code: u32) -> u32 {
    ((code & 0xf_ffff) << 6) | 0x0c
}
pub fn brk(code: u32) -> u32 {
    ((code & 0xf_ffff) << 6) | 0x0d
}
macro_rules! trap_rr {
    ($($name:ident = $funct:expr),* $(,)?) => {$(
        pub fn $name(rs: u8, rt: u8, code: u16) -> u32 {
            r(rs, rt, 0, 0, $funct) | ((code as u32 & 0x3ff) << 6)
        }
    )*};
}
trap_rr!(
    tge = 0x30,
    tgeu = 0x31,
    tlt = 0x32,
    tltu = 0x33,
    teq = 0x34,
    tne = 0x36
);
macro_rules! trap_ri {
    ($($name:ident = $code:expr),* $(,)?) => {$(
        pub fn $name(rs: u8, imm: i16) -> u32 {
            regimm(rs, $code, imm)
        }
    )*};
}
trap_ri!(
    tgei = 0x08,
    tgeiu = 0x09,
    tlti = 0x0a,
    tltiu = 0x0b,
    teqi = 0x0c,
    tnei = 0x0e
);

// Loads and stores: `op rt, off(base)`.
macro_rules! mem {
    ($($name:ident = $op:expr),* $(,)?) => {$(
        pub fn $name(rt: u8, off: i16, base: u8) -> u32 {
            i($op, base, rt, off as u16)
        }
    )*};
}
mem!(
    ldl = 0x1a,
    ldr = 0x1b,
    lb = 0x20,
    lh = 0x21,
    lwl = 0x22,
    lw = 0x23,
    lbu = 0x24,
    lhu = 0x25,
    lwr = 0x26,
    lwu = 0x27,
    sb = 0x28,
    sh = 0x29,
    swl = 0x2a,
    sw = 0x2b,
    sdl = 0x2c,
    sdr = 0x2d,
    swr = 0x2e,
    ll = 0x30,
    lwc1 = 0x31,
    lwc2 = 0x32,
    lld = 0x34,
    ldc1 = 0x35,
    ld = 0x37,
    sc = 0x38,
    swc1 = 0x39,
    scd = 0x3c,
    sdc1 = 0x3d,
    sd = 0x3f,
);
pub fn cache(op: u8, off: i16, base: u8) -> u32 {
    i(0x2f, base, op, off as u16)
}
pub fn pref(hint: u8, off: i16, base: u8) -> u32 {
    i(0x33, base, hint, off as u16)
}
pub fn sync(stype: u8) -> u32 {
    r(0, 0, 0, stype, 0x0f)
}
pub fn synci(off: i16, base: u8) -> u32 {
    regimm(base, 0x1f, off)
}

// Coprocessor 0.
fn cop0(rs: u32, rt: u8, rd: u8, sel: u8) -> u32 {
    (0x10 << 26) | (rs << 21) | ((rt as u32) << 16) | ((rd as u32) << 11) | sel as u32
}
pub fn mfc0(rt: u8, rd: u8, sel: u8) -> u32 {
    cop0(0, rt, rd, sel)
}
pub fn dmfc0(rt: u8, rd: u8, sel: u8) -> u32 {
    cop0(1, rt, rd, sel)
}
pub fn mtc0(rt: u8, rd: u8, sel: u8) -> u32 {
    cop0(4, rt, rd, sel)
}
pub fn dmtc0(rt: u8, rd: u8, sel: u8) -> u32 {
    cop0(5, rt, rd, sel)
}
pub fn rdpgpr(rd: u8, rt: u8) -> u32 {
    cop0(0x0a, rt, rd, 0)
}
pub fn wrpgpr(rd: u8, rt: u8) -> u32 {
    cop0(0x0e, rt, rd, 0)
}
pub fn di(rt: u8) -> u32 {
    cop0(0x0b, rt, 12, 0)
}
pub fn ei(rt: u8) -> u32 {
    cop0(0x0b, rt, 12, 0) | 0x20
}
pub const TLBR: u32 = 0x4200_0001;
pub const TLBWI: u32 = 0x4200_0002;
pub const TLBWR: u32 = 0x4200_0006;
pub const TLBP: u32 = 0x4200_0008;
pub const ERET: u32 = 0x4200_0018;
pub const WAIT: u32 = 0x4200_0020;
pub const EHB: u32 = 0x0000_00c0;

// Coprocessor 1 (a few, for Coprocessor Unusable tests).
pub fn mfc1(rt: u8, fs: u8) -> u32 {
    (0x11 << 26) | ((rt as u32) << 16) | ((fs as u32) << 11)
}
pub fn mtc1(rt: u8, fs: u8) -> u32 {
    (0x11 << 26) | (4 << 21) | ((rt as u32) << 16) | ((fs as u32) << 11)
}
pub fn dmtc1(rt: u8, fs: u8) -> u32 {
    (0x11 << 26) | (5 << 21) | ((rt as u32) << 16) | ((fs as u32) << 11)
}
pub fn ctc1(rt: u8, fs: u8) -> u32 {
    (0x11 << 26) | (6 << 21) | ((rt as u32) << 16) | ((fs as u32) << 11)
}
pub fn sqrt_d(fd: u8, fs: u8) -> u32 {
    (0x11 << 26) | (17 << 21) | ((fs as u32) << 11) | ((fd as u32) << 6) | 0x04
}
pub fn add_d(fd: u8, fs: u8, ft: u8) -> u32 {
    (0x11 << 26) | (17 << 21) | ((ft as u32) << 16) | ((fs as u32) << 11) | ((fd as u32) << 6)
}
pub fn bc1f(off: i16) -> u32 {
    (0x11 << 26) | (8 << 21) | off as u16 as u32
}
pub fn movf(rd: u8, rs: u8, cc: u8) -> u32 {
    r(rs, cc << 2, rd, 0, 0x01)
}
pub fn ldxc1(fd: u8, index: u8, base: u8) -> u32 {
    (0x13 << 26) | ((base as u32) << 21) | ((index as u32) << 16) | ((fd as u32) << 6) | 0x01
}
/// A COP2 instruction (`cop2 func`).
pub fn cop2(func: u32) -> u32 {
    (0x12 << 26) | (1 << 25) | (func & 0x1ff_ffff)
}
