/*
 * One pass over a capture computing what `memlyze stats` reports: totals,
 * allocator mix, size histogram, the peak (and what each stack held at it),
 * leaks, GC, RSS, and the locations holding or allocating the most.
 *
 * Rules of the pass:
 * - The heap is every tracked live byte: malloc-family blocks, pymalloc
 *   blocks and anonymous mappings, each kept apart (an OP_FREE releases only
 *   a malloc-family block, OP_FREE_PYMALLOC only a pymalloc one, OP_MUNMAP
 *   only mapping bytes, which it may trim from or split out of mappings; a
 *   mapping split in two counts as two live blocks from then on). A new
 *   mapping replaces the mapped bytes it overlaps (MAP_FIXED).
 * - A free whose address holds nothing tracked is an "unmatched free" and is
 *   otherwise ignored. An allocation at an address that is still live (its
 *   free was not seen) replaces the old block.
 * - The peak is the largest heap; its event is the FIRST event reaching it.
 * - An event's time is that of the next OP_TIME (all earlier events happened
 *   by then), or the capture's end time when none follows. An RSS sample's
 *   time is that of the OP_TIME before it (the writer samples RSS right
 *   after stamping the time), 0 when none precedes.
 * - Leaks are what is live when the capture ends.
 * - Every figure belongs to a context, the allocations of one (thread,
 *   stack, native stack); a stack's, a location's and the whole capture's
 *   figures are sums of their contexts' figures, each rounded once. Reports
 *   read these same contexts (capture_analysis_contexts), so no two answers
 *   to "what was held at the peak" can differ.
 * - Sampled captures: each recorded allocation of s bytes stands for 1/p
 *   allocations and s/p bytes, p the chance it had to be recorded
 *   (capture_estimates.h); the peak is the largest estimated heap.
 * - Selections a report may ask for (analysis_options), beside the peak, the
 *   leaks and the totals: TEMPORARY, freed before more than
 *   temporary_threshold other allocations happened after it (memray's
 *   definition); SNAPSHOT, alive at the snapshot_index-th OP_SNAPSHOT
 *   (1-based); RANGE, allocated at or after range_start_ns (by the time of
 *   the last OP_TIME before it) and alive at the first OP_TIME at or after
 *   range_end_ns (or the end). Partly unmapped mappings count, for these, by
 *   what remains of them.
 * - A location is the innermost frame's (function, file, line); stack id 0
 *   (no Python frame) is the location "<no Python frame>", "", 0.
 * - Size histogram bucket 0 counts size 0; bucket b >= 1 counts sizes
 *   [2^(b-1), 2^b - 1]: 1-1, 2-3, 4-7, ...
 */
#ifndef MEMLYZE_CAPTURE_ANALYSIS_H
#define MEMLYZE_CAPTURE_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

#include "core/format/capture_format.h"
#include "core/analysis/capture_estimates.h"
#include "core/format/capture_reader.h"

#define ANALYSIS_HISTOGRAM_BUCKETS 65
#define ANALYSIS_NO_PYTHON_FRAME "<no Python frame>"
#define ANALYSIS_LOCATION_THREADS 8
#define ANALYSIS_TEMPORAL_MAX_BUCKETS 200
#define ANALYSIS_TIMELINE_MAX_POINTS 2000
#define ANALYSIS_NEVER_FREED UINT32_MAX

enum analysis_selection {
    ANALYSIS_SELECT_PEAK,
    ANALYSIS_SELECT_LEAKS,
    ANALYSIS_SELECT_TEMPORARY,
    ANALYSIS_SELECT_SNAPSHOT,
    ANALYSIS_SELECT_RANGE,
    ANALYSIS_SELECT_TOTAL,
    ANALYSIS_SELECTION_COUNT
};

struct analysis_figures {
    uint64_t bytes;
    uint64_t count;
};

/* One context (thread, stack, native stack) and what it held under each
 * selection, rounded (estimates of the whole in a sampled capture). */
struct analysis_context_view {
    uint64_t thread_id;
    uint32_t stack_id;
    uint32_t native_stack_id; /* 0 unless the allocations had a native stack */
    struct analysis_figures selected[ANALYSIS_SELECTION_COUNT];
};

/* Allocations of one context with the same alloc and free time buckets. */
struct analysis_interval {
    uint32_t context;
    uint32_t alloc_bucket;
    uint32_t free_bucket; /* ANALYSIS_NEVER_FREED when alive at the end */
    uint64_t bytes;
    uint64_t count;
};

struct analysis_point {
    uint64_t time_ns;
    uint64_t value;
};

/* Called at each new chunk of the pass with the bytes of the file read so
 * far and the file's size: cheap enough for a display to poll, which
 * decides itself how often to draw. */
typedef void (*analysis_progress_function)(void *argument, uint64_t bytes_read,
                                           uint64_t file_bytes);

struct analysis_options {
    uint64_t snapshot_index;      /* 1-based; 0: no snapshot selection */
    uint64_t temporary_threshold; /* other allocations allowed before the free */
    uint64_t range_start_ns;
    uint64_t range_end_ns;        /* UINT64_MAX: the end of the capture */
    int lifetimes;                /* follow lifetimes: TEMPORARY and RANGE */
    int temporal;                 /* collect intervals (implies lifetimes) */
    analysis_progress_function progress;
    void *progress_argument;
};

struct analysis_counter {
    uint64_t count;
    uint64_t bytes;
};

struct analysis_gc_generation {
    uint64_t collections;
    uint64_t collected;
    uint64_t uncollectable;
    uint64_t pause_ns;
};

struct analysis_summary {
    uint64_t event_count;      /* event records (definitions not counted) */
    uint64_t allocation_count;
    uint64_t allocated_bytes;
    uint64_t free_count;       /* frees and munmaps that released something */
    uint64_t unmatched_frees;  /* frees and munmaps that released nothing */
    struct analysis_counter allocators[ALLOCATOR_COUNT];
    uint64_t histogram[ANALYSIS_HISTOGRAM_BUCKETS];
    uint64_t peak_bytes;       /* 0 when nothing was allocated */
    uint64_t peak_count;       /* live blocks at the peak */
    uint64_t peak_event_index; /* 0-based among events; 0 when no peak */
    uint64_t peak_time_ns;
    uint64_t end_time_ns;      /* footer's end time, or the last OP_TIME */
    uint64_t leaked_bytes;
    uint64_t leaked_count;
    uint64_t snapshot_count;
    uint64_t bucket_width_ns;  /* temporal buckets; 0 without options.temporal */
    uint32_t bucket_count;
    uint64_t gc_collections;
    uint64_t gc_pause_ns;
    struct analysis_gc_generation gc_generations[CAPTURE_GC_GENERATIONS];
    uint64_t rss_sample_count;
    uint64_t rss_peak_bytes;       /* the largest sample; 0 without samples */
    int has_untracked_rss;         /* 0 without samples */
    uint64_t untracked_rss_bytes;  /* sample nearest the peak time minus the peak, or 0 */
    /* Sampled captures (the header names a sampling scheme): the figures
     * above are estimates of the whole program, rounded from these. */
    int sampled;
    /* The capture was recorded with --aggregate: the figures come from its
     * latest aggregated snapshot (no events: no histogram, allocator mix,
     * GC, RSS or temporary allocations); "leaked" is live at that snapshot. */
    int aggregated;
    struct estimate estimated_allocated;
    struct estimate estimated_at_peak;
    struct estimate estimated_leaked;
};

struct analysis_location {
    int no_python_frame; /* 1 for stack id 0; the sids are then 0 */
    uint32_t function_sid;
    uint32_t file_sid;
    uint32_t line;
    uint64_t peak_bytes;  /* held at the peak */
    uint64_t peak_count;
    uint64_t total_bytes; /* allocated over the whole capture */
    uint64_t total_count;
    uint64_t leaked_bytes; /* live at the end */
    uint64_t leaked_count;
    /* The threads (capture thread ids) that allocated here: the first
     * ANALYSIS_LOCATION_THREADS met, in no order; more_threads when there
     * were others. */
    uint32_t thread_count;
    int more_threads;
    uint64_t thread_ids[ANALYSIS_LOCATION_THREADS];
    /* --native captures: the largest allocation made here, its native stack
     * id (0 when none) and its Python stack id, to show one merged stack. */
    uint64_t native_largest_size;
    uint32_t native_stack_id;
    uint32_t native_python_stack_id;
    /* Sampled captures: the estimates the byte and count figures above were
     * rounded from, with their variances (zero otherwise). */
    struct estimate estimated_peak;
    struct estimate estimated_total;
    struct estimate estimated_leaked;
};

/* Orders of the top lists. BY_TOTAL and BY_COUNT both report total bytes
 * and count, ranked by bytes or by count. */
enum analysis_ranking {
    ANALYSIS_BY_PEAK,
    ANALYSIS_BY_TOTAL,
    ANALYSIS_BY_COUNT,
    ANALYSIS_LEAKS,
};

struct analysis_stack_entry {
    uint32_t stack_id;
    uint64_t bytes;
    uint64_t count;
};

enum analysis_stack_view {
    ANALYSIS_STACKS_AT_PEAK,
    ANALYSIS_STACKS_LEAKED,
};

struct capture_analysis;

/* Sets the defaults: no snapshot, threshold 1, the whole capture as range,
 * no lifetimes, no temporal intervals, no progress. */
void analysis_options_init(struct analysis_options *options);

/*
 * Reads every remaining record of reader and analyses them. reader is
 * borrowed: it must stay open while the analysis is used (location names
 * come from its tables). Returns the analysis, freed by the caller with
 * capture_analysis_free(), or NULL with error filled (the reader's error
 * when the capture is damaged; os_errno ENOMEM when memory ran out).
 * capture_analysis_run() uses the default options.
 */
struct capture_analysis *capture_analysis_run(struct capture_reader *reader,
                                              struct capture_error *error);
struct capture_analysis *capture_analysis_run_with(struct capture_reader *reader,
                                                   const struct analysis_options *options,
                                                   struct capture_error *error);

/* The contexts, in order of first allocation; *count set. */
const struct analysis_context_view *capture_analysis_contexts(
    const struct capture_analysis *analysis, size_t *count);
/* The temporal intervals (none without options.temporal). */
const struct analysis_interval *capture_analysis_intervals(
    const struct capture_analysis *analysis, size_t *count);
/* Heap bytes at each OP_TIME, at most ANALYSIS_TIMELINE_MAX_POINTS points
 * (each the largest heap of its stretch), the peak among them. */
const struct analysis_point *capture_analysis_heap_series(
    const struct capture_analysis *analysis, size_t *count);
/* RSS samples (time, bytes) and GC collection times (value: generation). */
const struct analysis_point *capture_analysis_rss_series(
    const struct capture_analysis *analysis, size_t *count);
const struct analysis_point *capture_analysis_gc_series(
    const struct capture_analysis *analysis, size_t *count);

/* Frees the analysis; NULL is allowed. The reader is not touched. */
void capture_analysis_free(struct capture_analysis *analysis);

const struct analysis_summary *capture_analysis_summary(const struct capture_analysis *analysis);

/* The sampling scheme of a sampled capture, or NULL when every allocation
 * was recorded. Owned by the analysis. */
const struct capture_estimates *capture_analysis_estimates(const struct capture_analysis *analysis);

/* The number of locations (innermost frames that allocated). */
size_t capture_analysis_location_count(const struct capture_analysis *analysis);

/*
 * Fills out with up to limit locations, largest first by ranking (ties:
 * the other figure, then function, file and line), skipping those whose
 * figures for it are both zero. Returns the number stored, or -1 when
 * memory ran out. The entries are owned by the analysis.
 */
long capture_analysis_top_locations(const struct capture_analysis *analysis,
                                    enum analysis_ranking ranking, size_t limit,
                                    const struct analysis_location **out);

/* The figures a location shows in a ranking. */
void analysis_location_figures(const struct analysis_location *location,
                               enum analysis_ranking ranking, uint64_t *bytes, uint64_t *count);

/* The location's function and file names (from the reader's tables, or
 * ANALYSIS_NO_PYTHON_FRAME and ""), with their sizes. */
void capture_analysis_location_names(const struct capture_analysis *analysis,
                                     const struct analysis_location *location,
                                     const char **function, size_t *function_size,
                                     const char **file, size_t *file_size);

/* The reader the analysis was made from. */
const struct capture_reader *capture_analysis_reader(const struct capture_analysis *analysis);

/* The name of capture thread thread_id (from the reader's tables; "" when
 * it has none or is unknown), with its size. */
const char *capture_analysis_thread_name(const struct capture_analysis *analysis,
                                         uint64_t thread_id, size_t *size);

/*
 * Stores in *entries a new array of the stacks holding memory at the peak or
 * at the end, largest bytes first (ties: count, then stack id), and their
 * number in *count. Returns 0, or -1 when memory ran out. The caller frees
 * the array with capture_analysis_stack_entries_free().
 */
int capture_analysis_stack_entries(const struct capture_analysis *analysis,
                                   enum analysis_stack_view view,
                                   struct analysis_stack_entry **entries, size_t *count);
void capture_analysis_stack_entries_free(struct analysis_stack_entry *entries, size_t count);

/* The histogram bucket of a size, and a bucket's inclusive bounds. */
unsigned analysis_histogram_bucket(uint64_t size);
void analysis_histogram_bounds(unsigned bucket, uint64_t *min, uint64_t *max);

#endif
