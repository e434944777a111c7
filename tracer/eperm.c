/*
 * The reason for an EPERM from PTRACE_SEIZE (see eperm.h), found from /proc: what the
 * kernel checked, in the order it checks it. What cannot be seen from /proc (an LSM's
 * verdict) is named last, with what was ruled out before it.
 */
#include "tracer/eperm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tracer/proc.h"

#define PF_KTHREAD_FLAG 0x00200000u /* include/linux/sched.h */
#define CAP_SYS_PTRACE_BIT 19

static const char *const cap_names[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
	"CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
	"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
};

/* The comm of pid, "?" when unknown. */
static void comm_of(pid_t pid, char *buf, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(buf, len, "?");
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if ((f = fopen(path, "re"))) {
		if (fgets(buf, (int)len, f))
			buf[strcspn(buf, "\n")] = 0;
		fclose(f);
	}
}

/* The flags field (the 9th) of /proc/PID/stat; the comm before it may hold blanks and
 * parentheses, so fields are counted from the last ')'. */
static bool stat_flags(pid_t pid, unsigned long *flags)
{
	char path[64], buf[1024];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	/* state ppid pgrp session tty_nr tpgid flags */
	return p && sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %lu", flags) == 1;
}

/* The four uids (real, effective, saved, fs) or caps of a /proc status line. */
static bool status_uids(pid_t pid, unsigned long uid[4])
{
	char path[64], line[256];
	bool ok = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "re")))
		return false;
	while (!ok && fgets(line, sizeof(line), f))
		ok = sscanf(line, "Uid: %lu %lu %lu %lu", &uid[0], &uid[1], &uid[2], &uid[3]) == 4;
	fclose(f);
	return ok;
}

static int read_int_file(const char *path)
{
	char buf[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC), v = -1;

	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		buf[n] = 0;
		v = atoi(buf);
	}
	return v;
}

/* The names of the capabilities in mask, comma-separated, into buf. */
static void cap_list(uint64_t mask, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < 64 && used + 1 < len; i++) {
		if (!(mask >> i & 1))
			continue;
		if (i < sizeof(cap_names) / sizeof(cap_names[0]))
			used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
						 cap_names[i]);
		else
			used += (size_t)snprintf(buf + used, len - used, "%scapability %u",
						 used ? ", " : "", i);
	}
}

void eperm_reason(pid_t pid, char *buf, size_t len)
{
	char comm[64];
	unsigned long flags = 0, uid[4];
	uint64_t our_eff = 0, our_prm = 0, their_prm = 0;
	pid_t self = getpid();

	comm_of(pid, comm, sizeof(comm));
	if (pid == self || proc_tgid(pid) == self) {
		snprintf(buf, len, "it is mhookd itself, which cannot trace its own threads");
		return;
	}
	if (stat_flags(pid, &flags) && (flags & PF_KTHREAD_FLAG)) {
		snprintf(buf, len, "it is a kernel thread (%s), which runs no user code to hook",
			 comm);
		return;
	}
	proc_status_field(self, "CapEff", 16, &our_eff);
	proc_status_field(self, "CapPrm", 16, &our_prm);
	bool can_ptrace = our_eff >> CAP_SYS_PTRACE_BIT & 1;
	uid_t me = geteuid();
	if (!can_ptrace && status_uids(pid, uid) &&
	    (uid[0] != me || uid[1] != me || uid[2] != me)) {
		snprintf(buf, len, "it runs as uid %lu and mhookd as uid %u without "
			 "CAP_SYS_PTRACE (trace processes of your own user, or run as root)",
			 uid[1], (unsigned)me);
		return;
	}
	int yama = read_int_file("/proc/sys/kernel/yama/ptrace_scope");
	if (yama == 3) {
		snprintf(buf, len, "kernel.yama.ptrace_scope is 3: no process may be attached to "
			 "on this machine (start the program under mhookd with -- CMD)");
		return;
	}
	if (yama == 2 && !can_ptrace) {
		snprintf(buf, len, "kernel.yama.ptrace_scope is 2: attaching needs "
			 "CAP_SYS_PTRACE (run as root, or start the program with -- CMD)");
		return;
	}
	if (yama == 1 && !can_ptrace) {
		snprintf(buf, len, "kernel.yama.ptrace_scope is 1: only an ancestor may attach "
			 "(start the program with -- CMD, or run as root)");
		return;
	}
	if (!can_ptrace && proc_status_field(pid, "CapPrm", 16, &their_prm) == 0 &&
	    (their_prm & ~our_prm)) {
		char caps[512];
		cap_list(their_prm & ~our_prm, caps, sizeof(caps));
		snprintf(buf, len, "it holds capabilities that mhookd lacks (%s), and mhookd "
			 "has no CAP_SYS_PTRACE", caps);
		return;
	}
	/* A process that is not dumpable (set-uid, or prctl(PR_SET_DUMPABLE, 0)) has its
	 * /proc files owned by root whatever its uid. */
	struct stat st;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	if (!can_ptrace && stat(path, &st) == 0 && status_uids(pid, uid) &&
	    st.st_uid == 0 && uid[1] != 0) {
		snprintf(buf, len, "it is not dumpable (set-uid, or it called "
			 "prctl(PR_SET_DUMPABLE, 0)), and mhookd has no CAP_SYS_PTRACE");
		return;
	}
	/* Everything the kernel checks in the open passed: what is left is a security
	 * module, which shows when even /proc/PID/ns, a ptrace-read check, is closed. */
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)pid);
	char link[128];
	bool ns_closed = readlink(path, link, sizeof(link)) < 0 && (errno == EACCES ||
								    errno == EPERM);
	size_t used = (size_t)snprintf(buf, len, "the kernel refused it although mhookd %s "
				       "and Yama %s", can_ptrace ? "has CAP_SYS_PTRACE" :
				       "runs as its uid", yama < 0 ? "is not loaded" :
				       "allows it");
	if (ns_closed && used < len)
		used += (size_t)snprintf(buf + used, len - used, "; even reading /proc/%d/ns "
					 "is denied", (int)pid);
	if (used < len)
		used += (size_t)snprintf(buf + used, len - used, ": a security module (see "
					 "/sys/kernel/security/lsm) or the sandbox mhookd runs "
					 "in blocks it");
	uint64_t their_eff = 0;
	proc_status_field(pid, "CapEff", 16, &their_eff);
	if ((their_eff & ~our_eff) && used < len) {
		char caps[512];
		cap_list(their_eff & ~our_eff, caps, sizeof(caps));
		used += (size_t)snprintf(buf + used, len - used, "; %s %d (%s) holds "
					 "capabilities that mhookd lacks: %s",
					 pid == 1 ? "init, pid" : "pid", (int)pid, comm, caps);
	}
}
