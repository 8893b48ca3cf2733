/*
 * Which threads allocated with which stack: a set of (stack id, thread id)
 * pairs that the analysis fills during its pass and reads once at the end to
 * list the threads of each location. Not thread-safe.
 */
#ifndef MEMLYZE_STACK_THREADS_H
#define MEMLYZE_STACK_THREADS_H

#include <stdint.h>

#include "core/base/hash_map.h"

struct stack_threads {
    struct hash_map pairs; /* (stack_id << 32 | thread_id) -> 1 */
    uint64_t last_key;     /* the pair added last: repeats are the common case */
};

void stack_threads_init(struct stack_threads *set);
void stack_threads_release(struct stack_threads *set);

/* Adds the pair. Returns 0, or -1 when memory ran out. Thread ids above
 * 2^32 - 2 (never written by memlyze) are not kept. */
int stack_threads_add(struct stack_threads *set, uint32_t stack_id, uint64_t thread_id);

/* Calls visit(stack_id, thread_id, context) once per pair, in no order. */
void stack_threads_each(const struct stack_threads *set,
                        void (*visit)(uint32_t stack_id, uint64_t thread_id, void *context),
                        void *context);

#endif
