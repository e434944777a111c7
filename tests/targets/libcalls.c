/*
 * libcalls: calls into libc and a six-argument function, for the tests of IFUNC hooking and
 * of argument reporting. `libcalls N` calls strlen (an IFUNC: the call goes to the
 * implementation the resolver picked, e.g. __strlen_avx2) N times on strings of known
 * length, and six_fn(a, b, c, d, e, f) N times with arguments derived from the iteration, so
 * a test can check all six argument registers in the call events. Prints `strlen=<sum of
 * lengths> six=<sum>`. It uses write(2), not stdio, so libc itself calls strlen as little
 * as possible; the exact count is still taken from gdb in the test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

long six_fn(long a, long b, long c, long d, long e, long f);

__attribute__((noinline, used))
long six_fn(long a, long b, long c, long d, long e, long f)
{
	__asm__ volatile("" ::: "memory");
	return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f;
}

static long (*volatile six_ptr)(long, long, long, long, long, long) = six_fn;
static size_t (*volatile strlen_ptr)(const char *) = strlen;

int main(int argc, char **argv)
{
	static const char *const words[] = { "", "a", "hello", "sixteen bytes...",
					     "a string longer than thirty-two bytes, for the vector loop" };
	if (argc != 2)
		return 2;
	long n = atol(argv[1]);
	long lens = 0, six = 0;
	for (long i = 0; i < n; i++) {
		lens += (long)strlen_ptr(words[i % 5]);
		six += six_ptr(i, -i, i << 8, 0x7fffffffffffffffL - i, (long)0x8000000000000000UL + i, 0xabcdef);
	}
	char buf[128];
	int len = snprintf(buf, sizeof buf, "strlen=%ld six=%ld\n", lens, six);
	if (write(1, buf, (size_t)len) != len)
		return 1;
	return 0;
}
