/*
 * NUMA miss-counter check, run on the simulated machine.
 *
 *   numa WRITER_CPU READER_CPU PAGES
 *
 * On WRITER_CPU, maps PAGES pages and writes all of them (Linux allocates
 * the frames at the first touch). Reads the frame numbers from
 * /proc/self/pagemap. Then on READER_CPU, through disco's simulation-control
 * device (mapped from /dev/mem), resets the statistics and switches to
 * detailed timing, reads one word of every 128-byte line of every page once,
 * and switches back to fast timing. Prints one line per page:
 *
 *   page VIRTUAL_ADDRESS PFN
 *
 * and "numa done WRITER READER". The host then checks that the machine's
 * per-page, per-node miss counters show 32 misses to each page, all from
 * the reader's node, and where the pages' home is another node, remote ones.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define SIMCTL_BASE 0xf0003000UL
#define SIMCTL_MODE 0x00   /* 0 fast, 1 detailed */
#define SIMCTL_COMMAND 0x04 /* 1: reset statistics */
#define SIMCTL_MAGIC 0x08  /* reads "DSIM" */
#define PAGE 4096
#define LINE 128

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

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: numa WRITER_CPU READER_CPU PAGES\n");
		return 2;
	}
	int writer = atoi(argv[1]), reader = atoi(argv[2]);
	long pages = atol(argv[3]);
	volatile uint32_t *ctl = simctl();

	pin(writer);
	char *buf = mmap(0, pages * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
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

	pin(reader);
	uint64_t sum = 0;
	ctl[SIMCTL_COMMAND / 4] = 1;
	ctl[SIMCTL_MODE / 4] = 1;
	for (long i = 0; i < pages * PAGE; i += LINE)
		sum += *(volatile char *)(buf + i);
	ctl[SIMCTL_MODE / 4] = 0;

	for (long p = 0; p < pages; p++)
		printf("page %p %#llx\n", (void *)(buf + p * PAGE), (unsigned long long)pfn[p]);
	printf("numa done %d %d %llu\n", writer, reader, (unsigned long long)sum);
	return 0;
}
