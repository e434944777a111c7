// The seed text's story, with libmhook doing the dirty work. TheirClass::their_method
// is replaced by our_function through its vtable slot (the civilised way the seed shows
// for C++), and malloc and free are monkey patched at their entry, as the seed did on its
// bare-metal ARM target, except that our wrappers still call the originals through the
// trampolines libmhook hands back. Run it: it prints "them", then "us", then the counts.
#include <cstdio>
#include <cstdlib>

#include "mhook.h"

class TheirClass {
public:
	virtual ~TheirClass() {}
	virtual void some_method() {}
	virtual void their_method() { std::printf("them\n"); }
};

// Called like a member function: the object arrives as the first argument.
static void our_function(TheirClass *self)
{
	(void)self;
	std::printf("us\n");
}

static void *(*orig_malloc)(size_t);
static void (*orig_free)(void *);
static volatile long mallocs, frees;

static void *our_malloc(size_t n)
{
	mallocs = mallocs + 1;
	return orig_malloc(n);
}

static void our_free(void *p)
{
	frees = frees + 1;
	orig_free(p);
}

static int check(int rc, const char *what)
{
	if (rc)
		std::fprintf(stderr, "seed: %s: %s\n", what, mhook_strerror(rc));
	return rc;
}

int main()
{
	TheirClass *obj = new TheirClass;
	void **vtable = *reinterpret_cast<void ***>(obj);
	// Index 0 and 1 hold the destructors in the Itanium C++ ABI, then some_method.
	const size_t their_index = 3;
	void *orig_method = nullptr;

	obj->their_method();                                  // prints "them"
	if (check(mhook_vtable_patch(vtable, their_index,
				     reinterpret_cast<void *>(our_function), &orig_method),
		  "vtable patch"))
		return 1;
	obj->their_method();                                  // prints "us"

	void *(*volatile p_malloc)(size_t) = std::malloc;    // the implementation, not a PLT stub
	void (*volatile p_free)(void *) = std::free;
	if (check(mhook_patch(reinterpret_cast<void *>(p_malloc),
			      reinterpret_cast<void *>(our_malloc),
			      reinterpret_cast<void **>(&orig_malloc)), "patch malloc") ||
	    check(mhook_patch(reinterpret_cast<void *>(p_free),
			      reinterpret_cast<void *>(our_free),
			      reinterpret_cast<void **>(&orig_free)), "patch free"))
		return 1;
	for (int i = 0; i < 10; i++)
		p_free(p_malloc(16 + i));   // through the patched entries
	mhook_unpatch(reinterpret_cast<void *>(p_free));
	mhook_unpatch(reinterpret_cast<void *>(p_malloc));
	std::printf("wrapped malloc ran %ld times, free %ld times\n", (long)mallocs, (long)frees);

	// Undo the vtable patch by patching the slot back with the saved original.
	mhook_vtable_patch(vtable, their_index, orig_method, nullptr);
	obj->their_method();                                  // prints "them" again
	delete obj;
	return mallocs >= 10 && frees >= 10 ? 0 : 1;
}
