/*
 * The connection to mhookd (conn.h): a Unix stream socket read into one growing buffer
 * and cut at newlines, requests written whole, and the wait for a reply. Waiting uses
 * ppoll with the caller's mask, so that a signal the caller blocks elsewhere (attach's
 * SIGINT) can end a wait without the race of checking a flag before poll.
 */
#include "client/conn.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json.h>

#define PROTOCOL 1
#define HELLO_TIMEOUT_MS 5000
/* Far above any line mhookd writes (a reply is cut at 100,000 symbols), low enough that
 * a peer that never sends a newline cannot take all memory. */
#define MAX_LINE (64u << 20)

char *conn_default_path(void)
{
	const char *env = getenv("MHOOK_SOCKET");
	char *path = NULL;

	if (env && *env)
		return strdup(env);
	if (geteuid() == 0)
		return strdup("/run/mhook/mhookd.sock");
	env = getenv("XDG_RUNTIME_DIR");
	if (env && *env && asprintf(&path, "%s/mhookd.sock", env) >= 0)
		return path;
	fprintf(stderr, "mhook: no socket path: give -S PATH, or set MHOOK_SOCKET or "
		"XDG_RUNTIME_DIR\n");
	return NULL;
}

/* ---- fields -------------------------------------------------------------------------- */

static struct json_object *field(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

const char *field_str(struct json_object *o, const char *key, const char *dflt)
{
	struct json_object *v = field(o, key);

	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : dflt;
}

int64_t field_int(struct json_object *o, const char *key, int64_t dflt)
{
	struct json_object *v = field(o, key);

	return json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : dflt;
}

bool field_bool(struct json_object *o, const char *key, bool dflt)
{
	struct json_object *v = field(o, key);

	return json_object_is_type(v, json_type_boolean) ? json_object_get_boolean(v) : dflt;
}

struct json_object *field_array(struct json_object *o, const char *key)
{
	struct json_object *v = field(o, key);

	return json_object_is_type(v, json_type_array) ? v : NULL;
}

/* ---- lines --------------------------------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A whole line from start, or NULL; scanned spares rescanning a long line per read. */
static char *find_newline(struct conn *c)
{
	char *from = c->buf + c->start + c->scanned;
	char *nl = memchr(from, '\n', c->len - c->start - c->scanned);

	if (!nl)
		c->scanned = c->len - c->start;
	return nl;
}

bool conn_line_ready(struct conn *c)
{
	return c->buf && find_newline(c) != NULL;
}

/* Reads what the socket has: 1 read something (or reached its end), 0 nothing in time
 * or a signal came, -2 an error (printed). */
static int fill(struct conn *c, int64_t deadline)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	struct timespec ts, *tsp = NULL;

	if (deadline >= 0) {
		int64_t left = deadline - now_ms();
		if (left < 0)
			left = 0;
		ts.tv_sec = left / 1000;
		ts.tv_nsec = (left % 1000) * 1000000;
		tsp = &ts;
	}
	int n = ppoll(&pfd, 1, tsp, c->wait_mask);
	if (n == 0 || (n < 0 && errno == EINTR))
		return 0;
	if (n < 0) {
		fprintf(stderr, "mhook: waiting for mhookd: %s\n", strerror(errno));
		return -2;
	}
	if (c->start) {
		memmove(c->buf, c->buf + c->start, c->len - c->start);
		c->len -= c->start;
		c->start = 0;
	}
	if (c->len == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 65536;
		char *b;
		if (c->cap > MAX_LINE || !(b = realloc(c->buf, cap))) {
			fprintf(stderr, "mhook: %s sent a line longer than %u MiB\n", c->path,
				MAX_LINE >> 20);
			return -2;
		}
		c->buf = b;
		c->cap = cap;
	}
	ssize_t r = read(c->fd, c->buf + c->len, c->cap - c->len);
	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	/* A server that closes with our request unread resets: the same end to us. */
	if (r == 0 || (r < 0 && errno == ECONNRESET)) {
		c->eof = true;
		return 1;
	}
	if (r < 0) {
		fprintf(stderr, "mhook: reading from %s: %s\n", c->path, strerror(errno));
		return -2;
	}
	c->len += (size_t)r;
	return 1;
}

int conn_read_line(struct conn *c, int timeout_ms, char **line, size_t *len)
{
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;

	for (;;) {
		char *nl = c->buf ? find_newline(c) : NULL;
		if (nl) {
			char *s = c->buf + c->start;
			c->start = (size_t)(nl + 1 - c->buf);
			c->scanned = 0;
			if (strspn(s, " \t\r") >= (size_t)(nl - s))
				continue;
			*line = s;
			*len = (size_t)(nl - s);
			return 1;
		}
		if (c->eof)
			return -1;
		int rc = fill(c, deadline);
		if (rc <= 0)
			return rc;
	}
}

struct json_object *conn_parse(const char *line, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *obj = NULL;

	if (tok) {
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
		obj = json_tokener_parse_ex(tok, line, (int)len);
		size_t end = json_tokener_get_parse_end(tok);
		bool trailing = false;
		for (size_t i = end; i < len; i++)
			trailing |= !strchr(" \t\r", line[i]) || !line[i];
		if (obj && (!json_object_is_type(obj, json_type_object) || trailing)) {
			json_object_put(obj);
			obj = NULL;
		}
		json_tokener_free(tok);
	}
	if (!obj)
		fprintf(stderr, "mhook: ignoring a line from mhookd that is not a JSON object: "
			"%.*s\n", len > 80 ? 80 : (int)len, line);
	return obj;
}

/* ---- connecting ------------------------------------------------------------------------ */

static int unreachable(const char *path, int err)
{
	fprintf(stderr, "mhook: cannot connect to %s: %s ", path, strerror(err));
	if (err == EACCES || err == EPERM)
		fputs("(the socket's mode or group keeps this user out: see mhookd "
		      "--socket-mode, --socket-group)\n", stderr);
	else
		fprintf(stderr, "(is mhookd running? Start it with: mhookd --listen %s)\n", path);
	return MHOOK_EXIT_UNREACHABLE;
}

static int read_hello(struct conn *c)
{
	char *line;
	size_t len;
	int rc = conn_read_line(c, HELLO_TIMEOUT_MS, &line, &len);

	if (rc == 0) {
		fprintf(stderr, "mhook: %s said nothing in %d s: is it mhookd's socket?\n", c->path,
			HELLO_TIMEOUT_MS / 1000);
		return MHOOK_EXIT_UNREACHABLE;
	}
	if (rc < 0) {
		if (rc == -1)
			fprintf(stderr, "mhook: %s closed the connection before its hello\n",
				c->path);
		return MHOOK_EXIT_UNREACHABLE;
	}
	struct json_object *hello = conn_parse(line, len);
	const char *ev = field_str(hello, "event", "");
	int status = MHOOK_EXIT_UNREACHABLE;
	if (!strcmp(ev, "bye"))
		fprintf(stderr, "mhook: mhookd at %s is shutting down (%s)\n", c->path,
			field_str(hello, "reason", "no reason given"));
	else if (strcmp(ev, "hello"))
		fprintf(stderr, "mhook: %s did not greet as mhookd does: %.*s\n", c->path,
			len > 80 ? 80 : (int)len, line);
	else if (field_int(hello, "protocol", -1) != PROTOCOL)
		fprintf(stderr, "mhook: mhookd at %s speaks protocol %s, this mhook speaks %d\n",
			c->path, json_object_to_json_string(field(hello, "protocol")), PROTOCOL);
	else
		status = 0;
	c->client = (int)field_int(hello, "client", 0);
	struct json_object *names = field_array(hello, "strategies");
	for (size_t i = 0, n = names ? json_object_array_length(names) : 0; i < n; i++) {
		const char *name = json_object_get_string(json_object_array_get_idx(names, i));
		size_t used = strlen(c->strategies);
		snprintf(c->strategies + used, sizeof(c->strategies) - used, "%s%s",
			 used ? ", " : "", name ? name : "?");
	}
	json_object_put(hello);
	return status;
}

int conn_open(struct conn *c, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->path = path;
	c->next_id = 1;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "mhook: the socket path %s is too long (at most %zu bytes)\n", path,
			sizeof(sa.sun_path) - 1);
		return MHOOK_EXIT_USAGE;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		fprintf(stderr, "mhook: socket: %s\n", strerror(errno));
		return MHOOK_EXIT_UNREACHABLE;
	}
	int rc;
	while ((rc = connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) < 0 && errno == EINTR)
		;
	if (rc < 0)
		return unreachable(path, errno);
	return read_hello(c);
}

void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
	c->start = c->len = c->cap = c->scanned = 0;
}

/* ---- requests ---------------------------------------------------------------------------- */

struct json_object *conn_request(const char *op)
{
	struct json_object *o = json_object_new_object();

	/* "id" first, as a person reading a capture expects; conn_call sets it. */
	if (!o || json_object_object_add(o, "id", NULL) ||
	    json_object_object_add(o, "op", json_object_new_string(op))) {
		fputs("mhook: out of memory\n", stderr);
		exit(MHOOK_EXIT_USAGE);
	}
	return o;
}

static int send_all(struct conn *c, const char *s, size_t n)
{
	while (n) {
		ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			fprintf(stderr, "mhook: writing to %s: %s\n", c->path, strerror(errno));
			return -1;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static int send_request(struct conn *c, struct json_object *req, int64_t id)
{
	size_t n;
	const char *s;
	int rc = -1;

	if (!json_object_object_add(req, "id", json_object_new_int64(id)) &&
	    (s = json_object_to_json_string_length(req, JSON_C_TO_STRING_PLAIN |
						   JSON_C_TO_STRING_NOSLASHESCAPE, &n))) {
		char *line = malloc(n + 1);
		if (line) {
			memcpy(line, s, n);
			line[n] = '\n';
			rc = send_all(c, line, n + 1);
			free(line);
		}
	}
	json_object_put(req);
	return rc;
}

struct json_object *conn_call(struct conn *c, struct json_object *req, conn_event_fn *on_event,
			      void *ctx, char **raw)
{
	int64_t id = c->next_id++;
	char *line;
	size_t len;

	if (raw)
		*raw = NULL;
	if (send_request(c, req, id) < 0)
		return NULL;
	for (;;) {
		int rc = conn_read_line(c, -1, &line, &len);
		if (rc == 0)
			continue; /* a signal: the caller looks at its flags once the reply is in */
		if (rc < 0) {
			if (rc == -1)
				fprintf(stderr, "mhook: mhookd closed the connection before answering\n");
			return NULL;
		}
		struct json_object *obj = conn_parse(line, len), *v;
		if (!obj)
			continue;
		if (json_object_object_get_ex(obj, "event", NULL)) {
			if (on_event)
				on_event(ctx, line, len, obj);
			else if (!strcmp(field_str(obj, "event", ""), "bye"))
				fprintf(stderr, "mhook: mhookd is shutting down (%s)\n",
					field_str(obj, "reason", "no reason given"));
			json_object_put(obj);
			continue;
		}
		/* A null id answers a line whose id could not be read: ours, one at a time. */
		bool has_id = json_object_object_get_ex(obj, "id", &v);
		int64_t got = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : id;
		if (!has_id || got > id) {
			fprintf(stderr, "mhook: mhookd answered %s while request %lld waited\n",
				has_id ? json_object_to_json_string(v) : "with no id", (long long)id);
			json_object_put(obj);
			return NULL;
		}
		if (got < id) {
			json_object_put(obj);
			continue;
		}
		if (raw && !(*raw = strndup(line, len))) {
			fputs("mhook: out of memory\n", stderr);
			json_object_put(obj);
			return NULL;
		}
		return obj;
	}
}

static int code_status(const char *code)
{
	static const char *const refused[] = {
		"denied", "no_such_process", "not_found", "busy", "cannot_hook", "internal",
	};

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (!strcmp(code, refused[i]))
			return MHOOK_EXIT_REFUSED;
	return MHOOK_EXIT_USAGE;
}

int conn_reply_status(struct json_object *reply, const char *what)
{
	if (field_bool(reply, "ok", false))
		return 0;
	const char *code = field_str(reply, "code", "no code");
	fprintf(stderr, "mhook: %s%s%s (%s)\n", what ? what : "", what ? ": " : "",
		field_str(reply, "error", "mhookd gave no reason"), code);
	return code_status(code);
}

bool conn_has_strategy(const struct conn *c, const char *name)
{
	size_t n = strlen(name);

	if (!c->strategies[0])
		return true; /* a hello without the list: mhookd will say */
	for (const char *p = c->strategies; *p;) {
		if (!strncmp(p, name, n) && (p[n] == ',' || !p[n]))
			return true;
		p += strcspn(p, ",");
		p += strspn(p, ", ");
	}
	return false;
}
