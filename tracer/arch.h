/*
 * The arch_* functions: everything mhookd needs to know about one architecture, so that
 * the strategies hold no encoding of their own. Registers, the breakpoint and syscall
 * instructions, how a trap tells its kind, instruction decoding and relocation (through
 * reloc/), and the hardware breakpoint registers. Exactly one tracer/arch/<arch>/
 * directory is built, chosen by ARCH at build time; it implements all of them and
 * provides arch_defs.h (its register struct and constants), as the kernel's uprobes bind
 * arch_uprobe_* at link time.
 */
#ifndef MHOOK_ARCH_H
#define MHOOK_ARCH_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "reloc/reloc.h"
#include "arch_defs.h" /* tracer/arch/<arch>/: struct arch_regs, ARCH_* constants */

/* ---- registers ----------------------------------------------------------------------- */

/* Reads or writes all general registers of a ptrace-stopped thread: one syscall each.
 * Return 0 or a negative errno. */
int arch_get_regs(pid_t tid, struct arch_regs *regs);
int arch_set_regs(pid_t tid, const struct arch_regs *regs);

/* Writes only the program counter of a stopped thread (cheaper than arch_set_regs). */
int arch_poke_pc(pid_t tid, uint64_t pc);

uint64_t arch_pc(const struct arch_regs *regs);
void arch_set_pc(struct arch_regs *regs, uint64_t pc);
uint64_t arch_sp(const struct arch_regs *regs);

/* The integer argument registers, in calling-convention order; returns how many (at most
 * ARCH_MAX_ARGS). */
int arch_args(const struct arch_regs *regs, uint64_t args[ARCH_MAX_ARGS]);

/* ---- breakpoints and traps ------------------------------------------------------------- */

/* The software breakpoint instruction, and how far the PC has moved past it when its trap
 * is reported (x86-64: 1, int3 traps after itself; arm64: 0). */
extern const uint8_t arch_bp_insn[];
extern const size_t arch_bp_len;
extern const uint64_t arch_bp_pc_adjust;

/* Whether a SIGTRAP's siginfo (PTRACE_GETSIGINFO) comes from a breakpoint instruction, as
 * opposed to kill(), raise() or a single-step. */
bool arch_trap_is_bp(const siginfo_t *si);

/* Whether a SIGTRAP's siginfo comes from a hardware breakpoint. */
bool arch_trap_is_hwbp(const siginfo_t *si);

/* ---- system calls ------------------------------------------------------------------------ */

/* The system call instruction, searched for in the tracee to inject syscalls. */
extern const uint8_t arch_syscall_insn[];
extern const size_t arch_syscall_len;

/* Sets regs up to run syscall nr with args at insn_addr (a syscall instruction), with the
 * restart machinery disarmed so that the kernel does not rewind the PC of a thread stopped
 * inside an interrupted syscall. */
void arch_prepare_syscall(struct arch_regs *regs, uint64_t insn_addr, long nr,
			  const long args[6]);
long arch_syscall_result(const struct arch_regs *regs);
/* The number of the syscall a thread stopped at its syscall instruction is about to make. */
long arch_syscall_nr(const struct arch_regs *regs);

/* ---- function calls -------------------------------------------------------------------------- */

/* Sets regs up to call fn(args[0..5]) as the ABI calls a function, returning to
 * return_to, on a stack below the thread's own (past its red zone). *push_at is where the
 * caller must store return_to (a pointer), or 0 when the arch passes it in a register.
 * Like arch_prepare_syscall, it disarms the restart of an interrupted syscall. */
void arch_prepare_call(struct arch_regs *regs, uint64_t fn, uint64_t return_to,
		       const long args[6], uint64_t *push_at);

/* The integer return value of a call that has returned. */
uint64_t arch_call_result(const struct arch_regs *regs);

/* ---- instructions -------------------------------------------------------------------------- */

/* Length of the instruction at code, or a negative RELOC_E_* code. */
int arch_insn_len(const uint8_t *code, size_t avail);

/* What a code cache needs to know about the instruction at code (read at addr): 0, or a
 * negative RELOC_E_* code. */
int arch_insn_info(const uint8_t *code, size_t avail, uint64_t addr,
		   struct reloc_insn_info *info);

/* Relocates whole instructions from src (read at src_addr), at least min_len bytes, into
 * dst to run at dst_addr, followed by a jump to resume_addr (RELOC_RESUME_NEXT: right
 * after them). links, if not NULL, chooses where relative branches go (a code cache).
 * Returns 0 or a RELOC_E_* code with rr->err filled in. */
int arch_relocate(const uint8_t *src, size_t src_avail, uint64_t src_addr, size_t min_len,
		  uint8_t *dst, size_t dst_cap, uint64_t dst_addr, uint64_t resume_addr,
		  const struct reloc_links *links, struct reloc_result *rr);

/* Writes at dst (to run at dst_addr) a jump to target that reaches any address. Returns
 * its length, or 0 when dst_cap is too small. */
size_t arch_jump(uint8_t *dst, size_t dst_cap, uint64_t dst_addr, uint64_t target);

/* ---- hardware breakpoints -------------------------------------------------------------------- */

/* How many execute breakpoints a thread has (x86: DR0-DR3), or a negative errno when its
 * debug registers cannot be read (then hwbp cannot run at all). */
int arch_hwbp_slots(pid_t tid);

/* Puts an execute breakpoint at addr in slot of stopped thread tid and takes it away
 * again, leaving the thread as it was: a slot held by perf or a debugger fails here.
 * Returns 0 or a negative errno. */
int arch_hwbp_try(pid_t tid, int slot, uint64_t addr);

/* Sets the execute breakpoints of stopped thread tid: slot i (i < nslots) at addr[i] when
 * bit i of enabled is set, every other slot off. Returns 0 or a negative errno. */
int arch_hwbp_apply(pid_t tid, const uint64_t *addr, int nslots, unsigned enabled);

#endif
