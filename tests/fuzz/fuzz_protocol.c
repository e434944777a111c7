/*
 * A libFuzzer harness for the socket's request side (ipc/protocol.c, ipc/filter.c). An
 * input is one connection's worth of request lines; each line goes through proto_handle
 * against a fake backend and a fake host, never the tracer, so no input can reach ptrace.
 * The fake keeps a small model of what the tracer would hold (targets, their hooks, and
 * which clients share each hook), so that replies carry the codes a real mhookd gives and
 * later requests meet the state earlier ones made. Every reply is checked against
 * docs/protocol.md, the backend against what the protocol promises it (access checked,
 * fields valid), and each subscription against its request and a few fixed events: any
 * violation abort()s, which libFuzzer reports with the input that caused it.
 *
 * Build and run: tests/fuzz/build.mk (make fuzz, make fuzz-smoke).
 */
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/filter.h"
#include "ipc/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- failing ---------------------------------------------------------------------------- */

static const char *cur_line; /* the line being handled, for the report */
static size_t cur_len;

/* A broken rule: say which, with the line, and abort so that libFuzzer keeps the input. */
__attribute__((noreturn, format(printf, 1, 2))) static void violation(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz_protocol: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n  line (%zu bytes): %.*s\n", cur_len,
		cur_len > 300 ? 300 : (int)cur_len, cur_line ? cur_line : "");
	abort();
}

#define CHECK(cond, ...)                                                                 \
	do {                                                                             \
		if (!(cond))                                                             \
			violation(__VA_ARGS__);                                          \
	} while (0)

/*
 * Findings reported but not fixed yet in the code under test would be let through here,
 * by name, so that the fuzzer goes on past them (KNOWN(name, cond) would be cond while
 * one is open, false once it is fixed). None is open: the four found so far (a message cut inside a UTF-8
 * character, NUL bytes inside subscription names, replies echoing bytes that are not
 * UTF-8, a line that is JSON's null answered with an empty error) are fixed, and their
 * checks are fatal again.
 */
#define KNOWN(name, cond) ((void)(cond), false)

static void put(struct json_object *o, const char *key, struct json_object *v)
{
	if (!v || json_object_object_add(o, key, v) < 0)
		abort(); /* out of memory in the harness, not a finding */
}

/* ---- the fake host ------------------------------------------------------------------------ */

/* The client under test, and one other that holds things in the seeded model. */
#define CLIENT_ID 3
#define OTHER_ID 7
#define BIT(client) (1u << (client))

static struct proto_client client;

/* Access by pid alone, so that it is the same answer every time: pid % 3 == 1 may be
 * traced, 0 may not, 2 does not exist. */
static int access_of(pid_t pid)
{
	switch (pid % 3) {
	case 1:
		return 1;
	case 0:
		return 0;
	default:
		return -ESRCH;
	}
}

static int host_may_trace(struct proto_client *c, pid_t pid)
{
	CHECK(c == &client, "may_trace for another client");
	/* Both callers pass pids that are valid: a checked request field, or one the
	 * backend listed. */
	CHECK(pid > 0, "may_trace asked about pid %d", (int)pid);
	return access_of(pid);
}

/* The subscription the host holds, moved in by subscribe. */
static struct filter sub;
static bool subscribed;
static int subscribe_calls, unsubscribe_calls;

static void check_filter(const struct filter *f);

static void host_subscribe(struct proto_client *c, struct filter *f)
{
	CHECK(c == &client, "subscribe for another client");
	if (subscribed)
		filter_free(&sub);
	subscribed = f != NULL;
	if (!f) {
		unsubscribe_calls++;
		return;
	}
	subscribe_calls++;
	sub = *f;
	/* The protocol's copy is on its stack and goes: ours is the only one now. */
	memset(f, 0, sizeof(*f));
	check_filter(&sub);
}

static void host_client_stats(struct proto_client *c, struct json_object *array)
{
	struct json_object *o = json_object_new_object();

	CHECK(c == &client, "client_stats for another client");
	if (!o)
		abort();
	put(o, "client", json_object_new_int(c->id));
	put(o, "uid", json_object_new_int64(c->peer.uid));
	put(o, "pid", json_object_new_int(c->peer.pid));
	put(o, "delivered", json_object_new_int64(0));
	put(o, "lost", json_object_new_int64(0));
	put(o, "queued", json_object_new_int64(0));
	put(o, "limit", json_object_new_int64(4194304));
	if (json_object_array_add(array, o) < 0)
		abort();
}

static const struct proto_host fake_host = {
	.may_trace = host_may_trace,
	.subscribe = host_subscribe,
	.client_stats = host_client_stats,
};

/* ---- the fake backend: a model of what the tracer holds ---------------------------------- */

#define MAX_TARGETS 6
#define MAX_HOOKS 6      /* per target: a full table is "internal", as out of memory is */
#define MAX_HWBP 4       /* debug registers */
#define MAX_SPEC 1024    /* what op_hook lets through */

struct fake_hook {
	bool used, pending, keep, cmdline;
	const char *strategy;    /* one of strategies[] */
	const struct fake_sym *sym; /* NULL while pending */
	unsigned shares;         /* bit per client */
	uint64_t calls;
	char spec[MAX_SPEC + 1];
};

struct fake_target {
	bool used, cmdline;
	pid_t pid;
	unsigned holders;        /* bit per client that attached */
	struct fake_hook hooks[MAX_HOOKS];
};

static struct {
	struct fake_target t[MAX_TARGETS];
	unsigned gone;           /* clients that disconnected */
	/* The last backend call, to check the reply against. */
	const char *called;
	int rc;
	char msg[1024];
} model;

static const char *const strategies[] = { "swbp", "hwbp", "nx" };

/* What every fake process defines. */
struct fake_sym {
	const char *name, *lib;
	uint64_t addr, size;
};

static const struct fake_sym syms[] = {
	{ "malloc", "libc.so.6", 0x7f8a1c0a3930, 392 },
	{ "calloc", "libc.so.6", 0x7f8a1c0a4010, 420 },
	{ "realloc", "libc.so.6", 0x7f8a1c0a4400, 880 },
	{ "free", "libc.so.6", 0x7f8a1c0a3f00, 240 },
	{ "strcpy", "libc.so.6", 0x7f8a1c0b7d40, 392 },
	{ "strncpy", "libc.so.6", 0x7f8a1c0b8000, 512 },
	{ "strlen", "libc.so.6", 0x7f8a1c0b6000, 160 },
	{ "memcpy", "libc.so.6", 0x7f8a1c0b9000, 900 },
	{ "puts", "libc.so.6", 0x7f8a1c060000, 500 },
	{ "open", "libc.so.6", 0x7f8a1c0f0000, 300 },
	{ "pthread_create", "libc.so.6", 0x7f8a1c090000, 2400 },
	{ "main", "a.out", 0x401136, 120 },
	{ "_start", "a.out", 0x401020, 38 },
	{ "compute", "a.out", 0x401200, 64 },
};
#define NSYMS (sizeof(syms) / sizeof(syms[0]))

static void model_reset(void)
{
	struct fake_target *t;
	struct fake_hook *h;

	memset(&model, 0, sizeof(model));
	/* pid 4, which the client may see: another client holds it and hooked malloc. */
	t = &model.t[0];
	*t = (struct fake_target){ .used = true, .pid = 4, .holders = BIT(OTHER_ID) };
	h = &t->hooks[0];
	*h = (struct fake_hook){ .used = true, .strategy = "swbp", .sym = &syms[0],
				 .shares = BIT(OTHER_ID), .calls = 5120 };
	strcpy(h->spec, "malloc");
	/* pid 6, which it may not see: a target of the command line, with its own hook. */
	t = &model.t[1];
	*t = (struct fake_target){ .used = true, .pid = 6, .cmdline = true };
	h = &t->hooks[0];
	*h = (struct fake_hook){ .used = true, .strategy = "swbp", .sym = &syms[3],
				 .cmdline = true, .calls = 77 };
	strcpy(h->spec, "free");
}

/* Whether another tracer has pid (nothing mhookd can do about it). */
static bool traced_elsewhere(pid_t pid)
{
	return pid % 10 == 7;
}

/* Whether pid ended between the access check and the work (a race mhookd meets). */
static bool ended_meanwhile(pid_t pid)
{
	return pid % 11 == 10;
}

static struct fake_target *target_of(pid_t pid)
{
	for (int i = 0; i < MAX_TARGETS; i++)
		if (model.t[i].used && model.t[i].pid == pid)
			return &model.t[i];
	return NULL;
}

static bool target_held(const struct fake_target *t)
{
	if (t->cmdline || (t->holders & ~model.gone))
		return true;
	for (int i = 0; i < MAX_HOOKS; i++)
		if (t->hooks[i].used)
			return true;
	return false;
}

/* Up to 48 bytes of s for a message, cut at a character boundary: a message is UTF-8,
 * and the fake must not be the one that breaks it. */
static const char *quote(const char *s, char *buf, size_t size)
{
	size_t n = strlen(s), max = size - 1 < 48 ? size - 1 : 48;

	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(buf, s, n);
	buf[n] = 0;
	return buf;
}

/* Records the outcome of a backend call, so that the reply can be checked against it. */
static int finish(const char *name, int rc, const char *err)
{
	model.called = name;
	model.rc = rc;
	snprintf(model.msg, sizeof(model.msg), "%s", rc ? err : "");
	return rc;
}

__attribute__((format(printf, 3, 4))) static void fail(char *err, size_t errlen,
						      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* What the protocol promises every backend call: this client, and a pid it may trace. */
static void check_call(int c, pid_t pid, char *err, size_t errlen)
{
	CHECK(c == CLIENT_ID, "backend called for client %d", c);
	CHECK(!model.called, "a second backend call for one request (%s first)", model.called);
	CHECK(err && errlen >= 256, "backend given an error buffer of %zu bytes", errlen);
	err[0] = 0;
	if (pid) {
		CHECK(pid > 0, "backend called with pid %d", (int)pid);
		CHECK(access_of(pid) == 1, "backend called for pid %d, which the client may "
		      "not trace (%d)", (int)pid, access_of(pid));
	}
}

static struct fake_target *new_target(pid_t pid)
{
	for (int i = 0; i < MAX_TARGETS; i++) {
		if (!model.t[i].used) {
			model.t[i] = (struct fake_target){ .used = true, .pid = pid };
			return &model.t[i];
		}
	}
	return NULL;
}

static int be_attach(int c, pid_t pid, struct json_object *reply, char *err, size_t errlen)
{
	struct fake_target *t;
	bool fresh = false;

	check_call(c, pid, err, errlen);
	if (traced_elsewhere(pid)) {
		fail(err, errlen, "pid %d is traced already, by pid %d", (int)pid, (int)pid / 2);
		return finish("attach", PROTO_BUSY, err);
	}
	if (ended_meanwhile(pid)) {
		fail(err, errlen, "no process with pid %d", (int)pid);
		return finish("attach", PROTO_NO_SUCH_PROCESS, err);
	}
	if (!(t = target_of(pid))) {
		if (!(t = new_target(pid))) {
			fail(err, errlen, "out of memory");
			return finish("attach", PROTO_INTERNAL, err);
		}
		fresh = true;
	}
	t->holders |= BIT(c);
	put(reply, "pid", json_object_new_int(pid));
	put(reply, "new", json_object_new_boolean(fresh));
	return finish("attach", PROTO_OK, err);
}

static int be_detach(int c, pid_t pid, struct json_object *reply, char *err, size_t errlen)
{
	struct fake_target *t;
	bool detached = false;

	check_call(c, pid, err, errlen);
	if (!(t = target_of(pid))) {
		fail(err, errlen, "pid %d is not traced", (int)pid);
		return finish("detach", PROTO_NOT_FOUND, err);
	}
	for (int i = 0; i < MAX_HOOKS; i++) {
		struct fake_hook *h = &t->hooks[i];
		if (!h->used)
			continue;
		h->shares &= ~BIT(c);
		/* Its own hooks go, and the keep ones whose clients have all gone (the others
		 * of those went with their clients); those another client shares stay. */
		if (!h->cmdline && !(h->shares & ~model.gone))
			h->used = false;
	}
	t->holders &= ~BIT(c);
	if (!target_held(t)) {
		t->used = false;
		detached = true;
	}
	put(reply, "pid", json_object_new_int(pid));
	put(reply, "detached", json_object_new_boolean(detached));
	return finish("detach", PROTO_OK, err);
}

static const struct fake_sym *sym_named(const char *lib, size_t liblen, const char *name)
{
	for (size_t i = 0; i < NSYMS; i++)
		if (!strcmp(syms[i].name, name) &&
		    (!lib || (strlen(syms[i].lib) == liblen && !memcmp(syms[i].lib, lib, liblen))))
			return &syms[i];
	return NULL;
}

static const char *strategy_named(const char *name)
{
	for (size_t i = 0; i < sizeof(strategies) / sizeof(strategies[0]); i++)
		if (!strcmp(strategies[i], name))
			return strategies[i];
	return NULL;
}

static bool be_has_strategy(const char *name)
{
	CHECK(name && *name, "has_strategy of an empty name");
	return strategy_named(name) != NULL;
}

static void add_hook_object(struct json_object *o, const struct fake_hook *h)
{
	char addr[32];

	snprintf(addr, sizeof(addr), "0x%" PRIx64, h->sym->addr);
	put(o, "func", json_object_new_string(h->sym->name));
	put(o, "lib", json_object_new_string(h->sym->lib));
	put(o, "addr", json_object_new_string(addr));
	put(o, "strategy", json_object_new_string(h->strategy));
	put(o, "spec", json_object_new_string(h->spec));
}

static void hook_reply(struct json_object *reply, pid_t pid, const struct fake_hook *h)
{
	put(reply, "pid", json_object_new_int(pid));
	put(reply, "spec", json_object_new_string(h->spec));
	put(reply, "state", json_object_new_string(h->pending ? "pending" : "armed"));
	if (h->pending) {
		put(reply, "why", json_object_new_string("nothing loaded defines it yet"));
	} else {
		struct json_object *o = json_object_new_object();
		if (!o)
			abort();
		add_hook_object(o, h);
		put(reply, "hook", o);
	}
}

/* The hook half of be_hook, once t exists; the caller drops a target it made for nothing. */
static int hook_in(struct fake_target *t, int c, const struct hook_request *rq,
		   struct json_object *reply, char *err, size_t errlen)
{
	const char *strategy = strategy_named(rq->strategy), *colon, *func, *bad;
	const struct fake_sym *sym;
	struct fake_hook *h, *slot = NULL;
	char q[64];
	int nhwbp = 0;

	/* A SPEC is [LIB:]FUNC here; blanks and control characters are no SPEC. */
	for (bad = rq->spec; *bad && (unsigned char)*bad > ' '; bad++)
		;
	colon = strrchr(rq->spec, ':');
	func = colon ? colon + 1 : rq->spec;
	if (*bad || !*func || colon == rq->spec) {
		fail(err, errlen, "bad SPEC '%s': %s", quote(rq->spec, q, sizeof(q)),
		     *bad ? "a blank or control character" : "an empty library or function");
		return PROTO_BAD_REQUEST;
	}
	sym = sym_named(colon ? rq->spec : NULL, colon ? (size_t)(colon - rq->spec) : 0, func);
	if (!sym && !rq->pending) {
		fail(err, errlen, "no function '%s' in pid %d (hook it with \"pending\":true "
		     "to wait for it)", quote(rq->spec, q, sizeof(q)), (int)t->pid);
		return PROTO_NOT_FOUND;
	}
	for (int i = 0; i < MAX_HOOKS; i++) {
		h = &t->hooks[i];
		if (!h->used) {
			slot = slot ? slot : h;
			continue;
		}
		nhwbp += h->strategy == strategies[1];
		if (!strcmp(h->spec, rq->spec)) {
			if (h->strategy != strategy) {
				fail(err, errlen, "%s is hooked with %s already in pid %d",
				     quote(rq->spec, q, sizeof(q)), h->strategy, (int)t->pid);
				return PROTO_BUSY;
			}
			h->shares |= BIT(c);
			h->keep |= rq->keep;
			hook_reply(reply, t->pid, h);
			return PROTO_OK;
		}
		if (sym && h->sym == sym && h->strategy != strategy) {
			fail(err, errlen, "%s is the code of %s (SPEC '%s'), hooked with %s already "
			     "in pid %d", sym->name, sym->name, h->spec, h->strategy, (int)t->pid);
			return PROTO_BUSY;
		}
	}
	if (strategy == strategies[1] && nhwbp >= MAX_HWBP) {
		fail(err, errlen, "hwbp has %d debug registers, all in use in pid %d: swbp "
		     "would hook it", MAX_HWBP, (int)t->pid);
		return PROTO_CANNOT_HOOK;
	}
	if (strategy == strategies[2] && sym && !strcmp(sym->lib, "a.out")) {
		fail(err, errlen, "nx cannot take the page of %s: it holds the tracer's own "
		     "breakpoint; swbp would hook it", sym->name);
		return PROTO_CANNOT_HOOK;
	}
	if (!slot) {
		fail(err, errlen, "cannot hook %s: too many hooks in pid %d",
		     quote(rq->spec, q, sizeof(q)), (int)t->pid);
		return PROTO_INTERNAL;
	}
	*slot = (struct fake_hook){ .used = true, .pending = !sym, .keep = rq->keep,
				    .strategy = strategy, .sym = sym, .shares = BIT(c) };
	memcpy(slot->spec, rq->spec, strlen(rq->spec) + 1);
	hook_reply(reply, t->pid, slot);
	return PROTO_OK;
}

static int be_hook(int c, const struct hook_request *rq, struct json_object *reply, char *err,
		   size_t errlen)
{
	struct fake_target *t;
	bool fresh = false;
	int rc;

	check_call(c, rq->pid, err, errlen);
	/* What op_hook has checked: the backend copies the SPEC into a fixed slot. */
	CHECK(rq->spec && *rq->spec && strlen(rq->spec) <= MAX_SPEC, "hook with a bad spec");
	CHECK(rq->strategy && strategy_named(rq->strategy), "hook with strategy '%s'",
	      rq->strategy ? rq->strategy : "(null)");
	if (traced_elsewhere(rq->pid)) {
		fail(err, errlen, "pid %d is traced already, by pid %d", (int)rq->pid,
		     (int)rq->pid / 2);
		return finish("hook", PROTO_BUSY, err);
	}
	if (ended_meanwhile(rq->pid)) {
		fail(err, errlen, "no process with pid %d", (int)rq->pid);
		return finish("hook", PROTO_NO_SUCH_PROCESS, err);
	}
	if (!(t = target_of(rq->pid))) {
		if (!(t = new_target(rq->pid))) {
			fail(err, errlen, "out of memory");
			return finish("hook", PROTO_INTERNAL, err);
		}
		fresh = true;
	}
	rc = hook_in(t, c, rq, reply, err, errlen);
	if (rc && fresh)
		t->used = false; /* a hook that failed holds nothing */
	return finish("hook", rc, err);
}

static int be_unhook(int c, pid_t pid, const char *spec, struct json_object *reply, char *err,
		     size_t errlen)
{
	struct fake_target *t;
	char q[64];

	check_call(c, pid, err, errlen);
	CHECK(spec && *spec, "unhook with an empty spec");
	if (!(t = target_of(pid))) {
		fail(err, errlen, "pid %d is not traced", (int)pid);
		return finish("unhook", PROTO_NOT_FOUND, err);
	}
	for (int i = 0; i < MAX_HOOKS; i++) {
		struct fake_hook *h = &t->hooks[i];
		if (!h->used || !(h->shares & BIT(c)) || strcmp(h->spec, spec))
			continue;
		h->shares &= ~BIT(c);
		bool removed = !h->cmdline && !(h->shares & ~model.gone);
		if (removed)
			h->used = false;
		if (!target_held(t))
			t->used = false;
		put(reply, "pid", json_object_new_int(pid));
		put(reply, "spec", json_object_new_string(spec));
		put(reply, "removed", json_object_new_boolean(removed));
		return finish("unhook", PROTO_OK, err);
	}
	fail(err, errlen, "this client has no hook '%s' in pid %d", quote(spec, q, sizeof(q)),
	     (int)pid);
	return finish("unhook", PROTO_NOT_FOUND, err);
}

static int be_list(struct json_object *targets, char *err, size_t errlen)
{
	check_call(CLIENT_ID, 0, err, errlen);
	for (int i = 0; i < MAX_TARGETS; i++) {
		const struct fake_target *t = &model.t[i];
		struct json_object *o = json_object_new_object(), *hooks = json_object_new_array();
		unsigned holders = t->holders;
		if (!o || !hooks)
			abort();
		if (!t->used) {
			json_object_put(o);
			json_object_put(hooks);
			continue;
		}
		put(o, "pid", json_object_new_int(t->pid));
		put(o, "exe", json_object_new_string(t->cmdline ? "/usr/bin/python3.11" : "/bin/sh"));
		for (int j = 0; j < MAX_HOOKS; j++) {
			const struct fake_hook *h = &t->hooks[j];
			struct json_object *ho;
			if (!h->used)
				continue;
			if (!(ho = json_object_new_object()))
				abort();
			put(ho, "spec", json_object_new_string(h->spec));
			put(ho, "state", json_object_new_string(h->pending ? "pending" : "armed"));
			if (h->sym)
				add_hook_object(ho, h);
			put(ho, "calls", json_object_new_int64((int64_t)h->calls));
			put(ho, "clients", json_object_new_int(__builtin_popcount(h->shares)));
			put(ho, "keep", json_object_new_boolean(h->keep));
			if (json_object_array_add(hooks, ho) < 0)
				abort();
			holders |= h->shares; /* a hook of theirs holds it too */
		}
		put(o, "holders", json_object_new_int(__builtin_popcount(holders & ~model.gone)));
		put(o, "hooks", hooks);
		if (json_object_array_add(targets, o) < 0)
			abort();
	}
	return finish("list", PROTO_OK, err);
}

static int be_symbols(pid_t pid, const char *glob, int limit, struct json_object *reply,
		      char *err, size_t errlen)
{
	struct json_object *list = json_object_new_array();
	bool truncated = false;
	int n = 0;

	check_call(CLIENT_ID, pid, err, errlen);
	CHECK(glob && *glob, "symbols with an empty glob");
	CHECK(limit >= 1 && limit <= PROTO_MAX_SYMBOLS, "symbols with limit %d", limit);
	if (!list)
		abort();
	if (ended_meanwhile(pid)) {
		json_object_put(list);
		fail(err, errlen, "no process with pid %d", (int)pid);
		return finish("symbols", PROTO_NO_SUCH_PROCESS, err);
	}
	for (size_t i = 0; i < NSYMS; i++) {
		char addr[32];
		struct json_object *o;
		if (fnmatch(glob, syms[i].name, 0))
			continue;
		if (n == limit) {
			truncated = true;
			break;
		}
		if (!(o = json_object_new_object()))
			abort();
		snprintf(addr, sizeof(addr), "0x%" PRIx64, syms[i].addr);
		put(o, "lib", json_object_new_string(syms[i].lib));
		put(o, "addr", json_object_new_string(addr));
		put(o, "size", json_object_new_int64((int64_t)syms[i].size));
		put(o, "name", json_object_new_string(syms[i].name));
		if (json_object_array_add(list, o) < 0)
			abort();
		n++;
	}
	put(reply, "pid", json_object_new_int(pid));
	put(reply, "symbols", list);
	put(reply, "truncated", json_object_new_boolean(truncated));
	return finish("symbols", PROTO_OK, err);
}

static int be_hook_stats(struct json_object *hooks, char *err, size_t errlen)
{
	check_call(CLIENT_ID, 0, err, errlen);
	for (int i = 0; i < MAX_TARGETS; i++) {
		const struct fake_target *t = &model.t[i];
		for (int j = 0; t->used && j < MAX_HOOKS; j++) {
			const struct fake_hook *h = &t->hooks[j];
			struct json_object *o;
			if (!h->used)
				continue;
			if (!(o = json_object_new_object()))
				abort();
			put(o, "pid", json_object_new_int(t->pid));
			put(o, "spec", json_object_new_string(h->spec));
			put(o, "func", json_object_new_string(h->sym ? h->sym->name : ""));
			put(o, "calls", json_object_new_int64((int64_t)h->calls));
			if (json_object_array_add(hooks, o) < 0)
				abort();
		}
	}
	return finish("stats", PROTO_OK, err);
}

static void be_client_gone(int c)
{
	model.gone |= BIT(c);
	for (int i = 0; i < MAX_TARGETS; i++) {
		struct fake_target *t = &model.t[i];
		for (int j = 0; t->used && j < MAX_HOOKS; j++) {
			struct fake_hook *h = &t->hooks[j];
			if (h->used && !h->cmdline && !h->keep && !(h->shares & ~model.gone))
				h->used = false;
		}
		if (t->used && !target_held(t))
			t->used = false;
	}
}

static const struct backend_ops fake_backend = {
	.attach = be_attach,
	.detach = be_detach,
	.hook = be_hook,
	.unhook = be_unhook,
	.list = be_list,
	.symbols = be_symbols,
	.hook_stats = be_hook_stats,
	.client_gone = be_client_gone,
	.has_strategy = be_has_strategy,
};

/* ---- what the harness reads of a line itself ---------------------------------------------- */

/* The request as the harness reads it: parsed as protocol.c says a line is (json-c,
 * strict, 16 levels, one object, trailing blanks only), checked on its own. */
static struct json_object *req;

/* A new tokener for each parse, as protocol.c makes: json-c 0.16's json_tokener_reset
 * keeps a pending high surrogate ("\ud800" at the end of a cut line), which would put
 * an extra U+FFFD in the next line's first such string. */
static struct json_tokener *tokener(int depth, int flags)
{
	struct json_tokener *tok = json_tokener_new_ex(depth);

	if (!tok)
		abort();
	json_tokener_set_flags(tok, flags);
	return tok;
}

static bool line_is_null;  /* the line parsed, as a null */
static bool session_utf8;  /* every line of this input so far is UTF-8 */

static struct json_object *parse_alone(const char *line, size_t len)
{
	struct json_tokener *tok = tokener(16, JSON_TOKENER_STRICT);
	struct json_object *o;
	size_t end;

	o = json_tokener_parse_ex(tok, line, (int)len);
	end = json_tokener_get_parse_end(tok);
	line_is_null = !o && json_tokener_get_error(tok) == json_tokener_success;
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
	}
	for (; o && end < len; end++) {
		if (line[end] != ' ' && line[end] != '\t' && line[end] != '\r') {
			json_object_put(o);
			o = NULL;
		}
	}
	json_tokener_free(tok);
	if (o && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

static struct json_object *req_field(const char *name)
{
	struct json_object *v;

	if (!req || !json_object_object_get_ex(req, name, &v) ||
	    json_object_is_type(v, json_type_null))
		return NULL;
	return v;
}

/* The line's id, when it is one (an integer from 0 to 2^53), or -1. */
static int64_t req_id(void)
{
	struct json_object *v = req_field("id");
	int64_t id;

	if (!v || !json_object_is_type(v, json_type_int))
		return -1;
	id = json_object_get_int64(v);
	/* json-c keeps integers above INT64_MAX as unsigned; get_int64 clamps them. */
	return id >= 0 && id <= (INT64_C(1) << 53) ? id : -1;
}

static bool is_utf8(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = s[i], len, min;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0)
			len = 2, min = 0x80, cp = c & 0x1f;
		else if ((c & 0xf0) == 0xe0)
			len = 3, min = 0x800, cp = c & 0x0f;
		else if ((c & 0xf8) == 0xf0)
			len = 4, min = 0x10000, cp = c & 0x07;
		else
			return false;
		if (i + len > n)
			return false;
		for (unsigned k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

/* ---- checking a subscription --------------------------------------------------------------- */

static const char *const kind_names[] = { "ready", "armed", "disarmed", "exec", "child",
					  "call", "summary", "error", "exit" };

/* Interned names: one address per name, as the tracer's symbol table gives them, and a
 * second copy of one at another address, which must match the same. */
static const char name_malloc[] = "malloc", name_strcpy[] = "strcpy", name_odd[] = "[x]*?";
static char name_malloc_again[] = "malloc";

static bool expect_pid(const struct filter *f, pid_t pid)
{
	for (int i = 0; f->pids && i < f->npids; i++)
		if (f->pids[i] == pid)
			return true;
	return !f->pids;
}

static bool expect_func(const struct filter *f, const char *func)
{
	for (int i = 0; f->funcs && i < f->nfuncs; i++)
		if (!fnmatch(f->funcs[i], func, 0))
			return true;
	return !f->funcs;
}

static bool expect_kind(const struct filter *f, enum event_kind k)
{
	return f->kinds & (1u << k);
}

static void match_call(struct filter *f, pid_t pid, const char *func)
{
	struct event ev = { .kind = EVENT_CALL, .pid = pid, .call = { .tid = pid, .func = func,
								     .nargs = 1 } };
	bool want = expect_kind(f, EVENT_CALL) && expect_pid(f, pid) && !f->summary_ms &&
		    expect_func(f, func);

	CHECK(filter_match(f, &ev) == want, "call of %s in pid %d: filter_match says %d",
	      func, (int)pid, !want);
}

static void match_hook(struct filter *f, enum event_kind kind, pid_t pid, const char *func)
{
	struct event ev = { .kind = kind, .pid = pid };
	bool want = expect_kind(f, kind) && expect_pid(f, pid) && expect_func(f, func);

	ev.hook.hook = (struct event_hook){ .func = func, .lib = "libc.so.6", .spec = func,
					    .strategy = "swbp", .shared_with = "" };
	CHECK(filter_match(f, &ev) == want, "%s of %s in pid %d: filter_match says %d",
	      kind_names[kind], func, (int)pid, !want);
	CHECK(filter_wants_func(f, func) == expect_func(f, func), "filter_wants_func(%s)", func);
}

static void match_other(struct filter *f, enum event_kind kind, pid_t pid)
{
	struct event ev = { .kind = kind, .pid = pid };
	bool want = expect_kind(f, kind) && expect_pid(f, pid);

	if (kind == EVENT_EXIT)
		ev.exit.status = 3;
	CHECK(filter_match(f, &ev) == want, "%s in pid %d: filter_match says %d",
	      kind_names[kind], (int)pid, !want);
	CHECK(filter_wants_pid(f, pid) == expect_pid(f, pid), "filter_wants_pid(%d)", (int)pid);
}

/* The filter against its request (the harness's own reading of it), then against events. */
static void check_filter(const struct filter *f_in)
{
	struct filter *f = &sub;
	struct json_object *a;
	unsigned kinds = 0;

	CHECK(f == f_in, "check_filter");
	CHECK(req, "a subscription from a line the harness cannot read");
	a = req_field("pids");
	CHECK(a ? (f->pids && (size_t)f->npids == json_object_array_length(a))
		: (!f->pids && !f->npids), "pids: %d of them", f->npids);
	for (int i = 0; a && i < f->npids; i++) {
		struct json_object *v = json_object_array_get_idx(a, (size_t)i);
		CHECK(json_object_is_type(v, json_type_int) &&
		      json_object_get_int64(v) == f->pids[i], "pids[%d] is %d", i, (int)f->pids[i]);
		CHECK(access_of(f->pids[i]) == 1, "subscribed to pid %d, which the client may "
		      "not trace", (int)f->pids[i]);
	}
	a = req_field("funcs");
	CHECK(a ? (f->funcs && (size_t)f->nfuncs == json_object_array_length(a))
		: (!f->funcs && !f->nfuncs), "funcs: %d of them", f->nfuncs);
	for (int i = 0; a && i < f->nfuncs; i++) {
		struct json_object *v = json_object_array_get_idx(a, (size_t)i);
		CHECK(json_object_is_type(v, json_type_string) && f->funcs[i] &&
		      !strcmp(f->funcs[i], json_object_get_string(v)) &&
		      (strlen(f->funcs[i]) == (size_t)json_object_get_string_len(v) ||
		       KNOWN(nul_name, true)),
		      "funcs[%d] is '%s', not the request's", i, f->funcs[i]);
	}
	a = req_field("kinds");
	for (size_t i = 0, n = a ? json_object_array_length(a) : 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(a, i);
		size_t k = 0;
		CHECK(json_object_is_type(v, json_type_string), "kinds[%zu] not a string", i);
		while (k < sizeof(kind_names) / sizeof(kind_names[0]) &&
		       ((strlen(kind_names[k]) != (size_t)json_object_get_string_len(v) &&
			 !KNOWN(nul_name, true)) ||
			strcmp(kind_names[k], json_object_get_string(v))))
			k++;
		CHECK(k < sizeof(kind_names) / sizeof(kind_names[0]),
		      "kinds[%zu] '%s' is no kind, yet accepted", i, json_object_get_string(v));
		kinds |= 1u << k;
	}
	CHECK(f->kinds == (a ? kinds : FILTER_ALL_KINDS), "kinds 0x%x, not 0x%x", f->kinds,
	      a ? kinds : FILTER_ALL_KINDS);
	a = req_field("summary_ms");
	CHECK(a ? (json_object_is_type(a, json_type_int) &&
		   json_object_get_int64(a) == (int64_t)f->summary_ms && f->summary_ms >= 10 &&
		   f->summary_ms <= 86400000)
		: f->summary_ms == 0, "summary_ms %u", f->summary_ms);
	CHECK(!f->last_func, "a new filter remembers a function");

	/* A run of calls, then another function, then the same name at another address:
	 * the cache of the last match must never change an answer. */
	for (int round = 0; round < 2; round++) {
		match_call(f, 4, name_malloc);
		match_call(f, 4, name_malloc);
		match_call(f, 4, name_strcpy);
		match_call(f, 4, name_malloc_again);
		match_call(f, 5, name_malloc);
		match_call(f, 4, name_odd);
	}
	if (f->npids > 0)
		match_call(f, f->pids[0], name_strcpy);
	match_hook(f, EVENT_ARMED, 4, "malloc");
	match_hook(f, EVENT_DISARMED, 4, "[x]*?");
	match_other(f, EVENT_SUMMARY, 4);
	match_other(f, EVENT_EXIT, 4);
	match_other(f, EVENT_READY, 1);
	if (f->npids > 0)
		match_other(f, EVENT_CHILD, f->pids[f->npids - 1]);
}

/* ---- checking a reply ------------------------------------------------------------------------ */

static const char *const code_docs[] = {
	/* docs/protocol.md's list, not protocol.c's table: the two must agree. */
	"bad_request", "unknown_op", "denied", "no_such_process", "not_found", "busy",
	"too_big", "internal", "cannot_hook",
};

/* The docs' name of rc, from the enum's order in protocol.h. */
static const char *doc_name(int rc)
{
	return rc >= PROTO_BAD_REQUEST && rc <= PROTO_CANNOT_HOOK ? code_docs[rc - 1] : "?";
}

static bool is_type(struct json_object *o, const char *key, enum json_type type)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, type);
}

/* Every entry of a list the client gets must be about a process it may trace. */
static void check_visible(struct json_object *r, const char *key)
{
	struct json_object *a, *pid;

	CHECK(json_object_object_get_ex(r, key, &a) && json_object_is_type(a, json_type_array),
	      "no list '%s' in the reply", key);
	for (size_t i = 0, n = json_object_array_length(a); i < n; i++) {
		struct json_object *e = json_object_array_get_idx(a, i);
		CHECK(json_object_object_get_ex(e, "pid", &pid), "%s[%zu] has no pid", key, i);
		CHECK(access_of(json_object_get_int(pid)) == 1, "%s[%zu] is pid %d, which the "
		      "client may not see", key, i, json_object_get_int(pid));
	}
}

/* The ops that must reach the backend when they succeed, by the name finish() records. */
static const char *const backend_ops_named[] = { "attach", "detach", "hook", "unhook",
						 "list", "symbols", "stats" };

static bool is_backend_op(const char *op)
{
	for (size_t i = 0; i < sizeof(backend_ops_named) / sizeof(backend_ops_named[0]); i++)
		if (!strcmp(backend_ops_named[i], op))
			return true;
	return false;
}

static bool is_op(const char *op)
{
	return is_backend_op(op) || !strcmp(op, "subscribe") || !strcmp(op, "unsubscribe");
}

/* Whether r's only non-UTF-8 part is a message that quotes the request cut at 64 bytes. */
static bool cut_message(struct json_object *r)
{
	struct json_object *v, *copy = NULL;
	const char *msg, *s;
	bool cut;

	if (!json_object_object_get_ex(r, "error", &v))
		return false;
	msg = json_object_get_string(v);
	if (strncmp(msg, "unknown op '", 12) && strncmp(msg, "unknown strategy '", 18))
		return false;
	if (json_object_deep_copy(r, &copy, NULL) < 0)
		abort();
	json_object_object_del(copy, "error");
	s = json_object_to_json_string(copy);
	cut = is_utf8((const unsigned char *)s, strlen(s));
	json_object_put(copy);
	return cut;
}

static void check_reply(struct json_object *r, size_t len, int64_t want_id,
			bool id_reused, int subs_before, int unsubs_before)
{
	struct json_object *v, *op = req_field("op");
	const char *code = NULL, *s;
	size_t slen;
	bool ok;

	CHECK(r && json_object_is_type(r, json_type_object), "the reply is no object");
	CHECK(json_object_object_get_ex(r, "id", &v), "the reply has no id");
	if (want_id >= 0)
		CHECK(json_object_is_type(v, json_type_int) && json_object_get_int64(v) == want_id,
		      "the reply's id is %s, not %" PRId64, json_object_to_json_string(v), want_id);
	else
		CHECK(json_object_is_type(v, json_type_null), "the reply's id is %s, not null",
		      json_object_to_json_string(v));
	CHECK(is_type(r, "ok", json_type_boolean), "the reply has no boolean ok");
	json_object_object_get_ex(r, "ok", &v);
	ok = json_object_get_boolean(v);
	if (!ok) {
		size_t i = 0;
		CHECK(is_type(r, "code", json_type_string), "an error with no code");
		json_object_object_get_ex(r, "code", &v);
		code = json_object_get_string(v);
		while (i < sizeof(code_docs) / sizeof(code_docs[0]) && strcmp(code_docs[i], code))
			i++;
		CHECK(i < sizeof(code_docs) / sizeof(code_docs[0]), "code '%s' is no code", code);
		CHECK(is_type(r, "error", json_type_string), "an error with no message");
		json_object_object_get_ex(r, "error", &v);
		CHECK(json_object_get_string_len(v) > 0 || KNOWN(null_line, line_is_null),
		      "an empty error message (code %s)", code);
	} else {
		CHECK(!json_object_object_get_ex(r, "code", NULL) &&
		      !json_object_object_get_ex(r, "error", NULL), "a success with an error");
	}

	/* Framing: the reply is one line of JSON, which reads back as the same object. */
	s = json_object_to_json_string_length(r, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE, &slen);
	CHECK(s && slen > 0 && !memchr(s, '\n', slen) && strlen(s) == slen,
	      "the reply is not one line");
	{
		struct json_tokener *tok = tokener(JSON_TOKENER_DEFAULT_DEPTH, JSON_TOKENER_STRICT);
		struct json_object *back = json_tokener_parse_ex(tok, s, (int)slen);
		CHECK(back && json_tokener_get_parse_end(tok) == slen &&
		      json_object_equal(back, r), "the reply does not read back: %s", s);
		json_object_put(back);
		json_tokener_free(tok);
	}
	/* Lines are UTF-8 both ways: a valid request must not get an invalid reply. */
	if (!is_utf8((const unsigned char *)s, slen))
		CHECK(KNOWN(raw_utf8, !session_utf8) || KNOWN(cut_utf8, cut_message(r)),
		      "the reply is not UTF-8: %s", s);

	/* Why it failed, from what the harness knows. */
	if (len > PROTO_MAX_LINE) {
		CHECK(!ok && !strcmp(code, "too_big"), "a %zu-byte line not too_big", len);
		return;
	}
	if (!req || want_id < 0 || id_reused) {
		CHECK(!ok && !strcmp(code, "bad_request"), "a line with no good id not "
		      "bad_request (%s)", ok ? "ok" : code);
		CHECK(!model.called, "the backend was called for a line with no good id");
		return;
	}
	if (model.called) {
		CHECK(op && json_object_is_type(op, json_type_string) &&
		      !strcmp(json_object_get_string(op), model.called),
		      "op %s reached the backend's %s", op ? json_object_get_string(op) : "none",
		      model.called);
		if (model.rc == PROTO_OK) {
			CHECK(ok, "the backend said ok, the reply did not");
		} else {
			CHECK(!ok && !strcmp(code, doc_name(model.rc)), "the backend said %s, the "
			      "reply %s", doc_name(model.rc), ok ? "ok" : code);
			json_object_object_get_ex(r, "error", &v);
			CHECK(!strcmp(json_object_get_string(v),
				      model.msg[0] ? model.msg : "failed"),
			      "the backend's message is lost: %s", json_object_get_string(v));
		}
	}
	/* The op: a name, one of the nine, or the request goes no further. */
	if (!op || !json_object_is_type(op, json_type_string) || !json_object_get_string_len(op) ||
	    strlen(json_object_get_string(op)) != (size_t)json_object_get_string_len(op))
		CHECK(!ok && !strcmp(code, "bad_request"), "a line with no good op not bad_request");
	else if (!is_op(json_object_get_string(op)))
		CHECK(!ok && !strcmp(code, "unknown_op"), "op '%s' not unknown_op",
		      json_object_get_string(op));
	if (!ok) {
		CHECK(subscribe_calls == subs_before && unsubscribe_calls == unsubs_before,
		      "a failed request changed the subscription (%s)", code);
		return;
	}
	s = json_object_get_string(op);
	if (is_backend_op(s))
		CHECK(model.called, "op %s ok without the backend", s);
	if (!strcmp(s, "subscribe"))
		CHECK(subscribe_calls == subs_before + 1, "subscribe ok, but the host has none");
	else if (!strcmp(s, "unsubscribe"))
		CHECK(unsubscribe_calls == unsubs_before + 1, "unsubscribe ok, not the host");
	else
		CHECK(subscribe_calls == subs_before && unsubscribe_calls == unsubs_before,
		      "op %s changed the subscription", s);
	if (!strcmp(s, "list"))
		check_visible(r, "targets");
	if (!strcmp(s, "stats")) {
		check_visible(r, "hooks");
		CHECK(is_type(r, "clients", json_type_array), "stats with no clients");
		CHECK(json_object_object_get_ex(r, "client", &v) &&
		      json_object_get_int(v) == CLIENT_ID, "stats names another client");
	}
}

/* ---- one input ------------------------------------------------------------------------------ */

static void handle_one(const char *data, size_t len, int64_t *last_id)
{
	/* Its own allocation, exactly len bytes with no terminator, so that ASan sees a read
	 * past the end: proto_handle gets no NUL after the line. */
	char *line = malloc(len);
	int subs = subscribe_calls, unsubs = unsubscribe_calls;
	int64_t want_id = -1;
	bool reused = false;

	if (!line && len)
		abort();
	memcpy(line, data, len);
	cur_line = line;
	cur_len = len;
	line_is_null = false;
	session_utf8 = session_utf8 && is_utf8((const unsigned char *)line, len);
	/* mhookd takes UTF-8 only: another line is no request, and its id unread. */
	req = len <= PROTO_MAX_LINE && !memchr(line, 0, len) &&
	      is_utf8((const unsigned char *)line, len) ? parse_alone(line, len) : NULL;
	if (req && (want_id = req_id()) >= 0) {
		if (want_id <= *last_id)
			reused = true;
		else
			*last_id = want_id;
	}
	model.called = NULL;
	model.rc = -1;

	struct json_object *r = proto_handle(&fake_backend, &fake_host, &client, line, len);

	check_reply(r, len, want_id, reused, subs, unsubs);
	CHECK(client.last_id == *last_id, "last_id is %" PRId64 ", not %" PRId64, client.last_id,
	      *last_id);
	json_object_put(r);
	json_object_put(req);
	req = NULL;
	free(line);
	cur_line = NULL;
}

#define MAX_LINES 100

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	int64_t last_id = -1;

	model_reset();
	session_utf8 = true;
	client = (struct proto_client){ .id = CLIENT_ID, .last_id = -1,
					.peer = { .uid = 1000, .gid = 1000, .pid = 5678 } };
	/* Every line, the empty ones and a last one with no newline too: proto_handle must
	 * answer any of them, whatever the server passes it. Up to MAX_LINES: past a few
	 * dozen requests the model is full, and thousands of empty lines (which mutations
	 * love to make) would only slow the fuzzer down. */
	for (int nlines = 0; p <= end && nlines < MAX_LINES; nlines++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		handle_one(p, n, &last_id);
		if (!nl)
			break;
		p = nl + 1;
	}
	fake_backend.client_gone(client.id);
	if (subscribed)
		filter_free(&sub);
	subscribed = false;
	return 0;
}
