/*
 * swbp: a software breakpoint at the entry, never lifted while hooked. The instruction it
 * displaces runs out of line: at prepare time it is relocated into a slot of scratch code
 * near the entry, followed by a jump back, and at each hit the thread's PC is simply moved
 * into that slot. A call therefore costs one stop and no single-step, and no thread can
 * ever slip through the entry unhooked, however many run (the approach of the kernel's
 * uprobes and gdb's displaced stepping).
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
#include "tracer/remote.h"
#include "tracer/services.h"

#define SWBP_SLOT_SIZE 64
/* Enough for the longest instruction the relocator may need to see whole. */
#define SWBP_READ_MAX (2 * ARCH_MAX_INSN_LEN + 2)
/* A relocated instruction plus its continuation never needs more than a few steps to
 * reach a boundary; this bounds the stepping at detach. */
#define SWBP_MAX_EVACUATE_STEPS 16

struct swbp_hook {
	uint64_t slot;            /* out-of-line copy of the displaced instruction */
	struct reloc_result rr;
};

static int swbp_prepare(struct session *s, struct hook *h, char *err, size_t errlen)
{
	uint8_t code[SWBP_READ_MAX], out[SWBP_SLOT_SIZE];
	int rc = bp_read_entry(s, h, code, sizeof(code), err, errlen);
	struct swbp_hook *sh;

	if (rc < 0)
		return rc;
	size_t n = (size_t)rc;
	sh = calloc(1, sizeof(*sh));
	if (!sh)
		return -ENOMEM;
	sh->slot = scratch_alloc(s, h->addr, SWBP_SLOT_SIZE, err, errlen);
	if (!sh->slot) {
		free(sh);
		return -ENOMEM;
	}
	rc = arch_relocate(code, n, h->addr, 1, out, sizeof(out), sh->slot, RELOC_RESUME_NEXT,
			   NULL, &sh->rr);
	if (rc < 0) {
		snprintf(err, errlen, "cannot run the first instruction of %s out of line: %s",
			 h->func, sh->rr.err);
		rc = -ENOTSUP;
	} else if ((rc = mem_write(s->pid, sh->slot, out, sh->rr.dst_len)) < 0) {
		snprintf(err, errlen, "cannot write out-of-line code: %s", strerror(-rc));
	}
	if (rc < 0) {
		scratch_free(s, sh->slot, SWBP_SLOT_SIZE);
		free(sh);
		return rc;
	}
	memcpy(h->orig, code, arch_bp_len);
	h->orig_len = arch_bp_len;
	h->priv = sh;
	return 0;
}

static void swbp_unprepare(struct session *s, struct hook *h)
{
	const struct swbp_hook *sh = h->priv;

	if (sh)
		scratch_free(s, sh->slot, SWBP_SLOT_SIZE);
}

bool swbp_internal_trap(struct session *s, struct thread *t, struct hook *h,
			struct arch_regs *regs, uint64_t *resume_pc)
{
	uint64_t addr = arch_pc(regs) - arch_bp_pc_adjust;
	struct swbp_hook *sh = h->priv;

	(void)s;
	if (!h->armed || !sh || addr != h->addr)
		return false;
	/* Only when the displaced instruction is as long as the PC adjustment can a thread
	 * legitimately sit at entry+adjust (back from its out-of-line slot). */
	if (arch_bp_pc_adjust && sh->rr.src_len == arch_bp_pc_adjust && !bp_trap_is_bp(t->tid))
		return false;
	*resume_pc = sh->slot;
	arch_set_pc(regs, addr); /* so that reports see the entry, not what follows it */
	return true;
}

static struct hook *swbp_on_trap(struct session *s, struct thread *t, struct arch_regs *regs,
				 uint64_t *resume_pc)
{
	struct hook *h = session_hook_at(s, arch_pc(regs) - arch_bp_pc_adjust);

	if (!h || h->ops != &swbp_ops || !swbp_internal_trap(s, t, h, regs, resume_pc))
		return NULL;
	return h;
}

/* The original address equivalent to pc inside h's slot, or 0 if pc is not at one of the
 * slot's instruction boundaries. */
static uint64_t slot_to_orig(const struct hook *h, uint64_t pc)
{
	const struct swbp_hook *sh = h->priv;

	for (unsigned i = 0; i <= sh->rr.n_insns; i++)
		if (pc == sh->slot + sh->rr.map[i].dst_off)
			return h->addr + sh->rr.map[i].src_off;
	return 0;
}

static bool in_slot(const struct hook *h, uint64_t pc)
{
	const struct swbp_hook *sh = h->priv;

	return sh && pc >= sh->slot && pc < sh->slot + SWBP_SLOT_SIZE;
}

/* The swbp hook whose slot holds pc; the tracer's internal breakpoints are ones too. */
static struct hook *slot_owner(struct session *s, uint64_t pc)
{
	for (int i = 0; i < SESSION_NINTERNAL; i++)
		if (in_slot(session_internal(s, i), pc))
			return session_internal(s, i);
	for (int i = 0; i < s->nhooks; i++)
		if (s->hooks[i].ops == &swbp_ops && in_slot(&s->hooks[i], pc))
			return &s->hooks[i];
	return NULL;
}

static int swbp_evacuate(struct session *s, struct thread *t)
{
	for (int step = 0; step <= SWBP_MAX_EVACUATE_STEPS; step++) {
		struct arch_regs regs;
		if (arch_get_regs(t->tid, &regs) < 0)
			return -ESRCH;
		uint64_t pc = arch_pc(&regs);
		struct hook *h = slot_owner(s, pc);
		if (!h)
			return 0;
		uint64_t orig = slot_to_orig(h, pc);
		if (orig) {
			arch_set_pc(&regs, orig);
			return arch_set_regs(t->tid, &regs);
		}
		/* Inside an expanded sequence (a relocated call's push, say): step until it
		 * reaches a boundary or leaves the slot. */
		if (tracer_step(s, t) < 0)
			return -ESRCH;
	}
	return -EBUSY;
}

static int swbp_clean_child(struct session *s, pid_t child)
{
	bp_clean_child(s, child, &swbp_ops);
	for (int i = 0; i < SESSION_NINTERNAL; i++)
		if (session_internal(s, i)->armed)
			bp_restore(child, session_internal(s, i));
	return 0;
}

const struct strategy_ops swbp_ops = {
	.name = "swbp",
	.id = STRATEGY_SWBP,
	.priv_size = sizeof(struct swbp_hook),
	.probe = bp_probe,
	.prepare = swbp_prepare,
	.unprepare = swbp_unprepare,
	.install = bp_install,
	.remove = bp_remove,
	.on_trap = swbp_on_trap,
	.evacuate = swbp_evacuate,
	.clean_child = swbp_clean_child,
};
