/*
 * Who a client is and what it may trace (access.c). The kernel decides: a thread of ours
 * takes on the client's uid, gid and groups, with no capabilities, and tries to open
 * /proc/PID/mem, which the kernel allows exactly when it would allow that client to
 * ptrace PID. The target is pinned with a pidfd meanwhile, so that a pid reused by another
 * process is never mistaken for it.
 */
#ifndef MHOOK_ACCESS_H
#define MHOOK_ACCESS_H

#include <sys/types.h>

#include "ipc/protocol.h"

/* The credentials of the process at the other end of the Unix socket fd (SO_PEERCRED,
 * SO_PEERGROUPS). Returns 0 or a negative errno. */
int access_peer(int fd, struct peer *p);

/* Whether p may trace process pid: 1 yes, 0 no, -ESRCH no such process. */
int access_may_trace(const struct peer *p, pid_t pid);

#endif
