/*
 * Deciding which allocations a sampled recording keeps, and remembering the
 * kept blocks so that their frees (and only theirs) are recorded.
 *
 * Two schemes, both with each thread's own countdown and random generator:
 * - byte sampling (sample_interval T): the countdown is drawn from an
 *   exponential distribution of mean T and counts bytes, as in tcmalloc and
 *   Go's MemProfileRate; an allocation of s bytes is kept with probability
 *   1 - exp(-s / T), independently of the others;
 * - allocation sampling (sample rate 1/N): the countdown is drawn from a
 *   geometric distribution of mean N and counts allocations, so each one is
 *   kept with probability 1/N, without aliasing against periodic loops.
 * The fast path is one subtraction and a branch (sampler_skips).
 */
#ifndef MEMLYZE_SAMPLER_H
#define MEMLYZE_SAMPLER_H

#include <stdint.h>

#include "core/base/thread_local.h"

enum sampler_mode {
    SAMPLER_EVERY_ALLOCATION = 0,
    SAMPLER_BY_BYTES = 1,
    SAMPLER_BY_ALLOCATIONS = 2,
};

/* Read on every hooked allocation; written only by sampler_configure. */
extern int sampler_mode;
extern uint64_t sampler_unit_mask; /* all ones: count bytes; 0: count allocations */
extern THREAD_LOCAL int64_t sampler_countdown;

/*
 * Sets the scheme for the allocations from now on. mean is T in bytes or N
 * in allocations (ignored for SAMPLER_EVERY_ALLOCATION). seed makes every
 * thread's draws reproducible (thread k uses a stream derived from seed and
 * k, k counting the threads that sampled since this call). The calling
 * thread follows the new scheme from its next allocation; another thread
 * from the end of the countdown it is in. Clears the set of sampled blocks
 * when clear_sampled is nonzero.
 */
void sampler_configure(int mode, double mean, uint64_t seed, int clear_sampled);

/* Slow path: the countdown ran out (or this thread is new to the current
 * configuration). Returns 1 to keep the allocation, 0 to skip it. */
int sampler_countdown_expired(void);

/* Returns 1 when an allocation of size bytes is to be recorded. */
static inline int sampler_keeps(uint64_t size)
{
    if (sampler_mode == SAMPLER_EVERY_ALLOCATION) {
        return 1;
    }
    sampler_countdown -= (int64_t)((size & sampler_unit_mask) | (1 & ~sampler_unit_mask));
    if (__builtin_expect(sampler_countdown > 0, 1)) {
        return 0;
    }
    return sampler_countdown_expired();
}

/* Remembers a kept block (sampled modes only). */
void sampler_remember(uintptr_t address);

/*
 * Returns 1 and forgets the block when address was kept, else 0. The common
 * answer, "no", costs a hash and one load: a counting filter in front of
 * the exact set.
 */
int sampler_forget_slow(uintptr_t address);
extern uint8_t sampler_filter[1 << 16];

static inline uint32_t sampler_filter_slot(uintptr_t address)
{
    return (uint32_t)(((uint64_t)address * 0x9E3779B97F4A7C15ULL) >> 48);
}

static inline int sampler_forget(uintptr_t address)
{
    if (__builtin_expect(!__atomic_load_n(&sampler_filter[sampler_filter_slot(address)],
                                          __ATOMIC_RELAXED), 1)) {
        return 0;
    }
    return sampler_forget_slow(address);
}

/* In a forked child: the set's lock may be held by a parent thread. */
void sampler_after_fork_in_child(void);

#endif
