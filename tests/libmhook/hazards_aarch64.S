/*
 * AArch64 hazard functions for test_patch.c: each puts one PC-relative instruction (or a
 * landing pad, or nothing at all) where the patch goes. Values returned are checked by
 * the C side: unpatched, through the replacement, and through the trampoline.
 */
	.data
	.p2align 2
hz_data:
	.word 1000

	.text
#define FUNC(n) .global n; .type n, %function; .p2align 2; n:
#define END(n) .size n, .-n

FUNC(hz_adrp)                  /* ADRP first: page-relative, re-encoded or rebuilt */
	adrp x1, hz_data
	ldr w1, [x1, :lo12:hz_data]
	add w0, w0, w1
	ret
END(hz_adrp)

FUNC(hz_cbz)                   /* CBZ first: the target lies past the patch */
	cbz w0, 1f
	mov w0, #1
	ret
1:	mov w0, #2
	ret
END(hz_cbz)

FUNC(hz_ldr_lit)               /* LDR literal first: the literal stays in place */
	ldr x1, 1f
	add x0, x0, x1
	ret
	.p2align 3
1:	.quad 1000
END(hz_ldr_lit)

FUNC(hz_bti)                   /* BTI c stays at the entry, the patch goes after it */
	hint #34
	add w0, w0, #7
	ret
END(hz_bti)

FUNC(hz_ret_only)              /* a lone RET: a 4-byte B fits exactly */
	ret
END(hz_ret_only)

FUNC(hz_tbz)                   /* TBNZ first: 14-bit reach */
	tbnz w0, #1, 1f
	mov w0, #10
	ret
1:	mov w0, #20
	ret
END(hz_tbz)

FUNC(hz_adr)                   /* ADR first */
	adr x1, 1f
	ldr w0, [x1]
	ret
	.p2align 2
1:	.word 77
END(hz_adr)
	.section .note.GNU-stack,"",%progbits
