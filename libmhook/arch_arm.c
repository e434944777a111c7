/*
 * 32-bit ARM patch forms, ARM or Thumb as bit 0 of the target says. ARM code gets the
 * seed's own patch: LDR PC,[PC,#-4] and the replacement's address (8 bytes). Thumb code
 * gets LDR.W PC,[PC,#0] and the address, after a NOP when the entry is 2 mod 4 because
 * the literal must be word aligned (8 or 10 bytes). Both load PC, so they switch to
 * whatever state bit 0 of the replacement asks for. Functions shorter than that are
 * common on armhf (`adds r0,#1; bx lr`), so the fallback is a 4-byte B (ARM, ±32 MiB) or
 * B.W (Thumb, ±16 MiB) to a relay in a trampoline slot mapped within reach; so is a
 * function where the long form would cover a branch target or an unrelocatable
 * instruction. A 2-byte Thumb function (`bx lr`) has room for nothing and is refused.
 */
#include <ucontext.h>

#include "mhook.h"
#include "libmhook/plan.h"
#include "reloc/reloc_arm.h"

#define ARM_B_REACH   (32u << 20)
#define THUMB_B_REACH (16u << 20)

/* The seed's ARM patch: LDR PC,[PC,#-4]; .word to (interworking on bit 0 of to). */
static size_t arm_ldr_pc(uint8_t *b, uintptr_t to)
{
	uint32_t ldr = 0xe51ff004u, word = (uint32_t)to;

	mh_copy(b, &ldr, 4);
	mh_copy(b + 4, &word, 4);
	return 8;
}

/* One attempt: the long literal form (short_form false) or a branch to a relay. */
static int try_form(struct mh_plan *p, bool short_form)
{
	uint64_t reach = p->thumb ? THUMB_B_REACH : ARM_B_REACH;
	uint8_t relay[12];
	size_t relay_len = 0;
	int rc;

	p->len = short_form ? 4 : p->thumb ? ((p->entry & 2) ? 10 : 8) : 8;
	p->slot = mh_pool_slot(p->entry, reach - (1u << 20));
	if (!p->slot) {
		if (short_form)
			return MHOOK_E_NOMEM;
		p->slot = mh_pool_slot(p->entry, 0);
		if (!p->slot)
			return MHOOK_E_NOMEM;
	}
	/* The relay runs in the patched code's state (B and B.W cannot switch) and loads PC,
	 * which switches to the replacement's state. */
	if (short_form)
		relay_len = p->thumb ? reloc_thumb_jump(relay, sizeof(relay), p->slot, p->repl, true)
				     : arm_ldr_pc(relay, p->repl);
	if ((rc = mh_plan_scan(p, p->thumb ? reloc_thumb_branches_into
					   : reloc_arm_branches_into)) < 0)
		return rc;
	if ((rc = mh_plan_slot(p, p->thumb ? reloc_thumb : reloc_arm, 0, relay, relay_len)) < 0)
		return rc;
	if (short_form) {
		if (p->thumb)
			reloc_thumb_jump(p->code, sizeof(p->code), p->entry, p->slot | 1, false);
		else
			reloc_arm_jump(p->code, sizeof(p->code), p->entry, p->slot);
		p->move.jump_to = p->slot | (p->thumb ? 1u : 0u);
	} else {
		if (p->thumb)
			reloc_thumb_jump(p->code, sizeof(p->code), p->entry, p->repl, true);
		else
			arm_ldr_pc(p->code, p->repl);
		p->move.jump_to = p->repl;
	}
	return 0;
}

int arch_prepare(struct mh_plan *p)
{
	int rc;

	p->thumb = p->target & 1;
	p->entry = p->target & ~(uintptr_t)1;
	if (p->entry & (p->thumb ? 1u : 3u))
		return MHOOK_E_INVAL;
	rc = mh_plan_extent(p, p->thumb ? reloc_thumb_scan_end : reloc_arm_scan_end);
	if (rc < 0)
		return rc;
	rc = try_form(p, false);
	if (rc == MHOOK_E_TOO_SHORT || rc == MHOOK_E_BRANCH_INTO || rc == MHOOK_E_UNRELOCATABLE) {
		char first[sizeof(p->why)];
		int rc2;

		mh_copy(first, p->why, sizeof(first));
		rc2 = try_form(p, true);
		if (rc2 == 0)
			return 0;
		if (rc2 != MHOOK_E_NOMEM)
			rc = rc2;
		else
			mh_copy(p->why, first, sizeof(first));
	}
	return rc;
}

uintptr_t arch_uc_pc(const void *uc)
{
	return (uintptr_t)((const ucontext_t *)uc)->uc_mcontext.arm_pc;
}

void arch_uc_set_pc(void *uc, uintptr_t pc)
{
	mcontext_t *mc = &((ucontext_t *)uc)->uc_mcontext;

	mc->arm_pc = pc & ~(uintptr_t)1;
	mc->arm_cpsr = (mc->arm_cpsr & ~(1ul << 5)) | ((pc & 1) << 5);   /* the T bit */
}
