/*
 * Resolving a SPEC in an image built by symbols.c: choosing the object LIB names, the
 * definition a bare name binds to, the implementation an IFUNC resolved to in this very
 * process (read back from the GOT slots the dynamic linker filled), close names for an
 * unknown one, and the -l listing.
 */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tracer/demangle.h"
#include "tracer/image.h"

/* ---- IFUNC --------------------------------------------------------------------------- */

/* A slot value is a bound implementation when it is code of the defining object, is not
 * the resolver itself, and is not a PLT stub of any object (a lazy slot still points
 * back into its own PLT; a canonical PLT entry in a non-PIE executable is also a stub). */
static bool is_bound_impl(const struct image *img, const struct obj *o, const struct esym *s,
			  uint64_t v)
{
	const struct map *m = image_map_at(img, v);

	if (!m || !m->x || m->obj < 0 || &img->objs[m->obj] != o || v == o->bias + s->value)
		return false;
	for (size_t i = 0; i < img->nobjs; i++) {
		const struct obj *p = &img->objs[i];
		if (p->has_elf && v >= p->lo && v < p->hi && elf_in_plt(&p->ei, v - p->bias))
			return false;
	}
	return true;
}

static int ifunc_target(struct image *img, const struct obj *o, const struct esym *s,
		       uint64_t *impl)
{
	uint64_t v;

	/* The object's own calls go through IRELATIVE slots, which glibc fills eagerly
	 * even in lazily bound programs: the addend is the resolver. */
	const struct eirel *r = elf_find_irel(&o->ei, s->value);
	for (; r && r < o->ei.irel + o->ei.nirel && r->addend == s->value; r++)
		if (!image_read_ptr(img, o->bias + r->off, &v) && is_bound_impl(img, o, s, v)) {
			*impl = v;
			return 0;
		}
	/* Otherwise any object's GOT slot for the name, once it is bound. */
	for (size_t i = 0; i < img->nobjs; i++) {
		const struct obj *p = &img->objs[i];
		if (!p->has_elf)
			continue;
		const struct eslot *sl = elf_find_slot(&p->ei, s->name);
		const struct eslot *end = p->ei.slots + p->ei.nslots;
		for (; sl && sl < end && !strcmp(sl->name, s->name); sl++) {
			if (!image_read_ptr(img, p->bias + sl->off, &v) &&
			    is_bound_impl(img, o, s, v)) {
				*impl = v;
				return 0;
			}
		}
	}
	return -ENOTSUP;
}

/* An IFUNC nothing has bound yet: its resolver is run in the tracee, as the dynamic
 * linker would run it at the first call, and what it returns must be code of the object. */
static int ifunc_by_call(struct image *img, const struct obj *o, const struct esym *s,
			 uint64_t *impl, char *why, size_t whylen)
{
	uint64_t v = 0;

	int rc = img->src.call(img->src.call_ctx, o->bias + s->value, &v, why, whylen);
	if (rc < 0)
		return rc;
	if (!is_bound_impl(img, o, s, v)) {
		snprintf(why, whylen, "its resolver returned 0x%" PRIx64 ", no code of %s", v,
			 o->base);
		return -ENOTSUP;
	}
	*impl = v;
	return 0;
}

struct shared_acc {
	uint64_t seen[16];   /* resolvers already named */
	size_t nseen;
	size_t used;
};

static void shared_pass(struct image *img, const struct obj *o, const struct esym *s,
			uint64_t impl, bool reserved, struct shared_acc *acc, struct resolved *out)
{
	for (size_t i = 0; i < o->ei.nsyms; i++) {
		const struct esym *t = &o->ei.syms[i];
		uint64_t v;
		/* Global names only, and one per resolver: __new_memcpy is memcpy under
		 * another name, not another function sharing its code. */
		if (!t->ifunc || t->rank != ESYM_GLOBAL || t->value == s->value ||
		    (t->name[0] == '_') != reserved ||
		    (i && !strcmp(o->ei.syms[i - 1].name, t->name)))
			continue;
		bool alias = false;
		for (size_t k = 0; k < acc->nseen && !alias; k++)
			alias = acc->seen[k] == t->value;
		if (alias || ifunc_target(img, o, t, &v) || v != impl)
			continue;
		if (acc->nseen < sizeof(acc->seen) / sizeof(acc->seen[0]))
			acc->seen[acc->nseen++] = t->value;
		size_t len = strlen(t->name);
		if (acc->used + len + 2 >= sizeof(out->shared_with))
			return;
		acc->used += (size_t)snprintf(out->shared_with + acc->used,
					      sizeof(out->shared_with) - acc->used, "%s%s",
					      acc->used ? "\n" : "", t->name);
	}
}

/* Plain names go first, then _reserved ones, so that of two aliases (memmove and
 * __libc_memmove in a static executable) the one a user would write is shown. */
static void ifunc_shared(struct image *img, const struct obj *o, const struct esym *s,
			 uint64_t impl, struct resolved *out)
{
	struct shared_acc acc = { .nseen = 0 };

	out->shared_with[0] = '\0';
	shared_pass(img, o, s, impl, false, &acc, out);
	shared_pass(img, o, s, impl, true, &acc, out);
}

/* ---- suggestions --------------------------------------------------------------------- */

#define MAXLEN 128

/* Case-insensitive edit distance of a and the first bn bytes of b. */
static int edit_distance(const char *a, size_t an, const char *b, size_t bn)
{
	int row[MAXLEN + 1];

	for (size_t j = 0; j <= bn; j++)
		row[j] = (int)j;
	for (size_t i = 1; i <= an; i++) {
		int diag = row[0];
		row[0] = (int)i;
		for (size_t j = 1; j <= bn; j++) {
			int up = row[j];
			int cost = tolower((unsigned char)a[i - 1]) !=
				   tolower((unsigned char)b[j - 1]);
			int best = diag + cost;
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[bn];
}

/* How far name is from the query q; smaller is closer. A longer name that starts like q
 * (malloc_info for "mallocc") or contains it counts as close. */
static int closeness(const char *q, size_t qn, const char *name)
{
	size_t nn = strlen(name);

	if (qn > MAXLEN || nn > MAXLEN)
		return 1000;
	int d = edit_distance(q, qn, name, nn);
	if (nn > qn) {
		int p = edit_distance(q, qn, name, qn) + 1;
		if (p < d)
			d = p;
		if (qn >= 3 && strcasestr(name, q) && d > 2)
			d = 2;
	}
	return d;
}

struct suggestion {
	const char *name;
	int score;
};

static size_t common_prefix(const char *a, const char *b)
{
	size_t n = 0;

	while (a[n] && tolower((unsigned char)a[n]) == tolower((unsigned char)b[n]))
		n++;
	return n;
}

static bool better(const struct suggestion *a, const struct suggestion *b, const char *q)
{
	if (a->score != b->score)
		return a->score < b->score;
	/* Typos are mostly at the end: malloc_info is closer to "mallocc" than calloc. */
	size_t pa = common_prefix(q, a->name), pb = common_prefix(q, b->name);
	if (pa != pb)
		return pa > pb;
	size_t la = strlen(a->name), lb = strlen(b->name);
	if (la != lb)
		return la < lb;
	return strcmp(a->name, b->name) < 0;
}

static void suggest(const struct image *img, const struct obj *only, const char *name,
		   char *err, size_t errlen)
{
	struct suggestion top[5];
	int ntop = 0;
	size_t qn = strlen(name);
	int limit = qn / 3 > 1 ? (int)(qn / 3) : 1;

	for (size_t i = 0; i < img->nobjs; i++) {
		const struct obj *o = &img->objs[i];
		if ((only && o != only) || !o->has_elf)
			continue;
		for (size_t k = 0; k < o->ei.nsyms; k++) {
			const char *n = o->ei.syms[k].name;
			if (k && !strcmp(o->ei.syms[k - 1].name, n))
				continue;
			struct suggestion c = { n, closeness(name, qn, n) };
			if (c.score > limit)
				continue;
			bool dup = false;
			for (int t = 0; t < ntop && !dup; t++)
				dup = !strcmp(top[t].name, n);
			if (dup || (ntop == 5 && !better(&c, &top[4], name)))
				continue;
			int at = ntop < 5 ? ntop++ : 4;
			while (at > 0 && better(&c, &top[at - 1], name)) {
				top[at] = top[at - 1];
				at--;
			}
			top[at] = c;
		}
	}
	size_t used = strlen(err);
	for (int t = 0; t < ntop && used < errlen; t++)
		used += (size_t)snprintf(err + used, errlen - used, "%s%s",
					 t ? ", " : "; did you mean: ", top[t].name);
}

/* ---- resolution ---------------------------------------------------------------------- */

/* The loaded objects, by name, as many as fit whole in buf; the rest are counted. */
static void list_objects(const struct image *img, char *buf, size_t len)
{
	static const size_t tail = sizeof(", and 99999 more");
	size_t used = 0, i;

	buf[0] = '\0';
	for (i = 0; i < img->nobjs; i++) {
		const struct obj *o = &img->objs[i];
		size_t n = strlen(o->base) + (i ? 2 : 0) + (o->is_exe ? 6 : 0);
		if (used + n + tail >= len)
			break;
		used += (size_t)snprintf(buf + used, len - used, "%s%s%s", i ? ", " : "",
					 o->base, o->is_exe ? " (exe)" : "");
	}
	if (i < img->nobjs)
		snprintf(buf + used, len - used, ", and %zu more", img->nobjs - i);
}

/* name as an error message shows it: whole up to 80 bytes, else its start and its
 * length, so that a 5,000-byte name does not fill the line (cut on a character). */
static const char *shown(const char *name, char *buf, size_t len)
{
	size_t n = strlen(name), cut = 80;

	if (n <= cut)
		return name;
	while (cut > 0 && ((unsigned char)name[cut] & 0xc0) == 0x80)
		cut--;
	snprintf(buf, len, "%.*s... (%zu bytes)", (int)cut, name, n);
	return buf;
}

/* Picks the one object LIB names. */
static int pick_lib(const struct image *img, const char *lib, const struct obj **out,
		    char *err, size_t errlen)
{
	const struct obj *found[8];
	size_t nfound = 0;

	if (!strcmp(lib, "exe")) {
		for (size_t i = 0; i < img->nobjs; i++)
			if (img->objs[i].is_exe) {
				*out = &img->objs[i];
				return 0;
			}
		snprintf(err, errlen, "the main executable of process %d is not among its "
			 "mapped objects", (int)img->pid);
		return -ENOENT;
	}
	/* An exact basename (or a full path) beats a prefix, so "libfoo.so" stays usable
	 * next to libfoo-extra.so. */
	for (int pass = 0; pass < 2 && !nfound; pass++)
		for (size_t i = 0; i < img->nobjs; i++) {
			const struct obj *o = &img->objs[i];
			bool hit = strchr(lib, '/') ? !strcmp(o->path, lib)
				 : pass == 0 ? !strcmp(o->base, lib)
				 : lib_name_matches(o->base, lib);
			if (hit && nfound < sizeof(found) / sizeof(found[0]))
				found[nfound++] = o;
		}
	if (nfound == 1) {
		*out = found[0];
		return 0;
	}
	if (!nfound) {
		char objs[400];
		list_objects(img, objs, sizeof(objs));
		char b[128];
		snprintf(err, errlen, "no loaded object matches '%s' (loaded: %s)",
			 shown(lib, b, sizeof(b)), objs);
		return -ENOENT;
	}
	size_t used = (size_t)snprintf(err, errlen, "'%s' matches several objects:", lib);
	for (size_t i = 0; i < nfound && used < errlen; i++)
		used += (size_t)snprintf(err + used, errlen - used, "%s %s", i ? "," : "",
					 found[i]->path);
	return -EINVAL;
}

/* Fills func_start and size from the function symbol enclosing addr, if any. */
static void fill_enclosing(const struct image *img, uint64_t addr, struct resolved *out)
{
	const struct map *m = image_map_at(img, addr);
	if (!m || m->obj < 0)
		return;
	const struct obj *o = &img->objs[m->obj];
	const struct esym *s = o->has_elf ? elf_enclosing(&o->ei, addr - o->bias) : NULL;
	if (s && !s->ifunc) {
		out->func_start = o->bias + s->value;
		out->size = s->size;
	}
}

static void fill_object(const struct image *img, uint64_t addr, struct resolved *out)
{
	const struct map *m = image_map_at(img, addr);
	const char *lib = "", *path = "";

	if (m && m->obj >= 0) {
		lib = img->objs[m->obj].base;
		path = img->objs[m->obj].path;
	} else if (m && m->path) {
		lib = path = m->path;
	}
	snprintf(out->lib, sizeof(out->lib), "%s", lib);
	snprintf(out->path, sizeof(out->path), "%s", path);
}

static int check_exec(const struct image *img, uint64_t addr, char *err, size_t errlen)
{
	const struct map *m = image_map_at(img, addr);

	if (!m) {
		snprintf(err, errlen, "address 0x%" PRIx64 " is not mapped in process %d",
			 addr, (int)img->pid);
		return -ENOENT;
	}
	if (!m->x) {
		snprintf(err, errlen, "address 0x%" PRIx64 " is not executable (%c%c-, %s)",
			 addr, m->r ? 'r' : '-', m->w ? 'w' : '-',
			 m->path ? m->path : "anonymous");
		return -EINVAL;
	}
	return 0;
}

static int resolve_addr(struct image *img, const struct spec *spec, const struct obj *lib,
			struct resolved *out, char *err, size_t errlen)
{
	uint64_t a = spec->addr;

	if (lib) {
		if (__builtin_add_overflow(lib->bias, spec->addr, &a) || a >= lib->hi) {
			snprintf(err, errlen, "offset 0x%" PRIx64 " is beyond the end of %s "
				 "(0x%" PRIx64 " bytes mapped)", spec->addr, lib->base,
				 lib->hi - lib->bias);
			return -EINVAL;
		}
	}
	if (__builtin_add_overflow(a, spec->plus, &a)) {
		snprintf(err, errlen, "address overflows");
		return -EINVAL;
	}
	int rc = check_exec(img, a, err, errlen);
	if (rc)
		return rc;
	out->addr = a;
	snprintf(out->func, sizeof(out->func), "0x%" PRIx64, a);
	fill_object(img, a, out);
	fill_enclosing(img, a, out);
	return 0;
}

/* The definition a bare name binds to: the first global one in search order, else the
 * first file-local or old-version one (which the linker would not bind, but a user who
 * names it means it). */
static const struct esym *find_name(const struct image *img, const struct obj *only,
				    const char *name, const struct obj **where)
{
	const struct esym *fallback = NULL;

	for (size_t i = 0; i < img->nobjs; i++) {
		const struct obj *o = &img->objs[i];
		if ((only && o != only) || !o->has_elf)
			continue;
		const struct esym *s = elf_find(&o->ei, name);
		if (s && s->rank == ESYM_GLOBAL) {
			*where = o;
			return s;
		}
		if (s && !fallback) {
			fallback = s;
			*where = o;
		}
	}
	return fallback;
}

/* At most this many candidates are named when a C++ name is ambiguous. */
#define CXX_SHOWN_MAX 6

/* The definition a demangled C++ name binds to: in the first object (search order) where
 * some symbol demangles to a match, the one match, or -EINVAL naming the candidates when
 * they are different functions (overloads named without their parameters). Aliases of
 * one address (a constructor's C1 and C2) are one function. */
static int find_cxx(const struct image *img, const struct obj *only, const char *name,
		    const struct esym **found, const struct obj **where, char *err,
		    size_t errlen)
{
	for (size_t i = 0; i < img->nobjs; i++) {
		const struct obj *o = &img->objs[i];
		const struct esym *best = NULL;
		size_t used = 0;
		int distinct = 0;
		if ((only && o != only) || !o->has_elf)
			continue;
		for (size_t k = 0; k < o->ei.nsyms; k++) {
			const struct esym *e = &o->ei.syms[k];
			if (!cxx_may_match(name, e->name))
				continue;
			char *d = cxx_demangle(e->name);
			bool match = d && cxx_matches(name, d);
			if (match && (!best || best->value != e->value)) {
				if (!best || e->rank < best->rank)
					best = e;
				if (distinct++ == 0)
					used = (size_t)snprintf(err, errlen, "'%s' is ambiguous in "
								"%s:", name, o->base);
				if (distinct <= CXX_SHOWN_MAX && used < errlen)
					used += (size_t)snprintf(err + used, errlen - used, "%s %s",
								 distinct > 1 ? "," : "", d);
			}
			free(d);
		}
		if (distinct > 1) {
			if (used < errlen)
				snprintf(err + used, errlen - used, "%s; give the parameter list",
					 distinct > CXX_SHOWN_MAX ? ", ..." : "");
			return -EINVAL;
		}
		if (best) {
			*found = best;
			*where = o;
			return 0;
		}
	}
	return -ENOENT;
}

int image_resolve(struct image *img, const struct spec *spec, struct resolved *out,
		  char *err, size_t errlen)
{
	const struct obj *lib = NULL, *o = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (spec->lib && (rc = pick_lib(img, spec->lib, &lib, err, errlen)))
		return rc;
	if (spec->is_addr)
		return resolve_addr(img, spec, lib, out, err, errlen);

	const struct esym *s = NULL;
	if (cxx_is_source_name(spec->name)) {
		rc = find_cxx(img, lib, spec->name, &s, &o, err, errlen);
		if (rc == -EINVAL)
			return rc;
	} else {
		s = find_name(img, lib, spec->name, &o);
	}
	if (!s) {
		char b[128];
		const char *name = shown(spec->name, b, sizeof(b));
		if (lib && !lib->has_elf)
			snprintf(err, errlen, "cannot read the symbols of %s", lib->path);
		else if (lib)
			snprintf(err, errlen, "function '%s' not found in %s", name, lib->base);
		else
			snprintf(err, errlen, "function '%s' not found in any loaded object",
				 name);
		if (!cxx_is_source_name(spec->name))
			suggest(img, lib, spec->name, err, errlen);
		return -ENOENT;
	}

	uint64_t addr = o->bias + s->value;
	out->func_start = addr;
	out->size = s->size;
	if (s->ifunc) {
		char why[256] = "";
		rc = ifunc_target(img, o, s, &addr);
		if (rc && img->src.call && (rc = ifunc_by_call(img, o, s, &addr, why,
							    sizeof(why))) < 0) {
			snprintf(err, errlen, "'%s' is an IFUNC in %s that this process has not "
				 "bound yet, and running its resolver failed: %s", spec->name,
				 o->base, why);
			return -ENOTSUP;
		}
		if (rc) {
			snprintf(err, errlen, "'%s' is an IFUNC in %s and this process has not "
				 "bound it yet (no IRELATIVE or bound GOT slot names its "
				 "implementation; its resolver runs once its objects are "
				 "relocated)", spec->name, o->base);
			return rc;
		}
		out->ifunc = true;
		out->func_start = addr;
		out->size = 0;
		const struct esym *impl = elf_enclosing(&o->ei, addr - o->bias);
		if (impl && impl->value == addr - o->bias)
			out->size = impl->size;
		ifunc_shared(img, o, s, addr, out);
	}
	if (out->size && spec->plus >= out->size) {
		snprintf(err, errlen, "+0x%" PRIx64 " is past the end of '%s' (%" PRIu64
			 " bytes)", spec->plus, spec->name, out->size);
		return -EINVAL;
	}
	addr += spec->plus;
	if ((rc = check_exec(img, addr, err, errlen)))
		return rc;
	out->addr = addr;
	/* A C++ SPEC is reported by its symbol, as the symbol tables and -l spell it. */
	cxx_shown(cxx_is_source_name(spec->name) ? s->name : spec->name, out->func,
		  sizeof(out->func));
	snprintf(out->lib, sizeof(out->lib), "%s", o->base);
	snprintf(out->path, sizeof(out->path), "%s", o->path);
	return 0;
}

int image_lookup_addr(struct image *img, uint64_t addr, struct resolved *out)
{
	const struct map *m = image_map_at(img, addr);

	memset(out, 0, sizeof(*out));
	if (!m || (m->obj < 0 && !m->path))
		return -ENOENT;
	out->addr = addr;
	fill_object(img, addr, out);
	fill_enclosing(img, addr, out);
	return 0;
}

/* ---- listing ------------------------------------------------------------------------- */

struct listed {
	uint64_t addr, size;
	const char *name, *symbol;
	int ifunc;  /* 0 no, 1 resolved, 2 unresolved (addr is the resolver) */
	char *owned; /* name, when it is a demangled copy */
};

static int cmp_listed(const void *a, const void *b)
{
	const struct listed *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Whether the object o is one a glob SPEC's LIB names: any with no LIB, else a basename
 * (or path) that the LIB glob matches, or that the LIB names as a plain SPEC's would. */
static bool lib_selected(const struct obj *o, const char *lib)
{
	if (!lib)
		return true;
	if (strchr(lib, '/'))
		return !fnmatch(lib, o->path, 0);
	if (!strcmp(lib, "exe"))
		return o->is_exe;
	return !fnmatch(lib, o->base, 0) || lib_name_matches(o->base, lib);
}

/* image_each, over the objects lib selects (NULL: all), matching demangled names too
 * when cxx is set. */
static int each(struct image *img, const char *glob, const char *lib, bool cxx,
		image_each_fn *fn, void *ctx)
{
	int count = 0;

	if (!glob)
		glob = "*";
	for (size_t i = 0; i < img->nobjs; i++) {
		struct obj *o = &img->objs[i];
		if (!o->has_elf || !o->ei.nsyms || !lib_selected(o, lib))
			continue;
		struct listed *v = malloc(o->ei.nsyms * sizeof(*v));
		size_t n = 0;
		if (!v)
			return count;
		for (size_t k = 0; k < o->ei.nsyms; k++) {
			const struct esym *s = &o->ei.syms[k];
			/* Under -C the glob also matches the demangled name, which is listed. */
			char *d = cxx ? cxx_demangle(s->name) : NULL;
			if (fnmatch(glob, s->name, 0) &&
			    (!d || (fnmatch(glob, d, 0) &&
				    fnmatch(glob, cxx_skip_return_type(d), 0)))) {
				free(d);
				continue;
			}
			struct listed l = { o->bias + s->value, s->size, d ? d : s->name, s->name,
					    0, d };
			uint64_t impl;
			if (s->ifunc) {
				l.ifunc = 2;
				if (!ifunc_target(img, o, s, &impl)) {
					uint64_t rel = impl - o->bias;
					const struct esym *e = elf_enclosing(&o->ei, rel);
					l.addr = impl;
					l.size = e && e->value == rel ? e->size : 0;
					l.ifunc = 1;
				}
			}
			v[n++] = l;
		}
		qsort(v, n, sizeof(*v), cmp_listed);
		bool more = true;
		for (size_t k = 0; k < n && more; k++) {
			struct image_symbol sym = { o->base, v[k].name, v[k].symbol, v[k].addr,
						    v[k].size, v[k].ifunc };
			count++;
			more = fn(ctx, &sym);
		}
		for (size_t k = 0; k < n; k++)
			free(v[k].owned);
		free(v);
		if (!more)
			return count;
	}
	return count;
}

int image_each(struct image *img, const char *glob, image_each_fn *fn, void *ctx)
{
	return each(img, glob, NULL, cxx_demangle_output(), fn, ctx);
}

int image_glob(struct image *img, const struct spec *spec, image_each_fn *fn, void *ctx,
	       char *err, size_t errlen)
{
	bool any_lib = !spec->lib;

	for (size_t i = 0; i < img->nobjs && !any_lib; i++)
		any_lib = lib_selected(&img->objs[i], spec->lib);
	if (!any_lib) {
		char objs[768];
		list_objects(img, objs, sizeof(objs));
		snprintf(err, errlen, "no loaded object matches '%s' (loaded: %s)", spec->lib,
			 objs);
		return -ENOENT;
	}
	bool cxx = cxx_is_source_name(spec->name) || cxx_demangle_output();
	int n = each(img, spec->name, spec->lib, cxx, fn, ctx);
	if (n == 0) {
		snprintf(err, errlen, "no function matches '%s'%s%s", spec->name,
			 spec->lib ? " in " : " in any loaded object",
			 spec->lib ? spec->lib : "");
		/* Close names of what comes before the first wildcard. */
		char prefix[128];
		snprintf(prefix, sizeof(prefix), "%.*s", (int)strcspn(spec->name, "*?["),
			 spec->name);
		if (strlen(prefix) >= 3 && !cxx_is_source_name(prefix))
			suggest(img, NULL, prefix, err, errlen);
		return -ENOENT;
	}
	return n;
}

static bool print_symbol(void *ctx, const struct image_symbol *s)
{
	fprintf(ctx, "%s  0x%" PRIx64 "  %" PRIu64 "  %s%s\n", s->lib, s->addr, s->size, s->name,
		s->ifunc == 1 ? "  [ifunc]" :
		s->ifunc == 2 ? "  [ifunc, unresolved: resolver address]" : "");
	return true;
}

int image_list(struct image *img, const char *glob, FILE *out)
{
	return image_each(img, glob, print_symbol, out);
}

bool image_has_lib(struct image *img, const char *lib)
{
	if (!strcmp(lib, "exe"))
		return true;
	for (size_t i = 0; i < img->nobjs; i++) {
		const struct obj *o = &img->objs[i];
		if (strchr(lib, '/') ? !strcmp(o->path, lib)
				     : !strcmp(o->base, lib) || lib_name_matches(o->base, lib))
			return true;
	}
	return false;
}
