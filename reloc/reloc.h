/*
 * Pure instruction relocators: bytes and the address they were read from go in, an
 * equivalent instruction sequence for another address comes out. Nothing here touches a
 * process, so every arch's relocator compiles and is unit-tested on every host. swbp's
 * out-of-line step, nx, inline and libmhook's trampolines all build on these.
 */
#ifndef MHOOK_RELOC_H
#define MHOOK_RELOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Error codes (negative). RELOC_E_UNSUPPORTED is an instruction that cannot run anywhere
 * but where it is; the reason is in reloc_result.err. */
#define RELOC_E_DECODE      (-1)  /* bytes do not decode */
#define RELOC_E_UNSUPPORTED (-2)  /* decodes, but cannot be relocated */
#define RELOC_E_RANGE       (-3)  /* a rel32 fixup does not reach from dst_addr */
#define RELOC_E_NOSPACE     (-4)  /* dst_cap too small */
#define RELOC_E_TRUNCATED   (-5)  /* src_avail ended inside an instruction */

#define RELOC_MAX_INSNS 16

/* Pass as resume_addr to continue right after the consumed source bytes. */
#define RELOC_RESUME_NEXT UINT64_MAX

/* One instruction boundary: the source offset and where its copy starts in dst. The entry
 * after the last instruction maps src_len to the continuation jump, so a thread found
 * inside relocated code can be moved back to the equivalent original address. */
struct reloc_boundary {
	uint32_t src_off;
	uint32_t dst_off;
};

struct reloc_result {
	size_t src_len;          /* whole source instructions consumed, >= min_len */
	size_t dst_len;          /* bytes written to dst, continuation jump included */
	unsigned n_insns;        /* source instructions consumed */
	struct reloc_boundary map[RELOC_MAX_INSNS + 1]; /* n_insns + 1 entries */
	bool ends_flow;          /* the last instruction never falls through (jmp, ret, ud2) */
	char err[160];           /* why it failed, naming the instruction, when rc < 0 */
};

/*
 * x86-64. Decodes whole instructions from src (read at src_addr) until at least min_len
 * bytes are consumed (min_len 1 means "one instruction"), and writes to dst, which will
 * execute at dst_addr, code with the same effect followed by a jump to resume_addr
 * (RELOC_RESUME_NEXT: src_addr + src_len). RIP-relative operands and relative
 * jmp/jcc/call/jrcxz/loop are rewritten; a relocated call pushes the original return
 * address. Returns 0 or a RELOC_E_* code with res->err filled in.
 */
int reloc_x86_64(const uint8_t *src, size_t src_avail, uint64_t src_addr, size_t min_len,
		 uint8_t *dst, size_t dst_cap, uint64_t dst_addr, uint64_t resume_addr,
		 struct reloc_result *res);

/*
 * Branch linking, for code caches that chain relocated blocks to each other (nx). link is
 * called once for every relative branch target of the relocated code (jmp, jcc, call,
 * jrcxz, loop, xbegin; not the continuation, which is resume_addr) and returns where the
 * copy must branch instead. inside says the target is an instruction of the relocated
 * block itself: returning RELOC_LINK_LOCAL then sends it to that instruction's copy (what
 * reloc_x86_64 does); any other value is an absolute destination. A relocated call still
 * pushes the original return address whatever its target becomes.
 */
#define RELOC_LINK_LOCAL 0
struct reloc_links {
	uint64_t (*link)(void *ctx, uint64_t target, bool inside);
	void *ctx;
};

/* reloc_x86_64 with branch targets chosen by links (NULL: reloc_x86_64 itself). */
int reloc_x86_64_linked(const uint8_t *src, size_t src_avail, uint64_t src_addr,
			size_t min_len, uint8_t *dst, size_t dst_cap, uint64_t dst_addr,
			uint64_t resume_addr, const struct reloc_links *links,
			struct reloc_result *res);

/* x86-64: writes at dst (which will run at dst_addr) a jump to target: jmp rel32 when it
 * reaches, else jmp [rip+0] with the absolute address. Returns its length, or 0 when
 * dst_cap is too small. */
size_t reloc_x86_64_jump(uint8_t *dst, size_t dst_cap, uint64_t dst_addr, uint64_t target);

/* What a code cache needs to know about one x86-64 instruction to cut code into blocks. */
struct reloc_insn_info {
	int len;
	bool ends_block;     /* transfers control (jmp, jcc, call, ret, loop, int...) */
	bool ends_flow;      /* never falls through (jmp, ret, ud2, hlt) */
	bool has_target;     /* a relative branch: target is its destination */
	uint64_t target;
};

/* x86-64: decodes the instruction at code (read at addr). 0, or a negative RELOC_E_* code. */
int reloc_x86_64_insn_info(const uint8_t *code, size_t avail, uint64_t addr,
			   struct reloc_insn_info *info);

/* x86-64: length of the instruction at code, or a negative RELOC_E_* code. */
int reloc_x86_64_insn_len(const uint8_t *code, size_t avail);

/*
 * x86-64: decode code[0..len) (a function body at addr) linearly and report whether any
 * relative branch in it targets (lo, hi): strictly after lo, before hi. Used to refuse a
 * patch whose bytes a loop branches back into. Returns 1 if one does (its address in
 * *where), 0 if none, or a negative RELOC_E_* code when the body does not decode.
 */
int reloc_x86_64_branches_into(const uint8_t *code, size_t len, uint64_t addr,
			       uint64_t lo, uint64_t hi, uint64_t *where);

#endif
