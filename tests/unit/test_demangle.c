/*
 * Unit tests of tracer/demangle.h, table-driven: which SPEC names match which mangled
 * symbols (demangled by the C++ ABI's demangler), and that the cheap prefilter never
 * turns a match away. Prints "N passed, M failed".
 */
#include <stdlib.h>
#include <string.h>

#include "tests/libmhook/check.h"
#include "tracer/demangle.h"

static const struct {
	const char *spec, *sym;
	bool match;
} cases[] = {
	/* _ZNK2ns5shape4areaEi = ns::shape::area(int) const */
	{ "ns::shape::area(int) const", "_ZNK2ns5shape4areaEi", true },
	{ "ns::shape::area(int)", "_ZNK2ns5shape4areaEi", true },       /* qualifiers left out */
	{ "ns::shape::area", "_ZNK2ns5shape4areaEi", true },            /* parameters left out */
	{ "ns::shape::area( int )", "_ZNK2ns5shape4areaEi", true },     /* blanks do not count */
	{ "ns::shape::area(double)", "_ZNK2ns5shape4areaEi", false },
	{ "shape::area(int)", "_ZNK2ns5shape4areaEi", false },          /* no partial scopes */
	{ "ns::shape::are", "_ZNK2ns5shape4areaEi", false },
	{ "ns::shape::area(int) volatile", "_ZNK2ns5shape4areaEi", false },
	/* _ZN2ns5twiceIlEET_S1_ = long ns::twice<long>(long): the return type is left out */
	{ "ns::twice<long>(long)", "_ZN2ns5twiceIlEET_S1_", true },
	{ "ns::twice<long>", "_ZN2ns5twiceIlEET_S1_", true },
	{ "long ns::twice<long>(long)", "_ZN2ns5twiceIlEET_S1_", true },
	{ "ns::twice<int>", "_ZN2ns5twiceIlEET_S1_", false },
	/* _ZNSo5flushEv = std::ostream::flush() (the demangler's abbreviation) */
	{ "std::ostream::flush()", "_ZNSo5flushEv", true },
	{ "std::ostream::flush", "_ZNSo5flushEv", true },
	{ "flush()", "_ZNSo5flushEv", false },
	/* _ZNSt6vectorIiSaIiEE9push_backERKi, spelled as c++filt does or without blanks */
	{ "std::vector<int, std::allocator<int> >::push_back(int const&)",
	  "_ZNSt6vectorIiSaIiEE9push_backERKi", true },
	{ "std::vector<int,std::allocator<int>>::push_back(int const &)",
	  "_ZNSt6vectorIiSaIiEE9push_backERKi", true },
	/* _ZN2nsplERKNS_1vES2_ = ns::operator+(ns::v const&, ns::v const&) */
	{ "ns::operator+(ns::v const&, ns::v const&)", "_ZN2nsplERKNS_1vES2_", true },
	{ "ns::operator+", "_ZN2nsplERKNS_1vES2_", true },
	/* _ZN2ns1fclEv = ns::f::operator()() */
	{ "ns::f::operator()()", "_ZN2ns1fclEv", true },
	{ "ns::f::operator()", "_ZN2ns1fclEv", true },
	/* _ZN2nsltERKNS_1vES2_ = ns::operator<(ns::v const&, ns::v const&) */
	{ "ns::operator<", "_ZN2nsltERKNS_1vES2_", true },
	/* _Znwm = operator new(unsigned long): the blank is the operator's, no return type */
	{ "operator new(unsigned long)", "_Znwm", true },
	{ "operator new", "_Znwm", true },
	{ "new", "_Znwm", false },
	/* _ZNSolsEi = std::ostream::operator<<(int) */
	{ "std::ostream::operator<<(int)", "_ZNSolsEi", true },
	{ "std::ostream::operator<<(long)", "_ZNSolsEi", false },
};

int main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *d = cxx_demangle(cases[i].sym);
		CHECK(d != NULL, "%s does not demangle", cases[i].sym);
		if (!d)
			continue;
		CHECK(cxx_matches(cases[i].spec, d) == cases[i].match, "'%s' vs '%s': %s",
		      cases[i].spec, d, cases[i].match ? "no match" : "matched");
		if (cases[i].match)
			CHECK(cxx_may_match(cases[i].spec, cases[i].sym),
			      "prefilter turns '%s' away from %s", cases[i].spec, cases[i].sym);
		free(d);
	}
	CHECK(cxx_demangle("malloc") == NULL, "a C name demangles");
	CHECK(cxx_demangle("_Zgarbage") == NULL, "garbage demangles");
	CHECK(cxx_is_source_name("ns::f") && cxx_is_source_name("f(int)") &&
	      !cxx_is_source_name("_ZNSo5flushEv") && !cxx_is_source_name("malloc"),
	      "source names told wrong");
	char buf[128];
	CHECK(!strcmp(cxx_shown("_ZNSo5flushEv", buf, sizeof(buf)), "_ZNSo5flushEv"),
	      "shown demangled without -C: %s", buf);
	cxx_set_demangle_output(true);
	CHECK(!strcmp(cxx_shown("_ZNSo5flushEv", buf, sizeof(buf)), "std::ostream::flush()"),
	      "shown under -C: %s", buf);
	CHECK(!strcmp(cxx_shown("malloc", buf, sizeof(buf)), "malloc"), "C name under -C: %s",
	      buf);
	CHECK(!strcmp(cxx_skip_return_type("long ns::twice<long>(long)"),
		      "ns::twice<long>(long)"), "return type kept");
	printf("%d passed, %d failed\n", check_pass, check_fail);
	return check_fail != 0;
}
