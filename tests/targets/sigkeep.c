/*
 * sigkeep: a target whose handling of one trap signal mhookd must leave exactly as it is
 * (issue 16 item 1). `sigkeep MODE SIG N`, SIG `trap` (SIGTRAP) or `segv` (SIGSEGV):
 *
 *   ignore  the signal is ignored (SIG_IGN), and the main thread calls keep_fn N times;
 *   block   a handler is installed, the main thread blocks the signal and calls keep_fn;
 *   worker  a handler is installed, a worker thread blocks every signal and calls keep_fn.
 *
 * It prints `ready`, and reads a line from stdin (or EOF) before each phase, so that a test
 * can attach before the calls and detach after them. After the calls and again after the
 * second line it prints the disposition (ign, dfl, handler), its flags and whether the
 * calling thread blocks the signal. Last, its own raise() must behave as it would without
 * a tracer: ignored, or left pending while blocked and run by the handler once unblocked.
 * Output is the same hooked and unhooked, so a test compares it with a plain run.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

long keep_fn(long x);

static int sig;
static volatile sig_atomic_t handler_runs;
static long n_calls;

__attribute__((noinline)) long keep_fn(long x)
{
	__asm__ volatile("" ::: "memory");
	return x * 3 + 1;
}

static void handler(int s)
{
	(void)s;
	handler_runs++;
}

static void wait_line(void)
{
	char line[64];

	if (!fgets(line, sizeof(line), stdin))
		clearerr(stdin);
}

static void print_state(const char *when)
{
	struct sigaction sa;
	sigset_t mask;

	sigaction(sig, NULL, &sa);
	pthread_sigmask(SIG_BLOCK, NULL, &mask);
	const char *disp = sa.sa_handler == SIG_IGN   ? "ign"
			   : sa.sa_handler == SIG_DFL ? "dfl"
			   : sa.sa_handler == handler ? "handler"
						      : "other";
	printf("%s: %s flags=0x%x blocked=%d\n", when, disp, (unsigned)sa.sa_flags & ~0x04000000u,
	       sigismember(&mask, sig));
	fflush(stdout);
}

static void *script(void *arg)
{
	long sum = 0;

	if (arg) {
		sigset_t all;
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, NULL);
	}
	wait_line();
	for (long i = 0; i < n_calls; i++)
		sum += keep_fn(i);
	printf("sum=%ld\n", sum);
	print_state("after calls");
	wait_line();
	print_state("after detach");
	raise(sig);
	sigset_t pending;
	sigpending(&pending);
	printf("raised: pending=%d runs=%d\n", sigismember(&pending, sig), (int)handler_runs);
	sigset_t one;
	sigemptyset(&one);
	sigaddset(&one, sig);
	pthread_sigmask(SIG_UNBLOCK, &one, NULL);
	printf("unblocked: runs=%d\n", (int)handler_runs);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 4 || (strcmp(argv[2], "trap") && strcmp(argv[2], "segv"))) {
		fprintf(stderr, "usage: sigkeep ignore|block|worker trap|segv N\n");
		return 2;
	}
	sig = strcmp(argv[2], "trap") ? SIGSEGV : SIGTRAP;
	n_calls = atol(argv[3]);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_flags = SA_RESTART;
	if (!strcmp(argv[1], "ignore")) {
		sa.sa_handler = SIG_IGN;
	} else {
		sa.sa_handler = handler;
		sigaddset(&sa.sa_mask, SIGUSR2);
	}
	sigaction(sig, &sa, NULL);
	printf("ready\n");
	fflush(stdout);
	if (!strcmp(argv[1], "worker")) {
		pthread_t th;
		pthread_create(&th, NULL, script, (void *)1);
		pthread_join(th, NULL);
	} else {
		if (!strcmp(argv[1], "block")) {
			sigset_t one;
			sigemptyset(&one);
			sigaddset(&one, sig);
			pthread_sigmask(SIG_BLOCK, &one, NULL);
		}
		script(NULL);
	}
	return 0;
}
