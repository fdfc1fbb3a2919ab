/* Bit manipulation: count leading/trailing zeros, population count, byte
 * swaps, rotates, bit-field structures (EXT/INS/DEXT/DINS), sign extension. */
#include "rt.h"

struct fields {
    u64 a : 3, b : 13, c : 1, d : 20, e : 27;
};
struct sfields {
    i64 a : 5, b : 31, c : 28;
};

static unsigned popcount(u64 x)
{
    unsigned n = 0;
    for (; x; x &= x - 1)
        n++;
    return n;
}

static u64 rotr64(u64 x, unsigned n) { return (x >> (n & 63)) | (x << ((-n) & 63)); }
static u32 rotr32(u32 x, unsigned n) { return (x >> (n & 31)) | (x << ((-n) & 31)); }

int main(void)
{
    static const u64 vals[] = {1, 2, 0x80, 0xff00, 0x12345678, 0x80000000, 0xffffffff,
                               0x100000000, 0x0123456789abcdef, 0x8000000000000000,
                               0xfedcba9876543210, 0xffffffffffffffff, 0xf0f0f0f00f0f0f0f};
    u64 h = 0;
    for (unsigned i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        u64 v = OPAQUE(vals[i]);
        u32 w = (u32)v;
        puts_("v=");
        put_hex(v, 16);
        putch(' ');
        put_hex(__builtin_clzll(v), 2);
        putch(' ');
        put_hex(w ? __builtin_clz(w) : 32, 2);
        putch(' ');
        put_hex(__builtin_ctzll(v), 2);
        putch(' ');
        put_hex(popcount(v), 2);
        putch(' ');
        put_hex(__builtin_clrsbll((i64)v), 2);
        putch(' ');
        put_hex(__builtin_bswap64(v), 16);
        putch(' ');
        put_hex(__builtin_bswap32(w), 8);
        putch(' ');
        put_hex(__builtin_bswap16((u16)v), 4);
        putch(' ');
        put_hex(rotr64(v, i * 5), 16);
        putch(' ');
        put_hex(rotr32(w, i * 3), 8);
        putch(' ');
        put_hex((u64)(i64)(i8)v, 16);
        putch(' ');
        put_hex((u64)(i64)(i16)v, 16);
        putch(' ');
        put_hex((u64)(i64)(i32)v, 16);
        putch('\n');
        struct fields f;
        memcpy(&f, &v, 8);
        h = h * 31 + f.a + f.b * 3 + f.c * 5 + f.d * 7 + f.e * 11;
        f.b = (u16)(v >> 3);
        f.d = (u32)(v * 3);
        f.e ^= (u32)i;
        u64 back;
        memcpy(&back, &f, 8);
        h ^= back;
        struct sfields s;
        memcpy(&s, &v, 8);
        h = h * 17 + (u64)(s.a * 3 + s.b + s.c);
        s.b = (i32)v >> 1;
        memcpy(&back, &s, 8);
        h ^= back;
    }
    show("fields", h);

    /* Rotates and bit-field instructions with immediates, explicitly. */
#define R1(insn, args, x) ({ u64 _r; asm(insn " %0, %1, " args : "=r"(_r) : "r"(x)); _r; })
#define RINS(insn, args, d, x) ({ u64 _r = (d); asm(insn " %0, %1, " args : "+r"(_r) : "r"(x)); _r; })
#define RV(insn, x, n) ({ u64 _r; asm(insn " %0, %1, %2" : "=r"(_r) : "r"(x), "r"(n)); _r; })
    for (unsigned i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        u64 v = OPAQUE(vals[i]);
        u64 sx = (u64)(i64)(i32)v;
        u64 d = OPAQUE(0x5a5a5a5a5a5a5a5aULL);
        puts_("asm ");
        put_hex(R1("rotr", "7", sx), 16);
        putch(' ');
        put_hex(R1("drotr", "13", v), 16);
        putch(' ');
        put_hex(R1("drotr32", "5", v), 16);
        putch(' ');
        put_hex(RV("rotrv", sx, i * 7), 16);
        putch(' ');
        put_hex(RV("drotrv", v, i * 11), 16);
        putch(' ');
        put_hex(R1("ext", "3, 17", v), 16);
        putch(' ');
        put_hex(R1("dextm", "5, 40", v), 16);
        putch(' ');
        put_hex(R1("dextu", "36, 20", v), 16);
        putch(' ');
        put_hex(RINS("ins", "9, 14", (u64)(i64)(i32)d, v), 16);
        putch(' ');
        put_hex(RINS("dinsm", "20, 30", d, v), 16);
        putch(' ');
        put_hex(RINS("dinsu", "44, 17", d, v), 16);
        putch(' ');
        put_hex(RV("dsrav", v, i * 13), 16);
        putch('\n');
    }
    return 0;
}
