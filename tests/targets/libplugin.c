/*
 * libplugin.so: loaded with dlopen by the loader target. Its constructor calls plugin_fn
 * once, so a hook armed at dlopen time must be in place before constructors run.
 */
__attribute__((noinline, used)) long plugin_fn(long x)
{
	__asm__ volatile("" ::: "memory");
	return x * 2;
}

__attribute__((constructor)) static void plugin_init(void)
{
	plugin_fn(-1);
}
