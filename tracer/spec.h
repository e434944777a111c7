/*
 * The SPEC syntax of the command line (spec.c): NAME, LIB:NAME, 0xADDR, LIB:0xOFF, each
 * optionally followed by +0xOFF, parsed without looking at any process, and the rule by
 * which a LIB names a loaded object.
 */
#ifndef MHOOK_SPEC_H
#define MHOOK_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A parsed SPEC: NAME, LIB:NAME, 0xADDR, LIB:0xOFF, each optionally followed by +0xOFF. */
struct spec {
	char *text;        /* the SPEC as given */
	char *lib;         /* NULL when no LIB: part; "exe" means the main executable */
	char *name;        /* symbol name, NULL for address forms */
	uint64_t addr;     /* 0xADDR (absolute) or LIB:0xOFF (offset from the load base) */
	bool is_addr;
	uint64_t plus;     /* the +0xOFF suffix, 0 if none */
	bool glob;         /* NAME or LIB holds a wildcard (*, ?, [...]): it stands for every
			    * function that matches, one hook per distinct address */
};

/* Parses text into *out (strings owned by out). Returns 0, or -EINVAL with a one-line
 * reason in err. */
int spec_parse(const char *text, struct spec *out, char *err, size_t errlen);
void spec_free(struct spec *s);

/* Whether a SPEC's NAME (or LIB) is a glob: a '*', '?' or '[' outside a C++ parameter list
 * and not part of an operator's name (operator*, operator[]). */
bool spec_is_glob(const char *part);

/* Whether the LIB part of a SPEC names an object with this basename: equal, or a prefix
 * ending right before a '.' or '-' ("libc" matches libc.so.6, not libcap.so.2). */
int lib_name_matches(const char *basename, const char *lib);

#endif
