/*
 * What a client subscribed to (the subscribe request of docs/protocol.md): processes,
 * function globs, event kinds, or periodic summaries instead of calls. Parsed from the
 * request here and matched against each event by the socket sink; pure code, so the
 * fuzzer drives it too.
 */
#ifndef MHOOK_FILTER_H
#define MHOOK_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "sinks/event.h"

struct json_object;

/* Bit (1 << kind) for every kind a client may ask for by name. */
#define FILTER_ALL_KINDS 0xffffffffu

struct filter {
	pid_t *pids;             /* NULL: every process the client may see */
	int npids;
	char **funcs;            /* NULL: every function */
	int nfuncs;
	unsigned kinds;          /* bit per enum event_kind */
	unsigned summary_ms;     /* > 0: periodic summaries instead of calls */
	/* The last call's interned name and whether it matched: calls come in runs. */
	const char *last_func;
	bool last_match;
};

/* Fills f from a subscribe request. Returns 0, or -EINVAL with a reason in err. */
int filter_parse(struct json_object *req, struct filter *f, char *err, size_t errlen);

/* The name of a kind as the JSON has it ("call"), or NULL. */
const char *filter_kind_name(enum event_kind kind);

/* Whether f lets pid's events through (its kinds and functions aside). */
bool filter_wants_pid(const struct filter *f, pid_t pid);

/* Whether f lets ev through. Not const: it remembers the last function it matched. */
bool filter_match(struct filter *f, const struct event *ev);

/* Whether f lets a function of this name through (summary rows, armed, disarmed). */
bool filter_wants_func(const struct filter *f, const char *func);

void filter_free(struct filter *f);

#endif
