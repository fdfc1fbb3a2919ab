//! Software IEEE 754 binary32/binary64 arithmetic: the exact, all-modes path
//! behind the host-float fast paths in [`super::arith`].
//!
//! Semantics are those of a MIPS64 Release 2 FPU with legacy NaNs as QEMU
//! models it: any NaN result is the default NaN, tininess is detected after
//! rounding, Underflow is raised only when the tiny result is also inexact,
//! and with FCSR.FS set a result whose unrounded magnitude is below the
//! smallest normal is flushed to a signed zero without raising anything.

use core::ops::{Add, Div, Mul, Sub};

/// Inexact (FCSR Cause/Flags/Enables bit order, shifted down to bit 0).
pub(crate) const INEXACT: u32 = 1;
/// Underflow.
pub(crate) const UNDERFLOW: u32 = 2;
/// Overflow.
pub(crate) const OVERFLOW: u32 = 4;
/// Division by zero.
pub(crate) const DIV_ZERO: u32 = 8;
/// Invalid operation.
pub(crate) const INVALID: u32 = 16;

/// IEEE rounding direction (the FCSR.RM encoding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rm {
    /// To nearest, ties to even (RM = 0).
    Nearest,
    /// Towards zero (RM = 1).
    Zero,
    /// Towards +infinity (RM = 2).
    Up,
    /// Towards -infinity (RM = 3).
    Down,
}

impl Rm {
    /// The rounding mode selected by FCSR bits 1:0.
    #[inline]
    pub(crate) fn from_fcsr(fcsr: u32) -> Rm {
        match fcsr & 3 {
            0 => Rm::Nearest,
            1 => Rm::Zero,
            2 => Rm::Up,
            _ => Rm::Down,
        }
    }
}

/// Rounding environment of one instruction and the exceptions it raised.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Env {
    /// Rounding direction.
    pub(crate) rm: Rm,
    /// FCSR.FS: flush tiny results to zero.
    pub(crate) ftz: bool,
    /// Raised exceptions (`INEXACT` ... `INVALID`).
    pub(crate) flags: u32,
}

/// A binary floating-point format, with its host type for fast paths.
/// Values travel as raw bits in a `u64` (singles in the low 32 bits).
pub(crate) trait Format {
    /// Stored fraction bits (23 or 52).
    const FRAC: u32;
    /// Exponent bits (8 or 11).
    const EXP: u32;
    /// True for 64-bit formats (register accessed through its 64-bit view).
    const WIDE: bool;
    /// Host type.
    type H: Copy
        + PartialEq
        + PartialOrd
        + Add<Output = Self::H>
        + Sub<Output = Self::H>
        + Mul<Output = Self::H>
        + Div<Output = Self::H>;
    /// Bits to host value.
    fn host(bits: u64) -> Self::H;
    /// Host value to bits.
    fn bits(h: Self::H) -> u64;
    /// Host square root (correctly rounded, to nearest).
    fn host_sqrt(h: Self::H) -> Self::H;
    /// Exact widening to `f64`.
    fn to_f64(h: Self::H) -> f64;
    /// Host conversion from an integer, rounded to nearest.
    fn from_i64(v: i64) -> Self::H;

    /// Sign bit.
    const SIGN: u64 = 1 << (Self::FRAC + Self::EXP);
    /// All-ones exponent field value.
    const EXP_MAX: u64 = (1 << Self::EXP) - 1;
    /// Fraction field mask.
    const FRAC_MASK: u64 = (1 << Self::FRAC) - 1;
    /// Exponent bias.
    const BIAS: i32 = (1 << (Self::EXP - 1)) - 1;
    /// +infinity.
    const INF: u64 = Self::EXP_MAX << Self::FRAC;
    /// Largest finite value.
    const MAX: u64 = Self::INF - 1;
    /// +1.0.
    const ONE: u64 = (Self::BIAS as u64) << Self::FRAC;
    /// Legacy MIPS default NaN: sign clear, all fraction bits but the top one.
    const DEFAULT_NAN: u64 = Self::INF | (Self::FRAC_MASK >> 1);
}

/// IEEE binary32.
#[derive(Debug)]
pub(crate) enum S {}
/// IEEE binary64.
#[derive(Debug)]
pub(crate) enum D {}

impl Format for S {
    const FRAC: u32 = 23;
    const EXP: u32 = 8;
    const WIDE: bool = false;
    type H = f32;
    #[inline(always)]
    fn host(bits: u64) -> f32 {
        f32::from_bits(bits as u32)
    }
    #[inline(always)]
    fn bits(h: f32) -> u64 {
        h.to_bits() as u64
    }
    #[inline(always)]
    fn host_sqrt(h: f32) -> f32 {
        h.sqrt()
    }
    #[inline(always)]
    fn to_f64(h: f32) -> f64 {
        h as f64
    }
    #[inline(always)]
    fn from_i64(v: i64) -> f32 {
        v as f32
    }
}

impl Format for D {
    const FRAC: u32 = 52;
    const EXP: u32 = 11;
    const WIDE: bool = true;
    type H = f64;
    #[inline(always)]
    fn host(bits: u64) -> f64 {
        f64::from_bits(bits)
    }
    #[inline(always)]
    fn bits(h: f64) -> u64 {
        h.to_bits()
    }
    #[inline(always)]
    fn host_sqrt(h: f64) -> f64 {
        h.sqrt()
    }
    #[inline(always)]
    fn to_f64(h: f64) -> f64 {
        h
    }
    #[inline(always)]
    fn from_i64(v: i64) -> f64 {
        v as f64
    }
}

#[inline(always)]
pub(crate) fn exp_field<F: Format>(b: u64) -> u64 {
    (b >> F::FRAC) & F::EXP_MAX
}

/// Any NaN.
#[inline(always)]
pub(crate) fn is_nan<F: Format>(b: u64) -> bool {
    exp_field::<F>(b) == F::EXP_MAX && b & F::FRAC_MASK != 0
}

/// Signalling NaN in the legacy encoding (top fraction bit set).
#[inline(always)]
pub(crate) fn is_snan<F: Format>(b: u64) -> bool {
    is_nan::<F>(b) && b & (1 << (F::FRAC - 1)) != 0
}

#[inline(always)]
pub(crate) fn is_zero<F: Format>(b: u64) -> bool {
    b & !F::SIGN == 0
}

#[inline(always)]
fn is_inf<F: Format>(b: u64) -> bool {
    b & !F::SIGN == F::INF
}

#[inline(always)]
fn sign<F: Format>(b: u64) -> bool {
    b & F::SIGN != 0
}

#[inline(always)]
fn sign_bit<F: Format>(s: bool) -> u64 {
    if s {
        F::SIGN
    } else {
        0
    }
}

/// Integer significand of a finite value (implicit bit included for normals).
#[inline(always)]
pub(crate) fn significand<F: Format>(b: u64) -> u64 {
    let f = b & F::FRAC_MASK;
    if exp_field::<F>(b) == 0 {
        f
    } else {
        f | (1 << F::FRAC)
    }
}

/// `(exp, sig)` with value `sig * 2^exp` of a finite value.
#[inline]
fn finite<F: Format>(b: u64) -> (i32, u64) {
    let e = exp_field::<F>(b) as i32;
    let shift = F::BIAS + F::FRAC as i32;
    if e == 0 {
        (1 - shift, b & F::FRAC_MASK)
    } else {
        (e - shift, (b & F::FRAC_MASK) | (1 << F::FRAC))
    }
}

/// Result for NaN operands: the default NaN, Invalid if any is signalling.
#[inline]
fn propagate_nan<F: Format>(env: &mut Env, ops: &[u64]) -> Option<u64> {
    if !ops.iter().any(|&b| is_nan::<F>(b)) {
        return None;
    }
    if ops.iter().any(|&b| is_snan::<F>(b)) {
        env.flags |= INVALID;
    }
    Some(F::DEFAULT_NAN)
}

#[inline]
fn invalid<F: Format>(env: &mut Env) -> u64 {
    env.flags |= INVALID;
    F::DEFAULT_NAN
}

/// Keeps the top `keep` bits of `sig` (bit 127 set), rounding the rest away;
/// returns the kept integer (possibly carried to `2^keep`) and whether
/// anything nonzero was dropped. `keep` may be 0 or negative: the value is
/// then below one unit (at least half a unit only when `keep == 0`).
#[inline]
fn round_bits(sig: u128, keep: i32, sign: bool, rm: Rm) -> (u128, bool) {
    if keep <= 0 {
        let up = match rm {
            Rm::Nearest => keep == 0 && sig > 1 << 127,
            Rm::Zero => false,
            Rm::Up => !sign,
            Rm::Down => sign,
        };
        return (up as u128, true);
    }
    let drop = 128 - keep as u32;
    let kept = sig >> drop;
    let rem = sig & ((1u128 << drop) - 1);
    if rem == 0 {
        return (kept, false);
    }
    let half = 1u128 << (drop - 1);
    let up = match rm {
        Rm::Nearest => rem > half || (rem == half && kept & 1 == 1),
        Rm::Zero => false,
        Rm::Up => !sign,
        Rm::Down => sign,
    };
    (kept + up as u128, true)
}

fn overflow<F: Format>(env: &mut Env, sign: bool) -> u64 {
    env.flags |= OVERFLOW | INEXACT;
    let to_inf = match env.rm {
        Rm::Nearest => true,
        Rm::Zero => false,
        Rm::Up => !sign,
        Rm::Down => sign,
    };
    sign_bit::<F>(sign) | if to_inf { F::INF } else { F::MAX }
}

/// Rounds `(-1)^sign * sig * 2^exp` to format `F`. `sig` must be nonzero; if
/// it carries a sticky bit in bit 0 standing for a nonzero remainder, the
/// rounding point must be at least two bits above it.
pub(crate) fn round_pack<F: Format>(env: &mut Env, sign: bool, exp: i32, sig: u128) -> u64 {
    if sig == 0 {
        return sign_bit::<F>(sign);
    }
    let lz = sig.leading_zeros();
    let sig = sig << lz;
    // The value lies in [2^e, 2^(e+1)).
    let e = exp + 127 - lz as i32;
    let prec = F::FRAC as i32 + 1;
    let emin = 1 - F::BIAS;
    if e >= emin {
        let (m, inexact) = round_bits(sig, prec, sign, env.rm);
        let (m, e) = if m >> prec != 0 {
            (m >> 1, e + 1)
        } else {
            (m, e)
        };
        if e > F::BIAS {
            return overflow::<F>(env, sign);
        }
        if inexact {
            env.flags |= INEXACT;
        }
        sign_bit::<F>(sign) | (((e + F::BIAS) as u64) << F::FRAC) | (m as u64 & F::FRAC_MASK)
    } else if env.ftz {
        sign_bit::<F>(sign)
    } else {
        let keep = (prec - (emin - e)).max(-1);
        let (m, inexact) = round_bits(sig, keep, sign, env.rm);
        if inexact {
            // Tiny after rounding: even rounded to full precision with an
            // unbounded exponent, the result stays below 2^emin.
            let tiny = e < emin - 1 || round_bits(sig, prec, sign, env.rm).0 >> prec == 0;
            env.flags |= if tiny { INEXACT | UNDERFLOW } else { INEXACT };
        }
        // A carry into bit FRAC yields the smallest normal, as it should.
        sign_bit::<F>(sign) | m as u64
    }
}

/// Re-rounds a finite value of `F` (only FCSR.FS can change it).
fn repack<F: Format>(env: &mut Env, b: u64) -> u64 {
    if is_zero::<F>(b) {
        return b;
    }
    let (e, m) = finite::<F>(b);
    round_pack::<F>(env, sign::<F>(b), e, m as u128)
}

/// `a + b`.
pub(crate) fn add<F: Format>(env: &mut Env, a: u64, b: u64) -> u64 {
    if let Some(n) = propagate_nan::<F>(env, &[a, b]) {
        return n;
    }
    let (sa, sb) = (sign::<F>(a), sign::<F>(b));
    let (ia, ib) = (is_inf::<F>(a), is_inf::<F>(b));
    if ia || ib {
        if ia && ib && sa != sb {
            return invalid::<F>(env);
        }
        return if ia { a } else { b };
    }
    let exact_zero = |env: &Env| sign_bit::<F>(env.rm == Rm::Down);
    match (is_zero::<F>(a), is_zero::<F>(b)) {
        (true, true) => return if sa == sb { a } else { exact_zero(env) },
        (true, false) => return repack::<F>(env, b),
        (false, true) => return repack::<F>(env, a),
        (false, false) => {}
    }
    let (ea, ma) = finite::<F>(a);
    let (eb, mb) = finite::<F>(b);
    let ((s1, e1, m1), (s2, e2, m2)) = if ea >= eb {
        ((sa, ea, ma), (sb, eb, mb))
    } else {
        ((sb, eb, mb), (sa, ea, ma))
    };
    let x = (m1 as u128) << 64;
    let d = (e1 - e2) as u32;
    let y = (m2 as u128) << 64;
    let y = if d == 0 {
        y
    } else if d >= 120 {
        1
    } else {
        (y >> d) | ((y & ((1u128 << d) - 1) != 0) as u128)
    };
    let exp = e1 - 64;
    if s1 == s2 {
        round_pack::<F>(env, s1, exp, x + y)
    } else if x > y {
        round_pack::<F>(env, s1, exp, x - y)
    } else if y > x {
        round_pack::<F>(env, s2, exp, y - x)
    } else {
        exact_zero(env)
    }
}

/// `a * b`.
pub(crate) fn mul<F: Format>(env: &mut Env, a: u64, b: u64) -> u64 {
    if let Some(n) = propagate_nan::<F>(env, &[a, b]) {
        return n;
    }
    let s = sign::<F>(a) != sign::<F>(b);
    let (za, zb) = (is_zero::<F>(a), is_zero::<F>(b));
    if is_inf::<F>(a) || is_inf::<F>(b) {
        if za || zb {
            return invalid::<F>(env);
        }
        return sign_bit::<F>(s) | F::INF;
    }
    if za || zb {
        return sign_bit::<F>(s);
    }
    let (ea, ma) = finite::<F>(a);
    let (eb, mb) = finite::<F>(b);
    round_pack::<F>(env, s, ea + eb, ma as u128 * mb as u128)
}

/// `a / b`.
pub(crate) fn div<F: Format>(env: &mut Env, a: u64, b: u64) -> u64 {
    if let Some(n) = propagate_nan::<F>(env, &[a, b]) {
        return n;
    }
    let s = sign::<F>(a) != sign::<F>(b);
    let (ia, ib) = (is_inf::<F>(a), is_inf::<F>(b));
    let (za, zb) = (is_zero::<F>(a), is_zero::<F>(b));
    if ia {
        return if ib {
            invalid::<F>(env)
        } else {
            sign_bit::<F>(s) | F::INF
        };
    }
    if ib {
        return sign_bit::<F>(s);
    }
    if zb {
        if za {
            return invalid::<F>(env);
        }
        env.flags |= DIV_ZERO;
        return sign_bit::<F>(s) | F::INF;
    }
    if za {
        return sign_bit::<F>(s);
    }
    let (ea, ma) = finite::<F>(a);
    let (eb, mb) = finite::<F>(b);
    let (la, lb) = (ma.leading_zeros(), mb.leading_zeros());
    let (ma, mb) = (ma << la, mb << lb);
    let n = (ma as u128) << 64;
    let q = n / mb as u128;
    let r = n % mb as u128;
    let exp = (ea - la as i32) - 64 - (eb - lb as i32);
    round_pack::<F>(env, s, exp, q | (r != 0) as u128)
}

/// Square root.
pub(crate) fn sqrt<F: Format>(env: &mut Env, a: u64) -> u64 {
    if let Some(n) = propagate_nan::<F>(env, &[a]) {
        return n;
    }
    if is_zero::<F>(a) {
        return a;
    }
    if sign::<F>(a) {
        return invalid::<F>(env);
    }
    if is_inf::<F>(a) {
        return a;
    }
    let (e, m) = finite::<F>(a);
    // Scale m to [2^124, 2^126) with an even exponent; the integer square
    // root then has 63 bits, and its remainder tells exactness.
    let top = 63 - m.leading_zeros() as i32;
    let mut k = 124 - top;
    if (e - k) & 1 != 0 {
        k += 1;
    }
    let big = (m as u128) << k;
    let root = big.isqrt();
    let rem = big - root * root;
    round_pack::<F>(env, false, (e - k) / 2, root | (rem != 0) as u128)
}

/// Format conversion `Src -> Dst` (either direction).
pub(crate) fn convert<Src: Format, Dst: Format>(env: &mut Env, a: u64) -> u64 {
    if propagate_nan::<Src>(env, &[a]).is_some() {
        return Dst::DEFAULT_NAN;
    }
    let s = sign::<Src>(a);
    if is_inf::<Src>(a) {
        return sign_bit::<Dst>(s) | Dst::INF;
    }
    if is_zero::<Src>(a) {
        return sign_bit::<Dst>(s);
    }
    let (e, m) = finite::<Src>(a);
    round_pack::<Dst>(env, s, e, m as u128)
}

/// Integer to floating point.
pub(crate) fn from_int<F: Format>(env: &mut Env, v: i64) -> u64 {
    round_pack::<F>(env, v < 0, 0, v.unsigned_abs() as u128)
}
