//! Decoding of COP1 (opcode 0x11) and COP1X (opcode 0x13) instruction words.

use super::instr::{BinOp, Fmt, FpInstr, MaddOp, Rounding, UnOp};
use crate::instr::Instr;

fn field(word: u32, shift: u32, bits: u32) -> u8 {
    ((word >> shift) & ((1 << bits) - 1)) as u8
}

fn fmt_of(rs: u8) -> Option<Fmt> {
    match rs {
        16 => Some(Fmt::S),
        17 => Some(Fmt::D),
        20 => Some(Fmt::W),
        21 => Some(Fmt::L),
        _ => None,
    }
}

/// Decodes a COP1 word (primary opcode 0x11).
pub fn decode_cop1(word: u32) -> Instr {
    let rs = field(word, 21, 5);
    let rt = field(word, 16, 5);
    let fs = field(word, 11, 5);
    let fd = field(word, 6, 5);
    let funct = field(word, 0, 6);
    let fp = match rs {
        0 => FpInstr::Mfc1 { rt, fs },
        1 => FpInstr::Dmfc1 { rt, fs },
        2 => FpInstr::Cfc1 { rt, fs },
        3 => FpInstr::Mfhc1 { rt, fs },
        4 => FpInstr::Mtc1 { rt, fs },
        5 => FpInstr::Dmtc1 { rt, fs },
        6 => FpInstr::Ctc1 { rt, fs },
        7 => FpInstr::Mthc1 { rt, fs },
        8 => {
            return Instr::Bc1 {
                cc: rt >> 2,
                likely: rt & 2 != 0,
                tf: rt & 1 != 0,
                off: word as u16 as i16,
            }
        }
        _ => {
            let Some(fmt) = fmt_of(rs) else {
                return Instr::Reserved(word);
            };
            match decode_arith(fmt, funct, rt, fs, fd) {
                Some(f) => f,
                None => return Instr::Reserved(word),
            }
        }
    };
    Instr::Fpu(fp)
}

fn decode_arith(fmt: Fmt, funct: u8, ft: u8, fs: u8, fd: u8) -> Option<FpInstr> {
    let float = matches!(fmt, Fmt::S | Fmt::D);
    let bin = |op| {
        float.then_some(FpInstr::Binary {
            op,
            fmt,
            fd,
            fs,
            ft,
        })
    };
    let un = |op| float.then_some(FpInstr::Unary { op, fmt, fd, fs });
    let to_int = |rounding, to| {
        float.then_some(FpInstr::ToInt {
            rounding,
            to,
            fmt,
            fd,
            fs,
        })
    };
    match funct {
        0 => bin(BinOp::Add),
        1 => bin(BinOp::Sub),
        2 => bin(BinOp::Mul),
        3 => bin(BinOp::Div),
        4 => un(UnOp::Sqrt),
        5 => un(UnOp::Abs),
        6 => un(UnOp::Mov),
        7 => un(UnOp::Neg),
        8 => to_int(Rounding::Nearest, Fmt::L),
        9 => to_int(Rounding::Zero, Fmt::L),
        10 => to_int(Rounding::Up, Fmt::L),
        11 => to_int(Rounding::Down, Fmt::L),
        12 => to_int(Rounding::Nearest, Fmt::W),
        13 => to_int(Rounding::Zero, Fmt::W),
        14 => to_int(Rounding::Up, Fmt::W),
        15 => to_int(Rounding::Down, Fmt::W),
        17 if ft & 2 == 0 => float.then_some(FpInstr::Movcf {
            fmt,
            fd,
            fs,
            cc: ft >> 2,
            tf: ft & 1 != 0,
        }),
        18 | 19 => float.then_some(FpInstr::Movzn {
            fmt,
            fd,
            fs,
            rt: ft,
            nonzero: funct == 19,
        }),
        21 => un(UnOp::Recip),
        22 => un(UnOp::Rsqrt),
        32 if fmt != Fmt::S => Some(FpInstr::Cvt {
            to: Fmt::S,
            fmt,
            fd,
            fs,
        }),
        33 if fmt != Fmt::D => Some(FpInstr::Cvt {
            to: Fmt::D,
            fmt,
            fd,
            fs,
        }),
        36 => to_int(Rounding::Current, Fmt::W),
        37 => to_int(Rounding::Current, Fmt::L),
        48..=63 if fd & 3 == 0 => float.then_some(FpInstr::Cmp {
            fmt,
            cond: funct & 15,
            cc: fd >> 2,
            fs,
            ft,
        }),
        _ => None,
    }
}

/// Decodes a COP1X word (primary opcode 0x13).
pub fn decode_cop1x(word: u32) -> Instr {
    let base = field(word, 21, 5);
    let index = field(word, 16, 5);
    let fs = field(word, 11, 5);
    let fd = field(word, 6, 5);
    let funct = field(word, 0, 6);
    match funct {
        0 => Instr::Lwxc1 { fd, base, index },
        1 => Instr::Ldxc1 { fd, base, index },
        5 => Instr::Luxc1 { fd, base, index },
        8 => Instr::Swxc1 { fs, base, index },
        9 => Instr::Sdxc1 { fs, base, index },
        13 => Instr::Suxc1 { fs, base, index },
        15 => Instr::Prefx {
            hint: fs,
            base,
            index,
        },
        _ => {
            let op = match funct >> 3 {
                4 => MaddOp::Madd,
                5 => MaddOp::Msub,
                6 => MaddOp::Nmadd,
                7 => MaddOp::Nmsub,
                _ => return Instr::Reserved(word),
            };
            let fmt = match funct & 7 {
                0 => Fmt::S,
                1 => Fmt::D,
                _ => return Instr::Reserved(word),
            };
            Instr::Fpu(FpInstr::Madd {
                op,
                fmt,
                fd,
                fr: base,
                fs,
                ft: index,
            })
        }
    }
}
