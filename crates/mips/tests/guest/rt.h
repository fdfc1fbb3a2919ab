/* Freestanding runtime for the differential test programs: raw n64 Linux
 * syscalls (write = 5001, exit = 5058), output helpers, and the memory
 * routines GCC may call. Each program defines `int main(void)`; `_start`
 * calls it and exits with its return value. */
#ifndef RT_H
#define RT_H

typedef unsigned long u64;
typedef long i64;
typedef unsigned int u32;
typedef int i32;
typedef unsigned short u16;
typedef short i16;
typedef unsigned char u8;
typedef signed char i8;
typedef unsigned long size_t;

#define SYS_WRITE 5001
#define SYS_EXIT 5058

static inline long sys3(long n, long a, long b, long c)
{
    register long v0 asm("$2") = n;
    register long a0 asm("$4") = a;
    register long a1 asm("$5") = b;
    register long a2 asm("$6") = c;
    register long a3 asm("$7");
    asm volatile("syscall"
                 : "+r"(v0), "=r"(a3)
                 : "r"(a0), "r"(a1), "r"(a2)
                 : "memory", "$1", "$3", "$8", "$9", "$10", "$11", "$12", "$13",
                   "$14", "$15", "$24", "$25", "hi", "lo");
    return a3 ? -v0 : v0;
}

static inline void __attribute__((noreturn)) sys_exit(int code)
{
    sys3(SYS_EXIT, code, 0, 0);
    for (;;)
        ;
}

void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

/* Output is buffered and flushed at exit (and when full). */
static char out_buf[4096];
static size_t out_len;

static inline void flush(void)
{
    if (out_len)
        sys3(SYS_WRITE, 1, (long)out_buf, (long)out_len);
    out_len = 0;
}

static inline void putch(char c)
{
    if (out_len == sizeof out_buf)
        flush();
    out_buf[out_len++] = c;
}

static inline void puts_(const char *s)
{
    while (*s)
        putch(*s++);
}

static inline void put_hex(u64 v, int digits)
{
    for (int i = digits - 1; i >= 0; i--)
        putch("0123456789abcdef"[(v >> (4 * i)) & 15]);
}

static inline void put_dec(i64 v)
{
    char b[24];
    int n = 0;
    u64 u = v < 0 ? -(u64)v : (u64)v;
    do {
        b[n++] = '0' + u % 10;
        u /= 10;
    } while (u);
    if (v < 0)
        putch('-');
    while (n)
        putch(b[--n]);
}

/* "name=0123456789abcdef\n" */
static inline void show(const char *name, u64 v)
{
    puts_(name);
    putch('=');
    put_hex(v, 16);
    putch('\n');
}

/* An opaque copy, so that GCC cannot fold the computations at compile time. */
#define OPAQUE(x) ({ __typeof__((x) + 0) _v = (x); asm volatile("" : "+r"(_v)); _v; })

int main(void);

void _start(void) __attribute__((noreturn, section(".text.start")));
void _start(void)
{
    int r = main();
    flush();
    sys_exit(r);
    __builtin_unreachable();
}

/* The memory routines, out of line so GCC's calls resolve. */
void *memcpy(void *d, const void *s, size_t n)
{
    u8 *dp = d;
    const u8 *sp = s;
    while (n--)
        *dp++ = *sp++;
    return d;
}

void *memmove(void *d, const void *s, size_t n)
{
    u8 *dp = d;
    const u8 *sp = s;
    if (dp < sp) {
        while (n--)
            *dp++ = *sp++;
    } else {
        while (n--)
            dp[n] = sp[n];
    }
    return d;
}

void *memset(void *d, int c, size_t n)
{
    u8 *dp = d;
    while (n--)
        *dp++ = (u8)c;
    return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const u8 *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y)
            return *x - *y;
    return 0;
}

#endif
