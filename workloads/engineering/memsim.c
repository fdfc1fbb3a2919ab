/*
 * memsim -- a small "Flashlite"-style memory-system simulator for the disco
 * engineering workload.
 *
 * Models NODES ccNUMA nodes, each with a set-associative write-back cache,
 * and a full-map directory (one entry per memory line, distributed across
 * the nodes' memories by line address).  A deterministic synthetic reference
 * stream (per-node private data, read-mostly shared data, migratory data and
 * a producer/consumer region) drives a three-state (I/S/M) invalidation
 * protocol.  Latencies follow the paper's setup: 300 ns local miss, 900 ns
 * remote miss, plus a per-hop penalty for 3-hop (dirty-remote) misses.
 *
 * Integer arithmetic only, so the printed statistics are bit-identical on
 * every architecture.  Usage: memsim REFS [SEED]
 */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#define NODES      16
#define LINE_SHIFT 7                     /* 128-byte lines */
#define MEM_LINES  (1u << 19)            /* 64 MiB of simulated memory */
#define SETS       2048                  /* per-node cache: 2048 sets ... */
#define WAYS       4                     /* ... x 4 ways x 128 B = 1 MiB */

#define LAT_HIT     10
#define LAT_LOCAL   300
#define LAT_REMOTE  900
#define LAT_3HOP    1200
#define LAT_INVAL   150

enum { ST_I = 0, ST_S = 1, ST_M = 2 };

struct dirent { uint16_t sharers; uint8_t state; uint8_t owner; };
struct way    { uint32_t tag; uint8_t state; uint8_t pad[3]; uint32_t lru; };

static struct dirent *dir;                     /* MEM_LINES entries, 4 MiB */
static struct way     cache[NODES][SETS][WAYS]; /* 16 x 1 MiB of tags, 1.5 MiB */
static uint32_t      *memword;                 /* one data word per line, 2 MiB */

static uint64_t st_refs, st_reads, st_writes, st_hits, st_upgrades;
static uint64_t st_local, st_remote, st_3hop, st_invals, st_wbacks, st_evict;
static uint64_t st_latency;
static uint32_t lru_clock;

static uint64_t rng_state;
static uint32_t rng(void)          /* 64-bit LCG (Knuth MMIX), top bits */
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}

static unsigned home_of(uint32_t line) { return (line >> 4) % NODES; }

/* Remove a line from node n's cache (called on invalidation / recall). */
static void cache_drop(unsigned n, uint32_t line, int keep_shared)
{
    struct way *set = cache[n][line % SETS];
    for (int w = 0; w < WAYS; w++)
        if (set[w].state != ST_I && set[w].tag == line) {
            if (set[w].state == ST_M) st_wbacks++;
            set[w].state = keep_shared ? ST_S : ST_I;
            return;
        }
}

/* Evict the victim way; keep the directory exact. */
static void evict(unsigned n, struct way *v)
{
    if (v->state == ST_I) return;
    struct dirent *d = &dir[v->tag];
    st_evict++;
    if (v->state == ST_M) {
        st_wbacks++;
        d->state = ST_I; d->sharers = 0;
    } else {
        d->sharers &= (uint16_t)~(1u << n);
        if (!d->sharers) d->state = ST_I;
    }
    v->state = ST_I;
}

static void access_line(unsigned n, uint32_t line, int write)
{
    struct way *set = cache[n][line % SETS];
    struct dirent *d = &dir[line];
    unsigned home = home_of(line);
    uint32_t lat = 0;
    int w, hit = -1;

    st_refs++;
    if (write) st_writes++; else st_reads++;
    lru_clock++;

    for (w = 0; w < WAYS; w++)
        if (set[w].state != ST_I && set[w].tag == line) { hit = w; break; }

    if (hit >= 0 && (!write || set[hit].state == ST_M)) {
        st_hits++;
        set[hit].lru = lru_clock;
        st_latency += LAT_HIT;
        if (write) memword[line] = memword[line] * 31u + n + 1;
        return;
    }

    /* Miss or upgrade: go to the home directory. */
    lat = (home == n) ? LAT_LOCAL : LAT_REMOTE;
    if (d->state == ST_M && d->owner != n) {
        /* dirty in another cache: 3-hop, owner supplies data */
        st_3hop++;
        lat = LAT_3HOP;
        cache_drop(d->owner, line, !write);
        if (write) { d->sharers = 0; }
        else { d->sharers = (uint16_t)(1u << d->owner); d->state = ST_S; }
    }
    if (write && d->state == ST_S) {
        uint16_t others = d->sharers & (uint16_t)~(1u << n);
        for (unsigned m = 0; others; m++, others >>= 1)
            if (others & 1) { cache_drop(m, line, 0); st_invals++; lat += LAT_INVAL; }
        d->sharers = 0;
    }
    if (hit >= 0) {                    /* S -> M upgrade, data already here */
        st_upgrades++;
        set[hit].state = ST_M;
        set[hit].lru = lru_clock;
    } else {
        if (home == n) st_local++; else st_remote++;
        int victim = 0;
        for (w = 0; w < WAYS; w++) {
            if (set[w].state == ST_I) { victim = w; break; }
            if (set[w].lru < set[victim].lru) victim = w;
        }
        evict(n, &set[victim]);
        set[victim].tag = line;
        set[victim].state = write ? ST_M : ST_S;
        set[victim].lru = lru_clock;
    }
    if (write) {
        d->state = ST_M; d->owner = (uint8_t)n; d->sharers = (uint16_t)(1u << n);
        memword[line] = memword[line] * 31u + n + 1;
    } else {
        d->state = ST_S; d->sharers |= (uint16_t)(1u << n);
    }
    st_latency += lat;
}

int main(int argc, char **argv)
{
    if (argc < 2) { fprintf(stderr, "usage: memsim REFS [SEED]\n"); return 2; }
    uint64_t refs = strtoull(argv[1], 0, 10);
    rng_state = argc > 2 ? strtoull(argv[2], 0, 10) : 1997;

    dir = calloc(MEM_LINES, sizeof *dir);
    memword = calloc(MEM_LINES, sizeof *memword);
    if (!dir || !memword) { perror("calloc"); return 1; }
    for (uint32_t i = 0; i < MEM_LINES; i++) memword[i] = i * 2654435761u;

    /* Region layout (in lines): 16 private regions of 8K lines (1 MiB each),
       a 64K-line read-mostly shared region, a 4K-line migratory region and a
       1K-line producer/consumer ring. */
    const uint32_t PRIV = 8192, SHARED_BASE = NODES * PRIV, SHARED = 65536;
    const uint32_t MIG_BASE = SHARED_BASE + SHARED, MIG = 4096;
    const uint32_t PC_BASE = MIG_BASE + MIG, PC = 1024;
    uint32_t stride_pos[NODES] = {0};

    for (uint64_t i = 0; i < refs; i++) {
        unsigned n = (unsigned)(i % NODES);
        uint32_t r = rng(), kind = r % 100, line;
        int write;
        if (kind < 55) {                   /* private: strided sweep + random */
            if (r & 0x100) { stride_pos[n] = (stride_pos[n] + 1) % PRIV; line = stride_pos[n]; }
            else line = (stride_pos[n] + rng() % 2048) % PRIV;
            line += n * PRIV;
            write = (r >> 12) % 4 == 0;
        } else if (kind < 85) {            /* shared read-mostly, skewed */
            uint32_t a = rng() % SHARED, b = rng() % SHARED;
            line = SHARED_BASE + (a < b ? a : b);
            write = (r >> 12) % 64 == 0;
        } else if (kind < 95) {            /* migratory: read then write */
            line = MIG_BASE + rng() % MIG;
            access_line(n, line, 0);
            write = 1;
        } else {                           /* producer/consumer ring */
            line = PC_BASE + (uint32_t)((i / NODES) % PC);
            write = (n % 4) == 0;
        }
        access_line(n, line, write);
    }

    uint64_t sum = 0;
    for (uint32_t i = 0; i < MEM_LINES; i++)
        sum = sum * 1000003u + memword[i] + dir[i].state + dir[i].sharers;

    printf("memsim refs=%llu reads=%llu writes=%llu hits=%llu upgrades=%llu\n",
           (unsigned long long)st_refs, (unsigned long long)st_reads,
           (unsigned long long)st_writes, (unsigned long long)st_hits,
           (unsigned long long)st_upgrades);
    printf("memsim local=%llu remote=%llu 3hop=%llu invals=%llu wbacks=%llu evict=%llu\n",
           (unsigned long long)st_local, (unsigned long long)st_remote,
           (unsigned long long)st_3hop, (unsigned long long)st_invals,
           (unsigned long long)st_wbacks, (unsigned long long)st_evict);
    printf("memsim latency_ns=%llu checksum=%016llx\n",
           (unsigned long long)st_latency, (unsigned long long)sum);
    return 0;
}
