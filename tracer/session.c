/*
 * Session bookkeeping: the thread table and the hook table with its address index. The
 * per-hit path looks a hook up by address, so that lookup is an open-addressed hash
 * rather than a scan; threads are few and looked up by a short linear scan.
 */
#include "tracer/session.h"

#include <stdlib.h>
#include <string.h>

#include "strategies/strategy.h"

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

struct hook *session_add_hook(struct session *s)
{
	struct hook *h;

	if (s->nhooks == s->cap_hooks)
		s->hooks = grow(s->hooks, &s->cap_hooks, sizeof(*s->hooks));
	h = &s->hooks[s->nhooks++];
	memset(h, 0, sizeof(*h));
	return h;
}

static unsigned hook_slot(uint64_t addr, unsigned cap)
{
	/* Fibonacci hashing: code addresses differ mostly in their low bits. */
	return (unsigned)((addr * 0x9e3779b97f4a7c15ULL) >> 40) & (cap - 1);
}

void session_index_hooks(struct session *s)
{
	unsigned cap = 16;

	while (cap < (unsigned)s->nhooks * 4)
		cap *= 2;
	free(s->hook_keys);
	free(s->hook_vals);
	s->hook_keys = calloc(cap, sizeof(*s->hook_keys));
	s->hook_vals = calloc(cap, sizeof(*s->hook_vals));
	if (!s->hook_keys || !s->hook_vals)
		abort();
	s->hook_map_cap = cap;
	for (int i = 0; i < s->nhooks; i++) {
		unsigned j = hook_slot(s->hooks[i].addr, cap);
		while (s->hook_keys[j])
			j = (j + 1) & (cap - 1);
		s->hook_keys[j] = s->hooks[i].addr;
		s->hook_vals[j] = i;
	}
}

struct hook *session_hook_at(struct session *s, uint64_t addr)
{
	unsigned cap = s->hook_map_cap;

	if (!cap || !addr)
		return NULL;
	for (unsigned j = hook_slot(addr, cap); s->hook_keys[j]; j = (j + 1) & (cap - 1))
		if (s->hook_keys[j] == addr)
			return &s->hooks[s->hook_vals[j]];
	return NULL;
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

	/* Best is a thread stopped on its way back to user mode (an interrupt or a signal
	 * stop), not in group-stop (a syscall run from there would let it leave the stop),
	 * and not stopped inside a syscall at an event. */
	for (int i = 0; i < s->nthreads; i++) {
		struct thread *t = &s->threads[i];
		if (t->shadow || t->state != THREAD_STOPPED || t->exiting)
			continue;
		int rank = (t->in_syscall_stop ? 2 : 0) + (t->listen ? 1 : 0);
		if (rank < best_rank) {
			best = t;
			best_rank = rank;
		}
	}
	return best;
}

void hook_count_pid(struct hook *h, pid_t pid)
{
	for (int i = 0; i < h->nby_pid; i++) {
		if (h->by_pid[i].pid == pid) {
			h->by_pid[i].calls++;
			return;
		}
	}
	struct pid_count *p = realloc(h->by_pid, (size_t)(h->nby_pid + 1) * sizeof(*p));
	if (!p)
		return;
	h->by_pid = p;
	h->by_pid[h->nby_pid].pid = pid;
	h->by_pid[h->nby_pid++].calls = 1;
}

void session_free(struct session *s)
{
	if (s->ops && s->ops->free_state)
		s->ops->free_state(s);
	for (int i = 0; i < s->nhooks; i++) {
		free(s->hooks[i].priv);
		free(s->hooks[i].by_pid);
	}
	free(s->rdebug.priv);
	s->rdebug.priv = NULL;
	free(s->spec_hook);
	free(s->spec_why);
	s->spec_hook = NULL;
	s->spec_why = NULL;
	free(s->hooks);
	free(s->threads);
	free(s->scratch);
	free(s->hook_keys);
	free(s->hook_vals);
	s->hooks = NULL;
	s->threads = NULL;
	s->scratch = NULL;
	s->hook_keys = NULL;
	s->hook_vals = NULL;
	s->nhooks = s->nthreads = s->nscratch = 0;
	s->hook_map_cap = 0;
}
