/*
 * Unit tests of sinks/event_parse.h, the reader of mhookd's JSON lines. The truth is the
 * writer: every kind of event is built by hand, written by the JSON sink into memory,
 * read back, and compared field by field (a summary of n rows is n lines, each read as a
 * one-row summary). The examples of docs/protocol.md must read too, and a read call line
 * must print through the text sink as mhookd prints it. Then tables of malformed lines
 * (not JSON, not an object, no "event", wrong types, bad hex) that must give -EINVAL with
 * a reason, and every prefix and many byte-flipped copies of the good lines, which must
 * never crash and, when refused, leave nothing allocated. Prints "N passed, M failed".
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinks/event_parse.h"
#include "sinks/sink.h"
#include "sinks/utf8.h"
#include "tests/libmhook/check.h"

/* NULL and "" are the same to the JSON form. */
static bool same_str(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

/* ---- the events to write and read back ------------------------------------------------- */

static struct event_hook hooks[] = {
	{ "malloc", "libc.so.6", "malloc", "swbp", "", 0x7f8a1c0a3930ull },
	{ "memcpy", "libc.so.6", "libc:memcpy", "hwbp", "memmove", 0x7f8a1c0b0000ull },
	{ "0x401136", "exe", "0x401136", "nx", "", 0x401136 },
};
static struct event_pending pendings[] = {
	{ "sqlite3_step", "no loaded object defines it (close: sqlite3_stmt)" },
	{ "lib\"q\":f\\n", "a why with \"quotes\", a\ttab and a\nnewline" },
};
static struct event_pid_count per_pid3[] = { { 1234, 600 }, { 1240, 70 }, { 1, 6 } };
static struct event_pid_count per_pid1[] = { { 1234, 5 } };
static struct event_row rows[] = {
	{ .func = "malloc", .lib = "libc.so.6", .strategy = "swbp", .spec = "malloc",
	  .addr = 0x7f8a1c0a3930ull, .calls = 676, .armed = true, .per_pid = per_pid3,
	  .nper_pid = 3 },
	{ .func = "f", .lib = "libx.so", .strategy = "nx", .spec = "f", .addr = 0x1000,
	  .calls = 5, .collateral = 1234567, .armed = true, .has_collateral = true,
	  .page = 0x1000, .page_collateral = 2345678, .per_pid = per_pid1, .nper_pid = 1 },
	{ .func = "g", .lib = "liby.so", .strategy = "swbp", .spec = "g", .addr = UINT64_MAX,
	  .calls = UINT64_MAX, .armed = true },
	{ .func = "plugin_fn", .lib = NULL, .strategy = "swbp", .spec = "plugin_fn+0x4",
	  .armed = false },
	{ .func = "h", .lib = "libplugin", .strategy = "hwbp", .spec = "libplugin:h",
	  .armed = false },
};

static struct event ev_ready(void)
{
	struct event ev = { .kind = EVENT_READY, .pid = 1234 };

	ev.ready.hooks = hooks;
	ev.ready.nhooks = 3;
	ev.ready.pending = pendings;
	ev.ready.npending = 2;
	return ev;
}

static struct event ev_ready_empty(void)
{
	return (struct event){ .kind = EVENT_READY, .pid = 1 };
}

static struct event ev_armed(void)
{
	struct event ev = { .kind = EVENT_ARMED, .pid = 1234 };

	ev.hook.hook = hooks[1];
	return ev;
}

static struct event ev_disarmed(void)
{
	struct event ev = { .kind = EVENT_DISARMED, .pid = 0x7fffffff };

	ev.hook.hook = hooks[0];
	ev.hook.why = "its object was unloaded; armed again if it comes back";
	return ev;
}

static struct event ev_exec(void)
{
	struct event ev = { .kind = EVENT_EXEC, .pid = 1234 };

	/* Paths are bytes, not always UTF-8: the JSON line stays UTF-8, with each bad byte
	 * written as \xNN (utf8_escape), and everything else comes back as it went. */
	ev.exec.path = "/opt/caf\xc3\xa9/b\xff\xfein \x01\x1f\"\\";
	return ev;
}

static struct event ev_child(void)
{
	struct event ev = { .kind = EVENT_CHILD, .pid = 1234 };

	ev.child.child = 1240;
	return ev;
}

static struct event ev_call(void)
{
	struct event ev = { .kind = EVENT_CALL, .pid = 1234, .ts_ns = 885597406025ull };
	const uint64_t args[] = { 0x20, 0, 0x7ffd5c8a1e40ull, UINT64_MAX, 1, 0xabcdef };

	ev.call.tid = 1236;
	ev.call.func = "malloc";
	ev.call.addr = 0x7f8a1c0a3930ull;
	ev.call.nargs = 6;
	memcpy(ev.call.args, args, sizeof(args));
	return ev;
}

static struct event ev_call_noargs(void)
{
	struct event ev = { .kind = EVENT_CALL, .pid = 1, .ts_ns = UINT64_MAX };

	ev.call.tid = 2;
	ev.call.func = "0x401136";
	ev.call.addr = 0x401136;
	return ev;
}

static struct event ev_summary(void)
{
	struct event ev = { .kind = EVENT_SUMMARY, .pid = 1234 };

	ev.summary.rows = rows;
	ev.summary.nrows = sizeof(rows) / sizeof(rows[0]);
	ev.summary.collateral_column = true;
	return ev;
}

static struct event ev_error(void)
{
	struct event ev = { .kind = EVENT_ERROR, .pid = 1234 };

	ev.error.message = "pid 1234 executed a new program; \"its hooks\" went \\ with it\n";
	return ev;
}

static struct event ev_exit(void)
{
	struct event ev = { .kind = EVENT_EXIT, .pid = 1234 };

	ev.exit.status = 3;
	return ev;
}

static struct event ev_killed(void)
{
	struct event ev = { .kind = EVENT_EXIT, .pid = 1234 };

	ev.exit.signal = 9;
	return ev;
}

static const struct {
	const char *name;
	struct event (*make)(void);
} round_trips[] = {
	{ "ready", ev_ready },
	{ "ready, nothing hooked", ev_ready_empty },
	{ "armed", ev_armed },
	{ "disarmed", ev_disarmed },
	{ "exec", ev_exec },
	{ "child", ev_child },
	{ "call", ev_call },
	{ "call, no args", ev_call_noargs },
	{ "summary", ev_summary },
	{ "error", ev_error },
	{ "exit", ev_exit },
	{ "exit by signal", ev_killed },
};

/* ---- comparing ------------------------------------------------------------------------- */

static void same_hook(const char *name, const struct event_hook *a, const struct event_hook *b)
{
	CHECK(same_str(a->func, b->func), "%s: func '%s' != '%s'", name, b->func, a->func);
	CHECK(same_str(a->lib, b->lib), "%s: lib '%s' != '%s'", name, b->lib, a->lib);
	CHECK(same_str(a->spec, b->spec), "%s: spec '%s' != '%s'", name, b->spec, a->spec);
	CHECK(same_str(a->strategy, b->strategy), "%s: strategy '%s'", name, b->strategy);
	CHECK(same_str(a->shared_with, b->shared_with), "%s: shared_with '%s'", name,
	      b->shared_with);
	CHECK(b->shared_with != NULL, "%s: shared_with NULL (the sinks read it)", name);
	CHECK(a->addr == b->addr, "%s: addr 0x%" PRIx64 " != 0x%" PRIx64, name, b->addr, a->addr);
}

static void same_row(const char *name, const struct event_row *a, const struct event_row *b)
{
	CHECK(same_str(a->func, b->func), "%s: func '%s'", name, b->func);
	CHECK(same_str(a->lib, b->lib), "%s: lib '%s'", name, b->lib ? b->lib : "(null)");
	CHECK(same_str(a->strategy, b->strategy), "%s: strategy '%s'", name, b->strategy);
	CHECK(a->armed == b->armed, "%s: armed %d", name, b->armed);
	if (!a->armed) {
		CHECK(same_str(a->spec, b->spec), "%s: spec '%s'", name, b->spec);
		CHECK(b->calls == 0, "%s: calls %" PRIu64, name, b->calls);
		CHECK(b->lib == NULL || b->lib[0], "%s: an empty lib must read as none", name);
		return;
	}
	CHECK(a->calls == b->calls, "%s: calls %" PRIu64, name, b->calls);
	CHECK(a->addr == b->addr, "%s: addr 0x%" PRIx64, name, b->addr);
	CHECK(a->has_collateral == b->has_collateral, "%s: has_collateral %d", name,
	      b->has_collateral);
	if (a->has_collateral)
		CHECK(a->collateral == b->collateral, "%s: collateral %" PRIu64, name,
		      b->collateral);
	CHECK(a->page == b->page && a->page_collateral == b->page_collateral,
	      "%s: page 0x%" PRIx64 " with %" PRIu64 " collateral", name, b->page,
	      b->page_collateral);
	CHECK(a->nper_pid == b->nper_pid, "%s: nper_pid %d != %d", name, b->nper_pid,
	      a->nper_pid);
	for (int k = 0; k < a->nper_pid && k < b->nper_pid; k++)
		CHECK(a->per_pid[k].pid == b->per_pid[k].pid &&
			      a->per_pid[k].calls == b->per_pid[k].calls,
		      "%s: per_pid[%d] = %d:%" PRIu64, name, k, (int)b->per_pid[k].pid,
		      b->per_pid[k].calls);
}

static void same_event(const char *name, const struct event *a, const struct event *b)
{
	CHECK(a->kind == b->kind, "%s: kind %d != %d", name, (int)b->kind, (int)a->kind);
	CHECK(a->pid == b->pid, "%s: pid %d != %d", name, (int)b->pid, (int)a->pid);
	if (a->kind != b->kind)
		return;
	switch (a->kind) {
	case EVENT_READY:
		CHECK(a->ready.nhooks == b->ready.nhooks, "%s: nhooks %d", name, b->ready.nhooks);
		CHECK(a->ready.npending == b->ready.npending, "%s: npending %d", name,
		      b->ready.npending);
		for (int i = 0; i < a->ready.nhooks && i < b->ready.nhooks; i++)
			same_hook(name, &a->ready.hooks[i], &b->ready.hooks[i]);
		for (int i = 0; i < a->ready.npending && i < b->ready.npending; i++) {
			CHECK(same_str(a->ready.pending[i].spec, b->ready.pending[i].spec),
			      "%s: pending spec '%s'", name, b->ready.pending[i].spec);
			CHECK(same_str(a->ready.pending[i].why, b->ready.pending[i].why),
			      "%s: pending why '%s'", name, b->ready.pending[i].why);
		}
		break;
	case EVENT_ARMED:
	case EVENT_DISARMED:
		same_hook(name, &a->hook.hook, &b->hook.hook);
		if (a->kind == EVENT_DISARMED)
			CHECK(same_str(a->hook.why, b->hook.why), "%s: why '%s'", name, b->hook.why);
		break;
	case EVENT_EXEC:
		{
			char *want = utf8_escape(a->exec.path);
			CHECK(same_str(want, b->exec.path), "%s: path '%s'", name, b->exec.path);
			free(want);
		}
		break;
	case EVENT_CHILD:
		CHECK(a->child.child == b->child.child, "%s: child %d", name, (int)b->child.child);
		break;
	case EVENT_CALL:
		CHECK(a->call.tid == b->call.tid, "%s: tid %d", name, (int)b->call.tid);
		CHECK(same_str(a->call.func, b->call.func), "%s: func '%s'", name, b->call.func);
		CHECK(a->call.addr == b->call.addr, "%s: addr 0x%" PRIx64, name, b->call.addr);
		CHECK(a->ts_ns == b->ts_ns, "%s: ts_ns %" PRIu64, name, b->ts_ns);
		CHECK(a->call.nargs == b->call.nargs, "%s: nargs %d", name, b->call.nargs);
		for (int i = 0; i < a->call.nargs && i < b->call.nargs; i++)
			CHECK(a->call.args[i] == b->call.args[i], "%s: args[%d] 0x%" PRIx64, name, i,
			      b->call.args[i]);
		break;
	case EVENT_SUMMARY:
		break; /* row by row, by the caller */
	case EVENT_ERROR:
		CHECK(same_str(a->error.message, b->error.message), "%s: message '%s'", name,
		      b->error.message);
		break;
	case EVENT_EXIT:
		CHECK(a->exit.status == b->exit.status && a->exit.signal == b->exit.signal,
		      "%s: status %d signal %d", name, b->exit.status, b->exit.signal);
		break;
	}
}

/* What the JSON sink writes for ev. Freed by the caller. */
static char *write_json(const struct event *ev, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	struct sink *k = f ? sink_json_new(f, false) : NULL;

	if (!k) {
		if (f)
			fclose(f);
		free(buf);
		return NULL;
	}
	k->show_exits = true; /* as the socket's sink has it */
	k->ops->emit(k, ev);
	k->ops->close(k);
	fclose(f);
	return buf;
}

/* The good lines, kept for the prefix and mutation tests. */
static char *good[64];
static size_t good_len[64];
static int ngood;

static void keep_good(const char *line, size_t len)
{
	if (ngood < (int)(sizeof(good) / sizeof(good[0])) && (good[ngood] = malloc(len))) {
		memcpy(good[ngood], line, len);
		good_len[ngood++] = len;
	}
}

static void test_round_trips(void)
{
	char err[256];

	for (size_t t = 0; t < sizeof(round_trips) / sizeof(round_trips[0]); t++) {
		const char *name = round_trips[t].name;
		struct event want = round_trips[t].make();
		size_t len;
		char *json = write_json(&want, &len);

		CHECK(json != NULL, "%s: the JSON sink wrote nothing", name);
		if (!json)
			continue;
		/* One line per event, one per row for a summary. */
		int row = 0;
		for (char *line = json, *nl; line < json + len; line = nl + 1, row++) {
			struct event got;
			nl = memchr(line, '\n', (size_t)(json + len - line));
			CHECK(nl != NULL, "%s: a line without its newline", name);
			if (!nl)
				break;
			size_t n = (size_t)(nl + 1 - line);
			keep_good(line, n);
			int rc = event_parse_json(line, n, &got, err, sizeof(err));
			CHECK(rc == 0, "%s: rc %d (%s) for %.*s", name, rc, err, (int)n, line);
			if (rc)
				continue;
			same_event(name, &want, &got);
			if (want.kind == EVENT_SUMMARY) {
				CHECK(got.summary.nrows == 1, "%s: nrows %d", name, got.summary.nrows);
				if (got.summary.nrows == 1 && row < want.summary.nrows) {
					same_row(name, &want.summary.rows[row], &got.summary.rows[0]);
					CHECK(got.summary.collateral_column ==
						      got.summary.rows[0].has_collateral,
					      "%s: collateral column", name);
				}
			}
			event_free(&got);
			CHECK(got.owned == NULL, "%s: event_free left memory", name);
		}
		if (want.kind == EVENT_SUMMARY)
			CHECK(row == want.summary.nrows, "%s: %d lines for %d rows", name, row,
			      want.summary.nrows);
		else
			CHECK(row == 1, "%s: %d lines", name, row);
		free(json);
	}
}

/* ---- the lines of docs/protocol.md, and others as mhookd may write them ---------------- */

struct line_case {
	const char *line;
	int rc;
	enum event_kind kind;
	const char *reason;  /* a substring of err, for the bad ones */
};

static const struct line_case doc_cases[] = {
	{ "{\"event\":\"ready\",\"pid\":1234,\"hooks\":[{\"func\":\"malloc\",\"lib\":\"libc.so.6\","
	  "\"addr\":\"0x7f8a1c0a3930\",\"strategy\":\"swbp\",\"spec\":\"malloc\"}]}",
	  0, EVENT_READY, NULL },
	{ "{\"event\":\"armed\",\"pid\":1234,\"func\":\"sqlite3_step\",\"lib\":\"libsqlite3.so.0.8.6\","
	  "\"addr\":\"0x7f52a53a4260\",\"strategy\":\"swbp\",\"spec\":\"sqlite3_step\"}",
	  0, EVENT_ARMED, NULL },
	{ "{\"event\":\"exec\",\"pid\":1234,\"path\":\"/usr/bin/prog\"}", 0, EVENT_EXEC, NULL },
	{ "{\"event\":\"child\",\"pid\":1234,\"child\":1240}", 0, EVENT_CHILD, NULL },
	{ "{\"event\":\"call\",\"pid\":1234,\"tid\":1236,\"func\":\"malloc\",\"addr\":\"0x7f8a1c0a3930\","
	  "\"ts_ns\":885597406025,\"args\":[\"0x20\",\"0x0\",\"0x7ffd5c8a1e40\",\"0x0\",\"0x0\",\"0x0\"]}",
	  0, EVENT_CALL, NULL },
	/* The doc's summary has no "armed": a row is armed unless it says otherwise. */
	{ "{\"event\":\"summary\",\"func\":\"malloc\",\"lib\":\"libc.so.6\",\"strategy\":\"swbp\","
	  "\"calls\":676,\"addr\":\"0x7f8a1c0a3930\"}", 0, EVENT_SUMMARY, NULL },
	{ "{\"event\":\"summary\",\"pid\":1234,\"interval_ms\":1000,\"func\":\"malloc\",\"lib\":\"libc.so.6\","
	  "\"strategy\":\"swbp\",\"calls\":676,\"addr\":\"0x7f8a1c0a3930\",\"armed\":true,\"per_pid\":{}}",
	  0, EVENT_SUMMARY, NULL },
	{ "{\"event\":\"error\",\"message\":\"pid 1234 executed a new program\"}", 0, EVENT_ERROR, NULL },
	{ "{\"event\":\"exit\",\"pid\":1234,\"status\":0}", 0, EVENT_EXIT, NULL },
	{ "{\"event\":\"exit\",\"pid\":1234,\"signal\":9,\"name\":\"SIGKILL\"}", 0, EVENT_EXIT, NULL },
	/* Unknown fields are ignored; spaces around the object are allowed. */
	{ "  {\"event\":\"child\",\"new\":{\"x\":[1,2,{}]},\"pid\":1,\"child\":2,\"z\":null} \r\n",
	  0, EVENT_CHILD, NULL },
	/* More args than the struct holds: the first EVENT_MAX_ARGS are kept. */
	{ "{\"event\":\"call\",\"pid\":1,\"tid\":1,\"func\":\"f\",\"addr\":\"0x1\",\"ts_ns\":1,"
	  "\"args\":[\"0x1\",\"0x2\",\"0x3\",\"0x4\",\"0x5\",\"0x6\",\"0x7\",\"0x8\",\"0x9\",\"0xa\"]}",
	  0, EVENT_CALL, NULL },
	/* Upper-case digits and leading zeros read too; any kind may carry a ts_ns. */
	{ "{\"event\":\"armed\",\"pid\":1,\"func\":\"f\",\"lib\":\"l\",\"addr\":\"0x00007F8A1C0A3930\","
	  "\"strategy\":\"swbp\",\"spec\":\"f\",\"ts_ns\":5}", 0, EVENT_ARMED, NULL },
	{ "{\"event\":\"exec\",\"pid\":1,\"path\":\"\"}", 0, EVENT_EXEC, NULL },
	/* The socket's own lines and kinds to come. */
	{ "{\"event\":\"hello\",\"protocol\":1,\"version\":\"0.9\",\"pid\":4242,\"client\":3}",
	  EVENT_PARSE_UNKNOWN, 0, NULL },
	{ "{\"event\":\"bye\",\"reason\":\"mhookd got SIGTERM\"}", EVENT_PARSE_UNKNOWN, 0, NULL },
	{ "{\"event\":\"lost\",\"count\":1843}", EVENT_PARSE_UNKNOWN, 0, NULL },
	{ "{\"event\":\"return\",\"pid\":1}", EVENT_PARSE_UNKNOWN, 0, NULL },
	{ "{\"event\":\"\"}", EVENT_PARSE_UNKNOWN, 0, NULL },
};

static const struct line_case bad_cases[] = {
	/* not JSON */
	{ "", -EINVAL, 0, "not JSON" },
	{ "   \n", -EINVAL, 0, "not JSON" },
	{ "{", -EINVAL, 0, "not JSON" },
	{ "{\"event\":\"child\",\"pid\":1,\"child\":2", -EINVAL, 0, "not JSON" },
	{ "{\"event\":\"child\",\"pid\":1,\"child\":2}}", -EINVAL, 0, "not JSON" },
	{ "{\"event\":\"child\",\"pid\":1,\"child\":2} {}", -EINVAL, 0, "not JSON" },
	{ "{\"event\":\"child\",\"pid\":1,\"child\":2,}", -EINVAL, 0, "not JSON" },
	{ "{event:\"child\"}", -EINVAL, 0, "not JSON" },
	{ "{\"event\":\"child\",\"pid\":01,\"child\":2}", -EINVAL, 0, "not JSON" },
	{ "{\"event\":\"exec\",\"pid\":1,\"path\":\"abc}", -EINVAL, 0, "not JSON" },
	{ "\xff\xfe{}", -EINVAL, 0, "not JSON" },
	/* not an object */
	{ "null", -EINVAL, 0, "not a JSON object" },
	{ "42", -EINVAL, 0, "not a JSON object" },
	{ "\"ready\"", -EINVAL, 0, "not a JSON object" },
	{ "[{\"event\":\"ready\",\"pid\":1,\"hooks\":[]}]", -EINVAL, 0, "not a JSON object" },
	{ "true", -EINVAL, 0, "not a JSON object" },
	/* "event" */
	{ "{}", -EINVAL, 0, "'event' is missing" },
	{ "{\"pid\":1,\"child\":2}", -EINVAL, 0, "'event' is missing" },
	{ "{\"event\":null}", -EINVAL, 0, "'event' is missing" },
	{ "{\"event\":5}", -EINVAL, 0, "'event' is not a string" },
	{ "{\"event\":[\"call\"]}", -EINVAL, 0, "'event' is not a string" },
	/* missing fields */
	{ "{\"event\":\"child\",\"pid\":1}", -EINVAL, 0, "'child' is missing" },
	{ "{\"event\":\"child\",\"child\":1}", -EINVAL, 0, "'pid' is missing" },
	{ "{\"event\":\"exec\",\"pid\":1}", -EINVAL, 0, "'path' is missing" },
	{ "{\"event\":\"error\"}", -EINVAL, 0, "'message' is missing" },
	{ "{\"event\":\"ready\",\"pid\":1}", -EINVAL, 0, "'hooks' is missing" },
	{ "{\"event\":\"ready\",\"pid\":1,\"hooks\":[{\"func\":\"f\",\"lib\":\"l\",\"addr\":\"0x1\","
	  "\"strategy\":\"swbp\"}]}", -EINVAL, 0, "hooks[0]: 'spec' is missing" },
	{ "{\"event\":\"ready\",\"pid\":1,\"hooks\":[],\"pending\":[{\"spec\":\"f\"}]}", -EINVAL, 0,
	  "pending[0]: 'why' is missing" },
	{ "{\"event\":\"armed\",\"pid\":1,\"func\":\"f\",\"lib\":\"l\",\"strategy\":\"swbp\","
	  "\"spec\":\"f\"}", -EINVAL, 0, "'addr' is missing" },
	{ "{\"event\":\"disarmed\",\"pid\":1,\"func\":\"f\",\"lib\":\"l\",\"addr\":\"0x1\","
	  "\"strategy\":\"swbp\",\"spec\":\"f\"}", -EINVAL, 0, "'why' is missing" },
	{ "{\"event\":\"call\",\"pid\":1,\"tid\":1,\"func\":\"f\",\"addr\":\"0x1\",\"args\":[]}",
	  -EINVAL, 0, "'ts_ns' is missing" },
	{ "{\"event\":\"call\",\"pid\":1,\"tid\":1,\"func\":\"f\",\"addr\":\"0x1\",\"ts_ns\":1}",
	  -EINVAL, 0, "'args' is missing" },
	{ "{\"event\":\"summary\",\"func\":\"f\",\"lib\":\"l\",\"strategy\":\"swbp\",\"calls\":1}",
	  -EINVAL, 0, "'addr' is missing" },
	{ "{\"event\":\"summary\",\"func\":\"f\",\"lib\":\"l\",\"strategy\":\"swbp\"}",
	  -EINVAL, 0, "'calls' is missing" },
	{ "{\"event\":\"exit\",\"pid\":1}", -EINVAL, 0, "'status' is missing" },
	/* wrong types */
	{ "{\"event\":\"child\",\"pid\":\"1\",\"child\":2}", -EINVAL, 0, "'pid' is not an integer" },
	{ "{\"event\":\"child\",\"pid\":1.0,\"child\":2}", -EINVAL, 0, "'pid' is not an integer" },
	{ "{\"event\":\"child\",\"pid\":1,\"child\":true}", -EINVAL, 0, "'child' is not an integer" },
	{ "{\"event\":\"child\",\"pid\":-1,\"child\":2}", -EINVAL, 0, "'pid' is negative" },
	{ "{\"event\":\"child\",\"pid\":2147483648,\"child\":2}", -EINVAL, 0, "out of range" },
	{ "{\"event\":\"exec\",\"pid\":1,\"path\":7}", -EINVAL, 0, "'path' is not a string" },
	{ "{\"event\":\"exec\",\"pid\":1,\"path\":\"a\\u0000b\"}", -EINVAL, 0, "NUL" },
	{ "{\"event\":\"error\",\"message\":{}}", -EINVAL, 0, "'message' is not a string" },
	{ "{\"event\":\"ready\",\"pid\":1,\"hooks\":{}}", -EINVAL, 0, "'hooks' is not an array" },
	{ "{\"event\":\"ready\",\"pid\":1,\"hooks\":[7]}", -EINVAL, 0, "hooks[0]: not an object" },
	{ "{\"event\":\"ready\",\"pid\":1,\"hooks\":[],\"pending\":\"x\"}", -EINVAL, 0,
	  "'pending' is not an array" },
	{ "{\"event\":\"ready\",\"pid\":1,\"hooks\":[{\"func\":\"f\",\"lib\":\"l\",\"addr\":\"0x1\","
	  "\"strategy\":\"swbp\",\"spec\":\"f\",\"shared_with\":1}]}", -EINVAL, 0,
	  "hooks[0]: 'shared_with' is not an array" },
	{ "{\"event\":\"call\",\"pid\":1,\"tid\":1,\"func\":\"f\",\"addr\":\"0x1\",\"ts_ns\":1,"
	  "\"args\":\"0x1\"}", -EINVAL, 0, "'args' is not an array" },
	{ "{\"event\":\"call\",\"pid\":1,\"tid\":1,\"func\":\"f\",\"addr\":\"0x1\",\"ts_ns\":1,"
	  "\"args\":[1]}", -EINVAL, 0, "args[0] is not a \"0x...\" string" },
	{ "{\"event\":\"call\",\"pid\":1,\"tid\":1,\"func\":\"f\",\"addr\":\"0x1\",\"ts_ns\":-5,"
	  "\"args\":[]}", -EINVAL, 0, "'ts_ns' is negative" },
	{ "{\"event\":\"summary\",\"func\":\"f\",\"lib\":\"l\",\"strategy\":\"swbp\",\"calls\":1,"
	  "\"addr\":\"0x1\",\"armed\":1}", -EINVAL, 0, "'armed' is not true or false" },
	{ "{\"event\":\"summary\",\"func\":\"f\",\"lib\":\"l\",\"strategy\":\"swbp\",\"calls\":1,"
	  "\"addr\":\"0x1\",\"per_pid\":[]}", -EINVAL, 0, "'per_pid' is not an object" },
	/* nx's pages: a list of the one page of the entry, with a page address */
	{ "{\"event\":\"summary\",\"func\":\"f\",\"lib\":\"l\",\"strategy\":\"nx\",\"calls\":1,"
	  "\"addr\":\"0x1000\",\"armed\":true,\"pages\":{}}", -EINVAL, 0,
	  "'pages' is not a list of one page" },
	{ "{\"event\":\"summary\",\"func\":\"f\",\"lib\":\"l\",\"strategy\":\"nx\",\"calls\":1,"
	  "\"addr\":\"0x1000\",\"armed\":true,\"pages\":[]}", -EINVAL, 0,
	  "'pages' is not a list of one page" },
	{ "{\"event\":\"summary\",\"func\":\"f\",\"lib\":\"l\",\"strategy\":\"nx\",\"calls\":1,"
	  "\"addr\":\"0x1000\",\"armed\":true,\"pages\":[{\"page\":\"0x1000\"}]}", -EINVAL, 0,
	  "'collateral' is missing" },
	{ "{\"event\":\"summary\",\"func\":\"f\",\"lib\":\"l\",\"strategy\":\"nx\",\"calls\":1,"
	  "\"addr\":\"0x1000\",\"armed\":true,\"pages\":[{\"page\":\"0x1010\",\"collateral\":2}]}",
	  -EINVAL, 0, "'page' 0x1010 is not a page address" },
	{ "{\"event\":\"summary\",\"func\":\"f\",\"lib\":\"l\",\"strategy\":\"swbp\",\"calls\":1,"
	  "\"addr\":\"0x1\",\"per_pid\":{\"x1\":1}}", -EINVAL, 0, "is not a process id" },
	{ "{\"event\":\"summary\",\"func\":\"f\",\"lib\":\"l\",\"strategy\":\"swbp\",\"calls\":1,"
	  "\"addr\":\"0x1\",\"per_pid\":{\"-1\":1}}", -EINVAL, 0, "is not a process id" },
	{ "{\"event\":\"summary\",\"func\":\"f\",\"lib\":\"l\",\"strategy\":\"swbp\",\"calls\":1,"
	  "\"addr\":\"0x1\",\"per_pid\":{\"99999999999\":1}}", -EINVAL, 0, "is not a process id" },
	{ "{\"event\":\"summary\",\"func\":\"f\",\"lib\":\"l\",\"strategy\":\"swbp\",\"calls\":1,"
	  "\"addr\":\"0x1\",\"per_pid\":{\"5\":\"1\"}}", -EINVAL, 0, "is not a count" },
	{ "{\"event\":\"summary\",\"func\":\"f\",\"lib\":\"l\",\"strategy\":\"swbp\",\"calls\":1,"
	  "\"addr\":\"0x1\",\"per_pid\":{\"5\":-1}}", -EINVAL, 0, "is not a count" },
	{ "{\"event\":\"exit\",\"pid\":1,\"signal\":0}", -EINVAL, 0, "'signal' is 0" },
	{ "{\"event\":\"exit\",\"pid\":1,\"signal\":\"SIGKILL\"}", -EINVAL, 0, "not an integer" },
	/* bad hex */
	{ "{\"event\":\"armed\",\"pid\":1,\"func\":\"f\",\"lib\":\"l\",\"addr\":\"0x7f..\","
	  "\"strategy\":\"swbp\",\"spec\":\"f\"}", -EINVAL, 0, "'addr' is not a 64-bit" },
	{ "{\"event\":\"armed\",\"pid\":1,\"func\":\"f\",\"lib\":\"l\",\"addr\":\"0x\","
	  "\"strategy\":\"swbp\",\"spec\":\"f\"}", -EINVAL, 0, "'addr' is not a 64-bit" },
	{ "{\"event\":\"armed\",\"pid\":1,\"func\":\"f\",\"lib\":\"l\",\"addr\":\"1234\","
	  "\"strategy\":\"swbp\",\"spec\":\"f\"}", -EINVAL, 0, "'addr' is not a 64-bit" },
	{ "{\"event\":\"armed\",\"pid\":1,\"func\":\"f\",\"lib\":\"l\",\"addr\":\"0X12\","
	  "\"strategy\":\"swbp\",\"spec\":\"f\"}", -EINVAL, 0, "'addr' is not a 64-bit" },
	{ "{\"event\":\"armed\",\"pid\":1,\"func\":\"f\",\"lib\":\"l\",\"addr\":\" 0x12\","
	  "\"strategy\":\"swbp\",\"spec\":\"f\"}", -EINVAL, 0, "'addr' is not a 64-bit" },
	{ "{\"event\":\"armed\",\"pid\":1,\"func\":\"f\",\"lib\":\"l\",\"addr\":\"0x12 \","
	  "\"strategy\":\"swbp\",\"spec\":\"f\"}", -EINVAL, 0, "'addr' is not a 64-bit" },
	{ "{\"event\":\"armed\",\"pid\":1,\"func\":\"f\",\"lib\":\"l\",\"addr\":\"0x-1\","
	  "\"strategy\":\"swbp\",\"spec\":\"f\"}", -EINVAL, 0, "'addr' is not a 64-bit" },
	{ "{\"event\":\"armed\",\"pid\":1,\"func\":\"f\",\"lib\":\"l\",\"addr\":\"0x1ffffffffffffffff\","
	  "\"strategy\":\"swbp\",\"spec\":\"f\"}", -EINVAL, 0, "'addr' is not a 64-bit" },
	{ "{\"event\":\"armed\",\"pid\":1,\"func\":\"f\",\"lib\":\"l\",\"addr\":\"0x12\\u0000\","
	  "\"strategy\":\"swbp\",\"spec\":\"f\"}", -EINVAL, 0, "'addr' is not a 64-bit" },
	{ "{\"event\":\"armed\",\"pid\":1,\"func\":\"f\",\"lib\":\"l\",\"addr\":4660,"
	  "\"strategy\":\"swbp\",\"spec\":\"f\"}", -EINVAL, 0, "'addr' is not a \"0x...\" string" },
	{ "{\"event\":\"call\",\"pid\":1,\"tid\":1,\"func\":\"f\",\"addr\":\"0x1\",\"ts_ns\":1,"
	  "\"args\":[\"0x1\",\"0xg\"]}", -EINVAL, 0, "args[1] is not a 64-bit" },
};

static void run_cases(const char *what, const struct line_case *cases, size_t n)
{
	char err[256];

	for (size_t i = 0; i < n; i++) {
		const struct line_case *c = &cases[i];
		struct event ev;
		memset(&ev, 0xa5, sizeof(ev)); /* the parser must not trust what was there */
		int rc = event_parse_json(c->line, strlen(c->line), &ev, err, sizeof(err));
		CHECK(rc == c->rc, "%s %zu: rc %d, wanted %d (%s) for %s", what, i, rc, c->rc, err,
		      c->line);
		if (rc == 0) {
			CHECK(ev.kind == c->kind, "%s %zu: kind %d", what, i, (int)ev.kind);
			keep_good(c->line, strlen(c->line));
		} else {
			CHECK(ev.owned == NULL, "%s %zu: a refused line left memory", what, i);
		}
		if (c->reason)
			CHECK(strstr(err, c->reason) != NULL, "%s %zu: reason '%s', wanted '%s'", what,
			      i, err, c->reason);
		event_free(&ev);
	}
}

static void test_doc_lines(void)
{
	char err[256];
	struct event ev;

	run_cases("doc", doc_cases, sizeof(doc_cases) / sizeof(doc_cases[0]));

	/* The details that the table cannot say. */
	const char *s = doc_cases[5].line;
	if (event_parse_json(s, strlen(s), &ev, err, sizeof(err)) == 0) {
		const struct event_row *r = &ev.summary.rows[0];
		CHECK(r->armed && r->calls == 676 && r->addr == 0x7f8a1c0a3930ull && !r->nper_pid,
		      "doc summary: armed %d calls %" PRIu64, r->armed, r->calls);
		CHECK(ev.pid == 0, "doc summary: pid %d", (int)ev.pid);
		event_free(&ev);
	}
	s = doc_cases[11].line;
	if (event_parse_json(s, strlen(s), &ev, err, sizeof(err)) == 0) {
		CHECK(ev.call.nargs == EVENT_MAX_ARGS && ev.call.args[EVENT_MAX_ARGS - 1] == 8,
		      "extra args: nargs %d", ev.call.nargs);
		event_free(&ev);
	}
	s = doc_cases[9].line;
	if (event_parse_json(s, strlen(s), &ev, err, sizeof(err)) == 0) {
		CHECK(ev.exit.signal == 9 && ev.exit.status == 0, "killed: signal %d",
		      ev.exit.signal);
		event_free(&ev);
	}
	/* Not NUL-terminated: the length is the line. */
	const char buf[] = "{\"event\":\"child\",\"pid\":1,\"child\":2}GARBAGE";
	int rc = event_parse_json(buf, sizeof(buf) - 1 - 7, &ev, err, sizeof(err));
	CHECK(rc == 0 && ev.child.child == 2, "a line with no NUL after it: rc %d (%s)", rc, err);
	event_free(&ev);
	/* A NUL inside the length is not whitespace. */
	const char nul[] = "{\"event\":\"child\",\"pid\":1,\"child\":2}\0";
	rc = event_parse_json(nul, sizeof(nul), &ev, err, sizeof(err));
	CHECK(rc == -EINVAL, "a NUL after the object: rc %d", rc);
	rc = event_parse_json(NULL, 0, &ev, err, sizeof(err));
	CHECK(rc == -EINVAL && ev.owned == NULL, "a NULL line: rc %d", rc);
	/* No room for a reason is no reason to crash. */
	rc = event_parse_json("{", 1, &ev, NULL, 0);
	CHECK(rc == -EINVAL, "no err buffer: rc %d", rc);
	rc = event_parse_json("{}", 2, &ev, err, 1);
	CHECK(rc == -EINVAL && err[0] == '\0', "a 1-byte err buffer: rc %d", rc);
}

static void test_bad_lines(void)
{
	run_cases("bad", bad_cases, sizeof(bad_cases) / sizeof(bad_cases[0]));
}

/* A read call prints through the text sink exactly as mhookd prints it. */
static void test_text_form(void)
{
	const char *line = doc_cases[4].line;
	char err[256], *buf = NULL;
	size_t len = 0;
	struct event ev;

	CHECK(event_parse_json(line, strlen(line), &ev, err, sizeof(err)) == 0, "%s", err);
	FILE *f = open_memstream(&buf, &len);
	struct sink *k = f ? sink_text_new(f, false, 885597406025ull - 1500000) : NULL;
	if (!k) {
		if (f)
			fclose(f);
		free(buf);
		event_free(&ev);
		return;
	}
	k->ops->emit(k, &ev);
	k->ops->close(k);
	fclose(f);
	CHECK(buf && !strcmp(buf, "0.001500 [1236] malloc(0x20, 0x0, 0x7ffd5c8a1e40, 0x0, 0x0, 0x0)\n"),
	      "text form: %s", buf);
	free(buf);
	event_free(&ev);
}

/* ---- hostile input ----------------------------------------------------------------------- */

static uint32_t rnd_state = 12345;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

/* Whatever came back, the event must be whole or own nothing. */
static void parse_any(const char *line, size_t len, long *refused)
{
	char err[128];
	struct event ev;
	int rc = event_parse_json(line, len, &ev, err, sizeof(err));

	if (rc) {
		(*refused)++;
		if (ev.owned)
			CHECK(false, "rc %d left memory for %.*s", rc, (int)len, line);
		return;
	}
	/* The sinks must be able to print what was accepted. */
	FILE *f = fopen("/dev/null", "w");
	struct sink *k = f ? sink_text_new(f, false, 0) : NULL;
	if (k) {
		k->ops->emit(k, &ev);
		k->ops->close(k);
	}
	if (f)
		fclose(f);
	event_free(&ev);
}

static void test_prefixes_and_mutations(void)
{
	static const char bytes[] = "{}[]\",:\\0x9aAeE-+. \n\x01\xff";
	long refused = 0, tried = 0;

	CHECK(ngood > 20, "only %d good lines kept", ngood);
	for (int g = 0; g < ngood; g++) {
		/* Every prefix, copied so that nothing past it can be read without ASan seeing. */
		for (size_t n = 0; n < good_len[g]; n++, tried++) {
			char *p = malloc(n ? n : 1);
			if (!p)
				continue;
			memcpy(p, good[g], n);
			parse_any(p, n, &refused);
			free(p);
		}
		for (int m = 0; m < 300; m++, tried++) {
			size_t n = good_len[g];
			char *p = malloc(n);
			if (!p)
				continue;
			memcpy(p, good[g], n);
			for (int k = 1 + (int)(rnd() % 3); k > 0; k--)
				p[rnd() % n] = bytes[rnd() % (sizeof(bytes) - 1)];
			parse_any(p, n, &refused);
			free(p);
		}
	}
	CHECK(refused > 0 && refused < tried, "%ld of %ld refused", refused, tried);
	/* Deep nesting stays json-c's problem, not a stack overflow. */
	size_t depth = 100000;
	char *deep = malloc(2 * depth + 2);
	if (deep) {
		memset(deep, '[', depth);
		memset(deep + depth, ']', depth);
		parse_any(deep, 2 * depth, &refused);
		memset(deep, '{', 1);
		parse_any(deep, 2 * depth, &refused);
		free(deep);
	}
	for (int g = 0; g < ngood; g++)
		free(good[g]);
}

int main(void)
{
	test_round_trips();
	test_doc_lines();
	test_bad_lines();
	test_text_form();
	test_prefixes_and_mutations();
	return check_done();
}
