/*
 * The tracer's services: what a strategy (or the stop loop) may ask of the tracer. Stop
 * every thread, resume them, resume one, single-step one, let one take a signal it has
 * pending, and report a hit, a collateral stop or an error. Injected syscalls and scratch
 * memory are remote.h's; the target's handling of our traps' signals is sigstate.h's.
 *
 * A service that waits for one thread's stop may see another stop first (another thread's
 * breakpoint, a clone event, an exit): it hands that to the session's dispatch, which
 * records what it means and leaves the thread stopped. None of these does anything but
 * what its name says; re-synchronising hooks before threads run is the loop's business.
 */
#ifndef MHOOK_SERVICES_H
#define MHOOK_SERVICES_H

#include <stdbool.h>

#include "tracer/session.h"

/* Stops every thread that executes in the traced memory (PTRACE_INTERRUPT, then waits,
 * dispatching whatever else stops meanwhile), then lets any thread that trapped just
 * before its interrupt take that trap. Returns 0 or a negative errno. A parked thread
 * (tracer_parked) is not waited for: it runs no code of the target until it stops at
 * the interrupt it has been sent, and waiting would deadlock on the vfork child that
 * this stop holds. It stays THREAD_RUNNING. */
int tracer_stop_all(struct session *s);

/* t waits inside vfork for a child that still shares its memory (see vfork_child). */
bool tracer_parked(const struct thread *t);

/* Resumes every stopped thread as its state says (resume_sig, listen). */
void tracer_resume_all(struct session *s);

/* Resumes one stopped thread. 0, or a negative errno (-ESRCH: it died while stopped; its
 * exit is still to be reported). */
int tracer_resume(struct session *s, struct thread *t);

/* Sends t's deferred signals again; called right after resuming or detaching it. */
void tracer_requeue_signals(struct thread *t);

/* Waits for tid's next stop or its exit: 0, or -ESRCH when it is not ours any more. A
 * leader (of a process with other threads in s) whose process was killed is never
 * reported while its other threads wait to be reaped, which only the stop loop's waitpid
 * does; a wait on it alone would never end, so for a leader it ends with -ESRCH once the
 * leader is a zombie. s may be NULL (a process of no session: a single thread). */
int tracer_wait_tid(struct session *s, pid_t tid, int *status);

/* Whether tid's signal-delivery-stop of sig is a fault its instruction raised (a page
 * fault, an illegal instruction): running that instruction again raises it again, so a
 * fault seen while we had moved the thread is dropped, never sent again. */
bool tracer_is_fault(pid_t tid, int sig);

/* Blocks every signal but wanted (none when 0) in stopped thread tid, keeping its own mask in *saved,
 * while mhookd runs it for its own ends: signals sent meanwhile stay queued by the kernel,
 * siginfo and all. 0 or a negative errno. */
int tracer_hold_signals(pid_t tid, int wanted, uint64_t *saved);

/* The same for running target code (a single-step, a call): SIGTRAP stays unblocked, and
 * the faults (SIGSEGV, SIGBUS, SIGILL, SIGFPE) as the thread has them, since the kernel's
 * forced fault on a blocked signal would reset the target's handler. */
int tracer_hold_signals_for_code(pid_t tid, uint64_t *saved);

/* Gives tid back the mask tracer_hold_signals kept. */
void tracer_release_signals(pid_t tid, uint64_t saved);

/* Single-steps stopped thread t once, with its signals held. A signal that could not be
 * held, seen meanwhile, is kept for later (requeue_mask). Returns 0, -ESRCH when t is
 * gone, or -EFAULT when the instruction faulted: t stays stopped before it, with the
 * fault in t->resume_sig (sent when it is resumed, as the kernel would have). */
int tracer_step(struct session *s, struct thread *t);

/* The same, except when a group-stop (SIGSTOP) pending for t stops it before the step:
 * then -EAGAIN, with t in that group-stop (listen), its step not taken. A plain
 * tracer_step steps on and takes the thread out of the stop its process is in. */
int tracer_step_or_group_stop(struct session *s, struct thread *t);

/* Lets stopped thread t take sig, which it has pending (a trap raised just before it was
 * interrupted): continues it, waits for that signal's stop and dispatches it, so the
 * strategy classifies it as any other. t stays stopped. Returns 0 or -ESRCH. */
int tracer_take_pending(struct session *s, struct thread *t, int sig);

/* Reports a call of h by stopped thread t (regs read at the entry). A vfork child's hit
 * is reported under its own pid with -F, and not at all without. */
void tracer_report_hit(struct session *s, struct thread *t, struct hook *h,
		       const struct arch_regs *regs);

/* Reports a stop charged to h that was no call of it (nx's collateral). */
void tracer_report_collateral(struct session *s, struct hook *h);

/* Reports an error the run survives. */
void tracer_report_error(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The same for an error the run does not survive (it gives up after this). */
void tracer_report_fatal(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
