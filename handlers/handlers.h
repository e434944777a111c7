/*
 * What a hit becomes: the handlers turn the tracer's news into events (sinks/event.h) on
 * the event queue, and keep the counts per hook and per process that the summaries add
 * up. They implement the tracer's observer ops (tracer/observer.h); main hands those to
 * every session. Everything here runs on the tracer thread.
 */
#ifndef MHOOK_HANDLERS_H
#define MHOOK_HANDLERS_H

#include <stdbool.h>
#include <stdint.h>

#include "sinks/queue.h"
#include "tracer/observer.h"
#include "tracer/session.h"

/* The observer that every session is given. */
extern const struct observer_ops handlers_observer;

/* Events go to q; with summary_only, calls are counted but not reported (-c). */
void handlers_init(struct event_queue *q, bool summary_only);

/* A consumer of call events other than the main sinks (a client) comes (+1) or goes
 * (-1): with -c, calls are made events only while one wants them. Any thread. */
void handlers_want_calls(int delta);

/* Every call of h in s so far (vfork children's included). */
uint64_t handlers_calls(struct session *s, const struct hook *h);

/* The summaries of every traced process (-F: added up, with per-pid counts), and the
 * SPECs of main that were never armed; written before this returns. */
void handlers_summary(struct session *main);

/* Frees the counts and the interned names; after the queue has stopped. */
void handlers_free(void);

#endif
