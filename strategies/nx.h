/*
 * Private to the nx strategy (nx.c: pages, faults, the strategy ops; nx_cache.c: the code
 * cache). nx makes each page holding a hooked entry non-executable and runs everything
 * that executes on such a page out of line, from translated blocks in scratch memory. This
 * header is the state the two halves share: the guarded pages and the translated blocks.
 */
#ifndef MHOOK_NX_H
#define MHOOK_NX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tracer/addrmap.h"
#include "tracer/arch.h"
#include "tracer/session.h"

#define NX_PAGE 4096ULL

/* A page that holds (or held) hooked entries. */
struct nx_page {
	uint64_t addr;            /* page start */
	int prot;                 /* what the target wants (PROT_*): restored on remove */
	unsigned long long dev_major, dev_minor, inode, offset; /* the mapping's identity:
				   * the file offset of this page, so a remap is noticed */
	bool guarded;             /* our non-exec mprotect is in place */
	int owner;                /* index of a hook on it, charged with collateral stops */
	uint64_t chunk, chunk_used, chunk_size; /* code cache space near the page */
};

/* A straight-line block of guarded code and its translation in the code cache. */
struct nx_block {
	uint64_t src, dst;        /* original address; address of the copy (0: pending) */
	uint32_t src_len, dst_len;
	unsigned n;               /* instructions */
	uint8_t ilen[RELOC_MAX_INSNS];
	struct reloc_boundary map[RELOC_MAX_INSNS + 1]; /* to move threads out (detach) */
	bool dead;                /* forgotten: its page was unguarded or re-protected */
	bool ends_flow;           /* the last instruction never falls through */
};

struct nx_state {
	struct session *s;
	struct nx_page *pages;
	int npages, cap_pages;
	struct nx_block *blocks;
	int nblocks, cap_blocks;
	struct addrmap map;       /* original address -> live block index */
};

/* Index of the known page holding addr, or -1. */
int nx_page_of(const struct nx_state *st, uint64_t addr);
/* Whether addr is on a page we guard now. */
bool nx_guarded(const struct nx_state *st, uint64_t addr);
/* Whether addr is the entry of an armed hook: never chained to, so it faults. */
bool nx_hooked_entry(const struct nx_state *st, uint64_t addr);

/* The copy of the block that starts at pc, translating it (and every block reachable
 * from it by direct branches on guarded pages, bounded) if needed. t is the stopped
 * thread that faulted, for mapping more cache memory. 0 with err filled in on failure. */
uint64_t nx_cache_enter(struct nx_state *st, struct thread *t, uint64_t pc, char *err,
			size_t errlen);
/* Whether the instruction at pc (on page known to st) can run out of line: 0, or a
 * negative errno with err filled in. Writes nothing. */
int nx_cache_check(struct nx_state *st, uint64_t pc, char *err, size_t errlen);
/* Whether pc lies inside translated code; *orig gets the equivalent original address
 * when pc is at an instruction boundary (0 otherwise). */
bool nx_cache_owns(const struct nx_state *st, uint64_t pc, uint64_t *orig);
/* Forgets every translation: a page's code may have changed (guarded again, given back),
 * and blocks of other pages may be linked into it. */
void nx_cache_forget(struct nx_state *st);
/* Frees the block table. */
void nx_cache_free(struct nx_state *st);

#endif
