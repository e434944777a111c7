/*
 * Patching under fire: two threads call a function in a tight loop while the main thread
 * patches and unpatches it thousands of times (a third thread sleeps in a system call).
 * Every call must land wholly in one version: the unpatched result, or the replacement's,
 * never a crash or a mix. MHOOK_TEST_ROUNDS overrides the round count (emulated lanes).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "mhook.h"
#include "check.h"

int busy_target(int x);
__attribute__((noinline, noipa)) int busy_target(int x)
{
	int a = x + 1, b = x ^ 0x55, c = x * 7;

	return (a + b) ^ c;
}

static int (*busy_orig)(int);
static int busy_repl(int x)
{
	return busy_orig(x) + 100000;
}

static atomic_int stop;
static atomic_long calls_plain, calls_patched, calls_bad;

static void *caller(void *arg)
{
	int (*volatile fn)(int) = busy_target;

	(void)arg;
	for (int x = 0; !atomic_load_explicit(&stop, memory_order_relaxed); x = (x + 1) & 0xffff) {
		int want = ((x + 1) + (x ^ 0x55)) ^ (x * 7);
		int got = fn(x);

		if (got == want)
			atomic_fetch_add_explicit(&calls_plain, 1, memory_order_relaxed);
		else if (got == want + 100000)
			atomic_fetch_add_explicit(&calls_patched, 1, memory_order_relaxed);
		else
			atomic_fetch_add_explicit(&calls_bad, 1, memory_order_relaxed);
	}
	return NULL;
}

static void *sleeper(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop))
		usleep(1000);
	return NULL;
}

int main(void)
{
	const char *env = getenv("MHOOK_TEST_ROUNDS");
	int rounds = env && *env ? atoi(env) : 3000, bad_rc = 0;
	pthread_t t[3];

	pthread_create(&t[0], NULL, caller, NULL);
	pthread_create(&t[1], NULL, caller, NULL);
	pthread_create(&t[2], NULL, sleeper, NULL);
	while (atomic_load(&calls_plain) < 1000)
		usleep(100);
	for (int i = 0; i < rounds; i++) {
		int rc = mhook_patch((void *)busy_target, (void *)busy_repl, (void **)&busy_orig);

		bad_rc += rc != 0;
		/* Let the callers run through the patched version for a moment. */
		for (volatile int spin = 0; spin < 2000; spin++)
			;
		rc = mhook_unpatch((void *)busy_target);
		bad_rc += rc != 0;
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	CHECK(bad_rc == 0, "%d patch/unpatch calls failed", bad_rc);
	CHECK(atomic_load(&calls_bad) == 0, "%ld calls returned a mixed result",
	      atomic_load(&calls_bad));
	CHECK(atomic_load(&calls_patched) > 0, "no call went through the replacement");
	CHECK(atomic_load(&calls_plain) > 0, "no call went through the original");
	printf("%d rounds: %ld plain calls, %ld patched calls\n", rounds,
	       atomic_load(&calls_plain), atomic_load(&calls_patched));
	return check_done();
}
