/*
 * INTERNAL to the capture analysis: not a public header, not installed, and
 * included only by the analysis's own files:
 * - capture_analysis.c: the pass over the events, the summary and the
 *   public API (capture_analysis.h);
 * - analysis_contexts.c: the contexts, (thread, stack, native stack), that
 *   own the heap's blocks, and their figures;
 * - capture_analysis_heap.c: what is live, by address;
 * - analysis_timeline.c: the heap over time, snapshots, the time range and
 *   the allocation lifetimes of the temporal view;
 * - analysis_views.c: after the pass, the rounded figures of each context,
 *   each stack and the summary, all sums of the same contexts;
 * - capture_analysis_locations.c: stacks grouped into ranked locations;
 * - analysis_aggregate.c: an --aggregate capture's snapshot in place of events.
 * Other files use capture_analysis.h.
 */
#ifndef MEMLYZE_CAPTURE_ANALYSIS_INTERNAL_H
#define MEMLYZE_CAPTURE_ANALYSIS_INTERNAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "core/analysis/capture_analysis.h"
#include "core/analysis/capture_estimates.h"
#include "core/base/byte_buffer.h"
#include "core/base/hash_map.h"

#define NO_FREE_BLOCK UINT64_MAX
#define CONTEXT_CACHE_SIZE 4096u /* a power of two */

/*
 * The allocations of one (thread, stack, native stack). Every figure is an
 * estimate of the whole program: a block recorded with weight w (1/p, p the
 * chance it had to be recorded; 1 in a full capture) stands for w blocks and
 * size * w bytes. With w = 1 the doubles hold exact integers, so a full
 * capture's figures are exact.
 *
 * The peak is kept lazily: at_peak holds the context's figures at the latest
 * peak only when changed_in_epoch equals the analysis's epoch (the context
 * changed since that peak); otherwise live still is its figure at the peak.
 */
struct analysis_context {
    uint64_t thread_id;
    uint32_t stack_id;
    uint32_t native_stack_id; /* 0 unless the allocations had a native stack */
    uint64_t live_blocks;     /* recorded blocks alive: at 0, live is reset to exact 0 */
    uint64_t largest_size;    /* the largest allocation made here */
    uint64_t changed_in_epoch;
    struct estimate live;
    struct estimate at_peak;
    struct estimate total;
    struct estimate temporary;
    struct estimate at_snapshot;
    struct estimate in_range;
};

/* A context cache slot: (thread number, stack id) -> context index. */
struct context_cache_entry {
    uint64_t key; /* thread number << 32 | stack id, UINT64_MAX when empty */
    uint32_t context;
};

struct context_table {
    struct byte_buffer contexts;          /* struct analysis_context */
    struct hash_map index;                /* thread number << 32 | stack id -> context */
    struct hash_map thread_numbers;       /* thread id -> small number */
    struct hash_map pair_numbers;         /* stack id << 32 | native stack id -> number */
    struct hash_map native_index;         /* thread number << 32 | pair number -> context */
    uint64_t cached_thread_id;
    uint64_t cached_thread_number;
    struct context_cache_entry cache[CONTEXT_CACHE_SIZE];
    /* The context met last: consecutive allocations mostly share it. */
    uint64_t last_thread_id;
    uint32_t last_stack_id;
    uint32_t last_native_stack_id;
    uint32_t last_context;
};

/* A live malloc-family or pymalloc block; on the side array's free list,
 * size links to the next free slot. ordinal and alloc_time_ns are kept only
 * when the analysis follows lifetimes (analysis_options). */
struct live_block {
    uint64_t size;
    uint32_t context;
    uint32_t allocator;
    uint64_t ordinal;       /* 1-based number of its allocation */
    uint64_t alloc_time_ns; /* the last OP_TIME before it */
    double weight;
};

/* An anonymous mapping: a node of a treap ordered by start (index 0 = none).
 * Mappings never overlap. */
struct region_node {
    struct live_block block; /* block.size is the mapping's size */
    uint64_t start;
    uint32_t left;
    uint32_t right;
    uint32_t priority;
};

struct region_tree {
    struct byte_buffer nodes; /* struct region_node; node 0 is unused */
    uint32_t root;
    uint32_t free_list;       /* linked through left */
    uint32_t spare;           /* a node reserved for the next split */
    uint64_t created;         /* seeds priorities */
};

/* The heap over time, RSS and GC points, and the temporal view's intervals. */
struct timeline {
    struct byte_buffer heap_series; /* struct analysis_point */
    struct byte_buffer rss_series;
    struct byte_buffer gc_series;
    struct hash_map interval_index; /* context << 16 | alloc << 8 | free -> index */
    struct byte_buffer intervals;   /* struct analysis_interval */
    uint64_t bucket_width_ns;
    double heap_high_since_time;    /* the largest heap since the last OP_TIME */
    int events_since_time;
    int range_taken;
};

/* Per-stack figures, summed from the contexts after the pass. */
struct stack_state {
    struct analysis_figures at_peak;
    struct analysis_figures total;
    struct analysis_figures leaked;
    struct estimate estimated_at_peak;
    struct estimate estimated_total;
    struct estimate estimated_leaked;
    uint64_t native_largest_size; /* --native: the largest allocation's size and */
    uint32_t native_stack_id;     /* native stack (0: none) */
    int used;
};

struct capture_analysis {
    struct capture_reader *reader;
    struct analysis_options options;
    struct analysis_summary summary;
    struct capture_estimates *estimates; /* sampled captures only: the scheme */
    int keep_lifetimes;                  /* blocks keep ordinal and time */

    struct context_table contexts;
    uint64_t epoch;            /* number of times a new peak was reached */
    struct estimate heap;      /* live now */
    uint64_t heap_blocks;      /* recorded blocks live now */
    struct estimate heap_at_peak;
    int peak_time_pending;
    uint64_t allocations;      /* allocation records so far */
    uint64_t event_index;      /* of the event being taken */
    struct estimate allocator_amounts[ALLOCATOR_COUNT];
    double histogram[ANALYSIS_HISTOGRAM_BUCKETS]; /* estimated count per size bucket */

    struct hash_map malloc_blocks;   /* address -> packed block (see block_encode) */
    struct hash_map pymalloc_blocks; /* address -> packed block */
    struct byte_buffer blocks;       /* side array: struct live_block that do not pack */
    uint64_t free_block;             /* head of the side array's free list */
    struct region_tree regions;

    uint64_t last_time_ns;
    struct timeline timeline;

    /* After the pass (analysis_views.c). */
    struct byte_buffer context_views; /* struct analysis_context_view */
    struct byte_buffer stacks;        /* struct stack_state, indexed by stack id */
    size_t stack_capacity;
    struct byte_buffer locations;     /* struct analysis_location */
};

/* --- small helpers of every analysis file ------------------------------------- */

static inline struct analysis_context *analysis_contexts(const struct capture_analysis *analysis)
{
    return (struct analysis_context *)analysis->contexts.contexts.data;
}

static inline size_t analysis_context_count(const struct capture_analysis *analysis)
{
    return analysis->contexts.contexts.size / sizeof(struct analysis_context);
}

static inline struct stack_state *analysis_stack_states(const struct capture_analysis *analysis)
{
    return (struct stack_state *)analysis->stacks.data;
}

static inline int analysis_compare_u32(uint32_t left, uint32_t right)
{
    return left < right ? -1 : left > right;
}

static inline int analysis_compare_u64_descending(uint64_t left, uint64_t right)
{
    return left > right ? -1 : left < right;
}

/* An estimate rounded to a figure; negative estimates give 0. */
static inline uint64_t analysis_rounded(double value)
{
    return estimate_figure(value);
}

/* The share of the whole one recorded block of size bytes and weight w
 * stands for, with its Horvitz-Thompson variance size^2 (w^2 - w). */
static inline struct estimate analysis_block_share(uint64_t size, double weight)
{
    double bytes = (double)size;
    struct estimate share = {bytes * weight, weight, bytes * bytes * (weight * weight - weight),
                             bytes};
    return share;
}

static inline void analysis_estimate_add(struct estimate *into, const struct estimate *share,
                                         double sign)
{
    into->bytes += sign * share->bytes;
    into->count += sign * share->count;
    into->bytes_variance += sign * share->bytes_variance;
    into->observed_bytes += sign * share->observed_bytes;
}

/* --- contexts (analysis_contexts.c) --------------------------------------------- */

void analysis_contexts_init(struct context_table *table);
void analysis_contexts_release(struct context_table *table);

/* The index of the context of (thread, stack, native stack), created when
 * new; -1 when memory ran out. analysis_context_of first tries the context
 * met last. */
int64_t analysis_context_lookup(struct capture_analysis *analysis, uint64_t thread_id,
                                uint32_t stack_id, uint32_t native_stack_id);

static inline int64_t analysis_context_of(struct capture_analysis *analysis, uint64_t thread_id,
                                          uint32_t stack_id, uint32_t native_stack_id)
{
    struct context_table *table = &analysis->contexts;
    if (thread_id == table->last_thread_id && stack_id == table->last_stack_id &&
        native_stack_id == table->last_native_stack_id) {
        return table->last_context;
    }
    return analysis_context_lookup(analysis, thread_id, stack_id, native_stack_id);
}

/* The context's figures at the peak. */
const struct estimate *analysis_context_at_peak(const struct capture_analysis *analysis,
                                                const struct analysis_context *context);

/* Saves the context's figures at the latest peak before they change.
 * (This and the two below run for every event: inline.) */
static inline struct analysis_context *analysis_context_touch(struct capture_analysis *analysis,
                                                              uint32_t index)
{
    struct analysis_context *context = &analysis_contexts(analysis)[index];
    if (context->changed_in_epoch != analysis->epoch) {
        context->at_peak = context->live;
        context->changed_in_epoch = analysis->epoch;
    }
    return context;
}

/* The heap grew or shrank: the timeline's largest heap since its last
 * point. */
static inline void analysis_timeline_heap_changed(struct capture_analysis *analysis)
{
    struct timeline *timeline = &analysis->timeline;
    timeline->events_since_time = 1;
    if (analysis->heap.bytes > timeline->heap_high_since_time) {
        timeline->heap_high_since_time = analysis->heap.bytes;
    }
}

/* Adds a block's share to a context and the heap; a heap above the peak
 * makes a new peak. blocks is the recorded blocks it adds (0 or 1). */
static inline void analysis_live_add(struct capture_analysis *analysis, uint32_t index,
                                     const struct estimate *share, uint64_t blocks)
{
    struct analysis_context *context = analysis_context_touch(analysis, index);
    analysis_estimate_add(&context->live, share, 1);
    context->live_blocks += blocks;
    analysis_estimate_add(&analysis->heap, share, 1);
    analysis->heap_blocks += blocks;
    analysis_timeline_heap_changed(analysis);
    if (analysis->heap.bytes > analysis->heap_at_peak.bytes) {
        analysis->heap_at_peak = analysis->heap;
        analysis->summary.peak_event_index = analysis->event_index;
        analysis->peak_time_pending = 1;
        analysis->epoch++;
    }
}

/* Removes a share the context holds from it and the heap. Weighted sums do
 * not return to exactly zero: an empty context, or heap, is reset to it. */
static inline void analysis_live_remove(struct capture_analysis *analysis, uint32_t index,
                                        const struct estimate *share, uint64_t blocks)
{
    static const struct estimate nothing;
    struct analysis_context *context = analysis_context_touch(analysis, index);
    analysis_estimate_add(&context->live, share, -1);
    context->live_blocks -= blocks;
    if (context->live_blocks == 0) {
        context->live = nothing;
    }
    analysis_estimate_add(&analysis->heap, share, -1);
    analysis->heap_blocks -= blocks;
    if (analysis->heap_blocks == 0) {
        analysis->heap = nothing;
    }
    analysis_timeline_heap_changed(analysis);
}

/* --- the live heap (capture_analysis_heap.c) ------------------------------------ */

/* Records a new live malloc-family or pymalloc block in map (replacing one
 * still live at its address). Returns 0, or -1 when memory ran out. */
int analysis_heap_block_add(struct capture_analysis *analysis, struct hash_map *map,
                            uint64_t address, const struct live_block *block);

/* Releases the block at address in map, if any. Returns 1 when one was
 * released, 0 when the address held nothing, -1 when memory ran out. */
int analysis_heap_block_release(struct capture_analysis *analysis, struct hash_map *map,
                                uint64_t address);

/* Maps a new region, replacing whatever it overlaps. Returns 0 or -1. */
int analysis_heap_regions_map(struct capture_analysis *analysis, uint64_t address,
                              const struct live_block *block);

/* Unmaps [start, start + size) from the tracked mappings. Returns 1 when
 * bytes were released, 0 when none, -1 when memory ran out. */
int analysis_heap_regions_unmap(struct capture_analysis *analysis, uint64_t start,
                                uint64_t size);

/* Calls visit for every live block (and mapping) until it returns nonzero;
 * returns that value, or 0. */
int analysis_heap_each_block(struct capture_analysis *analysis,
                             int (*visit)(struct capture_analysis *analysis,
                                          const struct live_block *block));

void analysis_heap_release(struct capture_analysis *analysis);

/* --- the timeline (analysis_timeline.c) ----------------------------------------- */

void analysis_timeline_init(struct capture_analysis *analysis);
void analysis_timeline_release(struct timeline *timeline);

/* A block's life ended now: the temporary selection and its interval.
 * Returns 0 or -1 (no memory). */
int analysis_timeline_block_end(struct capture_analysis *analysis, const struct live_block *block);

/* An OP_TIME, OP_SNAPSHOT, RSS sample or GC: the series and selections they
 * settle. Return 0 or -1 (no memory). */
int analysis_timeline_time(struct capture_analysis *analysis, uint64_t time_ns);
void analysis_timeline_snapshot(struct capture_analysis *analysis);
int analysis_timeline_point(struct byte_buffer *series, uint64_t time_ns, uint64_t value);

/* Settles the series, the range and the intervals of blocks still live. */
int analysis_timeline_finish(struct capture_analysis *analysis);

/* --- after the pass ---------------------------------------------------------------- */

/* analysis_views.c: the rounded figures of contexts, stacks and summary. */
int analysis_views_build(struct capture_analysis *analysis);

/* capture_analysis_locations.c: locations from every stack that allocated. */
int analysis_locations_build(struct capture_analysis *analysis);

/* analysis_aggregate.c: takes an --aggregate snapshot's figures. */
int analysis_take_aggregate(struct capture_analysis *analysis,
                            const struct capture_aggregate *aggregate);

#endif
