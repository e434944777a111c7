/*
 * A cached view of /proc/self/maps: the protection of a page (to restore it after a write)
 * and the free gaps (to place trampolines within branch reach of their target). Reading
 * the maps file costs tens of microseconds, far more than the rest of a patch, so it is
 * read once and re-read only when a lookup misses or libmhook maps something unexpected.
 * It is parsed by hand with raw system calls: no stdio, no malloc. The cache goes stale
 * when the program itself calls mprotect on code we later patch; docs/libmhook.md says so.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "libmhook/internal.h"

#define MAPS_MAX 8192

struct map_ent {
	uintptr_t start, end;
	int prot;
};

static struct map_ent maps[MAPS_MAX];
static unsigned n_maps;
static bool maps_valid;

static uint64_t parse_hex(const char **p)
{
	uint64_t v = 0;

	for (;; (*p)++) {
		char c = **p;

		if (c >= '0' && c <= '9')
			v = v * 16 + (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (uint64_t)(c - 'a' + 10);
		else
			return v;
	}
}

static void parse_line(const char *p)
{
	struct map_ent e;

	if (n_maps >= MAPS_MAX)
		return;
	e.start = (uintptr_t)parse_hex(&p);
	if (*p++ != '-')
		return;
	e.end = (uintptr_t)parse_hex(&p);
	if (*p++ != ' ')
		return;
	e.prot = (p[0] == 'r' ? PROT_READ : 0) | (p[1] == 'w' ? PROT_WRITE : 0) |
		 (p[2] == 'x' ? PROT_EXEC : 0);
	maps[n_maps++] = e;
}

static void maps_read(void)
{
	char buf[4096], line[512];
	size_t ll = 0;
	long fd, n;

	n_maps = 0;
	fd = mh_sys(SYS_openat, AT_FDCWD, (long)"/proc/self/maps", O_RDONLY | O_CLOEXEC, 0, 0, 0);
	if (fd < 0)
		return;
	while ((n = mh_sys(SYS_read, fd, (long)buf, sizeof(buf), 0, 0, 0)) > 0) {
		for (long i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (ll < sizeof(line) - 1)
					line[ll++] = buf[i];
				continue;
			}
			line[ll] = 0;
			parse_line(line);
			ll = 0;
		}
	}
	mh_sys(SYS_close, fd, 0, 0, 0, 0, 0);
	maps_valid = true;
}

void mh_maps_invalidate(void)
{
	maps_valid = false;
}

static const struct map_ent *lookup(uintptr_t addr)
{
	unsigned lo = 0, hi = n_maps;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (addr < maps[mid].start)
			hi = mid;
		else if (addr >= maps[mid].end)
			lo = mid + 1;
		else
			return &maps[mid];
	}
	return NULL;
}

int mh_maps_prot(uintptr_t addr)
{
	const struct map_ent *e;

	if (!maps_valid)
		maps_read();
	e = lookup(addr);
	if (!e) {
		maps_read();
		e = lookup(addr);
	}
	return e ? e->prot : -1;
}

uintptr_t mh_maps_end(uintptr_t addr)
{
	const struct map_ent *e;

	if (mh_maps_prot(addr) < 0)
		return addr;
	e = lookup(addr);
	/* Adjacent readable mappings (a library's text split by our own mprotect) count. */
	while (e && e + 1 < maps + n_maps && e[1].start == e->end && (e[1].prot & PROT_READ))
		e++;
	return e ? e->end : addr;
}

uintptr_t mh_maps_start(uintptr_t addr)
{
	const struct map_ent *e;

	if (mh_maps_prot(addr) < 0)
		return addr;
	e = lookup(addr);
	while (e && e > maps && e[-1].end == e->start && (e[-1].prot & PROT_READ))
		e--;
	return e ? e->start : addr;
}

void mh_maps_note(uintptr_t start, size_t len, int prot)
{
	unsigned i;

	if (!maps_valid || n_maps >= MAPS_MAX) {
		maps_valid = false;
		return;
	}
	/* Keep the array sorted: the new mapping lies in a gap, so it overlaps nothing. */
	for (i = n_maps; i > 0 && maps[i - 1].start > start; i--)
		maps[i] = maps[i - 1];
	maps[i] = (struct map_ent){ start, start + len, prot };
	n_maps++;
}

/* The lowest and highest addresses mmap may hand out to user space. */
#define LOW_LIMIT 0x10000u
#if UINTPTR_MAX > 0xffffffffu
#define HIGH_LIMIT 0x7ffffffff000ull
#else
#define HIGH_LIMIT 0xffff0000ull
#endif

uintptr_t mh_maps_free_near(uintptr_t near, uint64_t reach, size_t len)
{
	uint64_t want_lo = near > reach ? near - reach : 0;
	uint64_t want_hi = (uint64_t)near + reach;   /* last byte must stay below this */
	uint64_t best = 0, best_dist = UINT64_MAX;
	uint64_t gap_lo = LOW_LIMIT;

	if (!maps_valid)
		maps_read();
	for (unsigned i = 0; i <= n_maps; i++) {
		uint64_t gap_hi = i < n_maps ? maps[i].start : HIGH_LIMIT;
		uint64_t lo = gap_lo > want_lo ? gap_lo : want_lo;
		uint64_t hi = gap_hi < want_hi ? gap_hi : want_hi;

		lo = (lo + 0xfff) & ~(uint64_t)0xfff;
		if (hi > lo && hi - lo >= len) {
			/* The candidate closest to near within [lo, hi - len]. */
			uint64_t top = (hi - len) & ~(uint64_t)0xfff;
			uint64_t c = near < lo ? lo : near > top ? top : (near & ~(uint64_t)0xfff);
			uint64_t d = c > near ? c - near : near - c;

			if (c >= lo && c <= top && d < best_dist) {
				best = c;
				best_dist = d;
			}
		}
		if (i < n_maps && maps[i].end > gap_lo)
			gap_lo = maps[i].end;
	}
	return (uintptr_t)best;
}
