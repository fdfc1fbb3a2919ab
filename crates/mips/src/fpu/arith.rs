//! FPU arithmetic on raw bits: host-float fast paths for round-to-nearest
//! with cheap exactness checks, falling back to [`super::soft`] for directed
//! rounding, NaNs, infinities, zeros that may hide an underflow, subnormal
//! results and overflow.

use super::soft::{self, is_nan, is_snan, is_zero, significand, Env, Format, Rm, INEXACT, INVALID};

/// Odd part of a nonzero integer.
#[inline(always)]
fn odd(x: u128) -> u128 {
    x >> x.trailing_zeros()
}

/// Significant bits of a nonzero integer (from its top to its lowest set bit).
#[inline(always)]
fn span(x: u128) -> u32 {
    128 - x.leading_zeros() - x.trailing_zeros()
}

/// A finite result larger in magnitude than the smallest normal: then it
/// neither overflowed nor can hide an underflow or a flush to zero (a tiny
/// exact result can round up to the smallest normal itself).
#[inline(always)]
fn safe<F: Format>(r: u64) -> bool {
    let m = r & !F::SIGN;
    m > 1 << F::FRAC && m < F::INF
}

#[inline(always)]
fn inexact_if(env: &mut Env, inexact: bool) {
    env.flags |= (inexact as u32) * INEXACT;
}

/// `a + b`.
#[inline]
pub(crate) fn add<F: Format>(env: &mut Env, a: u64, b: u64) -> u64 {
    if env.rm == Rm::Nearest {
        let (x, y) = (F::host(a), F::host(b));
        let r = x + y;
        let rb = F::bits(r);
        if safe::<F>(rb) {
            // TwoSum: the exact rounding error of r (no overflow here).
            let xv = r - y;
            let yv = r - xv;
            let e1 = x - xv;
            let e2 = y - yv;
            let err = F::bits(e1 + e2);
            if soft::exp_field::<F>(err) != F::EXP_MAX {
                inexact_if(env, !is_zero::<F>(err));
                return rb;
            }
        } else if is_zero::<F>(rb) {
            // A zero sum of finite values is exact.
            return rb;
        }
    }
    soft::add::<F>(env, a, b)
}

/// `a - b`.
#[inline]
pub(crate) fn sub<F: Format>(env: &mut Env, a: u64, b: u64) -> u64 {
    add::<F>(env, a, b ^ F::SIGN)
}

/// `a * b`.
#[inline]
pub(crate) fn mul<F: Format>(env: &mut Env, a: u64, b: u64) -> u64 {
    if env.rm == Rm::Nearest {
        let r = F::bits(F::host(a) * F::host(b));
        if safe::<F>(r) {
            let p = significand::<F>(a) as u128 * significand::<F>(b) as u128;
            inexact_if(env, span(p) > F::FRAC + 1);
            return r;
        }
        if is_zero::<F>(r) && (is_zero::<F>(a) || is_zero::<F>(b)) {
            return r;
        }
    }
    soft::mul::<F>(env, a, b)
}

/// `a / b`.
#[inline]
pub(crate) fn div<F: Format>(env: &mut Env, a: u64, b: u64) -> u64 {
    if env.rm == Rm::Nearest {
        let r = F::bits(F::host(a) / F::host(b));
        if safe::<F>(r) {
            // Exact iff r * b == a, i.e. their significands have equal odd
            // parts (r is within an ulp, so no power of two can differ).
            let p = significand::<F>(r) as u128 * significand::<F>(b) as u128;
            inexact_if(env, odd(p) != odd(significand::<F>(a) as u128));
            return r;
        }
        if is_zero::<F>(r) && is_zero::<F>(a) {
            return r;
        }
    }
    soft::div::<F>(env, a, b)
}

/// Square root.
#[inline]
pub(crate) fn sqrt<F: Format>(env: &mut Env, a: u64) -> u64 {
    if env.rm == Rm::Nearest {
        let r = F::bits(F::host_sqrt(F::host(a)));
        if safe::<F>(r) {
            let m = significand::<F>(r) as u128;
            inexact_if(env, odd(m * m) != odd(significand::<F>(a) as u128));
            return r;
        }
        if is_zero::<F>(a) {
            return a;
        }
    }
    soft::sqrt::<F>(env, a)
}

/// Conversion between floating-point formats.
#[inline]
pub(crate) fn convert<Src: Format, Dst: Format>(env: &mut Env, a: u64) -> u64 {
    if env.rm == Rm::Nearest && !is_nan::<Src>(a) {
        let x = Src::to_f64(Src::host(a));
        if Dst::WIDE {
            // Widening single -> double is exact (subnormals become normal).
            return x.to_bits();
        }
        let r = x as f32;
        let rb = r.to_bits() as u64;
        if safe::<Dst>(rb) {
            inexact_if(env, r as f64 != x);
            return rb;
        }
        if x == 0.0 {
            return rb;
        }
    }
    soft::convert::<Src, Dst>(env, a)
}

/// Integer to floating point.
#[inline]
pub(crate) fn from_int<F: Format>(env: &mut Env, v: i64) -> u64 {
    if env.rm == Rm::Nearest {
        let r = F::from_i64(v);
        // |v| < 2^63 + 1, so the rounded value fits an i128 exactly.
        inexact_if(env, F::to_f64(r) as i128 != v as i128);
        return F::bits(r);
    }
    soft::from_int::<F>(env, v)
}

/// Float to integer with the given rounding, `wide` selecting 64-bit results.
/// NaNs, infinities and out-of-range values raise Invalid and give the
/// legacy MIPS result `2^31 - 1` / `2^63 - 1`.
#[inline]
pub(crate) fn to_int<F: Format>(env: &mut Env, a: u64, rm: Rm, wide: bool) -> u64 {
    let max = if wide {
        i64::MAX as u64
    } else {
        i32::MAX as u64
    };
    if is_nan::<F>(a) {
        env.flags |= INVALID;
        return max;
    }
    let x = F::to_f64(F::host(a));
    let r = match rm {
        Rm::Nearest => x.round_ties_even(),
        Rm::Zero => x.trunc(),
        Rm::Up => x.ceil(),
        Rm::Down => x.floor(),
    };
    let limit = if wide {
        9_223_372_036_854_775_808.0
    } else {
        2_147_483_648.0
    };
    if !(r >= -limit && r < limit) {
        env.flags |= INVALID;
        return max;
    }
    inexact_if(env, r != x);
    if wide {
        r as i64 as u64
    } else {
        r as i32 as u32 as u64
    }
}

/// `c.cond.fmt`: `cond` bit 0 true if unordered, bit 1 if equal, bit 2 if
/// less; bit 3 makes any NaN (not only a signalling one) raise Invalid.
#[inline]
pub(crate) fn compare<F: Format>(env: &mut Env, a: u64, b: u64, cond: u8) -> bool {
    let (x, y) = (F::host(a), F::host(b));
    if is_nan::<F>(a) || is_nan::<F>(b) {
        if cond & 8 != 0 || is_snan::<F>(a) || is_snan::<F>(b) {
            env.flags |= INVALID;
        }
        return cond & 1 != 0;
    }
    (cond & 2 != 0 && x == y) || (cond & 4 != 0 && x < y)
}
