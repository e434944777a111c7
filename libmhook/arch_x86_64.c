/*
 * x86-64 patch forms. The entry gets a 5-byte `jmp rel32`: straight to the replacement
 * when it lies within ±2 GiB, else to a relay in a trampoline slot mapped within ±2 GiB
 * that jumps on with `jmp [rip+0]` and the 8-byte address. Only when no memory is free
 * within reach does the entry get that 14-byte absolute jump itself. An `endbr64` at the
 * entry stays (an indirect call must land on it under IBT) and the patch follows it; the
 * trampoline starts with its own copy. Relocation is reloc_x86_64 (Zydis).
 */
#include <ucontext.h>

#include "mhook.h"
#include "libmhook/plan.h"

#define REL32_REACH 0x7ff00000ull   /* 2 GiB less a margin for the slot's own size */

static const uint8_t endbr64[4] = { 0xf3, 0x0f, 0x1e, 0xfa };

/* Code up to and including the first ret or jmp (or up to int3 padding). */
static size_t scan_end(const uint8_t *code, size_t max)
{
	size_t off = 0;

	while (off < max) {
		int n = reloc_x86_64_insn_len(code + off, max - off);

		if (n <= 0 || code[off] == 0xcc)
			return off;
		off += (size_t)n;
		if (code[off - n] == 0xc3 || code[off - n] == 0xc2 || code[off - n] == 0xe9 ||
		    code[off - n] == 0xeb)
			return off;
	}
	return off;
}

static bool rel32_ok(uintptr_t from_next, uintptr_t to)
{
	int64_t d = (int64_t)(to - from_next);

	return d == (int32_t)d && !mh_force_far();
}

static size_t abs_jmp(uint8_t *b, uint64_t to)
{
	b[0] = 0xff;            /* jmp [rip+0] */
	b[1] = 0x25;
	b[2] = b[3] = b[4] = b[5] = 0;
	mh_copy(b + 6, &to, 8);
	return 14;
}

int arch_prepare(struct mh_plan *p)
{
	uint8_t relay[14];
	size_t pad = 0, relay_len = 0;
	uintptr_t jump_to = p->repl;
	int rc;

	p->entry = p->target;
	if (mh_equal((const void *)p->entry, endbr64, 4)) {
		pad = 4;
		p->entry += 4;
	}
	if ((rc = mh_plan_extent(p, scan_end)) < 0)
		return rc;
	p->len = 5;
	p->slot = mh_pool_slot(p->entry, REL32_REACH);
	if (p->slot && !rel32_ok(p->entry + 5, p->repl)) {
		relay_len = abs_jmp(relay, p->repl);
		jump_to = p->slot;
	} else if (!p->slot) {
		if (!rel32_ok(p->entry + 5, p->repl))
			p->len = 14;
		/* A far trampoline still works unless a displaced RIP-relative operand cannot
		 * reach its target from there; the relocator says so (MHOOK_E_NOMEM). */
		p->slot = mh_pool_slot(p->entry, 0);
		if (!p->slot)
			return MHOOK_E_NOMEM;
	}
	if ((rc = mh_plan_scan(p, reloc_x86_64_branches_into)) < 0)
		return rc;
	if ((rc = mh_plan_slot(p, reloc_x86_64, pad, relay, relay_len)) < 0)
		return rc;
	if (p->len == 5) {
		int32_t d = (int32_t)(jump_to - (p->entry + 5));

		p->code[0] = 0xe9;
		mh_copy(p->code + 1, &d, 4);
	} else {
		abs_jmp(p->code, p->repl);
	}
	p->move.jump_to = jump_to;
	return 0;
}

uintptr_t arch_uc_pc(const void *uc)
{
	return (uintptr_t)((const ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP];
}

void arch_uc_set_pc(void *uc, uintptr_t pc)
{
	((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP] = (greg_t)pc;
}
