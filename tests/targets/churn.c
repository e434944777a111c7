/*
 * churn: threads that come and go while hooks are armed and removed. `churn ROUNDS THREADS
 * ITERS` runs ROUNDS rounds; each starts THREADS short-lived threads that call churn_fn
 * ITERS times and exit, so threads are created and exit all the time. ROUNDS 0 means run
 * until killed; SIGUSR1 is caught (and counted) so a test can signal it between attaches.
 * It prints `calls=<total churn_fn calls>` at the end (and on SIGTERM in forever mode).
 * In forever mode it also ends (as on SIGTERM) when its parent dies, so that a test run
 * that is killed cannot leave it spinning.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

static atomic_long calls;
static volatile sig_atomic_t usr1, stop;
static long iters;

__attribute__((noinline, used)) long churn_fn(long x)
{
	__asm__ volatile("" ::: "memory");
	return x + 1;
}

static long (*volatile churn_ptr)(long) = churn_fn;

static void *worker(void *arg)
{
	for (long i = 0; i < iters; i++) {
		churn_ptr((long)arg + i);
		atomic_fetch_add(&calls, 1);
	}
	return NULL;
}

static void on_usr1(int sig)
{
	(void)sig;
	usr1++;
}

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: churn ROUNDS THREADS ITERS\n");
		return 2;
	}
	long rounds = atol(argv[1]), nthreads = atol(argv[2]);
	iters = atol(argv[3]);
	pthread_t *t = calloc((size_t)nthreads, sizeof(*t));

	signal(SIGUSR1, on_usr1);
	signal(SIGTERM, on_term);
	if (rounds == 0) {
		pid_t parent = getppid();
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent) /* the parent died before the prctl */
			stop = 1;
	}
	for (long r = 0; (rounds == 0 || r < rounds) && !stop; r++) {
		for (long i = 0; i < nthreads; i++)
			if (pthread_create(&t[i], NULL, worker, (void *)(i * 1000)) != 0)
				return 3;
		for (long i = 0; i < nthreads; i++)
			pthread_join(t[i], NULL);
	}
	printf("calls=%ld\n", (long)calls);
	free(t);
	return 0;
}
