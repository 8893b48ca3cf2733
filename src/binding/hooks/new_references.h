/*
 * Objects reused from a free list (lists, tuples, floats, dicts, ...) are
 * made again with no allocation, so the live table would keep the stack of
 * their block's first life. tracemalloc gives such a block the stack of its
 * reuse; so does memlyze.tracemalloc, from 3.13 on, through PyRefTracer,
 * which reports every object made. Before 3.13 CPython tells only its own
 * tracemalloc (_Py_NewReference calls it directly) and nothing follows.
 */
#ifndef MEMLYZE_NEW_REFERENCES_H
#define MEMLYZE_NEW_REFERENCES_H

#include <stdint.h>

#include "core/base/thread_local.h"

/* The block the Python allocator domains gave this thread last, until an
 * object is made in it: that object is a fresh allocation, recorded
 * already. */
extern THREAD_LOCAL uintptr_t new_references_last_block;

/* Starts following reused objects for the running recording. Returns 1,
 * or 0 when this CPython cannot report them (before 3.13). Call with the
 * GIL held. */
int new_references_start(void);
/* Stops following them (nothing when not started). GIL held. */
void new_references_stop(void);

#endif
