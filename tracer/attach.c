/*
 * Attach (-p PID) and launch (-- CMD): see attach.h. Launch uses PTRACE_SEIZE rather than
 * TRACEME, because only a seized tracee accepts PTRACE_INTERRUPT and PTRACE_LISTEN: the
 * child blocks on a pipe until it has been seized, then execs, and is run to AT_ENTRY with
 * a temporary breakpoint so that hooks are armed after the dynamic linker's relocations
 * and before main.
 */
#include "tracer/attach.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tracer/eperm.h"
#include "tracer/loop.h"
#include "tracer/mem.h"
#include "tracer/proc.h"
#include "tracer/services.h"
#include "tracer/signals.h"

static pid_t proc_tracer(pid_t pid, char *comm, size_t commlen)
{
	char path[64];
	uint64_t tracer = 0;
	FILE *f;

	comm[0] = 0;
	if (proc_status_field(pid, "TracerPid", 10, &tracer) < 0 || !tracer)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)tracer);
	f = fopen(path, "re");
	if (f) {
		if (fgets(comm, (int)commlen, f))
			comm[strcspn(comm, "\n")] = 0;
		fclose(f);
	}
	return (pid_t)tracer;
}

/* One pass over /proc/PID/task; returns how many new threads were seized or a negative
 * errno when the very first seize is refused. */
static int seize_new_threads(struct session *s, char *err, size_t errlen)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int added = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)s->pid);
	d = opendir(path);
	if (!d) {
		snprintf(err, errlen, "no process with pid %d", (int)s->pid);
		return -ESRCH;
	}
	while ((de = readdir(d))) {
		pid_t tid = (pid_t)atoi(de->d_name);
		if (tid <= 0 || session_thread(s, tid))
			continue;
		/* A leader that ended with pthread_exit cannot be seized (EPERM): the
		 * threads that run on are traced without it, and the process's end is
		 * told by the last one's exit (loop.c). */
		pid_t live;
		if (tid == s->pid && (live = proc_live_thread(s->pid)) && live != s->pid) {
			s->leader_untraced = true;
			continue;
		}
		if (ptrace(PTRACE_SEIZE, tid, NULL, (void *)(long)LOOP_PTRACE_OPTIONS) < 0) {
			if (errno == ESRCH)
				continue; /* exited meanwhile */
			int e = errno;
			if (s->nthreads == 0) {
				closedir(d);
				char why[768] = "";
				if (e == EPERM)
					eperm_reason(s->pid, why, sizeof(why));
				snprintf(err, errlen, "cannot trace pid %d: %s%s%s", (int)s->pid,
					 strerror(e), why[0] ? ": " : "", why);
				return -e;
			}
			continue;
		}
		session_add_thread(s, tid, s->pid, THREAD_RUNNING);
		added++;
	}
	closedir(d);
	return added;
}

int attach_pid(struct session *s, pid_t pid, char *err, size_t errlen)
{
	char comm[64];
	pid_t tgid, tracer;
	int rc;

	if (pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH) || !(tgid = proc_tgid(pid))) {
		snprintf(err, errlen, "no process with pid %d", (int)pid);
		return -ESRCH;
	}
	tracer = proc_tracer(tgid, comm, sizeof(comm));
	if (tracer) {
		snprintf(err, errlen, "cannot trace pid %d: it is already traced by pid %d (%s)",
			 (int)tgid, (int)tracer, comm);
		return -EPERM;
	}
	s->pid = tgid;
	/* Threads may be created while we seize; rescan until a pass finds none. */
	do {
		rc = seize_new_threads(s, err, errlen);
		if (rc < 0)
			return rc;
	} while (rc > 0);
	return tracer_stop_all(s);
}

static uint64_t auxv_entry(pid_t pid)
{
	char path[64];
	uint64_t pair[2];
	uint64_t entry = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/auxv", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	while (read(fd, pair, sizeof(pair)) == (ssize_t)sizeof(pair) && pair[0] != AT_NULL) {
		if (pair[0] == AT_ENTRY) {
			entry = pair[1];
			break;
		}
	}
	close(fd);
	return entry;
}

/* Runs the freshly exec'd process to its entry point with a temporary breakpoint. Library
 * constructors run before it and may create threads or children: those stops go through
 * the ordinary handler meanwhile. */
int launch_run_to_entry(struct session *s, char *err, size_t errlen)
{
	uint64_t entry = auxv_entry(s->pid);
	uint8_t orig;
	int rc;

	if (!entry || mem_read(s->pid, entry, &orig, 1) < 0) {
		snprintf(err, errlen, "cannot find the entry point of pid %d", (int)s->pid);
		return -ENOEXEC;
	}
	rc = mem_write(s->pid, entry, arch_bp_insn, arch_bp_len);
	if (rc < 0) {
		snprintf(err, errlen, "cannot write to pid %d: %s", (int)s->pid, strerror(-rc));
		return rc;
	}
	tracer_resume(s, session_thread(s, s->pid));
	for (;;) {
		int status;
		pid_t tid = waitpid(-1, &status, __WALL);
		if (tid < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "lost pid %d before its entry point", (int)s->pid);
			return -ESRCH;
		}
		/* nx: the entry may be on a guarded page, which faults before the int3 runs
		 * (the fault is then dropped: resumed, the thread faults there again). */
		if (tid == s->pid && WIFSTOPPED(status) && (status >> 16) == 0 &&
		    (WSTOPSIG(status) == SIGTRAP || WSTOPSIG(status) == SIGSEGV)) {
			struct arch_regs regs;
			uint64_t at = entry + (WSTOPSIG(status) == SIGTRAP ? arch_bp_pc_adjust : 0);
			if (arch_get_regs(tid, &regs) == 0 && arch_pc(&regs) == at) {
				mem_write(s->pid, entry, &orig, 1);
				arch_set_pc(&regs, entry);
				arch_set_regs(tid, &regs);
				session_thread(s, tid)->state = THREAD_STOPPED;
				return 0;
			}
		}
		loop_handle(s, tid, status, false);
		if (s->fatal) {
			snprintf(err, errlen, "giving up before the entry point");
			return -ECANCELED;
		}
		if (s->gone) {
			snprintf(err, errlen, "%d exited before its entry point", (int)s->pid);
			return -ESRCH;
		}
	}
}

/* The descriptors mhookd inherited without close-on-exec: a command started directly
 * would inherit them (a `3>log` from the shell), so the launched one does too. */
static int *inherited_fds;
static int ninherited_fds;

void launch_note_inherited_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name), flags;
		if (fd <= 2 || fd == dirfd(d) || (flags = fcntl(fd, F_GETFD)) < 0 ||
		    (flags & FD_CLOEXEC))
			continue;
		int *p = realloc(inherited_fds, (size_t)(ninherited_fds + 1) * sizeof(*p));
		if (!p)
			break;
		inherited_fds = p;
		inherited_fds[ninherited_fds++] = fd;
	}
	closedir(d);
}

static void child_exec(char **argv, int sync_fd, int err_fd)
{
	char c;

	/* The command sees what it would see started directly: the descriptors and signal
	 * state mhookd inherited, none of mhookd's own. Ours are O_CLOEXEC; marking every
	 * other one too also catches any a library opened without it. */
	syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */);
	for (int i = 0; i < ninherited_fds; i++)
		fcntl(inherited_fds[i], F_SETFD, 0);
	signals_restore_inherited();
	if (read(sync_fd, &c, 1) != 1)
		_exit(127);
	execvp(argv[0], argv);
	int e = errno;
	if (write(err_fd, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

int launch_cmd(struct session *s, char **argv, char *err, size_t errlen)
{
	int sync_pipe[2], err_pipe[2];
	pid_t pid;

	if (pipe2(sync_pipe, O_CLOEXEC) < 0 || pipe2(err_pipe, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -errno;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -errno;
	}
	if (pid == 0)
		child_exec(argv, sync_pipe[0], err_pipe[1]);
	close(sync_pipe[0]);
	close(err_pipe[1]);
	s->pid = pid;
	s->launched = true;
	if (ptrace(PTRACE_SEIZE, pid, NULL,
		   (void *)(long)(LOOP_PTRACE_OPTIONS | PTRACE_O_EXITKILL)) < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot trace the command: %s", strerror(e));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -e;
	}
	struct thread *t = session_add_thread(s, pid, pid, THREAD_RUNNING);
	if (write(sync_pipe[1], "g", 1) != 1) {
		snprintf(err, errlen, "cannot start the command: %s", strerror(errno));
		return -EIO;
	}
	close(sync_pipe[1]);

	/* Until exec, nothing of interest happens; just wait for the exec event. */
	for (;;) {
		int status;
		if (waitpid(pid, &status, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "lost the command: %s", strerror(errno));
			return -ESRCH;
		}
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			int e = 0;
			if (read(err_pipe[0], &e, sizeof(e)) == (ssize_t)sizeof(e))
				snprintf(err, errlen, "cannot run '%s': %s", argv[0], strerror(e));
			else
				snprintf(err, errlen, "'%s' exited before it started", argv[0]);
			close(err_pipe[0]);
			session_remove_thread(s, pid);
			s->gone = true;
			s->exit_status = status;
			return -ENOENT;
		}
		if ((status >> 16) == PTRACE_EVENT_EXEC)
			break;
		int sig = (status >> 16) == 0 ? WSTOPSIG(status) : 0;
		ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig);
	}
	close(err_pipe[0]);
	t->state = THREAD_STOPPED;
	t->in_syscall_stop = true; /* stopped inside execve */
	return 0;
}
