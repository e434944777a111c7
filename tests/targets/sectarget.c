/*
 * sectarget: a target that sandboxes itself with a seccomp filter, as browsers and
 * services do, so that mhookd's injected syscalls meet the filter. `sectarget ACTION
 * SYSCALL N` prints `ready <pid>`, then installs (libseccomp) a filter that allows
 * everything but SYSCALL (mmap or mprotect), which gets ACTION: errno (EPERM), kill
 * (KILL_PROCESS) or trap (SIGSYS, caught and counted). It prints `filtered`, waits for a
 * line on stdin, calls sec_fn N times and prints `calls=<N> sum=<sum> sigsys=<SIGSYS
 * caught>`. A SIGSYS raised by mhookd's own syscall must never reach it.
 */
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t sigsys;

__attribute__((noinline, used)) long sec_fn(long x)
{
	__asm__ volatile("" ::: "memory");
	return x * 3;
}

static long (*volatile sec_ptr)(long) = sec_fn;

static void on_sigsys(int sig)
{
	(void)sig;
	sigsys++;
}

int main(int argc, char **argv)
{
	char line[16];
	uint32_t action;
	long n, sum = 0;
	int nr;

	if (argc != 4) {
		fprintf(stderr, "usage: sectarget errno|kill|trap mmap|mprotect N\n");
		return 2;
	}
	action = !strcmp(argv[1], "errno") ? SCMP_ACT_ERRNO(1)
		 : !strcmp(argv[1], "kill") ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_TRAP;
	nr = seccomp_syscall_resolve_name(argv[2]);
	n = atol(argv[3]);
	signal(SIGSYS, on_sigsys);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);

	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx || nr < 0 || seccomp_rule_add(ctx, action, nr, 0) < 0 || seccomp_load(ctx) < 0)
		return 3;
	seccomp_release(ctx);
	printf("filtered\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 4;
	for (long i = 0; i < n; i++)
		sum += sec_ptr(i);
	printf("calls=%ld sum=%ld sigsys=%d\n", n, sum, (int)sigsys);
	return 0;
}
