/*
 * mhook_patch and mhook_unpatch on plain C functions and on the hand-written hazard
 * functions of this arch (hazards_<arch>.S): each one is patched, called through the
 * replacement and through *original, unpatched, and its bytes compared with a snapshot.
 * Hazards that must be refused are checked for the exact error code.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <stdint.h>
#include <string.h>

#include "mhook.h"
#include "check.h"

typedef int (*int_fn)(int);

int plain_target(int x);
__attribute__((noinline, noipa)) int plain_target(int x)
{
	int r = x;

	for (int i = 0; i < 3; i++)
		r = r * 3 + i;
	return r;
}

static int_fn plain_orig;

static int plain_repl(int x)
{
	return plain_orig(x) + 1000000;
}

/* One hazard function: how to call it, what it returns unpatched, what patching gives. */
struct hazard {
	const char *name;
	int_fn fn;
	int arg, want;        /* fn(arg) == want when unpatched */
	int rc;               /* what mhook_patch must return */
};

#define HZ(f) extern int f(int)
#define ANY INT_MIN   /* the function's result is not defined (x86 `ret` alone) */
#if defined(__x86_64__)
HZ(hz_rip_load); HZ(hz_short_jcc); HZ(hz_loop_entry); HZ(hz_ret_only); HZ(hz_endbr);
HZ(hz_call_rel);
static const struct hazard hazards[] = {
	{ "rip-relative load", hz_rip_load, 5, 1005, 0 },
	{ "short jcc in prologue", hz_short_jcc, 0, 2, 0 },
	{ "short jcc not taken", hz_short_jcc, 3, 1, 0 },
	{ "loop back into the entry", hz_loop_entry, 4, 10, MHOOK_E_BRANCH_INTO },
	{ "ret only", hz_ret_only, 0, ANY, MHOOK_E_TOO_SHORT },
	{ "endbr64 first", hz_endbr, 1, 8, 0 },
	{ "call rel32 displaced", hz_call_rel, 2, 43, 0 },
};
#elif defined(__aarch64__)
HZ(hz_adrp); HZ(hz_cbz); HZ(hz_ldr_lit); HZ(hz_bti); HZ(hz_ret_only); HZ(hz_tbz);
HZ(hz_adr);
static const struct hazard hazards[] = {
	{ "adrp", hz_adrp, 5, 1005, 0 },
	{ "cbz taken", hz_cbz, 0, 2, 0 },
	{ "cbz not taken", hz_cbz, 1, 1, 0 },
	{ "ldr literal", hz_ldr_lit, 5, 1005, 0 },
	{ "bti c kept", hz_bti, 1, 8, 0 },
	{ "lone ret", hz_ret_only, 9, 9, 0 },
	{ "tbz", hz_tbz, 2, 20, 0 },
	{ "adr", hz_adr, 0, 77, 0 },
};
#elif defined(__arm__)
HZ(hz_arm_ldr_lit); HZ(hz_arm_short); HZ(hz_arm_bx); HZ(hz_arm_adr);
HZ(hz_t_ldr_lit); HZ(hz_t_unaligned); HZ(hz_t_short); HZ(hz_t_it); HZ(hz_t_cbz); HZ(hz_t_ret);
HZ(hz_t_ldrw_lit);
static const struct hazard hazards[] = {
	{ "arm ldr literal", hz_arm_ldr_lit, 5, 1005, 0 },
	{ "arm 8-byte function", hz_arm_short, 1, 2, 0 },
	{ "arm lone bx lr", hz_arm_bx, 3, 3, 0 },
	{ "arm adr", hz_arm_adr, 0, 77, 0 },
	{ "thumb ldr literal", hz_t_ldr_lit, 5, 1005, 0 },
	{ "thumb entry at 2 mod 4", hz_t_unaligned, 0, 15, 0 },
	{ "thumb 4-byte function", hz_t_short, 1, 2, 0 },
	{ "thumb it block (eq)", hz_t_it, 0, 5, 0 },
	{ "thumb it block (ne)", hz_t_it, 1, 6, 0 },
	{ "thumb cbz", hz_t_cbz, 0, 2, 0 },
	{ "thumb lone bx lr", hz_t_ret, 4, 4, MHOOK_E_TOO_SHORT },
	{ "thumb ldr.w literal", hz_t_ldrw_lit, 5, 1005, 0 },
};
#endif

static int_fn hz_orig;
static int hz_repl(int x)
{
	return hz_orig(x) + 1000000;
}

static void test_hazard(const struct hazard *h)
{
	uint8_t before[32], after[32];
	uintptr_t code = (uintptr_t)h->fn & ~(uintptr_t)1;
	int rc;

	memcpy(before, (void *)code, sizeof(before));
	CHECK(h->want == ANY || h->fn(h->arg) == h->want, "%s: unpatched %d", h->name,
	      h->fn(h->arg));
	rc = mhook_patch((void *)h->fn, (void *)hz_repl, (void **)&hz_orig);
	CHECK(rc == h->rc, "%s: patch returned %d (%s)", h->name, rc, mhook_strerror(rc));
	if (rc < 0) {
		memcpy(after, (void *)code, sizeof(after));
		CHECK(memcmp(before, after, sizeof(before)) == 0, "%s: refused but changed",
		      h->name);
		return;
	}
	CHECK(h->fn(h->arg) == h->want + 1000000, "%s: patched %d", h->name, h->fn(h->arg));
	CHECK(hz_orig(h->arg) == h->want, "%s: original %d", h->name, hz_orig(h->arg));
	CHECK_RC(mhook_unpatch((void *)h->fn), 0);
	memcpy(after, (void *)code, sizeof(after));
	CHECK(memcmp(before, after, sizeof(before)) == 0, "%s: bytes not restored", h->name);
	CHECK(h->fn(h->arg) == h->want, "%s: unpatched again %d", h->name, h->fn(h->arg));
	CHECK(hz_orig(h->arg) == h->want, "%s: trampoline after unpatch", h->name);
}

static void test_plain(void)
{
	uint8_t before[32];
	int want = plain_target(7);
	int_fn first;

	memcpy(before, (void *)((uintptr_t)plain_target & ~(uintptr_t)1), sizeof(before));
	CHECK_RC(mhook_patch((void *)plain_target, (void *)plain_repl, (void **)&plain_orig), 0);
	CHECK(plain_target(7) == want + 1000000, "patched: %d", plain_target(7));
	CHECK_RC(mhook_patch((void *)plain_target, (void *)plain_repl, NULL), MHOOK_E_PATCHED);
	CHECK_RC(mhook_unpatch((void *)plain_target), 0);
	CHECK_RC(mhook_unpatch((void *)plain_target), MHOOK_E_NOT_PATCHED);
	CHECK(memcmp(before, (void *)((uintptr_t)plain_target & ~(uintptr_t)1), 32) == 0,
	      "bytes not restored exactly");
	CHECK(plain_target(7) == want, "unpatched: %d", plain_target(7));
	first = plain_orig;
	/* Patching again after an unpatch is allowed; the old trampoline stays callable. */
	CHECK_RC(mhook_patch((void *)plain_target, (void *)plain_repl, (void **)&plain_orig), 0);
	CHECK(plain_target(7) == want + 1000000, "repatched: %d", plain_target(7));
	CHECK(first(7) == want, "old trampoline: %d", first(7));
	CHECK_RC(mhook_unpatch((void *)plain_target), 0);
}

#if defined(__x86_64__) || defined(__arm__)
/* A thread blocked in a system call made by the first instruction of a function has its
 * PC inside the bytes a patch overwrites; patching must move it into the trampoline. */
extern long hz_call_sleep(void);
extern int hz_sleep_entry(int);
static volatile int sleeper_back;

static void *sleeper(void *arg)
{
	long rc = hz_call_sleep();

	(void)arg;
	sleeper_back = 1;
	return (void *)rc;
}

static void test_pc_inside_patch(void)
{
	struct timespec ts = { 0, 200000000 };
	pthread_t t;
	void *rc;

	pthread_create(&t, NULL, sleeper, NULL);
	nanosleep(&ts, NULL);   /* let it block in the syscall */
	CHECK_RC(mhook_patch((void *)hz_sleep_entry, (void *)hz_repl, (void **)&hz_orig), 0);
	pthread_join(t, &rc);
	CHECK(sleeper_back && (long)rc == -EINTR, "sleeper came back with %ld", (long)rc);
	CHECK_RC(mhook_unpatch((void *)hz_sleep_entry), 0);
}
#endif

/* Two more functions for the fork test: distinct results, same shape. */
int fork_a(int x);
int fork_b(int x);
__attribute__((noinline, noipa)) int fork_a(int x)
{
	volatile int r = x;

	return r * 5 + 1;
}
__attribute__((noinline, noipa)) int fork_b(int x)
{
	volatile int r = x;

	return r * 7 + 2;
}

/* A forked child shares the trampoline pool's memory with its parent; its patches must
 * not land in slots the parent hands out later. */
static void test_fork(void)
{
	int_fn a_orig = NULL;
	int go[2], status = 0;
	pid_t pid;
	char c = 0;

	if (pipe(go) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		int_fn b_orig;

		if (read(go[0], &c, 1) != 1)
			_exit(2);
		_exit(mhook_patch((void *)fork_b, (void *)plain_repl, (void **)&b_orig) ? 3 : 0);
	}
	CHECK_RC(mhook_patch((void *)fork_a, (void *)plain_repl, (void **)&a_orig), 0);
	CHECK(write(go[1], &c, 1) == 1, "pipe");
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
	CHECK(a_orig && a_orig(3) == 16, "parent's trampoline after the child patched: %d",
	      a_orig ? a_orig(3) : -1);
	CHECK_RC(mhook_unpatch((void *)fork_a), 0);
	close(go[0]);
	close(go[1]);
}

static void test_args(void)
{
	CHECK_RC(mhook_patch(NULL, (void *)plain_repl, NULL), MHOOK_E_INVAL);
	CHECK_RC(mhook_patch((void *)plain_target, NULL, NULL), MHOOK_E_INVAL);
	CHECK_RC(mhook_unpatch(NULL), MHOOK_E_INVAL);
	CHECK_RC(mhook_unpatch((void *)test_args), MHOOK_E_NOT_PATCHED);
	for (int e = 0; e >= MHOOK_E_DECODE; e--)
		CHECK(strlen(mhook_strerror(e)) > 5 && strcmp(mhook_strerror(e),
		      mhook_strerror(-100)) != 0, "no message for %d", e);
}

int main(void)
{
	test_args();
	test_plain();
	test_fork();
#if defined(__x86_64__) || defined(__arm__)
	test_pc_inside_patch();
#endif
	for (size_t i = 0; i < sizeof(hazards) / sizeof(hazards[0]); i++)
		test_hazard(&hazards[i]);
	return check_done();
}
