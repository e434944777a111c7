/*
 * The stop loop's command queue, end to end: this process launches the churn target
 * (threads that come and go, each calling churn_fn) and runs the stop loop on its main
 * thread, the only one that may make ptrace calls; a second thread then asks it, through
 * loop_call and loop_request_stop, to hook churn_fn, unhook it and end the run, as the
 * socket server's clients will. The events come out of the real queue and sink thread,
 * into a sink of this test's that counts them. Checked: a hook by request is reported at
 * once, and one made before the loop starts waits for it; after an unhook no call is reported any more and the entry is byte-identical; a
 * stop request ends the loop, the target survives detach with its code as before, and a
 * request after the loop is refused (-ESRCH) rather than left waiting.
 * Needs build/targets/churn (make targets), run from the top of the tree; exits 77
 * (skipped) without it. Prints "N passed, M failed".
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "handlers/handlers.h"
#include "sinks/queue.h"
#include "tests/libmhook/check.h"
#include "strategies/strategy.h"
#include "tracer/attach.h"
#include "tracer/detach.h"
#include "tracer/follow.h"
#include "tracer/hooks.h"
#include "tracer/loop.h"
#include "tracer/mem.h"
#include "tracer/signals.h"
#include "tracer/symbols.h"

#define TARGET "build/targets/churn"


/* ---- a sink that counts ---------------------------------------------------------------- */

static atomic_long calls, errors, armed_events;

static int count_emit(struct sink *k, const struct event *ev)
{
	(void)k;
	if (ev->kind == EVENT_CALL && !strcmp(ev->call.func, "churn_fn"))
		calls++;
	if (ev->kind == EVENT_ERROR) {
		errors++;
		fprintf(stderr, "error event: %s\n", ev->error.message);
	}
	if (ev->kind == EVENT_ARMED)
		armed_events++;
	return 0;
}

static int count_flush(struct sink *k)
{
	(void)k;
	return 0;
}

static void count_close(struct sink *k)
{
	free(k);
}

static const struct sink_ops count_ops = {
	.name = "count",
	.emit = count_emit,
	.flush = count_flush,
	.close = count_close,
};

/* ---- the requests ------------------------------------------------------------------------- */

static struct session sess;
static struct event_queue *queue;
static struct spec churn_spec;
static int churn_index = -1;
static uint64_t entry;
static uint8_t entry_bytes[16];

static int hook_churn(void *ctx)
{
	(void)ctx;
	churn_index = hooks_hook_now(&sess, &churn_spec, &swbp_ops);
	if (churn_index < 0 || sess.specs[churn_index].hook < 0)
		return -1;
	return 0;
}

static int unhook_churn(void *ctx)
{
	(void)ctx;
	return hooks_unhook_now(&sess, churn_index);
}

static pthread_t tracer;

static int on_tracer_thread(void *ctx)
{
	(void)ctx;
	return pthread_equal(pthread_self(), tracer) ? 42 : -1;
}

static long wait_calls(long more_than, int ms)
{
	for (int i = 0; i < ms / 10 && calls <= more_than; i++) {
		evq_drain(queue);
		usleep(10000);
	}
	return calls;
}

static void *client(void *arg)
{
	(void)arg;
	CHECK(loop_call(on_tracer_thread, NULL) == 42, "a request runs on the tracer thread");

	CHECK(loop_call(hook_churn, NULL) == 0, "hook by request");
	if (churn_index >= 0 && sess.specs[churn_index].hook >= 0) {
		entry = sess.hooks[sess.specs[churn_index].hook].addr;
		evq_drain(queue);
		CHECK(armed_events == 1, "armed events: %ld", (long)armed_events);
	}
	CHECK(wait_calls(0, 10000) > 0, "no call of churn_fn reported after the hook");

	CHECK(loop_call(unhook_churn, NULL) == 0, "unhook by request");
	evq_drain(queue);
	long after = calls;
	uint8_t now[16];
	CHECK(entry && mem_read(sess.pid, entry, now, sizeof(now)) == 0 &&
	      !memcmp(now, entry_bytes, sizeof(now)), "entry not restored after unhook");
	usleep(200000);
	evq_drain(queue);
	CHECK(calls == after, "calls reported after unhook: %ld then %ld", after, (long)calls);

	loop_request_stop(SIGTERM);
	return NULL;
}

int main(void)
{
	char err[512];
	char *argv[] = { (char *)TARGET, (char *)"0", (char *)"2", (char *)"20", NULL };

	if (access(TARGET, X_OK) < 0) {
		fprintf(stderr, "test_commands: %s is not built (make targets): skipped\n", TARGET);
		return 77;
	}
	signals_setup();
	struct sink *k = calloc(1, sizeof(*k));
	k->ops = &count_ops;
	queue = evq_start(&k, 1, 64, NULL, NULL);
	CHECK(queue != NULL, "evq_start");
	handlers_init(queue, false);
	loop_init_session(&sess, &handlers_observer);
	sess.allow_pending = true;
	CHECK(spec_parse("churn_fn", &churn_spec, err, sizeof(err)) == 0, "%s", err);
	CHECK(launch_cmd(&sess, argv, err, sizeof(err)) == 0, "launch: %s", err);
	follow_init(&sess);
	sess.ready_at_sync = true;
	sess.armed = true;
	CHECK(hooks_sync(&sess) == 0, "first sync");
	CHECK(launch_run_to_entry(&sess, err, sizeof(err)) == 0, "run to entry: %s", err);
	CHECK(hooks_sync(&sess) == 0, "sync at entry");
	sess.ready_sent = true;
	uint64_t addr = 0;
	{
		/* The bytes the hook must leave behind, read before anything is hooked. */
		struct image *img;
		struct resolved r;
		const struct image_source src = { .read = mem_read_cb,
						  .read_ctx = (void *)(intptr_t)sess.pid };
		if (image_load(sess.pid, &src, &img, err, sizeof(err)) == 0) {
			if (image_resolve(img, &churn_spec, &r, err, sizeof(err)) == 0)
				addr = r.addr;
			image_free(img);
		}
	}
	CHECK(addr && mem_read(sess.pid, addr, entry_bytes, sizeof(entry_bytes)) == 0,
	      "cannot read churn_fn: %s", err);
	tracer = pthread_self();

	/* The client's first request is made before the loop starts, as a socket client's
	 * can be (the server is up first): it must wait for the loop, not fail. */
	pthread_t th;
	pthread_create(&th, NULL, client, NULL);
	usleep(100000);
	loop_resume_all(&sess);
	loop_run(&sess, sess.obs, false);
	pthread_join(th, NULL);
	CHECK(signals_stop == SIGTERM, "the loop ended for another reason (%d)", (int)signals_stop);
	CHECK(loop_call(on_tracer_thread, NULL) == -ESRCH, "a request after the loop must fail");
	CHECK(entry == addr, "hooked 0x%" PRIx64 ", expected 0x%" PRIx64, entry, addr);

	session_detach(&sess);
	uint8_t now[16];
	CHECK(mem_read(sess.pid, addr, now, sizeof(now)) == 0 &&
	      !memcmp(now, entry_bytes, sizeof(now)), "code changed after detach");
	CHECK(kill(sess.pid, 0) == 0, "the target died");
	kill(sess.pid, SIGTERM);
	int status = 0;
	waitpid(sess.pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "target status 0x%x", status);
	CHECK(errors == 0, "%ld error events", (long)errors);

	evq_stop(queue);
	follow_free();
	handlers_free();
	loop_free_session(&sess);
	spec_free(&churn_spec);
	return check_done();
}
