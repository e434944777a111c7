/*
 * Raw system calls and small helpers. libmhook must keep working while the user patches
 * mprotect, mmap, memcpy or malloc, and while other threads are parked possibly holding
 * libc locks, so the code that runs during a patch goes straight to the kernel through
 * syscall(2) and copies bytes itself. The debug log (MHOOK_DEBUG=1) is the one place that
 * uses stdio-style formatting, and it is never called while threads are parked.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "libmhook/internal.h"

/* Returns the result, or -errno. Only -1 means failure: on 32-bit ARM an mmap above
 * 2 GiB is a negative long. */
long mh_sys(long nr, long a, long b, long c, long d, long e, long f)
{
	long r = syscall(nr, a, b, c, d, e, f);

	return r == -1 ? -errno : r;
}

void *mh_mmap(void *hint, size_t len, int prot)
{
	long r;

#ifdef SYS_mmap2
	r = mh_sys(SYS_mmap2, (long)hint, (long)len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
#else
	r = mh_sys(SYS_mmap, (long)hint, (long)len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
#endif
	if (r < 0 && r > -4096)
		return NULL;
	return (void *)r;
}

int mh_mprotect(uintptr_t addr, size_t len, int prot)
{
	return (int)mh_sys(SYS_mprotect, (long)addr, (long)len, prot, 0, 0, 0);
}

int mh_gettid(void)
{
	return (int)mh_sys(SYS_gettid, 0, 0, 0, 0, 0, 0);
}

void mh_yield(void)
{
	mh_sys(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
}

/* Words when both ends are aligned (plans and trampoline slots are): a batch copies a few
 * hundred bytes per entry. The loops stay loops because the build forbids GCC to turn
 * them into memcpy calls (-fno-tree-loop-distribute-patterns). */
typedef uintptr_t __attribute__((may_alias)) mh_word;

void mh_copy(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;
	size_t i = 0;

	if ((((uintptr_t)d | (uintptr_t)s) & (sizeof(mh_word) - 1)) == 0)
		for (; i + sizeof(mh_word) <= n; i += sizeof(mh_word))
			*(mh_word *)(void *)(d + i) = *(const mh_word *)(const void *)(s + i);
	for (; i < n; i++)
		d[i] = s[i];
}

bool mh_equal(const void *a, const void *b, size_t n)
{
	const volatile uint8_t *x = a, *y = b;

	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return false;
	return true;
}

static int debug_on(void)
{
	static int on = -1;

	if (on < 0) {
		const char *v = getenv("MHOOK_DEBUG");

		on = v && *v && strcmp(v, "0") != 0;
	}
	return on;
}

void mh_debug(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	if (!debug_on())
		return;
	n = snprintf(line, sizeof(line), "mhook: ");
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	mh_sys(SYS_write, 2, (long)line, n, 0, 0, 0);
}

void mh_debug_bytes(const char *what, uintptr_t addr, const uint8_t *b, size_t n)
{
	char hex[3 * 64 + 1];
	size_t k = 0;

	if (!debug_on())
		return;
	for (size_t i = 0; i < n && i < 64; i++)
		k += (size_t)snprintf(hex + k, sizeof(hex) - k, "%02x ", b[i]);
	hex[k ? k - 1 : 0] = 0;
	mh_debug("%s %#lx [%zu]: %s", what, (unsigned long)addr, n, hex);
}
