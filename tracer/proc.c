/*
 * /proc readers (see proc.h). Each opens and parses a small text file; none is on the
 * per-hit path.
 */
#include "tracer/proc.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int proc_status_field(pid_t tid, const char *key, int base, uint64_t *value)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	int rc = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			*value = strtoull(line + klen + 1, NULL, base);
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

char proc_thread_state(pid_t tgid, pid_t tid)
{
	char path[96], buf[256];
	char state = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)tgid, (int)tid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fgets(buf, sizeof(buf), f)) {
		/* The name in parentheses may hold spaces: the state follows the last ')'. */
		char *p = strrchr(buf, ')');
		if (p && p[1] == ' ')
			state = p[2];
	}
	fclose(f);
	return state;
}

static bool is_zombie(char state)
{
	return state == 'Z' || state == 'X';
}

pid_t proc_live_thread(pid_t tgid)
{
	char path[64];
	struct dirent *de;
	pid_t live = 0;
	DIR *d;

	if (!is_zombie(proc_thread_state(tgid, tgid)))
		return tgid;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)tgid);
	d = opendir(path);
	if (!d)
		return 0;
	while (!live && (de = readdir(d))) {
		pid_t tid = (pid_t)atoi(de->d_name);
		char st = tid > 0 ? proc_thread_state(tgid, tid) : 0;
		if (st && !is_zombie(st))
			live = tid;
	}
	closedir(d);
	return live;
}

pid_t proc_tgid(pid_t tid)
{
	uint64_t v;

	return proc_status_field(tid, "Tgid", 10, &v) == 0 ? (pid_t)v : 0;
}

pid_t proc_ppid(pid_t pid)
{
	uint64_t v;

	return proc_status_field(pid, "PPid", 10, &v) == 0 ? (pid_t)v : 0;
}

bool proc_signal_pending(pid_t tid, int sig)
{
	uint64_t pending, blocked, bit = 1ULL << (sig - 1);

	return proc_status_field(tid, "SigPnd", 16, &pending) == 0 && (pending & bit) &&
	       proc_status_field(tid, "SigBlk", 16, &blocked) == 0 && !(blocked & bit);
}
