/*
 * Reading one ELF object through libelf into the compact tables of elf_syms.h. It keeps
 * only defined functions and IFUNCs from .dynsym and .symtab, applies the symbol-version
 * rule of the dynamic linker (a default version hides the non-default ones of the same
 * name), and records the relocations that IFUNC resolution in symbols.c reads back from
 * the tracee. String tables are copied so that libelf and the file can be closed at once.
 */
#include <elf.h>
#include <errno.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tracer/elf_syms.h"

/* Relocation types per machine: what an IRELATIVE, a JUMP_SLOT and a GLOB_DAT are. */
struct reloc_types {
	int machine;
	unsigned irelative, jump_slot, glob_dat;
};

static const struct reloc_types reloc_types[] = {
	{ EM_X86_64, R_X86_64_IRELATIVE, R_X86_64_JUMP_SLOT, R_X86_64_GLOB_DAT },
	{ EM_386, R_386_IRELATIVE, R_386_JMP_SLOT, R_386_GLOB_DAT },
	{ EM_AARCH64, R_AARCH64_IRELATIVE, R_AARCH64_JUMP_SLOT, R_AARCH64_GLOB_DAT },
	{ EM_ARM, R_ARM_IRELATIVE, R_ARM_JUMP_SLOT, R_ARM_GLOB_DAT },
};

static const struct reloc_types *reloc_types_for(int machine)
{
	for (size_t i = 0; i < sizeof(reloc_types) / sizeof(reloc_types[0]); i++)
		if (reloc_types[i].machine == machine)
			return &reloc_types[i];
	return NULL;
}

/* Growable arrays: one helper rather than three copies of the realloc dance. */
static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 256;
	void *p = realloc(*arr, ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* Returns the copy of string section shndx, making it on first use. */
static char *strtab_copy(struct elf_info *ei, Elf *elf, size_t shndx, size_t *copied_idx,
			 size_t *len)
{
	Elf_Scn *scn = elf_getscn(elf, shndx);
	Elf_Data *d = scn ? elf_getdata(scn, NULL) : NULL;

	if (!d || !d->d_buf || !d->d_size)
		return NULL;
	*len = d->d_size;
	for (int i = 0; i < ei->nstrs; i++)
		if (copied_idx[i] == shndx)
			return ei->strs[i];
	if (ei->nstrs == (int)(sizeof(ei->strs) / sizeof(ei->strs[0])))
		return NULL;
	/* One extra NUL so that a table without a final NUL cannot run us off the end. */
	char *c = malloc(d->d_size + 1);
	if (!c)
		return NULL;
	memcpy(c, d->d_buf, d->d_size);
	c[d->d_size] = '\0';
	copied_idx[ei->nstrs] = shndx;
	ei->strs[ei->nstrs++] = c;
	return c;
}

struct syms_acc {
	struct esym *v;
	size_t n, cap;
};

/* Adds the defined functions of one symbol table (SHT_DYNSYM or SHT_SYMTAB). */
static int add_symtab(struct elf_info *ei, Elf *elf, Elf_Scn *scn, GElf_Shdr *sh,
		      Elf_Data *versym, size_t *copied, struct syms_acc *acc)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t slen;
	char *strs = strtab_copy(ei, elf, sh->sh_link, copied, &slen);

	if (!d || !strs || !sh->sh_entsize)
		return 0;
	size_t n = sh->sh_size / sh->sh_entsize;
	bool dynamic = sh->sh_type == SHT_DYNSYM;
	for (size_t i = 1; i < n; i++) {
		GElf_Sym s;
		if (!gelf_getsym(d, (int)i, &s))
			break;
		int type = GELF_ST_TYPE(s.st_info);
		if ((type != STT_FUNC && type != STT_GNU_IFUNC) || s.st_shndx == SHN_UNDEF ||
		    s.st_name >= slen || !strs[s.st_name])
			continue;
		char *name = strs + s.st_name;
		uint8_t rank = GELF_ST_BIND(s.st_info) == STB_LOCAL ? ESYM_LOCAL : ESYM_GLOBAL;
		if (dynamic && versym) {
			GElf_Versym vs;
			if (gelf_getversym(versym, (int)i, &vs)) {
				if (vs & 0x8000)
					rank = ESYM_HIDDEN;
				else if ((vs & 0x7fff) == VER_NDX_LOCAL)
					rank = ESYM_LOCAL;
			}
		}
		/* .symtab spells versions into the name: foo@@V is the default, foo@V not.
		 * Cutting at the '@' is safe in a tail-merged table, because every name that
		 * shares this tail also contains that same '@'. */
		char *at = dynamic ? NULL : strchr(name, '@');
		if (at) {
			if (at[1] != '@')
				rank = ESYM_HIDDEN;
			*at = '\0';
			if (!*name)
				continue;
		}
		if (grow((void **)&acc->v, &acc->cap, acc->n, sizeof(*acc->v)))
			return -ENOMEM;
		acc->v[acc->n++] = (struct esym){
			.name = name, .value = s.st_value, .size = s.st_size,
			.rank = rank, .ifunc = type == STT_GNU_IFUNC,
		};
	}
	return 0;
}

static int cmp_esym(const void *a, const void *b)
{
	const struct esym *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	if (x->rank != y->rank)
		return x->rank - y->rank;
	if (x->value != y->value)
		return x->value < y->value ? -1 : 1;
	return (int)y->ifunc - (int)x->ifunc;
}

/* Keeps one entry per (name, value) and drops non-default versions where a default
 * exists, which is what makes `memcpy` mean memcpy@@GLIBC_2.14. */
static void dedup_syms(struct elf_info *ei)
{
	size_t out = 0, group = 0;

	for (size_t i = 0; i < ei->nsyms; i++) {
		struct esym *s = &ei->syms[i];
		if (out && !strcmp(ei->syms[group].name, s->name)) {
			if (s->rank == ESYM_HIDDEN && ei->syms[group].rank != ESYM_HIDDEN)
				continue;
			bool dup = false;
			for (size_t j = group; j < out && !dup; j++)
				dup = ei->syms[j].value == s->value;
			if (dup)
				continue;
		} else {
			group = out;
		}
		ei->syms[out++] = *s;
	}
	ei->nsyms = out;
}

static int cmp_by_addr(const void *a, const void *b, void *ctx)
{
	const struct elf_info *ei = ctx;
	const struct esym *x = &ei->syms[*(const uint32_t *)a];
	const struct esym *y = &ei->syms[*(const uint32_t *)b];

	if (x->value != y->value)
		return x->value < y->value ? -1 : 1;
	/* Among aliases the global name is the one worth reporting. */
	if (x->rank != y->rank)
		return x->rank - y->rank;
	return strcmp(x->name, y->name);
}

static int cmp_slot(const void *a, const void *b)
{
	const struct eslot *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x->off > y->off) - (x->off < y->off);
}

static int cmp_irel(const void *a, const void *b)
{
	const struct eirel *x = a, *y = b;

	if (x->addend != y->addend)
		return x->addend < y->addend ? -1 : 1;
	return (x->off > y->off) - (x->off < y->off);
}

/* Records the IRELATIVE, JUMP_SLOT and GLOB_DAT relocations of one REL/RELA section. */
static int add_relocs(struct elf_info *ei, Elf *elf, Elf_Scn *scn, GElf_Shdr *sh,
		      size_t *copied, const struct reloc_types *rt, size_t *slot_cap,
		      size_t *irel_cap)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	if (!d || !sh->sh_entsize)
		return 0;

	/* Symbol names of the relocations come from the linked symbol table. */
	Elf_Data *symd = NULL;
	char *strs = NULL;
	size_t slen = 0;
	Elf_Scn *symscn = sh->sh_link ? elf_getscn(elf, sh->sh_link) : NULL;
	GElf_Shdr symsh;
	if (symscn && gelf_getshdr(symscn, &symsh) && symsh.sh_type != SHT_NULL) {
		symd = elf_getdata(symscn, NULL);
		strs = strtab_copy(ei, elf, symsh.sh_link, copied, &slen);
	}

	size_t n = sh->sh_size / sh->sh_entsize;
	bool rela = sh->sh_type == SHT_RELA;
	for (size_t i = 0; i < n; i++) {
		GElf_Rela r;
		if (rela) {
			if (!gelf_getrela(d, (int)i, &r))
				break;
		} else {
			GElf_Rel rl;
			if (!gelf_getrel(d, (int)i, &rl))
				break;
			r.r_offset = rl.r_offset;
			r.r_info = rl.r_info;
			r.r_addend = 0;
		}
		unsigned type = (unsigned)GELF_R_TYPE(r.r_info);
		size_t symi = GELF_R_SYM(r.r_info);
		if (type == rt->irelative && rela) {
			if (grow((void **)&ei->irel, irel_cap, ei->nirel, sizeof(*ei->irel)))
				return -ENOMEM;
			ei->irel[ei->nirel++] = (struct eirel){ r.r_offset, (uint64_t)r.r_addend };
		} else if ((type == rt->jump_slot || type == rt->glob_dat) && symi && symd &&
			   strs) {
			GElf_Sym s;
			if (!gelf_getsym(symd, (int)symi, &s) || s.st_name >= slen ||
			    !strs[s.st_name])
				continue;
			if (grow((void **)&ei->slots, slot_cap, ei->nslots, sizeof(*ei->slots)))
				return -ENOMEM;
			ei->slots[ei->nslots++] = (struct eslot){ r.r_offset, strs + s.st_name };
		}
	}
	return 0;
}

int elf_info_load(int fd, struct elf_info *ei, char *err, size_t errlen)
{
	int rc = 0;
	size_t copied[sizeof(ei->strs) / sizeof(ei->strs[0])];

	memset(ei, 0, sizeof(*ei));
	if (elf_version(EV_CURRENT) == EV_NONE) {
		snprintf(err, errlen, "libelf: %s", elf_errmsg(-1));
		return -EIO;
	}
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		if (elf)
			elf_end(elf);
		snprintf(err, errlen, "not an ELF file");
		return -ENOEXEC;
	}
	GElf_Ehdr eh;
	if (!gelf_getehdr(elf, &eh)) {
		snprintf(err, errlen, "bad ELF header: %s", elf_errmsg(-1));
		rc = -ENOEXEC;
		goto out;
	}
	ei->type = eh.e_type;
	ei->cls = gelf_getclass(elf);
	ei->machine = eh.e_machine;

	size_t nph = 0;
	bool have_load = false;
	long page = sysconf(_SC_PAGESIZE);
	elf_getphdrnum(elf, &nph);
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph))
			continue;
		if (ph.p_type == PT_LOAD && (!have_load || ph.p_vaddr < ei->min_vaddr)) {
			ei->min_vaddr = ph.p_vaddr;
			have_load = true;
		} else if (ph.p_type == PT_DYNAMIC) {
			ei->dyn_vaddr = ph.p_vaddr;
		}
	}
	ei->min_vaddr &= ~(uint64_t)(page - 1);

	/* .gnu.version pairs with .dynsym entry by entry. */
	Elf_Data *versym = NULL;
	size_t shstrndx = 0;
	elf_getshdrstrndx(elf, &shstrndx);
	for (Elf_Scn *scn = NULL; (scn = elf_nextscn(elf, scn));) {
		GElf_Shdr sh;
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_GNU_versym)
			versym = elf_getdata(scn, NULL);
	}

	const struct reloc_types *rt = reloc_types_for(ei->machine);
	struct syms_acc acc = { 0 };
	size_t slot_cap = 0, irel_cap = 0;
	for (Elf_Scn *scn = NULL; (scn = elf_nextscn(elf, scn)) && !rc;) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_DYNSYM || sh.sh_type == SHT_SYMTAB) {
			rc = add_symtab(ei, elf, scn, &sh, versym, copied, &acc);
		} else if ((sh.sh_type == SHT_RELA || sh.sh_type == SHT_REL) && rt) {
			rc = add_relocs(ei, elf, scn, &sh, copied, rt, &slot_cap, &irel_cap);
		} else if (sh.sh_type == SHT_PROGBITS && (sh.sh_flags & SHF_EXECINSTR) &&
			   ei->nplt < (int)(sizeof(ei->plt) / sizeof(ei->plt[0]))) {
			const char *nm = elf_strptr(elf, shstrndx, sh.sh_name);
			if (nm && (!strncmp(nm, ".plt", 4) || !strcmp(nm, ".iplt"))) {
				ei->plt[ei->nplt].lo = sh.sh_addr;
				ei->plt[ei->nplt++].hi = sh.sh_addr + sh.sh_size;
			}
		}
	}
	ei->syms = acc.v;
	ei->nsyms = acc.n;
	if (rc) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}

	/* qsort wants a non-NULL base even for zero elements. */
	if (ei->nsyms)
		qsort(ei->syms, ei->nsyms, sizeof(*ei->syms), cmp_esym);
	dedup_syms(ei);
	if (ei->nslots)
		qsort(ei->slots, ei->nslots, sizeof(*ei->slots), cmp_slot);
	if (ei->nirel)
		qsort(ei->irel, ei->nirel, sizeof(*ei->irel), cmp_irel);
	ei->by_addr = malloc((ei->nsyms ? ei->nsyms : 1) * sizeof(*ei->by_addr));
	if (!ei->by_addr) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < ei->nsyms; i++)
		ei->by_addr[i] = (uint32_t)i;
	ei->naddr = ei->nsyms;
	if (ei->naddr)
		qsort_r(ei->by_addr, ei->naddr, sizeof(*ei->by_addr), cmp_by_addr, ei);
out:
	elf_end(elf);
	if (rc)
		elf_info_free(ei);
	return rc;
}

void elf_info_free(struct elf_info *ei)
{
	free(ei->syms);
	free(ei->by_addr);
	free(ei->slots);
	free(ei->irel);
	for (int i = 0; i < ei->nstrs; i++)
		free(ei->strs[i]);
	memset(ei, 0, sizeof(*ei));
}

const struct esym *elf_find(const struct elf_info *ei, const char *name)
{
	size_t lo = 0, hi = ei->nsyms;

	/* Lower bound, so that the best entry of the group is found, not just any. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(ei->syms[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < ei->nsyms && !strcmp(ei->syms[lo].name, name))
		return &ei->syms[lo];
	return NULL;
}

const struct esym *elf_enclosing(const struct elf_info *ei, uint64_t vaddr)
{
	size_t lo = 0, hi = ei->naddr;

	/* hi ends as the number of symbols starting at or below vaddr. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ei->syms[ei->by_addr[mid]].value <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* The nearest start may be a zero-sized label inside a bigger function, so look
	 * back a little for one that spans vaddr; the first of a run of aliases wins. */
	const struct esym *best = NULL;
	for (size_t k = 0; k < 64 && k < lo; k++) {
		const struct esym *s = &ei->syms[ei->by_addr[lo - 1 - k]];
		if (s->value == vaddr || vaddr < s->value + s->size)
			best = s;
		else if (best)
			break;
	}
	return best;
}

bool elf_in_plt(const struct elf_info *ei, uint64_t vaddr)
{
	for (int i = 0; i < ei->nplt; i++)
		if (vaddr >= ei->plt[i].lo && vaddr < ei->plt[i].hi)
			return true;
	return false;
}

const struct eslot *elf_find_slot(const struct elf_info *ei, const char *name)
{
	size_t lo = 0, hi = ei->nslots;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(ei->slots[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < ei->nslots && !strcmp(ei->slots[lo].name, name))
		return &ei->slots[lo];
	return NULL;
}

const struct eirel *elf_find_irel(const struct elf_info *ei, uint64_t addend)
{
	size_t lo = 0, hi = ei->nirel;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ei->irel[mid].addend < addend)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < ei->nirel && ei->irel[lo].addend == addend)
		return &ei->irel[lo];
	return NULL;
}
