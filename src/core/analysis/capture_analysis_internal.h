/*
 * INTERNAL to the capture analysis: not a public header, not installed, and
 * included only by the analysis's own files:
 * - capture_analysis.c: the pass over the events, the summary, aggregate
 *   captures and the public API (capture_analysis.h);
 * - capture_analysis_heap.c: what is live, per stack and by address;
 * - capture_analysis_locations.c: stacks grouped into ranked locations.
 * Other files use capture_analysis.h.
 */
#ifndef MEMLYZE_CAPTURE_ANALYSIS_INTERNAL_H
#define MEMLYZE_CAPTURE_ANALYSIS_INTERNAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/byte_buffer.h"
#include "core/analysis/capture_analysis.h"
#include "core/base/hash_map.h"
#include "core/analysis/stack_threads.h"

#define NO_FREE_BLOCK UINT64_MAX

/*
 * Per-stack figures. The peak snapshot is kept lazily: peak_bytes and
 * peak_count hold the stack's figures at the latest peak only when
 * changed_in_epoch equals the analysis's epoch (the stack changed since that
 * peak); otherwise the stack has not changed since, and live_* still are its
 * figures at the peak. Before live_* change, stack_touch() saves them.
 */
struct stack_state {
    uint64_t live_bytes;
    uint64_t live_count;
    uint64_t peak_bytes;
    uint64_t peak_count;
    uint64_t total_bytes;
    uint64_t total_count;
    uint64_t changed_in_epoch;
    uint64_t native_largest_size; /* --native: the largest allocation's size and */
    uint32_t native_stack_id;     /* native stack (0: none) */
};

/* A live malloc-family or pymalloc block; on the side array's free list,
 * size links to the next free slot. */
struct live_block {
    uint64_t size;
    uint32_t stack_id;
    uint32_t allocator;
};

/* An anonymous mapping: a node of a treap ordered by start (index 0 = none).
 * Mappings never overlap. */
struct region_node {
    uint64_t start;
    uint64_t size;
    uint32_t stack_id;
    uint32_t allocator;
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

struct capture_analysis {
    struct capture_reader *reader;
    struct analysis_summary summary;

    struct byte_buffer stacks; /* struct stack_state, indexed by stack id */
    size_t stack_capacity;
    uint64_t epoch;            /* number of times a new peak was reached */
    uint64_t heap_bytes;
    uint64_t heap_count;

    struct capture_estimates *estimates; /* sampled captures only */
    struct hash_map malloc_blocks;   /* address -> packed block (see block_encode) */
    struct hash_map pymalloc_blocks; /* address -> packed block */
    struct byte_buffer blocks;       /* side array: struct live_block that do not pack */
    uint64_t free_block;             /* head of the side array's free list */
    struct region_tree regions;

    uint64_t last_time_ns;
    int peak_time_pending;
    struct byte_buffer rss_samples; /* struct analysis_rss_sample */
    struct byte_buffer locations;   /* struct analysis_location, after the pass */
    struct stack_threads stack_threads; /* which threads allocated with which stack */
};

/* --- small helpers of every analysis file ------------------------------------- */

/* The per-stack figures, indexed by stack id. */
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
    return value > 0 ? (uint64_t)llround(value) : 0;
}

/* --- the live heap (capture_analysis_heap.c) ------------------------------------ */

/* Makes room for stack_id; returns 0 or -1 when memory ran out. */
int analysis_heap_stack_reserve(struct capture_analysis *analysis, uint32_t stack_id);

/* Returns the stack's figures at the peak. */
void analysis_heap_stack_at_peak(const struct capture_analysis *analysis,
                                 const struct stack_state *state, uint64_t *bytes,
                                 uint64_t *count);

/* Records a new live malloc-family or pymalloc block in map (replacing one
 * still live at its address). Returns 0, or -1 when memory ran out. */
int analysis_heap_block_add(struct capture_analysis *analysis, struct hash_map *map,
                            const struct capture_record *record, uint64_t event_index);

/* Releases the block at address in map, if any. Returns 1 when one was
 * released, 0 when the address held nothing. */
int analysis_heap_block_release(struct capture_analysis *analysis, struct hash_map *map,
                                uint64_t address);

/* Maps a new region, replacing whatever it overlaps. Returns 0 or -1. */
int analysis_heap_regions_map(struct capture_analysis *analysis,
                              const struct capture_record *record, uint64_t event_index);

/* Unmaps [start, start + size) from the tracked mappings. Returns 1 when
 * bytes were released, 0 when none, -1 when memory ran out. */
int analysis_heap_regions_unmap(struct capture_analysis *analysis, uint64_t start,
                                uint64_t size);

void analysis_heap_region_tree_release(struct region_tree *tree);

/* --- locations (capture_analysis_locations.c) ----------------------------------- */

/* Builds the locations from every stack that allocated. Returns 0 or -1. */
int analysis_locations_build(struct capture_analysis *analysis);

#endif
