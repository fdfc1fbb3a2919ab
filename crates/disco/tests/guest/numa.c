/*
 * NUMA miss-counter check, run on the simulated machine.
 *
 *   numa WRITER_CPU PAGES READER_CPU...
 *
 * On WRITER_CPU, maps PAGES pages and writes all of them (Linux allocates
 * the frames at the first touch), then reads their frame numbers from
 * /proc/self/pagemap. Through disco's simulation-control device (mapped
 * from /dev/mem) it resets the statistics and switches to detailed timing;
 * one thread per READER_CPU, pinned there and released together, reads one
 * word of every 128-byte line of its share of the pages (page i goes to
 * reader i % READERS); then it switches back to fast timing. Prints one
 * line per page
 *
 *   page VIRTUAL_ADDRESS PFN READER_CPU
 *
 * and "numa done". The host then checks the machine's per-page, per-node
 * miss counters: 32 misses to each page, all from its reader's node, remote
 * when the page's home is another node.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define SIMCTL_BASE 0xf0003000UL
#define SIMCTL_MODE 0x00    /* 0 fast, 1 detailed */
#define SIMCTL_COMMAND 0x04 /* 1: reset statistics */
#define SIMCTL_MAGIC 0x08   /* reads "DSIM" */
#define PAGE 4096
#define LINE 128
#define MAX_READERS 16

static char *buf;
static long pages, readers;
static int reader_cpu[MAX_READERS];
static pthread_barrier_t start;

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) != 0) {
		perror("sched_setaffinity");
		exit(2);
	}
	sched_yield();
	if (sched_getcpu() != cpu) {
		fprintf(stderr, "not running on CPU %d\n", cpu);
		exit(2);
	}
}

static volatile uint32_t *simctl(void)
{
	int fd = open("/dev/mem", O_RDWR | O_SYNC);
	if (fd < 0) {
		perror("/dev/mem");
		exit(2);
	}
	void *p = mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, SIMCTL_BASE);
	if (p == MAP_FAILED) {
		perror("mmap simctl");
		exit(2);
	}
	volatile uint32_t *r = p;
	if (r[SIMCTL_MAGIC / 4] != 0x4d495344) { /* "DSIM" little-endian */
		fprintf(stderr, "no simulation-control device\n");
		exit(2);
	}
	return r;
}

static void *reader(void *arg)
{
	long me = (long)arg;
	uint64_t sum = 0;
	pin(reader_cpu[me]);
	pthread_barrier_wait(&start);
	for (long p = me; p < pages; p += readers)
		for (long off = 0; off < PAGE; off += LINE)
			sum += *(volatile char *)(buf + p * PAGE + off);
	return (void *)(uintptr_t)sum;
}

int main(int argc, char **argv)
{
	if (argc < 4 || argc - 3 > MAX_READERS) {
		fprintf(stderr, "usage: numa WRITER_CPU PAGES READER_CPU... (at most %d)\n",
			MAX_READERS);
		return 2;
	}
	int writer = atoi(argv[1]);
	pages = atol(argv[2]);
	readers = argc - 3;
	for (long i = 0; i < readers; i++)
		reader_cpu[i] = atoi(argv[3 + i]);
	volatile uint32_t *ctl = simctl();

	pin(writer);
	buf = mmap(0, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	for (long i = 0; i < pages * PAGE; i++)
		buf[i] = (char)i;

	int pm = open("/proc/self/pagemap", O_RDONLY);
	if (pm < 0) {
		perror("/proc/self/pagemap");
		return 2;
	}
	uint64_t *pfn = calloc(pages, sizeof *pfn);
	for (long p = 0; p < pages; p++) {
		uint64_t e;
		off_t off = (uintptr_t)(buf + p * PAGE) / PAGE * sizeof e;
		if (pread(pm, &e, sizeof e, off) != sizeof e || !(e >> 63)) {
			fprintf(stderr, "page %ld not present\n", p);
			return 2;
		}
		pfn[p] = e & ((1ULL << 55) - 1);
	}

	pthread_t t[MAX_READERS];
	pthread_barrier_init(&start, 0, readers + 1);
	for (long i = 0; i < readers; i++)
		if (pthread_create(&t[i], 0, reader, (void *)i) != 0) {
			perror("pthread_create");
			return 2;
		}
	ctl[SIMCTL_COMMAND / 4] = 1;
	ctl[SIMCTL_MODE / 4] = 1;
	pthread_barrier_wait(&start);
	for (long i = 0; i < readers; i++)
		pthread_join(t[i], 0);
	ctl[SIMCTL_MODE / 4] = 0;

	for (long p = 0; p < pages; p++)
		printf("page %p %#llx %d\n", (void *)(buf + p * PAGE),
		       (unsigned long long)pfn[p], reader_cpu[p % readers]);
	printf("numa done\n");
	return 0;
}
