/*
 * The number of code objects destroyed so far: a stack remembered as code
 * object addresses is known still to mean the same code while this number
 * has not moved, without reading the code objects themselves (a freed code
 * object's address may be handed to a new one).
 */
#ifndef MEMLYZE_CODE_LIFETIMES_H
#define MEMLYZE_CODE_LIFETIMES_H

#include <stdint.h>

/* Counts up on every code object destruction once watching; UINT64_MAX while
 * destructions cannot be seen (then no remembered address can be trusted). */
extern uint64_t code_lifetimes_destroyed;

/*
 * Starts counting destructions (idempotent). Call with the GIL. Returns 0,
 * or -1 when the interpreter cannot report them (no watcher left): the count
 * then stays UINT64_MAX.
 */
int code_lifetimes_watch(void);

static inline uint64_t code_lifetimes_epoch(void)
{
    return __atomic_load_n(&code_lifetimes_destroyed, __ATOMIC_ACQUIRE);
}

#endif
