/* The analysis pass (capture_analysis.h): takes each event, then finishes
 * the summary, loads an aggregate capture's snapshot, and answers the public
 * API. What is live is capture_analysis_heap.c's; locations are
 * capture_analysis_locations.c's. */
#include "core/analysis/capture_analysis.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/format/aggregate_chunk.h"
#include "core/base/byte_buffer.h"
#include "core/analysis/capture_analysis_internal.h"
#include "core/base/hash_map.h"
#include "core/analysis/stack_threads.h"
#include "core/base/tracker_memory.h"

/* --- the pass ------------------------------------------------------------------ */

unsigned analysis_histogram_bucket(uint64_t size)
{
    return size ? 64u - (unsigned)__builtin_clzll(size) : 0u;
}

void analysis_histogram_bounds(unsigned bucket, uint64_t *min, uint64_t *max)
{
    if (bucket == 0 || bucket >= ANALYSIS_HISTOGRAM_BUCKETS) {
        *min = *max = 0;
        return;
    }
    *min = UINT64_C(1) << (bucket - 1);
    *max = bucket == 64 ? UINT64_MAX : (UINT64_C(1) << bucket) - 1;
}

/* Takes an allocation. Returns 0 or -1 when memory ran out. */
static int analysis_allocation(struct capture_analysis *analysis,
                               const struct capture_record *record, uint64_t event_index)
{
    if (analysis_heap_stack_reserve(analysis, record->stack_id) < 0) {
        return -1;
    }
    if (stack_threads_add(&analysis->stack_threads, record->stack_id, record->thread_id) < 0) {
        return -1;
    }
    struct analysis_summary *summary = &analysis->summary;
    summary->allocation_count++;
    summary->allocated_bytes += record->size;
    summary->allocators[record->allocator].count++;
    summary->allocators[record->allocator].bytes += record->size;
    summary->histogram[analysis_histogram_bucket(record->size)]++;
    struct stack_state *state = &analysis_stack_states(analysis)[record->stack_id];
    state->total_bytes += record->size;
    state->total_count++;
    if (record->native_stack_id && record->size >= state->native_largest_size) {
        state->native_largest_size = record->size;
        state->native_stack_id = record->native_stack_id;
    }
    switch (record->allocator) {
    case ALLOCATOR_MMAP:
    case ALLOCATOR_MREMAP:
        return analysis_heap_regions_map(analysis, record, event_index);
    case ALLOCATOR_PYMALLOC:
        return analysis_heap_block_add(analysis, &analysis->pymalloc_blocks, record, event_index);
    default:
        return analysis_heap_block_add(analysis, &analysis->malloc_blocks, record, event_index);
    }
}

/* Takes a free, pymalloc free or munmap. Returns 0 or -1 (no memory). */
static int analysis_release(struct capture_analysis *analysis, const struct capture_record *record)
{
    int released;
    if (record->kind == CAPTURE_RECORD_FREE) {
        released =
            analysis_heap_block_release(analysis, &analysis->malloc_blocks, record->address);
    } else if (record->kind == CAPTURE_RECORD_PYMALLOC_FREE) {
        released =
            analysis_heap_block_release(analysis, &analysis->pymalloc_blocks, record->address);
    } else {
        released = analysis_heap_regions_unmap(analysis, record->address, record->size);
    }
    if (released < 0) {
        return -1;
    }
    if (released) {
        analysis->summary.free_count++;
    } else {
        analysis->summary.unmatched_frees++;
    }
    return 0;
}

static void analysis_time(struct capture_analysis *analysis, uint64_t time_ns)
{
    analysis->last_time_ns = time_ns;
    if (analysis->peak_time_pending) {
        analysis->summary.peak_time_ns = time_ns;
        analysis->peak_time_pending = 0;
    }
}

static int analysis_rss(struct capture_analysis *analysis, const struct capture_record *record)
{
    struct analysis_rss_sample sample = {analysis->last_time_ns, record->rss_bytes};
    if (byte_buffer_append(&analysis->rss_samples, &sample, sizeof sample) < 0) {
        return -1;
    }
    struct analysis_summary *summary = &analysis->summary;
    summary->rss_sample_count++;
    if (record->rss_bytes > summary->rss_peak_bytes) {
        summary->rss_peak_bytes = record->rss_bytes;
    }
    return 0;
}

static void analysis_gc(struct capture_analysis *analysis, const struct capture_record *record)
{
    struct analysis_summary *summary = &analysis->summary;
    struct analysis_gc_generation *generation = &summary->gc_generations[record->gc_generation];
    summary->gc_collections++;
    summary->gc_pause_ns += record->gc_duration_ns;
    generation->collections++;
    generation->collected += record->gc_collected;
    generation->uncollectable += record->gc_uncollectable;
    generation->pause_ns += record->gc_duration_ns;
}

/* Takes one event. Returns 0 or -1 when memory ran out. */
static int analysis_take(struct capture_analysis *analysis, const struct capture_record *record,
                         uint64_t event_index)
{
    switch (record->kind) {
    case CAPTURE_RECORD_ALLOCATION:
        return analysis_allocation(analysis, record, event_index);
    case CAPTURE_RECORD_FREE:
    case CAPTURE_RECORD_PYMALLOC_FREE:
    case CAPTURE_RECORD_MUNMAP:
        return analysis_release(analysis, record);
    case CAPTURE_RECORD_TIME:
        analysis_time(analysis, record->time_ns);
        return 0;
    case CAPTURE_RECORD_RSS:
        return analysis_rss(analysis, record);
    case CAPTURE_RECORD_GC:
        analysis_gc(analysis, record);
        return 0;
    case CAPTURE_RECORD_SNAPSHOT:
        analysis->summary.snapshot_count++;
        return 0;
    case CAPTURE_RECORD_SAMPLING:
        return 0; /* the estimator follows the scheme */
    }
    return 0;
}

/* --- after the pass ---------------------------------------------------------------- */

static void untracked_rss_recompute(struct capture_analysis *analysis);

/* Sets the end time, the peak time still pending, leaks and untracked RSS. */
static void analysis_finish_summary(struct capture_analysis *analysis)
{
    struct analysis_summary *summary = &analysis->summary;
    const struct capture_footer *footer = capture_reader_footer(analysis->reader);
    summary->end_time_ns = analysis->last_time_ns;
    if (footer->has_end_time && footer->end_time_ns > summary->end_time_ns) {
        summary->end_time_ns = footer->end_time_ns;
    }
    if (analysis->peak_time_pending) {
        summary->peak_time_ns = summary->end_time_ns;
    }
    summary->leaked_bytes = analysis->heap_bytes;
    summary->leaked_count = analysis->heap_count;
    untracked_rss_recompute(analysis);
}

/* Sets the untracked RSS: the sample nearest the peak time minus the peak. */
static void untracked_rss_recompute(struct capture_analysis *analysis)
{
    struct analysis_summary *summary = &analysis->summary;
    size_t count;
    const struct analysis_rss_sample *samples = capture_analysis_rss_samples(analysis, &count);
    const struct analysis_rss_sample *nearest = NULL;
    uint64_t nearest_distance = UINT64_MAX;
    for (size_t index = 0; index < count; index++) {
        uint64_t time = samples[index].time_ns;
        uint64_t peak = summary->peak_time_ns;
        uint64_t distance = time > peak ? time - peak : peak - time;
        if (distance < nearest_distance) {
            nearest = &samples[index];
            nearest_distance = distance;
        }
    }
    if (nearest) {
        summary->has_untracked_rss = 1;
        summary->untracked_rss_bytes =
            nearest->rss_bytes > summary->peak_bytes ? nearest->rss_bytes - summary->peak_bytes : 0;
    }
}

/* Replaces the summary's figures with the estimates of the whole. */
static void summary_take_estimates(struct capture_analysis *analysis)
{
    capture_estimates_finish(analysis->estimates);
    const struct estimate_summary *estimated = capture_estimates_summary(analysis->estimates);
    struct analysis_summary *summary = &analysis->summary;
    summary->sampled = 1;
    summary->estimated_allocated = estimated->allocated;
    summary->estimated_at_peak = estimated->at_peak;
    summary->estimated_leaked = estimated->leaked;
    summary->allocation_count = analysis_rounded(estimated->allocated.count);
    summary->allocated_bytes = analysis_rounded(estimated->allocated.bytes);
    summary->peak_bytes = analysis_rounded(estimated->at_peak.bytes);
    summary->peak_count = analysis_rounded(estimated->at_peak.count);
    summary->peak_event_index = estimated->peak_event_index;
    summary->peak_time_ns =
        estimated->peak_time_pending ? summary->end_time_ns : estimated->peak_time_ns;
    summary->leaked_bytes = analysis_rounded(estimated->leaked.bytes);
    summary->leaked_count = analysis_rounded(estimated->leaked.count);
    for (int allocator = 0; allocator < ALLOCATOR_COUNT; allocator++) {
        summary->allocators[allocator].count =
            analysis_rounded(estimated->allocators[allocator].count);
        summary->allocators[allocator].bytes =
            analysis_rounded(estimated->allocators[allocator].bytes);
    }
    for (int bucket = 0; bucket < ANALYSIS_HISTOGRAM_BUCKETS; bucket++) {
        summary->histogram[bucket] = analysis_rounded(estimated->histogram[bucket]);
    }
}

/* --- aggregate captures (--aggregate) ------------------------------------------------ */

/* Takes the figures of an aggregated snapshot instead of replayed events:
 * each stack's live, at-peak and total figures, and the summary's totals.
 * Returns 0, or -1 when memory ran out. */
static int analysis_take_aggregate(struct capture_analysis *analysis,
                                   const struct capture_aggregate *aggregate)
{
    for (size_t index = 0; index < aggregate->stack_count; index++) {
        const struct capture_aggregate_stack *stack = &aggregate->stacks[index];
        if (analysis_heap_stack_reserve(analysis, stack->stack_id) < 0) {
            return -1;
        }
        struct stack_state *state = &analysis_stack_states(analysis)[stack->stack_id];
        state->live_bytes = stack->live_bytes;
        state->live_count = stack->live_count;
        state->total_bytes = stack->total_bytes;
        state->total_count = stack->total_count;
        state->peak_bytes = stack->peak_bytes;
        state->peak_count = stack->peak_count;
        state->changed_in_epoch = analysis->epoch; /* peak_* hold the peak */
    }
    struct analysis_summary *summary = &analysis->summary;
    summary->aggregated = 1;
    summary->allocation_count = aggregate->allocation_count;
    summary->allocated_bytes = aggregate->allocated_bytes;
    summary->free_count = aggregate->free_count;
    summary->peak_bytes = aggregate->peak_bytes;
    summary->peak_count = aggregate->peak_count;
    summary->peak_time_ns = aggregate->peak_time_ns;
    analysis->heap_bytes = aggregate->current_bytes;
    analysis->heap_count = aggregate->current_count;
    if (aggregate->time_ns > analysis->last_time_ns) {
        analysis->last_time_ns = aggregate->time_ns;
    }
    return 0;
}

/* Sampled aggregate captures: takes the snapshot's estimates of the whole
 * into the estimator (which saw no allocation records). A sampled capture
 * whose snapshot has no estimates keeps its recorded figures. Returns 0, or
 * -1 when memory ran out. */
static int analysis_take_aggregate_estimates(struct capture_analysis *analysis,
                                             const struct capture_aggregate *aggregate)
{
    if (!analysis->estimates) {
        return 0;
    }
    if (!aggregate->estimated) {
        capture_estimates_free(analysis->estimates);
        analysis->estimates = NULL;
        return 0;
    }
    return capture_estimates_take_aggregate(analysis->estimates, aggregate,
                                            aggregate->peak_time_ns);
}

/* --- the public API ---------------------------------------------------------------- */

static void error_out_of_memory(struct capture_error *error)
{
    error->os_errno = ENOMEM;
    strcpy(error->message, "out of memory");
}

struct capture_analysis *capture_analysis_run(struct capture_reader *reader,
                                              struct capture_error *error)
{
    struct capture_analysis *analysis = tracker_calloc(1, sizeof *analysis);
    if (!analysis) {
        error_out_of_memory(error);
        return NULL;
    }
    analysis->reader = reader;
    analysis->free_block = NO_FREE_BLOCK;
    hash_map_init(&analysis->malloc_blocks);
    hash_map_init(&analysis->pymalloc_blocks);
    stack_threads_init(&analysis->stack_threads);
    struct capture_record record;
    uint64_t event_index = 0;
    int status;
    const struct capture_header *header = capture_reader_header(reader);
    if (header->sample_interval || header->sample_rate < 1.0) {
        analysis->estimates = capture_estimates_new(header);
        if (!analysis->estimates) {
            goto out_of_memory;
        }
    }
    while ((status = capture_reader_next(reader, &record)) == 1) {
        if ((analysis->estimates &&
             capture_estimates_take(analysis->estimates, &record, event_index) < 0) ||
            analysis_take(analysis, &record, event_index) < 0) {
            goto out_of_memory;
        }
        event_index++;
    }
    if (status < 0) {
        *error = *capture_reader_error(reader);
        goto fail;
    }
    analysis->summary.event_count = event_index;
    if (capture_reader_aggregate(reader) &&
        (analysis_take_aggregate(analysis, capture_reader_aggregate(reader)) < 0 ||
         analysis_take_aggregate_estimates(analysis, capture_reader_aggregate(reader)) < 0)) {
        goto out_of_memory;
    }
    analysis_finish_summary(analysis);
    if (analysis->estimates) {
        summary_take_estimates(analysis);
        untracked_rss_recompute(analysis);
    }
    if (analysis_locations_build(analysis) < 0) {
        goto out_of_memory;
    }
    return analysis;
out_of_memory:
    error_out_of_memory(error);
fail:
    capture_analysis_free(analysis);
    return NULL;
}

void capture_analysis_free(struct capture_analysis *analysis)
{
    if (!analysis) {
        return;
    }
    capture_estimates_free(analysis->estimates);
    byte_buffer_release(&analysis->stacks);
    byte_buffer_release(&analysis->blocks);
    byte_buffer_release(&analysis->rss_samples);
    byte_buffer_release(&analysis->locations);
    hash_map_release(&analysis->malloc_blocks);
    hash_map_release(&analysis->pymalloc_blocks);
    stack_threads_release(&analysis->stack_threads);
    analysis_heap_region_tree_release(&analysis->regions);
    tracker_free(analysis, sizeof *analysis);
}

const struct capture_reader *capture_analysis_reader(const struct capture_analysis *analysis)
{
    return analysis->reader;
}

const char *capture_analysis_thread_name(const struct capture_analysis *analysis,
                                         uint64_t thread_id, size_t *size)
{
    size_t count = capture_reader_thread_count(analysis->reader);
    for (size_t index = 0; index < count; index++) {
        const struct capture_thread *thread = capture_reader_thread(analysis->reader, index);
        if (thread->thread_id == thread_id) {
            return capture_reader_string(analysis->reader, thread->name_sid, size);
        }
    }
    *size = 0;
    return "";
}

const struct analysis_summary *capture_analysis_summary(const struct capture_analysis *analysis)
{
    return &analysis->summary;
}

const struct analysis_rss_sample *capture_analysis_rss_samples(
    const struct capture_analysis *analysis, size_t *count)
{
    *count = analysis->rss_samples.size / sizeof(struct analysis_rss_sample);
    return (const struct analysis_rss_sample *)analysis->rss_samples.data;
}

static int stack_entry_compare(const void *left_pointer, const void *right_pointer)
{
    const struct analysis_stack_entry *left = left_pointer;
    const struct analysis_stack_entry *right = right_pointer;
    int order = analysis_compare_u64_descending(left->bytes, right->bytes);
    if (!order) {
        order = analysis_compare_u64_descending(left->count, right->count);
    }
    return order ? order : analysis_compare_u32(left->stack_id, right->stack_id);
}

/* A stack's figures in a view. */
static void stack_view_figures(const struct capture_analysis *analysis, uint32_t stack_id,
                               enum analysis_stack_view view, uint64_t *bytes, uint64_t *count)
{
    const struct stack_state *state = &analysis_stack_states(analysis)[stack_id];
    if (view == ANALYSIS_STACKS_AT_PEAK) {
        analysis_heap_stack_at_peak(analysis, state, bytes, count);
    } else {
        *bytes = state->live_bytes;
        *count = state->live_count;
    }
}

int capture_analysis_stack_entries(const struct capture_analysis *analysis,
                                   enum analysis_stack_view view,
                                   struct analysis_stack_entry **entries, size_t *count)
{
    size_t used = 0;
    for (size_t stack_id = 0; stack_id < analysis->stack_capacity; stack_id++) {
        uint64_t bytes, blocks;
        stack_view_figures(analysis, (uint32_t)stack_id, view, &bytes, &blocks);
        used += bytes || blocks;
    }
    *entries = NULL;
    *count = 0;
    if (used == 0) {
        return 0;
    }
    struct analysis_stack_entry *array = tracker_malloc(used * sizeof *array);
    if (!array) {
        return -1;
    }
    size_t filled = 0;
    for (size_t stack_id = 0; stack_id < analysis->stack_capacity; stack_id++) {
        struct analysis_stack_entry entry = {(uint32_t)stack_id, 0, 0};
        stack_view_figures(analysis, (uint32_t)stack_id, view, &entry.bytes, &entry.count);
        if (entry.bytes || entry.count) {
            array[filled++] = entry;
        }
    }
    qsort(array, used, sizeof *array, stack_entry_compare);
    *entries = array;
    *count = used;
    return 0;
}

void capture_analysis_stack_entries_free(struct analysis_stack_entry *entries, size_t count)
{
    tracker_free(entries, count * sizeof *entries);
}

const struct capture_estimates *capture_analysis_estimates(const struct capture_analysis *analysis)
{
    return analysis->estimates;
}
