/*
 * hwbp: x86 debug registers. Each hook takes one of DR0-DR3 as an execute breakpoint,
 * enabled in DR7, in every thread: the kernel keeps ptrace breakpoints per thread and does
 * not copy them to new threads, so each thread gets them at its first stop (thread_init).
 * The target's code is never written. A hit is one stop with no register write: an
 * execute breakpoint traps before the instruction, and the kernel sets EFLAGS.RF so that
 * resuming in place runs it without trapping again.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>

#include "strategies/strategy.h"
#include "tracer/mem.h"

#define HWBP_SLOTS 4

#ifndef TRAP_HWBKPT
#define TRAP_HWBKPT 4
#endif

struct hwbp_hook {
	int slot;
	bool ambiguous; /* an int3 byte precedes the entry: the target's own int3 there
			 * would also stop with the PC at our entry */
};

static long dr_offset(int i)
{
	return (long)offsetof(struct user, u_debugreg) + (long)i * (long)sizeof(long);
}

static int poke_dr(pid_t tid, int i, uint64_t value)
{
	return ptrace(PTRACE_POKEUSER, tid, (void *)dr_offset(i), (void *)value) < 0 ? -errno : 0;
}

/* Execute breakpoints: local enable bit 2*i, R/W and LEN fields 00. */
static uint64_t dr7_for(const struct session *s)
{
	uint64_t dr7 = 0;

	for (int i = 0; i < s->nhooks; i++) {
		const struct hwbp_hook *hh = s->hooks[i].priv;
		if (hh && s->hooks[i].armed)
			dr7 |= 1ULL << (2 * hh->slot);
	}
	return dr7;
}

/* Writes the addresses of the armed hooks and then DR7 into one stopped thread. */
static int apply(struct session *s, struct thread *t)
{
	int rc;

	for (int i = 0; i < s->nhooks; i++) {
		const struct hwbp_hook *hh = s->hooks[i].priv;
		if (hh && s->hooks[i].armed) {
			rc = poke_dr(t->tid, hh->slot, s->hooks[i].addr);
			if (rc < 0)
				return rc;
		}
	}
	return poke_dr(t->tid, 7, dr7_for(s));
}

static int hwbp_probe(struct session *s, char *err, size_t errlen)
{
	struct thread *t = session_any_stopped(s);

	errno = 0;
	if (!t || (ptrace(PTRACE_PEEKUSER, t->tid, (void *)dr_offset(7), NULL) == -1 && errno)) {
		snprintf(err, errlen, "cannot read the debug registers of pid %d: %s", (int)s->pid,
			 strerror(errno ? errno : ESRCH));
		return -ENOTSUP;
	}
	return 0;
}

static int hwbp_prepare(struct session *s, struct hook *h, char *err, size_t errlen)
{
	int used = 0;
	char holders[512] = "";
	struct hwbp_hook *hh;
	uint8_t before;

	for (int i = 0; i < s->nhooks; i++) {
		const struct hwbp_hook *o = s->hooks[i].priv;
		if (!o)
			continue;
		size_t len = strlen(holders);
		snprintf(holders + len, sizeof(holders) - len, "%sDR%d %s", used ? ", " : "",
			 o->slot, s->hooks[i].func);
		used++;
	}
	if (used >= HWBP_SLOTS) {
		snprintf(err, errlen, "no debug register left (x86 has %d): %s", HWBP_SLOTS,
			 holders);
		return -ENOSPC;
	}
	/* Claim the slot in one thread now, so that a slot held by perf or a debugger is
	 * reported here, before anything is armed. */
	struct thread *t = session_any_stopped(s);
	int rc = t ? poke_dr(t->tid, used, h->addr) : -ESRCH;
	if (rc == 0) {
		errno = 0;
		long dr7 = ptrace(PTRACE_PEEKUSER, t->tid, (void *)dr_offset(7), NULL);
		rc = errno ? -errno : poke_dr(t->tid, 7, (uint64_t)dr7 | (1ULL << (2 * used)));
		if (rc == 0)
			rc = poke_dr(t->tid, 7, (uint64_t)dr7);
	}
	if (rc < 0) {
		snprintf(err, errlen, "debug register DR%d cannot be used (%s): perf or another "
			 "debugger may hold it%s%s", used, strerror(-rc), used ? "; ours: " : "",
			 holders);
		return rc == -ESRCH ? rc : -ENOSPC;
	}
	hh = calloc(1, sizeof(*hh));
	if (!hh)
		return -ENOMEM;
	hh->slot = used;
	hh->ambiguous = mem_read(s->pid, h->addr - 1, &before, 1) == 0 && before == 0xcc;
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
		if (!t->shadow && t->state == THREAD_STOPPED)
			poke_dr(t->tid, 7, dr7_for(s));
	}
	return 0;
}

static struct hook *hwbp_on_trap(struct session *s, struct thread *t, struct arch_regs *regs,
				 uint64_t *resume_pc)
{
	uint64_t pc = arch_pc(regs);
	struct hook *h = session_hook_at(s, pc);
	const struct hwbp_hook *hh;

	if (!h || !h->armed || !(hh = h->priv))
		return NULL;
	if (hh->ambiguous) {
		siginfo_t si;
		if (ptrace(PTRACE_GETSIGINFO, t->tid, NULL, &si) < 0 || si.si_code != TRAP_HWBKPT)
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
	poke_dr(t->tid, 7, 0);
	for (int i = 0; i < HWBP_SLOTS; i++)
		poke_dr(t->tid, i, 0);
}

const struct strategy_ops hwbp_ops = {
	.name = "hwbp",
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
