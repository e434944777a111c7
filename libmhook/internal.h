/*
 * What the pieces of libmhook share: raw system calls (so that nothing here depends on a
 * libc function the user may be patching), the cached view of the mappings, code writes,
 * the trampoline pool, parking the other threads, function extents, and the flat list of
 * arch_* functions that each architecture file (arch_<arch>.c) provides. The generic flow
 * lives in patch.c: prepare (everything that can fail) first, then install (only writes).
 */
#ifndef MHOOK_INTERNAL_H
#define MHOOK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reloc/reloc.h"

#define MH_MAX_PATCH 24   /* longest patch written at an entry (x86-64 abs jmp: 14) */
#define MH_SLOT_SIZE 192  /* one trampoline: relay + relocated code + jump back */

/* --- sys.c: raw system calls and the debug log --------------------------------------- */

long mh_sys(long nr, long a, long b, long c, long d, long e, long f);
void *mh_mmap(void *hint, size_t len, int prot);
int mh_mprotect(uintptr_t addr, size_t len, int prot);
int mh_gettid(void);
/* The process and thread ids, as read when the current mhook call took its lock (a fork
 * changes the pid, so it is read once per call, not once per process). */
extern int mh_pid, mh_tid;
void mh_yield(void);
/* A byte copy the compiler cannot turn into a memcpy call: memcpy may be what we patch. */
void mh_copy(void *dst, const void *src, size_t n);
bool mh_equal(const void *a, const void *b, size_t n);
/* Logs one line to stderr when MHOOK_DEBUG=1; never call it while threads are parked. */
void mh_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mh_debug_bytes(const char *what, uintptr_t addr, const uint8_t *b, size_t n);

/* --- maps.c: cached /proc/self/maps ---------------------------------------------------- */

/* Protection (PROT_*) of the page holding addr, from the cache; re-reads the maps once on
 * a miss. Returns -1 when addr is not mapped. */
int mh_maps_prot(uintptr_t addr);
/* Start and end of the mapping holding addr (addr itself when unmapped). */
uintptr_t mh_maps_start(uintptr_t addr);
uintptr_t mh_maps_end(uintptr_t addr);
/* Finds a free range of len bytes, page aligned, whose every byte lies within reach of
 * near (both ways). Returns 0 when there is none. */
uintptr_t mh_maps_free_near(uintptr_t near, uint64_t reach, size_t len);
/* Forgets the cache (after we map or remap something ourselves). */
void mh_maps_invalidate(void);
/* Records a mapping we made, so the cache stays right without a re-read. */
void mh_maps_note(uintptr_t start, size_t len, int prot);

/* --- write.c: writing code and data that may be read-only ------------------------------ */

/* Copies n bytes to addr, adding PROT_WRITE around the write (never removing PROT_EXEC)
 * and restoring the cached protection. Syncs the instruction cache when code is true.
 * Uses only raw system calls, so it is safe while the other threads are parked. */
int mh_write(uintptr_t addr, const void *src, size_t n, bool code);
/* One code write of a batch. */
struct mh_piece {
	uintptr_t addr;
	const uint8_t *bytes;
	size_t len;
};
/* Writes n pieces of code, sorted by address and not overlapping, as mh_write would, but
 * with one write sequence per page: one /proc/self/mem pwrite spanning a page's pieces, or
 * one protection change around them. Safe while the other threads are parked. Returns 0,
 * or -1 with some pieces possibly written (the caller puts the old bytes back) and *bad
 * (when not NULL) the index of the first piece of the page that failed. */
int mh_write_code_many(const struct mh_piece *pieces, size_t n, size_t *bad);

/* --- pool.c: trampoline slots near their target ---------------------------------------- */

/* A free slot of MH_SLOT_SIZE bytes within reach of near (reach 0: anywhere), or 0. Slots
 * are never freed, so a trampoline handed out once stays valid for ever. */
uintptr_t mh_pool_slot(uintptr_t near, uint64_t reach);
/* True under MHOOK_FORCE_FAR=1 (tests): nothing is within a short branch's reach. */
bool mh_force_far(void);
/* Fills n bytes of a slot with code (and syncs the instruction cache). Returns 0 or -1. */
int mh_pool_write(uintptr_t slot, const void *code, size_t n);

/* --- extent.c: where a function ends --------------------------------------------------- */

/* Start and size of the ELF symbol holding addr (the dynamic symbol table first, then the
 * object's .symtab on disk). Returns false when no symbol covers addr. */
bool mh_symbol_extent(uintptr_t addr, uintptr_t *start, size_t *size);

/* --- park.c: stopping the other threads while code is written -------------------------- */

/* How a thread parked inside changed bytes is moved once they are written. */
struct mh_move {
	bool unpatch;
	uintptr_t entry;        /* first patched byte */
	size_t len;             /* patched bytes */
	uintptr_t reloc;        /* patch: where the relocated copy of entry starts */
	unsigned n_map;         /* patch: boundaries in map (the last maps src_len) */
	struct reloc_boundary map[RELOC_MAX_INSNS + 1];
	uintptr_t jump_to;      /* unpatch: where the patch sent a thread (Thumb bit kept) */
	bool thumb;
};

/*
 * Parks every other thread of the process in a signal handler. moves lists n moves sorted
 * by entry, their ranges disjoint; a parked thread whose PC lies in one of them is moved as
 * it says when released. One move is copied; a longer list is read where it is, so the
 * caller keeps it unchanged until mh_release_all has returned 0. Returns how many threads
 * are running anyway (they block the signal, or did not arrive within 5 s), normally 0.
 */
int mh_park_all(const struct mh_move *const *moves, size_t n);
/* Lets the parked threads go, each first moved as its PC says. With a list of moves it
 * waits until every parked thread has applied its move; returns -1 when one may still read
 * the list (it did not arrive, or did not finish within 5 s), else 0. */
int mh_release_all(void);

/* --- arch_<arch>.c ------------------------------------------------------------------------ */

/* Everything mhook_patch decides before it writes anything. */
struct mh_plan {
	uintptr_t target;        /* as passed in (Thumb bit included) */
	uintptr_t repl;          /* as passed in */
	uintptr_t entry;         /* first byte overwritten: after a kept landing pad */
	bool thumb;
	size_t avail;            /* bytes from entry known to be this function's code */
	uintptr_t sym_start;     /* the function's extent for the branch-into scan ... */
	size_t sym_size;         /* ... (0: unknown, the arch scans its code heuristically) */
	size_t len;              /* bytes overwritten at entry */
	uint8_t code[MH_MAX_PATCH];
	uint8_t orig[MH_MAX_PATCH];
	uintptr_t slot;          /* the trampoline slot; slot_code is written there on install */
	uint8_t slot_code[MH_SLOT_SIZE];
	size_t slot_len;
	uintptr_t original;      /* what *original receives (Thumb bit included) */
	struct mh_move move;     /* how to move parked threads when installing */
	char why[200];           /* the reason for a refusal, for the debug log */
};

/* Fills plan->entry, avail, len, code, slot and slot_code (and move) for plan->target
 * and plan->repl, or returns a negative MHOOK_E_* code with plan->why set. Writes no
 * code: the caller installs the slot first, then the patch. */
int arch_prepare(struct mh_plan *plan);
/* The program counter of an interrupted thread (ucontext_t *), without the Thumb bit. */
uintptr_t arch_uc_pc(const void *uc);
/* Sets it; on ARM bit 0 selects Thumb state. */
void arch_uc_set_pc(void *uc, uintptr_t pc);

/* --- patch.c: the lock and the records of live patches ----------------------------------- */

/* What mhook_unpatch needs to undo one patch. */
struct mh_rec {
	uintptr_t target;          /* 0: empty */
	bool active;
	uintptr_t entry;
	size_t len;
	uint8_t orig[MH_MAX_PATCH];
	uint8_t code[MH_MAX_PATCH];
	uintptr_t jump_to;
	bool thumb;
	unsigned batch;            /* the batch that last claimed it (batch.c: duplicates) */
	size_t batch_idx;          /* its index in that batch */
};

/* Takes the lock that serializes every patch; false when this thread holds it already
 * (a replacement calling libmhook from inside libmhook). Sets mh_pid and mh_tid. */
bool mh_lock(void);
void mh_unlock(void);
/* The record of target, created (inactive) when create is true; NULL when absent or
 * when the table is full. Call with the lock held. */
struct mh_rec *mh_rec_find(uintptr_t target, bool create);
/* Fills r from an installed plan and marks it active. */
void mh_rec_fill(struct mh_rec *r, const struct mh_plan *p);
/* The move that unpatching r needs. */
void mh_rec_unmove(const struct mh_rec *r, struct mh_move *mv);

#endif
