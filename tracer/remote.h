/*
 * Code run inside the tracee on our behalf: injected system calls, and the scratch pages
 * they map for out-of-line code (remote.c).
 */
#ifndef MHOOK_REMOTE_H
#define MHOOK_REMOTE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tracer/session.h"

/* Runs syscall nr in stopped thread t and returns its result (negative errno on failure
 * inside the tracee). Registers are restored afterwards; t stays stopped. */
long remote_syscall(struct session *s, struct thread *t, long nr, long a0, long a1, long a2,
		    long a3, long a4, long a5);

/* The same in any stopped tracee tid that is not a session thread (a fork child at its
 * first stop), through the syscall instruction at insn. */
long remote_syscall_pid(pid_t tid, uint64_t insn, long nr, long a0, long a1, long a2,
			long a3, long a4, long a5);

/* Calls fn(args) in stopped thread t, every other thread stopped, and gives its return
 * value in *result: the thread runs on below its own stack and returns to a breakpoint
 * in a scratch slot; its registers, siginfo and mask are then given back, and the
 * disposition of SIGTRAP repaired. For short functions that take no lock (an IFUNC
 * resolver): a call that has not returned within a second is interrupted and fails.
 * 0, or a negative errno with err filled in (-EFAULT: it faulted or trapped; -ETIMEDOUT;
 * -ESRCH: the thread is gone). */
int remote_call(struct session *s, struct thread *t, uint64_t fn, const long args[6],
		uint64_t *result, char *err, size_t errlen);

/* The address of size bytes of executable scratch code within +-2 GiB of near, reusing
 * space given back or mapping a new page in the tracee (every thread must be stopped),
 * or 0 with err filled in. */
uint64_t scratch_alloc(struct session *s, uint64_t near, uint64_t size, char *err,
		       size_t errlen);

/* Gives back size bytes at addr from scratch_alloc that no thread can be running: the
 * space of a hook that was prepared but never installed. */
void scratch_free(struct session *s, uint64_t addr, uint64_t size);

/* Unmaps scratch pages that no thread is inside; returns how many stay mapped. */
int scratch_release(struct session *s);

#endif
