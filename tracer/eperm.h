/*
 * Why the kernel refused to let mhookd trace a process (eperm.c). EPERM from PTRACE_SEIZE
 * has many causes; "run as root" is right for only one of them. These checks follow the
 * kernel's own order (ptrace_attach, __ptrace_may_access, the capability and Yama LSMs)
 * and name the first one that applies.
 */
#ifndef MHOOK_EPERM_H
#define MHOOK_EPERM_H

#include <stddef.h>
#include <sys/types.h>

/* A reason for the refusal of PTRACE_SEIZE on pid, one clause without a leading
 * separator ("it is a kernel thread (kthreadd), which runs no user code"). */
void eperm_reason(pid_t pid, char *buf, size_t len);

#endif
