/* String and memory routines, byte-wise and word-at-a-time, at every
 * alignment of source and destination. */
#include "rt.h"

static size_t str_len(const char *s)
{
    const char *p = s;
    while ((u64)p & 7) {
        if (!*p)
            return p - s;
        p++;
    }
    const u64 *w = (const u64 *)p;
    for (;;) {
        u64 v = *w;
        if ((v - 0x0101010101010101ULL) & ~v & 0x8080808080808080ULL)
            break;
        w++;
    }
    p = (const char *)w;
    while (*p)
        p++;
    return p - s;
}

static int str_cmp(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return (u8)*a - (u8)*b;
}

static char *str_cpy(char *d, const char *s)
{
    char *r = d;
    while ((*d++ = *s++))
        ;
    return r;
}

static void copy_words(u8 *d, const u8 *s, size_t n)
{
    /* Unaligned source words via packed loads, aligned destination stores. */
    struct __attribute__((packed)) u { u64 v; };
    while (n >= 8 && !((u64)d & 7)) {
        *(u64 *)d = ((const struct u *)s)->v;
        d += 8, s += 8, n -= 8;
    }
    while (n--)
        *d++ = *s++;
}

static u64 hash(const u8 *p, size_t n)
{
    u64 h = 0xcbf29ce484222325ULL;
    while (n--)
        h = (h ^ *p++) * 0x100000001b3ULL;
    return h;
}

static char text[256] __attribute__((aligned(8)));
static u8 a[200] __attribute__((aligned(8))), b[200] __attribute__((aligned(8)));

int main(void)
{
    const char *words[] = {"", "a", "ab", "abcdefg", "abcdefgh", "abcdefghi",
                           "The quick brown fox jumps over the lazy dog",
                           "\x80\xff high bytes \x7f"};
    for (unsigned i = 0; i < sizeof words / sizeof words[0]; i++) {
        for (int off = 0; off < 8; off++) {
            str_cpy(text + off, words[i]);
            put_dec((i64)str_len(text + off));
            putch(off == 7 ? '\n' : ' ');
        }
        for (unsigned j = 0; j < sizeof words / sizeof words[0]; j++) {
            int c = str_cmp(words[i], words[j]);
            putch(c < 0 ? '<' : c > 0 ? '>' : '=');
        }
        putch('\n');
    }
    for (int i = 0; i < 200; i++)
        a[i] = (u8)(i * 37 + 11);
    u64 h = 0;
    for (int so = 0; so < 8; so++) {
        for (int dof = 0; dof < 8; dof++) {
            for (size_t n = 0; n < 40; n += 7) {
                memset(b, 0xee, sizeof b);
                copy_words(b + dof, a + so, n);
                memmove(b + dof + 3, b + dof, n);
                h = h * 3 + hash(b, sizeof b) + (u64)memcmp(a + so, b + dof + 3, n);
            }
        }
    }
    show("copies", h);
    return 0;
}
