/* Unaligned loads and stores of every width at every byte offset, through
 * packed structures (GCC emits LWL/LWR, LDL/LDR, SWL/SWR, SDL/SDR). */
#include "rt.h"

struct __attribute__((packed)) p16 { u16 v; };
struct __attribute__((packed)) p32 { u32 v; };
struct __attribute__((packed)) s32 { i32 v; };
struct __attribute__((packed)) p64 { u64 v; };

static u8 buf[64] __attribute__((aligned(16)));

static void fill(void)
{
    for (int i = 0; i < 64; i++)
        buf[i] = (u8)(0x80 + i * 7);
}

static u64 sum_buf(void)
{
    u64 h = 0;
    for (int i = 0; i < 64; i++)
        h = h * 131 + buf[i];
    return h;
}

int main(void)
{
    fill();
    for (int off = 0; off < 8; off++) {
        u8 *p = OPAQUE(buf + 8 + off);
        puts_("offset ");
        put_dec(off);
        putch('\n');
        show(" u16", ((struct p16 *)p)->v);
        show(" u32", ((struct p32 *)p)->v);
        show(" i32", (u64)(i64)((struct s32 *)p)->v);
        show(" u64", ((struct p64 *)p)->v);
    }
    for (int off = 0; off < 8; off++) {
        fill();
        u8 *p = OPAQUE(buf + 16 + off);
        ((struct p16 *)p)->v = OPAQUE((u16)0xa1b2);
        ((struct p32 *)(p + 8))->v = OPAQUE(0xc3d4e5f6u);
        ((struct p64 *)(p + 20))->v = OPAQUE(0x0123456789abcdefULL);
        puts_("store offset ");
        put_dec(off);
        putch(' ');
        put_hex(sum_buf(), 16);
        putch('\n');
    }
    /* Unaligned copy loop through packed words. */
    fill();
    u64 h = 0;
    for (int off = 1; off < 40; off += 3) {
        struct p64 *q = (struct p64 *)OPAQUE(buf + off);
        q->v = q->v * 3 + off;
        h ^= ((struct p32 *)OPAQUE(buf + off + 1))->v;
    }
    show("mixed", h ^ sum_buf());
    return 0;
}
