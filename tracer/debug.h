/*
 * MHOOK_DEBUG, read once: 1 logs every write into a tracee and every injected syscall, 2
 * also every ptrace stop and resume. Any other non-empty value but "0" means 1.
 */
#ifndef MHOOK_DEBUG_H
#define MHOOK_DEBUG_H

/* The level MHOOK_DEBUG asks for: 0 when unset. */
int debug_level(void);

/* Writes one "mhook-debug: " line to stderr. */
void debug_print(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* debug_print when the level is at least level. A macro, so that the stop loop pays one
 * test per call, not a call with its arguments, when debugging is off. */
#define debug_log(level, ...)                                                   \
	do {                                                                    \
		if (debug_level() >= (level))                                   \
			debug_print(__VA_ARGS__);                               \
	} while (0)

#endif
