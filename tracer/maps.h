/*
 * The one reader of /proc/PID/maps. Symbols (which objects are loaded), scratch pages
 * (free gaps near the code, a syscall instruction to inject through) and nx (the mapping
 * that holds a guarded page) all read the same lines; this parses them once, the same way.
 */
#ifndef MHOOK_MAPS_H
#define MHOOK_MAPS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct maps_entry {
	uint64_t start, end;
	uint64_t offset;          /* file offset of start */
	int prot;                 /* PROT_READ | PROT_WRITE | PROT_EXEC as the kernel shows it */
	bool shared;              /* 's' rather than 'p' */
	unsigned dev_major, dev_minor;
	uint64_t inode;
	const char *path;         /* "" when anonymous; "[vdso]", "[stack]" kept. Points into
				   * the reader's line buffer: valid during the callback only */
};

/* Calls fn for each mapping of pid, in address order, until fn returns nonzero. Returns
 * that value, 0 when every line was seen, -ESRCH when pid has no mappings at all (gone,
 * or a zombie whose memory is torn down), or another negative errno when the file cannot
 * be read. */
int maps_foreach(pid_t pid, int (*fn)(const struct maps_entry *m, void *ctx), void *ctx);

/* The mapping of pid that holds addr, without its path: 0, -ENOENT when nothing is mapped
 * there, -ESRCH when pid has no mappings left. */
int maps_find(pid_t pid, uint64_t addr, struct maps_entry *out);

#endif
