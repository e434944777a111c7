/*
 * One event of mhookd's stream: what the handlers produce from the tracer's news and every
 * sink consumes (text, JSON lines; the socket server is one more). An event owns what it
 * points to, except a call's func, which is an interned name that outlives every event,
 * so that a call costs no allocation: it is one fixed-size struct copied into the queue.
 *
 * Kinds to come (return values, syscalls) add a kind and a member of the union; sinks
 * ignore kinds they do not know. The socket's own lines (hello, bye, lost) are not events:
 * they concern one client, and ipc/ writes them itself.
 */
#ifndef MHOOK_EVENT_H
#define MHOOK_EVENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define EVENT_MAX_ARGS 8

enum event_kind {
	EVENT_READY,     /* every SPEC of a process armed or pending */
	EVENT_ARMED,     /* a hook armed after ready */
	EVENT_DISARMED,  /* a hook gone with its object */
	EVENT_EXEC,      /* a process runs a new program */
	EVENT_CHILD,     /* a process created a child that is traced too */
	EVENT_CALL,      /* a hooked function was called */
	EVENT_SUMMARY,   /* the counts at the end */
	EVENT_ERROR,     /* something the run survived */
	EVENT_EXIT,      /* a traced process ended */
};

/* A hook as events name it. */
struct event_hook {
	const char *func, *lib, *spec, *strategy;
	const char *shared_with; /* "" when the code serves no other name */
	uint64_t addr;
};

/* A SPEC that nothing loaded defines yet. */
struct event_pending {
	const char *spec, *why;
};

struct event_pid_count {
	pid_t pid;
	uint64_t calls;
};

/* One line of the summary: a function, summed over every traced process. */
struct event_row {
	const char *func, *lib, *strategy;
	const char *spec;        /* for a SPEC never armed */
	uint64_t addr, calls, collateral;
	uint64_t page;           /* nx: the page of its entry, on which its collateral stops
				  * are counted (0 for other strategies) */
	uint64_t page_collateral; /* every collateral stop on that page, whoever's row */
	bool armed;              /* false: a SPEC that no hook ever served */
	bool has_collateral;     /* its strategy counts collateral stops (nx) */
	struct event_pid_count *per_pid;
	int nper_pid;
};

/* Memory an event owns, freed with it: a chain of blocks. */
struct event_block;

struct event {
	enum event_kind kind;
	pid_t pid;               /* the process it is about (summary: the first one traced) */
	uint64_t ts_ns;          /* CLOCK_MONOTONIC when it happened */
	union {
		struct {
			pid_t tid;
			const char *func; /* interned: lives as long as the process */
			uint64_t addr;
			int nargs;
			uint64_t args[EVENT_MAX_ARGS];
		} call;
		struct {
			struct event_hook *hooks;
			int nhooks;
			struct event_pending *pending;
			int npending;
		} ready;
		struct {
			struct event_hook hook;
			const char *why;  /* disarmed only */
		} hook;                   /* armed, disarmed */
		struct {
			const char *path;
		} exec;
		struct {
			pid_t child;
		} child;
		struct {
			struct event_row *rows;
			int nrows;
			bool collateral_column; /* some row's strategy counts collateral */
		} summary;
		struct {
			const char *message;
		} error;
		struct {
			int status;       /* exit code, when signal is 0 */
			int signal;       /* the signal that killed it, or 0 */
		} exit;
	};
	struct event_block *owned;
};

/* Allocates n bytes (zeroed) that ev owns, or NULL. */
void *event_alloc(struct event *ev, size_t n);
/* A copy of s that ev owns ("" when out of memory or s is NULL). */
const char *event_strdup(struct event *ev, const char *s);
/* Frees what ev owns. */
void event_free(struct event *ev);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t event_now_ns(void);

#endif
