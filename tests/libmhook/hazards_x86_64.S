/*
 * x86-64 hazard functions for test_patch.c: a RIP-relative load, a short jcc and a
 * rel32 call among the displaced bytes, a loop back into the patched bytes (refused), a
 * lone ret (refused), and an endbr64 landing pad (kept at the entry).
 */
	.data
	.p2align 2
hz_data:
	.long 1000
	.p2align 3
hz_ts:
	.quad 2, 0                     /* two seconds */

	.text
#define FUNC(n) .global n; .type n, @function; .p2align 4; n:
#define END(n) .size n, .-n

FUNC(hz_rip_load)
	mov hz_data(%rip), %eax
	add %edi, %eax
	ret
END(hz_rip_load)

FUNC(hz_short_jcc)             /* jz rel8 inside the first 5 bytes */
	test %edi, %edi
	jz 1f
	mov $1, %eax
	ret
1:	mov $2, %eax
	ret
END(hz_short_jcc)

FUNC(hz_loop_entry)            /* the loop jumps to offset 2, inside the patch: refused */
	xor %eax, %eax
1:	add %edi, %eax
	dec %edi
	jnz 1b
	ret
END(hz_loop_entry)

FUNC(hz_ret_only)
	ret
END(hz_ret_only)

FUNC(hz_endbr)
	endbr64
	lea 7(%rdi), %eax
	nop
	nop
	ret
END(hz_endbr)

hz_helper41:
	mov $41, %eax
	ret

FUNC(hz_call_rel)              /* call rel32 is the whole patch */
	call hz_helper41
	add %edi, %eax
	ret
END(hz_call_rel)
FUNC(hz_sleep_entry)           /* syscall first: a thread blocked in it has PC at +2 */
	syscall
	nop
	nop
	nop
	ret
END(hz_sleep_entry)

FUNC(hz_call_sleep)            /* nanosleep(2 s) made from inside hz_sleep_entry */
	mov $35, %eax
	lea hz_ts(%rip), %rdi
	xor %esi, %esi
	call hz_sleep_entry
	ret
END(hz_call_sleep)
	.section .note.GNU-stack,"",@progbits
