/*
 * alarmer: a fast timer against a hooked function (issue 16 item 9). `alarmer N US` arms a
 * SIGALRM every US microseconds whose handler calls the hookable alarm_fn, while the main
 * loop calls alarm_fn N times. It prints `main=N handler=H`: a tracer must count N + H
 * calls, and finish while the timer fires faster than a ptrace stop takes (under nx, the
 * handler and the loop share the guarded page).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

long alarm_fn(long x);

static volatile sig_atomic_t handler_runs;
static volatile long sink;

__attribute__((noinline)) long alarm_fn(long x)
{
	__asm__ volatile("" ::: "memory");
	return x + 1;
}

static void on_alarm(int sig)
{
	(void)sig;
	sink += alarm_fn(1);
	handler_runs++;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: alarmer N US\n");
		return 2;
	}
	long n = atol(argv[1]), us = atol(argv[2]);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = { { 0, us }, { 0, us } };
	setitimer(ITIMER_REAL, &it, NULL);
	long sum = 0;
	for (long i = 0; i < n; i++)
		sum += alarm_fn(i);
	struct itimerval off;
	memset(&off, 0, sizeof(off));
	setitimer(ITIMER_REAL, &off, NULL);
	printf("main=%ld handler=%d\n", n, (int)handler_runs);
	return sum == n * (n + 1) / 2 ? 0 : 1;
}
