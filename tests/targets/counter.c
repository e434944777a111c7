/*
 * counter: the main test target of the integration tests.
 * `counter THREADS ITERS [--wait] [--linger] [--repeat R] [--churn]` starts THREADS threads;
 * thread t calls counter_exe_fn (in this executable) and counter_lib_fn (in libcounter.so)
 * ITERS times each, with the argument t*1000000 + i, so a
 * test can check the exact number of calls per thread and every argument mhookd reports.
 * It prints `total=<sum of the return values>` on stdout and nothing on stderr.
 *
 * --wait:   the threads are created first and park on a gate; the program prints
 *           `ready <pid>` and reads a line from stdin before opening the gate. Attach tests
 *           use it: start, attach mhookd (every thread already exists), wait for mhookd's
 *           ready event, then write a newline.
 * --linger: after the work, print `done` and read another line from stdin, then do the work
 *           a second time (new threads) and exit. Detach tests use it: the target must keep
 *           working after mhookd has detached.
 * --repeat R: each thread runs its loop R times (same arguments each time), so the work
 *           lasts long enough to attach and detach while calls are in flight; the total is
 *           R times larger.
 * --churn:  from start until the work is done, a background thread keeps creating and
 *           joining short-lived threads (which call nothing hooked), so threads appear and
 *           exit while mhookd attaches and while the hooks are armed.
 *
 * The functions are called through volatile function pointers so that the compiler can
 * neither inline nor elide the calls.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

long counter_lib_fn(long x);
long counter_exe_fn(long x);

__attribute__((noinline, used))
long counter_exe_fn(long x)
{
	__asm__ volatile("" ::: "memory");
	return x + 1;
}

static long (*volatile exe_fn)(long) = counter_exe_fn;
static long (*volatile lib_fn)(long) = counter_lib_fn;

static long iters;
static long repeat = 1;
static volatile int churn_stop;
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_open;

struct worker {
	pthread_t thread;
	long index;
	long sum;
};

static void *work(void *arg)
{
	struct worker *w = arg;

	pthread_mutex_lock(&gate_lock);
	while (!gate_open)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);

	long sum = 0;
	for (long r = 0; r < repeat; r++) {
		for (long i = 0; i < iters; i++) {
			long x = w->index * 1000000 + i;
			sum += exe_fn(x);
			sum += lib_fn(x);
		}
	}
	w->sum = sum;
	return NULL;
}

static void *idle(void *arg)
{
	__asm__ volatile("" ::: "memory");
	return arg;
}

static void *churn(void *arg)
{
	(void)arg;
	while (!churn_stop) {
		pthread_t t;
		if (pthread_create(&t, NULL, idle, NULL))
			exit(4);
		pthread_join(t, NULL);
	}
	return NULL;
}

static void wait_line(void)
{
	char line[64];
	if (!fgets(line, sizeof line, stdin))
		exit(3);
}

static long run(long nthreads, int wait)
{
	struct worker *w = calloc((size_t)nthreads, sizeof *w);
	if (!w)
		exit(4);
	gate_open = 0;
	for (long t = 0; t < nthreads; t++) {
		w[t].index = t;
		if (pthread_create(&w[t].thread, NULL, work, &w[t]))
			exit(4);
	}
	if (wait) {
		printf("ready %d\n", (int)getpid());
		fflush(stdout);
		wait_line();
	}
	pthread_mutex_lock(&gate_lock);
	gate_open = 1;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);

	long total = 0;
	for (long t = 0; t < nthreads; t++) {
		pthread_join(w[t].thread, NULL);
		total += w[t].sum;
	}
	free(w);
	return total;
}

int main(int argc, char **argv)
{
	int wait = 0, linger = 0, churning = 0;
	pthread_t churner;
	if (argc < 3) {
		fprintf(stderr, "usage: counter THREADS ITERS [--wait] [--linger] [--repeat R] [--churn]\n");
		return 2;
	}
	long nthreads = atol(argv[1]);
	iters = atol(argv[2]);
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--wait"))
			wait = 1;
		else if (!strcmp(argv[i], "--linger"))
			linger = 1;
		else if (!strcmp(argv[i], "--churn"))
			churning = 1;
		else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
			repeat = atol(argv[++i]);
		else
			return 2;
	}
	if (nthreads < 1 || nthreads > 1000 || iters < 0 || iters >= 1000000 || repeat < 1)
		return 2;

	if (churning && pthread_create(&churner, NULL, churn, NULL))
		return 4;
	long first = run(nthreads, wait);
	if (churning) {
		churn_stop = 1;
		pthread_join(churner, NULL);
	}
	printf("total=%ld\n", first);
	if (linger) {
		printf("done\n");
		fflush(stdout);
		wait_line();
		printf("total=%ld\n", run(nthreads, 0));
	}
	return 0;
}
