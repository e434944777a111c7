/*
 * Unit tests of tracer/symbols.h. SPEC parsing and LIB matching are tables of pure cases.
 * The image tests load this very process (reading its memory with process_vm_readv), so
 * the truth is at hand: &function, dlsym, and the GOT slots the program itself called
 * through. Prints "N passed, M failed" and exits non-zero on any failure.
 */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "tests/libmhook/check.h"
#include "tracer/symbols.h"

/* ---- spec_parse ---------------------------------------------------------------------- */

struct spec_case {
	const char *text;
	int rc;
	const char *lib, *name;
	uint64_t addr, plus;
	bool is_addr;
	const char *reason;  /* a substring of err for the bad ones */
};

static const struct spec_case spec_cases[] = {
	{ "malloc", 0, NULL, "malloc", 0, 0, false, NULL },
	{ "libc:malloc", 0, "libc", "malloc", 0, 0, false, NULL },
	{ "ns::f", 0, NULL, "ns::f", 0, 0, false, NULL },
	{ "libc:ns::f", 0, "libc", "ns::f", 0, 0, false, NULL },
	{ "a::b::c", 0, NULL, "a::b::c", 0, 0, false, NULL },
	{ "0x10+0x4", 0, NULL, NULL, 0x10, 4, true, NULL },
	{ "0x7f00DEADbeef", 0, NULL, NULL, 0x7f00deadbeefull, 0, true, NULL },
	{ "exe:0x1139", 0, "exe", NULL, 0x1139, 0, true, NULL },
	{ "exe:0x1139+8", 0, "exe", NULL, 0x1139, 8, true, NULL },
	{ "foo+0x10", 0, NULL, "foo", 0, 0x10, false, NULL },
	{ "foo+16", 0, NULL, "foo", 0, 16, false, NULL },
	{ "libc.so.6:memcpy+0", 0, "libc.so.6", "memcpy", 0, 0, false, NULL },
	{ "/usr/lib/libz.so.1:inflate", 0, "/usr/lib/libz.so.1", "inflate", 0, 0, false, NULL },
	{ "foo.cold", 0, NULL, "foo.cold", 0, 0, false, NULL },
	/* a '+' in LIB is part of its name; only one after the symbol starts an offset */
	{ "libstdc++:_ZNSo5flushEv", 0, "libstdc++", "_ZNSo5flushEv", 0, 0, false, NULL },
	{ "libstdc++:_ZNSo5flushEv+0x4", 0, "libstdc++", "_ZNSo5flushEv", 0, 4, false, NULL },
	{ "libstdc++.so.6:0x10+8", 0, "libstdc++.so.6", NULL, 0x10, 8, true, NULL },
	{ "operator+(int)", 0, NULL, "operator+(int)", 0, 0, false, NULL },
	{ "operator+(int)+0x4", 0, NULL, "operator+(int)", 0, 4, false, NULL },
	{ "libstdc++:+4", -EINVAL, NULL, NULL, 0, 0, false, "nothing after 'libstdc++:'" },
	{ "libstdc++:", -EINVAL, NULL, NULL, 0, 0, false, "nothing after" },
	{ "", -EINVAL, NULL, NULL, 0, 0, false, "empty" },
	{ "libc:", -EINVAL, NULL, NULL, 0, 0, false, "nothing after" },
	{ ":foo", -EINVAL, NULL, NULL, 0, 0, false, "empty LIB" },
	{ "0xZZ", -EINVAL, NULL, NULL, 0, 0, false, "bad address" },
	{ "0x", -EINVAL, NULL, NULL, 0, 0, false, "bad address" },
	{ "0x10g", -EINVAL, NULL, NULL, 0, 0, false, "bad address" },
	{ "0x1ffffffffffffffff", -EINVAL, NULL, NULL, 0, 0, false, "bad address" },
	{ "1234", -EINVAL, NULL, NULL, 0, 0, false, "neither a name" },
	{ "foo+", -EINVAL, NULL, NULL, 0, 0, false, "missing offset" },
	{ "foo+0x", -EINVAL, NULL, NULL, 0, 0, false, "bad offset" },
	{ "foo+-4", -EINVAL, NULL, NULL, 0, 0, false, "bad offset" },
	{ "foo+0x4x", -EINVAL, NULL, NULL, 0, 0, false, "bad offset" },
	{ "foo+4+4", -EINVAL, NULL, NULL, 0, 0, false, "bad offset" },
	{ "+0x4", -EINVAL, NULL, NULL, 0, 0, false, "empty name" },
	{ "a:b:c", -EINVAL, NULL, NULL, 0, 0, false, "more than one" },
	{ "libc:+4", -EINVAL, NULL, NULL, 0, 0, false, "nothing after" },
	{ "foo bar", -EINVAL, NULL, NULL, 0, 0, false, "blank" },
	{ "ns::f(int,\tlong)", -EINVAL, NULL, NULL, 0, 0, false, "blank" },
	/* demangled C++ names keep their blanks */
	{ "std::vector<int, std::allocator<int> >::push_back(int const&)", 0, NULL,
	  "std::vector<int, std::allocator<int> >::push_back(int const&)", 0, 0, false, NULL },
	{ "libc:ns::f(int, long)+0x4", 0, "libc", "ns::f(int, long)", 0, 4, false, NULL },
};

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Which SPEC parts are globs: wildcards outside a C++ parameter list, not operators. */
static const struct {
	const char *part;
	bool glob;
} glob_cases[] = {
	{ "str*", true }, { "sqlite3_?tep", true }, { "[a-c]alloc", true }, { "*", true },
	{ "malloc", false }, { "ns::shape::*", true }, { "ns::f(char*)", false },
	{ "ns::v::operator*(int)", false }, { "ns::v::operator[](long)", false },
	{ "ns::v::operator*=", false }, { "ns::*::f(char*)", true }, { "libstdc++", false },
};

static void test_spec_glob(void)
{
	for (size_t i = 0; i < sizeof(glob_cases) / sizeof(glob_cases[0]); i++)
		CHECK(spec_is_glob(glob_cases[i].part) == glob_cases[i].glob, "'%s': glob %d",
		      glob_cases[i].part, !glob_cases[i].glob);
	struct spec s;
	char err[256];
	CHECK(spec_parse("*:SSL_*", &s, err, sizeof(err)) == 0 && s.glob && !strcmp(s.lib, "*"),
	      "*:SSL_* %s", err);
	spec_free(&s);
	CHECK(spec_parse("libssl*:SSL_read", &s, err, sizeof(err)) == 0 && s.glob, "LIB glob");
	spec_free(&s);
	CHECK(spec_parse("libc:malloc", &s, err, sizeof(err)) == 0 && !s.glob, "no glob");
	spec_free(&s);
}

static void test_spec_parse(void)
{
	for (size_t i = 0; i < sizeof(spec_cases) / sizeof(spec_cases[0]); i++) {
		const struct spec_case *c = &spec_cases[i];
		struct spec s;
		char err[256] = "";
		int rc = spec_parse(c->text, &s, err, sizeof(err));
		CHECK(rc == c->rc, "'%s': rc %d, want %d (%s)", c->text, rc, c->rc, err);
		if (rc != c->rc)
			continue;
		if (rc) {
			CHECK(strstr(err, c->reason) && !strchr(err, '\n'),
			      "'%s': reason '%s' lacks '%s'", c->text, err, c->reason);
			CHECK(!s.text && !s.lib && !s.name, "'%s': strings left behind", c->text);
			continue;
		}
		CHECK(str_eq(s.text, c->text) && str_eq(s.lib, c->lib) &&
		      str_eq(s.name, c->name) && s.addr == c->addr && s.plus == c->plus &&
		      s.is_addr == c->is_addr,
		      "'%s': got lib=%s name=%s addr=0x%" PRIx64 " plus=0x%" PRIx64 " is_addr=%d",
		      c->text, s.lib, s.name, s.addr, s.plus, s.is_addr);
		spec_free(&s);
	}
}

/* ---- lib_name_matches ---------------------------------------------------------------- */

static void test_lib_match(void)
{
	static const struct { const char *base, *lib; int want; } cases[] = {
		{ "libc.so.6", "libc", 1 },
		{ "libc.so.6", "libc.so", 1 },
		{ "libc.so.6", "libc.so.6", 1 },
		{ "libc-2.31.so", "libc", 1 },
		{ "libcap.so.2", "libc", 0 },
		{ "libc.so.6", "libc.so.6.1", 0 },
		{ "libc.so.6", "lib", 0 },
		{ "libpython3.11.so.1.0", "libpython3", 1 },
		{ "libpython3.11.so.1.0", "libpython3.1", 0 },
		{ "ld-linux-x86-64.so.2", "ld", 1 },
		{ "ld-linux-x86-64.so.2", "ld-linux", 1 },
		{ "libc.so.6", "", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK(lib_name_matches(cases[i].base, cases[i].lib) == cases[i].want,
		      "lib_name_matches(%s, %s) != %d", cases[i].base, cases[i].lib,
		      cases[i].want);
}

/* ---- image --------------------------------------------------------------------------- */

static int self_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	pid_t pid = *(pid_t *)ctx;
	struct iovec l = { buf, len }, r = { (void *)(uintptr_t)addr, len };
	ssize_t n = process_vm_readv(pid, &l, 1, &r, 1, 0);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}

__attribute__((noinline, used)) int symtest_target(int x);
__attribute__((noinline, used)) int symtest_target(int x)
{
	return x * 3 + 1;
}

__attribute__((noinline, used)) static int symtest_static(int x)
{
	return x ^ 0x5a;
}

int symtest_data = 42;

/* The test's own call sites: these are what an IFUNC hook must see. */
static size_t (*volatile strlen_ptr)(const char *) = strlen;

struct resolve_case {
	const char *spec;
	int rc;
	const char *err_has;   /* substring of err on failure */
};

static int resolve(struct image *img, const char *text, struct resolved *r, char *err,
		   size_t errlen)
{
	struct spec s;
	int rc = spec_parse(text, &s, err, errlen);

	if (rc)
		return rc;
	rc = image_resolve(img, &s, r, err, errlen);
	spec_free(&s);
	return rc;
}

/* Two copies of one small library under names that "libzz" both matches. */
static char tmpdir[64];
static void *dl_a, *dl_b;

static bool load_twins(void)
{
	static const char *srcs[] = { "/lib/x86_64-linux-gnu/libdl.so.2",
				      "/usr/lib/x86_64-linux-gnu/libdl.so.2" };
	const char *src = NULL;
	for (size_t i = 0; i < 2 && !src; i++)
		if (!access(srcs[i], R_OK))
			src = srcs[i];
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_symbols.XXXXXX");
	if (!src || !mkdtemp(tmpdir))
		return false;
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "cp %s %s/libzz.so.1 && cp %s %s/libzz-2.so", src, tmpdir,
		 src, tmpdir);
	if (system(cmd))
		return false;
	char p[128];
	snprintf(p, sizeof(p), "%s/libzz.so.1", tmpdir);
	dl_a = dlopen(p, RTLD_NOW | RTLD_LOCAL);
	snprintf(p, sizeof(p), "%s/libzz-2.so", tmpdir);
	dl_b = dlopen(p, RTLD_NOW | RTLD_LOCAL);
	return dl_a && dl_b;
}

static void unload_twins(void)
{
	char cmd[128];

	if (dl_a)
		dlclose(dl_a);
	if (dl_b)
		dlclose(dl_b);
	if (tmpdir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		if (system(cmd))
			fprintf(stderr, "warning: could not remove %s\n", tmpdir);
	}
}

static char exe_path[512];
static const char *exe_base;

static void test_image(void)
{
	pid_t pid = getpid();
	struct image *img = NULL;
	char err[512] = "";
	struct resolved r;
	struct timespec t0, t1;

	ssize_t pn = readlink("/proc/self/exe", exe_path, sizeof(exe_path) - 1);
	exe_path[pn > 0 ? pn : 0] = '\0';
	exe_base = strrchr(exe_path, '/') ? strrchr(exe_path, '/') + 1 : exe_path;
	bool twins = load_twins();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct image_source src = { .read = self_read, .read_ctx = &pid };
	int rc = image_load(pid, &src, &img, err, sizeof(err));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK(rc == 0 && img, "image_load: %d %s", rc, err);
	if (rc)
		return;
	printf("image_load: %.2f ms\n",
	       (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);

	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	CHECK(libc != NULL, "libc.so.6 not loaded?");

	/* A function of the executable, by name and by exe:OFF. */
	rc = resolve(img, "symtest_target", &r, err, sizeof(err));
	CHECK(rc == 0 && r.addr == (uintptr_t)&symtest_target && !r.ifunc &&
	      !strcmp(r.func, "symtest_target") && r.size > 0 &&
	      r.func_start == r.addr && !strcmp(r.path, exe_path),
	      "symtest_target: rc=%d %s addr=0x%" PRIx64 " want %p func=%s path=%s", rc, err,
	      r.addr, (void *)&symtest_target, r.func, r.path);
	uint64_t target_size = r.size;
	rc = resolve(img, "exe:symtest_target", &r, err, sizeof(err));
	CHECK(rc == 0 && r.addr == (uintptr_t)&symtest_target, "exe:symtest_target: %d %s",
	      rc, err);
	rc = resolve(img, "symtest_static", &r, err, sizeof(err));
	CHECK(rc == 0 && r.addr == (uintptr_t)&symtest_static, "symtest_static: %d %s", rc,
	      err);

	Dl_info di;
	CHECK(dladdr((void *)&symtest_target, &di) != 0, "dladdr");
	uint64_t off = (uintptr_t)&symtest_target - (uintptr_t)di.dli_fbase;
	char spec[128];
	snprintf(spec, sizeof(spec), "exe:0x%" PRIx64 "+0x2", off);
	rc = resolve(img, spec, &r, err, sizeof(err));
	char want[64];
	snprintf(want, sizeof(want), "0x%" PRIxPTR, (uintptr_t)&symtest_target + 2);
	CHECK(rc == 0 && r.addr == (uintptr_t)&symtest_target + 2 && !strcmp(r.func, want) &&
	      r.func_start == (uintptr_t)&symtest_target && r.size == target_size,
	      "%s: rc=%d %s addr=0x%" PRIx64 " func=%s start=0x%" PRIx64, spec, rc, err,
	      r.addr, r.func, r.func_start);
	snprintf(spec, sizeof(spec), "0x%" PRIxPTR, (uintptr_t)&symtest_target);
	rc = resolve(img, spec, &r, err, sizeof(err));
	CHECK(rc == 0 && r.addr == (uintptr_t)&symtest_target && !strcmp(r.func, spec) &&
	      !strcmp(r.path, exe_path), "%s: %d %s", spec, rc, err);

	snprintf(spec, sizeof(spec), "symtest_target+0x%" PRIx64, target_size);
	rc = resolve(img, spec, &r, err, sizeof(err));
	CHECK(rc == -EINVAL && strstr(err, "past the end"), "%s: %d %s", spec, rc, err);

	/* malloc: the definition the program binds to; libc:malloc: libc's own. */
	rc = resolve(img, "malloc", &r, err, sizeof(err));
	CHECK(rc == 0 && r.addr == (uintptr_t)dlsym(RTLD_DEFAULT, "malloc") &&
	      !strcmp(r.func, "malloc"), "malloc: %d %s 0x%" PRIx64, rc, err, r.addr);
	rc = resolve(img, "libc:malloc", &r, err, sizeof(err));
	CHECK(rc == 0 && libc && r.addr == (uintptr_t)dlsym(libc, "malloc") &&
	      !strcmp(r.lib, "libc.so.6") && !strcmp(r.func, "malloc"),
	      "libc:malloc: %d %s lib=%s", rc, err, r.lib);

	/* IFUNCs resolve to what calls actually reach (dlsym runs the same resolver). */
	rc = resolve(img, "strlen", &r, err, sizeof(err));
	CHECK(rc == 0 && r.addr == (uintptr_t)dlsym(RTLD_DEFAULT, "strlen") &&
	      r.addr == (uintptr_t)strlen_ptr, "strlen: %d %s 0x%" PRIx64 " want %p",
	      rc, err, r.addr, (void *)strlen_ptr);
	rc = resolve(img, "libc:strlen", &r, err, sizeof(err));
	CHECK(rc == 0 && r.ifunc && libc && r.addr == (uintptr_t)dlsym(libc, "strlen") &&
	      r.func_start == r.addr && !strcmp(r.func, "strlen"),
	      "libc:strlen: %d %s ifunc=%d 0x%" PRIx64, rc, err, r.ifunc, r.addr);
	rc = resolve(img, "memcpy", &r, err, sizeof(err));
	CHECK(rc == 0 && r.addr == (uintptr_t)dlsym(RTLD_DEFAULT, "memcpy"),
	      "memcpy: %d %s 0x%" PRIx64, rc, err, r.addr);
	/* ifunc proves the default version: memcpy@GLIBC_2.2.5 is a plain function. */
	rc = resolve(img, "libc:memcpy", &r, err, sizeof(err));
	CHECK(rc == 0 && r.ifunc && libc && r.addr == (uintptr_t)dlsym(libc, "memcpy") &&
	      strstr(r.shared_with, "memmove") && !strstr(r.shared_with, "memcpy"),
	      "libc:memcpy: %d %s ifunc=%d shared_with=%s", rc, err, r.ifunc, r.shared_with);

	static const struct resolve_case bad[] = {
		{ "mallocc", -ENOENT, "not found in any loaded object; did you mean: malloc" },
		{ "libc:symtest_target", -ENOENT, "not found in libc.so.6" },
		{ "libnope:malloc", -ENOENT, "no loaded object matches 'libnope'" },
		{ "libnope:malloc", -ENOENT, "libc.so.6" },
		{ "libc:0x7fffffffffff", -EINVAL, "beyond the end of libc.so.6" },
		{ "0x10", -ENOENT, "not mapped" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		rc = resolve(img, bad[i].spec, &r, err, sizeof(err));
		CHECK(rc == bad[i].rc && strstr(err, bad[i].err_has) && !strchr(err, '\n'),
		      "%s: rc=%d err='%s', want %d '%s'", bad[i].spec, rc, err, bad[i].rc,
		      bad[i].err_has);
	}
	snprintf(spec, sizeof(spec), "0x%" PRIxPTR, (uintptr_t)&symtest_data);
	rc = resolve(img, spec, &r, err, sizeof(err));
	CHECK(rc == -EINVAL && strstr(err, "not executable"), "%s: %d %s", spec, rc, err);

	if (twins) {
		rc = resolve(img, "libzz:0x0", &r, err, sizeof(err));
		CHECK(rc == -EINVAL && strstr(err, "several") && strstr(err, "libzz.so.1") &&
		      strstr(err, "libzz-2.so"), "libzz ambiguous: %d %s", rc, err);
		rc = resolve(img, "libzz.so.1:0x0", &r, err, sizeof(err));
		CHECK(rc != -EINVAL || !strstr(err, "several"), "libzz.so.1 exact: %d %s", rc,
		      err);
	} else {
		printf("skipped: ambiguous LIB (no libdl.so.2 to copy)\n");
	}

	/* image_lookup_addr */
	CHECK(image_lookup_addr(img, (uintptr_t)&symtest_target + 1, &r) == 0 &&
	      !strcmp(r.path, exe_path) && r.func_start == (uintptr_t)&symtest_target,
	      "lookup symtest_target+1: %s", r.path);
	CHECK(image_lookup_addr(img, 0x10, &r) == -ENOENT, "lookup 0x10");
	CHECK(image_lookup_addr(img, (uintptr_t)dlsym(libc, "malloc"), &r) == 0 &&
	      !strcmp(r.lib, "libc.so.6") && r.func_start == (uintptr_t)dlsym(libc, "malloc"),
	      "lookup malloc: %s", r.lib);

	/* image_list */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int n = image_list(img, "strlen", f);
	fclose(f);
	char line[128];
	snprintf(line, sizeof(line), "libc.so.6  0x%" PRIxPTR "  ",
		 (uintptr_t)dlsym(libc, "strlen"));
	CHECK(n >= 1 && strstr(buf, line) && strstr(buf, "  strlen  [ifunc]\n"),
	      "list strlen: %d '%s'", n, buf);
	free(buf);
	f = open_memstream(&buf, &len);
	n = image_list(img, "symtest_*", f);
	fclose(f);
	snprintf(line, sizeof(line), "  0x%" PRIxPTR "  %" PRIu64 "  symtest_target\n",
		 (uintptr_t)&symtest_target, target_size);
	CHECK(n == 2 && strstr(buf, line) && !strncmp(buf, exe_base, strlen(exe_base)),
	      "list symtest_*: %d '%s'", n, buf);
	free(buf);
	f = open_memstream(&buf, &len);
	n = image_list(img, "*", f);
	fclose(f);
	CHECK(n > 1000, "list *: only %d", n);
	free(buf);

	if (libc)
		dlclose(libc);
	image_free(img);
	unload_twins();
}

int main(void)
{
	test_spec_parse();
	test_spec_glob();
	test_lib_match();
	CHECK(symtest_target(1) == 4 && symtest_static(0) == 0x5a && strlen_ptr("ab") == 2,
	      "sanity");
	test_image();
	return check_done();
}
