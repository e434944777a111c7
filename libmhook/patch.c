/*
 * mhook_patch and mhook_unpatch: the generic half of inline patching. A patch is prepared
 * first (arch_prepare decodes, scans, relocates and picks the jump form; nothing is
 * written, so every refusal leaves the process untouched), then installed: the trampoline
 * is written, *original is published, the other threads are parked, the entry is
 * overwritten, and the threads are released (moved out of the changed bytes). Calls are
 * serialized by a spinlock built on an atomic flag and sched_yield, never on a function
 * the user might be patching. Patch records live in a fixed table, never in malloc; the
 * batch calls (batch.c) share the lock and the table.
 */
#include <stdatomic.h>
#include <sys/syscall.h>

#include "mhook.h"
#include "libmhook/internal.h"

#define RECS_MAX 16384   /* a power of two: the table is open-addressed by target */

int mh_pid, mh_tid;
static struct mh_rec recs[RECS_MAX];
static unsigned n_recs;
static atomic_flag lock_flag = ATOMIC_FLAG_INIT;
static atomic_int lock_owner;

/* Returns false when this thread already holds the lock: a replacement that calls
 * mhook_patch from inside a function libmhook uses would otherwise deadlock. */
bool mh_lock(void)
{
	int me = mh_gettid();

	if (atomic_load(&lock_owner) == me)
		return false;
	while (atomic_flag_test_and_set_explicit(&lock_flag, memory_order_acquire))
		mh_yield();
	atomic_store(&lock_owner, me);
	mh_pid = (int)mh_sys(SYS_getpid, 0, 0, 0, 0, 0, 0);
	mh_tid = me;
	return true;
}

void mh_unlock(void)
{
	atomic_store(&lock_owner, 0);
	atomic_flag_clear_explicit(&lock_flag, memory_order_release);
}

struct mh_rec *mh_rec_find(uintptr_t target, bool create)
{
	unsigned h = (unsigned)((target >> 2) * 2654435761u) & (RECS_MAX - 1);

	for (unsigned i = 0; i < RECS_MAX; i++, h = (h + 1) & (RECS_MAX - 1)) {
		if (recs[h].target == target)
			return &recs[h];
		if (!recs[h].target) {
			if (!create || n_recs >= RECS_MAX - 1)
				return NULL;
			n_recs++;
			recs[h].target = target;
			return &recs[h];
		}
	}
	return NULL;
}

void mh_rec_fill(struct mh_rec *r, const struct mh_plan *p)
{
	r->entry = p->entry;
	r->len = p->len;
	mh_copy(r->orig, p->orig, p->len);
	mh_copy(r->code, p->code, p->len);
	r->jump_to = p->move.jump_to;
	r->thumb = p->thumb;
	r->active = true;
}

void mh_rec_unmove(const struct mh_rec *r, struct mh_move *mv)
{
	mv->unpatch = true;
	mv->entry = r->entry;
	mv->len = r->len;
	mv->jump_to = r->jump_to;
	mv->thumb = r->thumb;
	mv->n_map = 0;
}

/* Parks the other threads around one code write; move says how to fix their PCs. */
static int write_parked(uintptr_t at, const uint8_t *bytes, size_t n, const struct mh_move *mv)
{
	int rc, missing;

	missing = mh_park_all(&mv, 1);
	rc = mh_write(at, bytes, n, true);
	mh_release_all();
	if (missing)
		mh_debug("%d threads could not be parked for the write at %#lx", missing,
			 (unsigned long)at);
	return rc;
}

static int install(struct mh_plan *p, void **original)
{
	if (mh_pool_write(p->slot, p->slot_code, p->slot_len) < 0)
		return MHOOK_E_PROTECT;
	mh_debug_bytes("trampoline", p->slot, p->slot_code, p->slot_len);
	/* Published before the patch goes live: the replacement may run at once. */
	if (original)
		__atomic_store_n(original, (void *)p->original, __ATOMIC_RELEASE);
	if (write_parked(p->entry, p->code, p->len, &p->move) < 0)
		return MHOOK_E_PROTECT;
	mh_debug_bytes("patch", p->entry, p->code, p->len);
	return 0;
}

int mhook_patch(void *target, const void *replacement, void **original)
{
	struct mh_plan plan = { .target = (uintptr_t)target, .repl = (uintptr_t)replacement };
	struct mh_rec *r;
	int rc;

	if (!target || !replacement)
		return MHOOK_E_INVAL;
	if (!mh_lock())
		return MHOOK_E_INVAL;
	r = mh_rec_find(plan.target, true);
	if (!r) {
		rc = MHOOK_E_NOMEM;
	} else if (r->active) {
		rc = MHOOK_E_PATCHED;
	} else if ((rc = arch_prepare(&plan)) < 0) {
		mh_debug("refused %p: %s", target, plan.why);
	} else if ((rc = install(&plan, original)) == 0) {
		mh_rec_fill(r, &plan);
	}
	mh_unlock();
	return rc;
}

int mhook_unpatch(void *target)
{
	struct mh_rec *r;
	int rc = 0;

	if (!target)
		return MHOOK_E_INVAL;
	if (!mh_lock())
		return MHOOK_E_INVAL;
	r = mh_rec_find((uintptr_t)target, false);
	if (!r || !r->active) {
		rc = MHOOK_E_NOT_PATCHED;
	} else if (!mh_equal((const void *)r->entry, r->code, r->len)) {
		rc = MHOOK_E_MODIFIED;
	} else {
		struct mh_move mv;

		mh_rec_unmove(r, &mv);
		if (write_parked(r->entry, r->orig, r->len, &mv) < 0) {
			rc = MHOOK_E_PROTECT;
		} else {
			r->active = false;
			mh_debug_bytes("unpatch", r->entry, r->orig, r->len);
		}
	}
	mh_unlock();
	return rc;
}

const char *mhook_strerror(int err)
{
	switch (err) {
	case 0: return "success";
	case MHOOK_E_INVAL: return "invalid argument (or a call from inside a libmhook call)";
	case MHOOK_E_TOO_SHORT: return "function too short to patch";
	case MHOOK_E_BRANCH_INTO: return "a branch in the function targets the patched bytes";
	case MHOOK_E_UNRELOCATABLE: return "an instruction in the patched bytes cannot be relocated";
	case MHOOK_E_PATCHED: return "function already patched";
	case MHOOK_E_NOT_PATCHED: return "function not patched";
	case MHOOK_E_NOMEM: return "no trampoline memory within reach, or patch table full";
	case MHOOK_E_PROTECT: return "could not make the memory writable";
	case MHOOK_E_NOT_FOUND: return "module or imported symbol not found";
	case MHOOK_E_MODIFIED: return "patch bytes were changed by someone else";
	case MHOOK_E_DECODE: return "instructions do not decode";
	case MHOOK_E_OVERLAP: return "the patch bytes of two batch entries overlap";
	default: return "unknown mhook error";
	}
}
