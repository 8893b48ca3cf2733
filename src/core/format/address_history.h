/*
 * What writer and reader both remember of a chunk's addresses, so that an
 * address can be written as a small reference instead of a delta:
 * - a free of a block allocated d allocations ago in the chunk is written
 *   as OP_FREE_RECENT d (1 <= d <= RECENT_ALLOCATIONS);
 * - an allocation at one of the last FREED_HISTORY freed addresses (malloc
 *   hands recently freed blocks out first) is written as OP_ALLOC_REUSED
 *   with the address's place in that history (0 = the latest free).
 * Both sides update the history identically, and reset it with each chunk.
 */
#ifndef MEMLYZE_ADDRESS_HISTORY_H
#define MEMLYZE_ADDRESS_HISTORY_H

#include <stdint.h>

#define RECENT_ALLOCATIONS 65536u /* power of two */
#define FREED_HISTORY 64u         /* power of two */
#define FREED_LOOKUP_SLOTS 16384u /* power of two */

struct freed_history {
    uint64_t addresses[FREED_HISTORY];
    uint32_t count; /* frees seen in the chunk */
    /* By a hash of the address: count + 1 when it was last pushed, or 0.
     * Finding an address then takes one look instead of a scan of the
     * history (most allocations are at fresh addresses, which the scan
     * missed only after FREED_HISTORY compares). Never trusted without
     * checking the history itself, so stale or colliding slots only cost
     * a reference the writer could have used. */
    uint32_t pushed_at[FREED_LOOKUP_SLOTS];
};

static inline uint32_t freed_history_slot(uint64_t address)
{
    return (uint32_t)((address * 0x9E3779B97F4A7C15ULL) >> 50) & (FREED_LOOKUP_SLOTS - 1);
}

static inline void freed_history_reset(struct freed_history *history)
{
    history->count = 0;
}

static inline void freed_history_push(struct freed_history *history, uint64_t address)
{
    history->pushed_at[freed_history_slot(address)] = history->count + 1;
    history->addresses[history->count++ & (FREED_HISTORY - 1)] = address;
}

/* The place of address in the history (0 = latest), or -1 when it is not
 * there or its lookup slot was taken by a later address. */
static inline int freed_history_find(const struct freed_history *history, uint64_t address)
{
    uint32_t pushed_at = history->pushed_at[freed_history_slot(address)];
    if (pushed_at == 0) {
        return -1;
    }
    uint32_t index = pushed_at - 1;
    if (index >= history->count || history->count - index > FREED_HISTORY
        || history->addresses[index & (FREED_HISTORY - 1)] != address) {
        return -1;
    }
    return (int)(history->count - 1 - index);
}

/* Stores the address at place in *address; returns 0, or -1 when the
 * history does not reach that far. */
static inline int freed_history_get(const struct freed_history *history, uint64_t place,
                                    uint64_t *address)
{
    uint32_t known = history->count < FREED_HISTORY ? history->count : FREED_HISTORY;
    if (place >= known) {
        return -1;
    }
    *address = history->addresses[(history->count - 1 - (uint32_t)place) & (FREED_HISTORY - 1)];
    return 0;
}

#endif
