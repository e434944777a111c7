/*
 * A hooking strategy is one constant struct strategy_ops, and each hook carries the one it
 * was hooked with. The tracer calls it in two phases, as funchook does: prepare does
 * everything that can fail (reading and decoding the entry, building out-of-line code)
 * and writes nothing the target executes; install only writes. Every hook is prepared
 * before any is installed. All calls except on_trap and on_signal happen with every
 * thread of the target stopped.
 *
 * A strategy reaches the tracer only through its services (tracer/services.h,
 * tracer/remote.h, tracer/sigstate.h) and the arch_* functions (tracer/arch.h): it never
 * calls the stop loop or the output, and holds no encoding of its own.
 */
#ifndef MHOOK_STRATEGY_H
#define MHOOK_STRATEGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tracer/session.h"

/* The strategies' ids: an index into a session's strategy_state. */
enum strategy_id {
	STRATEGY_SWBP,
	STRATEGY_HWBP,
	STRATEGY_NX,
	STRATEGY_STEP,
	STRATEGY_COUNT,
};

struct strategy_ops {
	const char *name;
	enum strategy_id id;
	bool reports_collateral; /* summaries carry "collateral" (nx) */
	uint64_t collateral_page; /* the size of the pages it counts collateral stops on */
	size_t priv_size;        /* a hook's priv is a plain struct of this size, so a fork
				  * child's session can copy it (-F) */

	/* Can this strategy run in this session at all? 0 or a negative errno + err. */
	int (*probe)(struct session *s, char *err, size_t errlen);

	/* Decodes and relocates h's entry; allocates whatever it needs in the tracee, but
	 * leaves the entry untouched. 0, or a negative errno with err filled in (and
	 * nothing kept: a failed prepare gives back what it took). */
	int (*prepare)(struct session *s, struct hook *h, char *err, size_t errlen);

	/* Optional. Gives back what a successful prepare took (scratch space), for a hook
	 * that is not installed after all: another hook's prepare failed. h->priv is freed
	 * by the caller. */
	void (*unprepare)(struct session *s, struct hook *h);

	/* Arms a prepared hook. Idempotent: arming an armed hook does nothing. */
	int (*install)(struct session *s, struct hook *h);

	/* Disarms h, restoring exactly the original bytes, and only if what is there is
	 * still ours. Idempotent. */
	int (*remove)(struct session *s, struct hook *h);

	/* A SIGTRAP signal-delivery-stop of t (not a step we asked for), regs already read.
	 * If it is a hit of ours, returns the hook and sets *resume_pc to where t continues
	 * (a hit is then one stop). Returns NULL when the trap is not this strategy's. */
	struct hook *(*on_trap)(struct session *s, struct thread *t, struct arch_regs *regs,
				uint64_t *resume_pc);

	/* With hooks removed and t stopped: if t's PC is in strategy-owned code (an
	 * out-of-line slot), move it to the equivalent original address. Returns 0, or
	 * -EBUSY when t must stay where it is (the code must then stay mapped). */
	int (*evacuate)(struct session *s, struct thread *t);

	/* A forked child got a copy of our memory: remove our bytes from it. */
	int (*clean_child)(struct session *s, pid_t child);

	/* Optional. Per-thread state (debug registers): set up in a stopped thread for every
	 * hook of this strategy, whether found at attach or created later (its first stop),
	 * and again whenever the set of armed hooks changed; undone before detach.
	 * thread_init returns 0 or a negative errno. */
	int (*thread_init)(struct session *s, struct thread *t);
	void (*thread_fini)(struct session *s, struct thread *t);

	/* Optional. A signal-delivery-stop of t with a signal other than SIGTRAP (nx: a
	 * SIGSEGV on a guarded page). Returns 1 when it was ours and is handled (t's
	 * registers are set; the signal is suppressed), 0 to deliver it to the target. */
	int (*on_signal)(struct session *s, struct thread *t, int sig, struct arch_regs *regs);

	/* Optional. Called from the stop loop now and then (every 100 ms), for checks such
	 * as the target unmapping hooked code. With stopped false every thread runs: it may
	 * only look, and returns 1 when it needs every thread stopped to act, 0 otherwise.
	 * The loop then stops them, calls it again with stopped true, and resumes them. */
	int (*tick)(struct session *s, bool stopped);

	/* Optional, for strategies with state per process (s->strategy_state[id]). A fork
	 * child (-F) got a copy of the parent's memory: give its session the matching copy
	 * of the state. 0 or a negative errno. free_state releases s's state, and is called
	 * too when an exec takes the memory the state describes. */
	int (*fork_state)(struct session *parent, struct session *child);
	void (*free_state)(struct session *s);

	/* Optional. Called with every thread stopped, just before they are resumed
	 * together: step single-steps here the threads its hits left at an entry
	 * (thread.step_over). */
	void (*settle)(struct session *s);

	/* Optional. Whether [start, end) holds a page that this strategy made
	 * non-executable: whoever reads /proc/PID/maps to find code must still see it as
	 * code. */
	bool (*hides_exec)(struct session *s, uint64_t start, uint64_t end);
};

extern const struct strategy_ops swbp_ops;
extern const struct strategy_ops hwbp_ops;
extern const struct strategy_ops nx_ops;
extern const struct strategy_ops step_ops;

/* The tracer's own breakpoints (the dynamic linker's rendezvous) use swbp whatever the
 * strategy. If t's SIGTRAP stop (regs read) is h's breakpoint, returns true and sets
 * *resume_pc to h's out-of-line slot. */
bool swbp_internal_trap(struct session *s, struct thread *t, struct hook *h,
			struct arch_regs *regs, uint64_t *resume_pc);

/* The strategy called name, or NULL. */
const struct strategy_ops *strategy_find(const char *name);
/* The strategy with this id, or NULL. */
const struct strategy_ops *strategy_by_id(unsigned id);
/* The known strategies' names, comma-separated, into buf. */
void strategy_names(char *buf, size_t len);

/* The next strategy at or after *pos that session s uses (a hook of it was prepared), or
 * NULL; *pos moves past it. For: pos = 0; (ops = strategy_next_used(s, &pos)); */
const struct strategy_ops *strategy_next_used(const struct session *s, unsigned *pos);

#endif
