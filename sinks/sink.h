/*
 * A sink formats events and writes them somewhere: one constant struct sink_ops each
 * (text.c for people, json.c for programs; the socket server is another). Sinks know the
 * event definition and nothing else of mhookd; they run on the sink thread (queue.h), one
 * event at a time, so they need no locking of their own.
 */
#ifndef MHOOK_SINK_H
#define MHOOK_SINK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "sinks/event.h"

struct sink;

struct sink_ops {
	const char *name;
	/* Formats ev into the sink's buffer. 0 or a negative errno. */
	int (*emit)(struct sink *k, const struct event *ev);
	/* Writes out what is buffered. 0, or a negative errno when it cannot be written
	 * (nobody reads a pipe any more, a full disk). */
	int (*flush)(struct sink *k);
	/* Flushes and releases the sink, closing its file if the sink owns it. */
	void (*close)(struct sink *k);
};

struct sink {
	const struct sink_ops *ops;
	FILE *out;
	bool owns_out;           /* close out with the sink */
	bool critical;           /* a failed write ends the run (the main report stream) */
	int write_error;         /* the errno of the first write that failed, or 0 */
	uint64_t start_ns;       /* text: call times are printed relative to this */
	int time_of_day;         /* text: 1 (-t) HH:MM:SS, 2 (-tt) with microseconds, 3 (-ttt)
				  * seconds since the epoch, instead of seconds since start_ns */
	int64_t wall_offset_ns;  /* CLOCK_REALTIME minus CLOCK_MONOTONIC, for time_of_day */
	bool skip_calls;         /* -c: calls are counted for others (clients), not shown */
	bool show_exits;         /* exit events: mhookd's own output and the socket's clients
				  * show them; a daemon's stderr does not */
};

/* The text form, one line per event (see text.c), written to out. start_ns is mhookd's
 * start, for the call lines' seconds. NULL when out of memory. */
struct sink *sink_text_new(FILE *out, bool owns_out, uint64_t start_ns);

/* JSON lines (docs/protocol.md), written to out. */
struct sink *sink_json_new(FILE *out, bool owns_out);

/* Only the error events, as text "mhookd: MESSAGE" lines: a person watching stderr while
 * the JSON goes elsewhere still sees what went wrong. */
struct sink *sink_errors_new(FILE *out);

/* For sinks that write a FILE (text.c): a sink of ops on out, and its flush and close.
 * The flush keeps the first failure's errno in write_error. */
struct sink *sink_file_new(const struct sink_ops *ops, FILE *out, bool owns_out);
int sink_file_flush(struct sink *k);
void sink_file_close(struct sink *k);

/* A stream on fd for reports that may share a pipe or terminal with the target's own
 * output: every write(2) it makes ends at a line's end and holds whole lines of at most
 * PIPE_BUF bytes together (lines.c), so that no other writer can split a line that
 * short. fd is closed with the stream when close_fd. NULL when out of memory. */
FILE *sink_lines_fdopen(int fd, bool close_fd);

/* One summary row as a JSON line; extra (or NULL) is inserted after the pid, ending in a
 * comma: the socket adds "interval_ms":N, to its periodic rows. */
void json_summary_row(FILE *out, pid_t pid, const struct event_row *r, const char *extra);

/* Writes s as a JSON string literal (quotes included) to out. */
void json_put_string(FILE *out, const char *s);

#endif
