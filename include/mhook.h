/*
 * libmhook: in-process machine-code monkey patching (docs/libmhook.md).
 * mhook_patch overwrites a function's entry with a jump to a replacement and hands back a
 * trampoline that still runs the original; mhook_unpatch puts the exact bytes back. The
 * two civilised alternatives to a jump patch are here too: one virtual-table slot, and
 * one import (GOT) entry. mhook_patch_many and mhook_unpatch_many do many functions at
 * once, all or nothing, for the cost of one. Works on x86-64, AArch64 and 32-bit ARM (ARM
 * and Thumb code).
 * See docs/libmhook.md for the guarantees and the limits.
 */
#ifndef MHOOK_H
#define MHOOK_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes: every function returns 0 or one of these. */
#define MHOOK_E_INVAL          (-1)  /* a NULL or otherwise unusable argument */
#define MHOOK_E_TOO_SHORT      (-2)  /* the function ends before the patch would */
#define MHOOK_E_BRANCH_INTO    (-3)  /* a branch in the function targets the patched bytes */
#define MHOOK_E_UNRELOCATABLE  (-4)  /* a displaced instruction cannot run elsewhere */
#define MHOOK_E_PATCHED        (-5)  /* the function is already patched */
#define MHOOK_E_NOT_PATCHED    (-6)  /* unpatch of a function that is not patched */
#define MHOOK_E_NOMEM          (-7)  /* no trampoline memory, or the patch table is full */
#define MHOOK_E_PROTECT        (-8)  /* the code or slot could not be made writable */
#define MHOOK_E_NOT_FOUND      (-9)  /* GOT: no such module, or it does not import the symbol */
#define MHOOK_E_MODIFIED       (-10) /* unpatch: someone else rewrote our patch bytes */
#define MHOOK_E_DECODE         (-11) /* the function's bytes do not decode */
#define MHOOK_E_OVERLAP        (-12) /* batch: two entries' patch bytes overlap */

/* The most entries one batch call takes: the size of the patch table. */
#define MHOOK_BATCH_MAX 16384

/*
 * Redirects every call of target to replacement by overwriting target's first
 * instructions with a jump. When original is not NULL it receives a pointer that runs the
 * unpatched function; it is written before the patch goes live, so the replacement may be
 * entered (by another thread, or by libmhook itself) at once. On 32-bit ARM a Thumb
 * function has bit 0 set, in target and in *original. Safe while other threads run.
 * Returns 0 or a negative MHOOK_E_* code.
 */
int mhook_patch(void *target, const void *replacement, void **original);

/* Restores the bytes that mhook_patch overwrote at target. The trampoline stays valid.
 * Returns 0, MHOOK_E_NOT_PATCHED, or MHOOK_E_MODIFIED when the patch is no longer ours. */
int mhook_unpatch(void *target);

/* One function of a batch: mhook_patch's three arguments, and the entry's own result. */
struct mhook_batch_entry {
	void *target;
	const void *replacement;
	void **original;           /* may be NULL */
	int err;                   /* out: 0, or why this entry failed the batch */
};

/*
 * Patches n functions as one: every entry is prepared first (all that can fail), then all
 * trampolines are written, every *original is published, the other threads are parked
 * once, and all entries are written, with one write sequence per code page. All or
 * nothing: when any entry fails, no function is patched and no *original is written (or
 * one already written is put back); that entry's err gets the code, every other err is 0
 * (entries after it were not examined), and *failed, when not NULL, gets its index. The
 * errors are mhook_patch's, plus MHOOK_E_PATCHED for a target listed twice and
 * MHOOK_E_OVERLAP for entries whose patch bytes overlap. n == 0 does nothing and succeeds.
 * A failure not due to one entry (entries NULL with n > 0, n > MHOOK_BATCH_MAX, a call from
 * inside libmhook) sets *failed to n. On success *failed is n. Returns 0 or the error.
 */
int mhook_patch_many(struct mhook_batch_entry *entries, size_t n, size_t *failed);

/*
 * Unpatches n targets as one, under one parking: all or nothing, as mhook_patch_many.
 * A target that is not patched (or listed twice) fails with MHOOK_E_NOT_PATCHED, one whose
 * patch bytes were changed by someone else with MHOOK_E_MODIFIED; *failed gets its index
 * (n on success, or when targets is NULL with n > 0 or n > MHOOK_BATCH_MAX). Returns 0 or
 * the error.
 */
int mhook_unpatch_many(void *const *targets, size_t n, size_t *failed);

/* Writes replacement into vtable[index] (made writable for the write when it is
 * read-only); *original, when not NULL, receives the previous slot value first. Undo by
 * patching the slot back with the saved original. Returns 0 or a negative MHOOK_E_*. */
int mhook_vtable_patch(void **vtable, size_t index, const void *replacement, void **original);

/*
 * Points every GOT entry (JUMP_SLOT and GLOB_DAT) through which module imports symbol at
 * replacement. module is a path or a basename of a loaded object, NULL for the main
 * executable. A lazily bound entry is resolved first, so the dynamic linker cannot
 * overwrite the patch later; *original receives the resolved function. RELRO is handled.
 * Returns 0, MHOOK_E_NOT_FOUND, or another negative MHOOK_E_* code.
 */
int mhook_got_patch(const char *module, const char *symbol, const void *replacement,
		    void **original);

/* A static English sentence for an MHOOK_E_* code (or "success" for 0). */
const char *mhook_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif
