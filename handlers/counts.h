/*
 * The counts (counts.c): per hook of each traced process, its calls and collateral stops,
 * and the calls by vfork children that share the process's memory. The summary adds them
 * up per function over every process.
 */
#ifndef MHOOK_COUNTS_H
#define MHOOK_COUNTS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sinks/event.h"
#include "tracer/session.h"

struct hook_counts {
	const char *func;         /* the hook's name, interned: what call events carry */
	uint64_t calls;           /* calls by the process itself */
	uint64_t collateral;      /* nx: stops on its page that were not calls */
	struct event_pid_count *by_pid; /* calls by vfork children sharing the memory */
	int nby_pid;
};

/* The counts of hook h of session s, created (zeroed) on first use. */
struct hook_counts *counts_of(struct session *s, const struct hook *h);

/* A name that lives as long as the process (until counts_free). */
const char *counts_intern(const char *name);

/* Counts a call of h by process pid (s's own, or a vfork child's). */
void counts_call(struct session *s, const struct hook *h, pid_t pid);

/* Gives child (a fork copy of parent) counts of its own, zero, with the same names. */
void counts_copy_session(struct session *parent, struct session *child);

/* Fills ev (an EVENT_SUMMARY) with a row per function over every traced process, then one
 * per SPEC of main (NULL: a daemon's, none) that no hook ever served. */
void counts_summary(struct session *main, struct event *ev);

/* SPEC i of main was never served by a hook in any traced process (pending all along,
 * or failed for good): its summary row says "never armed". */
bool counts_never_armed(const struct session *main, int i);

/* Frees every session's counts and the interned names. */
void counts_free(void);

#endif
