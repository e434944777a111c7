/*
 * Helpers for the arch_prepare functions (plan.c): the function's extent, the
 * branch-into refusal, and the trampoline slot layout. The relocator and scanner function
 * types match reloc: every arch's relocator has the same shape.
 */
#ifndef MHOOK_PLAN_H
#define MHOOK_PLAN_H

#include <stdio.h>

#include "libmhook/internal.h"

typedef int (*mh_reloc_fn)(const uint8_t *src, size_t src_avail, uint64_t src_addr,
			   size_t min_len, uint8_t *dst, size_t dst_cap, uint64_t dst_addr,
			   uint64_t resume_addr, struct reloc_result *res);
typedef int (*mh_branches_into_fn)(const uint8_t *code, size_t len, uint64_t addr,
				   uint64_t lo, uint64_t hi, uint64_t *where);

#define mh_why(p, ...) snprintf((p)->why, sizeof((p)->why), __VA_ARGS__)

/* Sets p->avail, sym_start and sym_size for p->entry: from the ELF symbol, else from
 * scan_end (bytes up to and including the first return seen in the first max bytes). */
int mh_plan_extent(struct mh_plan *p, size_t (*scan_end)(const uint8_t *code, size_t max));
/* Refuses (MHOOK_E_BRANCH_INTO) when a branch in the function targets the bytes strictly
 * inside [entry, entry + len). */
int mh_plan_scan(struct mh_plan *p, mh_branches_into_fn into);
/* With p->slot, p->len and p->entry set: builds relay + pad copy + relocated code in
 * p->slot_code, and fills p->original, p->orig and p->move. */
int mh_plan_slot(struct mh_plan *p, mh_reloc_fn reloc, size_t pad, const uint8_t *relay,
		 size_t relay_len);

#endif
