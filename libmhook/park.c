/*
 * Stopping the world while code is written. An atomic store is not enough: a thread may
 * have been preempted between two of the instructions we are about to overwrite (after
 * the `push r12` that opens Debian's malloc, say), and would resume in the middle of our
 * jump. So every other thread listed in /proc/self/task gets a signal whose handler parks
 * it on a futex; once the bytes are written the patcher releases them, and each thread,
 * before returning from the handler, moves its own PC if it lies inside the changed bytes:
 * to the matching instruction of the trampoline on patch, to where the patch jumps on
 * unpatch. A batch (batch.c) changes many ranges under one parking: the moves are then a
 * list sorted by address, searched by each thread, and the patcher waits for every thread
 * to have applied its move before the list may change. The signal carries a generation
 * number so that a late delivery (a thread that had the signal blocked) is recognised and
 * ignored. Only raw system calls run while the threads are parked, since a parked thread
 * may hold any libc lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "libmhook/internal.h"

#define MAX_TIDS 4096
#define ARRIVE_TIMEOUT_NS 200000000LL   /* then check who blocks the signal */
#define GIVE_UP_NS 5000000000LL         /* then write anyway, with someone not parked */
#define MOVES 4                         /* moves of recent generations, see mh_release_all */

/* The moves of one generation: one copied here, or a caller's sorted list. */
struct gen_moves {
	const struct mh_move *const *list;
	size_t n;
	struct mh_move one;
	const struct mh_move *one_p;
	atomic_int done;             /* threads that applied their move (lists only) */
};

static int park_sig;
static struct gen_moves moves[MOVES];
static int park_missing;             /* threads the current generation did not park */
static atomic_int cur_gen;
static atomic_int arrived;
static atomic_int released_gen;      /* futex word: threads of generations <= it may go */
static int tids[MAX_TIDS];            /* signalled in this generation */
static unsigned n_tids;
static atomic_int arrived_tids[MAX_TIDS];
static unsigned char strikes[MAX_TIDS];  /* timeouts a thread was found blocking the signal */
static int deaf[64];                 /* never arrived and block the signal: not waited for */
static unsigned n_deaf;
/* Threads inside park_handler: they block the signal only until they return, and a
 * thread released by the previous write may not have run yet when the next one starts. */
#define INSIDE_MAX 256
static atomic_int inside[INSIDE_MAX];

/* The move whose range may hold pc: the last one starting at or before it. */
static const struct mh_move *move_for(const struct gen_moves *g, uintptr_t pc)
{
	size_t lo = 0, hi = g->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (g->list[mid]->entry <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? g->list[lo - 1] : NULL;
}

static void move_thread(void *uc, const struct gen_moves *g)
{
	uintptr_t pc = arch_uc_pc(uc);
	const struct mh_move *mv = move_for(g, pc);

	if (!mv || !mv->len)
		return;
	if (mv->unpatch) {
		if (pc > mv->entry && pc < mv->entry + mv->len)
			arch_uc_set_pc(uc, mv->jump_to);
		return;
	}
	for (unsigned k = 1; k + 1 < mv->n_map; k++) {
		if (pc == mv->entry + mv->map[k].src_off) {
			arch_uc_set_pc(uc, (mv->reloc + mv->map[k].dst_off) | (mv->thumb ? 1u : 0u));
			return;
		}
	}
}

static void park_handler(int sig, siginfo_t *si, void *uc)
{
	int saved = errno, gen, rel, me, slot = -1;

	(void)sig;
	gen = si->si_value.sival_int;
	if (si->si_code != SI_QUEUE || gen != atomic_load(&cur_gen)) {
		errno = saved;
		return;
	}
	me = mh_gettid();
	for (int i = 0; i < INSIDE_MAX && slot < 0; i++) {
		int zero = 0;

		if (atomic_compare_exchange_strong(&inside[i], &zero, me))
			slot = i;
	}
	rel = atomic_fetch_add(&arrived, 1);
	if (rel < MAX_TIDS)
		atomic_store(&arrived_tids[rel], me);
	while ((rel = atomic_load(&released_gen)) < gen)
		mh_sys(SYS_futex, (long)&released_gen, FUTEX_WAIT_PRIVATE, rel, 0, 0, 0);
	move_thread(uc, &moves[gen % MOVES]);
	atomic_fetch_add(&moves[gen % MOVES].done, 1);
	if (slot >= 0)
		atomic_store(&inside[slot], 0);
	errno = saved;
}

static int install_handler(void)
{
	struct sigaction sa;

	if (park_sig)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = park_handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGRTMIN + 7, &sa, NULL) < 0)
		return -1;
	park_sig = SIGRTMIN + 7;
	return 0;
}

static bool known(int tid)
{
	for (unsigned i = 0; i < n_tids; i++)
		if (tids[i] == tid)
			return true;
	return false;
}

static int signal_thread(int pid, int tid, int gen)
{
	siginfo_t si;
	static const siginfo_t zero;

	mh_copy(&si, &zero, sizeof(si));
	si.si_signo = park_sig;
	si.si_code = SI_QUEUE;
	si.si_pid = pid;
	si.si_value.sival_int = gen;
	return (int)mh_sys(SYS_rt_tgsigqueueinfo, pid, tid, park_sig, (long)&si, 0, 0);
}

/* Does thread tid block our signal now? Only asked about a thread that did not arrive in
 * time: any thread blocks signals for a moment now and then (inside our handler, in
 * pthread_create), which is no reason to skip it. Under qemu-user the emulator's own
 * helper threads, listed in /proc/self/task, block everything for good. */
static bool blocks_signal(int tid)
{
	char path[64] = "/proc/self/task/", buf[1024];
	unsigned pos = 16;
	long fd, n;
	char *p;

	for (int d = 1000000000, started = 0; d; d /= 10) {
		if (tid / d % 10 || started || d == 1) {
			path[pos++] = (char)('0' + tid / d % 10);
			started = 1;
		}
	}
	mh_copy(path + pos, "/status", 8);
	fd = mh_sys(SYS_openat, AT_FDCWD, (long)path, O_RDONLY | O_CLOEXEC, 0, 0, 0);
	if (fd < 0)
		return false;
	n = mh_sys(SYS_read, fd, (long)buf, sizeof(buf) - 1, 0, 0, 0);
	mh_sys(SYS_close, fd, 0, 0, 0, 0, 0);
	if (n <= 0)
		return false;
	buf[n] = 0;
	for (p = buf; *p; p++) {
		if (p[0] == 'S' && p[1] == 'i' && p[2] == 'g' && p[3] == 'B' && p[4] == 'l' &&
		    p[5] == 'k' && p[6] == ':') {
			/* a hex mask, bit (sig - 1) from the right */
			char *q = p + 7, *end;
			int bit = park_sig - 1;

			while (*q == ' ' || *q == '\t')
				q++;
			for (end = q; (*end >= '0' && *end <= '9') || (*end >= 'a' && *end <= 'f'); end++)
				;
			if (end - q <= bit / 4)
				return false;
			q = end - 1 - bit / 4;
			return ((*q >= 'a' ? *q - 'a' + 10 : *q - '0') >> (bit % 4)) & 1;
		}
	}
	return false;
}

static bool is_deaf(int tid)
{
	for (unsigned i = 0; i < n_deaf; i++)
		if (deaf[i] == tid)
			return blocks_signal(tid);
	return false;
}

static bool in_handler(int tid)
{
	for (int i = 0; i < INSIDE_MAX; i++)
		if (atomic_load(&inside[i]) == tid)
			return true;
	return false;
}

/* After a timeout: a thread that has not arrived and blocks the signal at two checks in a
 * row (outside our own handler) is remembered as deaf, so that neither this write nor
 * later ones wait for it. Returns how many of those this write was waiting for. */
static int note_deaf(void)
{
	int n = atomic_load(&arrived), found = 0;

	for (unsigned i = 0; i < n_tids; i++) {
		bool came = false;

		for (int k = 0; k < n && k < MAX_TIDS && !came; k++)
			came = atomic_load(&arrived_tids[k]) == tids[i];
		if (came || is_deaf(tids[i]) || in_handler(tids[i]) || !blocks_signal(tids[i])) {
			strikes[i] = 0;
			continue;
		}
		if (++strikes[i] < 2)
			continue;
		found++;
		if (n_deaf < 64)
			deaf[n_deaf++] = tids[i];
	}
	return found;
}

/*
 * /proc/self/task, opened once per process: opening it costs three times as much as
 * reading it again. The descriptor is checked before each use (the program may have
 * closed it and reused the number) and reopened after a fork.
 */
static long task_dir(int pid)
{
	static long fd = -1;
	static int fd_pid;
	static struct stat fd_st;
	struct stat st;

	if (fd >= 0 && fd_pid == pid && fstat((int)fd, &st) == 0 &&
	    st.st_ino == fd_st.st_ino && st.st_dev == fd_st.st_dev &&
	    mh_sys(SYS_lseek, fd, 0, SEEK_SET, 0, 0, 0) == 0)
		return fd;
	/* Not ours any more (or a fork's copy): never close a number the program reuses. */
	fd = mh_sys(SYS_openat, AT_FDCWD, (long)"/proc/self/task",
		    O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, 0, 0);
	if (fd < 0 || fstat((int)fd, &fd_st) < 0)
		return -1;
	fd_pid = pid;
	return fd;
}

/* Signals every thread not signalled yet; returns how many were newly signalled. */
static int signal_new_threads(int pid, int me, int gen)
{
	char buf[2048];
	int newly = 0;
	long fd, n;

	fd = task_dir(pid);
	if (fd < 0)
		return 0;
	while ((n = mh_sys(SYS_getdents64, fd, (long)buf, sizeof(buf), 0, 0, 0)) > 0) {
		for (long off = 0; off < n;) {
			/* struct linux_dirent64: ino 8, off 8, reclen 2, type 1, name */
			unsigned short reclen;
			const char *name = buf + off + 19;
			int tid = 0;

			mh_copy(&reclen, buf + off + 16, sizeof(reclen));
			off += reclen;
			for (; *name >= '0' && *name <= '9'; name++)
				tid = tid * 10 + (*name - '0');
			if (tid <= 0 || tid == me || known(tid) || n_tids >= MAX_TIDS)
				continue;
			strikes[n_tids] = 0;
			tids[n_tids++] = tid;
			if (signal_thread(pid, tid, gen) == 0 && !is_deaf(tid))
				newly++;
		}
		/* Room left for another entry: that was the whole directory, so the call
		 * that would return 0 can be saved. */
		if (n < (long)sizeof(buf) - 512)
			break;
	}
	return newly;
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int mh_park_all(const struct mh_move *const *mv, size_t n_mv)
{
	int pid = mh_pid ? mh_pid : (int)mh_sys(SYS_getpid, 0, 0, 0, 0, 0, 0);
	int me = mh_tid ? mh_tid : mh_gettid(), gen, sent = 0, newly, deaf_now = 0;
	long long deadline = 0, give_up = 0;
	struct gen_moves *g;

	if (install_handler() < 0)
		return 0;
	gen = atomic_load(&cur_gen) + 1;
	g = &moves[gen % MOVES];
	if (n_mv == 1) {
		g->one = *mv[0];
		g->one_p = &g->one;
		g->list = &g->one_p;
	} else {
		g->list = mv;
	}
	g->n = n_mv;
	atomic_store(&g->done, 0);
	park_missing = 0;
	atomic_store(&arrived, 0);
	atomic_store(&cur_gen, gen);
	n_tids = 0;
	/* Threads may be created by threads not yet parked, so scan until a scan finds
	 * nobody new once everyone signalled has arrived. */
	do {
		newly = signal_new_threads(pid, me, gen);
		sent += newly;
		while (atomic_load(&arrived) < sent - deaf_now) {
			long long t = now_ns();

			if (!deadline) {
				deadline = t + ARRIVE_TIMEOUT_NS;
				give_up = t + GIVE_UP_NS;
			} else if (t > deadline) {
				/* Threads that block the signal will not come; a thread that
				 * merely has not been scheduled yet will, so keep waiting for
				 * it (a loaded machine can take that long). */
				deaf_now += note_deaf();
				deadline = t + ARRIVE_TIMEOUT_NS;
				if (t > give_up)
					return park_missing = sent - atomic_load(&arrived);
			}
			mh_yield();
		}
	} while (newly);
	park_missing = sent - atomic_load(&arrived) > 0 ? sent - atomic_load(&arrived) : 0;
	return park_missing;
}

/*
 * Releases the threads parked for the current generation. With a single move it does not
 * wait for them to leave: a released thread still in the handler has every signal
 * blocked, so the next mh_park_all cannot count it as arrived before it has applied its
 * own move and left, and its copied move stays readable because the next MOVES - 1
 * generations use other entries. A list belongs to the caller, who reuses it for the next
 * batch, so then every thread that arrived must have applied its move first; a thread
 * that was not parked may still come and read it, which the caller is told.
 */
int mh_release_all(void)
{
	int gen = atomic_load(&cur_gen);
	struct gen_moves *g = &moves[gen % MOVES];
	long long give_up;

	atomic_store(&released_gen, gen);
	mh_sys(SYS_futex, (long)&released_gen, FUTEX_WAKE_PRIVATE, 0x7fffffff, 0, 0, 0);
	if (g->n <= 1)
		return 0;
	give_up = now_ns() + GIVE_UP_NS;
	while (atomic_load(&g->done) < atomic_load(&arrived)) {
		if (now_ns() > give_up)
			return -1;
		mh_yield();
	}
	return park_missing ? -1 : 0;
}
