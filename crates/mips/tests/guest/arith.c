/* Integer arithmetic on edge values: 32- and 64-bit add/sub/mul/div/rem,
 * shifts, comparisons and 128-bit products, folded into printed values. */
#include "rt.h"

static const u64 vals[] = {
    0, 1, 2, 3, 7, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff,
    0x7fffffff, 0x80000000, 0xffffffff, 0x100000000, 0x123456789abcdef0,
    0x7fffffffffffffff, 0x8000000000000000, 0xffffffffffffffff,
    0xfffffffffffffffe, 0xffffffff80000000, 0xdeadbeefcafebabe, 12345, -12345L,
};
#define N (sizeof vals / sizeof vals[0])

static u64 mix(u64 h, u64 v)
{
    h ^= v;
    h *= 0x100000001b3ULL;
    return h ^ (h >> 29);
}

int main(void)
{
    u64 h32 = 0, h64 = 0, hdiv = 0, hsh = 0, hcmp = 0, h128 = 0;
    for (unsigned i = 0; i < N; i++) {
        for (unsigned j = 0; j < N; j++) {
            u64 a = OPAQUE(vals[i]), b = OPAQUE(vals[j]);
            i32 x = (i32)a, y = (i32)b;
            u32 ux = (u32)a, uy = (u32)b;
            h32 = mix(h32, (u64)(i64)(x + y));
            h32 = mix(h32, (u64)(i64)(x - y));
            h32 = mix(h32, (u64)(i64)(i32)((u32)x * (u32)y));
            h32 = mix(h32, (u64)(i64)x * (i64)y);
            h32 = mix(h32, (u64)ux * uy);
            h64 = mix(h64, a + b);
            h64 = mix(h64, a - b);
            h64 = mix(h64, a * b);
            h64 = mix(h64, (u64)((i64)a < (i64)b) | (u64)(a < b) << 1);
            if (y != 0 && !(x == (i32)0x80000000 && y == -1)) {
                hdiv = mix(hdiv, (u64)(i64)(x / y));
                hdiv = mix(hdiv, (u64)(i64)(x % y));
            }
            if (uy != 0) {
                hdiv = mix(hdiv, ux / uy);
                hdiv = mix(hdiv, ux % uy);
            }
            if (b != 0 && !(a == 0x8000000000000000ULL && b == ~0ULL)) {
                hdiv = mix(hdiv, (u64)((i64)a / (i64)b));
                hdiv = mix(hdiv, (u64)((i64)a % (i64)b));
            }
            if (b != 0) {
                hdiv = mix(hdiv, a / b);
                hdiv = mix(hdiv, a % b);
            }
            unsigned s = (unsigned)b & 63, s32 = (unsigned)b & 31;
            hsh = mix(hsh, a << s);
            hsh = mix(hsh, a >> s);
            hsh = mix(hsh, (u64)((i64)a >> s));
            hsh = mix(hsh, (u64)(i64)(i32)(ux << s32));
            hsh = mix(hsh, (u64)(i64)(i32)(ux >> s32));
            hsh = mix(hsh, (u64)(i64)(x >> s32));
            hcmp = mix(hcmp, (x < y) + 2 * (ux < uy) + 4 * (a == b) + 8 * ((i64)a <= 0));
            unsigned __int128 p = (unsigned __int128)a * b;
            __int128 q = (__int128)(i64)a * (i64)b;
            h128 = mix(h128, (u64)(p >> 64));
            h128 = mix(h128, (u64)((unsigned __int128)q >> 64));
        }
    }
    show("add-sub-mul 32", h32);
    show("add-sub-mul 64", h64);
    show("div-rem", hdiv);
    show("shifts", hsh);
    show("compares", hcmp);
    show("128-bit products", h128);
    /* A few values in the clear. */
    show("i32 min / 7", (u64)(i64)(OPAQUE((i32)0x80000000) / 7));
    show("u64 max / 10", OPAQUE(~0ULL) / 10);
    show("-7 % 3", (u64)(OPAQUE(-7L) % 3));
    show("mulhi", (u64)(((unsigned __int128)OPAQUE(0xdeadbeefcafebabeULL) * 0x123456789ULL) >> 64));
    return 0;
}
