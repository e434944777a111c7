/*
 * The socket server's sink: each event is formatted once, as --json formats it, and the
 * line is queued for every client whose subscription and access let it through. Queues
 * are bounded per client: one that does not read loses events, counted, and nobody else
 * notices. Writing to the sockets is the server thread's work, so this never blocks.
 */
#include "ipc/server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc/clients.h"
#include "sinks/sink.h"

/* A FILE that appends to a growing buffer, so that the JSON sink formats into memory. */
struct linebuf {
	char *data;
	size_t len, cap;
};

static ssize_t linebuf_write(void *cookie, const char *buf, size_t n)
{
	struct linebuf *b = cookie;

	if (b->len + n > b->cap) {
		size_t ncap = b->cap ? b->cap : 4096;
		while (ncap < b->len + n)
			ncap *= 2;
		char *p = realloc(b->data, ncap);
		if (!p)
			return -1;
		b->data = p;
		b->cap = ncap;
	}
	memcpy(b->data + b->len, buf, n);
	b->len += n;
	return (ssize_t)n;
}

struct socket_sink {
	struct sink base;
	struct sink *json;       /* formats into buf */
	struct linebuf buf;
};

/* The event as JSON lines in s->buf (a summary is a line per row). */
static void format(struct socket_sink *s, const struct event *ev)
{
	s->buf.len = 0;
	s->json->ops->emit(s->json, ev);
	fflush(s->json->out);
}

/* Whether c may see the events of pid. Root sees everything, ended processes included;
 * another client, what the kernel let it trace, and of a process that has ended (its
 * exit, the summary rows at the end) what it was let trace while it lived. */
static bool may_see(struct client *c, pid_t pid)
{
	return c->pc.peer.uid == 0 || client_may_trace_locked(c, pid) == 1;
}

/* The process a summary row is about: the first that counted it. */
static pid_t row_pid(const struct event *ev, const struct event_row *r)
{
	return r->nper_pid ? r->per_pid[0].pid : ev->pid;
}

/* A summary's rows, each as its own line, to the clients that want its function. */
static void fan_out_summary(struct socket_sink *s, const struct event *ev)
{
	for (int i = 0; i < ev->summary.nrows; i++) {
		const struct event_row *r = &ev->summary.rows[i];
		bool formatted = false;
		for (struct client *c = clients.head; c; c = c->next) {
			pid_t pid = row_pid(ev, r);
			if (!c->subscribed || !(c->filter.kinds & (1u << EVENT_SUMMARY)) ||
			    !filter_wants_pid(&c->filter, pid) || !filter_wants_func(&c->filter, r->func) ||
			    !may_see(c, pid))
				continue;
			if (!formatted) {
				s->buf.len = 0;
				json_summary_row(s->json->out, pid, r, NULL);
				fflush(s->json->out);
				formatted = true;
			}
			client_put_event_locked(c, s->buf.data, s->buf.len);
		}
	}
}

static int socket_emit(struct sink *k, const struct event *ev)
{
	struct socket_sink *s = (struct socket_sink *)k;
	bool formatted = false;

	pthread_mutex_lock(&clients.lock);
	if (clients.closed) {
		pthread_mutex_unlock(&clients.lock);
		return 0;
	}
	if (ev->kind == EVENT_SUMMARY) {
		fan_out_summary(s, ev);
		pthread_mutex_unlock(&clients.lock);
		return 0;
	}
	for (struct client *c = clients.head; c; c = c->next) {
		/* What a process runs decides who may trace it: ask again. A ready is a
		 * process attached anew: the pid may stand for another process than the one
		 * the answer was about (requests always ask afresh). */
		if (ev->kind == EVENT_EXEC || ev->kind == EVENT_READY)
			client_forget_pid_locked(c, ev->pid);
		if (!c->subscribed || !filter_match(&c->filter, ev) || !may_see(c, ev->pid))
			continue;
		if (!formatted) {
			format(s, ev);
			formatted = true;
		}
		client_put_event_locked(c, s->buf.data, s->buf.len);
	}
	pthread_mutex_unlock(&clients.lock);
	return 0;
}

static int socket_flush(struct sink *k)
{
	(void)k;
	clients_wake();
	return 0;
}

static void socket_close(struct sink *k)
{
	struct socket_sink *s = (struct socket_sink *)k;

	s->json->ops->close(s->json);
	free(s->buf.data);
	free(s);
}

static const struct sink_ops socket_ops = {
	.name = "socket",
	.emit = socket_emit,
	.flush = socket_flush,
	.close = socket_close,
};

struct sink *sink_socket_new(void)
{
	struct socket_sink *s = calloc(1, sizeof(*s));
	cookie_io_functions_t io = { .write = linebuf_write };
	FILE *f;

	if (!s)
		return NULL;
	f = fopencookie(&s->buf, "w", io);
	if (!f || !(s->json = sink_json_new(f, true))) {
		if (f)
			fclose(f);
		free(s);
		return NULL;
	}
	s->json->show_exits = true;
	s->base.ops = &socket_ops;
	return &s->base;
}
