/*
 * LL/SC stress across CPUs, run on the simulated machine.
 *
 *   llsc_smp THREADS ITERATIONS
 *
 * Starts THREADS threads, thread i pinned to CPU i % (online CPUs), released
 * together by a barrier. Each iteration of each thread:
 *   - adds 1 to a 64-bit counter with an LLD/SCD loop,
 *   - adds 1 to a 32-bit counter with an LL/SC loop,
 *     (both with a taken branch between the LL and the SC, so that a
 *     simulator that switches CPUs at branches can switch inside the window),
 *   - takes a spinlock (LL/SC test-and-set), increments a plain counter with
 *     a few instructions in between read and write, releases the lock.
 * Every lost update shows up as a wrong total. Prints
 *   "llsc ok THREADS x ITERATIONS" (exit 0) or the totals and "FAIL" (exit 1).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static uint64_t counter64;
static uint32_t counter32;
static int lock;
static volatile uint64_t locked_counter;
static long iterations;
static pthread_barrier_t start;

static void add64(uint64_t *p)
{
	uint64_t old, tmp;
	__asm__ volatile("1: lld %0, %2\n"
			 "   b 2f\n"
			 "   nop\n"
			 "2: daddiu %1, %0, 1\n"
			 "   scd %1, %2\n"
			 "   beqz %1, 1b\n"
			 "   nop\n"
			 : "=&r"(old), "=&r"(tmp), "+m"(*p)
			 :
			 : "memory");
}

static void add32(uint32_t *p)
{
	uint32_t old, tmp;
	__asm__ volatile("1: ll %0, %2\n"
			 "   b 2f\n"
			 "   nop\n"
			 "2: addiu %1, %0, 1\n"
			 "   sc %1, %2\n"
			 "   beqz %1, 1b\n"
			 "   nop\n"
			 : "=&r"(old), "=&r"(tmp), "+m"(*p)
			 :
			 : "memory");
}

static void spin_lock(int *l)
{
	while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(l, __ATOMIC_RELAXED))
			;
}

static void spin_unlock(int *l)
{
	__atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

static void *worker(void *arg)
{
	long cpu = (long)arg;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0) {
		fprintf(stderr, "cannot pin a thread to CPU %ld\n", cpu);
		exit(2);
	}
	pthread_barrier_wait(&start);
	for (long i = 0; i < iterations; i++) {
		add64(&counter64);
		add32(&counter32);
		spin_lock(&lock);
		uint64_t v = locked_counter;
		__asm__ volatile("nop; nop; nop; nop");
		locked_counter = v + 1;
		spin_unlock(&lock);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: llsc_smp THREADS ITERATIONS\n");
		return 2;
	}
	long threads = atol(argv[1]);
	iterations = atol(argv[2]);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	pthread_t *t = calloc(threads, sizeof *t);
	pthread_barrier_init(&start, 0, threads);
	for (long i = 0; i < threads; i++)
		if (pthread_create(&t[i], 0, worker, (void *)(i % cpus)) != 0) {
			perror("pthread_create");
			return 2;
		}
	for (long i = 0; i < threads; i++)
		pthread_join(t[i], 0);
	uint64_t want = (uint64_t)threads * iterations;
	if (counter64 == want && counter32 == (uint32_t)want && locked_counter == want) {
		printf("llsc ok %ld x %ld on %ld CPUs\n", threads, iterations, cpus);
		return 0;
	}
	printf("counter64=%llu counter32=%u locked=%llu want=%llu FAIL\n",
	       (unsigned long long)counter64, counter32,
	       (unsigned long long)locked_counter, (unsigned long long)want);
	return 1;
}
