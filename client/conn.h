/*
 * One connection to mhookd's socket, as mhook(1) uses it (docs/protocol.md, "The
 * socket"): connect and check the hello, send requests numbered from 1, read JSON lines,
 * and wait for a request's reply while handing every event that arrives meanwhile to the
 * caller, in order. One request is in flight at a time, so a reply is simply the next line
 * that is not an event. Errors are printed here, once, as "mhook: ..." lines, and come back
 * as the exit status they call for (MHOOK_EXIT_*).
 */
#ifndef MHOOK_CLIENT_CONN_H
#define MHOOK_CLIENT_CONN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

/* Exit statuses (mhook(1), EXIT STATUS). */
#define MHOOK_EXIT_USAGE 1       /* bad usage, or a request mhookd found malformed */
#define MHOOK_EXIT_REFUSED 2     /* denied, no such process, not found, busy */
#define MHOOK_EXIT_UNREACHABLE 3 /* no mhookd at the path, or the connection was lost */

struct conn {
	int fd;
	const char *path;
	char *buf;               /* bytes read and not yet handed out as lines */
	size_t start, len, cap;  /* the unread bytes are buf[start, len) */
	size_t scanned;          /* bytes from start known to hold no newline */
	bool eof;
	int64_t next_id;         /* ids only grow on a connection (bad_request otherwise) */
	int client;              /* this connection's number, from the hello */
	char strategies[256];    /* the hello's, as "swbp, hwbp, nx" ("" when it had none) */
	/* While set, blocking waits let these signals in (ppoll): the caller's handlers see
	 * them, and a wait returns 0 so that the caller can look at its flags. */
	const sigset_t *wait_mask;
};

/*
 * The socket's path when -S gives none: $MHOOK_SOCKET, else /run/mhook/mhookd.sock for
 * root, else $XDG_RUNTIME_DIR/mhookd.sock. NULL (with a message printed) when none
 * applies. Returns a string to free.
 */
char *conn_default_path(void);

/* Connects to path and reads the hello. 0, or an exit status (the reason printed). */
int conn_open(struct conn *c, const char *path);
void conn_close(struct conn *c);

/*
 * The next line off the connection, without its newline, at *line (valid until the next
 * call); blank lines are skipped. timeout_ms < 0 waits for ever. Returns 1 with a line; 0
 * when the time ran out or a signal of wait_mask came; -1 at the end of the connection
 * (an unfinished last line is dropped); -2 on a read error (printed).
 */
int conn_read_line(struct conn *c, int timeout_ms, char **line, size_t *len);

/* Whether a whole line is buffered already, so that reading it cannot block. */
bool conn_line_ready(struct conn *c);

/* A line parsed as one JSON object, or NULL (a warning printed) for anything else. */
struct json_object *conn_parse(const char *line, size_t len);

/* Called for each event line (an object with "event") that arrives while a reply is
 * awaited; obj is the parsed line, still the caller's. */
typedef void conn_event_fn(void *ctx, const char *line, size_t len, struct json_object *obj);

/*
 * Sends req (an object; its "id" is set here, and req is put) and waits for the reply.
 * Events meanwhile go to on_event (dropped when it is NULL). With raw, *raw gets a copy
 * of the reply line as received (free it). Returns the reply (put it), or NULL when the
 * connection ended or failed first (printed).
 */
struct json_object *conn_call(struct conn *c, struct json_object *req, conn_event_fn *on_event,
			      void *ctx, char **raw);

/* 0 for an ok:true reply; else prints "mhook: ERROR (code)", prefixed by what when not
 * NULL, and returns the exit status the code calls for. */
int conn_reply_status(struct json_object *reply, const char *what);

/* Whether the hello named strategy name (true when it named none). */
bool conn_has_strategy(const struct conn *c, const char *name);

/* A request object {"op": op}, to add fields to. Never NULL (out of memory exits). */
struct json_object *conn_request(const char *op);

/* Members of a reply that may be missing or of another type: the default then. */
const char *field_str(struct json_object *o, const char *key, const char *dflt);
int64_t field_int(struct json_object *o, const char *key, int64_t dflt);
bool field_bool(struct json_object *o, const char *key, bool dflt);
/* The array member key, or NULL. */
struct json_object *field_array(struct json_object *o, const char *key);

#endif
