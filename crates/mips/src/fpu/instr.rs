//! Typed form of the COP1 (and COP1X arithmetic) instructions.

/// Operand format of an FPU instruction (the `fmt` field).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fmt {
    /// 32-bit IEEE single.
    S,
    /// 64-bit IEEE double.
    D,
    /// 32-bit two's-complement integer.
    W,
    /// 64-bit two's-complement integer.
    L,
}

/// How a float-to-integer conversion rounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    /// `round.*`: to nearest, ties to even.
    Nearest,
    /// `trunc.*`: towards zero.
    Zero,
    /// `ceil.*`: towards +infinity.
    Up,
    /// `floor.*`: towards -infinity.
    Down,
    /// `cvt.w`/`cvt.l`: the mode selected by FCSR.RM.
    Current,
}

/// Two-operand arithmetic (`fd = fs op ft`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
}

/// One-operand operations (`fd = op fs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum UnOp {
    Sqrt,
    Abs,
    Mov,
    Neg,
    Recip,
    Rsqrt,
}

/// Fused-looking multiply-add of COP1X (`fd = ±(fs*ft ± fr)`), which on MIPS64
/// Release 2 rounds the product before the addition (not fused).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum MaddOp {
    Madd,
    Msub,
    Nmadd,
    Nmsub,
}

/// A decoded COP1 / COP1X non-memory instruction. Register fields are FPR
/// numbers except `rt`, which is a general register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
#[repr(u8)]
pub enum FpInstr {
    Mfc1 {
        rt: u8,
        fs: u8,
    },
    Dmfc1 {
        rt: u8,
        fs: u8,
    },
    Mfhc1 {
        rt: u8,
        fs: u8,
    },
    Mtc1 {
        rt: u8,
        fs: u8,
    },
    Dmtc1 {
        rt: u8,
        fs: u8,
    },
    Mthc1 {
        rt: u8,
        fs: u8,
    },
    /// Read FPU control register `fs` (0 FIR, 25 FCCR, 26 FEXR, 28 FENR, 31 FCSR).
    Cfc1 {
        rt: u8,
        fs: u8,
    },
    /// Write FPU control register `fs`.
    Ctc1 {
        rt: u8,
        fs: u8,
    },
    Binary {
        op: BinOp,
        fmt: Fmt,
        fd: u8,
        fs: u8,
        ft: u8,
    },
    Unary {
        op: UnOp,
        fmt: Fmt,
        fd: u8,
        fs: u8,
    },
    /// Float to integer: `round/trunc/ceil/floor/cvt . w/l . fmt`; `to` is W or L.
    ToInt {
        rounding: Rounding,
        to: Fmt,
        fmt: Fmt,
        fd: u8,
        fs: u8,
    },
    /// `cvt.s.fmt` / `cvt.d.fmt` (from S, D, W or L).
    Cvt {
        to: Fmt,
        fmt: Fmt,
        fd: u8,
        fs: u8,
    },
    /// `movf.fmt`/`movt.fmt`.
    Movcf {
        fmt: Fmt,
        fd: u8,
        fs: u8,
        cc: u8,
        tf: bool,
    },
    /// `movz.fmt` (`nonzero` false) / `movn.fmt` (`nonzero` true) on GPR `rt`.
    Movzn {
        fmt: Fmt,
        fd: u8,
        fs: u8,
        rt: u8,
        nonzero: bool,
    },
    /// `c.cond.fmt`: `cond` is the 4-bit condition (bit 0 unordered, 1 equal,
    /// 2 less, 3 signal on quiet NaN), result in condition code `cc`.
    Cmp {
        fmt: Fmt,
        cond: u8,
        cc: u8,
        fs: u8,
        ft: u8,
    },
    Madd {
        op: MaddOp,
        fmt: Fmt,
        fd: u8,
        fr: u8,
        fs: u8,
        ft: u8,
    },
}
