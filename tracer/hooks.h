/*
 * Keeping hooks in line with what the target has loaded: resolving SPECs (now, or later
 * when a library that defines them appears), arming new hooks, dropping the hooks of
 * unloaded objects, and the dynamic linker's rendezvous breakpoint that says when to look.
 */
#ifndef MHOOK_HOOKS_H
#define MHOOK_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "tracer/session.h"

struct thread;

/*
 * With every thread stopped: reloads the target's objects, drops hooks whose object is
 * gone, resolves the pending SPECs, prepares and arms what resolved, and (re)arms the
 * rendezvous breakpoint. Before the ready event, a SPEC that cannot be resolved or hooked
 * is fatal: returns the exit status (1 bad SPEC, 2 cannot hook) with the reason printed;
 * pending SPECs are allowed when s->allow_pending. After it, failures become error events
 * and newly armed hooks "armed" events. Returns 0 on success.
 */
int hooks_sync(struct session *s);

/*
 * A SIGTRAP stop of t at pc: if it is the rendezvous breakpoint, moves t past it (out of
 * line) and returns true; *changed says the objects are consistent again after a change.
 */
bool rdebug_on_trap(struct session *s, struct thread *t, uint64_t pc, bool *changed);

/* A fork child has a copy of the rendezvous breakpoint: remove it. */
void rdebug_clean_child(struct session *s, pid_t child);

/* Forgets every hook and the rendezvous breakpoint without touching the target: exec
 * replaced the memory they lived in. Every SPEC becomes pending again. */
void hooks_forget_all(struct session *s);

#endif
