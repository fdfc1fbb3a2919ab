/*
 * tpchgen -- deterministic generator of small TPC-H-like tables for the
 * disco "database" workload.  Usage: tpchgen ORDERS OUTDIR
 * Writes OUTDIR/customer.tbl, orders.tbl and lineitem.tbl ('|'-separated,
 * one row per line, ready for sqlite3 .import).  ORDERS/10 customers, 1..7
 * line items per order.  Money is in integer cents and rates in integer
 * percent, so every query result is exact integer arithmetic.  A fixed
 * 64-bit LCG is the only source of variation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>

static uint64_t seed = 0x5deece66dull;
static uint32_t rnd(uint32_t n)            /* uniform-ish in [0, n) */
{
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)((seed >> 32) % n);
}

static const char *segments[] = { "AUTOMOBILE", "BUILDING", "FURNITURE", "HOUSEHOLD", "MACHINERY" };
static const char *priorities[] = { "1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED", "5-LOW" };
static const char *instructs[] = { "DELIVER IN PERSON", "COLLECT COD", "NONE", "TAKE BACK RETURN" };
static const char *modes[] = { "REG AIR", "AIR", "RAIL", "SHIP", "TRUCK", "MAIL", "FOB" };
static const char *words[] = { "furiously", "carefully", "quickly", "blithely", "slyly", "final",
    "regular", "express", "pending", "ironic", "even", "bold", "packages", "deposits",
    "requests", "accounts", "instructions", "theodolites", "pinto", "beans", "foxes", "ideas" };
#define NW (sizeof words / sizeof words[0])

/* days since 1992-01-01 -> "YYYY-MM-DD" */
static void date(int d, char *out)
{
    static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int y = 1992, m = 0;
    for (;;) {
        int yl = (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 366 : 365;
        if (d < yl) break;
        d -= yl; y++;
    }
    for (;;) {
        int ml = mdays[m] + (m == 1 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));
        if (d < ml) break;
        d -= ml; m++;
    }
    sprintf(out, "%04d-%02d-%02d", y, m + 1, d + 1);
}

static void comment(FILE *f, int nwords)
{
    for (int i = 0; i < nwords; i++)
        fprintf(f, "%s%s", i ? " " : "", words[rnd(NW)]);
}

int main(int argc, char **argv)
{
    if (argc != 3) { fprintf(stderr, "usage: tpchgen ORDERS OUTDIR\n"); return 2; }
    long norders = atol(argv[1]), ncust = norders / 10 > 0 ? norders / 10 : 1;
    char path[4096], d1[16], d2[16], d3[16];
    FILE *fc, *fo, *fl;

    snprintf(path, sizeof path, "%s/customer.tbl", argv[2]); fc = fopen(path, "w");
    snprintf(path, sizeof path, "%s/orders.tbl", argv[2]);   fo = fopen(path, "w");
    snprintf(path, sizeof path, "%s/lineitem.tbl", argv[2]); fl = fopen(path, "w");
    if (!fc || !fo || !fl) { perror("open"); return 1; }

    for (long c = 1; c <= ncust; c++) {
        uint32_t nation = rnd(25); long bal = (long)rnd(1100000) - 100000;
        const char *seg = segments[rnd(5)];      /* (argument order is unspecified) */
        fprintf(fc, "%ld|Customer#%09ld|%u|%ld|%s|", c, c, nation, bal, seg);
        comment(fc, 6); fputc('\n', fc);
    }

    const int END = 2405;                       /* 1998-08-02 */
    for (long o = 1; o <= norders; o++) {
        long key = (o / 8) * 32 + (o % 8);      /* sparse keys, as in TPC-H */
        long cust = 1 + rnd((uint32_t)ncust);
        int odate = (int)rnd(END - 151), nl = 1 + (int)rnd(7), nf = 0;
        long total = 0;
        for (int l = 1; l <= nl; l++) {
            uint32_t part = 1 + rnd(200000), qty = 1 + rnd(50);
            long price = (long)qty * (90000 + (part / 10) % 20001 + 100 * (part % 1000));
            uint32_t supp = 1 + rnd(10000), disc = rnd(11), tax = rnd(9);
            int sdate = odate + 1 + (int)rnd(121);
            int cdate = odate + 30 + (int)rnd(61);
            int rdate = sdate + 1 + (int)rnd(30);
            const char *rf = rdate <= 1263 ? (rnd(2) ? "R" : "A") : "N";  /* 1995-06-17 */
            const char *ls = sdate > 1263 ? "O" : "F";
            nf += *ls == 'F';
            total += price * (100 + tax) / 100 * (100 - disc) / 100;
            const char *ins = instructs[rnd(4)], *mode = modes[rnd(7)];
            date(sdate, d1); date(cdate, d2); date(rdate, d3);
            fprintf(fl, "%ld|%d|%u|%u|%u|%ld|%u|%u|%s|%s|%s|%s|%s|%s|%s|",
                    key, l, part, supp, qty, price, disc, tax, rf, ls,
                    d1, d2, d3, ins, mode);
            comment(fl, 2 + (int)rnd(4)); fputc('\n', fl);
        }
        const char *prio = priorities[rnd(5)]; uint32_t clerk = 1 + rnd(1000);
        date(odate, d1);
        fprintf(fo, "%ld|%ld|%s|%ld|%s|%s|Clerk#%09u|0|", key, cust,
                nf == nl ? "F" : nf == 0 ? "O" : "P", total, d1,
                prio, clerk);
        comment(fo, 4); fputc('\n', fo);
    }
    fclose(fc); fclose(fo); fclose(fl);
    return 0;
}
