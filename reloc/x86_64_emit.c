/*
 * Encoders for the sequences the x86-64 relocator writes itself. Every sequence here keeps
 * flags and general registers intact, because the relocated code runs in the middle of a
 * function whose live state we cannot see: absolute jumps go through a literal
 * (jmp [rip+0]) rather than a scratch register, and return addresses are pushed from a
 * literal rather than built in a register.
 */
#include <string.h>

#include "reloc/x86_64_emit.h"

void x86_emit_bytes(struct x86_emit *e, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++, e->len++)
		if (e->len < e->cap)
			e->buf[e->len] = b[i];
}

static void emit_u8(struct x86_emit *e, uint8_t v)
{
	x86_emit_bytes(e, &v, 1);
}

static void emit_u32(struct x86_emit *e, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };

	x86_emit_bytes(e, b, 4);
}

static void emit_u64(struct x86_emit *e, uint64_t v)
{
	emit_u32(e, (uint32_t)v);
	emit_u32(e, (uint32_t)(v >> 32));
}

void x86_emit_patch32(struct x86_emit *e, size_t at, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		if (at + i < e->cap)
			e->buf[at + i] = (uint8_t)(v >> (8 * i));
}

bool x86_rel32_fits(uint64_t target, uint64_t from)
{
	int64_t d = (int64_t)(target - from);

	return d >= INT32_MIN && d <= INT32_MAX;
}

/* rel32 field from the current position to d, whose instruction ends right after it. */
static void emit_rel32(struct x86_emit *e, const struct x86_dest *d)
{
	uint64_t end = e->base + e->len + 4;

	if (d->src_off >= 0) {
		/* The copy's position is known only once the whole block is out. */
		e->fix[e->n_fix++] = (struct x86_fixup){ .at = (uint32_t)e->len,
							 .src_off = (uint32_t)d->src_off };
		emit_u32(e, 0);
		return;
	}
	emit_u32(e, (uint32_t)(d->abs - end));
}

/* Whether a rel32 instruction ending at buffer offset end reaches d. Targets in the block
 * always do: the block is a few hundred bytes at most. */
static bool reaches_from(const struct x86_emit *e, const struct x86_dest *d, size_t end)
{
	return d->src_off >= 0 || x86_rel32_fits(d->abs, e->base + end);
}

/* The same for an instruction of insn_len bytes starting at the current position. */
static bool reaches(const struct x86_emit *e, const struct x86_dest *d, size_t insn_len)
{
	return reaches_from(e, d, e->len + insn_len);
}

/* jmp [rip+0]; abs64: reaches anything and clobbers nothing. */
static void emit_jmp_abs(struct x86_emit *e, uint64_t target)
{
	static const uint8_t jmp_rip0[] = { 0xff, 0x25, 0, 0, 0, 0 };

	x86_emit_bytes(e, jmp_rip0, sizeof(jmp_rip0));
	emit_u64(e, target);
}

size_t x86_jmp_size(const struct x86_emit *e, const struct x86_dest *d)
{
	return reaches(e, d, 5) ? 5 : 14;
}

void x86_emit_jmp(struct x86_emit *e, const struct x86_dest *d)
{
	if (reaches(e, d, 5)) {
		emit_u8(e, 0xe9);
		emit_rel32(e, d);
	} else {
		emit_jmp_abs(e, d->abs);
	}
}

void x86_emit_jcc(struct x86_emit *e, unsigned cc, const struct x86_dest *d)
{
	if (reaches(e, d, 6)) {
		emit_u8(e, 0x0f);
		emit_u8(e, (uint8_t)(0x80 | cc));
		emit_rel32(e, d);
		return;
	}
	/* Condition codes come in pairs that differ in bit 0, so cc ^ 1 is "not cc". */
	emit_u8(e, (uint8_t)(0x70 | (cc ^ 1)));
	emit_u8(e, 14);
	emit_jmp_abs(e, d->abs);
}

void x86_emit_call(struct x86_emit *e, const struct x86_dest *d)
{
	static const uint8_t call_lit[] = { 0xff, 0x15, 2, 0, 0, 0, 0xeb, 8 };

	if (reaches(e, d, 5)) {
		emit_u8(e, 0xe8);
		emit_rel32(e, d);
		return;
	}
	/* call [rip+2] reads the literal after the jmp; the callee returns to the jmp, which
	 * steps over the literal. */
	x86_emit_bytes(e, call_lit, sizeof(call_lit));
	emit_u64(e, d->abs);
}

size_t x86_emit_push_lit_begin(struct x86_emit *e)
{
	static const uint8_t push_rip[] = { 0xff, 0x35 };
	size_t at;

	x86_emit_bytes(e, push_rip, sizeof(push_rip));
	at = e->len;
	emit_u32(e, 0);
	return at;
}

void x86_emit_literal64(struct x86_emit *e, size_t disp_at, uint64_t value)
{
	x86_emit_patch32(e, disp_at, (uint32_t)(e->len - (disp_at + 4)));
	emit_u64(e, value);
}

void x86_emit_branch_stub(struct x86_emit *e, const uint8_t *head, size_t head_len,
			  unsigned rel_size, const struct x86_dest *d)
{
	size_t jmp_len;

	x86_emit_bytes(e, head, head_len);
	/* Taken: skip the 2-byte short jmp and land on the jump to the real target. */
	if (rel_size == 1)
		emit_u8(e, 2);
	else
		emit_u32(e, 2);
	emit_u8(e, 0xeb);
	/* The long jmp starts after this rel8 byte. */
	jmp_len = reaches_from(e, d, e->len + 1 + 5) ? 5 : 14;
	emit_u8(e, (uint8_t)jmp_len);
	x86_emit_jmp(e, d);
}

void x86_emit_resolve(struct x86_emit *e, const struct reloc_boundary *map, unsigned n)
{
	for (unsigned f = 0; f < e->n_fix; f++) {
		const struct x86_fixup *fx = &e->fix[f];

		for (unsigned i = 0; i < n; i++) {
			if (map[i].src_off != fx->src_off)
				continue;
			x86_emit_patch32(e, fx->at, (uint32_t)(map[i].dst_off - (fx->at + 4)));
			break;
		}
	}
}
