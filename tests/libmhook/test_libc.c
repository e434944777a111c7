/*
 * Hooking the libc functions libmhook itself relies on: malloc, free, memcpy and
 * mprotect are patched with counting wrappers that call the originals, and while they
 * are live another function is patched and unpatched (which is when libmhook would use
 * them). Then everything is unpatched and the counts checked. Not sanitized: ASan
 * replaces malloc and memcpy with its own interceptors.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mhook.h"
#include "check.h"

static void *(*malloc_orig)(size_t);
static void (*free_orig)(void *);
static void *(*memcpy_orig)(void *, const void *, size_t);
static int (*mprotect_orig)(void *, size_t, int);
static volatile long n_malloc, n_free, n_memcpy, n_mprotect;

static void *my_malloc(size_t n) { n_malloc++; return malloc_orig(n); }
static void my_free(void *p) { n_free++; free_orig(p); }
static void *my_memcpy(void *d, const void *s, size_t n) { n_memcpy++; return memcpy_orig(d, s, n); }
static int my_mprotect(void *a, size_t n, int p) { n_mprotect++; return mprotect_orig(a, n, p); }

int twice(int x);
__attribute__((noinline, noipa)) int twice(int x)
{
	volatile int r = 0;

	for (int i = 0; i < 2; i++)
		r += x;
	return r;
}

static int (*twice_orig)(int);
static int twice_repl(int x) { return twice_orig(x) + 1; }

int main(void)
{
	void *(*volatile p_malloc)(size_t) = malloc;
	void (*volatile p_free)(void *) = free;
	void *(*volatile p_memcpy)(void *, const void *, size_t) = memcpy;
	int (*volatile p_mprotect)(void *, size_t, int) = mprotect;
	char src[32] = "monkey", dst[32];
	bool memcpy_hooked;
	int rc;
	void *blk;

	CHECK_RC(mhook_patch((void *)p_malloc, (void *)my_malloc, (void **)&malloc_orig), 0);
	CHECK_RC(mhook_patch((void *)p_free, (void *)my_free, (void **)&free_orig), 0);
	/* glibc's x86-64 mempcpy jumps to memcpy's second instruction: a refusal is the
	 * right answer there, a crash is not. */
	rc = mhook_patch((void *)p_memcpy, (void *)my_memcpy, (void **)&memcpy_orig);
	CHECK(rc == 0 || rc == MHOOK_E_BRANCH_INTO, "memcpy: %s", mhook_strerror(rc));
	memcpy_hooked = rc == 0;
	if (!memcpy_hooked)
		printf("memcpy refused: %s\n", mhook_strerror(rc));
	CHECK_RC(mhook_patch((void *)p_mprotect, (void *)my_mprotect, (void **)&mprotect_orig), 0);
	CHECK_RC(mhook_patch((void *)twice, (void *)twice_repl, (void **)&twice_orig), 0);
	CHECK(twice(5) == 11, "twice patched");
	CHECK_RC(mhook_unpatch((void *)twice), 0);
	blk = p_malloc(100);
	p_memcpy(dst, src, sizeof(src));
	p_free(blk);
	CHECK(strcmp(dst, "monkey") == 0, "memcpy through the trampoline");
	CHECK(n_malloc >= 1 && n_free >= 1 && (n_memcpy >= 1 || !memcpy_hooked),
	      "wrappers ran: %ld %ld %ld", n_malloc, n_free, n_memcpy);
	CHECK_RC(mhook_unpatch((void *)p_mprotect), 0);
	CHECK_RC(mhook_unpatch((void *)p_memcpy), memcpy_hooked ? 0 : MHOOK_E_NOT_PATCHED);
	CHECK_RC(mhook_unpatch((void *)p_free), 0);
	CHECK_RC(mhook_unpatch((void *)p_malloc), 0);
	n_malloc = 0;
	free(malloc(10));
	CHECK(n_malloc == 0, "malloc unpatched");
	return check_done();
}
