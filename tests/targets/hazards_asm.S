/*
 * hazards_asm.S: x86-64 functions whose first instruction is hard to execute out of line,
 * for mhookd's swbp strategy (the relocation hazards: RIP-relative operands, short branches, int3
 * padding, loops back into the patched bytes). Each hz_* function is a global symbol with
 * a type and a size, so `-f hz_NAME` finds it. hazards.c calls each one K times; a wrong
 * relocation changes the printed results or crashes the program.
 *
 * Entry instruction of each hooked function:
 *   hz_riprel     mov eax, [rip+hz_value]       RIP-relative load
 *   hz_ripcmp     cmp dword [rip+hz_value], imm RIP-relative with an immediate after the disp
 *   hz_lea        lea rax, [rip+hz_table]       RIP-relative address
 *   hz_jcc        jl rel8                       short conditional jump on the caller's flags
 *   hz_call       call rel32 (local helper)     the helper checks its return address
 *   hz_callind    call [rip+hz_fnptr]           RIP-relative indirect call
 *   hz_jmp        jmp rel32                     forced 5-byte jump
 *   hz_jmpind     jmp [rip+hz_jmpptr]           RIP-relative indirect jump (PLT-like)
 *   hz_ret        ret                           a lone ret; must keep rax
 *   hz_endbr      endbr64
 *   hz_loop       add rax, rdi                  the loop branches back to the entry, so the
 *                                               entry runs n times per call
 *   hz_loop_inner mov rax, rdi                  the loop branches back to the 2nd instruction
 *   hz_jrcxz      jrcxz rel8                    on the 4th argument (rcx)
 *   hz_loopi      loop rel8                     on the 4th argument (rcx)
 *   hz_push       push rbp
 * Unhooked wrappers (hz_*_call) set up flags or registers that C cannot.
 */
	.intel_syntax noprefix
	.text

#define FUNC(name) .globl name; .type name, @function; .p2align 4; name:
#define END(name) .size name, . - name

/* long hz_riprel(long x): hz_value + x */
FUNC(hz_riprel)
	mov eax, dword ptr [rip + hz_value]
	add rax, rdi
	ret
END(hz_riprel)

/* long hz_ripcmp(long x): 1000 + x if hz_value == 0x1234567, else x */
FUNC(hz_ripcmp)
	cmp dword ptr [rip + hz_value], 0x1234567
	jne 1f
	lea rax, [rdi + 1000]
	ret
1:	mov rax, rdi
	ret
END(hz_ripcmp)

/* long hz_lea(long i): hz_table[i & 3] */
FUNC(hz_lea)
	lea rax, [rip + hz_table]
	and rdi, 3
	mov rax, qword ptr [rax + rdi*8]
	ret
END(hz_lea)

/* hz_jcc: entered with the flags of `cmp rdi, 5` (see hz_jcc_call): 1 if rdi < 5, else 2 */
FUNC(hz_jcc)
	jl 1f
	mov eax, 2
	ret
1:	mov eax, 1
	ret
END(hz_jcc)

/* long hz_jcc_call(long x): not hooked; sets the flags hz_jcc branches on */
FUNC(hz_jcc_call)
	cmp rdi, 5
	call hz_jcc
	ret
END(hz_jcc_call)

/* long hz_call(long x): x if the helper saw the right return address */
FUNC(hz_call)
	call hz_call_helper
.Lhz_call_ret:
	lea rdx, [rip + .Lhz_call_ret]
	sub rax, rdx
	add rax, rdi
	ret
END(hz_call)

	.type hz_call_helper, @function
hz_call_helper:
	mov rax, qword ptr [rsp]
	ret
	.size hz_call_helper, . - hz_call_helper

/* long hz_callind(long x): calls hz_callind_helper through hz_fnptr: 3x + return-address check */
FUNC(hz_callind)
	call qword ptr [rip + hz_fnptr]
.Lhz_callind_ret:
	lea rdx, [rip + .Lhz_callind_ret]
	sub rax, rdx
	lea rax, [rax + rdi*2]
	add rax, rdi
	ret
END(hz_callind)

	.type hz_callind_helper, @function
hz_callind_helper:
	mov rax, qword ptr [rsp]
	ret
	.size hz_callind_helper, . - hz_callind_helper

/* long hz_jmp(long x): x * 3 + 1, reached through a 5-byte jmp rel32 */
FUNC(hz_jmp)
	.byte 0xe9
	.long .Lhz_jmp_body - . - 4
	ud2
	.p2align 4
	.fill 64, 1, 0xcc
.Lhz_jmp_body:
	lea rax, [rdi + rdi*2 + 1]
	ret
END(hz_jmp)

/* long hz_jmpind(long x): x + 77, through jmp [rip+hz_jmpptr] */
FUNC(hz_jmpind)
	jmp qword ptr [rip + hz_jmpptr]
	ud2
END(hz_jmpind)

	.type hz_jmpind_body, @function
hz_jmpind_body:
	lea rax, [rdi + 77]
	ret
	.size hz_jmpind_body, . - hz_jmpind_body

/* void hz_ret(void): a lone ret */
FUNC(hz_ret)
	ret
END(hz_ret)

/* long hz_ret_call(long x): not hooked; x if hz_ret kept rax */
FUNC(hz_ret_call)
	mov rax, rdi
	call hz_ret
	ret
END(hz_ret_call)

/* long hz_endbr(long x): x + 7 */
FUNC(hz_endbr)
	endbr64
	lea rax, [rdi + 7]
	ret
END(hz_endbr)

/* hz_loop: rax += rdi; rdi--; loop back to the entry while rdi != 0. Entered from
 * hz_loop_call with rax = 0 and rdi >= 1: returns n(n+1)/2, entry executed n times. */
FUNC(hz_loop)
	add rax, rdi
	dec rdi
	jnz hz_loop
	ret
END(hz_loop)

/* long hz_loop_call(long n): not hooked */
FUNC(hz_loop_call)
	xor eax, eax
	test rdi, rdi
	jz 1f
	call hz_loop
1:	ret
END(hz_loop_call)

/* long hz_loop_inner(long n): n >= 1; returns n + 2(n-1). The loop goes back to the
 * second instruction, which lies within the first bytes of the function. */
FUNC(hz_loop_inner)
	mov rax, rdi
.Lhz_loop_inner_top:
	dec rdi
	jz 1f
	add rax, 2
	jmp .Lhz_loop_inner_top
1:	ret
END(hz_loop_inner)

/* long hz_jrcxz(long a, long b, long c, long d): 20 + a if d == 0, else 10 + a */
FUNC(hz_jrcxz)
	jrcxz 1f
	lea rax, [rdi + 10]
	ret
1:	lea rax, [rdi + 20]
	ret
END(hz_jrcxz)

/* long hz_loopi(long a, long b, long c, long d): d-1 + 200 if d-1 != 0, else 100 */
FUNC(hz_loopi)
	loop 1f
	mov eax, 100
	ret
1:	lea rax, [rcx + 200]
	ret
END(hz_loopi)

/* long hz_push(long x): 3x, with a frame */
FUNC(hz_push)
	push rbp
	mov rbp, rsp
	lea rax, [rdi + rdi*2]
	pop rbp
	ret
END(hz_push)

	.data
	.p2align 3
	.globl hz_value
hz_value:
	.long 0x1234567
	.long 0
hz_table:
	.quad 11, 22, 33, 44
hz_fnptr:
	.quad hz_callind_helper
hz_jmpptr:
	.quad hz_jmpind_body

	.section .note.GNU-stack, "", @progbits
