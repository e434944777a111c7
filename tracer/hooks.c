/*
 * Hooks follow the target's loaded objects (see hooks.h). The dynamic linker calls r_brk
 * (_dl_debug_state, in ld.so) after each change to its list of objects, with r_state saying
 * whether the list is consistent again: RT_CONSISTENT comes after a dlopen has mapped its
 * objects and before their constructors run, and after a dlclose has unmapped them. An
 * internal int3 there (always swbp, whatever the user's strategy) is our cue to resync.
 */
#include "tracer/hooks.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>

#include "handlers/report.h"
#include "strategies/strategy.h"
#include "tracer/mem.h"
#include "tracer/symbols.h"

#define RT_CONSISTENT 0
#define R_DEBUG_STATE_OFF 24 /* struct r_debug: r_version, r_map, r_brk, then r_state */

/* Is h's object still mapped where it was? */
static bool hook_still_loaded(struct image *img, const struct hook *h)
{
	struct resolved r;

	memset(&r, 0, sizeof(r));
	return image_lookup_addr(img, h->addr, &r) == 0 && !strcmp(r.path, h->path);
}

/* The object of h was unloaded: its memory, breakpoint included, is gone, so nothing is
 * restored. The SPEC becomes pending, and the hook is reused (counts kept) if it comes
 * back. Per-thread state (debug registers) is recomputed by the caller. */
static void drop_hook(struct session *s, struct hook *h, int index)
{
	h->armed = false;
	free(h->priv);
	h->priv = NULL;
	s->spec_hook[h->spec_index] = -1;
	snprintf(s->spec_why[h->spec_index], sizeof(s->spec_why[0]), "%.200s was unloaded", h->lib);
	(void)index;
	if (s->ready_sent)
		report_disarmed(s->report, s, h, "its object was unloaded; armed again if it is "
				"loaded again");
}

/* The hook that served SPEC i before (kept across an unload), or a new one. */
static struct hook *hook_for_spec(struct session *s, int i)
{
	for (int j = 0; j < s->nhooks; j++)
		if (s->hooks[j].spec_index == i && !s->hooks[j].armed)
			return &s->hooks[j];
	struct hook *h = session_add_hook(s);
	h->spec_index = i;
	return h;
}

static bool name_in_list(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (!strncmp(p, name, n) && (p[n] == ',' || p[n] == 0))
			return true;
	return false;
}

/* SPEC i resolved to an address another hook already serves: one hook, both names. */
static bool merge_duplicate(struct session *s, int i, const struct resolved *r)
{
	for (int j = 0; j < s->nhooks; j++) {
		struct hook *o = &s->hooks[j];
		if (!o->armed || o->addr != r->addr)
			continue;
		if (strcmp(o->func, r->func) != 0 && !name_in_list(o->shared_with, r->func)) {
			size_t len = strlen(o->shared_with);
			snprintf(o->shared_with + len, sizeof(o->shared_with) - len, "%s%s",
				 len ? "," : "", r->func);
		}
		s->spec_hook[i] = j;
		return true;
	}
	return false;
}

static void fill_hook(struct hook *h, const struct resolved *r, const struct spec *sp)
{
	h->addr = r->addr;
	h->size = r->size;
	h->func_start = r->func_start;
	snprintf(h->func, sizeof(h->func), "%s", r->func);
	snprintf(h->lib, sizeof(h->lib), "%s", r->lib);
	snprintf(h->path, sizeof(h->path), "%s", r->path);
	snprintf(h->shared_with, sizeof(h->shared_with), "%s", r->shared_with);
	snprintf(h->spec, sizeof(h->spec), "%s", sp->text);
}

/* Resolves and arms SPEC i. Returns 0 (armed, merged, or left pending), or the exit
 * status when it must fail (before ready). */
static int sync_spec(struct session *s, struct image *img, int i)
{
	struct resolved r;
	char err[1024];
	int rc;

	memset(&r, 0, sizeof(r));
	rc = image_resolve(img, &s->specs[i], &r, err, sizeof(err));
	if (rc < 0) {
		/* It may still come: its LIB is not loaded yet, or a bare NAME is defined by
		 * nothing loaded yet, or an IFUNC is not bound yet. A LIB that is loaded but
		 * lacks NAME is an error, as is anything said about an address. */
		const struct spec *sp = &s->specs[i];
		bool may_wait = s->allow_pending && !sp->is_addr &&
				(rc == -ENOTSUP ||
				 (rc == -ENOENT && (!sp->lib || !image_has_lib(img, sp->lib))));
		if (may_wait) {
			snprintf(s->spec_why[i], sizeof(s->spec_why[0]), "%s", err);
			return 0;
		}
		if (!s->ready_sent) {
			fprintf(stderr, "mhookd: %s: %s\n", s->specs[i].text, err);
			return rc == -EINVAL ? 1 : 2;
		}
		report_error(s->report, "%s: %s", s->specs[i].text, err);
		s->spec_hook[i] = -2;
		return 0;
	}
	if (merge_duplicate(s, i, &r))
		return 0;
	struct hook *h = hook_for_spec(s, i);
	int index = (int)(h - s->hooks);
	fill_hook(h, &r, &s->specs[i]);
	err[0] = 0;
	rc = s->ops->prepare(s, h, err, sizeof(err));
	if (rc == 0) {
		rc = s->ops->install(s, h);
		if (rc < 0)
			snprintf(err, sizeof(err), "cannot arm it: %s", strerror(-rc));
	}
	if (rc < 0) {
		free(h->priv);
		h->priv = NULL;
		h->armed = false;
		if (!s->ready_sent) {
			fprintf(stderr, "mhookd: cannot hook %s at 0x%" PRIx64 ": %s\n", h->func,
				h->addr, err);
			return 2;
		}
		report_error(s->report, "cannot hook %s at 0x%" PRIx64 ": %s", h->func, h->addr,
			     err);
		s->spec_hook[i] = -2;
		return 0;
	}
	s->spec_hook[i] = index;
	h->ever_armed = true;
	if (s->ready_sent)
		report_armed(s->report, s, h);
	return 0;
}

/* The internal rendezvous breakpoint, set once ld.so is known. */
static void arm_rdebug(struct session *s, struct image *img)
{
	struct spec sp = { .text = (char *)"_dl_debug_state", .name = (char *)"_dl_debug_state" };
	struct resolved r;
	char err[512];

	if (s->rdebug.armed)
		return;
	memset(&r, 0, sizeof(r));
	if (image_resolve(img, &sp, &r, err, sizeof(err)) < 0)
		return; /* a static program: no dynamic linker, nothing is loaded later */
	memset(&s->rdebug, 0, sizeof(s->rdebug));
	fill_hook(&s->rdebug, &r, &sp);
	s->rdebug.spec_index = -1;
	if (swbp_ops.prepare(s, &s->rdebug, err, sizeof(err)) < 0 ||
	    swbp_ops.install(s, &s->rdebug) < 0) {
		free(s->rdebug.priv);
		s->rdebug.priv = NULL;
		if (s->ready_sent || s->allow_pending)
			report_error(s->report, "cannot watch the dynamic linker (%s): libraries "
				     "loaded later will not be hooked", err);
	}
}

int hooks_sync(struct session *s)
{
	char err[1024];
	struct image *img;
	bool dropped = false;
	int rc = image_load(s->pid, mem_read_cb, (void *)(intptr_t)s->pid, &img, err,
			    sizeof(err));

	if (rc < 0) {
		if (!s->ready_sent) {
			fprintf(stderr, "mhookd: cannot read the objects of pid %d: %s\n",
				(int)s->pid, err);
			return 2;
		}
		report_error(s->report, "cannot read the objects of pid %d: %s", (int)s->pid, err);
		return 0;
	}
	for (int i = 0; i < s->nhooks; i++) {
		struct hook *h = &s->hooks[i];
		if (h->armed && !hook_still_loaded(img, h)) {
			drop_hook(s, h, i);
			dropped = true;
		}
	}
	for (int i = 0; i < s->nspecs; i++) {
		if (s->spec_hook[i] != -1)
			continue;
		rc = sync_spec(s, img, i);
		if (rc) {
			image_free(img);
			return rc;
		}
	}
	arm_rdebug(s, img);
	image_free(img);
	session_index_hooks(s);
	/* Per-thread state follows the set of armed hooks (hwbp's DR7). */
	for (int i = 0; s->armed && s->ops->thread_init && i < s->nthreads; i++) {
		struct thread *t = &s->threads[i];
		if (!t->shadow && t->state == THREAD_STOPPED)
			s->ops->thread_init(s, t);
	}
	(void)dropped;
	return 0;
}

bool rdebug_on_trap(struct session *s, struct thread *t, uint64_t pc, bool *changed)
{
	uint64_t resume;
	struct arch_regs regs;
	uint64_t r_debug = 0;
	int32_t state = RT_CONSISTENT;

	*changed = false;
	if (!s->rdebug.armed || pc - arch_bp_pc_adjust != s->rdebug.addr)
		return false;
	if (arch_get_regs(t->tid, &regs) < 0)
		return true;
	if (!swbp_internal_trap(s, t, &s->rdebug, &regs, &resume))
		return false;
	arch_poke_pc(t->tid, resume);
	/* r_state is read through the executable's DT_DEBUG, looked up once; when it cannot
	 * be read, a resync is merely wasted, never wrong. */
	if (!s->r_debug_addr) {
		struct image *img;
		char err[256];
		if (image_load(s->pid, mem_read_cb, (void *)(intptr_t)s->pid, &img, err,
			       sizeof(err)) == 0) {
			if (image_r_debug(img, &r_debug) == 0)
				s->r_debug_addr = r_debug;
			image_free(img);
		}
	}
	if (s->r_debug_addr)
		mem_read(s->pid, s->r_debug_addr + R_DEBUG_STATE_OFF, &state, sizeof(state));
	*changed = state == RT_CONSISTENT;
	return true;
}

void rdebug_clean_child(struct session *s, pid_t child)
{
	uint8_t cur;

	if (s->rdebug.armed && mem_read(child, s->rdebug.addr, &cur, 1) == 0 &&
	    cur == arch_bp_insn[0])
		mem_write(child, s->rdebug.addr, s->rdebug.orig, s->rdebug.orig_len);
}

void hooks_forget_all(struct session *s)
{
	for (int i = 0; i < s->nhooks; i++) {
		struct hook *h = &s->hooks[i];
		h->armed = false;
		free(h->priv);
		h->priv = NULL;
		if (h->spec_index >= 0 && s->spec_hook[h->spec_index] >= 0)
			s->spec_hook[h->spec_index] = -1;
	}
	for (int i = 0; i < s->nspecs; i++)
		if (s->spec_hook[i] >= 0)
			s->spec_hook[i] = -1;
	free(s->rdebug.priv);
	memset(&s->rdebug, 0, sizeof(s->rdebug));
	s->r_debug_addr = 0;
	s->nscratch = 0;
	s->syscall_insn = 0;
	session_index_hooks(s);
}
