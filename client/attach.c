/*
 * mhook attach: hook each SPEC in a process through mhookd, stream the process's events
 * until Ctrl-C, then unhook and print the summary. Text goes through mhookd's own text
 * sink (each line read back into an event by event_parse), so that mhook prints what
 * mhookd prints; --json passes mhookd's lines through untouched.
 *
 * The summary counts the call events this client received, per hook. That is what the
 * lines above it showed, it needs no request at the end (and still works when the process
 * has exited and mhookd has forgotten its hooks), and a hook shared with another client
 * counts only the calls made while this one watched. Its cost: with -c the calls still
 * cross the socket, only unprinted, and calls mhookd dropped because mhook read too
 * slowly are missing; mhook then says how many events were lost.
 *
 * A process's events include those of other clients' hooks in it; mhook shows only its
 * own: a call whose address is one its hooks were armed at (or, failing that, of one of
 * their functions), armed and disarmed events of its SPECs.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json.h>

#include "client/commands.h"
#include "sinks/event_parse.h"
#include "sinks/sink.h"

/* One SPEC of the command line and what became of it. */
struct entry {
	const char *spec;
	bool placed;             /* mhookd took the hook request: unhook it at the end */
	bool armed;              /* armed at some point: its row has counts */
	bool live;               /* armed now, at hook.addr: an armed event for it is old news */
	bool pending;            /* waits for a library (its why below) */
	const char *why;
	struct event_hook hook;  /* as last armed; strings in the session's memory */
	uint64_t *addrs;         /* every address it was armed at (an exec moves them) */
	int naddrs;
	uint64_t calls;
};

struct session {
	bool placing;            /* hook requests under way: their armed events are in ready */
	struct conn *c;
	const struct attach_options *o;
	struct entry *entries;
	int nentries;
	struct event mem;        /* owns the entries' strings */
	struct sink *out;        /* text or JSON on stdout */
	uint64_t lost;
	bool ended;              /* the process exited, or mhookd said bye: nothing to undo */
	int status;              /* the exit status so far */
	bool output_failed;
	/* Summary rows from mhookd, one line each, printed as one table (text only). */
	struct event *rows;
	int nrows, rows_cap;
};

static volatile sig_atomic_t stop_signal;

/* The second Ctrl-C leaves at once: mhookd removes a client's hooks when it goes. */
static void on_stop(int sig)
{
	static const char msg[] = "mhook: interrupted again; leaving without the summary "
				  "(mhookd removes the hooks as the connection closes)\n";

	if (stop_signal) {
		ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
		(void)w;
		_exit(128 + sig);
	}
	stop_signal = sig;
}

/* ---- which hook an event is about ------------------------------------------------------ */

static struct entry *by_addr(struct session *s, uint64_t addr)
{
	for (int i = 0; i < s->nentries; i++)
		for (int k = 0; k < s->entries[i].naddrs; k++)
			if (s->entries[i].addrs[k] == addr)
				return &s->entries[i];
	return NULL;
}

static struct entry *by_func(struct session *s, const char *func)
{
	for (int i = 0; i < s->nentries; i++)
		if (s->entries[i].armed && !strcmp(s->entries[i].hook.func, func))
			return &s->entries[i];
	return NULL;
}

static struct entry *by_spec(struct session *s, const char *spec)
{
	for (int i = 0; i < s->nentries; i++)
		if (!strcmp(s->entries[i].spec, spec))
			return &s->entries[i];
	return NULL;
}

/* e is armed as h says (a hook reply, or an armed event after a library load or exec). */
static void armed_as(struct session *s, struct entry *e, const struct event_hook *h)
{
	e->hook.func = event_strdup(&s->mem, h->func);
	e->hook.lib = event_strdup(&s->mem, h->lib);
	e->hook.spec = event_strdup(&s->mem, h->spec);
	e->hook.strategy = event_strdup(&s->mem, h->strategy);
	e->hook.shared_with = event_strdup(&s->mem, h->shared_with);
	e->hook.addr = h->addr;
	e->armed = e->live = true;
	e->pending = false;
	if (by_addr(s, h->addr) == e)
		return;
	uint64_t *a = realloc(e->addrs, (size_t)(e->naddrs + 1) * sizeof(*a));
	if (a) {
		a[e->naddrs++] = h->addr;
		e->addrs = a;
	}
}

/* ---- output ---------------------------------------------------------------------------- */

static void emit(struct session *s, const struct event *ev)
{
	s->out->ops->emit(s->out, ev);
}

static void print_rows(struct session *s)
{
	struct event table = { .kind = EVENT_SUMMARY };
	struct event_row *rows;

	if (!s->nrows)
		return;
	if ((rows = calloc((size_t)s->nrows, sizeof(*rows)))) {
		for (int i = 0; i < s->nrows; i++) {
			rows[i] = s->rows[i].summary.rows[0];
			table.summary.collateral_column |= rows[i].has_collateral;
		}
		table.pid = s->rows[0].pid;
		table.summary.rows = rows;
		table.summary.nrows = s->nrows;
		emit(s, &table);
		free(rows);
	}
	for (int i = 0; i < s->nrows; i++)
		event_free(&s->rows[i]);
	s->nrows = 0;
}

/* Keeps a summary row for the table; takes ev's memory. */
static void keep_row(struct session *s, struct event *ev)
{
	if (s->nrows == s->rows_cap) {
		int cap = s->rows_cap ? 2 * s->rows_cap : 16;
		struct event *r = realloc(s->rows, (size_t)cap * sizeof(*r));
		if (!r) {
			event_free(ev);
			return;
		}
		s->rows = r;
		s->rows_cap = cap;
	}
	s->rows[s->nrows++] = *ev;
}

/* Writes out what is buffered; a reader that went away ends the session. */
static void flush_out(struct session *s)
{
	print_rows(s);
	if (s->output_failed || fflush(stdout) == 0)
		return;
	/* A reader that stopped reading (| head) ended the session as Ctrl-C would. */
	if (errno != EPIPE) {
		fprintf(stderr, "mhook: writing the events: %s\n", strerror(errno));
		s->status = MHOOK_EXIT_USAGE;
	}
	s->output_failed = true;
}

/* ---- events ------------------------------------------------------------------------------- */

/* Whether ev (read already) is one to show, counting it when it is a call. */
static bool ours(struct session *s, const struct event *ev)
{
	struct entry *e;

	switch (ev->kind) {
	case EVENT_CALL:
		if (!(e = by_addr(s, ev->call.addr)) && !(e = by_func(s, ev->call.func)))
			return false;
		e->calls++;
		return !s->o->counts_only;
	case EVENT_ARMED:
	case EVENT_DISARMED:
		if (!(e = by_spec(s, ev->hook.hook.spec)) && !(e = by_addr(s, ev->hook.hook.addr)))
			return false;
		if (ev->kind == EVENT_DISARMED) {
			e->live = false;
			return true;
		}
		/* The hook reply said so already, or the ready line will. */
		if (e->live && e->hook.addr == ev->hook.hook.addr)
			return false;
		armed_as(s, e, &ev->hook.hook);
		return !s->placing;
	case EVENT_SUMMARY:
		return by_func(s, ev->summary.rows[0].func) || by_spec(s, ev->summary.rows[0].spec);
	case EVENT_EXIT:
		if (ev->pid == s->o->pid)
			s->ended = true;
		return true;
	case EVENT_READY:
		/* mhookd's attach, or another client's: ours is made from the replies. */
		return false;
	default:
		return true;
	}
}

/* The socket's own lines, which are no struct event. */
static void socket_line(struct session *s, const char *kind, struct json_object *obj)
{
	if (!strcmp(kind, "bye")) {
		s->ended = true;
		if (!s->o->json)
			fprintf(stderr, "mhook: mhookd is shutting down (%s)\n",
				field_str(obj, "reason", "no reason given"));
	} else if (!strcmp(kind, "lost")) {
		int64_t n = field_int(obj, "count", 0);
		if (n > 0)
			s->lost += (uint64_t)n;
		if (!s->o->json)
			fprintf(stderr, "mhook: mhookd dropped %" PRId64 " events: mhook read too "
				"slowly\n", n);
	}
}

static void on_event(void *ctx, const char *line, size_t len, struct json_object *obj)
{
	struct session *s = ctx;
	const char *kind = field_str(obj, "event", "");
	struct event ev;
	char err[256];

	if (!strcmp(kind, "hello"))
		return;
	int rc = event_parse_object(obj, &ev, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "mhook: ignoring an event mhookd sent malformed (%s): %.*s\n", err,
			len > 120 ? 120 : (int)len, line);
		return;
	}
	if (rc == EVENT_PARSE_UNKNOWN) {
		socket_line(s, kind, obj);
		if (s->o->json && !s->output_failed) {
			fwrite(line, 1, len, stdout);
			putchar('\n');
		}
		return;
	}
	if (!ours(s, &ev) || s->output_failed) {
		event_free(&ev);
		return;
	}
	if (s->o->json) {
		fwrite(line, 1, len, stdout);
		putchar('\n');
	} else if (ev.kind == EVENT_SUMMARY) {
		keep_row(s, &ev);
		return;
	} else {
		print_rows(s);
		/* The clocks are the same (CLOCK_MONOTONIC, one machine); a call stamped before
		 * mhook started shows as 0 rather than as a wrapped count. */
		if (ev.kind == EVENT_CALL && ev.ts_ns < s->o->start_ns)
			ev.ts_ns = s->o->start_ns;
		emit(s, &ev);
	}
	event_free(&ev);
}

/* ---- requests ---------------------------------------------------------------------------- */

/* The reply to req, checked; its status, or 0 with *reply to put. */
static int call(struct session *s, struct json_object *req, struct json_object **reply,
		const char *what)
{
	*reply = conn_call(s->c, req, on_event, s, NULL);
	if (!*reply) {
		s->ended = true;
		return MHOOK_EXIT_UNREACHABLE;
	}
	int rc = conn_reply_status(*reply, what);
	if (rc) {
		json_object_put(*reply);
		*reply = NULL;
	}
	return rc;
}

static int hook_one(struct session *s, struct entry *e)
{
	struct json_object *req = conn_request("hook"), *reply, *h;
	const struct attach_options *o = s->o;
	char err[256];
	int rc;

	json_object_object_add(req, "pid", json_object_new_int(o->pid));
	json_object_object_add(req, "spec", json_object_new_string(e->spec));
	if (o->strategy)
		json_object_object_add(req, "strategy", json_object_new_string(o->strategy));
	if (o->pending)
		json_object_object_add(req, "pending", json_object_new_boolean(1));
	if ((rc = call(s, req, &reply, NULL)))
		return rc;
	e->placed = true;
	if (!strcmp(field_str(reply, "state", ""), "pending")) {
		e->pending = true;
		e->why = event_strdup(&s->mem, field_str(reply, "why", "nothing loaded defines it"));
	} else if (json_object_object_get_ex(reply, "hook", &h)) {
		struct event tmp = { 0 };
		struct event_hook hook;
		if (event_parse_hook(h, &tmp, &hook, err, sizeof(err)) == 0)
			armed_as(s, e, &hook);
		else
			fprintf(stderr, "mhook: %s: mhookd described the hook oddly (%s)\n", e->spec,
				err);
		event_free(&tmp);
	}
	json_object_put(reply);
	return 0;
}

/* mhookd's ready line, made from the replies: the socket sends none for hook requests. */
static void print_ready(struct session *s)
{
	struct event ev = { .kind = EVENT_READY, .pid = s->o->pid, .ts_ns = event_now_ns() };
	struct event_hook *hooks = calloc((size_t)s->nentries, sizeof(*hooks));
	struct event_pending *pending = calloc((size_t)s->nentries, sizeof(*pending));

	if (hooks && pending) {
		for (int i = 0; i < s->nentries; i++) {
			struct entry *e = &s->entries[i];
			if (e->armed)
				hooks[ev.ready.nhooks++] = e->hook;
			else if (e->pending)
				pending[ev.ready.npending++] = (struct event_pending){ e->spec, e->why };
		}
		ev.ready.hooks = hooks;
		ev.ready.pending = pending;
		emit(s, &ev);
	}
	free(hooks);
	free(pending);
}

static int subscribe(struct session *s)
{
	struct json_object *req = conn_request("subscribe"), *pids = json_object_new_array(), *reply;
	int rc;

	json_object_array_add(pids, json_object_new_int(s->o->pid));
	json_object_object_add(req, "pids", pids);
	if ((rc = call(s, req, &reply, "subscribe")))
		return rc;
	json_object_put(reply);
	return 0;
}

static void unhook_all(struct session *s)
{
	for (int i = 0; i < s->nentries && !s->ended; i++) {
		struct entry *e = &s->entries[i];
		struct json_object *req, *reply;
		char what[1100];
		if (!e->placed)
			continue;
		req = conn_request("unhook");
		json_object_object_add(req, "pid", json_object_new_int(s->o->pid));
		json_object_object_add(req, "spec", json_object_new_string(e->spec));
		snprintf(what, sizeof(what), "unhook %s", e->spec);
		/* A failure is worth a word, not a failed run: the hook goes with us anyway. */
		if (call(s, req, &reply, what) == 0)
			json_object_put(reply);
	}
}

/* ---- the summary -------------------------------------------------------------------------- */

/* A row as mhookd's own summary has it: one per function and object, armed ones first,
 * then the SPECs never armed. mhookd names those by the SPEC's function and LIB; here a
 * SPEC is mhookd's to parse, so such a row shows it whole, as it was typed. */
static void print_summary(struct session *s)
{
	struct event ev = { .kind = EVENT_SUMMARY, .pid = s->o->pid };
	struct event_row *rows = calloc((size_t)s->nentries + 1, sizeof(*rows));
	struct event_pid_count *counts = calloc((size_t)s->nentries + 1, sizeof(*counts));
	int n = 0;

	if (!rows || !counts)
		goto out;
	for (int i = 0; i < s->nentries; i++) {
		struct entry *e = &s->entries[i];
		int j;
		if (!e->armed)
			continue;
		for (j = 0; j < n; j++)
			if (!strcmp(rows[j].func, e->hook.func) && !strcmp(rows[j].lib, e->hook.lib))
				break;
		if (j == n) {
			rows[n] = (struct event_row){ .func = e->hook.func, .lib = e->hook.lib,
						      .strategy = e->hook.strategy, .spec = e->spec,
						      .addr = e->hook.addr, .armed = true,
						      .per_pid = &counts[n], .nper_pid = 1 };
			counts[n++].pid = s->o->pid;
		}
		rows[j].calls += e->calls;
		counts[j].calls += e->calls;
	}
	for (int i = 0; i < s->nentries; i++) {
		struct entry *e = &s->entries[i];
		if (e->armed || !e->placed)
			continue; /* an interrupted attach never asked for the rest */
		rows[n++] = (struct event_row){ .func = e->spec, .spec = e->spec,
						.strategy = s->o->strategy ? s->o->strategy : "swbp" };
	}
	ev.summary.rows = rows;
	ev.summary.nrows = n;
	emit(s, &ev);
out:
	free(counts);
	free(rows);
}

/* ---- the session --------------------------------------------------------------------------- */

static void stream(struct session *s)
{
	char *line;
	size_t len;

	for (;;) {
		/* Written per burst, as mhookd's sink thread does: one write for many lines. */
		if (!conn_line_ready(s->c))
			flush_out(s);
		if (stop_signal || s->ended || s->output_failed)
			return;
		int rc = conn_read_line(s->c, -1, &line, &len);
		if (rc == 0)
			continue;
		if (rc < 0) {
			if (rc == -1)
				fprintf(stderr, "mhook: mhookd closed the connection\n");
			s->ended = true;
			s->status = MHOOK_EXIT_UNREACHABLE;
			return;
		}
		struct json_object *obj = conn_parse(line, len);
		/* A reply now would answer nothing we wait for. */
		if (obj && json_object_object_get_ex(obj, "event", NULL))
			on_event(s, line, len, obj);
		json_object_put(obj);
	}
}

int cmd_attach(struct conn *c, const struct attach_options *o)
{
	struct session s = { .c = c, .o = o };
	struct sigaction sa = { .sa_handler = on_stop };
	sigset_t block, old;

	if (o->strategy && !conn_has_strategy(c, o->strategy)) {
		fprintf(stderr, "mhook: unknown strategy '%s' (mhookd has %s)\n", o->strategy,
			c->strategies);
		return MHOOK_EXIT_USAGE;
	}
	s.entries = calloc((size_t)o->nspecs, sizeof(*s.entries));
	s.out = o->json ? sink_json_new(stdout, false) : sink_text_new(stdout, false, o->start_ns);
	if (!s.entries || !s.out) {
		fputs("mhook: out of memory\n", stderr);
		free(s.entries);
		if (s.out)
			s.out->ops->close(s.out);
		return MHOOK_EXIT_USAGE;
	}
	s.out->show_exits = true;
	/* Blocked but while waiting on the socket, so that a signal ends a wait instead of
	 * landing between a check of the flag and the wait. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	c->wait_mask = &old;

	for (int i = 0; i < o->nspecs; i++)
		s.entries[s.nentries++].spec = o->specs[i];
	/* Subscribed first: a call made between a hook's reply and a later subscription
	 * would be missed, and the counts with it. */
	s.status = subscribe(&s);
	s.placing = true;
	for (int i = 0; i < s.nentries && !stop_signal && !s.status; i++)
		s.status = hook_one(&s, &s.entries[i]);
	s.placing = false;
	if (!s.status && !stop_signal) {
		print_ready(&s);
		flush_out(&s);
	}
	if (s.status) {
		/* Nothing was shown yet: the error is the whole story. Closing the connection
		 * removes the hooks already made. */
	} else {
		stream(&s);
		unhook_all(&s);
		print_rows(&s);
		if (!s.output_failed) {
			print_summary(&s);
			flush_out(&s);
		}
		if (s.lost)
			fprintf(stderr, "mhook: %" PRIu64 " events were lost (mhook read too slowly); "
				"the counts miss as many calls at most\n", s.lost);
	}
	c->wait_mask = NULL;
	for (int i = 0; i < s.nrows; i++)
		event_free(&s.rows[i]);
	free(s.rows);
	for (int i = 0; i < s.nentries; i++)
		free(s.entries[i].addrs);
	free(s.entries);
	event_free(&s.mem);
	s.out->ops->close(s.out);
	return s.status;
}
