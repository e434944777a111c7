/*
 * A stdio stream whose bytes reach its descriptor in writes of whole lines (see sink.h).
 * Reports on stderr or a pipe share it with the target's own output. A write of at most
 * PIPE_BUF bytes to a pipe is atomic, a longer one is not, and stdio's buffer ends where
 * it fills, in the middle of a line; so here every write ends at a line's end and holds
 * as many whole lines as fit in PIPE_BUF. A line longer than that goes alone, and only it
 * can be split by another writer.
 */
#include "sinks/sink.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct lines {
	int fd;
	bool close_fd;
	char *pend;   /* bytes not written yet: whole lines, then at most one partial one */
	size_t npend, cap;
};

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The length of the next write from p[0..n): whole lines up to PIPE_BUF, else the one
 * long line; 0 when no line is complete yet. */
static size_t next_chunk(const char *p, size_t n)
{
	size_t end = 0;

	for (;;) {
		const char *nl = memchr(p + end, '\n', n - end);
		if (!nl)
			return end;
		size_t next = (size_t)(nl - p) + 1;
		if (next > PIPE_BUF)
			return end ? end : next;
		end = next;
	}
}

static ssize_t lines_write(void *cookie, const char *buf, size_t size)
{
	struct lines *l = cookie;
	size_t chunk, done = 0;

	if (l->npend + size > l->cap) {
		size_t cap = (l->npend + size) * 2;
		char *p = realloc(l->pend, cap);
		if (!p)
			return -1;
		l->pend = p;
		l->cap = cap;
	}
	memcpy(l->pend + l->npend, buf, size);
	l->npend += size;
	while ((chunk = next_chunk(l->pend + done, l->npend - done))) {
		if (write_all(l->fd, l->pend + done, chunk) < 0) {
			/* Nothing more can be trusted to arrive: drop what is held. */
			l->npend = 0;
			return -1;
		}
		done += chunk;
	}
	memmove(l->pend, l->pend + done, l->npend - done);
	l->npend -= done;
	return (ssize_t)size;
}

static int lines_close(void *cookie)
{
	struct lines *l = cookie;
	int rc = l->npend ? write_all(l->fd, l->pend, l->npend) : 0;

	if (l->close_fd && close(l->fd) < 0)
		rc = -1;
	free(l->pend);
	free(l);
	return rc;
}

FILE *sink_lines_fdopen(int fd, bool close_fd)
{
	struct lines *l = calloc(1, sizeof(*l));
	FILE *f;

	if (!l)
		return NULL;
	l->fd = fd;
	l->close_fd = close_fd;
	f = fopencookie(l, "w", (cookie_io_functions_t){ .write = lines_write,
							 .close = lines_close });
	if (!f)
		free(l);
	return f;
}
