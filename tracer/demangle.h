/*
 * C++ names (demangle.c): a SPEC may name a function as a C++ programmer writes it
 * ('std::ostream::flush()', 'ns::shape::area(int)', 'ns::shape::area' when it has one
 * overload), and with -C every name mhookd reports is demangled. Demangling is the C++
 * ABI's own __cxa_demangle from libstdc++, the one c++filt and gdb agree with.
 */
#ifndef MHOOK_DEMANGLE_H
#define MHOOK_DEMANGLE_H

#include <stdbool.h>
#include <stddef.h>

/* Whether a SPEC's name is a demangled C++ name (it holds '(' or "::"), which no symbol
 * table spells: it is matched against the demangled symbols. */
bool cxx_is_source_name(const char *name);

/* The demangled form of a mangled C++ symbol, malloc'd; NULL when sym is not one. */
char *cxx_demangle(const char *sym);

/* Whether the demangled symbol d is what the SPEC name q names. Blanks do not count
 * ("int const&" and "int const &" are one), and q may leave out what a reader leaves
 * out: the return type that templates carry ("long ns::twice<long>(long)" is
 * "ns::twice<long>(long)"), the qualifiers after the parameters ("const"), and, when q
 * has no '(', the whole parameter list. */
bool cxx_matches(const char *q, const char *d);

/* Whether the mangled symbol sym can demangle to something q matches: the last
 * identifier of q must appear in it, as the ABI spells identifiers (<length><name>). A
 * cheap test that spares demangling every symbol of an object. */
bool cxx_may_match(const char *q, const char *sym);

/* d without the return type that a template function's demangled name starts with
 * ("long ns::twice<long>(long)" -> "ns::twice<long>(long)"): what a glob is matched
 * against. */
const char *cxx_skip_return_type(const char *d);

/* -C: report demangled names (events, summaries, -l). Off by default, as in ltrace, so
 * that a reported name is one a SPEC and other tools take as it is. */
void cxx_set_demangle_output(bool on);
bool cxx_demangle_output(void);

/* The name to report for symbol sym: demangled under -C when it is a C++ symbol, sym
 * itself otherwise. Writes into buf and returns it. */
const char *cxx_shown(const char *sym, char *buf, size_t len);

#endif
