/*
 * Client requests on the tracer thread (see backend.h). Every entry point hands its work
 * to loop_call, so the tables here (holds and shares) are touched by the tracer thread
 * only and need no lock. A share is one client's claim on one SPEC of one process; a
 * hold is a client's claim on a process. Records name processes by pid, never by session
 * pointer: a target's session is freed when it ends (reap_when_gone), and a record whose
 * process is gone is simply dropped when next met.
 */
#include "ipc/backend.h"

#include <errno.h>
#include <inttypes.h>
#include <json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "handlers/handlers.h"
#include "sinks/queue.h"
#include "sinks/utf8.h"
#include "strategies/strategy.h"
#include "tracer/attach.h"
#include "tracer/detach.h"
#include "tracer/follow.h"
#include "tracer/hooks.h"
#include "tracer/loop.h"
#include "tracer/mem.h"
#include "tracer/observer.h"
#include "tracer/proc.h"
#include "tracer/symbols.h"

#define ORPHAN (-1)               /* the client of a kept share whose client is gone */

struct share {
	int client;
	pid_t pid;
	int spec;                 /* index in the session's specs */
	bool keep;
};

struct hold {
	int client;
	pid_t pid;
};

/* A SPEC hooked for clients (not given on mhookd's command line): removed with its last
 * share. */
struct client_spec {
	pid_t pid;
	int spec;
};

static struct share *shares;
static int nshares, cap_shares;
static struct hold *holds;
static int nholds, cap_holds;
static struct client_spec *cspecs;
static int ncspecs, cap_cspecs;
static struct spec **kept_specs;  /* sessions point at them until the end */
static int nkept, cap_kept;

static void *grow(void *p, int *cap, int n, size_t elem)
{
	if (n < *cap)
		return p;
	int ncap = *cap ? *cap * 2 : 16;
	void *q = realloc(p, (size_t)ncap * elem);
	if (!q)
		abort(); /* the tables must match what is armed */
	*cap = ncap;
	return q;
}

/* ---- lookups ------------------------------------------------------------------------- */

/* The session of a live process pid, or NULL. */
static struct session *session_of(pid_t pid)
{
	for (int i = 0; i < follow_count(); i++) {
		struct session *s = follow_at(i);
		if (s->pid == pid && !s->gone && !s->detached)
			return s;
	}
	return NULL;
}

static bool is_client_spec(pid_t pid, int spec)
{
	for (int i = 0; i < ncspecs; i++)
		if (cspecs[i].pid == pid && cspecs[i].spec == spec)
			return true;
	return false;
}

static int shares_of(pid_t pid, int spec)
{
	int n = 0;

	for (int i = 0; i < nshares; i++)
		n += shares[i].pid == pid && shares[i].spec == spec;
	return n;
}

static struct share *share_of(int client, pid_t pid, int spec)
{
	for (int i = 0; i < nshares; i++)
		if (shares[i].client == client && shares[i].pid == pid && shares[i].spec == spec)
			return &shares[i];
	return NULL;
}

static bool holds_of(pid_t pid, int client)
{
	for (int i = 0; i < nholds; i++)
		if (holds[i].pid == pid && (client == ORPHAN || holds[i].client == client))
			return true;
	return false;
}

static void add_hold(int client, pid_t pid)
{
	if (holds_of(pid, client))
		return;
	holds = grow(holds, &cap_holds, nholds, sizeof(*holds));
	holds[nholds++] = (struct hold){ client, pid };
}

/* How many clients hold pid, by attach or by a hook of theirs. */
static int holders_count(pid_t pid)
{
	int n = 0;

	for (int i = 0; i < nholds; i++)
		n += holds[i].pid == pid;
	for (int i = 0; i < nshares; i++) {
		bool counted = shares[i].client == ORPHAN || holds_of(pid, shares[i].client);
		for (int k = 0; k < i && !counted; k++)
			counted = shares[k].pid == pid && shares[k].client == shares[i].client;
		n += shares[i].pid == pid && !counted;
	}
	return n;
}

/* Drops every record of processes that are gone. */
static void drop_gone(void)
{
	for (int i = nshares - 1; i >= 0; i--)
		if (!session_of(shares[i].pid))
			shares[i] = shares[--nshares];
	for (int i = nholds - 1; i >= 0; i--)
		if (!session_of(holds[i].pid))
			holds[i] = holds[--nholds];
	for (int i = ncspecs - 1; i >= 0; i--)
		if (!session_of(cspecs[i].pid))
			cspecs[i] = cspecs[--ncspecs];
}

/* ---- errors of a request --------------------------------------------------------------- */

/* While a request runs, the session's error messages are its answer, not events. */
static char captured[1024];
static bool capturing;
static struct observer_ops capture_obs;
static const struct observer_ops *saved_obs;

/* A fork child copied during the request (-F) keeps the copy of the observer: past the
 * request, its messages go where they always went. */
static void capture_error(struct session *s, const char *msg)
{
	if (!capturing)
		saved_obs->error(s, msg);
	else if (!captured[0])
		snprintf(captured, sizeof(captured), "%s", msg);
}

static void capture_fatal(struct session *s, const char *msg)
{
	if (!capturing)
		saved_obs->fatal(s, msg);
	else if (!captured[0])
		snprintf(captured, sizeof(captured), "%s", msg);
}

static void capture_begin(struct session *s)
{
	saved_obs = s->obs;
	capture_obs = *s->obs;
	capture_obs.error = capture_error;
	capture_obs.fatal = capture_fatal;
	s->obs = &capture_obs;
	captured[0] = 0;
	capturing = true;
}

static void capture_end(struct session *s)
{
	s->obs = saved_obs;
	capturing = false;
}

/* ---- the work, on the tracer thread --------------------------------------------------- */

struct call {
	int client;
	pid_t pid;
	const struct hook_request *hr;
	const char *spec;
	const char *glob;
	int limit;
	struct json_object *out;
	char *err;
	size_t errlen;
	int code;
};

static int fail(struct call *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct call *c, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
	c->code = code;
	return 0;
}

/* Why attach_pid said EPERM: another tracer, or the kernel's rules. */
static int attach_refused(struct call *c, const char *why)
{
	uint64_t tracer = 0;

	if (proc_status_field(c->pid, "TracerPid:", 10, &tracer) == 0 && tracer &&
	    tracer != (uint64_t)getpid())
		return fail(c, PROTO_BUSY, "pid %d is traced already, by pid %" PRIu64, (int)c->pid,
			    tracer);
	return fail(c, PROTO_DENIED, "%s", why);
}

/* Seizes c->pid for clients: a session of its own, every thread stopped, the dynamic
 * linker watched, ready reported, then running again. */
static struct session *start_target(struct call *c)
{
	struct session *s = calloc(1, sizeof(*s));
	char err[1024];

	if (!s) {
		fail(c, PROTO_INTERNAL, "out of memory");
		return NULL;
	}
	loop_init_session(s, &handlers_observer);
	s->reap_when_gone = true;
	s->allow_pending = true;
	int rc = attach_pid(s, c->pid, err, sizeof(err));
	if (rc < 0) {
		session_detach(s);
		loop_free_session(s);
		free(s);
		if (rc == -ESRCH)
			fail(c, PROTO_NO_SUCH_PROCESS, "no process with pid %d", (int)c->pid);
		else if (rc == -EPERM)
			attach_refused(c, err);
		else
			fail(c, PROTO_INTERNAL, "%s", err);
		return NULL;
	}
	s->armed = true;
	follow_add(s);
	capture_begin(s);
	rc = hooks_sync(s);
	capture_end(s);
	if (rc) {
		fail(c, PROTO_INTERNAL, "%s", captured[0] ? captured : "cannot read its objects");
		session_detach(s);
		follow_remove(s);
		return NULL;
	}
	s->obs->ready(s);
	s->ready_sent = true;
	loop_resume_all(s);
	return s;
}

/* The session of c->pid, attached now if need be (*fresh then). */
static struct session *target(struct call *c, bool *fresh)
{
	struct session *s;

	*fresh = false;
	drop_gone();
	if (proc_tgid(c->pid) != c->pid && proc_tgid(c->pid)) {
		fail(c, PROTO_BAD_REQUEST, "%d is a thread of process %d: name the process",
		     (int)c->pid, (int)proc_tgid(c->pid));
		return NULL;
	}
	if ((s = session_of(c->pid)))
		return s;
	*fresh = true;
	return start_target(c);
}

/* Detaches pid when nothing holds it any more. Returns true if it was detached. */
static bool release(pid_t pid)
{
	struct session *s = session_of(pid);

	if (!s || !s->reap_when_gone || holds_of(pid, ORPHAN))
		return false;
	for (int i = 0; i < nshares; i++)
		if (shares[i].pid == pid)
			return false;
	session_detach(s);
	follow_remove(s);
	drop_gone();
	return true;
}

/* Removes share sh; the hook goes with its last share, if clients made it. Returns true
 * when the hook itself was removed. */
static bool drop_share(struct share *sh)
{
	pid_t pid = sh->pid;
	int spec = sh->spec;

	*sh = shares[--nshares];
	if (shares_of(pid, spec) || !is_client_spec(pid, spec))
		return false;
	for (int i = 0; i < ncspecs; i++)
		if (cspecs[i].pid == pid && cspecs[i].spec == spec) {
			cspecs[i] = cspecs[--ncspecs];
			break;
		}
	struct session *s = session_of(pid);
	return s && hooks_unhook_now(s, spec) == 0;
}

static void hook_object(struct json_object *o, const struct hook *h)
{
	char addr[32];

	snprintf(addr, sizeof(addr), "0x%" PRIx64, h->addr);
	json_object_object_add(o, "func", json_text(h->func));
	json_object_object_add(o, "lib", json_text(h->lib));
	json_object_object_add(o, "addr", json_object_new_string(addr));
	json_object_object_add(o, "strategy", json_object_new_string(h->ops->name));
	json_object_object_add(o, "spec", json_text(h->spec));
	if (h->shared_with[0])
		json_object_object_add(o, "shared_with", json_text_lines(h->shared_with));
}

/* The state of SPEC i of s into reply. */
static void spec_state(struct json_object *r, struct session *s, int i)
{
	const struct session_spec *ss = &s->specs[i];

	json_object_object_add(r, "state", json_object_new_string(
		ss->hook >= 0 ? "armed" : ss->hook == -1 ? "pending" : "failed"));
	if (ss->hook >= 0) {
		struct json_object *h = json_object_new_object();
		hook_object(h, &s->hooks[ss->hook]);
		json_object_object_add(r, "hook", h);
	} else if (ss->hook == -1) {
		json_object_object_add(r, "why", json_text(ss->why));
	}
}

static int do_attach(void *arg)
{
	struct call *c = arg;
	bool fresh;

	if (!target(c, &fresh))
		return 0;
	add_hold(c->client, c->pid);
	json_object_object_add(c->out, "pid", json_object_new_int(c->pid));
	json_object_object_add(c->out, "new", json_object_new_boolean(fresh));
	return 0;
}

static int do_detach(void *arg)
{
	struct call *c = arg;

	drop_gone();
	if (!session_of(c->pid))
		return fail(c, PROTO_NOT_FOUND, "pid %d is not traced", (int)c->pid);
	for (int i = nshares - 1; i >= 0; i--)
		if (shares[i].pid == c->pid && (shares[i].client == c->client ||
						shares[i].client == ORPHAN))
			drop_share(&shares[i]);
	for (int i = nholds - 1; i >= 0; i--)
		if (holds[i].pid == c->pid && holds[i].client == c->client)
			holds[i] = holds[--nholds];
	bool detached = release(c->pid);
	json_object_object_add(c->out, "pid", json_object_new_int(c->pid));
	json_object_object_add(c->out, "detached", json_object_new_boolean(detached));
	return 0;
}

/* The SPEC of s whose text is text, still in force, or -1. */
static int find_spec(struct session *s, const char *text)
{
	for (int i = 0; i < s->nspecs; i++)
		if (s->specs[i].hook != -2 && !strcmp(s->specs[i].spec->text, text))
			return i;
	return -1;
}

static struct spec *keep_spec(const char *text, char *err, size_t errlen)
{
	struct spec *sp = calloc(1, sizeof(*sp));

	if (!sp)
		abort();
	if (spec_parse(text, sp, err, errlen) < 0) {
		free(sp);
		return NULL;
	}
	kept_specs = grow(kept_specs, &cap_kept, nkept, sizeof(*kept_specs));
	kept_specs[nkept++] = sp;
	return sp;
}

static void add_share(struct call *c, int spec, bool keep)
{
	struct share *sh = share_of(c->client, c->pid, spec);

	if (sh) {
		sh->keep |= keep;
		return;
	}
	shares = grow(shares, &cap_shares, nshares, sizeof(*shares));
	shares[nshares++] = (struct share){ c->client, c->pid, spec, keep };
}

/* Hooks a new SPEC; returns its index, or -1 with c's error set. */
static int hook_new(struct call *c, struct session *s, const struct strategy_ops *ops)
{
	const struct hook_request *hr = c->hr;
	char err[1024];
	struct spec *sp = keep_spec(hr->spec, err, sizeof(err));

	if (!sp) {
		fail(c, PROTO_BAD_REQUEST, "bad SPEC '%s': %s", hr->spec, err);
		return -1;
	}
	capture_begin(s);
	int i = hooks_hook_now(s, sp, ops);
	capture_end(s);
	if (i < 0) {
		fail(c, PROTO_INTERNAL, "cannot hook %s: %s", hr->spec, strerror(-i));
		return -1;
	}
	struct session_spec *ss = &s->specs[i];
	if (ss->hook >= 0 && s->hooks[ss->hook].ops != ops) {
		const struct hook *h = &s->hooks[ss->hook];
		fail(c, PROTO_BUSY, "%s is the code of %s (SPEC '%s'), hooked with %s already in "
		     "pid %d", hr->spec, h->func, h->spec, h->ops->name, (int)c->pid);
		hooks_unhook_now(s, i);
		return -1;
	}
	if (ss->hook == -1 && !hr->pending) {
		fail(c, PROTO_NOT_FOUND, "%s: %s (hook it with \"pending\":true to wait for it)",
		     hr->spec, ss->why);
		hooks_unhook_now(s, i);
		return -1;
	}
	if (ss->hook == -2) {
		bool cannot = !strncmp(captured, "cannot hook", 11) ||
			      !strncmp(captured, "strategy", 8);
		fail(c, cannot ? PROTO_CANNOT_HOOK : PROTO_NOT_FOUND, "%s",
		     captured[0] ? captured : "cannot hook it");
		return -1;
	}
	cspecs = grow(cspecs, &cap_cspecs, ncspecs, sizeof(*cspecs));
	cspecs[ncspecs++] = (struct client_spec){ c->pid, i };
	return i;
}

/* A process nobody traces yet is attached only for a SPEC it defines: resolving needs
 * /proc and the ELF files, not ptrace, so a wrong name costs the target nothing and
 * the other clients see no ready for it. */
static bool resolves_untraced(struct call *c)
{
	const struct image_source src = { .read = mem_read_cb, .read_ctx = (void *)(intptr_t)c->pid };
	char err[1024];
	struct resolved r;
	struct image *img;
	struct spec sp;

	if (c->hr->pending || session_of(c->pid))
		return true;
	if (spec_parse(c->hr->spec, &sp, err, sizeof(err)) < 0) {
		fail(c, PROTO_BAD_REQUEST, "bad SPEC '%s': %s", c->hr->spec, err);
		return false;
	}
	if (image_load(c->pid, &src, &img, err, sizeof(err)) < 0) {
		spec_free(&sp);
		return true; /* attaching will say what is wrong */
	}
	int rc = image_resolve(img, &sp, &r, err, sizeof(err));
	image_free(img);
	spec_free(&sp);
	/* Not bound yet (an IFUNC): the hook itself may still manage. */
	if (rc < 0 && rc != -ENOTSUP) {
		fail(c, PROTO_NOT_FOUND, "%s: %s", c->hr->spec, err);
		return false;
	}
	return true;
}

static int do_hook(void *arg)
{
	struct call *c = arg;
	const struct hook_request *hr = c->hr;
	const struct strategy_ops *ops = strategy_find(hr->strategy);
	bool fresh;
	struct session *s;

	if (!ops)
		return fail(c, PROTO_BAD_REQUEST, "unknown strategy '%s'", hr->strategy);
	/* A reply and an unhook name one hook; a glob would make many. */
	if (spec_is_glob(hr->spec))
		return fail(c, PROTO_BAD_REQUEST, "bad SPEC '%s': globs are for mhookd -f; hook "
			    "each function by its name (the symbols request lists them)",
			    hr->spec);
	drop_gone();
	if (!resolves_untraced(c) || !(s = target(c, &fresh)))
		return 0;
	int i = find_spec(s, hr->spec);
	if (i >= 0 && s->specs[i].ops != ops) {
		fail(c, PROTO_BUSY, "%s is hooked with %s already in pid %d", hr->spec,
		     s->specs[i].ops->name, (int)c->pid);
	} else if (i < 0) {
		i = hook_new(c, s, ops);
	}
	if (c->code) {
		if (fresh)
			release(c->pid);
		return 0;
	}
	add_share(c, i, hr->keep);
	json_object_object_add(c->out, "pid", json_object_new_int(c->pid));
	json_object_object_add(c->out, "spec", json_text(hr->spec));
	spec_state(c->out, s, i);
	return 0;
}

static int do_unhook(void *arg)
{
	struct call *c = arg;
	struct session *s;
	int i;

	drop_gone();
	if (!(s = session_of(c->pid)))
		return fail(c, PROTO_NOT_FOUND, "pid %d is not traced", (int)c->pid);
	struct share *sh = (i = find_spec(s, c->spec)) >= 0 ? share_of(c->client, c->pid, i) : NULL;
	if (!sh)
		return fail(c, PROTO_NOT_FOUND, "this client has no hook '%s' in pid %d", c->spec,
			    (int)c->pid);
	bool removed = drop_share(sh);
	release(c->pid);
	json_object_object_add(c->out, "pid", json_object_new_int(c->pid));
	json_object_object_add(c->out, "spec", json_text(c->spec));
	json_object_object_add(c->out, "removed", json_object_new_boolean(removed));
	return 0;
}

static struct json_object *target_object(struct session *s)
{
	struct json_object *t = json_object_new_object(), *hooks = json_object_new_array();
	char link[64], exe[512];
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)s->pid);
	ssize_t n = readlink(link, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = 0;
	json_object_object_add(t, "pid", json_object_new_int(s->pid));
	json_object_object_add(t, "exe", json_text(exe));
	json_object_object_add(t, "holders", json_object_new_int(holders_count(s->pid)));
	for (int i = 0; i < s->nspecs; i++) {
		const struct session_spec *ss = &s->specs[i];
		if (ss->hook == -2)
			continue;
		struct json_object *h = json_object_new_object();
		bool keep = false;
		json_object_object_add(h, "spec", json_text(ss->spec->text));
		spec_state(h, s, i);
		for (int k = 0; k < nshares; k++)
			keep |= shares[k].pid == s->pid && shares[k].spec == i && shares[k].keep;
		json_object_object_add(h, "calls", json_object_new_int64((int64_t)(
			ss->hook >= 0 ? handlers_calls(s, &s->hooks[ss->hook]) : 0)));
		int nclients = 0;
		for (int k = 0; k < nshares; k++)
			nclients += shares[k].pid == s->pid && shares[k].spec == i &&
				    shares[k].client != ORPHAN;
		json_object_object_add(h, "clients", json_object_new_int(nclients));
		json_object_object_add(h, "keep", json_object_new_boolean(keep));
		json_object_array_add(hooks, h);
	}
	json_object_object_add(t, "hooks", hooks);
	return t;
}

static int do_list(void *arg)
{
	struct call *c = arg;

	drop_gone();
	for (int i = 0; i < follow_count(); i++) {
		struct session *s = follow_at(i);
		if (!s->gone && !s->detached)
			json_object_array_add(c->out, target_object(s));
	}
	return 0;
}

static int do_hook_stats(void *arg)
{
	struct call *c = arg;

	for (int i = 0; i < follow_count(); i++) {
		struct session *s = follow_at(i);
		for (int k = 0; k < s->nspecs && !s->gone && !s->detached; k++) {
			const struct session_spec *ss = &s->specs[k];
			if (ss->hook < 0)
				continue;
			const struct hook *hk = &s->hooks[ss->hook];
			struct json_object *h = json_object_new_object();
			char addr[32];
			snprintf(addr, sizeof(addr), "0x%" PRIx64, hk->addr);
			json_object_object_add(h, "pid", json_object_new_int(s->pid));
			json_object_object_add(h, "spec", json_text(ss->spec->text));
			json_object_object_add(h, "func", json_text(hk->func));
			json_object_object_add(h, "lib", json_text(hk->lib));
			json_object_object_add(h, "addr", json_object_new_string(addr));
			json_object_object_add(h, "strategy", json_object_new_string(hk->ops->name));
			json_object_object_add(h, "calls",
					       json_object_new_int64((int64_t)handlers_calls(s, hk)));
			json_object_array_add(c->out, h);
		}
	}
	return 0;
}

struct symbols_ctx {
	struct json_object *list;
	int limit, n;
	bool truncated;
};

static bool add_symbol(void *arg, const struct image_symbol *sym)
{
	struct symbols_ctx *x = arg;
	char addr[32];

	if (x->n == x->limit) {
		x->truncated = true;
		return false;
	}
	struct json_object *o = json_object_new_object();
	snprintf(addr, sizeof(addr), "0x%" PRIx64, sym->addr);
	json_object_object_add(o, "lib", json_text(sym->lib));
	json_object_object_add(o, "addr", json_object_new_string(addr));
	json_object_object_add(o, "size", json_object_new_int64((int64_t)sym->size));
	json_object_object_add(o, "name", json_text(sym->name));
	if (sym->ifunc)
		json_object_object_add(o, "ifunc", json_object_new_string(
			sym->ifunc == 1 ? "resolved" : "unresolved"));
	json_object_array_add(x->list, o);
	x->n++;
	return true;
}

/* On the tracer thread too: the memory reader's caches are its. */
static int do_symbols(void *arg)
{
	struct call *c = arg;
	const struct image_source src = { .read = mem_read_cb, .read_ctx = (void *)(intptr_t)c->pid };
	struct symbols_ctx x = { .list = json_object_new_array(), .limit = c->limit };
	char err[1024];
	struct image *img;

	if (image_load(c->pid, &src, &img, err, sizeof(err)) < 0) {
		json_object_put(x.list);
		return fail(c, proc_tgid(c->pid) ? PROTO_INTERNAL : PROTO_NO_SUCH_PROCESS,
			    "cannot read the objects of pid %d: %s", (int)c->pid, err);
	}
	image_each(img, c->glob, add_symbol, &x);
	image_free(img);
	json_object_object_add(c->out, "pid", json_object_new_int(c->pid));
	json_object_object_add(c->out, "symbols", x.list);
	json_object_object_add(c->out, "truncated", json_object_new_boolean(x.truncated));
	return 0;
}

static int do_client_gone(void *arg)
{
	struct call *c = arg;
	pid_t touched[64];
	int ntouched = 0;

	drop_gone();
	for (int i = nshares - 1; i >= 0; i--) {
		if (shares[i].client != c->client)
			continue;
		if (ntouched < 64)
			touched[ntouched++] = shares[i].pid;
		if (shares[i].keep)
			shares[i].client = ORPHAN;
		else
			drop_share(&shares[i]);
	}
	for (int i = nholds - 1; i >= 0; i--) {
		if (holds[i].client != c->client)
			continue;
		if (ntouched < 64)
			touched[ntouched++] = holds[i].pid;
		holds[i] = holds[--nholds];
	}
	for (int i = 0; i < ntouched; i++)
		release(touched[i]);
	return 0;
}

/* ---- the entry points (server thread) ----------------------------------------------- */

static struct event_queue *events;

void backend_init(struct event_queue *q)
{
	events = q;
}

static int run(int (*fn)(void *), struct call *c)
{
	int rc = loop_call(fn, c);

	if (events)
		evq_drain(events);
	if (rc == -ESRCH && !c->code) {
		snprintf(c->err, c->errlen, "mhookd is shutting down");
		return PROTO_INTERNAL;
	}
	return c->code;
}

static int b_attach(int client, pid_t pid, struct json_object *reply, char *err, size_t errlen)
{
	struct call c = { .client = client, .pid = pid, .out = reply, .err = err, .errlen = errlen };
	return run(do_attach, &c);
}

static int b_detach(int client, pid_t pid, struct json_object *reply, char *err, size_t errlen)
{
	struct call c = { .client = client, .pid = pid, .out = reply, .err = err, .errlen = errlen };
	return run(do_detach, &c);
}

static int b_hook(int client, const struct hook_request *hr, struct json_object *reply, char *err,
		  size_t errlen)
{
	struct call c = { .client = client, .pid = hr->pid, .hr = hr, .out = reply, .err = err,
			  .errlen = errlen };
	return run(do_hook, &c);
}

static int b_unhook(int client, pid_t pid, const char *spec, struct json_object *reply, char *err,
		    size_t errlen)
{
	struct call c = { .client = client, .pid = pid, .spec = spec, .out = reply, .err = err,
			  .errlen = errlen };
	return run(do_unhook, &c);
}

static int b_list(struct json_object *targets, char *err, size_t errlen)
{
	struct call c = { .out = targets, .err = err, .errlen = errlen };
	return run(do_list, &c);
}

static int b_symbols(pid_t pid, const char *glob, int limit, struct json_object *reply, char *err,
		     size_t errlen)
{
	struct call c = { .pid = pid, .glob = glob, .limit = limit, .out = reply, .err = err,
			  .errlen = errlen };
	return run(do_symbols, &c);
}

static int b_hook_stats(struct json_object *hooks, char *err, size_t errlen)
{
	struct call c = { .out = hooks, .err = err, .errlen = errlen };
	return run(do_hook_stats, &c);
}

static void b_client_gone(int client)
{
	char err[256];
	struct call c = { .client = client, .err = err, .errlen = sizeof(err) };
	run(do_client_gone, &c);
}

static bool b_has_strategy(const char *name)
{
	return strategy_find(name) != NULL;
}

const struct backend_ops tracer_backend = {
	.attach = b_attach,
	.detach = b_detach,
	.hook = b_hook,
	.unhook = b_unhook,
	.list = b_list,
	.symbols = b_symbols,
	.hook_stats = b_hook_stats,
	.client_gone = b_client_gone,
	.has_strategy = b_has_strategy,
};

void backend_free(void)
{
	for (int i = 0; i < nkept; i++) {
		spec_free(kept_specs[i]);
		free(kept_specs[i]);
	}
	free(kept_specs);
	free(shares);
	free(holds);
	free(cspecs);
	kept_specs = NULL;
	shares = NULL;
	holds = NULL;
	cspecs = NULL;
	nkept = nshares = nholds = ncspecs = 0;
	cap_kept = cap_shares = cap_holds = cap_cspecs = 0;
}
