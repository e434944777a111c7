/*
 * Detach: leave the target exactly as we found it. Every thread is stopped (stop-all also
 * takes in the hits of threads that trapped just before they were interrupted), and hooks
 * are removed. A thread inside out-of-line code is then moved by its strategy to the
 * equivalent original address. Only then are scratch pages unmapped.
 */
#include "tracer/detach.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "strategies/strategy.h"
#include "tracer/proc.h"
#include "tracer/remote.h"
#include "tracer/services.h"
#include "tracer/signals.h"
#include "tracer/sigstate.h"

int detach_evacuate(struct session *s, pid_t tid)
{
	const struct strategy_ops *ops;

	for (unsigned pos = 0; (ops = strategy_next_used(s, &pos));) {
		struct thread *t = session_thread(s, tid);
		if (!t || t->state != THREAD_STOPPED)
			return 0;
		int rc = ops->evacuate(s, t);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Gives t back: its per-thread hook state (debug registers) cleared, any signal it was
 * stopped with delivered. */
static void detach_thread(struct session *s, struct thread *t)
{
	const struct strategy_ops *ops;

	for (unsigned pos = 0; (ops = strategy_next_used(s, &pos));)
		if (ops->thread_fini)
			ops->thread_fini(s, t);
	/* A group-stopped thread is detached with no signal: it stays stopped. */
	ptrace(PTRACE_DETACH, t->tid, NULL, (void *)(long)(t->listen ? 0 : t->resume_sig));
	tracer_requeue_signals(t);
}

/* A thread parked in vfork (tracer_parked) cannot be detached until it stops at the
 * interrupt stop_all sent it, which it reaches once its child, detached now, has exec'd
 * or exited. Waited for here, or it would stay traced (and stop for good at that interrupt
 * were mhookd to live on), with its debug registers still set. Said once when it takes
 * long: a vfork child may sleep. Returns true once t is stopped. */
static bool wait_parked(struct session *s, struct thread *t)
{
	pid_t tid = t->tid, child = t->vfork_child;

	for (int waited_ms = 0;; waited_ms += 100) {
		int status;
		pid_t r = waitpid(tid, &status, __WALL | WNOHANG);
		if (r == tid) {
			if (WIFEXITED(status) || WIFSIGNALED(status))
				return false;
			t->state = THREAD_STOPPED;
			/* A signal that came meanwhile goes on; an interrupt or group-stop
			 * is left with none, so a group-stop stays one. */
			t->listen = status >> 16 != 0;
			t->resume_sig = status >> 16 == 0 ? WSTOPSIG(status) : 0;
			return true;
		}
		if (r < 0 && errno != EINTR)
			return false;
		if (waited_ms == 1000)
			tracer_report_error(s, "thread %d waits in vfork for its child %d; mhookd "
					    "detaches from it once the child execs or exits",
					    (int)tid, (int)child);
		signals_wait(100);
	}
}

/* After a munmap failed: whether the process lives on, or ended meanwhile (killed from
 * outside) and took its pages with it. A SIGKILL takes a few milliseconds to turn every
 * thread into a zombie, so a process seen alive is given 100 ms to prove it. */
static bool process_lives_on(struct session *s)
{
	for (int i = 0; i < 10; i++) {
		if (s->gone || !proc_live_thread(s->pid))
			return false;
		signals_wait(10);
	}
	return true;
}

int session_detach(struct session *s)
{
	int kept;

	if (s->detached || (s->gone && s->nthreads == 0))
		return 0;
	tracer_stop_all(s);
	for (int i = 0; i < s->nhooks; i++)
		if (s->hooks[i].prepared)
			s->hooks[i].ops->remove(s, &s->hooks[i]);
	for (int i = 0; i < SESSION_NINTERNAL; i++)
		if (session_internal(s, i)->prepared)
			swbp_ops.remove(s, session_internal(s, i));

	/* Stepping out of a slot may see a thread exit, which reorders the thread table:
	 * walk a snapshot of the tids instead. */
	int n;
	pid_t *tids = session_tids(s, &n);
	for (int i = 0; tids && i < n; i++) {
		if (detach_evacuate(s, tids[i]) == -EBUSY)
			tracer_report_error(s, "thread %d is inside out-of-line code; its scratch "
					    "page stays mapped", (int)tids[i]);
		struct thread *t = session_thread(s, tids[i]);
		if (t && t->state == THREAD_STOPPED)
			sigstate_repair(s, t); /* the steps out of slots are forced traps */
	}
	free(tids);
	kept = s->nscratch ? scratch_release(s) : 0;
	if (kept && process_lives_on(s))
		tracer_report_error(s, "%d scratch page(s) stay mapped in pid %d", kept,
				    (int)s->pid);

	for (int i = 0; i < s->nthreads; i++)
		if (s->threads[i].state == THREAD_STOPPED)
			detach_thread(s, &s->threads[i]);
	for (int i = 0; i < s->nthreads; i++) {
		struct thread *t = &s->threads[i];
		if (t->state == THREAD_RUNNING && t->vfork_child && !t->exiting &&
		    wait_parked(s, t))
			detach_thread(s, t);
	}
	s->nthreads = 0;
	s->detached = true;
	return 0;
}
