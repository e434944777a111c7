/*
 * The arch_* functions: everything the tracer needs to know about one architecture's
 * registers and breakpoint encoding. Exactly one tracer/arch/<arch>/ directory is built,
 * chosen by ARCH at build time, and implements all of them (as in the kernel's uprobes).
 */
#ifndef MHOOK_ARCH_H
#define MHOOK_ARCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#define ARCH_MAX_ARGS 8

/* A thread's general registers, as one GETREGS returns them. */
struct arch_regs {
	struct user_regs_struct r;
};

/* Reads or writes all general registers of a ptrace-stopped thread: one syscall each.
 * Return 0 or a negative errno. */
int arch_get_regs(pid_t tid, struct arch_regs *regs);
int arch_set_regs(pid_t tid, const struct arch_regs *regs);

/* Writes only the program counter of a stopped thread (cheaper than arch_set_regs). */
int arch_poke_pc(pid_t tid, uint64_t pc);

uint64_t arch_pc(const struct arch_regs *regs);
void arch_set_pc(struct arch_regs *regs, uint64_t pc);
uint64_t arch_sp(const struct arch_regs *regs);

/* The integer argument registers, in calling-convention order; returns how many. */
int arch_args(const struct arch_regs *regs, uint64_t args[ARCH_MAX_ARGS]);

/* The software breakpoint instruction and how far the PC has moved past it when its
 * trap is reported (1 on x86-64: int3 traps after itself). */
extern const uint8_t arch_bp_insn[];
extern const size_t arch_bp_len;
extern const uint64_t arch_bp_pc_adjust;

/* The system call instruction, searched for in the tracee to inject syscalls. */
extern const uint8_t arch_syscall_insn[];
extern const size_t arch_syscall_len;

/* Sets regs up to run syscall nr with args at insn_addr (a syscall instruction), with the
 * restart machinery disarmed so that the kernel does not rewind the PC of a thread stopped
 * inside an interrupted syscall. */
void arch_prepare_syscall(struct arch_regs *regs, uint64_t insn_addr, long nr,
			  const long args[6]);
long arch_syscall_result(const struct arch_regs *regs);

/* True when the thread is stopped inside a system call that the kernel would restart
 * (its PC then sits just after the syscall instruction). */
int arch_in_syscall(const struct arch_regs *regs);

#endif
