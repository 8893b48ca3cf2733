/*
 * The profiler's own heap. Every allocation the core makes goes through these
 * so that stats can report the tracker's memory, and so that the hooks never
 * see it: the core is linked into an object whose own calls are not patched.
 */
#ifndef MEMLYZE_TRACKER_MEMORY_H
#define MEMLYZE_TRACKER_MEMORY_H

#include <stddef.h>
#include <stdint.h>

/* Returns size bytes (uninitialised) or NULL. Free with tracker_free(p, size). */
void *tracker_malloc(size_t size);
/* Returns count*size zeroed bytes or NULL (also on overflow). */
void *tracker_calloc(size_t count, size_t size);
/* Resizes a block of old_size bytes; returns NULL (block untouched) on failure. */
void *tracker_realloc(void *block, size_t old_size, size_t new_size);
void tracker_free(void *block, size_t size);

/* Bytes currently held, and the most ever held since the last reset. */
uint64_t tracker_memory_current(void);
uint64_t tracker_memory_peak(void);
void tracker_memory_reset_peak(void);

#endif
