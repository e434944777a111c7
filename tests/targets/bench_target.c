/*
 * bench_target: the target of `make bench` (tools/bench.py) and `make compare`
 * (tools/compare.py). `bench_target N` calls the hookable bench_fn N times in one thread and
 * prints `loop_ns=<time of the loop>` and `sum=<sum>`. The loop is timed inside the process
 * (CLOCK_MONOTONIC), so mhookd's start-up and symbol loading do not count: hooked minus
 * unhooked loop time, divided by N, is the overhead per hooked call.
 *
 * `bench_target N THREADS` runs the same loop in the main thread and in THREADS-1 more
 * threads at once (THREADS*N calls in all, N of them in the main thread); loop_ns is then
 * the wall time from the start of the loops to the end of the last one. It shows which
 * tracers see the calls of every thread.
 *
 * `bench_target N [THREADS] --wait` first prints `ready <pid>`, flushed, and waits for a line
 * on stdin; the loop (and its timing) starts once that line is read. A tracer can then attach
 * and hook before the gate opens (tools/bench_server.py). Without --wait nothing changes.
 *
 * `--sigtrap=ignore|block|handle` (before --wait) first ignores SIGTRAP, or blocks it with a
 * handler installed, or installs a handler: what mhookd's traps must leave as they are, at
 * a cost per call that tools/bench.py measures.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

long bench_fn(long x);

__attribute__((noinline, used))
long bench_fn(long x)
{
	__asm__ volatile("" ::: "memory");
	return x + 1;
}

static long (*volatile bench_fn_ptr)(long) = bench_fn;

static void on_sigtrap(int sig)
{
	(void)sig;
}

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long n;

static void *loop(void *arg)
{
	long sum = 0;
	for (long i = 0; i < n; i++)
		sum += bench_fn_ptr(i);
	*(long *)arg = sum;
	return NULL;
}

int main(int argc, char **argv)
{
	int gate = 0;
	if (argc >= 2 && strcmp(argv[argc - 1], "--wait") == 0) {
		gate = 1;
		argv[--argc] = NULL;
	}
	if (argc >= 2 && strncmp(argv[argc - 1], "--sigtrap=", 10) == 0) {
		const char *how = argv[--argc] + 10;
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = strcmp(how, "ignore") ? on_sigtrap : SIG_IGN;
		sigaction(SIGTRAP, &sa, NULL);
		if (!strcmp(how, "block")) {
			sigset_t one;
			sigemptyset(&one);
			sigaddset(&one, SIGTRAP);
			sigprocmask(SIG_BLOCK, &one, NULL);
		}
		argv[argc] = NULL;
	}
	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: bench_target N [THREADS] [--wait]\n");
		return 2;
	}
	n = atol(argv[1]);
	long nthreads = argc == 3 ? atol(argv[2]) : 1;
	if (nthreads < 1 || nthreads > 64)
		return 2;
	pthread_t t[64];
	long sums[64] = { 0 }, sum = 0;
	if (gate) {
		char line[64];
		printf("ready %ld\n", (long)getpid());
		fflush(stdout);
		if (!fgets(line, sizeof line, stdin))
			return 4;
	}
	long long t0 = now_ns();
	for (long k = 1; k < nthreads; k++)
		if (pthread_create(&t[k], NULL, loop, &sums[k]))
			return 3;
	loop(&sums[0]);
	for (long k = 1; k < nthreads; k++)
		pthread_join(t[k], NULL);
	long long t1 = now_ns();
	for (long k = 0; k < nthreads; k++)
		sum += sums[k];
	printf("loop_ns=%lld\nsum=%ld\n", t1 - t0, sum);
	return 0;
}
