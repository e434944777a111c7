/*
 * mhook's one-request commands: detach, list, stats, symbols. Each sends its request,
 * and prints the reply as a table for a person or, with --json, the reply line as mhookd
 * sent it. Replies are read leniently (a missing field prints as "-" or 0), since a table
 * is no place to reject a newer mhookd's answer.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "client/commands.h"

/* Sends req and gives the checked reply (and its raw line, with json), or a status. */
static int ask(struct conn *c, struct json_object *req, struct json_object **reply, bool json)
{
	char *raw = NULL;
	int rc;

	*reply = conn_call(c, req, NULL, NULL, json ? &raw : NULL);
	if (!*reply)
		return MHOOK_EXIT_UNREACHABLE;
	if ((rc = conn_reply_status(*reply, NULL))) {
		json_object_put(*reply);
		*reply = NULL;
	} else if (json) {
		puts(raw);
	}
	free(raw);
	return rc;
}

static int done(void)
{
	if (fflush(stdout) || ferror(stdout)) {
		perror("mhook: writing the answer");
		return MHOOK_EXIT_USAGE;
	}
	return 0;
}

static struct json_object *with_pid(const char *op, pid_t pid)
{
	struct json_object *req = conn_request(op);

	json_object_object_add(req, "pid", json_object_new_int(pid));
	return req;
}

int cmd_detach(struct conn *c, pid_t pid)
{
	struct json_object *reply;
	int rc = ask(c, with_pid("detach", pid), &reply, false);

	if (rc)
		return rc;
	if (field_bool(reply, "detached", false))
		printf("pid %d: detached, its code as it was\n", (int)pid);
	else
		printf("pid %d: this client's hooks and hold are gone; mhookd still traces it "
		       "for others\n", (int)pid);
	json_object_put(reply);
	return done();
}

/* ---- list ------------------------------------------------------------------------------- */

static void list_hook(struct json_object *h)
{
	printf("%10" PRId64 "  %-24s %-20s %-18s %-8s  %-7s  %7" PRId64 "  %s%s\n",
	       field_int(h, "calls", 0), field_str(h, "func", "-"), field_str(h, "lib", "-"),
	       field_str(h, "addr", "-"), field_str(h, "strategy", "-"),
	       field_str(h, "state", "-"), field_int(h, "clients", 0),
	       field_str(h, "spec", "-"), field_bool(h, "keep", false) ? " (keep)" : "");
}

int cmd_list(struct conn *c, bool json)
{
	struct json_object *reply, *targets;
	int rc = ask(c, conn_request("list"), &reply, json);

	if (rc)
		return rc;
	if (json) {
		json_object_put(reply);
		return done();
	}
	targets = field_array(reply, "targets");
	size_t n = targets ? json_object_array_length(targets) : 0;
	if (!n)
		puts("no traced process that this user may see");
	for (size_t i = 0; i < n; i++) {
		struct json_object *t = json_object_array_get_idx(targets, i);
		struct json_object *hooks = field_array(t, "hooks");
		int64_t holders = field_int(t, "holders", 0);
		size_t nh = hooks ? json_object_array_length(hooks) : 0;

		printf("%spid %" PRId64 "  %s  (%" PRId64 " holder%s)\n", i ? "\n" : "",
		       field_int(t, "pid", 0), field_str(t, "exe", "?"), holders,
		       holders == 1 ? "" : "s");
		if (!nh) {
			puts("  no hooks");
			continue;
		}
		printf("%10s  %-24s %-20s %-18s %-8s  %-7s  %7s  %s\n", "calls", "function",
		       "object", "address", "strategy", "state", "clients", "spec");
		for (size_t k = 0; k < nh; k++)
			list_hook(json_object_array_get_idx(hooks, k));
	}
	json_object_put(reply);
	return done();
}

/* ---- stats ------------------------------------------------------------------------------ */

int cmd_stats(struct conn *c, bool json)
{
	struct json_object *reply, *hooks, *clients;
	int rc = ask(c, conn_request("stats"), &reply, json);

	if (rc)
		return rc;
	if (json) {
		json_object_put(reply);
		return done();
	}
	int64_t me = field_int(reply, "client", -1);
	hooks = field_array(reply, "hooks");
	clients = field_array(reply, "clients");
	size_t nh = hooks ? json_object_array_length(hooks) : 0;
	size_t nc = clients ? json_object_array_length(clients) : 0;

	puts("hooks:");
	if (!nh)
		puts("  none that this user may see");
	else
		printf("  %8s  %10s  %-24s %s\n", "pid", "calls", "function", "spec");
	for (size_t i = 0; i < nh; i++) {
		struct json_object *h = json_object_array_get_idx(hooks, i);
		printf("  %8" PRId64 "  %10" PRId64 "  %-24s %s\n", field_int(h, "pid", 0),
		       field_int(h, "calls", 0), field_str(h, "func", "-"),
		       field_str(h, "spec", "-"));
	}
	puts("clients:");
	if (nc)
		printf("  %6s  %6s  %8s  %10s  %10s  %10s  %10s\n", "client", "uid", "pid",
		       "delivered", "lost", "queued", "limit");
	for (size_t i = 0; i < nc; i++) {
		struct json_object *k = json_object_array_get_idx(clients, i);
		int64_t id = field_int(k, "client", -1);
		printf("  %6" PRId64 "  %6" PRId64 "  %8" PRId64 "  %10" PRId64 "  %10" PRId64
		       "  %10" PRId64 "  %10" PRId64 "%s\n",
		       id, field_int(k, "uid", -1), field_int(k, "pid", 0),
		       field_int(k, "delivered", 0), field_int(k, "lost", 0),
		       field_int(k, "queued", 0), field_int(k, "limit", 0),
		       id == me ? "  (this one)" : "");
	}
	json_object_put(reply);
	return done();
}

/* ---- symbols ------------------------------------------------------------------------------ */

int cmd_symbols(struct conn *c, pid_t pid, const char *glob, bool json)
{
	struct json_object *req = with_pid("symbols", pid), *reply, *syms;
	int rc;

	json_object_object_add(req, "glob", json_object_new_string(glob));
	/* mhookd -l lists every match; the most one reply may hold comes closest. */
	json_object_object_add(req, "limit", json_object_new_int(100000));
	if ((rc = ask(c, req, &reply, json)))
		return rc;
	syms = field_array(reply, "symbols");
	size_t n = syms ? json_object_array_length(syms) : 0;
	for (size_t i = 0; i < n && !json; i++) {
		struct json_object *sym = json_object_array_get_idx(syms, i);
		printf("%s  %s  %" PRId64 "  %s\n", field_str(sym, "lib", "?"),
		       field_str(sym, "addr", "?"), field_int(sym, "size", 0),
		       field_str(sym, "name", "?"));
	}
	rc = done();
	if (!json && !n)
		fprintf(stderr, "mhook: no function matches '%s'\n", glob);
	else if (!json && field_bool(reply, "truncated", false))
		fprintf(stderr, "mhook: the list stops at %zu functions; narrow the glob\n", n);
	json_object_put(reply);
	return rc;
}
