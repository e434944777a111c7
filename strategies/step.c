/*
 * step: the seed's own re-arm, kept for comparison with swbp. A breakpoint sits at the
 * entry; at a hit the thread goes back to the entry, and before it runs again every
 * other thread is stopped, the original byte is put back, the thread single-steps the
 * first instruction in place, and the breakpoint is written again. Stopping the others
 * is what keeps the counts exact (a thread that ran meanwhile would pass the restored
 * entry unseen, which is how ltrace and classic debuggers lose calls), and it is what
 * this strategy costs: two stops, two code writes and an interruption of every other
 * thread per call, where swbp needs one stop. Nothing is relocated, so any first
 * instruction will do, except a system call: stepping one with the world stopped would
 * wait for ever on a futex or a read that another thread must end.
 *
 * The step cannot happen inside the hit's own stop, which may come while a stop-all is
 * under way (then other threads still run): the hit leaves the thread at the entry with
 * t->step_over set, and the loop never resumes such a thread alone; settle runs the
 * steps when every thread is stopped, just before they are resumed.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strategies/bp.h"
#include "strategies/strategy.h"
#include "tracer/mem.h"
#include "tracer/services.h"
#include "tracer/sigstate.h"

/* Only to see the first instruction whole. */
#define STEP_READ_MAX (ARCH_MAX_INSN_LEN + 1)

/* What a prepared hook keeps: the length of the instruction that is stepped, which
 * tells a breakpoint trap from the target's own SIGTRAP where the PC alone cannot. */
struct step_hook {
	int insn_len;
};

static int step_prepare(struct session *s, struct hook *h, char *err, size_t errlen)
{
	uint8_t code[STEP_READ_MAX];
	int n = bp_read_entry(s, h, code, sizeof(code), err, errlen);
	struct step_hook *sh;

	if (n < 0)
		return n;
	int len = arch_insn_len(code, (size_t)n);
	if (len <= 0) {
		snprintf(err, errlen, "the instruction at 0x%" PRIx64 " (%s) does not decode",
			 h->addr, h->func);
		return -ENOTSUP;
	}
	if ((size_t)len == arch_syscall_len && !memcmp(code, arch_syscall_insn, arch_syscall_len)) {
		snprintf(err, errlen, "the instruction at 0x%" PRIx64 " (%s) is a system call, "
			 "which could block for ever while -s step keeps every other thread "
			 "stopped around its single-step; use -s swbp", h->addr, h->func);
		return -ENOTSUP;
	}
	sh = calloc(1, sizeof(*sh));
	if (!sh)
		return -ENOMEM;
	sh->insn_len = len;
	memcpy(h->orig, code, arch_bp_len);
	h->orig_len = arch_bp_len;
	h->priv = sh;
	return 0;
}

static struct hook *step_on_trap(struct session *s, struct thread *t, struct arch_regs *regs,
				 uint64_t *resume_pc)
{
	uint64_t addr = arch_pc(regs) - arch_bp_pc_adjust;
	struct hook *h = session_hook_at(s, addr);
	const struct step_hook *sh;

	if (!h || h->ops != &step_ops || !h->armed || !(sh = h->priv) || addr != h->addr)
		return NULL;
	/* A thread that has just stepped a one-byte instruction sits where a breakpoint
	 * trap leaves the PC: only the siginfo tells a kill() there from our trap. */
	if (arch_bp_pc_adjust && (uint64_t)sh->insn_len == arch_bp_pc_adjust &&
	    !bp_trap_is_bp(t->tid))
		return NULL;
	arch_set_pc(regs, addr); /* reports see the entry, and the thread goes back there */
	*resume_pc = addr;
	t->step_again = t->step_over == addr;
	t->step_over = addr;
	return h;
}

/* Steps t, stopped at h's entry, over the original instruction. Every other thread is
 * stopped. */
static void step_over(struct session *s, struct thread *t, struct hook *h)
{
	pid_t tid = t->tid;

	t->step_over = 0;
	if (!h || !h->armed || h->ops != &step_ops)
		return; /* disarmed since the hit (an unload, a detach): the entry is original */
	if (mem_write(s->pid, h->addr, h->orig, h->orig_len) < 0) {
		tracer_report_error(s, "step: cannot put back the entry of %s: the thread %d "
				    "will hit it again", h->func, (int)tid);
		return;
	}
	int rc = tracer_step_or_group_stop(s, t);
	if (rc == -EAGAIN)
		t->step_over = h->addr; /* still owed: it runs again only after SIGCONT */
	if (mem_write(s->pid, h->addr, arch_bp_insn, arch_bp_len) < 0) {
		h->armed = false;
		tracer_report_error(s, "step: cannot write the breakpoint of %s again: it is "
				    "no longer hooked", h->func);
	}
	t = session_thread(s, tid);
	if (!t || t->state != THREAD_STOPPED)
		return;
	if (rc == -EFAULT)
		sigstate_deliver(s, t, t->resume_sig); /* the unhooked call would fault too */
	sigstate_repair(s, t);
}

static void step_settle(struct session *s)
{
	for (int i = 0; i < s->nthreads; i++) {
		struct thread *t = &s->threads[i];
		/* One in group-stop stays there, its step still owed (tracer_step_or_group_stop):
		 * stepping it would let it run while its process is stopped. */
		if (t->step_over && t->state == THREAD_STOPPED && !t->listen)
			step_over(s, t, session_hook_at(s, t->step_over));
	}
}

static int step_evacuate(struct session *s, struct thread *t)
{
	(void)s;
	t->step_over = 0; /* it sits at the entry, which is original code again */
	return 0;
}

static int step_clean_child(struct session *s, pid_t child)
{
	bp_clean_child(s, child, &step_ops);
	return 0;
}

const struct strategy_ops step_ops = {
	.name = "step",
	.id = STRATEGY_STEP,
	.priv_size = sizeof(struct step_hook),
	.probe = bp_probe,
	.prepare = step_prepare,
	.install = bp_install,
	.remove = bp_remove,
	.on_trap = step_on_trap,
	.evacuate = step_evacuate,
	.clean_child = step_clean_child,
	.settle = step_settle,
};
