/*
 * nx: each page that holds a hooked entry is made non-executable with an mprotect
 * injected into the target. Any thread that then executes there takes a SIGSEGV
 * (SEGV_ACCERR at its PC), which stops it for us: at a hooked entry it is a call, anywhere
 * else on the page a collateral stop (the cost of page granularity, counted per hook).
 * Either way the code runs out of line from the code cache (nx_cache.c), so the page
 * never becomes executable while hooked and no thread can slip through unhooked. This
 * file owns the pages: probing that protections can be taken away and given back,
 * guarding and restoring them, noticing the target changing or unmapping them (tick), and
 * the faults; on detach it moves threads out of the cache and back to original code.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

#include "strategies/nx.h"
#include "strategies/strategy.h"
#include "tracer/debug.h"
#include "tracer/maps.h"
#include "tracer/mem.h"
#include "tracer/proc.h"
#include "tracer/remote.h"
#include "tracer/services.h"
#include "tracer/sigstate.h"

/* personality(2) flag under which PROT_READ implies PROT_EXEC: no page can be guarded. */
#define NX_READ_IMPLIES_EXEC 0x0400000
/* Steps allowed to reach an instruction boundary when moving a thread out of the cache. */
#define NX_MAX_EVACUATE_STEPS 64

/* Marks a hook as prepared by nx; everything else lives in the session-wide state. */
struct nx_hook {
	uint64_t page;
};

/* The state of session s, or NULL before its first nx hook. */
static struct nx_state *current(struct session *s)
{
	return s->strategy_state[STRATEGY_NX];
}

static struct nx_state *adopt(struct session *s, struct nx_state *st)
{
	st->s = s;
	s->strategy_state[STRATEGY_NX] = st;
	return st;
}

static struct nx_state *state(struct session *s)
{
	struct nx_state *st = current(s);

	if (st)
		return st;
	st = calloc(1, sizeof(*st));
	if (!st)
		abort();
	return adopt(s, st);
}

/* Also at exec: the pages and translations describe memory that is gone. */
static void nx_free_state(struct session *s)
{
	struct nx_state *st = current(s);

	if (!st)
		return;
	nx_cache_free(st);
	free(st->pages);
	free(st);
	s->strategy_state[STRATEGY_NX] = NULL;
}

/*
 * A fork child (-F) has the parent's guarded pages, still non-executable, and a copy of
 * the code cache. The pages are taken over as they are. The translations are not: the
 * child's first stop is seen some time after the fork, and by then the parent may have
 * translated (and chained) blocks that the child's copy of the cache does not hold. The
 * child translates afresh into its own copy of the cache space; its thread is moved out of
 * the cache if it forked from translated code (a raw syscall on a guarded page), while
 * the parent's translations still tell where it is.
 */
static int nx_fork_state(struct session *parent, struct session *child)
{
	const struct nx_state *ps = current(parent);
	struct nx_state *st;
	struct arch_regs regs;
	uint64_t orig;

	if (!ps)
		return 0;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	if (ps->npages) {
		st->pages = malloc((size_t)ps->npages * sizeof(*st->pages));
		if (!st->pages) {
			free(st);
			return -ENOMEM;
		}
		memcpy(st->pages, ps->pages, (size_t)ps->npages * sizeof(*st->pages));
	}
	st->npages = st->cap_pages = ps->npages;
	adopt(child, st);
	if (arch_get_regs(child->pid, &regs) == 0 && nx_cache_owns(ps, arch_pc(&regs), &orig) &&
	    orig) {
		arch_set_pc(&regs, orig);
		arch_set_regs(child->pid, &regs);
	}
	return 0;
}

/* ---- pages ----------------------------------------------------------------------------- */

int nx_page_of(const struct nx_state *st, uint64_t addr)
{
	uint64_t page = addr & ~(NX_PAGE - 1);

	for (int i = 0; i < st->npages; i++)
		if (st->pages[i].addr == page)
			return i;
	return -1;
}

bool nx_guarded(const struct nx_state *st, uint64_t addr)
{
	int pi = nx_page_of(st, addr);

	return pi >= 0 && st->pages[pi].guarded;
}

/* Only nx hooks fault: a hook of another strategy on a guarded page would be run from
 * the cache like any other code there. */
static bool is_nx_hook(const struct hook *h)
{
	return h->ops == &nx_ops && h->prepared;
}

bool nx_hooked_entry(const struct nx_state *st, uint64_t addr)
{
	struct hook *h = session_hook_at(st->s, addr);

	return h && h->armed && is_nx_hook(h);
}

static bool nx_hides_exec(struct session *s, uint64_t start, uint64_t end)
{
	const struct nx_state *st = current(s);

	for (int i = 0; st && i < st->npages; i++)
		if (st->pages[i].guarded && st->pages[i].addr >= start && st->pages[i].addr < end)
			return true;
	return false;
}

/* The mapping holding a guarded page, with the file offset of the page itself. */
struct nx_map {
	int prot;
	unsigned long long dev_major, dev_minor, inode, offset;
};

/* The mapping holding addr: 0, -ENOENT when nothing is mapped there, -ESRCH when the
 * process has no memory left. */
static int mapping_at(pid_t pid, uint64_t addr, struct nx_map *m)
{
	struct maps_entry e;
	int rc = maps_find(pid, addr, &e);

	if (rc < 0)
		return rc;
	m->prot = e.prot;
	m->dev_major = e.dev_major;
	m->dev_minor = e.dev_minor;
	m->inode = e.inode;
	m->offset = e.offset + ((addr & ~(NX_PAGE - 1)) - e.start);
	return 0;
}

static bool same_mapping(const struct nx_page *pg, const struct nx_map *m)
{
	return m->dev_major == pg->dev_major && m->dev_minor == pg->dev_minor &&
	       m->inode == pg->inode && m->offset == pg->offset;
}

static long remote_mprotect(struct session *s, struct thread *t, uint64_t addr, int prot)
{
	if (!t)
		t = session_any_stopped(s);
	if (!t)
		return -ESRCH;
	return remote_syscall(s, t, SYS_mprotect, (long)addr, (long)NX_PAGE, prot, 0, 0, 0);
}

/* A hook on page pi that is still armed, to charge collateral stops to, or -1. */
static int pick_owner(const struct nx_state *st, int pi)
{
	const struct session *s = st->s;

	for (int i = 0; i < s->nhooks; i++)
		if (s->hooks[i].armed && is_nx_hook(&s->hooks[i]) &&
		    (s->hooks[i].addr & ~(NX_PAGE - 1)) == st->pages[pi].addr)
			return i;
	return -1;
}

/* Gives page pi its protection back (through stopped thread t, or any) and disarms every
 * hook on it, saying why. */
static void drop_page(struct nx_state *st, struct thread *t, int pi, bool unmapped,
		      const char *why)
{
	struct session *s = st->s;
	struct nx_page *pg = &st->pages[pi];

	if (pg->guarded && !unmapped)
		remote_mprotect(s, t, pg->addr, pg->prot);
	pg->guarded = false;
	nx_cache_forget(st);
	for (int i = 0; i < s->nhooks; i++) {
		struct hook *h = &s->hooks[i];
		if (h->armed && is_nx_hook(h) && (h->addr & ~(NX_PAGE - 1)) == pg->addr) {
			h->armed = false;
			tracer_report_error(s, "nx: hook on %s at 0x%" PRIx64 " dropped: %s",
					    h->func, h->addr, why);
		}
	}
}

/* ---- probe, prepare, install, remove ---------------------------------------------------- */

static int nx_probe(struct session *s, char *err, size_t errlen)
{
	char path[64];
	unsigned long pers = 0;
	struct thread *t = session_any_stopped(s);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/personality", (int)s->pid);
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%lx", &pers) != 1)
			pers = 0;
		fclose(f);
	}
	if (pers & NX_READ_IMPLIES_EXEC) {
		snprintf(err, errlen, "pid %d runs with READ_IMPLIES_EXEC (personality 0x%lx): "
			 "readable pages stay executable, so none can be guarded", (int)s->pid, pers);
		return -ENOTSUP;
	}
	if (!t) {
		snprintf(err, errlen, "no stopped thread to probe mprotect with");
		return -ESRCH;
	}
	/* Take PROT_EXEC away from a page of our own and give it back: PR_SET_MDWE's
	 * refuse-exec-gain (or a security module) forbids the second step, and then every
	 * guarded page would stay non-executable after detach. */
	long page = remote_syscall(s, t, SYS_mmap, 0, (long)NX_PAGE, PROT_READ | PROT_EXEC,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page < 0 && page > -4096) {
		snprintf(err, errlen, "cannot map a probe page in pid %d: %s", (int)s->pid,
			 strerror((int)-page));
		return (int)page;
	}
	long r1 = remote_syscall(s, t, SYS_mprotect, page, (long)NX_PAGE, PROT_READ, 0, 0, 0);
	long r2 = r1 < 0 ? r1 : remote_syscall(s, t, SYS_mprotect, page, (long)NX_PAGE,
					       PROT_READ | PROT_EXEC, 0, 0, 0);
	remote_syscall(s, t, SYS_munmap, page, (long)NX_PAGE, 0, 0, 0, 0);
	if (r1 < 0 || r2 < 0) {
		snprintf(err, errlen, "pid %d cannot %s PROT_EXEC with mprotect (%s)%s",
			 (int)s->pid, r1 < 0 ? "drop" : "regain", strerror((int)-(r1 < 0 ? r1 : r2)),
			 r1 < 0 ? "" : ": PR_SET_MDWE refuse-exec-gain is set");
		return -ENOTSUP;
	}
	return 0;
}

/* Forgets page pi, which nothing guards or uses (a prepare that failed, or was undone),
 * giving its cache space back. */
static void discard_page(struct nx_state *st, int pi)
{
	struct nx_page *pg = &st->pages[pi];

	if (pg->chunk && !pg->chunk_used)
		scratch_free(st->s, pg->chunk, pg->chunk_size);
	st->pages[pi] = st->pages[--st->npages];
}

/* Whether any nx hook other than self is prepared on page pi. */
static bool page_in_use(const struct nx_state *st, int pi, const struct hook *self)
{
	const struct session *s = st->s;

	for (int i = 0; i < s->nhooks; i++)
		if (&s->hooks[i] != self && is_nx_hook(&s->hooks[i]) &&
		    (s->hooks[i].addr & ~(NX_PAGE - 1)) == st->pages[pi].addr)
			return true;
	return false;
}

/* Everything about page pi that can fail, short of guarding it. */
static int prepare_page(struct nx_state *st, int pi, const struct nx_map *m, uint64_t entry,
			char *err, size_t errlen)
{
	struct nx_page *pg = &st->pages[pi];

	/* An executable mapping there is not (or no longer) guarded: a library unloaded and
	 * loaded again, whose hooks were dropped without a remove. */
	if (pg->guarded && ((m->prot & PROT_EXEC) || !same_mapping(pg, m))) {
		pg->guarded = false;
		nx_cache_forget(st);
	}
	if (!pg->guarded) {
		pg->prot = m->prot;
		pg->dev_major = m->dev_major;
		pg->dev_minor = m->dev_minor;
		pg->inode = m->inode;
		pg->offset = m->offset;
	}
	/* Cache space now, while every thread is stopped (a fault may need more later). */
	if (!pg->chunk) {
		pg->chunk_size = 32 * 1024;
		pg->chunk = scratch_alloc(st->s, pg->addr, pg->chunk_size, err, errlen);
		if (!pg->chunk)
			return -ENOMEM;
	}
	/* The entry must run out of line, or its first call could not make progress:
	 * refuse now what the relocator refuses. */
	return nx_cache_check(st, entry, err, errlen);
}

static int nx_prepare(struct session *s, struct hook *h, char *err, size_t errlen)
{
	struct nx_state *st = state(s);
	uint64_t page = h->addr & ~(NX_PAGE - 1);
	struct nx_map m;
	int pi = nx_page_of(st, page);
	int rc = mapping_at(s->pid, h->addr, &m);

	if (rc < 0) {
		snprintf(err, errlen, "0x%" PRIx64 " is not mapped in pid %d", h->addr, (int)s->pid);
		return -EFAULT;
	}
	if (!(m.prot & PROT_EXEC) && !(pi >= 0 && st->pages[pi].guarded)) {
		snprintf(err, errlen, "0x%" PRIx64 " is not in executable memory", h->addr);
		return -EINVAL;
	}
	if (s->syscall_insn && (s->syscall_insn & ~(NX_PAGE - 1)) == page) {
		snprintf(err, errlen, "the page of 0x%" PRIx64 " holds the syscall instruction "
			 "mhookd injects syscalls through", h->addr);
		return -EBUSY;
	}
	if (s->rdebug.armed && (s->rdebug.addr & ~(NX_PAGE - 1)) == page) {
		snprintf(err, errlen, "the page of 0x%" PRIx64 " holds the dynamic linker's "
			 "rendezvous breakpoint, which cannot run out of line", h->addr);
		return -EBUSY;
	}
	for (int w = 0; w < 2; w++) {
		if (s->sigbp[w].armed && (s->sigbp[w].addr & ~(NX_PAGE - 1)) == page) {
			snprintf(err, errlen, "the page of 0x%" PRIx64 " holds mhookd's breakpoint "
				 "in %s, which keeps the target's signal handling intact, and nx "
				 "cannot guard a page with a breakpoint: hook it with swbp or hwbp",
				 h->addr, s->sigbp[w].func);
			return -EBUSY;
		}
	}
	for (int i = 0; i < s->nhooks; i++) {
		const struct hook *o = &s->hooks[i];
		if (o->prepared && o->ops != &nx_ops && (o->addr & ~(NX_PAGE - 1)) == page) {
			snprintf(err, errlen, "the page of 0x%" PRIx64 " holds %s's %s hook, whose "
				 "code would run from nx's cache unseen", h->addr, o->func,
				 o->ops->name);
			return -EBUSY;
		}
	}
	bool new_page = pi < 0;
	if (new_page) {
		if (st->npages == st->cap_pages) {
			int ncap = st->cap_pages ? st->cap_pages * 2 : 8;
			struct nx_page *p = realloc(st->pages, (size_t)ncap * sizeof(*p));
			if (!p)
				return -ENOMEM;
			st->pages = p;
			st->cap_pages = ncap;
		}
		pi = st->npages++;
		memset(&st->pages[pi], 0, sizeof(st->pages[pi]));
		st->pages[pi].addr = page;
		st->pages[pi].owner = -1;
	}
	struct nx_hook *nh = calloc(1, sizeof(*nh));
	rc = nh ? prepare_page(st, pi, &m, h->addr, err, errlen) : -ENOMEM;
	if (rc < 0) {
		free(nh);
		if (new_page)
			discard_page(st, pi);
		return rc;
	}
	nh->page = page;
	h->priv = nh;
	return 0;
}

static void nx_unprepare(struct session *s, struct hook *h)
{
	struct nx_state *st = current(s);
	int pi = st ? nx_page_of(st, h->addr) : -1;

	if (pi >= 0 && !st->pages[pi].guarded && !page_in_use(st, pi, h))
		discard_page(st, pi);
}

static int nx_install(struct session *s, struct hook *h)
{
	struct nx_state *st = state(s);
	int pi = nx_page_of(st, h->addr);

	if (h->armed)
		return 0;
	if (pi < 0)
		return -EINVAL;
	struct nx_page *pg = &st->pages[pi];
	if (!pg->guarded) {
		long r = remote_mprotect(s, NULL, pg->addr, pg->prot & ~PROT_EXEC);
		if (r < 0)
			return (int)r;
		pg->guarded = true;
		/* Code may have changed since an earlier guard: translate afresh. */
		nx_cache_forget(st);
	}
	h->armed = true;
	if (pg->owner < 0 || pg->owner >= s->nhooks || !s->hooks[pg->owner].armed)
		pg->owner = (int)(h - s->hooks);
	return 0;
}

static int nx_remove(struct session *s, struct hook *h)
{
	struct nx_state *st = state(s);
	int pi = nx_page_of(st, h->addr);
	struct nx_map m;

	if (!h->armed)
		return 0;
	h->armed = false;
	if (pi < 0)
		return 0;
	struct nx_page *pg = &st->pages[pi];
	pg->owner = pick_owner(st, pi);
	if (pg->owner >= 0 || !pg->guarded)
		return 0;
	pg->guarded = false;
	nx_cache_forget(st);
	/* Only if the mapping is still the one we guarded, and still as we left it. */
	if (mapping_at(s->pid, pg->addr, &m) < 0 || !same_mapping(pg, &m) ||
	    m.prot != (pg->prot & ~PROT_EXEC))
		return 0;
	long r = remote_mprotect(s, NULL, pg->addr, pg->prot);
	return r < 0 ? (int)r : 0;
}

/* ---- faults ------------------------------------------------------------------------------ */

/* Counts a fault at pc on page pi: a call when pc is a hooked entry (or was, for a fault
 * still pending when its page was given back), else a collateral stop. */
static void count_fault(struct nx_state *st, struct thread *t, int pi, struct arch_regs *regs)
{
	struct session *s = st->s;
	struct nx_page *pg = &st->pages[pi];
	struct hook *h = session_hook_at(s, arch_pc(regs));

	if (h && is_nx_hook(h) && (h->armed || !pg->guarded)) {
		tracer_report_hit(s, t, h, regs);
		return;
	}
	if (pg->owner >= 0 && pg->owner < s->nhooks)
		tracer_report_collateral(s, &s->hooks[pg->owner]);
}

static int nx_on_signal(struct session *s, struct thread *t, int sig, struct arch_regs *regs)
{
	struct nx_state *st = current(s);
	uint64_t pc = arch_pc(regs), orig;
	char err[512];
	siginfo_t si;

	debug_log(1, "nx: signal %d in tid %d at 0x%" PRIx64, sig, (int)t->tid, pc);
	if (sig != SIGSEGV || !st)
		return 0;
	/* Ours is an instruction fetch from a guarded page: SEGV_ACCERR at the PC itself, or
	 * at the start of the page when the instruction at the PC straddles into it. */
	int pi = nx_page_of(st, pc);
	if (pi < 0)
		pi = nx_page_of(st, pc + ARCH_MAX_INSN_LEN);
	if (pi < 0) {
		/* The target's own fault in translated code: its handler sees the original
		 * address (and returns there, to be translated again). */
		if (nx_cache_owns(st, pc, &orig) && orig) {
			arch_set_pc(regs, orig);
			arch_set_regs(t->tid, regs);
		}
		sigstate_deliver(s, t, SIGSEGV);
		return 0;
	}
	/* The hot path skips PTRACE_GETSIGINFO: no instruction can run on a page we guard,
	 * so a SIGSEGV with the PC on one is our fault, unless it was sent with kill() while
	 * the PC sat there, which only a thread that has not run since we guarded the page
	 * can do (then it is taken for our fault, and lost). Everything else is checked. */
	bool direct = st->pages[pi].guarded && nx_page_of(st, pc) == pi;
	if (!direct && ptrace(PTRACE_GETSIGINFO, t->tid, NULL, &si) < 0)
		return 0;
	uint64_t fault = direct ? pc : (uint64_t)(uintptr_t)si.si_addr;
	if ((!direct && si.si_code != SEGV_ACCERR) ||
	    (fault != pc && !(fault == st->pages[pi].addr && pc < fault &&
				   fault - pc <= ARCH_MAX_INSN_LEN))) {
		sigstate_deliver(s, t, SIGSEGV); /* a data fault, or a kill(): the target's */
		return 0;
	}
	sigstate_take_back(s, t, SIGSEGV);
	sigstate_forced(t, SIGSEGV);
	if (!st->pages[pi].guarded) {
		/* Given back since: a fault taken before that runs in place now. If the page
		 * is still not executable, it is the target's own doing, and its fault. */
		struct nx_map m;
		if (mapping_at(s->pid, st->pages[pi].addr, &m) < 0 || !(m.prot & PROT_EXEC))
			return 0;
		count_fault(st, t, pi, regs);
		return 1;
	}
	count_fault(st, t, pi, regs);
	uint64_t copy = nx_cache_enter(st, t, pc, err, sizeof(err));
	if (!copy) {
		/* No way forward without exec permission: give the page back. */
		drop_page(st, t, pi, false, err);
		return 1;
	}
	if (arch_poke_pc(t->tid, copy) < 0)
		t->exiting = true;
	return 1;
}

/* The target's own breakpoint in translated code: its handler sees the original address. */
static struct hook *nx_on_trap(struct session *s, struct thread *t, struct arch_regs *regs,
			       uint64_t *resume_pc)
{
	uint64_t orig;

	struct nx_state *st = current(s);

	(void)resume_pc;
	if (st && nx_cache_owns(st, arch_pc(regs), &orig) && orig) {
		arch_set_pc(regs, orig);
		arch_set_regs(t->tid, regs);
	}
	return NULL;
}

/* ---- detach, fork children, the target's own mprotect -------------------------------------- */

static int nx_evacuate(struct session *s, struct thread *t)
{
	struct nx_state *st = current(s);
	pid_t tid = t->tid;

	if (!st)
		return 0;
	/* The pages are executable again, but a thread that faulted on one just before it
	 * was interrupted still has that SIGSEGV pending: after detach it would kill the
	 * target. It takes it now; on_signal counts it (a call, if at an entry) and
	 * suppresses it. */
	for (int i = 0; i < 4 && t && t->state == THREAD_STOPPED && !t->resume_sig &&
			proc_signal_pending(tid, SIGSEGV); i++) {
		tracer_take_pending(s, t, SIGSEGV);
		t = session_thread(s, tid);
	}
	for (int step = 0; step <= NX_MAX_EVACUATE_STEPS; step++) {
		struct arch_regs regs;
		uint64_t orig;
		t = session_thread(s, tid);
		if (!t || t->state != THREAD_STOPPED || arch_get_regs(tid, &regs) < 0)
			return 0;
		if (!nx_cache_owns(st, arch_pc(&regs), &orig))
			return 0;
		if (orig) {
			arch_set_pc(&regs, orig);
			return arch_set_regs(tid, &regs);
		}
		/* Inside an expanded sequence (a relocated call's push): step to a boundary. */
		if (tracer_step(s, t) < 0)
			return 0;
	}
	return -EBUSY;
}

/* A fork child inherits the non-executable pages and would die at its first fault once
 * let go: give them back in the child, and move it out of the cache if it forked from
 * translated code. */
static int nx_clean_child(struct session *s, pid_t child)
{
	struct nx_state *st = current(s);
	struct arch_regs regs;
	uint64_t orig;

	if (!st)
		return 0;
	for (int i = 0; i < st->npages; i++)
		if (st->pages[i].guarded)
			remote_syscall_pid(child, s->syscall_insn, SYS_mprotect,
					   (long)st->pages[i].addr, (long)NX_PAGE,
					   st->pages[i].prot, 0, 0, 0);
	if (arch_get_regs(child, &regs) == 0 && nx_cache_owns(st, arch_pc(&regs), &orig) &&
	    orig) {
		arch_set_pc(&regs, orig);
		arch_set_regs(child, &regs);
	}
	return 0;
}

/*
 * The target may mprotect or unmap a guarded page itself. Checked here, every 100 ms:
 * a page made executable again is guarded again (its new protection becomes the one we
 * restore, and its translations are redone, as its code may have changed); a page that
 * is gone, or now maps something else, loses its hooks with an error event.
 */
static int nx_tick(struct session *s, bool stopped)
{
	struct nx_state *st = current(s);
	int need_stop = 0;

	for (int i = 0; st && i < st->npages && !s->gone; i++) {
		struct nx_page *pg = &st->pages[i];
		struct nx_map m;
		if (!pg->guarded)
			continue;
		if (pick_owner(st, i) < 0) {
			/* Its hooks went with an unloaded object: forget the page. */
			pg->guarded = false;
			nx_cache_forget(st);
			continue;
		}
		int rc = mapping_at(s->pid, pg->addr, &m);
		bool gone = rc == -ENOENT || (rc == 0 && !same_mapping(pg, &m));
		/* Still non-executable: ours, or the target's own choice; nothing to do. */
		if (!gone && (rc < 0 || !(m.prot & PROT_EXEC)))
			continue;
		if (!stopped) {
			need_stop = 1;
			continue;
		}
		if (gone) {
			/* The kernel lets /proc/PID/maps be read while an exiting process
			 * tears its mappings down, so a page can look gone when the process is
			 * merely dying. Believed only with every thread stopped: an exiting
			 * process then has no stopped thread left. */
			if (!session_any_stopped(s))
				break;
			drop_page(st, NULL, i, true, rc ? "the target unmapped its page"
				  : "the target mapped something else over its page");
			continue;
		}
		pg->prot = m.prot;
		nx_cache_forget(st);
		if (remote_mprotect(s, NULL, pg->addr, pg->prot & ~PROT_EXEC) < 0)
			drop_page(st, NULL, i, false, "cannot guard its page again after the target "
				  "changed its protection");
	}
	return need_stop;
}

const struct strategy_ops nx_ops = {
	.name = "nx",
	.id = STRATEGY_NX,
	.reports_collateral = true,
	.collateral_page = NX_PAGE,
	.priv_size = sizeof(struct nx_hook),
	.probe = nx_probe,
	.prepare = nx_prepare,
	.unprepare = nx_unprepare,
	.install = nx_install,
	.remove = nx_remove,
	.on_trap = nx_on_trap,
	.evacuate = nx_evacuate,
	.clean_child = nx_clean_child,
	.on_signal = nx_on_signal,
	.tick = nx_tick,
	.fork_state = nx_fork_state,
	.free_state = nx_free_state,
	.hides_exec = nx_hides_exec,
};
