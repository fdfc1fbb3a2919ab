//! The typed instruction form.
//!
//! Every 32-bit instruction word is decoded exactly once (see [`crate::decode`])
//! into an [`Instr`]. The same value is executed by the interpreter, printed by
//! the disassembler used in traces, and inspected by the monitor when it emulates
//! a privileged instruction. Register fields are raw 5-bit numbers (`0..32`);
//! immediates keep the sign they have in the architecture.

use crate::fpu::FpInstr;

/// A decoded MIPS64 Release 2 instruction.
///
/// Field names follow the MIPS64 manual: `rs`/`rt`/`rd` general registers,
/// `sa` shift amounts, `imm` sign- or zero-extended immediates as the opcode
/// defines, `off` branch or memory offsets (branch offsets in instructions,
/// not bytes), `base` the address register of loads and stores.
// `repr(u8)` gives the enum a plain tag byte, so the interpreter's dispatch
// is one table jump (without it, the nested `FpInstr` makes the compiler
// encode tags in niches, which costs several instructions per dispatch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
#[repr(u8)]
pub enum Instr {
    /// `sll $0, $0, 0` and the other architectural no-ops (`ssnop`, `ehb`).
    Nop,
    Ssnop,
    Ehb,

    // Shifts by immediate, 32- and 64-bit.
    Sll {
        rd: u8,
        rt: u8,
        sa: u8,
    },
    Srl {
        rd: u8,
        rt: u8,
        sa: u8,
    },
    Sra {
        rd: u8,
        rt: u8,
        sa: u8,
    },
    Rotr {
        rd: u8,
        rt: u8,
        sa: u8,
    },
    Dsll {
        rd: u8,
        rt: u8,
        sa: u8,
    },
    Dsrl {
        rd: u8,
        rt: u8,
        sa: u8,
    },
    Dsra {
        rd: u8,
        rt: u8,
        sa: u8,
    },
    Drotr {
        rd: u8,
        rt: u8,
        sa: u8,
    },
    Dsll32 {
        rd: u8,
        rt: u8,
        sa: u8,
    },
    Dsrl32 {
        rd: u8,
        rt: u8,
        sa: u8,
    },
    Dsra32 {
        rd: u8,
        rt: u8,
        sa: u8,
    },
    Drotr32 {
        rd: u8,
        rt: u8,
        sa: u8,
    },
    // Shifts by register.
    Sllv {
        rd: u8,
        rt: u8,
        rs: u8,
    },
    Srlv {
        rd: u8,
        rt: u8,
        rs: u8,
    },
    Srav {
        rd: u8,
        rt: u8,
        rs: u8,
    },
    Rotrv {
        rd: u8,
        rt: u8,
        rs: u8,
    },
    Dsllv {
        rd: u8,
        rt: u8,
        rs: u8,
    },
    Dsrlv {
        rd: u8,
        rt: u8,
        rs: u8,
    },
    Dsrav {
        rd: u8,
        rt: u8,
        rs: u8,
    },
    Drotrv {
        rd: u8,
        rt: u8,
        rs: u8,
    },

    // Three-register arithmetic and logic.
    Add {
        rd: u8,
        rs: u8,
        rt: u8,
    },
    Addu {
        rd: u8,
        rs: u8,
        rt: u8,
    },
    Sub {
        rd: u8,
        rs: u8,
        rt: u8,
    },
    Subu {
        rd: u8,
        rs: u8,
        rt: u8,
    },
    Dadd {
        rd: u8,
        rs: u8,
        rt: u8,
    },
    Daddu {
        rd: u8,
        rs: u8,
        rt: u8,
    },
    Dsub {
        rd: u8,
        rs: u8,
        rt: u8,
    },
    Dsubu {
        rd: u8,
        rs: u8,
        rt: u8,
    },
    And {
        rd: u8,
        rs: u8,
        rt: u8,
    },
    Or {
        rd: u8,
        rs: u8,
        rt: u8,
    },
    Xor {
        rd: u8,
        rs: u8,
        rt: u8,
    },
    Nor {
        rd: u8,
        rs: u8,
        rt: u8,
    },
    Slt {
        rd: u8,
        rs: u8,
        rt: u8,
    },
    Sltu {
        rd: u8,
        rs: u8,
        rt: u8,
    },
    Movz {
        rd: u8,
        rs: u8,
        rt: u8,
    },
    Movn {
        rd: u8,
        rs: u8,
        rt: u8,
    },
    /// `movf`/`movt`: move if FP condition code `cc` is false/true (`tf`).
    Movci {
        rd: u8,
        rs: u8,
        cc: u8,
        tf: bool,
    },

    // HI/LO, multiply and divide.
    Mfhi {
        rd: u8,
    },
    Mthi {
        rs: u8,
    },
    Mflo {
        rd: u8,
    },
    Mtlo {
        rs: u8,
    },
    Mult {
        rs: u8,
        rt: u8,
    },
    Multu {
        rs: u8,
        rt: u8,
    },
    Div {
        rs: u8,
        rt: u8,
    },
    Divu {
        rs: u8,
        rt: u8,
    },
    Dmult {
        rs: u8,
        rt: u8,
    },
    Dmultu {
        rs: u8,
        rt: u8,
    },
    Ddiv {
        rs: u8,
        rt: u8,
    },
    Ddivu {
        rs: u8,
        rt: u8,
    },
    Madd {
        rs: u8,
        rt: u8,
    },
    Maddu {
        rs: u8,
        rt: u8,
    },
    Msub {
        rs: u8,
        rt: u8,
    },
    Msubu {
        rs: u8,
        rt: u8,
    },
    Mul {
        rd: u8,
        rs: u8,
        rt: u8,
    },
    Clz {
        rd: u8,
        rs: u8,
    },
    Clo {
        rd: u8,
        rs: u8,
    },
    Dclz {
        rd: u8,
        rs: u8,
    },
    Dclo {
        rd: u8,
        rs: u8,
    },

    // Immediate arithmetic and logic.
    Addi {
        rt: u8,
        rs: u8,
        imm: i16,
    },
    Addiu {
        rt: u8,
        rs: u8,
        imm: i16,
    },
    Daddi {
        rt: u8,
        rs: u8,
        imm: i16,
    },
    Daddiu {
        rt: u8,
        rs: u8,
        imm: i16,
    },
    Slti {
        rt: u8,
        rs: u8,
        imm: i16,
    },
    Sltiu {
        rt: u8,
        rs: u8,
        imm: i16,
    },
    Andi {
        rt: u8,
        rs: u8,
        imm: u16,
    },
    Ori {
        rt: u8,
        rs: u8,
        imm: u16,
    },
    Xori {
        rt: u8,
        rs: u8,
        imm: u16,
    },
    Lui {
        rt: u8,
        imm: u16,
    },

    // Bit-field and byte-swap instructions (Release 2). `pos`/`size` are the
    // architectural bit position and field width (already adjusted for the
    // DEXTM/DEXTU/DINSM/DINSU encodings).
    Ext {
        rt: u8,
        rs: u8,
        pos: u8,
        size: u8,
    },
    Dext {
        rt: u8,
        rs: u8,
        pos: u8,
        size: u8,
    },
    Ins {
        rt: u8,
        rs: u8,
        pos: u8,
        size: u8,
    },
    Dins {
        rt: u8,
        rs: u8,
        pos: u8,
        size: u8,
    },
    Wsbh {
        rd: u8,
        rt: u8,
    },
    Seb {
        rd: u8,
        rt: u8,
    },
    Seh {
        rd: u8,
        rt: u8,
    },
    Dsbh {
        rd: u8,
        rt: u8,
    },
    Dshd {
        rd: u8,
        rt: u8,
    },

    // Branches: `off` counts instructions from the delay slot.
    Beq {
        rs: u8,
        rt: u8,
        off: i16,
    },
    Bne {
        rs: u8,
        rt: u8,
        off: i16,
    },
    Blez {
        rs: u8,
        off: i16,
    },
    Bgtz {
        rs: u8,
        off: i16,
    },
    Bltz {
        rs: u8,
        off: i16,
    },
    Bgez {
        rs: u8,
        off: i16,
    },
    Bltzal {
        rs: u8,
        off: i16,
    },
    Bgezal {
        rs: u8,
        off: i16,
    },
    Beql {
        rs: u8,
        rt: u8,
        off: i16,
    },
    Bnel {
        rs: u8,
        rt: u8,
        off: i16,
    },
    Blezl {
        rs: u8,
        off: i16,
    },
    Bgtzl {
        rs: u8,
        off: i16,
    },
    Bltzl {
        rs: u8,
        off: i16,
    },
    Bgezl {
        rs: u8,
        off: i16,
    },
    Bltzall {
        rs: u8,
        off: i16,
    },
    Bgezall {
        rs: u8,
        off: i16,
    },
    /// `j`/`jal`: `target` is the 26-bit instruction index.
    J {
        target: u32,
    },
    Jal {
        target: u32,
    },
    /// `jr`, and `jr.hb` when `hb` is set.
    Jr {
        rs: u8,
        hb: bool,
    },
    /// `jalr`, and `jalr.hb` when `hb` is set.
    Jalr {
        rd: u8,
        rs: u8,
        hb: bool,
    },

    // Exceptions and traps.
    Syscall {
        code: u32,
    },
    Break {
        code: u32,
    },
    Sdbbp {
        code: u32,
    },
    Teq {
        rs: u8,
        rt: u8,
        code: u16,
    },
    Tne {
        rs: u8,
        rt: u8,
        code: u16,
    },
    Tge {
        rs: u8,
        rt: u8,
        code: u16,
    },
    Tgeu {
        rs: u8,
        rt: u8,
        code: u16,
    },
    Tlt {
        rs: u8,
        rt: u8,
        code: u16,
    },
    Tltu {
        rs: u8,
        rt: u8,
        code: u16,
    },
    Teqi {
        rs: u8,
        imm: i16,
    },
    Tnei {
        rs: u8,
        imm: i16,
    },
    Tgei {
        rs: u8,
        imm: i16,
    },
    Tgeiu {
        rs: u8,
        imm: i16,
    },
    Tlti {
        rs: u8,
        imm: i16,
    },
    Tltiu {
        rs: u8,
        imm: i16,
    },

    // Loads and stores: address = GPR[base] + off.
    Lb {
        rt: u8,
        base: u8,
        off: i16,
    },
    Lbu {
        rt: u8,
        base: u8,
        off: i16,
    },
    Lh {
        rt: u8,
        base: u8,
        off: i16,
    },
    Lhu {
        rt: u8,
        base: u8,
        off: i16,
    },
    Lw {
        rt: u8,
        base: u8,
        off: i16,
    },
    Lwu {
        rt: u8,
        base: u8,
        off: i16,
    },
    Ld {
        rt: u8,
        base: u8,
        off: i16,
    },
    Lwl {
        rt: u8,
        base: u8,
        off: i16,
    },
    Lwr {
        rt: u8,
        base: u8,
        off: i16,
    },
    Ldl {
        rt: u8,
        base: u8,
        off: i16,
    },
    Ldr {
        rt: u8,
        base: u8,
        off: i16,
    },
    Ll {
        rt: u8,
        base: u8,
        off: i16,
    },
    Lld {
        rt: u8,
        base: u8,
        off: i16,
    },
    Sb {
        rt: u8,
        base: u8,
        off: i16,
    },
    Sh {
        rt: u8,
        base: u8,
        off: i16,
    },
    Sw {
        rt: u8,
        base: u8,
        off: i16,
    },
    Sd {
        rt: u8,
        base: u8,
        off: i16,
    },
    Swl {
        rt: u8,
        base: u8,
        off: i16,
    },
    Swr {
        rt: u8,
        base: u8,
        off: i16,
    },
    Sdl {
        rt: u8,
        base: u8,
        off: i16,
    },
    Sdr {
        rt: u8,
        base: u8,
        off: i16,
    },
    Sc {
        rt: u8,
        base: u8,
        off: i16,
    },
    Scd {
        rt: u8,
        base: u8,
        off: i16,
    },
    // FPU loads and stores (COP1 memory ops); `ft`/`fs` are FPR numbers.
    Lwc1 {
        ft: u8,
        base: u8,
        off: i16,
    },
    Ldc1 {
        ft: u8,
        base: u8,
        off: i16,
    },
    Swc1 {
        ft: u8,
        base: u8,
        off: i16,
    },
    Sdc1 {
        ft: u8,
        base: u8,
        off: i16,
    },
    // COP1X indexed forms: address = GPR[base] + GPR[index].
    Lwxc1 {
        fd: u8,
        base: u8,
        index: u8,
    },
    Ldxc1 {
        fd: u8,
        base: u8,
        index: u8,
    },
    Luxc1 {
        fd: u8,
        base: u8,
        index: u8,
    },
    Swxc1 {
        fs: u8,
        base: u8,
        index: u8,
    },
    Sdxc1 {
        fs: u8,
        base: u8,
        index: u8,
    },
    Suxc1 {
        fs: u8,
        base: u8,
        index: u8,
    },
    Prefx {
        hint: u8,
        base: u8,
        index: u8,
    },

    // Cache, prefetch and ordering: no architectural effect on a machine whose
    // memory model is sequentially consistent, but CACHE is privileged.
    Cache {
        op: u8,
        base: u8,
        off: i16,
    },
    Pref {
        hint: u8,
        base: u8,
        off: i16,
    },
    Sync {
        stype: u8,
    },
    Synci {
        base: u8,
        off: i16,
    },

    // Coprocessor 0 (privileged).
    Mfc0 {
        rt: u8,
        rd: u8,
        sel: u8,
    },
    Dmfc0 {
        rt: u8,
        rd: u8,
        sel: u8,
    },
    Mtc0 {
        rt: u8,
        rd: u8,
        sel: u8,
    },
    Dmtc0 {
        rt: u8,
        rd: u8,
        sel: u8,
    },
    Di {
        rt: u8,
    },
    Ei {
        rt: u8,
    },
    Rdpgpr {
        rd: u8,
        rt: u8,
    },
    Wrpgpr {
        rd: u8,
        rt: u8,
    },
    Tlbr,
    Tlbwi,
    Tlbwr,
    Tlbp,
    Eret,
    Deret,
    Wait,
    /// Read hardware register `rd` (CPUNum, SYNCI_Step, CC, CCRes, UserLocal).
    Rdhwr {
        rt: u8,
        rd: u8,
    },

    /// `bc1f`/`bc1t` (`tf`), `bc1fl`/`bc1tl` (`likely`) on FP condition code `cc`.
    Bc1 {
        cc: u8,
        tf: bool,
        likely: bool,
        off: i16,
    },
    /// A COP1 / COP1X computational or move instruction.
    Fpu(FpInstr),
    /// Any instruction of coprocessor `cop` (2 or 3/COP1X when unusable) that this
    /// CPU does not implement: raises Coprocessor Unusable.
    CopUnusable {
        cop: u8,
    },
    /// A reserved or unimplemented encoding: raises Reserved Instruction.
    Reserved(u32),
}

impl Instr {
    /// True for branches and jumps, which have a delay slot.
    pub fn has_delay_slot(&self) -> bool {
        use Instr::*;
        matches!(
            self,
            Beq { .. }
                | Bne { .. }
                | Blez { .. }
                | Bgtz { .. }
                | Bltz { .. }
                | Bgez { .. }
                | Bltzal { .. }
                | Bgezal { .. }
                | Beql { .. }
                | Bnel { .. }
                | Blezl { .. }
                | Bgtzl { .. }
                | Bltzl { .. }
                | Bgezl { .. }
                | Bltzall { .. }
                | Bgezall { .. }
                | J { .. }
                | Jal { .. }
                | Jr { .. }
                | Jalr { .. }
                | Bc1 { .. }
        )
    }

    /// True for the MIPS64 operations that raise Reserved Instruction in user
    /// or supervisor mode unless Status.UX / Status.SX enables 64-bit
    /// operations (doubleword arithmetic, shifts, loads and stores).
    pub fn is_64bit_op(&self) -> bool {
        use Instr::*;
        matches!(
            self,
            Dsll { .. }
                | Dsrl { .. }
                | Dsra { .. }
                | Drotr { .. }
                | Dsll32 { .. }
                | Dsrl32 { .. }
                | Dsra32 { .. }
                | Drotr32 { .. }
                | Dsllv { .. }
                | Dsrlv { .. }
                | Dsrav { .. }
                | Drotrv { .. }
                | Dadd { .. }
                | Daddu { .. }
                | Dsub { .. }
                | Dsubu { .. }
                | Dmult { .. }
                | Dmultu { .. }
                | Ddiv { .. }
                | Ddivu { .. }
                | Dclz { .. }
                | Dclo { .. }
                | Daddi { .. }
                | Daddiu { .. }
                | Dext { .. }
                | Dins { .. }
                | Dsbh { .. }
                | Dshd { .. }
                | Ld { .. }
                | Ldl { .. }
                | Ldr { .. }
                | Lld { .. }
                | Lwu { .. }
                | Sd { .. }
                | Sdl { .. }
                | Sdr { .. }
                | Scd { .. }
                | Dmfc0 { .. }
                | Dmtc0 { .. }
        ) || matches!(self, Fpu(FpInstr::Dmfc1 { .. } | FpInstr::Dmtc1 { .. }))
    }

    /// True for branches that may fall through (conditional, not `b`/`bal`).
    pub fn is_conditional_branch(&self) -> bool {
        use Instr::*;
        match *self {
            Beq { rs, rt, .. } => rs != rt,
            Bgez { rs, .. } | Bgezal { rs, .. } | Blez { rs, .. } => rs != 0,
            Bne { .. } | Bgtz { .. } | Bltz { .. } | Bltzal { .. } => true,
            Beql { .. } | Bnel { .. } | Blezl { .. } | Bgtzl { .. } | Bltzl { .. } => true,
            Bgezl { .. } | Bltzall { .. } | Bgezall { .. } | Bc1 { .. } => true,
            _ => false,
        }
    }

    /// True when execution cannot continue in the same straight-line block after
    /// this instruction without re-checking machine state (mode, translation or
    /// interrupt changes, or control transfer without a delay slot).
    pub fn ends_block(&self) -> bool {
        use Instr::*;
        matches!(
            self,
            Eret | Deret
                | Wait
                | Syscall { .. }
                | Break { .. }
                | Sdbbp { .. }
                | Mtc0 { .. }
                | Dmtc0 { .. }
                | Di { .. }
                | Ei { .. }
                | Tlbwi
                | Tlbwr
                | Tlbr
                | Reserved(_)
                | CopUnusable { .. }
        )
    }
}
