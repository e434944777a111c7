/*
 * Private to the x86-64 relocator: a bounded code buffer and the few x86-64 sequences the
 * relocator writes itself (jumps that reach any address, a flag-preserving push of a 64-bit
 * return address, branches to instructions of the relocated block itself). x86_64.c decides
 * what an instruction becomes; this file only knows how to encode it.
 */
#ifndef MHOOK_RELOC_X86_64_EMIT_H
#define MHOOK_RELOC_X86_64_EMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reloc/reloc.h"

/* Longest sequence one source instruction can become (an indirect call that pushes the
 * original return address: 6 + 15 + 8), and the longest continuation jump. */
#define X86_MAX_INSN_OUT 29
#define X86_MAX_JMP_OUT  14

/*
 * Where a branch goes. A target inside the displaced block must reach the copy of that
 * instruction, not the original (which is about to be overwritten), so it is kept as a
 * source offset and resolved once every copy's position is known.
 */
struct x86_dest {
	uint64_t abs;     /* original target address */
	int32_t src_off;  /* >= 0: offset of a displaced instruction; -1: outside the block */
};

/* A rel32 field that must point at the copy of the displaced instruction at src_off. */
struct x86_fixup {
	uint32_t at;      /* offset of the rel32 field in the buffer */
	uint32_t src_off;
};

/*
 * The output buffer. len keeps counting past cap so that a too-small buffer can be reported
 * with the size actually needed; nothing is stored beyond cap.
 */
struct x86_emit {
	uint8_t *buf;
	size_t cap;
	size_t len;
	uint64_t base;    /* the address buf[0] will execute at */
	unsigned n_fix;
	struct x86_fixup fix[RELOC_MAX_INSNS]; /* at most one branch target per instruction */
};

/* Append n bytes (stored only where they fit). */
void x86_emit_bytes(struct x86_emit *e, const void *p, size_t n);

/* Overwrite a little-endian 32-bit field already emitted at offset at. */
void x86_emit_patch32(struct x86_emit *e, size_t at, uint32_t v);

/* Whether a rel32 measured from address from (the end of its instruction) reaches target.
 * RIP arithmetic wraps mod 2^64, and so does this. */
bool x86_rel32_fits(uint64_t target, uint64_t from);

/* Bytes x86_emit_jmp() would write at the current position: 5 or 14. */
size_t x86_jmp_size(const struct x86_emit *e, const struct x86_dest *d);

/* jmp rel32 when it reaches (always for a target in the block), else jmp [rip+0]; abs64. */
void x86_emit_jmp(struct x86_emit *e, const struct x86_dest *d);

/* jcc rel32 with condition cc (0..15), or an inverted jcc rel8 over an absolute jmp. */
void x86_emit_jcc(struct x86_emit *e, unsigned cc, const struct x86_dest *d);

/* A real call from the copy: call rel32, or call [rip+2]; jmp +8; abs64. */
void x86_emit_call(struct x86_emit *e, const struct x86_dest *d);

/*
 * Start `push qword [rip+lit]`; returns the offset of its disp32, which
 * x86_emit_literal64() completes once the literal's place (after the following jump) is
 * known. A memory push changes neither flags nor registers, unlike any way of building a
 * 64-bit immediate in a register, and push imm32 cannot hold a PIE address.
 */
size_t x86_emit_push_lit_begin(struct x86_emit *e);
void x86_emit_literal64(struct x86_emit *e, size_t disp_at, uint64_t value);

/*
 * Branches with no long form (jrcxz, jecxz, loop*) and xbegin: the instruction, aimed at a
 * local jump to the real target, with the not-taken path skipping that jump:
 *     <op> +2 ; jmp short +N ; jmp target (N = 5 or 14)
 * head/head_len is the instruction up to its rel field; rel_size is 1 or 4.
 */
void x86_emit_branch_stub(struct x86_emit *e, const uint8_t *head, size_t head_len,
			  unsigned rel_size, const struct x86_dest *d);

/* Point every recorded rel32 at the copy of its displaced instruction. */
void x86_emit_resolve(struct x86_emit *e, const struct reloc_boundary *map, unsigned n);

#endif
