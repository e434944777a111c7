/*
 * Keeping hooks in line with what the target has loaded: resolving SPECs (now, or later
 * when a library that defines them appears), preparing and then arming every new hook,
 * dropping the hooks of unloaded objects, and the dynamic linker's rendezvous breakpoint
 * that says when to look. Also adding and removing SPECs while the target runs.
 */
#ifndef MHOOK_HOOKS_H
#define MHOOK_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tracer/session.h"

struct strategy_ops;

/*
 * With every thread stopped: reloads the target's objects, drops hooks whose object is
 * gone, resolves the pending SPECs, prepares every hook that resolved and only then
 * installs them, and (re)arms the rendezvous breakpoint. Before the ready event, a SPEC
 * that cannot be resolved or hooked is fatal: nothing is installed, what was prepared is
 * given back, and the exit status is returned (1 bad SPEC, 2 cannot hook) with the reason
 * reported; pending SPECs are allowed when s->allow_pending. After ready, failures become
 * error events and newly armed hooks "armed" events. Returns 0 on success.
 */
int hooks_sync(struct session *s);

/* Adds SPEC spec, hooked with ops, to s (every session copied from s later has it too).
 * It is resolved and armed at the next hooks_sync. Returns its index or -ENOMEM. */
int hooks_add_spec(struct session *s, const struct spec *spec, const struct strategy_ops *ops);

/* With every thread stopped: removes the hook of SPEC i (if armed) and forgets the SPEC,
 * which is never armed again. Returns 0, or -EINVAL for no such SPEC. */
int hooks_remove_spec(struct session *s, int i);

/* On the tracer thread, while the target runs (a request from a client): adds SPEC spec,
 * hooked with ops, and arms it at once, every thread stopped for that moment only.
 * Returns its index in s->specs (s->specs[i].hook says whether it is armed, pending or
 * refused, with an error event), or a negative errno. */
int hooks_hook_now(struct session *s, const struct spec *spec, const struct strategy_ops *ops);

/* The same for removing SPEC i: its entry is byte-identical again when this returns.
 * Returns 0 or a negative errno. */
int hooks_unhook_now(struct session *s, int i);

/*
 * A SIGTRAP stop of t at pc: if it is the rendezvous breakpoint, moves t past it (out of
 * line) and returns true; *changed says the objects are consistent again after a change.
 */
bool rdebug_on_trap(struct session *s, struct thread *t, uint64_t pc, bool *changed);

/* A SIGTRAP stop of t at pc: true when it was one of sigstate's watches (the shadow has
 * read the call, and t resumes from the watch's slot). */
bool hooks_sigwatch_trap(struct session *s, struct thread *t, uint64_t pc);

/* Forgets every hook, the strategies' states and the rendezvous breakpoint without
 * touching the target: exec replaced the memory they lived in. Every SPEC becomes
 * pending again. */
void hooks_forget_all(struct session *s);

/* Frees the SPECs made for what globs matched (at exit, once no session uses them). */
void hooks_free_made_specs(void);

/* Whether s's strategies made [start, end) non-executable (nx); for image_source. */
bool hooks_hides_exec(void *session, uint64_t start, uint64_t end);

#endif
