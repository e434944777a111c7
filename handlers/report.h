/*
 * What a hit produces: events in text or JSON lines (contract 4.2), per-hook counts and
 * the summaries at exit. Text and JSON are two constant report_format tables behind one
 * interface, so the stop loop never tests for the output mode.
 */
#ifndef MHOOK_REPORT_H
#define MHOOK_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "tracer/arch.h"

struct session;
struct hook;

struct report {
	FILE *out;
	bool json;
	bool summary_only;
	bool dirty;              /* output buffered since the last flush */
	uint64_t start_ns;       /* CLOCK_MONOTONIC at start, for text timestamps */
	const struct report_format *fmt;
};

struct report_format {
	void (*ready)(struct report *r, const struct session *s);
	void (*armed)(struct report *r, const struct session *s, const struct hook *h);
	void (*exec)(struct report *r, const struct session *s, const char *path);
	void (*child)(struct report *r, pid_t pid, pid_t child);
	void (*disarmed)(struct report *r, const struct session *s, const struct hook *h,
			 const char *why);
	void (*call)(struct report *r, pid_t pid, pid_t tid, const struct hook *h,
		     uint64_t ts_ns, const uint64_t *args, int nargs);
	void (*summary)(struct report *r, const struct session *s);
	void (*error)(struct report *r, const char *msg);
};

/* Sets r up to write to out in text or JSON. */
void report_init(struct report *r, FILE *out, bool json, bool summary_only);

void report_ready(struct report *r, const struct session *s);
/* A pending SPEC was armed after ready (a library was loaded). */
void report_armed(struct report *r, const struct session *s, const struct hook *h);
/* The target executed a new program: its hooks are resolved again in it. */
void report_exec(struct report *r, const struct session *s);
/* A hook went away with its object (dlclose); it is armed again if the object returns. */
void report_disarmed(struct report *r, const struct session *s, const struct hook *h,
		     const char *why);
/* One hit: counts it and, unless summaries only, prints the call event. */
void report_call(struct report *r, const struct session *s, pid_t tid, struct hook *h,
		 const struct arch_regs *regs);
/* The same for a hit by process pid sharing s's memory (a vfork child, with -F). */
void report_call_as(struct report *r, const struct session *s, pid_t pid, pid_t tid,
		    struct hook *h, const struct arch_regs *regs);
/* -F: process pid forked child, which is now traced and hooked too. */
void report_child(struct report *r, pid_t pid, pid_t child);
void report_summary(struct report *r, const struct session *s);
/* An error that the run survives: an error event in JSON, a "mhookd: " line in text. */
void report_error(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Flushes buffered events; called before the tracer blocks. */
void report_flush(struct report *r);

uint64_t now_ns(void);

/* Writes s as a JSON string literal (quotes included) to out. */
void json_put_string(FILE *out, const char *s);

#endif
