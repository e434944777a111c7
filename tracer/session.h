/*
 * The ptrace session: the traced process, its threads, the processes that share its
 * memory (vfork children), the hooks, and the stop loop that dispatches every ptrace stop.
 * Strategies (strategies/strategy.h) and reports (handlers/report.h) plug into it; this
 * header is what they see of the tracer.
 */
#ifndef MHOOK_SESSION_H
#define MHOOK_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "tracer/arch.h"

struct strategy_ops;
struct report;
struct image;

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
	bool shadow;             /* belongs to a vfork child sharing our memory: hits are
				  * executed but not reported */
	bool exiting;
	bool interrupted;        /* PTRACE_INTERRUPT sent during the current stop_all */
	bool in_syscall_stop;    /* stopped at a clone/fork/vfork/exec event, i.e. inside a
				  * syscall: resuming it finishes that syscall first, so it
				  * cannot run injected code until settled (remote.c) */
	uint64_t requeue_mask;   /* signals seen while we stepped it, sent again (tgkill)
				  * once it is resumed, so none is lost */
};

struct pid_count {
	pid_t pid;
	uint64_t calls;
};

struct hook {
	char func[256];          /* name reported in events */
	char lib[256];           /* object basename */
	char shared_with[256];   /* other names served by the same code (IFUNC aliases) */
	char spec[256];          /* the SPEC as given */
	uint64_t addr;           /* where the breakpoint or patch goes */
	uint64_t func_start;
	uint64_t size;
	uint8_t orig[16];        /* bytes at addr before we touched them */
	size_t orig_len;         /* how many of orig we overwrite */
	bool armed;
	bool ever_armed;         /* armed at some point: it has a summary of its own */
	uint64_t calls;          /* reported hits in the traced process */
	uint64_t shadow_calls;   /* hits by vfork children, executed but not reported */
	uint64_t collateral;     /* nx: stops on this hook's guarded page(s) that were not
				  * calls of it (the cost of page granularity) */
	int spec_index;          /* the SPEC it serves (session.specs) */
	struct pid_count *by_pid; /* -F: hits by vfork children sharing this memory */
	int nby_pid;
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

/* The target's handler for a signal our traps raise, and the threads that may be running
 * it (tracer/sigwatch.c). */
struct sigwatch {
	uint64_t act[4];         /* struct kernel_sigaction: handler, flags, restorer, mask */
	bool valid;
	pid_t tids[16];
	int ntids;
};

struct session {
	pid_t pid;               /* the traced process (thread-group id) */
	bool launched;           /* we started it, so we are its parent */
	int exit_status;         /* wait status of pid once it is gone; -1 before */
	bool gone;               /* pid exited or was killed */
	bool detached;
	bool armed;              /* hooks installed: new threads get thread_init */

	struct thread *threads;
	int nthreads, cap_threads;

	struct hook *hooks;
	int nhooks, cap_hooks;
	/* open-addressed map from hook address to index, for the per-hit lookup */
	uint64_t *hook_keys;
	int *hook_vals;
	unsigned hook_map_cap;

	struct scratch *scratch;
	int nscratch, cap_scratch;
	uint64_t syscall_insn;   /* address of a syscall instruction in the tracee, 0 if unknown */

	const struct strategy_ops *ops;
	void *strategy_state;    /* the strategy's own, per process (nx: pages, code cache);
				  * see fork_state and free_state */
	struct report *report;

	/* The SPECs asked for. spec_hook[i] is the hook serving SPEC i, or -1 while it is
	 * pending (nothing loaded defines it yet), or -2 once it failed for good. */
	struct spec *specs;
	int nspecs;
	int *spec_hook;
	char (*spec_why)[256];   /* why SPEC i is pending, for the ready event */
	bool allow_pending;      /* launch mode, or --pending */
	bool follow;             /* -F: children are traced and hooked too */
	bool ready_sent;         /* later arming is reported as "armed" events */
	bool ready_at_sync;      /* launch: ready goes out after the first resync (the
				  * program's libraries loaded, no constructor run yet) */
	int fatal;               /* exit status of a fatal error found inside the loop */

	/* The dynamic linker's rendezvous: an internal breakpoint (always swbp, whatever
	 * the strategy) on r_brk, hit after every change to the loaded objects. */
	struct hook rdebug;
	uint64_t r_debug_addr;   /* the dynamic linker's struct r_debug, once known */
	bool sync_needed;        /* objects changed while threads were held: sync at the
				  * next resume_all */
	struct sigwatch sigwatch[2]; /* SIGTRAP, SIGSEGV */
};

/* Counts one hit of h by process pid, which shares this session's memory (vfork). */
void hook_count_pid(struct hook *h, pid_t pid);

/* Frees everything the session allocated (not the tracee's state). */
void session_free(struct session *s);

/* --- threads ------------------------------------------------------------------------ */
struct thread *session_thread(struct session *s, pid_t tid);
struct thread *session_add_thread(struct session *s, pid_t tid, pid_t tgid,
				  enum thread_state state);
void session_remove_thread(struct session *s, pid_t tid);
/* A snapshot of the thread ids (malloc'd, *n of them), for loops whose body may add or
 * remove threads and so move the table. */
pid_t *session_tids(struct session *s, int *n);

/* --- hooks --------------------------------------------------------------------------- */
struct hook *session_add_hook(struct session *s);
/* The hook whose address is addr, or NULL. O(1). */
struct hook *session_hook_at(struct session *s, uint64_t addr);
void session_index_hooks(struct session *s);

/* --- stopping and resuming ------------------------------------------------------------ */
/* Stops every thread that executes in the traced memory (PTRACE_INTERRUPT, then waits),
 * handling any other stop that arrives meanwhile. Returns 0 or a negative errno. */
int session_stop_all(struct session *s);
/* Resumes every stopped thread as its state says. */
void session_resume_all(struct session *s);
/* Sends t's deferred signals again; called right after resuming or detaching it. */
void session_requeue_signals(struct thread *t);
/* Resumes one stopped thread. */
int session_resume(struct session *s, struct thread *t);

/* A stopped thread of the traced process to run injected syscalls in, or NULL. */
struct thread *session_any_stopped(struct session *s);

/* --- remote execution (tracer/remote.c) ------------------------------------------------ */
/* Runs syscall nr in stopped thread t and returns its result (negative errno on failure
 * inside the tracee). Registers are restored afterwards. */
long remote_syscall(struct session *s, struct thread *t, long nr, long a0, long a1, long a2,
		    long a3, long a4, long a5);

/* The same in any stopped tracee tid that is not a session thread (a fork child at its
 * first stop), through the syscall instruction at insn. */
long remote_syscall_pid(pid_t tid, uint64_t insn, long nr, long a0, long a1, long a2,
			long a3, long a4, long a5);

/* Returns the address of size bytes of executable scratch code within +-2 GiB of near,
 * mapping a new page in the tracee if needed (all threads must be stopped), or 0 with err
 * filled in. */
uint64_t scratch_alloc(struct session *s, uint64_t near, uint64_t size, char *err,
		       size_t errlen);
/* Unmaps scratch pages that no thread is inside; returns how many stay mapped. */
int scratch_release(struct session *s);

#endif
