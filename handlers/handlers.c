/*
 * The handlers (see handlers.h): each observer op becomes at most one event. A call is
 * counted, then (unless -c) made an event that holds its arguments by value and its name
 * interned, so the hot path allocates nothing and formats nothing: that is the sink
 * thread's work. Events a person or a program waits for (ready, errors, summaries) are
 * written before the tracer goes on; the rest flow in bursts.
 */
#include "handlers/handlers.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "handlers/counts.h"
#include "strategies/strategy.h"

static struct event_queue *queue;
static bool summary_only;
static int calls_wanted; /* consumers of call events besides the main sinks (clients) */

void handlers_init(struct event_queue *q, bool calls_counted_only)
{
	queue = q;
	summary_only = calls_counted_only;
}

void handlers_want_calls(int delta)
{
	__atomic_add_fetch(&calls_wanted, delta, __ATOMIC_RELAXED);
}

uint64_t handlers_calls(struct session *s, const struct hook *h)
{
	struct hook_counts *c = counts_of(s, h);
	uint64_t n = c->calls;

	for (int i = 0; i < c->nby_pid; i++)
		n += c->by_pid[i].calls;
	return n;
}

static struct event new_event(enum event_kind kind, pid_t pid)
{
	return (struct event){ .kind = kind, .pid = pid, .ts_ns = event_now_ns() };
}

static void hook_of(struct event *ev, struct event_hook *out, const struct hook *h)
{
	out->func = event_strdup(ev, h->func);
	out->lib = event_strdup(ev, h->lib);
	out->spec = event_strdup(ev, h->spec);
	out->strategy = h->ops->name;
	out->shared_with = event_strdup(ev, h->shared_with);
	out->addr = h->addr;
}

static void on_hit(struct session *s, pid_t pid, pid_t tid, struct hook *h,
		   const struct arch_regs *regs)
{
	counts_call(s, h, pid);
	if (summary_only && !__atomic_load_n(&calls_wanted, __ATOMIC_RELAXED))
		return;
	struct hook_counts *c = counts_of(s, h);
	if (!c->func)
		c->func = counts_intern(h->func);
	struct event ev = new_event(EVENT_CALL, pid);
	uint64_t args[ARCH_MAX_ARGS];
	int n = arch_args(regs, args);
	ev.call.tid = tid;
	ev.call.func = c->func;
	ev.call.addr = h->addr;
	ev.call.nargs = n < EVENT_MAX_ARGS ? n : EVENT_MAX_ARGS;
	memcpy(ev.call.args, args, (size_t)ev.call.nargs * sizeof(args[0]));
	evq_push(queue, &ev, false);
}

static void on_collateral(struct session *s, struct hook *h)
{
	counts_of(s, h)->collateral++;
}

static void on_armed(struct session *s, struct hook *h)
{
	/* The hook may serve another name than before (an address SPEC in a new program). */
	counts_of(s, h)->func = counts_intern(h->func);
	if (!s->ready_sent)
		return; /* the ready event lists it */
	struct event ev = new_event(EVENT_ARMED, s->pid);
	hook_of(&ev, &ev.hook.hook, h);
	evq_push(queue, &ev, false);
}

static void on_disarmed(struct session *s, struct hook *h, const char *why)
{
	if (!s->ready_sent)
		return;
	struct event ev = new_event(EVENT_DISARMED, s->pid);
	hook_of(&ev, &ev.hook.hook, h);
	ev.hook.why = event_strdup(&ev, why);
	evq_push(queue, &ev, false);
}

static void on_ready(struct session *s)
{
	struct event ev = new_event(EVENT_READY, s->pid);
	int n = 0;

	ev.ready.hooks = event_alloc(&ev, (size_t)(s->nhooks + 1) * sizeof(*ev.ready.hooks));
	ev.ready.pending = event_alloc(&ev, (size_t)(s->nspecs + 1) * sizeof(*ev.ready.pending));
	for (int i = 0; ev.ready.hooks && i < s->nhooks; i++)
		if (s->hooks[i].armed)
			hook_of(&ev, &ev.ready.hooks[n++], &s->hooks[i]);
	ev.ready.nhooks = n;
	n = 0;
	for (int i = 0; ev.ready.pending && i < s->nspecs; i++) {
		if (s->specs[i].hook != -1 || s->specs[i].parent != -1)
			continue;
		ev.ready.pending[n].spec = event_strdup(&ev, s->specs[i].spec->text);
		ev.ready.pending[n++].why = event_strdup(&ev, s->specs[i].why);
	}
	ev.ready.npending = n;
	evq_push(queue, &ev, true);
}

static void on_exec(struct session *s)
{
	char link[64], path[512];
	struct event ev = new_event(EVENT_EXEC, s->pid);

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)s->pid);
	ssize_t n = readlink(link, path, sizeof(path) - 1);
	path[n > 0 ? n : 0] = 0;
	ev.exec.path = event_strdup(&ev, path);
	evq_push(queue, &ev, false);
}

static void on_child(struct session *s, pid_t child)
{
	struct event ev = new_event(EVENT_CHILD, s->pid);

	ev.child.child = child;
	evq_push(queue, &ev, false);
}

static void on_exit(struct session *s, int status)
{
	struct event ev = new_event(EVENT_EXIT, s->pid);

	if (WIFSIGNALED(status))
		ev.exit.signal = WTERMSIG(status);
	else
		ev.exit.status = WEXITSTATUS(status);
	evq_push(queue, &ev, false);
}

static void on_session_new(struct session *parent, struct session *child)
{
	counts_copy_session(parent, child);
}

static void on_error(struct session *s, const char *msg)
{
	struct event ev = new_event(EVENT_ERROR, s->pid);

	ev.error.message = event_strdup(&ev, msg);
	evq_push(queue, &ev, true);
}

/* Not an event: one "mhookd: " line on stderr, after whatever was reported before it,
 * and the exit status tells the rest. */
static void on_fatal(struct session *s, const char *msg)
{
	(void)s;
	evq_drain(queue);
	fprintf(stderr, "mhookd: %s\n", msg);
}

static void on_idle(void)
{
	evq_kick(queue);
}

const struct observer_ops handlers_observer = {
	.hit = on_hit,
	.collateral = on_collateral,
	.armed = on_armed,
	.disarmed = on_disarmed,
	.ready = on_ready,
	.exec = on_exec,
	.child = on_child,
	.exit = on_exit,
	.session_new = on_session_new,
	.error = on_error,
	.fatal = on_fatal,
	.idle = on_idle,
};

void handlers_summary(struct session *main)
{
	struct event ev = new_event(EVENT_SUMMARY, main ? main->pid : 0);

	counts_summary(main, &ev);
	evq_push(queue, &ev, true);
}

void handlers_free(void)
{
	counts_free();
}
