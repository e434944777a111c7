/*
 * AArch64 patch forms. The entry is overwritten with a 4-byte B when the replacement, or
 * a relay slot holding an absolute jump to it, lies within ±128 MiB; otherwise with
 * LDR X16,#8; BR X16 and the 8-byte address (16 bytes). A `BTI c` (or `BTI jc`) landing
 * pad at the entry stays where it is and the patch goes after it: on a guarded page an
 * indirect call must land on it, and the trampoline starts with a copy for the same
 * reason. PACIASP is relocated like any other instruction, not kept: signing LR before
 * entering a replacement that does not authenticate it would break its return.
 */
#include <ucontext.h>

#include "mhook.h"
#include "libmhook/plan.h"
#include "reloc/reloc_aarch64.h"

#define B_REACH (128u << 20)

static bool is_bti_c(uint32_t insn)
{
	return insn == 0xd503245fu || insn == 0xd50324dfu;   /* BTI c, BTI jc */
}

int arch_prepare(struct mh_plan *p)
{
	uint8_t relay[16];
	size_t pad = 0, relay_len = 0;
	uintptr_t jump_to = p->repl;
	int64_t d;
	int rc;

	p->entry = p->target;
	if (p->entry & 3)
		return MHOOK_E_INVAL;
	if (is_bti_c(*(const uint32_t *)p->entry)) {
		pad = 4;
		p->entry += 4;
	}
	if ((rc = mh_plan_extent(p, reloc_aarch64_scan_end)) < 0)
		return rc;
	p->len = 4;
	d = mh_force_far() ? INT64_MAX : (int64_t)(p->repl - p->entry);
	p->slot = mh_pool_slot(p->entry, B_REACH - (1u << 20));
	if (p->slot && !(d >= -(int64_t)B_REACH && d < (int64_t)B_REACH)) {
		relay_len = reloc_aarch64_jump(relay, sizeof(relay), p->slot, p->repl);
		jump_to = p->slot;
	} else if (!p->slot) {
		/* No memory within B's reach: the absolute form, and a trampoline anywhere. */
		if (!(d >= -(int64_t)B_REACH && d < (int64_t)B_REACH))
			p->len = 16;
		p->slot = mh_pool_slot(p->entry, 0);
		if (!p->slot)
			return MHOOK_E_NOMEM;
	}
	if ((rc = mh_plan_scan(p, reloc_aarch64_branches_into)) < 0)
		return rc;
	if ((rc = mh_plan_slot(p, reloc_aarch64, pad, relay, relay_len)) < 0)
		return rc;
	if (p->len == 4) {
		reloc_aarch64_jump(p->code, sizeof(p->code), p->entry, jump_to);
	} else {
		static const uint32_t ldr_br[2] = { 0x58000050u, 0xd61f0200u }; /* LDR X16,#8; BR X16 */
		uint64_t to = p->repl;

		mh_copy(p->code, ldr_br, 8);
		mh_copy(p->code + 8, &to, 8);
	}
	p->move.jump_to = jump_to;
	return 0;
}

uintptr_t arch_uc_pc(const void *uc)
{
	return (uintptr_t)((const ucontext_t *)uc)->uc_mcontext.pc;
}

void arch_uc_set_pc(void *uc, uintptr_t pc)
{
	((ucontext_t *)uc)->uc_mcontext.pc = pc;
}
