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

#endif
