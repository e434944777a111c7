/*
 * hwbp: hardware execute breakpoints (x86: DR0-DR3 enabled in DR7). Each hook takes one
 * slot, in every thread: the kernel keeps ptrace breakpoints per thread and does not copy
 * them to new threads, so each thread gets them at its first stop (thread_init). The
 * target's code is never written. A hit is one stop with no register write: an execute
 * breakpoint traps before the instruction, and resuming in place runs it without
 * trapping again (x86 sets EFLAGS.RF).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>

#include "strategies/strategy.h"
#include "tracer/mem.h"

/* More than any arch has: the slot mask is an unsigned. */
#define HWBP_MAX_SLOTS 16

struct hwbp_hook {
	int slot;
	bool ambiguous; /* a breakpoint instruction ends just before the entry: the target's
			 * own there would also stop with the PC at our entry */
};

static const struct hwbp_hook *hwbp_of(const struct hook *h)
{
	return h->ops == &hwbp_ops && h->prepared ? h->priv : NULL;
}

/* Writes the armed hooks' slots into one stopped thread. */
static int apply(struct session *s, struct thread *t)
{
	uint64_t addr[HWBP_MAX_SLOTS] = { 0 };
	unsigned enabled = 0;

	for (int i = 0; i < s->nhooks; i++) {
		const struct hwbp_hook *hh = hwbp_of(&s->hooks[i]);
		if (hh && s->hooks[i].armed) {
			addr[hh->slot] = s->hooks[i].addr;
			enabled |= 1u << hh->slot;
		}
	}
	return arch_hwbp_apply(t->tid, addr, HWBP_MAX_SLOTS, enabled);
}

static int hwbp_probe(struct session *s, char *err, size_t errlen)
{
	struct thread *t = session_any_stopped(s);
	int n = t ? arch_hwbp_slots(t->tid) : -ESRCH;

	if (n <= 0) {
		snprintf(err, errlen, "cannot read the debug registers of pid %d: %s", (int)s->pid,
			 strerror(n < 0 ? -n : ENOTSUP));
		return -ENOTSUP;
	}
	return 0;
}

/* The lowest slot that no other hwbp hook holds (prepared or armed): a hook whose object
 * was unloaded gave its slot back, and taking "the number of hooks" instead would hand a
 * returning hook a slot someone else still holds. */
static int free_slot(const struct session *s, const struct hook *self, int nslots,
		     char *holders, size_t holders_len)
{
	unsigned held = 0;
	int used = 0;

	holders[0] = 0;
	for (int i = 0; i < s->nhooks; i++) {
		const struct hwbp_hook *o = hwbp_of(&s->hooks[i]);
		if (!o || &s->hooks[i] == self)
			continue;
		held |= 1u << o->slot;
		size_t len = strlen(holders);
		snprintf(holders + len, holders_len - len, "%sDR%d %s", used++ ? ", " : "",
			 o->slot, s->hooks[i].func);
	}
	for (int slot = 0; slot < nslots; slot++)
		if (!(held & (1u << slot)))
			return slot;
	return -1;
}

static int hwbp_prepare(struct session *s, struct hook *h, char *err, size_t errlen)
{
	char holders[512];
	struct thread *t = session_any_stopped(s);
	int nslots = t ? arch_hwbp_slots(t->tid) : -ESRCH;
	struct hwbp_hook *hh;
	uint8_t before[16];

	if (nslots < 0) {
		snprintf(err, errlen, "cannot read the debug registers of pid %d: %s", (int)s->pid,
			 strerror(-nslots));
		return nslots;
	}
	if (nslots > HWBP_MAX_SLOTS)
		nslots = HWBP_MAX_SLOTS;
	int slot = free_slot(s, h, nslots, holders, sizeof(holders));
	if (slot < 0) {
		snprintf(err, errlen, "no debug register left (%d in all): %s", nslots,
			 holders);
		return -ENOSPC;
	}
	/* Claim the slot in one thread now, so that a slot held by perf or a debugger is
	 * reported here, before anything is armed. */
	int rc = arch_hwbp_try(t->tid, slot, h->addr);
	if (rc < 0) {
		snprintf(err, errlen, "debug register DR%d cannot be used (%s): perf or another "
			 "debugger may hold it%s%s", slot, strerror(-rc), holders[0] ? "; ours: " : "",
			 holders);
		return rc == -ESRCH ? rc : -ENOSPC;
	}
	hh = calloc(1, sizeof(*hh));
	if (!hh)
		return -ENOMEM;
	hh->slot = slot;
	hh->ambiguous = arch_bp_pc_adjust && h->addr >= arch_bp_pc_adjust &&
			mem_read(s->pid, h->addr - arch_bp_pc_adjust, before, arch_bp_len) == 0 &&
			!memcmp(before, arch_bp_insn, arch_bp_len);
	h->priv = hh;
	h->orig_len = 0;
	return 0;
}

static int hwbp_install(struct session *s, struct hook *h)
{
	(void)s;
	h->armed = true; /* the registers themselves are per thread: thread_init */
	return 0;
}

static int hwbp_remove(struct session *s, struct hook *h)
{
	if (!h->armed)
		return 0;
	h->armed = false;
	for (int i = 0; i < s->nthreads; i++) {
		struct thread *t = &s->threads[i];
		if (t->state == THREAD_STOPPED)
			apply(s, t);
	}
	return 0;
}

static struct hook *hwbp_on_trap(struct session *s, struct thread *t, struct arch_regs *regs,
				 uint64_t *resume_pc)
{
	uint64_t pc = arch_pc(regs);
	struct hook *h = session_hook_at(s, pc);
	const struct hwbp_hook *hh;

	if (!h || !h->armed || !(hh = hwbp_of(h)))
		return NULL;
	if (hh->ambiguous) {
		siginfo_t si;
		if (ptrace(PTRACE_GETSIGINFO, t->tid, NULL, &si) < 0 || !arch_trap_is_hwbp(&si))
			return NULL;
	}
	*resume_pc = pc;
	return h;
}

static int hwbp_evacuate(struct session *s, struct thread *t)
{
	(void)s;
	(void)t;
	return 0; /* no out-of-line code */
}

static int hwbp_clean_child(struct session *s, pid_t child)
{
	/* fork does not copy ptrace breakpoints, and no byte was written. */
	(void)s;
	(void)child;
	return 0;
}

static int hwbp_thread_init(struct session *s, struct thread *t)
{
	return apply(s, t);
}

static void hwbp_thread_fini(struct session *s, struct thread *t)
{
	(void)s;
	arch_hwbp_apply(t->tid, NULL, 0, 0);
}

const struct strategy_ops hwbp_ops = {
	.name = "hwbp",
	.id = STRATEGY_HWBP,
	.priv_size = sizeof(struct hwbp_hook),
	.probe = hwbp_probe,
	.prepare = hwbp_prepare,
	.install = hwbp_install,
	.remove = hwbp_remove,
	.on_trap = hwbp_on_trap,
	.evacuate = hwbp_evacuate,
	.clean_child = hwbp_clean_child,
	.thread_init = hwbp_thread_init,
	.thread_fini = hwbp_thread_fini,
};
