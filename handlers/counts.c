/*
 * Counting hits and adding them up (see counts.h). A process's counts hang off its
 * session (obs_data), indexed like its hooks, so a hit costs an array index and an add.
 * The summary walks the traced processes in the order they were traced and their hooks
 * in order, and keys its rows by function and object, so that a function hooked in many
 * processes (-F) is one row with per-pid counts.
 */
#include "handlers/counts.h"

#include <stdlib.h>
#include <string.h>

#include "strategies/strategy.h"
#include "tracer/follow.h"

struct proc_counts {
	struct hook_counts *hooks;
	int cap;
	struct proc_counts *next; /* every one, for counts_free */
};

static struct proc_counts *all_counts;

/* ---- interned names ---------------------------------------------------------------- */

#define INTERN_BUCKETS 1024

struct interned {
	struct interned *next;
	char name[];
};

static struct interned *interned[INTERN_BUCKETS];

static unsigned name_hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % INTERN_BUCKETS;
}

const char *counts_intern(const char *name)
{
	unsigned b = name_hash(name);

	for (struct interned *i = interned[b]; i; i = i->next)
		if (!strcmp(i->name, name))
			return i->name;
	size_t n = strlen(name) + 1;
	struct interned *i = malloc(sizeof(*i) + n);
	if (!i)
		abort(); /* a call event could not name its function */
	memcpy(i->name, name, n);
	i->next = interned[b];
	interned[b] = i;
	return i->name;
}

/* ---- per hook ------------------------------------------------------------------------- */

static struct proc_counts *proc_of(struct session *s)
{
	struct proc_counts *pc = s->obs_data;

	if (pc)
		return pc;
	pc = calloc(1, sizeof(*pc));
	if (!pc)
		abort();
	pc->next = all_counts;
	all_counts = pc;
	s->obs_data = pc;
	return pc;
}

struct hook_counts *counts_of(struct session *s, const struct hook *h)
{
	struct proc_counts *pc = proc_of(s);
	int i = (int)(h - s->hooks);

	if (i >= pc->cap) {
		int ncap = pc->cap ? pc->cap : 16;
		while (ncap <= i)
			ncap *= 2;
		struct hook_counts *p = realloc(pc->hooks, (size_t)ncap * sizeof(*p));
		if (!p)
			abort();
		memset(p + pc->cap, 0, (size_t)(ncap - pc->cap) * sizeof(*p));
		pc->hooks = p;
		pc->cap = ncap;
	}
	return &pc->hooks[i];
}

static void add_pid(struct event_pid_count **v, int *n, pid_t pid, uint64_t calls)
{
	for (int i = 0; i < *n; i++) {
		if ((*v)[i].pid == pid) {
			(*v)[i].calls += calls;
			return;
		}
	}
	struct event_pid_count *p = realloc(*v, (size_t)(*n + 1) * sizeof(*p));
	if (!p)
		return; /* the split is lost, not the total */
	*v = p;
	p[*n] = (struct event_pid_count){ .pid = pid, .calls = calls };
	(*n)++;
}

void counts_call(struct session *s, const struct hook *h, pid_t pid)
{
	struct hook_counts *c = counts_of(s, h);

	if (pid == s->pid)
		c->calls++;
	else
		add_pid(&c->by_pid, &c->nby_pid, pid, 1);
}

void counts_copy_session(struct session *parent, struct session *child)
{
	struct proc_counts *from = parent->obs_data;

	child->obs_data = NULL;
	for (int i = 0; from && i < parent->nhooks && i < from->cap; i++)
		counts_of(child, &child->hooks[i])->func = from->hooks[i].func;
}

/* ---- the summary ------------------------------------------------------------------------ */

struct row_builder {
	struct event *ev;
	struct event_row *rows;
	const struct hook **first; /* the hook each row was started from */
	int n, cap;
};

/* A new, zeroed row started from hook first (NULL for a SPEC never armed). */
static struct event_row *new_row(struct row_builder *b, const struct hook *first)
{
	if (b->n == b->cap) {
		int ncap = b->cap ? b->cap * 2 : 16;
		struct event_row *r = realloc(b->rows, (size_t)ncap * sizeof(*r));
		if (r)
			b->rows = r;
		const struct hook **f = realloc(b->first, (size_t)ncap * sizeof(*f));
		if (f)
			b->first = f;
		if (!r || !f)
			return NULL;
		b->cap = ncap;
	}
	struct event_row *r = &b->rows[b->n];
	memset(r, 0, sizeof(*r));
	b->first[b->n++] = first;
	return r;
}

static struct event_row *row_for(struct row_builder *b, const struct hook *h)
{
	for (int j = 0; j < b->n; j++)
		if (!strcmp(b->first[j]->func, h->func) && !strcmp(b->first[j]->lib, h->lib))
			return &b->rows[j];
	struct event_row *r = new_row(b, h);
	if (r)
		r->armed = true;
	return r;
}

static void add_hook(struct row_builder *b, struct session *s, const struct hook *h)
{
	struct event_row *r = row_for(b, h);
	const struct hook_counts *c = counts_of(s, h);

	if (!r)
		return;
	if (!r->func) {
		r->func = event_strdup(b->ev, h->func);
		r->lib = event_strdup(b->ev, h->lib);
		r->strategy = h->ops->name;
		r->spec = event_strdup(b->ev, h->spec);
		r->addr = h->addr;
		r->has_collateral = h->ops->reports_collateral;
		if (h->ops->collateral_page)
			r->page = h->addr & ~(h->ops->collateral_page - 1);
	}
	r->calls += c->calls;
	r->collateral += c->collateral;
	add_pid(&r->per_pid, &r->nper_pid, s->pid, c->calls);
	for (int k = 0; k < c->nby_pid; k++) {
		r->calls += c->by_pid[k].calls;
		add_pid(&r->per_pid, &r->nper_pid, c->by_pid[k].pid, c->by_pid[k].calls);
	}
}

bool counts_never_armed(const struct session *main, int i)
{
	/* A SPEC made for one function of a glob is the glob's: it answers for them; a glob
	 * that matched is armed through them, or shares their hooks with other SPECs. */
	if (main->specs[i].hook >= 0 || main->specs[i].hook == -3 || main->specs[i].parent != -1)
		return false;
	for (int si = 0; si < follow_count(); si++) {
		const struct session *s = follow_at(si);
		for (int j = 0; j < s->nhooks; j++)
			if (s->hooks[j].ever_armed &&
			    !strcmp(s->hooks[j].spec, main->specs[i].spec->text))
				return false;
	}
	return true;
}

void counts_summary(struct session *main, struct event *ev)
{
	struct row_builder b = { .ev = ev };
	bool coll = false;

	for (int si = 0; si < follow_count(); si++) {
		struct session *s = follow_at(si);
		for (int i = 0; i < s->nhooks; i++)
			if (s->hooks[i].ever_armed) {
				add_hook(&b, s, &s->hooks[i]);
				coll = coll || s->hooks[i].ops->reports_collateral;
			}
	}
	int armed_rows = b.n;
	for (int i = 0; main && i < main->nspecs; i++) {
		const struct session_spec *ss = &main->specs[i];
		coll = coll || ss->ops->reports_collateral;
		struct event_row *r;
		if (!counts_never_armed(main, i) || !(r = new_row(&b, NULL)))
			continue;
		r->func = event_strdup(ev, ss->spec->name ? ss->spec->name : ss->spec->text);
		r->lib = ss->spec->lib ? event_strdup(ev, ss->spec->lib) : NULL;
		r->strategy = ss->ops->name;
		r->spec = event_strdup(ev, ss->spec->text);
	}
	/* The rows move into memory the event owns, so that the sinks can free it. */
	ev->summary.rows = event_alloc(ev, (size_t)(b.n + 1) * sizeof(*b.rows));
	ev->summary.nrows = ev->summary.rows ? b.n : 0;
	for (int i = 0; i < ev->summary.nrows; i++) {
		struct event_row *r = &ev->summary.rows[i];
		*r = b.rows[i];
		coll = coll || (i < armed_rows && r->has_collateral);
		if (r->nper_pid) {
			r->per_pid = event_alloc(ev, (size_t)r->nper_pid * sizeof(*r->per_pid));
			if (r->per_pid)
				memcpy(r->per_pid, b.rows[i].per_pid,
				       (size_t)r->nper_pid * sizeof(*r->per_pid));
			else
				r->nper_pid = 0;
		}
	}
	/* A page's stops are charged to one hook on it (nx's owner); its rows all show the
	 * page's total. */
	for (int i = 0; i < ev->summary.nrows; i++) {
		struct event_row *r = &ev->summary.rows[i];
		for (int j = 0; r->page && j < ev->summary.nrows; j++)
			if (ev->summary.rows[j].page == r->page)
				r->page_collateral += ev->summary.rows[j].collateral;
	}
	for (int i = 0; i < b.n; i++)
		free(b.rows[i].per_pid);
	free(b.rows);
	free(b.first);
	ev->summary.collateral_column = coll;
}

void counts_free(void)
{
	while (all_counts) {
		struct proc_counts *pc = all_counts;
		all_counts = pc->next;
		for (int i = 0; i < pc->cap; i++)
			free(pc->hooks[i].by_pid);
		free(pc->hooks);
		free(pc);
	}
	for (unsigned b = 0; b < INTERN_BUCKETS; b++) {
		while (interned[b]) {
			struct interned *i = interned[b];
			interned[b] = i->next;
			free(i);
		}
	}
}
