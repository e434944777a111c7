/*
 * remote_call (remote.h): a function of the target run by one of its own threads on our
 * behalf, as gdb's `call` does, for IFUNC resolvers that the process has not run yet.
 * The thread returns into a breakpoint in a scratch slot, which stops it; everything it
 * had (registers, the siginfo of its stop, its signal mask) is given back. Signals are
 * held meanwhile, except SIGTRAP (the breakpoint's, forced) and the faults, which stay
 * as the thread had them so that a resolver that faults stops here without resetting a
 * handler. The call is given a second: a resolver takes no lock, and one that does not
 * come back is interrupted rather than left holding every thread of the target.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>

#include "tracer/debug.h"
#include "tracer/mem.h"
#include "tracer/remote.h"
#include "tracer/services.h"
#include "tracer/signals.h"
#include "tracer/sigstate.h"

#define CALL_TIMEOUT_MS 1000
#define CALL_SLOT 16

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Waits for tid's next stop, at most until deadline (ms): 0, -ETIMEDOUT or -ESRCH. */
static int wait_until(pid_t tid, int *status, uint64_t deadline)
{
	for (;;) {
		pid_t r = waitpid(tid, status, __WALL | WNOHANG);
		if (r == tid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -ESRCH;
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		signals_wait(10);
	}
}

/* Runs tid from the call's first instruction until it stops at the slot's breakpoint.
 * Signals on the way are kept for later (*requeue). 0, or a negative errno with err. */
static int run_call(pid_t tid, uint64_t slot, uint64_t *requeue, int *fault, char *err,
		    size_t errlen)
{
	uint64_t deadline = now_ms() + CALL_TIMEOUT_MS;
	int status, rc;

	for (;;) {
		if (ptrace(PTRACE_CONT, tid, NULL, NULL) < 0)
			return -ESRCH;
		rc = wait_until(tid, &status, deadline);
		if (rc == -ETIMEDOUT) {
			/* Stopped where it is; the registers given back undo the call. */
			ptrace(PTRACE_INTERRUPT, tid, NULL, NULL);
			rc = wait_until(tid, &status, now_ms() + CALL_TIMEOUT_MS);
			snprintf(err, errlen, "it did not return within %d ms", CALL_TIMEOUT_MS);
			return rc < 0 ? -ESRCH : -ETIMEDOUT;
		}
		if (rc < 0 || !WIFSTOPPED(status))
			return -ESRCH;
		int sig = WSTOPSIG(status);
		if ((status >> 16) != 0)
			continue; /* an interrupt or group-stop of ours: on with the call */
		struct arch_regs regs;
		if (sig == SIGTRAP) {
			if (arch_get_regs(tid, &regs) < 0)
				return -ESRCH;
			if (arch_pc(&regs) == slot + arch_bp_pc_adjust)
				return 0;
			snprintf(err, errlen, "it trapped at 0x%" PRIx64, arch_pc(&regs));
			return -EFAULT;
		}
		if (tracer_is_fault(tid, sig)) {
			*fault = sig;
			arch_get_regs(tid, &regs);
			snprintf(err, errlen, "it faulted (signal %d) at 0x%" PRIx64, sig,
				 arch_pc(&regs));
			return -EFAULT;
		}
		*requeue |= 1ULL << (sig - 1);
	}
}

int remote_call(struct session *s, struct thread *t, uint64_t fn, const long args[6],
		uint64_t *result, char *err, size_t errlen)
{
	struct arch_regs saved, regs;
	uint64_t push_at = 0, requeue = 0, mask;
	pid_t tid = t->tid;
	siginfo_t si;
	int rc;

	if (arch_get_regs(tid, &saved) < 0)
		return -ESRCH;
	uint64_t slot = scratch_alloc(s, fn, CALL_SLOT, err, errlen);
	if (!slot)
		return -ENOMEM;
	regs = saved;
	arch_prepare_call(&regs, fn, slot, args, &push_at);
	rc = mem_write(s->pid, slot, arch_bp_insn, arch_bp_len);
	if (rc == 0 && push_at)
		rc = mem_write(s->pid, push_at, &slot, sizeof(slot));
	if (rc < 0) {
		snprintf(err, errlen, "cannot set the call up: %s", strerror(-rc));
		scratch_free(s, slot, CALL_SLOT);
		return rc;
	}
	bool have_si = ptrace(PTRACE_GETSIGINFO, tid, NULL, &si) == 0;
	if (tracer_hold_signals_for_code(tid, &mask) < 0 || arch_set_regs(tid, &regs) < 0) {
		scratch_free(s, slot, CALL_SLOT);
		return -ESRCH;
	}
	bool listen = t->listen;
	t->state = THREAD_RUNNING;
	int fault = 0;
	rc = run_call(tid, slot, &requeue, &fault, err, errlen);
	if (rc == 0 && arch_get_regs(tid, &regs) == 0)
		*result = arch_call_result(&regs);
	t = session_thread(s, tid);
	if (rc == -ESRCH || !t) {
		snprintf(err, errlen, "the thread that ran it is gone");
		return -ESRCH; /* the slot stays: nobody can say who is still inside it */
	}
	if (have_si)
		ptrace(PTRACE_SETSIGINFO, tid, NULL, &si);
	arch_set_regs(tid, &saved);
	tracer_release_signals(tid, mask);
	t->state = THREAD_STOPPED;
	t->listen = listen;
	t->requeue_mask |= requeue;
	if (rc == 0)
		scratch_free(s, slot, CALL_SLOT);
	/* The slot's breakpoint was a forced trap, and so is a fault; put back what they
	 * reset. */
	sigstate_forced(t, SIGTRAP);
	if (fault)
		sigstate_forced(t, fault);
	sigstate_repair(s, t);
	debug_log(1, "call 0x%" PRIx64 " in tid %d = 0x%" PRIx64 " (%d)", fn, (int)tid,
		  rc == 0 ? *result : 0, rc);
	return rc;
}
