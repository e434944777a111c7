/*
 * The stop loop (see loop.h). One waitpid(__WALL) serves every thread and child. A hit is
 * one stop: read the registers, let the strategy classify the trap and say where the
 * thread continues, report, write the PC, continue. Everything else that stops a thread
 * (its own signals, group-stop, clone/fork/vfork/exec events, exits) is told apart here.
 *
 * mhookd's own signals (SIGINT, SIGTERM, SIGHUP, --duration's SIGALRM, SIGCHLD) have no
 * handler: they stay blocked and are taken with sigtimedwait when waitpid(WNOHANG) has
 * nothing, so a quiet target never delays the detach and no stop is lost to a wait that
 * a handler interrupted.
 */
#include "tracer/loop.h"

#include <errno.h>
#include <linux/kcmp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "handlers/report.h"
#include "strategies/strategy.h"
#include "tracer/follow.h"
#include "tracer/sigwatch.h"
#include "tracer/hooks.h"
#include "tracer/mem.h"
#include "tracer/proc.h"

volatile sig_atomic_t loop_stop_signal;
static volatile sig_atomic_t tick_due;

/*
 * mhookd's own signals are never delivered to handlers: a handler interrupting waitpid
 * could run after the syscall had consumed a stop and so lose it. They stay blocked, with
 * SIGCHLD (every ptrace stop sends one to the tracer), and the loop takes them with
 * sigwaitinfo when it has nothing else to do, or polls them now and then when busy.
 */
static sigset_t loop_signals;

/* What mhookd was started with, for a launched command to start with the same. */
static sigset_t inherited_mask;
static struct sigaction inherited_sigpipe;

void loop_install_signal_handlers(void)
{
	sigprocmask(SIG_SETMASK, NULL, &inherited_mask);
	sigaction(SIGPIPE, NULL, &inherited_sigpipe);
	sigemptyset(&loop_signals);
	sigaddset(&loop_signals, SIGCHLD);
	sigaddset(&loop_signals, SIGINT);
	sigaddset(&loop_signals, SIGTERM);
	sigaddset(&loop_signals, SIGHUP);
	sigaddset(&loop_signals, SIGALRM);
	sigaddset(&loop_signals, SIGRTMIN);
	sigprocmask(SIG_BLOCK, &loop_signals, NULL);
	/* A closed report pipe must end the session cleanly, not kill mhookd with
	 * breakpoints still in the target. */
	signal(SIGPIPE, SIG_IGN);
}

void loop_restore_inherited_signals(void)
{
	sigaction(SIGPIPE, &inherited_sigpipe, NULL);
	sigprocmask(SIG_SETMASK, &inherited_mask, NULL);
}

static void take_signal(int sig)
{
	if (sig == SIGRTMIN)
		tick_due = 1;
	else if (sig > 0 && sig != SIGCHLD)
		loop_stop_signal = sig;
}

/* Takes every pending signal of ours without waiting. */
static void poll_signals(void)
{
	const struct timespec zero = { 0, 0 };
	int sig;

	while ((sig = sigtimedwait(&loop_signals, NULL, &zero)) > 0)
		take_signal(sig);
}

/* Waits up to ms for a signal of ours (SIGCHLD included); returns it, or 0. */
static int wait_signal(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	int sig = ms < 0 ? sigwaitinfo(&loop_signals, NULL)
			 : sigtimedwait(&loop_signals, NULL, &ts);

	if (sig > 0)
		take_signal(sig);
	return sig > 0 ? sig : 0;
}

static int trace_level(void)
{
	static int level = -1;

	if (level < 0) {
		const char *v = getenv("MHOOK_DEBUG");
		level = v ? atoi(v) : 0;
	}
	return level;
}

pid_t proc_tgid(pid_t tid)
{
	uint64_t v;

	return proc_status_field(tid, "Tgid", 10, &v) == 0 ? (pid_t)v : 0;
}

static bool is_stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

int session_resume(struct session *s, struct thread *t)
{
	long r;

	(void)s;
	if (t->state != THREAD_STOPPED)
		return 0;
	if (t->listen)
		r = ptrace(PTRACE_LISTEN, t->tid, NULL, NULL);
	else
		r = ptrace(PTRACE_CONT, t->tid, NULL, (void *)(long)t->resume_sig);
	if (trace_level() >= 2)
		fprintf(stderr, "mhook-trace: resume tid %d sig %d -> %ld\n", (int)t->tid,
			t->resume_sig, r);
	t->state = THREAD_RUNNING;
	t->resume_sig = 0;
	t->listen = false;
	t->in_syscall_stop = false;
	if (r == 0)
		session_requeue_signals(t);
	if (r < 0) {
		/* ESRCH: it died while stopped (SIGKILL); its exit is still to be reported. */
		t->exiting = true;
		return -errno;
	}
	return 0;
}

void session_requeue_signals(struct thread *t)
{
	for (int sig = 1; t->requeue_mask && sig <= 64; sig++) {
		if (t->requeue_mask & (1ULL << (sig - 1))) {
			t->requeue_mask &= ~(1ULL << (sig - 1));
			syscall(SYS_tgkill, t->tgid, t->tid, sig);
		}
	}
}

void session_resume_all(struct session *s)
{
	/* Every thread is stopped here: the moment to apply a deferred resync. */
	if (s->sync_needed && !s->gone) {
		s->sync_needed = false;
		int rc = hooks_sync(s);
		if (rc) {
			s->fatal = rc; /* leave everything stopped: the session ends */
			return;
		}
		if (!s->ready_sent && s->ready_at_sync) {
			report_ready(s->report, s);
			s->ready_sent = true;
		}
	}
	for (int i = 0; i < s->nthreads; i++)
		session_resume(s, &s->threads[i]);
}

/* A fork child has its own copy of our breakpoints: clean it and let it go. A child that
 * shares our memory (vfork, clone(CLONE_VM)) runs our breakpoints too, so it stays traced
 * as a shadow until it execs or exits; its hits are executed but not reported. */
static void on_new_process(struct session *s, pid_t child, int status, bool hold)
{
	long same_vm = syscall(SYS_kcmp, s->pid, child, KCMP_VM, 0, 0);

	if (same_vm != 0) {
		struct session *c = s->follow ? follow_fork(s, child, false) : NULL;
		session_remove_thread(s, child);
		if (c) {
			struct thread *ct = session_add_thread(c, child, child, THREAD_STOPPED);
			ct->state = THREAD_STOPPED;
			if (c->ops->thread_init)
				c->ops->thread_init(c, ct);
			report_child(s->report, s->pid, child);
			session_resume(c, ct);
			return;
		}
		s->ops->clean_child(s, child);
		rdebug_clean_child(s, child);
		mem_forget(child);
		ptrace(PTRACE_DETACH, child, NULL, NULL);
		return;
	}
	if (s->follow)
		report_child(s->report, s->pid, child);
	struct thread *t = session_add_thread(s, child, child, THREAD_STOPPED);
	t->shadow = true;
	t->state = THREAD_STOPPED;
	if (status >> 16 == 0 && WSTOPSIG(status) != SIGTRAP)
		t->resume_sig = WSTOPSIG(status);
	if (!hold)
		session_resume(s, t);
}

static void on_first_stop(struct session *s, pid_t tid, int status, bool hold)
{
	pid_t tgid = proc_tgid(tid);

	if (tgid && tgid != s->pid) {
		struct thread *parent_side = session_thread(s, tgid);
		/* A thread of a shadow process is a shadow too. */
		if (parent_side && parent_side->shadow && tgid != tid) {
			struct thread *t = session_add_thread(s, tid, tgid, THREAD_STOPPED);
			t->state = THREAD_STOPPED;
			t->shadow = true;
			if (!hold)
				session_resume(s, t);
			return;
		}
		session_remove_thread(s, tid);
		on_new_process(s, tid, status, hold);
		return;
	}
	struct thread *t = session_add_thread(s, tid, s->pid, THREAD_STOPPED);
	t->state = THREAD_STOPPED;
	t->shadow = false;
	if (status >> 16 == 0 && WSTOPSIG(status) != SIGTRAP)
		t->resume_sig = WSTOPSIG(status);
	/* Per-thread hook state (debug registers) is not inherited by new threads. */
	if (s->armed && s->ops->thread_init && s->ops->thread_init(s, t) < 0)
		report_error(s->report, "cannot set up hooks in new thread %d", (int)tid);
	if (!hold)
		session_resume(s, t);
}

static void on_exit_status(struct session *s, pid_t tid, int status)
{
	struct thread *t = session_thread(s, tid);
	pid_t tgid = t ? t->tgid : 0;

	session_remove_thread(s, tid);
	if (tid == s->pid) {
		s->gone = true;
		s->exit_status = status;
		/* The leader's exit is reported last: any thread still listed is gone. */
		for (int i = s->nthreads - 1; i >= 0; i--)
			if (s->threads[i].tgid == s->pid)
				session_remove_thread(s, s->threads[i].tid);
		mem_forget(tid);
	} else if (tgid && tgid == tid) {
		mem_forget(tid);
	}
}

/* exec replaced the memory our hooks lived in. A shadow (vfork) child that execs is let
 * go: its new memory holds none of our bytes. The traced process itself is followed:
 * every SPEC is resolved again in the new program, its executable's hooks now (only it
 * and the dynamic linker are mapped), its libraries' when the dynamic linker has loaded
 * them, before their constructors run. */
static void on_exec(struct session *s, struct thread *t, bool hold)
{
	pid_t tgid = t->tgid;

	if (t->shadow) {
		pid_t tid = t->tid;
		for (int i = s->nthreads - 1; i >= 0; i--)
			if (s->threads[i].tgid == tgid && s->threads[i].tid != tid)
				session_remove_thread(s, s->threads[i].tid);
		struct session *c = s->follow ? follow_fork(s, tgid, true) : NULL;
		session_remove_thread(s, tid);
		mem_forget(tgid);
		if (!c) {
			ptrace(PTRACE_DETACH, tid, NULL, NULL);
			return;
		}
		/* -F: the vfork child now has memory of its own, with a program of its own. */
		t = session_add_thread(c, tgid, tgid, THREAD_STOPPED);
		on_exec(c, t, false);
		return;
	}
	hooks_forget_all(s);
	sigwatch_reset(s, false);
	mem_forget(s->pid);
	/* Only the leader is left (a non-leader that execs takes the leader's id); the
	 * others' exits are reported or were. */
	for (int i = s->nthreads - 1; i >= 0; i--)
		if (s->threads[i].tgid == s->pid && s->threads[i].tid != s->pid)
			session_remove_thread(s, s->threads[i].tid);
	t = session_add_thread(s, s->pid, s->pid, THREAD_STOPPED);
	t->state = THREAD_STOPPED;
	t->in_syscall_stop = true;
	s->allow_pending = true;
	report_exec(s->report, s);
	if (hold) {
		s->sync_needed = true;
		return;
	}
	s->sync_needed = true;
	session_resume_all(s); /* the only thread is stopped: resync, then go */
}

/* The dynamic linker's objects are consistent again after a change: with every other
 * thread stopped, resync the hooks before t (the thread that loaded or unloaded) runs any
 * constructor of what it loaded. Inside a stop-all, the sync waits for its resume_all. */
static void on_objects_changed(struct session *s, bool hold)
{
	if (hold) {
		s->sync_needed = true;
		return;
	}
	if (session_stop_all(s) == 0) {
		s->sync_needed = true;
		session_resume_all(s);
	}
}

static void on_breakpoint(struct session *s, struct thread *t, bool hold)
{
	struct arch_regs regs;
	uint64_t resume_pc;
	struct hook *h;
	bool changed;

	if (arch_get_regs(t->tid, &regs) < 0) {
		t->exiting = true;
		return;
	}
	uint64_t stop_pc = arch_pc(&regs);
	if (rdebug_on_trap(s, t, stop_pc, &changed)) {
		sigwatch_after_trap(s, t, SIGTRAP);
		if (changed && !t->shadow)
			on_objects_changed(s, hold);
		return;
	}
	h = s->ops->on_trap(s, t, &regs, &resume_pc);
	if (!h) {
		t->resume_sig = SIGTRAP; /* the target's own: deliver it untouched */
		sigwatch_note_delivery(s, t, SIGTRAP);
		return;
	}
	sigwatch_after_trap(s, t, SIGTRAP);
	if (!t->shadow)
		report_call(s->report, s, t->tid, h, &regs);
	else if (s->follow)
		report_call_as(s->report, s, t->tgid, t->tid, h, &regs);
	else
		h->shadow_calls++;
	/* Only a strategy that moves the thread costs a register write; hwbp resumes in
	 * place, where the kernel has set EFLAGS.RF so the entry runs without trapping. */
	if (resume_pc != stop_pc && arch_poke_pc(t->tid, resume_pc) < 0)
		t->exiting = true;
}

/* Lets the strategy claim a signal (nx's SIGSEGV on a guarded page). Returns true when
 * it did, and the signal is then not delivered. */
static bool on_strategy_signal(struct session *s, struct thread *t, int sig)
{
	struct arch_regs regs;

	if (arch_get_regs(t->tid, &regs) < 0) {
		t->exiting = true;
		return true;
	}
	return s->ops->on_signal(s, t, sig, &regs) == 1;
}

void loop_handle(struct session *s, pid_t tid, int status, bool hold)
{
	if (trace_level() >= 2)
		fprintf(stderr, "mhook-trace: stop tid %d status 0x%x%s\n", (int)tid, status,
			hold ? " (hold)" : "");
	/* One waitpid serves every traced process: a stop of another session's thread is
	 * handled there, and that session is not the one being held. */
	struct session *owner = follow_owner(tid);
	if (!owner)
		owner = follow_parent_of(tid, s);
	if (owner != s) {
		loop_handle(owner, tid, status, false);
		return;
	}
	struct thread *t = session_thread(s, tid);

	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		on_exit_status(s, tid, status);
		return;
	}
	if (!WIFSTOPPED(status))
		return;
	if (!t || t->state == THREAD_NEW) {
		on_first_stop(s, tid, status, hold);
		return;
	}

	int sig = WSTOPSIG(status);
	int event = status >> 16;

	t->state = THREAD_STOPPED;
	t->resume_sig = 0;
	t->listen = false;
	t->in_syscall_stop = event == PTRACE_EVENT_CLONE || event == PTRACE_EVENT_FORK ||
			     event == PTRACE_EVENT_VFORK || event == PTRACE_EVENT_EXEC;
	switch (event) {
	case PTRACE_EVENT_STOP:
		/* Group-stop must be resumed with LISTEN, so that the thread stays stopped
		 * until SIGCONT; an interrupt stop is simply continued. */
		if (is_stop_signal(sig))
			t->listen = true;
		break;
	case PTRACE_EVENT_CLONE:
	case PTRACE_EVENT_FORK:
	case PTRACE_EVENT_VFORK: {
		unsigned long msg = 0;
		ptrace(PTRACE_GETEVENTMSG, tid, NULL, &msg);
		/* Registered before its first stop so that stop_all waits for it and a detach
		 * never leaves it traced. */
		/* The child's own first stop, and even its exit, may have been reported
		 * before this event: register it only if it is unknown and still exists, or
		 * stop_all would wait forever for a dead thread. */
		pid_t child_tgid = event == PTRACE_EVENT_CLONE ? 0 : (pid_t)msg;
		if (msg && !follow_owner((pid_t)msg) &&
		    syscall(SYS_tgkill, child_tgid ? child_tgid : t->tgid, (pid_t)msg, 0) == 0) {
			struct thread *c = session_add_thread(s, (pid_t)msg,
							      child_tgid ? child_tgid : t->tgid,
							      THREAD_NEW);
			(void)c;
			/* Adding may have moved the thread table: look t up again. */
			t = session_thread(s, tid);
			c = session_thread(s, (pid_t)msg);
			c->shadow = t->shadow || child_tgid != 0;
		}
		break;
	}
	case PTRACE_EVENT_EXEC:
		on_exec(s, t, hold);
		return;
	case 0:
		if (sig == SIGTRAP)
			on_breakpoint(s, t, hold);
		else if (!s->ops->on_signal || !on_strategy_signal(s, t, sig))
			t->resume_sig = sig;
		break;
	default:
		break;
	}
	if (!hold)
		session_resume(s, t);
}

bool sigtrap_pending(pid_t tid)
{
	uint64_t mask;

	return proc_status_field(tid, "SigPnd", 16, &mask) == 0 &&
	       (mask & (1ULL << (SIGTRAP - 1)));
}

/*
 * A thread may hit one of our breakpoints just before PTRACE_INTERRUPT reaches it: the
 * interrupt stop is reported first and the SIGTRAP stays pending. Left there, it would be
 * taken for the end of a later single-step (an injected syscall), or kill the thread after
 * detach. So every stop-all ends by letting such a thread take its SIGTRAP now, and the
 * strategy classifies it as for any other stop. A SIGTRAP sent by the target itself (a
 * user si_code) is kept for delivery.
 */
static void drain_pending_hits(struct session *s)
{
	int n;
	pid_t *tids = session_tids(s, &n);

	for (int i = 0; tids && i < n; i++) {
		struct thread *t = session_thread(s, tids[i]);
		siginfo_t si;

		if (!t || t->state != THREAD_STOPPED || t->resume_sig || !sigtrap_pending(t->tid))
			continue;
		bool listen = t->listen;
		t->listen = false;
		if (ptrace(PTRACE_CONT, t->tid, NULL, NULL) < 0)
			continue;
		t->state = THREAD_RUNNING;
		if (loop_wait_trap(s, t) < 0)
			continue; /* it died meanwhile */
		t->listen = listen;
		if (ptrace(PTRACE_GETSIGINFO, t->tid, NULL, &si) == 0 && si.si_code > 0)
			on_breakpoint(s, t, true);
		else
			t->resume_sig = SIGTRAP;
	}
	free(tids);
}

static bool any_running(struct session *s)
{
	for (int i = 0; i < s->nthreads; i++) {
		struct thread *t = &s->threads[i];
		if (!t->exiting && (t->state == THREAD_RUNNING || t->state == THREAD_NEW))
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
		if (mem_debug_enabled())
			fprintf(stderr, "mhook-debug: stop_all still waits for tid %d (tgid %d, "
				"ours %s, /proc state %c)\n", (int)t->tid, (int)t->tgid,
				t->state == THREAD_NEW ? "new" : "running", st ? st : '-');
		if (!st)
			session_remove_thread(s, t->tid);
	}
}

int session_stop_all(struct session *s)
{
	for (int i = 0; i < s->nthreads; i++) {
		struct thread *t = &s->threads[i];
		if (t->state != THREAD_RUNNING || t->exiting)
			continue;
		if (ptrace(PTRACE_INTERRUPT, t->tid, NULL, NULL) < 0)
			t->exiting = true;
		t->interrupted = true;
	}
	uint64_t waited = 0;
	while (any_running(s)) {
		int status;
		pid_t tid = waitpid(-1, &status, __WALL | WNOHANG);
		if (tid == 0) {
			/* Wait for the next stop, but not blindly: a thread that vanished
			 * without a report we could see must not hang us here. */
			if (!wait_signal(100) && ++waited % 5 == 0)
				forget_vanished(s);
			continue;
		}
		if (tid < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		loop_handle(s, tid, status, true);
		/* An event may have added a thread (clone) that is running: interrupt it. */
		for (int i = 0; i < s->nthreads; i++) {
			struct thread *t = &s->threads[i];
			if (t->state == THREAD_RUNNING && !t->exiting && !t->interrupted) {
				if (ptrace(PTRACE_INTERRUPT, t->tid, NULL, NULL) < 0)
					t->exiting = true;
				t->interrupted = true;
			}
		}
	}
	for (int i = 0; i < s->nthreads; i++)
		s->threads[i].interrupted = false;
	drain_pending_hits(s);
	return 0;
}

/* Spinning briefly on WNOHANG before blocking avoids the cost of waking an idle CPU when
 * the next hit comes soon (DESIGN section 7); sched_yield lets a tracee that shares our
 * CPU run meanwhile. */
static int spin_iterations(void)
{
	static int n = -1;

	if (n < 0) {
		const char *v = getenv("MHOOK_SPIN");
		n = v ? atoi(v) : 200;
		if (n < 0)
			n = 0;
	}
	return n;
}

/* A strategy with a tick gets it every LOOP_TICK_MS, from a timer signal that also
 * breaks a blocking wait, so checks run even when the target makes no stop. */
#define LOOP_TICK_MS 100

static void start_ticks(void)
{
	struct sigevent sev;
	struct itimerspec its;
	timer_t timer;

	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGRTMIN;
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer) < 0)
		return;
	memset(&its, 0, sizeof(its));
	its.it_value.tv_nsec = LOOP_TICK_MS * 1000000L;
	its.it_interval.tv_nsec = LOOP_TICK_MS * 1000000L;
	timer_settime(timer, 0, &its, NULL);
}

static pid_t loop_wait(struct session *s, int *status)
{
	static uint64_t last_poll;

	/* A busy target may never leave us idle: look at our signals every few ms. */
	uint64_t now = now_ns();
	if (now - last_poll > 5000000) {
		last_poll = now;
		poll_signals();
	}
	for (int i = 0, n = spin_iterations(); i < n; i++) {
		if (loop_stop_signal || tick_due)
			return 0;
		pid_t tid = waitpid(-1, status, __WALL | WNOHANG);
		if (tid != 0)
			return tid;
		sched_yield();
	}
	report_flush(s->report);
	if (ferror(s->report->out)) {
		/* Nobody reads our reports any more: end the session cleanly. */
		loop_stop_signal = SIGPIPE;
		return 0;
	}
	for (;;) {
		if (loop_stop_signal || tick_due)
			return 0;
		pid_t tid = waitpid(-1, status, __WALL | WNOHANG);
		if (tid != 0)
			return tid;
		/* Nothing ready: a stop that happens from now on leaves SIGCHLD pending, so
		 * this cannot miss it. */
		wait_signal(-1);
	}
}

int loop_run(struct session *s)
{
	if (s->ops->tick)
		start_ticks();
	while (!loop_stop_signal && !s->fatal) {
		int status;
		pid_t tid = loop_wait(s, &status);

		if (tick_due) {
			tick_due = 0;
			/* Every traced process (-F) has its own pages to watch. */
			for (int i = 0; s->ops->tick && i < follow_count(); i++) {
				struct session *fs = follow_at(i);
				if (!fs->gone && !fs->detached)
					fs->ops->tick(fs);
			}
		}
		if (tid == 0) {
			if (loop_stop_signal)
				break;
			continue;
		}
		if (tid < 0) {
			if (errno == EINTR)
				continue;
			break; /* ECHILD: nothing left to wait for */
		}
		loop_handle(s, tid, status, false);
		if (follow_all_gone())
			break;
	}
	report_flush(s->report);
	return 0;
}

static int wait_for_thread(struct session *s, struct thread *t, int *status)
{
	for (;;) {
		pid_t r = waitpid(t->tid, status, __WALL);
		if (r == t->tid) {
			if (trace_level() >= 2)
				fprintf(stderr, "mhook-trace: waited tid %d status 0x%x\n",
					(int)r, *status);
			return 0;
		}
		if (r < 0 && errno == EINTR)
			continue;
		t->exiting = true;
		(void)s;
		return -ESRCH;
	}
}

int loop_wait_trap(struct session *s, struct thread *t)
{
	pid_t tid = t->tid;

	for (;;) {
		int status;
		if (wait_for_thread(s, t, &status) < 0)
			return -ESRCH;
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			on_exit_status(s, tid, status);
			return -ESRCH;
		}
		t->state = THREAD_STOPPED;
		if (WSTOPSIG(status) == SIGTRAP && (status >> 16) == 0)
			return 0;
		/* Anything else (another signal, an event) is kept for later: a signal is
		 * re-queued so that it is delivered after we are done. */
		if ((status >> 16) == 0 && WSTOPSIG(status) != SIGTRAP)
			t->requeue_mask |= 1ULL << (WSTOPSIG(status) - 1);
		if (ptrace(PTRACE_CONT, tid, NULL, NULL) < 0)
			return -ESRCH;
		t->state = THREAD_RUNNING;
	}
}

int loop_step(struct session *s, struct thread *t)
{
	/* The stop the thread was in is what its later resume must see again: PTRACE_LISTEN
	 * works only from a PTRACE_EVENT_STOP, and a delayed signal is delivered with its
	 * original siginfo. So the step's own SIGTRAP siginfo is replaced afterwards. */
	siginfo_t saved;
	bool have_saved = ptrace(PTRACE_GETSIGINFO, t->tid, NULL, &saved) == 0;

	if (ptrace(PTRACE_SINGLESTEP, t->tid, NULL, NULL) < 0)
		return -errno;
	t->state = THREAD_RUNNING;
	for (;;) {
		int status;
		if (wait_for_thread(s, t, &status) < 0)
			return -ESRCH;
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			on_exit_status(s, t->tid, status);
			return -ESRCH;
		}
		t->state = THREAD_STOPPED;
		if (WSTOPSIG(status) == SIGTRAP && (status >> 16) == 0) {
			if (have_saved)
				ptrace(PTRACE_SETSIGINFO, t->tid, NULL, &saved);
			return 0;
		}
		if ((status >> 16) == 0)
			t->requeue_mask |= 1ULL << (WSTOPSIG(status) - 1);
		if (ptrace(PTRACE_SINGLESTEP, t->tid, NULL, NULL) < 0)
			return -errno;
		t->state = THREAD_RUNNING;
	}
}
