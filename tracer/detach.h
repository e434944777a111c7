/*
 * Letting go of a target (detach.c): every hook removed, every thread moved out of
 * out-of-line code, scratch pages unmapped, every thread detached with the signal it was
 * stopped with. The target's code is byte-identical afterwards.
 */
#ifndef MHOOK_DETACH_H
#define MHOOK_DETACH_H

#include "tracer/session.h"

/* Detaches s (a no-op when already detached or gone). Returns 0. */
int session_detach(struct session *s);

/* Moves stopped thread tid out of every strategy's code (slots, nx's cache) to the
 * equivalent original address, stepping to a boundary where it must; -EBUSY when a
 * strategy cannot. Also before a signal is delivered: the handler's frame will return to
 * where the thread was, and our code may be gone by then. */
int detach_evacuate(struct session *s, pid_t tid);

#endif
