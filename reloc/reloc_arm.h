/*
 * The 32-bit ARM relocators: A32 (arm.c) and Thumb/Thumb-2 (arm_thumb.c), with the same
 * shape as reloc_x86_64 in reloc.h. Addresses are plain (no Thumb bit in src_addr or
 * dst_addr); a branch target or jump destination that is Thumb code carries bit 0, as
 * BX and LDR PC expect. Pure code: compiles and is unit-tested on every host.
 */
#ifndef MHOOK_RELOC_ARM_H
#define MHOOK_RELOC_ARM_H

#include "reloc/reloc.h"

/*
 * A32. Relocates whole instructions until min_len bytes are consumed and appends a jump
 * to resume_addr (ARM code). PC-relative LDR/LDRB, ADR (ADD/SUB Rd, PC, #imm) and
 * B/BL/BLX are rewritten, through an inline literal when the new address is out of
 * reach; any other instruction reading PC is refused (RELOC_E_UNSUPPORTED).
 */
int reloc_arm(const uint8_t *src, size_t src_avail, uint64_t src_addr, size_t min_len,
	      uint8_t *dst, size_t dst_cap, uint64_t dst_addr, uint64_t resume_addr,
	      struct reloc_result *res);

/*
 * Thumb (16- and 32-bit encodings). Same contract; the copy is Thumb code and the jump
 * back enters Thumb state. LDR (literal) of every size, ADR, ADD/MOV from PC, B/B<c>,
 * B.W/B<c>.W, BL/BLX and CBZ/CBNZ are rewritten (IP is the scratch register where one is
 * needed; AAPCS lets a veneer clobber it at any call). An IT block is consumed whole and
 * copied unchanged when none of its instructions reads PC; otherwise it is refused.
 */
int reloc_thumb(const uint8_t *src, size_t src_avail, uint64_t src_addr, size_t min_len,
		uint8_t *dst, size_t dst_cap, uint64_t dst_addr, uint64_t resume_addr,
		struct reloc_result *res);

/* 1 (and *where) if a direct branch in code[0..len) at addr targets (lo, hi), else 0. */
int reloc_arm_branches_into(const uint8_t *code, size_t len, uint64_t addr,
			    uint64_t lo, uint64_t hi, uint64_t *where);
int reloc_thumb_branches_into(const uint8_t *code, size_t len, uint64_t addr,
			      uint64_t lo, uint64_t hi, uint64_t *where);

/* Writes a jump at at to to (bit 0 set: Thumb destination): A32 B when reachable and
 * to is ARM code, else LDR PC,[PC,#-4] and the address (8 bytes). Returns its length, 0
 * when cap is too small. */
size_t reloc_arm_jump(uint8_t *dst, size_t cap, uint64_t at, uint64_t to);
/* Thumb: B.W when reachable and to is Thumb, else LDR.W PC,[PC,#0] and the address,
 * preceded by a NOP when at is 2 mod 4 so that the literal is aligned (8 or 10 bytes).
 * far forces the literal form. */
size_t reloc_thumb_jump(uint8_t *dst, size_t cap, uint64_t at, uint64_t to, bool far);

/* Bytes up to and including the first return or unconditional branch, 0 if none. */
size_t reloc_arm_scan_end(const uint8_t *code, size_t max);
size_t reloc_thumb_scan_end(const uint8_t *code, size_t max);

#endif
