/*
 * The target's handling of the signals our traps force on it (SIGTRAP for int3, steps and
 * debug registers; SIGSEGV for nx's faults), kept as the target set it. The kernel resets
 * a forced signal that the thread blocks or the process ignores: the handler becomes
 * SIG_DFL, for the whole process, and the signal is unblocked in the thread
 * (force_sig_info_to_task). Neither is visible afterwards, so sigstate keeps a shadow of
 * both: the disposition of each signal (process) and whether each thread blocks it. It is
 * read when the hooks are first armed (and again after an exec), and kept through two
 * internal breakpoints (hooks.c) on the syscall instructions of libc's __libc_sigaction
 * and pthread_sigmask, which sigaction, signal, sigprocmask and siglongjmp go through.
 * After the traps of ours that a thread took, sigstate_repair puts back what they reset.
 */
#ifndef MHOOK_SIGSTATE_H
#define MHOOK_SIGSTATE_H

#include <stdbool.h>

#include "tracer/arch.h"
#include "tracer/session.h"

enum sigstate_watch { SIGSTATE_SIGACTION, SIGSTATE_SIGMASK };

/* Reads the shadow, with every thread stopped, unless it is read already. */
void sigstate_snapshot(struct session *s);

/* t stopped at watch w, about to run its syscall (regs): the shadow takes what it sets. */
void sigstate_on_call(struct session *s, struct thread *t, enum sigstate_watch w,
		      const struct arch_regs *regs);

/* t stopped at a trap of ours that raised sig while the target's own sig was pending and
 * blocked in t: the kernel merged the two, and the stop's siginfo is the target's. Queues
 * the target's signal again, so that it stays pending. Free unless t blocks sig. */
void sigstate_take_back(struct session *s, struct thread *t, int sig);

/* A trap of ours that raised sig (SIGTRAP or SIGSEGV) stopped t. */
void sigstate_forced(struct thread *t, int sig);

/* Puts back what the traps of ours since t last ran reset: the disposition and t's mask.
 * Free unless the target ignores or blocks one of the two signals, or handles it. */
void sigstate_repair(struct session *s, struct thread *t);

/* The target's own sig is about to be delivered to t (at its signal-delivery-stop): the
 * shadow follows what the kernel does (a forced signal of its own on a blocked or
 * ignored one, SA_RESETHAND). */
void sigstate_deliver(struct session *s, struct thread *t, int sig);

/* A new thread starts with its parent's mask. */
void sigstate_clone(const struct thread *parent, struct thread *child);

/* An exec: handlers are SIG_DFL now (ignored stays ignored); read again at the next arm. */
void sigstate_exec(struct session *s);

#endif
