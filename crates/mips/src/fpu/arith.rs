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
            // Fast2Sum: with |big| >= |small| and no overflow, r - big is
            // exact, so the sum was exact iff it gives back small.
            let (big, small) = if a & !F::SIGN >= b & !F::SIGN {
                (x, y)
            } else {
                (y, x)
            };
            inexact_if(env, r - big != small);
            return rb;
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

#[cfg(test)]
mod tests {
    //! Cross-checks: the host fast paths against the software path (round to
    //! nearest), and the software path's directed rounding against host
    //! round-to-nearest results corrected by the sign of their exact error.

    use super::super::soft::{self, Env, Format, Rm, D, INEXACT, S};
    use super::*;

    type SoftOp = fn(&mut Env, u64, u64) -> u64;

    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        /// A value of format F: raw bits, or with an exponent from a
        /// narrow, tiny or huge range, or with a short significand.
        fn value<F: Format>(&mut self) -> u64 {
            let r = self.next();
            let width = F::FRAC + F::EXP + 1;
            let raw = r >> (64 - width);
            let sign = raw & F::SIGN;
            let frac = raw & F::FRAC_MASK;
            let emax = F::EXP_MAX;
            let e = match r & 7 {
                0 | 1 => return raw,
                2 => r % 4,
                3 => emax - 1 - (r >> 8) % 4,
                4 => F::BIAS as u64 - 3 + (r >> 8) % 7,
                5 => return sign | (F::BIAS as u64) << F::FRAC | (frac & !(F::FRAC_MASK >> 4)),
                _ => (F::BIAS as u64)
                    .wrapping_add((r >> 8) % 61)
                    .wrapping_sub(30),
            };
            sign | (e & emax) << F::FRAC | frac
        }
    }

    fn env(rm: Rm) -> Env {
        Env {
            rm,
            ftz: false,
            flags: 0,
        }
    }

    fn check<F: Format>(
        name: &str,
        fast: impl Fn(&mut Env) -> u64,
        slow: impl Fn(&mut Env) -> u64,
    ) {
        let (mut ef, mut es) = (env(Rm::Nearest), env(Rm::Nearest));
        let (rf, rs) = (fast(&mut ef), slow(&mut es));
        assert_eq!(
            (rf, ef.flags),
            (rs, es.flags),
            "{name}: fast {rf:x}/{:x} soft {rs:x}/{:x}",
            ef.flags,
            es.flags
        );
    }

    fn fast_vs_soft<F: Format>(seed: u64) {
        let mut rng = Rng(seed);
        for _ in 0..200_000 {
            let (a, b) = (rng.value::<F>(), rng.value::<F>());
            let msg = format!("{a:x} {b:x}");
            check::<F>(
                &format!("add {msg}"),
                |e| add::<F>(e, a, b),
                |e| soft::add::<F>(e, a, b),
            );
            check::<F>(
                &format!("sub {msg}"),
                |e| sub::<F>(e, a, b),
                |e| soft::add::<F>(e, a, b ^ F::SIGN),
            );
            check::<F>(
                &format!("mul {msg}"),
                |e| mul::<F>(e, a, b),
                |e| soft::mul::<F>(e, a, b),
            );
            check::<F>(
                &format!("div {msg}"),
                |e| div::<F>(e, a, b),
                |e| soft::div::<F>(e, a, b),
            );
            check::<F>(
                &format!("sqrt {msg}"),
                |e| sqrt::<F>(e, a),
                |e| soft::sqrt::<F>(e, a),
            );
            let i = (rng.next() as i64) >> (rng.next() % 64);
            check::<F>(
                &format!("from_int {i}"),
                |e| from_int::<F>(e, i),
                |e| soft::from_int::<F>(e, i),
            );
        }
    }

    #[test]
    fn fast_paths_match_soft_single() {
        fast_vs_soft::<S>(1);
    }

    #[test]
    fn fast_paths_match_soft_double() {
        fast_vs_soft::<D>(2);
    }

    #[test]
    fn fast_convert_matches_soft() {
        let mut rng = Rng(3);
        for _ in 0..200_000 {
            let a = rng.value::<D>();
            check::<S>(
                &format!("cvt.s.d {a:x}"),
                |e| convert::<D, S>(e, a),
                |e| soft::convert::<D, S>(e, a),
            );
            let a = rng.value::<S>();
            check::<D>(
                &format!("cvt.d.s {a:x}"),
                |e| convert::<S, D>(e, a),
                |e| soft::convert::<S, D>(e, a),
            );
        }
    }

    /// Next representable value towards +inf (`up`) or -inf, for finite x.
    fn step<F: Format>(x: u64, up: bool) -> u64 {
        if x & !F::SIGN == 0 {
            return if up { 1 } else { F::SIGN | 1 };
        }
        if (x & F::SIGN == 0) == up {
            x + 1
        } else {
            x - 1
        }
    }

    /// The correctly rounded result in `rm` given the round-to-nearest result
    /// `r` and the sign of (exact - r).
    fn directed<F: Format>(r: u64, err: f64, rm: Rm) -> u64 {
        let neg = r & F::SIGN != 0;
        match rm {
            _ if err == 0.0 => r,
            Rm::Nearest => r,
            Rm::Up if err > 0.0 => step::<F>(r, true),
            Rm::Down if err < 0.0 => step::<F>(r, false),
            Rm::Zero if (err < 0.0) != neg => step::<F>(r, neg),
            _ => r,
        }
    }

    /// Moderate operands: results stay clear of overflow and underflow, so
    /// the exact error terms below are representable.
    fn moderate<F: Format>(rng: &mut Rng) -> u64 {
        let r = rng.next();
        let e = F::BIAS as u64 + (r >> 8) % 41 - 20;
        let frac = if r & 1 == 0 {
            r >> 20
        } else {
            (r >> 20) & !(F::FRAC_MASK >> 5)
        };
        (r & 2) << (F::FRAC + F::EXP - 1) | e << F::FRAC | (frac & F::FRAC_MASK)
    }

    #[test]
    fn directed_rounding_double() {
        let mut rng = Rng(4);
        for i in 0..200_000u32 {
            let (a, b) = (moderate::<D>(&mut rng), moderate::<D>(&mut rng));
            let (x, y) = (f64::from_bits(a), f64::from_bits(b));
            let rm = [Rm::Zero, Rm::Up, Rm::Down][i as usize % 3];
            let cases: [(&str, u64, f64, SoftOp); 4] = [
                (
                    "add",
                    (x + y).to_bits(),
                    {
                        let s = x + y;
                        let bv = s - x;
                        (x - (s - bv)) + (y - bv)
                    },
                    soft::add::<D>,
                ),
                (
                    "mul",
                    (x * y).to_bits(),
                    x.mul_add(y, -(x * y)),
                    soft::mul::<D>,
                ),
                (
                    "div",
                    (x / y).to_bits(),
                    (-(x / y)).mul_add(y, x) * y.signum(),
                    soft::div::<D>,
                ),
                (
                    "sqrt",
                    x.abs().sqrt().to_bits(),
                    {
                        let r = x.abs().sqrt();
                        (-r).mul_add(r, x.abs())
                    },
                    |e, a, _| soft::sqrt::<D>(e, a & !D::SIGN),
                ),
            ];
            for (name, r, err, f) in cases {
                let mut e = env(rm);
                let got = f(&mut e, a, b);
                let mut want = directed::<D>(r, err, rm);
                if name == "add" && x == -y && rm == Rm::Down {
                    want = D::SIGN; // exact cancellation gives -0 when rounding down
                }
                assert_eq!(got, want, "{name} {a:x} {b:x} {rm:?}");
                assert_eq!(
                    e.flags,
                    if err != 0.0 { INEXACT } else { 0 },
                    "{name} {a:x} {b:x} flags"
                );
            }
        }
    }

    #[test]
    fn directed_rounding_single() {
        let mut rng = Rng(5);
        for i in 0..200_000u32 {
            let (a, b) = (moderate::<S>(&mut rng), moderate::<S>(&mut rng));
            let (x, y) = (f32::from_bits(a as u32), f32::from_bits(b as u32));
            let (xd, yd) = (x as f64, y as f64);
            let rm = [Rm::Zero, Rm::Up, Rm::Down][i as usize % 3];
            // Products, and sums of these operands, are exact in f64; the
            // residuals a - r*b and a - r*r are exact by Sterbenz's lemma.
            let sq = x.abs().sqrt();
            let cases: [(&str, f32, f64, SoftOp); 4] = [
                ("add", x + y, xd + yd - (x + y) as f64, soft::add::<S>),
                ("mul", x * y, xd * yd - (x * y) as f64, soft::mul::<S>),
                (
                    "div",
                    x / y,
                    (xd - (x / y) as f64 * yd) * yd.signum(),
                    soft::div::<S>,
                ),
                ("sqrt", sq, xd.abs() - sq as f64 * sq as f64, |e, a, _| {
                    soft::sqrt::<S>(e, a & !S::SIGN)
                }),
            ];
            for (name, r, err, f) in cases {
                let mut e = env(rm);
                let got = f(&mut e, a, b);
                let mut want = directed::<S>(r.to_bits() as u64, err, rm);
                if name == "add" && x == -y && rm == Rm::Down {
                    want = S::SIGN;
                }
                assert_eq!(got, want, "{name} {a:x} {b:x} {rm:?}");
                assert_eq!(
                    e.flags,
                    if err != 0.0 { INEXACT } else { 0 },
                    "{name} {a:x} {b:x} flags"
                );
            }
        }
    }
}
