/*
 * A fast x86-64 length decoder for the linear sweeps (the branch-into scan, finding a
 * function's end): the length of an instruction and its relative immediate, for the
 * common encodings only. Anything else it declines, and the caller asks Zydis, so it never
 * has to be complete, only right where it answers; tests/unit/test_x86_64_quick.c holds
 * it to Zydis's answers over every offset of libc's code and millions of random bytes.
 */
#ifndef MHOOK_RELOC_X86_64_QUICK_H
#define MHOOK_RELOC_X86_64_QUICK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct x86_quick {
	unsigned len;
	bool relative;      /* jmp/jcc/call/loop/jrcxz rel8 or rel32 */
	int64_t rel;        /* its displacement, from the end of the instruction */
};

/* Decodes the instruction at code (avail bytes readable). Returns its length, or 0 when
 * this decoder does not answer for it (unknown, invalid, or past avail). */
unsigned x86_quick_decode(const uint8_t *code, size_t avail, struct x86_quick *q);

#endif
