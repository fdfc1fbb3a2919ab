/* Floating point: arithmetic, square root, fused-looking multiply-add,
 * conversions, rounding modes, comparisons and FCSR flags on special values
 * (zeros, denormals, infinities, legacy quiet/signalling NaNs), printed as
 * bit patterns. */
#include "rt.h"

static const u64 dbits[] = {
    0x0000000000000000, 0x8000000000000000, 0x3ff0000000000000, 0xbff0000000000000,
    0x3fb999999999999a, /* 0.1 */
    0x7e37e43c8800759c, /* 1e300 */
    0x81c60bb1c2b6c1d8, /* -1e-300 (tiny) */
    0x0000000000000001, /* smallest denormal */
    0x7fefffffffffffff, /* DBL_MAX */
    0x7ff0000000000000, 0xfff0000000000000,
    0x7ff7ffffffffffff, /* legacy quiet NaN */
    0x7ff8000000000001, /* legacy signalling NaN */
    0x4059000000000000, /* 100 */
    0xc00921fb54442d18, /* -pi */
};
static const u32 sbits[] = {
    0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x3dcccccd, 0x7f7fffff,
    0x00000001, 0x7f800000, 0xff800000, 0x7fbfffff, 0x7fc00001, 0x42c80000, 0xc0490fdb,
};
#define ND (sizeof dbits / sizeof dbits[0])
#define NS (sizeof sbits / sizeof sbits[0])

static double d_of(u64 b) { double d; memcpy(&d, &b, 8); return d; }
static u64 bits_d(double d) { u64 b; memcpy(&b, &d, 8); return b; }
static float s_of(u32 b) { float f; memcpy(&f, &b, 4); return f; }
static u32 bits_s(float f) { u32 b; memcpy(&b, &f, 4); return b; }

static u32 get_fcsr(void) { u32 v; asm volatile("cfc1 %0, $31" : "=r"(v)); return v; }
static void set_fcsr(u32 v) { asm volatile("ctc1 %0, $31" : : "r"(v)); }

#define FOP2(insn, fmt, a, b) ({ __typeof__(a) _r; \
    asm volatile(insn " %0, %1, %2" : "=f"(_r) : "f"(a), "f"(b)); _r; })
#define FOP1(insn, a, rt) ({ rt _r; asm volatile(insn " %0, %1" : "=f"(_r) : "f"(a)); _r; })
#define FOP3(insn, a, b, c) ({ __typeof__(a) _r; \
    asm volatile(insn " %0, %1, %2, %3" : "=f"(_r) : "f"(a), "f"(b), "f"(c)); _r; })

static void flags(void)
{
    putch(' ');
    put_hex(get_fcsr(), 8);
    putch('\n');
    set_fcsr(0);
}

int main(void)
{
    set_fcsr(0);
    for (unsigned i = 0; i < ND; i++) {
        for (unsigned j = 0; j < ND; j++) {
            double a = OPAQUE(d_of(dbits[i])), b = OPAQUE(d_of(dbits[j]));
            put_hex(bits_d(FOP2("add.d", d, a, b)), 16);
            putch(' ');
            put_hex(bits_d(FOP2("sub.d", d, a, b)), 16);
            putch(' ');
            put_hex(bits_d(FOP2("mul.d", d, a, b)), 16);
            putch(' ');
            put_hex(bits_d(FOP2("div.d", d, a, b)), 16);
            putch(' ');
            put_hex(bits_d(FOP3("madd.d", b, a, OPAQUE(d_of(dbits[(i + j) % ND])))), 16);
            putch(' ');
            put_hex((a < b) | (a <= b) << 1 | (a == b) << 2 | __builtin_isunordered(a, b) << 3, 1);
            flags();
        }
    }
    for (unsigned i = 0; i < NS; i++) {
        for (unsigned j = 0; j < NS; j += 2) {
            float a = OPAQUE(s_of(sbits[i])), b = OPAQUE(s_of(sbits[j]));
            put_hex(bits_s(FOP2("add.s", s, a, b)), 8);
            putch(' ');
            put_hex(bits_s(FOP2("mul.s", s, a, b)), 8);
            putch(' ');
            put_hex(bits_s(FOP2("div.s", s, a, b)), 8);
            putch(' ');
            put_hex(bits_s(FOP3("nmsub.s", b, a, OPAQUE(s_of(sbits[(i * 3 + j) % NS])))), 8);
            flags();
        }
    }
    /* Unary operations and conversions, in every rounding mode. */
    for (u32 rm = 0; rm < 4; rm++) {
        for (unsigned i = 0; i < ND; i++) {
            set_fcsr(rm);
            double a = OPAQUE(d_of(dbits[i]));
            double scaled = FOP2("mul.d", d, a, OPAQUE(1e10));
            put_hex(rm, 1);
            putch(' ');
            put_hex(bits_d(FOP1("sqrt.d", a, double)), 16);
            putch(' ');
            put_hex(bits_d(FOP1("abs.d", a, double)), 16);
            putch(' ');
            put_hex(bits_d(FOP1("neg.d", a, double)), 16);
            putch(' ');
            put_hex(bits_s(FOP1("cvt.s.d", a, float)), 8);
            putch(' ');
            put_hex(bits_d(FOP1("cvt.l.d", scaled, double)), 16);
            putch(' ');
            put_hex(bits_s(FOP1("cvt.w.d", a, float)), 8);
            putch(' ');
            put_hex(bits_d(FOP1("round.l.d", scaled, double)), 16);
            putch(' ');
            put_hex(bits_d(FOP1("trunc.l.d", scaled, double)), 16);
            putch(' ');
            put_hex(bits_d(FOP1("ceil.l.d", scaled, double)), 16);
            putch(' ');
            put_hex(bits_s(FOP1("floor.w.d", a, float)), 8);
            putch(' ');
            put_hex(bits_d(FOP1("recip.d", a, double)), 16);
            putch(' ');
            put_hex(bits_d(FOP1("rsqrt.d", a, double)), 16);
            flags();
        }
        for (unsigned i = 0; i < NS; i++) {
            set_fcsr(rm);
            float a = OPAQUE(s_of(sbits[i]));
            put_hex(rm, 1);
            putch(' ');
            put_hex(bits_s(FOP1("sqrt.s", a, float)), 8);
            putch(' ');
            put_hex(bits_d(FOP1("cvt.d.s", a, double)), 16);
            putch(' ');
            put_hex(bits_s(FOP1("round.w.s", a, float)), 8);
            flags();
        }
    }
    /* Integer to floating point, and C conversions. */
    static const i64 ints[] = {0, 1, -1, 3, 0x7fffffff, -0x80000000L, 0x123456789abcdefL,
                               0x7fffffffffffffffL, (i64)0x8000000000000000ULL, 9007199254740993L};
    for (unsigned i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        i64 v = OPAQUE(ints[i]);
        put_hex(bits_d((double)v), 16);
        putch(' ');
        put_hex(bits_s((float)v), 8);
        putch(' ');
        put_hex(bits_d((double)(i32)v), 16);
        putch(' ');
        put_hex(bits_d((double)(u64)v), 16);
        putch(' ');
        put_hex((u64)(i64)(d_of(dbits[i % ND]) * 0.5), 16);
        flags();
    }
    /* A little numerical loop: Newton iterations for sqrt(2) and a series. */
    double x = 1.0, s = 0.0;
    float fx = 1.0f;
    for (int k = 1; k <= 50; k++) {
        x = 0.5 * (x + 2.0 / x);
        fx = fx - (fx * fx - 3.0f) / (2.0f * fx);
        s += (k & 1 ? 1.0 : -1.0) / (2 * k - 1);
    }
    show("newton", bits_d(x));
    show("newton-f", bits_s(fx));
    show("leibniz", bits_d(s));
    return 0;
}
