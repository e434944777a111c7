/*
 * mhook_patch_many and mhook_unpatch_many: many functions for the price of one. Patching a
 * function one at a time costs a parking of every other thread and a code write each; a
 * batch prepares every entry first (everything that can fail, so a refusal anywhere
 * leaves the process untouched), then writes all trampolines, publishes every *original,
 * parks the threads once, writes all entries grouped by page, and releases them once, each
 * thread moved out of whichever patched range it stopped in. The per-entry scratch (plans
 * of 720 bytes, up to MHOOK_BATCH_MAX of them) is too big for a stack, and malloc may be
 * what the batch patches, so it is mapped with a raw mmap and kept for the next batch.
 */
#include <sys/mman.h>
#include <sys/syscall.h>

#include "mhook.h"
#include "libmhook/internal.h"

struct item {
	struct mh_plan plan;       /* unpatch: only entry, len and move are used */
	struct mh_rec *rec;
	void *old_original;        /* *original before we published, for a late failure */
};

/* The scratch: items, and the moves, pieces and order in address order. */
static struct item *items;
static struct mh_piece *pieces;
static const struct mh_move **moves;
static uint32_t *order;
static size_t cap, cap_bytes;
static unsigned serial;        /* tells this batch's claims on records from older ones */
static bool abandon;           /* a thread may still read this scratch: map a new one */

/* Populated when mapped: one system call instead of a page fault per 4 KiB of plans. */
static int scratch(size_t n)
{
	size_t bytes = n * (sizeof(*items) + sizeof(*pieces) + sizeof(*moves) + sizeof(*order));
	long p;

	if (n <= cap)
		return 0;
#ifdef SYS_mmap2
	p = mh_sys(SYS_mmap2, 0, (long)bytes, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
#else
	p = mh_sys(SYS_mmap, 0, (long)bytes, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
#endif
	if (p < 0 && p > -4096)
		return -1;
	if (items)
		mh_sys(SYS_munmap, (long)items, (long)cap_bytes, 0, 0, 0, 0);
	items = (struct item *)p;
	pieces = (struct mh_piece *)(items + n);
	moves = (const struct mh_move **)(pieces + n);
	order = (uint32_t *)(moves + n);
	cap = n;
	cap_bytes = bytes;
	return 0;
}

/* After the batch that set abandon is done with it: a thread that was not parked may
 * still read its moves, so it is neither reused nor unmapped. */
static void scratch_done(void)
{
	if (abandon) {
		items = NULL;
		cap = 0;
		abandon = false;
	}
}

static uintptr_t key(uint32_t k)
{
	return items[k].plan.entry;
}

static void sift(size_t root, size_t n)
{
	for (;;) {
		size_t c = 2 * root + 1;
		uint32_t t;

		if (c >= n)
			return;
		if (c + 1 < n && key(order[c + 1]) > key(order[c]))
			c++;
		if (key(order[root]) >= key(order[c]))
			return;
		t = order[root];
		order[root] = order[c];
		order[c] = t;
		root = c;
	}
}

/* order[] = the items by entry address. A heapsort: qsort may allocate, and the usual
 * input (a library's functions in symbol order) is often sorted already. */
static void sort_items(size_t n)
{
	bool sorted = true;

	for (size_t i = 0; i < n; i++) {
		order[i] = (uint32_t)i;
		if (i && key((uint32_t)i) < key((uint32_t)i - 1))
			sorted = false;
	}
	if (sorted)
		return;
	for (size_t i = n / 2; i-- > 0;)
		sift(i, n);
	for (size_t end = n; end-- > 1;) {
		uint32_t t = order[0];

		order[0] = order[end];
		order[end] = t;
		sift(0, end);
	}
}

/* Claims r for entry i of this batch; false when an earlier entry claimed it. */
static bool claim(struct mh_rec *r, size_t i)
{
	if (r->batch == serial)
		return false;
	r->batch = serial;
	r->batch_idx = i;
	return true;
}

static void next_serial(void)
{
	if (++serial == 0)
		serial = 1;
}

static int prepare_one(const struct mhook_batch_entry *e, size_t i)
{
	struct item *it = &items[i];
	struct mh_plan *p = &it->plan;
	struct mh_rec *r;
	int rc;

	/* The fields arch_prepare reads before it writes them; zeroing all 720 bytes of
	 * each plan with a byte loop would cost more than preparing it. */
	p->target = (uintptr_t)e->target;
	p->repl = (uintptr_t)e->replacement;
	p->entry = 0;
	p->len = 0;
	p->thumb = false;
	p->why[0] = 0;
	if (!e->target || !e->replacement) {
		mh_debug("batch entry %zu: NULL target or replacement", i);
		return MHOOK_E_INVAL;
	}
	r = mh_rec_find(p->target, true);
	if (!r) {
		mh_debug("batch entry %zu (%p): the patch table is full", i, e->target);
		return MHOOK_E_NOMEM;
	}
	if (r->active) {
		mh_debug("batch entry %zu (%p): already patched", i, e->target);
		return MHOOK_E_PATCHED;
	}
	if (!claim(r, i)) {
		mh_debug("batch entry %zu (%p): the same target as entry %zu", i, e->target,
			 r->batch_idx);
		return MHOOK_E_PATCHED;
	}
	it->rec = r;
	if ((rc = arch_prepare(p)) < 0)
		mh_debug("batch entry %zu (%p): refused: %s", i, e->target, p->why);
	return rc;
}

/* Sorted, neighbours must not share a byte: the later write would cut the earlier. */
static int check_overlaps(size_t n, size_t *bad)
{
	sort_items(n);
	for (size_t k = 1; k < n; k++) {
		const struct mh_plan *a = &items[order[k - 1]].plan, *b = &items[order[k]].plan;

		if (a->entry + a->len > b->entry) {
			*bad = order[k - 1] > order[k] ? order[k - 1] : order[k];
			mh_debug("batch entries %u (%p) and %u (%p): patch bytes [%#lx, +%zu) and "
				 "[%#lx, +%zu) overlap", order[k - 1], (void *)a->target, order[k],
				 (void *)b->target, (unsigned long)a->entry, a->len,
				 (unsigned long)b->entry, b->len);
			return MHOOK_E_OVERLAP;
		}
	}
	return 0;
}

/*
 * Parks once, writes every piece (pieces[k].bytes, in address order), releases once.
 * When a write fails the pieces get back the bytes that undo[k] gives (best effort) and
 * *bad names the item whose page failed. Threads moved by the moves list are always safe:
 * a trampoline and the original code run the same instructions.
 */
static int commit(size_t n, const uint8_t *(*undo)(const struct item *), size_t *bad)
{
	size_t at = 0;
	int missing, rc = 0;

	for (size_t k = 0; k < n; k++)
		moves[k] = &items[order[k]].plan.move;
	missing = mh_park_all(moves, n);
	if (mh_write_code_many(pieces, n, &at) < 0) {
		for (size_t k = 0; k < n; k++)
			pieces[k].bytes = undo(&items[order[k]]);
		mh_write_code_many(pieces, n, NULL);
		*bad = order[at];
		rc = MHOOK_E_PROTECT;
	}
	abandon = mh_release_all() < 0;
	if (rc)
		mh_debug("batch entry %zu (%p): its code page could not be written", *bad,
			 (void *)items[*bad].plan.target);
	if (missing)
		mh_debug("%d threads could not be parked for a batch of %zu", missing, n);
	return rc;
}

static const uint8_t *undo_patch(const struct item *it)
{
	return it->plan.orig;
}

static const uint8_t *undo_unpatch(const struct item *it)
{
	return it->rec->code;
}

static int install_all(struct mhook_batch_entry *e, size_t n, size_t *bad)
{
	int rc;

	for (size_t i = 0; i < n; i++) {
		const struct mh_plan *p = &items[i].plan;

		if (mh_pool_write(p->slot, p->slot_code, p->slot_len) < 0) {
			mh_debug("batch entry %zu (%p): trampoline not writable", i, e[i].target);
			*bad = i;
			return MHOOK_E_PROTECT;
		}
		mh_debug_bytes("trampoline", p->slot, p->slot_code, p->slot_len);
	}
	/* Published before any patch goes live: a replacement may run at once. */
	for (size_t i = 0; i < n; i++) {
		if (!e[i].original)
			continue;
		items[i].old_original = __atomic_load_n(e[i].original, __ATOMIC_ACQUIRE);
		__atomic_store_n(e[i].original, (void *)items[i].plan.original, __ATOMIC_RELEASE);
	}
	for (size_t k = 0; k < n; k++) {
		const struct mh_plan *p = &items[order[k]].plan;

		pieces[k] = (struct mh_piece){ p->entry, p->code, p->len };
	}
	if ((rc = commit(n, undo_patch, bad)) < 0) {
		for (size_t i = 0; i < n; i++)
			if (e[i].original)
				__atomic_store_n(e[i].original, items[i].old_original, __ATOMIC_RELEASE);
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		mh_rec_fill(items[i].rec, &items[i].plan);
		mh_debug_bytes("patch", items[i].plan.entry, items[i].plan.code, items[i].plan.len);
	}
	return 0;
}

int mhook_patch_many(struct mhook_batch_entry *e, size_t n, size_t *failed)
{
	size_t bad = n;
	int rc = 0;

	if (failed)
		*failed = n;
	if (n == 0)
		return 0;
	if (!e || n > MHOOK_BATCH_MAX)
		return MHOOK_E_INVAL;
	for (size_t i = 0; i < n; i++)
		e[i].err = 0;
	if (!mh_lock())
		return MHOOK_E_INVAL;
	if (scratch(n) < 0) {
		rc = MHOOK_E_NOMEM;
	} else {
		next_serial();
		for (size_t i = 0; i < n && !rc; i++)
			if ((rc = prepare_one(&e[i], i)) < 0)
				bad = i;
		if (!rc)
			rc = check_overlaps(n, &bad);
		if (!rc)
			rc = install_all(e, n, &bad);
		scratch_done();
	}
	mh_unlock();
	if (rc && bad < n)
		e[bad].err = rc;
	if (failed)
		*failed = bad;
	return rc;
}

static int unprepare_one(void *target, size_t i)
{
	struct item *it = &items[i];
	struct mh_rec *r;

	it->plan.target = (uintptr_t)target;
	it->plan.entry = 0;
	if (!target) {
		mh_debug("batch entry %zu: NULL target", i);
		return MHOOK_E_INVAL;
	}
	r = mh_rec_find((uintptr_t)target, false);
	if (!r || !r->active) {
		mh_debug("batch entry %zu (%p): not patched", i, target);
		return MHOOK_E_NOT_PATCHED;
	}
	if (!claim(r, i)) {
		mh_debug("batch entry %zu (%p): the same target as entry %zu", i, target,
			 r->batch_idx);
		return MHOOK_E_NOT_PATCHED;
	}
	if (!mh_equal((const void *)r->entry, r->code, r->len)) {
		mh_debug("batch entry %zu (%p): patch bytes changed by someone else", i, target);
		return MHOOK_E_MODIFIED;
	}
	it->rec = r;
	it->plan.entry = r->entry;
	it->plan.len = r->len;
	mh_rec_unmove(r, &it->plan.move);
	return 0;
}

int mhook_unpatch_many(void *const *targets, size_t n, size_t *failed)
{
	size_t bad = n;
	int rc = 0;

	if (failed)
		*failed = n;
	if (n == 0)
		return 0;
	if (!targets || n > MHOOK_BATCH_MAX)
		return MHOOK_E_INVAL;
	if (!mh_lock())
		return MHOOK_E_INVAL;
	if (scratch(n) < 0) {
		rc = MHOOK_E_NOMEM;
	} else {
		next_serial();
		for (size_t i = 0; i < n && !rc; i++)
			if ((rc = unprepare_one(targets[i], i)) < 0)
				bad = i;
		if (!rc) {
			sort_items(n);
			for (size_t k = 0; k < n; k++) {
				const struct mh_rec *r = items[order[k]].rec;

				pieces[k] = (struct mh_piece){ r->entry, r->orig, r->len };
			}
			rc = commit(n, undo_unpatch, &bad);
		}
		for (size_t i = 0; i < n && !rc; i++) {
			items[i].rec->active = false;
			mh_debug_bytes("unpatch", items[i].rec->entry, items[i].rec->orig,
				       items[i].rec->len);
		}
		scratch_done();
	}
	mh_unlock();
	if (failed)
		*failed = bad;
	return rc;
}
