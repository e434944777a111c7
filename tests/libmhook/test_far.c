/*
 * The absolute patch forms, forced with MHOOK_FORCE_FAR=1 (as if no memory were free
 * within branch reach of the target): x86-64 `jmp [rip+0]` + address (14 bytes), AArch64
 * LDR X16,#8; BR X16 + address (16), ARM LDR PC,[PC,#-4] + address (8), Thumb LDR.W PC
 * + address (8 or 10). The trampoline lands anywhere, so its jump back is absolute too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mhook.h"
#include "check.h"

int far_target(int x);
__attribute__((noinline, noipa)) int far_target(int x)
{
	volatile int r = x;   /* straight-line code: no loop may branch into the patch */

	r = r * 3 + 1;
	r = r * 5 + 2;
	r = r ^ 0x55;
	r = r + 7;
	return r;
}

static int (*far_orig)(int);
static int far_repl(int x)
{
	return far_orig(x) + 1000000;
}

int main(void)
{
	uintptr_t entry = (uintptr_t)far_target & ~(uintptr_t)1;
	uint8_t before[32];
	int want = far_target(5);

	if (!getenv("MHOOK_FORCE_FAR") || strcmp(getenv("MHOOK_FORCE_FAR"), "1") != 0) {
		printf("run with MHOOK_FORCE_FAR=1\n");
		return 1;
	}
	memcpy(before, (void *)entry, sizeof(before));
	CHECK_RC(mhook_patch((void *)far_target, (void *)far_repl, (void **)&far_orig), 0);
#if defined(__x86_64__)
	CHECK(memcmp((void *)entry, "\xff\x25\0\0\0\0", 6) == 0 ||
	      memcmp((void *)(entry + 4), "\xff\x25\0\0\0\0", 6) == 0, "jmp [rip+0] form");
#elif defined(__aarch64__)
	CHECK(*(const uint32_t *)entry == 0x58000050u || *(const uint32_t *)(entry + 4) == 0x58000050u,
	      "LDR X16 form");
#elif defined(__arm__)
	if ((uintptr_t)far_target & 1)
		CHECK(memcmp((void *)entry, "\xdf\xf8\x00\xf0", 4) == 0 ||
		      memcmp((void *)entry, "\x00\xbf\xdf\xf8\x00\xf0", 6) == 0, "LDR.W PC form");
	else
		CHECK(*(const uint32_t *)entry == 0xe51ff004u, "LDR PC,[PC,#-4] form");
#endif
	CHECK(far_target(5) == want + 1000000, "patched: %d", far_target(5));
	CHECK(far_orig && far_orig(5) == want, "original: %d", far_orig ? far_orig(5) : -1);
	CHECK_RC(mhook_unpatch((void *)far_target), 0);
	CHECK(memcmp(before, (void *)entry, sizeof(before)) == 0, "bytes restored");
	CHECK(far_target(5) == want, "unpatched: %d", far_target(5));
	return check_done();
}
