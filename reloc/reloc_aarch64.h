/*
 * The AArch64 relocator (aarch64.c) and the 32-bit ARM and Thumb relocators (arm.c,
 * thumb.c): same shape as reloc_x86_64 in reloc.h, so libmhook and mhookd's inline mode
 * drive every arch the same way. Pure code: compiles and is unit-tested on every host.
 */
#ifndef MHOOK_RELOC_AARCH64_H
#define MHOOK_RELOC_AARCH64_H

#include "reloc/reloc.h"

/*
 * AArch64. Relocates whole instructions from src (at src_addr) until min_len bytes are
 * consumed, into dst (to run at dst_addr), followed by a jump to resume_addr
 * (RELOC_RESUME_NEXT: right after the consumed bytes) unless the last instruction ends
 * the flow. ADR/ADRP, LDR (literal), B/BL, B.cond, CBZ/CBNZ and TBZ/TBNZ are rewritten,
 * through X16/X17 (the intra-procedure-call scratch registers, free at a function entry)
 * when the new address is out of the instruction's reach. Returns 0 or RELOC_E_*.
 */
int reloc_aarch64(const uint8_t *src, size_t src_avail, uint64_t src_addr, size_t min_len,
		  uint8_t *dst, size_t dst_cap, uint64_t dst_addr, uint64_t resume_addr,
		  struct reloc_result *res);

/* AArch64: 1 (and *where) if a direct branch in code[0..len) at addr targets (lo, hi),
 * else 0. */
int reloc_aarch64_branches_into(const uint8_t *code, size_t len, uint64_t addr,
				uint64_t lo, uint64_t hi, uint64_t *where);

/* AArch64: writes the shortest jump from at to to (B, or LDR X16,#8; BR X16; .quad),
 * returns its length (4 or 16), 0 if cap is too small. */
size_t reloc_aarch64_jump(uint8_t *dst, size_t cap, uint64_t at, uint64_t to);

/* AArch64: bytes up to and including the first RET or unconditional B/BR in code[0..max),
 * 0 if none: the extent of a function without a symbol. */
size_t reloc_aarch64_scan_end(const uint8_t *code, size_t max);

#endif
