/*
 * The Thumb relocator (16-bit Thumb and 32-bit Thumb-2 encodings). Thumb reads PC as the
 * instruction's address + 4, word-aligned down for literal loads and ADR. Rewrites go
 * through a small set of sequences: a constant loaded with LDR.W from an inline literal
 * (jumped over with B.N), B.W when the target is within ±16 MiB, LDR.W PC from a literal
 * otherwise, and for conditional branches (which IT cannot wrap here) a short branch to a
 * local far jump. Instructions inside an IT block are predicated by the IT state, so a
 * rewrite into several instructions would break it: an IT block is copied unchanged, or
 * refused when one of its instructions reads PC.
 */
#include <stdio.h>
#include <string.h>

#include "reloc/reloc_arm.h"

#define T_NOP 0xbf00u
#define REG_IP 12u

struct t_out {
	uint8_t *buf;
	size_t cap, len;
	uint64_t base;
	bool full;
};

static void put16(struct t_out *o, uint32_t v)
{
	if (o->len + 2 > o->cap) {
		o->full = true;
		return;
	}
	o->buf[o->len++] = (uint8_t)v;
	o->buf[o->len++] = (uint8_t)(v >> 8);
}

static void put32w(struct t_out *o, uint32_t hw1, uint32_t hw2)
{
	put16(o, hw1);
	put16(o, hw2);
}

static uint32_t pc_of(const struct t_out *o)
{
	return (uint32_t)(o->base + o->len);
}

static uint32_t u16le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static int32_t sext(uint32_t v, unsigned bits)
{
	uint32_t m = 1u << (bits - 1);

	v &= (1u << bits) - 1;
	return (int32_t)((v ^ m) - m);
}

static bool is32(uint32_t hw1)
{
	return (hw1 & 0xf800u) >= 0xe800u;
}

/* --- encoders ----------------------------------------------------------------------------- */

static bool bw_reach(int64_t off)
{
	return (off & 1) == 0 && off >= -(1 << 24) && off < (1 << 24);
}

/* B.W (T4) or BL (T1): off from pc + 4, 25-bit signed. */
static void put_bw(struct t_out *o, int64_t off, bool link)
{
	uint32_t v = (uint32_t)off, s = v >> 24 & 1;
	uint32_t j1 = (~(v >> 23 ^ s)) & 1, j2 = (~(v >> 22 ^ s)) & 1;

	put32w(o, 0xf000u | s << 10 | (v >> 12 & 0x3ff),
	       (link ? 0xd000u : 0x9000u) | j1 << 13 | j2 << 11 | (v >> 1 & 0x7ff));
}

/* B<c>.W (T3): off from pc + 4, 21-bit signed (±1 MiB). */
static void put_bcond_w(struct t_out *o, unsigned cond, int64_t off)
{
	uint32_t v = (uint32_t)off;

	put32w(o, 0xf000u | (v >> 20 & 1) << 10 | cond << 6 | (v >> 12 & 0x3f),
	       0x8000u | (v >> 18 & 1) << 13 | (v >> 19 & 1) << 11 | (v >> 1 & 0x7ff));
}

/* LDR.W reg,[PC,#k]; B.N over; (pad); .word value. Flags untouched. */
static void load_const(struct t_out *o, unsigned reg, uint32_t value)
{
	uint32_t at = pc_of(o);
	uint32_t lit = (at + 6 + 3) & ~3u;            /* first aligned word after LDR + B.N */
	uint32_t imm = lit - ((at + 4) & ~3u);
	uint32_t skip = lit + 4 - (at + 4 + 4);       /* B.N at at+4, lands after the word */

	put32w(o, 0xf8dfu, reg << 12 | imm);
	put16(o, 0xe000u | (skip >> 1 & 0x7ff));
	if (pc_of(o) != lit)
		put16(o, T_NOP);
	put16(o, value & 0xffff);
	put16(o, value >> 16);
}

size_t reloc_thumb_jump(uint8_t *dst, size_t cap, uint64_t at, uint64_t to, bool far)
{
	struct t_out o = { dst, cap, 0, at, false };
	int64_t off = (int64_t)(to & ~1ull) - (int64_t)(at + 4);

	if (!far && (to & 1) && bw_reach(off)) {
		put_bw(&o, off, false);
	} else {
		if (at & 2)
			put16(&o, T_NOP);
		put32w(&o, 0xf8dfu, 0xf000u);         /* LDR.W PC,[PC,#0] */
		put16(&o, (uint32_t)to & 0xffff);
		put16(&o, (uint32_t)(to >> 16));
	}
	return o.full ? 0 : o.len;
}

static void jump_to(struct t_out *o, uint32_t to)
{
	uint8_t j[12];
	size_t n = reloc_thumb_jump(j, sizeof(j), pc_of(o), to, false);

	for (size_t i = 0; i < n; i += 2)
		put16(o, u16le(j + i));
}

/* A conditional or compare-and-branch that does not reach: the original instruction
 * (hw, already retargeted to +4 by the caller) skips to a local far jump, B.N skips it. */
static void cond_far(struct t_out *o, uint32_t hw, uint32_t to)
{
	uint8_t j[12];
	size_t n;

	put16(o, hw);
	/* the jump is emitted at pc + 2 (after the B.N); its length depends on alignment */
	n = reloc_thumb_jump(j, sizeof(j), pc_of(o) + 2, to, false);
	put16(o, 0xe000u | (uint32_t)((n - 2) >> 1));   /* B.N: from pc+4, skip n bytes */
	for (size_t i = 0; i < n; i += 2)
		put16(o, u16le(j + i));
}

/* --- the instruction kinds -------------------------------------------------------------- */

static const char *reloc_16(struct t_out *o, uint32_t hw, uint32_t pc, bool in_it)
{
	uint32_t lit_pc = (pc + 4) & ~3u;

	if ((hw & 0xf800u) == 0x4800u) {                      /* LDR Rt,[PC,#imm8*4] */
		unsigned rt = hw >> 8 & 7;

		if (in_it)
			return "PC-relative LDR inside an IT block";
		load_const(o, rt, lit_pc + (hw & 0xff) * 4);
		put16(o, 0x6800u | rt << 3 | rt);             /* LDR Rt,[Rt] */
	} else if ((hw & 0xf800u) == 0xa000u) {               /* ADR Rd */
		if (in_it)
			return "ADR inside an IT block";
		load_const(o, hw >> 8 & 7, lit_pc + (hw & 0xff) * 4);
	} else if ((hw & 0xf000u) == 0xd000u && (hw >> 8 & 15) < 14) {   /* B<c> */
		uint32_t to = pc + 4 + (uint32_t)sext((hw & 0xff) << 1, 9);
		int64_t off = (int64_t)to - (int64_t)(pc_of(o) + 4);

		if (in_it)
			return "conditional branch inside an IT block";
		if (off >= -(1 << 20) && off < (1 << 20))
			put_bcond_w(o, hw >> 8 & 15, off);
		else
			cond_far(o, hw & 0xff00u, to | 1);
	} else if ((hw & 0xf800u) == 0xe000u) {               /* B (T2) */
		uint32_t to = pc + 4 + (uint32_t)sext((hw & 0x7ff) << 1, 12);

		if (in_it)
			return "branch inside an IT block";
		jump_to(o, to | 1);
	} else if ((hw & 0xf500u) == 0xb100u) {               /* CBZ, CBNZ */
		uint32_t to = pc + 4 + ((hw >> 9 & 1) << 6 | (hw >> 3 & 31) << 1);

		cond_far(o, hw & 0xfd07u, to | 1);            /* offset 0: to pc + 4 */
	} else if ((hw & 0xff78u) == 0x4478u) {               /* ADD Rdn, PC */
		unsigned rdn = (hw & 7) | (hw >> 4 & 8);

		if (in_it || rdn == 15 || rdn == 13 || rdn == REG_IP)
			return "ADD with PC that cannot be rewritten";
		load_const(o, REG_IP, pc + 4);
		put16(o, 0x4400u | (rdn & 8) << 4 | REG_IP << 3 | (rdn & 7));
	} else if ((hw & 0xff78u) == 0x4678u) {               /* MOV Rd, PC */
		unsigned rd = (hw & 7) | (hw >> 4 & 8);

		if (in_it || rd == 15 || rd == 13)
			return "MOV from PC that cannot be rewritten";
		load_const(o, rd, pc + 4);
	} else if ((hw & 0xfc00u) == 0x4400u && (hw >> 3 & 15) == 15) {
		return "special data instruction reading PC";
	} else {
		put16(o, hw);
	}
	return NULL;
}

static const char *reloc_32(struct t_out *o, uint32_t hw1, uint32_t hw2, uint32_t pc,
			    bool in_it)
{
	uint32_t lit_pc = (pc + 4) & ~3u;

	if ((hw1 & 0xf800u) == 0xf000u && (hw2 & 0x8000u)) {
		uint32_t s = hw1 >> 10 & 1, j1 = hw2 >> 13 & 1, j2 = hw2 >> 11 & 1;
		uint32_t i1 = ~(j1 ^ s) & 1, i2 = ~(j2 ^ s) & 1;
		uint32_t imm25 = s << 24 | i1 << 23 | i2 << 22 | (hw1 & 0x3ff) << 12 |
				 (hw2 & 0x7ff) << 1;
		uint32_t to = pc + 4 + (uint32_t)sext(imm25, 25);
		int64_t off = (int64_t)to - (int64_t)(pc_of(o) + 4);

		if ((hw2 & 0xd000u) == 0x9000u) {             /* B.W */
			if (in_it)
				return "B.W inside an IT block";
			jump_to(o, to | 1);
		} else if ((hw2 & 0xd000u) == 0xd000u) {      /* BL */
			if (bw_reach(off)) {
				put_bw(o, off, true);
			} else {
				if (in_it)
					return "far BL inside an IT block";
				load_const(o, REG_IP, to | 1);
				put16(o, 0x4780u | REG_IP << 3);  /* BLX IP */
			}
		} else if ((hw2 & 0xd001u) == 0xc000u) {      /* BLX imm: to ARM code */
			if (in_it)
				return "BLX inside an IT block";
			load_const(o, REG_IP, (lit_pc + (uint32_t)sext(imm25, 25)) & ~3u);
			put16(o, 0x4780u | REG_IP << 3);
		} else if ((hw2 & 0xd000u) == 0x8000u && (hw1 >> 6 & 15) < 14) {  /* B<c>.W */
			uint32_t imm21 = s << 20 | j2 << 19 | j1 << 18 | (hw1 & 0x3f) << 12 |
					 (hw2 & 0x7ff) << 1;
			unsigned cond = hw1 >> 6 & 15;

			to = pc + 4 + (uint32_t)sext(imm21, 21);
			off = (int64_t)to - (int64_t)(pc_of(o) + 4);
			if (in_it)
				return "B<c>.W inside an IT block";
			if (off >= -(1 << 20) && off < (1 << 20))
				put_bcond_w(o, cond, off);
			else
				cond_far(o, 0xd000u | cond << 8, to | 1);
		} else {
			put32w(o, hw1, hw2);                  /* MSR, MRS, hints, ... */
		}
		return NULL;
	}
	if ((hw1 & 0xfe1fu) == 0xf81fu) {                     /* LDR{,B,H,SB,SH} literal, PLD */
		unsigned rt = hw2 >> 12;
		uint32_t imm = hw2 & 0xfff;
		uint32_t addr = hw1 & 0x80u ? lit_pc + imm : lit_pc - imm;

		if (rt == 15) {
			if ((hw1 & 0x60u) == 0x40u)
				return "LDR PC from a literal";
			put16(o, T_NOP);                      /* PLD/PLI: a hint, dropped */
			put16(o, T_NOP);
			return NULL;
		}
		if (in_it || rt == 13)
			return "literal load that cannot be rewritten";
		load_const(o, rt, addr);
		put32w(o, ((hw1 | 0x80u) & 0xfff0u) | rt, rt << 12);
		return NULL;
	}
	if ((hw1 & 0xfbffu) == 0xf20fu || (hw1 & 0xfbffu) == 0xf2afu) {   /* ADR.W */
		uint32_t imm = (hw1 >> 10 & 1) << 11 | (hw2 >> 12 & 7) << 8 | (hw2 & 0xff);
		unsigned rd = hw2 >> 8 & 15;

		if (in_it || rd >= 13)
			return "ADR.W that cannot be rewritten";
		load_const(o, rd, (hw1 & 0xfbffu) == 0xf20fu ? lit_pc + imm : lit_pc - imm);
		return NULL;
	}
	if ((hw1 & 0xfe5fu) == 0xe85fu || (hw1 & 0xff3fu) == 0xed1fu ||
	    (hw1 == 0xe8dfu && (hw2 & 0xffe0u) == 0xf000u))
		return "LDRD/VLDR literal or TBB/TBH on PC";
	put32w(o, hw1, hw2);
	return NULL;
}

static bool t_ends_flow(uint32_t hw1, uint32_t hw2)
{
	if (!is32(hw1))
		return (hw1 & 0xff87u) == 0x4700u ||         /* BX Rm */
		       (hw1 & 0xff00u) == 0xbd00u ||         /* POP {..., pc} */
		       (hw1 & 0xf800u) == 0xe000u ||         /* B */
		       (hw1 & 0xff00u) == 0xde00u;           /* UDF */
	return ((hw1 & 0xf800u) == 0xf000u && (hw2 & 0xd000u) == 0x9000u) ||  /* B.W */
	       (hw1 == 0xe8bdu && (hw2 & 0x8000u)) ||                        /* POP.W {pc} */
	       (hw1 == 0xf85du && hw2 == 0xfb04u);                           /* LDR PC,[SP],#4 */
}

/* Number of instructions an IT instruction predicates, 0 if hw is not IT. */
static unsigned it_count(uint32_t hw)
{
	unsigned mask = hw & 15, n = 4;

	if ((hw & 0xff00u) != 0xbf00u || !mask)
		return 0;
	while (!(mask & 1)) {
		mask >>= 1;
		n--;
	}
	return n;
}

int reloc_thumb(const uint8_t *src, size_t src_avail, uint64_t src_addr, size_t min_len,
		uint8_t *dst, size_t dst_cap, uint64_t dst_addr, uint64_t resume_addr,
		struct reloc_result *res)
{
	struct t_out o = { dst, dst_cap, 0, dst_addr, false };
	size_t off = 0;
	unsigned it_left = 0;

	memset(res, 0, sizeof(*res));
	if (!min_len)
		min_len = 1;
	while (off < min_len || it_left) {
		uint32_t pc = (uint32_t)(src_addr + off), hw1, hw2 = 0;
		size_t n;
		const char *why;

		if (off + 2 > src_avail || res->ends_flow) {
			snprintf(res->err, sizeof(res->err), "function ends after %zu bytes, %zu needed",
				 off, min_len);
			return RELOC_E_TRUNCATED;
		}
		hw1 = u16le(src + off);
		n = is32(hw1) ? 4 : 2;
		if (off + n > src_avail) {
			snprintf(res->err, sizeof(res->err), "instruction at %#x is cut off", pc);
			return RELOC_E_TRUNCATED;
		}
		if (res->n_insns >= RELOC_MAX_INSNS) {
			snprintf(res->err, sizeof(res->err), "too many instructions");
			return RELOC_E_NOSPACE;
		}
		res->map[res->n_insns].src_off = (uint32_t)off;
		res->map[res->n_insns].dst_off = (uint32_t)o.len;
		if (n == 4) {
			hw2 = u16le(src + off + 2);
			why = reloc_32(&o, hw1, hw2, pc, it_left > 0);
		} else {
			why = reloc_16(&o, hw1, pc, it_left > 0);
		}
		if (why) {
			snprintf(res->err, sizeof(res->err), "%s at %#x (%04x%s%04x)", why, pc, hw1,
				 n == 4 ? " " : "", n == 4 ? hw2 : 0);
			return RELOC_E_UNSUPPORTED;
		}
		/* a predicated instruction may not execute: only unconditional flow ends */
		res->ends_flow = !it_left && t_ends_flow(hw1, hw2);
		if (it_left)
			it_left--;
		else
			it_left = it_count(hw1);
		res->n_insns++;
		off += n;
	}
	res->src_len = off;
	res->map[res->n_insns].src_off = (uint32_t)off;
	res->map[res->n_insns].dst_off = (uint32_t)o.len;
	if (!res->ends_flow)
		jump_to(&o, (uint32_t)(resume_addr == RELOC_RESUME_NEXT ? src_addr + off
									  : resume_addr) | 1);
	if (o.full) {
		snprintf(res->err, sizeof(res->err), "relocated code exceeds %zu bytes", dst_cap);
		return RELOC_E_NOSPACE;
	}
	res->dst_len = o.len;
	return 0;
}

/* Target of a direct branch at pc, or 0 if hw1/hw2 is not one. */
static uint32_t t_branch_target(uint32_t hw1, uint32_t hw2, uint32_t pc)
{
	if (!is32(hw1)) {
		if ((hw1 & 0xf000u) == 0xd000u && (hw1 >> 8 & 15) < 14)
			return pc + 4 + (uint32_t)sext((hw1 & 0xff) << 1, 9);
		if ((hw1 & 0xf800u) == 0xe000u)
			return pc + 4 + (uint32_t)sext((hw1 & 0x7ff) << 1, 12);
		if ((hw1 & 0xf500u) == 0xb100u)
			return pc + 4 + ((hw1 >> 9 & 1) << 6 | (hw1 >> 3 & 31) << 1);
		return 0;
	}
	if ((hw1 & 0xf800u) == 0xf000u && (hw2 & 0x8000u)) {
		uint32_t s = hw1 >> 10 & 1, j1 = hw2 >> 13 & 1, j2 = hw2 >> 11 & 1;

		if ((hw2 & 0xd000u) == 0x9000u || (hw2 & 0xd000u) == 0xd000u)
			return pc + 4 + (uint32_t)sext(s << 24 | (~(j1 ^ s) & 1) << 23 |
						       (~(j2 ^ s) & 1) << 22 | (hw1 & 0x3ff) << 12 |
						       (hw2 & 0x7ff) << 1, 25);
		if ((hw2 & 0xd000u) == 0x8000u && (hw1 >> 6 & 15) < 14)
			return pc + 4 + (uint32_t)sext(s << 20 | j2 << 19 | j1 << 18 |
						       (hw1 & 0x3f) << 12 | (hw2 & 0x7ff) << 1, 21);
	}
	return 0;
}

int reloc_thumb_branches_into(const uint8_t *code, size_t len, uint64_t addr,
			      uint64_t lo, uint64_t hi, uint64_t *where)
{
	for (size_t off = 0; off + 2 <= len;) {
		uint32_t hw1 = u16le(code + off), hw2 = 0, to;
		size_t n = is32(hw1) ? 4 : 2;

		if (off + n > len)
			break;
		if (n == 4)
			hw2 = u16le(code + off + 2);
		to = t_branch_target(hw1, hw2, (uint32_t)(addr + off));
		if (to && to > lo && to < hi) {
			*where = addr + off;
			return 1;
		}
		off += n;
	}
	return 0;
}

size_t reloc_thumb_scan_end(const uint8_t *code, size_t max)
{
	for (size_t off = 0; off + 2 <= max;) {
		uint32_t hw1 = u16le(code + off), hw2 = 0;
		size_t n = is32(hw1) ? 4 : 2;

		if (off + n > max)
			break;
		if (n == 4)
			hw2 = u16le(code + off + 2);
		off += n;
		if (t_ends_flow(hw1, hw2))
			return off;
	}
	return 0;
}
