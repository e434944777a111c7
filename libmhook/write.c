/*
 * Writing bytes into memory that is usually read-only: code pages and RELRO or .rodata
 * slots. Each page touched gets PROT_WRITE added for the write and its cached protection
 * back afterwards. PROT_EXEC is never dropped, because another thread (or this one, in
 * syscall(2)) may be running code on that very page. Code writes end with an instruction
 * cache sync: a no-op on x86, cache maintenance on AArch64, the cacheflush call on ARM.
 *
 * Code goes through /proc/self/mem when it can: the kernel writes read-only pages there as
 * it does for a debugger, which costs one pwrite instead of two mprotects that split and
 * merge mappings and flush every CPU's TLB. It is used only after a read through it gave
 * the same bytes as memory (under qemu-user, guest and host addresses differ), and never
 * again once a write fails (kernels may forbid it). x86-64 only: qemu-user's translator
 * does not notice code changed behind its back by the kernel and keeps running stale
 * translations, and the emulated lanes are where the other architectures run here.
 */
#include <fcntl.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "libmhook/internal.h"

static uintptr_t page_size(void)
{
	static uintptr_t pg;

	if (!pg) {
		pg = (uintptr_t)getauxval(AT_PAGESZ);
		if (!pg)
			pg = 4096;
	}
	return pg;
}

static int write_in_page(uintptr_t addr, const uint8_t *src, size_t n)
{
	uintptr_t page = addr & ~(page_size() - 1);
	int prot = mh_maps_prot(addr);

	if (prot < 0)
		return -1;
	if (prot & PROT_WRITE) {
		mh_copy((void *)addr, src, n);
		return 0;
	}
	if (mh_mprotect(page, page_size(), prot | PROT_WRITE | PROT_READ) < 0)
		return -1;
	mh_copy((void *)addr, src, n);
	return mh_mprotect(page, page_size(), prot) < 0 ? -1 : 0;
}

#ifdef __x86_64__
static int mem_state;   /* 0: untried, 1: usable, -1: not */
#else
static int mem_state = -1;
#endif

static long mem_fd(void)
{
	static long fd = -1;
	static int fd_pid;
	static struct stat fd_st;
	int pid = mh_pid ? mh_pid : (int)mh_sys(SYS_getpid, 0, 0, 0, 0, 0, 0);
	struct stat st;

	if (fd >= 0 && fd_pid == pid && fstat((int)fd, &st) == 0 &&
	    st.st_ino == fd_st.st_ino && st.st_dev == fd_st.st_dev)
		return fd;
	/* a number the program closed and reused is not ours to close */
	fd = mh_sys(SYS_openat, AT_FDCWD, (long)"/proc/self/mem", O_RDWR | O_CLOEXEC, 0, 0, 0);
	if (fd < 0 || fstat((int)fd, &fd_st) < 0)
		return -1;
	fd_pid = pid;
	return fd;
}

static int write_via_mem(uintptr_t addr, const void *src, size_t n)
{
	long fd;

	if (mem_state < 0 || (fd = mem_fd()) < 0)
		return -1;
	if (mem_state == 0) {
		uint8_t chk[16];

		mem_state = pread64((int)fd, chk, sizeof(chk), (off64_t)addr) == sizeof(chk) &&
			    mh_equal(chk, (const void *)addr, sizeof(chk)) ? 1 : -1;
		if (mem_state < 0)
			return -1;
	}
	if (pwrite64((int)fd, src, n, (off64_t)addr) != (ssize_t)n) {
		mem_state = -1;
		return -1;
	}
	return 0;
}

int mh_write(uintptr_t addr, const void *src, size_t n, bool code)
{
	const uint8_t *s = src;
	uintptr_t at = addr;
	size_t left = n;

	page_size();
	if (code && write_via_mem(addr, src, n) == 0) {
		__builtin___clear_cache((char *)addr, (char *)addr + n);
		return 0;
	}
	while (left) {
		uintptr_t page_end = (at & ~(page_size() - 1)) + page_size();
		size_t chunk = page_end - at < left ? page_end - at : left;

		if (write_in_page(at, s, chunk) < 0)
			return -1;
		at += chunk;
		s += chunk;
		left -= chunk;
	}
	if (code)
		__builtin___clear_cache((char *)addr, (char *)addr + n);
	return 0;
}
