/*
 * chatter: a target that writes to stderr while its hooked function is called, so that
 * mhookd's reports on the same stderr must not split its lines nor be split by them.
 * `chatter N`: one thread calls chat_fn N times while another writes N lines of its own
 * to stderr, each with one write(2). Prints `sum=<sum of chat_fn's results>` on stdout.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long n;

__attribute__((noinline, used)) long chat_fn(long x)
{
	__asm__ volatile("" ::: "memory");
	return x * 2;
}

static long (*volatile chat_ptr)(long) = chat_fn;

static void *talk(void *arg)
{
	char line[128];

	(void)arg;
	for (long i = 0; i < n; i++) {
		int len = snprintf(line, sizeof(line), "chatter line %06ld "
				   "..............................................\n", i);
		if (write(STDERR_FILENO, line, (size_t)len) != len)
			exit(3);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;
	long sum = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: chatter N\n");
		return 2;
	}
	n = atol(argv[1]);
	if (pthread_create(&t, NULL, talk, NULL))
		return 1;
	for (long i = 0; i < n; i++)
		sum += chat_ptr(i);
	pthread_join(t, NULL);
	printf("sum=%ld\n", sum);
	return 0;
}
