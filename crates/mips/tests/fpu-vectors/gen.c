/*
 * Generator of differential test vectors for disco's FPU (crates/mips/src/fpu).
 *
 * Build as a static MIPS64 R2 n64 binary and run it under QEMU user mode with
 * a MIPS64 R2 CPU (legacy NaN encoding); see scripts/gen-fpu-vectors.sh. It
 * executes each COP1/COP1X instruction through a tiny assembly stub over many
 * inputs, FCSR settings (rounding mode, enables, stale flags and cause) and
 * prints the outcome. SIGFPE is caught to record trapping cases.
 *
 * Every stub uses the same registers: inputs in $f2, $f4, $f6 and GPR $13
 * ($t1), destination $f0 (preloaded with SENTINEL), condition codes as encoded
 * in the instruction. Output format, one group per instruction:
 *
 *   @ <mnemonic> <instruction word> <inputs> <output>
 *   <fcsr in> <input>... [<output>] <fcsr out>[!]
 *
 * <inputs> has one letter per input ('-' for none), in the order $f2, $f4, $f6 for 'w'
 * (32-bit, upper half of the register zero) and 'l' (64-bit), and 'g' for the
 * GPR $t1. <output> is 'f' (all 64 bits of $f0), 'g' ($t1) or 'c' (no output
 * besides FCSR); an 'f' output printed with 8 digits means that the upper
 * half of $f0 still holds the sentinel's upper half. All numbers are hexadecimal; a trailing '!' marks a trap
 * (SIGFPE), in which case the output is what the register held afterwards.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SENTINEL 0x5a5a5a5aa5a5a5a5ull

struct io {
    uint64_t a, b, c, f0, gpr; /* 0, 8, 16, 24, 32 */
    uint32_t fcsr_in, fcsr_out; /* 40, 44 */
    uint64_t result, gpr_out;   /* 48, 56 */
};

/* One stub per instruction: loads the inputs and FCSR, executes the
 * instruction, stores FCSR, $f0 and $t1. A copy of the instruction is put
 * in .rodata under <name>_w so that its encoding can be printed. */
#define STUB(fn, insn)                                                       \
    __asm__(".text\n.align 3\n.globl " #fn "\n.type " #fn ",@function\n"    \
            ".set push\n.set noreorder\n.set noat\n" #fn ":\n"               \
            " ld $12, 0($4)\n dmtc1 $12, $f2\n"                              \
            " ld $12, 8($4)\n dmtc1 $12, $f4\n"                              \
            " ld $12, 16($4)\n dmtc1 $12, $f6\n"                             \
            " ld $12, 24($4)\n dmtc1 $12, $f0\n"                             \
            " ld $13, 32($4)\n"                                              \
            " lw $12, 40($4)\n ctc1 $12, $31\n"                              \
            " " insn "\n"                                                    \
            " cfc1 $12, $31\n sw $12, 44($4)\n"                              \
            " dmfc1 $12, $f0\n sd $12, 48($4)\n"                             \
            " sd $13, 56($4)\n"                                              \
            " ctc1 $0, $31\n"                                                \
            " jr $31\n nop\n"                                                \
            ".size " #fn ", .-" #fn "\n"                                     \
            ".pushsection .rodata\n.align 2\n.globl " #fn "_w\n" #fn "_w:\n" \
            " " insn "\n.popsection\n.set pop\n");                           \
    void fn(struct io *);                                                    \
    extern const uint32_t fn##_w[];

/* ---- stubs ---- */
STUB(add_s, "add.s $f0, $f2, $f4")
STUB(add_d, "add.d $f0, $f2, $f4")
STUB(sub_s, "sub.s $f0, $f2, $f4")
STUB(sub_d, "sub.d $f0, $f2, $f4")
STUB(mul_s, "mul.s $f0, $f2, $f4")
STUB(mul_d, "mul.d $f0, $f2, $f4")
STUB(div_s, "div.s $f0, $f2, $f4")
STUB(div_d, "div.d $f0, $f2, $f4")
STUB(sqrt_s, "sqrt.s $f0, $f2")
STUB(sqrt_d, "sqrt.d $f0, $f2")
STUB(abs_s, "abs.s $f0, $f2")
STUB(abs_d, "abs.d $f0, $f2")
STUB(mov_s, "mov.s $f0, $f2")
STUB(mov_d, "mov.d $f0, $f2")
STUB(neg_s, "neg.s $f0, $f2")
STUB(neg_d, "neg.d $f0, $f2")
STUB(recip_s, "recip.s $f0, $f2")
STUB(recip_d, "recip.d $f0, $f2")
STUB(rsqrt_s, "rsqrt.s $f0, $f2")
STUB(rsqrt_d, "rsqrt.d $f0, $f2")
STUB(madd_s, "madd.s $f0, $f6, $f2, $f4")
STUB(madd_d, "madd.d $f0, $f6, $f2, $f4")
STUB(msub_s, "msub.s $f0, $f6, $f2, $f4")
STUB(msub_d, "msub.d $f0, $f6, $f2, $f4")
STUB(nmadd_s, "nmadd.s $f0, $f6, $f2, $f4")
STUB(nmadd_d, "nmadd.d $f0, $f6, $f2, $f4")
STUB(nmsub_s, "nmsub.s $f0, $f6, $f2, $f4")
STUB(nmsub_d, "nmsub.d $f0, $f6, $f2, $f4")
STUB(cvt_s_d, "cvt.s.d $f0, $f2")
STUB(cvt_s_w, "cvt.s.w $f0, $f2")
STUB(cvt_s_l, "cvt.s.l $f0, $f2")
STUB(cvt_d_s, "cvt.d.s $f0, $f2")
STUB(cvt_d_w, "cvt.d.w $f0, $f2")
STUB(cvt_d_l, "cvt.d.l $f0, $f2")
STUB(cvt_w_s, "cvt.w.s $f0, $f2")
STUB(cvt_w_d, "cvt.w.d $f0, $f2")
STUB(cvt_l_s, "cvt.l.s $f0, $f2")
STUB(cvt_l_d, "cvt.l.d $f0, $f2")
STUB(round_w_s, "round.w.s $f0, $f2")
STUB(round_w_d, "round.w.d $f0, $f2")
STUB(round_l_s, "round.l.s $f0, $f2")
STUB(round_l_d, "round.l.d $f0, $f2")
STUB(trunc_w_s, "trunc.w.s $f0, $f2")
STUB(trunc_w_d, "trunc.w.d $f0, $f2")
STUB(trunc_l_s, "trunc.l.s $f0, $f2")
STUB(trunc_l_d, "trunc.l.d $f0, $f2")
STUB(ceil_w_s, "ceil.w.s $f0, $f2")
STUB(ceil_w_d, "ceil.w.d $f0, $f2")
STUB(ceil_l_s, "ceil.l.s $f0, $f2")
STUB(ceil_l_d, "ceil.l.d $f0, $f2")
STUB(floor_w_s, "floor.w.s $f0, $f2")
STUB(floor_w_d, "floor.w.d $f0, $f2")
STUB(floor_l_s, "floor.l.s $f0, $f2")
STUB(floor_l_d, "floor.l.d $f0, $f2")
STUB(movt_s, "movt.s $f0, $f2, $fcc3")
STUB(movf_d, "movf.d $f0, $f2, $fcc0")
STUB(movz_s, "movz.s $f0, $f2, $13")
STUB(movn_d, "movn.d $f0, $f2, $13")
STUB(mfc1, "mfc1 $13, $f2")
STUB(dmfc1, "dmfc1 $13, $f2")
STUB(mfhc1, "mfhc1 $13, $f2")
STUB(mtc1, "mtc1 $13, $f0")
STUB(dmtc1, "dmtc1 $13, $f0")
STUB(mthc1, "mthc1 $13, $f0")
STUB(cfc1_25, "cfc1 $13, $25")
STUB(cfc1_26, "cfc1 $13, $26")
STUB(cfc1_28, "cfc1 $13, $28")
STUB(cfc1_31, "cfc1 $13, $31")
STUB(ctc1_25, "ctc1 $13, $25")
STUB(ctc1_26, "ctc1 $13, $26")
STUB(ctc1_28, "ctc1 $13, $28")
STUB(ctc1_31, "ctc1 $13, $31")

#define CMP_STUBS(c)                                   \
    STUB(c_##c##_s, "c." #c ".s $fcc0, $f2, $f4")      \
    STUB(c_##c##_d, "c." #c ".d $fcc5, $f2, $f4")
CMP_STUBS(f)
CMP_STUBS(un)
CMP_STUBS(eq)
CMP_STUBS(ueq)
CMP_STUBS(olt)
CMP_STUBS(ult)
CMP_STUBS(ole)
CMP_STUBS(ule)
CMP_STUBS(sf)
CMP_STUBS(ngle)
CMP_STUBS(seq)
CMP_STUBS(ngl)
CMP_STUBS(lt)
CMP_STUBS(nge)
CMP_STUBS(le)
CMP_STUBS(ngt)

/* ---- harness ---- */

static struct io io;
static volatile int trapped;
static sigjmp_buf jb;

static void on_fpe(int sig, siginfo_t *si, void *ctx)
{
    uint64_t f0, t1;
    uint32_t fcsr;
    (void)sig;
    (void)si;
    (void)ctx;
    __asm__ volatile("dmfc1 %0, $f0\n\tcfc1 %1, $31\n\tctc1 $0, $31"
                     : "=r"(f0), "=r"(fcsr));
    t1 = io.gpr;
    io.result = f0;
    io.fcsr_out = fcsr;
    io.gpr_out = t1;
    trapped = 1;
    siglongjmp(jb, 1);
}

struct op {
    const char *name;
    void (*fn)(struct io *);
    const uint32_t *word;
    const char *ins; /* 'w', 'l', 'g' */
    char out;        /* 'f', 'g', 'c' */
};

static const struct op *cur_op;
static long nvec;

static void group(const struct op *op)
{
    cur_op = op;
    printf("@ %s %08" PRIx32 " %s %c\n", op->name, op->word[0],
           op->ins[0] ? op->ins : "-", op->out);
}

static void run(uint32_t fcsr, uint64_t a, uint64_t b, uint64_t c, uint64_t g)
{
    const struct op *op = cur_op;
    const char *p;
    uint64_t in[4];
    int nf = 0, i = 0;
    uint64_t vals[3] = {a, b, c};

    /* Inputs are taken in order: FP inputs from (a, b, c), GPR from g. */
    memset(&io, 0, sizeof io);
    io.f0 = SENTINEL;
    io.fcsr_in = fcsr;
    for (p = op->ins; *p; p++) {
        if (*p == 'g') {
            io.gpr = g;
            in[i++] = g;
        } else {
            uint64_t v = vals[nf];
            if (*p == 'w')
                v &= 0xffffffffu;
            if (nf == 0)
                io.a = v;
            else if (nf == 1)
                io.b = v;
            else
                io.c = v;
            nf++;
            in[i++] = v;
        }
    }
    trapped = 0;
    if (sigsetjmp(jb, 1) == 0)
        op->fn(&io);

    printf("%" PRIx32, fcsr);
    for (p = op->ins, i = 0; *p; p++, i++) {
        if (*p == 'w')
            printf(" %08" PRIx64, in[i]);
        else
            printf(" %016" PRIx64, in[i]);
    }
    if (op->out == 'f' && (io.result >> 32) == (SENTINEL >> 32))
        printf(" %08" PRIx64, io.result & 0xffffffffu);
    else if (op->out == 'f')
        printf(" %016" PRIx64, io.result);
    else if (op->out == 'g')
        printf(" %016" PRIx64, io.gpr_out);
    printf(" %" PRIx32 "%s\n", io.fcsr_out, trapped ? "!" : "");
    nvec++;
}

/* ---- deterministic random numbers (xorshift64*) ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static uint64_t rnd_below(uint64_t n) { return rnd() % n; }

/* ---- FCSR decorations ---- */

#define EN_ALL 0xf80u

/* A random FCSR with rounding mode rm (or random if rm < 0): stale flags,
 * stale cause bits (never one that is enabled, or E), random condition codes
 * and, with probability, some enables. */
static uint32_t fcsr_with(int rm, int enables)
{
    uint64_t r = rnd();
    uint32_t f = 0;
    f |= (rm < 0 ? (uint32_t)(r & 3) : (uint32_t)rm);
    if ((r >> 2) & 1)
        f |= (uint32_t)(r >> 8) & 0x7c; /* flags */
    if ((r >> 3) & 1)
        f |= (uint32_t)(r >> 16) & 0x1f000; /* cause without E */
    f |= (uint32_t)(r >> 32) & 0xfe800000u; /* condition codes */
    if (enables < 0) {
        unsigned sel = (unsigned)((r >> 4) & 7);
        if (sel == 0)
            enables = EN_ALL;
        else if (sel == 1)
            enables = (int)((r >> 40) & EN_ALL);
        else
            enables = 0;
    }
    f |= (uint32_t)enables;
    if (((r >> 48) & 15) == 0)
        f |= 1u << 24; /* FS */
    /* A cause bit that is enabled would trap in the stub's own ctc1. */
    f &= ~(((uint32_t)enables) << 5);
    return f;
}

static uint32_t fcsr_rand(void) { return fcsr_with(-1, -1); }

/* ---- interesting values ---- */

static const uint32_t S_SPECIAL[] = {
    0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007fffff, 0x807fffff,
    0x00800000, 0x80800000, 0x00800001, 0x7f7fffff, 0xff7fffff, 0x3f800000,
    0xbf800000, 0x3f000000, 0x3fc00000, 0x40200000, 0xbf000000, 0xbfc00000,
    0x3f800001, 0x3f7fffff, 0x40000000, 0x40400000, 0x7f800000, 0xff800000,
    0x7f800001, 0x7fbfffff, 0xff800001, 0x7fc00000, 0x7fffffff, 0xffc00001,
    0x4f000000, 0x4effffff, 0xcf000000, 0xcf000001, 0x5f000000, 0x5effffff,
    0xdf000000, 0xdf000001, 0x4b000000, 0x4b800000, 0x3eaaaaab, 0x40490fdb,
    0x00400000, 0x7f000000, 0x34000000, 0x4b7fffff,
};
static const uint64_t D_SPECIAL[] = {
    0x0000000000000000, 0x8000000000000000, 0x0000000000000001,
    0x8000000000000001, 0x000fffffffffffff, 0x800fffffffffffff,
    0x0010000000000000, 0x8010000000000000, 0x0010000000000001,
    0x7fefffffffffffff, 0xffefffffffffffff, 0x3ff0000000000000,
    0xbff0000000000000, 0x3fe0000000000000, 0x3ff8000000000000,
    0x4004000000000000, 0xbfe0000000000000, 0xbff8000000000000,
    0x3ff0000000000001, 0x3fefffffffffffff, 0x4000000000000000,
    0x4008000000000000, 0x7ff0000000000000, 0xfff0000000000000,
    0x7ff0000000000001, 0x7ff7ffffffffffff, 0xfff4000000000000,
    0x7ff8000000000000, 0x7fffffffffffffff, 0xfff8000000000001,
    0x41dfffffffc00000, 0x41e0000000000000, 0xc1e0000000000000,
    0xc1e0000000200000, 0x41dfffffffe00000, 0xc1e00000001fffff,
    0x43e0000000000000, 0xc3e0000000000000, 0x43dfffffffffffff,
    0xc3e0000000000001, 0x4330000000000000, 0x4340000000000000,
    0x3fd5555555555555, 0x400921fb54442d18, 0x0008000000000000,
    0x7fe0000000000000, 0x3ca0000000000000, 0x36a0000000000000,
    0x47efffffe0000000, 0x47efffffefffffff, 0x47effffff0000000,
    0x3810000000000000, 0x380fffffffffffff, 0x369fffffffffffff,
};
#define NS (sizeof S_SPECIAL / sizeof S_SPECIAL[0])
#define ND (sizeof D_SPECIAL / sizeof D_SPECIAL[0])

/* The core values used for exhaustive pairs. */
static const uint32_t S_CORE[] = {
    0x00000000, 0x80000000, 0x00000001, 0x807fffff, 0x00800000, 0x80800000,
    0x7f7fffff, 0xff7fffff, 0x3f800000, 0xbf800000, 0x3fc00000, 0x3f7fffff,
    0x7f800000, 0xff800000, 0x7fbfffff, 0xff800001, 0x7fc00000, 0x40490fdb,
};
static const uint64_t D_CORE[] = {
    0x0000000000000000, 0x8000000000000000, 0x0000000000000001,
    0x800fffffffffffff, 0x0010000000000000, 0x8010000000000000,
    0x7fefffffffffffff, 0xffefffffffffffff, 0x3ff0000000000000,
    0xbff0000000000000, 0x3ff8000000000000, 0x3fefffffffffffff,
    0x7ff0000000000000, 0xfff0000000000000, 0x7ff7ffffffffffff,
    0xfff0000000000001, 0x7ff8000000000000, 0x400921fb54442d18,
};
#define NSC (sizeof S_CORE / sizeof S_CORE[0])
#define NDC (sizeof D_CORE / sizeof D_CORE[0])

/* Random float with sign s (random if < 0), biased exponent in [elo, ehi],
 * mantissa random (or with only a few top bits if 'few'). */
static uint64_t mk(int dbl, int s, int elo, int ehi, int few)
{
    int mbits = dbl ? 52 : 23;
    uint64_t m = rnd() & ((1ull << mbits) - 1);
    uint64_t e = (uint64_t)(elo + (int)rnd_below((uint64_t)(ehi - elo + 1)));
    uint64_t sign = s < 0 ? rnd() & 1 : (uint64_t)s;
    if (few)
        m &= ~((1ull << (mbits - 3)) - 1);
    return (sign << (dbl ? 63 : 31)) | (e << mbits) | m;
}

/* A random operand of assorted kinds. */
static uint64_t any(int dbl)
{
    int bias = dbl ? 1023 : 127, emax = dbl ? 2046 : 254;
    switch (rnd_below(10)) {
    case 0:
        return dbl ? D_SPECIAL[rnd_below(ND)] : S_SPECIAL[rnd_below(NS)];
    case 1:
        return dbl ? rnd() : rnd() & 0xffffffffu;
    case 2:
        return mk(dbl, -1, 0, 3, 0); /* denormal or tiny */
    case 3:
        return mk(dbl, -1, emax - 3, emax, 0); /* huge */
    case 4:
        return mk(dbl, -1, bias - 4, bias + 4, 1); /* short mantissa */
    case 5:
        return mk(dbl, -1, 1, emax, 0);
    default:
        return mk(dbl, -1, bias - 12, bias + 12, 0);
    }
}

/* ---- host float helpers (QEMU runs these in round-to-nearest) ---- */

static double d_of(uint64_t u) { double d; memcpy(&d, &u, 8); return d; }
static uint64_t u_of_d(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }
static float f_of(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t u_of_f(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/* ---- op tables ---- */

#define OP(n, in, out) {#n, n, n##_w, in, out}

static void fix_name(char *s)
{
    /* c_ult_d -> c.ult.d, add_s -> add.s, cfc1_25 -> cfc1 25 */
    for (; *s; s++)
        if (*s == '_')
            *s = '.';
}

static void group_named(struct op op)
{
    static char buf[64];
    strncpy(buf, op.name, sizeof buf - 1);
    fix_name(buf);
    op.name = buf;
    static struct op keep;
    keep = op;
    group(&keep);
}

/* Runs x under all four rounding modes, plus once with all enables. */
static void all_rm(uint64_t a, uint64_t b, uint64_t c, uint64_t g)
{
    for (int rm = 0; rm < 4; rm++)
        run(fcsr_with(rm, 0), a, b, c, g);
    run(fcsr_with((int)rnd_below(4), EN_ALL), a, b, c, g);
}

/* Operand pairs whose exact result lies near the bottom of the normal range
 * or near the overflow threshold, for binary op 'k' (0 add, 1 sub, 2 mul,
 * 3 div). */
static void boundary_pair(int dbl, int k, int high, uint64_t *pa, uint64_t *pb)
{
    long delta = (long)rnd_below(7) - 3;
    if (dbl) {
        double t = high ? d_of(0x7fefffffffffffffull) : d_of(0x0010000000000000ull);
        if (!high && rnd_below(2))
            t = d_of(0x000fffffffffffffull) * (double)(1 + rnd_below(4));
        double x = d_of(mk(1, 0, 1023, 1023, 0));
        double y;
        if (k == 2) {
            y = t / x;
        } else if (k == 3) {
            y = x;
            x = t * y;
            if (high && x > t) x = t;
        } else {
            /* add/sub: x = t + small, y = -small or so */
            x = t;
            y = high ? d_of(mk(1, 0, 2046 - 53, 2046 - 52, 0))
                     : d_of(mk(1, 0, 0, 2, 0));
            if (!high) y = -y;
            if (k == 1) y = -y;
        }
        uint64_t ux = u_of_d(x), uy = u_of_d(y);
        uy = (uint64_t)((int64_t)uy + delta);
        if (rnd_below(2)) { ux ^= 1ull << 63; if (k < 2) uy ^= 1ull << 63; else uy ^= (rnd() & 1) << 63; }
        *pa = ux;
        *pb = uy;
    } else {
        float t = high ? f_of(0x7f7fffffu) : f_of(0x00800000u);
        if (!high && rnd_below(2))
            t = f_of(0x007fffffu) * (float)(1 + rnd_below(4));
        float x = f_of((uint32_t)mk(0, 0, 127, 127, 0));
        float y;
        if (k == 2) {
            y = t / x;
        } else if (k == 3) {
            y = x;
            x = t * y;
            if (high && x > t) x = t;
        } else {
            x = t;
            y = high ? f_of((uint32_t)mk(0, 0, 254 - 24, 254 - 23, 0))
                     : f_of((uint32_t)mk(0, 0, 0, 2, 0));
            if (!high) y = -y;
            if (k == 1) y = -y;
        }
        uint32_t ux = u_of_f(x), uy = u_of_f(y);
        uy = (uint32_t)((int32_t)uy + (int32_t)delta);
        if (rnd_below(2)) { ux ^= 1u << 31; if (k < 2) uy ^= 1u << 31; else uy ^= (uint32_t)(rnd() & 1) << 31; }
        *pa = ux;
        *pb = uy;
    }
}

static void gen_binary(void)
{
    static const struct op ops[] = {
        OP(add_s, "ww", 'f'), OP(add_d, "ll", 'f'), OP(sub_s, "ww", 'f'),
        OP(sub_d, "ll", 'f'), OP(mul_s, "ww", 'f'), OP(mul_d, "ll", 'f'),
        OP(div_s, "ww", 'f'), OP(div_d, "ll", 'f'),
    };
    for (unsigned o = 0; o < sizeof ops / sizeof ops[0]; o++) {
        int dbl = (int)(o & 1), k = (int)(o / 2);
        unsigned n = dbl ? NDC : NSC;
        group_named(ops[o]);
        for (unsigned i = 0; i < n; i++)
            for (unsigned j = 0; j < n; j++) {
                uint64_t a = dbl ? D_CORE[i] : S_CORE[i];
                uint64_t b = dbl ? D_CORE[j] : S_CORE[j];
                run(fcsr_rand(), a, b, 0, 0);
            }
        for (int i = 0; i < 160; i++)
            run(fcsr_rand(), any(dbl), any(dbl), 0, 0);
        /* Near-cancellation for add/sub; exact cases for all. */
        for (int i = 0; i < 40; i++) {
            uint64_t a = mk(dbl, -1, dbl ? 1000 : 120, dbl ? 1040 : 134, 0);
            uint64_t b = a ^ (rnd() & 0xff);
            if (k == 0)
                b ^= 1ull << (dbl ? 63 : 31);
            run(fcsr_with(-1, 0), a, b, 0, 0);
        }
        for (int i = 0; i < 32; i++) {
            uint64_t a, b;
            boundary_pair(dbl, k, i & 1, &a, &b);
            all_rm(a, b, 0, 0);
        }
        /* Exact result just below the smallest normal that rounds up to it:
         * tiny before rounding but (to nearest) not after. */
        if (k == 2) {
            uint64_t a = dbl ? 0x3ff0000000000001ull : 0x3f800001u;
            uint64_t b = dbl ? 0x000fffffffffffffull : 0x007fffffu;
            uint64_t sign = 1ull << (dbl ? 63 : 31);
            all_rm(a, b, 0, 0);
            all_rm(a ^ sign, b, 0, 0);
        }
    }
}

static void gen_madd(void)
{
    static const struct op ops[] = {
        OP(madd_s, "www", 'f'), OP(madd_d, "lll", 'f'),
        OP(msub_s, "www", 'f'), OP(msub_d, "lll", 'f'),
        OP(nmadd_s, "www", 'f'), OP(nmadd_d, "lll", 'f'),
        OP(nmsub_s, "www", 'f'), OP(nmsub_d, "lll", 'f'),
    };
    for (unsigned o = 0; o < sizeof ops / sizeof ops[0]; o++) {
        int dbl = (int)(o & 1);
        group_named(ops[o]);
        for (int i = 0; i < 160; i++)
            run(fcsr_rand(), any(dbl), any(dbl), any(dbl), 0);
        /* fs*ft close to -fr (or fr): cancellation, exposing the product
         * rounding of the unfused R2 semantics. */
        for (int i = 0; i < 40; i++) {
            uint64_t a = mk(dbl, -1, dbl ? 1013 : 117, dbl ? 1033 : 137, 0);
            uint64_t b = mk(dbl, -1, dbl ? 1013 : 117, dbl ? 1033 : 137, 0);
            uint64_t c;
            if (dbl)
                c = u_of_d(-(d_of(a) * d_of(b))) ^ (rnd() & 3);
            else
                c = u_of_f(-(f_of((uint32_t)a) * f_of((uint32_t)b))) ^ (rnd() & 3);
            if ((o / 2) % 2 == 1)
                c ^= 1ull << (dbl ? 63 : 31);
            run(fcsr_with(-1, 0), a, b, c, 0);
        }
        /* Specials in each position. */
        for (int i = 0; i < 40; i++) {
            uint64_t v[3] = {any(dbl), any(dbl), any(dbl)};
            v[rnd_below(3)] = dbl ? D_CORE[rnd_below(NDC)] : S_CORE[rnd_below(NSC)];
            run(fcsr_rand(), v[0], v[1], v[2], 0);
        }
    }
}

static void gen_unary(void)
{
    static const struct op ops[] = {
        OP(sqrt_s, "w", 'f'), OP(sqrt_d, "l", 'f'), OP(recip_s, "w", 'f'),
        OP(recip_d, "l", 'f'), OP(rsqrt_s, "w", 'f'), OP(rsqrt_d, "l", 'f'),
        OP(abs_s, "w", 'f'), OP(abs_d, "l", 'f'), OP(neg_s, "w", 'f'),
        OP(neg_d, "l", 'f'), OP(mov_s, "w", 'f'), OP(mov_d, "l", 'f'),
    };
    for (unsigned o = 0; o < sizeof ops / sizeof ops[0]; o++) {
        int dbl = (int)(o & 1);
        int arith = o < 6;
        group_named(ops[o]);
        unsigned n = dbl ? ND : NS;
        for (unsigned i = 0; i < n; i++)
            run(fcsr_rand(), dbl ? D_SPECIAL[i] : S_SPECIAL[i], 0, 0, 0);
        if (!arith)
            continue;
        for (int i = 0; i < 60; i++)
            run(fcsr_rand(), any(dbl), 0, 0, 0);
        /* Squares (exact square roots) and powers of two. */
        for (int i = 0; i < 8; i++) {
            uint64_t a = mk(dbl, 0, dbl ? 1000 : 110, dbl ? 1040 : 140, 1);
            uint64_t sq = dbl ? u_of_d(d_of(a) * d_of(a))
                              : u_of_f(f_of((uint32_t)a) * f_of((uint32_t)a));
            run(fcsr_rand(), sq, 0, 0, 0);
        }
        for (int i = 0; i < 6; i++)
            all_rm(any(dbl), 0, 0, 0);
    }
}

static uint64_t near_int(int dbl, int big)
{
    /* Integers and half-integers around interesting magnitudes. */
    static const double base[] = {0, 1, 2, 3, 1e3, 8388608.0, 16777216.0,
                                  2147483647.0, 2147483648.0, 4294967296.0,
                                  4503599627370496.0, 9007199254740992.0,
                                  9223372036854775807.0, 18446744073709551616.0};
    double b = base[rnd_below(big ? 14 : 10)];
    double frac[] = {0, 0.5, -0.5, 0.25, -0.75, 1, -1, 0.5000001, -2, 0.9999999, 1.5};
    double v = b + frac[rnd_below(11)];
    if (rnd_below(2))
        v = -v;
    if (dbl) {
        uint64_t u = u_of_d(v);
        if (rnd_below(4) == 0)
            u = (uint64_t)((int64_t)u + (long)rnd_below(5) - 2);
        return u;
    } else {
        uint32_t u = u_of_f((float)v);
        if (rnd_below(4) == 0)
            u = (uint32_t)((int32_t)u + (int32_t)rnd_below(5) - 2);
        return u;
    }
}

static void gen_toint(void)
{
    static const struct op ops[] = {
        OP(cvt_w_s, "w", 'f'),   OP(cvt_w_d, "l", 'f'),
        OP(cvt_l_s, "w", 'f'),   OP(cvt_l_d, "l", 'f'),
        OP(round_w_s, "w", 'f'), OP(round_w_d, "l", 'f'),
        OP(round_l_s, "w", 'f'), OP(round_l_d, "l", 'f'),
        OP(trunc_w_s, "w", 'f'), OP(trunc_w_d, "l", 'f'),
        OP(trunc_l_s, "w", 'f'), OP(trunc_l_d, "l", 'f'),
        OP(ceil_w_s, "w", 'f'),  OP(ceil_w_d, "l", 'f'),
        OP(ceil_l_s, "w", 'f'),  OP(ceil_l_d, "l", 'f'),
        OP(floor_w_s, "w", 'f'), OP(floor_w_d, "l", 'f'),
        OP(floor_l_s, "w", 'f'), OP(floor_l_d, "l", 'f'),
    };
    for (unsigned o = 0; o < sizeof ops / sizeof ops[0]; o++) {
        int dbl = (int)(o & 1);
        int to_l = (int)((o / 2) & 1);
        group_named(ops[o]);
        unsigned n = dbl ? ND : NS;
        for (unsigned i = 0; i < n; i++)
            run(fcsr_rand(), dbl ? D_SPECIAL[i] : S_SPECIAL[i], 0, 0, 0);
        for (int i = 0; i < 50; i++)
            run(fcsr_rand(), near_int(dbl, to_l), 0, 0, 0);
        for (int i = 0; i < 15; i++)
            run(fcsr_rand(), any(dbl), 0, 0, 0);
        if (o < 4)
            for (int i = 0; i < 6; i++)
                all_rm(near_int(dbl, to_l), 0, 0, 0);
    }
}

static void gen_cvt(void)
{
    static const struct op ops[] = {
        OP(cvt_s_d, "l", 'f'), OP(cvt_d_s, "w", 'f'), OP(cvt_s_w, "w", 'f'),
        OP(cvt_d_w, "w", 'f'), OP(cvt_s_l, "l", 'f'), OP(cvt_d_l, "l", 'f'),
    };
    static const uint64_t ints[] = {
        0, 1, 0xffffffffffffffffull, 0x7fffffff, 0x80000000, 0xffffffff80000000ull,
        0x01000001, 0x01000003, 0x00ffffff, 0xfefffffd, 0x7fffffffffffffffull,
        0x8000000000000000ull, 0x0020000000000001ull, 0x0020000000000003ull,
        0x001fffffffffffffull, 0xffdffffffffffffdull, 0x7fffffbfffffffffull,
        0x7fffff8000000000ull, 0x4000004000000000ull, 0x4000004000000001ull,
    };
    for (unsigned o = 0; o < 6; o++) {
        group_named(ops[o]);
        if (o == 0) {
            for (unsigned i = 0; i < ND; i++)
                run(fcsr_rand(), D_SPECIAL[i], 0, 0, 0);
            for (int i = 0; i < 80; i++) {
                uint64_t v;
                switch (rnd_below(4)) {
                case 0: v = mk(1, -1, 1023 - 160, 1023 - 120, 0); break; /* single denormal range */
                case 1: v = mk(1, -1, 1023 + 120, 1023 + 130, 0); break; /* near single overflow */
                case 2: v = u_of_d((double)f_of((uint32_t)rnd())) + (rnd() & 0x1fffffff) * (rnd() & 1); break;
                default: v = any(1); break;
                }
                run(fcsr_rand(), v, 0, 0, 0);
            }
            for (int i = 0; i < 12; i++) {
                uint64_t v = (i & 1) ? mk(1, -1, 1023 - 152, 1023 - 125, 0)
                                     : mk(1, -1, 1023 + 126, 1023 + 128, 0);
                all_rm(v, 0, 0, 0);
            }
            /* Just below the smallest normal single. */
            all_rm(0x380fffffffffffffull, 0, 0, 0);
            all_rm(0xb80ffffff0000000ull, 0, 0, 0);
            all_rm(0x380fffffe0000001ull, 0, 0, 0);
            /* Halfway cases: 29 dropped bits equal to 1000...0 */
            for (int i = 0; i < 6; i++) {
                uint64_t v = (mk(1, -1, 1000, 1040, 0) & ~0x1fffffffull) | 0x10000000ull;
                all_rm(v, 0, 0, 0);
            }
        } else if (o == 1) {
            for (unsigned i = 0; i < NS; i++)
                run(fcsr_rand(), S_SPECIAL[i], 0, 0, 0);
            for (int i = 0; i < 20; i++)
                run(fcsr_rand(), any(0), 0, 0, 0);
        } else {
            int is_w = (o == 2 || o == 3);
            for (unsigned i = 0; i < sizeof ints / sizeof ints[0]; i++)
                run(fcsr_rand(), is_w ? (uint64_t)(uint32_t)ints[i] : ints[i], 0, 0, 0);
            for (int i = 0; i < 30; i++) {
                uint64_t v = rnd() >> rnd_below(64);
                if (rnd_below(2))
                    v = -v;
                run(fcsr_rand(), v, 0, 0, 0);
            }
            if (o != 3)
                for (int i = 0; i < 6; i++)
                    all_rm((rnd() | 1) >> (is_w ? 32 : rnd_below(8)), 0, 0, 0);
        }
    }
}

static void gen_cmp(void)
{
    static const struct op ops[] = {
        OP(c_f_s, "ww", 'c'),    OP(c_f_d, "ll", 'c'),
        OP(c_un_s, "ww", 'c'),   OP(c_un_d, "ll", 'c'),
        OP(c_eq_s, "ww", 'c'),   OP(c_eq_d, "ll", 'c'),
        OP(c_ueq_s, "ww", 'c'),  OP(c_ueq_d, "ll", 'c'),
        OP(c_olt_s, "ww", 'c'),  OP(c_olt_d, "ll", 'c'),
        OP(c_ult_s, "ww", 'c'),  OP(c_ult_d, "ll", 'c'),
        OP(c_ole_s, "ww", 'c'),  OP(c_ole_d, "ll", 'c'),
        OP(c_ule_s, "ww", 'c'),  OP(c_ule_d, "ll", 'c'),
        OP(c_sf_s, "ww", 'c'),   OP(c_sf_d, "ll", 'c'),
        OP(c_ngle_s, "ww", 'c'), OP(c_ngle_d, "ll", 'c'),
        OP(c_seq_s, "ww", 'c'),  OP(c_seq_d, "ll", 'c'),
        OP(c_ngl_s, "ww", 'c'),  OP(c_ngl_d, "ll", 'c'),
        OP(c_lt_s, "ww", 'c'),   OP(c_lt_d, "ll", 'c'),
        OP(c_nge_s, "ww", 'c'),  OP(c_nge_d, "ll", 'c'),
        OP(c_le_s, "ww", 'c'),   OP(c_le_d, "ll", 'c'),
        OP(c_ngt_s, "ww", 'c'),  OP(c_ngt_d, "ll", 'c'),
    };
    static const uint32_t sv[] = {0xff800000, 0xbf800000, 0x80000001, 0x80000000,
                                  0x00000000, 0x3f800000, 0x3f800001, 0x7fbfffff,
                                  0x7fc00000};
    static const uint64_t dv[] = {0xfff0000000000000, 0xbff0000000000000,
                                  0x8000000000000001, 0x8000000000000000,
                                  0x0000000000000000, 0x3ff0000000000000,
                                  0x3ff0000000000001, 0xfff7ffffffffffff,
                                  0x7ff8000000000000};
    for (unsigned o = 0; o < sizeof ops / sizeof ops[0]; o++) {
        int dbl = (int)(o & 1);
        group_named(ops[o]);
        for (unsigned i = 0; i < 9; i++)
            for (unsigned j = 0; j < 9; j++)
                run(fcsr_rand(), dbl ? dv[i] : sv[i], dbl ? dv[j] : sv[j], 0, 0);
        for (int i = 0; i < 6; i++)
            run(fcsr_rand(), any(dbl), any(dbl), 0, 0);
    }
}

static void gen_moves(void)
{
    static const struct op fops[] = {
        OP(movt_s, "wg", 'f'), OP(movf_d, "lg", 'f'),
        OP(movz_s, "wg", 'f'), OP(movn_d, "lg", 'f'),
    };
    for (unsigned o = 0; o < 4; o++) {
        group_named(fops[o]);
        for (int i = 0; i < 12; i++) {
            uint64_t g = (i & 1) ? 0 : rnd() >> rnd_below(64);
            run(fcsr_rand(), rnd(), 0, 0, g);
        }
    }
    static const struct op gops[] = {
        OP(mfc1, "l", 'g'), OP(dmfc1, "l", 'g'), OP(mfhc1, "l", 'g'),
        OP(mtc1, "g", 'f'), OP(dmtc1, "g", 'f'), OP(mthc1, "g", 'f'),
    };
    for (unsigned o = 0; o < 6; o++) {
        group_named(gops[o]);
        for (int i = 0; i < 6; i++) {
            uint64_t v = rnd();
            if (i & 1)
                v ^= 0x80000000ull;
            run(fcsr_rand(), v, 0, 0, v);
        }
    }
    static const struct op cops[] = {
        OP(cfc1_25, "", 'g'), OP(cfc1_26, "", 'g'), OP(cfc1_28, "", 'g'),
        OP(cfc1_31, "", 'g'),
    };
    for (unsigned o = 0; o < 4; o++) {
        group_named(cops[o]);
        for (int i = 0; i < 8; i++)
            run(fcsr_rand() | ((uint32_t)rnd() & 0x01000000u), 0, 0, 0, 0);
    }
    static const struct op tops[] = {
        OP(ctc1_25, "g", 'c'), OP(ctc1_26, "g", 'c'), OP(ctc1_28, "g", 'c'),
        OP(ctc1_31, "g", 'c'),
    };
    for (unsigned o = 0; o < 4; o++) {
        group_named(tops[o]);
        for (int i = 0; i < 40; i++) {
            uint64_t g = rnd();
            switch (i % 5) {
            case 0: g &= 0xff; break;
            case 1: g &= 0x3f07c; break;
            case 2: g &= 0xf87; break;
            case 3: g &= 0xffffffffu; break;
            default: break;
            }
            if (i % 7 == 0)
                g &= ~0x3f000ull; /* no cause: must not trap */
            run(fcsr_rand(), 0, 0, 0, g);
        }
    }
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fpe;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGFPE, &sa, NULL);

    printf("# disco FPU test vectors, generated by crates/mips/tests/fpu-vectors/gen.c\n");
    printf("# under QEMU user mode (see scripts/gen-fpu-vectors.sh); FR=1, legacy NaNs.\n");
    printf("# sentinel %016llx\n", (unsigned long long)SENTINEL);
    gen_binary();
    gen_madd();
    gen_unary();
    gen_toint();
    gen_cvt();
    gen_cmp();
    gen_moves();
    printf("# end %ld vectors\n", nvec);
    fflush(stdout);
    return 0;
}
