/*
 * nx and the target's own signals at detach: a fault taken just before the thread was
 * interrupted, whose SIGSEGV is still pending when the pages are executable again. (The
 * target's SIGSEGV handler being reset by one of our faults is tracer/sigwatch.c's, shared
 * with the SIGTRAP strategies.)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "strategies/nx.h"
#include "tracer/loop.h"
#include "tracer/mem.h"

/* A SIGSEGV pending (not blocked) in tid: a fault taken just before an interrupt stop. */
static bool segv_pending(pid_t tid)
{
	char path[64], line[256];
	unsigned long long pnd = 0, blk = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "SigPnd: %llx", &pnd);
		sscanf(line, "SigBlk: %llx", &blk);
	}
	fclose(f);
	return (pnd & ~blk) & (1ULL << (SIGSEGV - 1));
}

/*
 * At detach the pages are executable again, but a thread that faulted on one just before
 * it was interrupted still has that SIGSEGV pending: after detach it would kill the
 * target. Let it take the signal now; on_signal counts it (a call, if at an entry) and
 * suppresses it, and the thread stays stopped (hold).
 */
void nx_drain_fault(struct session *s, struct thread *t)
{
	pid_t tid = t->tid;

	for (int i = 0; i < 4 && t && t->state == THREAD_STOPPED && !t->resume_sig &&
			segv_pending(tid); i++) {
		int status;
		bool listen = t->listen;
		t->listen = false;
		if (ptrace(PTRACE_CONT, tid, NULL, NULL) < 0)
			return;
		t->state = THREAD_RUNNING;
		pid_t r;
		while ((r = waitpid(tid, &status, __WALL)) < 0 && errno == EINTR)
			;
		if (r != tid)
			return;
		loop_handle(s, tid, status, true);
		t = session_thread(s, tid);
		if (t)
			t->listen = t->listen || listen;
	}
}

