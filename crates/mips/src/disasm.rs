//! Disassembler for traces: GNU-style mnemonics and register names.

use std::fmt::{self, Write};

use crate::fpu::{BinOp, Fmt, FpInstr, MaddOp, Rounding, UnOp};
use crate::instr::Instr;

/// Conventional names of the general registers (n64 ABI).
pub const GPR_NAMES: [&str; 32] = [
    "zero", "at", "v0", "v1", "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "t0", "t1", "t2",
    "t3", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "t8", "t9", "k0", "k1", "gp", "sp", "s8",
    "ra",
];

struct R(u8);
impl fmt::Display for R {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(GPR_NAMES[(self.0 & 31) as usize])
    }
}

struct F(u8);
impl fmt::Display for F {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "$f{}", self.0)
    }
}

fn fmt_suffix(fmt: Fmt) -> &'static str {
    match fmt {
        Fmt::S => "s",
        Fmt::D => "d",
        Fmt::W => "w",
        Fmt::L => "l",
    }
}

fn branch_target(pc: u64, off: i16) -> u64 {
    pc.wrapping_add(4).wrapping_add(((off as i64) << 2) as u64)
}

fn jump_target(pc: u64, target: u32) -> u64 {
    (pc.wrapping_add(4) & !0x0fff_ffff) | ((target as u64) << 2)
}

/// Renders `instr`, located at virtual address `pc`, as assembly text.
pub fn disasm(instr: &Instr, pc: u64) -> String {
    let mut s = String::new();
    // Writing to a String cannot fail.
    let _ = write_instr(&mut s, instr, pc);
    s
}

fn write_instr(o: &mut String, instr: &Instr, pc: u64) -> fmt::Result {
    use Instr::*;
    let bt = |off| branch_target(pc, off);
    match *instr {
        Nop => o.write_str("nop"),
        Ssnop => o.write_str("ssnop"),
        Ehb => o.write_str("ehb"),
        Sll { rd, rt, sa } => write!(o, "sll {}, {}, {sa}", R(rd), R(rt)),
        Srl { rd, rt, sa } => write!(o, "srl {}, {}, {sa}", R(rd), R(rt)),
        Sra { rd, rt, sa } => write!(o, "sra {}, {}, {sa}", R(rd), R(rt)),
        Rotr { rd, rt, sa } => write!(o, "rotr {}, {}, {sa}", R(rd), R(rt)),
        Dsll { rd, rt, sa } => write!(o, "dsll {}, {}, {sa}", R(rd), R(rt)),
        Dsrl { rd, rt, sa } => write!(o, "dsrl {}, {}, {sa}", R(rd), R(rt)),
        Dsra { rd, rt, sa } => write!(o, "dsra {}, {}, {sa}", R(rd), R(rt)),
        Drotr { rd, rt, sa } => write!(o, "drotr {}, {}, {sa}", R(rd), R(rt)),
        Dsll32 { rd, rt, sa } => write!(o, "dsll32 {}, {}, {sa}", R(rd), R(rt)),
        Dsrl32 { rd, rt, sa } => write!(o, "dsrl32 {}, {}, {sa}", R(rd), R(rt)),
        Dsra32 { rd, rt, sa } => write!(o, "dsra32 {}, {}, {sa}", R(rd), R(rt)),
        Drotr32 { rd, rt, sa } => write!(o, "drotr32 {}, {}, {sa}", R(rd), R(rt)),
        Sllv { rd, rt, rs } => write!(o, "sllv {}, {}, {}", R(rd), R(rt), R(rs)),
        Srlv { rd, rt, rs } => write!(o, "srlv {}, {}, {}", R(rd), R(rt), R(rs)),
        Srav { rd, rt, rs } => write!(o, "srav {}, {}, {}", R(rd), R(rt), R(rs)),
        Rotrv { rd, rt, rs } => write!(o, "rotrv {}, {}, {}", R(rd), R(rt), R(rs)),
        Dsllv { rd, rt, rs } => write!(o, "dsllv {}, {}, {}", R(rd), R(rt), R(rs)),
        Dsrlv { rd, rt, rs } => write!(o, "dsrlv {}, {}, {}", R(rd), R(rt), R(rs)),
        Dsrav { rd, rt, rs } => write!(o, "dsrav {}, {}, {}", R(rd), R(rt), R(rs)),
        Drotrv { rd, rt, rs } => write!(o, "drotrv {}, {}, {}", R(rd), R(rt), R(rs)),
        Or { rd, rs, rt: 0 } => write!(o, "move {}, {}", R(rd), R(rs)),
        Addu { rd, rs, rt: 0 } => write!(o, "move {}, {}", R(rd), R(rs)),
        Daddu { rd, rs, rt: 0 } => write!(o, "move {}, {}", R(rd), R(rs)),
        Add { rd, rs, rt } => three(o, "add", rd, rs, rt),
        Addu { rd, rs, rt } => three(o, "addu", rd, rs, rt),
        Sub { rd, rs, rt } => three(o, "sub", rd, rs, rt),
        Subu { rd, rs, rt } => three(o, "subu", rd, rs, rt),
        Dadd { rd, rs, rt } => three(o, "dadd", rd, rs, rt),
        Daddu { rd, rs, rt } => three(o, "daddu", rd, rs, rt),
        Dsub { rd, rs, rt } => three(o, "dsub", rd, rs, rt),
        Dsubu { rd, rs, rt } => three(o, "dsubu", rd, rs, rt),
        And { rd, rs, rt } => three(o, "and", rd, rs, rt),
        Or { rd, rs, rt } => three(o, "or", rd, rs, rt),
        Xor { rd, rs, rt } => three(o, "xor", rd, rs, rt),
        Nor { rd, rs, rt } => three(o, "nor", rd, rs, rt),
        Slt { rd, rs, rt } => three(o, "slt", rd, rs, rt),
        Sltu { rd, rs, rt } => three(o, "sltu", rd, rs, rt),
        Movz { rd, rs, rt } => three(o, "movz", rd, rs, rt),
        Movn { rd, rs, rt } => three(o, "movn", rd, rs, rt),
        Movci { rd, rs, cc, tf } => {
            write!(
                o,
                "mov{} {}, {}, $fcc{cc}",
                if tf { "t" } else { "f" },
                R(rd),
                R(rs)
            )
        }
        Mfhi { rd } => write!(o, "mfhi {}", R(rd)),
        Mthi { rs } => write!(o, "mthi {}", R(rs)),
        Mflo { rd } => write!(o, "mflo {}", R(rd)),
        Mtlo { rs } => write!(o, "mtlo {}", R(rs)),
        Mult { rs, rt } => two(o, "mult", rs, rt),
        Multu { rs, rt } => two(o, "multu", rs, rt),
        Div { rs, rt } => two(o, "div", rs, rt),
        Divu { rs, rt } => two(o, "divu", rs, rt),
        Dmult { rs, rt } => two(o, "dmult", rs, rt),
        Dmultu { rs, rt } => two(o, "dmultu", rs, rt),
        Ddiv { rs, rt } => two(o, "ddiv", rs, rt),
        Ddivu { rs, rt } => two(o, "ddivu", rs, rt),
        Madd { rs, rt } => two(o, "madd", rs, rt),
        Maddu { rs, rt } => two(o, "maddu", rs, rt),
        Msub { rs, rt } => two(o, "msub", rs, rt),
        Msubu { rs, rt } => two(o, "msubu", rs, rt),
        Mul { rd, rs, rt } => three(o, "mul", rd, rs, rt),
        Clz { rd, rs } => two(o, "clz", rd, rs),
        Clo { rd, rs } => two(o, "clo", rd, rs),
        Dclz { rd, rs } => two(o, "dclz", rd, rs),
        Dclo { rd, rs } => two(o, "dclo", rd, rs),
        Addiu { rt, rs: 0, imm } => write!(o, "li {}, {imm}", R(rt)),
        Ori { rt, rs: 0, imm } => write!(o, "li {}, 0x{imm:x}", R(rt)),
        Addi { rt, rs, imm } => write!(o, "addi {}, {}, {imm}", R(rt), R(rs)),
        Addiu { rt, rs, imm } => write!(o, "addiu {}, {}, {imm}", R(rt), R(rs)),
        Daddi { rt, rs, imm } => write!(o, "daddi {}, {}, {imm}", R(rt), R(rs)),
        Daddiu { rt, rs, imm } => write!(o, "daddiu {}, {}, {imm}", R(rt), R(rs)),
        Slti { rt, rs, imm } => write!(o, "slti {}, {}, {imm}", R(rt), R(rs)),
        Sltiu { rt, rs, imm } => write!(o, "sltiu {}, {}, {imm}", R(rt), R(rs)),
        Andi { rt, rs, imm } => write!(o, "andi {}, {}, 0x{imm:x}", R(rt), R(rs)),
        Ori { rt, rs, imm } => write!(o, "ori {}, {}, 0x{imm:x}", R(rt), R(rs)),
        Xori { rt, rs, imm } => write!(o, "xori {}, {}, 0x{imm:x}", R(rt), R(rs)),
        Lui { rt, imm } => write!(o, "lui {}, 0x{imm:x}", R(rt)),
        Ext { rt, rs, pos, size } => write!(o, "ext {}, {}, {pos}, {size}", R(rt), R(rs)),
        Dext { rt, rs, pos, size } => write!(o, "dext {}, {}, {pos}, {size}", R(rt), R(rs)),
        Ins { rt, rs, pos, size } => write!(o, "ins {}, {}, {pos}, {size}", R(rt), R(rs)),
        Dins { rt, rs, pos, size } => write!(o, "dins {}, {}, {pos}, {size}", R(rt), R(rs)),
        Wsbh { rd, rt } => two(o, "wsbh", rd, rt),
        Seb { rd, rt } => two(o, "seb", rd, rt),
        Seh { rd, rt } => two(o, "seh", rd, rt),
        Dsbh { rd, rt } => two(o, "dsbh", rd, rt),
        Dshd { rd, rt } => two(o, "dshd", rd, rt),
        Beq { rs: 0, rt: 0, off } => write!(o, "b 0x{:x}", bt(off)),
        Beq { rs, rt, off } => write!(o, "beq {}, {}, 0x{:x}", R(rs), R(rt), bt(off)),
        Bne { rs, rt, off } => write!(o, "bne {}, {}, 0x{:x}", R(rs), R(rt), bt(off)),
        Beql { rs, rt, off } => write!(o, "beql {}, {}, 0x{:x}", R(rs), R(rt), bt(off)),
        Bnel { rs, rt, off } => write!(o, "bnel {}, {}, 0x{:x}", R(rs), R(rt), bt(off)),
        Blez { rs, off } => cmpz(o, "blez", rs, bt(off)),
        Bgtz { rs, off } => cmpz(o, "bgtz", rs, bt(off)),
        Bltz { rs, off } => cmpz(o, "bltz", rs, bt(off)),
        Bgez { rs, off } => cmpz(o, "bgez", rs, bt(off)),
        Bgezal { rs: 0, off } => write!(o, "bal 0x{:x}", bt(off)),
        Bltzal { rs, off } => cmpz(o, "bltzal", rs, bt(off)),
        Bgezal { rs, off } => cmpz(o, "bgezal", rs, bt(off)),
        Blezl { rs, off } => cmpz(o, "blezl", rs, bt(off)),
        Bgtzl { rs, off } => cmpz(o, "bgtzl", rs, bt(off)),
        Bltzl { rs, off } => cmpz(o, "bltzl", rs, bt(off)),
        Bgezl { rs, off } => cmpz(o, "bgezl", rs, bt(off)),
        Bltzall { rs, off } => cmpz(o, "bltzall", rs, bt(off)),
        Bgezall { rs, off } => cmpz(o, "bgezall", rs, bt(off)),
        J { target } => write!(o, "j 0x{:x}", jump_target(pc, target)),
        Jal { target } => write!(o, "jal 0x{:x}", jump_target(pc, target)),
        Jr { rs, hb } => write!(o, "jr{} {}", if hb { ".hb" } else { "" }, R(rs)),
        Jalr { rd: 31, rs, hb } => write!(o, "jalr{} {}", if hb { ".hb" } else { "" }, R(rs)),
        Jalr { rd, rs, hb } => {
            write!(
                o,
                "jalr{} {}, {}",
                if hb { ".hb" } else { "" },
                R(rd),
                R(rs)
            )
        }
        Syscall { code } => code_op(o, "syscall", code),
        Break { code } => code_op(o, "break", code),
        Sdbbp { code } => code_op(o, "sdbbp", code),
        Teq { rs, rt, code } => trap(o, "teq", rs, rt, code),
        Tne { rs, rt, code } => trap(o, "tne", rs, rt, code),
        Tge { rs, rt, code } => trap(o, "tge", rs, rt, code),
        Tgeu { rs, rt, code } => trap(o, "tgeu", rs, rt, code),
        Tlt { rs, rt, code } => trap(o, "tlt", rs, rt, code),
        Tltu { rs, rt, code } => trap(o, "tltu", rs, rt, code),
        Teqi { rs, imm } => write!(o, "teqi {}, {imm}", R(rs)),
        Tnei { rs, imm } => write!(o, "tnei {}, {imm}", R(rs)),
        Tgei { rs, imm } => write!(o, "tgei {}, {imm}", R(rs)),
        Tgeiu { rs, imm } => write!(o, "tgeiu {}, {imm}", R(rs)),
        Tlti { rs, imm } => write!(o, "tlti {}, {imm}", R(rs)),
        Tltiu { rs, imm } => write!(o, "tltiu {}, {imm}", R(rs)),
        Lb { rt, base, off } => mem(o, "lb", R(rt), base, off),
        Lbu { rt, base, off } => mem(o, "lbu", R(rt), base, off),
        Lh { rt, base, off } => mem(o, "lh", R(rt), base, off),
        Lhu { rt, base, off } => mem(o, "lhu", R(rt), base, off),
        Lw { rt, base, off } => mem(o, "lw", R(rt), base, off),
        Lwu { rt, base, off } => mem(o, "lwu", R(rt), base, off),
        Ld { rt, base, off } => mem(o, "ld", R(rt), base, off),
        Lwl { rt, base, off } => mem(o, "lwl", R(rt), base, off),
        Lwr { rt, base, off } => mem(o, "lwr", R(rt), base, off),
        Ldl { rt, base, off } => mem(o, "ldl", R(rt), base, off),
        Ldr { rt, base, off } => mem(o, "ldr", R(rt), base, off),
        Ll { rt, base, off } => mem(o, "ll", R(rt), base, off),
        Lld { rt, base, off } => mem(o, "lld", R(rt), base, off),
        Sb { rt, base, off } => mem(o, "sb", R(rt), base, off),
        Sh { rt, base, off } => mem(o, "sh", R(rt), base, off),
        Sw { rt, base, off } => mem(o, "sw", R(rt), base, off),
        Sd { rt, base, off } => mem(o, "sd", R(rt), base, off),
        Swl { rt, base, off } => mem(o, "swl", R(rt), base, off),
        Swr { rt, base, off } => mem(o, "swr", R(rt), base, off),
        Sdl { rt, base, off } => mem(o, "sdl", R(rt), base, off),
        Sdr { rt, base, off } => mem(o, "sdr", R(rt), base, off),
        Sc { rt, base, off } => mem(o, "sc", R(rt), base, off),
        Scd { rt, base, off } => mem(o, "scd", R(rt), base, off),
        Lwc1 { ft, base, off } => mem(o, "lwc1", F(ft), base, off),
        Ldc1 { ft, base, off } => mem(o, "ldc1", F(ft), base, off),
        Swc1 { ft, base, off } => mem(o, "swc1", F(ft), base, off),
        Sdc1 { ft, base, off } => mem(o, "sdc1", F(ft), base, off),
        Lwxc1 { fd, base, index } => indexed(o, "lwxc1", fd, base, index),
        Ldxc1 { fd, base, index } => indexed(o, "ldxc1", fd, base, index),
        Luxc1 { fd, base, index } => indexed(o, "luxc1", fd, base, index),
        Swxc1 { fs, base, index } => indexed(o, "swxc1", fs, base, index),
        Sdxc1 { fs, base, index } => indexed(o, "sdxc1", fs, base, index),
        Suxc1 { fs, base, index } => indexed(o, "suxc1", fs, base, index),
        Prefx { hint, base, index } => write!(o, "prefx {hint}, {}({})", R(index), R(base)),
        Cache { op, base, off } => write!(o, "cache 0x{op:x}, {off}({})", R(base)),
        Pref { hint, base, off } => write!(o, "pref 0x{hint:x}, {off}({})", R(base)),
        Sync { stype: 0 } => o.write_str("sync"),
        Sync { stype } => write!(o, "sync 0x{stype:x}"),
        Synci { base, off } => write!(o, "synci {off}({})", R(base)),
        Mfc0 { rt, rd, sel } => write!(o, "mfc0 {}, ${rd}, {sel}", R(rt)),
        Dmfc0 { rt, rd, sel } => write!(o, "dmfc0 {}, ${rd}, {sel}", R(rt)),
        Mtc0 { rt, rd, sel } => write!(o, "mtc0 {}, ${rd}, {sel}", R(rt)),
        Dmtc0 { rt, rd, sel } => write!(o, "dmtc0 {}, ${rd}, {sel}", R(rt)),
        Di { rt: 0 } => o.write_str("di"),
        Di { rt } => write!(o, "di {}", R(rt)),
        Ei { rt: 0 } => o.write_str("ei"),
        Ei { rt } => write!(o, "ei {}", R(rt)),
        Rdpgpr { rd, rt } => two(o, "rdpgpr", rd, rt),
        Wrpgpr { rd, rt } => two(o, "wrpgpr", rd, rt),
        Tlbr => o.write_str("tlbr"),
        Tlbwi => o.write_str("tlbwi"),
        Tlbwr => o.write_str("tlbwr"),
        Tlbp => o.write_str("tlbp"),
        Eret => o.write_str("eret"),
        Deret => o.write_str("deret"),
        Wait => o.write_str("wait"),
        Rdhwr { rt, rd } => write!(o, "rdhwr {}, ${rd}", R(rt)),
        Bc1 {
            cc,
            tf,
            likely,
            off,
        } => write!(
            o,
            "bc1{}{} $fcc{cc}, 0x{:x}",
            if tf { "t" } else { "f" },
            if likely { "l" } else { "" },
            bt(off)
        ),
        Fpu(ref f) => write_fpu(o, f),
        CopUnusable { cop } => write!(o, "(cop{cop})"),
        Reserved(w) => write!(o, ".word 0x{w:08x}"),
    }
}

fn three(o: &mut String, m: &str, a: u8, b: u8, c: u8) -> fmt::Result {
    write!(o, "{m} {}, {}, {}", R(a), R(b), R(c))
}

fn two(o: &mut String, m: &str, a: u8, b: u8) -> fmt::Result {
    write!(o, "{m} {}, {}", R(a), R(b))
}

fn cmpz(o: &mut String, m: &str, rs: u8, target: u64) -> fmt::Result {
    write!(o, "{m} {}, 0x{target:x}", R(rs))
}

fn code_op(o: &mut String, m: &str, code: u32) -> fmt::Result {
    if code == 0 {
        o.write_str(m)
    } else {
        write!(o, "{m} 0x{code:x}")
    }
}

fn trap(o: &mut String, m: &str, rs: u8, rt: u8, code: u16) -> fmt::Result {
    if code == 0 {
        two(o, m, rs, rt)
    } else {
        write!(o, "{m} {}, {}, 0x{code:x}", R(rs), R(rt))
    }
}

fn mem(o: &mut String, m: &str, reg: impl fmt::Display, base: u8, off: i16) -> fmt::Result {
    write!(o, "{m} {reg}, {off}({})", R(base))
}

fn indexed(o: &mut String, m: &str, f: u8, base: u8, index: u8) -> fmt::Result {
    write!(o, "{m} {}, {}({})", F(f), R(index), R(base))
}

fn write_fpu(o: &mut String, f: &FpInstr) -> fmt::Result {
    match *f {
        FpInstr::Mfc1 { rt, fs } => write!(o, "mfc1 {}, {}", R(rt), F(fs)),
        FpInstr::Dmfc1 { rt, fs } => write!(o, "dmfc1 {}, {}", R(rt), F(fs)),
        FpInstr::Mfhc1 { rt, fs } => write!(o, "mfhc1 {}, {}", R(rt), F(fs)),
        FpInstr::Mtc1 { rt, fs } => write!(o, "mtc1 {}, {}", R(rt), F(fs)),
        FpInstr::Dmtc1 { rt, fs } => write!(o, "dmtc1 {}, {}", R(rt), F(fs)),
        FpInstr::Mthc1 { rt, fs } => write!(o, "mthc1 {}, {}", R(rt), F(fs)),
        FpInstr::Cfc1 { rt, fs } => write!(o, "cfc1 {}, ${fs}", R(rt)),
        FpInstr::Ctc1 { rt, fs } => write!(o, "ctc1 {}, ${fs}", R(rt)),
        FpInstr::Binary {
            op,
            fmt,
            fd,
            fs,
            ft,
        } => {
            let m = match op {
                BinOp::Add => "add",
                BinOp::Sub => "sub",
                BinOp::Mul => "mul",
                BinOp::Div => "div",
            };
            write!(o, "{m}.{} {}, {}, {}", fmt_suffix(fmt), F(fd), F(fs), F(ft))
        }
        FpInstr::Unary { op, fmt, fd, fs } => {
            let m = match op {
                UnOp::Sqrt => "sqrt",
                UnOp::Abs => "abs",
                UnOp::Mov => "mov",
                UnOp::Neg => "neg",
                UnOp::Recip => "recip",
                UnOp::Rsqrt => "rsqrt",
            };
            write!(o, "{m}.{} {}, {}", fmt_suffix(fmt), F(fd), F(fs))
        }
        FpInstr::ToInt {
            rounding,
            to,
            fmt,
            fd,
            fs,
        } => {
            let m = match rounding {
                Rounding::Nearest => "round",
                Rounding::Zero => "trunc",
                Rounding::Up => "ceil",
                Rounding::Down => "floor",
                Rounding::Current => "cvt",
            };
            write!(
                o,
                "{m}.{}.{} {}, {}",
                fmt_suffix(to),
                fmt_suffix(fmt),
                F(fd),
                F(fs)
            )
        }
        FpInstr::Cvt { to, fmt, fd, fs } => {
            write!(
                o,
                "cvt.{}.{} {}, {}",
                fmt_suffix(to),
                fmt_suffix(fmt),
                F(fd),
                F(fs)
            )
        }
        FpInstr::Movcf {
            fmt,
            fd,
            fs,
            cc,
            tf,
        } => write!(
            o,
            "mov{}.{} {}, {}, $fcc{cc}",
            if tf { "t" } else { "f" },
            fmt_suffix(fmt),
            F(fd),
            F(fs)
        ),
        FpInstr::Movzn {
            fmt,
            fd,
            fs,
            rt,
            nonzero,
        } => write!(
            o,
            "mov{}.{} {}, {}, {}",
            if nonzero { "n" } else { "z" },
            fmt_suffix(fmt),
            F(fd),
            F(fs),
            R(rt)
        ),
        FpInstr::Cmp {
            fmt,
            cond,
            cc,
            fs,
            ft,
        } => {
            const CONDS: [&str; 16] = [
                "f", "un", "eq", "ueq", "olt", "ult", "ole", "ule", "sf", "ngle", "seq", "ngl",
                "lt", "nge", "le", "ngt",
            ];
            write!(
                o,
                "c.{}.{} $fcc{cc}, {}, {}",
                CONDS[(cond & 15) as usize],
                fmt_suffix(fmt),
                F(fs),
                F(ft)
            )
        }
        FpInstr::Madd {
            op,
            fmt,
            fd,
            fr,
            fs,
            ft,
        } => {
            let m = match op {
                MaddOp::Madd => "madd",
                MaddOp::Msub => "msub",
                MaddOp::Nmadd => "nmadd",
                MaddOp::Nmsub => "nmsub",
            };
            write!(
                o,
                "{m}.{} {}, {}, {}, {}",
                fmt_suffix(fmt),
                F(fd),
                F(fr),
                F(fs),
                F(ft)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode;

    #[test]
    fn renders_branch_targets_relative_to_the_delay_slot() {
        // beq a0, a1, +3 instructions at 0x1000 -> 0x1000 + 4 + 12
        let i = decode(0x1085_0003);
        assert_eq!(disasm(&i, 0x1000), "beq a0, a1, 0x1010");
    }

    #[test]
    fn renders_memory_operands() {
        assert_eq!(disasm(&decode(0xdfbf_0018), 0), "ld ra, 24(sp)");
        assert_eq!(disasm(&decode(0x03e0_0008), 0), "jr ra");
    }
}
