/*
 * The JSON lines sink: one object per event, with the fields of docs/protocol.md.
 * Addresses and registers are "0x..." strings; strings are escaped for JSON.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sinks/sink.h"
#include "sinks/utf8.h"

void json_put_string(FILE *out, const char *s)
{
	size_t left = strlen(s), n;

	putc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p += n, left -= n) {
		n = utf8_char(p, left);
		if (n > 1) {
			fwrite(p, 1, n, out);
			continue;
		}
		if (n == 0) {
			/* Not UTF-8: the four characters \xNN, the backslash escaped. */
			fprintf(out, "\\\\x%02x", *p);
			n = 1;
			continue;
		}
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

static void hook_fields(FILE *out, const struct event_hook *h)
{
	fputs("\"func\":", out);
	json_put_string(out, h->func);
	fputs(",\"lib\":", out);
	json_put_string(out, h->lib);
	fprintf(out, ",\"addr\":\"0x%" PRIx64 "\",\"strategy\":", h->addr);
	json_put_string(out, h->strategy);
	fputs(",\"spec\":", out);
	json_put_string(out, h->spec);
	if (h->shared_with[0]) {
		/* One per line inside, a list outside. */
		fputs(",\"shared_with\":[", out);
		for (const char *p = h->shared_with, *nl; p; p = nl ? nl + 1 : NULL) {
			nl = strchr(p, '\n');
			char *one = strndup(p, nl ? (size_t)(nl - p) : strlen(p));
			if (p != h->shared_with)
				fputs(",", out);
			json_put_string(out, one ? one : "");
			free(one);
		}
		putc(']', out);
	}
}

static void ready(FILE *out, const struct event *ev)
{
	fprintf(out, "{\"event\":\"ready\",\"pid\":%d,\"hooks\":[", (int)ev->pid);
	for (int i = 0; i < ev->ready.nhooks; i++) {
		fputs(i ? ",{" : "{", out);
		hook_fields(out, &ev->ready.hooks[i]);
		fputc('}', out);
	}
	fputs("],\"pending\":[", out);
	for (int i = 0; i < ev->ready.npending; i++) {
		fputs(i ? ",{\"spec\":" : "{\"spec\":", out);
		json_put_string(out, ev->ready.pending[i].spec);
		fputs(",\"why\":", out);
		json_put_string(out, ev->ready.pending[i].why);
		fputc('}', out);
	}
	fputs("]}\n", out);
}

static void call(FILE *out, const struct event *ev)
{
	fprintf(out, "{\"event\":\"call\",\"pid\":%d,\"tid\":%d,\"func\":", (int)ev->pid,
		(int)ev->call.tid);
	json_put_string(out, ev->call.func);
	fprintf(out, ",\"addr\":\"0x%" PRIx64 "\",\"ts_ns\":%" PRIu64 ",\"args\":[",
		ev->call.addr, ev->ts_ns);
	for (int i = 0; i < ev->call.nargs; i++)
		fprintf(out, "%s\"0x%" PRIx64 "\"", i ? "," : "", ev->call.args[i]);
	fputs("]}\n", out);
}

void json_summary_row(FILE *out, pid_t pid, const struct event_row *r, const char *extra)
{
	fprintf(out, "{\"event\":\"summary\",\"pid\":%d,%s\"func\":", (int)pid, extra ? extra : "");
	json_put_string(out, r->func);
	fputs(",\"lib\":", out);
	json_put_string(out, r->lib ? r->lib : "");
	fputs(",\"strategy\":", out);
	json_put_string(out, r->strategy);
	if (!r->armed) {
		fputs(",\"spec\":", out);
		json_put_string(out, r->spec);
		fputs(",\"calls\":0,\"armed\":false,\"per_pid\":{}}\n", out);
		return;
	}
	fprintf(out, ",\"calls\":%" PRIu64 ",\"addr\":\"0x%" PRIx64 "\"", r->calls, r->addr);
	if (r->has_collateral)
		fprintf(out, ",\"collateral\":%" PRIu64, r->collateral);
	if (r->page)
		fprintf(out, ",\"pages\":[{\"page\":\"0x%" PRIx64 "\",\"collateral\":%" PRIu64 "}]",
			r->page, r->page_collateral);
	fputs(",\"armed\":true,\"per_pid\":{", out);
	for (int k = 0; k < r->nper_pid; k++)
		fprintf(out, "%s\"%d\":%" PRIu64, k ? "," : "", (int)r->per_pid[k].pid,
			r->per_pid[k].calls);
	fputs("}}\n", out);
}

static const char *signal_name(int sig)
{
	const char *abbrev = sigabbrev_np(sig);

	return abbrev ? abbrev : "?";
}

static int json_emit(struct sink *k, const struct event *ev)
{
	FILE *out = k->out;

	if ((ev->kind == EVENT_CALL && k->skip_calls) || (ev->kind == EVENT_EXIT && !k->show_exits))
		return 0;
	switch (ev->kind) {
	case EVENT_READY:
		ready(out, ev);
		break;
	case EVENT_ARMED:
	case EVENT_DISARMED:
		fprintf(out, "{\"event\":\"%s\",\"pid\":%d,",
			ev->kind == EVENT_ARMED ? "armed" : "disarmed", (int)ev->pid);
		hook_fields(out, &ev->hook.hook);
		if (ev->kind == EVENT_DISARMED) {
			fputs(",\"why\":", out);
			json_put_string(out, ev->hook.why);
		}
		fputs("}\n", out);
		break;
	case EVENT_EXEC:
		fprintf(out, "{\"event\":\"exec\",\"pid\":%d,\"path\":", (int)ev->pid);
		json_put_string(out, ev->exec.path);
		fputs("}\n", out);
		break;
	case EVENT_CHILD:
		fprintf(out, "{\"event\":\"child\",\"pid\":%d,\"child\":%d}\n", (int)ev->pid,
			(int)ev->child.child);
		break;
	case EVENT_CALL:
		call(out, ev);
		break;
	case EVENT_SUMMARY:
		for (int i = 0; i < ev->summary.nrows; i++)
			json_summary_row(out, ev->summary.rows[i].nper_pid ?
					 ev->summary.rows[i].per_pid[0].pid : ev->pid,
					 &ev->summary.rows[i], NULL);
		break;
	case EVENT_ERROR:
		fprintf(out, "{\"event\":\"error\",\"pid\":%d,\"message\":", (int)ev->pid);
		json_put_string(out, ev->error.message);
		fputs("}\n", out);
		break;
	case EVENT_EXIT:
		if (ev->exit.signal)
			fprintf(out, "{\"event\":\"exit\",\"pid\":%d,\"signal\":%d,\"name\":\"SIG%s\"}\n",
				(int)ev->pid, ev->exit.signal, signal_name(ev->exit.signal));
		else
			fprintf(out, "{\"event\":\"exit\",\"pid\":%d,\"status\":%d}\n", (int)ev->pid,
				ev->exit.status);
		break;
	}
	return 0;
}

static const struct sink_ops json_ops = {
	.name = "json",
	.emit = json_emit,
	.flush = sink_file_flush,
	.close = sink_file_close,
};

struct sink *sink_json_new(FILE *out, bool owns_out)
{
	return sink_file_new(&json_ops, out, owns_out);
}
