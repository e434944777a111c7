/*
 * The target's handlers for the signals our traps raise (SIGTRAP for int3 and debug
 * exceptions, SIGSEGV for nx's faults). While such a handler runs, its signal is blocked,
 * and a trap of ours inside it is a forced signal on a blocked signal: the kernel resets
 * the handler to SIG_DFL and unblocks the signal before we see the stop, so the target's
 * next SIGTRAP or SIGSEGV would kill it. sigwatch remembers the handler when the target's
 * own signal is delivered, and puts it back when one of our traps reset it.
 */
#ifndef MHOOK_SIGWATCH_H
#define MHOOK_SIGWATCH_H

#include <stdbool.h>

#include "tracer/session.h"

/* The target's own sig (SIGTRAP or SIGSEGV) is about to be delivered to t, which is at its
 * signal-delivery-stop: read its handler and watch t. Costs one injected syscall, only
 * for the target's own signals of these two kinds. */
void sigwatch_note_delivery(struct session *s, struct thread *t, int sig);

/* A trap of ours (raising sig) stopped t. If t may be inside the target's handler for sig
 * and the trap reset it, restore the handler and block sig again. Free unless t is
 * watched. */
void sigwatch_after_trap(struct session *s, struct thread *t, int sig);

/* Forgets the watched threads (exec, or a fork child's copy of the session). */
void sigwatch_reset(struct session *s, bool keep_handlers);

#endif
