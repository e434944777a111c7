/*
 * The address map (see addrmap.h).
 */
#include "tracer/addrmap.h"

#include <stdlib.h>
#include <string.h>

static unsigned slot_of(uint64_t key, unsigned cap)
{
	return (unsigned)((key * 0x9e3779b97f4a7c15ULL) >> 40) & (cap - 1);
}

static void insert(struct addrmap *m, uint64_t key, int val)
{
	unsigned j = slot_of(key, m->cap);

	while (m->keys[j] && m->keys[j] != key)
		j = (j + 1) & (m->cap - 1);
	if (!m->keys[j])
		m->used++;
	m->keys[j] = key;
	m->vals[j] = val;
}

static void grow(struct addrmap *m)
{
	struct addrmap old = *m;

	m->cap = old.cap ? old.cap * 2 : 16;
	m->used = 0;
	m->keys = calloc(m->cap, sizeof(*m->keys));
	m->vals = calloc(m->cap, sizeof(*m->vals));
	if (!m->keys || !m->vals)
		abort();
	for (unsigned i = 0; i < old.cap; i++)
		if (old.keys[i])
			insert(m, old.keys[i], old.vals[i]);
	free(old.keys);
	free(old.vals);
}

void addrmap_put(struct addrmap *m, uint64_t key, int val)
{
	if ((m->used + 1) * 2 > m->cap)
		grow(m);
	insert(m, key, val);
}

int addrmap_get(const struct addrmap *m, uint64_t key)
{
	if (!m->cap || !key)
		return -1;
	for (unsigned j = slot_of(key, m->cap); m->keys[j]; j = (j + 1) & (m->cap - 1))
		if (m->keys[j] == key)
			return m->vals[j];
	return -1;
}

void addrmap_clear(struct addrmap *m)
{
	if (m->cap)
		memset(m->keys, 0, m->cap * sizeof(*m->keys));
	m->used = 0;
}

void addrmap_free(struct addrmap *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}
