/*
 * x86-64's part of tracer/arch.h: the register set one PTRACE_GETREGS returns, and the
 * constants whose size depends on the ISA.
 */
#ifndef MHOOK_ARCH_DEFS_H
#define MHOOK_ARCH_DEFS_H

#include <linux/audit.h>
#include <sys/user.h>

struct arch_regs {
	struct user_regs_struct r;
};

/* rdi, rsi, rdx, rcx, r8, r9; room for arm64's eight in events. */
#define ARCH_MAX_ARGS 8
/* The longest instruction: 15 bytes. */
#define ARCH_MAX_INSN_LEN 15
/* The SysV ABI's red zone below the stack pointer, which leaf code may use: whatever
 * mhookd writes on a thread's stack goes below it. */
#define ARCH_RED_ZONE 128
/* How much a relocated block may grow when its final place is farther than its trial
 * place: a rel32 branch that no longer reaches becomes an absolute one (5 bytes become 14,
 * twice at most in a block that ends with a jcc). */
#define ARCH_RELOC_GROWTH 24
/* seccomp_data.arch of the tracee's native syscalls, as its filters see them. */
#define ARCH_AUDIT AUDIT_ARCH_X86_64

#endif
