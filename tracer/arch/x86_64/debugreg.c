/*
 * x86-64 hardware breakpoints (tracer/arch.h): DR0-DR3 hold addresses, DR7 enables them.
 * An execute breakpoint is local-enable bit 2*i with R/W and LEN left 00. ptrace reaches
 * them through the debug registers' place in struct user, one POKEUSER each; the kernel
 * refuses an address or an enable that conflicts with perf's own use of a slot.
 */
#include "tracer/arch.h"

#include <errno.h>
#include <stddef.h>
#include <sys/ptrace.h>
#include <sys/user.h>

#define X86_DEBUG_SLOTS 4
#define X86_DR7 7

static long dr_offset(int i)
{
	return (long)offsetof(struct user, u_debugreg) + (long)i * (long)sizeof(long);
}

static int poke_dr(pid_t tid, int i, uint64_t value)
{
	return ptrace(PTRACE_POKEUSER, tid, (void *)dr_offset(i), (void *)value) < 0 ? -errno : 0;
}

static int peek_dr(pid_t tid, int i, uint64_t *value)
{
	errno = 0;
	long v = ptrace(PTRACE_PEEKUSER, tid, (void *)dr_offset(i), NULL);
	if (v == -1 && errno)
		return -errno;
	*value = (uint64_t)v;
	return 0;
}

int arch_hwbp_slots(pid_t tid)
{
	uint64_t dr7 = 0;
	int rc = peek_dr(tid, X86_DR7, &dr7);

	return rc < 0 ? rc : X86_DEBUG_SLOTS;
}

int arch_hwbp_try(pid_t tid, int slot, uint64_t addr)
{
	uint64_t dr7 = 0, old = 0;
	int rc;

	if (slot < 0 || slot >= X86_DEBUG_SLOTS)
		return -EINVAL;
	if ((rc = peek_dr(tid, slot, &old)) < 0 || (rc = peek_dr(tid, X86_DR7, &dr7)) < 0)
		return rc;
	rc = poke_dr(tid, slot, addr);
	if (rc == 0) {
		rc = poke_dr(tid, X86_DR7, dr7 | (1ULL << (2 * slot)));
		poke_dr(tid, X86_DR7, dr7);
	}
	poke_dr(tid, slot, old);
	return rc;
}

int arch_hwbp_apply(pid_t tid, const uint64_t *addr, int nslots, unsigned enabled)
{
	uint64_t dr7 = 0;
	int rc;

	/* DR7 off first: an address must never be live in a slot being rewritten. */
	if ((rc = poke_dr(tid, X86_DR7, 0)) < 0)
		return rc;
	for (int i = 0; i < X86_DEBUG_SLOTS; i++) {
		bool on = i < nslots && (enabled & (1u << i));
		if ((rc = poke_dr(tid, i, on ? addr[i] : 0)) < 0)
			return rc;
		if (on)
			dr7 |= 1ULL << (2 * i);
	}
	return dr7 ? poke_dr(tid, X86_DR7, dr7) : 0;
}
