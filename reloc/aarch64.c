/*
 * The AArch64 relocator. Every instruction is 4 bytes and only a handful read the PC:
 * ADR/ADRP, LDR (literal), B/BL, B.cond, CBZ/CBNZ and TBZ/TBNZ. Those are re-encoded for
 * the new address when their immediate still reaches, and otherwise rebuilt around an
 * absolute address loaded from an inline literal into X16 or X17. AAPCS64 reserves X16
 * and X17 for veneers between a call and its target, so no code may expect them to
 * survive a function's entry. Conditional branches that no longer reach get an inverted
 * skip: the original condition, retargeted 8 bytes ahead to a far jump, and a B over it.
 */
#include <stdio.h>
#include <string.h>

#include "reloc/reloc_aarch64.h"

#define A64_NOP      0xd503201fu
#define A64_BR_X16   0xd61f0200u
#define A64_BLR_X16  0xd63f0200u
#define A64_LDR_X_LIT(rt, words) (0x58000000u | ((uint32_t)(words) << 5) | (rt))

struct a64_out {
	uint8_t *buf;
	size_t cap, len;
	uint64_t base;
	bool full;
};

static void put32(struct a64_out *o, uint32_t v)
{
	if (o->len + 4 > o->cap) {
		o->full = true;
		return;
	}
	for (int i = 0; i < 4; i++)
		o->buf[o->len++] = (uint8_t)(v >> (8 * i));
}

static void put64(struct a64_out *o, uint64_t v)
{
	put32(o, (uint32_t)v);
	put32(o, (uint32_t)(v >> 32));
}

static uint64_t pc_of(const struct a64_out *o)
{
	return o->base + o->len;
}

static int64_t sext(uint64_t v, unsigned bits)
{
	uint64_t m = 1ull << (bits - 1);

	v &= (1ull << bits) - 1;
	return (int64_t)((v ^ m) - m);
}

/* Does a byte offset fit a signed immediate of bits bits counting words? */
static bool fits(int64_t off, unsigned bits)
{
	int64_t lim = (int64_t)1 << (bits + 1);   /* words to bytes: << 2, sign: >> 1 */

	return (off & 3) == 0 && off >= -lim && off < lim;
}

static uint32_t u32le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* LDR X16,#8; BR X16; .quad to */
static void far_jump(struct a64_out *o, uint64_t to)
{
	put32(o, A64_LDR_X_LIT(16, 2));
	put32(o, A64_BR_X16);
	put64(o, to);
}

size_t reloc_aarch64_jump(uint8_t *dst, size_t cap, uint64_t at, uint64_t to)
{
	struct a64_out o = { dst, cap, 0, at, false };
	int64_t off = (int64_t)(to - at);

	if (fits(off, 26))
		put32(&o, 0x14000000u | ((uint32_t)(off >> 2) & 0x3ffffff));
	else
		far_jump(&o, to);
	return o.full ? 0 : o.len;
}

/* --- the PC-relative kinds ------------------------------------------------------------- */

/* Where a branch-type instruction goes, or false if insn is not one. */
static bool branch_target(uint32_t insn, uint64_t pc, uint64_t *to)
{
	if ((insn & 0x7c000000u) == 0x14000000u)            /* B, BL */
		*to = pc + (uint64_t)(sext(insn, 26) * 4);
	else if ((insn & 0xff000010u) == 0x54000000u ||      /* B.cond */
		 (insn & 0x7e000000u) == 0x34000000u)        /* CBZ, CBNZ */
		*to = pc + (uint64_t)(sext(insn >> 5, 19) * 4);
	else if ((insn & 0x7e000000u) == 0x36000000u)        /* TBZ, TBNZ */
		*to = pc + (uint64_t)(sext(insn >> 5, 14) * 4);
	else
		return false;
	return true;
}

static void reloc_b_bl(struct a64_out *o, uint32_t insn, uint64_t to)
{
	int64_t off = (int64_t)(to - pc_of(o));
	bool link = insn >> 31;

	if (fits(off, 26)) {
		put32(o, (insn & 0xfc000000u) | ((uint32_t)(off >> 2) & 0x3ffffff));
	} else if (!link) {
		far_jump(o, to);
	} else {
		/* LDR X16,#12; BLR X16; B #12; .quad to: returns to the next relocated insn */
		put32(o, A64_LDR_X_LIT(16, 3));
		put32(o, A64_BLR_X16);
		put32(o, 0x14000003u);
		put64(o, to);
	}
}

/* B.cond, CBZ/CBNZ (imm19 at bit 5) and TBZ/TBNZ (imm14 at bit 5). */
static void reloc_cond(struct a64_out *o, uint32_t insn, uint64_t to, unsigned bits)
{
	uint32_t field = ((1u << bits) - 1) << 5;
	int64_t off = (int64_t)(to - pc_of(o));

	if (fits(off, bits)) {
		put32(o, (insn & ~field) | (((uint32_t)(off >> 2) << 5) & field));
		return;
	}
	put32(o, (insn & ~field) | (2u << 5));   /* taken: 8 bytes ahead, to the far jump */
	put32(o, 0x14000005u);                  /* not taken: B over the far jump (20 bytes) */
	far_jump(o, to);
}

/* LDR (literal) of every size and register file. */
static void reloc_ldr_lit(struct a64_out *o, uint32_t insn, uint64_t addr)
{
	unsigned rt = insn & 31, opc = insn >> 30;
	bool simd = insn & (1u << 26);
	int64_t off = (int64_t)(addr - pc_of(o));
	static const uint32_t gpr_load[3] = { 0xb9400000u, 0xf9400000u, 0xb9800000u };
	static const uint32_t simd_load[3] = { 0xbd400000u, 0xfd400000u, 0x3dc00000u };
	unsigned base;

	if (fits(off, 19)) {
		put32(o, (insn & ~(0x7ffffu << 5)) | (((uint32_t)(off >> 2) & 0x7ffff) << 5));
		return;
	}
	if (!simd && opc == 3) {                 /* PRFM: a hint, dropping it is exact */
		put32(o, A64_NOP);
		return;
	}
	base = simd ? 17 : rt;                  /* a GPR load may use its own target */
	put32(o, A64_LDR_X_LIT(base, 2));
	put32(o, 0x14000003u);                  /* B over the literal */
	put64(o, addr);
	put32(o, (simd ? simd_load[opc] : gpr_load[opc]) | base << 5 | rt);
}

static void reloc_adr(struct a64_out *o, uint32_t insn, uint64_t src_pc)
{
	bool page = insn >> 31;
	unsigned rd = insn & 31;
	int64_t imm = sext(((insn >> 5) & 0x7ffff) << 2 | ((insn >> 29) & 3), 21);
	uint64_t value = page ? (src_pc & ~0xfffull) + (uint64_t)(imm << 12)
			      : src_pc + (uint64_t)imm;
	int64_t delta = page ? (int64_t)((value >> 12) - (pc_of(o) >> 12))
			     : (int64_t)(value - pc_of(o));

	if (delta >= -(1 << 20) && delta < (1 << 20)) {
		uint32_t d = (uint32_t)delta & 0x1fffff;

		put32(o, (insn & 0x9f00001fu) | (d & 3) << 29 | (d >> 2) << 5);
		return;
	}
	put32(o, A64_LDR_X_LIT(rd, 2));
	put32(o, 0x14000003u);
	put64(o, value);
}

static bool ends_flow(uint32_t insn)
{
	return (insn & 0xfc000000u) == 0x14000000u ||      /* B */
	       (insn & 0xfffffc1fu) == 0xd61f0000u ||      /* BR */
	       (insn & 0xfffffc1fu) == 0xd65f0000u ||      /* RET */
	       insn == 0xd65f0bffu || insn == 0xd65f0fffu || /* RETAA, RETAB */
	       (insn & 0xffe0001fu) == 0xd4200000u ||      /* BRK */
	       (insn & 0xffff0000u) == 0;                  /* UDF */
}

int reloc_aarch64(const uint8_t *src, size_t src_avail, uint64_t src_addr, size_t min_len,
		  uint8_t *dst, size_t dst_cap, uint64_t dst_addr, uint64_t resume_addr,
		  struct reloc_result *res)
{
	struct a64_out o = { dst, dst_cap, 0, dst_addr, false };
	size_t off = 0;

	memset(res, 0, sizeof(*res));
	if (!min_len)
		min_len = 1;
	while (off < min_len) {
		uint64_t pc = src_addr + off, to;
		uint32_t insn;

		if (off + 4 > src_avail) {
			snprintf(res->err, sizeof(res->err),
				 "code ends after %zu bytes, %zu needed", off, min_len);
			return RELOC_E_TRUNCATED;
		}
		if (res->n_insns >= RELOC_MAX_INSNS) {
			snprintf(res->err, sizeof(res->err), "too many instructions");
			return RELOC_E_NOSPACE;
		}
		if (res->ends_flow) {
			snprintf(res->err, sizeof(res->err),
				 "function returns after %zu bytes, %zu needed", off, min_len);
			return RELOC_E_TRUNCATED;
		}
		insn = u32le(src + off);
		res->map[res->n_insns].src_off = (uint32_t)off;
		res->map[res->n_insns].dst_off = (uint32_t)o.len;
		if ((insn & 0x7c000000u) == 0x14000000u)
			reloc_b_bl(&o, insn, pc + (uint64_t)(sext(insn, 26) * 4));
		else if (branch_target(insn, pc, &to))
			reloc_cond(&o, insn, to, (insn & 0x7e000000u) == 0x36000000u ? 14 : 19);
		else if ((insn & 0x3b000000u) == 0x18000000u && (insn >> 26 & 1 ? insn >> 30 != 3 : 1))
			reloc_ldr_lit(&o, insn, pc + (uint64_t)(sext(insn >> 5, 19) * 4));
		else if ((insn & 0x1f000000u) == 0x10000000u)
			reloc_adr(&o, insn, pc);
		else
			put32(&o, insn);
		res->ends_flow = ends_flow(insn);
		res->n_insns++;
		off += 4;
	}
	res->src_len = off;
	res->map[res->n_insns].src_off = (uint32_t)off;
	res->map[res->n_insns].dst_off = (uint32_t)o.len;
	if (!res->ends_flow) {
		uint64_t back = resume_addr == RELOC_RESUME_NEXT ? src_addr + off : resume_addr;
		int64_t d = (int64_t)(back - pc_of(&o));

		if (fits(d, 26))
			put32(&o, 0x14000000u | ((uint32_t)(d >> 2) & 0x3ffffff));
		else
			far_jump(&o, back);
	}
	if (o.full) {
		snprintf(res->err, sizeof(res->err), "relocated code exceeds %zu bytes", dst_cap);
		return RELOC_E_NOSPACE;
	}
	res->dst_len = o.len;
	return 0;
}

int reloc_aarch64_branches_into(const uint8_t *code, size_t len, uint64_t addr,
				uint64_t lo, uint64_t hi, uint64_t *where)
{
	for (size_t off = 0; off + 4 <= len; off += 4) {
		uint64_t to;

		if (branch_target(u32le(code + off), addr + off, &to) && to > lo && to < hi) {
			*where = addr + off;
			return 1;
		}
	}
	return 0;
}

size_t reloc_aarch64_scan_end(const uint8_t *code, size_t max)
{
	for (size_t off = 0; off + 4 <= max; off += 4)
		if (ends_flow(u32le(code + off)))
			return off + 4;
	return 0;
}
