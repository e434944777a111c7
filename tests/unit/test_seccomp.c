/*
 * The classic BPF evaluator that runs a target's seccomp filter before mhookd injects a
 * syscall (tracer/seccomp.h), table-driven: each program is run on a few seccomp_data
 * and must give the kernel's answer, or be refused when seccomp would not have loaded
 * it. The integration test (test_reliability.py) runs libseccomp's filters through the
 * real kernel; this one reaches each instruction class. Prints "N passed, M failed".
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/syscall.h>

#include "tests/libmhook/check.h"
#include "tracer/seccomp.h"

#define NR offsetof(struct seccomp_data, nr)
#define ARCH offsetof(struct seccomp_data, arch)
#define ARG0 offsetof(struct seccomp_data, args[0])
#define ARG2 offsetof(struct seccomp_data, args[2])

/* The usual shape: wrong arch kills, mmap gets EPERM, the rest is allowed. */
static const struct sock_filter arch_and_nr[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARCH),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mmap, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

/* mprotect with PROT_EXEC (bit 2 of args[2]) traps: JSET on an argument's low word. */
static const struct sock_filter prot_exec[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mprotect, 0, 3),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG2),
	BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 4, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

/* Scratch memory, X, ALU and RET A: returns ERRNO | (nr * 2 + 1), via M[3] and TAX. */
static const struct sock_filter arith[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR),
	BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, 2),
	BPF_STMT(BPF_ST, 3),
	BPF_STMT(BPF_LDX | BPF_IMM, 1),
	BPF_STMT(BPF_LD | BPF_MEM, 3),
	BPF_STMT(BPF_ALU | BPF_ADD | BPF_X, 0),
	BPF_STMT(BPF_ALU | BPF_OR | BPF_K, SECCOMP_RET_ERRNO),
	BPF_STMT(BPF_RET | BPF_A, 0),
};

/* Division by X = args[0]: zero ends the program with 0, which is KILL_THREAD. */
static const struct sock_filter divide[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0),
	BPF_STMT(BPF_MISC | BPF_TAX, 0),
	BPF_STMT(BPF_LD | BPF_IMM, 100),
	BPF_STMT(BPF_ALU | BPF_DIV | BPF_X, 0),
	BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, 10, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_LOG),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

/* Not loadable by seccomp, so never evaluated: a byte load, a jump past the end, an
 * unaligned word, a load past seccomp_data, no return at all. */
static const struct sock_filter byte_load[] = {
	BPF_STMT(BPF_LD | BPF_B | BPF_ABS, NR),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};
static const struct sock_filter jump_out[] = {
	BPF_JUMP(BPF_JMP | BPF_JA, 5, 0, 0),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};
static const struct sock_filter unaligned[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 2),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};
static const struct sock_filter past_end[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, sizeof(struct seccomp_data)),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};
static const struct sock_filter no_ret[] = {
	BPF_STMT(BPF_LD | BPF_IMM, 1),
};

#define PROG(p) p, sizeof(p) / sizeof(p[0])

static const struct {
	const char *what;
	const struct sock_filter *prog;
	size_t len;
	uint32_t arch;
	long nr, arg0, arg2;
	int rc;
	uint32_t want;
} cases[] = {
	{ "mmap denied", PROG(arch_and_nr), AUDIT_ARCH_X86_64, SYS_mmap, 0, 0, 0,
	  SECCOMP_RET_ERRNO | EPERM },
	{ "munmap allowed", PROG(arch_and_nr), AUDIT_ARCH_X86_64, SYS_munmap, 0, 0, 0,
	  SECCOMP_RET_ALLOW },
	{ "i386 killed", PROG(arch_and_nr), AUDIT_ARCH_I386, SYS_mmap, 0, 0, 0,
	  SECCOMP_RET_KILL_PROCESS },
	{ "mprotect PROT_EXEC", PROG(prot_exec), AUDIT_ARCH_X86_64, SYS_mprotect, 0, 5, 0,
	  SECCOMP_RET_TRAP },
	{ "mprotect PROT_READ", PROG(prot_exec), AUDIT_ARCH_X86_64, SYS_mprotect, 0, 1, 0,
	  SECCOMP_RET_ALLOW },
	{ "mmap PROT_EXEC", PROG(prot_exec), AUDIT_ARCH_X86_64, SYS_mmap, 0, 5, 0,
	  SECCOMP_RET_ALLOW },
	{ "arithmetic", PROG(arith), AUDIT_ARCH_X86_64, 10, 0, 0, 0, SECCOMP_RET_ERRNO | 21 },
	{ "100 / 5", PROG(divide), AUDIT_ARCH_X86_64, 0, 5, 0, 0, SECCOMP_RET_LOG },
	{ "100 / 50", PROG(divide), AUDIT_ARCH_X86_64, 0, 50, 0, 0, SECCOMP_RET_ALLOW },
	{ "100 / 0", PROG(divide), AUDIT_ARCH_X86_64, 0, 0, 0, 0, SECCOMP_RET_KILL_THREAD },
	{ "byte load", PROG(byte_load), AUDIT_ARCH_X86_64, 0, 0, 0, -EINVAL, 0 },
	{ "jump out", PROG(jump_out), AUDIT_ARCH_X86_64, 0, 0, 0, -EINVAL, 0 },
	{ "unaligned", PROG(unaligned), AUDIT_ARCH_X86_64, 0, 0, 0, -EINVAL, 0 },
	{ "past the end", PROG(past_end), AUDIT_ARCH_X86_64, 0, 0, 0, -EINVAL, 0 },
	{ "no return", PROG(no_ret), AUDIT_ARCH_X86_64, 0, 0, 0, -EINVAL, 0 },
};

int main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct seccomp_data d = { .nr = (int)cases[i].nr, .arch = cases[i].arch };
		uint32_t ret = 0xdead;
		d.args[0] = (uint64_t)cases[i].arg0;
		d.args[2] = (uint64_t)cases[i].arg2;
		int rc = seccomp_bpf_run(cases[i].prog, cases[i].len, &d, &ret);
		CHECK(rc == cases[i].rc, "%s: rc %d, wanted %d", cases[i].what, rc, cases[i].rc);
		if (rc == 0 && cases[i].rc == 0)
			CHECK(ret == cases[i].want, "%s: answer %#x (%s), wanted %#x", cases[i].what,
			      ret, seccomp_action_name(ret), cases[i].want);
	}
	CHECK(!strcmp(seccomp_action_name(SECCOMP_RET_KILL_PROCESS), "KILL_PROCESS"), "name");
	CHECK(!strcmp(seccomp_action_name(SECCOMP_RET_ERRNO | 13), "ERRNO"), "name");
	return check_done();
}
