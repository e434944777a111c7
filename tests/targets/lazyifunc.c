/*
 * lazyifunc: an IFUNC that nothing has bound yet. `lazyifunc N [--wait]` calls strncat (an
 * IFUNC in libc) N times through its PLT slot, which this program's lazy binding
 * (-z lazy) leaves unresolved until the first call, and which libc never calls itself:
 * before that call no slot in the process names the implementation, and only running the
 * resolver tells which one it will be. --wait first prints `ready <pid>` and waits for a
 * line on stdin (blocked in read, where an attaching tracer finds it). Prints
 * `strncat=N len=L`.
 *
 * Two IFUNCs of its own that nothing references, so that no relocation ever runs their
 * resolvers: lz_good, whose resolver returns lz_impl, and lz_bad, whose resolver faults
 * (a NULL load), for a tracer that runs resolvers itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

long lz_impl(long x);
long lz_good(long x);
long lz_bad(long x);

__attribute__((noinline, used))
long lz_impl(long x)
{
	return x + 1;
}

typedef long lz_fn(long);
static lz_fn *volatile *volatile nowhere;

static lz_fn *resolve_good(void)
{
	return lz_impl;
}

static lz_fn *resolve_bad(void)
{
	return *nowhere;
}

__attribute__((used)) long lz_good(long x) __attribute__((ifunc("resolve_good")));
__attribute__((used)) long lz_bad(long x) __attribute__((ifunc("resolve_bad")));

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	long n = atol(argv[1]);
	if (argc > 2 && !strcmp(argv[2], "--wait")) {
		char line[64];
		printf("ready %d\n", (int)getpid());
		fflush(stdout);
		if (read(0, line, sizeof(line)) <= 0)
			return 4;
	}
	char buf[64];
	size_t len = 0;
	for (long i = 0; i < n; i++) {
		buf[0] = 0;
		strncat(buf, "abc", (size_t)(i % 4));
		len += strlen(buf);
	}
	printf("strncat=%ld len=%zu\n", n, len);
	return 0;
}
