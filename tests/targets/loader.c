/*
 * loader: libraries that arrive after the start. `loader ROUNDS CALLS [--wait]` is linked
 * with libctor.so (whose constructor calls ctor_fn 3 times); main calls ctor_fn twice,
 * then ROUNDS times: dlopen libplugin.so (its constructor calls plugin_fn once), call
 * plugin_fn CALLS times, dlclose it. So plugin_fn runs ROUNDS * (CALLS + 1) times, and a
 * dlclose followed by a second dlopen is exercised. --wait prints `ready <pid>` and reads
 * a line from stdin before main's calls (attach tests: the plugin is loaded after the
 * attach). --wait-open does the same after the first dlopen (the plugin is loaded at the
 * attach, then closed and opened again). Prints `plugin_calls=N`.
 */
#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

long ctor_fn(long x);

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: loader ROUNDS CALLS [--wait]\n");
		return 2;
	}
	long rounds = atol(argv[1]), calls = atol(argv[2]), done = 0;
	char self[PATH_MAX], plugin[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return 3;
	self[n] = 0;
	snprintf(plugin, sizeof(plugin), "%s/libplugin.so", dirname(self));
	void *h = NULL;
	if (argc > 3 && !strcmp(argv[3], "--wait-open") && !(h = dlopen(plugin, RTLD_NOW))) {
		fprintf(stderr, "loader: %s\n", dlerror());
		return 5;
	}
	if (argc > 3 && (!strcmp(argv[3], "--wait") || h)) {
		char line[16];
		printf("ready %d\n", (int)getpid());
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return 4;
	}
	ctor_fn(100);
	ctor_fn(101);
	for (long r = 0; r < rounds; r++) {
		if (!h)
			h = dlopen(plugin, RTLD_NOW);
		if (!h) {
			fprintf(stderr, "loader: %s\n", dlerror());
			return 5;
		}
		long (*fn)(long) = (long (*)(long))dlsym(h, "plugin_fn");
		for (long i = 0; i < calls; i++)
			done += fn(i) >= 0;
		dlclose(h);
		h = NULL;
	}
	printf("plugin_calls=%ld\n", done);
	return 0;
}
