/*
 * hazards: calls each function of hazards_asm.S K times (`hazards K`) and prints one line
 * per function with a sum of its results, which depends on every hazard instruction being
 * executed correctly. The integration test hooks every hz_* function at once and checks that
 * the output is unchanged and that each count is exact (K, or n*K for hz_loop, whose loop
 * branches back to its entry).
 */
#include <stdio.h>
#include <stdlib.h>

long hz_riprel(long x);
long hz_ripcmp(long x);
long hz_lea(long i);
long hz_jcc_call(long x);
long hz_call(long x);
long hz_callind(long x);
long hz_jmp(long x);
long hz_jmpind(long x);
long hz_ret_call(long x);
long hz_endbr(long x);
long hz_loop_call(long n);
long hz_loop_inner(long n);
long hz_jrcxz(long a, long b, long c, long d);
long hz_loopi(long a, long b, long c, long d);
long hz_push(long x);

typedef long (*fn1)(long);
typedef long (*fn4)(long, long, long, long);

/* Volatile so the calls cannot be folded away. */
static fn1 volatile f_riprel = hz_riprel, f_ripcmp = hz_ripcmp, f_lea = hz_lea,
	f_jcc = hz_jcc_call, f_call = hz_call, f_callind = hz_callind, f_jmp = hz_jmp,
	f_jmpind = hz_jmpind, f_ret = hz_ret_call, f_endbr = hz_endbr, f_loop = hz_loop_call,
	f_loop_inner = hz_loop_inner, f_push = hz_push;
static fn4 volatile f_jrcxz = hz_jrcxz, f_loopi = hz_loopi;

/* Iterations of hz_loop's loop (entries of hz_loop) per hz_loop_call. */
#define LOOP_N 3

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: hazards K\n");
		return 2;
	}
	long k = atol(argv[1]);
	long s[15] = {0};
	for (long i = 0; i < k; i++) {
		s[0] += f_riprel(i);
		s[1] += f_ripcmp(i);
		s[2] += f_lea(i);
		s[3] += f_jcc(i % 10);          /* taken for 0..4, not taken for 5..9 */
		s[4] += f_call(i);
		s[5] += f_callind(i);
		s[6] += f_jmp(i);
		s[7] += f_jmpind(i);
		s[8] += f_ret(i);
		s[9] += f_endbr(i);
		s[10] += f_loop(LOOP_N);
		s[11] += f_loop_inner(1 + i % 4);
		s[12] += f_jrcxz(i, 0, 0, i % 2);
		s[13] += f_loopi(0, 0, 0, 1 + i % 3);
		s[14] += f_push(i);
	}
	static const char *const names[15] = {
		"hz_riprel", "hz_ripcmp", "hz_lea", "hz_jcc", "hz_call", "hz_callind", "hz_jmp",
		"hz_jmpind", "hz_ret", "hz_endbr", "hz_loop", "hz_loop_inner", "hz_jrcxz",
		"hz_loopi", "hz_push",
	};
	for (int j = 0; j < 15; j++)
		printf("%s %ld\n", names[j], s[j]);
	return 0;
}
