/*
 * The trampoline pool. Trampolines are carved out of 64 KiB chunks mapped as close to
 * their targets as the architecture's short branch needs (x86-64 rel32: ±2 GiB; AArch64 B:
 * ±128 MiB; ARM B: ±32 MiB; Thumb B.W: ±16 MiB), so that one chunk serves every function
 * of a library and patching a thousand functions costs one mmap, not a thousand. A chunk
 * is a memfd mapped twice: read+exec where it runs, read+write anywhere for filling slots,
 * so that no page is ever writable and executable and no slot write needs an mprotect
 * (each costs microseconds and a TLB shootdown on every CPU running the process). Where
 * memfd_create is missing the chunk is plain read+exec memory written through mh_write.
 * Nothing is ever freed: a pointer to an original, once handed out, must stay callable.
 * The memfd is shared with a forked child, so a child never writes into its parent's
 * chunks: after a fork it starts chunks of its own.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "libmhook/internal.h"

#define CHUNK_SIZE (64u * 1024u)
#define CHUNKS_MAX 1024

struct chunk {
	uintptr_t base;         /* the executable view */
	uintptr_t rw;           /* the writable view, 0 when there is none */
	size_t used;
};

static struct chunk chunks[CHUNKS_MAX];
static unsigned n_chunks;
static int pool_pid;

static bool in_reach(uintptr_t base, uintptr_t near, uint64_t reach)
{
	uint64_t lo = base, hi = (uint64_t)base + CHUNK_SIZE;

	if (!reach)
		return true;
	return (lo >= near ? lo - near : near - lo) < reach &&
	       (hi >= near ? hi - near : near - hi) < reach;
}

/* The writable view is populated when mapped: the chunk's pages are allocated in one
 * system call instead of one page fault each while a batch fills its slots. */
static void *map_fd(uintptr_t hint, int prot, long fd)
{
	int flags = MAP_SHARED | (prot & PROT_WRITE ? MAP_POPULATE : 0);
	long r;

#ifdef SYS_mmap2
	r = mh_sys(SYS_mmap2, (long)hint, CHUNK_SIZE, prot, flags, fd, 0);
#else
	r = mh_sys(SYS_mmap, (long)hint, CHUNK_SIZE, prot, flags, fd, 0);
#endif
	return r < 0 && r > -4096 ? NULL : (void *)r;
}

/* Maps one chunk at (or near) hint: both views when a memfd can be had. */
static void *chunk_map(uintptr_t hint, uintptr_t *rw)
{
	long fd = mh_sys(SYS_memfd_create, (long)"mhook-trampolines", MFD_CLOEXEC, 0, 0, 0, 0);
	void *x = NULL, *w = NULL;

	*rw = 0;
	if (fd >= 0 && mh_sys(SYS_ftruncate, fd, CHUNK_SIZE, 0, 0, 0, 0) == 0) {
		x = map_fd(hint, PROT_READ | PROT_EXEC, fd);
		w = x ? map_fd(0, PROT_READ | PROT_WRITE, fd) : NULL;
		if (x && !w) {
			mh_sys(SYS_munmap, (long)x, CHUNK_SIZE, 0, 0, 0, 0);
			x = NULL;
		}
	}
	if (fd >= 0)
		mh_sys(SYS_close, fd, 0, 0, 0, 0, 0);
	if (x) {
		*rw = (uintptr_t)w;
		return x;
	}
	return mh_mmap((void *)hint, CHUNK_SIZE, PROT_READ | PROT_EXEC);
}

static struct chunk *chunk_new(uintptr_t near, uint64_t reach)
{
	for (int attempt = 0; attempt < 2 && n_chunks < CHUNKS_MAX; attempt++) {
		uintptr_t hint = reach ? mh_maps_free_near(near, reach, CHUNK_SIZE) : 0, rw;
		void *p;

		if (reach && !hint)
			return NULL;
		p = chunk_map(hint, &rw);
		if (!p)
			return NULL;
		if (in_reach((uintptr_t)p, near, reach)) {
			mh_maps_note((uintptr_t)p, CHUNK_SIZE, PROT_READ | PROT_EXEC);
			if (rw)
				mh_maps_note(rw, CHUNK_SIZE, PROT_READ | PROT_WRITE);
			chunks[n_chunks] = (struct chunk){ (uintptr_t)p, rw, 0 };
			return &chunks[n_chunks++];
		}
		/* The kernel put it elsewhere: our view of the gaps was stale. */
		mh_sys(SYS_munmap, (long)p, CHUNK_SIZE, 0, 0, 0, 0);
		if (rw)
			mh_sys(SYS_munmap, (long)rw, CHUNK_SIZE, 0, 0, 0, 0);
		mh_maps_invalidate();
	}
	return NULL;
}

/* MHOOK_FORCE_FAR=1 pretends that no memory is free, and no replacement lies, within
 * branch reach of any target, so that the tests can exercise the absolute patch forms
 * that real processes rarely need. */
bool mh_force_far(void)
{
	static int on = -1;

	if (on < 0) {
		const char *v = getenv("MHOOK_FORCE_FAR");

		on = v && *v == '1';
	}
	return on;
}

uintptr_t mh_pool_slot(uintptr_t near, uint64_t reach)
{
	struct chunk *c = NULL;
	uintptr_t slot;
	int pid = mh_pid;

	if (reach && mh_force_far())
		return 0;
	if (pool_pid != pid) {
		for (unsigned i = 0; i < n_chunks; i++)
			if (chunks[i].rw)
				chunks[i].used = CHUNK_SIZE;   /* the parent's: full for us */
		pool_pid = pid;
	}
	for (unsigned i = n_chunks; i-- > 0;) {
		if (chunks[i].used + MH_SLOT_SIZE <= CHUNK_SIZE &&
		    in_reach(chunks[i].base, near, reach)) {
			c = &chunks[i];
			break;
		}
	}
	if (!c)
		c = chunk_new(near, reach);
	if (!c)
		return 0;
	slot = c->base + c->used;
	c->used += MH_SLOT_SIZE;
	return slot;
}

int mh_pool_write(uintptr_t slot, const void *code, size_t n)
{
	for (unsigned i = 0; i < n_chunks; i++) {
		const struct chunk *c = &chunks[i];

		if (slot >= c->base && slot + n <= c->base + CHUNK_SIZE) {
			if (!c->rw)
				return mh_write(slot, code, n, true);
			mh_copy((void *)(c->rw + (slot - c->base)), code, n);
			__builtin___clear_cache((char *)slot, (char *)slot + n);
			return 0;
		}
	}
	return -1;
}
