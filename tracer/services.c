/*
 * The tracer's services (see services.h): stopping, resuming and stepping threads, and
 * reporting upward through the session's observer. Every ptrace call here is made by the
 * tracer thread.
 */
#include "tracer/services.h"

#include <errno.h>
#include <linux/kcmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tracer/debug.h"
#include "tracer/observer.h"
#include "tracer/proc.h"
#include "tracer/signals.h"
#include "tracer/sigstate.h"

int tracer_resume(struct session *s, struct thread *t)
{
	long r;

	(void)s;
	if (t->state != THREAD_STOPPED)
		return 0;
	if (t->listen)
		r = ptrace(PTRACE_LISTEN, t->tid, NULL, NULL);
	else
		r = ptrace(PTRACE_CONT, t->tid, NULL, (void *)(long)t->resume_sig);
	int e = errno;
	debug_log(2, "resume tid %d sig %d -> %ld", (int)t->tid, t->resume_sig, r);
	t->state = THREAD_RUNNING;
	t->resume_sig = 0;
	t->listen = false;
	t->in_syscall_stop = false;
	if (r < 0) {
		/* ESRCH: it died while stopped (SIGKILL); its exit is still to be reported. */
		t->exiting = true;
		return -e;
	}
	tracer_requeue_signals(t);
	return 0;
}

void tracer_requeue_signals(struct thread *t)
{
	for (int sig = 1; t->requeue_mask && sig <= 64; sig++) {
		if (t->requeue_mask & (1ULL << (sig - 1))) {
			t->requeue_mask &= ~(1ULL << (sig - 1));
			syscall(SYS_tgkill, t->tgid, t->tid, sig);
		}
	}
}

void tracer_resume_all(struct session *s)
{
	for (int i = 0; i < s->nthreads; i++)
		tracer_resume(s, &s->threads[i]);
}

int tracer_wait_tid(struct session *s, pid_t tid, int *status)
{
	const struct thread *t = s && s->nthreads > 1 ? session_thread(s, tid) : NULL;
	bool leader = t && t->tgid == tid;

	for (;;) {
		pid_t r = waitpid(tid, status, __WALL | (leader ? WNOHANG : 0));
		if (r == tid) {
			debug_log(2, "waited tid %d status 0x%x", (int)r, *status);
			return 0;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -ESRCH;
		/* Our stop (SIGCHLD) ends this at once; a quiet 10 ms is worth a look at the
		 * leader, which cannot report while its killed threads wait to be reaped. */
		if (!signals_wait(10) && proc_thread_state(tid, tid) == 'Z')
			return -ESRCH;
	}
}

/* Waits for the next stop of t alone. 0, or -ESRCH when t is not ours any more. */
static int wait_for_thread(struct session *s, struct thread *t, int *status)
{
	if (tracer_wait_tid(s, t->tid, status) == 0)
		return 0;
	t->exiting = true;
	return -ESRCH;
}

static bool is_exit(int status)
{
	return WIFEXITED(status) || WIFSIGNALED(status);
}

/* A signal-delivery-stop of sig (not an event stop, which also reports SIGTRAP). */
static bool is_signal_stop(int status, int sig)
{
	return WIFSTOPPED(status) && (status >> 16) == 0 && WSTOPSIG(status) == sig;
}

bool tracer_is_fault(pid_t tid, int sig)
{
	siginfo_t si;

	if (sig != SIGSEGV && sig != SIGBUS && sig != SIGILL && sig != SIGFPE)
		return false;
	return ptrace(PTRACE_GETSIGINFO, tid, NULL, &si) == 0 && si.si_code > 0;
}

/* Keeps a signal that stopped t while we waited for something else, to be sent again
 * once t is resumed. Not a fault: it was raised before we moved the thread (it was
 * pending when we stepped it into an injected syscall, say), its registers go back to
 * the faulting instruction, and that raises it again when it runs. Sent again with
 * tgkill, a fault would come back as a kill() that no strategy recognises (nx's own
 * fault would then kill the target). */
static void defer_signal(struct thread *t, int status)
{
	if (!WIFSTOPPED(status) || (status >> 16) != 0 || tracer_is_fault(t->tid, WSTOPSIG(status)))
		return;
	t->requeue_mask |= 1ULL << (WSTOPSIG(status) - 1);
}

/* The signals an instruction raises itself. A single-step may run one that faults, and
 * the kernel's forced fault on a blocked signal would reset the target's handler. */
#define FAULT_SIGNALS ((1ULL << (SIGSEGV - 1)) | (1ULL << (SIGBUS - 1)) | \
		       (1ULL << (SIGILL - 1)) | (1ULL << (SIGFPE - 1)))

/* tracer_hold_signals, leaving the signals of unblocked unblocked and those of as_is as
 * the thread has them. */
static int hold_all_but(pid_t tid, uint64_t unblocked, uint64_t as_is, uint64_t *saved)
{
	if (ptrace(PTRACE_GETSIGMASK, tid, (void *)sizeof(*saved), saved) < 0)
		return -errno;
	uint64_t all = (~unblocked & ~as_is) | (*saved & as_is);

	if (ptrace(PTRACE_SETSIGMASK, tid, (void *)sizeof(all), &all) < 0)
		return -errno;
	return 0;
}

/*
 * While mhookd runs a thread for its own ends (a step into an injected syscall, a pending
 * trap taken), every signal but the one it waits for is blocked in it. None is dequeued
 * meanwhile: each stays queued by the kernel with its siginfo, as often as it was sent,
 * and is delivered once the thread runs again under its own mask. Before this, a signal
 * that arrived was re-sent with tgkill, which lost an RT signal's payload and merged its
 * repeats. PTRACE_GETSIGMASK gives the mask a sigsuspend or ppoll will restore, and
 * SETSIGMASK drops that pending restore: the thread ends up with the same mask, and the
 * interrupted call restarts under its own. The wanted signal stays unblocked so that the
 * kernel's forced trap (a single-step's SIGTRAP) never has to unblock it and reset its
 * handler, as it does to a blocked one.
 */
int tracer_hold_signals(pid_t tid, int wanted, uint64_t *saved)
{
	return hold_all_but(tid, wanted ? 1ULL << (wanted - 1) : 0, 0, saved);
}

int tracer_hold_signals_for_code(pid_t tid, uint64_t *saved)
{
	return hold_all_but(tid, 1ULL << (SIGTRAP - 1), FAULT_SIGNALS, saved);
}

void tracer_release_signals(pid_t tid, uint64_t saved)
{
	ptrace(PTRACE_SETSIGMASK, tid, (void *)sizeof(saved), &saved);
}

static int step_held(struct session *s, struct thread *t, bool keep_group_stop);

static int step(struct session *s, struct thread *t, bool keep_group_stop)
{
	uint64_t mask;
	pid_t tid = t->tid;

	if (tracer_hold_signals_for_code(tid, &mask) < 0)
		return -ESRCH;
	int rc = step_held(s, t, keep_group_stop);
	tracer_release_signals(tid, mask);
	t = session_thread(s, tid);
	if (t)
		sigstate_forced(t, SIGTRAP); /* a single-step is a forced SIGTRAP */
	return rc;
}

int tracer_step(struct session *s, struct thread *t)
{
	return step(s, t, false);
}

int tracer_step_or_group_stop(struct session *s, struct thread *t)
{
	return step(s, t, true);
}

static bool is_group_stop(int status)
{
	int sig = WSTOPSIG(status);

	return WIFSTOPPED(status) && (status >> 16) == PTRACE_EVENT_STOP &&
	       (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU);
}

static int step_held(struct session *s, struct thread *t, bool keep_group_stop)
{
	/* The stop the thread was in is what its later resume must see again: PTRACE_LISTEN
	 * works only from a PTRACE_EVENT_STOP, and a delayed signal is delivered with its
	 * original siginfo. So the step's own SIGTRAP siginfo is replaced afterwards. */
	siginfo_t saved;
	bool have_saved = ptrace(PTRACE_GETSIGINFO, t->tid, NULL, &saved) == 0;
	pid_t tid = t->tid;

	if (ptrace(PTRACE_SINGLESTEP, tid, NULL, NULL) < 0)
		return -errno;
	t->state = THREAD_RUNNING;
	for (;;) {
		int status;
		if (wait_for_thread(s, t, &status) < 0)
			return -ESRCH;
		if (is_exit(status)) {
			s->dispatch(s, tid, status);
			return -ESRCH;
		}
		t->state = THREAD_STOPPED;
		if (is_signal_stop(status, SIGTRAP)) {
			if (have_saved)
				ptrace(PTRACE_SETSIGINFO, tid, NULL, &saved);
			return 0;
		}
		if (keep_group_stop && is_group_stop(status)) {
			/* A group-stop pending for it came first: the step has not run, and
			 * stepping on would take it out of the stop its process is in. */
			t->listen = true;
			return -EAGAIN;
		}
		if (WIFSTOPPED(status) && (status >> 16) == 0 &&
		    tracer_is_fault(tid, WSTOPSIG(status))) {
			/* The instruction faults: stepping it again would fault again, for
			 * ever. The thread stays at it, with the fault to take; a signal it
			 * was to take first is sent again after it. */
			if (t->resume_sig && t->resume_sig != WSTOPSIG(status))
				t->requeue_mask |= 1ULL << (t->resume_sig - 1);
			t->resume_sig = WSTOPSIG(status);
			return -EFAULT;
		}
		defer_signal(t, status);
		if (ptrace(PTRACE_SINGLESTEP, tid, NULL, NULL) < 0)
			return -errno;
		t->state = THREAD_RUNNING;
	}
}

int tracer_take_pending(struct session *s, struct thread *t, int sig)
{
	pid_t tid = t->tid;
	bool listen = t->listen;
	uint64_t mask;

	if (tracer_hold_signals(tid, sig, &mask) < 0 || ptrace(PTRACE_CONT, tid, NULL, NULL) < 0)
		return -ESRCH;
	t->state = THREAD_RUNNING;
	t->listen = false;
	for (;;) {
		int status;
		if (wait_for_thread(s, t, &status) < 0)
			return -ESRCH;
		if (is_exit(status)) {
			s->dispatch(s, tid, status);
			return -ESRCH;
		}
		t->state = THREAD_STOPPED;
		if (is_signal_stop(status, sig)) {
			tracer_release_signals(tid, mask);
			s->dispatch(s, tid, status);
			break;
		}
		defer_signal(t, status);
		if (ptrace(PTRACE_CONT, tid, NULL, NULL) < 0)
			return -ESRCH;
		t->state = THREAD_RUNNING;
	}
	/* A group-stop it was in stays one: its resume must still LISTEN. */
	t = session_thread(s, tid);
	if (t)
		t->listen = t->listen || listen;
	return t ? 0 : -ESRCH;
}

/*
 * A thread may hit one of our breakpoints just before PTRACE_INTERRUPT reaches it: the
 * interrupt stop is reported first and the SIGTRAP stays pending. Left there, it would be
 * taken for the end of a later single-step (an injected syscall), or kill the thread after
 * detach. So every stop-all ends by letting such a thread take its SIGTRAP now.
 */
static void take_pending_traps(struct session *s)
{
	int n;
	pid_t *tids = session_tids(s, &n);

	for (int i = 0; tids && i < n; i++) {
		struct thread *t = session_thread(s, tids[i]);
		if (t && t->state == THREAD_STOPPED && !t->resume_sig &&
		    proc_signal_pending(t->tid, SIGTRAP))
			tracer_take_pending(s, t, SIGTRAP);
	}
	free(tids);
}

bool tracer_parked(const struct thread *t)
{
	/* Its child still runs in its memory: the wait goes on. Once the child has exec'd
	 * (another memory) or exited (kcmp fails), the parent is on its way to the
	 * interrupt stop. */
	return t->state == THREAD_RUNNING && t->vfork_child &&
	       syscall(SYS_kcmp, t->tid, t->vfork_child, KCMP_VM, 0, 0) == 0;
}

static bool any_running(struct session *s)
{
	for (int i = 0; i < s->nthreads; i++) {
		struct thread *t = &s->threads[i];
		if (!t->exiting && (t->state == THREAD_RUNNING || t->state == THREAD_NEW) &&
		    !tracer_parked(t))
			return true;
	}
	return false;
}

/* Threads stop_all has waited for for half a second: log them (MHOOK_DEBUG), and forget
 * those that no longer exist. */
static void forget_vanished(struct session *s)
{
	for (int i = s->nthreads - 1; i >= 0; i--) {
		struct thread *t = &s->threads[i];
		if (t->exiting || (t->state != THREAD_RUNNING && t->state != THREAD_NEW))
			continue;
		char st = proc_thread_state(t->tgid, t->tid);
		debug_log(1, "stop_all still waits for tid %d (tgid %d, ours %s, /proc state %c)",
			  (int)t->tid, (int)t->tgid, t->state == THREAD_NEW ? "new" : "running",
			  st ? st : '-');
		if (!st)
			session_remove_thread(s, t->tid);
		else if (st == 'Z' || st == 'X')
			t->exiting = true; /* its exit report comes (a leader's, with the process's) */
	}
}

/* A leader that ended with pthread_exit while other threads run on is a zombie until
 * they are all gone, and only then reported: it never stops, and no stop_all may wait for
 * it. Checked once per stop_all; forget_vanished catches one that ends meanwhile. */
static bool zombie_leader(struct thread *t)
{
	char st = proc_thread_state(t->tgid, t->tid);

	if (st != 'Z' && st != 'X')
		return false;
	t->exiting = true;
	return true;
}

/* Interrupts every running thread not interrupted yet (an event may have added one). */
static void interrupt_running(struct session *s)
{
	for (int i = 0; i < s->nthreads; i++) {
		struct thread *t = &s->threads[i];
		if (t->state != THREAD_RUNNING || t->exiting || t->interrupted)
			continue;
		if (t->tid == t->tgid && zombie_leader(t))
			continue;
		if (ptrace(PTRACE_INTERRUPT, t->tid, NULL, NULL) < 0)
			t->exiting = true;
		t->interrupted = true;
	}
}

int tracer_stop_all(struct session *s)
{
	uint64_t waited = 0;

	interrupt_running(s);
	while (any_running(s)) {
		int status;
		pid_t tid = waitpid(-1, &status, __WALL | WNOHANG);
		if (tid == 0) {
			/* Wait for the next stop, but not blindly: a thread that vanished
			 * without a report we could see must not hang us here. */
			if (!signals_wait(100) && ++waited % 5 == 0)
				forget_vanished(s);
			continue;
		}
		if (tid < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		s->dispatch(s, tid, status);
		interrupt_running(s);
	}
	for (int i = 0; i < s->nthreads; i++)
		s->threads[i].interrupted = false;
	take_pending_traps(s);
	return 0;
}

void tracer_report_hit(struct session *s, struct thread *t, struct hook *h,
		       const struct arch_regs *regs)
{
	/* A vfork child without -F runs our breakpoints because it shares our memory, but
	 * it was not asked for: executed, not reported. */
	if ((t->shadow && !s->follow) || !s->obs)
		return;
	s->obs->hit(s, t->tgid, t->tid, h, regs);
}

void tracer_report_collateral(struct session *s, struct hook *h)
{
	if (s->obs)
		s->obs->collateral(s, h);
}

/* A message to the observer's error or fatal op; to stderr when there is none (tests). */
static void report(struct session *s, bool fatal, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static void report(struct session *s, bool fatal, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (s->obs)
		(fatal ? s->obs->fatal : s->obs->error)(s, msg);
	else
		fprintf(stderr, "mhookd: %s\n", msg);
}

void tracer_report_error(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(s, false, fmt, ap);
	va_end(ap);
}

void tracer_report_fatal(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(s, true, fmt, ap);
	va_end(ap);
}
