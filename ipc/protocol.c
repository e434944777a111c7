/*
 * Requests (see protocol.h). Each operation is a small function over a parsed object:
 * read and check its fields, check access, call the backend, and the reply is built
 * around what it added. The JSON parser is json-c in strict mode, with a depth limit, and
 * a line must hold exactly one object.
 */
#include "ipc/protocol.h"

#include <errno.h>
#include <json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/filter.h"
#include "sinks/utf8.h"

#define PROTO_MAX_DEPTH 16
#define PROTO_MAX_ID (INT64_C(1) << 53)

static const char *const code_names[] = {
	[PROTO_OK] = "ok",
	[PROTO_BAD_REQUEST] = "bad_request",
	[PROTO_UNKNOWN_OP] = "unknown_op",
	[PROTO_DENIED] = "denied",
	[PROTO_NO_SUCH_PROCESS] = "no_such_process",
	[PROTO_NOT_FOUND] = "not_found",
	[PROTO_BUSY] = "busy",
	[PROTO_TOO_BIG] = "too_big",
	[PROTO_INTERNAL] = "internal",
	[PROTO_CANNOT_HOOK] = "cannot_hook",
};

const char *proto_code_name(enum proto_code code)
{
	if ((unsigned)code >= sizeof(code_names) / sizeof(code_names[0]))
		return "internal";
	return code_names[code];
}

static struct json_object *new_object(void)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		abort(); /* a reply is owed and cannot be made */
	return o;
}

static void put(struct json_object *o, const char *key, struct json_object *v)
{
	if (json_object_object_add(o, key, v) < 0)
		abort();
}

static struct json_object *id_value(int64_t id)
{
	return id < 0 ? NULL : json_object_new_int64(id);
}

static struct json_object *verror(int64_t id, enum proto_code code, const char *fmt, va_list ap)
{
	char msg[1024];
	struct json_object *r = new_object();

	vsnprintf(msg, sizeof(msg), fmt, ap);
	utf8_clean(msg);
	put(r, "id", id_value(id));
	put(r, "ok", json_object_new_boolean(0));
	put(r, "code", json_object_new_string(proto_code_name(code)));
	put(r, "error", json_object_new_string(msg));
	return r;
}

struct json_object *proto_error(int64_t id, enum proto_code code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	struct json_object *r = verror(id, code, fmt, ap);
	va_end(ap);
	return r;
}

/* One request being handled. */
struct request {
	const struct backend_ops *b;
	const struct proto_host *h;
	struct proto_client *c;
	struct json_object *obj;
	int64_t id;
	struct json_object *reply; /* ok:true so far, results added to it */
	char err[1024];
};

/* ---- fields -------------------------------------------------------------------------- */

/* The request's op, for messages. */
static const char *op_name(struct request *rq)
{
	struct json_object *v;

	if (!json_object_object_get_ex(rq->obj, "op", &v) || !json_object_is_type(v, json_type_string))
		return "a request";
	return json_object_get_string(v);
}

/* The field, or NULL when it is absent or null. */
static struct json_object *field(struct request *rq, const char *name)
{
	struct json_object *v;

	if (!json_object_object_get_ex(rq->obj, name, &v) || json_object_is_type(v, json_type_null))
		return NULL;
	return v;
}

static int need_pid(struct request *rq, pid_t *pid)
{
	struct json_object *v = field(rq, "pid");
	int64_t n;

	if (!v) {
		snprintf(rq->err, sizeof(rq->err), "'%s' needs a 'pid'", op_name(rq));
		return PROTO_BAD_REQUEST;
	}
	n = json_object_get_int64(v);
	if (!json_object_is_type(v, json_type_int) || n <= 0 || n > 0x7fffffff) {
		snprintf(rq->err, sizeof(rq->err), "'pid' must be a process id (a positive integer)");
		return PROTO_BAD_REQUEST;
	}
	*pid = (pid_t)n;
	return PROTO_OK;
}

static int need_string(struct request *rq, const char *name, bool required, const char **out)
{
	struct json_object *v = field(rq, name);

	*out = NULL;
	if (!v) {
		if (!required)
			return PROTO_OK;
		snprintf(rq->err, sizeof(rq->err), "'%s' needs a '%s'",
			 op_name(rq), name);
		return PROTO_BAD_REQUEST;
	}
	if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0 ||
	    strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v)) {
		snprintf(rq->err, sizeof(rq->err), "'%s' must be a non-empty string", name);
		return PROTO_BAD_REQUEST;
	}
	*out = json_object_get_string(v);
	return PROTO_OK;
}

static int need_bool(struct request *rq, const char *name, bool *out)
{
	struct json_object *v = field(rq, name);

	*out = false;
	if (!v)
		return PROTO_OK;
	if (!json_object_is_type(v, json_type_boolean)) {
		snprintf(rq->err, sizeof(rq->err), "'%s' must be true or false", name);
		return PROTO_BAD_REQUEST;
	}
	*out = json_object_get_boolean(v);
	return PROTO_OK;
}

static int need_int(struct request *rq, const char *name, int lo, int hi, int *out)
{
	struct json_object *v = field(rq, name);
	int64_t n;

	if (!v)
		return PROTO_OK;
	n = json_object_get_int64(v);
	if (!json_object_is_type(v, json_type_int) || n < lo || n > hi) {
		snprintf(rq->err, sizeof(rq->err), "'%s' must be an integer from %d to %d", name,
			 lo, hi);
		return PROTO_BAD_REQUEST;
	}
	*out = (int)n;
	return PROTO_OK;
}

/* The client may trace pid, or the reason why not. */
static int access_to(struct request *rq, pid_t pid)
{
	int ok = rq->h->may_trace(rq->c, pid);

	if (ok < 0) {
		snprintf(rq->err, sizeof(rq->err), "no process with pid %d", (int)pid);
		return PROTO_NO_SUCH_PROCESS;
	}
	if (!ok) {
		snprintf(rq->err, sizeof(rq->err), "uid %u may not trace pid %d (the kernel "
			 "refuses it ptrace access to that process)", (unsigned)rq->c->peer.uid,
			 (int)pid);
		return PROTO_DENIED;
	}
	return PROTO_OK;
}

/* ---- operations ------------------------------------------------------------------------ */

static int op_attach(struct request *rq)
{
	pid_t pid;
	int rc;

	if ((rc = need_pid(rq, &pid)) || (rc = access_to(rq, pid)))
		return rc;
	return rq->b->attach(rq->c->id, pid, rq->reply, rq->err, sizeof(rq->err));
}

static int op_detach(struct request *rq)
{
	pid_t pid;
	int rc;

	if ((rc = need_pid(rq, &pid)) || (rc = access_to(rq, pid)))
		return rc;
	return rq->b->detach(rq->c->id, pid, rq->reply, rq->err, sizeof(rq->err));
}

static int op_hook(struct request *rq)
{
	struct hook_request hr = { .strategy = "swbp" };
	const char *strategy;
	int rc;

	if ((rc = need_pid(rq, &hr.pid)) || (rc = need_string(rq, "spec", true, &hr.spec)) ||
	    (rc = need_string(rq, "strategy", false, &strategy)) ||
	    (rc = need_bool(rq, "pending", &hr.pending)) || (rc = need_bool(rq, "keep", &hr.keep)))
		return rc;
	if (strategy) {
		if (!rq->b->has_strategy(strategy)) {
			snprintf(rq->err, sizeof(rq->err), "unknown strategy '%.64s' (see hello)",
				 strategy);
			return PROTO_BAD_REQUEST;
		}
		hr.strategy = strategy;
	}
	if (strlen(hr.spec) > 1024) {
		snprintf(rq->err, sizeof(rq->err), "'spec' is longer than 1024 bytes");
		return PROTO_BAD_REQUEST;
	}
	if ((rc = access_to(rq, hr.pid)))
		return rc;
	return rq->b->hook(rq->c->id, &hr, rq->reply, rq->err, sizeof(rq->err));
}

static int op_unhook(struct request *rq)
{
	const char *spec;
	pid_t pid;
	int rc;

	if ((rc = need_pid(rq, &pid)) || (rc = need_string(rq, "spec", true, &spec)) ||
	    (rc = access_to(rq, pid)))
		return rc;
	return rq->b->unhook(rq->c->id, pid, spec, rq->reply, rq->err, sizeof(rq->err));
}

/* Keeps the entries of array whose "pid" the client may trace. */
static struct json_object *visible_only(struct request *rq, struct json_object *all)
{
	struct json_object *out = json_object_new_array();

	if (!out)
		abort();
	for (size_t i = 0, n = json_object_array_length(all); i < n; i++) {
		struct json_object *e = json_object_array_get_idx(all, i), *pid;
		if (!json_object_object_get_ex(e, "pid", &pid) ||
		    rq->h->may_trace(rq->c, (pid_t)json_object_get_int(pid)) != 1)
			continue;
		json_object_array_add(out, json_object_get(e));
	}
	json_object_put(all);
	return out;
}

static int op_list(struct request *rq)
{
	struct json_object *all = json_object_new_array();
	int rc;

	if (!all)
		abort();
	rc = rq->b->list(all, rq->err, sizeof(rq->err));
	if (rc) {
		json_object_put(all);
		return rc;
	}
	put(rq->reply, "targets", visible_only(rq, all));
	return PROTO_OK;
}

static int op_symbols(struct request *rq)
{
	const char *glob;
	int limit = 1000, rc;
	pid_t pid;

	if ((rc = need_pid(rq, &pid)) || (rc = need_string(rq, "glob", true, &glob)) ||
	    (rc = need_int(rq, "limit", 1, PROTO_MAX_SYMBOLS, &limit)) ||
	    (rc = access_to(rq, pid)))
		return rc;
	return rq->b->symbols(pid, glob, limit, rq->reply, rq->err, sizeof(rq->err));
}

static int op_subscribe(struct request *rq)
{
	struct filter f;

	if (filter_parse(rq->obj, &f, rq->err, sizeof(rq->err)) < 0)
		return PROTO_BAD_REQUEST;
	/* Naming a process one may not see is refused, rather than silently empty. */
	for (int i = 0; i < f.npids; i++) {
		int rc = access_to(rq, f.pids[i]);
		if (rc) {
			filter_free(&f);
			return rc;
		}
	}
	rq->h->subscribe(rq->c, &f);
	return PROTO_OK;
}

static int op_unsubscribe(struct request *rq)
{
	rq->h->subscribe(rq->c, NULL);
	return PROTO_OK;
}

static int op_stats(struct request *rq)
{
	struct json_object *hooks = json_object_new_array(), *clients = json_object_new_array();
	int rc;

	if (!hooks || !clients)
		abort();
	rc = rq->b->hook_stats(hooks, rq->err, sizeof(rq->err));
	if (rc) {
		json_object_put(hooks);
		json_object_put(clients);
		return rc;
	}
	rq->h->client_stats(rq->c, clients);
	put(rq->reply, "client", json_object_new_int(rq->c->id));
	put(rq->reply, "hooks", visible_only(rq, hooks));
	put(rq->reply, "clients", clients);
	return PROTO_OK;
}

static const struct {
	const char *name;
	int (*fn)(struct request *rq);
} ops[] = {
	{ "attach", op_attach },
	{ "detach", op_detach },
	{ "hook", op_hook },
	{ "unhook", op_unhook },
	{ "list", op_list },
	{ "symbols", op_symbols },
	{ "subscribe", op_subscribe },
	{ "unsubscribe", op_unsubscribe },
	{ "stats", op_stats },
};

/* ---- a line ----------------------------------------------------------------------------- */

static struct json_object *parse_line(const char *line, size_t len, char *err, size_t errlen)
{
	struct json_tokener *tok = json_tokener_new_ex(PROTO_MAX_DEPTH);
	struct json_object *obj;

	if (!tok)
		abort();
	/* Valid UTF-8 only: every string a reply echoes is then valid too. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, line, (int)len);
	enum json_tokener_error e = json_tokener_get_error(tok);
	if (e == json_tokener_continue) {
		snprintf(err, errlen, "not JSON: the line ends inside a value");
	} else if (e != json_tokener_success) {
		snprintf(err, errlen, "not JSON: %s at byte %zu", json_tokener_error_desc(e),
			 json_tokener_get_parse_end(tok));
	} else if (json_tokener_get_parse_end(tok) != len &&
		   strspn(line + json_tokener_get_parse_end(tok), " \t\r") !=
			   len - json_tokener_get_parse_end(tok)) {
		snprintf(err, errlen, "more than one JSON value on the line");
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	return obj;
}

/* The request's id, checked against the connection's previous one. */
static int read_id(struct request *rq)
{
	struct json_object *v = field(rq, "id");

	if (!v) {
		snprintf(rq->err, sizeof(rq->err), "a request needs an 'id'");
		return PROTO_BAD_REQUEST;
	}
	int64_t id = json_object_get_int64(v);
	if (!json_object_is_type(v, json_type_int) || id < 0 || id > PROTO_MAX_ID) {
		snprintf(rq->err, sizeof(rq->err), "'id' must be an integer from 0 to 2^53");
		return PROTO_BAD_REQUEST;
	}
	rq->id = id;
	if (id <= rq->c->last_id) {
		snprintf(rq->err, sizeof(rq->err), "id %lld is not above the previous one (%lld): "
			 "each request needs a new, larger id", (long long)id,
			 (long long)rq->c->last_id);
		return PROTO_BAD_REQUEST;
	}
	rq->c->last_id = id;
	return PROTO_OK;
}

struct json_object *proto_handle(const struct backend_ops *b, const struct proto_host *h,
				 struct proto_client *c, const char *line, size_t len)
{
	struct request rq = { .b = b, .h = h, .c = c, .id = -1 };
	const char *op;
	int rc;

	if (len > PROTO_MAX_LINE)
		return proto_error(-1, PROTO_TOO_BIG, "the request is longer than %d bytes",
				   PROTO_MAX_LINE);
	if (memchr(line, 0, len))
		return proto_error(-1, PROTO_BAD_REQUEST, "not JSON: the line holds a NUL byte");
	if (!utf8_valid(line, len))
		return proto_error(-1, PROTO_BAD_REQUEST, "not UTF-8: requests are UTF-8 text");
	rq.obj = parse_line(line, len, rq.err, sizeof(rq.err));
	if (!rq.obj) /* json-c's null is a NULL object: no error, and no request either */
		return proto_error(-1, PROTO_BAD_REQUEST, "%s",
				   rq.err[0] ? rq.err : "a request is a JSON object, not null");
	if (!json_object_is_type(rq.obj, json_type_object)) {
		json_object_put(rq.obj);
		return proto_error(-1, PROTO_BAD_REQUEST, "a request is a JSON object");
	}
	rc = read_id(&rq);
	if (rc)
		goto fail;
	if ((rc = need_string(&rq, "op", true, &op)))
		goto fail;
	rc = PROTO_UNKNOWN_OP;
	snprintf(rq.err, sizeof(rq.err), "unknown op '%.64s' (attach, detach, hook, unhook, list, "
		 "symbols, subscribe, unsubscribe, stats)", op);
	rq.reply = new_object();
	put(rq.reply, "id", id_value(rq.id));
	put(rq.reply, "ok", json_object_new_boolean(1));
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (strcmp(ops[i].name, op))
			continue;
		rq.err[0] = 0;
		rc = ops[i].fn(&rq);
		break;
	}
	if (rc == PROTO_OK) {
		json_object_put(rq.obj);
		return rq.reply;
	}
	json_object_put(rq.reply);
fail:
	json_object_put(rq.obj);
	return proto_error(rq.id, rc, "%s", rq.err[0] ? rq.err : "failed");
}
