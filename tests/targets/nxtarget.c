/*
 * nxtarget: the nx strategy's own test target. Everything here is small enough to share
 * one code page with the hookable nx_fn, which is the point: the page nx guards also
 * holds the caller's loop, a SIGSEGV handler, and the code that changes the page's
 * protection.
 *
 * `nxtarget segv N`: calls nx_fn N times, and after each call dereferences NULL once;
 *     its SIGSEGV handler (on the guarded page) siglongjmps back. Prints
 *     `nx_fn=N sum=S segv=N`: every one of the target's own SIGSEGVs must reach it.
 * `nxtarget mprotect N`: calls nx_fn N times, then mprotects nx_fn's page itself
 *     (read-write-exec, then read-exec, as a code patcher would; it runs on that page, so
 *     it never drops PROT_EXEC itself), sleeps
 *     0.5 s (mhookd notices within 100 ms), calls nx_fn N more times. Prints
 *     `nx_fn=2N sum=S`.
 * `nxtarget mdwe 0`: turns on PR_SET_MDWE's refuse-exec-gain (a page that loses PROT_EXEC
 *     can never get it back), prints `ready <pid>` and waits for a line on stdin; prints
 *     `no-mdwe` and exits at once if the kernel lacks it.
 * `nxtarget read-implies-exec 0`: sets the READ_IMPLIES_EXEC personality (under which a
 *     readable page cannot lose PROT_EXEC), then prints `ready <pid>` and waits as `mdwe`
 *     does. (`setarch -X` cannot give it to a 64-bit program: exec drops it.)
 */
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#define PR_MDWE_REFUSE_EXEC_GAIN 1
#endif

long nx_fn(long x);

__attribute__((noinline, used))
long nx_fn(long x)
{
	__asm__ volatile("" ::: "memory");
	return x * 2 + 1;
}

static long (*volatile fn)(long) = nx_fn;
static int *volatile null_ptr;
static sigjmp_buf env;
static volatile sig_atomic_t segvs;

static void on_segv(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	(void)ctx;
	if (si->si_addr != NULL)
		_exit(5); /* not the fault we made */
	segvs++;
	siglongjmp(env, 1);
}

static long calls(long n, long *sum)
{
	for (long i = 0; i < n; i++)
		*sum += fn(i);
	return n;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: nxtarget segv|mprotect N\n");
		return 2;
	}
	long n = atol(argv[2]), sum = 0, made = 0;

	if (!strcmp(argv[1], "segv")) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_segv;
		sa.sa_flags = SA_SIGINFO;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGSEGV, &sa, NULL);
		for (long i = 0; i < n; i++) {
			made += calls(1, &sum);
			if (sigsetjmp(env, 1) == 0)
				*null_ptr = 1;
		}
		printf("nx_fn=%ld sum=%ld segv=%d\n", made, sum, (int)segvs);
		return 0;
	}
	if (!strcmp(argv[1], "mprotect")) {
		uintptr_t page = (uintptr_t)nx_fn & ~(uintptr_t)4095;
		made += calls(n, &sum);
		if (mprotect((void *)page, 4096, PROT_READ | PROT_WRITE | PROT_EXEC) ||
		    mprotect((void *)page, 4096, PROT_READ | PROT_EXEC))
			return 3;
		struct timespec ts = { 0, 500 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		made += calls(n, &sum);
		printf("nx_fn=%ld sum=%ld\n", made, sum);
		return 0;
	}
	bool read_implies_exec = !strcmp(argv[1], "read-implies-exec");
	if (!strcmp(argv[1], "mdwe") || read_implies_exec) {
		char line[16];
		if (read_implies_exec) {
			if (personality(personality(0xffffffff) | READ_IMPLIES_EXEC) < 0)
				return 3;
		} else if (prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0L, 0L, 0L) != 0) {
			printf("no-mdwe\n");
			return 0;
		}
		printf("ready %d\n", (int)getpid());
		fflush(stdout);
		/* read, not fgets: stdio would allocate its buffer in the heap on the first
		 * read, maybe after the test's snapshot, and the heap is compared (it is
		 * executable under READ_IMPLIES_EXEC). */
		return read(0, line, sizeof(line)) > 0 ? 0 : 3;
	}
	return 2;
}
