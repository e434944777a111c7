/*
 * mhook's commands, one function each, run on an open connection (conn.h) once the
 * command line is parsed (mhook.c). Each returns the process's exit status.
 */
#ifndef MHOOK_CLIENT_COMMANDS_H
#define MHOOK_CLIENT_COMMANDS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "client/conn.h"

struct attach_options {
	pid_t pid;
	char **specs;            /* as given: mhookd parses them */
	int nspecs;
	const char *strategy;    /* NULL: mhookd's default (swbp) */
	bool json;               /* print events as received */
	bool counts_only;        /* -c: no line per call */
	bool pending;
	uint64_t start_ns;       /* mhook's start: call times are relative to it */
};

/* Hooks each SPEC, streams the events of the process to stdout until SIGINT, SIGTERM,
 * the process's exit or mhookd's bye, then unhooks and prints the summary. */
int cmd_attach(struct conn *c, const struct attach_options *o);

int cmd_detach(struct conn *c, pid_t pid);
int cmd_list(struct conn *c, bool json);
int cmd_stats(struct conn *c, bool json);
int cmd_symbols(struct conn *c, pid_t pid, const char *glob, bool json);

#endif
