/*
 * mhookd's own signals (see signals.h): one blocked set, taken with sigtimedwait on the
 * tracer thread. The wake-up from other threads is a thread-directed signal of the same
 * set, so it ends the tracer's wait exactly as a ptrace stop (SIGCHLD) does.
 */
#include "tracer/signals.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

volatile sig_atomic_t signals_stop;
volatile sig_atomic_t signals_tick;
volatile sig_atomic_t signals_woken;

static sigset_t our_signals;
static sigset_t inherited_mask;
static struct sigaction inherited_sigpipe;
static pthread_t tracer_thread;

#define SIG_TICK (SIGRTMIN)
#define SIG_WAKE (SIGRTMIN + 1)

void signals_setup(void)
{
	sigprocmask(SIG_SETMASK, NULL, &inherited_mask);
	sigaction(SIGPIPE, NULL, &inherited_sigpipe);
	sigemptyset(&our_signals);
	sigaddset(&our_signals, SIGCHLD);
	sigaddset(&our_signals, SIGINT);
	sigaddset(&our_signals, SIGTERM);
	sigaddset(&our_signals, SIGHUP);
	sigaddset(&our_signals, SIGALRM);
	sigaddset(&our_signals, SIG_TICK);
	sigaddset(&our_signals, SIG_WAKE);
	pthread_sigmask(SIG_BLOCK, &our_signals, NULL);
	signal(SIGPIPE, SIG_IGN);
	tracer_thread = pthread_self();
}

void signals_restore_inherited(void)
{
	sigaction(SIGPIPE, &inherited_sigpipe, NULL);
	sigprocmask(SIG_SETMASK, &inherited_mask, NULL);
}

static void take(int sig)
{
	if (sig == SIG_TICK)
		signals_tick = 1;
	else if (sig == SIG_WAKE)
		signals_woken = 1;
	else if (sig > 0 && sig != SIGCHLD)
		signals_stop = sig;
}

void signals_poll(void)
{
	const struct timespec zero = { 0, 0 };
	int sig;

	while ((sig = sigtimedwait(&our_signals, NULL, &zero)) > 0)
		take(sig);
}

int signals_wait(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	int sig = ms < 0 ? sigwaitinfo(&our_signals, NULL)
			 : sigtimedwait(&our_signals, NULL, &ts);

	if (sig > 0)
		take(sig);
	return sig > 0 ? sig : 0;
}

void signals_start_tick(long ms)
{
	struct sigevent sev;
	struct itimerspec its;
	timer_t timer;

	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIG_TICK;
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer) < 0)
		return;
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = (ms % 1000) * 1000000L;
	its.it_interval = its.it_value;
	timer_settime(timer, 0, &its, NULL);
}

void signals_wake(void)
{
	pthread_kill(tracer_thread, SIG_WAKE);
}
