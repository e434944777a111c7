/*
 * cxxtarget: C++ names for the SPEC and demangling tests. `cxxtarget N` calls, N times each,
 * two overloads ns::shape::area(int) and ns::shape::area(double), a template instance
 * ns::twice<long>(long) and std::ostream::flush() (through std::flush into a string
 * stream, so that nothing is printed per call), then prints `sum=<S>` on stdout. The
 * calls go through volatile pointers so that none is inlined or elided.
 */
#include <cstdlib>
#include <iostream>
#include <sstream>

namespace ns {

struct shape {
	long side;
	__attribute__((noinline)) long area(int scale) const { return side * side * scale; }
	__attribute__((noinline)) long area(double scale) const
	{
		return (long)((double)(side * side) * scale);
	}
};

template <typename T> __attribute__((noinline)) T twice(T x)
{
	__asm__ volatile("" ::: "memory");
	return x * 2;
}

template long twice<long>(long);

} // namespace ns

static long (ns::shape::*volatile area_int)(int) const = &ns::shape::area;
static long (ns::shape::*volatile area_dbl)(double) const = &ns::shape::area;
static long (*volatile twice_long)(long) = ns::twice<long>;

int main(int argc, char **argv)
{
	long n = argc > 1 ? std::atol(argv[1]) : 1, sum = 0;
	ns::shape s{3};
	std::ostringstream sink;

	for (long i = 0; i < n; i++) {
		sum += (s.*area_int)(2) + (s.*area_dbl)(0.5) + twice_long(i);
		sink << i << std::flush;
	}
	std::cout << "sum=" << sum << std::endl;
	return 0;
}
