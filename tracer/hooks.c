/*
 * Hooks follow the target's loaded objects (see hooks.h). The dynamic linker calls r_brk
 * (_dl_debug_state, in ld.so) after each change to its list of objects, with r_state saying
 * whether the list is consistent again: RT_CONSISTENT comes after a dlopen has mapped its
 * objects and before their constructors run, and after a dlclose has unmapped them. An
 * internal breakpoint there (always swbp, whatever the user's strategy) is our cue to
 * resync.
 *
 * A sync has two phases, as a strategy has: every SPEC that resolves is prepared (all that
 * can fail) before any hook is installed, so that a SPEC refused before ready leaves the
 * target's code exactly as it was, and what the others prepared is given back.
 */
#include "tracer/hooks.h"

#include <errno.h>
#include <inttypes.h>
#include <link.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strategies/strategy.h"
#include "tracer/loop.h"
#include "tracer/mem.h"
#include "tracer/observer.h"
#include "tracer/remote.h"
#include "tracer/services.h"
#include "tracer/sigstate.h"
#include "tracer/symbols.h"

bool hooks_hides_exec(void *session, uint64_t start, uint64_t end)
{
	struct session *s = session;
	const struct strategy_ops *ops;

	for (unsigned pos = 0; (ops = strategy_next_used(s, &pos));)
		if (ops->hides_exec && ops->hides_exec(s, start, end))
			return true;
	return false;
}

/* Runs an IFUNC resolver in a thread that can run code now: session_any_stopped's first
 * choice, when it is one stopped at a signal or an interrupt (not inside a syscall
 * event, not in group-stop, not a vfork child or parent). */
static int call_resolver(void *ctx, uint64_t fn, uint64_t *result, char *err, size_t errlen)
{
	static const long no_args[6];
	struct session *s = ctx;
	struct thread *t = session_any_stopped(s);

	if (t && !t->shadow && !t->in_syscall_stop && !t->listen && !t->vfork_child)
		return remote_call(s, t, fn, no_args, result, err, errlen);
	snprintf(err, errlen, "no thread of pid %d can run it now", (int)s->pid);
	return -EAGAIN;
}

static int load_image(struct session *s, struct image **img, char *err, size_t errlen)
{
	const struct image_source src = {
		.read = mem_read_cb,
		.read_ctx = (void *)(intptr_t)s->pid,
		.hides_exec = hooks_hides_exec,
		.hides_ctx = s,
		.call = s->resolvers_ok ? call_resolver : NULL,
		.call_ctx = s,
	};

	return image_load(s->pid, &src, img, err, errlen);
}

/* Is h's object still mapped where it was? */
static bool hook_still_loaded(struct image *img, const struct hook *h)
{
	struct resolved r;

	memset(&r, 0, sizeof(r));
	return image_lookup_addr(img, h->addr, &r) == 0 && !strcmp(r.path, h->path);
}

/* Gives back what h's prepare took; h is not installed. */
static void unprepare(struct session *s, struct hook *h)
{
	if (h->prepared && h->ops->unprepare)
		h->ops->unprepare(s, h);
	free(h->priv);
	h->priv = NULL;
	h->prepared = false;
}

/* The object of h was unloaded: its memory, breakpoint included, is gone, so nothing is
 * restored (and no scratch space is reused: a thread might still be in it). The SPEC
 * becomes pending, and the hook is reused (counts kept) if it comes back. Per-thread
 * state (debug registers) is recomputed by the caller. */
static void drop_hook(struct session *s, struct hook *h)
{
	h->armed = false;
	free(h->priv);
	h->priv = NULL;
	h->prepared = false;
	for (int i = 0; i < s->nspecs; i++) {
		if (s->specs[i].hook != (int)(h - s->hooks))
			continue;
		s->specs[i].hook = -1;
		s->specs[i].unloaded = true;
		snprintf(s->specs[i].why, sizeof(s->specs[i].why), "%.200s was unloaded", h->lib);
	}
	s->obs->disarmed(s, h, "its object was unloaded; armed again if it is loaded again");
}

/* The hook that served SPEC i before (kept across an unload, or an exec), or a new one. */
static struct hook *hook_for_spec(struct session *s, int i)
{
	for (int j = 0; j < s->nhooks; j++)
		if (s->hooks[j].spec_index == i && !s->hooks[j].armed && !s->hooks[j].prepared)
			return &s->hooks[j];
	struct hook *h = session_add_hook(s);
	h->spec_index = i;
	return h;
}

static bool name_in_list(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, name, n) && (p[n] == '\n' || p[n] == 0))
			return true;
	return false;
}

/* Adds name to a hook's shared_with list, whole or not at all. */
static void add_shared(struct hook *h, const char *name)
{
	size_t len = strlen(h->shared_with), n = strlen(name);

	if (name_in_list(h->shared_with, name) || len + n + 2 > sizeof(h->shared_with))
		return;
	snprintf(h->shared_with + len, sizeof(h->shared_with) - len, "%s%s", len ? "\n" : "",
		 name);
}

/* SPEC i resolved to an address another hook already serves: one hook, the first one's
 * strategy, and the second SPEC named in shared_with. A SPEC is named as given
 * (libc:malloc next to malloc, libc:0x98930 next to malloc), since its function name may
 * be the hook's own or its address. The same SPEC twice is one SPEC. */
static bool merge_duplicate(struct session *s, int i, const struct resolved *r)
{
	const char *text = s->specs[i].spec->text;

	for (int j = 0; j < s->nhooks; j++) {
		struct hook *o = &s->hooks[j];
		if (!(o->armed || o->prepared) || o->addr != r->addr)
			continue;
		if (strcmp(o->spec, text) != 0)
			add_shared(o, text);
		else if (s->specs[i].parent >= 0 && strcmp(o->func, r->func) != 0)
			add_shared(o, r->func); /* an alias the same glob matched */
		s->specs[i].hook = j;
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

/* An address SPEC must be an instruction boundary of its function, under every strategy:
 * decode linearly from the function's start and see that we land exactly on it. */
static int check_boundary(struct session *s, const struct hook *h, char *err, size_t errlen)
{
	uint64_t off = h->addr - h->func_start, pos = 0;
	uint8_t *code;

	if (!h->func_start || h->func_start == h->addr || off > 1 << 20)
		return 0;
	code = malloc(off + ARCH_MAX_INSN_LEN + 1);
	if (!code)
		return -ENOMEM;
	if (mem_read(s->pid, h->func_start, code, off + ARCH_MAX_INSN_LEN + 1) < 0) {
		free(code);
		return 0; /* cannot check: trust the user's address */
	}
	while (pos < off) {
		int len = arch_insn_len(code + pos, off + ARCH_MAX_INSN_LEN + 1 - pos);
		if (len <= 0)
			break;
		pos += (uint64_t)len;
	}
	free(code);
	if (pos == off)
		return 0;
	snprintf(err, errlen, "0x%" PRIx64 " is not an instruction boundary in %s (decoding "
		 "from its start at 0x%" PRIx64 " does not land on it)", h->addr, h->lib,
		 h->func_start);
	return -EINVAL;
}

/* A hook must not sit on a page that another strategy made non-executable: its code
 * runs there from that strategy's cache, where no breakpoint of ours is seen. */
static int check_page(struct session *s, const struct hook *h, char *err, size_t errlen)
{
	const struct strategy_ops *ops;
	uint64_t page = h->addr & ~4095ULL;

	for (unsigned pos = 0; (ops = strategy_next_used(s, &pos));) {
		if (ops == h->ops || !ops->hides_exec || !ops->hides_exec(s, page, page + 1))
			continue;
		snprintf(err, errlen, "its page is guarded by %s, whose code runs out of line "
			 "unseen by %s", ops->name, h->ops->name);
		return -EBUSY;
	}
	return 0;
}

static int prepare(struct session *s, struct hook *h, char *err, size_t errlen)
{
	int rc = check_boundary(s, h, err, errlen);

	if (rc == 0)
		rc = check_page(s, h, err, errlen);
	if (rc == 0)
		rc = h->ops->prepare(s, h, err, errlen);
	if (rc < 0)
		return rc;
	h->prepared = true;
	s->strategies_used |= 1u << h->ops->id;
	return 0;
}

/* SPEC i, one function of a glob, failed for good: so do its aliases (the glob's other
 * SPECs at the same address), which would fail the same way, one error each. */
static void fail_aliases(struct session *s, int i)
{
	const struct session_spec *ss = &s->specs[i];

	for (int k = i + 1; ss->parent >= 0 && k < s->nspecs; k++)
		if (s->specs[k].parent == ss->parent && s->specs[k].glob_addr == ss->glob_addr &&
		    s->specs[k].hook == -1)
			s->specs[k].hook = -2;
}

/* Resolves SPEC i and prepares its hook. Returns 0 (prepared, merged, left pending, or
 * failed for good after ready), or the exit status when it must fail (before ready). */
static int prepare_spec(struct session *s, struct image *img, int i)
{
	struct session_spec *ss = &s->specs[i];
	const struct spec *sp = ss->spec;
	struct resolved r;
	char err[1024];
	int rc;

	memset(&r, 0, sizeof(r));
	rc = image_resolve(img, sp, &r, err, sizeof(err));
	if (rc < 0) {
		/* It may still come: its LIB is not loaded yet (LIB:NAME and LIB:0xOFF alike),
		 * or a bare NAME is defined by nothing loaded yet, or an IFUNC is not bound
		 * yet. A LIB that is loaded but lacks NAME is an error, as is anything said
		 * about an absolute address. */
		bool lib_missing = sp->lib && !image_has_lib(img, sp->lib);
		bool may_wait = (s->allow_pending || ss->unloaded) &&
				(rc == -ENOTSUP ||
				 (rc == -ENOENT && (lib_missing || (!sp->lib && !sp->is_addr))));
		if (may_wait) {
			snprintf(ss->why, sizeof(ss->why), "%s", err);
			return 0;
		}
		/* A 5,000-byte SPEC is shown by its start, so the reason still fits. */
		int cut = strlen(sp->text) > 200 ? 200 : (int)strlen(sp->text);
		const char *more = strlen(sp->text) > 200 ? "..." : "";
		/* One function of a glob that cannot be hooked costs the run nothing but
		 * that function: the user asked for whatever matches. */
		if (!s->ready_sent && ss->parent < 0) {
			tracer_report_fatal(s, "%.*s%s: %s", cut, sp->text, more, err);
			return rc == -EINVAL ? 1 : 2;
		}
		tracer_report_error(s, "%.*s%s: %s", cut, sp->text, more, err);
		ss->hook = -2;
		fail_aliases(s, i);
		return 0;
	}
	if (merge_duplicate(s, i, &r))
		return 0;
	struct hook *h = hook_for_spec(s, i);
	fill_hook(h, &r, sp);
	h->ops = ss->ops;
	err[0] = 0;
	rc = prepare(s, h, err, sizeof(err));
	if (rc < 0) {
		if (!s->ready_sent && ss->parent < 0) {
			tracer_report_fatal(s, "cannot hook %s at 0x%" PRIx64 ": %s", h->func,
					    h->addr, err);
			return 2;
		}
		tracer_report_error(s, "cannot hook %s at 0x%" PRIx64 ": %s", h->func, h->addr,
				    err);
		ss->hook = -2;
		fail_aliases(s, i);
		return 0;
	}
	ss->hook = (int)(h - s->hooks);
	return 0;
}

/* ---- globs ------------------------------------------------------------------------------ */

#define GLOB_DEFAULT_MAX 1000

/* The SPECs made for globs' functions, shared by every session (as the parsed command
 * line is) and freed at exit. */
static struct spec **made_specs;
static size_t nmade, cap_made;

static const struct spec *make_spec(const char *text, const char *lib, const char *name)
{
	struct spec *sp = calloc(1, sizeof(*sp));

	if (!sp || (nmade == cap_made &&
		    !(made_specs = realloc(made_specs, (cap_made = cap_made * 2 + 64) *
						       sizeof(*made_specs)))))
		abort(); /* out of memory with hooks half made: nothing sensible is left */
	sp->text = strdup(text);
	sp->lib = strdup(lib);
	sp->name = strdup(name);
	if (!sp->text || !sp->lib || !sp->name)
		abort();
	made_specs[nmade++] = sp;
	return sp;
}

void hooks_free_made_specs(void)
{
	for (size_t i = 0; i < nmade; i++) {
		spec_free(made_specs[i]);
		free(made_specs[i]);
	}
	free(made_specs);
	made_specs = NULL;
	nmade = cap_made = 0;
}

struct glob_match {
	char lib[256];
	char name[256];
	uint64_t addr;
};

struct glob_acc {
	struct glob_match *m;
	size_t n, cap;
};

static bool add_match(void *ctx, const struct image_symbol *sym)
{
	struct glob_acc *a = ctx;

	if (strlen(sym->symbol) >= sizeof(a->m->name))
		return true; /* no SPEC could name it whole */
	if (a->n == a->cap) {
		struct glob_match *m = realloc(a->m, (a->cap = a->cap * 2 + 64) * sizeof(*m));
		if (!m)
			return false;
		a->m = m;
	}
	struct glob_match *g = &a->m[a->n++];
	snprintf(g->lib, sizeof(g->lib), "%s", sym->lib);
	snprintf(g->name, sizeof(g->name), "%s", sym->symbol);
	g->addr = sym->addr;
	return true;
}

/* By address; among aliases, the public name first (malloc before __libc_malloc), so
 * that it names the hook and the others go to shared_with. */
static int cmp_addr(const void *a, const void *b)
{
	const struct glob_match *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if ((x->name[0] == '_') != (y->name[0] == '_'))
		return x->name[0] == '_' ? 1 : -1;
	size_t xn = strlen(x->name), yn = strlen(y->name);
	if (xn != yn)
		return xn < yn ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Whether glob SPEC i already has a SPEC for this function. */
static bool made_for(const struct session *s, int i, const struct glob_match *g)
{
	for (int k = 0; k < s->nspecs; k++) {
		const struct session_spec *c = &s->specs[k];
		if (c->parent == i && c->glob_addr == g->addr && !strcmp(c->spec->name, g->name) &&
		    !strcmp(c->spec->lib, g->lib))
			return true;
	}
	return false;
}

/* Glob SPEC i against the loaded objects: a SPEC of its own (LIB:NAME, the object's
 * basename and the symbol, reported under the glob's text) for each function it matches
 * that has none yet, to be prepared as any other; aliases of one address become one hook
 * naming the others in shared_with. Returns 0, or the exit status when it must fail
 * (before ready). */
static int expand_glob(struct session *s, struct image *img, int i)
{
	struct glob_acc a = { 0 };
	char err[1024];
	const struct spec *sp = s->specs[i].spec;
	int max = s->max_glob > 0 ? s->max_glob : GLOB_DEFAULT_MAX;
	int rc = image_glob(img, sp, add_match, &a, err, sizeof(err));

	if (rc == -ENOENT) {
		free(a.m);
		snprintf(s->specs[i].why, sizeof(s->specs[i].why), "%s", err);
		if (s->specs[i].hook == -3 || s->allow_pending || s->specs[i].unloaded)
			return 0; /* pending, or nothing new */
		tracer_report_fatal(s, "%s: %s", sp->text, err);
		return 2;
	}
	qsort(a.m, a.n, sizeof(*a.m), cmp_addr);
	size_t distinct = 0;
	for (size_t k = 0; k < a.n; k++)
		distinct += !k || a.m[k].addr != a.m[k - 1].addr;
	if (distinct > (size_t)max) {
		snprintf(err, sizeof(err), "matches %zu functions, more than %d (--max-hooks N "
			 "raises the limit)", distinct, max);
		free(a.m);
		if (!s->ready_sent) {
			tracer_report_fatal(s, "%s: %s", sp->text, err);
			return 1;
		}
		tracer_report_error(s, "%s: %s", sp->text, err);
		s->specs[i].hook = -2;
		return 0;
	}
	s->specs[i].hook = -3;
	const char *text = sp->text;
	const struct strategy_ops *ops = s->specs[i].ops;
	for (size_t k = 0; k < a.n; k++) {
		if (made_for(s, i, &a.m[k]))
			continue;
		int c = hooks_add_spec(s, make_spec(text, a.m[k].lib, a.m[k].name), ops);
		if (c < 0)
			break;
		s->specs[c].parent = i;
		s->specs[c].glob_addr = a.m[k].addr;
	}
	free(a.m);
	return 0;
}

/* Every SPEC served by hook index j fails for good. */
static void fail_specs_of(struct session *s, int j)
{
	for (int i = 0; i < s->nspecs; i++)
		if (s->specs[i].hook == j)
			s->specs[i].hook = -2;
}

/* Installs every prepared hook (listed in idx). Before ready a failure undoes them all
 * and returns the exit status; after it, the failing hook is an error event. */
static int install_all(struct session *s, const int *idx, int n)
{
	for (int k = 0; k < n; k++) {
		struct hook *h = &s->hooks[idx[k]];
		int rc = h->ops->install(s, h);
		if (rc == 0) {
			h->ever_armed = true;
			s->obs->armed(s, h);
			continue;
		}
		if (!s->ready_sent) {
			tracer_report_fatal(s, "cannot hook %s at 0x%" PRIx64 ": cannot arm it: %s",
					    h->func, h->addr, strerror(-rc));
			for (int j = 0; j < n; j++) {
				struct hook *o = &s->hooks[idx[j]];
				o->ops->remove(s, o);
				unprepare(s, o);
			}
			return 2;
		}
		tracer_report_error(s, "cannot hook %s at 0x%" PRIx64 ": cannot arm it: %s",
				    h->func, h->addr, strerror(-rc));
		unprepare(s, h);
		fail_specs_of(s, idx[k]);
	}
	return 0;
}

/* The internal rendezvous breakpoint, set once ld.so is known. It comes before the
 * user's hooks, so that a strategy can refuse its page (nx). */
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
	s->rdebug.ops = &swbp_ops;
	if (swbp_ops.prepare(s, &s->rdebug, err, sizeof(err)) < 0 ||
	    swbp_ops.install(s, &s->rdebug) < 0) {
		free(s->rdebug.priv);
		s->rdebug.priv = NULL;
		if (s->ready_sent || s->allow_pending)
			tracer_report_error(s, "cannot watch the dynamic linker (%s): libraries "
					    "loaded later will not be hooked", err);
		return;
	}
	s->rdebug.prepared = true;
	s->strategies_used |= 1u << swbp_ops.id;
}

/* The syscall instruction of the function r names, within its size, or 0. */
static uint64_t syscall_in(struct session *s, const struct resolved *r)
{
	uint8_t code[512];
	size_t n = r->size && r->size < sizeof(code) ? r->size : sizeof(code);

	if (mem_read(s->pid, r->addr, code, n) < 0)
		return 0;
	for (size_t off = 0; off + arch_syscall_len <= n;) {
		if (!memcmp(code + off, arch_syscall_insn, arch_syscall_len))
			return r->addr + off;
		int len = arch_insn_len(code + off, n - off);
		if (len <= 0)
			return 0;
		off += (size_t)len;
	}
	return 0;
}

/* sigstate's watches (sigstate.h): breakpoints on the syscall instructions of the libc
 * functions every change of a disposition or a mask goes through, armed once libc is
 * loaded. On the syscall, not the entry: a user's hook on the function keeps its entry,
 * and the arguments are the kernel's (struct kernel_sigaction, the 64-bit set). */
static void arm_sigwatches(struct session *s, struct image *img)
{
	static const char *const names[2][2] = {
		[SIGSTATE_SIGACTION] = { "__libc_sigaction", "sigaction" },
		[SIGSTATE_SIGMASK] = { "pthread_sigmask", "sigprocmask" },
	};

	for (int w = 0; w < 2; w++) {
		struct hook *h = &s->sigbp[w];
		char err[512];
		if (h->armed)
			continue;
		for (int k = 0; k < 2 && !h->armed; k++) {
			struct spec sp = { .text = (char *)names[w][k], .name = (char *)names[w][k] };
			struct resolved r;
			memset(&r, 0, sizeof(r));
			if (image_resolve(img, &sp, &r, err, sizeof(err)) < 0)
				continue;
			uint64_t at = syscall_in(s, &r);
			if (!at)
				continue;
			memset(h, 0, sizeof(*h));
			fill_hook(h, &r, &sp);
			h->addr = at;
			h->spec_index = -1;
			h->ops = &swbp_ops;
			if (swbp_ops.prepare(s, h, err, sizeof(err)) < 0 ||
			    swbp_ops.install(s, h) < 0) {
				free(h->priv);
				memset(h, 0, sizeof(*h));
				continue;
			}
			h->prepared = true;
			s->strategies_used |= 1u << swbp_ops.id;
		}
		s->sig_tracked[w] = h->armed;
	}
}

bool hooks_sigwatch_trap(struct session *s, struct thread *t, uint64_t pc)
{
	for (int w = 0; w < 2; w++) {
		struct hook *h = &s->sigbp[w];
		struct arch_regs regs;
		uint64_t resume;
		if (!h->armed || pc - arch_bp_pc_adjust != h->addr)
			continue;
		if (arch_get_regs(t->tid, &regs) < 0)
			return true;
		if (!swbp_internal_trap(s, t, h, &regs, &resume))
			return false;
		sigstate_take_back(s, t, SIGTRAP); /* before the call changes the mask */
		sigstate_on_call(s, t, (enum sigstate_watch)w, &regs);
		arch_poke_pc(t->tid, resume);
		return true;
	}
	return false;
}

int hooks_sync(struct session *s)
{
	char err[1024];
	struct image *img;
	int rc = load_image(s, &img, err, sizeof(err));

	if (rc < 0) {
		if (!s->ready_sent) {
			tracer_report_fatal(s, "cannot read the objects of pid %d: %s", (int)s->pid,
					    err);
			return 2;
		}
		tracer_report_error(s, "cannot read the objects of pid %d: %s", (int)s->pid, err);
		return 0;
	}
	for (int i = 0; i < s->nhooks; i++) {
		struct hook *h = &s->hooks[i];
		if (h->armed && !hook_still_loaded(img, h))
			drop_hook(s, h);
	}
	arm_rdebug(s, img);
	if (s->armed) {
		sigstate_snapshot(s);
		arm_sigwatches(s, img);
	}
	/* Globs first: what they match becomes SPECs of their own, prepared below. */
	for (int i = 0, nglob = s->nspecs; i < nglob && rc == 0; i++)
		if (s->specs[i].spec->glob && (s->specs[i].hook == -1 || s->specs[i].hook == -3))
			rc = expand_glob(s, img, i);
	if (rc) {
		image_free(img);
		return rc;
	}
	int *prepared = calloc((size_t)s->nspecs + 1, sizeof(*prepared));
	int n = 0;
	if (!prepared) {
		image_free(img);
		return 2;
	}
	for (int i = 0; i < s->nspecs && rc == 0; i++) {
		if (s->specs[i].hook != -1 || s->specs[i].spec->glob)
			continue;
		rc = prepare_spec(s, img, i);
		int j = s->specs[i].hook;
		if (rc == 0 && j >= 0 && s->hooks[j].prepared && !s->hooks[j].armed &&
		    s->hooks[j].spec_index == i)
			prepared[n++] = j;
	}
	image_free(img);
	if (rc) {
		for (int k = 0; k < n; k++)
			unprepare(s, &s->hooks[prepared[k]]);
	} else {
		rc = install_all(s, prepared, n);
	}
	free(prepared);
	session_index_hooks(s);
	if (rc)
		return rc;
	/* Per-thread state follows the set of armed hooks (hwbp's debug registers). */
	const struct strategy_ops *ops;
	for (unsigned pos = 0; s->armed && (ops = strategy_next_used(s, &pos));) {
		for (int i = 0; ops->thread_init && i < s->nthreads; i++) {
			struct thread *t = &s->threads[i];
			if (t->state == THREAD_STOPPED)
				ops->thread_init(s, t);
		}
	}
	return 0;
}

int hooks_add_spec(struct session *s, const struct spec *spec, const struct strategy_ops *ops)
{
	struct session_spec *p = realloc(s->specs, (size_t)(s->nspecs + 1) * sizeof(*p));

	if (!p)
		return -ENOMEM;
	s->specs = p;
	memset(&p[s->nspecs], 0, sizeof(p[s->nspecs]));
	p[s->nspecs].spec = spec;
	p[s->nspecs].ops = ops;
	p[s->nspecs].hook = -1;
	p[s->nspecs].parent = -1;
	return s->nspecs++;
}

int hooks_remove_spec(struct session *s, int i)
{
	if (i < 0 || i >= s->nspecs)
		return -EINVAL;
	int j = s->specs[i].hook;
	s->specs[i].hook = -2;
	if (j < 0)
		return 0;
	for (int k = 0; k < s->nspecs; k++)
		if (s->specs[k].hook == j)
			return 0; /* another SPEC still needs the hook */
	struct hook *h = &s->hooks[j];
	h->ops->remove(s, h);
	/* Its scratch slot is not reused: a thread may be inside it right now. */
	free(h->priv);
	h->priv = NULL;
	h->prepared = false;
	session_index_hooks(s);
	return 0;
}

int hooks_hook_now(struct session *s, const struct spec *spec, const struct strategy_ops *ops)
{
	int rc = tracer_stop_all(s);

	if (rc < 0)
		return rc;
	int i = hooks_add_spec(s, spec, ops);
	if (i >= 0 && ops->probe) {
		char err[512];
		if (ops->probe(s, err, sizeof(err)) < 0) {
			tracer_report_error(s, "strategy %s cannot run here: %s", ops->name, err);
			s->specs[i].hook = -2;
		}
	}
	s->sync_needed = true;
	s->resolvers_ok = true; /* a running process, its objects relocated */
	loop_resume_all(s);
	s->resolvers_ok = false;
	return i;
}

int hooks_unhook_now(struct session *s, int i)
{
	int rc = tracer_stop_all(s);

	if (rc < 0)
		return rc;
	rc = hooks_remove_spec(s, i);
	loop_resume_all(s);
	return rc;
}

bool rdebug_on_trap(struct session *s, struct thread *t, uint64_t pc, bool *changed)
{
	uint64_t resume;
	struct arch_regs regs;
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
		uint64_t r_debug = 0;
		if (load_image(s, &img, err, sizeof(err)) == 0) {
			if (image_r_debug(img, &r_debug) == 0)
				s->r_debug_addr = r_debug;
			image_free(img);
		}
	}
	if (s->r_debug_addr)
		mem_read(s->pid, s->r_debug_addr + offsetof(struct r_debug, r_state), &state,
			 sizeof(state));
	*changed = state == RT_CONSISTENT;
	return true;
}

void hooks_forget_all(struct session *s)
{
	for (int i = 0; i < s->nhooks; i++) {
		struct hook *h = &s->hooks[i];
		h->armed = false;
		h->prepared = false;
		free(h->priv);
		h->priv = NULL;
	}
	for (int i = 0; i < s->nspecs; i++) {
		struct session_spec *ss = &s->specs[i];
		if (ss->parent >= 0) {
			ss->hook = -2; /* the glob matches afresh in the new program */
			ss->parent = -2;
		} else if (ss->hook >= 0 || ss->hook == -3) {
			ss->hook = -1;
		}
	}
	for (unsigned id = 0; id < SESSION_MAX_STRATEGIES; id++) {
		const struct strategy_ops *ops = strategy_by_id(id);
		if (s->strategy_state[id] && ops && ops->free_state)
			ops->free_state(s);
	}
	s->strategies_used = 0;
	for (int i = 0; i < SESSION_NINTERNAL; i++) {
		free(session_internal(s, i)->priv);
		memset(session_internal(s, i), 0, sizeof(struct hook));
	}
	sigstate_exec(s);
	s->r_debug_addr = 0;
	s->nscratch = 0;
	s->nholes = 0;
	s->syscall_insn = 0;
	session_index_hooks(s);
}
