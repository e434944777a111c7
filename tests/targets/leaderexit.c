/*
 * leaderexit: the main thread ends with pthread_exit while its workers run on, which
 * leaves the process with a zombie leader that can be neither seized nor stopped.
 * `leaderexit THREADS ITERS` starts THREADS workers that call le_fn ITERS times each,
 * 200 us apart; the last to finish prints `calls=<total>` and exits 0. With `--wait`, the
 * workers call le_fn until a line arrives on stdin instead. The main thread prints
 * `leader-exits` just before it goes.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_long calls, done;
static atomic_bool stop;
static long iters, nthreads;
static int forever;

__attribute__((noinline, used)) long le_fn(long x)
{
	__asm__ volatile("" ::: "memory");
	return x + 1;
}

static long (*volatile le_ptr)(long) = le_fn;

static void *stdin_watch(void *arg)
{
	char line[16];

	(void)arg;
	if (!fgets(line, sizeof(line), stdin))
		fprintf(stderr, "leaderexit: stdin closed\n");
	atomic_store(&stop, 1);
	return NULL;
}

static void *worker(void *arg)
{
	struct timespec gap = { 0, 200000 };

	for (long i = 0; forever ? !atomic_load(&stop) : i < iters; i++) {
		if (le_ptr((long)arg + i) != (long)arg + i + 1)
			abort();
		atomic_fetch_add(&calls, 1);
		nanosleep(&gap, NULL);
	}
	if (atomic_fetch_add(&done, 1) + 1 == nthreads) {
		printf("calls=%ld\n", atomic_load(&calls));
		fflush(stdout);
		exit(0);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;

	if (argc < 3) {
		fprintf(stderr, "usage: leaderexit THREADS ITERS [--wait]\n");
		return 2;
	}
	nthreads = atol(argv[1]);
	iters = atol(argv[2]);
	forever = argc > 3 && !strcmp(argv[3], "--wait");
	if (forever && pthread_create(&t, NULL, stdin_watch, NULL))
		return 1;
	for (long i = 0; i < nthreads; i++)
		if (pthread_create(&t, NULL, worker, (void *)i))
			return 1;
	printf("leader-exits\n");
	fflush(stdout);
	pthread_exit(NULL);
}
