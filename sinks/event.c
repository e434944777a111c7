/*
 * What an event owns (see event.h): a chain of blocks, each one allocation, so that an
 * event built of many strings is freed in a few calls and its pointers never move.
 */
#include "sinks/event.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EVENT_BLOCK_SIZE 4096

struct event_block {
	struct event_block *next;
	size_t used, size;
	_Alignas(16) unsigned char data[];
};

void *event_alloc(struct event *ev, size_t n)
{
	struct event_block *b = ev->owned;

	n = (n + 15) & ~(size_t)15;
	if (!b || b->size - b->used < n) {
		size_t size = n > EVENT_BLOCK_SIZE ? n : EVENT_BLOCK_SIZE;
		b = malloc(sizeof(*b) + size);
		if (!b)
			return NULL;
		b->next = ev->owned;
		b->used = 0;
		b->size = size;
		ev->owned = b;
	}
	void *p = b->data + b->used;
	b->used += n;
	memset(p, 0, n);
	return p;
}

const char *event_strdup(struct event *ev, const char *s)
{
	size_t n = s ? strlen(s) + 1 : 1;
	char *p = event_alloc(ev, n);

	if (!p)
		return "";
	if (s)
		memcpy(p, s, n);
	return p;
}

void event_free(struct event *ev)
{
	while (ev->owned) {
		struct event_block *b = ev->owned;
		ev->owned = b->next;
		free(b);
	}
}

uint64_t event_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}
