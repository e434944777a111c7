/*
 * The civilised alternatives to a jump patch: one virtual-table slot, or the import
 * (GOT) entries through which one module reaches a symbol. Both are a single aligned
 * pointer store, so no thread ever sees half a pointer and no thread needs parking; the
 * only work is making the slot writable (vtables live in .rodata or RELRO, GOTs in RELRO
 * once relocated) and restoring its protection. GOT entries are found through the
 * module's dynamic section: the PLT relocations (JUMP_SLOT) and the others (GLOB_DAT).
 */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>

#include "mhook.h"
#include "libmhook/internal.h"

#if defined(__x86_64__)
#define R_JUMP_SLOT R_X86_64_JUMP_SLOT
#define R_GLOB_DAT  R_X86_64_GLOB_DAT
#elif defined(__aarch64__)
#define R_JUMP_SLOT R_AARCH64_JUMP_SLOT
#define R_GLOB_DAT  R_AARCH64_GLOB_DAT
#elif defined(__arm__)
#define R_JUMP_SLOT R_ARM_JUMP_SLOT
#define R_GLOB_DAT  R_ARM_GLOB_DAT
#endif

#if UINTPTR_MAX > 0xffffffffu
#define REL_SYM(i)  ELF64_R_SYM(i)
#define REL_TYPE(i) ELF64_R_TYPE(i)
#else
#define REL_SYM(i)  ELF32_R_SYM(i)
#define REL_TYPE(i) ELF32_R_TYPE(i)
#endif

static atomic_flag slot_lock = ATOMIC_FLAG_INIT;

static void slot_lock_take(void)
{
	while (atomic_flag_test_and_set_explicit(&slot_lock, memory_order_acquire))
		mh_yield();
}

static void slot_lock_drop(void)
{
	atomic_flag_clear_explicit(&slot_lock, memory_order_release);
}

static int store_slot(void **slot, const void *value)
{
	uintptr_t v = (uintptr_t)value;
	int prot = mh_maps_prot((uintptr_t)slot);

	if (prot < 0)
		return MHOOK_E_PROTECT;
	if (prot & PROT_WRITE) {
		__atomic_store_n((uintptr_t *)slot, v, __ATOMIC_RELEASE);
		return 0;
	}
	/* mh_write copies byte by byte, which a reader on another thread could see half
	 * done; an aligned slot gets a single pointer-sized store instead. */
	if (((uintptr_t)slot & (sizeof(void *) - 1)) == 0) {
		uintptr_t pg = (uintptr_t)getauxval(AT_PAGESZ);
		uintptr_t page = (uintptr_t)slot & ~(pg - 1);

		if (mh_mprotect(page, pg, prot | PROT_WRITE) < 0)
			return MHOOK_E_PROTECT;
		__atomic_store_n((uintptr_t *)slot, v, __ATOMIC_RELEASE);
		mh_mprotect(page, pg, prot);
		return 0;
	}
	return mh_write((uintptr_t)slot, &v, sizeof(v), false) < 0 ? MHOOK_E_PROTECT : 0;
}

int mhook_vtable_patch(void **vtable, size_t index, const void *replacement, void **original)
{
	int rc;

	if (!vtable || !replacement)
		return MHOOK_E_INVAL;
	slot_lock_take();
	if (original)
		*original = __atomic_load_n(&vtable[index], __ATOMIC_ACQUIRE);
	rc = store_slot(&vtable[index], replacement);
	slot_lock_drop();
	return rc;
}

/* --- GOT --------------------------------------------------------------------------------- */

struct got_find {
	const char *module;        /* NULL: the main program */
	const ElfW(Phdr) *phdr;
	unsigned phnum;
	uintptr_t base;
	const ElfW(Dyn) *dyn;
};

static bool module_matches(const char *want, const char *name)
{
	const char *base = strrchr(name, '/');
	size_t n = strlen(want);

	base = base ? base + 1 : name;
	if (strcmp(want, name) == 0 || strcmp(want, base) == 0)
		return true;
	/* "libc" matches "libc.so.6" but not "libcap.so.2" (as the SPEC rules say). */
	return strncmp(want, base, n) == 0 && (base[n] == '.' || base[n] == '-');
}

static int got_find_cb(struct dl_phdr_info *info, size_t sz, void *data)
{
	struct got_find *g = data;
	bool main_prog = !info->dlpi_name || !*info->dlpi_name;

	(void)sz;
	if (g->module ? main_prog || !module_matches(g->module, info->dlpi_name) : !main_prog)
		return 0;
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		if (info->dlpi_phdr[i].p_type == PT_DYNAMIC) {
			g->base = info->dlpi_addr;
			g->phdr = info->dlpi_phdr;
			g->phnum = info->dlpi_phnum;
			g->dyn = (const void *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
			return 1;
		}
	}
	return 0;
}

static bool in_module(const struct got_find *g, uintptr_t v)
{
	for (unsigned i = 0; i < g->phnum; i++) {
		uintptr_t lo = g->base + g->phdr[i].p_vaddr;

		if (g->phdr[i].p_type == PT_LOAD && v >= lo && v < lo + g->phdr[i].p_memsz)
			return true;
	}
	return false;
}

/* glibc rewrites most d_ptr entries to run-time addresses; some ports leave them as
 * link-time values. A value below the load base can only be the latter. */
static uintptr_t dyn_ptr(uintptr_t base, uintptr_t v)
{
	return base && v < base ? base + v : v;
}

struct got_tables {
	uintptr_t jmprel, jmprel_sz, rel, rel_sz, symtab, strtab;
	bool rela;
};

static void got_tables(const struct got_find *g, struct got_tables *t)
{
	memset(t, 0, sizeof(*t));
	t->rela = sizeof(void *) == 8;
	for (const ElfW(Dyn) *d = g->dyn; d->d_tag != DT_NULL; d++) {
		switch (d->d_tag) {
		case DT_JMPREL: t->jmprel = dyn_ptr(g->base, d->d_un.d_ptr); break;
		case DT_PLTRELSZ: t->jmprel_sz = d->d_un.d_val; break;
		case DT_PLTREL: t->rela = d->d_un.d_val == DT_RELA; break;
		case DT_RELA: case DT_REL: t->rel = dyn_ptr(g->base, d->d_un.d_ptr); break;
		case DT_RELASZ: case DT_RELSZ: t->rel_sz = d->d_un.d_val; break;
		case DT_SYMTAB: t->symtab = dyn_ptr(g->base, d->d_un.d_ptr); break;
		case DT_STRTAB: t->strtab = dyn_ptr(g->base, d->d_un.d_ptr); break;
		default: break;
		}
	}
}

/* Calls fn for every JUMP_SLOT or GLOB_DAT relocation of symbol in one table. */
static int scan_relocs(const struct got_find *g, const struct got_tables *t, uintptr_t tab,
		       size_t sz, const char *symbol, void ***slots, int n, int max)
{
	size_t ent = t->rela ? sizeof(ElfW(Rela)) : sizeof(ElfW(Rel));

	for (size_t off = 0; tab && off + ent <= sz && n < max; off += ent) {
		const ElfW(Rel) *r = (const void *)(tab + off);  /* Rela starts like Rel */
		const ElfW(Sym) *sym;
		unsigned type = (unsigned)REL_TYPE(r->r_info);

		if (type != R_JUMP_SLOT && type != R_GLOB_DAT)
			continue;
		sym = (const ElfW(Sym) *)t->symtab + REL_SYM(r->r_info);
		if (strcmp((const char *)t->strtab + sym->st_name, symbol) == 0)
			slots[n++] = (void **)(g->base + r->r_offset);
	}
	return n;
}

int mhook_got_patch(const char *module, const char *symbol, const void *replacement,
		    void **original)
{
	struct got_find g = { .module = module };
	struct got_tables t;
	void **slots[16];
	void *orig;
	int n, rc = 0;

	if (!symbol || !replacement)
		return MHOOK_E_INVAL;
	dl_iterate_phdr(got_find_cb, &g);
	if (!g.dyn)
		return MHOOK_E_NOT_FOUND;
	got_tables(&g, &t);
	if (!t.symtab || !t.strtab)
		return MHOOK_E_NOT_FOUND;
	n = scan_relocs(&g, &t, t.jmprel, t.jmprel_sz, symbol, slots, 0, 16);
	n = scan_relocs(&g, &t, t.rel, t.rel_sz, symbol, slots, n, 16);
	if (!n)
		return MHOOK_E_NOT_FOUND;
	/* A bound slot holds exactly what the module calls. A lazily bound JUMP_SLOT still
	 * points into the module's own PLT; then what the lazy resolver would pick is what
	 * dlsym finds (IFUNCs come back resolved). Writing the slot means the resolver never
	 * runs for it, so it cannot undo the patch. */
	orig = NULL;
	for (int i = 0; i < n && !orig; i++)
		if (!in_module(&g, (uintptr_t)*slots[i]))
			orig = *slots[i];
	if (!orig)
		orig = dlsym(RTLD_DEFAULT, symbol);
	if (!orig)
		return MHOOK_E_NOT_FOUND;
	slot_lock_take();
	if (original)
		__atomic_store_n(original, orig, __ATOMIC_RELEASE);
	for (int i = 0; i < n && !rc; i++)
		rc = store_slot(slots[i], replacement);
	slot_lock_drop();
	return rc;
}
