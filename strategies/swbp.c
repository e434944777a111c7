/*
 * swbp: a software breakpoint (int3) at the entry, never lifted while hooked. The
 * instruction it displaces runs out of line: at prepare time it is relocated into a slot
 * of scratch code near the entry, followed by a jump back, and at each hit the thread's PC
 * is simply moved into that slot. A call therefore costs one stop and no single-step, and
 * no thread can ever slip through the entry unhooked, however many run (the approach of
 * the kernel's uprobes and gdb's displaced stepping).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>

#include "strategies/reloc/reloc.h"
#include "strategies/strategy.h"
#include "tracer/loop.h"
#include "tracer/mem.h"

#define SWBP_SLOT_SIZE 64
#define SWBP_READ_MAX 32
/* A relocated instruction plus its continuation never needs more than a few steps to
 * reach a boundary; this bounds the stepping at detach. */
#define SWBP_MAX_EVACUATE_STEPS 16

struct swbp_hook {
	uint64_t slot;            /* out-of-line copy of the displaced instruction */
	struct reloc_result rr;
};

/* Reads up to SWBP_READ_MAX bytes at addr, fewer when the mapping ends sooner. */
static size_t read_code(pid_t pid, uint64_t addr, uint8_t *buf, size_t max)
{
	while (max > 0) {
		if (mem_read(pid, addr, buf, max) == 0)
			return max;
		/* The tail may be in an unmapped page: retry up to the page end. */
		uint64_t page_end = (addr | 4095) + 1;
		size_t n = (size_t)(page_end - addr);
		if (n >= max)
			return 0;
		max = n;
	}
	return 0;
}

/* An address spec must be an instruction boundary of its function: decode linearly from
 * the function's start and see that we land exactly on it. */
static int check_boundary(struct session *s, struct hook *h, char *err, size_t errlen)
{
	uint64_t off = h->addr - h->func_start;
	uint8_t *code;
	uint64_t pos = 0;

	if (!h->func_start || h->func_start == h->addr || off > 1 << 20)
		return 0;
	code = malloc(off + 16);
	if (!code)
		return -ENOMEM;
	if (mem_read(s->pid, h->func_start, code, off + 16) < 0) {
		free(code);
		return 0; /* cannot check: trust the user's address */
	}
	while (pos < off) {
		int len = reloc_x86_64_insn_len(code + pos, off + 16 - pos);
		if (len <= 0)
			break;
		pos += (uint64_t)len;
	}
	free(code);
	if (pos != off) {
		snprintf(err, errlen, "0x%" PRIx64 " is not an instruction boundary in %s "
			 "(decoding from its start at 0x%" PRIx64 " does not land on it)",
			 h->addr, h->lib, h->func_start);
		return -EINVAL;
	}
	return 0;
}

static int swbp_probe(struct session *s, char *err, size_t errlen)
{
	(void)s;
	(void)err;
	(void)errlen;
	return 0;
}

static int swbp_prepare(struct session *s, struct hook *h, char *err, size_t errlen)
{
	uint8_t code[SWBP_READ_MAX], out[SWBP_SLOT_SIZE];
	size_t n = read_code(s->pid, h->addr, code, sizeof(code));
	struct swbp_hook *sh;
	int rc;

	if (n == 0) {
		snprintf(err, errlen, "cannot read code at 0x%" PRIx64 " in pid %d", h->addr,
			 (int)s->pid);
		return -EFAULT;
	}
	if (code[0] == arch_bp_insn[0]) {
		snprintf(err, errlen, "0x%" PRIx64 " already holds an int3 (padding, or another "
			 "debugger's breakpoint)", h->addr);
		return -EBUSY;
	}
	rc = check_boundary(s, h, err, errlen);
	if (rc < 0)
		return rc;
	sh = calloc(1, sizeof(*sh));
	if (!sh)
		return -ENOMEM;
	sh->slot = scratch_alloc(s, h->addr, SWBP_SLOT_SIZE, err, errlen);
	if (!sh->slot) {
		free(sh);
		return -ENOMEM;
	}
	rc = reloc_x86_64(code, n, h->addr, 1, out, sizeof(out), sh->slot, RELOC_RESUME_NEXT,
			  &sh->rr);
	if (rc < 0) {
		snprintf(err, errlen, "cannot run the first instruction of %s out of line: %s",
			 h->func, sh->rr.err);
		free(sh);
		return -ENOTSUP;
	}
	rc = mem_write(s->pid, sh->slot, out, sh->rr.dst_len);
	if (rc < 0) {
		snprintf(err, errlen, "cannot write out-of-line code: %s", strerror(-rc));
		free(sh);
		return rc;
	}
	h->orig[0] = code[0];
	h->orig_len = arch_bp_len;
	h->priv = sh;
	return 0;
}

static int swbp_install(struct session *s, struct hook *h)
{
	uint8_t cur;
	int rc;

	if (h->armed)
		return 0;
	rc = mem_read(s->pid, h->addr, &cur, 1);
	if (rc < 0)
		return rc;
	if (cur != h->orig[0])
		return -EAGAIN; /* the code changed since prepare */
	rc = mem_write(s->pid, h->addr, arch_bp_insn, arch_bp_len);
	if (rc == 0)
		h->armed = true;
	return rc;
}

static int swbp_remove(struct session *s, struct hook *h)
{
	uint8_t cur;
	int rc;

	if (!h->armed)
		return 0;
	h->armed = false;
	rc = mem_read(s->pid, h->addr, &cur, 1);
	if (rc < 0)
		return rc;
	/* Restore only what is still ours: the target may have rewritten its code. */
	if (cur != arch_bp_insn[0])
		return 0;
	return mem_write(s->pid, h->addr, h->orig, h->orig_len);
}

/* Tells our int3 from the target's own SIGTRAP when the PC alone cannot: only when the
 * displaced instruction is one byte long can a thread legitimately sit at entry+1 (coming
 * back from its out-of-line slot). A kernel-sent SIGTRAP there is an int3; a kill() or
 * raise() has a user si_code. */
static bool trap_is_int3(pid_t tid)
{
	siginfo_t si;

	if (ptrace(PTRACE_GETSIGINFO, tid, NULL, &si) < 0)
		return false;
	return si.si_code == SI_KERNEL;
}

bool swbp_internal_trap(struct session *s, struct thread *t, struct hook *h,
			struct arch_regs *regs, uint64_t *resume_pc)
{
	uint64_t addr = arch_pc(regs) - arch_bp_pc_adjust;
	struct swbp_hook *sh = h->priv;

	(void)s;
	if (!h->armed || !sh || addr != h->addr)
		return false;
	if (sh->rr.src_len == 1 && !trap_is_int3(t->tid))
		return false;
	*resume_pc = sh->slot;
	arch_set_pc(regs, addr); /* so that reports see the entry, not entry+1 */
	return true;
}

static struct hook *swbp_on_trap(struct session *s, struct thread *t, struct arch_regs *regs,
				 uint64_t *resume_pc)
{
	struct hook *h = session_hook_at(s, arch_pc(regs) - arch_bp_pc_adjust);

	if (!h || !swbp_internal_trap(s, t, h, regs, resume_pc))
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

/* The hook whose slot holds pc: the tracer's internal breakpoint is swbp too. Only swbp
 * hooks are asked about, since other strategies leave no swbp slots. */
static struct hook *slot_owner(struct session *s, uint64_t pc)
{
	if (in_slot(&s->rdebug, pc))
		return &s->rdebug;
	for (int i = 0; s->ops == &swbp_ops && i < s->nhooks; i++)
		if (in_slot(&s->hooks[i], pc))
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
		if (loop_step(s, t) < 0)
			return -ESRCH;
	}
	return -EBUSY;
}

static int swbp_clean_child(struct session *s, pid_t child)
{
	for (int i = 0; i < s->nhooks; i++) {
		struct hook *h = &s->hooks[i];
		uint8_t cur;
		if (!h->armed || mem_read(child, h->addr, &cur, 1) < 0)
			continue;
		if (cur == arch_bp_insn[0])
			mem_write(child, h->addr, h->orig, h->orig_len);
	}
	return 0;
}

const struct strategy_ops swbp_ops = {
	.name = "swbp",
	.priv_size = sizeof(struct swbp_hook),
	.probe = swbp_probe,
	.prepare = swbp_prepare,
	.install = swbp_install,
	.remove = swbp_remove,
	.on_trap = swbp_on_trap,
	.evacuate = swbp_evacuate,
	.clean_child = swbp_clean_child,
};
