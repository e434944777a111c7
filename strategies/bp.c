/*
 * The breakpoint-instruction helpers of swbp and step (bp.h): the entry is read whole
 * where the mapping allows, and written only over what we know is there, because the
 * target may rewrite its own code (a JIT, a second debugger) between our stops.
 */
#include "strategies/bp.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>

#include "tracer/arch.h"
#include "tracer/mem.h"

/* Up to max bytes at addr in pid, fewer when the mapping ends sooner; how many (0 when
 * none could be read). */
static size_t read_code(pid_t pid, uint64_t addr, uint8_t *buf, size_t max)
{
	while (max > 0) {
		if (mem_read(pid, addr, buf, max) == 0)
			return max;
		/* The tail may be in an unmapped page: retry up to the page end. */
		uint64_t page_end = (addr | 4095) + 1;
		size_t n = (size_t)(page_end - addr);
		if (n >= max)
			return 0;
		max = n;
	}
	return 0;
}

int bp_read_entry(struct session *s, const struct hook *h, uint8_t *code, size_t max,
		  char *err, size_t errlen)
{
	size_t n = read_code(s->pid, h->addr, code, max);

	if (n < arch_bp_len) {
		snprintf(err, errlen, "cannot read code at 0x%" PRIx64 " in pid %d", h->addr,
			 (int)s->pid);
		return -EFAULT;
	}
	if (!memcmp(code, arch_bp_insn, arch_bp_len)) {
		snprintf(err, errlen, "0x%" PRIx64 " already holds a breakpoint instruction "
			 "(padding, or another debugger's breakpoint)", h->addr);
		return -EBUSY;
	}
	return (int)n;
}

bool bp_trap_is_bp(pid_t tid)
{
	siginfo_t si;

	if (ptrace(PTRACE_GETSIGINFO, tid, NULL, &si) < 0)
		return false;
	return arch_trap_is_bp(&si);
}

int bp_install(struct session *s, struct hook *h)
{
	uint8_t cur[sizeof(h->orig)];
	int rc;

	if (h->armed)
		return 0;
	rc = mem_read(s->pid, h->addr, cur, h->orig_len);
	if (rc < 0)
		return rc;
	if (memcmp(cur, h->orig, h->orig_len))
		return -EAGAIN;
	rc = mem_write(s->pid, h->addr, arch_bp_insn, arch_bp_len);
	if (rc == 0)
		h->armed = true;
	return rc;
}

int bp_restore(pid_t pid, const struct hook *h)
{
	uint8_t cur[sizeof(h->orig)];
	int rc = mem_read(pid, h->addr, cur, arch_bp_len);

	if (rc < 0)
		return rc;
	if (memcmp(cur, arch_bp_insn, arch_bp_len))
		return 0;
	return mem_write(pid, h->addr, h->orig, h->orig_len);
}

int bp_probe(struct session *s, char *err, size_t errlen)
{
	(void)s;
	(void)err;
	(void)errlen;
	return 0;
}

int bp_remove(struct session *s, struct hook *h)
{
	if (!h->armed)
		return 0;
	h->armed = false;
	return bp_restore(s->pid, h);
}

void bp_clean_child(struct session *s, pid_t child, const struct strategy_ops *ops)
{
	for (int i = 0; i < s->nhooks; i++) {
		const struct hook *h = &s->hooks[i];
		if (h->armed && h->ops == ops)
			bp_restore(child, h);
	}
}
