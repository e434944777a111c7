/*
 * Following children (see follow.h). Sessions are few (one per traced process), so the
 * routing of a stop is a scan of their thread tables.
 */
#include "tracer/follow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strategies/strategy.h"
#include "tracer/loop.h"
#include "tracer/observer.h"
#include "tracer/proc.h"

static struct session **sessions;
static int nsessions, cap_sessions;
static struct session *main_s; /* the caller's: never freed here */

static void add_session(struct session *s)
{
	if (nsessions == cap_sessions) {
		int ncap = cap_sessions ? cap_sessions * 2 : 8;
		struct session **p = realloc(sessions, (size_t)ncap * sizeof(*p));
		if (!p)
			abort();
		sessions = p;
		cap_sessions = ncap;
	}
	sessions[nsessions++] = s;
}

void follow_init(struct session *main_session)
{
	nsessions = 0;
	main_s = main_session;
	if (main_session)
		add_session(main_session);
}

void follow_add(struct session *s)
{
	add_session(s);
}

void follow_remove(struct session *s)
{
	for (int i = 0; i < nsessions; i++) {
		if (sessions[i] != s)
			continue;
		memmove(&sessions[i], &sessions[i + 1], (size_t)(nsessions - i - 1) * sizeof(*sessions));
		nsessions--;
		if (s != main_s) {
			loop_free_session(s);
			free(s);
		}
		return;
	}
}

struct session *follow_owner(pid_t tid)
{
	for (int i = 0; i < nsessions; i++)
		if (session_thread(sessions[i], tid))
			return sessions[i];
	return NULL;
}

struct session *follow_parent_of(pid_t tid, struct session *fallback)
{
	pid_t tgid = proc_tgid(tid);

	for (int i = 0; i < nsessions; i++)
		if (sessions[i]->pid == tgid)
			return sessions[i];
	pid_t ppid = tgid ? proc_ppid(tgid) : 0;
	for (int i = 0; i < nsessions; i++)
		if (ppid && (sessions[i]->pid == ppid || session_thread(sessions[i], ppid)))
			return sessions[i];
	return fallback;
}

/* A copy of a hook's strategy state: a plain struct of the strategy's priv_size. */
static void *copy_priv(const struct strategy_ops *ops, const void *priv)
{
	void *p;

	if (!priv || !ops)
		return NULL;
	p = malloc(ops->priv_size);
	if (!p)
		abort(); /* out of memory: the child could be neither served nor cleaned */
	memcpy(p, priv, ops->priv_size);
	return p;
}

static void *copy_array(const void *from, size_t n, size_t elem)
{
	void *p = calloc(n + 1, elem);

	if (!p)
		abort();
	if (n)
		memcpy(p, from, n * elem);
	return p;
}

struct session *follow_fork(struct session *parent, pid_t child, bool execed)
{
	struct session *c = calloc(1, sizeof(*c));

	if (!c)
		abort();
	*c = *parent;
	c->pid = child;
	c->launched = false;
	c->exit_status = -1;
	c->gone = c->detached = false;
	c->fatal = 0;
	c->threads = NULL;
	c->nthreads = c->cap_threads = 0;
	memset(&c->hook_index, 0, sizeof(c->hook_index));
	c->sync_needed = false;
	c->obs_data = NULL;

	/* The child's memory is a copy of the parent's: same breakpoints, same scratch
	 * pages at the same addresses, so the same hooks hold as they are. */
	c->hooks = copy_array(parent->hooks, (size_t)parent->nhooks, sizeof(*c->hooks));
	c->cap_hooks = parent->nhooks + 1;
	c->scratch = copy_array(parent->scratch, (size_t)parent->nscratch, sizeof(*c->scratch));
	c->cap_scratch = parent->nscratch + 1;
	c->holes = copy_array(parent->holes, (size_t)parent->nholes, sizeof(*c->holes));
	c->cap_holes = parent->nholes + 1;
	c->specs = copy_array(parent->specs, (size_t)parent->nspecs, sizeof(*c->specs));
	for (int i = 0; i < c->nhooks; i++)
		c->hooks[i].priv = copy_priv(parent->hooks[i].ops, parent->hooks[i].priv);
	for (int i = 0; i < SESSION_NINTERNAL; i++)
		session_internal(c, i)->priv =
			copy_priv(&swbp_ops, session_internal(parent, i)->priv);
	memset(c->strategy_state, 0, sizeof(c->strategy_state));
	if (!execed) {
		const struct strategy_ops *ops;
		for (unsigned pos = 0; (ops = strategy_next_used(parent, &pos));)
			if (ops->fork_state && ops->fork_state(parent, c) < 0)
				abort(); /* out of memory, as above */
	}
	session_index_hooks(c);
	add_session(c);
	c->obs->session_new(parent, c);
	return c;
}

int follow_count(void)
{
	return nsessions;
}

struct session *follow_at(int i)
{
	return sessions[i];
}

bool follow_all_gone(void)
{
	for (int i = 0; i < nsessions; i++)
		if (!sessions[i]->reap_when_gone &&
		    (sessions[i]->nthreads > 0 || (!sessions[i]->gone && !sessions[i]->detached)))
			return false;
	return true;
}

void follow_free(void)
{
	for (int i = 0; i < nsessions; i++) {
		if (sessions[i] == main_s)
			continue;
		loop_free_session(sessions[i]);
		free(sessions[i]);
	}
	free(sessions);
	sessions = NULL;
	nsessions = cap_sessions = 0;
}
