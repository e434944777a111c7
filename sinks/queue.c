/*
 * The event queue and its sink thread (see queue.h): a ring of struct event under one
 * mutex, with sequence numbers for "written up to here". The consumer takes a batch out
 * under the lock and formats it without, so the tracer thread holds the lock only for a
 * copy.
 */
#include "sinks/queue.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EVQ_BATCH 256

struct event_queue {
	pthread_mutex_t lock;
	pthread_cond_t nonempty, nonfull, flushed;
	struct event *ring;
	unsigned cap, head, count;
	uint64_t pushed;          /* events ever queued */
	uint64_t emitted;         /* events formatted into the sinks' buffers */
	uint64_t written;         /* events written and flushed to every sink */
	uint64_t flush_wanted;    /* a pusher waits until written reaches this */
	bool flush_asked;         /* the tracer is idle: flush once the queue is dry */
	bool consumer_idle;       /* the sink thread sleeps on nonempty */
	bool producer_waiting;    /* a pusher sleeps on nonfull */
	bool stopping;
	bool failed;              /* on_error has been called */
	int write_error;          /* a critical sink's errno, once one failed */
	struct sink **sinks;
	int nsinks;
	void (*on_error)(void *ctx);
	void *ctx;
	pthread_t thread;
};

/* Flushes every sink; reports a critical one that fails, once. Called unlocked. */
static void flush_sinks(struct event_queue *q)
{
	bool failed = false;

	for (int i = 0; i < q->nsinks; i++) {
		int rc = q->sinks[i]->ops->flush(q->sinks[i]);
		if (rc < 0 && q->sinks[i]->critical) {
			failed = true;
			__atomic_store_n(&q->write_error, -rc, __ATOMIC_RELAXED);
		}
	}
	if (failed && !q->failed) {
		q->failed = true;
		if (q->on_error)
			q->on_error(q->ctx);
	}
}

/* Flushes with the lock dropped, then records how far the sinks are written. */
static void flush_locked(struct event_queue *q)
{
	uint64_t upto = q->emitted;

	q->flush_asked = false;
	pthread_mutex_unlock(&q->lock);
	flush_sinks(q);
	pthread_mutex_lock(&q->lock);
	q->written = upto;
	pthread_cond_broadcast(&q->flushed);
}

/* The sink thread. It flushes when someone waits for it, when the tracer has gone idle
 * (evq_kick), or at the end, not whenever the queue runs dry: on one CPU it runs in the
 * tracer's yields and would run dry after every few events, making a write of each. */
static void *sink_thread(void *arg)
{
	struct event_queue *q = arg;
	struct event *batch = malloc(EVQ_BATCH * sizeof(*batch));

	if (!batch)
		abort(); /* at start-up: nothing could be reported anyway */
	pthread_mutex_lock(&q->lock);
	for (;;) {
		if (q->count == 0) {
			bool unflushed = q->emitted != q->written;
			if (unflushed && (q->flush_asked || q->flush_wanted > q->written ||
					  q->stopping)) {
				flush_locked(q);
				continue;
			}
			if (q->stopping)
				break;
			q->consumer_idle = true;
			pthread_cond_wait(&q->nonempty, &q->lock);
			q->consumer_idle = false;
			continue;
		}
		unsigned n = q->count < EVQ_BATCH ? q->count : EVQ_BATCH;
		for (unsigned i = 0; i < n; i++)
			batch[i] = q->ring[(q->head + i) % q->cap];
		q->head = (q->head + n) % q->cap;
		q->count -= n;
		if (q->producer_waiting)
			pthread_cond_broadcast(&q->nonfull);
		pthread_mutex_unlock(&q->lock);
		for (unsigned i = 0; i < n; i++) {
			for (int k = 0; k < q->nsinks; k++)
				q->sinks[k]->ops->emit(q->sinks[k], &batch[i]);
			event_free(&batch[i]);
		}
		pthread_mutex_lock(&q->lock);
		q->emitted += n;
		/* Someone waits for these: flush now rather than when the queue runs dry,
		 * which a steady stream might never let happen. */
		if (q->flush_wanted > q->written && q->emitted >= q->flush_wanted)
			flush_locked(q);
	}
	pthread_mutex_unlock(&q->lock);
	free(batch);
	return NULL;
}

struct event_queue *evq_start(struct sink **sinks, int n, unsigned capacity,
			      void (*on_error)(void *ctx), void *ctx)
{
	struct event_queue *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->ring = calloc(capacity, sizeof(*q->ring));
	q->sinks = calloc((size_t)n + 1, sizeof(*q->sinks));
	if (!q->ring || !q->sinks) {
		free(q->ring);
		free(q->sinks);
		free(q);
		return NULL;
	}
	memcpy(q->sinks, sinks, (size_t)n * sizeof(*sinks));
	q->nsinks = n;
	q->cap = capacity;
	q->on_error = on_error;
	q->ctx = ctx;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->nonempty, NULL);
	pthread_cond_init(&q->nonfull, NULL);
	pthread_cond_init(&q->flushed, NULL);
	/* The sink thread takes none of mhookd's signals: they are the tracer's. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int rc = pthread_create(&q->thread, NULL, sink_thread, q);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		free(q->ring);
		free(q->sinks);
		free(q);
		return NULL;
	}
	return q;
}

static void wait_flushed(struct event_queue *q, uint64_t upto)
{
	if (q->written >= upto)
		return;
	if (q->flush_wanted < upto)
		q->flush_wanted = upto;
	if (q->consumer_idle)
		pthread_cond_signal(&q->nonempty);
	while (q->written < upto)
		pthread_cond_wait(&q->flushed, &q->lock);
}

void evq_push(struct event_queue *q, struct event *ev, bool wait)
{
	pthread_mutex_lock(&q->lock);
	while (q->count == q->cap) {
		if (q->consumer_idle)
			pthread_cond_signal(&q->nonempty);
		q->producer_waiting = true;
		pthread_cond_wait(&q->nonfull, &q->lock);
		q->producer_waiting = false;
	}
	q->ring[(q->head + q->count) % q->cap] = *ev;
	q->count++;
	q->pushed++;
	ev->owned = NULL;
	if (wait)
		wait_flushed(q, q->pushed);
	else if (q->consumer_idle && (ev->kind != EVENT_CALL || q->count >= q->cap / 4))
		pthread_cond_signal(&q->nonempty);
	pthread_mutex_unlock(&q->lock);
}

void evq_kick(struct event_queue *q)
{
	pthread_mutex_lock(&q->lock);
	/* pushed, not count: a batch the sink thread has taken off the ring but not emitted
	 * yet is in neither count nor emitted, and its flush must not be missed. */
	if (q->pushed != q->written) {
		q->flush_asked = true;
		if (q->consumer_idle)
			pthread_cond_signal(&q->nonempty);
	}
	pthread_mutex_unlock(&q->lock);
}

void evq_drain(struct event_queue *q)
{
	pthread_mutex_lock(&q->lock);
	wait_flushed(q, q->pushed);
	pthread_mutex_unlock(&q->lock);
}

int evq_write_error(struct event_queue *q)
{
	return __atomic_load_n(&q->write_error, __ATOMIC_RELAXED);
}

int evq_stop(struct event_queue *q)
{
	if (!q)
		return 0;
	pthread_mutex_lock(&q->lock);
	wait_flushed(q, q->pushed);
	q->stopping = true;
	pthread_cond_signal(&q->nonempty);
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->thread, NULL);
	for (int i = 0; i < q->nsinks; i++)
		q->sinks[i]->ops->close(q->sinks[i]);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->nonempty);
	pthread_cond_destroy(&q->nonfull);
	pthread_cond_destroy(&q->flushed);
	int error = q->write_error;
	free(q->ring);
	free(q->sinks);
	free(q);
	return error;
}
