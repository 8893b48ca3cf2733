/* The contexts of the analysis: each (thread, stack, native stack) that
 * allocated gets a small index, and owns the live figures its blocks add
 * up to (updated by the inline functions of capture_analysis_internal.h,
 * with the lazy snapshot at the peak). */
#include "core/analysis/capture_analysis_internal.h"

#include <string.h>

void analysis_contexts_init(struct context_table *table)
{
    memset(table, 0, sizeof *table);
    hash_map_init(&table->index);
    hash_map_init(&table->thread_numbers);
    hash_map_init(&table->pair_numbers);
    hash_map_init(&table->native_index);
    table->cached_thread_id = UINT64_MAX;
    table->last_thread_id = UINT64_MAX;
    for (size_t i = 0; i < CONTEXT_CACHE_SIZE; i++) {
        table->cache[i].key = UINT64_MAX;
    }
}

void analysis_contexts_release(struct context_table *table)
{
    byte_buffer_release(&table->contexts);
    hash_map_release(&table->index);
    hash_map_release(&table->thread_numbers);
    hash_map_release(&table->pair_numbers);
    hash_map_release(&table->native_index);
}

/* Returns the small number of a thread id, numbering new ones; -1: no memory. */
static int64_t thread_number(struct context_table *table, uint64_t thread_id)
{
    if (thread_id == table->cached_thread_id) {
        return (int64_t)table->cached_thread_number;
    }
    uint64_t *found = hash_map_find(&table->thread_numbers, thread_id);
    uint64_t number = found ? *found : table->thread_numbers.count;
    if (!found && hash_map_put(&table->thread_numbers, thread_id, number) < 0) {
        return -1;
    }
    table->cached_thread_id = thread_id;
    table->cached_thread_number = number;
    return (int64_t)number;
}

/* Appends a new context and indexes it under key in index. Returns its
 * index, or -1 when memory ran out. */
static int64_t context_append(struct capture_analysis *analysis, uint64_t thread_id,
                              uint32_t stack_id, uint32_t native_stack_id,
                              struct hash_map *index, uint64_t key)
{
    struct context_table *table = &analysis->contexts;
    size_t position = analysis_context_count(analysis);
    struct analysis_context context;
    memset(&context, 0, sizeof context);
    context.thread_id = thread_id;
    context.stack_id = stack_id;
    context.native_stack_id = native_stack_id;
    context.changed_in_epoch = analysis->epoch;
    /* UINT32_MAX marks a free block slot (capture_analysis_heap.c). */
    if (position >= UINT32_MAX ||
        byte_buffer_append(&table->contexts, &context, sizeof context) < 0 ||
        hash_map_put(index, key, position) < 0) {
        return -1;
    }
    return (int64_t)position;
}

/* The context of (thread, stack) without a native stack: the fast path. */
static int64_t python_context_of(struct capture_analysis *analysis, uint64_t thread_id,
                                 uint32_t stack_id)
{
    struct context_table *table = &analysis->contexts;
    int64_t number = thread_number(table, thread_id);
    if (number < 0) {
        return -1;
    }
    uint64_t key = (uint64_t)number << 32 | stack_id;
    struct context_cache_entry *cached = &table->cache[stack_id & (CONTEXT_CACHE_SIZE - 1)];
    if (cached->key == key) {
        return cached->context;
    }
    uint64_t *found = hash_map_find(&table->index, key);
    int64_t context = found ? (int64_t)*found
                            : context_append(analysis, thread_id, stack_id, 0, &table->index, key);
    if (context >= 0) {
        cached->key = key;
        cached->context = (uint32_t)context;
    }
    return context;
}

/* The context with a native stack: (stack, native stack) pairs are
 * numbered, and thread number << 32 | pair number indexes the context. */
static int64_t native_context_of(struct capture_analysis *analysis, uint64_t thread_id,
                                 uint32_t stack_id, uint32_t native_stack_id)
{
    struct context_table *table = &analysis->contexts;
    int64_t number = thread_number(table, thread_id);
    uint64_t pair_key = (uint64_t)stack_id << 32 | native_stack_id;
    uint64_t *pair = hash_map_find(&table->pair_numbers, pair_key);
    uint64_t pair_number = pair ? *pair : table->pair_numbers.count;
    if (number < 0 ||
        (!pair && hash_map_put(&table->pair_numbers, pair_key, pair_number) < 0)) {
        return -1;
    }
    uint64_t key = (uint64_t)number << 32 | pair_number;
    uint64_t *found = hash_map_find(&table->native_index, key);
    if (found) {
        return (int64_t)*found;
    }
    return context_append(analysis, thread_id, stack_id, native_stack_id, &table->native_index,
                          key);
}

const struct estimate *analysis_context_at_peak(const struct capture_analysis *analysis,
                                                const struct analysis_context *context)
{
    return context->changed_in_epoch == analysis->epoch ? &context->at_peak : &context->live;
}

int64_t analysis_context_lookup(struct capture_analysis *analysis, uint64_t thread_id,
                                uint32_t stack_id, uint32_t native_stack_id)
{
    int64_t context = native_stack_id == 0
                          ? python_context_of(analysis, thread_id, stack_id)
                          : native_context_of(analysis, thread_id, stack_id, native_stack_id);
    if (context >= 0) {
        struct context_table *table = &analysis->contexts;
        table->last_thread_id = thread_id;
        table->last_stack_id = stack_id;
        table->last_native_stack_id = native_stack_id;
        table->last_context = (uint32_t)context;
    }
    return context;
}
