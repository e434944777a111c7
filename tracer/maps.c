/*
 * /proc/PID/maps, parsed once (see maps.h). A line is
 *   start-end perms offset major:minor inode   path
 * where path may hold spaces, and is absent for an anonymous mapping.
 */
#include "tracer/maps.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "tracer/proc.h"

static bool parse_line(char *line, struct maps_entry *m)
{
	unsigned long long start, end, off, ino;
	unsigned maj, min;
	char perms[8];
	int pos = 0;

	if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end, perms, &off, &maj,
		   &min, &ino, &pos) < 7 || strlen(perms) < 4)
		return false;
	line[strcspn(line, "\n")] = '\0';
	m->start = start;
	m->end = end;
	m->offset = off;
	m->prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
		  (perms[2] == 'x' ? PROT_EXEC : 0);
	m->shared = perms[3] == 's';
	m->dev_major = maj;
	m->dev_minor = min;
	m->inode = ino;
	m->path = pos > 0 ? line + pos : "";
	return true;
}

int maps_foreach(pid_t pid, int (*fn)(const struct maps_entry *m, void *ctx), void *ctx)
{
	char path[64];
	char *line = NULL;
	size_t cap = 0;
	int rc = 0, lines = 0;
	FILE *f;

	/* A live thread's: a leader that ended with pthread_exit has no maps to show. */
	pid_t live = proc_live_thread(pid);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/maps", (int)pid, (int)(live ? live : pid));
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while (!rc && getline(&line, &cap, f) > 0) {
		struct maps_entry m;
		if (!parse_line(line, &m))
			continue;
		lines++;
		rc = fn(&m, ctx);
	}
	free(line);
	fclose(f);
	return !rc && !lines ? -ESRCH : rc;
}

struct find_ctx {
	uint64_t addr;
	struct maps_entry *out;
};

static int find_one(const struct maps_entry *m, void *ctx)
{
	struct find_ctx *fc = ctx;

	if (fc->addr < m->start || fc->addr >= m->end)
		return 0;
	*fc->out = *m;
	fc->out->path = "";
	return 1;
}

int maps_find(pid_t pid, uint64_t addr, struct maps_entry *out)
{
	struct find_ctx fc = { .addr = addr, .out = out };
	int rc = maps_foreach(pid, find_one, &fc);

	if (rc == 1)
		return 0;
	return rc < 0 ? rc : -ENOENT;
}
