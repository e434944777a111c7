/*
 * nx and the target's own signals. Two races are handled here: the target's SIGSEGV
 * handler being reset by the kernel when one of our faults hits it (see below), and, at
 * detach, a fault taken just before the thread was interrupted, whose SIGSEGV is still
 * pending when the pages are executable again.
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

/*
 * The target's SIGSEGV handler. While it runs, SIGSEGV is blocked; a fault on a guarded
 * page then makes the kernel reset the handler to SIG_DFL and unblock SIGSEGV (a forced
 * signal that is blocked), before we even see the fault. The next real SIGSEGV would kill
 * the target. So when the target's own SIGSEGV is delivered, its handler is read (a
 * remote rt_sigaction, into the stack below the red zone, which the signal frame is about
 * to overwrite anyway) and the thread is remembered; our faults in such a thread check
 * whether the reset happened and undo it.
 */
#define NX_SIGSET_SIZE 8

void nx_note_target_segv(struct nx_state *st, struct thread *t, struct arch_regs *regs)
{
	uint64_t buf = (arch_sp(regs) - 128 - sizeof(st->segv_act)) & ~15ULL;
	uint64_t act[4];

	if (t->shadow || remote_syscall(st->s, t, SYS_rt_sigaction, SIGSEGV, 0, (long)buf,
					NX_SIGSET_SIZE, 0, 0) < 0 ||
	    mem_read(st->s->pid, buf, act, sizeof(act)) < 0)
		return;
	if (act[0] == (uint64_t)(uintptr_t)SIG_DFL || act[0] == (uint64_t)(uintptr_t)SIG_IGN)
		return;
	memcpy(st->segv_act, act, sizeof(act));
	st->segv_act_valid = true;
	for (int i = 0; i < st->nsegv_tids; i++)
		if (st->segv_tids[i] == t->tid)
			return;
	if (st->nsegv_tids < (int)(sizeof(st->segv_tids) / sizeof(st->segv_tids[0])))
		st->segv_tids[st->nsegv_tids++] = t->tid;
}

/* Reads SigBlk and SigCgt of tid. */
static int sig_masks(pid_t tgid, pid_t tid, unsigned long long *blk, unsigned long long *cgt)
{
	char path[96], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)tgid, (int)tid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "SigBlk: %llx", blk);
		sscanf(line, "SigCgt: %llx", cgt);
	}
	fclose(f);
	return 0;
}

/* Our fault in t, which may be inside the target's SIGSEGV handler: undo a reset. */
void nx_check_segv_handler(struct nx_state *st, struct thread *t)
{
	unsigned long long blk = 0, cgt = 0, bit = 1ULL << (SIGSEGV - 1);
	int i;

	for (i = 0; i < st->nsegv_tids && st->segv_tids[i] != t->tid; i++)
		;
	if (i == st->nsegv_tids || sig_masks(t->tgid, t->tid, &blk, &cgt) < 0)
		return;
	if (!(cgt & bit) && st->segv_act_valid) {
		/* Reset by our fault: the handler back, and SIGSEGV blocked again, with
		 * the arguments written below the thread's red zone. */
		struct arch_regs regs;
		if (arch_get_regs(t->tid, &regs) < 0)
			return;
		uint64_t buf = (arch_sp(&regs) - 128 - 64) & ~15ULL;
		uint64_t set = bit;
		if (mem_write(st->s->pid, buf, st->segv_act, sizeof(st->segv_act)) < 0 ||
		    mem_write(st->s->pid, buf + 32, &set, sizeof(set)) < 0)
			return;
		remote_syscall(st->s, t, SYS_rt_sigaction, SIGSEGV, (long)buf, 0, NX_SIGSET_SIZE,
			       0, 0);
		remote_syscall(st->s, t, SYS_rt_sigprocmask, SIG_BLOCK, (long)(buf + 32), 0,
			       NX_SIGSET_SIZE, 0, 0);
		return;
	}
	if (!(blk & bit)) {
		/* Out of the handler (returned or longjmp'd): nothing to watch. */
		st->segv_tids[i] = st->segv_tids[--st->nsegv_tids];
	}
}

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

