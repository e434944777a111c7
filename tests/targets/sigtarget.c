/*
 * sigtarget: the signal test target. `sigtarget N [--wait-usr1] [--trap-calls] [--storm K]` installs
 * handlers for SIGTRAP and SIGUSR1 and calls the hookable sig_fn N times. It then executes its
 * own `int3` and raise(SIGTRAP); both must reach its SIGTRAP handler even while mhookd has
 * int3 breakpoints in it. The SIGUSR1 handler calls sig_fn once per run, so a hooked run
 * counts N + (SIGUSR1 handler runs) calls.
 *
 * --wait-usr1: print `waiting <pid>` and block until a SIGUSR1 sent from outside arrives.
 * --trap-calls: the SIGTRAP handler calls sig_fn too (once per run). A breakpoint hit
 *              there happens with SIGTRAP blocked, and the kernel then resets the
 *              target's SIGTRAP handler to SIG_DFL (force_sig on a blocked signal), unless
 *              the tracer undoes that; so the following raise(SIGTRAP) kills the target.
 * --segv K:    calls sig_load(NULL) K times; its first instruction is the load, so the
 *              fault comes from the hooked entry itself (from the out-of-line copy, the
 *              single-step, or the code cache). A SIGSEGV handler siglongjmps back;
 *              prints `segv_handler=<runs>` after the other lines.
 * --storm K:   a second thread sends SIGUSR1 to the main thread K times while the main thread
 *              is calling sig_fn, waiting each time until the handler has run, so exactly K
 *              handler runs happen (no signals are merged).
 *
 * Output (stdout, exact): `sig_fn=<calls made> sum=<sum>`, `trap_handler=<runs>`,
 * `usr1_handler=<runs>`.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

long sig_fn(long x);

static atomic_long calls;
static atomic_long sum;
static atomic_int trap_runs;
static atomic_int usr1_runs;
static int trap_calls;

__attribute__((noinline, used))
long sig_fn(long x)
{
	__asm__ volatile("" ::: "memory");
	atomic_fetch_add(&calls, 1);
	atomic_fetch_add(&sum, x);
	return x;
}

static long (*volatile sig_fn_ptr)(long) = sig_fn;

static void on_trap(int sig)
{
	(void)sig;
	atomic_fetch_add(&trap_runs, 1);
	if (trap_calls)
		sig_fn_ptr(1000);
}

static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&usr1_runs, 1);
	sig_fn_ptr(2000);
}

long sig_load(const long *p);
#ifdef __x86_64__
/* In assembly so that the load is the first instruction whatever the compiler flags. */
__asm__(".text\n.globl sig_load\n.type sig_load, @function\n.p2align 4\n"
	"sig_load:\n\tmov (%rdi), %rax\n\tret\n.size sig_load, .-sig_load\n");
#else
__attribute__((noinline, used))
long sig_load(const long *p)
{
	return *(const long volatile *)p;
}
#endif

static long (*volatile sig_load_ptr)(const long *) = sig_load;
static sigjmp_buf segv_env;
static volatile sig_atomic_t segv_runs;

static void on_segv(int sig)
{
	(void)sig;
	segv_runs++;
	siglongjmp(segv_env, 1);
}

/* Each call faults at its first instruction; the handler must see every fault. */
static void segv_calls(long k)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_segv;
	sigaction(SIGSEGV, &sa, NULL);
	for (volatile long i = 0; i < k; i++)
		if (!sigsetjmp(segv_env, 1))
			sig_load_ptr(NULL);
}

static pthread_t main_thread;
static long storm;

static void *stormer(void *arg)
{
	(void)arg;
	for (long k = 0; k < storm; k++) {
		int before = atomic_load(&usr1_runs);
		pthread_kill(main_thread, SIGUSR1);
		while (atomic_load(&usr1_runs) == before)
			sched_yield();
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int wait_usr1 = 0;
	long segv = -1;
	if (argc < 2) {
		fprintf(stderr, "usage: sigtarget N [--wait-usr1] [--trap-calls] [--storm K] "
			"[--segv K]\n");
		return 2;
	}
	long n = atol(argv[1]);
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--wait-usr1"))
			wait_usr1 = 1;
		else if (!strcmp(argv[i], "--trap-calls"))
			trap_calls = 1;
		else if (!strcmp(argv[i], "--storm") && i + 1 < argc)
			storm = atol(argv[++i]);
		else if (!strcmp(argv[i], "--segv") && i + 1 < argc)
			segv = atol(argv[++i]);
		else
			return 2;
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = on_trap;
	sigaction(SIGTRAP, &sa, NULL);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);

	main_thread = pthread_self();
	pthread_t st;
	if (storm > 0 && pthread_create(&st, NULL, stormer, NULL))
		return 4;

	for (long i = 0; i < n; i++)
		sig_fn_ptr(i);

	if (storm > 0)
		pthread_join(st, NULL);
	if (segv >= 0)
		segv_calls(segv);

	__asm__ volatile("int3");
	raise(SIGTRAP);

	if (wait_usr1) {
		sigset_t block, old;
		sigemptyset(&block);
		sigaddset(&block, SIGUSR1);
		sigprocmask(SIG_BLOCK, &block, &old);
		int before = atomic_load(&usr1_runs);
		printf("waiting %d\n", (int)getpid());
		fflush(stdout);
		sigdelset(&old, SIGUSR1);
		while (atomic_load(&usr1_runs) == before)
			sigsuspend(&old);
		sigprocmask(SIG_SETMASK, &old, NULL);
	}

	printf("sig_fn=%ld sum=%ld\n", atomic_load(&calls), atomic_load(&sum));
	printf("trap_handler=%d\n", atomic_load(&trap_runs));
	printf("usr1_handler=%d\n", atomic_load(&usr1_runs));
	if (segv >= 0)
		printf("segv_handler=%d\n", (int)segv_runs);
	return 0;
}
