/*
 * Code execution inside the tracee: injected system calls, and the scratch pages they map
 * for out-of-line code. A syscall is injected by pointing a stopped thread at an existing
 * syscall instruction (arch_syscall_insn anywhere in executable memory will do, since we
 * jump to it directly) and running it from its entry stop to its exit stop, so no byte of
 * the target is changed for it, and no signal raised.
 */
#include "tracer/remote.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "tracer/debug.h"
#include "tracer/maps.h"
#include "tracer/mem.h"
#include "tracer/proc.h"
#include "tracer/seccomp.h"
#include "tracer/services.h"

#define SCRATCH_SIZE (16 * 4096)
/* rel32 reaches +-2 GiB; keep a margin for the size of the page itself. */
#define SCRATCH_REACH ((int64_t)0x7fff0000)

struct syscall_search {
	pid_t pid;
	bool vdso_only;
	uint64_t found;
};

static int search_syscall_insn(const struct maps_entry *m, void *ctx)
{
	struct syscall_search *ss = ctx;
	uint8_t buf[8192];

	if (!(m->prot & PROT_EXEC))
		return 0;
	if (ss->vdso_only != (strcmp(m->path, "[vdso]") == 0))
		return 0;
	for (uint64_t a = m->start; a < m->end; a += sizeof(buf) - 1) {
		size_t n = m->end - a < sizeof(buf) ? m->end - a : sizeof(buf);
		if (mem_read(ss->pid, a, buf, n) < 0)
			break;
		for (size_t i = 0; i + arch_syscall_len <= n; i++) {
			if (!memcmp(buf + i, arch_syscall_insn, arch_syscall_len)) {
				ss->found = a + i;
				return 1;
			}
		}
	}
	return 0;
}

static uint64_t find_syscall_insn(struct session *s)
{
	struct syscall_search ss = { .pid = s->pid, .vdso_only = true };

	if (s->syscall_insn)
		return s->syscall_insn;
	/* The vdso first: it is always there and never unmapped by the target. */
	maps_foreach(s->pid, search_syscall_insn, &ss);
	if (!ss.found) {
		ss.vdso_only = false;
		maps_foreach(s->pid, search_syscall_insn, &ss);
	}
	s->syscall_insn = ss.found;
	return ss.found;
}

/* t is stopped at a clone/fork/vfork/exec event, inside that syscall. Let it finish the
 * syscall and stop again (a queued PTRACE_INTERRUPT) before it runs any user code. */
static int settle(struct session *s, struct thread *t)
{
	int status;

	if (ptrace(PTRACE_INTERRUPT, t->tid, NULL, NULL) < 0 ||
	    ptrace(PTRACE_CONT, t->tid, NULL, NULL) < 0)
		return -ESRCH;
	t->state = THREAD_RUNNING;
	for (;;) {
		if (tracer_wait_tid(s, t->tid, &status) < 0)
			return -ESRCH;
		/* Dispatched as any stop during a stop-all: it stays stopped, and an event it
		 * reports on the way (a signal) is recorded for its resume. */
		pid_t tid = t->tid;
		s->dispatch(s, tid, status);
		t = session_thread(s, tid);
		if (!t)
			return -ESRCH;
		if (!t->in_syscall_stop)
			return 0;
		if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) < 0 ||
		    ptrace(PTRACE_CONT, tid, NULL, NULL) < 0)
			return -ESRCH;
		t->state = THREAD_RUNNING;
	}
}

static const char *syscall_name(long nr)
{
	switch (nr) {
	case SYS_mmap: return "mmap";
	case SYS_munmap: return "munmap";
	case SYS_mprotect: return "mprotect";
	case SYS_rt_sigaction: return "rt_sigaction";
	default: return "a syscall";
	}
}

/* The target's own seccomp filter decides first (seccomp.h). Returns true when syscall
 * nr may run in tid. Otherwise *result is what it gives instead, without running: an
 * ERRNO answer fails as the kernel would fail it, TRACE with ENOSYS (we do not take
 * seccomp events); an answer that would kill the target, send it a SIGSYS or wait for a
 * supervisor, or a filter that cannot be read, is refused with EPERM. Each is said, once
 * per session when there is one, since the caller's error names only the errno. */
static bool seccomp_lets(struct session *s, pid_t tid, uint64_t insn, long nr,
			 const long args[6], long *result)
{
	char why[256] = "";
	uint32_t answer;
	int rc = seccomp_answer(tid, insn + arch_syscall_len, nr, args, &answer, why,
				sizeof(why));

	*result = -EPERM;
	if (rc == 0) {
		switch (answer & SECCOMP_RET_ACTION_FULL) {
		case SECCOMP_RET_ALLOW:
		case SECCOMP_RET_LOG:
			return true;
		case SECCOMP_RET_ERRNO:
			*result = -(long)((answer & SECCOMP_RET_DATA) > 4095 ? 4095
								      : answer & SECCOMP_RET_DATA);
			break;
		case SECCOMP_RET_TRACE:
			*result = -ENOSYS;
			break;
		default:
			break;
		}
	}
	if (s && !s->seccomp_said) {
		s->seccomp_said = true;
		if (rc == 0 && !why[0])
			snprintf(why, sizeof(why), "its seccomp filter answers %s with %s",
				 syscall_name(nr), seccomp_action_name(answer));
		tracer_report_error(s, "pid %d: %s, so mhookd does not run %s in it%s",
				    (int)s->pid, why, syscall_name(nr),
				    nr == SYS_mprotect ? " (nx needs it; swbp and hwbp do not)"
				    : nr == SYS_mmap ? " (hwbp needs it only to follow dlopen)"
				    : "");
	}
	return false;
}

/* Waits for tid's next stop. 0, or -ESRCH when it is gone (its exit is dispatched to s,
 * when there is one). */
static int wait_stop(struct session *s, pid_t tid, int *status)
{
	if (tracer_wait_tid(s, tid, status) < 0)
		return -ESRCH;
	if (!WIFSTOPPED(*status)) {
		if (s)
			s->dispatch(s, tid, *status);
		return -ESRCH;
	}
	return 0;
}

/* Resumes tid with cmd until a syscall stop (want 0) or a signal-delivery-stop of want.
 * A stop on the way is let through (a group-stop, an interrupt), or, for a signal no
 * mask holds (SIGSTOP), kept in *requeue to be sent again. */
static int run_until(struct session *s, pid_t tid, int cmd, int want, uint64_t *requeue)
{
	int status;

	for (;;) {
		if (ptrace(cmd, tid, NULL, NULL) < 0)
			return -ESRCH;
		if (wait_stop(s, tid, &status) < 0)
			return -ESRCH;
		int sig = WSTOPSIG(status);
		bool signal_stop = (status >> 16) == 0 && sig != (SIGTRAP | 0x80);
		if (want ? signal_stop && sig == want : sig == (SIGTRAP | 0x80))
			return 0;
		if (signal_stop && !tracer_is_fault(tid, sig))
			*requeue |= 1ULL << (sig - 1);
	}
}

/* From a syscall-exit stop back to a signal-delivery-stop, with a signal of ours that the
 * thread has not pending (SIGTRAP unless the target holds one blocked): sent with tgkill,
 * it is no forced trap, so nothing of the target's handling of it changes. */
static int back_to_signal_stop(struct session *s, pid_t tgid, pid_t tid, uint64_t *requeue)
{
	uint64_t pending = 0;
	int sig = SIGTRAP;

	proc_status_field(tid, "SigPnd", 16, &pending);
	for (int i = 1; (pending & (1ULL << (sig - 1))) && i < 32; i++)
		if (i != SIGKILL && i != SIGSTOP)
			sig = i;
	uint64_t only = ~(1ULL << (sig - 1));
	if (ptrace(PTRACE_SETSIGMASK, tid, (void *)sizeof(only), &only) < 0 ||
	    syscall(SYS_tgkill, tgid, tid, sig) < 0)
		return -ESRCH;
	return run_until(s, tid, PTRACE_CONT, sig, requeue);
}

/*
 * Runs the syscall set up in regs in stopped thread tid, then gives it back saved. The
 * thread goes in and out at its syscall-entry and syscall-exit stops (PTRACE_SYSCALL),
 * with every signal held (tracer_hold_signals), so that nothing is raised for it: a
 * single-step would end in a forced SIGTRAP, which the kernel makes SIG_DFL when the
 * target ignores SIGTRAP, and unblocks and resets when the thread blocks it. It is then
 * taken back to a signal-delivery-stop, given the siginfo of the stop it was in, because
 * its resume may need one: from a syscall stop the kernel sends a resume's signal afresh
 * (SI_KERNEL, its siginfo lost), and restarts an interrupted syscall only when it handles
 * a signal on the way out.
 */
static long run_syscall(struct session *s, pid_t tgid, pid_t tid, const struct arch_regs *saved,
			const struct arch_regs *regs, uint64_t *requeue)
{
	struct arch_regs out;
	siginfo_t si;
	bool have_si = ptrace(PTRACE_GETSIGINFO, tid, NULL, &si) == 0;
	uint64_t mask;

	if (arch_set_regs(tid, regs) < 0 || tracer_hold_signals(tid, 0, &mask) < 0)
		return -ESRCH;
	if (run_until(s, tid, PTRACE_SYSCALL, 0, requeue) < 0 ||
	    run_until(s, tid, PTRACE_SYSCALL, 0, requeue) < 0 || arch_get_regs(tid, &out) < 0)
		return -ESRCH;
	if (back_to_signal_stop(s, tgid, tid, requeue) < 0)
		return -ESRCH;
	if (have_si)
		ptrace(PTRACE_SETSIGINFO, tid, NULL, &si);
	if (arch_set_regs(tid, saved) < 0)
		return -ESRCH;
	tracer_release_signals(tid, mask);
	return arch_syscall_result(&out);
}

long remote_syscall(struct session *s, struct thread *t, long nr, long a0, long a1, long a2,
		    long a3, long a4, long a5)
{
	struct arch_regs saved, regs;
	const long args[6] = { a0, a1, a2, a3, a4, a5 };
	uint64_t insn = find_syscall_insn(s), requeue = 0;
	long ret;
	int rc;

	if (!insn)
		return -ENOEXEC;
	if (t->in_syscall_stop) {
		pid_t tid = t->tid;
		rc = settle(s, t);
		if (rc < 0)
			return rc;
		t = session_thread(s, tid);
	}
	if (!seccomp_lets(s, t->tid, insn, nr, args, &ret))
		return ret;
	rc = arch_get_regs(t->tid, &saved);
	if (rc < 0)
		return rc;
	regs = saved;
	arch_prepare_syscall(&regs, insn, nr, args);
	pid_t tid = t->tid;
	bool listen = t->listen;
	t->listen = false;
	t->state = THREAD_RUNNING;
	ret = run_syscall(s, t->tgid, tid, &saved, &regs, &requeue);
	t = session_thread(s, tid);
	if (!t)
		return -ESRCH;
	t->state = THREAD_STOPPED;
	t->listen = listen;
	t->requeue_mask |= requeue;
	debug_log(1, "syscall %ld in tid %d (pc 0x%llx) = %ld (0x%lx)", nr, (int)tid,
		  (unsigned long long)arch_pc(&saved), ret, (unsigned long)ret);
	return ret;
}

/* The same for a stopped process that is not one of the session's threads (a fork child
 * at its first stop, which shares our layout, so the syscall instruction at insn is valid
 * in it too; its only thread, so tid is its process id). */
long remote_syscall_pid(pid_t tid, uint64_t insn, long nr, long a0, long a1, long a2,
			long a3, long a4, long a5)
{
	struct arch_regs saved, regs;
	const long args[6] = { a0, a1, a2, a3, a4, a5 };
	uint64_t requeue = 0;
	long ret;

	if (!insn)
		return -ENOEXEC;
	if (!seccomp_lets(NULL, tid, insn, nr, args, &ret))
		return ret;
	if (arch_get_regs(tid, &saved) < 0)
		return -ESRCH;
	regs = saved;
	arch_prepare_syscall(&regs, insn, nr, args);
	ret = run_syscall(NULL, tid, tid, &saved, &regs, &requeue);
	for (int sig = 1; sig <= 64; sig++)
		if (requeue & (1ULL << (sig - 1)))
			syscall(SYS_tgkill, tid, tid, sig);
	return ret;
}

struct gap_search {
	uint64_t near;
	uint64_t prev_end;
	uint64_t best;
	uint64_t best_dist;
};

static uint64_t dist(uint64_t a, uint64_t b)
{
	return a > b ? a - b : b - a;
}

static void consider(struct gap_search *g, uint64_t cand)
{
	uint64_t d = dist(cand, g->near);

	if (cand < 0x10000 || d + SCRATCH_SIZE > (uint64_t)SCRATCH_REACH)
		return;
	if (!g->best || d < g->best_dist) {
		g->best = cand;
		g->best_dist = d;
	}
}

/* The free gap nearest to near: candidates are the two ends of each gap, leaving a guard
 * page so that our page never extends a neighbour's mapping. */
static int search_gap(const struct maps_entry *m, void *ctx)
{
	struct gap_search *g = ctx;
	uint64_t lo = g->prev_end + 4096, hi = m->start - 4096;

	if (m->start > g->prev_end && hi >= lo + SCRATCH_SIZE) {
		consider(g, lo);
		consider(g, hi - SCRATCH_SIZE);
	}
	g->prev_end = m->end;
	return 0;
}

static struct scratch *scratch_map(struct session *s, uint64_t near, char *err,
				   size_t errlen)
{
	struct gap_search g = { .near = near };
	struct thread *t = session_any_stopped(s);
	long addr;

	if (!t) {
		snprintf(err, errlen, "no stopped thread to map scratch code with");
		return NULL;
	}
	maps_foreach(s->pid, search_gap, &g);
	if (!g.best) {
		snprintf(err, errlen, "no free address range within 2 GiB of 0x%" PRIx64
			 " for out-of-line code", near);
		return NULL;
	}
	addr = remote_syscall(s, t, SYS_mmap, (long)g.best, SCRATCH_SIZE,
			      PROT_READ | PROT_EXEC,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (addr < 0 && addr > -4096) {
		snprintf(err, errlen, "mmap of scratch code in pid %d failed: %s", (int)s->pid,
			 strerror((int)-addr));
		return NULL;
	}
	if (s->nscratch == s->cap_scratch) {
		int ncap = s->cap_scratch ? s->cap_scratch * 2 : 4;
		struct scratch *p = realloc(s->scratch, (size_t)ncap * sizeof(*p));
		if (!p)
			abort();
		s->scratch = p;
		s->cap_scratch = ncap;
	}
	struct scratch *sc = &s->scratch[s->nscratch++];
	sc->addr = (uint64_t)addr;
	sc->size = SCRATCH_SIZE;
	sc->used = 0;
	return sc;
}

/* Space given back earlier, within reach of near: the first hole that fits is used
 * from its start. */
static uint64_t take_hole(struct session *s, uint64_t near, uint64_t size)
{
	for (int i = 0; i < s->nholes; i++) {
		struct scratch_hole *hl = &s->holes[i];
		if (hl->size < size || dist(hl->addr, near) + size >= (uint64_t)SCRATCH_REACH)
			continue;
		uint64_t at = hl->addr;
		hl->addr += size;
		hl->size -= size;
		if (!hl->size)
			s->holes[i] = s->holes[--s->nholes];
		return at;
	}
	return 0;
}

uint64_t scratch_alloc(struct session *s, uint64_t near, uint64_t size, char *err,
		       size_t errlen)
{
	size = (size + 15) & ~15ULL;
	uint64_t at = take_hole(s, near, size);
	if (at)
		return at;
	for (int i = 0; i < s->nscratch; i++) {
		struct scratch *sc = &s->scratch[i];
		at = sc->addr + sc->used;
		if (sc->used + size <= sc->size && dist(at, near) + size < (uint64_t)SCRATCH_REACH) {
			sc->used += size;
			return at;
		}
	}
	struct scratch *sc = scratch_map(s, near, err, errlen);
	if (!sc)
		return 0;
	sc->used = size;
	return sc->addr;
}

void scratch_free(struct session *s, uint64_t addr, uint64_t size)
{
	size = (size + 15) & ~15ULL;
	if (!addr || !size)
		return;
	/* The last allocation of its page simply goes back to the page. */
	for (int i = 0; i < s->nscratch; i++) {
		struct scratch *sc = &s->scratch[i];
		if (sc->size && addr + size == sc->addr + sc->used && addr >= sc->addr) {
			sc->used -= size;
			return;
		}
	}
	if (s->nholes == s->cap_holes) {
		int ncap = s->cap_holes ? s->cap_holes * 2 : 8;
		struct scratch_hole *p = realloc(s->holes, (size_t)ncap * sizeof(*p));
		if (!p)
			return; /* the space is merely not reused */
		s->holes = p;
		s->cap_holes = ncap;
	}
	s->holes[s->nholes++] = (struct scratch_hole){ .addr = addr, .size = size };
}

int scratch_release(struct session *s)
{
	int kept = 0;

	for (int i = 0; i < s->nscratch; i++) {
		struct scratch *sc = &s->scratch[i];
		/* Looked up each time: a thread may exit during the previous munmap. */
		struct thread *t = session_any_stopped(s);
		bool busy = false;
		for (int j = 0; j < s->nthreads && !busy; j++) {
			struct arch_regs regs;
			if (s->threads[j].state != THREAD_STOPPED ||
			    arch_get_regs(s->threads[j].tid, &regs) < 0)
				continue;
			uint64_t pc = arch_pc(&regs);
			busy = pc >= sc->addr && pc < sc->addr + sc->size;
		}
		if (busy || !t ||
		    remote_syscall(s, t, SYS_munmap, (long)sc->addr, (long)sc->size, 0, 0, 0,
				   0) < 0) {
			kept++;
			continue;
		}
		sc->size = 0;
	}
	return kept;
}
