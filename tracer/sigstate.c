/*
 * The shadow of the target's SIGTRAP and SIGSEGV handling; see sigstate.h. What a forced
 * trap resets: when the process ignores the signal, the handler becomes SIG_DFL; when the
 * thread blocks it, the handler becomes SIG_DFL and the signal is unblocked in the thread.
 * A handled signal that the thread does not block (in its mask: a handler's sa_mask is
 * not followed) is left alone, and so is SIG_DFL, unblocked: the common case costs
 * nothing. A handler that was reset anyway (the trap hit inside a handler whose sa_mask
 * blocks the signal) is seen in /proc's SigCgt, so a target with a handler pays one read
 * of /proc per trap of ours. The argument of an injected rt_sigaction goes below the
 * thread's red zone, which nothing uses at a trap of ours.
 */
#include "tracer/sigstate.h"

#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

#include "tracer/debug.h"
#include "tracer/mem.h"
#include "tracer/proc.h"
#include "tracer/remote.h"

#define KERNEL_SIGSET_SIZE 8
#define HANDLER_DFL ((uint64_t)(uintptr_t)SIG_DFL)
#define HANDLER_IGN ((uint64_t)(uintptr_t)SIG_IGN)

static const int trap_sigs[2] = { SIGTRAP, SIGSEGV };

static int index_of(int sig)
{
	return sig == SIGTRAP ? 0 : sig == SIGSEGV ? 1 : -1;
}

static uint64_t bit_of(int sig)
{
	return 1ULL << (sig - 1);
}

/* A mask's bits for the two signals, as thread.trap_blocked holds them. */
static uint8_t trap_bits(uint64_t mask)
{
	return (uint8_t)(((mask & bit_of(SIGTRAP)) ? 1 : 0) | ((mask & bit_of(SIGSEGV)) ? 2 : 0));
}

/* Room for size bytes of an injected syscall's argument below stopped t's red zone, or 0. */
static uint64_t arg_room(const struct thread *t, size_t size)
{
	struct arch_regs regs;

	if (arch_get_regs(t->tid, &regs) < 0)
		return 0;
	return (arch_sp(&regs) - ARCH_RED_ZONE - size) & ~15ULL;
}

/* struct kernel_sigaction through t: handler, flags, restorer, mask. */
static int get_action(struct session *s, struct thread *t, int sig, uint64_t act[4])
{
	uint64_t buf = arg_room(t, 4 * sizeof(uint64_t));

	if (!buf || remote_syscall(s, t, SYS_rt_sigaction, sig, 0, (long)buf, KERNEL_SIGSET_SIZE, 0, 0) <
		    0 ||
	    mem_read(s->pid, buf, act, 4 * sizeof(uint64_t)) < 0)
		return -1;
	return 0;
}

/* The action the shadow holds, which the trap reset only the handler of. */
static void put_action(struct session *s, struct thread *t, int sig, const struct sigshadow *sh)
{
	const uint64_t act[4] = { sh->handler, sh->flags, sh->restorer, sh->mask };
	uint64_t buf = arg_room(t, sizeof(act));

	if (!buf || mem_write(s->pid, buf, act, sizeof(act)) < 0 ||
	    remote_syscall(s, t, SYS_rt_sigaction, sig, (long)buf, 0, KERNEL_SIGSET_SIZE, 0, 0) < 0)
		return;
	debug_log(1, "sigstate: signal %d's handler 0x%llx put back through tid %d", sig,
		  (unsigned long long)sh->handler, (int)t->tid);
}

void sigstate_snapshot(struct session *s)
{
	uint64_t ign = 0, cgt = 0;

	if (s->sig_read)
		return;
	pid_t live = proc_live_thread(s->pid);
	struct thread *t = session_any_stopped(s);
	if (!live || !t || proc_status_field(live, "SigIgn", 16, &ign) < 0 ||
	    proc_status_field(live, "SigCgt", 16, &cgt) < 0)
		return;
	for (int i = 0; i < 2; i++) {
		int sig = trap_sigs[i];
		struct sigshadow *sh = &s->sigshadow[i];
		uint64_t act[4];
		memset(sh, 0, sizeof(*sh));
		sh->handler = ign & bit_of(sig) ? HANDLER_IGN : HANDLER_DFL;
		if (((ign | cgt) & bit_of(sig)) && get_action(s, t, sig, act) == 0) {
			sh->handler = act[0];
			sh->flags = act[1];
			sh->restorer = act[2];
			sh->mask = act[3];
		}
	}
	for (int i = 0; i < s->nthreads; i++) {
		struct thread *u = &s->threads[i];
		uint64_t mask = 0; /* valgrind cannot see PTRACE_GETSIGMASK write it */
		if (u->state != THREAD_STOPPED ||
		    ptrace(PTRACE_GETSIGMASK, u->tid, (void *)sizeof(mask), &mask) < 0)
			continue;
		u->trap_blocked = trap_bits(mask);
	}
	s->sig_read = true;
}

void sigstate_on_call(struct session *s, struct thread *t, enum sigstate_watch w,
		      const struct arch_regs *regs)
{
	uint64_t args[ARCH_MAX_ARGS];
	uint64_t v[4];

	/* The watch's own trap is put right first, so that the call's old action (or old
	 * mask) reads what the target had, then the shadow takes the new one. */
	sigstate_forced(t, SIGTRAP);
	sigstate_repair(s, t);
	arch_args(regs, args);
	if (w == SIGSTATE_SIGACTION) {
		/* A vfork child (posix_spawn's, which resets handlers before its exec) has
		 * dispositions of its own: the process's shadow is not its. */
		if (t->shadow)
			return;
		int i = index_of((int)args[0]);
		if (arch_syscall_nr(regs) != SYS_rt_sigaction || i < 0 || !args[1] ||
		    mem_read(s->pid, args[1], v, sizeof(v)) < 0)
			return;
		s->sigshadow[i] = (struct sigshadow){ v[0], v[1], v[2], v[3] };
		return;
	}
	if (arch_syscall_nr(regs) != SYS_rt_sigprocmask || !args[1] ||
	    mem_read(s->pid, args[1], v, sizeof(v[0])) < 0)
		return;
	uint8_t set = trap_bits(v[0]);
	switch ((int)args[0]) {
	case SIG_BLOCK:
		t->trap_blocked |= set;
		break;
	case SIG_UNBLOCK:
		t->trap_blocked &= (uint8_t)~set;
		break;
	case SIG_SETMASK:
		t->trap_blocked = set;
		break;
	default:
		break; /* EINVAL: nothing changes */
	}
}

void sigstate_take_back(struct session *s, struct thread *t, int sig)
{
	siginfo_t si = { 0 };
	int i = index_of(sig);
	uint64_t buf;

	if (i < 0 || !(t->trap_blocked & (1u << i)) ||
	    ptrace(PTRACE_GETSIGINFO, t->tid, NULL, &si) < 0 || si.si_code > 0 ||
	    !(buf = arg_room(t, sizeof(si))))
		return;
	/* Sent by the target (raise, kill, sigqueue) and pending while blocked: our trap
	 * merged into it. Queued again from the thread itself, which may forge any siginfo
	 * for itself, so it is pending as before, siginfo and all. */
	if (mem_write(s->pid, buf, &si, sizeof(si)) == 0)
		remote_syscall(s, t, SYS_rt_tgsigqueueinfo, t->tgid, t->tid, sig, (long)buf, 0, 0);
}

void sigstate_forced(struct thread *t, int sig)
{
	int i = index_of(sig);

	if (i >= 0)
		t->forced |= (uint8_t)(1u << i);
}

void sigstate_repair(struct session *s, struct thread *t)
{
	uint8_t forced = t->forced;

	t->forced = 0;
	if (!forced || !s->sig_read)
		return;
	for (int i = 0; i < 2; i++) {
		if (!(forced & (1u << i)))
			continue;
		int sig = trap_sigs[i];
		const struct sigshadow *sh = &s->sigshadow[i];
		bool blocked = s->sig_tracked[SIGSTATE_SIGMASK] && (t->trap_blocked & (1u << i));
		bool handled = sh->handler != HANDLER_DFL && sh->handler != HANDLER_IGN;
		bool reset = sh->handler == HANDLER_IGN || (handled && blocked);
		bool handler_blocked = false;
		uint64_t cgt;
		if (handled && !blocked && proc_status_field(t->tid, "SigCgt", 16, &cgt) == 0 &&
		    !(cgt & bit_of(sig)))
			reset = handler_blocked = true; /* inside a handler that blocks sig */
		if (reset && s->sig_tracked[SIGSTATE_SIGACTION])
			put_action(s, t, sig, sh);
		if (blocked || handler_blocked) {
			uint64_t mask = 0;
			if (ptrace(PTRACE_GETSIGMASK, t->tid, (void *)sizeof(mask), &mask) == 0 &&
			    !(mask & bit_of(sig))) {
				mask |= bit_of(sig);
				ptrace(PTRACE_SETSIGMASK, t->tid, (void *)sizeof(mask), &mask);
			}
		}
	}
}

void sigstate_deliver(struct session *s, struct thread *t, int sig)
{
	int i = index_of(sig);
	siginfo_t si;

	if (i < 0 || !s->sig_read)
		return;
	struct sigshadow *sh = &s->sigshadow[i];
	bool blocked = t->trap_blocked & (1u << i);
	/* Forced (a fault, an int3 of its own): the kernel reset it as it would untraced. */
	if (ptrace(PTRACE_GETSIGINFO, t->tid, NULL, &si) == 0 && si.si_code > 0 &&
	    (blocked || sh->handler == HANDLER_IGN)) {
		sh->handler = HANDLER_DFL;
		t->trap_blocked &= (uint8_t)~(1u << i);
		return;
	}
	if (sh->handler != HANDLER_DFL && sh->handler != HANDLER_IGN && !blocked &&
	    (sh->flags & SA_RESETHAND))
		sh->handler = HANDLER_DFL;
}

void sigstate_clone(const struct thread *parent, struct thread *child)
{
	child->trap_blocked = parent->trap_blocked;
}

void sigstate_exec(struct session *s)
{
	s->sig_read = false;
	s->sig_tracked[0] = s->sig_tracked[1] = false;
}
