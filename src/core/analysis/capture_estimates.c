#include "core/analysis/capture_estimates.h"

#include <math.h>
#include <string.h>

#include "core/format/aggregate_chunk.h"
#include "core/base/byte_buffer.h"
#include "core/base/hash_map.h"
#include "core/base/tracker_memory.h"

/* A kept block's share of the estimates; next_free links free slots. */
struct kept_block {
    uint32_t stack_id;
    uint32_t allocator;
    struct estimate share;
    uint64_t next_free;
};

/* Per stack: live now, live at the last saved peak, and in total. */
struct stack_estimates {
    struct estimate live;
    struct estimate at_peak;
    struct estimate total;
    uint64_t changed_in_epoch;
};

struct capture_estimates {
    uint32_t mode;
    uint64_t mean;
    struct estimate_summary summary;
    struct estimate heap;
    uint64_t epoch;
    struct byte_buffer stacks;   /* struct stack_estimates by stack id */
    size_t stack_capacity;
    struct hash_map blocks[3];   /* malloc family, pymalloc, mappings: address -> index */
    struct byte_buffer kept;     /* struct kept_block */
    uint64_t free_kept;          /* free list through next_free; NO_FREE_KEPT = none */
};

#define NO_FREE_KEPT UINT64_MAX
#define Z_95 1.959963984540054

double capture_estimates_keep_probability(uint32_t mode, uint64_t mean, uint64_t size)
{
    if (mode == CAPTURE_SAMPLING_BY_BYTES && mean > 0) {
        return size ? -expm1(-(double)size / (double)mean) : 1.0;
    }
    if (mode == CAPTURE_SAMPLING_BY_ALLOCATIONS && mean > 1) {
        return 1.0 / (double)mean;
    }
    return 1.0;
}

void estimate_interval(const struct estimate *estimate, double *low, double *high)
{
    double spread = Z_95 * sqrt(estimate->bytes_variance > 0 ? estimate->bytes_variance : 0);
    *low = estimate->bytes - spread;
    if (*low < estimate->observed_bytes) {
        *low = estimate->observed_bytes;
    }
    *high = estimate->bytes + spread;
}

static void estimate_add(struct estimate *into, const struct estimate *share, double sign)
{
    into->bytes += sign * share->bytes;
    into->count += sign * share->count;
    into->bytes_variance += sign * share->bytes_variance;
    into->observed_bytes += sign * share->observed_bytes;
}

struct capture_estimates *capture_estimates_new(const struct capture_header *header)
{
    struct capture_estimates *estimates = tracker_calloc(1, sizeof *estimates);
    if (!estimates) {
        return NULL;
    }
    if (header->sample_interval) {
        estimates->mode = CAPTURE_SAMPLING_BY_BYTES;
        estimates->mean = header->sample_interval;
    } else if (header->sample_rate < 1.0) {
        estimates->mode = CAPTURE_SAMPLING_BY_ALLOCATIONS;
        estimates->mean = (uint64_t)llround(1.0 / header->sample_rate);
    }
    for (int index = 0; index < 3; index++) {
        hash_map_init(&estimates->blocks[index]);
    }
    estimates->free_kept = NO_FREE_KEPT;
    return estimates;
}

void capture_estimates_free(struct capture_estimates *estimates)
{
    if (!estimates) {
        return;
    }
    for (int index = 0; index < 3; index++) {
        hash_map_release(&estimates->blocks[index]);
    }
    byte_buffer_release(&estimates->stacks);
    byte_buffer_release(&estimates->kept);
    tracker_free(estimates, sizeof *estimates);
}

static struct stack_estimates *stack_array(const struct capture_estimates *estimates)
{
    return (struct stack_estimates *)estimates->stacks.data;
}

static int stack_reserve(struct capture_estimates *estimates, uint32_t stack_id)
{
    if (stack_id < estimates->stack_capacity) {
        return 0;
    }
    size_t capacity = estimates->stack_capacity ? estimates->stack_capacity * 2 : 1024;
    while (capacity <= stack_id) {
        capacity *= 2;
    }
    size_t extra = (capacity - estimates->stack_capacity) * sizeof(struct stack_estimates);
    if (byte_buffer_reserve(&estimates->stacks, extra) < 0) {
        return -1;
    }
    memset(estimates->stacks.data + estimates->stacks.size, 0, extra);
    estimates->stacks.size += extra;
    estimates->stack_capacity = capacity;
    return 0;
}

/* The stack's figures, with its at-peak copy saved before they change. */
static struct stack_estimates *stack_touch(struct capture_estimates *estimates, uint32_t stack_id)
{
    struct stack_estimates *stack = &stack_array(estimates)[stack_id];
    if (stack->changed_in_epoch != estimates->epoch) {
        stack->at_peak = stack->live;
        stack->changed_in_epoch = estimates->epoch;
    }
    return stack;
}

static struct kept_block *kept_array(const struct capture_estimates *estimates)
{
    return (struct kept_block *)estimates->kept.data;
}

/* The share of the whole that one kept allocation of size bytes stands for. */
static struct estimate share_of(const struct capture_estimates *estimates, uint64_t size)
{
    double probability = capture_estimates_keep_probability(estimates->mode, estimates->mean, size);
    double bytes = (double)size;
    struct estimate share = {bytes / probability, 1.0 / probability,
                             bytes * bytes * (1.0 - probability) / (probability * probability),
                             bytes};
    return share;
}

static int block_table(uint32_t allocator)
{
    if (allocator == ALLOCATOR_MMAP || allocator == ALLOCATOR_MREMAP) {
        return 2;
    }
    return allocator == ALLOCATOR_PYMALLOC ? 1 : 0;
}

/* Releases the kept block at address in table, if any. */
static void block_release(struct capture_estimates *estimates, int table, uint64_t address)
{
    uint64_t index;
    if (!hash_map_remove(&estimates->blocks[table], address, &index)) {
        return;
    }
    struct kept_block *block = &kept_array(estimates)[index];
    estimate_add(&stack_touch(estimates, block->stack_id)->live, &block->share, -1);
    estimate_add(&estimates->heap, &block->share, -1);
    block->next_free = estimates->free_kept;
    estimates->free_kept = index;
}

/* Stores a kept block; returns its index or NO_FREE_KEPT when memory ran out. */
static uint64_t kept_store(struct capture_estimates *estimates, const struct kept_block *block)
{
    uint64_t index = estimates->free_kept;
    if (index != NO_FREE_KEPT) {
        estimates->free_kept = kept_array(estimates)[index].next_free;
    } else if (byte_buffer_append(&estimates->kept, block, sizeof *block) < 0) {
        return NO_FREE_KEPT;
    } else {
        return estimates->kept.size / sizeof *block - 1;
    }
    kept_array(estimates)[index] = *block;
    return index;
}

static void note_new_peak(struct capture_estimates *estimates, uint64_t event_index)
{
    struct estimate_summary *summary = &estimates->summary;
    if (estimates->heap.bytes > summary->at_peak.bytes) {
        summary->at_peak = estimates->heap;
        summary->peak_event_index = event_index;
        summary->peak_time_pending = 1;
        estimates->epoch++;
    }
}

static int take_allocation(struct capture_estimates *estimates, const struct capture_record *record,
                           uint64_t event_index)
{
    if (stack_reserve(estimates, record->stack_id) < 0) {
        return -1;
    }
    struct estimate share = share_of(estimates, record->size);
    struct estimate_summary *summary = &estimates->summary;
    estimate_add(&summary->allocated, &share, 1);
    estimate_add(&summary->allocators[record->allocator], &share, 1);
    unsigned bucket = record->size ? 64 - (unsigned)__builtin_clzll(record->size) : 0;
    summary->histogram[bucket] += share.count;
    estimate_add(&stack_array(estimates)[record->stack_id].total, &share, 1);
    int table = block_table(record->allocator);
    block_release(estimates, table, record->address);
    struct kept_block block = {record->stack_id, record->allocator, share, NO_FREE_KEPT};
    uint64_t index = kept_store(estimates, &block);
    if (index == NO_FREE_KEPT || hash_map_put(&estimates->blocks[table], record->address, index) < 0) {
        return -1;
    }
    estimate_add(&stack_touch(estimates, record->stack_id)->live, &share, 1);
    estimate_add(&estimates->heap, &share, 1);
    note_new_peak(estimates, event_index);
    return 0;
}

int capture_estimates_take(struct capture_estimates *estimates, const struct capture_record *record,
                           uint64_t event_index)
{
    switch (record->kind) {
    case CAPTURE_RECORD_ALLOCATION:
        return take_allocation(estimates, record, event_index);
    case CAPTURE_RECORD_FREE:
        block_release(estimates, 0, record->address);
        return 0;
    case CAPTURE_RECORD_PYMALLOC_FREE:
        block_release(estimates, 1, record->address);
        return 0;
    case CAPTURE_RECORD_MUNMAP:
        /* Kept mappings are released whole, by their start address. */
        block_release(estimates, 2, record->address);
        return 0;
    case CAPTURE_RECORD_TIME:
        if (estimates->summary.peak_time_pending) {
            estimates->summary.peak_time_ns = record->time_ns;
            estimates->summary.peak_time_pending = 0;
        }
        return 0;
    case CAPTURE_RECORD_SAMPLING:
        estimates->mode = record->sample_mode;
        estimates->mean = record->sample_mean;
        return 0;
    default:
        return 0;
    }
}

/* Copies a weighted amount of an aggregate snapshot into an estimate. */
static struct estimate estimate_of(const struct weighted_amount *amount)
{
    struct estimate estimate = {amount->bytes, amount->count, amount->bytes_variance,
                                amount->observed_bytes};
    return estimate;
}

int capture_estimates_take_aggregate(struct capture_estimates *estimates,
                                     const struct capture_aggregate *aggregate,
                                     uint64_t peak_time_ns)
{
    estimates->epoch++; /* every stack's at_peak below is its figure at the peak */
    for (size_t index = 0; index < aggregate->stack_count; index++) {
        const struct capture_aggregate_stack *snapshot = &aggregate->stacks[index];
        if (stack_reserve(estimates, snapshot->stack_id) < 0) {
            return -1;
        }
        struct stack_estimates *stack = &stack_array(estimates)[snapshot->stack_id];
        stack->live = estimate_of(&snapshot->estimated_live);
        stack->at_peak = estimate_of(&snapshot->estimated_peak);
        stack->total = estimate_of(&snapshot->estimated_total);
        stack->changed_in_epoch = estimates->epoch;
    }
    struct estimate_summary *summary = &estimates->summary;
    summary->allocated = estimate_of(&aggregate->estimated_allocated);
    summary->at_peak = estimate_of(&aggregate->estimated_peak);
    summary->peak_time_ns = peak_time_ns;
    summary->peak_time_pending = 0;
    estimates->heap = estimate_of(&aggregate->estimated_live);
    return 0;
}

void capture_estimates_finish(struct capture_estimates *estimates)
{
    estimates->summary.leaked = estimates->heap;
}

const struct estimate_summary *capture_estimates_summary(const struct capture_estimates *estimates)
{
    return &estimates->summary;
}

void capture_estimates_stack(const struct capture_estimates *estimates, uint32_t stack_id,
                             struct estimate *at_peak, struct estimate *total,
                             struct estimate *leaked)
{
    static const struct estimate nothing;
    if (stack_id >= estimates->stack_capacity) {
        *at_peak = *total = *leaked = nothing;
        return;
    }
    const struct stack_estimates *stack = &stack_array(estimates)[stack_id];
    int changed = stack->changed_in_epoch == estimates->epoch;
    *at_peak = changed ? stack->at_peak : stack->live;
    *total = stack->total;
    *leaked = stack->live;
}
