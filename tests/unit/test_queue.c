/*
 * The event queue and its sink thread (sinks/queue.h), without a tracee: a producer
 * pushes numbered call events into a queue much smaller than their number, and a sink of
 * this test's checks that every one arrives once, in order, and that its owned memory
 * came with it. Checked too: a waiting push returns only once its event is flushed; a
 * kick flushes what was written; a failed write of a critical sink calls on_error once;
 * stop drains everything. Prints "N passed, M failed".
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sinks/queue.h"
#include "tests/libmhook/check.h"

#define EVENTS 200000

struct test_sink {
	struct sink base;
	long next;              /* the number the next call event must carry */
	long out_of_order;
	long bad_payload;
	atomic_long emitted, flushed_upto;
	bool fail_flush;
};

static int t_emit(struct sink *k, const struct event *ev)
{
	struct test_sink *t = (struct test_sink *)k;

	if (ev->kind == EVENT_CALL) {
		if ((long)ev->call.args[0] != t->next)
			t->out_of_order++;
		t->next = (long)ev->call.args[0] + 1;
	}
	if (ev->kind == EVENT_ERROR && strcmp(ev->error.message, "owned text"))
		t->bad_payload++;
	t->emitted++;
	return 0;
}

static int t_flush(struct sink *k)
{
	struct test_sink *t = (struct test_sink *)k;

	t->flushed_upto = (long)t->emitted;
	return t->fail_flush ? -EIO : 0;
}

static void t_close(struct sink *k)
{
	(void)k; /* the test owns it */
}

static const struct sink_ops t_ops = {
	.name = "test",
	.emit = t_emit,
	.flush = t_flush,
	.close = t_close,
};

static atomic_int errors_reported;

static void on_error(void *ctx)
{
	(void)ctx;
	errors_reported++;
}

static struct event call_event(long n)
{
	struct event ev = { .kind = EVENT_CALL, .pid = 1, .ts_ns = event_now_ns() };

	ev.call.tid = 1;
	ev.call.func = "f";
	ev.call.nargs = 1;
	ev.call.args[0] = (uint64_t)n;
	return ev;
}

static void test_order_and_backpressure(void)
{
	struct test_sink t = { .base = { .ops = &t_ops } };
	struct sink *k = &t.base;
	struct event_queue *q = evq_start(&k, 1, 64, NULL, NULL);

	CHECK(q != NULL, "evq_start");
	if (!q)
		return;
	for (long n = 0; n < EVENTS; n++) {
		struct event ev = call_event(n);
		evq_push(q, &ev, false);
	}
	struct event err = { .kind = EVENT_ERROR, .pid = 1 };
	err.error.message = event_strdup(&err, "owned text");
	evq_push(q, &err, true);
	CHECK(err.owned == NULL, "a pushed event's memory belongs to the queue");
	CHECK(t.emitted == EVENTS + 1, "emitted %ld of %d", (long)t.emitted, EVENTS + 1);
	CHECK(t.flushed_upto == EVENTS + 1, "a waiting push returned before its flush (%ld)",
	      (long)t.flushed_upto);
	CHECK(t.out_of_order == 0, "%ld events out of order", t.out_of_order);
	CHECK(t.bad_payload == 0, "an event's owned text was lost");

	/* Not waited for: written when the tracer goes idle, and flushed then. */
	struct event ev = call_event(EVENTS);
	evq_push(q, &ev, false);
	evq_kick(q);
	for (int i = 0; i < 200 && t.flushed_upto != EVENTS + 2; i++)
		usleep(5000);
	CHECK(t.flushed_upto == EVENTS + 2, "a kick did not flush (%ld)", (long)t.flushed_upto);
	evq_stop(q);
	CHECK(t.emitted == EVENTS + 2, "stop lost events");
}

static void test_write_error(void)
{
	struct test_sink t = { .base = { .ops = &t_ops, .critical = true }, .fail_flush = true };
	struct sink *k = &t.base;
	struct event_queue *q = evq_start(&k, 1, 16, on_error, NULL);

	CHECK(q != NULL, "evq_start");
	if (!q)
		return;
	for (int i = 0; i < 3; i++) {
		struct event ev = call_event(i);
		evq_push(q, &ev, true);
	}
	evq_stop(q);
	CHECK(errors_reported == 1, "on_error called %d times", (int)errors_reported);
}

/* Two pushers at once (the tracer and, later, the socket server's thread). */
static struct event_queue *shared;

static void *pusher(void *arg)
{
	long base = (long)arg;

	for (long n = 0; n < EVENTS / 2; n++) {
		struct event ev = call_event(base + n);
		evq_push(shared, &ev, n % 1000 == 0);
	}
	return NULL;
}

static void test_two_pushers(void)
{
	struct test_sink t = { .base = { .ops = &t_ops } };
	struct sink *k = &t.base;
	pthread_t a, b;

	shared = evq_start(&k, 1, 128, NULL, NULL);
	CHECK(shared != NULL, "evq_start");
	if (!shared)
		return;
	pthread_create(&a, NULL, pusher, (void *)0L);
	pthread_create(&b, NULL, pusher, (void *)(long)EVENTS);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	evq_stop(shared);
	CHECK(t.emitted == EVENTS, "emitted %ld of %d", (long)t.emitted, EVENTS);
}

int main(void)
{
	test_order_and_backpressure();
	test_write_error();
	test_two_pushers();
	return check_done();
}
