/*
 * 32-bit ARM hazard functions for test_patch.c, in ARM and in Thumb code: PC-relative
 * loads (LDR literal, LDR.W literal, ADR), functions shorter than the 8-byte patch (they
 * get a short branch to a relay), a Thumb entry at 2 mod 4 (NOP-aligned literal), an IT
 * block inside the patch, a CBZ whose target the long patch would cover, and a lone
 * Thumb `bx lr` that nothing fits into (refused).
 */
	.syntax unified
	.data
	.p2align 2
hz_ts:
	.word 2, 0                     /* two seconds */

	.text
#define AFUNC(n) .global n; .type n, %function; .arm; .p2align 2; n:
#define TFUNC(n) .global n; .type n, %function; .thumb; .thumb_func; n:
#define END(n) .size n, .-n

AFUNC(hz_arm_ldr_lit)
	ldr r1, 1f
	add r0, r0, r1
	bx lr
1:	.word 1000
END(hz_arm_ldr_lit)

AFUNC(hz_arm_short)
	add r0, r0, #1
	bx lr
END(hz_arm_short)

AFUNC(hz_arm_bx)
	bx lr
END(hz_arm_bx)

AFUNC(hz_arm_adr)
	adr r1, 1f
	ldr r0, [r1]
	bx lr
1:	.word 77
END(hz_arm_adr)

	.p2align 2
TFUNC(hz_t_ldr_lit)
	ldr r1, 1f
	adds r0, r0, r1
	bx lr
	.p2align 2
1:	.word 1000
END(hz_t_ldr_lit)

	.p2align 2
	nop                     /* puts the next entry at 2 mod 4 */
TFUNC(hz_t_unaligned)
	adds r0, #1
	adds r0, #2
	adds r0, #3
	adds r0, #4
	adds r0, #5
	bx lr
END(hz_t_unaligned)

	.p2align 2
TFUNC(hz_t_short)
	adds r0, #1
	bx lr
END(hz_t_short)

	.p2align 2
TFUNC(hz_t_it)
	cmp r0, #0
	ite eq
	moveq r0, #5
	movne r0, #6
	bx lr
END(hz_t_it)

	.p2align 2
TFUNC(hz_t_cbz)
	cbz r0, 1f
	movs r0, #1
	bx lr
1:	movs r0, #2
	bx lr
END(hz_t_cbz)

	.p2align 2
TFUNC(hz_t_ret)
	bx lr
END(hz_t_ret)

	.p2align 2
TFUNC(hz_t_ldrw_lit)
	ldr.w r1, 1f
	adds r0, r0, r1
	bx lr
	.p2align 2
1:	.word 1000
END(hz_t_ldrw_lit)
	.p2align 2
TFUNC(hz_sleep_entry)          /* svc first: a thread blocked in it has PC at +2 */
	svc #0
	nop
	nop
	nop
	bx lr
END(hz_sleep_entry)

	.p2align 2
TFUNC(hz_call_sleep)           /* nanosleep(2 s) made from inside hz_sleep_entry */
	push {r7, lr}
	movs r7, #162
	ldr r0, =hz_ts
	movs r1, #0
	bl hz_sleep_entry
	pop {r7, pc}
	.ltorg
END(hz_call_sleep)
	.section .note.GNU-stack,"",%progbits
