/*
 * libmhook benchmark: the extra cost of a call through a patch (entry jump, replacement,
 * trampoline, jump back) over a plain call, and the time to patch and unpatch 1,000
 * distinct functions: one at a time the first time (mapping trampoline chunks, indexing
 * symbols) and again, then in one batch (mhook_patch_many: one parking, one write per
 * page), each alone and with two other threads that must be parked for every write.
 * Numbers from one run are compared with each other only; they swing between runs, and
 * under qemu they say nothing about hardware.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mhook.h"
#include "bench.h"

#define CALLS 50000000

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The timed code is cache-line aligned: where the linker happens to put it otherwise moves
 * the call figures by a cycle from one build to the next. */
#define BENCH_ALIGNED __attribute__((noinline, aligned(64)))

static int (*target_orig)(int);
static BENCH_ALIGNED int repl_calling_orig(int x)
{
	return target_orig(x) + 1;
}

/* ns per call through fn, best of three (the loop itself included: it cancels out). */
static BENCH_ALIGNED double ns_per_call(int (*volatile fn)(int), long calls)
{
	double best = 1e9;

	for (int rep = 0; rep < 3; rep++) {
		double t = now();
		int acc = 0;

		for (long i = 0; i < calls; i++)
			acc += fn((int)i);
		t = now() - t;
		if (acc == 42)
			printf(" ");
		if (t * 1e9 / (double)calls < best)
			best = t * 1e9 / (double)calls;
	}
	return best;
}

static int (*origs[BENCH_NFUNCS])(int);
static int any_repl(int x)
{
	return x;
}

/* ms to patch then to unpatch all BENCH_NFUNCS functions; -1 on a failure. */
static int patch_all(double *patch_ms, double *unpatch_ms)
{
	double t = now();

	for (int i = 0; i < BENCH_NFUNCS; i++) {
		int rc = mhook_patch((void *)bench_fns[i], (void *)any_repl, (void **)&origs[i]);

		if (rc) {
			printf("patch %d: %s\n", i, mhook_strerror(rc));
			return -1;
		}
	}
	*patch_ms = (now() - t) * 1e3;
	t = now();
	for (int i = 0; i < BENCH_NFUNCS; i++)
		if (mhook_unpatch((void *)bench_fns[i]))
			return -1;
	*unpatch_ms = (now() - t) * 1e3;
	return 0;
}

static struct mhook_batch_entry batch[BENCH_NFUNCS];
static void *targets[BENCH_NFUNCS];

/* The same as patch_all, in one mhook_patch_many and one mhook_unpatch_many. */
static int patch_batch(double *patch_ms, double *unpatch_ms)
{
	size_t failed;
	double t;
	int rc;

	for (int i = 0; i < BENCH_NFUNCS; i++) {
		batch[i] = (struct mhook_batch_entry){ (void *)bench_fns[i], (void *)any_repl,
						       (void **)&origs[i], 0 };
		targets[i] = (void *)bench_fns[i];
	}
	t = now();
	rc = mhook_patch_many(batch, BENCH_NFUNCS, &failed);
	*patch_ms = (now() - t) * 1e3;
	if (rc) {
		printf("batch patch, entry %zu: %s\n", failed, mhook_strerror(rc));
		return -1;
	}
	t = now();
	rc = mhook_unpatch_many(targets, BENCH_NFUNCS, &failed);
	*unpatch_ms = (now() - t) * 1e3;
	if (rc) {
		printf("batch unpatch, entry %zu: %s\n", failed, mhook_strerror(rc));
		return -1;
	}
	return 0;
}

static void row_batch(const char *what, double p, double u, double p1, double u1)
{
	printf("1000 functions in one batch, %s: patch %.2f ms, unpatch %.2f ms "
	       "(%.1fx and %.1fx faster than one at a time)\n", what, p, u, p1 / p, u1 / u);
}

static atomic_int stop;
static void *sleeper(void *arg)
{
	struct timespec ts = { 0, 1000000 };

	(void)arg;
	while (!atomic_load(&stop))
		nanosleep(&ts, NULL);
	return NULL;
}

int main(int argc, char **argv)
{
	long calls = argc > 1 ? atol(argv[1]) : CALLS;
	int (*fn)(int) = bench_fns[7];
	double plain, patched, p1, u1, p2, u2, pb, ub;
	pthread_t th[2];

	plain = ns_per_call(fn, calls);
	if (mhook_patch((void *)fn, (void *)repl_calling_orig, (void **)&target_orig))
		return 1;
	patched = ns_per_call(fn, calls);
	mhook_unpatch((void *)fn);
	printf("call: plain %.2f ns, patched (replacement calls the original) %.2f ns, "
	       "extra %.2f ns\n", plain, patched, patched - plain);

	if (patch_all(&p1, &u1))
		return 1;
	printf("1000 functions, 1 thread, first time: patch %.2f ms, unpatch %.2f ms\n", p1, u1);
	if (patch_all(&p1, &u1))
		return 1;
	printf("1000 functions, 1 thread, again: patch %.2f ms, unpatch %.2f ms\n", p1, u1);
	if (patch_batch(&pb, &ub))
		return 1;
	row_batch("1 thread", pb, ub, p1, u1);
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, sleeper, NULL);
	if (patch_all(&p2, &u2))
		return 1;
	printf("1000 functions, 2 more threads parked per write: patch %.2f ms, unpatch %.2f ms\n",
	       p2, u2);
	if (patch_batch(&pb, &ub))
		return 1;
	row_batch("2 more threads parked", pb, ub, p2, u2);
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	return 0;
}
