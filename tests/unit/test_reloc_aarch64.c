/*
 * Table-driven tests of the AArch64 relocator: each case is a byte array of source
 * instructions with the address they were read from, the address the copy will run at,
 * and the exact bytes expected, both annotated with their disassembly (objdump; the two
 * words of an inline 64-bit literal show up as ".inst" and "udf"). A mismatch prints
 * both byte strings. Pure code: runs on every host.
 */
#include <stdio.h>
#include <string.h>

#include "reloc/reloc_aarch64.h"

typedef int (*reloc_fn)(const uint8_t *, size_t, uint64_t, size_t, uint8_t *, size_t,
			uint64_t, uint64_t, struct reloc_result *);

struct reloc_case {
	const char *name;
	reloc_fn fn;
	uint8_t src[32];
	size_t src_len;
	uint64_t src_addr, dst_addr;
	size_t min_len;
	int rc;
	size_t consumed;
	uint8_t want[64];
	size_t want_len;
};

static const struct reloc_case cases[] = {
	{
		.name = "plain_stp", .fn = reloc_aarch64,
		/* 400000: stp x29, x30, [sp, #-16]! */
		/* 400004: mov x29, sp */
		.src = { 0xfd, 0x7b, 0xbf, 0xa9, 0xfd, 0x03, 0x00, 0x91 }, .src_len = 8,
		.src_addr = 0x400000, .min_len = 4, .dst_addr = 0x410000, .rc = 0, .consumed = 4,
		/* => 410000: stp x29, x30, [sp, #-16]! */
		/* => 410004: b 0x400004 */
		.want = { 0xfd, 0x7b, 0xbf, 0xa9, 0x00, 0xc0, 0xff, 0x17 }, .want_len = 8,
	},
	{
		.name = "adrp_near", .fn = reloc_aarch64,
		/* 400000: adrp x0, 0x401000 */
		.src = { 0x00, 0x00, 0x00, 0xb0 }, .src_len = 4,
		.src_addr = 0x400000, .min_len = 4, .dst_addr = 0x410000, .rc = 0, .consumed = 4,
		/* => 410000: adrp x0, 0x401000 */
		/* => 410004: b 0x400004 */
		.want = { 0x80, 0xff, 0xff, 0xb0, 0x00, 0xc0, 0xff, 0x17 }, .want_len = 8,
	},
	{
		.name = "adrp_far", .fn = reloc_aarch64,
		/* 400000: adrp x0, 0x401000 */
		.src = { 0x00, 0x00, 0x00, 0xb0 }, .src_len = 4,
		.src_addr = 0x400000, .min_len = 4, .dst_addr = 0x7f0000000000, .rc = 0, .consumed = 4,
		/* => 7f0000000000: ldr x0, 0x7f0000000008 */
		/* => 7f0000000004: b 0x7f0000000010 */
		/* => 7f0000000008: .inst 0x00401000 */
		/* => 7f000000000c: udf #0 */
		/* => 7f0000000010: ldr x16, 0x7f0000000018 */
		/* => 7f0000000014: br x16 */
		/* => 7f0000000018: .inst 0x00400004 */
		/* => 7f000000001c: udf #0 */
		.want = { 0x40, 0x00, 0x00, 0x58, 0x03, 0x00, 0x00, 0x14, 0x00, 0x10, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x50, 0x00, 0x00, 0x58, 0x00, 0x02, 0x1f, 0xd6, 0x04, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00 }, .want_len = 32,
	},
	{
		.name = "adr_near", .fn = reloc_aarch64,
		/* 400000: adr x1, 0x400020 */
		.src = { 0x01, 0x01, 0x00, 0x10 }, .src_len = 4,
		.src_addr = 0x400000, .min_len = 4, .dst_addr = 0x410000, .rc = 0, .consumed = 4,
		/* => 410000: adr x1, 0x400020 */
		/* => 410004: b 0x400004 */
		.want = { 0x01, 0x01, 0xf8, 0x10, 0x00, 0xc0, 0xff, 0x17 }, .want_len = 8,
	},
	{
		.name = "adr_far", .fn = reloc_aarch64,
		/* 400000: adr x1, 0x400020 */
		.src = { 0x01, 0x01, 0x00, 0x10 }, .src_len = 4,
		.src_addr = 0x400000, .min_len = 4, .dst_addr = 0x7f0000000000, .rc = 0, .consumed = 4,
		/* => 7f0000000000: ldr x1, 0x7f0000000008 */
		/* => 7f0000000004: b 0x7f0000000010 */
		/* => 7f0000000008: .inst 0x00400020 */
		/* => 7f000000000c: udf #0 */
		/* => 7f0000000010: ldr x16, 0x7f0000000018 */
		/* => 7f0000000014: br x16 */
		/* => 7f0000000018: .inst 0x00400004 */
		/* => 7f000000001c: udf #0 */
		.want = { 0x41, 0x00, 0x00, 0x58, 0x03, 0x00, 0x00, 0x14, 0x20, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x50, 0x00, 0x00, 0x58, 0x00, 0x02, 0x1f, 0xd6, 0x04, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00 }, .want_len = 32,
	},
	{
		.name = "ldr_x_near", .fn = reloc_aarch64,
		/* 400000: ldr x1, 0x400010 */
		.src = { 0x81, 0x00, 0x00, 0x58 }, .src_len = 4,
		.src_addr = 0x400000, .min_len = 4, .dst_addr = 0x410000, .rc = 0, .consumed = 4,
		/* => 410000: ldr x1, 0x400010 */
		/* => 410004: b 0x400004 */
		.want = { 0x81, 0x00, 0xf8, 0x58, 0x00, 0xc0, 0xff, 0x17 }, .want_len = 8,
	},
	{
		.name = "ldr_x_far", .fn = reloc_aarch64,
		/* 400000: ldr x1, 0x400010 */
		.src = { 0x81, 0x00, 0x00, 0x58 }, .src_len = 4,
		.src_addr = 0x400000, .min_len = 4, .dst_addr = 0x7f0000000000, .rc = 0, .consumed = 4,
		/* => 7f0000000000: ldr x1, 0x7f0000000008 */
		/* => 7f0000000004: b 0x7f0000000010 */
		/* => 7f0000000008: .inst 0x00400010 */
		/* => 7f000000000c: udf #0 */
		/* => 7f0000000010: ldr x1, [x1] */
		/* => 7f0000000014: ldr x16, 0x7f000000001c */
		/* => 7f0000000018: br x16 */
		/* => 7f000000001c: .inst 0x00400004 */
		/* => 7f0000000020: udf #0 */
		.want = { 0x41, 0x00, 0x00, 0x58, 0x03, 0x00, 0x00, 0x14, 0x10, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x21, 0x00, 0x40, 0xf9, 0x50, 0x00, 0x00, 0x58, 0x00, 0x02, 0x1f, 0xd6, 0x04, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00 }, .want_len = 36,
	},
	{
		.name = "ldr_d_far", .fn = reloc_aarch64,
		/* 400000: ldr d0, 0x400010 */
		.src = { 0x80, 0x00, 0x00, 0x5c }, .src_len = 4,
		.src_addr = 0x400000, .min_len = 4, .dst_addr = 0x7f0000000000, .rc = 0, .consumed = 4,
		/* => 7f0000000000: ldr x17, 0x7f0000000008 */
		/* => 7f0000000004: b 0x7f0000000010 */
		/* => 7f0000000008: .inst 0x00400010 */
		/* => 7f000000000c: udf #0 */
		/* => 7f0000000010: ldr d0, [x17] */
		/* => 7f0000000014: ldr x16, 0x7f000000001c */
		/* => 7f0000000018: br x16 */
		/* => 7f000000001c: .inst 0x00400004 */
		/* => 7f0000000020: udf #0 */
		.want = { 0x51, 0x00, 0x00, 0x58, 0x03, 0x00, 0x00, 0x14, 0x10, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x02, 0x40, 0xfd, 0x50, 0x00, 0x00, 0x58, 0x00, 0x02, 0x1f, 0xd6, 0x04, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00 }, .want_len = 36,
	},
	{
		.name = "ldrsw_far", .fn = reloc_aarch64,
		/* 400000: ldrsw x2, 0x400010 */
		.src = { 0x82, 0x00, 0x00, 0x98 }, .src_len = 4,
		.src_addr = 0x400000, .min_len = 4, .dst_addr = 0x7f0000000000, .rc = 0, .consumed = 4,
		/* => 7f0000000000: ldr x2, 0x7f0000000008 */
		/* => 7f0000000004: b 0x7f0000000010 */
		/* => 7f0000000008: .inst 0x00400010 */
		/* => 7f000000000c: udf #0 */
		/* => 7f0000000010: ldrsw x2, [x2] */
		/* => 7f0000000014: ldr x16, 0x7f000000001c */
		/* => 7f0000000018: br x16 */
		/* => 7f000000001c: .inst 0x00400004 */
		/* => 7f0000000020: udf #0 */
		.want = { 0x42, 0x00, 0x00, 0x58, 0x03, 0x00, 0x00, 0x14, 0x10, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x42, 0x00, 0x80, 0xb9, 0x50, 0x00, 0x00, 0x58, 0x00, 0x02, 0x1f, 0xd6, 0x04, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00 }, .want_len = 36,
	},
	{
		.name = "prfm_far", .fn = reloc_aarch64,
		/* 400000: prfm pldl1keep, 0x400010 */
		.src = { 0x80, 0x00, 0x00, 0xd8 }, .src_len = 4,
		.src_addr = 0x400000, .min_len = 4, .dst_addr = 0x7f0000000000, .rc = 0, .consumed = 4,
		/* => 7f0000000000: nop */
		/* => 7f0000000004: ldr x16, 0x7f000000000c */
		/* => 7f0000000008: br x16 */
		/* => 7f000000000c: .inst 0x00400004 */
		/* => 7f0000000010: udf #0 */
		.want = { 0x1f, 0x20, 0x03, 0xd5, 0x50, 0x00, 0x00, 0x58, 0x00, 0x02, 0x1f, 0xd6, 0x04, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00 }, .want_len = 20,
	},
	{
		.name = "b_near", .fn = reloc_aarch64,
		/* 400000: b 0x400100 */
		.src = { 0x40, 0x00, 0x00, 0x14 }, .src_len = 4,
		.src_addr = 0x400000, .min_len = 4, .dst_addr = 0x410000, .rc = 0, .consumed = 4,
		/* => 410000: b 0x400100 */
		.want = { 0x40, 0xc0, 0xff, 0x17 }, .want_len = 4,
	},
	{
		.name = "b_far", .fn = reloc_aarch64,
		/* 400000: b 0x400100 */
		.src = { 0x40, 0x00, 0x00, 0x14 }, .src_len = 4,
		.src_addr = 0x400000, .min_len = 4, .dst_addr = 0x7f0000000000, .rc = 0, .consumed = 4,
		/* => 7f0000000000: ldr x16, 0x7f0000000008 */
		/* => 7f0000000004: br x16 */
		/* => 7f0000000008: .inst 0x00400100 */
		/* => 7f000000000c: udf #0 */
		.want = { 0x50, 0x00, 0x00, 0x58, 0x00, 0x02, 0x1f, 0xd6, 0x00, 0x01, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00 }, .want_len = 16,
	},
	{
		.name = "bl_near", .fn = reloc_aarch64,
		/* 400000: bl 0x400100 */
		.src = { 0x40, 0x00, 0x00, 0x94 }, .src_len = 4,
		.src_addr = 0x400000, .min_len = 4, .dst_addr = 0x410000, .rc = 0, .consumed = 4,
		/* => 410000: bl 0x400100 */
		/* => 410004: b 0x400004 */
		.want = { 0x40, 0xc0, 0xff, 0x97, 0x00, 0xc0, 0xff, 0x17 }, .want_len = 8,
	},
	{
		.name = "bl_far", .fn = reloc_aarch64,
		/* 400000: bl 0x400100 */
		.src = { 0x40, 0x00, 0x00, 0x94 }, .src_len = 4,
		.src_addr = 0x400000, .min_len = 4, .dst_addr = 0x7f0000000000, .rc = 0, .consumed = 4,
		/* => 7f0000000000: ldr x16, 0x7f000000000c */
		/* => 7f0000000004: blr x16 */
		/* => 7f0000000008: b 0x7f0000000014 */
		/* => 7f000000000c: .inst 0x00400100 */
		/* => 7f0000000010: udf #0 */
		/* => 7f0000000014: ldr x16, 0x7f000000001c */
		/* => 7f0000000018: br x16 */
		/* => 7f000000001c: .inst 0x00400004 */
		/* => 7f0000000020: udf #0 */
		.want = { 0x70, 0x00, 0x00, 0x58, 0x00, 0x02, 0x3f, 0xd6, 0x03, 0x00, 0x00, 0x14, 0x00, 0x01, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x50, 0x00, 0x00, 0x58, 0x00, 0x02, 0x1f, 0xd6, 0x04, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00 }, .want_len = 36,
	},
	{
		.name = "beq_near", .fn = reloc_aarch64,
		/* 400000: b.eq 0x400040 */
		.src = { 0x00, 0x02, 0x00, 0x54 }, .src_len = 4,
		.src_addr = 0x400000, .min_len = 4, .dst_addr = 0x410000, .rc = 0, .consumed = 4,
		/* => 410000: b.eq 0x400040 */
		/* => 410004: b 0x400004 */
		.want = { 0x00, 0x02, 0xf8, 0x54, 0x00, 0xc0, 0xff, 0x17 }, .want_len = 8,
	},
	{
		.name = "beq_far", .fn = reloc_aarch64,
		/* 400000: b.eq 0x400040 */
		.src = { 0x00, 0x02, 0x00, 0x54 }, .src_len = 4,
		.src_addr = 0x400000, .min_len = 4, .dst_addr = 0x7f0000000000, .rc = 0, .consumed = 4,
		/* => 7f0000000000: b.eq 0x7f0000000008 */
		/* => 7f0000000004: b 0x7f0000000018 */
		/* => 7f0000000008: ldr x16, 0x7f0000000010 */
		/* => 7f000000000c: br x16 */
		/* => 7f0000000010: .inst 0x00400040 */
		/* => 7f0000000014: udf #0 */
		/* => 7f0000000018: ldr x16, 0x7f0000000020 */
		/* => 7f000000001c: br x16 */
		/* => 7f0000000020: .inst 0x00400004 */
		/* => 7f0000000024: udf #0 */
		.want = { 0x40, 0x00, 0x00, 0x54, 0x05, 0x00, 0x00, 0x14, 0x50, 0x00, 0x00, 0x58, 0x00, 0x02, 0x1f, 0xd6, 0x40, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x50, 0x00, 0x00, 0x58, 0x00, 0x02, 0x1f, 0xd6, 0x04, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00 }, .want_len = 40,
	},
	{
		.name = "cbz_far", .fn = reloc_aarch64,
		/* 400000: cbz w0, 0x400010 */
		.src = { 0x80, 0x00, 0x00, 0x34 }, .src_len = 4,
		.src_addr = 0x400000, .min_len = 4, .dst_addr = 0x7f0000000000, .rc = 0, .consumed = 4,
		/* => 7f0000000000: cbz w0, 0x7f0000000008 */
		/* => 7f0000000004: b 0x7f0000000018 */
		/* => 7f0000000008: ldr x16, 0x7f0000000010 */
		/* => 7f000000000c: br x16 */
		/* => 7f0000000010: .inst 0x00400010 */
		/* => 7f0000000014: udf #0 */
		/* => 7f0000000018: ldr x16, 0x7f0000000020 */
		/* => 7f000000001c: br x16 */
		/* => 7f0000000020: .inst 0x00400004 */
		/* => 7f0000000024: udf #0 */
		.want = { 0x40, 0x00, 0x00, 0x34, 0x05, 0x00, 0x00, 0x14, 0x50, 0x00, 0x00, 0x58, 0x00, 0x02, 0x1f, 0xd6, 0x10, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x50, 0x00, 0x00, 0x58, 0x00, 0x02, 0x1f, 0xd6, 0x04, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00 }, .want_len = 40,
	},
	{
		.name = "tbnz_near", .fn = reloc_aarch64,
		/* 400000: tbnz w0, #1, 0x400010 */
		.src = { 0x80, 0x00, 0x08, 0x37 }, .src_len = 4,
		.src_addr = 0x400000, .min_len = 4, .dst_addr = 0x401000, .rc = 0, .consumed = 4,
		/* => 401000: tbnz w0, #1, 0x400010 */
		/* => 401004: b 0x400004 */
		.want = { 0x80, 0x80, 0x0f, 0x37, 0x00, 0xfc, 0xff, 0x17 }, .want_len = 8,
	},
	{
		.name = "tbnz_far", .fn = reloc_aarch64,
		/* 400000: tbnz w0, #1, 0x400010 */
		.src = { 0x80, 0x00, 0x08, 0x37 }, .src_len = 4,
		.src_addr = 0x400000, .min_len = 4, .dst_addr = 0x410000, .rc = 0, .consumed = 4,
		/* => 410000: tbnz w0, #1, 0x410008 */
		/* => 410004: b 0x410018 */
		/* => 410008: ldr x16, 0x410010 */
		/* => 41000c: br x16 */
		/* => 410010: .inst 0x00400010 */
		/* => 410014: udf #0 */
		/* => 410018: b 0x400004 */
		.want = { 0x40, 0x00, 0x08, 0x37, 0x05, 0x00, 0x00, 0x14, 0x50, 0x00, 0x00, 0x58, 0x00, 0x02, 0x1f, 0xd6, 0x10, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0xfb, 0xbf, 0xff, 0x17 }, .want_len = 28,
	},
	{
		.name = "ret_only", .fn = reloc_aarch64,
		/* 400000: ret */
		/* 400004: nop */
		.src = { 0xc0, 0x03, 0x5f, 0xd6, 0x1f, 0x20, 0x03, 0xd5 }, .src_len = 8,
		.src_addr = 0x400000, .min_len = 4, .dst_addr = 0x410000, .rc = 0, .consumed = 4,
		/* => 410000: ret */
		.want = { 0xc0, 0x03, 0x5f, 0xd6 }, .want_len = 4,
	},
	{
		.name = "ret_too_short", .fn = reloc_aarch64,
		/* 400000: ret */
		/* 400004: nop */
		.src = { 0xc0, 0x03, 0x5f, 0xd6, 0x1f, 0x20, 0x03, 0xd5 }, .src_len = 8,
		.src_addr = 0x400000, .min_len = 8, .dst_addr = 0x410000, .rc = -5, .consumed = 0,
	},
	{
		.name = "paciasp_16", .fn = reloc_aarch64,
		/* 400000: paciasp */
		/* 400004: stp x29, x30, [sp, #-16]! */
		/* 400008: mov x29, sp */
		/* 40000c: nop */
		.src = { 0x3f, 0x23, 0x03, 0xd5, 0xfd, 0x7b, 0xbf, 0xa9, 0xfd, 0x03, 0x00, 0x91, 0x1f, 0x20, 0x03, 0xd5 }, .src_len = 16,
		.src_addr = 0x400000, .min_len = 16, .dst_addr = 0x7f0000000000, .rc = 0, .consumed = 16,
		/* => 7f0000000000: paciasp */
		/* => 7f0000000004: stp x29, x30, [sp, #-16]! */
		/* => 7f0000000008: mov x29, sp */
		/* => 7f000000000c: nop */
		/* => 7f0000000010: ldr x16, 0x7f0000000018 */
		/* => 7f0000000014: br x16 */
		/* => 7f0000000018: .inst 0x00400010 */
		/* => 7f000000001c: udf #0 */
		.want = { 0x3f, 0x23, 0x03, 0xd5, 0xfd, 0x7b, 0xbf, 0xa9, 0xfd, 0x03, 0x00, 0x91, 0x1f, 0x20, 0x03, 0xd5, 0x50, 0x00, 0x00, 0x58, 0x00, 0x02, 0x1f, 0xd6, 0x10, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00 }, .want_len = 32,
	},
	{
		.name = "truncated", .fn = reloc_aarch64,
		/* 400000: stp x29, x30, [sp, #-16]! */
		.src = { 0xfd, 0x7b, 0xbf, 0xa9, 0xfd, 0x03 }, .src_len = 6,
		.src_addr = 0x400000, .min_len = 8, .dst_addr = 0x410000, .rc = -5, .consumed = 0,
	},

};

static int passed, failed;

static void expect(int ok, const char *name, const char *what)
{
	if (ok) {
		passed++;
	} else {
		failed++;
		printf("FAIL %s: %s\n", name, what);
	}
}

static void hex(const char *label, const uint8_t *b, size_t n)
{
	printf("  %s:", label);
	for (size_t i = 0; i < n; i++)
		printf(" %02x", b[i]);
	printf("\n");
}

static void run_case(const struct reloc_case *c)
{
	uint8_t dst[128];
	struct reloc_result res;
	int rc = c->fn(c->src, c->src_len, c->src_addr, c->min_len, dst, sizeof(dst),
		       c->dst_addr, RELOC_RESUME_NEXT, &res);

	expect(rc == c->rc, c->name, "return code");
	if (rc != c->rc)
		printf("  rc %d, wanted %d (%s)\n", rc, c->rc, res.err);
	if (rc < 0 || c->rc < 0) {
		expect(rc >= 0 || res.err[0], c->name, "an error message");
		return;
	}
	expect(res.src_len == c->consumed, c->name, "bytes consumed");
	expect(res.dst_len == c->want_len && memcmp(dst, c->want, c->want_len) == 0, c->name,
	       "output bytes");
	if (res.dst_len != c->want_len || memcmp(dst, c->want, c->want_len) != 0) {
		hex("got ", dst, res.dst_len);
		hex("want", c->want, c->want_len);
	}
	/* the copy is too small by one byte: must fail cleanly, never overrun */
	rc = c->fn(c->src, c->src_len, c->src_addr, c->min_len, dst, c->want_len - 1,
		   c->dst_addr, RELOC_RESUME_NEXT, &res);
	expect(rc == RELOC_E_NOSPACE, c->name, "NOSPACE when dst is one byte short");
}

static void test_branches_into(void)
{
	/* 400000: stp x29, x30, [sp, #-16]!   400004: mov x29, sp
	 * 400008: cbnz w0, 0x400004 (into the first 16 bytes)  40000c: ret */
	static const uint8_t code[] = { 0xfd, 0x7b, 0xbf, 0xa9, 0xfd, 0x03, 0x00, 0x91,
					0xe0, 0xff, 0xff, 0x35, 0xc0, 0x03, 0x5f, 0xd6 };
	uint64_t where = 0;

	expect(reloc_aarch64_branches_into(code, sizeof(code), 0x400000, 0x400000, 0x400010,
					   &where) == 1 && where == 0x400008, "branches_into", "cbnz back");
	expect(reloc_aarch64_branches_into(code, sizeof(code), 0x400000, 0x400000, 0x400004,
					   &where) == 0, "branches_into", "4-byte patch is clean");
	expect(reloc_aarch64_scan_end(code, sizeof(code)) == 16, "scan_end", "ends at ret");
}

static void test_jump(void)
{
	uint8_t j[16];

	/* 400000: b 0x400100 */
	expect(reloc_aarch64_jump(j, sizeof(j), 0x400000, 0x400100) == 4 &&
	       memcmp(j, "\x40\x00\x00\x14", 4) == 0, "jump", "near B");
	/* ldr x16, #8; br x16; .quad 0x7f0000000000 */
	expect(reloc_aarch64_jump(j, sizeof(j), 0x400000, 0x7f0000000000ull) == 16 &&
	       memcmp(j, "\x50\x00\x00\x58\x00\x02\x1f\xd6\x00\x00\x00\x00\x00\x7f\x00\x00", 16) == 0,
	       "jump", "far LDR X16/BR X16");
	expect(reloc_aarch64_jump(j, 8, 0x400000, 0x7f0000000000ull) == 0, "jump", "no room");
}

int main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
	test_branches_into();
	test_jump();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
