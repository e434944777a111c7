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
#include "tracer/proc.h"
#include "tracer/sigwatch.h"

static struct session **sessions;
static int nsessions, cap_sessions;

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
	add_session(main_session);
}

struct session *follow_owner(pid_t tid)
{
	for (int i = 0; i < nsessions; i++)
		if (session_thread(sessions[i], tid))
			return sessions[i];
	return NULL;
}

static pid_t proc_ppid(pid_t pid)
{
	uint64_t v;

	return proc_status_field(pid, "PPid", 10, &v) == 0 ? (pid_t)v : 0;
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

/* A copy of a hook's strategy state; the strategies that can be copied keep plain
 * structs (priv_size), and the others are not followed into children. */
static void *copy_priv(const struct strategy_ops *ops, const void *priv)
{
	void *p;

	if (!priv)
		return NULL;
	p = malloc(ops->priv_size);
	if (p)
		memcpy(p, priv, ops->priv_size);
	return p;
}

struct session *follow_fork(struct session *parent, pid_t child, bool execed)
{
	struct session *c;

	if (!parent->ops->priv_size)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	*c = *parent;
	c->pid = child;
	c->launched = false;
	c->exit_status = -1;
	c->gone = c->detached = false;
	c->fatal = 0;
	c->threads = NULL;
	c->nthreads = c->cap_threads = 0;
	c->hook_keys = NULL;
	c->hook_vals = NULL;
	c->hook_map_cap = 0;
	c->sync_needed = false;

	c->hooks = calloc((size_t)parent->cap_hooks + 1, sizeof(*c->hooks));
	c->scratch = calloc((size_t)parent->cap_scratch + 1, sizeof(*c->scratch));
	c->spec_hook = calloc((size_t)parent->nspecs + 1, sizeof(*c->spec_hook));
	c->spec_why = calloc((size_t)parent->nspecs + 1, sizeof(*c->spec_why));
	if (!c->hooks || !c->scratch || !c->spec_hook || !c->spec_why)
		abort();
	c->cap_hooks = parent->cap_hooks;
	c->cap_scratch = parent->cap_scratch;
	/* The child's memory is a copy of the parent's: same breakpoints, same scratch
	 * pages at the same addresses, so the same hooks hold as they are. */
	if (parent->nhooks)
		memcpy(c->hooks, parent->hooks, (size_t)parent->nhooks * sizeof(*c->hooks));
	if (parent->nscratch)
		memcpy(c->scratch, parent->scratch, (size_t)parent->nscratch * sizeof(*c->scratch));
	if (parent->nspecs) {
		memcpy(c->spec_hook, parent->spec_hook,
		       (size_t)parent->nspecs * sizeof(*c->spec_hook));
		memcpy(c->spec_why, parent->spec_why, (size_t)parent->nspecs * sizeof(*c->spec_why));
	}
	for (int i = 0; i < c->nhooks; i++) {
		c->hooks[i].priv = copy_priv(parent->ops, parent->hooks[i].priv);
		c->hooks[i].by_pid = NULL;
		c->hooks[i].nby_pid = 0;
		c->hooks[i].calls = 0;
		c->hooks[i].shadow_calls = 0;
		c->hooks[i].collateral = 0;
	}
	c->rdebug.priv = copy_priv(&swbp_ops, parent->rdebug.priv);
	c->strategy_state = NULL;
	sigwatch_reset(c, true);
	if (!execed && parent->ops->fork_state && parent->ops->fork_state(parent, c) < 0)
		abort(); /* out of memory: the child could not be served, nor cleaned */
	session_index_hooks(c);
	add_session(c);
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
		if (sessions[i]->nthreads > 0 || (!sessions[i]->gone && !sessions[i]->detached))
			return false;
	return true;
}

void follow_free(void)
{
	for (int i = 1; i < nsessions; i++) {
		session_free(sessions[i]);
		free(sessions[i]);
	}
	free(sessions);
	sessions = NULL;
	nsessions = cap_sessions = 0;
}
