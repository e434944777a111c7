/*
 * A map from a code address to a small index, for lookups on the hit path: which hook
 * sits at an address (session.c), which translated block starts there (nx_cache.c).
 * Open addressing with linear probing and Fibonacci hashing, since code addresses differ
 * mostly in their low bits. Address 0 marks an empty slot, so it cannot be a key.
 */
#ifndef MHOOK_ADDRMAP_H
#define MHOOK_ADDRMAP_H

#include <stdint.h>

struct addrmap {
	uint64_t *keys;
	int *vals;
	unsigned cap;             /* a power of two, or 0 before the first put */
	unsigned used;
};

/* Maps key (not 0) to val, replacing an earlier value; grows to stay at most half full.
 * Aborts when out of memory: the tracer cannot go on without its index. */
void addrmap_put(struct addrmap *m, uint64_t key, int val);

/* The value of key, or -1. */
int addrmap_get(const struct addrmap *m, uint64_t key);

/* Forgets every key, keeping the allocation (removal is by clearing and putting back
 * what stays: the maps are small and change rarely). */
void addrmap_clear(struct addrmap *m);

void addrmap_free(struct addrmap *m);

#endif
