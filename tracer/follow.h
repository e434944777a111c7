/*
 * Following children (-F): one session per traced process. A fork child starts as a copy
 * of its parent's session, because its memory is a copy too (our breakpoints and scratch
 * pages included); it then lives on its own, and may exec into a program of its own. The
 * stop loop's single waitpid serves every session, so each stop is routed here to the
 * session of the thread that stopped.
 */
#ifndef MHOOK_FOLLOW_H
#define MHOOK_FOLLOW_H

#include <stdbool.h>
#include <sys/types.h>

#include "tracer/session.h"

/* Registers the first (main) session, or none (NULL: a daemon waiting for clients);
 * later ones are added by follow_fork and follow_add. */
void follow_init(struct session *main_session);

/* Adds s, a process attached on a client's request, which follow now owns: it is freed
 * by follow_remove or follow_free. */
void follow_add(struct session *s);

/* Forgets s (detached or gone) and frees it, unless it is the main session. */
void follow_remove(struct session *s);

/* The session that owns thread tid, or NULL. */
struct session *follow_owner(pid_t tid);

/* The session that a new, unknown tracee (its first stop) belongs to: the session of
 * its process if it is a thread, else the session of the process that created it. */
struct session *follow_parent_of(pid_t tid, struct session *fallback);

/* A fork child of parent, with its own memory, stopped at its first stop: returns its
 * new session (hooks as in the parent, already in its memory; the observer is told).
 * execed: the child (a vfork child that shared parent's memory until now) has just
 * exec'd, so nothing of the parent's is in its memory and the strategies' states are
 * not copied. */
struct session *follow_fork(struct session *parent, pid_t child, bool execed);

/* Every session, for detach and summaries. */
int follow_count(void);
struct session *follow_at(int i);

/* True when no traced thread is left in any session but those of client targets (the
 * command line's targets are all gone). */
bool follow_all_gone(void);

/* Frees every session but the main one, which is the caller's. */
void follow_free(void);

#endif
