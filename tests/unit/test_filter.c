/*
 * Subscriptions (ipc/filter.h), table-driven: which subscribe requests are accepted and
 * with what reason they are refused, and which events each accepted filter lets through.
 * Prints "N passed, M failed".
 */
#include <json.h>
#include <string.h>

#include "ipc/filter.h"
#include "tests/libmhook/check.h"

/* Requests that must be refused, and a word the reason must contain. */
static const struct {
	const char *req, *why;
} refused[] = {
	{ "{\"pids\":5}", "list" },
	{ "{\"pids\":[0]}", "process ids" },
	{ "{\"pids\":[-3]}", "process ids" },
	{ "{\"pids\":[\"12\"]}", "process ids" },
	{ "{\"pids\":[4294967297]}", "process ids" },
	{ "{\"funcs\":[\"\"]}", "names" },
	{ "{\"funcs\":[7]}", "names" },
	{ "{\"kinds\":[\"calls\"]}", "event kind" },
	{ "{\"kinds\":\"call\"}", "list" },
	{ "{\"summary_ms\":5}", "milliseconds" },
	{ "{\"summary_ms\":1.5}", "milliseconds" },
	{ "{\"summary_ms\":\"100\"}", "milliseconds" },
};

static struct event call_of(pid_t pid, const char *func)
{
	struct event ev = { .kind = EVENT_CALL, .pid = pid };

	ev.call.func = func;
	return ev;
}

static struct event armed_of(pid_t pid, const char *func)
{
	struct event ev = { .kind = EVENT_ARMED, .pid = pid };

	ev.hook.hook.func = func;
	return ev;
}

int main(void)
{
	char err[256];
	struct filter f;

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		struct json_object *req = json_tokener_parse(refused[i].req);
		err[0] = 0;
		int rc = filter_parse(req, &f, err, sizeof(err));
		CHECK(rc < 0 && strstr(err, refused[i].why), "%s: rc %d, '%s'", refused[i].req, rc,
		      err);
		json_object_put(req);
	}

	/* Interned names in mhookd: the same pointer for the same function. */
	static const char malloc_name[] = "malloc", free_name[] = "free", strlen_name[] = "strlen";
	struct {
		const char *req;
		struct event ev;
		bool want;
	} cases[] = {
		{ "{}", call_of(10, malloc_name), true },
		{ "{\"pids\":[10,11]}", call_of(11, malloc_name), true },
		{ "{\"pids\":[10,11]}", call_of(12, malloc_name), false },
		{ "{\"funcs\":[\"mal*\"]}", call_of(10, malloc_name), true },
		{ "{\"funcs\":[\"mal*\"]}", call_of(10, free_name), false },
		{ "{\"funcs\":[\"str?en\",\"free\"]}", call_of(10, strlen_name), true },
		{ "{\"funcs\":[\"mal*\"]}", armed_of(10, free_name), false },
		{ "{\"funcs\":[\"mal*\"]}", armed_of(10, malloc_name), true },
		{ "{\"kinds\":[\"ready\"]}", call_of(10, malloc_name), false },
		{ "{\"kinds\":[\"call\"]}", call_of(10, malloc_name), true },
		{ "{\"kinds\":[\"call\"]}", armed_of(10, malloc_name), false },
		{ "{\"summary_ms\":100}", call_of(10, malloc_name), false },
		{ "{\"pids\":null,\"funcs\":null}", call_of(99, free_name), true },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_object *req = json_tokener_parse(cases[i].req);
		int rc = filter_parse(req, &f, err, sizeof(err));
		CHECK(rc == 0, "%s: refused: %s", cases[i].req, err);
		if (rc == 0) {
			/* Twice: the second answer comes from the remembered last function. */
			bool a = filter_match(&f, &cases[i].ev), b = filter_match(&f, &cases[i].ev);
			CHECK(a == cases[i].want && b == a, "%s: event %d of pid %d: %d, %d",
			      cases[i].req, cases[i].ev.kind, (int)cases[i].ev.pid, a, b);
			filter_free(&f);
		}
		json_object_put(req);
	}

	/* A run of calls that switches function must not keep the first answer. */
	struct json_object *req = json_tokener_parse("{\"funcs\":[\"malloc\"]}");
	filter_parse(req, &f, err, sizeof(err));
	struct event m = call_of(1, malloc_name), fr = call_of(1, free_name);
	CHECK(filter_match(&f, &m) && !filter_match(&f, &fr) && filter_match(&f, &m),
	      "the remembered function went stale");
	filter_free(&f);
	json_object_put(req);
	return check_done();
}
