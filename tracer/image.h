/*
 * The inside of struct image, shared by the files that implement symbols.h: symbols.c
 * (loading a process's objects) and symbols_resolve.c (SPEC resolution, IFUNCs,
 * suggestions and the -l listing). Nothing outside tracer/symbols*.c includes it.
 */
#ifndef MHOOK_IMAGE_H
#define MHOOK_IMAGE_H

#include <sys/types.h>

#include "tracer/elf_syms.h"
#include "tracer/symbols.h"

/* One line of /proc/PID/maps. */
struct map {
	uint64_t start, end, off;
	bool r, w, x;
	dev_t dev;
	uint64_t ino;
	char *path;       /* NULL for an anonymous mapping; "[vdso]" and the like kept */
	int obj;          /* index into image.objs, -1 when the mapping is no object's */
};

/* One ELF object mapped from a file. */
struct obj {
	char *path;       /* as in maps, without " (deleted)" */
	const char *base; /* points into path */
	uint64_t bias;    /* runtime address minus link-time address */
	uint64_t lo, hi;  /* extent of its mappings */
	uint64_t first;   /* start of the mapping at file offset 0 */
	bool is_exe;
	bool has_elf;     /* ei is valid; false when the file could not be read */
	bool has_x;       /* at least one executable mapping */
	struct elf_info ei;
};

struct image {
	pid_t pid;
	pid_t live_tid;          /* a thread of pid with memory (proc_live_thread), for
				  * /proc/PID/task/TID/{exe,root} */
	struct image_source src;
	int ptrsize;      /* of the tracee, from the executable's ELF class */
	struct map *maps;
	size_t nmaps;
	struct obj *objs; /* in the dynamic linker's search order, the executable first */
	size_t nobjs;
};

/* The mapping containing addr, or NULL. */
const struct map *image_map_at(const struct image *img, uint64_t addr);

/* Reads one tracee pointer (4 or 8 bytes, as the executable's class says). Returns 0 or
 * a negative errno; -ENOSYS without a read callback. */
int image_read_ptr(const struct image *img, uint64_t addr, uint64_t *v);

#endif
