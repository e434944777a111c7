/*
 * The stop loop: waits for ptrace stops and dispatches them (breakpoint hits, the
 * target's own signals, group-stops, new threads and children, exec and exit). Also the
 * primitives built on it: stopping every thread and single-stepping one.
 */
#ifndef MHOOK_LOOP_H
#define MHOOK_LOOP_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "tracer/session.h"

/* Set (to the signal number) by SIGINT, SIGTERM, SIGHUP or SIGALRM (--duration). */
extern volatile sig_atomic_t loop_stop_signal;

/* Blocks the signals that end a session, to be taken with sigtimedwait (no handler). */
void loop_install_signal_handlers(void);
/* Undoes that in a launched command's child before its exec: the mask and the SIGPIPE
 * disposition go back to what mhookd itself inherited. */
void loop_restore_inherited_signals(void);

/* PTRACE_SEIZE options: every thread, fork/vfork children, exec. */
#define LOOP_PTRACE_OPTIONS (PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | \
			     PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC)

/* Handles one wait status of tid. With hold, the thread is left stopped (its resume
 * action recorded); otherwise it is resumed. */
void loop_handle(struct session *s, pid_t tid, int status, bool hold);

/* Runs until the target is gone or a stop signal arrives. Returns 0. */
int loop_run(struct session *s);

/* Single-steps stopped thread t once, handling other stops of t meanwhile. Returns 0,
 * or -ESRCH when t is gone. */
int loop_step(struct session *s, struct thread *t);

/* Waits until thread t reports a SIGTRAP signal-delivery-stop (other stops of t are
 * handled and t resumed); t must have been resumed. Returns 0 or -ESRCH. */
int loop_wait_trap(struct session *s, struct thread *t);

/* True when tid has a SIGTRAP pending (not yet reported), from /proc/TID/status. */
bool sigtrap_pending(pid_t tid);

/* Reads the thread-group id of tid from /proc; 0 if unknown. */
pid_t proc_tgid(pid_t tid);

#endif
