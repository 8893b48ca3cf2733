/* The calling thread's native call chain, interned (see native_stack.c). */
#ifndef MEMLYZE_NATIVE_STACK_H
#define MEMLYZE_NATIVE_STACK_H

#include <stdint.h>

/* Nonzero while allocations record their native call chain. */
extern int native_stack_enabled;

/*
 * Checks that this platform can unwind native stacks (libunwind). Returns 0,
 * or -1 after writing on stderr why not and that the recording goes on
 * without native frames. Call before starting a --native recording.
 */
int native_stack_probe_or_warn(void);

/* After the recorder started: records the loaded objects (OP_MAPPING) and
 * turns native capture on. */
void native_stack_begin(void);
/* Turns native capture off. */
void native_stack_end(void);
/* After a successful dlopen: records the objects loaded since. */
void native_stack_note_dlopen(void);

/*
 * Returns the native stack id of the calling thread's call chain, without
 * memlyze's own frames (0 when it cannot be unwound). For the hooks, with
 * the thread marked busy.
 */
uint32_t native_stack_capture(void);

#endif
