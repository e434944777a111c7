/*
 * Session bookkeeping: the thread table and the hook table with its address index. The
 * per-hit path looks a hook up by address, so that lookup is a hash (addrmap.h) rather
 * than a scan; threads are few and looked up by a short linear scan.
 */
#include "tracer/session.h"

#include <stdlib.h>
#include <string.h>

static void *grow(void *arr, int *cap, size_t elem)
{
	int ncap = *cap ? *cap * 2 : 16;
	void *p = realloc(arr, (size_t)ncap * elem);

	if (!p)
		abort(); /* out of memory while tracing: nothing sane to do */
	memset((char *)p + (size_t)*cap * elem, 0, (size_t)(ncap - *cap) * elem);
	*cap = ncap;
	return p;
}

struct thread *session_thread(struct session *s, pid_t tid)
{
	for (int i = 0; i < s->nthreads; i++)
		if (s->threads[i].tid == tid)
			return &s->threads[i];
	return NULL;
}

struct thread *session_add_thread(struct session *s, pid_t tid, pid_t tgid,
				  enum thread_state state)
{
	struct thread *t = session_thread(s, tid);

	if (t)
		return t;
	if (s->nthreads == s->cap_threads)
		s->threads = grow(s->threads, &s->cap_threads, sizeof(*s->threads));
	t = &s->threads[s->nthreads++];
	memset(t, 0, sizeof(*t));
	t->tid = tid;
	t->tgid = tgid;
	t->state = state;
	t->shadow = tgid != s->pid;
	return t;
}

void session_remove_thread(struct session *s, pid_t tid)
{
	for (int i = 0; i < s->nthreads; i++) {
		if (s->threads[i].tid == tid) {
			s->threads[i] = s->threads[--s->nthreads];
			return;
		}
	}
}

pid_t *session_tids(struct session *s, int *n)
{
	pid_t *tids = calloc((size_t)s->nthreads + 1, sizeof(*tids));

	*n = tids ? s->nthreads : 0;
	for (int i = 0; i < *n; i++)
		tids[i] = s->threads[i].tid;
	return tids;
}

struct thread *session_any_stopped(struct session *s)
{
	struct thread *best = NULL;
	int best_rank = 99;

	/* A syscall run from group-stop would let the thread leave the stop; one stopped at
	 * an event is inside a syscall and must be settled first (remote.c). A vfork parent
	 * cannot be settled while its child is held: there the child, a shadow that shares
	 * the memory (a stopped shadow always does, loop.c), serves instead. */
	for (int i = 0; i < s->nthreads; i++) {
		struct thread *t = &s->threads[i];
		if (t->state != THREAD_STOPPED || t->exiting || (t->shadow && t->in_syscall_stop))
			continue;
		int rank = t->vfork_child ? 6 : t->shadow ? 4 : t->in_syscall_stop ? 2 : 0;
		rank += t->listen ? 1 : 0;
		if (rank < best_rank) {
			best = t;
			best_rank = rank;
		}
	}
	return best;
}

struct hook *session_add_hook(struct session *s)
{
	struct hook *h;

	if (s->nhooks == s->cap_hooks)
		s->hooks = grow(s->hooks, &s->cap_hooks, sizeof(*s->hooks));
	h = &s->hooks[s->nhooks++];
	memset(h, 0, sizeof(*h));
	return h;
}

void session_index_hooks(struct session *s)
{
	/* Only hooks with a strategy state can be hit. Two of them share an address only
	 * when an object was unloaded and another loaded in its place: the armed one wins. */
	addrmap_clear(&s->hook_index);
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < s->nhooks; i++)
			if (s->hooks[i].prepared && s->hooks[i].addr &&
			    s->hooks[i].armed == (pass == 1))
				addrmap_put(&s->hook_index, s->hooks[i].addr, i);
}

struct hook *session_hook_at(struct session *s, uint64_t addr)
{
	int i = addrmap_get(&s->hook_index, addr);

	return i >= 0 ? &s->hooks[i] : NULL;
}

struct hook *session_internal(struct session *s, int i)
{
	return i == 0 ? &s->rdebug : &s->sigbp[i - 1];
}

void session_free(struct session *s)
{
	for (int i = 0; i < s->nhooks; i++)
		free(s->hooks[i].priv);
	for (int i = 0; i < SESSION_NINTERNAL; i++) {
		free(session_internal(s, i)->priv);
		session_internal(s, i)->priv = NULL;
	}
	free(s->specs);
	s->specs = NULL;
	free(s->hooks);
	free(s->threads);
	free(s->scratch);
	free(s->holes);
	addrmap_free(&s->hook_index);
	s->hooks = NULL;
	s->threads = NULL;
	s->scratch = NULL;
	s->holes = NULL;
	s->nhooks = s->nthreads = s->nscratch = s->nholes = s->nspecs = 0;
}

bool session_has_tgid(const struct session *s, pid_t tgid)
{
	for (int i = 0; i < s->nthreads; i++)
		if (s->threads[i].tgid == tgid)
			return true;
	return false;
}
