/*
 * The stop loop: waits for ptrace stops and dispatches them (breakpoint hits, the target's
 * own signals, group-stops, new threads and children, exec and exit) to the strategies and,
 * through the session's observer, to the handlers. It is the one place that decides when
 * hooks are re-synchronised with the loaded objects. Other threads reach it only through
 * its command queue (loop_call, loop_request_stop).
 */
#ifndef MHOOK_LOOP_H
#define MHOOK_LOOP_H

#include <stdbool.h>
#include <sys/ptrace.h>
#include <sys/types.h>

#include "tracer/session.h"

struct observer_ops;

/* PTRACE_SEIZE options: every thread, fork/vfork children, exec; syscall stops told
 * from SIGTRAPs (mhookd's injected syscalls stop at them, remote.c). */
#define LOOP_PTRACE_OPTIONS (PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | \
			     PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC | PTRACE_O_TRACESYSGOOD)

/* Sets a new, zeroed session up: the loop's dispatcher for stops that the services see,
 * and the observer its news go to. */
void loop_init_session(struct session *s, const struct observer_ops *obs);

/* Handles one wait status of tid, in the session that owns tid (s, or another traced
 * process with -F). With hold, the thread is left stopped (its resume action recorded);
 * otherwise it is resumed. */
void loop_handle(struct session *s, pid_t tid, int status, bool hold);

/* With every thread of s stopped: re-synchronises the hooks if the loaded objects changed
 * meanwhile (sending ready when it is due), then resumes every thread. On a fatal error
 * (s->fatal) everything stays stopped. */
void loop_resume_all(struct session *s);

/* Runs until every traced process is gone, a stop is requested (signals_stop) or a fatal
 * error (s->fatal); client targets (reap_when_gone) do not count, and their sessions are
 * freed once they are gone. With serve (a daemon answering clients), it runs until a stop
 * is requested, with no traced process at all if need be (s is then NULL). obs is told
 * when the tracer goes idle. */
int loop_run(struct session *s, const struct observer_ops *obs, bool serve);

/* From any thread: runs fn(ctx) on the tracer thread between two stops, and returns its
 * result; -ESRCH once the loop has ended. Before the loop starts, the call waits for it
 * (so the tracer thread itself must not call it then). fn runs with the target's threads in
 * whatever state the loop left them (running): it stops them itself if it must. Called
 * on the tracer thread, it runs fn at once. */
int loop_call(int (*fn)(void *ctx), void *ctx);

/* From any thread: asks the loop to end the run as if SIGTERM had come (why: the signal
 * number reported, SIGPIPE for an output that cannot be written). */
void loop_request_stop(int why);

/* Frees the strategies' states of s and then the session itself (not the struct). */
void loop_free_session(struct session *s);

#endif
