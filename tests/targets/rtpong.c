/*
 * rtpong: real-time signal traffic with payloads, to detach under. `rtpong SECONDS`: a
 * sender thread queues bursts of three SIGRTMIN to the main thread with pthread_sigqueue,
 * each carrying the next sequence number, and waits until the main thread's handler has
 * seen the whole burst; the main thread meanwhile calls rt_fn in a loop. A burst tests that
 * repeats of one RT signal stay distinct (a re-send by signal number alone would merge
 * them), a payload tests that the siginfo survives (si_code SI_QUEUE, the number in
 * order). A payload that arrives wrong is `bad`; one that has not arrived a second later
 * is `lost`. A SIGUSR1 (which only the main thread takes) runs a handler that sleeps
 * 300 ms: detached meanwhile, its return must find valid code. It prints `ready PID`
 * first and, after SECONDS (0: once a line or EOF comes on stdin),
 * `sent=N received=N bad=N lost=N calls=N slow=N`: calls is how often rt_fn ran, slow
 * how many SIGUSR1 handlers returned.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BURST 3

static atomic_long received, bad, next_seq;
static atomic_bool done, main_done;
static atomic_long calls, slow;
static atomic_bool stdin_ended;
static pthread_t main_thread;

__attribute__((noinline, used)) long rt_fn(long x)
{
	__asm__ volatile("" ::: "memory");
	return x + 1;
}

static long (*volatile rt_ptr)(long) = rt_fn;

static void on_rt(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	long seq = (long)si->si_value.sival_ptr;
	if (si->si_code != SI_QUEUE || seq != atomic_load(&next_seq))
		atomic_fetch_add(&bad, 1);
	else
		atomic_store(&next_seq, seq + 1);
	atomic_fetch_add(&received, 1);
}

/* Sleeps to an absolute deadline: a relative nanosleep given back its remainder would
 * sleep longer with each RT signal that interrupts it (the kernel's timer slack is added
 * to every remainder), and never end under this traffic. */
static void on_usr1(int sig)
{
	struct timespec end;

	(void)sig;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_nsec += 300 * 1000 * 1000;
	if (end.tv_nsec >= 1000 * 1000 * 1000) {
		end.tv_sec++;
		end.tv_nsec -= 1000 * 1000 * 1000;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &end, NULL) != 0)
		;
	atomic_fetch_add(&slow, 1);
}

static void *read_stdin(void *arg)
{
	char line[64];

	(void)arg;
	if (!fgets(line, sizeof(line), stdin))
		line[0] = 0;
	atomic_store(&stdin_ended, 1);
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *sender(void *arg)
{
	double seconds = atof(arg), end = now() + seconds;
	long sent = 0, lost = 0;

	while (seconds > 0 ? now() < end : !atomic_load(&stdin_ended)) {
		for (int i = 0; i < BURST; i++) {
			union sigval v = { .sival_ptr = (void *)(sent + i) };
			if (pthread_sigqueue(main_thread, SIGRTMIN, v) != 0)
				exit(3);
		}
		sent += BURST;
		double deadline = now() + 1.0;
		while (atomic_load(&next_seq) < sent && now() < deadline)
			sched_yield();
		if (atomic_load(&next_seq) < sent) {
			lost += sent - atomic_load(&next_seq);
			atomic_store(&next_seq, sent); /* go on with the next burst */
		}
	}
	atomic_store(&done, 1);
	while (!atomic_load(&main_done))
		sched_yield();
	usleep(100000);
	printf("sent=%ld received=%ld bad=%ld lost=%ld calls=%ld slow=%ld\n", sent,
	       atomic_load(&received), atomic_load(&bad), lost, atomic_load(&calls),
	       atomic_load(&slow));
	fflush(stdout);
	exit(0);
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	pthread_t t, reader;

	if (argc != 2 || atof(argv[1]) < 0) {
		fprintf(stderr, "usage: rtpong SECONDS\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_rt;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGRTMIN, &sa, NULL);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	main_thread = pthread_self();
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	/* Only the main thread takes SIGUSR1: the others start with it blocked. */
	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	if (atof(argv[1]) == 0 && pthread_create(&reader, NULL, read_stdin, NULL))
		return 1;
	if (pthread_create(&t, NULL, sender, argv[1]))
		return 1;
	pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
	long i;
	for (i = 0; !atomic_load(&done); i++)
		rt_ptr(i);
	atomic_store(&calls, i);
	atomic_store(&main_done, 1);
	for (;;)
		pause();
}
