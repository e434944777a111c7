/*
 * The smallest test harness that can fail: CHECK counts a pass or prints the failed
 * condition with its line, and check_done prints "N passed, M failed" and gives the exit
 * status. Header-only, so each test program stays one file.
 */
#ifndef MHOOK_TEST_CHECK_H
#define MHOOK_TEST_CHECK_H

#include <stdio.h>

static int check_pass, check_fail;

#define CHECK(cond, ...)                                                        \
	do {                                                                    \
		if (cond) {                                                     \
			check_pass++;                                           \
		} else {                                                        \
			check_fail++;                                           \
			printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);  \
			printf(__VA_ARGS__);                                    \
			printf("\n");                                           \
		}                                                               \
	} while (0)

/* CHECK that an mhook call returned want, printing the error text when not. */
#define CHECK_RC(call, want)                                                    \
	do {                                                                    \
		int rc_ = (call);                                               \
		CHECK(rc_ == (want), "%s returned %d (%s), wanted %d", #call,   \
		      rc_, mhook_strerror(rc_), (want));                        \
	} while (0)

static inline int check_done(void)
{
	printf("%d passed, %d failed\n", check_pass, check_fail);
	return check_fail ? 1 : 0;
}

#endif
