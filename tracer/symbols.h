/*
 * Symbols in a traced process (symbols.c, symbols_resolve.c): the objects loaded in the
 * tracee (from /proc/PID/maps, in the dynamic linker's search order), and their functions
 * (ELF .dynsym and .symtab through libelf). Resolution follows the
 * dynamic linker: the executable first, then libraries in load order, default symbol
 * versions only, no undefined symbols, and IFUNCs resolved to the implementation the
 * target actually uses.
 */
#ifndef MHOOK_SYMBOLS_H
#define MHOOK_SYMBOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "tracer/spec.h"

/* Reads tracee memory; returns 0 or a negative errno. */
typedef int (*mem_read_fn)(void *ctx, uint64_t addr, void *buf, size_t len);

struct image;  /* the objects loaded in one process */

/* How image_load sees the tracee beyond /proc: its memory (the link map order and IFUNC
 * slots), and optionally which ranges hold code that mhookd itself made non-executable
 * (nx's guarded pages), which must still count as code. */
struct image_source {
	mem_read_fn read;
	void *read_ctx;
	bool (*hides_exec)(void *ctx, uint64_t start, uint64_t end);
	void *hides_ctx;
	/* Optional: calls fn() in the tracee (an IFUNC resolver that nothing has run yet);
	 * NULL while the objects are not all relocated, when no resolver may run. 0 with
	 * *result, or a negative errno with err filled in. */
	int (*call)(void *ctx, uint64_t fn, uint64_t *result, char *err, size_t errlen);
	void *call_ctx;
};

/*
 * Loads the object list of pid: /proc/PID/maps plus each object's ELF file. With src or
 * src->read NULL the order is the executable then maps order, and IFUNCs cannot be
 * resolved. Call it once the dynamic linker has relocated (at AT_ENTRY, or attached):
 * only then do r_debug and the IFUNC slots hold their values. Returns 0 or a negative
 * errno with err filled in.
 */
int image_load(pid_t pid, const struct image_source *src, struct image **out, char *err,
	       size_t errlen);
void image_free(struct image *img);

struct resolved {
	uint64_t addr;       /* absolute address in the tracee: where the hook goes */
	uint64_t size;       /* symbol size, 0 if unknown */
	uint64_t func_start; /* start of the enclosing function, for boundary checks; 0 if unknown */
	char func[256];      /* the name reported in events: symbol name, or 0x... for addresses */
	char lib[256];       /* basename of the object */
	char path[512];      /* full path of the object */
	bool ifunc;          /* NAME was an IFUNC; addr is the implementation in use */
	char shared_with[1024]; /* IFUNCs whose implementation is the same code, one per line
				 * (C++ names hold commas) */
};

/*
 * Resolves spec in img. Returns 0, -EINVAL for a spec that is bad for this image (an
 * ambiguous LIB, listing the matches; an address outside LIB or not executable; +OFF past
 * the end of the function), -ENOENT for an unknown object or function (with close names
 * suggested in err) or an unmapped address, -ENOTSUP for an IFUNC whose implementation
 * the tracee has not bound yet (and whose resolver src->call could not run), or another
 * negative errno. A LIB containing '/' must equal
 * an object's full path; an exact basename match wins over prefix matches.
 */
int image_resolve(struct image *img, const struct spec *spec, struct resolved *out,
		  char *err, size_t errlen);

/* A defined function as image_each sees it. */
struct image_symbol {
	const char *lib;         /* the object's basename */
	const char *name;        /* as shown: demangled under -C */
	const char *symbol;      /* as the symbol table has it */
	uint64_t addr, size;
	int ifunc;               /* 0 no, 1 an IFUNC's implementation, 2 unresolved: addr is
				  * its resolver */
};

/* Calls fn for every defined function matching the glob, by object and address, until it
 * returns false. Returns how many it was called for. */
typedef bool image_each_fn(void *ctx, const struct image_symbol *s);
int image_each(struct image *img, const char *glob, image_each_fn *fn, void *ctx);

/* Calls fn for every defined function that glob SPEC spec names: its NAME a glob over
 * symbol names (and over demangled names when it is a C++ name, or under -C), in the
 * objects its LIB selects (a glob over basenames, or a LIB as a plain SPEC has it; all
 * without LIB). Returns how many, or -ENOENT with err (no object matches LIB, or no
 * function matches, with close names). */
int image_glob(struct image *img, const struct spec *spec, image_each_fn *fn, void *ctx,
	       char *err, size_t errlen);

/* Prints every defined function matching the glob, one per line: object, address, size,
 * name. Returns the number printed. */
int image_list(struct image *img, const char *glob, FILE *out);

/* Whether some loaded object matches lib (as a SPEC's LIB: part would). */
bool image_has_lib(struct image *img, const char *lib);

/* The address of the dynamic linker's struct r_debug (the executable's DT_DEBUG), which
 * it fills in before its first notification. Returns 0 or -ENOENT. */
int image_r_debug(struct image *img, uint64_t *addr);

/* Finds the object containing addr; fills lib/path, and func_start/size when a function
 * symbol encloses addr. An anonymous mapping is -ENOENT, a named one ([vdso]) gives its
 * name as lib and path. Returns 0 or -ENOENT. */
int image_lookup_addr(struct image *img, uint64_t addr, struct resolved *out);

#endif
