/*
 * The civilised alternatives: a vtable slot in read-only memory (a const table of
 * function pointers, which lands in RELRO or .rodata), and GOT entries of the main
 * program: strtol is called through the PLT (JUMP_SLOT, bound lazily: this test links with
 * -z lazy) and its address is taken (GLOB_DAT). Static binaries have no GOT to patch;
 * there the GOT part checks only the NOT_FOUND answer.
 */
#include <link.h>
#include <stdlib.h>
#include <string.h>

#include "mhook.h"
#include "check.h"

struct their_vtbl {
	int (*some_method)(int);
	int (*their_method)(int);
};

static int some_method(int x) { return x; }
static int their_method(int x) { return x + 1; }
static int our_function(int x) { return x + 100; }

static const struct their_vtbl their_vtbl = { some_method, their_method };
static const struct their_vtbl *volatile obj_vptr = &their_vtbl;

static void test_vtable(void)
{
	void *orig = NULL;

	CHECK(obj_vptr->their_method(1) == 2, "unpatched");
	CHECK_RC(mhook_vtable_patch((void **)&their_vtbl, 1, (void *)our_function, &orig), 0);
	CHECK(orig == (void *)their_method, "original slot value");
	CHECK(obj_vptr->their_method(1) == 101, "patched: %d", obj_vptr->their_method(1));
	CHECK(obj_vptr->some_method(1) == 1, "other slot untouched");
	CHECK_RC(mhook_vtable_patch((void **)&their_vtbl, 1, orig, NULL), 0);
	CHECK(obj_vptr->their_method(1) == 2, "restored");
	CHECK_RC(mhook_vtable_patch(NULL, 1, (void *)our_function, NULL), MHOOK_E_INVAL);
}

static long (*strtol_orig)(const char *, char **, int);
static int strtol_calls;
static long my_strtol(const char *s, char **end, int base)
{
	strtol_calls++;
	return strtol_orig(s, end, base) + 1;
}

static int has_dynamic(void)
{
	extern ElfW(Dyn) _DYNAMIC[] __attribute__((weak));

	return _DYNAMIC != NULL;
}

static void test_got(void)
{
	long (*volatile fp)(const char *, char **, int);

	if (!has_dynamic()) {
		CHECK_RC(mhook_got_patch(NULL, "strtol", (void *)my_strtol, NULL), MHOOK_E_NOT_FOUND);
		printf("static binary: GOT patching skipped\n");
		return;
	}
	CHECK_RC(mhook_got_patch(NULL, "no_such_symbol_xyz", (void *)my_strtol, NULL),
		 MHOOK_E_NOT_FOUND);
	CHECK_RC(mhook_got_patch("libnosuchmodule", "strtol", (void *)my_strtol, NULL),
		 MHOOK_E_NOT_FOUND);
	/* Before strtol was ever called: its JUMP_SLOT is still lazy. */
	CHECK_RC(mhook_got_patch(NULL, "strtol", (void *)my_strtol, (void **)&strtol_orig), 0);
	CHECK(strtol_orig && strtol_orig != my_strtol, "original resolved");
	CHECK(strtol("41", NULL, 10) == 42, "PLT call goes through the replacement");
	CHECK(strtol_calls == 1, "calls: %d", strtol_calls);
	fp = strtol;
	CHECK(fp == my_strtol, "GLOB_DAT slot patched too");
	CHECK(strtol_orig("41", NULL, 10) == 41, "original callable");
	CHECK_RC(mhook_got_patch(NULL, "strtol", (void *)strtol_orig, NULL), 0);
	CHECK(strtol("41", NULL, 10) == 41, "unpatched by patching back");
}

int main(void)
{
	test_vtable();
	test_got();
	return check_done();
}
