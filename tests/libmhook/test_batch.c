/*
 * mhook_patch_many and mhook_unpatch_many on the benchmark's thousand generated functions
 * (bench_funcs.c) and this arch's hazard functions: a whole batch patched and unpatched
 * to the byte; all or nothing when one entry in the middle is refused, already patched,
 * listed twice, overlaps another, or NULL (no entry's bytes change, no *original is
 * written, *failed and err name the entry); bad arguments; and two threads calling the
 * functions while the batch commits and uncommits over and over.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mhook.h"
#include "check.h"
#include "bench.h"

#define SNAP 32
#define SENTINEL ((void *)(uintptr_t)0x5a5a5a50)
#define REPL_ADD 1000000   /* the replacement returns 3x + REPL_ADD, the originals 3x + k */

static int (*origs[BENCH_NFUNCS])(int);
static int ks[BENCH_NFUNCS];           /* bench_fns[i](x) == 3 * x + ks[i] */
static uint8_t snaps[BENCH_NFUNCS][SNAP];
static struct mhook_batch_entry ents[BENCH_NFUNCS];
static void *targets[BENCH_NFUNCS];

static int repl(int x)
{
	return 3 * x + REPL_ADD;
}

static const void *code_of(const void *fn)
{
	return (const void *)((uintptr_t)fn & ~(uintptr_t)1);
}

static void snap_all(void)
{
	for (int i = 0; i < BENCH_NFUNCS; i++)
		memcpy(snaps[i], code_of((const void *)bench_fns[i]), SNAP);
}

static int changed(void)
{
	int n = 0;

	for (int i = 0; i < BENCH_NFUNCS; i++)
		n += memcmp(snaps[i], code_of((const void *)bench_fns[i]), SNAP) != 0;
	return n;
}

/* ents[0..n) = bench_fns[first..first+n), each *original preset to SENTINEL. */
static void fill(int first, int n)
{
	for (int i = 0; i < n; i++) {
		origs[first + i] = (int (*)(int))SENTINEL;
		ents[i] = (struct mhook_batch_entry){ (void *)bench_fns[first + i], (void *)repl,
						      (void **)&origs[first + i], 12345 };
		targets[i] = (void *)bench_fns[first + i];
	}
}

static void test_whole_batch(void)
{
	size_t failed = 7;
	int bad = 0;

	snap_all();
	fill(0, BENCH_NFUNCS);
	CHECK_RC(mhook_patch_many(ents, BENCH_NFUNCS, &failed), 0);
	CHECK(failed == BENCH_NFUNCS, "failed = %zu on success", failed);
	for (int i = 0; i < BENCH_NFUNCS; i++) {
		bad += ents[i].err != 0;
		bad += bench_fns[i](5) != repl(5);
		bad += (void *)origs[i] == SENTINEL || origs[i](5) != 15 + ks[i];
	}
	CHECK(bad == 0, "%d wrong results, errs or originals after the batch", bad);
	CHECK(changed() == BENCH_NFUNCS, "only %d functions changed", changed());
	CHECK_RC(mhook_patch((void *)bench_fns[3], (void *)repl, NULL), MHOOK_E_PATCHED);
	CHECK_RC(mhook_unpatch_many(targets, BENCH_NFUNCS, &failed), 0);
	CHECK(failed == BENCH_NFUNCS, "unpatch: failed = %zu on success", failed);
	CHECK(changed() == 0, "%d functions not restored byte for byte", changed());
	bad = 0;
	for (int i = 0; i < BENCH_NFUNCS; i++)
		bad += bench_fns[i](5) != 15 + ks[i] || origs[i](5) != 15 + ks[i];
	CHECK(bad == 0, "%d wrong results after unpatch_many", bad);
	CHECK_RC(mhook_unpatch((void *)bench_fns[3]), MHOOK_E_NOT_PATCHED);
	/* A batch and single calls mix: patch singly, unpatch in a batch, and back. */
	CHECK_RC(mhook_patch((void *)bench_fns[9], (void *)repl, (void **)&origs[9]), 0);
	CHECK_RC(mhook_unpatch_many(&targets[9], 1, NULL), 0);
	fill(0, 16);
	CHECK_RC(mhook_patch_many(ents, 16, NULL), 0);
	for (int i = 0; i < 16; i++)
		CHECK_RC(mhook_unpatch(targets[i]), 0);
	CHECK(changed() == 0, "mixed single and batch calls left %d functions changed",
	      changed());
}

#if defined(__x86_64__)
extern int hz_loop_entry(int), hz_endbr(int);
#define REFUSED ((void *)hz_loop_entry)
#define REFUSED_RC MHOOK_E_BRANCH_INTO
#define PAD_FN hz_endbr            /* a landing pad: fn and fn + 4 patch the same bytes */
#define PAD_STEP 4
#elif defined(__aarch64__)
extern int hz_bti(int);
#define REFUSED ((void *)((uintptr_t)bench_fns[500] + 1))   /* misaligned */
#define REFUSED_RC MHOOK_E_INVAL
#define PAD_FN hz_bti
#define PAD_STEP 4
#elif defined(__arm__)
extern int hz_t_ret(int), hz_t_unaligned(int);
#define REFUSED ((void *)hz_t_ret)
#define REFUSED_RC MHOOK_E_TOO_SHORT
#define PAD_FN hz_t_unaligned      /* NOP + LDR.W PC + literal, and the 8 bytes at +2 */
#define PAD_STEP 2
#endif

/* A batch of 200 whose entry `at` targets target, which must fail with want: nothing may
 * change. */
static void expect_refused(const char *what, int at, int want, void *target)
{
	size_t failed = 0;
	int rc, errs = 0, sentinels = 0;

	fill(100, 200);
	ents[at].target = target;
	snap_all();
	rc = mhook_patch_many(ents, 200, &failed);
	CHECK(rc == want, "%s: returned %d (%s), wanted %d", what, rc, mhook_strerror(rc), want);
	CHECK(failed == (size_t)at, "%s: failed = %zu, wanted %d", what, failed, at);
	CHECK(ents[at].err == want, "%s: entry err %d", what, ents[at].err);
	for (int i = 0; i < 200; i++) {
		errs += i != at && ents[i].err != 0;
		sentinels += (void *)origs[100 + i] != SENTINEL;
	}
	CHECK(errs == 0, "%s: %d other entries have an err", what, errs);
	CHECK(sentinels == 0, "%s: %d *original written by a failed batch", what, sentinels);
	CHECK(changed() == 0, "%s: %d functions changed by a failed batch", what, changed());
	CHECK(bench_fns[150](2) == 6 + ks[150], "%s: a function of the batch is patched", what);
}

static void test_all_or_nothing(void)
{
	static int (*pad_orig)(int);
	uint8_t pad_before[SNAP];
	size_t failed = 0;

	expect_refused("refused entry", 120, REFUSED_RC, REFUSED);
	expect_refused("NULL target", 57, MHOOK_E_INVAL, NULL);
	fill(100, 200);
	ents[80].replacement = NULL;
	CHECK_RC(mhook_patch_many(ents, 200, &failed), MHOOK_E_INVAL);
	CHECK(failed == 80 && changed() == 0, "NULL replacement: failed %zu", failed);

	/* listed twice: the second one fails */
	fill(100, 200);
	ents[190].target = ents[30].target;
	CHECK_RC(mhook_patch_many(ents, 200, &failed), MHOOK_E_PATCHED);
	CHECK(failed == 190 && ents[190].err == MHOOK_E_PATCHED && ents[30].err == 0,
	      "duplicate: failed %zu", failed);
	CHECK(changed() == 0, "duplicate: functions changed");

	/* already patched by a single call */
	CHECK_RC(mhook_patch((void *)bench_fns[250], (void *)repl, NULL), 0);
	memcpy(snaps[250], code_of((const void *)bench_fns[250]), SNAP);
	expect_refused("already patched", 150, MHOOK_E_PATCHED, (void *)bench_fns[250]);
	CHECK_RC(mhook_unpatch((void *)bench_fns[250]), 0);

	/* two targets whose patch bytes overlap */
	memcpy(pad_before, code_of((const void *)PAD_FN), SNAP);
	snap_all();
	fill(100, 200);
	ents[10].target = (void *)PAD_FN;
	ents[10].original = (void **)&pad_orig;
	ents[170].target = (void *)((uintptr_t)PAD_FN + PAD_STEP);
	CHECK_RC(mhook_patch_many(ents, 200, &failed), MHOOK_E_OVERLAP);
	CHECK(failed == 170 && ents[170].err == MHOOK_E_OVERLAP && ents[10].err == 0,
	      "overlap: failed %zu", failed);
	CHECK(!pad_orig, "overlap: *original written");
	CHECK(changed() == 0 && memcmp(pad_before, code_of((const void *)PAD_FN), SNAP) == 0,
	      "overlap: code changed");
	/* Each alone is fine: the refusal was about the pair. */
	CHECK_RC(mhook_patch_many(ents, 11, NULL), 0);
	CHECK_RC(mhook_unpatch_many(targets, 10, NULL), 0);
	CHECK_RC(mhook_unpatch((void *)PAD_FN), 0);

	/* unpatch_many: one target not patched, and one listed twice */
	fill(100, 50);
	CHECK_RC(mhook_patch_many(ents, 50, NULL), 0);
	snap_all();
	targets[20] = (void *)bench_fns[400];
	CHECK_RC(mhook_unpatch_many(targets, 50, &failed), MHOOK_E_NOT_PATCHED);
	CHECK(failed == 20 && changed() == 0, "unpatch not patched: failed %zu", failed);
	targets[20] = targets[5];
	CHECK_RC(mhook_unpatch_many(targets, 50, &failed), MHOOK_E_NOT_PATCHED);
	CHECK(failed == 20 && changed() == 0, "unpatch twice: failed %zu", failed);
	targets[20] = NULL;
	CHECK_RC(mhook_unpatch_many(targets, 50, &failed), MHOOK_E_INVAL);
	CHECK(failed == 20 && changed() == 0, "unpatch NULL: failed %zu", failed);
	targets[20] = (void *)bench_fns[120];
	CHECK_RC(mhook_unpatch_many(targets, 50, &failed), 0);
}

static void test_args(void)
{
	size_t failed = 0;

	CHECK_RC(mhook_patch_many(NULL, 0, &failed), 0);
	CHECK(failed == 0, "n == 0: failed %zu", failed);
	CHECK_RC(mhook_unpatch_many(NULL, 0, NULL), 0);
	CHECK_RC(mhook_patch_many(NULL, 3, &failed), MHOOK_E_INVAL);
	CHECK(failed == 3, "NULL entries: failed %zu", failed);
	CHECK_RC(mhook_unpatch_many(NULL, 3, &failed), MHOOK_E_INVAL);
	CHECK(failed == 3, "NULL targets: failed %zu", failed);
	CHECK_RC(mhook_patch_many(ents, (size_t)MHOOK_BATCH_MAX + 1, &failed), MHOOK_E_INVAL);
	CHECK_RC(mhook_unpatch_many(targets, (size_t)MHOOK_BATCH_MAX + 1, &failed),
		 MHOOK_E_INVAL);
	CHECK(strcmp(mhook_strerror(MHOOK_E_OVERLAP), mhook_strerror(-100)) != 0,
	      "no message for MHOOK_E_OVERLAP");
}

/* --- under fire -------------------------------------------------------------------------- */

#define FIRE_N 32
static atomic_int stop;
static atomic_long calls_plain, calls_patched, calls_bad;

static void *caller(void *arg)
{
	(void)arg;
	for (int x = 0; !atomic_load_explicit(&stop, memory_order_relaxed); x = (x + 1) & 0xffff) {
		int i = x % FIRE_N, got = bench_fns[i](x);

		if (got == 3 * x + ks[i])
			atomic_fetch_add_explicit(&calls_plain, 1, memory_order_relaxed);
		else if (got == 3 * x + REPL_ADD)
			atomic_fetch_add_explicit(&calls_patched, 1, memory_order_relaxed);
		else
			atomic_fetch_add_explicit(&calls_bad, 1, memory_order_relaxed);
	}
	return NULL;
}

static void test_under_fire(void)
{
	const char *env = getenv("MHOOK_TEST_ROUNDS");
	int rounds = env && *env ? atoi(env) : 1000, bad_rc = 0;
	pthread_t t[2];

	snap_all();
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, caller, NULL);
	while (atomic_load(&calls_plain) < 1000)
		sched_yield();
	for (int r = 0; r < rounds; r++) {
		fill(0, FIRE_N);
		bad_rc += mhook_patch_many(ents, FIRE_N, NULL) != 0;
		for (volatile int spin = 0; spin < 2000; spin++)
			;
		bad_rc += mhook_unpatch_many(targets, FIRE_N, NULL) != 0;
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK(bad_rc == 0, "%d batch calls failed", bad_rc);
	CHECK(atomic_load(&calls_bad) == 0, "%ld calls returned a wrong result",
	      atomic_load(&calls_bad));
	CHECK(atomic_load(&calls_patched) > 0, "no call went through a replacement");
	CHECK(changed() == 0, "%d functions not restored after the rounds", changed());
	printf("%d rounds of %d: %ld plain calls, %ld patched calls\n", rounds, FIRE_N,
	       atomic_load(&calls_plain), atomic_load(&calls_patched));
}

int main(void)
{
	for (int i = 0; i < BENCH_NFUNCS; i++)
		ks[i] = bench_fns[i](0);
	test_args();
	test_whole_batch();
	test_all_or_nothing();
	test_under_fire();
	return check_done();
}
