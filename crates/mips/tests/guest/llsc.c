/* Atomic read-modify-write through LL/SC and LLD/SCD loops (GCC's __atomic
 * builtins), including failing compare-and-swap. */
#include "rt.h"

static u32 w32[4];
static u64 w64[4];

int main(void)
{
    u64 h = 0;
    w32[1] = 5;
    w64[2] = 0x100000000ULL;
    for (int i = 0; i < 100; i++) {
        u32 old = __atomic_fetch_add(&w32[1], (u32)i, __ATOMIC_SEQ_CST);
        u64 old64 = __atomic_fetch_sub(&w64[2], (u64)i * 0x10001, __ATOMIC_SEQ_CST);
        h = h * 33 + old + old64;
        u32 x = __atomic_exchange_n(&w32[2], old ^ 0xdeadbeef, __ATOMIC_SEQ_CST);
        u64 y = __atomic_fetch_or(&w64[3], 1ULL << (i % 64), __ATOMIC_SEQ_CST);
        u64 z = __atomic_fetch_and(&w64[1], ~(1ULL << (i % 61)), __ATOMIC_SEQ_CST);
        u32 q = __atomic_fetch_xor(&w32[3], (u32)i * 0x01010101u, __ATOMIC_SEQ_CST);
        h ^= x + y + z + q;
        u32 expected = (i & 1) ? w32[1] : w32[1] + 1; /* odd: succeeds */
        int ok = __atomic_compare_exchange_n(&w32[1], &expected, (u32)i * 3, 0,
                                             __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
        u64 e64 = (i % 3) ? w64[2] : 7;
        int ok64 = __atomic_compare_exchange_n(&w64[2], &e64, e64 + i, 0,
                                               __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
        h = h * 7 + ok + 2 * ok64 + expected + e64;
        if (i == 0)
            w64[1] = ~0ULL;
    }
    show("hash", h);
    show("w32[1]", w32[1]);
    show("w32[2]", w32[2]);
    show("w32[3]", w32[3]);
    show("w64[1]", w64[1]);
    show("w64[2]", w64[2]);
    show("w64[3]", w64[3]);

    /* Raw ll/sc: sc without ll fails; ll/sc pair succeeds. */
    u32 r1, r2, val;
    asm volatile(".set push\n.set noreorder\n"
                 "ll %2, 0(%3)\n"
                 "addiu %2, %2, 1\n"
                 "sc %2, 0(%3)\n"
                 "move %0, %2\n"
                 "ll %2, 0(%3)\n"
                 "sw $0, 0(%3)\n" /* a store of a different value in between */
                 "sc %2, 0(%3)\n"
                 "move %1, %2\n"
                 ".set pop"
                 : "=r"(r1), "=r"(r2), "=&r"(val)
                 : "r"(&w32[0])
                 : "memory");
    show("sc ok", r1);
    show("sc after store", r2);
    show("w32[0]", w32[0]);
    return 0;
}
