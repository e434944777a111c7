/*
 * The text sink: one line per event, for people.
 *   ready: pid 1234, hooked malloc in libc.so.6 at 0x7f0e2c4a1e40 (swbp); ...
 *   0.012345 [1235] malloc(0x20, 0x0, 0x7ffd5c8, 0x0, 0x0, 0x0)
 *   then, at exit, a table:  calls  function  object  strategy
 * Errors are "mhookd: MESSAGE". The errors-only sink shares the error line, and the
 * plumbing of a sink that writes a FILE is here for every such sink.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sinks/sink.h"

static void ready(FILE *out, const struct event *ev)
{
	int n = 0;

	fprintf(out, "ready: pid %d", (int)ev->pid);
	for (int i = 0; i < ev->ready.nhooks; i++) {
		const struct event_hook *h = &ev->ready.hooks[i];
		fprintf(out, "%s hooked %s in %s at 0x%" PRIx64 " (%s)", n++ ? ";" : ",", h->func,
			h->lib, h->addr, h->strategy);
		if (h->shared_with[0]) {
			fputs(" [same code as ", out);
			for (const char *p = h->shared_with; *p; p++)
				if (*p == '\n')
					fputs(", ", out);
				else
					putc(*p, out);
			putc(']', out);
		}
	}
	for (int i = 0; i < ev->ready.npending; i++)
		fprintf(out, "%s pending %s (%s)", n++ ? ";" : ",", ev->ready.pending[i].spec,
			ev->ready.pending[i].why);
	fputc('\n', out);
}

/* When the call happened, as strace's -t, -tt and -ttt print it, or seconds since start. */
static void when(FILE *out, const struct sink *k, uint64_t ts_ns)
{
	if (!k->time_of_day) {
		uint64_t rel = ts_ns - k->start_ns;
		fprintf(out, "%" PRIu64 ".%06" PRIu64, rel / UINT64_C(1000000000),
			(rel / UINT64_C(1000)) % UINT64_C(1000000));
		return;
	}
	int64_t wall = (int64_t)ts_ns + k->wall_offset_ns;
	time_t secs = (time_t)(wall / 1000000000);
	long us = (long)(wall % 1000000000 / 1000);
	struct tm tm;

	if (k->time_of_day == 3) {
		fprintf(out, "%lld.%06ld", (long long)secs, us);
		return;
	}
	localtime_r(&secs, &tm);
	fprintf(out, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (k->time_of_day == 2)
		fprintf(out, ".%06ld", us);
}

static void call(FILE *out, const struct sink *k, const struct event *ev)
{
	when(out, k, ev->ts_ns);
	fprintf(out, " [%d] %s(", (int)ev->call.tid, ev->call.func);
	for (int i = 0; i < ev->call.nargs; i++)
		fprintf(out, "%s0x%" PRIx64, i ? ", " : "", ev->call.args[i]);
	fputs(")\n", out);
}

static void summary_row(FILE *out, const struct event_row *r, bool coll)
{
	if (!r->armed) {
		fprintf(out, "%10d  %-24s %-20s %s (never armed)\n", 0, r->func,
			r->lib ? r->lib : "-", r->strategy);
		return;
	}
	fprintf(out, "%10" PRIu64 "  %-24s %-20s ", r->calls, r->func, r->lib);
	if (coll && r->has_collateral)
		fprintf(out, "%-8s  %10" PRIu64, r->strategy, r->collateral);
	else if (coll)
		fprintf(out, "%-8s  %10s", r->strategy, "-");
	else
		fputs(r->strategy, out);
	if (r->nper_pid > 1) {
		fputs("  [", out);
		for (int k = 0; k < r->nper_pid; k++)
			fprintf(out, "%spid %d: %" PRIu64, k ? ", " : "", (int)r->per_pid[k].pid,
				r->per_pid[k].calls);
		fputc(']', out);
	}
	fputc('\n', out);
}

/* nx: a line per guarded page, with its hooks' calls against its collateral stops, which
 * is what the page costs; swbp is suggested where the stops outnumber calls 10 to 1. */
static void page_lines(FILE *out, const struct event *ev)
{
	const struct event_row *rows = ev->summary.rows;

	for (int i = 0; i < ev->summary.nrows; i++) {
		bool first = rows[i].page && rows[i].armed;
		for (int j = 0; first && j < i; j++)
			first = !(rows[j].armed && rows[j].page == rows[i].page);
		if (!first)
			continue;
		uint64_t calls = 0;
		for (int j = i; j < ev->summary.nrows; j++)
			if (rows[j].armed && rows[j].page == rows[i].page)
				calls += rows[j].calls;
		fprintf(out, "page 0x%" PRIx64 " in %s: %" PRIu64 " collateral stops for %" PRIu64
			" calls (", rows[i].page, rows[i].lib, rows[i].page_collateral, calls);
		for (int j = i, k = 0; j < ev->summary.nrows; j++)
			if (rows[j].armed && rows[j].page == rows[i].page)
				fprintf(out, "%s%s", k++ ? ", " : "", rows[j].func);
		fputs(")\n", out);
		if (rows[i].page_collateral >= 10 * calls && rows[i].page_collateral)
			fputs("  the page's other code stops 10 times as often as its hooks are "
			      "called: swbp (-s swbp) stops only on calls\n", out);
	}
}

static void summary(FILE *out, const struct event *ev)
{
	bool coll = ev->summary.collateral_column;

	fprintf(out, "%10s  %-24s %-20s %s%s\n", "calls", "function", "object", "strategy",
		coll ? "  collateral" : "");
	for (int i = 0; i < ev->summary.nrows; i++)
		summary_row(out, &ev->summary.rows[i], coll);
	page_lines(out, ev);
}

static int text_emit(struct sink *k, const struct event *ev)
{
	FILE *out = k->out;
	const struct event_hook *h = &ev->hook.hook;

	if ((ev->kind == EVENT_CALL && k->skip_calls) || (ev->kind == EVENT_EXIT && !k->show_exits))
		return 0;
	switch (ev->kind) {
	case EVENT_READY:
		ready(out, ev);
		break;
	case EVENT_ARMED:
		fprintf(out, "armed: pid %d, hooked %s in %s at 0x%" PRIx64 " (%s)\n", (int)ev->pid,
			h->func, h->lib, h->addr, h->strategy);
		break;
	case EVENT_DISARMED:
		fprintf(out, "disarmed: pid %d, %s in %s (%s)\n", (int)ev->pid, h->func, h->lib,
			ev->hook.why);
		break;
	case EVENT_EXEC:
		fprintf(out, "exec: pid %d now runs %s; hooking it again\n", (int)ev->pid,
			ev->exec.path);
		break;
	case EVENT_CHILD:
		fprintf(out, "child: pid %d forked %d, which is hooked too\n", (int)ev->pid,
			(int)ev->child.child);
		break;
	case EVENT_CALL:
		call(out, k, ev);
		break;
	case EVENT_SUMMARY:
		summary(out, ev);
		break;
	case EVENT_ERROR:
		fprintf(out, "mhookd: %s\n", ev->error.message);
		break;
	case EVENT_EXIT:
		if (ev->exit.signal)
			fprintf(out, "exit: pid %d killed by signal %d (SIG%s)\n", (int)ev->pid,
				ev->exit.signal, sigabbrev_np(ev->exit.signal) ?: "?");
		else
			fprintf(out, "exit: pid %d exited with status %d\n", (int)ev->pid,
				ev->exit.status);
		break;
	}
	return 0;
}

static int errors_emit(struct sink *k, const struct event *ev)
{
	if (ev->kind == EVENT_ERROR)
		fprintf(k->out, "mhookd: %s\n", ev->error.message);
	return 0;
}

int sink_file_flush(struct sink *k)
{
	errno = 0;
	if (fflush(k->out) == 0 && !ferror(k->out))
		return 0;
	/* stdio keeps the error sticky but not its errno: the first one is what a user
	 * needs to hear (ENOSPC, EPIPE, EIO). */
	if (!k->write_error)
		k->write_error = errno ? errno : EIO;
	return -k->write_error;
}

void sink_file_close(struct sink *k)
{
	fflush(k->out);
	if (k->owns_out)
		fclose(k->out);
	free(k);
}

static const struct sink_ops text_ops = {
	.name = "text",
	.emit = text_emit,
	.flush = sink_file_flush,
	.close = sink_file_close,
};

static const struct sink_ops errors_ops = {
	.name = "errors",
	.emit = errors_emit,
	.flush = sink_file_flush,
	.close = sink_file_close,
};

struct sink *sink_file_new(const struct sink_ops *ops, FILE *out, bool owns_out)
{
	struct sink *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->ops = ops;
	k->out = out;
	k->owns_out = owns_out;
	return k;
}

struct sink *sink_text_new(FILE *out, bool owns_out, uint64_t start_ns)
{
	struct sink *k = sink_file_new(&text_ops, out, owns_out);

	if (k)
		k->start_ns = start_ns;
	return k;
}

struct sink *sink_errors_new(FILE *out)
{
	return sink_file_new(&errors_ops, out, false);
}
