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

struct freed_history {
    uint64_t addresses[FREED_HISTORY];
    uint32_t count; /* frees seen in the chunk */
};

static inline void freed_history_reset(struct freed_history *history)
{
    history->count = 0;
}

static inline void freed_history_push(struct freed_history *history, uint64_t address)
{
    history->addresses[history->count++ & (FREED_HISTORY - 1)] = address;
}

/* The place of address in the history (0 = latest), or -1. */
static inline int freed_history_find(const struct freed_history *history, uint64_t address)
{
    uint32_t known = history->count < FREED_HISTORY ? history->count : FREED_HISTORY;
    for (uint32_t place = 0; place < known; place++) {
        if (history->addresses[(history->count - 1 - place) & (FREED_HISTORY - 1)] == address) {
            return (int)place;
        }
    }
    return -1;
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
