/*
 * libctor.so: a library whose constructor calls a hooked function (ctor_fn) 3 times, so
 * a test can check that mhookd arms hooks before library constructors run.
 */
__attribute__((noinline, used)) long ctor_fn(long x)
{
	__asm__ volatile("" ::: "memory");
	return x + 1;
}

__attribute__((constructor)) static void libctor_init(void)
{
	for (long i = 0; i < 3; i++)
		ctor_fn(i);
}
