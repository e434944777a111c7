/*
 * The x86-64 relocator: moves whole instructions from where they were read to where they
 * will run (an inline trampoline, swbp's or nx's out-of-line slot, a libmhook trampoline),
 * rewriting the ones whose meaning depends on their address: RIP-relative operands and
 * relative jmp/jcc/call/jrcxz/loop/xbegin. Decoding is Zydis's; the sequences we write
 * ourselves are in x86_64_emit.c. Nothing here touches a process. Where only lengths
 * matter (the first pass, the branch-into sweep, instruction lengths) the fast length
 * decoder of x86_64_quick.c answers first, and Zydis only when it declines: a batch of
 * patches sweeps tens of thousands of instructions.
 *
 * Two passes: the first finds the instruction boundaries (so a branch between displaced
 * instructions can be sent to the copy, and "is this call the last one" is known), the
 * second writes the copy. The copy never clobbers a register or flags beyond what the
 * original instruction does.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <Zydis/Zydis.h>

#include "reloc/reloc.h"
#include "reloc/x86_64_emit.h"
#include "reloc/x86_64_quick.h"

struct reloc_ctx {
	const uint8_t *src;
	uint64_t src_addr;
	size_t src_len;
	unsigned n;                       /* displaced instructions */
	uint32_t offs[RELOC_MAX_INSNS];   /* their source offsets */
	struct x86_emit e;
	struct reloc_result *res;
	const struct reloc_links *links; /* NULL: branches keep their targets */
};

static int fail(struct reloc_result *res, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct reloc_result *res, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->err, sizeof(res->err), fmt, ap);
	va_end(ap);
	return rc;
}

static void decoder_init(ZydisDecoder *dec)
{
	ZydisDecoderInit(dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- pass 1: boundaries ------------------------------------------------------------- */

static int scan(struct reloc_ctx *c, const ZydisDecoder *dec, size_t src_avail, size_t min_len)
{
	size_t off = 0;

	/* 0 would mean "no instruction", which no caller wants; treat it as "one". */
	if (min_len == 0)
		min_len = 1;
	while (off < min_len) {
		ZydisDecodedInstruction zi;
		struct x86_quick q;
		ZyanStatus st;

		if (c->n == RELOC_MAX_INSNS)
			return fail(c->res, RELOC_E_UNSUPPORTED,
				    "more than %d instructions in the first %zu bytes", RELOC_MAX_INSNS,
				    min_len);
		if (off >= src_avail)
			return fail(c->res, RELOC_E_TRUNCATED,
				    "source ends at +%zu, before the %zu bytes to displace", off, min_len);
		if (x86_quick_decode(c->src + off, src_avail - off, &q)) {
			c->offs[c->n++] = (uint32_t)off;
			off += q.len;
			continue;
		}
		st = ZydisDecoderDecodeInstruction(dec, NULL, c->src + off, src_avail - off, &zi);
		if (st == ZYDIS_STATUS_NO_MORE_DATA)
			return fail(c->res, RELOC_E_TRUNCATED,
				    "instruction at +%zu runs past the %zu source bytes available", off,
				    src_avail);
		if (!ZYAN_SUCCESS(st))
			return fail(c->res, RELOC_E_DECODE,
				    "bytes at +%zu (0x%" PRIx64 ": %02x ...) do not decode as x86-64", off,
				    c->src_addr + off, c->src[off]);
		c->offs[c->n++] = (uint32_t)off;
		off += zi.length;
	}
	c->src_len = off;
	return 0;
}

/* ---- pass 2: one instruction at a time ---------------------------------------------- */

/* Where a branch to target must go: to the copy if target is a displaced instruction. */
static int dest_of(struct reloc_ctx *c, const char *mn, uint32_t off, uint64_t target,
		   struct x86_dest *d)
{
	uint64_t rel = target - c->src_addr;

	d->abs = target;
	d->src_off = -1;
	if (rel >= c->src_len) {
		if (c->links)
			d->abs = c->links->link(c->links->ctx, target, false);
		return 0;
	}
	for (unsigned i = 0; i < c->n; i++) {
		if (c->offs[i] == rel) {
			uint64_t to = c->links ? c->links->link(c->links->ctx, target, true)
					       : RELOC_LINK_LOCAL;
			if (to == RELOC_LINK_LOCAL)
				d->src_off = (int32_t)rel;
			else
				d->abs = to;
			return 0;
		}
	}
	/* Overlapping-instruction tricks: the bytes there are about to be overwritten and the
	 * copy has no instruction starting at that offset. */
	return fail(c->res, RELOC_E_UNSUPPORTED,
		    "%s at +%u branches to +%" PRIu64 ", the middle of a displaced instruction",
		    mn, off, rel);
}

/* Emit the instruction in buf, its RIP-relative disp32 re-aimed at target from its new
 * place. */
static int emit_rip(struct reloc_ctx *c, const ZydisDecodedInstruction *zi, uint8_t *buf,
		    uint32_t off, uint64_t target)
{
	uint64_t end = c->e.base + c->e.len + zi->length;

	if (!x86_rel32_fits(target, end))
		return fail(c->res, RELOC_E_RANGE,
			    "%s at +%u: RIP-relative target 0x%" PRIx64
			    " is beyond +-2 GiB of its copy at 0x%" PRIx64,
			    ZydisMnemonicGetString(zi->mnemonic), off, target, end - zi->length);
	put32(buf + zi->raw.disp.offset, (uint32_t)(target - end));
	x86_emit_bytes(&c->e, buf, zi->length);
	return 0;
}

static int emit_copy(struct reloc_ctx *c, const ZydisDecodedInstruction *zi, uint8_t *buf,
		     uint32_t off, bool has_rip, uint64_t rip_target)
{
	if (has_rip)
		return emit_rip(c, zi, buf, off, rip_target);
	x86_emit_bytes(&c->e, buf, zi->length);
	return 0;
}

static bool is_rsp(ZydisRegister r)
{
	return r != ZYDIS_REGISTER_NONE &&
	       ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r) == ZYDIS_REGISTER_RSP;
}

/* Whether an explicit operand reads rsp, whose value our push would change first. */
static bool operands_use_rsp(const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *ops)
{
	for (unsigned i = 0; i < zi->operand_count_visible; i++) {
		if (ops[i].type == ZYDIS_OPERAND_TYPE_REGISTER && is_rsp(ops[i].reg.value))
			return true;
		if (ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY &&
		    (is_rsp(ops[i].mem.base) || is_rsp(ops[i].mem.index)))
			return true;
	}
	return false;
}

/*
 * A call must leave the ORIGINAL return address on the stack: the callee may look at it
 * (get-PC thunks, unwinders, __fentry__), and returning to the original code means the copy
 * need not outlive the call. We push it from a literal and jump:
 *     push qword [rip+L] ; jmp target ; L: dq original_return
 * Exception: a call that is not the last displaced instruction returns into bytes the
 * caller is about to overwrite, so it is emitted as a real call from the copy and returns
 * into the copy, which goes on with the next displaced instruction (the copy must then
 * outlive the callee). A get-PC `call next` is the one such call whose target is itself
 * displaced; it still pushes the original address, as the popped value is used as data.
 */
static void emit_call_rel(struct reloc_ctx *c, const struct x86_dest *d, uint64_t ret,
			  bool last)
{
	size_t lit;

	if (!last && d->src_off < 0) {
		x86_emit_call(&c->e, d);
		return;
	}
	lit = x86_emit_push_lit_begin(&c->e);
	x86_emit_jmp(&c->e, d);
	x86_emit_literal64(&c->e, lit, ret);
}

/* call r/m: the same idea, the call turned into the jmp with the same operand (FF /2 -> FF
 * /4, prefixes such as notrack kept). */
static int emit_call_indirect(struct reloc_ctx *c, const ZydisDecodedInstruction *zi,
			      const ZydisDecodedOperand *ops, uint8_t *buf, uint32_t off,
			      bool last, bool has_rip, uint64_t rip_target)
{
	uint64_t ret = c->src_addr + off + zi->length;
	size_t lit;
	int rc;

	/* Far calls push CS as well, and an operand based on rsp would be read after our push
	 * moved rsp: both stay real calls that return into the copy, as do non-last calls. */
	if (!last || zi->meta.branch_type != ZYDIS_BRANCH_TYPE_NEAR ||
	    !(zi->attributes & ZYDIS_ATTRIB_HAS_MODRM) || operands_use_rsp(zi, ops))
		return emit_copy(c, zi, buf, off, has_rip, rip_target);

	lit = x86_emit_push_lit_begin(&c->e);
	buf[zi->raw.modrm.offset] = (uint8_t)((buf[zi->raw.modrm.offset] & ~0x38u) | (4u << 3));
	rc = emit_copy(c, zi, buf, off, has_rip, rip_target);
	if (rc)
		return rc;
	x86_emit_literal64(&c->e, lit, ret);
	return 0;
}

static bool is_jcc(const ZydisDecodedInstruction *zi)
{
	if (zi->opcode_map == ZYDIS_OPCODE_MAP_DEFAULT)
		return (zi->opcode & 0xf0) == 0x70;
	return zi->opcode_map == ZYDIS_OPCODE_MAP_0F && (zi->opcode & 0xf0) == 0x80;
}

/* Instructions with a relative immediate: the target is fixed, the encoding is ours. */
static int reloc_branch(struct reloc_ctx *c, const ZydisDecodedInstruction *zi, uint32_t off,
			bool last)
{
	const char *mn = ZydisMnemonicGetString(zi->mnemonic);
	uint64_t next = c->src_addr + off + zi->length;
	struct x86_dest d;
	uint8_t head[2];
	size_t head_len = 0;
	int rc;

	/*
	 * Intel ignores an operand-size prefix on near branches in 64-bit mode; AMD honours it,
	 * truncating RIP to 16 bits and reading a 2-byte displacement. What the instruction
	 * does, and even its length, depends on the CPU, so there is nothing sound to emit.
	 */
	if (zi->attributes & ZYDIS_ATTRIB_HAS_OPERANDSIZE)
		return fail(c->res, RELOC_E_UNSUPPORTED,
			    "%s at +%u has an operand-size prefix: its target and length differ "
			    "between Intel and AMD", mn, off);

	rc = dest_of(c, mn, off, next + (uint64_t)zi->raw.imm[0].value.s, &d);
	if (rc)
		return rc;

	switch (zi->mnemonic) {
	case ZYDIS_MNEMONIC_JMP:
		/* Prefixes (bnd, hints) are dropped: they mean nothing on current CPUs. */
		x86_emit_jmp(&c->e, &d);
		return 0;
	case ZYDIS_MNEMONIC_CALL:
		emit_call_rel(c, &d, next, last);
		return 0;
	case ZYDIS_MNEMONIC_JRCXZ:
	case ZYDIS_MNEMONIC_JECXZ:
	case ZYDIS_MNEMONIC_LOOP:
	case ZYDIS_MNEMONIC_LOOPE:
	case ZYDIS_MNEMONIC_LOOPNE:
		/* rel8 only, no long form: branch to a local long jump. The address-size prefix
		 * chooses ecx over rcx and must stay. */
		if (zi->address_width == 32)
			head[head_len++] = 0x67;
		head[head_len++] = zi->opcode;
		x86_emit_branch_stub(&c->e, head, head_len, 1, &d);
		return 0;
	case ZYDIS_MNEMONIC_XBEGIN:
		/* The abort address is relative. A local stub gives it the same reach as a jmp;
		 * the transaction itself does not care where its code lives. */
		head[0] = 0xc7;
		head[1] = 0xf8;
		x86_emit_branch_stub(&c->e, head, 2, 4, &d);
		return 0;
	default:
		if (is_jcc(zi)) {
			x86_emit_jcc(&c->e, zi->opcode & 0x0f, &d);
			return 0;
		}
		return fail(c->res, RELOC_E_UNSUPPORTED,
			    "%s at +%u has a relative operand this relocator does not know", mn, off);
	}
}

static bool ends_flow(const ZydisDecodedInstruction *zi)
{
	switch (zi->mnemonic) {
	case ZYDIS_MNEMONIC_UD0:
	case ZYDIS_MNEMONIC_UD1:
	case ZYDIS_MNEMONIC_UD2:
	case ZYDIS_MNEMONIC_INT3:
	case ZYDIS_MNEMONIC_HLT:
	case ZYDIS_MNEMONIC_IRET:
	case ZYDIS_MNEMONIC_IRETD:
	case ZYDIS_MNEMONIC_IRETQ:
		return true;
	default:
		return zi->meta.category == ZYDIS_CATEGORY_UNCOND_BR ||
		       zi->meta.category == ZYDIS_CATEGORY_RET;
	}
}

static int reloc_one(struct reloc_ctx *c, const ZydisDecoder *dec, unsigned i)
{
	uint32_t off = c->offs[i];
	ZydisDecodedInstruction zi;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	uint8_t buf[ZYDIS_MAX_INSTRUCTION_LENGTH];
	bool last = i + 1 == c->n;
	bool has_rip = false;
	uint64_t rip_target = 0;

	if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(dec, c->src + off, c->src_len - off, &zi, ops)))
		return fail(c->res, RELOC_E_DECODE, "bytes at +%u do not decode as x86-64", off);
	memcpy(buf, c->src + off, zi.length);
	c->res->ends_flow = ends_flow(&zi);

	for (unsigned k = 0; k < zi.operand_count; k++) {
		if (ops[k].type != ZYDIS_OPERAND_TYPE_MEMORY)
			continue;
		/* With an address-size prefix the CPU truncates RIP+disp to 32 bits: only
		 * meaningful where it is, and no compiler emits it. */
		if (ops[k].mem.base == ZYDIS_REGISTER_EIP)
			return fail(c->res, RELOC_E_UNSUPPORTED,
				    "%s at +%u uses an EIP-relative (addr32) operand",
				    ZydisMnemonicGetString(zi.mnemonic), off);
		if (ops[k].mem.base == ZYDIS_REGISTER_RIP) {
			has_rip = true;
			rip_target = c->src_addr + off + zi.length + (uint64_t)zi.raw.disp.value;
		}
	}

	if (zi.raw.imm[0].is_relative)
		return reloc_branch(c, &zi, off, last);
	if (zi.mnemonic == ZYDIS_MNEMONIC_CALL)
		return emit_call_indirect(c, &zi, ops, buf, off, last, has_rip, rip_target);
	/* Everything else, endbr64 and int3 padding included, means the same anywhere once
	 * its RIP-relative operand (if any) is re-aimed. */
	return emit_copy(c, &zi, buf, off, has_rip, rip_target);
}

int reloc_x86_64(const uint8_t *src, size_t src_avail, uint64_t src_addr, size_t min_len,
		 uint8_t *dst, size_t dst_cap, uint64_t dst_addr, uint64_t resume_addr,
		 struct reloc_result *res)
{
	return reloc_x86_64_linked(src, src_avail, src_addr, min_len, dst, dst_cap, dst_addr,
				   resume_addr, NULL, res);
}

int reloc_x86_64_linked(const uint8_t *src, size_t src_avail, uint64_t src_addr,
			size_t min_len, uint8_t *dst, size_t dst_cap, uint64_t dst_addr,
			uint64_t resume_addr, const struct reloc_links *links,
			struct reloc_result *res)
{
	struct reloc_ctx c = { .src = src, .src_addr = src_addr, .res = res, .links = links };
	struct x86_dest cont;
	ZydisDecoder dec;
	int rc;

	memset(res, 0, sizeof(*res));
	decoder_init(&dec);
	rc = scan(&c, &dec, src_avail, min_len);
	if (rc)
		return rc;

	c.e = (struct x86_emit){ .buf = dst, .cap = dst_cap, .base = dst_addr };
	for (unsigned i = 0; i < c.n; i++) {
		res->map[i] = (struct reloc_boundary){ .src_off = c.offs[i],
						       .dst_off = (uint32_t)c.e.len };
		rc = reloc_one(&c, &dec, i);
		if (rc)
			return rc;
	}
	res->map[c.n] = (struct reloc_boundary){ .src_off = (uint32_t)c.src_len,
						 .dst_off = (uint32_t)c.e.len };

	/* Also after a jmp or ret: unreachable, but it keeps the map's last entry meaningful. */
	cont = (struct x86_dest){
		.abs = resume_addr == RELOC_RESUME_NEXT ? src_addr + c.src_len : resume_addr,
		.src_off = -1,
	};
	x86_emit_jmp(&c.e, &cont);
	if (c.e.len > dst_cap)
		return fail(res, RELOC_E_NOSPACE,
			    "relocating %zu bytes (%u instructions) needs %zu bytes, dst has %zu",
			    c.src_len, c.n, c.e.len, dst_cap);
	x86_emit_resolve(&c.e, res->map, c.n);

	res->src_len = c.src_len;
	res->dst_len = c.e.len;
	res->n_insns = c.n;
	return 0;
}

size_t reloc_x86_64_jump(uint8_t *dst, size_t dst_cap, uint64_t dst_addr, uint64_t target)
{
	struct x86_emit e = { .buf = dst, .cap = dst_cap, .base = dst_addr };
	struct x86_dest d = { .abs = target, .src_off = -1 };

	x86_emit_jmp(&e, &d);
	return e.len <= dst_cap ? e.len : 0;
}

/* ---- queries ------------------------------------------------------------------------ */

int reloc_x86_64_insn_info(const uint8_t *code, size_t avail, uint64_t addr,
			   struct reloc_insn_info *info)
{
	ZydisDecoder dec;
	ZydisDecodedInstruction zi;
	ZyanStatus st;

	memset(info, 0, sizeof(*info));
	if (avail == 0)
		return RELOC_E_TRUNCATED;
	decoder_init(&dec);
	st = ZydisDecoderDecodeInstruction(&dec, NULL, code, avail, &zi);
	if (st == ZYDIS_STATUS_NO_MORE_DATA)
		return RELOC_E_TRUNCATED;
	if (!ZYAN_SUCCESS(st))
		return RELOC_E_DECODE;
	info->len = zi.length;
	info->ends_flow = ends_flow(&zi);
	switch (zi.meta.category) {
	case ZYDIS_CATEGORY_COND_BR:
	case ZYDIS_CATEGORY_UNCOND_BR:
	case ZYDIS_CATEGORY_CALL:
	case ZYDIS_CATEGORY_RET:
	case ZYDIS_CATEGORY_INTERRUPT:
		info->ends_block = true;
		break;
	default:
		info->ends_block = info->ends_flow;
		break;
	}
	if (zi.raw.imm[0].is_relative) {
		/* xbegin, loop and jrcxz too: any relative target is a way out of the block. */
		info->ends_block = true;
		info->has_target = true;
		info->target = addr + zi.length + (uint64_t)zi.raw.imm[0].value.s;
	}
	return 0;
}

int reloc_x86_64_insn_len(const uint8_t *code, size_t avail)
{
	ZydisDecoder dec;
	ZydisDecodedInstruction zi;
	struct x86_quick q;
	ZyanStatus st;

	if (avail == 0)
		return RELOC_E_TRUNCATED;
	if (x86_quick_decode(code, avail, &q))
		return (int)q.len;
	decoder_init(&dec);
	st = ZydisDecoderDecodeInstruction(&dec, NULL, code, avail, &zi);
	if (st == ZYDIS_STATUS_NO_MORE_DATA)
		return RELOC_E_TRUNCATED;
	if (!ZYAN_SUCCESS(st))
		return RELOC_E_DECODE;
	return zi.length;
}

/*
 * A linear sweep, so it sees only what it decodes in sequence. Function bodies hold jump
 * tables, literal pools and padding, and the first undecodable byte means the sweep has
 * lost the instruction stream: we stop there and report what was found before it (so this
 * never returns a negative code). It cannot see indirect jumps (switch tables) either.
 * Branches that themselves start inside [lo, hi) are not reported: they are displaced
 * with the patch, and the relocator sends the ones aimed into the block to the copy (or
 * refuses them). *where gets the address of the offending branch, not its target.
 */
int reloc_x86_64_branches_into(const uint8_t *code, size_t len, uint64_t addr,
			       uint64_t lo, uint64_t hi, uint64_t *where)
{
	ZydisDecoder dec;
	size_t off = 0;

	decoder_init(&dec);
	while (off < len) {
		ZydisDecodedInstruction zi;
		struct x86_quick q;
		uint64_t pc = addr + off, target;
		int64_t rel;

		if (x86_quick_decode(code + off, len - off, &q)) {
			off += q.len;
			if (!q.relative)
				continue;
			rel = q.rel;
		} else if (ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&dec, NULL, code + off,
								       len - off, &zi))) {
			off += zi.length;
			if (!zi.raw.imm[0].is_relative)
				continue;
			rel = zi.raw.imm[0].value.s;
		} else {
			break;
		}
		if (pc >= lo && pc < hi)
			continue;
		target = addr + off + (uint64_t)rel;
		if (target > lo && target < hi) {
			if (where)
				*where = pc;
			return 1;
		}
	}
	return 0;
}
