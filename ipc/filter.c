/*
 * Subscriptions (see filter.h). A call is matched by its interned name, so a run of calls
 * of one function costs one pointer compare after the first glob match.
 */
#include "ipc/filter.h"

#include <errno.h>
#include <fnmatch.h>
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FILTER_MAX_ITEMS 4096

static const char *const kind_names[] = {
	[EVENT_READY] = "ready",
	[EVENT_ARMED] = "armed",
	[EVENT_DISARMED] = "disarmed",
	[EVENT_EXEC] = "exec",
	[EVENT_CHILD] = "child",
	[EVENT_CALL] = "call",
	[EVENT_SUMMARY] = "summary",
	[EVENT_ERROR] = "error",
	[EVENT_EXIT] = "exit",
};

const char *filter_kind_name(enum event_kind kind)
{
	if ((unsigned)kind >= sizeof(kind_names) / sizeof(kind_names[0]))
		return NULL;
	return kind_names[kind];
}

static int kind_of(const char *name)
{
	for (unsigned k = 0; k < sizeof(kind_names) / sizeof(kind_names[0]); k++)
		if (kind_names[k] && !strcmp(kind_names[k], name))
			return (int)k;
	return -1;
}

/* The array field name of req, or NULL when absent; -EINVAL when not an array. */
static int array_field(struct json_object *req, const char *name, struct json_object **out,
		       char *err, size_t errlen)
{
	*out = NULL;
	if (!json_object_object_get_ex(req, name, out) || json_object_is_type(*out, json_type_null)) {
		*out = NULL;
		return 0;
	}
	if (!json_object_is_type(*out, json_type_array)) {
		snprintf(err, errlen, "'%s' must be a list", name);
		return -EINVAL;
	}
	if (json_object_array_length(*out) > FILTER_MAX_ITEMS) {
		snprintf(err, errlen, "'%s' has more than %d items", name, FILTER_MAX_ITEMS);
		return -EINVAL;
	}
	return 0;
}

static int parse_pids(struct json_object *a, struct filter *f, char *err, size_t errlen)
{
	size_t n = json_object_array_length(a);

	f->pids = calloc(n + 1, sizeof(*f->pids));
	if (!f->pids)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(a, i);
		int64_t pid = json_object_get_int64(v);
		if (!json_object_is_type(v, json_type_int) || pid <= 0 || pid > 0x7fffffff) {
			snprintf(err, errlen, "'pids' must hold process ids (item %zu)", i);
			return -EINVAL;
		}
		f->pids[f->npids++] = (pid_t)pid;
	}
	return 0;
}

static int parse_funcs(struct json_object *a, struct filter *f, char *err, size_t errlen)
{
	size_t n = json_object_array_length(a);

	f->funcs = calloc(n + 1, sizeof(*f->funcs));
	if (!f->funcs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(a, i);
		if (!json_object_is_type(v, json_type_string) || !json_object_get_string_len(v) ||
		    strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v)) {
			snprintf(err, errlen, "'funcs' must hold names or globs (item %zu)", i);
			return -EINVAL;
		}
		if (!(f->funcs[f->nfuncs] = strdup(json_object_get_string(v))))
			return -ENOMEM;
		f->nfuncs++;
	}
	return 0;
}

static int parse_kinds(struct json_object *a, struct filter *f, char *err, size_t errlen)
{
	f->kinds = 0;
	for (size_t i = 0, n = json_object_array_length(a); i < n; i++) {
		struct json_object *v = json_object_array_get_idx(a, i);
		bool str = json_object_is_type(v, json_type_string) &&
			   strlen(json_object_get_string(v)) == (size_t)json_object_get_string_len(v);
		int k = str ? kind_of(json_object_get_string(v)) : -1;
		if (k < 0) {
			snprintf(err, errlen, "'kinds' item %zu is not an event kind (ready, armed, "
				 "disarmed, exec, child, call, summary, error, exit)", i);
			return -EINVAL;
		}
		f->kinds |= 1u << k;
	}
	return 0;
}

int filter_parse(struct json_object *req, struct filter *f, char *err, size_t errlen)
{
	struct json_object *a, *v;
	int rc;

	memset(f, 0, sizeof(*f));
	f->kinds = FILTER_ALL_KINDS;
	if ((rc = array_field(req, "pids", &a, err, errlen)) < 0 ||
	    (a && (rc = parse_pids(a, f, err, errlen)) < 0) ||
	    (rc = array_field(req, "funcs", &a, err, errlen)) < 0 ||
	    (a && (rc = parse_funcs(a, f, err, errlen)) < 0) ||
	    (rc = array_field(req, "kinds", &a, err, errlen)) < 0 ||
	    (a && (rc = parse_kinds(a, f, err, errlen)) < 0))
		goto fail;
	if (json_object_object_get_ex(req, "summary_ms", &v) && !json_object_is_type(v, json_type_null)) {
		int64_t ms = json_object_get_int64(v);
		if (!json_object_is_type(v, json_type_int) || ms < 10 || ms > 86400000) {
			snprintf(err, errlen, "'summary_ms' must be a number of milliseconds from 10 "
				 "to 86400000");
			rc = -EINVAL;
			goto fail;
		}
		f->summary_ms = (unsigned)ms;
	}
	return 0;
fail:
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	filter_free(f);
	return rc;
}

bool filter_wants_pid(const struct filter *f, pid_t pid)
{
	if (!f->pids)
		return true;
	for (int i = 0; i < f->npids; i++)
		if (f->pids[i] == pid)
			return true;
	return false;
}

bool filter_wants_func(const struct filter *f, const char *func)
{
	if (!f->funcs)
		return true;
	for (int i = 0; i < f->nfuncs; i++)
		if (fnmatch(f->funcs[i], func, 0) == 0)
			return true;
	return false;
}

bool filter_match(struct filter *f, const struct event *ev)
{
	if (!(f->kinds & (1u << ev->kind)) || !filter_wants_pid(f, ev->pid))
		return false;
	switch (ev->kind) {
	case EVENT_CALL:
		if (f->summary_ms)
			return false;
		if (ev->call.func != f->last_func) {
			f->last_func = ev->call.func;
			f->last_match = filter_wants_func(f, ev->call.func);
		}
		return f->last_match;
	case EVENT_ARMED:
	case EVENT_DISARMED:
		return filter_wants_func(f, ev->hook.hook.func);
	default:
		return true;
	}
}

void filter_free(struct filter *f)
{
	for (int i = 0; i < f->nfuncs; i++)
		free(f->funcs[i]);
	free(f->funcs);
	free(f->pids);
	memset(f, 0, sizeof(*f));
}
