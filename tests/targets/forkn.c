/*
 * forkn: `forkn CHILDREN N` forks CHILDREN children; child c calls forkn_fn N*(c+1)
 * times and exits with status c; the parent calls it N times and prints the sum of the
 * children's exit statuses. With -F, mhookd must report each process's calls under its
 * own pid; without it, the children must run unhooked and unharmed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

__attribute__((noinline, used)) long forkn_fn(long x)
{
	__asm__ volatile("" ::: "memory");
	return x + 3;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: forkn CHILDREN N\n");
		return 2;
	}
	int children = atoi(argv[1]), n = atoi(argv[2]), status, sum = 0;

	fflush(stdout);
	for (int c = 0; c < children; c++) {
		pid_t p = fork();
		if (p == 0) {
			for (int i = 0; i < n * (c + 1); i++)
				forkn_fn(i);
			_exit(c);
		}
		if (p < 0)
			return 3;
	}
	for (int i = 0; i < n; i++)
		forkn_fn(i);
	while (wait(&status) > 0)
		sum += WEXITSTATUS(status);
	printf("children exit sum %d\n", sum);
	return 0;
}
