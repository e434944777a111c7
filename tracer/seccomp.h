/*
 * What a target's own seccomp filter would answer to a syscall that mhookd is about to
 * inject into it (seccomp.c). A filter that kills, traps or notifies on mmap or mprotect
 * would otherwise turn mhookd's own syscall into the target's death or a SIGSYS.
 */
#ifndef MHOOK_SECCOMP_H
#define MHOOK_SECCOMP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The filters' answer (a SECCOMP_RET_* action with its data) for syscall nr with args,
 * made by thread tid from the syscall instruction whose next instruction is at ip:
 * SECCOMP_RET_ALLOW when tid has no filter. Returns 0, or a negative errno with why
 * filled in when the filters cannot be known (strict mode, no CAP_SYS_ADMIN to read them,
 * a filter this evaluator does not understand). */
int seccomp_answer(pid_t tid, uint64_t ip, long nr, const long args[6], uint32_t *answer,
		   char *why, size_t whylen);

/* The name of answer's action: "KILL_PROCESS", "ERRNO", ... */
const char *seccomp_action_name(uint32_t answer);

/* Runs a classic BPF seccomp program of len instructions on the 64-byte seccomp_data
 * at data. Returns 0 and sets *ret, or -EINVAL for an instruction seccomp would not
 * have loaded or a jump out of the program. */
struct sock_filter;
int seccomp_bpf_run(const struct sock_filter *prog, size_t len, const void *data,
		    uint32_t *ret);

#endif
