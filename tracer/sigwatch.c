/*
 * The target's SIGTRAP and SIGSEGV handlers against our traps; see sigwatch.h. The
 * argument of the injected rt_sigaction goes below the thread's red zone: at a
 * signal-delivery-stop that stack is about to be overwritten by the signal frame anyway,
 * and at a trap of ours it is unused.
 */
#include "tracer/sigwatch.h"

#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

#include "tracer/arch.h"
#include "tracer/mem.h"
#include "tracer/proc.h"
#include "tracer/remote.h"

#define KERNEL_SIGSET_SIZE 8

static struct sigwatch *watch_of(struct session *s, int sig)
{
	if (sig == SIGTRAP)
		return &s->sigwatch[0];
	if (sig == SIGSEGV)
		return &s->sigwatch[1];
	return NULL;
}

void sigwatch_note_delivery(struct session *s, struct thread *t, int sig)
{
	struct sigwatch *w = watch_of(s, sig);
	struct arch_regs regs;
	uint64_t act[4];

	if (!w || t->shadow || arch_get_regs(t->tid, &regs) < 0)
		return;
	uint64_t buf = (arch_sp(&regs) - ARCH_RED_ZONE - sizeof(act)) & ~15ULL;
	if (remote_syscall(s, t, SYS_rt_sigaction, sig, 0, (long)buf, KERNEL_SIGSET_SIZE, 0,
			   0) < 0 ||
	    mem_read(s->pid, buf, act, sizeof(act)) < 0)
		return;
	if (act[0] == (uint64_t)(uintptr_t)SIG_DFL || act[0] == (uint64_t)(uintptr_t)SIG_IGN)
		return;
	memcpy(w->act, act, sizeof(act));
	w->valid = true;
	for (int i = 0; i < w->ntids; i++)
		if (w->tids[i] == t->tid)
			return;
	if (w->ntids < (int)(sizeof(w->tids) / sizeof(w->tids[0])))
		w->tids[w->ntids++] = t->tid;
}

void sigwatch_after_trap(struct session *s, struct thread *t, int sig)
{
	struct sigwatch *w = watch_of(s, sig);
	uint64_t blocked, caught, bit = 1ULL << (sig - 1);
	int i;

	if (!w || !w->ntids)
		return;
	for (i = 0; i < w->ntids && w->tids[i] != t->tid; i++)
		;
	if (i == w->ntids ||
	    ptrace(PTRACE_GETSIGMASK, t->tid, (void *)sizeof(blocked), &blocked) < 0 ||
	    proc_status_field(t->tid, "SigCgt", 16, &caught) < 0)
		return;
	if (!(caught & bit) && w->valid) {
		/* Reset by our trap: the handler back, then sig blocked again, as it was while
		 * the handler ran (through ptrace: one call, where an injected rt_sigprocmask
		 * takes four). */
		struct arch_regs regs;
		if (arch_get_regs(t->tid, &regs) < 0)
			return;
		uint64_t buf = (arch_sp(&regs) - ARCH_RED_ZONE - sizeof(w->act)) & ~15ULL;
		if (mem_write(s->pid, buf, w->act, sizeof(w->act)) < 0 ||
		    remote_syscall(s, t, SYS_rt_sigaction, sig, (long)buf, 0, KERNEL_SIGSET_SIZE,
				   0, 0) < 0)
			return;
		blocked |= bit;
		ptrace(PTRACE_SETSIGMASK, t->tid, (void *)sizeof(blocked), &blocked);
		return;
	}
	if (!(blocked & bit)) {
		/* Out of the handler (returned or longjmp'd): nothing to watch. */
		w->tids[i] = w->tids[--w->ntids];
	}
}

void sigwatch_reset(struct session *s, bool keep_handlers)
{
	for (int i = 0; i < 2; i++) {
		s->sigwatch[i].ntids = 0;
		if (!keep_handlers)
			s->sigwatch[i].valid = false;
	}
}
