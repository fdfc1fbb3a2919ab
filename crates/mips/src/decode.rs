//! Instruction decoding: one 32-bit word to one [`Instr`].
//!
//! Decoding is total: every word yields an instruction, with
//! [`Instr::Reserved`] for encodings MIPS64 Release 2 does not define (or that
//! this CPU does not implement, such as MIPS16e, microMIPS, MSA and DSP).

use crate::fpu::{decode_cop1, decode_cop1x};
use crate::instr::Instr;

#[inline]
fn rs(w: u32) -> u8 {
    ((w >> 21) & 31) as u8
}
#[inline]
fn rt(w: u32) -> u8 {
    ((w >> 16) & 31) as u8
}
#[inline]
fn rd(w: u32) -> u8 {
    ((w >> 11) & 31) as u8
}
#[inline]
fn sa(w: u32) -> u8 {
    ((w >> 6) & 31) as u8
}
#[inline]
fn simm(w: u32) -> i16 {
    w as u16 as i16
}
#[inline]
fn uimm(w: u32) -> u16 {
    w as u16
}

/// Decodes one instruction word.
pub fn decode(w: u32) -> Instr {
    let (rs, rt, rd, sa, imm, uimm) = (rs(w), rt(w), rd(w), sa(w), simm(w), uimm(w));
    match w >> 26 {
        0x00 => decode_special(w),
        0x01 => decode_regimm(w),
        0x02 => Instr::J {
            target: w & 0x03ff_ffff,
        },
        0x03 => Instr::Jal {
            target: w & 0x03ff_ffff,
        },
        0x04 => Instr::Beq { rs, rt, off: imm },
        0x05 => Instr::Bne { rs, rt, off: imm },
        0x06 if rt == 0 => Instr::Blez { rs, off: imm },
        0x07 if rt == 0 => Instr::Bgtz { rs, off: imm },
        0x08 => Instr::Addi { rt, rs, imm },
        0x09 => Instr::Addiu { rt, rs, imm },
        0x0a => Instr::Slti { rt, rs, imm },
        0x0b => Instr::Sltiu { rt, rs, imm },
        0x0c => Instr::Andi { rt, rs, imm: uimm },
        0x0d => Instr::Ori { rt, rs, imm: uimm },
        0x0e => Instr::Xori { rt, rs, imm: uimm },
        0x0f if rs == 0 => Instr::Lui { rt, imm: uimm },
        0x10 => decode_cop0(w),
        0x11 => decode_cop1(w),
        0x12 => Instr::CopUnusable { cop: 2 },
        0x13 => decode_cop1x(w),
        0x14 => Instr::Beql { rs, rt, off: imm },
        0x15 => Instr::Bnel { rs, rt, off: imm },
        0x16 if rt == 0 => Instr::Blezl { rs, off: imm },
        0x17 if rt == 0 => Instr::Bgtzl { rs, off: imm },
        0x18 => Instr::Daddi { rt, rs, imm },
        0x19 => Instr::Daddiu { rt, rs, imm },
        0x1a => Instr::Ldl {
            rt,
            base: rs,
            off: imm,
        },
        0x1b => Instr::Ldr {
            rt,
            base: rs,
            off: imm,
        },
        0x1c => decode_special2(w),
        0x1f => decode_special3(w),
        0x20 => Instr::Lb {
            rt,
            base: rs,
            off: imm,
        },
        0x21 => Instr::Lh {
            rt,
            base: rs,
            off: imm,
        },
        0x22 => Instr::Lwl {
            rt,
            base: rs,
            off: imm,
        },
        0x23 => Instr::Lw {
            rt,
            base: rs,
            off: imm,
        },
        0x24 => Instr::Lbu {
            rt,
            base: rs,
            off: imm,
        },
        0x25 => Instr::Lhu {
            rt,
            base: rs,
            off: imm,
        },
        0x26 => Instr::Lwr {
            rt,
            base: rs,
            off: imm,
        },
        0x27 => Instr::Lwu {
            rt,
            base: rs,
            off: imm,
        },
        0x28 => Instr::Sb {
            rt,
            base: rs,
            off: imm,
        },
        0x29 => Instr::Sh {
            rt,
            base: rs,
            off: imm,
        },
        0x2a => Instr::Swl {
            rt,
            base: rs,
            off: imm,
        },
        0x2b => Instr::Sw {
            rt,
            base: rs,
            off: imm,
        },
        0x2c => Instr::Sdl {
            rt,
            base: rs,
            off: imm,
        },
        0x2d => Instr::Sdr {
            rt,
            base: rs,
            off: imm,
        },
        0x2e => Instr::Swr {
            rt,
            base: rs,
            off: imm,
        },
        0x2f => Instr::Cache {
            op: rt,
            base: rs,
            off: imm,
        },
        0x30 => Instr::Ll {
            rt,
            base: rs,
            off: imm,
        },
        0x31 => Instr::Lwc1 {
            ft: rt,
            base: rs,
            off: imm,
        },
        0x32 | 0x36 | 0x3a | 0x3e => Instr::CopUnusable { cop: 2 },
        0x33 => Instr::Pref {
            hint: rt,
            base: rs,
            off: imm,
        },
        0x34 => Instr::Lld {
            rt,
            base: rs,
            off: imm,
        },
        0x35 => Instr::Ldc1 {
            ft: rt,
            base: rs,
            off: imm,
        },
        0x37 => Instr::Ld {
            rt,
            base: rs,
            off: imm,
        },
        0x38 => Instr::Sc {
            rt,
            base: rs,
            off: imm,
        },
        0x39 => Instr::Swc1 {
            ft: rt,
            base: rs,
            off: imm,
        },
        0x3c => Instr::Scd {
            rt,
            base: rs,
            off: imm,
        },
        0x3d => Instr::Sdc1 {
            ft: rt,
            base: rs,
            off: imm,
        },
        0x3f => Instr::Sd {
            rt,
            base: rs,
            off: imm,
        },
        _ => {
            let _ = (rd, sa);
            Instr::Reserved(w)
        }
    }
}

fn decode_special(w: u32) -> Instr {
    let (rs, rt, rd, sa) = (rs(w), rt(w), rd(w), sa(w));
    let funct = w & 0x3f;
    // Fields that must be zero for an encoding to be valid.
    let rs0 = rs == 0;
    let sa0 = sa == 0;
    match funct {
        0x00 if rs0 => match (rd, rt, sa) {
            (0, 0, 0) => Instr::Nop,
            (0, 0, 1) => Instr::Ssnop,
            (0, 0, 3) => Instr::Ehb,
            _ => Instr::Sll { rd, rt, sa },
        },
        0x01 if sa0 && w & (1 << 17) == 0 => Instr::Movci {
            rd,
            rs,
            cc: rt >> 2,
            tf: rt & 1 != 0,
        },
        0x02 if rs == 0 => Instr::Srl { rd, rt, sa },
        0x02 if rs == 1 => Instr::Rotr { rd, rt, sa },
        0x03 if rs0 => Instr::Sra { rd, rt, sa },
        0x04 if sa0 => Instr::Sllv { rd, rt, rs },
        0x06 if sa == 0 => Instr::Srlv { rd, rt, rs },
        0x06 if sa == 1 => Instr::Rotrv { rd, rt, rs },
        0x07 if sa0 => Instr::Srav { rd, rt, rs },
        0x08 if rt == 0 && rd == 0 && (sa == 0 || sa == 16) => Instr::Jr { rs, hb: sa == 16 },
        0x09 if rt == 0 && (sa == 0 || sa == 16) => Instr::Jalr {
            rd,
            rs,
            hb: sa == 16,
        },
        0x0a if sa0 => Instr::Movz { rd, rs, rt },
        0x0b if sa0 => Instr::Movn { rd, rs, rt },
        0x0c => Instr::Syscall {
            code: (w >> 6) & 0xf_ffff,
        },
        0x0d => Instr::Break {
            code: (w >> 6) & 0xf_ffff,
        },
        0x0f if w >> 11 == 0 => Instr::Sync { stype: sa },
        0x10 if rs0 && rt == 0 && sa0 => Instr::Mfhi { rd },
        0x11 if rt == 0 && rd == 0 && sa0 => Instr::Mthi { rs },
        0x12 if rs0 && rt == 0 && sa0 => Instr::Mflo { rd },
        0x13 if rt == 0 && rd == 0 && sa0 => Instr::Mtlo { rs },
        0x14 if sa0 => Instr::Dsllv { rd, rt, rs },
        0x16 if sa == 0 => Instr::Dsrlv { rd, rt, rs },
        0x16 if sa == 1 => Instr::Drotrv { rd, rt, rs },
        0x17 if sa0 => Instr::Dsrav { rd, rt, rs },
        0x18..=0x1f if rd == 0 && sa0 => match funct {
            0x18 => Instr::Mult { rs, rt },
            0x19 => Instr::Multu { rs, rt },
            0x1a => Instr::Div { rs, rt },
            0x1b => Instr::Divu { rs, rt },
            0x1c => Instr::Dmult { rs, rt },
            0x1d => Instr::Dmultu { rs, rt },
            0x1e => Instr::Ddiv { rs, rt },
            _ => Instr::Ddivu { rs, rt },
        },
        0x20 if sa0 => Instr::Add { rd, rs, rt },
        0x21 if sa0 => Instr::Addu { rd, rs, rt },
        0x22 if sa0 => Instr::Sub { rd, rs, rt },
        0x23 if sa0 => Instr::Subu { rd, rs, rt },
        0x24 if sa0 => Instr::And { rd, rs, rt },
        0x25 if sa0 => Instr::Or { rd, rs, rt },
        0x26 if sa0 => Instr::Xor { rd, rs, rt },
        0x27 if sa0 => Instr::Nor { rd, rs, rt },
        0x2a if sa0 => Instr::Slt { rd, rs, rt },
        0x2b if sa0 => Instr::Sltu { rd, rs, rt },
        0x2c if sa0 => Instr::Dadd { rd, rs, rt },
        0x2d if sa0 => Instr::Daddu { rd, rs, rt },
        0x2e if sa0 => Instr::Dsub { rd, rs, rt },
        0x2f if sa0 => Instr::Dsubu { rd, rs, rt },
        0x30..=0x36 => {
            let code = ((w >> 6) & 0x3ff) as u16;
            match funct {
                0x30 => Instr::Tge { rs, rt, code },
                0x31 => Instr::Tgeu { rs, rt, code },
                0x32 => Instr::Tlt { rs, rt, code },
                0x33 => Instr::Tltu { rs, rt, code },
                0x34 => Instr::Teq { rs, rt, code },
                0x36 => Instr::Tne { rs, rt, code },
                _ => Instr::Reserved(w),
            }
        }
        0x38 if rs0 => Instr::Dsll { rd, rt, sa },
        0x3a if rs == 0 => Instr::Dsrl { rd, rt, sa },
        0x3a if rs == 1 => Instr::Drotr { rd, rt, sa },
        0x3b if rs0 => Instr::Dsra { rd, rt, sa },
        0x3c if rs0 => Instr::Dsll32 { rd, rt, sa },
        0x3e if rs == 0 => Instr::Dsrl32 { rd, rt, sa },
        0x3e if rs == 1 => Instr::Drotr32 { rd, rt, sa },
        0x3f if rs0 => Instr::Dsra32 { rd, rt, sa },
        _ => Instr::Reserved(w),
    }
}

fn decode_regimm(w: u32) -> Instr {
    let (rs, off) = (rs(w), simm(w));
    match rt(w) {
        0x00 => Instr::Bltz { rs, off },
        0x01 => Instr::Bgez { rs, off },
        0x02 => Instr::Bltzl { rs, off },
        0x03 => Instr::Bgezl { rs, off },
        0x08 => Instr::Tgei { rs, imm: off },
        0x09 => Instr::Tgeiu { rs, imm: off },
        0x0a => Instr::Tlti { rs, imm: off },
        0x0b => Instr::Tltiu { rs, imm: off },
        0x0c => Instr::Teqi { rs, imm: off },
        0x0e => Instr::Tnei { rs, imm: off },
        0x10 => Instr::Bltzal { rs, off },
        0x11 => Instr::Bgezal { rs, off },
        0x12 => Instr::Bltzall { rs, off },
        0x13 => Instr::Bgezall { rs, off },
        0x1f => Instr::Synci { base: rs, off },
        _ => Instr::Reserved(w),
    }
}

fn decode_special2(w: u32) -> Instr {
    let (rs, rt, rd, sa) = (rs(w), rt(w), rd(w), sa(w));
    let hilo = rd == 0 && sa == 0;
    match w & 0x3f {
        0x00 if hilo => Instr::Madd { rs, rt },
        0x01 if hilo => Instr::Maddu { rs, rt },
        0x02 if sa == 0 => Instr::Mul { rd, rs, rt },
        0x04 if hilo => Instr::Msub { rs, rt },
        0x05 if hilo => Instr::Msubu { rs, rt },
        // CLZ/CLO/DCLZ/DCLO encode rd in both the rt and rd fields.
        0x20 if sa == 0 => Instr::Clz { rd, rs },
        0x21 if sa == 0 => Instr::Clo { rd, rs },
        0x24 if sa == 0 => Instr::Dclz { rd, rs },
        0x25 if sa == 0 => Instr::Dclo { rd, rs },
        0x3f => Instr::Sdbbp {
            code: (w >> 6) & 0xf_ffff,
        },
        _ => Instr::Reserved(w),
    }
}

fn decode_special3(w: u32) -> Instr {
    let (rs, rt, rd, sa) = (rs(w), rt(w), rd(w), sa(w));
    // For EXT-family `rd` is msbd (size-1) and `sa` is lsb; for INS-family `rd` is msb.
    let (msb, lsb) = (rd, sa);
    match w & 0x3f {
        0x00 if lsb + msb < 32 => Instr::Ext {
            rt,
            rs,
            pos: lsb,
            size: msb + 1,
        },
        0x01 => Instr::Dext {
            rt,
            rs,
            pos: lsb,
            size: msb + 33,
        },
        0x02 => Instr::Dext {
            rt,
            rs,
            pos: lsb + 32,
            size: msb + 1,
        },
        0x03 => Instr::Dext {
            rt,
            rs,
            pos: lsb,
            size: msb + 1,
        },
        0x04 if msb >= lsb => Instr::Ins {
            rt,
            rs,
            pos: lsb,
            size: msb - lsb + 1,
        },
        0x05 => Instr::Dins {
            rt,
            rs,
            pos: lsb,
            size: msb + 32 - lsb + 1,
        },
        0x06 if msb >= lsb => Instr::Dins {
            rt,
            rs,
            pos: lsb + 32,
            size: msb - lsb + 1,
        },
        0x07 if msb >= lsb => Instr::Dins {
            rt,
            rs,
            pos: lsb,
            size: msb - lsb + 1,
        },
        0x20 if rs == 0 => match sa {
            0x02 => Instr::Wsbh { rd, rt },
            0x10 => Instr::Seb { rd, rt },
            0x18 => Instr::Seh { rd, rt },
            _ => Instr::Reserved(w),
        },
        0x24 if rs == 0 => match sa {
            0x02 => Instr::Dsbh { rd, rt },
            0x05 => Instr::Dshd { rd, rt },
            _ => Instr::Reserved(w),
        },
        0x3b if rs == 0 && sa == 0 => Instr::Rdhwr { rt, rd },
        _ => Instr::Reserved(w),
    }
}

fn decode_cop0(w: u32) -> Instr {
    let (rs, rt, rd) = (rs(w), rt(w), rd(w));
    let sel = (w & 7) as u8;
    let zero_mid = (w >> 3) & 0xff == 0;
    match rs {
        0x00 if zero_mid => Instr::Mfc0 { rt, rd, sel },
        0x01 if zero_mid => Instr::Dmfc0 { rt, rd, sel },
        0x04 if zero_mid => Instr::Mtc0 { rt, rd, sel },
        0x05 if zero_mid => Instr::Dmtc0 { rt, rd, sel },
        0x0a => Instr::Rdpgpr { rd, rt },
        0x0b if rd == 12 && w & 0x7ff == 0x020 => Instr::Ei { rt },
        0x0b if rd == 12 && w & 0x7ff == 0x000 => Instr::Di { rt },
        0x0e => Instr::Wrpgpr { rd, rt },
        0x10..=0x1f => match w & 0x3f {
            0x01 => Instr::Tlbr,
            0x02 => Instr::Tlbwi,
            0x06 => Instr::Tlbwr,
            0x08 => Instr::Tlbp,
            0x18 => Instr::Eret,
            0x1f => Instr::Deret,
            0x20 => Instr::Wait,
            _ => Instr::Reserved(w),
        },
        _ => Instr::Reserved(w),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fpu::{BinOp, Fmt, FpInstr};

    #[test]
    fn decodes_common_kernel_words() {
        // Words taken from the Linux MIPS encodings documented in the MIPS64 manual.
        assert_eq!(decode(0x0000_0000), Instr::Nop);
        assert_eq!(decode(0x0000_00c0), Instr::Ehb);
        assert_eq!(decode(0x03e0_0008), Instr::Jr { rs: 31, hb: false });
        assert_eq!(decode(0x03e0_0408), Instr::Jr { rs: 31, hb: true });
        assert_eq!(
            decode(0x0320_f809),
            Instr::Jalr {
                rd: 31,
                rs: 25,
                hb: false
            }
        );
        assert_eq!(decode(0x4200_0020), Instr::Wait);
        assert_eq!(decode(0x4200_0018), Instr::Eret);
        assert_eq!(decode(0x4200_0006), Instr::Tlbwr);
        assert_eq!(decode(0x4160_6000), Instr::Di { rt: 0 });
        assert_eq!(decode(0x4160_6020), Instr::Ei { rt: 0 });
        assert_eq!(
            decode(0x401a_6000),
            Instr::Mfc0 {
                rt: 26,
                rd: 12,
                sel: 0
            }
        );
        assert_eq!(
            decode(0x40a4_7801),
            Instr::Dmtc0 {
                rt: 4,
                rd: 15,
                sel: 1
            }
        );
        assert_eq!(decode(0x7c03_e83b), Instr::Rdhwr { rt: 3, rd: 29 });
        assert_eq!(decode(0x3c04_ffff), Instr::Lui { rt: 4, imm: 0xffff });
        assert_eq!(
            decode(0x2484_fffe),
            Instr::Addiu {
                rt: 4,
                rs: 4,
                imm: -2
            }
        );
    }

    #[test]
    fn decodes_bitfield_forms_with_architectural_positions() {
        // ext v0, a0, 3, 5  => msbd = 4, lsb = 3
        assert_eq!(
            decode(0x7c82_20c0),
            Instr::Ext {
                rt: 2,
                rs: 4,
                pos: 3,
                size: 5
            }
        );
        // dextu v0, a0, 40, 8 => lsb field 8, msbd 7
        assert_eq!(
            decode(0x7c82_3a02),
            Instr::Dext {
                rt: 2,
                rs: 4,
                pos: 40,
                size: 8
            }
        );
        // dextm v0, a0, 4, 36 => msbdminus32 = 3
        assert_eq!(
            decode(0x7c82_1901),
            Instr::Dext {
                rt: 2,
                rs: 4,
                pos: 4,
                size: 36
            }
        );
        // dins v0, a0, 8, 16 => msb = 23, lsb = 8
        assert_eq!(
            decode(0x7c82_ba07),
            Instr::Dins {
                rt: 2,
                rs: 4,
                pos: 8,
                size: 16
            }
        );
        // dinsm v0, a0, 30, 4 => msb-32 = 1, lsb = 30
        assert_eq!(
            decode(0x7c82_0f85),
            Instr::Dins {
                rt: 2,
                rs: 4,
                pos: 30,
                size: 4
            }
        );
        // dinsu v0, a0, 34, 4 => msb-32 = 5, lsb-32 = 2
        assert_eq!(
            decode(0x7c82_2886),
            Instr::Dins {
                rt: 2,
                rs: 4,
                pos: 34,
                size: 4
            }
        );
    }

    #[test]
    fn decodes_fpu_arithmetic() {
        // add.d $f0, $f2, $f4
        assert_eq!(
            decode(0x4624_1000),
            Instr::Fpu(FpInstr::Binary {
                op: BinOp::Add,
                fmt: Fmt::D,
                fd: 0,
                fs: 2,
                ft: 4
            })
        );
    }

    #[test]
    fn reserved_encodings_are_reserved() {
        assert_eq!(decode(0x7000_0003), Instr::Reserved(0x7000_0003));
        assert_eq!(decode(0xec00_0000), Instr::Reserved(0xec00_0000));
        assert!(matches!(decode(0x4800_0000), Instr::CopUnusable { cop: 2 }));
    }

    #[test]
    fn instr_stays_small_for_the_block_cache() {
        assert!(
            std::mem::size_of::<Instr>() <= 8,
            "Instr is {} bytes",
            std::mem::size_of::<Instr>()
        );
    }
}
