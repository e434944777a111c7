/*
 * The server thread (see server.h). One poll loop: the listening socket, a wake-up
 * eventfd, and every client, read for requests and written when it has output. A request
 * is handled to its end before the next is read (the tracer does one thing at a time
 * anyway), so replies come in request order; events may come between them. Sockets are
 * non-blocking: a client that does not read costs nothing but its own queue.
 */
#include "ipc/server.h"

#include <errno.h>
#include <inttypes.h>
#include <json.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "handlers/handlers.h"
#include "ipc/access.h"
#include "ipc/backend.h"
#include "ipc/clients.h"
#include "strategies/strategy.h"


#define SERVER_MAX_CLIENTS 256
#define SERVER_BYE_MS 1000

struct clients clients = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake_fd = -1 };

static int listen_fd = -1;
static char *socket_path;          /* ours to unlink; NULL when activated */
static pthread_t thread;
static bool running;
static volatile int stopping;
static int next_client_id = 1;
static int nclients;

/* ---- client queues ----------------------------------------------------------------- */

static void append_locked(struct client *c, const char *line, size_t len)
{
	if (c->outoff && c->outlen + len > c->outcap) {
		memmove(c->out, c->out + c->outoff, c->outlen - c->outoff);
		c->outlen -= c->outoff;
		c->outoff = 0;
	}
	if (c->outlen + len > c->outcap) {
		size_t ncap = c->outcap ? c->outcap : 16384;
		while (ncap < c->outlen + len)
			ncap *= 2;
		char *p = realloc(c->out, ncap);
		if (!p) {
			c->lost++;
			return;
		}
		c->out = p;
		c->outcap = ncap;
	}
	memcpy(c->out + c->outlen, line, len);
	c->outlen += len;
}

void client_put_locked(struct client *c, const char *line, size_t len)
{
	append_locked(c, line, len);
}

/* The "lost" line, when there is one to say and room for it and need more. */
static bool put_lost_locked(struct client *c, size_t need)
{
	char line[64];
	int n;

	if (!c->lost)
		return true;
	n = snprintf(line, sizeof(line), "{\"event\":\"lost\",\"count\":%" PRIu64 "}\n", c->lost);
	if (c->outlen - c->outoff + (size_t)n + need > clients.queue_limit)
		return false;
	append_locked(c, line, (size_t)n);
	c->lost_total += c->lost;
	c->lost = 0;
	return true;
}

void client_put_event_locked(struct client *c, const char *line, size_t len)
{
	size_t queued = c->outlen - c->outoff;

	if (queued + len > clients.queue_limit || !put_lost_locked(c, len)) {
		c->lost++;
		return;
	}
	append_locked(c, line, len);
	c->delivered++;
	/* Written before the queue is a quarter full, rather than at the next flush. */
	if (queued < clients.queue_limit / 4 && queued + len >= clients.queue_limit / 4)
		clients_wake();
}

void clients_wake(void)
{
	uint64_t one = 1;

	if (clients.wake_fd >= 0 && write(clients.wake_fd, &one, sizeof(one)) < 0) {
		/* the counter is full: a wake-up is pending anyway */
	}
}

int client_may_trace_locked(struct client *c, pid_t pid)
{
	for (int i = 0; i < c->nacl; i++)
		if (c->acl[i].pid == pid)
			return c->acl[i].ok;
	int ok = access_may_trace(&c->pc.peer, pid);
	if (ok < 0)
		return ok; /* no such process: nothing to remember */
	if (c->nacl == c->capacl) {
		int ncap = c->capacl ? c->capacl * 2 : 8;
		struct access_answer *p = realloc(c->acl, (size_t)ncap * sizeof(*p));
		if (!p)
			return ok;
		c->acl = p;
		c->capacl = ncap;
	}
	c->acl[c->nacl++] = (struct access_answer){ pid, ok == 1 };
	return ok;
}

void client_forget_pid_locked(struct client *c, pid_t pid)
{
	for (int i = 0; i < c->nacl; i++)
		if (c->acl[i].pid == pid)
			c->acl[i] = c->acl[--c->nacl];
}

/* ---- what the protocol asks of the host --------------------------------------------------- */

/* A request asks the kernel every time: it may name a pid that has since been reused,
 * and requests are few. The sink's cache serves the event stream. */
static int host_may_trace(struct proto_client *pc, pid_t pid)
{
	return access_may_trace(&pc->peer, pid);
}

static bool filter_wants_calls(const struct filter *f)
{
	return (f->kinds & (1u << EVENT_CALL)) && !f->summary_ms;
}

static void set_subscription_locked(struct client *c, struct filter *f)
{
	bool wanted = c->wants_calls;

	if (c->subscribed)
		filter_free(&c->filter);
	c->subscribed = f != NULL;
	if (f)
		c->filter = *f;
	c->wants_calls = f && filter_wants_calls(f);
	if (c->wants_calls != wanted)
		handlers_want_calls(c->wants_calls ? 1 : -1);
	c->next_summary_ns = 0;
}

static void host_subscribe(struct proto_client *pc, struct filter *f)
{
	struct client *c = (struct client *)pc;

	pthread_mutex_lock(&clients.lock);
	set_subscription_locked(c, f);
	pthread_mutex_unlock(&clients.lock);
}

static void host_client_stats(struct proto_client *pc, struct json_object *array)
{
	struct client *self = (struct client *)pc;

	pthread_mutex_lock(&clients.lock);
	for (struct client *c = clients.head; c; c = c->next) {
		if (c != self && self->pc.peer.uid != 0)
			continue;
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "client", json_object_new_int(c->pc.id));
		json_object_object_add(o, "uid", json_object_new_int64(c->pc.peer.uid));
		json_object_object_add(o, "pid", json_object_new_int(c->pc.peer.pid));
		json_object_object_add(o, "delivered", json_object_new_int64((int64_t)c->delivered));
		json_object_object_add(o, "lost", json_object_new_int64((int64_t)(c->lost_total + c->lost)));
		json_object_object_add(o, "queued", json_object_new_int64((int64_t)(c->outlen - c->outoff)));
		json_object_object_add(o, "limit", json_object_new_int64((int64_t)clients.queue_limit));
		json_object_array_add(array, o);
	}
	pthread_mutex_unlock(&clients.lock);
}

static const struct proto_host host = {
	.may_trace = host_may_trace,
	.subscribe = host_subscribe,
	.client_stats = host_client_stats,
};

/* ---- connections --------------------------------------------------------------------- */

static void put_json(struct client *c, struct json_object *o)
{
	size_t len;
	const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN |
							     JSON_C_TO_STRING_NOSLASHESCAPE, &len);

	pthread_mutex_lock(&clients.lock);
	append_locked(c, s, len);
	append_locked(c, "\n", 1);
	pthread_mutex_unlock(&clients.lock);
}

static void hello(struct client *c)
{
	struct json_object *o = json_object_new_object(), *st = json_object_new_array();
	const struct strategy_ops *ops;

	for (unsigned id = 0; id < 32; id++)
		if ((ops = strategy_by_id(id)))
			json_object_array_add(st, json_object_new_string(ops->name));
	json_object_object_add(o, "event", json_object_new_string("hello"));
	json_object_object_add(o, "protocol", json_object_new_int(1));
	json_object_object_add(o, "version", json_object_new_string(MHOOK_VERSION));
	json_object_object_add(o, "pid", json_object_new_int(getpid()));
	json_object_object_add(o, "strategies", st);
	json_object_object_add(o, "client", json_object_new_int(c->pc.id));
	json_object_object_add(o, "uid", json_object_new_int64(c->pc.peer.uid));
	put_json(c, o);
	json_object_put(o);
}

static void accept_clients(void)
{
	for (;;) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct client *c = calloc(1, sizeof(*c));
		if (!c || nclients >= SERVER_MAX_CLIENTS || access_peer(fd, &c->pc.peer) < 0 ||
		    !(c->in = malloc(PROTO_MAX_LINE + 1))) {
			static const char full[] = "{\"event\":\"bye\",\"reason\":\"too many clients\"}\n";
			if (send(fd, full, sizeof(full) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
				/* it will see the connection closed */
			}
			close(fd);
			if (c)
				free(c->in);
			free(c);
			continue;
		}
		c->fd = fd;
		c->pc.id = next_client_id++;
		c->pc.last_id = -1;
		hello(c);
		pthread_mutex_lock(&clients.lock);
		c->next = clients.head;
		clients.head = c;
		nclients++;
		pthread_mutex_unlock(&clients.lock);
	}
}

static void handle_line(struct client *c, const char *line, size_t len)
{
	if (len && line[len - 1] == '\r')
		len--;
	if (len == 0 || strspn(line, " \t") == len)
		return; /* an empty line is no request */
	struct json_object *reply = proto_handle(&tracer_backend, &host, &c->pc, line, len);
	put_json(c, reply);
	json_object_put(reply);
}

/* Reads what c sent and answers every whole line. */
static void read_client(struct client *c)
{
	for (;;) {
		ssize_t n = recv(c->fd, c->in + c->inlen, PROTO_MAX_LINE + 1 - c->inlen, 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			c->dead = true;
			return;
		}
		if (n < 0)
			return;
		size_t start = 0, end = c->inlen + (size_t)n;
		for (size_t i = c->inlen; i < end; i++) {
			if (c->in[i] != '\n')
				continue;
			if (!c->skipping)
				handle_line(c, c->in + start, i - start);
			c->skipping = false;
			start = i + 1;
		}
		memmove(c->in, c->in + start, end - start);
		c->inlen = end - start;
		if (c->inlen > PROTO_MAX_LINE) {
			/* No newline within the limit: answer once, drop the rest of the line. */
			if (!c->skipping) {
				struct json_object *r = proto_error(-1, PROTO_TOO_BIG,
					"the request line is longer than %d bytes", PROTO_MAX_LINE);
				put_json(c, r);
				json_object_put(r);
			}
			c->skipping = true;
			c->inlen = 0;
		}
		if (c->dead || stopping)
			return;
	}
}

/* Writes what is queued for c, as much as the socket takes. */
static void write_client(struct client *c)
{
	pthread_mutex_lock(&clients.lock);
	while (c->outlen > c->outoff) {
		ssize_t n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				c->dead = true;
			break;
		}
		c->outoff += (size_t)n;
	}
	if (c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	if (!clients.closed) /* after bye, nothing */
		put_lost_locked(c, 0);
	pthread_mutex_unlock(&clients.lock);
}

static void free_client(struct client *c)
{
	if (c->subscribed)
		filter_free(&c->filter);
	if (c->wants_calls)
		handlers_want_calls(-1);
	for (int i = 0; i < c->nmarks; i++)
		free(c->marks[i].spec);
	free(c->marks);
	free(c->acl);
	free(c->out);
	free(c->in);
	close(c->fd);
	free(c);
}

/* Unlinks the dead clients; their hooks go (but kept ones) once they are out of the list. */
static void reap_clients(void)
{
	struct client *dead = NULL;

	pthread_mutex_lock(&clients.lock);
	for (struct client **pp = &clients.head; *pp;) {
		struct client *c = *pp;
		if (!c->dead) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		c->next = dead;
		dead = c;
		nclients--;
	}
	pthread_mutex_unlock(&clients.lock);
	while (dead) {
		struct client *c = dead;
		dead = c->next;
		tracer_backend.client_gone(c->pc.id);
		free_client(c);
	}
}

/* ---- periodic summaries -------------------------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The count c last reported for (pid, spec), made current; true if it moved. */
static bool mark_moved(struct client *c, pid_t pid, const char *spec, uint64_t calls)
{
	for (int i = 0; i < c->nmarks; i++) {
		if (c->marks[i].pid != pid || strcmp(c->marks[i].spec, spec))
			continue;
		bool moved = c->marks[i].calls != calls;
		c->marks[i].calls = calls;
		return moved;
	}
	struct summary_mark *p = realloc(c->marks, (size_t)(c->nmarks + 1) * sizeof(*p));
	if (!p)
		return true;
	c->marks = p;
	c->marks[c->nmarks++] = (struct summary_mark){ pid, strdup(spec), calls };
	if (!c->marks[c->nmarks - 1].spec)
		c->nmarks--;
	return calls != 0;
}

static void summary_rows(struct client *c, struct json_object *hooks)
{
	for (size_t i = 0, n = json_object_array_length(hooks); i < n; i++) {
		struct json_object *h = json_object_array_get_idx(hooks, i), *v;
		pid_t pid = json_object_object_get_ex(h, "pid", &v) ? json_object_get_int(v) : 0;
		const char *func = json_object_object_get_ex(h, "func", &v) ? json_object_get_string(v) : "";
		const char *spec = json_object_object_get_ex(h, "spec", &v) ? json_object_get_string(v) : "";
		uint64_t calls = json_object_object_get_ex(h, "calls", &v) ?
					 (uint64_t)json_object_get_int64(v) : 0;
		pthread_mutex_lock(&clients.lock);
		bool wanted = filter_wants_pid(&c->filter, pid) && filter_wants_func(&c->filter, func) &&
			      (c->filter.kinds & (1u << EVENT_SUMMARY)) &&
			      client_may_trace_locked(c, pid) == 1;
		pthread_mutex_unlock(&clients.lock);
		if (!wanted || !mark_moved(c, pid, spec, calls))
			continue;
		struct json_object *row = json_object_new_object();
		json_object_object_add(row, "event", json_object_new_string("summary"));
		json_object_object_add(row, "interval_ms", json_object_new_int((int)c->filter.summary_ms));
		json_object_object_foreach(h, key, val)
			json_object_object_add(row, key, json_object_get(val));
		json_object_object_add(row, "armed", json_object_new_boolean(1));
		pthread_mutex_lock(&clients.lock);
		size_t len;
		const char *s = json_object_to_json_string_length(row, JSON_C_TO_STRING_PLAIN |
								       JSON_C_TO_STRING_NOSLASHESCAPE, &len);
		char *line = malloc(len + 1);
		if (line) {
			memcpy(line, s, len);
			line[len] = '\n';
			client_put_event_locked(c, line, len + 1);
			free(line);
		}
		pthread_mutex_unlock(&clients.lock);
		json_object_put(row);
	}
}

/* Sends the summaries that are due; returns the ms until the next one (-1: none). */
static int run_summaries(void)
{
	uint64_t now = now_ns(), next = UINT64_MAX;
	struct json_object *hooks = NULL;
	char err[256];

	for (struct client *c = clients.head; c; c = c->next) {
		if (!c->subscribed || !c->filter.summary_ms || c->dead)
			continue;
		uint64_t period = (uint64_t)c->filter.summary_ms * 1000000ULL;
		if (!c->next_summary_ns)
			c->next_summary_ns = now + period;
		if (c->next_summary_ns <= now) {
			if (!hooks) {
				hooks = json_object_new_array();
				tracer_backend.hook_stats(hooks, err, sizeof(err));
			}
			summary_rows(c, hooks);
			c->next_summary_ns = now + period;
		}
		if (c->next_summary_ns < next)
			next = c->next_summary_ns;
	}
	if (hooks)
		json_object_put(hooks);
	return next == UINT64_MAX ? -1 : (int)((next - now) / 1000000ULL) + 1;
}

/* ---- the thread --------------------------------------------------------------------------- */

static void *server_thread(void *arg)
{
	struct pollfd *fds = calloc(SERVER_MAX_CLIENTS + 2, sizeof(*fds));
	struct client **of = calloc(SERVER_MAX_CLIENTS + 2, sizeof(*of));

	(void)arg;
	if (!fds || !of)
		abort(); /* at start-up */
	while (!stopping) {
		int n = 0;
		fds[n++] = (struct pollfd){ .fd = clients.wake_fd, .events = POLLIN };
		fds[n++] = (struct pollfd){ .fd = listen_fd, .events = POLLIN };
		pthread_mutex_lock(&clients.lock);
		for (struct client *c = clients.head; c && n < SERVER_MAX_CLIENTS + 2; c = c->next) {
			of[n] = c;
			fds[n++] = (struct pollfd){ .fd = c->fd, .events = (short)(POLLIN |
				(c->outlen > c->outoff ? POLLOUT : 0)) };
		}
		pthread_mutex_unlock(&clients.lock);
		int timeout = run_summaries();
		if (poll(fds, (nfds_t)n, timeout) < 0 && errno != EINTR)
			break;
		if (fds[0].revents) {
			uint64_t v;
			if (read(clients.wake_fd, &v, sizeof(v)) < 0) {
				/* nothing to read: another wake-up took it */
			}
		}
		if (stopping)
			break;
		if (fds[1].revents)
			accept_clients();
		for (int i = 2; i < n; i++) {
			struct client *c = of[i];
			if (fds[i].revents & (POLLIN | POLLHUP | POLLERR))
				read_client(c);
			if (!c->dead)
				write_client(c);
		}
		reap_clients();
	}
	free(fds);
	free(of);
	return NULL;
}

int server_open(const struct server_config *cfg, char *err, size_t errlen)
{
	listen_fd = listen_open(&cfg->listen, cfg->activated_fd, &socket_path, err, errlen);
	if (listen_fd < 0)
		return -1;
	clients.queue_limit = cfg->client_queue ? cfg->client_queue : SERVER_DEFAULT_QUEUE;
	clients.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (clients.wake_fd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		close(listen_fd);
		if (socket_path)
			unlink(socket_path);
		return -1;
	}
	return 0;
}

int server_start(void)
{
	sigset_t all, old;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int rc = pthread_create(&thread, NULL, server_thread, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc)
		return -rc;
	running = true;
	return 0;
}

const char *server_path(void)
{
	return socket_path ? socket_path : "(socket activation)";
}

/* Writes what is left for every client, for at most SERVER_BYE_MS. */
static void drain_all(void)
{
	uint64_t deadline = now_ns() + SERVER_BYE_MS * 1000000ULL;

	for (;;) {
		struct pollfd fds[SERVER_MAX_CLIENTS];
		int n = 0;
		for (struct client *c = clients.head; c && n < SERVER_MAX_CLIENTS; c = c->next) {
			write_client(c);
			if (c->outlen > c->outoff && !c->dead) {
				fds[n++] = (struct pollfd){ .fd = c->fd, .events = POLLOUT };
			}
		}
		uint64_t now = now_ns();
		if (!n || now >= deadline)
			return;
		poll(fds, (nfds_t)n, (int)((deadline - now) / 1000000ULL) + 1);
	}
}

void server_stop(const char *reason)
{
	char line[256];

	if (listen_fd < 0)
		return;
	struct json_object *r = json_object_new_string(reason);
	stopping = 1;
	clients_wake();
	if (running)
		pthread_join(thread, NULL);
	running = false;
	int n = snprintf(line, sizeof(line), "{\"event\":\"bye\",\"reason\":%s}\n",
			 json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN));
	json_object_put(r);
	pthread_mutex_lock(&clients.lock);
	clients.closed = true;
	for (struct client *c = clients.head; c; c = c->next) {
		if (c->lost) { /* what it lost is said before bye, room or not */
			char lost[64];
			int k = snprintf(lost, sizeof(lost), "{\"event\":\"lost\",\"count\":%" PRIu64 "}\n",
					 c->lost);
			append_locked(c, lost, (size_t)k);
			c->lost_total += c->lost;
			c->lost = 0;
		}
		append_locked(c, line, (size_t)n);
	}
	pthread_mutex_unlock(&clients.lock);
	drain_all();
	while (clients.head) {
		struct client *c = clients.head;
		clients.head = c->next;
		free_client(c);
	}
	close(listen_fd);
	listen_fd = -1;
	close(clients.wake_fd);
	clients.wake_fd = -1;
	if (socket_path)
		unlink(socket_path);
	free(socket_path);
	socket_path = NULL;
}
