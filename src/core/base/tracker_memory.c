#include "core/base/tracker_memory.h"

#include <stdlib.h>

/* Updated with relaxed atomics from any thread: only the totals matter. */
static uint64_t memory_current;
static uint64_t memory_peak;

static void memory_account(size_t added)
{
    uint64_t now = __atomic_add_fetch(&memory_current, added, __ATOMIC_RELAXED);
    uint64_t peak = __atomic_load_n(&memory_peak, __ATOMIC_RELAXED);
    while (now > peak &&
           !__atomic_compare_exchange_n(&memory_peak, &peak, now, 1, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED)) {
    }
}

void *tracker_malloc(size_t size)
{
    void *block = malloc(size);
    if (block) {
        memory_account(size);
    }
    return block;
}

void *tracker_calloc(size_t count, size_t size)
{
    void *block = calloc(count, size);
    if (block) {
        memory_account(count * size);
    }
    return block;
}

void *tracker_realloc(void *block, size_t old_size, size_t new_size)
{
    void *resized = realloc(block, new_size);
    if (resized) {
        __atomic_sub_fetch(&memory_current, old_size, __ATOMIC_RELAXED);
        memory_account(new_size);
    }
    return resized;
}

void tracker_free(void *block, size_t size)
{
    if (block) {
        free(block);
        __atomic_sub_fetch(&memory_current, size, __ATOMIC_RELAXED);
    }
}

uint64_t tracker_memory_current(void)
{
    return __atomic_load_n(&memory_current, __ATOMIC_RELAXED);
}

uint64_t tracker_memory_peak(void)
{
    return __atomic_load_n(&memory_peak, __ATOMIC_RELAXED);
}

void tracker_memory_reset_peak(void)
{
    __atomic_store_n(&memory_peak, tracker_memory_current(), __ATOMIC_RELAXED);
}
