/*
 * mhookd's own signals. None has a handler: a handler interrupting waitpid could run
 * after the syscall had consumed a stop, and so lose it. They stay blocked in every thread
 * of mhookd, with SIGCHLD (every ptrace stop sends one to the tracer), and the tracer
 * thread takes them with sigtimedwait when it has nothing else to do, or polls them now
 * and then when busy. A stop, or a signal, that comes in between stays pending and ends
 * the wait, so none can be missed.
 */
#ifndef MHOOK_SIGNALS_H
#define MHOOK_SIGNALS_H

#include <signal.h>
#include <stdbool.h>

/* Set (to the signal number) by SIGINT, SIGTERM, SIGHUP or SIGALRM (--duration), or to
 * SIGPIPE when the reports cannot be written any more: the run ends. */
extern volatile sig_atomic_t signals_stop;
/* Set by the periodic tick (strategies' checks, SIGRTMIN). */
extern volatile sig_atomic_t signals_tick;
/* Set by signals_wake: another thread has queued work for the tracer thread. */
extern volatile sig_atomic_t signals_woken;

/* Blocks mhookd's signals in the calling thread (and so in every thread it creates
 * after), remembering what was inherited, and ignores SIGPIPE: a closed report pipe must
 * end the run cleanly, not kill mhookd with breakpoints still in the target. */
void signals_setup(void);
/* In a launched command's child before its exec: the mask and SIGPIPE's disposition go
 * back to what mhookd itself inherited. */
void signals_restore_inherited(void);

/* Takes every pending signal of ours without waiting. */
void signals_poll(void);
/* Waits up to ms (forever when negative) for a signal of ours, SIGCHLD included; returns
 * it, or 0. */
int signals_wait(long ms);

/* Starts the tick: SIGRTMIN every ms milliseconds. */
void signals_start_tick(long ms);

/* Makes the tracer thread's wait return (signals_woken set). Callable from any thread:
 * the signal is sent to the thread that called signals_setup. */
void signals_wake(void);

#endif
