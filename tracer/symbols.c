/*
 * The objects loaded in a traced process, and SPEC resolution against them. image_load
 * reads /proc/PID/maps, groups the mappings by backing file, reads each object's ELF file
 * (elf_syms.c) and computes its load bias, then orders the objects as the dynamic linker
 * searches them by walking the link map (r_debug) in tracee memory. Resolving a SPEC
 * against the image lives in symbols_resolve.c.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "tracer/image.h"
#include "tracer/maps.h"
#include "tracer/proc.h"

#define DELETED_SUFFIX " (deleted)"

static bool strip_deleted(char *path)
{
	size_t n = strlen(path), d = strlen(DELETED_SUFFIX);

	if (n > d && !strcmp(path + n - d, DELETED_SUFFIX)) {
		path[n - d] = '\0';
		return true;
	}
	return false;
}

/* ---- /proc/PID/maps ------------------------------------------------------------------ */

struct maps_ctx {
	struct image *img;
	size_t cap;
};

static int add_map(const struct maps_entry *e, void *ctx)
{
	struct maps_ctx *mc = ctx;
	struct image *img = mc->img;
	const struct image_source *src = &img->src;

	if (img->nmaps == mc->cap) {
		mc->cap = mc->cap ? mc->cap * 2 : 64;
		struct map *m = realloc(img->maps, mc->cap * sizeof(*m));
		if (!m)
			return -ENOMEM;
		img->maps = m;
	}
	struct map *m = &img->maps[img->nmaps];
	*m = (struct map){
		.start = e->start, .end = e->end, .off = e->offset,
		.r = e->prot & PROT_READ, .w = e->prot & PROT_WRITE,
		/* Code that mhookd made non-executable (nx's guarded pages) is still code. */
		.x = (e->prot & PROT_EXEC) ||
		     (src->hides_exec && src->hides_exec(src->hides_ctx, e->start, e->end)),
		.dev = makedev(e->dev_major, e->dev_minor), .ino = e->inode, .obj = -1,
	};
	if (e->path[0]) {
		m->path = strdup(e->path);
		if (!m->path)
			return -ENOMEM;
	}
	img->nmaps++;
	return 0;
}

static int parse_maps(struct image *img, char *err, size_t errlen)
{
	struct maps_ctx mc = { .img = img };
	int rc = maps_foreach(img->pid, add_map, &mc);

	if (rc == -ESRCH) {
		char fn[64];
		snprintf(fn, sizeof(fn), "/proc/%d", (int)img->pid);
		if (access(fn, F_OK) < 0)
			snprintf(err, errlen, "no process %d", (int)img->pid);
		else
			snprintf(err, errlen, "process %d has no mappings (a zombie?)",
				 (int)img->pid);
	} else if (rc == -ENOMEM) {
		snprintf(err, errlen, "out of memory");
	} else if (rc < 0) {
		snprintf(err, errlen, "cannot read /proc/%d/maps: %s", (int)img->pid,
			 strerror(-rc));
	}
	return rc;
}

/* ---- objects ------------------------------------------------------------------------- */

/* Groups file mappings into objects: a mapping at file offset 0 starts one, later
 * mappings of the same file belong to the latest object started from it. */
static int group_objects(struct image *img)
{
	for (size_t i = 0; i < img->nmaps; i++) {
		struct map *m = &img->maps[i];
		if (!m->path || m->path[0] != '/')
			continue;
		if (m->off == 0) {
			struct obj *o = realloc(img->objs, (img->nobjs + 1) * sizeof(*o));
			if (!o)
				return -ENOMEM;
			img->objs = o;
			o = &img->objs[img->nobjs];
			memset(o, 0, sizeof(*o));
			o->path = strdup(m->path);
			if (!o->path)
				return -ENOMEM;
			strip_deleted(o->path);
			const char *slash = strrchr(o->path, '/');
			o->base = slash ? slash + 1 : o->path;
			o->lo = m->start;
			o->hi = m->end;
			o->first = m->start;
			m->obj = (int)img->nobjs++;
		} else {
			for (size_t j = i; j-- > 0;) {
				struct map *p = &img->maps[j];
				if (p->obj >= 0 && p->ino == m->ino && p->dev == m->dev &&
				    p->path && !strcmp(p->path, m->path)) {
					m->obj = p->obj;
					break;
				}
			}
			if (m->obj < 0)
				continue;
		}
		struct obj *o = &img->objs[m->obj];
		if (m->start < o->lo)
			o->lo = m->start;
		if (m->end > o->hi)
			o->hi = m->end;
		o->has_x |= m->x;
	}
	return 0;
}

/* Opens the file behind object o as the tracee sees it: the path itself when it is the
 * same inode, else through /proc/PID/root (another mount namespace) or map_files (a
 * deleted or replaced file). */
static int open_object(const struct image *img, const struct map *m)
{
	char path[PATH_MAX + 64];
	struct stat st;
	bool deleted = false;
	char *p = strdup(m->path);

	if (!p)
		return -1;
	deleted = strip_deleted(p);
	for (int attempt = 0; attempt < 3; attempt++) {
		if (attempt == 0 && !deleted)
			snprintf(path, sizeof(path), "%s", p);
		else if (attempt == 1 && !deleted)
			snprintf(path, sizeof(path), "/proc/%d/task/%d/root%s", (int)img->pid,
				 (int)img->live_tid, p);
		else if (attempt == 2)
			snprintf(path, sizeof(path), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64,
				 (int)img->pid, m->start, m->end);
		else
			continue;
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		/* map_files is the mapping itself; a path may name a newer file. */
		if (attempt == 2 || (!fstat(fd, &st) && st.st_ino == m->ino)) {
			free(p);
			return fd;
		}
		close(fd);
	}
	free(p);
	return -1;
}

static int load_objects(struct image *img)
{
	size_t keep = 0;

	for (size_t i = 0; i < img->nobjs; i++) {
		struct obj *o = &img->objs[i];
		const struct map *m0 = NULL;
		for (size_t k = 0; k < img->nmaps && !m0; k++)
			if (img->maps[k].obj == (int)i)
				m0 = &img->maps[k];
		bool drop = !o->has_x;
		if (!drop) {
			int fd = open_object(img, m0);
			/* An unreadable file leaves the object usable by address; a name
			 * looked up in it then says that its symbols could not be read. */
			char why[128];
			int rc = fd < 0 ? -errno : elf_info_load(fd, &o->ei, why, sizeof(why));
			if (fd >= 0)
				close(fd);
			if (rc == -ENOEXEC)
				drop = true;   /* an executable mapping of something else */
			else if (rc == -ENOMEM)
				return rc;
			o->has_elf = rc == 0;
		}
		if (drop) {
			free(o->path);
			elf_info_free(&o->ei);
			for (size_t k = 0; k < img->nmaps; k++)
				if (img->maps[k].obj == (int)i)
					img->maps[k].obj = -1;
			continue;
		}
		/* Without the file we assume the first segment is at link address 0, which
		 * holds for every PIE and shared library. */
		o->bias = o->first - (o->has_elf ? o->ei.min_vaddr : 0);
		for (size_t k = 0; k < img->nmaps; k++)
			if (img->maps[k].obj == (int)i)
				img->maps[k].obj = (int)keep;
		img->objs[keep++] = *o;
	}
	img->nobjs = keep;
	return 0;
}

static void find_exe(struct image *img)
{
	char fn[64], target[PATH_MAX];
	struct stat st;

	snprintf(fn, sizeof(fn), "/proc/%d/task/%d/exe", (int)img->pid, (int)img->live_tid);
	ssize_t n = readlink(fn, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = '\0';
		strip_deleted(target);
		for (size_t i = 0; i < img->nobjs; i++)
			if (!strcmp(img->objs[i].path, target)) {
				img->objs[i].is_exe = true;
				return;
			}
	}
	/* Paths differ across mount namespaces; the inode does not. */
	if (stat(fn, &st))
		return;
	for (size_t i = 0; i < img->nmaps; i++) {
		const struct map *m = &img->maps[i];
		if (m->obj >= 0 && m->ino == st.st_ino && m->dev == st.st_dev) {
			img->objs[m->obj].is_exe = true;
			return;
		}
	}
}

/* ---- search order: the link map in tracee memory ----------------------------------------- */

int image_read_ptr(const struct image *img, uint64_t addr, uint64_t *v)
{
	if (!img->src.read)
		return -ENOSYS;
	if (img->ptrsize == 4) {
		uint32_t v32;
		int rc = img->src.read(img->src.read_ctx, addr, &v32, 4);
		*v = v32;
		return rc;
	}
	return img->src.read(img->src.read_ctx, addr, v, 8);
}

static int obj_containing(const struct image *img, uint64_t addr)
{
	const struct map *m = image_map_at(img, addr);
	return m ? m->obj : -1;
}

/* Fills rank[i] with the position of object i in the link map, or leaves it at -1.
 * Any failure just leaves the maps order, so errors are not reported. */
/* The executable's DT_DEBUG value: the dynamic linker's struct r_debug, 0 if none yet. */
static uint64_t exe_r_debug(const struct image *img, int exe)
{
	const struct obj *e = &img->objs[exe];
	if (!img->src.read || !e->has_elf || !e->ei.dyn_vaddr)
		return 0;
	uint64_t dyn = e->bias + e->ei.dyn_vaddr;
	int ps = img->ptrsize;
	for (int i = 0; i < 1024; i++) {
		uint64_t tag, val;
		uint64_t at = dyn + (uint64_t)(2 * i * ps);
		if (image_read_ptr(img, at, &tag) || image_read_ptr(img, at + (uint64_t)ps, &val) ||
		    tag == DT_NULL)
			break;
		if (tag == DT_DEBUG)
			return val;
	}
	return 0;
}

int image_r_debug(struct image *img, uint64_t *addr)
{
	for (size_t i = 0; i < img->nobjs; i++) {
		if (img->objs[i].is_exe) {
			*addr = exe_r_debug(img, (int)i);
			return *addr ? 0 : -ENOENT;
		}
	}
	return -ENOENT;
}

static void link_map_order(struct image *img, int exe, int *rank)
{
	int ps = img->ptrsize;
	uint64_t debug = exe_r_debug(img, exe);
	uint64_t lm = 0;
	/* struct r_debug { int r_version; struct link_map *r_map; ... } */
	if (!debug || image_read_ptr(img, debug + (uint64_t)ps, &lm))
		return;
	/* struct link_map { l_addr, l_name, l_ld, l_next, l_prev } */
	for (int pos = 0; lm && pos < 4096; pos++) {
		uint64_t ld, next;
		if (image_read_ptr(img, lm + 2 * (uint64_t)ps, &ld) ||
		    image_read_ptr(img, lm + 3 * (uint64_t)ps, &next))
			break;
		/* l_ld identifies the object where l_name cannot: the executable's name is
		 * empty, and symlinks make names differ from maps. */
		int o = obj_containing(img, ld);
		if (o >= 0 && rank[o] < 0)
			rank[o] = pos;
		lm = next;
	}
}

struct order_ctx {
	const struct image *img;
	const int *rank;
};

/* The executable first, then objects in link map order, then the rest in maps order. */
static int cmp_obj_order(const void *a, const void *b, void *ctx)
{
	const struct order_ctx *c = ctx;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	const struct obj *ox = &c->img->objs[x], *oy = &c->img->objs[y];

	if (ox->is_exe != oy->is_exe)
		return ox->is_exe ? -1 : 1;
	int rx = c->rank[x], ry = c->rank[y];
	if ((rx < 0) != (ry < 0))
		return rx < 0 ? 1 : -1;
	if (rx != ry)
		return rx - ry;
	return (x > y) - (x < y);
}

static int order_objects(struct image *img)
{
	size_t n = img->nobjs;
	int exe = -1;

	for (size_t i = 0; i < n; i++)
		if (img->objs[i].is_exe)
			exe = (int)i;
	img->ptrsize = 8;
	if (exe >= 0 && img->objs[exe].has_elf && img->objs[exe].ei.cls == ELFCLASS32)
		img->ptrsize = 4;
	if (n < 2)
		return 0;

	int *rank = malloc(n * sizeof(*rank));
	size_t *perm = malloc(n * sizeof(*perm));
	struct obj *sorted = malloc(n * sizeof(*sorted));
	int *where = malloc(n * sizeof(*where));
	if (!rank || !perm || !sorted || !where) {
		free(rank), free(perm), free(sorted), free(where);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		rank[i] = -1;
		perm[i] = i;
	}
	if (exe >= 0)
		link_map_order(img, exe, rank);
	struct order_ctx ctx = { img, rank };
	qsort_r(perm, n, sizeof(*perm), cmp_obj_order, &ctx);
	for (size_t i = 0; i < n; i++) {
		sorted[i] = img->objs[perm[i]];
		where[perm[i]] = (int)i;
	}
	for (size_t k = 0; k < img->nmaps; k++)
		if (img->maps[k].obj >= 0)
			img->maps[k].obj = where[img->maps[k].obj];
	free(img->objs);
	img->objs = sorted;
	free(rank), free(perm), free(where);
	return 0;
}

int image_load(pid_t pid, const struct image_source *src, struct image **out, char *err,
	       size_t errlen)
{
	struct image *img = calloc(1, sizeof(*img));
	int rc;

	*out = NULL;
	if (!img) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	img->pid = pid;
	img->live_tid = proc_live_thread(pid);
	if (!img->live_tid)
		img->live_tid = pid;
	if (src)
		img->src = *src;
	img->ptrsize = 8;
	rc = parse_maps(img, err, errlen);
	if (!rc && (rc = group_objects(img)) == 0 && (rc = load_objects(img)) == 0) {
		find_exe(img);
		rc = order_objects(img);
	}
	if (rc) {
		if (rc == -ENOMEM)
			snprintf(err, errlen, "out of memory");
		image_free(img);
		return rc;
	}
	*out = img;
	return 0;
}

void image_free(struct image *img)
{
	if (!img)
		return;
	for (size_t i = 0; i < img->nobjs; i++) {
		free(img->objs[i].path);
		elf_info_free(&img->objs[i].ei);
	}
	for (size_t i = 0; i < img->nmaps; i++)
		free(img->maps[i].path);
	free(img->objs);
	free(img->maps);
	free(img);
}

const struct map *image_map_at(const struct image *img, uint64_t addr)
{
	size_t lo = 0, hi = img->nmaps;

	/* maps lists mappings in address order. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (img->maps[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < img->nmaps && img->maps[lo].start <= addr)
		return &img->maps[lo];
	return NULL;
}
