/*
 * Per-stack live figures with a lazily kept snapshot at the peak, in one
 * pass and O(1) per change: each stack remembers the epoch (number of peaks
 * reached) in which it last changed. Before a stack's live figures change
 * in a new epoch, they are saved as its figures at the latest peak; a stack
 * not changed since the latest peak still holds them as its live figures.
 * (The same idea as capture_analysis.c's stack_touch(), for in-process use.)
 */
#ifndef MEMLYZE_STACK_FIGURES_H
#define MEMLYZE_STACK_FIGURES_H

#include <stddef.h>
#include <stdint.h>

struct stack_figures_entry {
    uint64_t live_bytes;
    uint64_t live_count;
    uint64_t saved_peak_bytes; /* valid when changed_in_epoch == epoch */
    uint64_t saved_peak_count;
    uint64_t total_bytes;
    uint64_t total_count;
    uint64_t changed_in_epoch;
};

struct stack_figures {
    struct stack_figures_entry *entries; /* indexed by stack id */
    size_t capacity;
    uint64_t epoch;
    uint64_t heap_bytes;
    uint64_t heap_count;
    uint64_t peak_bytes;
    uint64_t peak_count;
};

/* Adds a new allocation of bytes to stack_id (live and totals); a heap
 * above the peak makes a new peak. Returns 0, or -1 when memory ran out
 * (nothing changed). */
int stack_figures_allocate(struct stack_figures *figures, uint32_t stack_id, uint64_t bytes);
/* Removes live bytes and blocks that stack_id holds. */
void stack_figures_release(struct stack_figures *figures, uint32_t stack_id, uint64_t bytes,
                           uint64_t count);
/* The stack's figures at the latest peak. */
void stack_figures_at_peak(const struct stack_figures *figures, uint32_t stack_id,
                           uint64_t *bytes, uint64_t *count);
/* Makes the current heap the peak (every stack's peak = its live figures). */
void stack_figures_reset_peak(struct stack_figures *figures);
/* Frees everything and zeroes figures. */
void stack_figures_clear(struct stack_figures *figures);

#endif
