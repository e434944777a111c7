/*
 * The tracer as the protocol's backend (backend.c): client requests carried out on the
 * tracer thread through the loop's command queue, and the bookkeeping of who holds which
 * target and hook. Hooks belong to the clients that asked for them; a target attached for
 * clients is detached once nothing holds it.
 */
#ifndef MHOOK_BACKEND_H
#define MHOOK_BACKEND_H

#include "ipc/protocol.h"

struct event_queue;

extern const struct backend_ops tracer_backend;

/* The queue the events go through. A reply is sent only once every event made before the
 * request ended has been handed to the sinks, so that a client sees, before the reply,
 * every event of what the request ended (the calls before an unhook, say). */
void backend_init(struct event_queue *q);

/* Frees the SPECs kept for client hooks; after the loop has stopped. */
void backend_free(void);

#endif
