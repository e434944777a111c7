/*
 * A target's seccomp filters, asked before mhookd injects a syscall (see seccomp.h). The
 * kernel hands the filters out with PTRACE_SECCOMP_GET_FILTER as the classic BPF they
 * were loaded as, newest first; no library runs classic BPF on a seccomp_data in user
 * space, so this file does, with the subset of instructions that seccomp's own checker
 * accepts. As the kernel does, every filter runs and the answer of highest precedence
 * wins (the lowest action taken as a signed number), the newest among equals.
 */
#include "tracer/seccomp.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

#include "tracer/arch.h"
#include "tracer/proc.h"

/* seccomp's checker limits a program to BPF_MAXINSNS; the kernel to 256 KiB in all. */
#define MAX_FILTERS 1024

static uint32_t load_word(const uint8_t *data, uint32_t off)
{
	uint32_t w;

	memcpy(&w, data + off, sizeof(w));
	return w;
}

static int alu(uint16_t op, uint32_t *a, uint32_t v, uint32_t *ret, bool *stop)
{
	switch (op) {
	case BPF_ADD: *a += v; break;
	case BPF_SUB: *a -= v; break;
	case BPF_MUL: *a *= v; break;
	case BPF_OR:  *a |= v; break;
	case BPF_AND: *a &= v; break;
	case BPF_XOR: *a ^= v; break;
	case BPF_LSH: *a = v < 32 ? *a << v : 0; break;
	case BPF_RSH: *a = v < 32 ? *a >> v : 0; break;
	case BPF_NEG: *a = -*a; break;
	case BPF_DIV:
	case BPF_MOD:
		if (!v) { /* classic BPF ends the program with 0: KILL_THREAD */
			*ret = 0;
			*stop = true;
			break;
		}
		*a = op == BPF_DIV ? *a / v : *a % v;
		break;
	default:
		return -EINVAL;
	}
	return 0;
}

int seccomp_bpf_run(const struct sock_filter *prog, size_t len, const void *data,
		    uint32_t *ret)
{
	const uint32_t data_len = sizeof(struct seccomp_data);
	uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = { 0 };
	bool stop = false;

	/* Jumps only go forward, so the walk ends within len steps. */
	for (size_t pc = 0; pc < len; pc++) {
		const struct sock_filter *f = &prog[pc];
		uint32_t k = f->k;
		size_t skip = 0;

		switch (BPF_CLASS(f->code)) {
		case BPF_LD:
			if (f->code == (BPF_LD | BPF_W | BPF_ABS) && k % 4 == 0 && k < data_len)
				a = load_word(data, k);
			else if (f->code == (BPF_LD | BPF_W | BPF_LEN))
				a = data_len;
			else if (f->code == (BPF_LD | BPF_IMM))
				a = k;
			else if (f->code == (BPF_LD | BPF_MEM) && k < BPF_MEMWORDS)
				a = mem[k];
			else
				return -EINVAL;
			break;
		case BPF_LDX:
			if (f->code == (BPF_LDX | BPF_W | BPF_LEN))
				x = data_len;
			else if (f->code == (BPF_LDX | BPF_IMM))
				x = k;
			else if (f->code == (BPF_LDX | BPF_MEM) && k < BPF_MEMWORDS)
				x = mem[k];
			else
				return -EINVAL;
			break;
		case BPF_ST:
		case BPF_STX:
			if (k >= BPF_MEMWORDS)
				return -EINVAL;
			mem[k] = BPF_CLASS(f->code) == BPF_ST ? a : x;
			break;
		case BPF_ALU:
			if (alu(BPF_OP(f->code), &a, BPF_SRC(f->code) == BPF_X ? x : k, ret,
				&stop) < 0)
				return -EINVAL;
			if (stop)
				return 0;
			break;
		case BPF_JMP: {
			uint32_t v = BPF_SRC(f->code) == BPF_X ? x : k;
			switch (BPF_OP(f->code)) {
			case BPF_JA:   skip = k; break;
			case BPF_JEQ:  skip = a == v ? f->jt : f->jf; break;
			case BPF_JGT:  skip = a > v ? f->jt : f->jf; break;
			case BPF_JGE:  skip = a >= v ? f->jt : f->jf; break;
			case BPF_JSET: skip = (a & v) ? f->jt : f->jf; break;
			default: return -EINVAL;
			}
			if (skip >= len - pc - 1)
				return -EINVAL; /* past the end: no verdict */
			pc += skip;
			break;
		}
		case BPF_RET:
			if (BPF_RVAL(f->code) == BPF_K)
				*ret = k;
			else if (BPF_RVAL(f->code) == BPF_A)
				*ret = a;
			else
				return -EINVAL;
			return 0;
		case BPF_MISC:
			if (BPF_MISCOP(f->code) == BPF_TAX)
				x = a;
			else if (BPF_MISCOP(f->code) == BPF_TXA)
				a = x;
			else
				return -EINVAL;
			break;
		default:
			return -EINVAL;
		}
	}
	return -EINVAL; /* fell off the end */
}

const char *seccomp_action_name(uint32_t answer)
{
	switch (answer & SECCOMP_RET_ACTION_FULL) {
	case SECCOMP_RET_KILL_PROCESS: return "KILL_PROCESS";
	case SECCOMP_RET_KILL_THREAD:  return "KILL_THREAD";
	case SECCOMP_RET_TRAP:         return "TRAP";
	case SECCOMP_RET_ERRNO:        return "ERRNO";
	case SECCOMP_RET_USER_NOTIF:   return "USER_NOTIF";
	case SECCOMP_RET_TRACE:        return "TRACE";
	case SECCOMP_RET_LOG:          return "LOG";
	case SECCOMP_RET_ALLOW:        return "ALLOW";
	default:                       return "an unknown action";
	}
}

/* Runs filter index idx of tid; -ENOENT past the oldest. */
static int run_filter(pid_t tid, unsigned long idx, const struct seccomp_data *d,
		      uint32_t *ret, char *why, size_t whylen)
{
	long n = ptrace(PTRACE_SECCOMP_GET_FILTER, tid, (void *)idx, NULL);

	if (n < 0) {
		int e = errno;
		if (e == ENOENT)
			return -ENOENT;
		if (e == EACCES || e == EPERM)
			snprintf(why, whylen, "thread %d has a seccomp filter, and reading it "
				 "needs CAP_SYS_ADMIN", (int)tid);
		else
			snprintf(why, whylen, "cannot read the seccomp filter of thread %d: %s",
				 (int)tid, strerror(e));
		return -e;
	}
	struct sock_filter *prog = calloc((size_t)n + 1, sizeof(*prog));
	if (!prog) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	int rc = 0;
	if (ptrace(PTRACE_SECCOMP_GET_FILTER, tid, (void *)idx, prog) != n) {
		rc = errno ? -errno : -EIO;
		snprintf(why, whylen, "cannot read the seccomp filter of thread %d: %s",
			 (int)tid, strerror(-rc));
	} else if (seccomp_bpf_run(prog, (size_t)n, d, ret) < 0) {
		rc = -EINVAL;
		snprintf(why, whylen, "thread %d has a seccomp filter that mhookd cannot "
			 "evaluate", (int)tid);
	}
	free(prog);
	return rc;
}

int seccomp_answer(pid_t tid, uint64_t ip, long nr, const long args[6], uint32_t *answer,
		   char *why, size_t whylen)
{
	struct seccomp_data d = { .nr = (int)nr, .arch = ARCH_AUDIT, .instruction_pointer = ip };
	uint64_t mode = 0;

	*answer = SECCOMP_RET_ALLOW;
	if (proc_status_field(tid, "Seccomp", 10, &mode) < 0 || mode == SECCOMP_MODE_DISABLED)
		return 0;
	if (mode == SECCOMP_MODE_STRICT) {
		if (nr == SYS_read || nr == SYS_write || nr == SYS_exit || nr == SYS_rt_sigreturn)
			return 0;
		*answer = SECCOMP_RET_KILL_THREAD;
		snprintf(why, whylen, "thread %d runs in seccomp strict mode", (int)tid);
		return 0;
	}
	for (int i = 0; i < 6; i++)
		d.args[i] = (uint64_t)args[i];
	for (unsigned long idx = 0; idx < MAX_FILTERS; idx++) {
		uint32_t r;
		int rc = run_filter(tid, idx, &d, &r, why, whylen);
		if (rc == -ENOENT)
			return 0;
		if (rc < 0)
			return rc;
		if ((int32_t)(r & SECCOMP_RET_ACTION_FULL) <
		    (int32_t)(*answer & SECCOMP_RET_ACTION_FULL))
			*answer = r;
	}
	return 0;
}
