/*
 * The way back from JSON: one line as the JSON sink writes it (docs/protocol.md) becomes
 * a struct event again, so that a client of mhookd's socket can hand what it receives to
 * the same sinks mhookd uses and print exactly what mhookd would. The input is untrusted
 * (a socket, a file, a fuzzer): every field is checked, and a failure leaves nothing
 * allocated behind.
 */
#ifndef MHOOK_EVENT_PARSE_H
#define MHOOK_EVENT_PARSE_H

#include <stddef.h>

#include "sinks/event.h"

struct json_object;

/* The return value for a well-formed event of a kind struct event has no member for
 * (the socket's hello, bye and lost, or a kind added later): callers skip it or read it
 * themselves. */
#define EVENT_PARSE_UNKNOWN 1

/*
 * Parses one JSON object of len bytes at line (a trailing newline and spaces are allowed;
 * line need not be NUL-terminated) into *ev, which is overwritten. Every string, the call's
 * func included, is copied into memory ev owns: release it with event_free. A summary line
 * is one row: an EVENT_SUMMARY with nrows 1. Unknown fields are ignored; a call's
 * arguments past EVENT_MAX_ARGS are dropped. Returns 0; EVENT_PARSE_UNKNOWN for an
 * unknown "event"; -EINVAL for anything malformed, with a one-line reason in err; -ENOMEM.
 * On any return but 0, ev owns nothing.
 */
int event_parse_json(const char *line, size_t len, struct event *ev, char *err,
		     size_t errlen);

/* The same for an object parsed already (a client that routes lines by their fields
 * parses each once). obj stays the caller's. */
int event_parse_object(struct json_object *obj, struct event *ev, char *err, size_t errlen);

/*
 * A hook object as events and replies name it ({"func","lib","addr","strategy","spec"},
 * "shared_with" optional) into *h, its strings in memory ev owns (ev is not reset: this
 * adds to it). 0, -EINVAL with the reason in err, or -ENOMEM.
 */
int event_parse_hook(struct json_object *obj, struct event *ev, struct event_hook *h,
		     char *err, size_t errlen);

#endif
