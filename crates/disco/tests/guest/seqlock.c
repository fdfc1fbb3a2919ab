/*
 * Stale-or-torn-page hunter for the monitor's NUMA page migration and
 * replication, run on the simulated machine.
 *
 *   seqlock THREADS ROUNDS
 *
 * SHARED pages are read by every thread under per-page seqlocks and
 * rewritten now and then by thread 0; each thread also owns PRIVATE pages
 * it rewrites and checks. Thread t runs on CPU t at first and moves to the
 * next CPU every round, so that its private pages are used from every node
 * in turn (the monitor migrates them) while the shared pages are read from
 * all nodes (the monitor replicates them; a write collapses the replicas).
 *
 * Shared page p at version v: word 0 is v, word i is mix(p, v, i). A
 * reader takes the page's sequence s (even), reads every word, and checks
 * the sequence is still s: then the page must be whole (every word of
 * version word 0: else it is TORN) and of version s / 2 (else it is STALE:
 * an old copy, e.g. a replica a write did not reach). A private page is
 * rewritten with a new pattern each round and read back the next: any
 * other word is LOST.
 *
 * Prints "seqlock ok THREADS x ROUNDS: N clean reads, M writes, K private
 * pages checked" and exits 0, or the first failures and "seqlock FAIL".
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096
#define WORDS (PAGE / 8)
#define SHARED 32
#define PRIVATE 16
#define WRITE_EVERY 16 /* rounds between rewrites of one shared page */

struct seq {
	volatile uint64_t v;
	char pad[128 - 8]; /* one L2 line each */
};

static uint64_t (*shared)[WORDS];
static struct seq *seqs;
static long rounds;
static int threads, cpus;
static volatile int failures;
static pthread_barrier_t start;

static inline void fence(void)
{
	__asm__ volatile("sync" ::: "memory");
}

static uint64_t mix(uint64_t p, uint64_t v, uint64_t i)
{
	uint64_t x = (p << 40) ^ (v << 16) ^ i ^ 0x9e3779b97f4a7c15ull;
	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	return x ^ (x >> 32);
}

static void fail(const char *what, int t, long p, uint64_t a, uint64_t b)
{
	if (__atomic_fetch_add(&failures, 1, __ATOMIC_SEQ_CST) < 10)
		printf("%s: thread %d page %ld: %#llx vs %#llx\n", what, t, p,
		       (unsigned long long)a, (unsigned long long)b);
}

static void write_shared(long p)
{
	uint64_t s = seqs[p].v + 1; /* odd: being written */
	seqs[p].v = s;
	fence();
	uint64_t v = (s + 1) / 2;
	shared[p][0] = v;
	for (int i = 1; i < WORDS; i++)
		shared[p][i] = mix(p, v, i);
	fence();
	seqs[p].v = s + 1;
}

/* One read of shared page p; 1 if clean (the sequence held). */
static int read_shared(int t, long p)
{
	uint64_t s = seqs[p].v;
	if (s & 1)
		return 0;
	fence();
	uint64_t v = shared[p][0];
	uint64_t bad = 0, badi = 0;
	for (int i = 1; i < WORDS; i++)
		if (shared[p][i] != mix(p, v, i) && !bad) {
			bad = shared[p][i];
			badi = i;
		}
	fence();
	if (seqs[p].v != s)
		return 0;
	if (bad)
		fail("TORN", t, p, bad, mix(p, v, badi));
	else if (v != s / 2)
		fail("STALE", t, p, v, s / 2);
	return 1;
}

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu % cpus, &set);
	sched_setaffinity(0, sizeof set, &set);
}

struct result {
	long clean, writes, private_checked;
};

static void *worker(void *arg)
{
	int t = (int)(long)arg;
	struct result *r = calloc(1, sizeof *r);
	uint64_t (*mine)[WORDS] = mmap(NULL, PRIVATE * PAGE, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mine == MAP_FAILED || !r) {
		perror("seqlock: memory");
		exit(1);
	}
	pin(t);
	pthread_barrier_wait(&start);
	for (long round = 0; round < rounds; round++) {
		pin(t + round);
		uint64_t pattern = ((uint64_t)t << 48) ^ (uint64_t)round;
		for (int p = 0; p < PRIVATE; p++) {
			if (round > 0) {
				uint64_t old = pattern - 1; /* the last round's */
				for (int i = 0; i < WORDS; i++)
					if (mine[p][i] != mix(old, p, i)) {
						fail("LOST", t, p, mine[p][i], mix(old, p, i));
						break;
					}
				r->private_checked++;
			}
			for (int i = 0; i < WORDS; i++)
				mine[p][i] = mix(pattern, p, i);
		}
		for (int pass = 0; pass < 8; pass++)
			for (long p = 0; p < SHARED; p++) {
				if (t == 0 && pass == 0 && (p + round) % WRITE_EVERY == 0) {
					write_shared(p);
					r->writes++;
				}
				r->clean += read_shared(t, p);
			}
	}
	return r;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: seqlock THREADS ROUNDS\n");
		return 2;
	}
	threads = atoi(argv[1]);
	rounds = atol(argv[2]);
	cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (threads < 1 || threads > 64 || rounds < 1 || cpus < 1) {
		fprintf(stderr, "seqlock: bad arguments\n");
		return 2;
	}
	shared = mmap(NULL, SHARED * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	seqs = mmap(NULL, SHARED * sizeof *seqs, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		    -1, 0);
	if (shared == MAP_FAILED || seqs == MAP_FAILED) {
		perror("seqlock: mmap");
		return 1;
	}
	for (long p = 0; p < SHARED; p++) {
		seqs[p].v = 0;
		write_shared(p); /* version 1, sequence 2 */
	}
	pthread_t tid[64];
	pthread_barrier_init(&start, NULL, threads);
	for (int t = 0; t < threads; t++)
		pthread_create(&tid[t], NULL, worker, (void *)(long)t);
	struct result total = {0, 0, 0};
	for (int t = 0; t < threads; t++) {
		struct result *r;
		pthread_join(tid[t], (void **)&r);
		total.clean += r->clean;
		total.writes += r->writes;
		total.private_checked += r->private_checked;
	}
	if (failures) {
		printf("seqlock FAIL: %d failures\n", failures);
		return 1;
	}
	printf("seqlock ok %d x %ld: %ld clean reads, %ld writes, %ld private pages checked\n",
	       threads, rounds, total.clean, total.writes, total.private_checked);
	return 0;
}
