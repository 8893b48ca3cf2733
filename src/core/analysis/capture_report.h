/*
 * The report engine: one pass over a capture that keeps, per (thread, stack)
 * pair -- a "context" -- the figures every report selects from, plus the
 * heap-over-time series, RSS samples, GC times and (optionally) the
 * allocation lifetimes the temporal view needs. Call trees and per-location
 * tables are then built from the collection (report_tree.c,
 * report_locations.c) without reading the capture again.
 *
 * Selections (what "held" means), all computed in the same pass:
 * - PEAK:      alive at the heap's high-water mark (its first event);
 * - LEAKS:     alive when the capture ends;
 * - TEMPORARY: freed before more than `temporary_threshold` other
 *              allocations (of any thread) happened after it (memray's
 *              definition; threshold 1 by default);
 * - SNAPSHOT:  alive at the snapshot_index-th OP_SNAPSHOT record (1-based);
 * - RANGE:     allocated at or after range_start_ns (by the time of the
 *              last OP_TIME before the allocation) and alive at the first
 *              OP_TIME at or after range_end_ns (or the end);
 * - TOTAL:     every allocation ever made.
 *
 * Heap model (simpler than capture_analysis_heap.c's, same in the common cases):
 * malloc-family, pymalloc and mapping blocks are kept apart, keyed by start
 * address. An OP_MUNMAP releases the mapping starting at its address: all
 * of it, or its first `size` bytes (the mapping then starts after them); a
 * munmap of a range that starts inside a mapping is ignored. An allocation
 * at a live address replaces the old block.
 *
 * Sampled captures: each recorded allocation of s bytes stands for 1/p
 * allocations and s/p bytes, p being the chance it had to be recorded
 * (capture_estimates.h), so every figure is an estimate of the whole.
 *
 * Times: a record's time, for the series and the temporal view, is that of
 * the last OP_TIME before it (a lower bound; the writer stamps times every
 * few milliseconds); the peak's time is that of the OP_TIME after it, as in
 * `memlyze stats`.
 */
#ifndef MEMLYZE_CAPTURE_REPORT_H
#define MEMLYZE_CAPTURE_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "core/format/capture_reader.h"

#define REPORT_TEMPORAL_MAX_BUCKETS 200
#define REPORT_TIMELINE_MAX_POINTS 2000
#define REPORT_NEVER_FREED UINT32_MAX

enum report_selection {
    REPORT_PEAK,
    REPORT_LEAKS,
    REPORT_TEMPORARY,
    REPORT_SNAPSHOT,
    REPORT_RANGE,
    REPORT_TOTAL,
    REPORT_SELECTION_COUNT
};

struct report_figures {
    uint64_t bytes;
    uint64_t count;
};

/* One (thread, stack) pair -- (thread, stack, native stack) in a --native
 * capture -- and what it held under each selection. */
struct report_context {
    uint64_t thread_id;
    uint32_t stack_id;
    uint32_t native_stack_id; /* 0 unless the allocations had a native stack */
    struct report_figures live;
    struct report_figures selected[REPORT_SELECTION_COUNT];
    uint64_t changed_in_epoch; /* see capture_report.c: the lazy peak */
};

/* Allocations of one context with the same alloc and free time buckets. */
struct report_interval {
    uint32_t context;
    uint32_t alloc_bucket;
    uint32_t free_bucket; /* REPORT_NEVER_FREED when alive at the end */
    uint64_t bytes;
    uint64_t count;
};

struct report_point {
    uint64_t time_ns;
    uint64_t value;
};

/* Called now and then during the pass with the chunks read so far and the
 * capture's chunk count (0 when unknown). */
typedef void (*report_progress_function)(void *argument, uint64_t chunks_read,
                                         uint64_t chunk_count);

struct report_options {
    uint64_t snapshot_index;      /* 1-based; 0: no snapshot selection */
    uint64_t temporary_threshold; /* other allocations allowed before the free */
    uint64_t range_start_ns;
    uint64_t range_end_ns;        /* UINT64_MAX: the end of the capture */
    int temporal;                 /* collect intervals */
    report_progress_function progress;
    void *progress_argument;
};

struct report_summary {
    uint64_t peak_bytes;
    uint64_t peak_count;
    uint64_t peak_time_ns;
    uint64_t end_time_ns;      /* footer end time, else the last OP_TIME */
    uint64_t total_bytes;      /* allocated over the whole capture */
    uint64_t total_count;
    uint64_t snapshot_count;   /* OP_SNAPSHOT records seen */
    uint64_t bucket_width_ns;  /* temporal buckets; 0 without temporal */
    uint32_t bucket_count;
};

struct report_collection;

/* Sets the defaults: no snapshot, threshold 1, the whole capture as range,
 * no temporal intervals, no progress. */
void report_options_init(struct report_options *options);

/*
 * Reads every remaining record of reader (borrowed: it must outlive the
 * collection, whose names come from its tables) and collects the figures.
 * Returns the collection, freed with report_collection_free(), or NULL with
 * error filled (the reader's error for a damaged capture; ENOMEM).
 */
struct report_collection *report_collect(struct capture_reader *reader,
                                         const struct report_options *options,
                                         struct capture_error *error);
void report_collection_free(struct report_collection *collection);

const struct report_summary *report_collection_summary(const struct report_collection *c);
struct capture_reader *report_collection_reader(const struct report_collection *c);
/* The contexts, in order of first allocation; *count set. */
const struct report_context *report_collection_contexts(const struct report_collection *c,
                                                        size_t *count);
/* The temporal intervals (none without options.temporal). */
const struct report_interval *report_collection_intervals(const struct report_collection *c,
                                                          size_t *count);
/* Heap bytes at each OP_TIME, at most REPORT_TIMELINE_MAX_POINTS points
 * (each the largest heap of its stretch), the peak among them. */
const struct report_point *report_collection_heap_series(const struct report_collection *c,
                                                         size_t *count);
/* RSS samples (time, bytes) and GC collection times (value: generation). */
const struct report_point *report_collection_rss_series(const struct report_collection *c,
                                                        size_t *count);
const struct report_point *report_collection_gc_series(const struct report_collection *c,
                                                       size_t *count);

#endif
