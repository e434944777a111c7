/*
 * The stop loop (see loop.h). One waitpid(__WALL) serves every thread and child. A hit is
 * one stop: read the registers, let the strategies classify the trap and say where the
 * thread continues, report it, write the PC, continue. Everything else that stops a thread
 * (its own signals, group-stop, clone/fork/vfork/exec events, exits) is told apart here.
 *
 * mhookd's own signals are taken between stops (tracer/signals.h), and so are requests
 * from other threads: a command queue, whose wake-up is one more signal of that set, so a
 * request ends a blocking wait as a stop does and costs nothing while none is queued.
 */
#include "tracer/loop.h"

#include <errno.h>
#include <linux/kcmp.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "strategies/strategy.h"
#include "tracer/debug.h"
#include "tracer/detach.h"
#include "tracer/follow.h"
#include "tracer/hooks.h"
#include "tracer/mem.h"
#include "tracer/observer.h"
#include "tracer/proc.h"
#include "tracer/services.h"
#include "tracer/sigstate.h"
#include "tracer/signals.h"

/* A strategy with a tick gets it this often, from a timer signal that also breaks a
 * blocking wait, so its checks run even when the target makes no stop. */
#define LOOP_TICK_MS 100
/* A busy target may never leave us idle: our signals, and the handlers' buffered
 * events, are looked at this often anyway. */
#define LOOP_POLL_NS 5000000ULL

static void dispatch_held(struct session *s, pid_t tid, int status)
{
	loop_handle(s, tid, status, true);
}

void loop_init_session(struct session *s, const struct observer_ops *obs)
{
	s->exit_status = -1;
	s->dispatch = dispatch_held;
	s->obs = obs;
}

static bool is_stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

/* Per-thread hook state (debug registers) for every strategy that keeps some. */
static int init_thread(struct session *s, struct thread *t)
{
	const struct strategy_ops *ops;
	int rc = 0;

	for (unsigned pos = 0; (ops = strategy_next_used(s, &pos));)
		if (ops->thread_init && ops->thread_init(s, t) < 0)
			rc = -1;
	return rc;
}

void loop_resume_all(struct session *s)
{
	/* Every thread is stopped here: the moment to apply a deferred resync, before any
	 * of them runs the code (constructors) of what was loaded. */
	if (s->sync_needed && !s->gone) {
		s->sync_needed = false;
		int rc = hooks_sync(s);
		if (rc) {
			s->fatal = rc; /* leave everything stopped: the session ends */
			return;
		}
		if (!s->ready_sent && s->ready_at_sync) {
			s->obs->ready(s);
			s->ready_sent = true;
		}
	}
	const struct strategy_ops *ops;
	for (unsigned pos = 0; (ops = strategy_next_used(s, &pos));)
		if (ops->settle)
			ops->settle(s);
	tracer_resume_all(s);
}

/* A fork child has its own copy of our breakpoints: clean it and let it go, or with -F
 * give it a session of its own. A child that shares our memory (vfork, clone(CLONE_VM))
 * runs our breakpoints too, so it stays traced as a shadow until it execs or exits. */
static void on_new_process(struct session *s, pid_t child, int status, bool hold)
{
	long same_vm = syscall(SYS_kcmp, s->pid, child, KCMP_VM, 0, 0);

	if (same_vm != 0) {
		struct session *c = s->follow ? follow_fork(s, child, false) : NULL;
		session_remove_thread(s, child);
		if (c) {
			struct thread *ct = session_add_thread(c, child, child, THREAD_STOPPED);
			ct->state = THREAD_STOPPED;
			init_thread(c, ct);
			s->obs->child(s, child);
			tracer_resume(c, ct);
			return;
		}
		const struct strategy_ops *ops;
		for (unsigned pos = 0; (ops = strategy_next_used(s, &pos));)
			ops->clean_child(s, child);
		mem_forget(child);
		ptrace(PTRACE_DETACH, child, NULL, NULL);
		return;
	}
	if (s->follow)
		s->obs->child(s, child);
	struct thread *t = session_add_thread(s, child, child, THREAD_STOPPED);
	t->shadow = true;
	t->state = THREAD_STOPPED;
	if (status >> 16 == 0 && WSTOPSIG(status) != SIGTRAP)
		t->resume_sig = WSTOPSIG(status);
	/* It runs our hooks' code: hwbp's debug registers, which no new task inherits, are
	 * set in it too. */
	if (s->armed && init_thread(s, t) < 0)
		tracer_report_error(s, "cannot set up hooks in child %d", (int)child);
	if (!hold)
		tracer_resume(s, t);
}

static void on_first_stop(struct session *s, pid_t tid, int status, bool hold)
{
	pid_t tgid = proc_tgid(tid);

	if (tgid && tgid != s->pid) {
		struct thread *parent_side = session_thread(s, tgid);
		/* A thread of a shadow process is a shadow too. */
		if (parent_side && parent_side->shadow && tgid != tid) {
			struct thread *t = session_add_thread(s, tid, tgid, THREAD_STOPPED);
			t->state = THREAD_STOPPED;
			t->shadow = true;
			if (s->armed && init_thread(s, t) < 0)
				tracer_report_error(s, "cannot set up hooks in new thread %d",
						    (int)tid);
			if (!hold)
				tracer_resume(s, t);
			return;
		}
		/* A fork child starts with the mask of the thread that forked it. */
		struct thread *known = session_thread(s, tid);
		uint8_t blocked = known ? known->trap_blocked : 0;
		session_remove_thread(s, tid);
		on_new_process(s, tid, status, hold);
		struct session *c = follow_owner(tid);
		struct thread *ct = c ? session_thread(c, tid) : NULL;
		if (ct)
			ct->trap_blocked = blocked;
		return;
	}
	struct thread *t = session_add_thread(s, tid, s->pid, THREAD_STOPPED);
	t->state = THREAD_STOPPED;
	t->shadow = false;
	if (status >> 16 == 0 && WSTOPSIG(status) != SIGTRAP)
		t->resume_sig = WSTOPSIG(status);
	/* Per-thread hook state (debug registers) is not inherited by new threads. */
	if (s->armed && init_thread(s, t) < 0)
		tracer_report_error(s, "cannot set up hooks in new thread %d", (int)tid);
	if (!hold)
		tracer_resume(s, t);
}

static void on_exit_status(struct session *s, pid_t tid, int status)
{
	struct thread *t = session_thread(s, tid);
	pid_t tgid = t ? t->tgid : 0;

	session_remove_thread(s, tid);
	if (tid == s->pid) {
		s->gone = true;
		s->exit_status = status;
		s->obs->exit(s, status);
		/* The leader's exit is reported last: any thread still listed is gone. */
		for (int i = s->nthreads - 1; i >= 0; i--)
			if (s->threads[i].tgid == s->pid)
				session_remove_thread(s, s->threads[i].tid);
		mem_forget(tid);
	} else if (tgid && tgid == tid) {
		mem_forget(tid);
	} else if (tgid == s->pid && s->leader_untraced && !session_has_tgid(s, s->pid)) {
		/* The leader is a zombie we could not seize: the last thread's exit is the
		 * process's, with its status (exit_group gives every thread the code). */
		s->gone = true;
		s->exit_status = status;
		s->obs->exit(s, status);
		mem_forget(s->pid);
	}
}

/* exec replaced the memory our hooks lived in. A shadow (vfork) child that execs is let
 * go: its new memory holds none of our bytes. The traced process itself is followed:
 * every SPEC is resolved again in the new program, its executable's hooks now (only it
 * and the dynamic linker are mapped), its libraries' when the dynamic linker has loaded
 * them, before their constructors run. */
static void on_exec(struct session *s, struct thread *t, bool hold)
{
	pid_t tgid = t->tgid;

	if (t->shadow) {
		pid_t tid = t->tid;
		for (int i = s->nthreads - 1; i >= 0; i--)
			if (s->threads[i].tgid == tgid && s->threads[i].tid != tid)
				session_remove_thread(s, s->threads[i].tid);
		struct session *c = s->follow ? follow_fork(s, tgid, true) : NULL;
		session_remove_thread(s, tid);
		mem_forget(tgid);
		if (!c) {
			ptrace(PTRACE_DETACH, tid, NULL, NULL);
			return;
		}
		/* -F: the vfork child now has memory of its own, with a program of its own. */
		t = session_add_thread(c, tgid, tgid, THREAD_STOPPED);
		on_exec(c, t, false);
		return;
	}
	hooks_forget_all(s);
	mem_forget(s->pid);
	/* Only the leader is left (a non-leader that execs takes the leader's id); the
	 * others' exits are reported or were. */
	for (int i = s->nthreads - 1; i >= 0; i--)
		if (s->threads[i].tgid == s->pid && s->threads[i].tid != s->pid)
			session_remove_thread(s, s->threads[i].tid);
	t = session_add_thread(s, s->pid, s->pid, THREAD_STOPPED);
	t->state = THREAD_STOPPED;
	t->in_syscall_stop = true;
	s->leader_untraced = false; /* the thread that exec'd is the leader now */
	s->allow_pending = true;
	s->obs->exec(s);
	s->sync_needed = true;
	if (!hold)
		loop_resume_all(s); /* the only thread is stopped: resync, then go */
}

/* The dynamic linker's objects are consistent again after a change: with every other
 * thread stopped, resync the hooks before t (the thread that loaded or unloaded) runs any
 * constructor of what it loaded. Inside a stop-all, the sync waits for its resume. */
static void on_objects_changed(struct session *s, bool hold)
{
	s->sync_needed = true;
	if (!hold && tracer_stop_all(s) == 0)
		loop_resume_all(s);
}

/* Whether evacuating tid moved it from before's PC onto an armed hook's entry. */
static bool moved_onto_entry(struct session *s, pid_t tid, const struct arch_regs *before)
{
	struct arch_regs now;

	if (arch_get_regs(tid, &now) < 0 || arch_pc(&now) == arch_pc(before))
		return false;
	struct hook *h = session_hook_at(s, arch_pc(&now));
	return h && h->armed && h->addr == arch_pc(&now);
}

/* t is about to take a signal of the target's. Its handler's frame will return to where
 * t is, which may be a slot or nx's cache, unmapped by a detach before the handler ends
 * (a GC parks threads in a handler for as long as it likes). So t first goes to the
 * equivalent original address; a step that gets it there keeps the signal's siginfo.
 * Just after a hit it sits at the copy of the entry, whose original is the breakpoint
 * (or the guarded page): there it would be counted again when the handler returns, and a
 * signal storm would keep it bouncing between entry and slot. It takes one step in the
 * copy instead, to the original of the next instruction. */
static void deliver_from_original_code(struct session *s, struct thread *t)
{
	struct arch_regs before;
	pid_t tid = t->tid;

	if (!s->armed || arch_get_regs(tid, &before) < 0 || detach_evacuate(s, tid) < 0 ||
	    !moved_onto_entry(s, tid, &before))
		return;
	/* A fault of the copy of the entry (its first instruction loads through a bad
	 * pointer): that instruction did not run, and when the handler returns it runs the
	 * entry again, a call again, as unhooked. */
	t = session_thread(s, tid);
	if (!t || tracer_is_fault(tid, t->resume_sig) || arch_set_regs(tid, &before) < 0)
		return;
	int rc = tracer_step(s, t);
	if (rc < 0 && rc != -EFAULT)
		return;
	detach_evacuate(s, tid); /* a step that faulted stays on the copy: to the entry */
}

static void on_breakpoint(struct session *s, struct thread *t, bool hold)
{
	const struct strategy_ops *ops;
	struct arch_regs regs;
	uint64_t resume_pc = 0;
	struct hook *h = NULL;
	bool changed;

	if (arch_get_regs(t->tid, &regs) < 0) {
		t->exiting = true;
		return;
	}
	uint64_t stop_pc = arch_pc(&regs);
	if (hooks_sigwatch_trap(s, t, stop_pc))
		return;
	if (rdebug_on_trap(s, t, stop_pc, &changed)) {
		sigstate_take_back(s, t, SIGTRAP);
		sigstate_forced(t, SIGTRAP);
		if (changed && !t->shadow)
			on_objects_changed(s, hold);
		return;
	}
	for (unsigned pos = 0; !h && (ops = strategy_next_used(s, &pos));)
		h = ops->on_trap(s, t, &regs, &resume_pc);
	if (!h) {
		t->resume_sig = SIGTRAP; /* the target's own: deliver it untouched */
		sigstate_deliver(s, t, SIGTRAP);
		deliver_from_original_code(s, t);
		return;
	}
	sigstate_take_back(s, t, SIGTRAP);
	sigstate_forced(t, SIGTRAP);
	if (!t->step_again)
		tracer_report_hit(s, t, h, &regs);
	t->step_again = false;
	/* Only a strategy that moves the thread costs a register write; hwbp resumes in
	 * place, where the entry runs without trapping again. */
	if (resume_pc != stop_pc && arch_poke_pc(t->tid, resume_pc) < 0)
		t->exiting = true;
}

/* Lets a strategy claim a signal (nx's SIGSEGV on a guarded page). Returns true when
 * one did, and the signal is then not delivered. */
static bool on_strategy_signal(struct session *s, struct thread *t, int sig)
{
	const struct strategy_ops *ops;
	struct arch_regs regs;
	bool regs_read = false;

	for (unsigned pos = 0; (ops = strategy_next_used(s, &pos));) {
		if (!ops->on_signal)
			continue;
		if (!regs_read && arch_get_regs(t->tid, &regs) < 0) {
			t->exiting = true;
			return true;
		}
		regs_read = true;
		if (ops->on_signal(s, t, sig, &regs) == 1)
			return true;
	}
	return false;
}

/* A clone/fork/vfork event of t: the child is registered before its first stop, so that
 * a concurrent stop-all waits for it and a detach never leaves it traced. Its first stop,
 * and even its exit, may have been reported before this event: it is registered only if
 * it is unknown and still exists, or stop_all would wait forever for a dead thread. */
static void on_clone_event(struct session *s, struct thread *t, int event)
{
	unsigned long msg = 0;
	pid_t tid = t->tid;

	ptrace(PTRACE_GETEVENTMSG, tid, NULL, &msg);
	if (event == PTRACE_EVENT_VFORK)
		t->vfork_child = (pid_t)msg;
	pid_t child_tgid = event == PTRACE_EVENT_CLONE ? 0 : (pid_t)msg;
	if (!msg || follow_owner((pid_t)msg) ||
	    syscall(SYS_tgkill, child_tgid ? child_tgid : t->tgid, (pid_t)msg, 0) != 0)
		return;
	bool shadow = t->shadow || child_tgid != 0;
	struct thread *c = session_add_thread(s, (pid_t)msg, child_tgid ? child_tgid : t->tgid,
					      THREAD_NEW);
	c->shadow = shadow;
	t = session_thread(s, tid); /* adding may have moved the thread table */
	if (t)
		sigstate_clone(t, c);
}

void loop_handle(struct session *s, pid_t tid, int status, bool hold)
{
	debug_log(2, "stop tid %d status 0x%x%s", (int)tid, status, hold ? " (hold)" : "");
	/* One waitpid serves every traced process: a stop of another session's thread is
	 * handled there, and that session is not the one being held. */
	struct session *owner = follow_owner(tid);
	if (!owner)
		owner = follow_parent_of(tid, s);
	if (owner != s) {
		loop_handle(owner, tid, status, false);
		return;
	}
	struct thread *t = session_thread(s, tid);

	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		on_exit_status(s, tid, status);
		return;
	}
	if (!WIFSTOPPED(status))
		return;
	if (!t || t->state == THREAD_NEW) {
		on_first_stop(s, tid, status, hold);
		return;
	}

	int sig = WSTOPSIG(status);
	int event = status >> 16;

	t->state = THREAD_STOPPED;
	t->resume_sig = 0;
	t->listen = false;
	t->in_syscall_stop = event == PTRACE_EVENT_CLONE || event == PTRACE_EVENT_FORK ||
			     event == PTRACE_EVENT_VFORK || event == PTRACE_EVENT_EXEC;
	t->vfork_child = 0;
	switch (event) {
	case PTRACE_EVENT_STOP:
		/* Group-stop must be resumed with LISTEN, so that the thread stays stopped
		 * until SIGCONT; an interrupt stop is simply continued. */
		if (is_stop_signal(sig))
			t->listen = true;
		break;
	case PTRACE_EVENT_CLONE:
	case PTRACE_EVENT_FORK:
	case PTRACE_EVENT_VFORK:
		on_clone_event(s, t, event);
		t = session_thread(s, tid); /* adding may have moved the thread table */
		break;
	case PTRACE_EVENT_EXEC:
		on_exec(s, t, hold);
		return;
	case 0:
		if (sig == SIGTRAP) {
			on_breakpoint(s, t, hold);
		} else if (!on_strategy_signal(s, t, sig)) {
			t->resume_sig = sig;
			deliver_from_original_code(s, t);
		}
		t = session_thread(s, tid); /* a step (leaving a slot) may have moved it */
		/* What our traps reset is put back before the thread runs target code. */
		if (t && t->state == THREAD_STOPPED)
			sigstate_repair(s, t);
		t = session_thread(s, tid);
		break;
	default:
		break;
	}
	if (!hold && t && t->step_over) {
		/* Its step needs every other thread stopped (strategies/step.c). */
		if (s->nthreads > 1)
			tracer_stop_all(s);
		loop_resume_all(s);
	} else if (!hold && t) {
		tracer_resume(s, t);
	}
}

/* ---- commands from other threads ------------------------------------------------------ */

struct loop_cmd {
	int (*fn)(void *ctx);
	void *ctx;
	int result;
	bool done;
	struct loop_cmd *next;
};

static pthread_mutex_t cmd_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cmd_cond = PTHREAD_COND_INITIALIZER;
static struct loop_cmd *cmd_head;
/* A request that comes before the loop starts (the socket server is up a moment earlier)
 * waits for it; only one that comes after the loop ended is refused. */
static enum { LOOP_NOT_STARTED, LOOP_RUNNING, LOOP_ENDED } loop_state;
static pthread_t loop_thread;

int loop_call(int (*fn)(void *ctx), void *ctx)
{
	struct loop_cmd cmd = { .fn = fn, .ctx = ctx };

	pthread_mutex_lock(&cmd_lock);
	if (loop_state == LOOP_ENDED) {
		pthread_mutex_unlock(&cmd_lock);
		return -ESRCH;
	}
	if (loop_state == LOOP_RUNNING && pthread_equal(pthread_self(), loop_thread)) {
		pthread_mutex_unlock(&cmd_lock);
		return fn(ctx);
	}
	struct loop_cmd **tail = &cmd_head;
	while (*tail)
		tail = &(*tail)->next;
	*tail = &cmd;
	signals_wake();
	while (!cmd.done)
		pthread_cond_wait(&cmd_cond, &cmd_lock);
	pthread_mutex_unlock(&cmd_lock);
	return cmd.result;
}

void loop_request_stop(int why)
{
	__atomic_store_n(&signals_stop, why, __ATOMIC_SEQ_CST);
	signals_wake();
}

/* Runs every queued command, on the tracer thread. */
static void run_commands(void)
{
	pthread_mutex_lock(&cmd_lock);
	while (cmd_head) {
		struct loop_cmd *c = cmd_head;
		cmd_head = c->next;
		pthread_mutex_unlock(&cmd_lock);
		int rc = c->fn(c->ctx);
		pthread_mutex_lock(&cmd_lock);
		c->result = rc;
		c->done = true;
		pthread_cond_broadcast(&cmd_cond);
	}
	pthread_mutex_unlock(&cmd_lock);
}

static void set_running(bool running)
{
	pthread_mutex_lock(&cmd_lock);
	loop_state = running ? LOOP_RUNNING : LOOP_ENDED;
	loop_thread = pthread_self();
	/* Requests that came too late are told so rather than left waiting. */
	for (; !running && cmd_head; cmd_head = cmd_head->next) {
		cmd_head->result = -ESRCH;
		cmd_head->done = true;
	}
	pthread_cond_broadcast(&cmd_cond);
	pthread_mutex_unlock(&cmd_lock);
}

/* ---- waiting ----------------------------------------------------------------------------- */

/* Spinning briefly on WNOHANG before blocking avoids the cost of waking an idle CPU when
 * the next hit comes soon (a cross-CPU wake-up costs several stops here); sched_yield
 * lets a tracee that shares our CPU run meanwhile. */
static int spin_iterations(void)
{
	static int n = -1;

	if (n < 0) {
		const char *v = getenv("MHOOK_SPIN");
		n = v ? atoi(v) : 200;
		if (n < 0)
			n = 0;
	}
	return n;
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static bool interrupted(void)
{
	return signals_stop || signals_tick || signals_woken;
}

/* The next stop of any tracee (its tid), or 0 when one of our signals or a request came
 * first, or -1 with errno. */
static pid_t loop_wait(const struct observer_ops *obs, int *status)
{
	static uint64_t last_poll;

	uint64_t now = monotonic_ns();
	if (now - last_poll > LOOP_POLL_NS) {
		last_poll = now;
		signals_poll();
		obs->idle();
	}
	for (int i = 0, n = spin_iterations(); i < n; i++) {
		if (interrupted())
			return 0;
		pid_t tid = waitpid(-1, status, __WALL | WNOHANG);
		if (tid != 0)
			return tid;
		sched_yield();
	}
	obs->idle();
	for (;;) {
		if (interrupted())
			return 0;
		pid_t tid = waitpid(-1, status, __WALL | WNOHANG);
		if (tid != 0)
			return tid;
		/* Nothing ready: a stop that happens from now on leaves SIGCHLD pending, so
		 * this cannot miss it. */
		signals_wait(-1);
	}
}

/* Whether some traced process uses a strategy with a tick. */
static bool wants_ticks(void)
{
	for (int i = 0; i < follow_count(); i++) {
		const struct strategy_ops *ops;
		struct session *fs = follow_at(i);
		for (unsigned pos = 0; (ops = strategy_next_used(fs, &pos));)
			if (ops->tick)
				return true;
	}
	return false;
}

/* Every traced process (-F) has its own pages to watch. */
static void run_ticks(void)
{
	for (int i = 0; i < follow_count(); i++) {
		struct session *fs = follow_at(i);
		const struct strategy_ops *ops;
		if (fs->gone || fs->detached)
			continue;
		for (unsigned pos = 0; (ops = strategy_next_used(fs, &pos));) {
			if (!ops->tick || !ops->tick(fs, false))
				continue;
			if (tracer_stop_all(fs) < 0)
				continue;
			if (!fs->gone)
				ops->tick(fs, true);
			loop_resume_all(fs);
		}
	}
}

/* A client target's session goes once its process has (serve mode). */
static void reap_gone(void)
{
	for (int i = follow_count() - 1; i >= 0; i--) {
		struct session *fs = follow_at(i);
		if (fs->reap_when_gone && fs->gone && fs->nthreads == 0)
			follow_remove(fs);
	}
}

int loop_run(struct session *s, const struct observer_ops *obs, bool serve)
{
	bool ticking = false;

	set_running(true);
	run_commands(); /* those that came before the loop started */
	for (unsigned round = 0; !signals_stop && !(s && s->fatal); round++) {
		/* Looked at now and then, not per stop: strategies arrive with hooks. */
		if (!ticking && round % 64 == 0 && wants_ticks()) {
			signals_start_tick(LOOP_TICK_MS);
			ticking = true;
		}
		int status;
		pid_t tid = loop_wait(obs, &status);

		if (signals_woken) {
			signals_woken = 0;
			run_commands();
		}
		if (signals_tick) {
			signals_tick = 0;
			run_ticks();
		}
		if (tid == 0)
			continue;
		if (tid < 0) {
			if (errno == EINTR)
				continue;
			if (!serve)
				break; /* ECHILD: nothing left to wait for */
			/* The last target's events (its exit among them) go out before we
			 * sleep until a request or a signal of ours. */
			obs->idle();
			signals_wait(-1);
			continue;
		}
		/* loop_handle routes the stop to the session that owns tid. */
		struct session *any = s ? s : follow_count() ? follow_at(0) : NULL;
		if (any)
			loop_handle(any, tid, status, false);
		reap_gone();
		if (!serve && follow_all_gone())
			break;
	}
	set_running(false);
	obs->idle();
	return 0;
}

void loop_free_session(struct session *s)
{
	for (unsigned id = 0; id < SESSION_MAX_STRATEGIES; id++) {
		const struct strategy_ops *ops = strategy_by_id(id);
		if (s->strategy_state[id] && ops && ops->free_state)
			ops->free_state(s);
	}
	session_free(s);
}
