/*
 * libcounter.so: the shared-library half of the `counter` test target. It holds one
 * hookable function, counter_lib_fn, so that the integration tests can hook a function in a
 * library (LIB:NAME specs, library load bases, PIC code) next to one in the executable.
 * The function is deliberately trivial and deterministic: the tests check the arguments
 * mhookd reports and the total the program prints.
 */
long counter_lib_fn(long x);

__attribute__((noinline, used, visibility("default")))
long counter_lib_fn(long x)
{
	__asm__ volatile("" ::: "memory");
	return 2 * x;
}
