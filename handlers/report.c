/*
 * Reports: the two output formats (text for people, JSON lines for programs) and the
 * counting that both share. Events are buffered and flushed before the tracer blocks, so
 * a busy target costs one write per burst rather than one per call.
 *
 * Text form, one line per event:
 *   ready: pid 1234, hooked malloc in libc.so.6 at 0x7f0e2c4a1e40 (swbp); ...
 *   0.012345 [1235] malloc(0x20, 0x0, 0x7ffd5c8, 0x0, 0x0, 0x0)
 *   then, at exit, a table:  calls  function  object  strategy
 */
#include "handlers/report.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "strategies/strategy.h"
#include "tracer/follow.h"
#include "tracer/session.h"
#include "tracer/symbols.h"

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void json_put_string(FILE *out, const char *s)
{
	putc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", out); break;
		case '\\': fputs("\\\\", out); break;
		case '\n': fputs("\\n", out); break;
		case '\t': fputs("\\t", out); break;
		case '\r': fputs("\\r", out); break;
		default:
			if (*p < 0x20)
				fprintf(out, "\\u%04x", *p);
			else
				putc(*p, out);
		}
	}
	putc('"', out);
}

/* --- text ------------------------------------------------------------------------------ */

static void text_ready(struct report *r, const struct session *s)
{
	int n = 0;

	fprintf(r->out, "ready: pid %d", (int)s->pid);
	for (int i = 0; i < s->nhooks; i++) {
		const struct hook *h = &s->hooks[i];
		if (!h->armed)
			continue;
		fprintf(r->out, "%s hooked %s in %s at 0x%" PRIx64 " (%s)", n++ ? ";" : ",",
			h->func, h->lib, h->addr, s->ops->name);
		if (h->shared_with[0])
			fprintf(r->out, " [same code as %s]", h->shared_with);
	}
	for (int i = 0; i < s->nspecs; i++)
		if (s->spec_hook[i] == -1)
			fprintf(r->out, "%s pending %s (%s)", n++ ? ";" : ",", s->specs[i].text,
				s->spec_why[i]);
	fputc('\n', r->out);
}

static void text_disarmed(struct report *r, const struct session *s, const struct hook *h,
			  const char *why)
{
	fprintf(r->out, "disarmed: pid %d, %s in %s (%s)\n", (int)s->pid, h->func, h->lib, why);
}

static void text_exec(struct report *r, const struct session *s, const char *path)
{
	fprintf(r->out, "exec: pid %d now runs %s; hooking it again\n", (int)s->pid, path);
}

static void text_armed(struct report *r, const struct session *s, const struct hook *h)
{
	fprintf(r->out, "armed: pid %d, hooked %s in %s at 0x%" PRIx64 " (%s)\n", (int)s->pid,
		h->func, h->lib, h->addr, s->ops->name);
}

static void text_call(struct report *r, pid_t pid, pid_t tid, const struct hook *h,
		      uint64_t ts_ns, const uint64_t *args, int nargs)
{
	uint64_t rel = ts_ns - r->start_ns;

	(void)pid;
	fprintf(r->out, "%" PRIu64 ".%06" PRIu64 " [%d] %s(", rel / UINT64_C(1000000000),
		(rel / UINT64_C(1000)) % UINT64_C(1000000), (int)tid, h->func);
	for (int i = 0; i < nargs; i++)
		fprintf(r->out, "%s0x%" PRIx64, i ? ", " : "", args[i]);
	fputs(")\n", r->out);
}

/* --- summaries, over every traced process -------------------------------------------- */

/* One line of the summary: a function, its calls summed over every process (with -F
 * there is one session per process), and how they split by pid. */
struct sum_entry {
	const struct hook *first;
	uint64_t calls, collateral;
	struct pid_count *by_pid;
	int nby_pid;
};

static void sum_add_pid(struct sum_entry *e, pid_t pid, uint64_t n)
{
	for (int i = 0; i < e->nby_pid; i++) {
		if (e->by_pid[i].pid == pid) {
			e->by_pid[i].calls += n;
			return;
		}
	}
	struct pid_count *p = realloc(e->by_pid, (size_t)(e->nby_pid + 1) * sizeof(*p));
	if (!p)
		return;
	e->by_pid = p;
	e->by_pid[e->nby_pid].pid = pid;
	e->by_pid[e->nby_pid++].calls = n;
}

static int sum_collect(struct sum_entry **out)
{
	struct sum_entry *v = NULL;
	int n = 0;

	for (int si = 0; si < follow_count(); si++) {
		const struct session *s = follow_at(si);
		for (int i = 0; i < s->nhooks; i++) {
			const struct hook *h = &s->hooks[i];
			struct sum_entry *e = NULL;
			if (!h->ever_armed)
				continue;
			for (int j = 0; j < n && !e; j++)
				if (!strcmp(v[j].first->func, h->func) && !strcmp(v[j].first->lib, h->lib))
					e = &v[j];
			if (!e) {
				struct sum_entry *nv = realloc(v, (size_t)(n + 1) * sizeof(*nv));
				if (!nv)
					break;
				v = nv;
				e = &v[n++];
				memset(e, 0, sizeof(*e));
				e->first = h;
			}
			e->calls += h->calls;
			e->collateral += h->collateral;
			sum_add_pid(e, s->pid, h->calls);
			for (int k = 0; k < h->nby_pid; k++) {
				e->calls += h->by_pid[k].calls;
				sum_add_pid(e, h->by_pid[k].pid, h->by_pid[k].calls);
			}
		}
	}
	*out = v;
	return n;
}

static void sum_free(struct sum_entry *v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i].by_pid);
	free(v);
}

/* A SPEC of the main session that no hook in any process ever served. */
static bool spec_never_armed(const struct session *s, int i, const struct sum_entry *v, int n)
{
	if (s->spec_hook[i] >= 0)
		return false;
	for (int j = 0; j < n; j++)
		if (!strcmp(v[j].first->spec, s->specs[i].text))
			return false;
	return true;
}

static const char *spec_func(const struct spec *sp)
{
	return sp->name ? sp->name : sp->text;
}

static void text_summary(struct report *r, const struct session *s)
{
	bool coll = s->ops->reports_collateral;
	struct sum_entry *v;
	int n = sum_collect(&v);

	fprintf(r->out, "%10s  %-24s %-20s %s%s\n", "calls", "function", "object", "strategy",
		coll ? "  collateral" : "");
	for (int i = 0; i < n; i++) {
		fprintf(r->out, "%10" PRIu64 "  %-24s %-20s ", v[i].calls, v[i].first->func,
			v[i].first->lib);
		if (coll)
			fprintf(r->out, "%-8s  %10" PRIu64, s->ops->name, v[i].collateral);
		else
			fputs(s->ops->name, r->out);
		if (v[i].nby_pid > 1) {
			fputs("  [", r->out);
			for (int k = 0; k < v[i].nby_pid; k++)
				fprintf(r->out, "%spid %d: %" PRIu64, k ? ", " : "", (int)v[i].by_pid[k].pid,
					v[i].by_pid[k].calls);
			fputc(']', r->out);
		}
		fputc('\n', r->out);
	}
	for (int i = 0; i < s->nspecs; i++)
		if (spec_never_armed(s, i, v, n))
			fprintf(r->out, "%10d  %-24s %-20s %s (never armed)\n", 0,
				spec_func(&s->specs[i]), s->specs[i].lib ? s->specs[i].lib : "-",
				s->ops->name);
	sum_free(v, n);
}
static void text_child(struct report *r, pid_t pid, pid_t child)
{
	fprintf(r->out, "child: pid %d forked %d, which is hooked too\n", (int)pid, (int)child);
}

static void text_error(struct report *r, const char *msg)
{
	fprintf(r->out, "mhookd: %s\n", msg);
}

static const struct report_format text_format = {
	.ready = text_ready,
	.armed = text_armed,
	.child = text_child,
	.exec = text_exec,
	.disarmed = text_disarmed,
	.call = text_call,
	.summary = text_summary,
	.error = text_error,
};

/* --- JSON lines -------------------------------------------------------------------------- */

static void json_hook_fields(struct report *r, const struct session *s, const struct hook *h)
{
	fputs("\"func\":", r->out);
	json_put_string(r->out, h->func);
	fputs(",\"lib\":", r->out);
	json_put_string(r->out, h->lib);
	fprintf(r->out, ",\"addr\":\"0x%" PRIx64 "\",\"strategy\":", h->addr);
	json_put_string(r->out, s->ops->name);
	fputs(",\"spec\":", r->out);
	json_put_string(r->out, h->spec);
	if (h->shared_with[0]) {
		fputs(",\"shared_with\":", r->out);
		json_put_string(r->out, h->shared_with);
	}
}

static void json_disarmed(struct report *r, const struct session *s, const struct hook *h,
			  const char *why)
{
	fprintf(r->out, "{\"event\":\"disarmed\",\"pid\":%d,", (int)s->pid);
	json_hook_fields(r, s, h);
	fputs(",\"why\":", r->out);
	json_put_string(r->out, why);
	fputs("}\n", r->out);
}

static void json_exec(struct report *r, const struct session *s, const char *path)
{
	fprintf(r->out, "{\"event\":\"exec\",\"pid\":%d,\"path\":", (int)s->pid);
	json_put_string(r->out, path);
	fputs("}\n", r->out);
}

static void json_armed(struct report *r, const struct session *s, const struct hook *h)
{
	fprintf(r->out, "{\"event\":\"armed\",\"pid\":%d,", (int)s->pid);
	json_hook_fields(r, s, h);
	fputs("}\n", r->out);
}

static void json_ready(struct report *r, const struct session *s)
{
	int n = 0;

	fprintf(r->out, "{\"event\":\"ready\",\"pid\":%d,\"hooks\":[", (int)s->pid);
	for (int i = 0; i < s->nhooks; i++) {
		const struct hook *h = &s->hooks[i];
		if (!h->armed)
			continue;
		fputs(n++ ? ",{" : "{", r->out);
		json_hook_fields(r, s, h);
		fputc('}', r->out);
	}
	fputs("],\"pending\":[", r->out);
	n = 0;
	for (int i = 0; i < s->nspecs; i++) {
		if (s->spec_hook[i] != -1)
			continue;
		fputs(n++ ? ",{\"spec\":" : "{\"spec\":", r->out);
		json_put_string(r->out, s->specs[i].text);
		fputs(",\"why\":", r->out);
		json_put_string(r->out, s->spec_why[i]);
		fputc('}', r->out);
	}
	fputs("]}\n", r->out);
}

static void json_call(struct report *r, pid_t pid, pid_t tid, const struct hook *h,
		      uint64_t ts_ns, const uint64_t *args, int nargs)
{
	fprintf(r->out, "{\"event\":\"call\",\"pid\":%d,\"tid\":%d,\"func\":", (int)pid, (int)tid);
	json_put_string(r->out, h->func);
	fprintf(r->out, ",\"addr\":\"0x%" PRIx64 "\",\"ts_ns\":%" PRIu64 ",\"args\":[", h->addr,
		ts_ns);
	for (int i = 0; i < nargs; i++)
		fprintf(r->out, "%s\"0x%" PRIx64 "\"", i ? "," : "", args[i]);
	fputs("]}\n", r->out);
}

static void json_summary(struct report *r, const struct session *s)
{
	struct sum_entry *v;
	int n = sum_collect(&v);

	for (int i = 0; i < n; i++) {
		const struct hook *h = v[i].first;
		fputs("{\"event\":\"summary\",\"func\":", r->out);
		json_put_string(r->out, h->func);
		fputs(",\"lib\":", r->out);
		json_put_string(r->out, h->lib);
		fputs(",\"strategy\":", r->out);
		json_put_string(r->out, s->ops->name);
		fprintf(r->out, ",\"calls\":%" PRIu64 ",\"addr\":\"0x%" PRIx64 "\"", v[i].calls,
			h->addr);
		if (s->ops->reports_collateral)
			fprintf(r->out, ",\"collateral\":%" PRIu64, v[i].collateral);
		fputs(",\"armed\":true,\"per_pid\":{", r->out);
		for (int k = 0; k < v[i].nby_pid; k++)
			fprintf(r->out, "%s\"%d\":%" PRIu64, k ? "," : "", (int)v[i].by_pid[k].pid,
				v[i].by_pid[k].calls);
		fputs("}}\n", r->out);
	}
	for (int i = 0; i < s->nspecs; i++) {
		if (!spec_never_armed(s, i, v, n))
			continue;
		fputs("{\"event\":\"summary\",\"func\":", r->out);
		json_put_string(r->out, spec_func(&s->specs[i]));
		fputs(",\"lib\":", r->out);
		json_put_string(r->out, s->specs[i].lib ? s->specs[i].lib : "");
		fputs(",\"strategy\":", r->out);
		json_put_string(r->out, s->ops->name);
		fputs(",\"spec\":", r->out);
		json_put_string(r->out, s->specs[i].text);
		fputs(",\"calls\":0,\"armed\":false,\"per_pid\":{}}\n", r->out);
	}
	sum_free(v, n);
}

static void json_child(struct report *r, pid_t pid, pid_t child)
{
	fprintf(r->out, "{\"event\":\"child\",\"pid\":%d,\"child\":%d}\n", (int)pid,
		(int)child);
}

static void json_error(struct report *r, const char *msg)
{
	fputs("{\"event\":\"error\",\"message\":", r->out);
	json_put_string(r->out, msg);
	fputs("}\n", r->out);
}

static const struct report_format json_format = {
	.ready = json_ready,
	.armed = json_armed,
	.child = json_child,
	.exec = json_exec,
	.disarmed = json_disarmed,
	.call = json_call,
	.summary = json_summary,
	.error = json_error,
};

/* --- the interface ------------------------------------------------------------------------ */

void report_init(struct report *r, FILE *out, bool json, bool summary_only)
{
	memset(r, 0, sizeof(*r));
	r->out = out;
	r->json = json;
	r->summary_only = summary_only;
	r->fmt = json ? &json_format : &text_format;
	r->start_ns = now_ns();
}

void report_ready(struct report *r, const struct session *s)
{
	r->fmt->ready(r, s);
	report_flush(r);
}

void report_armed(struct report *r, const struct session *s, const struct hook *h)
{
	r->fmt->armed(r, s, h);
	r->dirty = true;
}

void report_exec(struct report *r, const struct session *s)
{
	char link[64], path[512];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)s->pid);
	n = readlink(link, path, sizeof(path) - 1);
	path[n > 0 ? n : 0] = 0;
	r->fmt->exec(r, s, path);
	r->dirty = true;
}

void report_disarmed(struct report *r, const struct session *s, const struct hook *h,
		     const char *why)
{
	r->fmt->disarmed(r, s, h, why);
	r->dirty = true;
}

void report_call_as(struct report *r, const struct session *s, pid_t pid, pid_t tid,
		    struct hook *h, const struct arch_regs *regs)
{
	uint64_t args[ARCH_MAX_ARGS];
	int nargs;

	if (pid == s->pid)
		h->calls++;
	else
		hook_count_pid(h, pid);
	if (r->summary_only)
		return;
	nargs = arch_args(regs, args);
	r->fmt->call(r, pid, tid, h, now_ns(), args, nargs);
	r->dirty = true;
}

void report_call(struct report *r, const struct session *s, pid_t tid, struct hook *h,
		 const struct arch_regs *regs)
{
	report_call_as(r, s, s->pid, tid, h, regs);
}

void report_child(struct report *r, pid_t pid, pid_t child)
{
	r->fmt->child(r, pid, child);
	r->dirty = true;
}

void report_summary(struct report *r, const struct session *s)
{
	r->fmt->summary(r, s);
	report_flush(r);
}

void report_error(struct report *r, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->fmt->error(r, msg);
	/* In JSON mode the error also goes to a person on stderr, unless that is where the
	 * JSON goes already. */
	if (r->json && r->out != stderr)
		fprintf(stderr, "mhookd: %s\n", msg);
	report_flush(r);
}

void report_flush(struct report *r)
{
	fflush(r->out);
	r->dirty = false;
}
