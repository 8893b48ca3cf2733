/*
 * Per-stack live figures with a lazily kept snapshot at the peak, in one
 * pass and O(1) per change: each stack remembers the epoch (number of peaks
 * reached) in which it last changed. Before a stack's live figures change
 * in a new epoch, they are saved as its figures at the latest peak; a stack
 * not changed since the latest peak still holds them as its live figures.
 * (The same idea as capture_analysis_heap.c's stack_touch(), for in-process use.)
 *
 * Beside these exact figures of what was recorded, each stack keeps
 * weighted figures (doubles): under sampling, an allocation recorded with
 * weight w = 1/p (p: the chance it had to be kept) stands for w blocks and
 * size * w bytes of the whole program, with the variance size^2 (w^2 - w)
 * (Horvitz-Thompson, as capture_estimates.h). Its free removes the same
 * weight; a stack (or heap) left with no live block gets exactly zero, so
 * rounding never lingers. The weighted peak is the largest weighted heap,
 * kept lazily as above with its own epoch. Without sampling w = 1.
 */
#ifndef MEMLYZE_STACK_FIGURES_H
#define MEMLYZE_STACK_FIGURES_H

#include <stddef.h>
#include <stdint.h>

#include "core/base/weighted_amount.h"

struct stack_figures_entry {
    uint64_t live_bytes;
    uint64_t live_count;
    uint64_t saved_peak_bytes; /* valid when changed_in_epoch == epoch */
    uint64_t saved_peak_count;
    uint64_t total_bytes;
    uint64_t total_count;
    uint64_t changed_in_epoch;
    struct weighted_amount weighted_live;
    struct weighted_amount weighted_saved_peak; /* valid when weighted_changed_in_epoch
                                                   == weighted_epoch */
    struct weighted_amount weighted_total;
    uint64_t weighted_changed_in_epoch;
};

struct stack_figures {
    struct stack_figures_entry *entries; /* indexed by stack id */
    size_t capacity;
    uint64_t epoch;
    uint64_t heap_bytes;
    uint64_t heap_count;
    uint64_t peak_bytes;
    uint64_t peak_count;
    uint64_t weighted_epoch;
    struct weighted_amount weighted_heap;
    struct weighted_amount weighted_peak;      /* the largest weighted heap */
    struct weighted_amount weighted_allocated; /* every allocation */
};

/* The amount one recorded block of size bytes and weight w stands for. */
void weighted_amount_of_block(uint64_t size, double weight, struct weighted_amount *share);
/* into += sign * share, field by field (sign is 1 or -1). */
void weighted_amount_add(struct weighted_amount *into, const struct weighted_amount *share,
                         double sign);

/* Adds a new allocation of bytes to stack_id (live and totals); a heap
 * above the peak makes a new peak. Returns 0, or -1 when memory ran out
 * (nothing changed). */
int stack_figures_allocate(struct stack_figures *figures, uint32_t stack_id, uint64_t bytes);
/* As stack_figures_allocate, also adding the weighted share of a block of
 * bytes recorded with weight (1 when every allocation is recorded). */
int stack_figures_allocate_weighted(struct stack_figures *figures, uint32_t stack_id,
                                    uint64_t bytes, double weight);
/* Removes one live block of bytes recorded with weight from stack_id, from
 * the exact and the weighted figures. */
void stack_figures_release_weighted(struct stack_figures *figures, uint32_t stack_id,
                                    uint64_t bytes, double weight);
/* The stack's weighted figures at the latest weighted peak. */
void stack_figures_weighted_at_peak(const struct stack_figures *figures, uint32_t stack_id,
                                    struct weighted_amount *at_peak);
/* Removes live bytes and blocks that stack_id holds. */
void stack_figures_release(struct stack_figures *figures, uint32_t stack_id, uint64_t bytes,
                           uint64_t count);
/* The stack's figures at the latest peak. */
void stack_figures_at_peak(const struct stack_figures *figures, uint32_t stack_id,
                           uint64_t *bytes, uint64_t *count);
/* Makes the current heap the peak (every stack's peak = its live figures),
 * the weighted one as well. */
void stack_figures_reset_peak(struct stack_figures *figures);
/* Frees everything and zeroes figures. */
void stack_figures_clear(struct stack_figures *figures);

#endif
