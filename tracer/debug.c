/*
 * The debug trace (see debug.h). It goes to stderr unbuffered, straight from the tracer
 * thread, so that it stays in order with what the tracee prints when both share a terminal.
 */
#include "tracer/debug.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int debug_level(void)
{
	static int level = -1;

	if (level < 0) {
		const char *v = getenv("MHOOK_DEBUG");
		if (!v || !*v || !strcmp(v, "0"))
			level = 0;
		else
			level = atoi(v) > 0 ? atoi(v) : 1;
	}
	return level;
}

void debug_print(const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "mhook-debug: %s\n", line);
}
