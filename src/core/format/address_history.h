/*
 * What writer and reader both remember of a chunk's addresses, so that an
 * address can be written as a small reference instead of a delta:
 * - a free of a block allocated d allocations ago is written as
 *   OP_FREE_RECENT d;
 * - an allocation at one of the last FREED_HISTORY freed addresses (malloc
 *   hands recently freed blocks out first) is written as OP_ALLOC_REUSED
 *   with the address's place in that history (0 = the latest free);
 * - any other address as a delta to the previous address.
 *
 * From format version 2 on, each thread of a chunk has its own address
 * state (previous address, allocations counted, freed history): threads
 * allocate from arenas of their own, so one thread's records refer back
 * to its own, and interleaved threads no longer break each other's
 * locality. A chunk's threads get states in the order it first switches
 * to them (thread 0, before any switch, has the first); from the
 * ADDRESS_STATES-th on they share the last one. In version 1 every thread
 * shares one state. Both sides update the states identically and reset
 * them with each chunk.
 */
#ifndef MEMLYZE_ADDRESS_HISTORY_H
#define MEMLYZE_ADDRESS_HISTORY_H

#include <stdint.h>

#define ADDRESS_STATES 64u
/* How far back OP_FREE_RECENT may reach, in the state's own allocations. */
#define RECENT_ALLOCATIONS 4096u           /* power of two */
#define SHARED_STATE_RECENT_ALLOCATIONS 65536u /* version 1; power of two */
#define FREED_HISTORY 64u                  /* power of two */

struct freed_history {
    uint64_t addresses[FREED_HISTORY];
    uint32_t count; /* frees seen in the chunk */
};

struct address_state {
    uint64_t previous_address;
    uint64_t allocations; /* made in this state in the chunk */
    struct freed_history freed;
};

/* The threads of a chunk, by state index. */
struct address_state_threads {
    uint64_t thread_ids[ADDRESS_STATES];
    uint32_t count;
};

static inline void address_state_reset(struct address_state *state)
{
    state->previous_address = 0;
    state->allocations = 0;
    state->freed.count = 0;
}

/* Forgets every thread but thread 0, which gets state 0. */
static inline void address_state_threads_reset(struct address_state_threads *threads)
{
    threads->thread_ids[0] = 0;
    threads->count = 1;
}

/* The state index of thread_id, given one if it has none; *fresh is set
 * when the index is new to the chunk (its state must be reset). */
static inline uint32_t address_state_index(struct address_state_threads *threads,
                                           uint64_t thread_id, int *fresh)
{
    *fresh = 0;
    for (uint32_t index = 0; index < threads->count; index++) {
        if (threads->thread_ids[index] == thread_id) {
            return index;
        }
    }
    if (threads->count == ADDRESS_STATES) {
        return ADDRESS_STATES - 1;
    }
    threads->thread_ids[threads->count] = thread_id;
    *fresh = 1;
    return threads->count++;
}

static inline void freed_history_push(struct freed_history *history, uint64_t address)
{
    history->addresses[history->count++ & (FREED_HISTORY - 1)] = address;
}

/* The address at place (0 = latest); 0, or -1 when the history does not
 * reach that far. */
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
