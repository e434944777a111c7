/*
 * The fast x86-64 length decoder (reloc/x86_64_quick.c) against Zydis: wherever the fast
 * one answers, Zydis must decode the same bytes to the same length, agree on whether the
 * immediate is a relative branch target, and on its value. Inputs: every byte offset of
 * the executable code of libc and of this program (real instructions, and the garbage a
 * sweep from a wrong start sees), every opcode of both maps with every ModRM byte under
 * each mandatory prefix and REX, and millions of random byte strings weighted towards
 * prefixes, REX and the 0F escape. It also prints how often the fast decoder answers on
 * libc's instructions, which is what makes it worth having.
 */
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <Zydis/Zydis.h>

#include "reloc/x86_64_quick.h"

static ZydisDecoder dec;
static long checked, answered, wrong;

static void check_one(const uint8_t *code, size_t avail, uint64_t where)
{
	ZydisDecodedInstruction zi;
	struct x86_quick q;
	unsigned n = x86_quick_decode(code, avail, &q);
	bool ok;

	checked++;
	if (!n)
		return;
	answered++;
	ok = ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&dec, NULL, code, avail, &zi)) &&
	     zi.length == n && (bool)zi.raw.imm[0].is_relative == q.relative &&
	     (!q.relative || zi.raw.imm[0].value.s == q.rel);
	if (ok)
		return;
	if (wrong++ < 20) {
		printf("FAIL at %#llx: quick len %u rel %d (%lld), zydis", (unsigned long long)where,
		       n, q.relative, (long long)q.rel);
		if (ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&dec, NULL, code, avail, &zi)))
			printf(" len %u rel %d (%lld)", zi.length, zi.raw.imm[0].is_relative,
			       (long long)zi.raw.imm[0].value.s);
		else
			printf(" fails");
		printf(":");
		for (size_t k = 0; k < 15 && k < avail; k++)
			printf(" %02x", code[k]);
		printf("\n");
	}
}

struct text { const uint8_t *p; size_t len; };
static struct text texts[8];
static int n_texts;

static int find_text(struct dl_phdr_info *info, size_t sz, void *data)
{
	(void)sz;
	(void)data;
	if (!strstr(info->dlpi_name, "libc.so") && info->dlpi_name[0])
		return 0;
	for (unsigned i = 0; i < info->dlpi_phnum && n_texts < 8; i++)
		if (info->dlpi_phdr[i].p_type == PT_LOAD && (info->dlpi_phdr[i].p_flags & PF_X))
			texts[n_texts++] = (struct text){
				(const uint8_t *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr),
				info->dlpi_phdr[i].p_memsz };
	return 0;
}

/* How much of a real instruction stream the fast decoder covers. */
static double coverage(const struct text *t)
{
	long insns = 0, fast = 0;

	for (size_t off = 0; off + 16 < t->len;) {
		ZydisDecodedInstruction zi;
		struct x86_quick q;

		if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&dec, NULL, t->p + off,
								t->len - off, &zi))) {
			off++;
			continue;
		}
		insns++;
		fast += x86_quick_decode(t->p + off, t->len - off, &q) != 0;
		off += zi.length;
	}
	return insns ? 100.0 * (double)fast / (double)insns : 0;
}

static uint8_t random_byte(void)
{
	static const uint8_t hot[] = { 0x66, 0x67, 0xf2, 0xf3, 0x2e, 0x3e, 0x64, 0x65, 0xf0,
				       0x40, 0x41, 0x48, 0x49, 0x4c, 0x0f, 0x0f, 0x0f, 0x38,
				       0x3a, 0xc4, 0xc5, 0x62, 0x8f, 0xff, 0xf7, 0xc7 };
	int r = rand();

	return r % 3 == 0 ? hot[(r / 3) % sizeof(hot)] : (uint8_t)(r >> 8);
}

/* prefix, REX, [0F] opcode, ModRM, then a SIB/displacement fill that does or does not
 * ask for a disp32 (SIB base 5). */
static void exhaustive(void)
{
	static const uint8_t pfx[] = { 0, 0x66, 0xf3, 0xf2, 0x67, 0xf0 };
	static const uint8_t rex[] = { 0, 0x48, 0x41 };

	for (int map = 0; map < 2; map++)
		for (size_t p = 0; p < sizeof(pfx); p++)
			for (size_t r = 0; r < sizeof(rex); r++)
				for (int op = 0; op < 256; op++)
					for (int m = 0; m < 256; m++)
						for (int fill = 0; fill < 2; fill++) {
							uint8_t b[16];
							size_t i = 0;

							memset(b, fill ? 0x25 : 0, sizeof(b));
							if (pfx[p])
								b[i++] = pfx[p];
							if (rex[r])
								b[i++] = rex[r];
							if (map)
								b[i++] = 0x0f;
							b[i++] = (uint8_t)op;
							b[i++] = (uint8_t)m;
							check_one(b, sizeof(b), (uint64_t)op << 8 | (uint64_t)m);
						}
}

int main(void)
{
	ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	dl_iterate_phdr(find_text, NULL);
	for (int t = 0; t < n_texts; t++) {
		for (size_t off = 0; off < texts[t].len; off++)
			check_one(texts[t].p + off, texts[t].len - off < 16 ? texts[t].len - off : 16,
				  (uint64_t)(uintptr_t)(texts[t].p + off));
		printf("text %d: %zu bytes, fast decoder covers %.1f%% of its instructions\n", t,
		       texts[t].len, coverage(&texts[t]));
	}
	exhaustive();
	srand(1);
	for (long k = 0; k < 3000000; k++) {
		uint8_t buf[16];
		size_t avail = 1 + (size_t)(k % 16);

		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = random_byte();
		check_one(buf, avail, (uint64_t)k);
	}
	printf("%ld inputs, %ld answered by the fast decoder, %ld wrong\n", checked, answered,
	       wrong);
	if (n_texts < 2)
		printf("FAIL: found %d code segments, wanted libc's and ours\n", n_texts);
	printf("%d passed, %d failed\n", wrong == 0 && n_texts >= 2, wrong != 0 || n_texts < 2);
	return wrong == 0 && n_texts >= 2 ? 0 : 1;
}
