/*
 * imgsum -- architecture-robust image summary for the disco raytrace check.
 *
 *   imgsum sum IMAGE.ppm B      print a summary: header "imgsum W H B", then
 *                               one line per row of BxB blocks, each block as
 *                               6 hex digits (rounded mean R, G, B, 8-bit)
 *   imgsum cmp REF.txt CUR.txt  compare two summaries tolerantly; prints
 *                               "ok ..." / "FAILED ..." and exits 0 / 1
 *
 * Block means absorb the +-1 level pixel differences that libm differences
 * between architectures can cause; the comparison still requires exact
 * dimensions and near-identical block colours everywhere.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DIFF        24   /* no block channel may differ more than this */
#define BIG_DIFF         4   /* blocks with a channel differing more ... */
#define BIG_PER_MILLE   10   /* ... may be at most 1% of all blocks */
#define MEAN_X100      100   /* mean abs difference at most 1 level */

static int ppm_token(FILE *f)          /* next ASCII integer, skipping comments */
{
    int c, v = 0;
    while ((c = getc(f)) != EOF) {
        if (c == '#') { while ((c = getc(f)) != EOF && c != '\n') ; continue; }
        if (c >= '0' && c <= '9') break;
    }
    if (c == EOF) return -1;
    do v = v * 10 + (c - '0'); while ((c = getc(f)) >= '0' && c <= '9');
    return v;                           /* the single whitespace after is eaten */
}

static int summarise(const char *path, int b)
{
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); return 1; }
    if (getc(f) != 'P' || getc(f) != '6') { fprintf(stderr, "%s: not P6\n", path); return 1; }
    int w = ppm_token(f), h = ppm_token(f), maxv = ppm_token(f);
    if (w <= 0 || h <= 0 || maxv <= 0 || maxv > 65535 || b <= 0) { fprintf(stderr, "bad header\n"); return 1; }
    int bpc = maxv > 255 ? 2 : 1, bw = (w + b - 1) / b, bh = (h + b - 1) / b;
    unsigned long *acc = calloc((size_t)bw * 3, sizeof *acc);
    unsigned long *cnt = calloc((size_t)bw, sizeof *cnt);
    printf("imgsum %d %d %d\n", w, h, b);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            for (int c = 0; c < 3; c++) {
                int v = getc(f);
                if (bpc == 2) v = (v << 8) | getc(f);
                if (v < 0) { fprintf(stderr, "%s: short file\n", path); return 1; }
                acc[(x / b) * 3 + c] += (unsigned long)v * 255 ;
            }
            cnt[x / b] += (unsigned long)maxv;
        }
        if (y % b == b - 1 || y == h - 1) {
            for (int i = 0; i < bw; i++) {
                for (int c = 0; c < 3; c++)
                    printf("%02x", (unsigned)((acc[i * 3 + c] + cnt[i] / 2) / cnt[i]));
                acc[i * 3] = acc[i * 3 + 1] = acc[i * 3 + 2] = 0; cnt[i] = 0;
            }
            putchar('\n');
        }
    }
    (void)bh;
    fclose(f);
    return 0;
}

static int load(const char *path, int *hdr, unsigned char **px, long *n)
{
    FILE *f = fopen(path, "r");
    if (!f) { printf("FAILED cannot open %s\n", path); return -1; }
    if (fscanf(f, "imgsum %d %d %d", &hdr[0], &hdr[1], &hdr[2]) != 3 || hdr[2] <= 0) {
        printf("FAILED bad summary %s\n", path); return -1;
    }
    long bw = (hdr[0] + hdr[2] - 1) / hdr[2], bh = (hdr[1] + hdr[2] - 1) / hdr[2];
    *n = bw * bh * 3;
    *px = malloc((size_t)*n);
    for (long i = 0; i < *n; i++) {
        unsigned v;
        if (fscanf(f, " %2x", &v) != 1) { printf("FAILED truncated summary %s\n", path); return -1; }
        (*px)[i] = (unsigned char)v;
    }
    fclose(f);
    return 0;
}

static int compare(const char *ref, const char *cur)
{
    int hr[3], hc[3];
    unsigned char *pr, *pc;
    long nr, nc, sum = 0, big = 0, worst = 0;
    if (load(ref, hr, &pr, &nr) || load(cur, hc, &pc, &nc)) return 1;
    if (memcmp(hr, hc, sizeof hr)) {
        printf("FAILED image geometry %dx%d/%d, expected %dx%d/%d\n",
               hc[0], hc[1], hc[2], hr[0], hr[1], hr[2]);
        return 1;
    }
    for (long i = 0; i < nr; i += 3) {
        int blockbig = 0;
        for (int c = 0; c < 3; c++) {
            long d = labs((long)pr[i + c] - (long)pc[i + c]);
            sum += d;
            if (d > worst) worst = d;
            if (d > BIG_DIFF) blockbig = 1;
        }
        big += blockbig;
    }
    long blocks = nr / 3, mean100 = sum * 100 / nr;
    if (worst > MAX_DIFF || big * 1000 > blocks * BIG_PER_MILLE || mean100 > MEAN_X100) {
        printf("FAILED image differs: worst %ld, %ld/%ld blocks off by >%d, mean*100 %ld\n",
               worst, big, blocks, BIG_DIFF, mean100);
        return 1;
    }
    printf("ok %dx%d image matches reference (%ld blocks of %dx%d, worst diff %ld, %ld blocks >%d, mean*100 %ld)\n",
           hr[0], hr[1], blocks, hr[2], hr[2], worst, big, BIG_DIFF, mean100);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "sum")) return summarise(argv[2], atoi(argv[3]));
    if (argc == 4 && !strcmp(argv[1], "cmp")) return compare(argv[2], argv[3]);
    fprintf(stderr, "usage: imgsum sum IMAGE.ppm B | imgsum cmp REF CUR\n");
    return 2;
}
