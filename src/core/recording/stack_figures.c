#include "core/recording/stack_figures.h"

#include <string.h>

#include "core/base/tracker_memory.h"

/* Makes room for stack_id; returns 0 or -1 when memory ran out. */
static int stack_figures_reserve(struct stack_figures *figures, uint32_t stack_id)
{
    if (stack_id < figures->capacity) {
        return 0;
    }
    size_t capacity = figures->capacity ? figures->capacity * 2 : 1024;
    while (capacity <= stack_id) {
        capacity *= 2;
    }
    size_t entry_size = sizeof *figures->entries;
    struct stack_figures_entry *grown = tracker_realloc(
        figures->entries, figures->capacity * entry_size, capacity * entry_size);
    if (!grown) {
        return -1;
    }
    memset(grown + figures->capacity, 0, (capacity - figures->capacity) * entry_size);
    figures->entries = grown;
    figures->capacity = capacity;
    return 0;
}

/* Saves the stack's figures at the latest peak before they change. */
static struct stack_figures_entry *stack_figures_touch(struct stack_figures *figures,
                                                       uint32_t stack_id)
{
    struct stack_figures_entry *entry = &figures->entries[stack_id];
    if (entry->changed_in_epoch != figures->epoch) {
        entry->saved_peak_bytes = entry->live_bytes;
        entry->saved_peak_count = entry->live_count;
        entry->changed_in_epoch = figures->epoch;
    }
    return entry;
}

int stack_figures_allocate(struct stack_figures *figures, uint32_t stack_id, uint64_t bytes)
{
    return stack_figures_allocate_weighted(figures, stack_id, bytes, 1.0);
}

void weighted_amount_of_block(uint64_t size, double weight, struct weighted_amount *share)
{
    double bytes = (double)size;
    share->bytes = bytes * weight;
    share->count = weight;
    share->bytes_variance = weight > 1.0 ? bytes * bytes * (weight * weight - weight) : 0.0;
    share->observed_bytes = bytes;
}

void weighted_amount_add(struct weighted_amount *into, const struct weighted_amount *share,
                         double sign)
{
    into->bytes += sign * share->bytes;
    into->count += sign * share->count;
    into->bytes_variance += sign * share->bytes_variance;
    into->observed_bytes += sign * share->observed_bytes;
}

/* Saves the stack's weighted figures at the latest weighted peak before
 * they change. */
static struct stack_figures_entry *stack_figures_touch_weighted(struct stack_figures *figures,
                                                                uint32_t stack_id)
{
    struct stack_figures_entry *entry = &figures->entries[stack_id];
    if (entry->weighted_changed_in_epoch != figures->weighted_epoch) {
        entry->weighted_saved_peak = entry->weighted_live;
        entry->weighted_changed_in_epoch = figures->weighted_epoch;
    }
    return entry;
}

/* Adds the weighted share of a new block; a weighted heap above the
 * weighted peak makes a new weighted peak. */
static void stack_figures_add_weighted(struct stack_figures *figures, uint32_t stack_id,
                                       uint64_t bytes, double weight)
{
    struct weighted_amount share;
    weighted_amount_of_block(bytes, weight, &share);
    struct stack_figures_entry *entry = stack_figures_touch_weighted(figures, stack_id);
    weighted_amount_add(&entry->weighted_live, &share, 1);
    weighted_amount_add(&entry->weighted_total, &share, 1);
    weighted_amount_add(&figures->weighted_heap, &share, 1);
    weighted_amount_add(&figures->weighted_allocated, &share, 1);
    if (figures->weighted_heap.bytes > figures->weighted_peak.bytes) {
        figures->weighted_peak = figures->weighted_heap;
        figures->weighted_epoch++;
    }
}

int stack_figures_allocate_weighted(struct stack_figures *figures, uint32_t stack_id,
                                    uint64_t bytes, double weight)
{
    if (stack_figures_reserve(figures, stack_id) < 0) {
        return -1;
    }
    struct stack_figures_entry *entry = stack_figures_touch(figures, stack_id);
    entry->live_bytes += bytes;
    entry->live_count++;
    entry->total_bytes += bytes;
    entry->total_count++;
    figures->heap_bytes += bytes;
    figures->heap_count++;
    if (figures->heap_bytes > figures->peak_bytes) {
        figures->peak_bytes = figures->heap_bytes;
        figures->peak_count = figures->heap_count;
        figures->epoch++;
    }
    stack_figures_add_weighted(figures, stack_id, bytes, weight);
    return 0;
}

void stack_figures_release(struct stack_figures *figures, uint32_t stack_id, uint64_t bytes,
                           uint64_t count)
{
    if (stack_id >= figures->capacity) {
        return; /* never allocated: nothing to release */
    }
    struct stack_figures_entry *entry = stack_figures_touch(figures, stack_id);
    entry->live_bytes -= bytes < entry->live_bytes ? bytes : entry->live_bytes;
    entry->live_count -= count < entry->live_count ? count : entry->live_count;
    figures->heap_bytes -= bytes < figures->heap_bytes ? bytes : figures->heap_bytes;
    figures->heap_count -= count < figures->heap_count ? count : figures->heap_count;
}

void stack_figures_release_weighted(struct stack_figures *figures, uint32_t stack_id,
                                    uint64_t bytes, double weight)
{
    if (stack_id >= figures->capacity) {
        return;
    }
    stack_figures_release(figures, stack_id, bytes, 1);
    struct weighted_amount share;
    weighted_amount_of_block(bytes, weight, &share);
    static const struct weighted_amount nothing;
    struct stack_figures_entry *entry = stack_figures_touch_weighted(figures, stack_id);
    weighted_amount_add(&entry->weighted_live, &share, -1);
    weighted_amount_add(&figures->weighted_heap, &share, -1);
    if (!entry->live_count) {
        entry->weighted_live = nothing; /* no rounding left behind */
    }
    if (!figures->heap_count) {
        figures->weighted_heap = nothing;
    }
}

void stack_figures_weighted_at_peak(const struct stack_figures *figures, uint32_t stack_id,
                                    struct weighted_amount *at_peak)
{
    static const struct weighted_amount nothing;
    *at_peak = nothing;
    if (stack_id >= figures->capacity) {
        return;
    }
    const struct stack_figures_entry *entry = &figures->entries[stack_id];
    int changed = entry->weighted_changed_in_epoch == figures->weighted_epoch;
    *at_peak = changed ? entry->weighted_saved_peak : entry->weighted_live;
}

void stack_figures_at_peak(const struct stack_figures *figures, uint32_t stack_id,
                           uint64_t *bytes, uint64_t *count)
{
    *bytes = 0;
    *count = 0;
    if (stack_id >= figures->capacity) {
        return;
    }
    const struct stack_figures_entry *entry = &figures->entries[stack_id];
    int changed = entry->changed_in_epoch == figures->epoch;
    *bytes = changed ? entry->saved_peak_bytes : entry->live_bytes;
    *count = changed ? entry->saved_peak_count : entry->live_count;
}

void stack_figures_reset_peak(struct stack_figures *figures)
{
    figures->peak_bytes = figures->heap_bytes;
    figures->peak_count = figures->heap_count;
    figures->epoch++;
    figures->weighted_peak = figures->weighted_heap;
    figures->weighted_epoch++;
}

void stack_figures_clear(struct stack_figures *figures)
{
    tracker_free(figures->entries, figures->capacity * sizeof *figures->entries);
    memset(figures, 0, sizeof *figures);
}
