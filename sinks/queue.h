/*
 * The bounded queue between the tracer thread and the sink thread (queue.c). The tracer
 * pushes events (a copy of the struct: a call allocates nothing) and goes on; the sink
 * thread formats and writes them to every sink, a batch at a time, and flushes when the
 * tracer goes idle or someone waits, so a busy target costs one write per burst. Delivery is lossless: when the
 * queue is full the pusher waits, as strace waits for its output.
 *
 * The sink thread is not woken for every call: only when the queue is a quarter full,
 * for an event that must go out at once (everything but calls), or when the tracer has
 * nothing else to do (evq_kick). So events reach their file by the time the tracer
 * blocks, or every few milliseconds under a steady stream of hits.
 */
#ifndef MHOOK_QUEUE_H
#define MHOOK_QUEUE_H

#include <stdbool.h>

#include "sinks/event.h"
#include "sinks/sink.h"

struct event_queue;

/* Starts the sink thread over sinks[0..n) (the queue owns them from now on, and closes
 * them at evq_stop). on_error(ctx) is called once, from the sink thread, when a critical
 * sink cannot write. Returns the queue, or NULL when out of memory or threads. */
struct event_queue *evq_start(struct sink **sinks, int n, unsigned capacity,
			      void (*on_error)(void *ctx), void *ctx);

/* Queues ev (its owned memory goes with it). With wait, returns only once ev is written
 * and flushed to every sink: ready, summaries and errors are seen before the target (or
 * mhookd) goes on. */
void evq_push(struct event_queue *q, struct event *ev, bool wait);

/* The tracer is idle: lets the sink thread write and flush what is queued. Cheap when
 * nothing is. */
void evq_kick(struct event_queue *q);

/* Waits until everything queued so far is written and flushed. */
void evq_drain(struct event_queue *q);

/* The errno of the first write of a critical sink that failed (reports were lost), or
 * 0. From any thread. */
int evq_write_error(struct event_queue *q);

/* Drains, stops the sink thread and closes the sinks. Returns evq_write_error as it was
 * at the end, the last flush included. */
int evq_stop(struct event_queue *q);

#endif
