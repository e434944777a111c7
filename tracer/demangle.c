/*
 * C++ names (demangle.h). A demangled name is compared as a key: blanks dropped, and cut
 * into what a user may leave out (return type, parameters, qualifiers), because users
 * write names as they read them in source and in c++filt's output, not as the demangler
 * spaces them.
 */
#include "tracer/demangle.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The C++ ABI's demangler (libstdc++, extern "C"). */
char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

static bool demangle_on;

void cxx_set_demangle_output(bool on)
{
	demangle_on = on;
}

bool cxx_demangle_output(void)
{
	return demangle_on;
}

bool cxx_is_source_name(const char *name)
{
	return name && (strchr(name, '(') || strstr(name, "::"));
}

char *cxx_demangle(const char *sym)
{
	int status = 0;

	if (strncmp(sym, "_Z", 2))
		return NULL;
	char *d = __cxa_demangle(sym, NULL, NULL, &status);
	if (status) {
		free(d);
		return NULL;
	}
	return d;
}

const char *cxx_shown(const char *sym, char *buf, size_t len)
{
	char *d = demangle_on ? cxx_demangle(sym) : NULL;

	snprintf(buf, len, "%s", d ? d : sym);
	free(d);
	return buf;
}

/* The parts of a demangled name. params is the top-level parameter list with its
 * parentheses; name is what comes before it without a template's return type. */
struct cxx_parts {
	const char *name, *params, *quals;
	size_t name_len, params_len;
};

/* Splits d. The parameter list opens at the first '(' outside template arguments that
 * is not part of an operator's name ("operator()", "operator()<int>"). */
static void split(const char *d, struct cxx_parts *p)
{
	int angle = 0;
	const char *open = NULL;

	memset(p, 0, sizeof(*p));
	p->name = d;
	for (const char *c = d; *c && !open; c++) {
		if (!strncmp(c, "operator", 8)) {
			/* operator() and the comparison operators hold what would confuse the
			 * scan: skip the operator's own symbol, up to its last character (the
			 * loop steps past that). */
			c += 7;
			if (!strncmp(c + 1, "()", 2))
				c += 2;
			else
				while (c[1] && strchr("<>=-!", c[1]))
					c++;
			continue;
		}
		if (*c == '<')
			angle++;
		else if (*c == '>')
			angle--;
		else if (*c == '(' && angle == 0)
			open = c;
	}
	if (!open) {
		p->name_len = strlen(d);
		return;
	}
	/* A template function's demangled form starts with its return type: the name is
	 * what follows the last blank outside template arguments. */
	angle = 0;
	for (const char *c = d; c < open; c++) {
		if (*c == '<')
			angle++;
		else if (*c == '>')
			angle--;
		else if (*c == ' ' && angle == 0 && c + 1 < open &&
			 !(c - d >= 8 && !strncmp(c - 8, "operator", 8)))
			p->name = c + 1; /* not the blank of "operator new" */
	}
	p->name_len = (size_t)(open - p->name);
	int depth = 0;
	const char *c = open;
	for (; *c; c++) {
		if (*c == '(')
			depth++;
		else if (*c == ')' && --depth == 0)
			break;
	}
	p->params = open;
	p->params_len = (size_t)(*c ? c + 1 - open : c - open);
	p->quals = open + p->params_len;
}

const char *cxx_skip_return_type(const char *d)
{
	struct cxx_parts p;

	split(d, &p);
	return p.name;
}

/* Appends s[0..n) to out without its blanks; out has room for what is appended. */
static char *squeeze_into(char *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n && s[i]; i++)
		if (s[i] != ' ')
			*out++ = s[i];
	*out = 0;
	return out;
}

bool cxx_matches(const char *q, const char *d)
{
	struct cxx_parts p;
	size_t qlen = strlen(q), dlen = strlen(d);
	char *qk = malloc(qlen + 1), *dk = malloc(dlen + 1);
	bool match = false;

	if (!qk || !dk)
		goto out;
	squeeze_into(qk, q, qlen);
	squeeze_into(dk, d, dlen);
	if (!strcmp(qk, dk)) {
		match = true; /* the whole of it, return type and all */
		goto out;
	}
	struct cxx_parts qp;
	split(q, &qp);
	split(d, &p);
	/* Then without the return type: name(params) quals, name(params), name. */
	char *end = squeeze_into(dk, p.name, p.name_len);
	if (!p.params || !qp.params) {
		match = !strcmp(qk, dk);
		goto out;
	}
	end = squeeze_into(end, p.params, p.params_len);
	if (!strcmp(qk, dk)) {
		match = true;
		goto out;
	}
	squeeze_into(end, p.quals, strlen(p.quals));
	match = !strcmp(qk, dk);
out:
	free(qk);
	free(dk);
	return match;
}

bool cxx_may_match(const char *q, const char *sym)
{
	/* The last identifier before the parameter list or template arguments. */
	const char *end = q + strcspn(q, "(<");
	const char *start = end;
	while (start > q && (isalnum((unsigned char)start[-1]) || start[-1] == '_'))
		start--;
	size_t n = (size_t)(end - start);
	bool op = (n >= 8 && !strncmp(start, "operator", 8)) ||
		  (start - q >= 9 && !strncmp(start - 9, "operator ", 9));
	if (!n || op || n > 200)
		return true; /* operators are encoded, not spelled: demangle to know */
	char enc[220];
	snprintf(enc, sizeof(enc), "%zu%.*s", n, (int)n, start);
	return strstr(sym, enc) != NULL;
}
