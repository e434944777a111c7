/*
 * Getting hold of a target: seizing every thread of a running process, or starting a
 * command under ptrace and running it to its entry point (attach.c). Letting go of it
 * again is detach.h's.
 */
#ifndef MHOOK_ATTACH_H
#define MHOOK_ATTACH_H

#include <stddef.h>
#include <sys/types.h>

#include "tracer/session.h"

/* Seizes every thread of pid (rescanning /proc/PID/task until no new one appears) and
 * stops them all. Returns 0, or a negative errno with a one-line reason in err: -ESRCH no
 * such process, -EPERM not permitted or already traced. */
int attach_pid(struct session *s, pid_t pid, char *err, size_t errlen);

/* Notes the descriptors mhookd was started with (not close-on-exec); launch mode calls it
 * before opening any of its own. A launched command inherits those, as it would without
 * mhookd. */
void launch_note_inherited_fds(void);

/* Starts argv under ptrace (PTRACE_SEIZE, PTRACE_O_EXITKILL) with none of our file
 * descriptors or signal state. On success the process is stopped at its exec, where only
 * the executable and the dynamic linker are mapped. Returns 0, or a negative errno with
 * err filled in. */
int launch_cmd(struct session *s, char **argv, char *err, size_t errlen);

/* Runs a process stopped at its exec to its entry point (AT_ENTRY), handling every stop
 * on the way (the dynamic linker's loading, constructors' threads). On success it is
 * stopped there, its libraries loaded and relocated and main not yet run. Returns 0 or a
 * negative errno with err filled in. */
int launch_run_to_entry(struct session *s, char *err, size_t errlen);

#endif
