//! Unit tests of `Fpu::execute`: moves, register views, control registers,
//! exceptions and traps, rounding modes, NaNs.

use super::*;
use crate::instr::Instr;

const ONE_D: u64 = 0x3ff0_0000_0000_0000;
const TWO_D: u64 = 0x4000_0000_0000_0000;
const THREE_D: u64 = 0x4008_0000_0000_0000;
const ONE_S: u32 = 0x3f80_0000;
const THREE_S: u32 = 0x4040_0000;
const QNAN_S: u32 = 0x7fbf_ffff;
const SNAN_S: u32 = 0x7fc0_0000;
const QNAN_D: u64 = 0x7ff7_ffff_ffff_ffff;
const SNAN_D: u64 = 0x7ff8_0000_0000_0000;
const MAX_D: u64 = 0x7fef_ffff_ffff_ffff;
const INF_D: u64 = 0x7ff0_0000_0000_0000;
const MIN_NORMAL_D: u64 = 0x0010_0000_0000_0000;

// FCSR bits.
const I: u32 = 1;
const U: u32 = 2;
const O: u32 = 4;
const Z: u32 = 8;
const V: u32 = 16;
const E: u32 = 32;
const fn cause(f: u32) -> u32 {
    f << 12
}
const fn flags(f: u32) -> u32 {
    f << 2
}
const fn enables(f: u32) -> u32 {
    f << 7
}
const FS: u32 = 1 << 24;

fn bin(op: BinOp, fmt: Fmt) -> FpInstr {
    FpInstr::Binary {
        op,
        fmt,
        fd: 0,
        fs: 2,
        ft: 4,
    }
}

fn un(op: UnOp, fmt: Fmt) -> FpInstr {
    FpInstr::Unary {
        op,
        fmt,
        fd: 0,
        fs: 2,
    }
}

/// Runs a double-precision instruction with FR=1 on `$f2, $f4, $f6`.
fn run_d(ins: FpInstr, fcsr: u32, a: u64, b: u64, c: u64) -> (Fpu, Result<(), FpuException>) {
    let mut fpu = Fpu::new();
    fpu.fcsr = fcsr;
    fpu.fpr[0] = 0xdead;
    fpu.fpr[2] = a;
    fpu.fpr[4] = b;
    fpu.fpr[6] = c;
    let r = fpu.execute(&ins, &mut [0; 32], true);
    (fpu, r)
}

fn run_s(ins: FpInstr, fcsr: u32, a: u32, b: u32) -> (u32, u32, Result<(), FpuException>) {
    let (fpu, r) = run_d(ins, fcsr, a as u64, b as u64, 0);
    (fpu.fpr[0] as u32, fpu.fcsr, r)
}

#[test]
fn moves_between_gpr_and_fpr() {
    let mut fpu = Fpu::new();
    let mut gpr = [0u64; 32];
    fpu.fpr[2] = 0x1234_5678_8765_4321;
    fpu.execute(&FpInstr::Mfc1 { rt: 5, fs: 2 }, &mut gpr, true)
        .unwrap();
    assert_eq!(gpr[5], 0xffff_ffff_8765_4321, "mfc1 sign-extends");
    fpu.execute(&FpInstr::Mfhc1 { rt: 6, fs: 2 }, &mut gpr, true)
        .unwrap();
    assert_eq!(gpr[6], 0x1234_5678);
    fpu.execute(&FpInstr::Dmfc1 { rt: 7, fs: 2 }, &mut gpr, true)
        .unwrap();
    assert_eq!(gpr[7], 0x1234_5678_8765_4321);
    // Register 0 is never written.
    fpu.execute(&FpInstr::Dmfc1 { rt: 0, fs: 2 }, &mut gpr, true)
        .unwrap();
    fpu.execute(&FpInstr::Cfc1 { rt: 0, fs: 0 }, &mut gpr, true)
        .unwrap();
    assert_eq!(gpr[0], 0);

    gpr[8] = 0xaaaa_bbbb_cccc_dddd;
    fpu.execute(&FpInstr::Mtc1 { rt: 8, fs: 2 }, &mut gpr, true)
        .unwrap();
    assert_eq!(
        fpu.fpr[2], 0x1234_5678_cccc_dddd,
        "mtc1 keeps the upper half"
    );
    fpu.execute(&FpInstr::Mthc1 { rt: 8, fs: 2 }, &mut gpr, true)
        .unwrap();
    assert_eq!(fpu.fpr[2], 0xcccc_dddd_cccc_dddd);
    fpu.execute(&FpInstr::Dmtc1 { rt: 8, fs: 3 }, &mut gpr, true)
        .unwrap();
    assert_eq!(fpu.fpr[3], 0xaaaa_bbbb_cccc_dddd);
    assert_eq!(fpu.fcsr, 0, "moves leave FCSR alone");
}

#[test]
fn fr0_register_pairs() {
    let mut fpu = Fpu::new();
    let mut gpr = [0u64; 32];
    gpr[1] = 0x1111_1111;
    gpr[2] = 0x2222_2222;
    // FR=0: $f5 is the upper half of the pair $f4.
    fpu.execute(&FpInstr::Mtc1 { rt: 1, fs: 4 }, &mut gpr, false)
        .unwrap();
    fpu.execute(&FpInstr::Mtc1 { rt: 2, fs: 5 }, &mut gpr, false)
        .unwrap();
    assert_eq!(fpu.fpr[4], 0x2222_2222_1111_1111);
    assert_eq!(fpu.fpr[5], 0);
    fpu.execute(&FpInstr::Mfc1 { rt: 3, fs: 5 }, &mut gpr, false)
        .unwrap();
    assert_eq!(gpr[3], 0x2222_2222);
    // mfhc1/mthc1 on the even register address the odd one.
    fpu.execute(&FpInstr::Mfhc1 { rt: 3, fs: 4 }, &mut gpr, false)
        .unwrap();
    assert_eq!(gpr[3], 0x2222_2222);
    gpr[6] = 0x8000_0000;
    fpu.execute(&FpInstr::Mthc1 { rt: 6, fs: 4 }, &mut gpr, false)
        .unwrap();
    assert_eq!(fpu.fpr[4], 0x8000_0000_1111_1111);
    fpu.execute(&FpInstr::Mfc1 { rt: 3, fs: 5 }, &mut gpr, false)
        .unwrap();
    assert_eq!(gpr[3], 0xffff_ffff_8000_0000);

    // A double op on the pairs: $f0 = $f2 + $f4 with FR=0.
    fpu.fpr[2] = ONE_D;
    fpu.fpr[4] = TWO_D;
    fpu.execute(&bin(BinOp::Add, Fmt::D), &mut gpr, false)
        .unwrap();
    assert_eq!(fpu.fpr[0], THREE_D);
    // Single ops use the halves: $f1 = $f3 + $f5 (upper halves).
    fpu.fpr[2] = (ONE_S as u64) << 32;
    fpu.fpr[4] = (0x4000_0000u64) << 32 | 0x1234;
    let add_s = FpInstr::Binary {
        op: BinOp::Add,
        fmt: Fmt::S,
        fd: 1,
        fs: 3,
        ft: 5,
    };
    fpu.execute(&add_s, &mut gpr, false).unwrap();
    assert_eq!(fpu.fpr[0], (THREE_S as u64) << 32 | (THREE_D & 0xffff_ffff));
    // Odd register numbers for doubles (unpredictable) use the even pair.
    let odd = FpInstr::Binary {
        op: BinOp::Add,
        fmt: Fmt::D,
        fd: 7,
        fs: 3,
        ft: 5,
    };
    fpu.execute(&odd, &mut gpr, false).unwrap();
}

#[test]
fn control_registers() {
    let mut fpu = Fpu::new();
    let mut gpr = [0u64; 32];
    let cfc1 = |fpu: &mut Fpu, gpr: &mut [u64; 32], fs| {
        fpu.execute(&FpInstr::Cfc1 { rt: 9, fs }, gpr, true)
            .unwrap();
        gpr[9]
    };
    assert_eq!(cfc1(&mut fpu, &mut gpr, 0), FIR as u64);
    fpu.fcsr = 0xfe80_0000 | FS | cause(V | I) | enables(Z) | flags(O) | 2;
    assert_eq!(
        cfc1(&mut fpu, &mut gpr, 31),
        0xffff_ffff_0000_0000 | fpu.fcsr as u64
    );
    assert_eq!(cfc1(&mut fpu, &mut gpr, 25), 0xff);
    assert_eq!(
        cfc1(&mut fpu, &mut gpr, 26),
        (cause(V | I) | flags(O)) as u64
    );
    assert_eq!(cfc1(&mut fpu, &mut gpr, 28), (enables(Z) | 4 | 2) as u64);
    assert_eq!(
        cfc1(&mut fpu, &mut gpr, 1),
        0,
        "unimplemented register reads 0"
    );

    let ctc1 = |fcsr: u32, fs: u8, v: u64| {
        let mut fpu = Fpu::new();
        fpu.fcsr = fcsr;
        let mut gpr = [0u64; 32];
        gpr[9] = v;
        let r = fpu.execute(&FpInstr::Ctc1 { rt: 9, fs }, &mut gpr, true);
        (fpu.fcsr, r)
    };
    // FCSR: bits 18..22 are not writable.
    assert_eq!(
        ctc1(0, 31, 0xfffc_0fff),
        (0xff80_0fff & 0xfffc_0fff, Ok(()))
    );
    assert_eq!(ctc1(0, 31, 0x007c_0003), (3, Ok(())));
    // FCCR: cc0 goes to bit 23, cc1..7 to 25..31.
    assert_eq!(ctc1(FS | 1, 25, 0x03), (FS | 1 | 1 << 23 | 1 << 25, Ok(())));
    assert_eq!(
        ctc1(FS | 1, 25, 0x100),
        (FS | 1, Ok(())),
        "nonzero upper bits: ignored"
    );
    // FEXR: cause and flags only.
    assert_eq!(
        ctc1(3, 26, (cause(I) | flags(O) | 3) as u64),
        (3 | cause(I) | flags(O), Ok(()))
    );
    // FENR: enables, FS (bit 2) and RM.
    assert_eq!(
        ctc1(flags(V), 28, (enables(Z) | 4 | 1) as u64),
        (flags(V) | enables(Z) | FS | 1, Ok(()))
    );
    // FIR and unimplemented registers ignore writes.
    assert_eq!(ctc1(5, 0, 0xffff_ffff), (5, Ok(())));
    assert_eq!(ctc1(5, 7, 0xffff_ffff), (5, Ok(())));
    // A cause bit whose enable is set traps, after the write.
    let v = (enables(O) | cause(O)) as u64;
    assert_eq!(ctc1(0, 31, v), (v as u32, Err(FpuException::FloatingPoint)));
    // Cause.E always traps.
    assert_eq!(
        ctc1(0, 26, cause(E) as u64),
        (cause(E), Err(FpuException::FloatingPoint))
    );
    // A cause bit without its enable does not.
    assert_eq!(ctc1(0, 31, cause(O) as u64), (cause(O), Ok(())));
}

#[test]
fn flags_cause_and_traps() {
    // Exact: no flags; stale cause cleared, stale flags kept.
    let (f, r) = run_d(
        bin(BinOp::Add, Fmt::D),
        cause(V | Z) | flags(O),
        ONE_D,
        TWO_D,
        0,
    );
    assert_eq!((f.fpr[0], f.fcsr, r), (THREE_D, flags(O), Ok(())));
    // Inexact accumulates.
    let (f, r) = run_d(bin(BinOp::Div, Fmt::D), flags(O), ONE_D, THREE_D, 0);
    assert_eq!(
        (f.fpr[0], f.fcsr, r),
        (0x3fd5_5555_5555_5555, cause(I) | flags(O | I), Ok(()))
    );
    // Enabled: trap, destination and flags untouched, cause set.
    let (f, r) = run_d(bin(BinOp::Div, Fmt::D), enables(I), ONE_D, THREE_D, 0);
    assert_eq!(
        (f.fpr[0], f.fcsr, r),
        (
            0xdead,
            enables(I) | cause(I),
            Err(FpuException::FloatingPoint)
        )
    );
    // Division by zero.
    let (f, r) = run_d(bin(BinOp::Div, Fmt::D), 0, ONE_D, 1 << 63, 0);
    assert_eq!(
        (f.fpr[0], f.fcsr, r),
        (INF_D | 1 << 63, cause(Z) | flags(Z), Ok(()))
    );
    let (f, r) = run_d(bin(BinOp::Div, Fmt::D), enables(Z | V), ONE_D, 0, 0);
    assert_eq!((f.fpr[0], r), (0xdead, Err(FpuException::FloatingPoint)));
    assert_eq!(f.fcsr, enables(Z | V) | cause(Z));
    // Overflow, with the enable of another exception only.
    let (f, r) = run_d(bin(BinOp::Mul, Fmt::D), enables(U), MAX_D, TWO_D, 0);
    assert_eq!(
        (f.fpr[0], f.fcsr, r),
        (INF_D, enables(U) | cause(O | I) | flags(O | I), Ok(()))
    );
    // Underflow (tiny and inexact), and an exact tiny result (no flags).
    let (f, _) = run_d(
        bin(BinOp::Mul, Fmt::D),
        0,
        MIN_NORMAL_D | 1,
        0x3fe0_0000_0000_0000,
        0,
    );
    assert_eq!(
        (f.fpr[0], f.fcsr),
        (0x0008_0000_0000_0000, cause(U | I) | flags(U | I))
    );
    let (f, _) = run_d(
        bin(BinOp::Mul, Fmt::D),
        0,
        MIN_NORMAL_D,
        0x3fe0_0000_0000_0000,
        0,
    );
    assert_eq!((f.fpr[0], f.fcsr), (0x0008_0000_0000_0000, 0));
    // Tininess is detected after rounding: -2^-1022 * (1 - 2^-53) rounds to
    // -2^-1022 but is tiny at full precision (QEMU agrees).
    let (f, _) = run_d(
        bin(BinOp::Mul, Fmt::D),
        0,
        MIN_NORMAL_D | 1 << 63,
        0x3fef_ffff_ffff_ffff,
        0,
    );
    assert_eq!(
        (f.fpr[0], f.fcsr),
        (MIN_NORMAL_D | 1 << 63, cause(U | I) | flags(U | I))
    );
}

#[test]
fn rounding_modes() {
    let third = [0x3eaa_aaab, 0x3eaa_aaaa, 0x3eaa_aaab, 0x3eaa_aaaa];
    let minus_third = [0xbeaa_aaab, 0xbeaa_aaaa, 0xbeaa_aaaa, 0xbeaa_aaab];
    for rm in 0..4 {
        let (r, fcsr, _) = run_s(bin(BinOp::Div, Fmt::S), rm, ONE_S, THREE_S);
        assert_eq!((r, fcsr), (third[rm as usize], rm | cause(I) | flags(I)));
        let (r, _, _) = run_s(bin(BinOp::Div, Fmt::S), rm, ONE_S | 1 << 31, THREE_S);
        assert_eq!(r, minus_third[rm as usize], "rm {rm}");
    }
    // Overflow result depends on the mode.
    let pos = [INF_D, MAX_D, INF_D, MAX_D];
    let neg = [INF_D, MAX_D, MAX_D, INF_D];
    for rm in 0..4 {
        let (f, _) = run_d(bin(BinOp::Add, Fmt::D), rm, MAX_D, MAX_D, 0);
        assert_eq!(f.fpr[0], pos[rm as usize]);
        let (f, _) = run_d(
            bin(BinOp::Add, Fmt::D),
            rm,
            MAX_D | 1 << 63,
            MAX_D | 1 << 63,
            0,
        );
        assert_eq!(f.fpr[0], neg[rm as usize] | 1 << 63);
    }
    // Exact cancellation: +0, or -0 when rounding down.
    for rm in 0..4 {
        let (f, _) = run_d(bin(BinOp::Sub, Fmt::D), rm, ONE_D, ONE_D, 0);
        assert_eq!(f.fpr[0], if rm == 3 { 1 << 63 } else { 0 });
    }
    // Conversions honour RM: 2^24 + 1 as a single.
    for (rm, want) in [
        (0, 0x4b80_0000),
        (1, 0x4b80_0000),
        (2, 0x4b80_0001),
        (3, 0x4b80_0000),
    ] {
        let cvt = FpInstr::Cvt {
            to: Fmt::S,
            fmt: Fmt::W,
            fd: 0,
            fs: 2,
        };
        let (r, fcsr, _) = run_s(cvt, rm, 0x0100_0001, 0);
        assert_eq!((r, fcsr), (want, rm | cause(I) | flags(I)));
    }
    // Float to integer: explicit roundings and cvt.w with each RM.
    let to_w = |rounding| FpInstr::ToInt {
        rounding,
        to: Fmt::W,
        fmt: Fmt::D,
        fd: 0,
        fs: 2,
    };
    let two_and_half = 0x4004_0000_0000_0000;
    let minus = two_and_half | 1 << 63;
    for (rounding, x, want) in [
        (Rounding::Nearest, two_and_half, 2),
        (Rounding::Nearest, minus, -2),
        (Rounding::Zero, minus, -2),
        (Rounding::Up, two_and_half, 3),
        (Rounding::Up, minus, -2),
        (Rounding::Down, minus, -3),
    ] {
        let (f, _) = run_d(to_w(rounding), 3, x, 0, 0);
        assert_eq!(f.fpr[0] as u32, want as u32, "{rounding:?} {x:x}");
        assert_eq!(f.fcsr, 3 | cause(I) | flags(I));
    }
    for (rm, want) in [(0, 2), (1, 2), (2, 3), (3, 2)] {
        let (f, _) = run_d(to_w(Rounding::Current), rm, two_and_half, 0, 0);
        assert_eq!(f.fpr[0] as u32, want);
    }
}

#[test]
fn nans_and_invalid() {
    let add = bin(BinOp::Add, Fmt::S);
    // Quiet NaN operand: default NaN, no exception.
    assert_eq!(run_s(add, 0, QNAN_S | 1 << 31, ONE_S), (QNAN_S, 0, Ok(())));
    // Signalling NaN: default NaN and Invalid.
    assert_eq!(
        run_s(add, 0, ONE_S, SNAN_S),
        (QNAN_S, cause(V) | flags(V), Ok(()))
    );
    let (f, r) = run_d(bin(BinOp::Sub, Fmt::D), enables(V), INF_D, INF_D, 0);
    assert_eq!(
        (f.fpr[0], f.fcsr, r),
        (
            0xdead,
            enables(V) | cause(V),
            Err(FpuException::FloatingPoint)
        )
    );
    let (f, _) = run_d(un(UnOp::Sqrt, Fmt::D), 0, ONE_D | 1 << 63, 0, 0);
    assert_eq!((f.fpr[0], f.fcsr), (QNAN_D, cause(V) | flags(V)));
    let (f, _) = run_d(un(UnOp::Sqrt, Fmt::D), 0, 1 << 63, 0, 0);
    assert_eq!((f.fpr[0], f.fcsr), (1 << 63, 0), "sqrt(-0) = -0");
    let (f, _) = run_d(bin(BinOp::Mul, Fmt::D), 0, INF_D, 0, 0);
    assert_eq!((f.fpr[0], f.fcsr), (QNAN_D, cause(V) | flags(V)));
    // abs/neg/mov are bit operations: no exception even on sNaN, FCSR kept.
    for (op, want) in [
        (UnOp::Abs, SNAN_D),
        (UnOp::Neg, SNAN_D | 1 << 63),
        (UnOp::Mov, SNAN_D),
    ] {
        let (f, r) = run_d(un(op, Fmt::D), enables(V) | cause(I), SNAN_D, 0, 0);
        assert_eq!((f.fpr[0], f.fcsr, r), (want, enables(V) | cause(I), Ok(())));
    }
    // Float to integer: NaN and out of range give 2^31 - 1 with Invalid.
    let cvt_w = FpInstr::ToInt {
        rounding: Rounding::Zero,
        to: Fmt::W,
        fmt: Fmt::D,
        fd: 0,
        fs: 2,
    };
    for x in [
        QNAN_D,
        SNAN_D,
        INF_D,
        INF_D | 1 << 63,
        0xc1e0_0000_0020_0000,
    ] {
        let (f, _) = run_d(cvt_w, 0, x, 0, 0);
        assert_eq!(
            (f.fpr[0] as u32, f.fcsr),
            (0x7fff_ffff, cause(V) | flags(V)),
            "{x:x}"
        );
    }
    let (f, _) = run_d(cvt_w, 0, 0xc1e0_0000_0000_0000, 0, 0);
    assert_eq!((f.fpr[0] as u32, f.fcsr), (0x8000_0000, 0), "-2^31 fits");
    let cvt_l = FpInstr::ToInt {
        rounding: Rounding::Current,
        to: Fmt::L,
        fmt: Fmt::S,
        fd: 0,
        fs: 2,
    };
    let (f, r) = run_d(cvt_l, enables(V), 0x5f00_0000, 0, 0);
    assert_eq!(
        (f.fpr[0], f.fcsr, r),
        (
            0xdead,
            enables(V) | cause(V),
            Err(FpuException::FloatingPoint)
        )
    );
    let (f, _) = run_d(cvt_l, 0, 0x5f00_0000, 0, 0);
    assert_eq!(f.fpr[0], i64::MAX as u64);
    // Conversions of NaNs give the default NaN of the target format.
    let cvt_d = FpInstr::Cvt {
        to: Fmt::D,
        fmt: Fmt::S,
        fd: 0,
        fs: 2,
    };
    let (f, _) = run_d(cvt_d, 0, SNAN_S as u64, 0, 0);
    assert_eq!((f.fpr[0], f.fcsr), (QNAN_D, cause(V) | flags(V)));
}

#[test]
fn compares_and_condition_codes() {
    let cmp = |cond, cc, fcsr, a: u64, b: u64| {
        let ins = FpInstr::Cmp {
            fmt: Fmt::D,
            cond,
            cc,
            fs: 2,
            ft: 4,
        };
        let (f, r) = run_d(ins, fcsr, a, b, 0);
        (f.fcsr, r)
    };
    const EQ: u8 = 2;
    const OLT: u8 = 4;
    const ULE: u8 = 7;
    const SEQ: u8 = 10;
    assert_eq!(cmp(EQ, 0, 0, 0, 1 << 63), (1 << 23, Ok(())), "+0 == -0");
    assert_eq!(cmp(OLT, 5, 0, ONE_D, TWO_D), (1 << 29, Ok(())));
    assert_eq!(cmp(OLT, 5, 1 << 29, TWO_D, ONE_D), (0, Ok(())));
    assert_eq!(
        cmp(EQ, 1, 0, QNAN_D, QNAN_D),
        (0, Ok(())),
        "quiet: no Invalid"
    );
    assert_eq!(cmp(ULE, 7, 0, QNAN_D, ONE_D), (1 << 31, Ok(())));
    assert_eq!(cmp(EQ, 0, 0, SNAN_D, ONE_D), (cause(V) | flags(V), Ok(())));
    assert_eq!(cmp(SEQ, 0, 0, QNAN_D, ONE_D), (cause(V) | flags(V), Ok(())));
    // A trapping compare leaves the condition code alone.
    assert_eq!(
        cmp(SEQ | 1, 0, enables(V), QNAN_D, ONE_D),
        (enables(V) | cause(V), Err(FpuException::FloatingPoint))
    );

    let mut fpu = Fpu::new();
    for cc in 0..8 {
        fpu.set_condition(cc, true);
        assert!(fpu.condition(cc));
    }
    assert_eq!(fpu.fcsr, 0xfe80_0000);
}

#[test]
fn conditional_moves() {
    let mut fpu = Fpu::new();
    let mut gpr = [0u64; 32];
    fpu.fpr[2] = 0x1111_1111_2222_2222;
    fpu.set_condition(3, true);
    let movcf = |tf, fmt| FpInstr::Movcf {
        fmt,
        fd: 0,
        fs: 2,
        cc: 3,
        tf,
    };
    fpu.execute(&movcf(false, Fmt::D), &mut gpr, true).unwrap();
    assert_eq!(fpu.fpr[0], 0);
    fpu.execute(&movcf(true, Fmt::S), &mut gpr, true).unwrap();
    assert_eq!(fpu.fpr[0], 0x2222_2222);
    fpu.execute(&movcf(true, Fmt::D), &mut gpr, true).unwrap();
    assert_eq!(fpu.fpr[0], 0x1111_1111_2222_2222);

    let movzn = |nonzero| FpInstr::Movzn {
        fmt: Fmt::D,
        fd: 6,
        fs: 2,
        rt: 9,
        nonzero,
    };
    gpr[9] = 1;
    fpu.execute(&movzn(false), &mut gpr, true).unwrap();
    assert_eq!(fpu.fpr[6], 0);
    fpu.execute(&movzn(true), &mut gpr, true).unwrap();
    assert_eq!(fpu.fpr[6], 0x1111_1111_2222_2222);
    gpr[9] = 0;
    fpu.fpr[2] = 5;
    fpu.execute(&movzn(true), &mut gpr, true).unwrap();
    assert_eq!(fpu.fpr[6], 0x1111_1111_2222_2222);
    fpu.execute(&movzn(false), &mut gpr, true).unwrap();
    assert_eq!(fpu.fpr[6], 5);
    assert_eq!(fpu.fcsr, 1 << 27);
}

#[test]
fn madd_is_not_fused() {
    let a = 0x3ff0_0000_0040_0000; // 1 + 2^-30
    let b = 0x3fef_ffff_ff80_0000; // 1 - 2^-30
    let minus_one = ONE_D | 1 << 63;
    let madd = |op| FpInstr::Madd {
        op,
        fmt: Fmt::D,
        fd: 0,
        fr: 6,
        fs: 2,
        ft: 4,
    };
    // a*b = 1 - 2^-60 rounds to 1, so fs*ft + fr is exactly 0 (fused: -2^-60).
    let (f, _) = run_d(madd(MaddOp::Madd), 0, a, b, minus_one);
    assert_eq!((f.fpr[0], f.fcsr), (0, cause(I) | flags(I)));
    let (f, _) = run_d(madd(MaddOp::Nmadd), 0, a, b, minus_one);
    assert_eq!(f.fpr[0], 1 << 63);
    let (f, _) = run_d(madd(MaddOp::Msub), 0, TWO_D, THREE_D, ONE_D);
    assert_eq!((f.fpr[0], f.fcsr), (0x4014_0000_0000_0000, 0));
    let (f, _) = run_d(madd(MaddOp::Nmsub), 0, TWO_D, THREE_D, ONE_D);
    assert_eq!(f.fpr[0], 0xc014_0000_0000_0000);
    // The negated forms flip the sign of the default NaN, as QEMU does.
    let (f, _) = run_d(madd(MaddOp::Nmadd), 0, QNAN_D, ONE_D, ONE_D);
    assert_eq!(f.fpr[0], QNAN_D | 1 << 63);
    // Exceptions of both steps accumulate; a trap writes nothing.
    let (f, r) = run_d(madd(MaddOp::Madd), enables(O), MAX_D, TWO_D, ONE_D);
    assert_eq!(
        (f.fpr[0], f.fcsr, r),
        (
            0xdead,
            enables(O) | cause(O | I),
            Err(FpuException::FloatingPoint)
        )
    );
}

#[test]
fn recip_rsqrt_and_flush_to_zero() {
    let (f, _) = run_d(un(UnOp::Recip, Fmt::D), 0, 0x4010_0000_0000_0000, 0, 0);
    assert_eq!((f.fpr[0], f.fcsr), (0x3fd0_0000_0000_0000, 0));
    let (f, _) = run_d(un(UnOp::Rsqrt, Fmt::D), 0, 0x4010_0000_0000_0000, 0, 0);
    assert_eq!((f.fpr[0], f.fcsr), (0x3fe0_0000_0000_0000, 0));
    let (f, _) = run_d(un(UnOp::Rsqrt, Fmt::D), 0, 0, 0, 0);
    assert_eq!((f.fpr[0], f.fcsr), (INF_D, cause(Z) | flags(Z)));
    // FS: a subnormal result becomes a signed zero, raising nothing (QEMU).
    let (f, _) = run_d(
        bin(BinOp::Mul, Fmt::D),
        FS,
        MIN_NORMAL_D | 1 << 63,
        0x3fe0_0000_0000_0001,
        0,
    );
    assert_eq!((f.fpr[0], f.fcsr), (1 << 63, FS));
    let (f, _) = run_d(bin(BinOp::Add, Fmt::D), FS, 1, 0, 0);
    assert_eq!((f.fpr[0], f.fcsr), (0, FS));
    // ... but subnormal inputs are used as they are.
    let (f, _) = run_d(bin(BinOp::Mul, Fmt::D), FS, 1, 0x43b0_0000_0000_0000, 0);
    assert_eq!((f.fpr[0], f.fcsr), (0x0090_0000_0000_0000, FS));
}

#[test]
fn reserved_formats() {
    let mut fpu = Fpu::new();
    let mut gpr = [0u64; 32];
    for ins in [
        bin(BinOp::Add, Fmt::W),
        un(UnOp::Sqrt, Fmt::L),
        FpInstr::Cvt {
            to: Fmt::S,
            fmt: Fmt::S,
            fd: 0,
            fs: 2,
        },
        FpInstr::ToInt {
            rounding: Rounding::Zero,
            to: Fmt::S,
            fmt: Fmt::D,
            fd: 0,
            fs: 2,
        },
    ] {
        assert_eq!(
            fpu.execute(&ins, &mut gpr, true),
            Err(FpuException::Reserved)
        );
    }
    assert_eq!(fpu, Fpu::new());
}

/// Every COP1 and COP1X arithmetic encoding shape, with assorted register
/// fields and operand values, executes without panicking in both FR modes.
#[test]
fn no_panic_on_any_encoding() {
    let mut seed = 0x1234_5678_9abc_def0u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut fpu = Fpu::new();
    let mut gpr = [0u64; 32];
    let mut executed = 0;
    for hi in 0..(1u32 << 11) {
        // rs (5 bits) and funct (6 bits) exhaustively; other fields random.
        let (rs, funct) = (hi >> 6, hi & 63);
        for op in [0x11u32, 0x13] {
            for _ in 0..16 {
                let mid = rnd() as u32 & 0x001f_ffc0;
                let word = op << 26 | rs << 21 | mid | funct;
                if let Instr::Fpu(ins) = crate::decode(word) {
                    for r in fpu.fpr.iter_mut().chain(gpr.iter_mut()) {
                        *r = rnd() >> (rnd() % 64);
                    }
                    gpr[0] = 0;
                    fpu.fcsr = rnd() as u32 & FCSR_WRITABLE & !(0x3f << 12);
                    let _ = fpu.execute(&ins, &mut gpr, rs & 1 == 0);
                    assert_eq!(gpr[0], 0, "{word:08x}");
                    executed += 1;
                }
            }
        }
    }
    assert!(executed > 10_000, "{executed}");
}
