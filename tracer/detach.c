/*
 * Detach: leave the target exactly as we found it. Every thread is stopped (stop-all also
 * takes in the hits of threads that executed an int3 just before they were interrupted, see
 * loop.c), and hooks are removed. A thread inside an out-of-line slot is then moved by the
 * strategy to the equivalent original address. Only then are scratch pages unmapped.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>

#include "handlers/report.h"
#include "strategies/strategy.h"
#include "tracer/attach.h"
#include "tracer/loop.h"

int session_detach(struct session *s)
{
	int kept;

	if (s->detached || (s->gone && s->nthreads == 0))
		return 0;
	session_stop_all(s);
	for (int i = 0; i < s->nhooks; i++)
		s->ops->remove(s, &s->hooks[i]);
	swbp_ops.remove(s, &s->rdebug);

	/* Stepping out of a slot may see a thread exit, which reorders the thread table:
	 * walk a snapshot of the tids instead. */
	int n;
	pid_t *tids = session_tids(s, &n);
	for (int i = 0; tids && i < n; i++) {
		struct thread *t = session_thread(s, tids[i]);
		int rc = t && t->state == THREAD_STOPPED ? s->ops->evacuate(s, t) : 0;
		/* The internal rendezvous breakpoint is swbp whatever the strategy. */
		if (rc == 0 && s->ops != &swbp_ops && (t = session_thread(s, tids[i])) &&
		    t->state == THREAD_STOPPED)
			rc = swbp_ops.evacuate(s, t);
		if (rc == -EBUSY)
			report_error(s->report, "thread %d is inside out-of-line code; its scratch "
				     "page stays mapped", (int)tids[i]);
	}
	free(tids);
	kept = s->nscratch ? scratch_release(s) : 0;
	if (kept)
		report_error(s->report, "%d scratch page(s) stay mapped in pid %d", kept,
			     (int)s->pid);

	for (int i = 0; i < s->nthreads; i++) {
		struct thread *t = &s->threads[i];
		if (t->state != THREAD_STOPPED)
			continue;
		if (s->ops->thread_fini)
			s->ops->thread_fini(s, t);
		/* A group-stopped thread is detached with no signal: it stays stopped. */
		ptrace(PTRACE_DETACH, t->tid, NULL, (void *)(long)(t->listen ? 0 : t->resume_sig));
		session_requeue_signals(t);
	}
	s->nthreads = 0;
	s->detached = true;
	return 0;
}
