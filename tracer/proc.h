/*
 * Small readers of /proc/PID/status and /proc/PID/task/TID/stat: who a thread belongs
 * to, who traces it, its parent, its pending signals and its scheduler state.
 */
#ifndef MHOOK_PROC_H
#define MHOOK_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The value of the field key ("Tgid", "TracerPid", "SigPnd", ...) in /proc/TID/status,
 * parsed in base (10, or 16 for signal masks). Returns 0 and sets *value, or -1 when the
 * thread or the field is not there. */
int proc_status_field(pid_t tid, const char *key, int base, uint64_t *value);

/* The state letter of a thread (R, S, t, Z, ...), 0 if it is gone. */
char proc_thread_state(pid_t tgid, pid_t tid);

/* A thread of process tgid whose memory can be read: tgid itself, unless its leader has
 * ended with pthread_exit while other threads run on. Such a zombie leader has no memory
 * any more, so /proc/TGID/mem, /proc/TGID/maps and process_vm_readv on it see nothing,
 * and it can be neither seized nor stopped. 0 when every thread is gone. */
pid_t proc_live_thread(pid_t tgid);

/* The thread-group id (process) of tid, or its parent process; 0 if unknown. */
pid_t proc_tgid(pid_t tid);
pid_t proc_ppid(pid_t pid);

/* Whether tid has sig pending and not blocked: a trap that was raised (a breakpoint, a
 * fault) but not yet reported to us. A blocked one is the target's own, sent to itself. */
bool proc_signal_pending(pid_t tid, int sig);

#endif
