/* The calling thread's Python stack, interned (see python_stack.c). */
#ifndef MEMLYZE_PYTHON_STACK_H
#define MEMLYZE_PYTHON_STACK_H

#include <stdint.h>

/* Frames kept per stack, innermost first; applies to captures from now on.
 * Call with the GIL, before recording starts. */
void python_stack_configure(uint32_t max_depth);

/* Whether captures count the frames beyond max_depth (tracemalloc's
 * total_nframe), for python_stack_total_frames; off unless turned on. */
void python_stack_configure_counting(int count_total_frames);

/* After a capture on this thread: how many frames its stack had when more
 * than max_depth were there (at most UINT16_MAX); 0 when the stack id holds
 * them all or counting is off. */
uint16_t python_stack_total_frames(void);

/* memlyze's package directory: frames of its files are left out of every
 * stack recorded from now on (NULL or "": none are). Call before recording. */
void python_stack_set_own_directory(const char *directory);

/*
 * Returns the stack id of the calling thread's Python stack (0 when the
 * thread runs no Python code), interning what is new. Callable from any
 * thread, with or without the GIL, while recording.
 */
uint32_t python_stack_capture(void);

/* The same, and in *filter_bits the module filter bits of the stack's
 * frames (module_filter.h): the OR over every recorded frame. */
uint32_t python_stack_capture_filtered(uint32_t *filter_bits);

#endif
