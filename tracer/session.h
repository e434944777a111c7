/*
 * The ptrace session as data: the traced process, its threads (vfork children sharing its
 * memory among them), its hooks with their address index, its scratch pages and the SPECs
 * it serves. session.c keeps the tables; the services (services.h, remote.h), the
 * strategies and the stop loop act on them. A session reaches the layers above it only
 * through the two pointers it is handed: dispatch (the stop loop) and obs (the handlers).
 */
#ifndef MHOOK_SESSION_H
#define MHOOK_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "tracer/addrmap.h"
#include "tracer/arch.h"
#include "tracer/spec.h"

struct strategy_ops;
struct observer_ops;

/* Strategy ids (strategy_ops.id) are below this: a session keeps one state per id. */
#define SESSION_MAX_STRATEGIES 8

enum thread_state {
	THREAD_RUNNING,   /* resumed; its next stop is unknown */
	THREAD_STOPPED,   /* in a ptrace-stop; resume_sig/listen say how to resume it */
	THREAD_NEW,       /* created by clone, its first stop not reported yet: runs no code */
};

struct thread {
	pid_t tid;
	pid_t tgid;              /* its process */
	enum thread_state state;
	int resume_sig;          /* signal to deliver when resumed */
	bool listen;             /* in group-stop: resume with PTRACE_LISTEN */
	bool shadow;             /* belongs to a vfork child sharing our memory: hits run out
				  * of line, and are reported under its pid only with -F */
	bool exiting;
	bool interrupted;        /* PTRACE_INTERRUPT sent during the current stop_all */
	bool in_syscall_stop;    /* stopped at a clone/fork/vfork/exec event, i.e. inside a
				  * syscall: resuming it finishes that syscall first, so it
				  * cannot run injected code until settled (remote.c) */
	pid_t vfork_child;       /* from its vfork event to its next stop: the child it waits
				  * for. Stopped at the event, settling it waits for the child
				  * (which a child we hold never ends); resumed, it is parked in
				  * the kernel until the child execs or exits, where no
				  * PTRACE_INTERRUPT stops it (services.c) */
	uint8_t trap_blocked;    /* sigstate: it blocks SIGTRAP (bit 0), SIGSEGV (bit 1) */
	uint8_t forced;          /* sigstate: traps of ours it took since it last ran */
	uint64_t step_over;      /* -s step: the entry its hit left it at, to be single-stepped
				  * over the original instruction with every other thread
				  * stopped before it runs (strategies/step.c); 0 if none */
	bool step_again;         /* its trap is at the entry it still owed a step over, after
				  * a group-stop came before the step: the same call */
	uint64_t requeue_mask;   /* signals no mask held back while we stepped it, sent again (tgkill)
				  * once it is resumed, so none is lost */
};

struct hook {
	char func[256];          /* name reported in events */
	char lib[256];           /* object basename */
	char shared_with[1024];  /* other names or SPECs served by the same code (IFUNC
				  * aliases, a second SPEC), one per line */
	char spec[256];          /* the SPEC as given */
	uint64_t addr;           /* where the breakpoint or patch goes */
	uint64_t func_start;
	uint64_t size;
	uint8_t orig[16];        /* bytes at addr before we touched them */
	size_t orig_len;         /* how many of orig we overwrite */
	const struct strategy_ops *ops; /* how this hook is hooked */
	bool prepared;           /* prepare succeeded: priv holds its state */
	bool armed;              /* installed */
	bool ever_armed;         /* armed at some point: it has a summary of its own */
	int spec_index;          /* the SPEC it serves (session.specs) */
	char path[512];          /* the object's path, to notice it being unloaded */
	void *priv;              /* the strategy's own per-hook state */
};

/* An executable page in the tracee for out-of-line code, within rel32 reach of the
 * hooks it serves. */
struct scratch {
	uint64_t addr;
	uint64_t size;
	uint64_t used;
};

/* Scratch memory given back (a prepare that failed): reused before new space is taken. */
struct scratch_hole {
	uint64_t addr;
	uint64_t size;
};

/* The target's disposition of a signal our traps force (tracer/sigstate.c). */
struct sigshadow {
	uint64_t handler;        /* SIG_DFL, SIG_IGN or the handler's address */
	uint64_t flags;          /* its sa_flags (SA_RESETHAND) */
	uint64_t restorer, mask; /* the rest of its struct kernel_sigaction */
};

/* One SPEC as this process serves it. */
struct session_spec {
	const struct spec *spec;  /* parsed once, shared by every session */
	const struct strategy_ops *ops; /* the strategy its hook takes */
	int hook;                 /* the hook serving it, -1 while pending (nothing loaded
				   * defines it yet), -2 once it failed for good, -3 for a
				   * glob that matched: its functions are SPECs of their own */
	char why[1024];           /* why it is pending, for the ready event */
	bool unloaded;            /* its hook went with an unloaded object: it waits for the
				   * object to come back, even without --pending */
	int parent;               /* the glob SPEC it was made for (one function the glob
				   * matched), or -1 for a SPEC as given */
	uint64_t glob_addr;       /* such a SPEC's function, as the glob saw it */
};

struct session {
	pid_t pid;               /* the traced process (thread-group id) */
	bool launched;           /* we started it, so we are its parent */
	int exit_status;         /* wait status of pid once it is gone; -1 before */
	bool gone;               /* pid exited or was killed */
	bool seccomp_said;       /* a refusal of its seccomp filter was reported */
	bool leader_untraced;    /* attached after the leader ended with pthread_exit: it
				  * could not be seized, and the last thread's exit is the
				  * process's */
	bool detached;
	bool armed;              /* hooks installed: new threads get thread_init */

	struct thread *threads;
	int nthreads, cap_threads;

	struct hook *hooks;
	int nhooks, cap_hooks;
	struct addrmap hook_index; /* hook address -> index, for the per-hit lookup */

	struct scratch *scratch;
	int nscratch, cap_scratch;
	struct scratch_hole *holes;
	int nholes, cap_holes;
	uint64_t syscall_insn;   /* address of a syscall instruction in the tracee, 0 if unknown */

	/* Each strategy's own state for this process (nx: pages, code cache), by
	 * strategy_ops.id; see fork_state and free_state. */
	void *strategy_state[SESSION_MAX_STRATEGIES];
	unsigned strategies_used; /* bit ops->id: some hook of this strategy was prepared */

	struct session_spec *specs;
	int nspecs;
	bool allow_pending;      /* launch mode, or --pending */
	bool follow;             /* -F: children are traced and hooked too */
	bool reap_when_gone;     /* attached for a client: freed once its process is gone */
	bool ready_sent;         /* later arming is reported as "armed" events */
	bool ready_at_sync;      /* launch: ready goes out after the first resync (the
				  * program's libraries loaded, no constructor run yet) */
	int fatal;               /* exit status of a fatal error found inside the loop */

	/* The dynamic linker's rendezvous: an internal breakpoint (always swbp, whatever
	 * the strategy) on r_brk, hit after every change to the loaded objects. */
	struct hook rdebug;
	uint64_t r_debug_addr;   /* the dynamic linker's struct r_debug, once known */
	int max_glob;            /* the most distinct functions one glob may hook
				  * (--max-hooks; 0 means the default, 1,000) */
	bool resolvers_ok;       /* the sync under way may run IFUNC resolvers in the target:
				  * every object is relocated (attach, launch's entry point, a
				  * client's hook), which a dlopen notification is not */
	bool sync_needed;        /* objects changed while threads were held: sync before
				  * the threads are resumed */
	/* sigstate.c's shadow of the target's SIGTRAP [0] and SIGSEGV [1] handling, and
	 * the internal breakpoints (swbp) that keep it: [SIGSTATE_SIGACTION] on
	 * __libc_sigaction's syscall, [SIGSTATE_SIGMASK] on pthread_sigmask's. */
	struct sigshadow sigshadow[2];
	bool sig_read;           /* the shadow was read (at the first arming) */
	bool sig_tracked[2];     /* dispositions [0], masks [1] followed by a watch */
	struct hook sigbp[2];

	/* The stop loop's handler for a stop that a service waited for without expecting
	 * it (another thread's breakpoint, a clone event): it records what the stop means
	 * and leaves the thread stopped. Set by the loop (loop_init_session). */
	void (*dispatch)(struct session *s, pid_t tid, int status);
	/* Where hits and the session's news go (the handlers), and their own data. */
	const struct observer_ops *obs;
	void *obs_data;
};

/* Frees everything the session allocated (not the tracee's state, and not the strategy
 * states: see loop_free_session). */
void session_free(struct session *s);

/* The tracer's internal breakpoints, all swbp, i below SESSION_NINTERNAL: the rendezvous
 * (0), then sigstate's two watches. */
#define SESSION_NINTERNAL 3
struct hook *session_internal(struct session *s, int i);

/* --- threads ------------------------------------------------------------------------ */
struct thread *session_thread(struct session *s, pid_t tid);
struct thread *session_add_thread(struct session *s, pid_t tid, pid_t tgid,
				  enum thread_state state);
void session_remove_thread(struct session *s, pid_t tid);
/* A snapshot of the thread ids (malloc'd, *n of them), for loops whose body may add or
 * remove threads and so move the table. */
pid_t *session_tids(struct session *s, int *n);

/* Whether any thread of process tgid is still listed. */
bool session_has_tgid(const struct session *s, pid_t tgid);
/* A stopped thread of the traced process to run injected syscalls in, or NULL: one
 * stopped on its way back to user mode is preferred over one in group-stop or inside a
 * syscall at an event, and a vfork child sharing the memory over a parent stopped at
 * its vfork. Its syscalls act on the memory map; it may not share signal handlers. */
struct thread *session_any_stopped(struct session *s);

/* --- hooks --------------------------------------------------------------------------- */
struct hook *session_add_hook(struct session *s);
/* The hook whose address is addr, or NULL: one hash lookup. */
struct hook *session_hook_at(struct session *s, uint64_t addr);
/* Rebuilds the address index after hooks were added or moved. */
void session_index_hooks(struct session *s);

#endif
