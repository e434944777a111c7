/*
 * What the tracer tells the layer above it: hits, the session's news (hooks armed and
 * disarmed, ready, exec, children) and messages. The handlers implement these ops and main
 * hands them to each session (session.obs); the tracer and the strategies call them only
 * through that pointer, so nothing below the handlers knows what becomes of a hit.
 * Every call is made on the tracer thread, with the thread concerned still stopped.
 */
#ifndef MHOOK_OBSERVER_H
#define MHOOK_OBSERVER_H

#include <sys/types.h>

#include "tracer/arch.h"

struct session;
struct hook;

struct observer_ops {
	/* A call of h by thread tid of process pid: pid is s->pid, or a vfork child that
	 * shares s's memory (with -F). regs are the thread's at the entry. */
	void (*hit)(struct session *s, pid_t pid, pid_t tid, struct hook *h,
		    const struct arch_regs *regs);
	/* A stop charged to h that was no call of it (nx: other code on its page). */
	void (*collateral)(struct session *s, struct hook *h);
	/* h was installed: at the start, when a library that defines it arrived, or in the
	 * new program after an exec. */
	void (*armed)(struct session *s, struct hook *h);
	/* h went away with its object (dlclose). */
	void (*disarmed)(struct session *s, struct hook *h, const char *why);
	/* Every SPEC of s is armed or pending; the target is about to run hooked. */
	void (*ready)(struct session *s);
	/* s's process executed a new program; its SPECs are resolved again. */
	void (*exec)(struct session *s);
	/* s's process created process child, which is traced and hooked too (-F). */
	void (*child)(struct session *s, pid_t child);
	/* s's process ended while traced; status is its wait status. */
	void (*exit)(struct session *s, int status);
	/* child is a new session, copied from parent's (a fork followed with -F). */
	void (*session_new)(struct session *parent, struct session *child);
	/* Something the run survives. */
	void (*error)(struct session *s, const char *msg);
	/* Why the run cannot go on (a SPEC that cannot be hooked before ready): the tracer
	 * gives up after this, with an exit status of its own. */
	void (*fatal)(struct session *s, const char *msg);
	/* The tracer has nothing to do and is about to block: deliver what is buffered. */
	void (*idle)(void);
};

#endif
