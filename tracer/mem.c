/*
 * Tracee memory access: see mem.h. One /proc/PID/mem descriptor is cached per process,
 * because opening it costs more than the pread or pwrite that follows.
 */
#include "tracer/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tracer/debug.h"
#include "tracer/proc.h"

#define MEM_FD_CACHE 8

static struct {
	pid_t pid;
	int fd;
} fd_cache[MEM_FD_CACHE];
static unsigned fd_cache_next;

static int mem_fd(pid_t pid)
{
	char path[64];
	int fd;

	for (unsigned i = 0; i < MEM_FD_CACHE; i++)
		if (fd_cache[i].pid == pid && fd_cache[i].fd > 0)
			return fd_cache[i].fd;
	/* A live thread's: a leader that ended with pthread_exit has no memory to show. */
	pid_t live = proc_live_thread(pid);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/mem", (int)pid, (int)(live ? live : pid));
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	unsigned slot = fd_cache_next++ % MEM_FD_CACHE;
	if (fd_cache[slot].fd > 0)
		close(fd_cache[slot].fd);
	fd_cache[slot].pid = pid;
	fd_cache[slot].fd = fd;
	return fd;
}

void mem_forget(pid_t pid)
{
	for (unsigned i = 0; i < MEM_FD_CACHE; i++) {
		if (fd_cache[i].pid == pid && fd_cache[i].fd > 0) {
			close(fd_cache[i].fd);
			fd_cache[i].fd = 0;
			fd_cache[i].pid = 0;
		}
	}
}

int mem_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len };
	struct iovec remote = { (void *)(uintptr_t)addr, len };
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);

	if (n == (ssize_t)len)
		return 0;
	/* ESRCH may be a zombie leader's (mem_fd reads through a live thread); partial
	 * reads and EFAULT on unreadable (PROT_NONE, exec-only) pages may succeed through
	 * the ptrace-privileged path. */
	bool gone = n < 0 && errno == ESRCH;
	int fd = mem_fd(pid);
	if (fd < 0)
		return gone ? -ESRCH : fd;
	n = pread(fd, buf, len, (off_t)addr);
	if (n == (ssize_t)len)
		return 0;
	return gone ? -ESRCH : n < 0 ? -errno : -EIO;
}

static void mem_debug_write(pid_t pid, uint64_t addr, const void *buf, size_t len)
{
	const uint8_t *b = buf;

	fprintf(stderr, "mhook-debug: write pid %d 0x%llx:", (int)pid, (unsigned long long)addr);
	for (size_t i = 0; i < len && i < 64; i++)
		fprintf(stderr, " %02x", b[i]);
	fprintf(stderr, "%s\n", len > 64 ? " ..." : "");
}

static int mem_poke(pid_t pid, uint64_t addr, const uint8_t *buf, size_t len)
{
	while (len) {
		uint64_t base = addr & ~7ULL;
		unsigned off = (unsigned)(addr - base);
		size_t n = 8 - off < len ? 8 - off : len;
		long word;

		errno = 0;
		word = ptrace(PTRACE_PEEKDATA, pid, (void *)base, NULL);
		if (errno)
			return -errno;
		memcpy((uint8_t *)&word + off, buf, n);
		if (ptrace(PTRACE_POKEDATA, pid, (void *)base, (void *)word) < 0)
			return -errno;
		addr += n;
		buf += n;
		len -= n;
	}
	return 0;
}

int mem_write(pid_t pid, uint64_t addr, const void *buf, size_t len)
{
	int fd = mem_fd(pid);

	if (debug_level())
		mem_debug_write(pid, addr, buf, len);
	if (fd >= 0) {
		ssize_t n = pwrite(fd, buf, len, (off_t)addr);
		if (n == (ssize_t)len)
			return 0;
		if (n < 0 && errno == ESRCH)
			return -ESRCH;
	}
	return mem_poke(pid, addr, buf, len);
}

int mem_read_cb(void *ctx, uint64_t addr, void *buf, size_t len)
{
	return mem_read((pid_t)(intptr_t)ctx, addr, buf, len);
}
