/*
 * Unit test for the x86-64 relocator (reloc/x86_64.c). Two halves: golden byte
 * tables (input bytes and the exact expected output, each annotated with its disassembly;
 * a mismatch prints both as hex), then execution tests that relocate small hand-written
 * functions next to themselves and far away, call the copies, and check what they
 * return, so a sequence that looks right but misbehaves (flags, return address) is caught.
 * Prints "N passed, M failed"; exits non-zero on any failure.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "reloc/reloc.h"

static unsigned n_pass, n_fail;

#define BYTES(...) (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ })

#define S   0x401000ull       /* source address of every table case */
#define D   0x500000ull       /* a near destination: D - S = 0xff000 */
#define FAR 0x7f0000000000ull /* beyond rel32 reach of S */

/* rel32 values below are target - end_of_insn; with D - S = 0xff000 they read as
 * 0xfff0xxxx, where xxxx = 0x1000 + (target offset - copy end offset). */

struct rcase {
	const char *name;
	const uint8_t *in;
	size_t in_len;
	uint64_t dst;
	size_t min_len;
	int rc;
	const uint8_t *out;
	size_t out_len;
	size_t src_len;
	bool ends_flow;
	size_t dst_cap;      /* 0: 256 */
	uint64_t resume;     /* 0: RELOC_RESUME_NEXT */
};

static const struct rcase cases[] = {
	{ "prologue", BYTES(0x55,                         /* push rbp */
			    0x48, 0x89, 0xe5,             /* mov rbp, rsp */
			    0x48, 0x83, 0xec, 0x10),      /* sub rsp, 0x10 */
	  D, 4, 0,
	  BYTES(0x55,                                     /* push rbp */
		0x48, 0x89, 0xe5,                         /* mov rbp, rsp */
		0xe9, 0xfb, 0x0f, 0xf0, 0xff),            /* jmp S+4 */
	  4, false, 0, 0 },

	{ "endbr64 first", BYTES(0xf3, 0x0f, 0x1e, 0xfa,  /* endbr64 */
				 0x55,                    /* push rbp */
				 0x48, 0x89, 0xe5),       /* mov rbp, rsp */
	  D, 5, 0,
	  BYTES(0xf3, 0x0f, 0x1e, 0xfa,                   /* endbr64 */
		0x55,                                     /* push rbp */
		0xe9, 0xfb, 0x0f, 0xf0, 0xff),            /* jmp S+5 */
	  5, false, 0, 0 },

	{ "lea rip", BYTES(0x48, 0x8d, 0x05, 0x00, 0x01, 0x00, 0x00), /* lea rax, [rip+0x100] */
	  D, 5, 0,
	  BYTES(0x48, 0x8d, 0x05, 0x00, 0x11, 0xf0, 0xff, /* lea rax, [rip -> S+0x107] */
		0xe9, 0xfb, 0x0f, 0xf0, 0xff),            /* jmp S+7 */
	  7, false, 0, 0 },

	{ "mov rip", BYTES(0x8b, 0x05, 0x00, 0x20, 0x00, 0x00), /* mov eax, [rip+0x2000] */
	  D, 5, 0,
	  BYTES(0x8b, 0x05, 0x00, 0x30, 0xf0, 0xff,       /* mov eax, [rip -> S+0x2006] */
		0xe9, 0xfb, 0x0f, 0xf0, 0xff),            /* jmp S+6 */
	  6, false, 0, 0 },

	{ "cmp rip, imm", BYTES(0x83, 0x3d, 0x10, 0x00, 0x00, 0x00, 0x05), /* cmp dword [rip+0x10], 5 */
	  D, 5, 0,
	  BYTES(0x83, 0x3d, 0x10, 0x10, 0xf0, 0xff, 0x05, /* cmp dword [rip -> S+0x17], 5 */
		0xe9, 0xfb, 0x0f, 0xf0, 0xff),            /* jmp S+7 */
	  7, false, 0, 0 },

	{ "call [rip]", BYTES(0xff, 0x15, 0x00, 0x02, 0x00, 0x00), /* call [rip+0x200] */
	  D, 5, 0,
	  BYTES(0xff, 0x35, 0x06, 0x00, 0x00, 0x00,       /* push qword [rip+6] (the literal) */
		0xff, 0x25, 0xfa, 0x11, 0xf0, 0xff,       /* jmp [rip -> S+0x206] */
		0x06, 0x10, 0x40, 0, 0, 0, 0, 0,          /* dq S+6: the original return address */
		0xe9, 0xed, 0x0f, 0xf0, 0xff),            /* jmp S+6 */
	  6, false, 0, 0 },

	{ "jmp [rip]", BYTES(0xff, 0x25, 0x00, 0x10, 0x00, 0x00), /* jmp [rip+0x1000] */
	  D, 1, 0,
	  BYTES(0xff, 0x25, 0x00, 0x20, 0xf0, 0xff,       /* jmp [rip -> S+0x1006] */
		0xe9, 0xfb, 0x0f, 0xf0, 0xff),            /* jmp S+6 (unreachable) */
	  6, true, 0, 0 },

	{ "jmp rel8", BYTES(0xeb, 0x10),                  /* jmp S+0x12 */
	  D, 1, 0,
	  BYTES(0xe9, 0x0d, 0x10, 0xf0, 0xff,             /* jmp S+0x12 */
		0xe9, 0xf8, 0x0f, 0xf0, 0xff),            /* jmp S+2 */
	  2, true, 0, 0 },

	{ "jmp rel32", BYTES(0xe9, 0x00, 0x10, 0x00, 0x00), /* jmp S+0x1005 */
	  D, 1, 0,
	  BYTES(0xe9, 0x00, 0x20, 0xf0, 0xff,             /* jmp S+0x1005 */
		0xe9, 0xfb, 0x0f, 0xf0, 0xff),            /* jmp S+5 */
	  5, true, 0, 0 },

	{ "je rel8", BYTES(0x74, 0x05),                   /* je S+7 */
	  D, 1, 0,
	  BYTES(0x0f, 0x84, 0x01, 0x10, 0xf0, 0xff,       /* je S+7 */
		0xe9, 0xf7, 0x0f, 0xf0, 0xff),            /* jmp S+2 */
	  2, false, 0, 0 },

	{ "jne rel32", BYTES(0x0f, 0x85, 0x00, 0x01, 0x00, 0x00), /* jne S+0x106 */
	  D, 1, 0,
	  BYTES(0x0f, 0x85, 0x00, 0x11, 0xf0, 0xff,       /* jne S+0x106 */
		0xe9, 0xfb, 0x0f, 0xf0, 0xff),            /* jmp S+6 */
	  6, false, 0, 0 },

	{ "jrcxz", BYTES(0xe3, 0x10),                     /* jrcxz S+0x12 */
	  D, 1, 0,
	  BYTES(0xe3, 0x02,                               /* jrcxz +2 (taken) */
		0xeb, 0x05,                               /* jmp short +5 (not taken) */
		0xe9, 0x09, 0x10, 0xf0, 0xff,             /* jmp S+0x12 */
		0xe9, 0xf4, 0x0f, 0xf0, 0xff),            /* jmp S+2 */
	  2, false, 0, 0 },

	{ "jecxz", BYTES(0x67, 0xe3, 0x10),               /* jecxz S+0x13 */
	  D, 1, 0,
	  BYTES(0x67, 0xe3, 0x02,                         /* jecxz +2 */
		0xeb, 0x05,                               /* jmp short +5 */
		0xe9, 0x09, 0x10, 0xf0, 0xff,             /* jmp S+0x13 */
		0xe9, 0xf4, 0x0f, 0xf0, 0xff),            /* jmp S+3 */
	  3, false, 0, 0 },

	{ "loop", BYTES(0xe2, 0xf0),                      /* loop S-14 */
	  D, 1, 0,
	  BYTES(0xe2, 0x02,                               /* loop +2 */
		0xeb, 0x05,                               /* jmp short +5 */
		0xe9, 0xe9, 0x0f, 0xf0, 0xff,             /* jmp S-14 */
		0xe9, 0xf4, 0x0f, 0xf0, 0xff),            /* jmp S+2 */
	  2, false, 0, 0 },

	{ "loop into the block", BYTES(0x31, 0xc0,        /* xor eax, eax */
				       0x83, 0xc0, 0x03,  /* add eax, 3 (+2) */
				       0xe2, 0xfb),       /* loop +2 */
	  D, 7, 0,
	  BYTES(0x31, 0xc0,                               /* xor eax, eax */
		0x83, 0xc0, 0x03,                         /* add eax, 3 (D+2) */
		0xe2, 0x02,                               /* loop +2 */
		0xeb, 0x05,                               /* jmp short +5 */
		0xe9, 0xf4, 0xff, 0xff, 0xff,             /* jmp D+2: the copy, not S+2 */
		0xe9, 0xf4, 0x0f, 0xf0, 0xff),            /* jmp S+7 */
	  7, false, 0, 0 },

	{ "xbegin", BYTES(0xc7, 0xf8, 0x00, 0x01, 0x00, 0x00), /* xbegin S+0x106 */
	  D, 1, 0,
	  BYTES(0xc7, 0xf8, 0x02, 0x00, 0x00, 0x00,       /* xbegin +2 (abort path) */
		0xeb, 0x05,                               /* jmp short +5 */
		0xe9, 0xf9, 0x10, 0xf0, 0xff,             /* jmp S+0x106 */
		0xe9, 0xf4, 0x0f, 0xf0, 0xff),            /* jmp S+6 */
	  6, false, 0, 0 },

	{ "call rel32", BYTES(0xe8, 0x00, 0x01, 0x00, 0x00), /* call S+0x105 */
	  D, 5, 0,
	  BYTES(0xff, 0x35, 0x05, 0x00, 0x00, 0x00,       /* push qword [rip+5] (the literal) */
		0xe9, 0xfa, 0x10, 0xf0, 0xff,             /* jmp S+0x105 */
		0x05, 0x10, 0x40, 0, 0, 0, 0, 0,          /* dq S+5 */
		0xe9, 0xed, 0x0f, 0xf0, 0xff),            /* jmp S+5 */
	  5, false, 0, 0 },

	{ "call, not last", BYTES(0xe8, 0x00, 0x01, 0x00, 0x00, /* call S+0x105 */
				  0x90),                  /* nop */
	  D, 6, 0,
	  BYTES(0xe8, 0x00, 0x11, 0xf0, 0xff,             /* call S+0x105 (returns into the copy) */
		0x90,                                     /* nop */
		0xe9, 0xfb, 0x0f, 0xf0, 0xff),            /* jmp S+6 */
	  6, false, 0, 0 },

	{ "get-pc call", BYTES(0xe8, 0x00, 0x00, 0x00, 0x00, /* call S+5 */
			       0x58),                     /* pop rax */
	  D, 6, 0,
	  BYTES(0xff, 0x35, 0x05, 0x00, 0x00, 0x00,       /* push qword [rip+5] */
		0xe9, 0x08, 0x00, 0x00, 0x00,             /* jmp D+19: the copy of pop rax */
		0x05, 0x10, 0x40, 0, 0, 0, 0, 0,          /* dq S+5 */
		0x58,                                     /* pop rax */
		0xe9, 0xed, 0x0f, 0xf0, 0xff),            /* jmp S+6 */
	  6, false, 0, 0 },

	{ "call rax", BYTES(0xff, 0xd0),                  /* call rax */
	  D, 1, 0,
	  BYTES(0xff, 0x35, 0x02, 0x00, 0x00, 0x00,       /* push qword [rip+2] */
		0xff, 0xe0,                               /* jmp rax */
		0x02, 0x10, 0x40, 0, 0, 0, 0, 0,          /* dq S+2 */
		0xe9, 0xed, 0x0f, 0xf0, 0xff),            /* jmp S+2 */
	  2, false, 0, 0 },

	{ "call [rsp+8]", BYTES(0xff, 0x54, 0x24, 0x08),  /* call [rsp+8] */
	  D, 1, 0,
	  BYTES(0xff, 0x54, 0x24, 0x08,                   /* call [rsp+8]: a push would move rsp */
		0xe9, 0xfb, 0x0f, 0xf0, 0xff),            /* jmp S+4 */
	  4, false, 0, 0 },

	{ "lone ret", BYTES(0xc3),                        /* ret */
	  D, 1, 0,
	  BYTES(0xc3,                                     /* ret */
		0xe9, 0xfb, 0x0f, 0xf0, 0xff),            /* jmp S+1 (unreachable) */
	  1, true, 0, 0 },

	{ "int3 padding", BYTES(0xc3,                     /* ret */
				0xcc, 0xcc, 0xcc, 0xcc),  /* int3 x4 */
	  D, 5, 0,
	  BYTES(0xc3, 0xcc, 0xcc, 0xcc, 0xcc,             /* ret; int3 x4 */
		0xe9, 0xfb, 0x0f, 0xf0, 0xff),            /* jmp S+5 */
	  5, true, 0, 0 },

	{ "explicit resume", BYTES(0x55,                  /* push rbp */
				   0x48, 0x89, 0xe5),     /* mov rbp, rsp */
	  D, 1, 0,
	  BYTES(0x55,                                     /* push rbp */
		0xe9, 0xfa, 0x10, 0xf0, 0xff),            /* jmp 0x401100 */
	  1, false, 0, 0x401100 },

	{ "far: absolute continuation", BYTES(0x55,       /* push rbp */
					      0x48, 0x89, 0xe5), /* mov rbp, rsp */
	  FAR, 4, 0,
	  BYTES(0x55,                                     /* push rbp */
		0x48, 0x89, 0xe5,                         /* mov rbp, rsp */
		0xff, 0x25, 0x00, 0x00, 0x00, 0x00,       /* jmp [rip+0] */
		0x04, 0x10, 0x40, 0, 0, 0, 0, 0),         /* dq S+4 */
	  4, false, 0, 0 },

	{ "far: je", BYTES(0x74, 0x05),                   /* je S+7 */
	  FAR, 1, 0,
	  BYTES(0x75, 0x0e,                               /* jne +14 */
		0xff, 0x25, 0x00, 0x00, 0x00, 0x00,       /* jmp [rip+0] */
		0x07, 0x10, 0x40, 0, 0, 0, 0, 0,          /* dq S+7 */
		0xff, 0x25, 0x00, 0x00, 0x00, 0x00,       /* jmp [rip+0] */
		0x02, 0x10, 0x40, 0, 0, 0, 0, 0),         /* dq S+2 */
	  2, false, 0, 0 },

	{ "far: jrcxz", BYTES(0xe3, 0x10),                /* jrcxz S+0x12 */
	  FAR, 1, 0,
	  BYTES(0xe3, 0x02,                               /* jrcxz +2 */
		0xeb, 0x0e,                               /* jmp short +14 */
		0xff, 0x25, 0x00, 0x00, 0x00, 0x00,       /* jmp [rip+0] */
		0x12, 0x10, 0x40, 0, 0, 0, 0, 0,          /* dq S+0x12 */
		0xff, 0x25, 0x00, 0x00, 0x00, 0x00,       /* jmp [rip+0] */
		0x02, 0x10, 0x40, 0, 0, 0, 0, 0),         /* dq S+2 */
	  2, false, 0, 0 },

	{ "far: call rel32", BYTES(0xe8, 0x00, 0x01, 0x00, 0x00), /* call S+0x105 */
	  FAR, 1, 0,
	  BYTES(0xff, 0x35, 0x0e, 0x00, 0x00, 0x00,       /* push qword [rip+14] */
		0xff, 0x25, 0x00, 0x00, 0x00, 0x00,       /* jmp [rip+0] */
		0x05, 0x11, 0x40, 0, 0, 0, 0, 0,          /* dq S+0x105 */
		0x05, 0x10, 0x40, 0, 0, 0, 0, 0,          /* dq S+5 */
		0xff, 0x25, 0x00, 0x00, 0x00, 0x00,       /* jmp [rip+0] */
		0x05, 0x10, 0x40, 0, 0, 0, 0, 0),         /* dq S+5 */
	  5, false, 0, 0 },

	{ "far: call not last", BYTES(0xe8, 0x00, 0x01, 0x00, 0x00, /* call S+0x105 */
				      0x90),              /* nop */
	  FAR, 6, 0,
	  BYTES(0xff, 0x15, 0x02, 0x00, 0x00, 0x00,       /* call [rip+2] */
		0xeb, 0x08,                               /* jmp short +8 (over the literal) */
		0x05, 0x11, 0x40, 0, 0, 0, 0, 0,          /* dq S+0x105 */
		0x90,                                     /* nop */
		0xff, 0x25, 0x00, 0x00, 0x00, 0x00,       /* jmp [rip+0] */
		0x06, 0x10, 0x40, 0, 0, 0, 0, 0),         /* dq S+6 */
	  6, false, 0, 0 },

	{ "far: RIP-relative out of range",
	  BYTES(0x48, 0x8b, 0x05, 0x00, 0x00, 0x00, 0x00), /* mov rax, [rip+0] */
	  FAR, 1, RELOC_E_RANGE, NULL, 0, 0, false, 0, 0 },

	{ "truncated in an instruction", BYTES(0x55,      /* push rbp */
					       0x48, 0x8b, 0x05, 0x00), /* mov rax, [rip+... cut */
	  D, 5, RELOC_E_TRUNCATED, NULL, 0, 0, false, 0, 0 },

	{ "truncated before min_len", BYTES(0xc3),        /* ret, then nothing */
	  D, 5, RELOC_E_TRUNCATED, NULL, 0, 0, false, 0, 0 },

	{ "dst too small", BYTES(0x55, 0x48, 0x89, 0xe5), /* push rbp; mov rbp, rsp */
	  D, 4, RELOC_E_NOSPACE, NULL, 0, 0, false, 8, 0 },

	{ "undecodable", BYTES(0x06),                     /* (push es: invalid in 64-bit) */
	  D, 1, RELOC_E_DECODE, NULL, 0, 0, false, 0, 0 },

	{ "branch into the middle", BYTES(0xeb, 0x01,     /* jmp S+3 */
					  0x48, 0x89, 0xe5), /* mov rbp, rsp (S+3 inside it) */
	  D, 5, RELOC_E_UNSUPPORTED, NULL, 0, 0, false, 0, 0 },

	{ "operand-size jmp", BYTES(0x66, 0xe9, 0x00, 0x00, 0x00, 0x00), /* data16 jmp */
	  D, 1, RELOC_E_UNSUPPORTED, NULL, 0, 0, false, 0, 0 },

	{ "EIP-relative", BYTES(0x67, 0x8b, 0x05, 0x00, 0x00, 0x00, 0x00), /* mov eax, [eip+0] */
	  D, 1, RELOC_E_UNSUPPORTED, NULL, 0, 0, false, 0, 0 },
};

static void hex(const char *label, const uint8_t *p, size_t n, const uint8_t *other,
		size_t other_n)
{
	printf("    %-8s", label);
	for (size_t i = 0; i < n; i++) {
		bool diff = !other || i >= other_n || other[i] != p[i];

		printf(diff ? "[%02x]" : " %02x ", p[i]);
	}
	printf("\n");
}

static void check(bool ok, const char *name, const char *what)
{
	if (ok) {
		n_pass++;
		return;
	}
	n_fail++;
	printf("FAIL %s: %s\n", name, what);
}

static bool map_consistent(const struct reloc_result *r)
{
	if (r->map[0].src_off != 0 || r->map[0].dst_off != 0 ||
	    r->map[r->n_insns].src_off != r->src_len || r->map[r->n_insns].dst_off >= r->dst_len)
		return false;
	for (unsigned i = 0; i < r->n_insns; i++)
		if (r->map[i + 1].src_off <= r->map[i].src_off ||
		    r->map[i + 1].dst_off <= r->map[i].dst_off)
			return false;
	return true;
}

static void run_case(const struct rcase *c)
{
	uint8_t out[256];
	struct reloc_result r;
	size_t cap = c->dst_cap ? c->dst_cap : sizeof(out);
	int rc;

	memset(out, 0xaa, sizeof(out));
	rc = reloc_x86_64(c->in, c->in_len, S, c->min_len, out, cap, c->dst,
			  c->resume ? c->resume : RELOC_RESUME_NEXT, &r);
	if (rc != c->rc) {
		check(false, c->name, "return code");
		printf("    rc %d, expected %d (%s)\n", rc, c->rc, r.err);
		return;
	}
	if (rc < 0) {
		check(r.err[0] != '\0', c->name, "no error message");
		if (getenv("RELOC_VERBOSE"))
			printf("    %s: %s\n", c->name, r.err);
		return;
	}
	if (r.dst_len != c->out_len || memcmp(out, c->out, c->out_len) != 0) {
		check(false, c->name, "output bytes");
		hex("got", out, r.dst_len, c->out, c->out_len);
		hex("expected", c->out, c->out_len, out, r.dst_len);
		return;
	}
	check(r.src_len == c->src_len, c->name, "src_len");
	check(r.ends_flow == c->ends_flow, c->name, "ends_flow");
	check(map_consistent(&r), c->name, "map");
}

/* The map of one case in full: each boundary of "get-pc call" and "loop into the block". */
static void test_maps(void)
{
	static const uint8_t getpc[] = { 0xe8, 0, 0, 0, 0, 0x58 };
	static const uint8_t loop[] = { 0x31, 0xc0, 0x83, 0xc0, 0x03, 0xe2, 0xfb };
	uint8_t out[128];
	struct reloc_result r;

	reloc_x86_64(getpc, sizeof(getpc), S, 6, out, sizeof(out), D, RELOC_RESUME_NEXT, &r);
	check(r.n_insns == 2 && r.map[1].src_off == 5 && r.map[1].dst_off == 19 &&
	      r.map[2].src_off == 6 && r.map[2].dst_off == 20, "map get-pc", "boundaries");
	reloc_x86_64(loop, sizeof(loop), S, 7, out, sizeof(out), D, RELOC_RESUME_NEXT, &r);
	check(r.n_insns == 3 && r.map[1].src_off == 2 && r.map[1].dst_off == 2 &&
	      r.map[2].src_off == 5 && r.map[2].dst_off == 5 &&
	      r.map[3].src_off == 7 && r.map[3].dst_off == 14, "map loop", "boundaries");
}

static void test_insn_len(void)
{
	static const uint8_t mov_rip[] = { 0x48, 0x8b, 0x05, 0, 0, 0, 0 };
	static const uint8_t bad[] = { 0x06 };

	check(reloc_x86_64_insn_len(mov_rip, sizeof(mov_rip)) == 7, "insn_len", "mov rip");
	check(reloc_x86_64_insn_len(mov_rip, 4) == RELOC_E_TRUNCATED, "insn_len", "truncated");
	check(reloc_x86_64_insn_len(mov_rip, 0) == RELOC_E_TRUNCATED, "insn_len", "empty");
	check(reloc_x86_64_insn_len(bad, sizeof(bad)) == RELOC_E_DECODE, "insn_len", "bad");
}

static void test_branches_into(void)
{
	/* A patch covers [A, A+5); the body loops back to A+1 from A+6. */
	static const uint8_t loop_back[] = {
		0x55,                   /* A+0 push rbp */
		0x48, 0x89, 0xe5,       /* A+1 mov rbp, rsp */
		0x90, 0x90,             /* A+4 nop; nop */
		0xeb, 0xf9,             /* A+6 jmp A+1 */
		0xc3,                   /* A+8 ret */
	};
	static const uint8_t to_entry[] = {
		0x55, 0x48, 0x89, 0xe5, 0x90, 0x90,
		0xeb, 0xf8,             /* A+6 jmp A: the entry itself is fine */
		0x74, 0x02,             /* A+8 je A+12: past the patch, fine */
		0xc3, 0xc3,
	};
	static const uint8_t after_data[] = {
		0x55, 0xc3,
		0x06,                   /* not an instruction: the sweep stops here */
		0xeb, 0xfb,             /* would be jmp A+0 ... unreachable for the sweep */
	};
	static const uint8_t inside_patch[] = {
		0x74, 0x01,             /* A+0 je A+3: displaced itself, the relocator's job */
		0x90, 0x90, 0x90, 0xc3,
	};
	static const uint8_t call_in[] = {
		0xc3, 0x90, 0x90, 0x90, 0x90,
		0xe8, 0xf7, 0xff, 0xff, 0xff, /* A+5 call A+1 */
	};
	const uint64_t a = 0x1000;
	uint64_t where = 0;

	check(reloc_x86_64_branches_into(loop_back, sizeof(loop_back), a, a, a + 5, &where) == 1 &&
	      where == a + 6, "branches_into", "loop back");
	check(reloc_x86_64_branches_into(to_entry, sizeof(to_entry), a, a, a + 5, &where) == 0,
	      "branches_into", "to entry / past patch");
	check(reloc_x86_64_branches_into(after_data, sizeof(after_data), a, a, a + 5, &where) == 0,
	      "branches_into", "stops at data");
	check(reloc_x86_64_branches_into(inside_patch, sizeof(inside_patch), a, a, a + 5,
					 &where) == 0, "branches_into", "inside patch");
	check(reloc_x86_64_branches_into(call_in, sizeof(call_in), a, a, a + 5, &where) == 1 &&
	      where == a + 5, "branches_into", "call");
}

/* ---- linking (nx's code cache) ------------------------------------------------------- */

/* The link callback of these cases: S+0x40 is "translated" at D+0x200; an in-block target
 * stays local unless keep_start says the block's start must be left by its original
 * address (a hooked entry that must fault on every pass). */
struct link_case {
	bool keep_start;
	unsigned calls;
};

static uint64_t test_link(void *ctx, uint64_t target, bool inside)
{
	struct link_case *lc = ctx;

	lc->calls++;
	if (inside)
		return lc->keep_start && target == S ? target : RELOC_LINK_LOCAL;
	return target == S + 0x40 ? D + 0x200 : target;
}

static void linked_case(const char *name, const uint8_t *in, size_t in_len, bool keep_start,
			const uint8_t *want, size_t want_len)
{
	struct link_case lc = { .keep_start = keep_start };
	struct reloc_links links = { .link = test_link, .ctx = &lc };
	struct reloc_result r;
	uint8_t out[128];

	int rc = reloc_x86_64_linked(in, in_len, S, in_len, out, sizeof(out), D,
				     RELOC_RESUME_NEXT, &links, &r);
	if (rc < 0) {
		check(false, name, r.err);
		return;
	}
	check(lc.calls == 1, name, "link called once per branch");
	if (r.dst_len != want_len || memcmp(out, want, want_len) != 0) {
		check(false, name, "output bytes");
		hex("got", out, r.dst_len, want, want_len);
		hex("expected", want, want_len, out, r.dst_len);
		return;
	}
	check(map_consistent(&r), name, "map");
}

static void test_linked(void)
{
	/* jne S+0x40, linked to its translation at D+0x200 */
	linked_case("linked jcc", BYTES(0x75, 0x3e), false,
		    BYTES(0x0f, 0x85, 0xfa, 0x01, 0x00, 0x00,    /* jne D+0x200 */
			  0xe9, 0xf7, 0x0f, 0xf0, 0xff));     /* jmp S+2 */
	/* call S+0x40: the callee's translation, still pushing the original S+5 */
	linked_case("linked call", BYTES(0xe8, 0x3b, 0x00, 0x00, 0x00), false,
		    BYTES(0xff, 0x35, 0x05, 0x00, 0x00, 0x00,    /* push [rip -> L] */
			  0xe9, 0xf5, 0x01, 0x00, 0x00,          /* jmp D+0x200 */
			  0x05, 0x10, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, /* L: dq S+5 */
			  0xe9, 0xed, 0x0f, 0xf0, 0xff));     /* jmp S+5 */
	/* add rax, rdi; dec rdi; jnz S: a loop back to the block's start stays local ... */
	linked_case("loop local", BYTES(0x48, 0x01, 0xf8, 0x48, 0xff, 0xcf, 0x75, 0xf8), false,
		    BYTES(0x48, 0x01, 0xf8, 0x48, 0xff, 0xcf,    /* add; dec */
			  0x0f, 0x85, 0xf4, 0xff, 0xff, 0xff,    /* jnz D (the copy) */
			  0xe9, 0xf7, 0x0f, 0xf0, 0xff));     /* jmp S+8 */
	/* ... unless the start is a hooked entry: then it goes to the original S */
	linked_case("loop to entry", BYTES(0x48, 0x01, 0xf8, 0x48, 0xff, 0xcf, 0x75, 0xf8), true,
		    BYTES(0x48, 0x01, 0xf8, 0x48, 0xff, 0xcf,    /* add; dec */
			  0x0f, 0x85, 0xf4, 0x0f, 0xf0, 0xff,    /* jnz S */
			  0xe9, 0xf7, 0x0f, 0xf0, 0xff));     /* jmp S+8 */
}

static void test_insn_info(void)
{
	static const uint8_t ret[] = { 0xc3 };
	static const uint8_t jne[] = { 0x75, 0x3e };
	static const uint8_t mov[] = { 0xb8, 0x01, 0x00, 0x00, 0x00 };
	static const uint8_t call[] = { 0xe8, 0x3b, 0x00, 0x00, 0x00 };
	static const uint8_t sys[] = { 0x0f, 0x05 };
	static const uint8_t jmp_ind[] = { 0xff, 0xe0 };              /* jmp rax */
	struct reloc_insn_info i;

	check(reloc_x86_64_insn_info(ret, 1, S, &i) == 0 && i.len == 1 && i.ends_block &&
	      i.ends_flow && !i.has_target, "insn_info", "ret");
	check(reloc_x86_64_insn_info(jne, 2, S, &i) == 0 && i.len == 2 && i.ends_block &&
	      !i.ends_flow && i.has_target && i.target == S + 0x40, "insn_info", "jne");
	check(reloc_x86_64_insn_info(mov, 5, S, &i) == 0 && i.len == 5 && !i.ends_block,
	      "insn_info", "mov");
	check(reloc_x86_64_insn_info(call, 5, S, &i) == 0 && i.ends_block && !i.ends_flow &&
	      i.has_target && i.target == S + 0x40, "insn_info", "call");
	check(reloc_x86_64_insn_info(sys, 2, S, &i) == 0 && !i.ends_block, "insn_info",
	      "syscall runs inside a block");
	check(reloc_x86_64_insn_info(jmp_ind, 2, S, &i) == 0 && i.ends_block && i.ends_flow &&
	      !i.has_target, "insn_info", "jmp rax");
	check(reloc_x86_64_insn_info(mov, 3, S, &i) == RELOC_E_TRUNCATED, "insn_info",
	      "truncated");
}

/* ---- execution ---------------------------------------------------------------------- */

int xt_value = 1234;
uint64_t xt_seen_ret;
void *xt_fnptr;

int xt_load_global(int);
int xt_jcc(int);
int xt_call_first(int);
int xt_callptr(int);
uint64_t xt_getpc(int);
int xt_loop(int);
int xt_jrcxz(int);
int xt_flags(int);
int xt_helper(int);

/* Each function's first bytes are the hazard; the comments give the byte counts that the
 * min_len values in test_exec() rely on. */
__asm__(
	".text\n"
	".p2align 4\n"
	".globl xt_load_global\n"
	"xt_load_global:\n"
	"	endbr64\n"                      /* 4 */
	"	movl xt_value(%rip), %eax\n"    /* 6: RIP-relative load */
	"	addl %edi, %eax\n"
	"	ret\n"
	".p2align 4\n"
	".globl xt_jcc\n"
	"xt_jcc:\n"
	"	testl %edi, %edi\n"             /* 2 */
	"	je 1f\n"                        /* 2: rel8 */
	"	movl $1, %eax\n"                /* 5 */
	"	ret\n"
	"1:	movl $2, %eax\n"
	"	ret\n"
	".p2align 4\n"
	".globl xt_helper\n"
	"xt_helper:\n"
	"	movq (%rsp), %rax\n"
	"	movq %rax, xt_seen_ret(%rip)\n"
	"	movl $41, %eax\n"
	"	ret\n"
	".p2align 4\n"
	".globl xt_call_first\n"
	"xt_call_first:\n"
	"	call xt_helper\n"               /* 5 */
	"	addl $1, %eax\n"                /* 3 */
	"	ret\n"
	".p2align 4\n"
	".globl xt_callptr\n"
	"xt_callptr:\n"
	"	call *xt_fnptr(%rip)\n"         /* 6 */
	"	addl $1, %eax\n"
	"	ret\n"
	".p2align 4\n"
	".globl xt_getpc\n"
	"xt_getpc:\n"
	"	call 1f\n"                      /* 5 */
	"1:	popq %rax\n"                    /* 1 */
	"	ret\n"
	".p2align 4\n"
	".globl xt_loop\n"
	"xt_loop:\n"
	"	movl %edi, %ecx\n"              /* 2 */
	"	xorl %eax, %eax\n"              /* 2 */
	"1:	addl $3, %eax\n"                /* 3 */
	"	loop 1b\n"                      /* 2: back into the displaced bytes */
	"	ret\n"
	".p2align 4\n"
	".globl xt_jrcxz\n"
	"xt_jrcxz:\n"
	"	movl %edi, %ecx\n"              /* 2 */
	"	jrcxz 1f\n"                     /* 2 */
	"	movl $7, %eax\n"                /* 5 */
	"	ret\n"
	"1:	movl $9, %eax\n"
	"	ret\n"
	".p2align 4\n"
	".globl xt_flags\n"
	"xt_flags:\n"
	"	cmpl $5, %edi\n"                /* 3 */
	"	call xt_ret_only\n"             /* 5: flags must survive the relocated call */
	"	jl 1f\n"
	"	movl $0, %eax\n"
	"	ret\n"
	"1:	movl $1, %eax\n"
	"	ret\n"
	"xt_ret_only:\n"
	"	ret\n");

static uint8_t *near_page, *far_page;
static size_t near_used, far_used;

/* A page within rel32 reach of the test functions: try hints around them. */
static uint8_t *map_near(uint64_t anchor)
{
	for (int64_t k = 1; k < 256; k++) {
		for (int sign = -1; sign <= 1; sign += 2) {
			uint64_t hint = (anchor & ~0xfffull) + (uint64_t)(sign * k * (4 << 20));
			void *p = mmap((void *)hint, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			int64_t d;

			if (p == MAP_FAILED)
				continue;
			d = (int64_t)((uint64_t)p - anchor);
			if (d > -(1ll << 30) && d < (1ll << 30))
				return p;
			munmap(p, 4096);
		}
	}
	return NULL;
}

/* Relocate min_len bytes of fn into the near or far page; NULL (and a failure) on error. */
static void *relocate_fn(const char *name, const void *fn, size_t min_len, bool far)
{
	uint8_t *page = far ? far_page : near_page;
	size_t *used = far ? &far_used : &near_used;
	struct reloc_result r;
	uint8_t *dst = page + *used;
	int rc;

	rc = reloc_x86_64(fn, 64, (uint64_t)(uintptr_t)fn, min_len, dst, 4096 - *used,
			  (uint64_t)(uintptr_t)dst, RELOC_RESUME_NEXT, &r);
	if (rc) {
		check(false, name, "relocation");
		printf("    rc %d: %s\n", rc, r.err);
		return NULL;
	}
	*used += (r.dst_len + 15) & ~(size_t)15;
	return dst;
}

static void exec_int(const char *name, const void *fn, size_t min_len, bool far, int arg,
		     int want)
{
	int (*copy)(int) = (int (*)(int))relocate_fn(name, fn, min_len, far);
	int got;

	if (!copy)
		return;
	got = copy(arg);
	if (got != want)
		printf("    %s(%d) = %d, expected %d\n", name, arg, got, want);
	check(got == want, name, far ? "result (far copy)" : "result");
}

static void test_exec(void)
{
	uint64_t (*getpc)(int);
	int (*copy)(int);

	xt_fnptr = (void *)xt_helper;
	near_page = map_near((uint64_t)(uintptr_t)xt_load_global);
	/* 64 GiB away: every branch out of the far copy needs the absolute forms. */
	far_page = mmap((void *)(((uintptr_t)xt_load_global & ~(uintptr_t)0xfff) + (1ull << 36)),
			4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			0);
	if (!near_page || far_page == MAP_FAILED) {
		check(false, "exec", "cannot map an executable page");
		return;
	}
	{
		uint64_t d = (uint64_t)(uintptr_t)far_page - (uint64_t)(uintptr_t)xt_load_global;

		check((int64_t)d > (1ll << 32) || (int64_t)d < -(1ll << 32), "exec",
		      "far page is not far");
	}

	exec_int("exec rip load", (void *)xt_load_global, 5, false, 6, 1240);
	exec_int("exec je", (void *)xt_jcc, 5, false, 0, 2);
	exec_int("exec je", (void *)xt_jcc, 5, false, 3, 1);
	exec_int("exec je", (void *)xt_jcc, 5, true, 0, 2);
	exec_int("exec je", (void *)xt_jcc, 5, true, 3, 1);
	exec_int("exec jrcxz", (void *)xt_jrcxz, 5, false, 0, 9);
	exec_int("exec jrcxz", (void *)xt_jrcxz, 5, false, 1, 7);
	exec_int("exec jrcxz", (void *)xt_jrcxz, 5, true, 0, 9);
	exec_int("exec jrcxz", (void *)xt_jrcxz, 5, true, 1, 7);
	exec_int("exec loop in block", (void *)xt_loop, 9, false, 4, 12);
	exec_int("exec loop in block", (void *)xt_loop, 9, true, 5, 15);
	exec_int("exec flags across call", (void *)xt_flags, 8, false, 3, 1);
	exec_int("exec flags across call", (void *)xt_flags, 8, true, 7, 0);

	/* The helper must see the original return address, and return into the original. */
	xt_seen_ret = 0;
	exec_int("exec call first", (void *)xt_call_first, 5, false, 0, 42);
	check(xt_seen_ret == (uint64_t)(uintptr_t)xt_call_first + 5, "exec call first",
	      "return address");
	xt_seen_ret = 0;
	exec_int("exec call first", (void *)xt_call_first, 5, true, 0, 42);
	check(xt_seen_ret == (uint64_t)(uintptr_t)xt_call_first + 5, "exec call first",
	      "return address (far)");

	/* Not the last displaced instruction: a real call that returns into the copy. */
	copy = relocate_fn("exec call not last", (void *)xt_call_first, 6, false);
	if (copy) {
		xt_seen_ret = 0;
		check(copy(0) == 42, "exec call not last", "result");
		check(xt_seen_ret == (uint64_t)(uintptr_t)copy + 5, "exec call not last",
		      "returns into the copy");
	}

	xt_seen_ret = 0;
	exec_int("exec call [rip]", (void *)xt_callptr, 5, false, 0, 42);
	check(xt_seen_ret == (uint64_t)(uintptr_t)xt_callptr + 6, "exec call [rip]",
	      "return address");

	getpc = (uint64_t (*)(int))relocate_fn("exec get-pc", (void *)xt_getpc, 6, false);
	if (getpc)
		check(getpc(0) == (uint64_t)(uintptr_t)xt_getpc + 5, "exec get-pc", "result");
	getpc = (uint64_t (*)(int))relocate_fn("exec get-pc", (void *)xt_getpc, 6, true);
	if (getpc)
		check(getpc(0) == (uint64_t)(uintptr_t)xt_getpc + 5, "exec get-pc", "result (far)");

	munmap(near_page, 4096);
	munmap(far_page, 4096);
}

int main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
	test_maps();
	test_insn_len();
	test_branches_into();
	test_linked();
	test_insn_info();
	test_exec();
	printf("%u passed, %u failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
