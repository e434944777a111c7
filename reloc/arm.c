/*
 * The A32 (ARM state) relocator. Reading PC gives the instruction's address + 8, a
 * pipeline artefact of the early ARM cores (they fetched two instructions ahead).
 * Branches are re-encoded when the copy is within ±32 MiB, else become a load of PC from
 * an inline literal; PC-relative loads and ADR become a load of the absolute address (or
 * value) from an inline literal. Every rewrite keeps the original condition on each
 * instruction that has an effect, and the literal is jumped over unconditionally, so a
 * failed condition falls through correctly.
 */
#include <stdio.h>
#include <string.h>

#include "reloc/reloc_arm.h"

#define COND_AL 0xeu

struct a32_out {
	uint8_t *buf;
	size_t cap, len;
	uint64_t base;
	bool full;
};

static void put32(struct a32_out *o, uint32_t v)
{
	if (o->len + 4 > o->cap) {
		o->full = true;
		return;
	}
	for (int i = 0; i < 4; i++)
		o->buf[o->len++] = (uint8_t)(v >> (8 * i));
}

static uint32_t pc_of(const struct a32_out *o)
{
	return (uint32_t)(o->base + o->len);
}

static uint32_t u32le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int32_t sext(uint32_t v, unsigned bits)
{
	uint32_t m = 1u << (bits - 1);

	v &= (bits == 32) ? ~0u : (1u << bits) - 1;
	return (int32_t)((v ^ m) - m);
}

static bool b_reach(int64_t off)
{
	return (off & 3) == 0 && off >= -(1 << 25) && off < (1 << 25);
}

/* LDR<c> Rt,[PC,#0]; B +0 (over the literal); .word value: Rt = value when c holds. */
static void load_const(struct a32_out *o, uint32_t cond, unsigned rt, uint32_t value)
{
	put32(o, cond << 28 | 0x059f0000u | rt << 12);
	put32(o, 0xea000000u);
	put32(o, value);
}

size_t reloc_arm_jump(uint8_t *dst, size_t cap, uint64_t at, uint64_t to)
{
	struct a32_out o = { dst, cap, 0, at, false };
	int64_t off = (int64_t)to - (int64_t)(at + 8);

	if (!(to & 1) && b_reach(off)) {
		put32(&o, 0xea000000u | ((uint32_t)(off >> 2) & 0xffffff));
	} else {
		put32(&o, 0xe51ff004u);          /* LDR PC,[PC,#-4]: the seed's patch */
		put32(&o, (uint32_t)to);
	}
	return o.full ? 0 : o.len;
}

/* B, BL (cond) and BLX imm (cond 1111, to Thumb). */
static void reloc_branch(struct a32_out *o, uint32_t insn, uint32_t pc)
{
	uint32_t cond = insn >> 28;
	bool blx = cond == 0xf, link = blx || (insn >> 24 & 1);
	uint32_t to = pc + 8 + (uint32_t)(sext(insn, 24) * 4);
	int64_t off;

	if (blx) {
		to = (to + ((insn >> 24 & 1) << 1)) | 1;
		cond = COND_AL;
	}
	off = (int64_t)to - (int64_t)(pc_of(o) + 8);
	if (!blx && b_reach(off)) {
		put32(o, (insn & 0xff000000u) | ((uint32_t)(off >> 2) & 0xffffff));
		return;
	}
	if (link)   /* ADD<c> LR,PC,#8: the return lands after the literal below */
		put32(o, cond << 28 | 0x028fe008u);
	put32(o, cond << 28 | 0x059ff000u);  /* LDR<c> PC,[PC,#0] */
	put32(o, 0xea000000u);               /* B over the literal */
	put32(o, to);
}

/* Does a data-processing or load/store instruction read PC where we cannot fix it? */
static const char *reads_pc(uint32_t insn)
{
	unsigned op = insn >> 25 & 7, rn = insn >> 16 & 15, rm = insn & 15;

	if ((insn & 0x0ffffff0u) == 0x012fff10u || (insn & 0x0ffffff0u) == 0x012fff30u)
		return rm == 15 ? "BX/BLX PC" : NULL;
	if (op == 0 || op == 1) {               /* data processing, misc, multiply */
		unsigned opc = insn >> 21 & 15;
		bool misc = op == 0 && (insn & 0x90u) == 0x90u;

		if (misc)
			return rn == 15 || rm == 15 ? "load/store or multiply with PC" : NULL;
		if (rn == 15 && opc != 13 && opc != 15)
			return "data processing reading PC";
		if (op == 0 && rm == 15)
			return "data processing reading PC";
		return NULL;
	}
	if (op == 2 || op == 3)                 /* LDR/STR */
		return rn == 15 || (op == 3 && rm == 15) ? "load/store relative to PC" : NULL;
	if (op == 4)                            /* LDM/STM */
		return rn == 15 ? "LDM/STM on PC" : NULL;
	if (op == 6)                            /* coprocessor / VFP loads (VLDR literal) */
		return rn == 15 ? "coprocessor load relative to PC" : NULL;
	return NULL;
}

static bool a32_ends_flow(uint32_t insn)
{
	if (insn >> 28 != COND_AL)
		return false;
	return (insn & 0x0f000000u) == 0x0a000000u ||               /* B */
	       (insn & 0x0ffffff0u) == 0x012fff10u ||               /* BX */
	       ((insn & 0x0e108000u) == 0x08108000u) ||             /* LDM ..., {..pc} */
	       (insn & 0x0ffff000u) == 0x049df000u ||               /* LDR PC,[SP],#4 */
	       ((insn & 0x0c00f000u) == 0x0000f000u && (insn >> 21 & 15) == 13) || /* MOV PC */
	       (insn & 0xfff000f0u) == 0xe7f000f0u;                 /* UDF */
}

int reloc_arm(const uint8_t *src, size_t src_avail, uint64_t src_addr, size_t min_len,
	      uint8_t *dst, size_t dst_cap, uint64_t dst_addr, uint64_t resume_addr,
	      struct reloc_result *res)
{
	struct a32_out o = { dst, dst_cap, 0, dst_addr, false };
	size_t off = 0;

	memset(res, 0, sizeof(*res));
	if (!min_len)
		min_len = 1;
	while (off < min_len) {
		uint32_t pc = (uint32_t)(src_addr + off), insn, cond;
		const char *why;

		if (off + 4 > src_avail || res->ends_flow) {
			snprintf(res->err, sizeof(res->err), "function ends after %zu bytes, %zu needed",
				 off, min_len);
			return RELOC_E_TRUNCATED;
		}
		if (res->n_insns >= RELOC_MAX_INSNS) {
			snprintf(res->err, sizeof(res->err), "too many instructions");
			return RELOC_E_NOSPACE;
		}
		insn = u32le(src + off);
		cond = insn >> 28;
		res->map[res->n_insns].src_off = (uint32_t)off;
		res->map[res->n_insns].dst_off = (uint32_t)o.len;
		if ((insn & 0x0e000000u) == 0x0a000000u) {
			reloc_branch(&o, insn, pc);
		} else if (cond != 0xf && (insn & 0x0f3f0000u) == 0x051f0000u) {
			/* LDR/LDRB Rt,[PC,#+-imm12] */
			unsigned rt = insn >> 12 & 15;
			uint32_t imm = insn & 0xfff;
			uint32_t addr = insn & (1u << 23) ? pc + 8 + imm : pc + 8 - imm;

			if (rt == 15) {
				snprintf(res->err, sizeof(res->err),
					 "LDR PC,[PC,#imm] at %#x (a jump through a literal)", pc);
				return RELOC_E_UNSUPPORTED;
			}
			load_const(&o, cond, rt, addr);
			put32(&o, cond << 28 | (insn & (1u << 22)) | 0x05900000u | rt << 16 | rt << 12);
		} else if (cond != 0xf && ((insn & 0x0fff0000u) == 0x028f0000u ||
					   (insn & 0x0fff0000u) == 0x024f0000u)) {
			/* ADR: ADD/SUB Rd, PC, #rotated imm8 */
			unsigned rd = insn >> 12 & 15, rot = (insn >> 8 & 15) * 2;
			uint32_t imm = insn & 0xff;

			imm = rot ? (imm >> rot | imm << (32 - rot)) : imm;
			if (rd == 15) {
				snprintf(res->err, sizeof(res->err), "ADD/SUB PC, PC at %#x", pc);
				return RELOC_E_UNSUPPORTED;
			}
			load_const(&o, cond, rd, (insn & 0x00f00000u) == 0x00800000u ?
					      pc + 8 + imm : pc + 8 - imm);
		} else if (cond != 0xf && (why = reads_pc(insn)) != NULL) {
			snprintf(res->err, sizeof(res->err), "%s at %#x (%08x)", why, pc, insn);
			return RELOC_E_UNSUPPORTED;
		} else {
			put32(&o, insn);
		}
		res->ends_flow = a32_ends_flow(insn);
		res->n_insns++;
		off += 4;
	}
	res->src_len = off;
	res->map[res->n_insns].src_off = (uint32_t)off;
	res->map[res->n_insns].dst_off = (uint32_t)o.len;
	if (!res->ends_flow) {
		uint64_t back = resume_addr == RELOC_RESUME_NEXT ? src_addr + off : resume_addr;
		uint8_t j[8];
		size_t n = reloc_arm_jump(j, sizeof(j), pc_of(&o), back);

		for (size_t i = 0; i < n; i += 4)
			put32(&o, u32le(j + i));
	}
	if (o.full) {
		snprintf(res->err, sizeof(res->err), "relocated code exceeds %zu bytes", dst_cap);
		return RELOC_E_NOSPACE;
	}
	res->dst_len = o.len;
	return 0;
}

int reloc_arm_branches_into(const uint8_t *code, size_t len, uint64_t addr,
			    uint64_t lo, uint64_t hi, uint64_t *where)
{
	for (size_t off = 0; off + 4 <= len; off += 4) {
		uint32_t insn = u32le(code + off);
		uint64_t to;

		if ((insn & 0x0e000000u) != 0x0a000000u)
			continue;
		to = (uint32_t)(addr + off + 8 + (uint32_t)(sext(insn, 24) * 4));
		if (insn >> 28 == 0xf)
			to += (insn >> 24 & 1) << 1;
		if (to > lo && to < hi) {
			*where = addr + off;
			return 1;
		}
	}
	return 0;
}

size_t reloc_arm_scan_end(const uint8_t *code, size_t max)
{
	for (size_t off = 0; off + 4 <= max; off += 4)
		if (a32_ends_flow(u32le(code + off)))
			return off + 4;
	return 0;
}
