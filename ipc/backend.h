/*
 * The tracer as the protocol's backend (backend.c): client requests carried out on the
 * tracer thread through the loop's command queue, and the bookkeeping of who holds which
 * target and hook. Hooks belong to the clients that asked for them; a target attached for
 * clients is detached once nothing holds it.
 */
#ifndef MHOOK_BACKEND_H
#define MHOOK_BACKEND_H

#include "ipc/protocol.h"

extern const struct backend_ops tracer_backend;

/* Frees the SPECs kept for client hooks; after the loop has stopped. */
void backend_free(void);

#endif
