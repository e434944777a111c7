/*
 * nx's code cache. A fault on a guarded page is answered by running the code there out of
 * line, from a translated copy, so the page never becomes executable while hooked. A
 * naive executor would stop once per instruction; instead, code is cut into straight-line
 * blocks (ending at the first branch, call or return), each block is relocated once into
 * scratch memory near its page, and every direct exit of a block is linked to the
 * translation of its target when that target is on a guarded page too. The whole graph
 * reachable by direct branches from the faulting PC is translated in one batch (bounded),
 * so links never need patching later and nothing already in the cache is ever rewritten
 * while other threads may be running it. A thread then stops only when control enters a
 * guarded page from outside: an indirect branch, a return into the page (relocated calls
 * push the original return address), or a call of a hooked entry, which is never linked
 * so that it faults and is reported.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strategies/nx.h"
#include "tracer/mem.h"
#include "tracer/remote.h"

/* Blocks translated per fault at most: a page holds a few hundred. */
#define NX_BATCH 512
/* Code read per block: as many instructions as the relocator takes, each the longest. */
#define NX_READ (RELOC_MAX_INSNS * ARCH_MAX_INSN_LEN)
/* Room reserved beyond the trial size of a block, in case its final place makes a branch
 * need a longer form. */
#define NX_SLACK ARCH_RELOC_GROWTH
#define NX_CHUNK (32 * 1024)

/* ---- the map from original address to block ------------------------------------------ */

/* Rebuilds the map from the live blocks, after blocks died. */
static void map_rebuild(struct nx_state *st)
{
	addrmap_clear(&st->map);
	for (int i = 0; i < st->nblocks; i++)
		if (!st->blocks[i].dead)
			addrmap_put(&st->map, st->blocks[i].src, i);
}

/* The live block starting at src, or NULL. */
static struct nx_block *map_get(const struct nx_state *st, uint64_t src)
{
	int i = addrmap_get(&st->map, src);

	return i >= 0 ? &st->blocks[i] : NULL;
}

static int new_block(struct nx_state *st, uint64_t src)
{
	if (st->nblocks == st->cap_blocks) {
		int ncap = st->cap_blocks ? st->cap_blocks * 2 : 256;
		struct nx_block *p = realloc(st->blocks, (size_t)ncap * sizeof(*p));
		if (!p)
			abort();
		st->blocks = p;
		st->cap_blocks = ncap;
	}
	int idx = st->nblocks++;
	memset(&st->blocks[idx], 0, sizeof(st->blocks[idx]));
	st->blocks[idx].src = src;
	addrmap_put(&st->map, src, idx);
	return idx;
}

/* A block that cannot be translated: its address leaves the map, so links to it keep the
 * original target (which faults, and is then refused there). */
static void kill_block(struct nx_state *st, int idx)
{
	st->blocks[idx].dead = true;
	map_rebuild(st);
}

/* Blocks of other pages may be linked to this page's blocks (a direct call from one page
 * of a library into another), and links are never patched: so every translation is
 * forgotten, not only this page's. This happens only when a page's code may have changed
 * (guarded again, given back), and a new translation costs one stop per block. The old
 * copies stay mapped for any thread still running them. */
void nx_cache_forget(struct nx_state *st)
{
	for (int i = 0; i < st->nblocks; i++)
		st->blocks[i].dead = true;
	map_rebuild(st);
}

void nx_cache_free(struct nx_state *st)
{
	free(st->blocks);
	st->blocks = NULL;
	st->nblocks = st->cap_blocks = 0;
	addrmap_free(&st->map);
}

bool nx_cache_owns(const struct nx_state *st, uint64_t pc, uint64_t *orig)
{
	*orig = 0;
	for (int i = 0; i < st->nblocks; i++) {
		const struct nx_block *b = &st->blocks[i];
		if (!b->dst || pc < b->dst || pc >= b->dst + b->dst_len)
			continue;
		for (unsigned k = 0; k <= b->n; k++)
			if (pc == b->dst + b->map[k].dst_off)
				*orig = b->src + b->map[k].src_off;
		return true;
	}
	return false;
}

/* ---- cutting code into blocks --------------------------------------------------------- */

/* Reads up to max bytes at addr, fewer when the mapping ends sooner. */
static size_t read_code(pid_t pid, uint64_t addr, uint8_t *buf, size_t max)
{
	while (max > 0) {
		if (mem_read(pid, addr, buf, max) == 0)
			return max;
		uint64_t page_end = (addr | (NX_PAGE - 1)) + 1;
		size_t n = (size_t)(page_end - addr);
		if (n >= max)
			return 0;
		max = n;
	}
	return 0;
}

/* Whether a branch may be linked to target: on a guarded page, and not a hooked entry
 * (which must fault to be reported). */
static bool linkable(const struct nx_state *st, uint64_t target)
{
	return nx_guarded(st, target) && !nx_hooked_entry(st, target);
}

struct worklist {
	uint64_t a[NX_BATCH * 2];
	int n;
};

static void push(struct worklist *w, uint64_t a)
{
	if (w->n < (int)(sizeof(w->a) / sizeof(w->a[0])))
		w->a[w->n++] = a;
}

/*
 * Decodes the block at b->src: instructions up to the first that transfers control, or
 * until the next one is a hooked entry (which must fault), leaves the guarded pages, or
 * the relocator's limit. Pushes its direct exits that can be linked. Returns 0, or -1
 * when its first instruction does not decode.
 */
static int cut_block(struct nx_state *st, struct nx_block *b, const uint8_t *code, size_t n,
		     struct worklist *w)
{
	size_t off = 0;
	struct reloc_insn_info info = { 0 };

	while (b->n < RELOC_MAX_INSNS) {
		uint64_t a = b->src + off;
		if (b->n > 0 && (!nx_guarded(st, a) || nx_hooked_entry(st, a)))
			break;
		if (arch_insn_info(code + off, n - off, a, &info) < 0)
			break;
		b->ilen[b->n++] = (uint8_t)info.len;
		off += (size_t)info.len;
		if (info.has_target && linkable(st, info.target) &&
		    (info.target < b->src || info.target >= b->src + off))
			push(w, info.target);
		if (info.ends_block)
			break;
	}
	if (b->n == 0)
		return -1;
	b->src_len = (uint32_t)off;
	b->ends_flow = info.ends_flow;
	/* The fall-through (and a call's return address, translated ahead of the return). */
	if (!b->ends_flow && linkable(st, b->src + off))
		push(w, b->src + off);
	return 0;
}

/* ---- relocating blocks ------------------------------------------------------------------ */

struct link_ctx {
	struct nx_state *st;
	const struct nx_block *b;
	uint64_t placeholder;     /* trial run: where pending blocks are assumed to be */
};

/* Where a branch of block lc->b to target goes: the copy of a translated block when it
 * can be linked, otherwise the original address (which faults if guarded). */
static uint64_t link_target(void *ctx, uint64_t target, bool inside)
{
	struct link_ctx *lc = ctx;

	if (inside)
		/* A loop back to the block's own start stays in the copy, unless that start
		 * is a hooked entry: each pass must fault there to be counted. */
		return target == lc->b->src && nx_hooked_entry(lc->st, target) ? target
										: RELOC_LINK_LOCAL;
	if (!linkable(lc->st, target))
		return target;
	const struct nx_block *to = map_get(lc->st, target);
	if (!to)
		return target;
	return to->dst ? to->dst : lc->placeholder;
}

/* Where the block goes on when it falls through. */
static uint64_t continuation(struct link_ctx *lc)
{
	return link_target(lc, lc->b->src + lc->b->src_len, false);
}

/* Relocates b for address dst into out (cap bytes). 0 or a RELOC_E_* code. */
static int relocate(struct nx_state *st, struct nx_block *b, const uint8_t *code,
		    uint64_t dst, uint8_t *out, size_t cap, uint64_t placeholder,
		    struct reloc_result *rr)
{
	struct link_ctx lc = { .st = st, .b = b, .placeholder = placeholder };
	struct reloc_links links = { .link = link_target, .ctx = &lc };

	return arch_relocate(code, b->src_len, b->src, b->src_len, out, cap, dst,
			     continuation(&lc), &links, rr);
}

/* Code cache space near page pi for size bytes, mapping more if needed. */
static uint64_t cache_alloc(struct nx_state *st, int pi, size_t size, char *err,
			    size_t errlen)
{
	struct nx_page *pg = &st->pages[pi];

	size = (size + 15) & ~(size_t)15;
	if (!pg->chunk || pg->chunk_used + size > pg->chunk_size) {
		uint64_t c = scratch_alloc(st->s, pg->addr, NX_CHUNK, err, errlen);
		if (!c)
			return 0;
		pg->chunk = c;
		pg->chunk_used = 0;
		pg->chunk_size = NX_CHUNK;
	}
	uint64_t at = pg->chunk + pg->chunk_used;
	pg->chunk_used += size;
	return at;
}

/* Translates the blocks batch[0..nb) (decoded, not placed yet) into the cache. */
static int emit_batch(struct nx_state *st, const int *batch, int nb, uint8_t (*code)[NX_READ],
		      char *err, size_t errlen)
{
	uint8_t out[NX_READ * 4];
	struct reloc_result rr;

	/* Trial runs give each block's size, and drop instructions the relocator refuses
	 * (the block then ends before them, and a later fault there reports why). */
	for (int i = 0; i < nb; i++) {
		struct nx_block *b = &st->blocks[batch[i]];
		/* A block may start just before its page, with an instruction straddling
		 * into it. */
		int pi = nx_page_of(st, b->src);
		if (pi < 0)
			pi = nx_page_of(st, b->src + ARCH_MAX_INSN_LEN);
		uint64_t guess = st->pages[pi].chunk + st->pages[pi].chunk_used;
		int rc;
		while ((rc = relocate(st, b, code[i], guess, out, sizeof(out), guess, &rr)) < 0 &&
		       b->n > 1)
			b->src_len -= b->ilen[--b->n];
		if (rc < 0) {
			if (i == 0) {
				snprintf(err, errlen, "cannot run the code at 0x%" PRIx64
					 " out of line: %s", b->src, rr.err);
				kill_block(st, batch[i]);
				return -ENOTSUP;
			}
			kill_block(st, batch[i]);
			continue;
		}
		b->dst_len = (uint32_t)(rr.dst_len + NX_SLACK);
		b->dst = cache_alloc(st, pi, b->dst_len, err, errlen);
		if (!b->dst)
			return -ENOMEM;
	}
	/* Every block has its place: relocate for real, links resolved. */
	for (int i = 0; i < nb; i++) {
		struct nx_block *b = &st->blocks[batch[i]];
		if (b->dead)
			continue;
		int rc = relocate(st, b, code[i], b->dst, out, b->dst_len, 0, &rr);
		if (rc < 0) {
			/* Cannot happen with the slack; stay correct anyway: a jump back to the
			 * original, which faults and is handled again. */
			rr.dst_len = arch_jump(out, b->dst_len, b->dst, b->src);
			rr.n_insns = 0;
			memset(rr.map, 0, sizeof(rr.map));
		}
		b->n = rr.n_insns;
		memcpy(b->map, rr.map, sizeof(b->map));
		b->dst_len = (uint32_t)rr.dst_len;
		rc = mem_write(st->s->pid, b->dst, out, rr.dst_len);
		if (rc < 0) {
			snprintf(err, errlen, "cannot write the code cache: %s", strerror(-rc));
			return rc;
		}
	}
	return 0;
}

int nx_cache_check(struct nx_state *st, uint64_t pc, char *err, size_t errlen)
{
	static struct worklist w;
	struct nx_block b = { .src = pc };
	uint8_t code[NX_READ], out[NX_READ * 4];
	struct reloc_result rr;
	int pi = nx_page_of(st, pc);
	size_t n = read_code(st->s->pid, pc, code, sizeof(code));

	w.n = 0;
	if (n == 0 || pi < 0 || cut_block(st, &b, code, n, &w) < 0) {
		snprintf(err, errlen, "cannot decode the code at 0x%" PRIx64, pc);
		return -ENOTSUP;
	}
	uint64_t near = st->pages[pi].chunk ? st->pages[pi].chunk : st->pages[pi].addr;
	/* Only the first instruction must run out of line for a call to make progress; the
	 * cache ends a block before any instruction it cannot relocate. */
	b.src_len = b.ilen[0];
	b.n = 1;
	if (relocate(st, &b, code, near, out, sizeof(out), near, &rr) < 0) {
		snprintf(err, errlen, "cannot run the instruction at 0x%" PRIx64 " out of line: %s",
			 pc, rr.err);
		return -ENOTSUP;
	}
	return 0;
}

uint64_t nx_cache_enter(struct nx_state *st, struct thread *t, uint64_t pc, char *err,
			size_t errlen)
{
	struct nx_block *b = map_get(st, pc);
	static struct worklist w;
	static int batch[NX_BATCH];
	static uint8_t code[NX_BATCH][NX_READ];
	int nb = 0;

	(void)t;
	if (b && b->dst)
		return b->dst;
	w.n = 0;
	push(&w, pc);
	while (w.n > 0) {
		uint64_t a = w.a[--w.n];
		if (map_get(st, a))
			continue;
		if (nb == NX_BATCH)
			break; /* the rest keep their original targets: they fault when taken */
		size_t n = read_code(st->s->pid, a, code[nb], NX_READ);
		int idx = new_block(st, a);
		if (n == 0 || cut_block(st, &st->blocks[idx], code[nb], n, &w) < 0) {
			if (a == pc) {
				snprintf(err, errlen, "cannot decode the code at 0x%" PRIx64, pc);
				kill_block(st, idx);
				return 0;
			}
			kill_block(st, idx);
			continue;
		}
		batch[nb++] = idx;
	}
	if (emit_batch(st, batch, nb, code, err, errlen) < 0) {
		for (int i = 0; i < nb; i++)
			if (!st->blocks[batch[i]].dst)
				st->blocks[batch[i]].dead = true;
		map_rebuild(st);
		return 0;
	}
	b = map_get(st, pc);
	return b && b->dst ? b->dst : 0;
}
