/*
 * The SPEC syntax of the command line (README, "SPEC"), parsed without looking at any
 * process: NAME, LIB:NAME, 0xADDR and LIB:0xOFF, each with an optional +OFF. Also the LIB matching rule, kept here
 * as a pure function so that it can be tested on its own. Whether a SPEC names something
 * that exists is decided later, by image_resolve in symbols.c.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tracer/demangle.h"
#include "tracer/spec.h"

/* Parses a whole string as an unsigned number: 0x hex always, plain decimal only when
 * allow_dec is set. Returns 0 or -EINVAL. */
static int parse_num(const char *s, bool allow_dec, uint64_t *out)
{
	int base = 10;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	} else if (!allow_dec) {
		return -EINVAL;
	}
	/* strtoull would accept a sign and leading blanks, which a SPEC never has. */
	if (!(base == 16 ? isxdigit((unsigned char)*s) : isdigit((unsigned char)*s)))
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, base);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

/* The LIB separator is a ':' that is not part of a '::', so C++ names stay whole. */
static const char *find_separator(const char *s)
{
	for (const char *p = s; *p; p++) {
		if (*p != ':')
			continue;
		if (p[1] == ':') {
			p++;
			continue;
		}
		return p;
	}
	return NULL;
}

#define BAD(...) do { snprintf(err, errlen, __VA_ARGS__); goto bad; } while (0)

int spec_parse(const char *text, struct spec *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (!text || !*text) {
		snprintf(err, errlen, "empty SPEC");
		return -EINVAL;
	}
	out->text = strdup(text);
	char *work = strdup(text);
	if (!out->text || !work) {
		free(work);
		spec_free(out);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}

	/* A demangled C++ name has blanks of its own ("std::vector<int, std::allocator<int>
	 * >", "int const&"); nothing else may. */
	bool cxx = cxx_is_source_name(text);
	for (const char *p = text; *p; p++)
		if ((isspace((unsigned char)*p) && !(cxx && *p == ' ')) ||
		    iscntrl((unsigned char)*p))
			BAD("contains a blank or control character");

	char *what = work;
	const char *sep = find_separator(work);
	if (sep) {
		char *colon = work + (sep - work);
		*colon = '\0';
		what = colon + 1;
		if (!*work)
			BAD("empty LIB before ':'");
		if (!*what)
			BAD("nothing after '%.64s:'", work);
		out->lib = strdup(work);
		if (!out->lib)
			BAD("out of memory");
	}

	/* The offset starts at a '+' after the symbol or offset, never in LIB (libstdc++).
	 * Mangled names have no '+'; in a demangled one (operator+(int)) only a '+' past
	 * the parameter list's ')' starts the offset. */
	const char *close = strrchr(what, ')');
	char *plus = strchr(close ? what + (close - what) : what, '+');
	if (plus) {
		*plus++ = '\0';
		if (!*plus)
			BAD("missing offset after '+'");
		if (parse_num(plus, true, &out->plus))
			BAD("bad offset '%.64s' after '+' (expected 0xHEX or decimal)", plus);
	}
	if (sep && find_separator(what))
		BAD("more than one ':' separator");
	if (!*what && sep)
		BAD("nothing after '%.64s:' but an offset", work);
	if (!*what)
		BAD("empty name");

	if (isdigit((unsigned char)what[0])) {
		if (what[0] != '0' || (what[1] != 'x' && what[1] != 'X'))
			BAD("'%.64s' is neither a name nor a 0x address", what);
		if (parse_num(what, false, &out->addr))
			BAD("bad address '%.64s'", what);
		out->is_addr = true;
	} else {
		out->name = strdup(what);
		if (!out->name)
			BAD("out of memory");
		out->glob = spec_is_glob(out->name);
	}
	if (out->lib && spec_is_glob(out->lib)) {
		if (out->is_addr)
			BAD("a LIB glob '%.64s' with an address (an offset needs one object)",
			    out->lib);
		out->glob = true;
	}
	if (out->glob && out->plus)
		BAD("+0x%llx after a glob (an offset needs one function)",
		    (unsigned long long)out->plus);
	free(work);
	return 0;
bad:
	free(work);
	spec_free(out);
	return -EINVAL;
}

bool spec_is_glob(const char *part)
{
	for (const char *p = part; p && *p && *p != '('; p++) {
		if (!strncmp(p, "operator", 8)) {
			p += 7; /* operator*, operator[], operator*= are names */
			while (p[1] && p[1] != '(' && strchr("*[]=", p[1]))
				p++;
			continue;
		}
		if (*p == '*' || *p == '?' || *p == '[')
			return true;
	}
	return false;
}

void spec_free(struct spec *s)
{
	if (!s)
		return;
	free(s->text);
	free(s->lib);
	free(s->name);
	memset(s, 0, sizeof(*s));
}

int lib_name_matches(const char *basename, const char *lib)
{
	size_t n = strlen(lib);

	if (!n || strncmp(basename, lib, n))
		return 0;
	/* "libc" names libc.so.6 and libc-2.31.so, never libcap.so.2. */
	return basename[n] == '\0' || basename[n] == '.' || basename[n] == '-';
}
