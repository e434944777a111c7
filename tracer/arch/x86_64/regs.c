/*
 * x86-64 registers, breakpoints and injected syscalls (tracer/arch.h): user_regs_struct
 * through GETREGS/SETREGS, int3, and the register set-up for a syscall run by a stopped
 * thread.
 */
#include "tracer/arch.h"

#include <errno.h>
#include <stddef.h>
#include <sys/ptrace.h>

const uint8_t arch_bp_insn[] = { 0xcc };
const size_t arch_bp_len = 1;
const uint64_t arch_bp_pc_adjust = 1;

const uint8_t arch_syscall_insn[] = { 0x0f, 0x05 };
const size_t arch_syscall_len = 2;

#ifndef TRAP_HWBKPT
#define TRAP_HWBKPT 4
#endif

int arch_get_regs(pid_t tid, struct arch_regs *regs)
{
	return ptrace(PTRACE_GETREGS, tid, NULL, &regs->r) < 0 ? -errno : 0;
}

int arch_set_regs(pid_t tid, const struct arch_regs *regs)
{
	return ptrace(PTRACE_SETREGS, tid, NULL, &regs->r) < 0 ? -errno : 0;
}

int arch_poke_pc(pid_t tid, uint64_t pc)
{
	long off = (long)offsetof(struct user_regs_struct, rip);

	return ptrace(PTRACE_POKEUSER, tid, (void *)off, (void *)pc) < 0 ? -errno : 0;
}

uint64_t arch_pc(const struct arch_regs *regs)
{
	return regs->r.rip;
}

void arch_set_pc(struct arch_regs *regs, uint64_t pc)
{
	regs->r.rip = pc;
}

uint64_t arch_sp(const struct arch_regs *regs)
{
	return regs->r.rsp;
}

int arch_args(const struct arch_regs *regs, uint64_t args[ARCH_MAX_ARGS])
{
	args[0] = regs->r.rdi;
	args[1] = regs->r.rsi;
	args[2] = regs->r.rdx;
	args[3] = regs->r.rcx;
	args[4] = regs->r.r8;
	args[5] = regs->r.r9;
	return 6;
}

/* int3 is reported with si_code SI_KERNEL; kill() and raise() carry a user code, and a
 * single-step or debug register TRAP_TRACE or TRAP_HWBKPT. */
bool arch_trap_is_bp(const siginfo_t *si)
{
	return si->si_code == SI_KERNEL;
}

bool arch_trap_is_hwbp(const siginfo_t *si)
{
	return si->si_code == TRAP_HWBKPT;
}

void arch_prepare_syscall(struct arch_regs *regs, uint64_t insn_addr, long nr,
			  const long args[6])
{
	regs->r.rax = (unsigned long)nr;
	regs->r.rdi = (unsigned long)args[0];
	regs->r.rsi = (unsigned long)args[1];
	regs->r.rdx = (unsigned long)args[2];
	regs->r.r10 = (unsigned long)args[3];
	regs->r.r8 = (unsigned long)args[4];
	regs->r.r9 = (unsigned long)args[5];
	regs->r.rip = insn_addr;
	/* orig_rax = -1 tells the kernel this thread is not in a syscall, so a pending
	 * -ERESTARTSYS of the syscall we interrupted does not rewind our injected RIP. */
	regs->r.orig_rax = (unsigned long)-1;
}

void arch_prepare_call(struct arch_regs *regs, uint64_t fn, uint64_t return_to,
		       const long args[6], uint64_t *push_at)
{
	/* Below the 128-byte red zone; at the entry the stack is 16-byte aligned plus the
	 * pushed return address, as after a call. */
	uint64_t sp = ((regs->r.rsp - 128) & ~15ULL) - 8;

	(void)return_to;
	regs->r.rsp = sp;
	*push_at = sp;
	regs->r.rdi = (unsigned long)args[0];
	regs->r.rsi = (unsigned long)args[1];
	regs->r.rdx = (unsigned long)args[2];
	regs->r.rcx = (unsigned long)args[3];
	regs->r.r8 = (unsigned long)args[4];
	regs->r.r9 = (unsigned long)args[5];
	regs->r.rax = 0; /* no vector arguments (a variadic callee reads al) */
	regs->r.rip = fn;
	regs->r.orig_rax = (unsigned long)-1;
}

uint64_t arch_call_result(const struct arch_regs *regs)
{
	return regs->r.rax;
}

long arch_syscall_result(const struct arch_regs *regs)
{
	return (long)regs->r.rax;
}

long arch_syscall_nr(const struct arch_regs *regs)
{
	return (long)regs->r.rax;
}
