#include "core/analysis/stack_threads.h"

#define NO_PAIR UINT64_MAX

void stack_threads_init(struct stack_threads *set)
{
    hash_map_init(&set->pairs);
    set->last_key = NO_PAIR;
}

void stack_threads_release(struct stack_threads *set)
{
    hash_map_release(&set->pairs);
    set->last_key = NO_PAIR;
}

int stack_threads_add(struct stack_threads *set, uint32_t stack_id, uint64_t thread_id)
{
    if (thread_id >= UINT32_MAX) {
        return 0;
    }
    uint64_t key = ((uint64_t)stack_id << 32) | thread_id;
    if (key == set->last_key) {
        return 0;
    }
    if (!hash_map_find(&set->pairs, key) && hash_map_put(&set->pairs, key, 1) < 0) {
        return -1;
    }
    set->last_key = key;
    return 0;
}

void stack_threads_each(const struct stack_threads *set,
                        void (*visit)(uint32_t stack_id, uint64_t thread_id, void *context),
                        void *context)
{
    for (size_t index = 0; index < set->pairs.capacity; index++) {
        uint64_t key = set->pairs.slots[index].key;
        if (key != HASH_MAP_EMPTY_KEY) {
            visit((uint32_t)(key >> 32), key & UINT32_MAX, context);
        }
    }
}
