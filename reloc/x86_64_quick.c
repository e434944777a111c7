/*
 * The fast x86-64 length decoder (x86_64_quick.h). Zydis decodes an instruction in about
 * 60 ns, and the branch-into scan of one function sweeps some 30 instructions (its body
 * and its neighbours'), which made decoding most of the cost of preparing a patch. This
 * knows the one-byte opcode map and the common part of the 0F map (legacy prefixes, one
 * REX, ModRM, SIB, displacement and immediate), which is nearly all compiled code. It
 * declines VEX and EVEX, x87, the 0F 38 and 0F 3A maps, LOCK, operand-size prefixes on
 * branches, and every opcode whose validity depends on its ModRM or its prefixes in a way
 * a length table cannot see; Zydis decodes those.
 */
#include "reloc/x86_64_quick.h"

enum {
	M = 0x01,    /* ModRM follows */
	I8 = 0x02,
	I16 = 0x04,
	IZ = 0x08,   /* imm16 with 66, else imm32 */
	IV = 0x10,   /* imm64 with REX.W, else as IZ */
	R = 0x20,    /* the immediate is a relative branch target */
	G = 0x40,    /* a group whose ModRM decides: see group_ok */
	X = 0x80,    /* declined */
	K = 0x100,   /* 0F map: known (what is not listed there is declined) */
	/* 0F map: the mandatory prefixes with which the opcode is invalid (declined) */
	D_NONE = 0x200, D_66 = 0x400, D_F3 = 0x800, D_F2 = 0x1000,
	MMX = D_F3 | D_F2,   /* MMX, or SSE2 with 66, and nothing with F3 or F2 */
};

static const uint16_t one[256] = {
	[0x00 ... 0x03] = M, [0x04] = I8, [0x05] = IZ, [0x06 ... 0x07] = X,
	[0x08 ... 0x0b] = M, [0x0c] = I8, [0x0d] = IZ, [0x0e] = X,
	[0x10 ... 0x13] = M, [0x14] = I8, [0x15] = IZ, [0x16 ... 0x17] = X,
	[0x18 ... 0x1b] = M, [0x1c] = I8, [0x1d] = IZ, [0x1e ... 0x1f] = X,
	[0x20 ... 0x23] = M, [0x24] = I8, [0x25] = IZ, [0x27] = X,
	[0x28 ... 0x2b] = M, [0x2c] = I8, [0x2d] = IZ, [0x2f] = X,
	[0x30 ... 0x33] = M, [0x34] = I8, [0x35] = IZ, [0x37] = X,
	[0x38 ... 0x3b] = M, [0x3c] = I8, [0x3d] = IZ, [0x3f] = X,
	[0x60 ... 0x62] = X, [0x63] = M,
	[0x68] = IZ, [0x69] = M | IZ, [0x6a] = I8, [0x6b] = M | I8,
	[0x70 ... 0x7f] = I8 | R,
	[0x80] = M | I8, [0x81] = M | IZ, [0x82] = X, [0x83] = M | I8,
	[0x84 ... 0x8b] = M, [0x8c] = X, [0x8d] = M | G, [0x8e] = X, [0x8f] = M | G,
	[0x9a] = X,
	[0xa0 ... 0xa3] = X, [0xa8] = I8, [0xa9] = IZ,
	[0xb0 ... 0xb7] = I8, [0xb8 ... 0xbf] = IV,
	[0xc0 ... 0xc1] = M | I8, [0xc2] = I16, [0xc4 ... 0xc5] = X,
	[0xc6] = M | I8 | G, [0xc7] = M | IZ | G, [0xc8] = X, [0xca] = I16, [0xcd] = I8,
	[0xce] = X,
	[0xd0 ... 0xd3] = M, [0xd4 ... 0xd6] = X, [0xd8 ... 0xdf] = X,
	[0xe0 ... 0xe3] = I8 | R, [0xe4 ... 0xe7] = I8, [0xe8 ... 0xe9] = IZ | R, [0xea] = X,
	[0xeb] = I8 | R,
	[0xf0] = X, [0xf6 ... 0xf7] = M | G, [0xfe ... 0xff] = M | G,
	/* reached only after a REX: a second REX, or a prefix there, is Zydis's to judge */
	[0x40 ... 0x4f] = X, [0x26] = X, [0x2e] = X, [0x36] = X, [0x3e] = X,
	[0x64 ... 0x67] = X, [0xf2 ... 0xf3] = X,
};

/* The 0F map: only what compilers emit, and only where the table alone says the length. */
static const uint16_t two[256] = {
	[0x05] = K, [0x0b] = K, [0x31] = K, [0xa2] = K,
	[0x10 ... 0x11] = K | M, [0x12] = K | M | D_66, [0x14 ... 0x15] = K | M | MMX,
	[0x16] = K | M | D_66 | D_F2, [0x1f] = K | M,
	[0x28 ... 0x29] = K | M | MMX, [0x2a] = K | M, [0x2c ... 0x2d] = K | M,
	[0x2e ... 0x2f] = K | M | MMX,
	[0x40 ... 0x4f] = K | M, [0x51] = K | M, [0x52 ... 0x53] = K | M | D_66 | D_F2,
	[0x54 ... 0x57] = K | M | MMX, [0x58 ... 0x5a] = K | M, [0x5b] = K | M | D_F2,
	[0x5c ... 0x5f] = K | M, [0x60 ... 0x6b] = K | M | MMX,
	[0x6c ... 0x6d] = K | M | MMX | D_NONE, [0x6e] = K | M | MMX, [0x6f] = K | M | D_F2,
	[0x74 ... 0x76] = K | M | MMX, [0x7e ... 0x7f] = K | M | D_F2,
	[0x80 ... 0x8f] = K | IZ | R,
	[0x90 ... 0x9f] = K | M, [0xa3] = K | M, [0xa4] = K | M | I8, [0xa5] = K | M,
	[0xab] = K | M, [0xac] = K | M | I8, [0xad] = K | M, [0xaf] = K | M,
	[0xb0 ... 0xb1] = K | M, [0xb3] = K | M, [0xb6 ... 0xb7] = K | M, [0xbb] = K | M,
	[0xbc ... 0xbf] = K | M, [0xc0 ... 0xc1] = K | M, [0xc2] = K | M | I8,
	[0xc6] = K | M | I8 | MMX, [0xc8 ... 0xcf] = K,
	[0xd1 ... 0xd5] = K | M | MMX, [0xd8 ... 0xe5] = K | M | MMX,
	[0xe8 ... 0xef] = K | M | MMX, [0xf1 ... 0xf6] = K | M | MMX,
	[0xf8 ... 0xfe] = K | M | MMX,
};

/* The groups whose ModRM decides validity (or, for F6/F7, an immediate). */
static bool group_ok(uint8_t op, uint8_t modrm, unsigned *flags)
{
	unsigned reg = (modrm >> 3) & 7, mod = modrm >> 6;

	switch (op) {
	case 0x8d:                      /* lea needs memory */
		return mod != 3;
	case 0x8f: case 0xc6: case 0xc7:   /* pop, mov: /0 only (others: XOP, xabort, xbegin) */
		return reg == 0;
	case 0xf6: case 0xf7:           /* test /0 has an immediate; /1 is an alias */
		if (reg == 1)
			return false;
		if (reg == 0)
			*flags |= op == 0xf6 ? I8 : IZ;
		return true;
	case 0xfe:                      /* inc, dec */
		return reg <= 1;
	default:                        /* 0xff: far call and jmp need memory; /7 is invalid */
		return reg != 7 && !((reg == 3 || reg == 5) && mod == 3);
	}
}

/* The legacy prefixes: their D_* bit for the mandatory ones, P for the others. */
#define P 0x2000
static const uint16_t prefix[256] = {
	[0x66] = D_66, [0xf3] = D_F3, [0xf2] = D_F2,
	[0x67] = P, [0x2e] = P, [0x3e] = P, [0x26] = P, [0x36] = P, [0x64] = P, [0x65] = P,
};

/*
 * Written to keep branches few: the length of a sweep's next instruction depends on this
 * one, so a mispredicted branch here is most of the cost.
 */
unsigned x86_quick_decode(const uint8_t *code, size_t avail, struct x86_quick *q)
{
	size_t i = 0, imm = 0;
	bool rex_w = false;
	unsigned flags, mandatory = 0, mod, rm;
	uint8_t op;

	if (avail > 15)
		avail = 15;              /* longer is invalid, and saves a check at the end */
	for (;; i++) {
		if (i >= avail)
			return 0;
		op = code[i];
		if (!prefix[op])
			break;
		mandatory |= prefix[op];
	}
	if ((op & 0xf0) == 0x40) {          /* one REX, right before the opcode */
		rex_w = op & 8;
		if (++i >= avail)
			return 0;
		op = code[i];
	}
	if (op == 0x0f) {
		if (++i >= avail)
			return 0;
		flags = two[code[i]];
		mandatory &= ~(unsigned)P;
		/* Which of 66, F3 and F2 selects the instruction is for Zydis to say when there
		 * is more than one. */
		if (!(flags & K) || (mandatory & (mandatory - 1)) ||
		    (flags & (mandatory ? mandatory : D_NONE)))
			return 0;
	} else {
		flags = one[op];       /* X for a second REX or a prefix after REX */
	}
	if ((flags & X) || ((flags & R) && (mandatory & D_66)))
		return 0;
	i++;
	if (flags & M) {
		if (i >= avail)
			return 0;
		if ((flags & G) && !group_ok(op, code[i], &flags))
			return 0;
		mod = code[i] >> 6;
		rm = code[i] & 7;
		i++;
		if (mod != 3 && rm == 4) {      /* SIB; base 5 without a displacement: disp32 */
			if (i >= avail)
				return 0;
			i += 1 + 4 * (mod == 0 && (code[i] & 7) == 5);
		}
		i += (mod == 1) + 4 * (mod == 2) + 4 * (mod == 0 && rm == 5);
	}
	if (flags & (I8 | I16 | IZ | IV)) {
		bool opsize = mandatory & D_66;

		imm = flags & I8 ? 1 : flags & I16 ? 2 : (flags & IV) && rex_w ? 8 :
		      opsize && !rex_w ? 2 : 4;
	}
	if (i + imm > avail)
		return 0;
	q->len = (unsigned)(i + imm);
	q->relative = flags & R;
	q->rel = 0;
	if (q->relative) {
		if (imm == 1) {
			q->rel = (int8_t)code[i];
		} else {
			uint32_t v = 0;

			for (size_t k = 0; k < 4; k++)
				v |= (uint32_t)code[i + k] << (8 * k);
			q->rel = (int32_t)v;
		}
	}
	return q->len;
}
