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
 *
 * A batch writes many entries at once, grouped by page: each page's pieces go out in one
 * pwrite of the span from the first to the end of the last (the bytes between them copied
 * from memory unchanged, which is safe while the other threads are parked), or under one
 * protection change.
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

/* A page's span: one page plus a patch that crosses into the next. */
#define SPAN_MAX (16384 + MH_MAX_PATCH)
static uint8_t span_buf[SPAN_MAX];   /* used under the patch lock only */

static int group_via_mem(const struct mh_piece *pc, size_t n, uintptr_t lo, uintptr_t hi)
{
	if (mem_state < 0 || hi - lo > SPAN_MAX)
		return -1;
	mh_copy(span_buf, (const void *)lo, hi - lo);
	for (size_t i = 0; i < n; i++)
		mh_copy(span_buf + (pc[i].addr - lo), pc[i].bytes, pc[i].len);
	return write_via_mem(lo, span_buf, hi - lo);
}

/* The pages of [lo, hi) (one, or two when the last piece crosses) made writable around
 * the copies, each page's protection changed once. */
static int group_via_prot(const struct mh_piece *pc, size_t n, uintptr_t lo, uintptr_t hi)
{
	uintptr_t pg = page_size(), first = lo & ~(pg - 1), last = (hi - 1) & ~(pg - 1);
	int prot[2], made = 0, rc = 0;

	for (uintptr_t at = first; at <= last; at += pg) {
		int k = (int)((at - first) / pg);

		prot[k] = mh_maps_prot(at);
		if (prot[k] < 0)
			return -1;
	}
	for (uintptr_t at = first; at <= last && !rc; at += pg, made++) {
		int k = (int)((at - first) / pg);

		if (!(prot[k] & PROT_WRITE) &&
		    mh_mprotect(at, pg, prot[k] | PROT_WRITE | PROT_READ) < 0)
			rc = -1;
	}
	if (rc)
		made--;
	else
		for (size_t i = 0; i < n; i++)
			mh_copy((void *)pc[i].addr, pc[i].bytes, pc[i].len);
	for (int k = 0; k < made; k++)
		if (!(prot[k] & PROT_WRITE) && mh_mprotect(first + (uintptr_t)k * pg, pg, prot[k]) < 0)
			rc = -1;
	return rc;
}

int mh_write_code_many(const struct mh_piece *pc, size_t n, size_t *bad)
{
	uintptr_t pg = page_size();

	for (size_t i = 0, j; i < n; i = j) {
		uintptr_t page = pc[i].addr & ~(pg - 1), hi = pc[i].addr + pc[i].len;

		for (j = i + 1; j < n && (pc[j].addr & ~(pg - 1)) == page; j++)
			if (pc[j].addr + pc[j].len > hi)
				hi = pc[j].addr + pc[j].len;
		if (group_via_mem(pc + i, j - i, pc[i].addr, hi) < 0 &&
		    group_via_prot(pc + i, j - i, pc[i].addr, hi) < 0) {
			if (bad)
				*bad = i;
			return -1;
		}
		__builtin___clear_cache((char *)pc[i].addr, (char *)hi);
	}
	return 0;
}
