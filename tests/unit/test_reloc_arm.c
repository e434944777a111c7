/*
 * Table-driven tests of the A32 and Thumb relocators: each case is a byte array of source
 * instructions with the address they were read from, the address the copy will run at,
 * and the exact bytes expected, both annotated with their disassembly (objdump; an inline
 * literal word shows up as whatever instruction its bits happen to spell). A mismatch prints
 * both byte strings. Pure code: runs on every host.
 */
#include <stdio.h>
#include <string.h>

#include "reloc/reloc_arm.h"

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
		.name = "arm_plain", .fn = reloc_arm,
		/* 10000: push {r4, lr} */
		/* 10004: mov r4, r0 */
		.src = { 0x10, 0x40, 0x2d, 0xe9, 0x00, 0x40, 0xa0, 0xe1 }, .src_len = 8,
		.src_addr = 0x10000, .min_len = 8, .dst_addr = 0x20000, .rc = 0, .consumed = 8,
		/* => 20000: push {r4, lr} */
		/* => 20004: mov r4, r0 */
		/* => 20008: b 0x10008 */
		.want = { 0x10, 0x40, 0x2d, 0xe9, 0x00, 0x40, 0xa0, 0xe1, 0xfe, 0xbf, 0xff, 0xea }, .want_len = 12,
	},
	{
		.name = "arm_ldr_lit", .fn = reloc_arm,
		/* 10000: ldr r1, [pc, #8] @ 0x10010 */
		/* 10004: add r0, r0, r1 */
		.src = { 0x08, 0x10, 0x9f, 0xe5, 0x01, 0x00, 0x80, 0xe0 }, .src_len = 8,
		.src_addr = 0x10000, .min_len = 8, .dst_addr = 0x20000, .rc = 0, .consumed = 8,
		/* => 20000: ldr r1, [pc] @ 0x20008 */
		/* => 20004: b 0x2000c */
		/* => 20008: andeq r0, r1, r0, lsl r0 */
		/* => 2000c: ldr r1, [r1] */
		/* => 20010: add r0, r0, r1 */
		/* => 20014: b 0x10008 */
		.want = { 0x00, 0x10, 0x9f, 0xe5, 0x00, 0x00, 0x00, 0xea, 0x10, 0x00, 0x01, 0x00, 0x00, 0x10, 0x91, 0xe5, 0x01, 0x00, 0x80, 0xe0, 0xfb, 0xbf, 0xff, 0xea }, .want_len = 24,
	},
	{
		.name = "arm_ldrne_lit_neg", .fn = reloc_arm,
		/* 10000: ldrne r1, [pc, #-4] @ 0x10004 */
		.src = { 0x04, 0x10, 0x1f, 0x15 }, .src_len = 4,
		.src_addr = 0x10000, .min_len = 4, .dst_addr = 0x20000, .rc = 0, .consumed = 4,
		/* => 20000: ldrne r1, [pc] @ 0x20008 */
		/* => 20004: b 0x2000c */
		/* => 20008: andeq r0, r1, r4 */
		/* => 2000c: ldrne r1, [r1] */
		/* => 20010: b 0x10004 */
		.want = { 0x00, 0x10, 0x9f, 0x15, 0x00, 0x00, 0x00, 0xea, 0x04, 0x00, 0x01, 0x00, 0x00, 0x10, 0x91, 0x15, 0xfb, 0xbf, 0xff, 0xea }, .want_len = 20,
	},
	{
		.name = "arm_ldrb_lit", .fn = reloc_arm,
		/* 10000: ldrb r2, [pc, #16] @ 0x10018 */
		.src = { 0x10, 0x20, 0xdf, 0xe5 }, .src_len = 4,
		.src_addr = 0x10000, .min_len = 4, .dst_addr = 0x20000, .rc = 0, .consumed = 4,
		/* => 20000: ldr r2, [pc] @ 0x20008 */
		/* => 20004: b 0x2000c */
		/* => 20008: andeq r0, r1, r8, lsl r0 */
		/* => 2000c: ldrb r2, [r2] */
		/* => 20010: b 0x10004 */
		.want = { 0x00, 0x20, 0x9f, 0xe5, 0x00, 0x00, 0x00, 0xea, 0x18, 0x00, 0x01, 0x00, 0x00, 0x20, 0xd2, 0xe5, 0xfb, 0xbf, 0xff, 0xea }, .want_len = 20,
	},
	{
		.name = "arm_adr_add", .fn = reloc_arm,
		/* 10000: add r1, pc, #16 */
		.src = { 0x10, 0x10, 0x8f, 0xe2 }, .src_len = 4,
		.src_addr = 0x10000, .min_len = 4, .dst_addr = 0x20000, .rc = 0, .consumed = 4,
		/* => 20000: ldr r1, [pc] @ 0x20008 */
		/* => 20004: b 0x2000c */
		/* => 20008: andeq r0, r1, r8, lsl r0 */
		/* => 2000c: b 0x10004 */
		.want = { 0x00, 0x10, 0x9f, 0xe5, 0x00, 0x00, 0x00, 0xea, 0x18, 0x00, 0x01, 0x00, 0xfc, 0xbf, 0xff, 0xea }, .want_len = 16,
	},
	{
		.name = "arm_adr_sub", .fn = reloc_arm,
		/* 10000: sub r1, pc, #8 */
		.src = { 0x08, 0x10, 0x4f, 0xe2 }, .src_len = 4,
		.src_addr = 0x10000, .min_len = 4, .dst_addr = 0x20000, .rc = 0, .consumed = 4,
		/* => 20000: ldr r1, [pc] @ 0x20008 */
		/* => 20004: b 0x2000c */
		/* => 20008: andeq r0, r1, r0 */
		/* => 2000c: b 0x10004 */
		.want = { 0x00, 0x10, 0x9f, 0xe5, 0x00, 0x00, 0x00, 0xea, 0x00, 0x00, 0x01, 0x00, 0xfc, 0xbf, 0xff, 0xea }, .want_len = 16,
	},
	{
		.name = "arm_b_near", .fn = reloc_arm,
		/* 10000: b 0x10100 */
		.src = { 0x3e, 0x00, 0x00, 0xea }, .src_len = 4,
		.src_addr = 0x10000, .min_len = 4, .dst_addr = 0x20000, .rc = 0, .consumed = 4,
		/* => 20000: b 0x10100 */
		.want = { 0x3e, 0xc0, 0xff, 0xea }, .want_len = 4,
	},
	{
		.name = "arm_b_far", .fn = reloc_arm,
		/* 10000: b 0x10100 */
		.src = { 0x3e, 0x00, 0x00, 0xea }, .src_len = 4,
		.src_addr = 0x10000, .min_len = 4, .dst_addr = 0x7000000, .rc = 0, .consumed = 4,
		/* => 7000000: ldr pc, [pc] @ 0x7000008 */
		/* => 7000004: b 0x700000c */
		/* => 7000008: andeq r0, r1, r0, lsl #2 */
		.want = { 0x00, 0xf0, 0x9f, 0xe5, 0x00, 0x00, 0x00, 0xea, 0x00, 0x01, 0x01, 0x00 }, .want_len = 12,
	},
	{
		.name = "arm_bl_near", .fn = reloc_arm,
		/* 10000: bl 0x10100 */
		.src = { 0x3e, 0x00, 0x00, 0xeb }, .src_len = 4,
		.src_addr = 0x10000, .min_len = 4, .dst_addr = 0x20000, .rc = 0, .consumed = 4,
		/* => 20000: bl 0x10100 */
		/* => 20004: b 0x10004 */
		.want = { 0x3e, 0xc0, 0xff, 0xeb, 0xfe, 0xbf, 0xff, 0xea }, .want_len = 8,
	},
	{
		.name = "arm_bl_far", .fn = reloc_arm,
		/* 10000: bl 0x10100 */
		.src = { 0x3e, 0x00, 0x00, 0xeb }, .src_len = 4,
		.src_addr = 0x10000, .min_len = 4, .dst_addr = 0x7000000, .rc = 0, .consumed = 4,
		/* => 7000000: add lr, pc, #8 */
		/* => 7000004: ldr pc, [pc] @ 0x700000c */
		/* => 7000008: b 0x7000010 */
		/* => 700000c: andeq r0, r1, r0, lsl #2 */
		/* => 7000010: ldr pc, [pc, #-4] @ 0x7000014 */
		/* => 7000014: andeq r0, r1, r4 */
		.want = { 0x08, 0xe0, 0x8f, 0xe2, 0x00, 0xf0, 0x9f, 0xe5, 0x00, 0x00, 0x00, 0xea, 0x00, 0x01, 0x01, 0x00, 0x04, 0xf0, 0x1f, 0xe5, 0x04, 0x00, 0x01, 0x00 }, .want_len = 24,
	},
	{
		.name = "arm_beq_far", .fn = reloc_arm,
		/* 10000: beq 0x10100 */
		.src = { 0x3e, 0x00, 0x00, 0x0a }, .src_len = 4,
		.src_addr = 0x10000, .min_len = 4, .dst_addr = 0x7000000, .rc = 0, .consumed = 4,
		/* => 7000000: ldreq pc, [pc] @ 0x7000008 */
		/* => 7000004: b 0x700000c */
		/* => 7000008: andeq r0, r1, r0, lsl #2 */
		/* => 700000c: ldr pc, [pc, #-4] @ 0x7000010 */
		/* => 7000010: andeq r0, r1, r4 */
		.want = { 0x00, 0xf0, 0x9f, 0x05, 0x00, 0x00, 0x00, 0xea, 0x00, 0x01, 0x01, 0x00, 0x04, 0xf0, 0x1f, 0xe5, 0x04, 0x00, 0x01, 0x00 }, .want_len = 20,
	},
	{
		.name = "arm_blx_imm", .fn = reloc_arm,
		/* 10000: blx 0x10100 */
		.src = { 0x3e, 0x00, 0x00, 0xfa }, .src_len = 4,
		.src_addr = 0x10000, .min_len = 4, .dst_addr = 0x20000, .rc = 0, .consumed = 4,
		/* => 20000: add lr, pc, #8 */
		/* => 20004: ldr pc, [pc] @ 0x2000c */
		/* => 20008: b 0x20010 */
		/* => 2000c: andeq r0, r1, r1, lsl #2 */
		/* => 20010: b 0x10004 */
		.want = { 0x08, 0xe0, 0x8f, 0xe2, 0x00, 0xf0, 0x9f, 0xe5, 0x00, 0x00, 0x00, 0xea, 0x01, 0x01, 0x01, 0x00, 0xfb, 0xbf, 0xff, 0xea }, .want_len = 20,
	},
	{
		.name = "arm_mov_from_pc", .fn = reloc_arm,
		/* 10000: mov r0, pc */
		.src = { 0x0f, 0x00, 0xa0, 0xe1 }, .src_len = 4,
		.src_addr = 0x10000, .min_len = 4, .dst_addr = 0x20000, .rc = -2, .consumed = 0,
	},
	{
		.name = "arm_ldr_pc_lit", .fn = reloc_arm,
		/* 10000: ldr pc, [pc, #-4] @ 0x10004 */
		.src = { 0x04, 0xf0, 0x1f, 0xe5 }, .src_len = 4,
		.src_addr = 0x10000, .min_len = 4, .dst_addr = 0x20000, .rc = -2, .consumed = 0,
	},
	{
		.name = "arm_add_pc_table", .fn = reloc_arm,
		/* 10000: add pc, pc, r0, lsl #2 */
		.src = { 0x00, 0xf1, 0x8f, 0xe0 }, .src_len = 4,
		.src_addr = 0x10000, .min_len = 4, .dst_addr = 0x20000, .rc = -2, .consumed = 0,
	},
	{
		.name = "arm_bx_lr", .fn = reloc_arm,
		/* 10000: bx lr */
		.src = { 0x1e, 0xff, 0x2f, 0xe1 }, .src_len = 4,
		.src_addr = 0x10000, .min_len = 4, .dst_addr = 0x20000, .rc = 0, .consumed = 4,
		/* => 20000: bx lr */
		.want = { 0x1e, 0xff, 0x2f, 0xe1 }, .want_len = 4,
	},
	{
		.name = "arm_bx_lr_short", .fn = reloc_arm,
		/* 10000: bx lr */
		.src = { 0x1e, 0xff, 0x2f, 0xe1 }, .src_len = 4,
		.src_addr = 0x10000, .min_len = 8, .dst_addr = 0x20000, .rc = -5, .consumed = 0,
	},
	{
		.name = "thumb_plain", .fn = reloc_thumb,
		/* 10000: push {r4, lr} */
		/* 10002: mov r4, r0 */
		/* 10004: movs r0, #1 */
		.src = { 0x10, 0xb5, 0x04, 0x46, 0x01, 0x20 }, .src_len = 6,
		.src_addr = 0x10000, .min_len = 4, .dst_addr = 0x20000, .rc = 0, .consumed = 4,
		/* => 20000: push {r4, lr} */
		/* => 20002: mov r4, r0 */
		/* => 20004: b.w 0x10004 */
		.want = { 0x10, 0xb5, 0x04, 0x46, 0xef, 0xf7, 0xfe, 0xbf }, .want_len = 8,
	},
	{
		.name = "thumb_ldr_lit", .fn = reloc_thumb,
		/* 10000: ldr r1, [pc, #8] @ (0x1000c) */
		/* 10002: adds r0, r0, r1 */
		.src = { 0x02, 0x49, 0x40, 0x18 }, .src_len = 4,
		.src_addr = 0x10000, .min_len = 4, .dst_addr = 0x20000, .rc = 0, .consumed = 4,
		/* => 20000: ldr.w r1, [pc, #4] @ 0x20008 */
		/* => 20004: b.n 0x2000c */
		/* => 20006: nop */
		/* => 20008: movs r4, r1 */
		/* => 2000a: movs r1, r0 */
		/* => 2000c: ldr r1, [r1, #0] */
		/* => 2000e: adds r0, r0, r1 */
		/* => 20010: b.w 0x10004 */
		.want = { 0xdf, 0xf8, 0x04, 0x10, 0x02, 0xe0, 0x00, 0xbf, 0x0c, 0x00, 0x01, 0x00, 0x09, 0x68, 0x40, 0x18, 0xef, 0xf7, 0xf8, 0xbf }, .want_len = 20,
	},
	{
		.name = "thumb_ldr_lit_at_2mod4", .fn = reloc_thumb,
		/* 10002: ldr r1, [pc, #4] @ (0x10008) */
		/* 10004: adds r0, r0, r1 */
		.src = { 0x01, 0x49, 0x40, 0x18 }, .src_len = 4,
		.src_addr = 0x10002, .min_len = 4, .dst_addr = 0x20000, .rc = 0, .consumed = 4,
		/* => 20000: ldr.w r1, [pc, #4] @ 0x20008 */
		/* => 20004: b.n 0x2000c */
		/* => 20006: nop */
		/* => 20008: movs r0, r1 */
		/* => 2000a: movs r1, r0 */
		/* => 2000c: ldr r1, [r1, #0] */
		/* => 2000e: adds r0, r0, r1 */
		/* => 20010: b.w 0x10006 */
		.want = { 0xdf, 0xf8, 0x04, 0x10, 0x02, 0xe0, 0x00, 0xbf, 0x08, 0x00, 0x01, 0x00, 0x09, 0x68, 0x40, 0x18, 0xef, 0xf7, 0xf9, 0xbf }, .want_len = 20,
	},
	{
		.name = "thumb_adr", .fn = reloc_thumb,
		/* 10000: add r1, pc, #8 @ (adr r1, 0x1000c) */
		.src = { 0x02, 0xa1 }, .src_len = 2,
		.src_addr = 0x10000, .min_len = 2, .dst_addr = 0x20000, .rc = 0, .consumed = 2,
		/* => 20000: ldr.w r1, [pc, #4] @ 0x20008 */
		/* => 20004: b.n 0x2000c */
		/* => 20006: nop */
		/* => 20008: movs r4, r1 */
		/* => 2000a: movs r1, r0 */
		/* => 2000c: b.w 0x10002 */
		.want = { 0xdf, 0xf8, 0x04, 0x10, 0x02, 0xe0, 0x00, 0xbf, 0x0c, 0x00, 0x01, 0x00, 0xef, 0xf7, 0xf9, 0xbf }, .want_len = 16,
	},
	{
		.name = "thumb_beq_near", .fn = reloc_thumb,
		/* 10000: beq.n 0x10020 */
		.src = { 0x0e, 0xd0 }, .src_len = 2,
		.src_addr = 0x10000, .min_len = 2, .dst_addr = 0x20000, .rc = 0, .consumed = 2,
		/* => 20000: beq.w 0x10020 */
		/* => 20004: b.w 0x10002 */
		.want = { 0x30, 0xf4, 0x0e, 0xa8, 0xef, 0xf7, 0xfd, 0xbf }, .want_len = 8,
	},
	{
		.name = "thumb_beq_far", .fn = reloc_thumb,
		/* 10000: beq.n 0x10020 */
		.src = { 0x0e, 0xd0 }, .src_len = 2,
		.src_addr = 0x10000, .min_len = 2, .dst_addr = 0x3000000, .rc = 0, .consumed = 2,
		/* => 3000000: beq.n 0x3000004 */
		/* => 3000002: b.n 0x300000c */
		/* => 3000004: ldr.w pc, [pc] @ 0x3000008 */
		/* => 3000008: movs r1, r4 */
		/* => 300000a: movs r1, r0 */
		/* => 300000c: ldr.w pc, [pc] @ 0x3000010 */
		/* => 3000010: movs r3, r0 */
		/* => 3000012: movs r1, r0 */
		.want = { 0x00, 0xd0, 0x03, 0xe0, 0xdf, 0xf8, 0x00, 0xf0, 0x21, 0x00, 0x01, 0x00, 0xdf, 0xf8, 0x00, 0xf0, 0x03, 0x00, 0x01, 0x00 }, .want_len = 20,
	},
	{
		.name = "thumb_b", .fn = reloc_thumb,
		/* 10000: b.n 0x10020 */
		.src = { 0x0e, 0xe0 }, .src_len = 2,
		.src_addr = 0x10000, .min_len = 2, .dst_addr = 0x20000, .rc = 0, .consumed = 2,
		/* => 20000: b.w 0x10020 */
		.want = { 0xf0, 0xf7, 0x0e, 0xb8 }, .want_len = 4,
	},
	{
		.name = "thumb_cbz", .fn = reloc_thumb,
		/* 10000: cbz r0, 0x10010 */
		.src = { 0x30, 0xb1 }, .src_len = 2,
		.src_addr = 0x10000, .min_len = 2, .dst_addr = 0x20000, .rc = 0, .consumed = 2,
		/* => 20000: cbz r0, 0x20004 */
		/* => 20002: b.n 0x20008 */
		/* => 20004: b.w 0x10010 */
		/* => 20008: b.w 0x10002 */
		.want = { 0x00, 0xb1, 0x01, 0xe0, 0xf0, 0xf7, 0x04, 0xb8, 0xef, 0xf7, 0xfb, 0xbf }, .want_len = 12,
	},
	{
		.name = "thumb_cbnz_far", .fn = reloc_thumb,
		/* 10000: cbnz r1, 0x10010 */
		.src = { 0x31, 0xb9 }, .src_len = 2,
		.src_addr = 0x10000, .min_len = 2, .dst_addr = 0x3000000, .rc = 0, .consumed = 2,
		/* => 3000000: cbnz r1, 0x3000004 */
		/* => 3000002: b.n 0x300000c */
		/* => 3000004: ldr.w pc, [pc] @ 0x3000008 */
		/* => 3000008: movs r1, r2 */
		/* => 300000a: movs r1, r0 */
		/* => 300000c: ldr.w pc, [pc] @ 0x3000010 */
		/* => 3000010: movs r3, r0 */
		/* => 3000012: movs r1, r0 */
		.want = { 0x01, 0xb9, 0x03, 0xe0, 0xdf, 0xf8, 0x00, 0xf0, 0x11, 0x00, 0x01, 0x00, 0xdf, 0xf8, 0x00, 0xf0, 0x03, 0x00, 0x01, 0x00 }, .want_len = 20,
	},
	{
		.name = "thumb_add_pc", .fn = reloc_thumb,
		/* 10000: add r3, pc */
		.src = { 0x7b, 0x44 }, .src_len = 2,
		.src_addr = 0x10000, .min_len = 2, .dst_addr = 0x20000, .rc = 0, .consumed = 2,
		/* => 20000: ldr.w ip, [pc, #4] @ 0x20008 */
		/* => 20004: b.n 0x2000c */
		/* => 20006: nop */
		/* => 20008: movs r4, r0 */
		/* => 2000a: movs r1, r0 */
		/* => 2000c: add r3, ip */
		/* => 2000e: b.w 0x10002 */
		.want = { 0xdf, 0xf8, 0x04, 0xc0, 0x02, 0xe0, 0x00, 0xbf, 0x04, 0x00, 0x01, 0x00, 0x63, 0x44, 0xef, 0xf7, 0xf8, 0xbf }, .want_len = 18,
	},
	{
		.name = "thumb_mov_from_pc", .fn = reloc_thumb,
		/* 10000: mov r2, pc */
		.src = { 0x7a, 0x46 }, .src_len = 2,
		.src_addr = 0x10000, .min_len = 2, .dst_addr = 0x20000, .rc = 0, .consumed = 2,
		/* => 20000: ldr.w r2, [pc, #4] @ 0x20008 */
		/* => 20004: b.n 0x2000c */
		/* => 20006: nop */
		/* => 20008: movs r4, r0 */
		/* => 2000a: movs r1, r0 */
		/* => 2000c: b.w 0x10002 */
		.want = { 0xdf, 0xf8, 0x04, 0x20, 0x02, 0xe0, 0x00, 0xbf, 0x04, 0x00, 0x01, 0x00, 0xef, 0xf7, 0xf9, 0xbf }, .want_len = 16,
	},
	{
		.name = "thumb_bl_near", .fn = reloc_thumb,
		/* 10000: bl 0x11000 */
		.src = { 0x00, 0xf0, 0xfe, 0xff }, .src_len = 4,
		.src_addr = 0x10000, .min_len = 4, .dst_addr = 0x20000, .rc = 0, .consumed = 4,
		/* => 20000: bl 0x11000 */
		/* => 20004: b.w 0x10004 */
		.want = { 0xf0, 0xf7, 0xfe, 0xff, 0xef, 0xf7, 0xfe, 0xbf }, .want_len = 8,
	},
	{
		.name = "thumb_bl_far", .fn = reloc_thumb,
		/* 10000: bl 0x11000 */
		.src = { 0x00, 0xf0, 0xfe, 0xff }, .src_len = 4,
		.src_addr = 0x10000, .min_len = 4, .dst_addr = 0x3000000, .rc = 0, .consumed = 4,
		/* => 3000000: ldr.w ip, [pc, #4] @ 0x3000008 */
		/* => 3000004: b.n 0x300000c */
		/* => 3000006: nop */
		/* => 3000008: asrs r1, r0, #32 */
		/* => 300000a: movs r1, r0 */
		/* => 300000c: blx ip */
		/* => 300000e: nop */
		/* => 3000010: ldr.w pc, [pc] @ 0x3000014 */
		/* => 3000014: movs r5, r0 */
		/* => 3000016: movs r1, r0 */
		.want = { 0xdf, 0xf8, 0x04, 0xc0, 0x02, 0xe0, 0x00, 0xbf, 0x01, 0x10, 0x01, 0x00, 0xe0, 0x47, 0x00, 0xbf, 0xdf, 0xf8, 0x00, 0xf0, 0x05, 0x00, 0x01, 0x00 }, .want_len = 24,
	},
	{
		.name = "thumb_b_w_far", .fn = reloc_thumb,
		/* 10000: b.w 0x11000 */
		.src = { 0x00, 0xf0, 0xfe, 0xbf }, .src_len = 4,
		.src_addr = 0x10000, .min_len = 4, .dst_addr = 0x3000000, .rc = 0, .consumed = 4,
		/* => 3000000: ldr.w pc, [pc] @ 0x3000004 */
		/* => 3000004: asrs r1, r0, #32 */
		/* => 3000006: movs r1, r0 */
		.want = { 0xdf, 0xf8, 0x00, 0xf0, 0x01, 0x10, 0x01, 0x00 }, .want_len = 8,
	},
	{
		.name = "thumb_beq_w", .fn = reloc_thumb,
		/* 10000: beq.w 0x11000 */
		.src = { 0x00, 0xf0, 0xfe, 0x87 }, .src_len = 4,
		.src_addr = 0x10000, .min_len = 4, .dst_addr = 0x20000, .rc = 0, .consumed = 4,
		/* => 20000: beq.w 0x11000 */
		/* => 20004: b.w 0x10004 */
		.want = { 0x30, 0xf4, 0xfe, 0xaf, 0xef, 0xf7, 0xfe, 0xbf }, .want_len = 8,
	},
	{
		.name = "thumb_ldr_w_lit", .fn = reloc_thumb,
		/* 10000: ldr.w r1, [pc, #16] @ 0x10014 */
		.src = { 0xdf, 0xf8, 0x10, 0x10 }, .src_len = 4,
		.src_addr = 0x10000, .min_len = 4, .dst_addr = 0x20000, .rc = 0, .consumed = 4,
		/* => 20000: ldr.w r1, [pc, #4] @ 0x20008 */
		/* => 20004: b.n 0x2000c */
		/* => 20006: nop */
		/* => 20008: movs r4, r2 */
		/* => 2000a: movs r1, r0 */
		/* => 2000c: ldr.w r1, [r1] */
		/* => 20010: b.w 0x10004 */
		.want = { 0xdf, 0xf8, 0x04, 0x10, 0x02, 0xe0, 0x00, 0xbf, 0x14, 0x00, 0x01, 0x00, 0xd1, 0xf8, 0x00, 0x10, 0xef, 0xf7, 0xf8, 0xbf }, .want_len = 20,
	},
	{
		.name = "thumb_ldrb_w_lit_neg", .fn = reloc_thumb,
		/* 10000: ldrb.w r2, [pc, #-8] @ 0xfffc */
		.src = { 0x1f, 0xf8, 0x08, 0x20 }, .src_len = 4,
		.src_addr = 0x10000, .min_len = 4, .dst_addr = 0x20000, .rc = 0, .consumed = 4,
		/* => 20000: ldr.w r2, [pc, #4] @ 0x20008 */
		/* => 20004: b.n 0x2000c */
		/* => 20006: nop */
		/* => 20008: vrev64.<illegal width 64> d16, d0 */
		/* => 2000c: ldrb.w r2, [r2] */
		/* => 20010: b.w 0x10004 */
		.want = { 0xdf, 0xf8, 0x04, 0x20, 0x02, 0xe0, 0x00, 0xbf, 0xfc, 0xff, 0x00, 0x00, 0x92, 0xf8, 0x00, 0x20, 0xef, 0xf7, 0xf8, 0xbf }, .want_len = 20,
	},
	{
		.name = "thumb_adr_w", .fn = reloc_thumb,
		/* 10000: addw r3, pc, #256 @ 0x100 */
		.src = { 0x0f, 0xf2, 0x00, 0x13 }, .src_len = 4,
		.src_addr = 0x10000, .min_len = 4, .dst_addr = 0x20000, .rc = 0, .consumed = 4,
		/* => 20000: ldr.w r3, [pc, #4] @ 0x20008 */
		/* => 20004: b.n 0x2000c */
		/* => 20006: nop */
		/* => 20008: lsls r4, r0, #4 */
		/* => 2000a: movs r1, r0 */
		/* => 2000c: b.w 0x10004 */
		.want = { 0xdf, 0xf8, 0x04, 0x30, 0x02, 0xe0, 0x00, 0xbf, 0x04, 0x01, 0x01, 0x00, 0xef, 0xf7, 0xfa, 0xbf }, .want_len = 16,
	},
	{
		.name = "thumb_it_block", .fn = reloc_thumb,
		/* 10000: cmp r0, #0 */
		/* 10002: ite eq */
		/* 10004: moveq r0, #5 */
		/* 10006: movne r0, #6 */
		/* 10008: bx lr */
		.src = { 0x00, 0x28, 0x0c, 0xbf, 0x05, 0x20, 0x06, 0x20, 0x70, 0x47 }, .src_len = 10,
		.src_addr = 0x10000, .min_len = 4, .dst_addr = 0x20000, .rc = 0, .consumed = 8,
		/* => 20000: cmp r0, #0 */
		/* => 20002: ite eq */
		/* => 20004: moveq r0, #5 */
		/* => 20006: movne r0, #6 */
		/* => 20008: b.w 0x10008 */
		.want = { 0x00, 0x28, 0x0c, 0xbf, 0x05, 0x20, 0x06, 0x20, 0xef, 0xf7, 0xfe, 0xbf }, .want_len = 12,
	},
	{
		.name = "thumb_it_with_literal", .fn = reloc_thumb,
		/* 10000: cmp r0, #0 */
		/* 10002: it eq */
		/* 10004: ldreq r1, [pc, #4] @ (0x1000c) */
		/* 10006: bx lr */
		.src = { 0x00, 0x28, 0x08, 0xbf, 0x01, 0x49, 0x70, 0x47 }, .src_len = 8,
		.src_addr = 0x10000, .min_len = 4, .dst_addr = 0x20000, .rc = -2, .consumed = 0,
	},
	{
		.name = "thumb_bx_lr_short", .fn = reloc_thumb,
		/* 10000: bx lr */
		.src = { 0x70, 0x47 }, .src_len = 2,
		.src_addr = 0x10000, .min_len = 4, .dst_addr = 0x20000, .rc = -5, .consumed = 0,
	},
	{
		.name = "thumb_tbb_pc", .fn = reloc_thumb,
		/* 10000: tbb [pc, r0] */
		.src = { 0xdf, 0xe8, 0x00, 0xf0 }, .src_len = 4,
		.src_addr = 0x10000, .min_len = 4, .dst_addr = 0x20000, .rc = -2, .consumed = 0,
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
	/* 10000: push {r4, lr}  10004: subs r0, r0, #1  10008: bne 0x10004  1000c: pop {r4, pc} */
	static const uint8_t arm[] = { 0x10, 0x40, 0x2d, 0xe9, 0x01, 0x00, 0x50, 0xe2,
				       0xfd, 0xff, 0xff, 0x1a, 0x10, 0x80, 0xbd, 0xe8 };
	/* 10000: push {r4, lr}  10002: subs r0, #1  10004: bne.n 0x10002  10006: pop {r4, pc} */
	static const uint8_t thumb[] = { 0x10, 0xb5, 0x01, 0x38, 0xfd, 0xd1, 0x10, 0xbd };
	uint64_t where = 0;

	expect(reloc_arm_branches_into(arm, sizeof(arm), 0x10000, 0x10000, 0x10008, &where) == 1 &&
	       where == 0x10008, "arm branches_into", "bne back into the patch");
	expect(reloc_arm_branches_into(arm, sizeof(arm), 0x10000, 0x10000, 0x10004, &where) == 0,
	       "arm branches_into", "4-byte patch is clean");
	expect(reloc_thumb_branches_into(thumb, sizeof(thumb), 0x10000, 0x10000, 0x10008,
					 &where) == 1 && where == 0x10004,
	       "thumb branches_into", "bne.n back into the patch");
	expect(reloc_arm_scan_end(arm, sizeof(arm)) == 16, "arm scan_end", "ends at pop {pc}");
	expect(reloc_thumb_scan_end(thumb, sizeof(thumb)) == 8, "thumb scan_end",
	       "ends at pop {pc}");
}

static void test_jump(void)
{
	uint8_t j[16];

	/* the seed's patch: ldr pc, [pc, #-4]; .word 0x12345679 (a Thumb destination) */
	expect(reloc_arm_jump(j, sizeof(j), 0x10000, 0x12345679) == 8 &&
	       memcmp(j, "\x04\xf0\x1f\xe5\x79\x56\x34\x12", 8) == 0, "arm jump", "LDR PC form");
	/* 10000: b 0x10100 */
	expect(reloc_arm_jump(j, sizeof(j), 0x10000, 0x10100) == 4 &&
	       memcmp(j, "\x3e\x00\x00\xea", 4) == 0, "arm jump", "near B");
	/* at 2 mod 4: nop; ldr.w pc, [pc, #0]; .word 0x20001 */
	expect(reloc_thumb_jump(j, sizeof(j), 0x10002, 0x20001, true) == 10 &&
	       memcmp(j, "\x00\xbf\xdf\xf8\x00\xf0\x01\x00\x02\x00", 10) == 0, "thumb jump",
	       "NOP-aligned LDR.W PC");
	/* 10000: b.w 0x11000 */
	expect(reloc_thumb_jump(j, sizeof(j), 0x10000, 0x11001, false) == 4 &&
	       memcmp(j, "\x00\xf0\xfe\xbf", 4) == 0, "thumb jump", "near B.W");
	expect(reloc_thumb_jump(j, 8, 0x10002, 0x20001, true) == 0, "thumb jump", "no room");
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
