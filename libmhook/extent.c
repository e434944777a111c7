/*
 * Where a function ends, for the branch-into scan and the too-short check. The dynamic
 * symbol table answers through dladdr1 for exported functions of shared objects; static
 * executables and local functions need the object's .symtab, read from the file on disk
 * (the main program through /proc/self/exe). The function symbols of the last file read
 * are kept sorted, because a program that patches many functions patches them in few
 * objects, and a linear scan per patch would dominate patching a thousand functions. This runs before any
 * thread is parked: dladdr1 takes the dynamic linker's lock.
 */
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "libmhook/internal.h"

#ifdef __arm__
#define SYM_ADDR_MASK (~(uintptr_t)1)   /* Thumb functions have bit 0 set in st_value */
#else
#define SYM_ADDR_MASK (~(uintptr_t)0)
#endif

struct find_obj {
	uintptr_t addr;
	uintptr_t base;
	const char *name;
	bool found;
};

static int find_cb(struct dl_phdr_info *info, size_t sz, void *data)
{
	struct find_obj *f = data;

	(void)sz;
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && f->addr >= lo && f->addr < lo + ph->p_memsz) {
			f->base = info->dlpi_addr;
			f->name = info->dlpi_name && *info->dlpi_name ? info->dlpi_name
								   : "/proc/self/exe";
			f->found = true;
			return 1;
		}
	}
	return 0;
}

/* The function symbols of the last file read, sorted by address, for binary search. */
struct func_sym {
	uintptr_t off;           /* st_value (Thumb bit cleared) */
	size_t size;
};

static char cached_path[256];
static struct func_sym *funcs;
static size_t n_funcs, funcs_bytes;

static int by_off(const void *a, const void *b)
{
	const struct func_sym *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

static void *raw_map(size_t len, long fd)
{
	long p;

#ifdef SYS_mmap2
	p = mh_sys(SYS_mmap2, 0, (long)len, PROT_READ | (fd < 0 ? PROT_WRITE : 0),
		   MAP_PRIVATE | (fd < 0 ? MAP_ANONYMOUS : 0), fd, 0);
#else
	p = mh_sys(SYS_mmap, 0, (long)len, PROT_READ | (fd < 0 ? PROT_WRITE : 0),
		   MAP_PRIVATE | (fd < 0 ? MAP_ANONYMOUS : 0), fd, 0);
#endif
	return p < 0 && p > -4096 ? NULL : (void *)p;
}

/* Collects and sorts the STT_FUNC symbols of the ELF image f[0..len). */
static void index_symbols(const uint8_t *f, size_t len)
{
	const ElfW(Ehdr) *eh = (const void *)f;
	const ElfW(Shdr) *sh;
	size_t total = 0;

	n_funcs = 0;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh->e_shoff + (size_t)eh->e_shnum * sizeof(ElfW(Shdr)) > len)
		return;
	sh = (const void *)(f + eh->e_shoff);
	for (unsigned i = 0; i < eh->e_shnum; i++)
		if (sh[i].sh_type == SHT_SYMTAB && sh[i].sh_offset + sh[i].sh_size <= len)
			total += sh[i].sh_size / sizeof(ElfW(Sym));
	if (!total)
		return;
	funcs_bytes = total * sizeof(*funcs);
	funcs = raw_map(funcs_bytes, -1);
	if (!funcs)
		return;
	for (unsigned i = 0; i < eh->e_shnum; i++) {
		const ElfW(Sym) *sym = (const void *)(f + sh[i].sh_offset);

		if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_offset + sh[i].sh_size > len)
			continue;
		for (size_t k = 0; k < sh[i].sh_size / sizeof(ElfW(Sym)); k++) {
			if (ELF32_ST_TYPE(sym[k].st_info) != STT_FUNC || !sym[k].st_size ||
			    sym[k].st_shndx == SHN_UNDEF)
				continue;
			funcs[n_funcs++] = (struct func_sym){ sym[k].st_value & SYM_ADDR_MASK,
							      sym[k].st_size };
		}
	}
	qsort(funcs, n_funcs, sizeof(*funcs), by_off);
}

/* Reads the symbols of the file at path, unless they are the ones already indexed. */
static bool load_symbols(const char *path)
{
	struct stat st;
	const uint8_t *f;
	long fd;

	if (funcs && strcmp(path, cached_path) == 0)
		return true;
	fd = mh_sys(SYS_openat, AT_FDCWD, (long)path, O_RDONLY | O_CLOEXEC, 0, 0, 0);
	if (fd < 0)
		return false;
	if (fstat((int)fd, &st) < 0 || st.st_size < (off_t)sizeof(ElfW(Ehdr))) {
		mh_sys(SYS_close, fd, 0, 0, 0, 0, 0);
		return false;
	}
	f = raw_map((size_t)st.st_size, fd);
	mh_sys(SYS_close, fd, 0, 0, 0, 0, 0);
	if (!f)
		return false;
	if (funcs)
		mh_sys(SYS_munmap, (long)funcs, (long)funcs_bytes, 0, 0, 0, 0);
	funcs = NULL;
	index_symbols(f, (size_t)st.st_size);
	mh_sys(SYS_munmap, (long)f, (long)st.st_size, 0, 0, 0, 0);
	strncpy(cached_path, path, sizeof(cached_path) - 1);
	return funcs != NULL;
}

/* Looks addr up in the .symtab of the file at path, loaded at base. */
static bool symtab_lookup(const char *path, uintptr_t base, uintptr_t addr,
			  uintptr_t *start, size_t *size)
{
	uintptr_t rel = addr - base;
	size_t lo = 0, hi;

	if (!load_symbols(path))
		return false;
	hi = n_funcs;
	while (lo < hi) {               /* first symbol starting after rel */
		size_t mid = (lo + hi) / 2;

		if (funcs[mid].off <= rel)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* a few candidates back: aliases share a start, and some symbols nest */
	for (size_t k = lo, seen = 0; k-- > 0 && seen < 8; seen++) {
		if (rel >= funcs[k].off && rel < funcs[k].off + funcs[k].size) {
			*start = base + funcs[k].off;
			*size = funcs[k].size;
			return true;
		}
	}
	return false;
}

bool mh_symbol_extent(uintptr_t addr, uintptr_t *start, size_t *size)
{
	struct find_obj f = { .addr = addr };
	const ElfW(Sym) *sym = NULL;
	Dl_info info;

	if (dladdr1((void *)addr, &info, (void **)&sym, RTLD_DL_SYMENT) && sym &&
	    sym->st_size && info.dli_saddr) {
		uintptr_t lo = (uintptr_t)info.dli_saddr & SYM_ADDR_MASK;

		if (addr >= lo && addr < lo + sym->st_size) {
			*start = lo;
			*size = sym->st_size;
			return true;
		}
	}
	dl_iterate_phdr(find_cb, &f);
	if (!f.found)
		return false;
	return symtab_lookup(f.name, f.base, addr, start, size);
}
