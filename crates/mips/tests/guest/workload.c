/* A small workload: PRNG, quicksort and heapsort, a hash table, CRC-32 and
 * Adler-32. Exits with a status derived from the results. */
#include "rt.h"

static u64 rng = 0x9e3779b97f4a7c15ULL;
static u64 next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

#define N 2000
static i64 data[N], copy[N];

static void quicksort(i64 *v, long lo, long hi)
{
    while (lo < hi) {
        i64 pivot = v[(lo + hi) / 2];
        long i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                i64 t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++, j--;
            }
        }
        if (j - lo < hi - i) {
            quicksort(v, lo, j);
            lo = i;
        } else {
            quicksort(v, i, hi);
            hi = j;
        }
    }
}

static void sift(u32 *v, long start, long end)
{
    long root = start;
    while (2 * root + 1 <= end) {
        long child = 2 * root + 1;
        if (child + 1 <= end && v[child] < v[child + 1])
            child++;
        if (v[root] >= v[child])
            return;
        u32 t = v[root];
        v[root] = v[child];
        v[child] = t;
        root = child;
    }
}

static void heapsort(u32 *v, long n)
{
    for (long s = (n - 2) / 2; s >= 0; s--)
        sift(v, s, n - 1);
    for (long end = n - 1; end > 0; end--) {
        u32 t = v[0];
        v[0] = v[end];
        v[end] = t;
        sift(v, 0, end - 1);
    }
}

static u32 crc_table[256];
static u32 crc32(const u8 *p, size_t n)
{
    u32 c = 0xffffffff;
    while (n--)
        c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
    return ~c;
}

static u32 adler32(const u8 *p, size_t n)
{
    u32 a = 1, b = 0;
    while (n--) {
        a = (a + *p++) % 65521;
        b = (b + a) % 65521;
    }
    return b << 16 | a;
}

#define HSIZE 1024
static u64 keys[HSIZE];
static u32 counts[HSIZE];

static void count(u64 k)
{
    u64 h = (k * 0x9e3779b97f4a7c15ULL) >> 54;
    while (keys[h] && keys[h] != k)
        h = (h + 1) & (HSIZE - 1);
    keys[h] = k;
    counts[h]++;
}

int main(void)
{
    for (u32 i = 0; i < 256; i++) {
        u32 c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320 ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
    for (int i = 0; i < N; i++)
        data[i] = copy[i] = (i64)next();
    quicksort(data, 0, N - 1);
    int sorted = 1;
    for (int i = 1; i < N; i++)
        sorted &= data[i - 1] <= data[i];
    u32 *w = (u32 *)copy;
    heapsort(w, 2 * N);
    for (int i = 1; i < 2 * N; i++)
        sorted &= w[i - 1] <= w[i];
    for (int i = 0; i < 5000; i++)
        count(next() % 700 + 1);
    u64 hh = 0;
    for (int i = 0; i < HSIZE; i++)
        hh = hh * 131 + keys[i] * counts[i];
    u32 c1 = crc32((const u8 *)data, sizeof data);
    u32 c2 = crc32((const u8 *)copy, sizeof copy);
    u32 ad = adler32((const u8 *)data, sizeof data);
    show("sorted", sorted);
    show("median", (u64)data[N / 2]);
    show("crc data", c1);
    show("crc heap", c2);
    show("adler", ad);
    show("table", hh);
    return (int)((c1 ^ c2 ^ ad) & 0x7f) | 1;
}
