/*
 * The steps every architecture's arch_prepare shares once it has chosen a jump form:
 * finding how much of the function is known to be code, refusing a patch that a branch
 * of the function lands inside, and laying out the trampoline slot. A slot holds, in
 * order: the relay (an absolute jump to the replacement, when the patch's short branch
 * cannot reach it), a copy of the landing pad kept at the entry (endbr64, BTI c), and the
 * relocated displaced instructions followed by the jump back.
 */
#include "mhook.h"
#include "libmhook/plan.h"

int mh_plan_extent(struct mh_plan *p, size_t (*scan_end)(const uint8_t *code, size_t max))
{
	uintptr_t start;
	size_t size;

	if (mh_symbol_extent(p->entry, &start, &size)) {
		p->sym_start = start;
		p->sym_size = size;
		p->avail = start + size - p->entry;
		return 0;
	}
	/* No symbol: take the code up to the first return the arch recognises. The bytes
	 * read stay inside the mapping that holds the entry. */
	p->sym_start = p->entry;
	size = mh_maps_end(p->entry) - p->entry;
	p->avail = scan_end((const uint8_t *)p->entry, size < 4096 ? size : 4096);
	p->sym_size = p->avail;
	return p->avail ? 0 : MHOOK_E_TOO_SHORT;
}

/* How far around the function the scan looks for branches from its neighbours. */
#define NEIGHBOUR_BYTES 64

static int scan_range(struct mh_plan *p, mh_branches_into_fn into, uintptr_t from,
		      uintptr_t to)
{
	uint64_t where = 0;

	if (to <= from)
		return 0;
	if (into((const uint8_t *)from, to - from, from, p->entry, p->entry + p->len,
		 &where) <= 0)
		return 0;   /* < 0: a body that does not decode is scanned as far as it does */
	mh_why(p, "the branch at %#llx targets the patched bytes [%#lx, %#lx)",
	       (unsigned long long)where, (unsigned long)p->entry,
	       (unsigned long)(p->entry + p->len));
	return MHOOK_E_BRANCH_INTO;
}

/*
 * The function itself is swept from its symbol's start to its end. Hand-written code
 * also enters its neighbours past their entry (glibc's mempcpy jumps to the second
 * instruction of memmove), so the bytes just before and after are swept too, from a few
 * 16-byte aligned starting points (64 and 16 bytes back; x86 decoding falls into step
 * within a few instructions) since we do not know where the neighbour begins; and 32
 * bytes after the end.
 */
int mh_plan_scan(struct mh_plan *p, mh_branches_into_fn into)
{
	uintptr_t map_lo, map_hi, end = p->sym_start + p->sym_size;
	int rc;

	if (p->len <= 1)
		return 0;
	if ((rc = scan_range(p, into, p->sym_start, end)) < 0)
		return rc;
	map_lo = mh_maps_start(p->sym_start);
	map_hi = mh_maps_end(p->sym_start);
	for (uintptr_t back = NEIGHBOUR_BYTES; back >= 16; back /= 4) {
		uintptr_t from = ((p->sym_start & ~(uintptr_t)15) - back);

		if (from >= map_lo && from < p->sym_start &&
		    (rc = scan_range(p, into, from, p->sym_start)) < 0)
			return rc;
	}
	end = (end + 15) & ~(uintptr_t)15;
	if (end < map_hi)
		return scan_range(p, into, end, end + NEIGHBOUR_BYTES / 2 < map_hi ?
					     end + NEIGHBOUR_BYTES / 2 : map_hi);
	return 0;
}

static int map_reloc_err(int rc)
{
	switch (rc) {
	case RELOC_E_DECODE: return MHOOK_E_DECODE;
	case RELOC_E_UNSUPPORTED: return MHOOK_E_UNRELOCATABLE;
	case RELOC_E_TRUNCATED: return MHOOK_E_TOO_SHORT;
	default: return MHOOK_E_NOMEM;   /* RANGE, NOSPACE: no trampoline close enough */
	}
}

int mh_plan_slot(struct mh_plan *p, mh_reloc_fn reloc, size_t pad, const uint8_t *relay,
		 size_t relay_len)
{
	struct reloc_result res;
	size_t off = relay_len, tramp;
	int rc;

	if (p->avail < p->len) {
		mh_why(p, "the function has %zu bytes after the entry, the patch needs %zu",
		       p->avail, p->len);
		return MHOOK_E_TOO_SHORT;
	}
	if (relay_len)
		mh_copy(p->slot_code, relay, relay_len);
	off = (off + 7) & ~(size_t)7;
	for (size_t i = relay_len; i < off; i++)
		p->slot_code[i] = 0;
	tramp = off;
	mh_copy(p->slot_code + off, (const void *)(p->entry - pad), pad);
	off += pad;
	rc = reloc((const uint8_t *)p->entry, p->avail, p->entry, p->len, p->slot_code + off,
		   MH_SLOT_SIZE - off, p->slot + off, RELOC_RESUME_NEXT, &res);
	if (rc < 0) {
		mh_why(p, "%s", res.err);
		return map_reloc_err(rc);
	}
	p->slot_len = off + res.dst_len;
	p->original = (p->slot + tramp) | (p->thumb ? 1u : 0u);
	mh_copy(p->orig, (const void *)p->entry, p->len);
	p->move.unpatch = false;
	p->move.entry = p->entry;
	p->move.len = p->len;
	p->move.reloc = p->slot + off;
	p->move.n_map = res.n_insns + 1;
	mh_copy(p->move.map, res.map, sizeof(res.map[0]) * p->move.n_map);
	p->move.thumb = p->thumb;
	return 0;
}
