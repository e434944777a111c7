/*
 * What symbols.c needs from one ELF file on disk, read once through libelf and then kept
 * without the file: its function symbols (by name and by address), the relocations that
 * tell where an IFUNC was bound, and the PLT ranges that tell a bound slot from a lazy one.
 * All addresses here are link-time addresses; symbols.c adds the load bias.
 */
#ifndef MHOOK_ELF_SYMS_H
#define MHOOK_ELF_SYMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Ranks, best first: the definition a bare name binds to comes first in its group. */
enum esym_rank {
	ESYM_GLOBAL = 0, /* exported or global, default version */
	ESYM_LOCAL = 1,  /* file-local (.symtab) or a local version */
	ESYM_HIDDEN = 2, /* a non-default version (name@VER), kept only without a default */
};

struct esym {
	const char *name;  /* version suffix cut off; points into the object's string copies */
	uint64_t value;    /* link-time address (the resolver, for an IFUNC) */
	uint64_t size;
	uint8_t rank;
	bool ifunc;
};

/* A JUMP_SLOT or GLOB_DAT relocation: a GOT slot the dynamic linker fills for name. */
struct eslot {
	uint64_t off;
	const char *name;
};

/* An IRELATIVE relocation: the slot at off holds what the resolver at addend returned. */
struct eirel {
	uint64_t off;
	uint64_t addend;
};

struct elf_info {
	int type;            /* ET_EXEC, ET_DYN */
	int cls;             /* ELFCLASS32 or ELFCLASS64 */
	int machine;
	uint64_t min_vaddr;  /* lowest PT_LOAD p_vaddr, rounded down to a page */
	uint64_t dyn_vaddr;  /* PT_DYNAMIC p_vaddr, 0 if none */
	struct esym *syms;   /* sorted by name, then best first */
	size_t nsyms;
	uint32_t *by_addr;   /* indices into syms, sorted by value */
	size_t naddr;
	struct eslot *slots; /* sorted by name */
	size_t nslots;
	struct eirel *irel;  /* sorted by addend */
	size_t nirel;
	struct { uint64_t lo, hi; } plt[4];
	int nplt;
	char *strs[4];       /* copies of the string tables the names point into */
	int nstrs;
};

/* Reads the ELF file open on fd. Returns 0, or -ENOEXEC when it is not an ELF file, or
 * another negative errno with err filled in. The fd stays open and owned by the caller. */
int elf_info_load(int fd, struct elf_info *ei, char *err, size_t errlen);
void elf_info_free(struct elf_info *ei);

/* The best definition of name (the first of its group), or NULL. */
const struct esym *elf_find(const struct elf_info *ei, const char *name);

/* The function symbol containing the link-time address vaddr, or NULL. */
const struct esym *elf_enclosing(const struct elf_info *ei, uint64_t vaddr);

/* Whether the link-time address vaddr lies in one of the object's PLT sections. */
bool elf_in_plt(const struct elf_info *ei, uint64_t vaddr);

/* The first slot relocation for name (others follow it in ei->slots), or NULL. */
const struct eslot *elf_find_slot(const struct elf_info *ei, const char *name);

/* The first IRELATIVE relocation whose resolver is addend (others follow), or NULL. */
const struct eirel *elf_find_irel(const struct elf_info *ei, uint64_t addend);

#endif
