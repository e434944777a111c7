/*
 * forker: the children test target. A process hooked by mhookd that creates children, which
 * inherit its breakpoint bytes (a vfork or posix_spawn child even runs in its memory). The
 * children must run normally and exit with the right status, and the parent's count must
 * stay exact.
 *
 *   forker fork N M    call fork_fn N times; fork() a child that calls fork_fn M times and
 *                      exits with status 7; wait and print `child status=7`; call fork_fn N
 *                      more times. The parent makes 2N calls.
 *   forker spawn N     call fork_fn N times; posix_spawn `forker child 4 3`, system("exit 3"),
 *                      vfork+execv `forker child 5 3`, printing each exit status; then call
 *                      fork_fn N more times. The parent makes 2N calls.
 *   forker child CODE K   (used by spawn) call fork_fn K times, print `child K`, exit CODE.
 *   forker vfork N MS  call fork_fn N times; print `vforking`; vfork a child that sleeps
 *                      MS milliseconds in the parent's memory and exits with status 6 (the
 *                      parent meanwhile waits inside vfork, where ptrace cannot stop it);
 *                      print `vfork status=6`; call fork_fn N more times.
 *   forker vmcall N M  call fork_fn N times; vfork a child that calls fork_fn M times in
 *                      the parent's memory and exits with status 6; print `vfork status=6`;
 *                      call fork_fn N more times.
 *   forker clonevm N M the same with a clone(CLONE_VM) child (a process, not a thread,
 *                      sharing the parent's memory) that exits with status 8.
 * In these two the child counts in the parent's memory: the parent ends with 2N+M calls.
 *
 * Every line is printed by a process after its children have finished, so the output is
 * deterministic. The parent ends with `parent fork_fn=<calls> sum=<sum>`.
 */
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

long fork_fn(long x);

static long calls, sum;

__attribute__((noinline, used))
long fork_fn(long x)
{
	__asm__ volatile("" ::: "memory");
	calls++;
	sum += x;
	return x;
}

static long (*volatile fork_fn_ptr)(long) = fork_fn;

static void call_n(long n, long base)
{
	for (long i = 0; i < n; i++)
		fork_fn_ptr(base + i);
}

static void print_status(const char *what, int status)
{
	if (WIFEXITED(status))
		printf("%s status=%d\n", what, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		printf("%s signal=%d\n", what, WTERMSIG(status));
	else
		printf("%s raw=%#x\n", what, status);
	fflush(stdout);
}

static long clone_calls;

static int clone_child(void *arg)
{
	(void)arg;
	call_n(clone_calls, 100);
	return 8;
}

static const char *self_path(void)
{
	static char path[4096];
	ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
	if (n < 0)
		exit(5);
	path[n] = 0;
	return path;
}

int main(int argc, char **argv)
{
	int status;
	if (argc < 3) {
		fprintf(stderr, "usage: forker fork N M | spawn N | vfork N MS | vmcall N M | clonevm N M | "
			"child CODE K\n");
		return 2;
	}
	if (!strcmp(argv[1], "child") && argc == 4) {
		long k = atol(argv[3]);
		call_n(k, 0);
		printf("child %ld\n", calls);
		fflush(stdout);
		return atoi(argv[2]);
	}

	long n = atol(argv[2]);
	call_n(n, 0);
	fflush(stdout);

	if (!strcmp(argv[1], "fork") && argc == 4) {
		long m = atol(argv[3]);
		pid_t pid = fork();
		if (pid < 0)
			return 5;
		if (pid == 0) {
			call_n(m, 100);
			_exit(7);
		}
		if (waitpid(pid, &status, 0) != pid)
			return 5;
		print_status("child", status);
	} else if (!strcmp(argv[1], "spawn") && argc == 3) {
		const char *self = self_path();
		char *sargv[] = { (char *)self, "child", "4", "3", NULL };
		pid_t pid;
		int err = posix_spawn(&pid, self, NULL, NULL, sargv, environ);
		if (err)
			return 5;
		if (waitpid(pid, &status, 0) != pid)
			return 5;
		print_status("posix_spawn", status);

		status = system("exit 3");
		print_status("system", status);

		char *vargv[] = { (char *)self, "child", "5", "3", NULL };
		pid = vfork();
		if (pid < 0)
			return 5;
		if (pid == 0) {
			execv(self, vargv);
			_exit(127);
		}
		if (waitpid(pid, &status, 0) != pid)
			return 5;
		print_status("vfork", status);
	} else if (!strcmp(argv[1], "vfork") && argc == 4) {
		struct timespec nap = { atol(argv[3]) / 1000, atol(argv[3]) % 1000 * 1000000 };
		printf("vforking\n");
		fflush(stdout);
		pid_t pid = vfork();
		if (pid < 0)
			return 5;
		if (pid == 0) {
			nanosleep(&nap, NULL);
			_exit(6);
		}
		if (waitpid(pid, &status, 0) != pid)
			return 5;
		print_status("vfork", status);
	} else if (!strcmp(argv[1], "vmcall") && argc == 4) {
		long m = atol(argv[3]);
		pid_t pid = vfork();
		if (pid < 0)
			return 5;
		if (pid == 0) {
			call_n(m, 100);
			_exit(6);
		}
		if (waitpid(pid, &status, 0) != pid)
			return 5;
		print_status("vfork", status);
	} else if (!strcmp(argv[1], "clonevm") && argc == 4) {
		static char stack[256 * 1024] __attribute__((aligned(16)));
		clone_calls = atol(argv[3]);
		pid_t pid = clone(clone_child, stack + sizeof(stack), CLONE_VM | SIGCHLD, NULL);
		if (pid < 0)
			return 5;
		if (waitpid(pid, &status, 0) != pid)
			return 5;
		print_status("clone", status);
	} else {
		return 2;
	}

	call_n(n, 1000);
	printf("parent fork_fn=%ld sum=%ld\n", calls, sum);
	return 0;
}
