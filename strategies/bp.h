/*
 * What the two strategies that put a breakpoint instruction at the entry share (swbp,
 * which runs the displaced instruction out of line, and step, which puts it back for one
 * single-step): reading the entry, writing the breakpoint over exactly the bytes that
 * prepare saw, and writing the original back only over our own breakpoint.
 */
#ifndef MHOOK_STRATEGIES_BP_H
#define MHOOK_STRATEGIES_BP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tracer/session.h"

struct strategy_ops;

/* Reads up to max bytes of h's entry into code, fewer when the mapping ends sooner, and
 * refuses an entry that cannot be read or already holds a breakpoint instruction.
 * Returns how many bytes (at least arch_bp_len), or a negative errno with err set. */
int bp_read_entry(struct session *s, const struct hook *h, uint8_t *code, size_t max,
		  char *err, size_t errlen);

/* Whether stopped tid's SIGTRAP comes from a breakpoint instruction, not kill() or
 * raise(): what tells our trap from the target's own when the PC alone cannot (a thread
 * that has just run a one-byte instruction sits where a breakpoint trap leaves it). */
bool bp_trap_is_bp(pid_t tid);

/* Writes the breakpoint at h's entry if the bytes there are still h->orig, and marks it
 * armed. Idempotent. 0 or a negative errno (-EAGAIN: the code changed since prepare). */
int bp_install(struct session *s, struct hook *h);

/* Puts h's original bytes back in pid, but only over our own breakpoint: the target may
 * have rewritten its code meanwhile. 0 or a negative errno. */
int bp_restore(pid_t pid, const struct hook *h);

/* The strategy ops both use as they are. A breakpoint instruction can go anywhere, so
 * probe has nothing to check; remove disarms and restores, idempotently. */
int bp_probe(struct session *s, char *err, size_t errlen);
int bp_remove(struct session *s, struct hook *h);

/* Takes the breakpoints of s's armed hooks of strategy ops out of a fork child, which got
 * a copy of them. */
void bp_clean_child(struct session *s, pid_t child, const struct strategy_ops *ops);

#endif
