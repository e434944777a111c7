/*
 * JSON lines back into events (event_parse.h): the reader of what json.c writes. json-c
 * does the JSON; this file checks each field's presence, type and range, and copies the
 * strings into the event's own memory, so that an event read from a socket is freed like
 * one the handlers made. Errors name the field ("hooks[2]: 'addr' is ..."), since a person
 * reads them when mhookd and its client disagree.
 */
#include "sinks/event_parse.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <json.h>

struct parse {
	struct event *ev;
	char *err;
	size_t errlen;
	const char *where;       /* "hooks[2]: " while inside an array element, else "" */
};

static int fail(struct parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct parse *p, const char *fmt, ...)
{
	va_list ap;

	if (p->err && p->errlen) {
		int n = snprintf(p->err, p->errlen, "%s", p->where);
		if (n < 0 || (size_t)n >= p->errlen)
			n = 0;
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int no_memory(struct parse *p)
{
	if (p->err && p->errlen)
		snprintf(p->err, p->errlen, "out of memory");
	return -ENOMEM;
}

/* The member key of o, or NULL when absent. json-c represents a JSON null as NULL, so a
 * null member reads as a missing one: "required" then says what is wrong with it. */
static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

/* ---- scalars ------------------------------------------------------------------------- */

static int get_str(struct parse *p, struct json_object *o, const char *key, bool required,
		   const char **out)
{
	struct json_object *v = member(o, key);

	if (!v) {
		if (required)
			return fail(p, "'%s' is missing", key);
		*out = "";
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return fail(p, "'%s' is not a string", key);
	int len = json_object_get_string_len(v);
	const char *s = json_object_get_string(v);
	/* A \u0000 would cut the C string short without a word: refuse it instead. */
	if (len < 0 || !s || memchr(s, '\0', (size_t)len))
		return fail(p, "'%s' holds a NUL character", key);
	char *copy = event_alloc(p->ev, (size_t)len + 1);
	if (!copy)
		return no_memory(p);
	memcpy(copy, s, (size_t)len);
	*out = copy;
	return 0;
}

/* An integer from 0 to max. json-c keeps integers past 2^63 as unsigned, and clamps
 * those past 2^64-1 to it: such a count reads as the largest one, not as an error. */
static int get_uint(struct parse *p, struct json_object *o, const char *key, bool required,
		    uint64_t max, uint64_t *out)
{
	struct json_object *v = member(o, key);

	if (!v) {
		if (required)
			return fail(p, "'%s' is missing", key);
		*out = 0;
		return 0;
	}
	if (!json_object_is_type(v, json_type_int))
		return fail(p, "'%s' is not an integer", key);
	if (json_object_get_int64(v) < 0)
		return fail(p, "'%s' is negative", key);
	uint64_t u = json_object_get_uint64(v);
	if (u > max)
		return fail(p, "'%s' is out of range (%" PRIu64 " > %" PRIu64 ")", key, u, max);
	*out = u;
	return 0;
}

static int get_pid(struct parse *p, struct json_object *o, const char *key, bool required,
		   pid_t *out)
{
	uint64_t v;
	int rc = get_uint(p, o, key, required, INT_MAX, &v);

	if (!rc)
		*out = (pid_t)v;
	return rc;
}

static int get_bool(struct parse *p, struct json_object *o, const char *key, bool dflt,
		    bool *out)
{
	struct json_object *v = member(o, key);

	if (!v) {
		*out = dflt;
		return 0;
	}
	if (!json_object_is_type(v, json_type_boolean))
		return fail(p, "'%s' is not true or false", key);
	*out = json_object_get_boolean(v);
	return 0;
}

/* "0x" and 1 or more hex digits, at most 64 bits' worth. */
static bool parse_hex(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len < 3 || s[0] != '0' || s[1] != 'x')
		return false;
	for (size_t i = 2; i < len; i++) {
		int d;
		if (s[i] >= '0' && s[i] <= '9')
			d = s[i] - '0';
		else if (s[i] >= 'a' && s[i] <= 'f')
			d = s[i] - 'a' + 10;
		else if (s[i] >= 'A' && s[i] <= 'F')
			d = s[i] - 'A' + 10;
		else
			return false;
		if (v >> 60)
			return false;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return true;
}

static int hex_value(struct parse *p, struct json_object *v, const char *what, uint64_t *out)
{
	if (!json_object_is_type(v, json_type_string))
		return fail(p, "%s is not a \"0x...\" string", what);
	int len = json_object_get_string_len(v);
	if (len < 0 || !parse_hex(json_object_get_string(v), (size_t)len, out))
		return fail(p, "%s is not a 64-bit \"0x...\" hex string", what);
	return 0;
}

static int get_addr(struct parse *p, struct json_object *o, const char *key, bool required,
		    uint64_t *out)
{
	struct json_object *v = member(o, key);
	char what[64];

	if (!v) {
		if (required)
			return fail(p, "'%s' is missing", key);
		*out = 0;
		return 0;
	}
	snprintf(what, sizeof(what), "'%s'", key);
	return hex_value(p, v, what, out);
}

/* An array member, and its length as an int that the allocation of n elements of size
 * each cannot overflow. */
static int get_array(struct parse *p, struct json_object *o, const char *key, bool required,
		     size_t size, struct json_object **arr, int *n)
{
	struct json_object *v = member(o, key);

	*arr = NULL;
	*n = 0;
	if (!v) {
		if (required)
			return fail(p, "'%s' is missing", key);
		return 0;
	}
	if (!json_object_is_type(v, json_type_array))
		return fail(p, "'%s' is not an array", key);
	size_t len = json_object_array_length(v);
	if (len > (size_t)INT_MAX / size)
		return fail(p, "'%s' is too long", key);
	*arr = v;
	*n = (int)len;
	return 0;
}

/* An optional list of strings, kept as one string with a line per element ("" when
 * absent), as the sinks take shared_with. */
static int get_lines(struct parse *p, struct json_object *o, const char *key,
		     const char **out)
{
	struct json_object *arr;
	int n, rc;
	size_t total = 1;

	*out = "";
	if ((rc = get_array(p, o, key, false, 1, &arr, &n)) || !arr)
		return rc;
	for (int i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(arr, (size_t)i);
		if (!json_object_is_type(e, json_type_string))
			return fail(p, "'%s' is not a list of strings", key);
		const char *s = json_object_get_string(e);
		size_t len = (size_t)json_object_get_string_len(e);
		if (memchr(s, '\0', len) || memchr(s, '\n', len))
			return fail(p, "'%s' holds a NUL or newline character", key);
		total += len + 1;
	}
	char *copy = event_alloc(p->ev, total), *w = copy;
	if (!copy)
		return no_memory(p);
	for (int i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(arr, (size_t)i);
		size_t len = (size_t)json_object_get_string_len(e);
		if (i)
			*w++ = '\n';
		memcpy(w, json_object_get_string(e), len);
		w += len;
	}
	*w = 0;
	*out = copy;
	return 0;
}

/* ---- the kinds ----------------------------------------------------------------------- */

static int parse_hook(struct parse *p, struct json_object *o, struct event_hook *h)
{
	int rc;

	if ((rc = get_str(p, o, "func", true, &h->func)) ||
	    (rc = get_str(p, o, "lib", true, &h->lib)) ||
	    (rc = get_addr(p, o, "addr", true, &h->addr)) ||
	    (rc = get_str(p, o, "strategy", true, &h->strategy)) ||
	    (rc = get_str(p, o, "spec", true, &h->spec)) ||
	    (rc = get_lines(p, o, "shared_with", &h->shared_with)))
		return rc;
	return 0;
}

/* Element i of array arr, which must be an object, with p->where naming it meanwhile. */
static struct json_object *element(struct parse *p, struct json_object *arr, const char *key,
				   int i, char *where, size_t wlen)
{
	struct json_object *e = json_object_array_get_idx(arr, (size_t)i);

	snprintf(where, wlen, "%s[%d]: ", key, i);
	p->where = where;
	return json_object_is_type(e, json_type_object) ? e : NULL;
}

static int parse_ready(struct parse *p, struct json_object *o)
{
	struct event *ev = p->ev;
	struct json_object *arr;
	char where[48];
	int n, rc;

	if ((rc = get_array(p, o, "hooks", true, sizeof(*ev->ready.hooks), &arr, &n)))
		return rc;
	if (n && !(ev->ready.hooks = event_alloc(ev, (size_t)n * sizeof(*ev->ready.hooks))))
		return no_memory(p);
	for (int i = 0; i < n; i++) {
		struct json_object *e = element(p, arr, "hooks", i, where, sizeof(where));
		if (!e)
			return fail(p, "not an object");
		if ((rc = parse_hook(p, e, &ev->ready.hooks[i])))
			return rc;
		ev->ready.nhooks = i + 1;
	}
	p->where = "";
	/* Optional: the example in docs/protocol.md has none, json.c always writes one. */
	if ((rc = get_array(p, o, "pending", false, sizeof(*ev->ready.pending), &arr, &n)))
		return rc;
	if (n && !(ev->ready.pending = event_alloc(ev, (size_t)n * sizeof(*ev->ready.pending))))
		return no_memory(p);
	for (int i = 0; i < n; i++) {
		struct json_object *e = element(p, arr, "pending", i, where, sizeof(where));
		struct event_pending *q = &ev->ready.pending[i];
		if (!e)
			return fail(p, "not an object");
		if ((rc = get_str(p, e, "spec", true, &q->spec)) ||
		    (rc = get_str(p, e, "why", true, &q->why)))
			return rc;
		ev->ready.npending = i + 1;
	}
	p->where = "";
	return 0;
}

static int parse_call(struct parse *p, struct json_object *o)
{
	struct event *ev = p->ev;
	struct json_object *arr;
	char what[32];
	int n, rc;

	if ((rc = get_pid(p, o, "tid", true, &ev->call.tid)) ||
	    (rc = get_str(p, o, "func", true, &ev->call.func)) ||
	    (rc = get_addr(p, o, "addr", true, &ev->call.addr)) ||
	    (rc = get_uint(p, o, "ts_ns", true, UINT64_MAX, &ev->ts_ns)) ||
	    (rc = get_array(p, o, "args", true, sizeof(uint64_t), &arr, &n)))
		return rc;
	/* Registers past those the struct holds carry no meaning on the arches we know. */
	if (n > EVENT_MAX_ARGS)
		n = EVENT_MAX_ARGS;
	for (int i = 0; i < n; i++) {
		snprintf(what, sizeof(what), "args[%d]", i);
		if ((rc = hex_value(p, json_object_array_get_idx(arr, (size_t)i), what,
				    &ev->call.args[i])))
			return rc;
	}
	ev->call.nargs = n;
	return 0;
}

/* A per_pid key: a process id in decimal, as json.c prints it with %d. */
static bool parse_pid_key(const char *s, pid_t *out)
{
	uint64_t v = 0;

	if (!*s || (s[0] == '0' && s[1]))
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > INT_MAX)
			return false;
	}
	*out = (pid_t)v;
	return true;
}

static int parse_per_pid(struct parse *p, struct json_object *o, struct event_row *r)
{
	struct json_object *v = member(o, "per_pid");

	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_object))
		return fail(p, "'per_pid' is not an object");
	int n = json_object_object_length(v);
	if (n <= 0)
		return 0;
	if (!(r->per_pid = event_alloc(p->ev, (size_t)n * sizeof(*r->per_pid))))
		return no_memory(p);
	/* json-c keeps an object's members in the order they came: the order json.c wrote,
	 * which is the order the processes were traced in. */
	json_object_object_foreach(v, key, val) {
		struct event_pid_count *c = &r->per_pid[r->nper_pid];
		if (r->nper_pid >= n)
			break;
		if (!parse_pid_key(key, &c->pid))
			return fail(p, "per_pid key '%.32s' is not a process id", key);
		if (!json_object_is_type(val, json_type_int) || json_object_get_int64(val) < 0)
			return fail(p, "per_pid of %d is not a count", (int)c->pid);
		c->calls = json_object_get_uint64(val);
		r->nper_pid++;
	}
	return 0;
}

/* nx's "pages": [{"page":"0x...","collateral":N}], the page of the row's entry. */
static int parse_pages(struct parse *p, struct json_object *o, struct event_row *r)
{
	struct json_object *v = member(o, "pages");

	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) != 1 ||
	    !json_object_is_type(json_object_array_get_idx(v, 0), json_type_object))
		return fail(p, "'pages' is not a list of one page");
	struct json_object *pg = json_object_array_get_idx(v, 0);
	int rc = get_addr(p, pg, "page", true, &r->page);
	if (!rc)
		rc = get_uint(p, pg, "collateral", true, UINT64_MAX, &r->page_collateral);
	if (!rc && (!r->page || (r->page & 0xfff)))
		return fail(p, "'page' 0x%" PRIx64 " is not a page address", r->page);
	return rc;
}

static int parse_summary(struct parse *p, struct json_object *o)
{
	struct event *ev = p->ev;
	struct event_row *r = event_alloc(ev, sizeof(*r));
	int rc;

	if (!r)
		return no_memory(p);
	ev->summary.rows = r;
	if ((rc = get_str(p, o, "func", true, &r->func)) ||
	    (rc = get_str(p, o, "lib", true, &r->lib)) ||
	    (rc = get_str(p, o, "strategy", true, &r->strategy)) ||
	    (rc = get_uint(p, o, "calls", true, UINT64_MAX, &r->calls)) ||
	    (rc = get_bool(p, o, "armed", true, &r->armed)) ||
	    (rc = get_addr(p, o, "addr", r->armed, &r->addr)) ||
	    (rc = get_str(p, o, "spec", false, &r->spec)) ||
	    (rc = get_uint(p, o, "collateral", false, UINT64_MAX, &r->collateral)) ||
	    (rc = parse_pages(p, o, r)) || (rc = parse_per_pid(p, o, r)))
		return rc;
	r->has_collateral = member(o, "collateral") != NULL;
	/* A SPEC never armed that named no LIB is written with "lib":"" (json.c), and the
	 * text sink prints such a row's missing object as "-". */
	if (!r->armed && !r->lib[0])
		r->lib = NULL;
	ev->summary.nrows = 1;
	ev->summary.collateral_column = r->has_collateral;
	return 0;
}

/* {"status":N} for an exit, {"signal":N,"name":"SIG..."} for a death by signal. */
static int parse_exit(struct parse *p, struct json_object *o)
{
	struct event *ev = p->ev;
	uint64_t v;
	int rc;

	if (member(o, "signal")) {
		if ((rc = get_uint(p, o, "signal", true, INT_MAX, &v)))
			return rc;
		if (!v)
			return fail(p, "'signal' is 0");
		ev->exit.signal = (int)v;
		return 0;
	}
	if ((rc = get_uint(p, o, "status", true, INT_MAX, &v)))
		return rc;
	ev->exit.status = (int)v;
	return 0;
}

static const struct {
	const char *name;
	enum event_kind kind;
	bool has_pid;            /* "pid" is required (summary and error may lack it) */
} kinds[] = {
	{ "ready", EVENT_READY, true },
	{ "armed", EVENT_ARMED, true },
	{ "disarmed", EVENT_DISARMED, true },
	{ "exec", EVENT_EXEC, true },
	{ "child", EVENT_CHILD, true },
	{ "call", EVENT_CALL, true },
	{ "summary", EVENT_SUMMARY, false },
	{ "error", EVENT_ERROR, false },
	{ "exit", EVENT_EXIT, true },
};

static int parse_kind(struct parse *p, struct json_object *o)
{
	struct event *ev = p->ev;
	int rc;

	switch (ev->kind) {
	case EVENT_READY:
		return parse_ready(p, o);
	case EVENT_ARMED:
	case EVENT_DISARMED:
		if ((rc = parse_hook(p, o, &ev->hook.hook)))
			return rc;
		if (ev->kind == EVENT_DISARMED)
			return get_str(p, o, "why", true, &ev->hook.why);
		return 0;
	case EVENT_EXEC:
		return get_str(p, o, "path", true, &ev->exec.path);
	case EVENT_CHILD:
		return get_pid(p, o, "child", true, &ev->child.child);
	case EVENT_CALL:
		return parse_call(p, o);
	case EVENT_SUMMARY:
		return parse_summary(p, o);
	case EVENT_ERROR:
		return get_str(p, o, "message", true, &ev->error.message);
	case EVENT_EXIT:
		return parse_exit(p, o);
	}
	return fail(p, "kind %d has no reader", (int)ev->kind);
}

int event_parse_object(struct json_object *obj, struct event *ev, char *err, size_t errlen)
{
	struct parse p = { .ev = ev, .err = err, .errlen = errlen, .where = "" };
	struct json_object *v;
	size_t k;
	int rc;

	memset(ev, 0, sizeof(*ev));
	if (err && errlen)
		err[0] = '\0';
	if (!json_object_is_type(obj, json_type_object))
		return fail(&p, "not a JSON object");
	if (!(v = member(obj, "event")))
		return fail(&p, "'event' is missing");
	if (!json_object_is_type(v, json_type_string))
		return fail(&p, "'event' is not a string");
	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		if (!strcmp(json_object_get_string(v), kinds[k].name))
			break;
	if (k == sizeof(kinds) / sizeof(kinds[0]))
		return EVENT_PARSE_UNKNOWN;
	ev->kind = kinds[k].kind;
	rc = get_pid(&p, obj, "pid", kinds[k].has_pid, &ev->pid);
	if (!rc && ev->kind != EVENT_CALL)
		rc = get_uint(&p, obj, "ts_ns", false, UINT64_MAX, &ev->ts_ns);
	if (!rc)
		rc = parse_kind(&p, obj);
	if (rc) {
		event_free(ev);
		memset(ev, 0, sizeof(*ev));
	}
	return rc;
}

int event_parse_json(const char *line, size_t len, struct event *ev, char *err, size_t errlen)
{
	struct parse p = { .ev = ev, .err = err, .errlen = errlen, .where = "" };
	struct json_tokener *tok;
	struct json_object *obj;
	int rc;

	memset(ev, 0, sizeof(*ev));
	if (!line)
		return fail(&p, "no line");
	if (len > INT_MAX)
		return fail(&p, "a line of %zu bytes is too long", len);
	if (!(tok = json_tokener_new()))
		return no_memory(&p);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, line, (int)len);
	size_t end = json_tokener_get_parse_end(tok);
	/* A bare number or literal is complete only once the input is known to end: say so
	 * with a NUL, so that "42" is refused as not an object rather than as cut short. */
	if (!obj && json_tokener_get_error(tok) == json_tokener_continue) {
		obj = json_tokener_parse_ex(tok, "", 1);
		end = len;
	}
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	json_tokener_free(tok);
	if (jerr != json_tokener_success) {
		json_object_put(obj);
		return fail(&p, "not JSON: %s", json_tokener_error_desc(jerr));
	}
	if (end > len)
		end = len;
	for (size_t i = end; i < len; i++)
		if (!strchr(" \t\r\n", line[i]) || !line[i]) {
			json_object_put(obj);
			return fail(&p, "not JSON: more after the object (offset %zu)", i);
		}
	if (!obj)
		return fail(&p, "not a JSON object: null");
	rc = event_parse_object(obj, ev, err, errlen);
	json_object_put(obj);
	return rc;
}

int event_parse_hook(struct json_object *obj, struct event *ev, struct event_hook *h,
		     char *err, size_t errlen)
{
	struct parse p = { .ev = ev, .err = err, .errlen = errlen, .where = "" };
	int rc;

	memset(h, 0, sizeof(*h));
	if (!json_object_is_type(obj, json_type_object))
		rc = fail(&p, "the hook is not a JSON object");
	else
		rc = parse_hook(&p, obj, h);
	/* A caller that goes on after a failure prints empty strings, never a NULL. */
	if (rc)
		*h = (struct event_hook){ .func = "", .lib = "", .spec = "", .strategy = "",
					  .shared_with = "" };
	return rc;
}
