/*
 * ptrace_rtt: the bare ptrace stop-and-continue round trip that `make bench` compares
 * mhookd's swbp strategy with. `ptrace_rtt N` forks a child that executes `int3` N times in
 * a loop; for each trap the parent does what one breakpoint hit needs at the least: waitpid,
 * PTRACE_GETREGS, PTRACE_CONT (suppressing the SIGTRAP). It prints `rtt_ns=<ns per
 * iteration>`. Pin it with `taskset -c 0` to keep tracer and child on one CPU.
 * `ptrace_rtt N --spin` polls waitpid(WNOHANG) instead of blocking in it, which saves the
 * wake-up of an idle CPU when tracer and child run on different CPUs.
 * `ptrace_rtt N --hwbp` (x86-64) stops the child with a hardware execute breakpoint (DR0,
 * enabled in DR7) on a function it calls N times instead of int3: the bare round trip that
 * mhookd's hwbp strategy is compared with (`make compare`).
 */
#include <stddef.h>
#include <string.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

__attribute__((noinline, used)) void rtt_fn(void);
__attribute__((noinline, used)) void rtt_fn(void)
{
	__asm__ volatile("" ::: "memory");
}

static void (*volatile rtt_ptr)(void) = rtt_fn;

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	int spin = 0, hwbp = 0;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--spin"))
			spin = 1;
		else if (!strcmp(argv[i], "--hwbp"))
			hwbp = 1;
		else
			argc = 0;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: ptrace_rtt N [--spin] [--hwbp]\n");
		return 2;
	}
	long n = atol(argv[1]);
	if (n < 1)
		return 2;

	pid_t pid = fork();
	if (pid < 0) {
		perror("ptrace_rtt: fork");
		return 1;
	}
	if (pid == 0) {
		if (ptrace(PTRACE_TRACEME, 0, 0, 0) < 0)
			_exit(1);
		raise(SIGSTOP);
		if (hwbp)
			for (long i = 0; i < n; i++)
				rtt_ptr();
		else
			for (long i = 0; i < n; i++)
				__asm__ volatile("int3");
		_exit(0);
	}

	int status;
	if (waitpid(pid, &status, 0) != pid || !WIFSTOPPED(status)) {
		fprintf(stderr, "ptrace_rtt: child did not stop\n");
		return 1;
	}
	ptrace(PTRACE_SETOPTIONS, pid, 0, (void *)PTRACE_O_EXITKILL);
	if (hwbp) {
#if defined(__x86_64__)
		/* DR0 = rtt_fn (the same address in the forked child), DR7 = local enable of
		 * slot 0, execute, length 1. */
		long dr = (long)offsetof(struct user, u_debugreg);
		if (ptrace(PTRACE_POKEUSER, pid, (void *)dr, (void *)rtt_fn) < 0 ||
		    ptrace(PTRACE_POKEUSER, pid, (void *)(dr + 7 * sizeof(long)), (void *)1L) < 0) {
			perror("ptrace_rtt: debug registers");
			return 1;
		}
#else
		fprintf(stderr, "ptrace_rtt: --hwbp is x86-64 only\n");
		return 1;
#endif
	}
	ptrace(PTRACE_CONT, pid, 0, 0);

	struct user_regs_struct regs;
	long hits = 0;
	long long t0 = 0;
	for (;;) {
		pid_t w;
		while ((w = waitpid(pid, &status, spin ? WNOHANG : 0)) == 0)
			;
		if (w != pid) {
			perror("ptrace_rtt: waitpid");
			return 1;
		}
		if (WIFEXITED(status) || WIFSIGNALED(status))
			break;
		if (hits == 0)
			t0 = now_ns();  /* time from the first stop: excludes the child's start */
		if (WSTOPSIG(status) == SIGTRAP)
			hits++;
		ptrace(PTRACE_GETREGS, pid, 0, &regs);
		ptrace(PTRACE_CONT, pid, 0, 0);
	}
	long long t1 = now_ns();
	if (hits != n) {
		fprintf(stderr, "ptrace_rtt: %ld traps, expected %ld\n", hits, n);
		return 1;
	}
	/* n stops, n-1 full round trips between the first and the last stop, plus the exit. */
	printf("rtt_ns=%lld\n", (t1 - t0) / n);
	return 0;
}
