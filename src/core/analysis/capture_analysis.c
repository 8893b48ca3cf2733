/* The analysis pass (capture_analysis.h): takes each event into the one
 * heap model, then builds the figures every report reads. What is live is
 * capture_analysis_heap.c's, owned by analysis_contexts.c's contexts; the
 * timeline is analysis_timeline.c's; rounded figures analysis_views.c's;
 * locations capture_analysis_locations.c's. */
#include "core/analysis/capture_analysis.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/analysis/capture_analysis_internal.h"
#include "core/base/byte_buffer.h"
#include "core/base/hash_map.h"
#include "core/base/tracker_memory.h"
#include "core/format/aggregate_chunk.h"


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

void analysis_options_init(struct analysis_options *options)
{
    memset(options, 0, sizeof *options);
    options->temporary_threshold = 1;
    options->range_end_ns = UINT64_MAX;
}

/* --- the pass ------------------------------------------------------------------ */

/* Takes an allocation. Returns 0 or -1 when memory ran out. */
static int analysis_allocation(struct capture_analysis *analysis,
                               const struct capture_record *record)
{
    int64_t context_index = analysis_context_of(analysis, record->thread_id, record->stack_id,
                                                record->native_stack_id);
    if (context_index < 0) {
        return -1;
    }
    analysis->allocations++;
    struct live_block block = {
        record->size, (uint32_t)context_index, record->allocator, analysis->allocations,
        analysis->last_time_ns,
        analysis->estimates ? capture_estimates_weight(analysis->estimates, record->size) : 1.0};
    struct estimate share = analysis_block_share(record->size, block.weight);
    struct analysis_context *context = &analysis_contexts(analysis)[context_index];
    analysis_estimate_add(&context->total, &share, 1);
    if (record->size > context->largest_size) {
        context->largest_size = record->size;
    }
    analysis_estimate_add(&analysis->allocator_amounts[record->allocator], &share, 1);
    analysis->histogram[analysis_histogram_bucket(record->size)] += share.count;
    switch (record->allocator) {
    case ALLOCATOR_MMAP:
    case ALLOCATOR_MREMAP:
        return analysis_heap_regions_map(analysis, record->address, &block);
    case ALLOCATOR_PYMALLOC:
        return analysis_heap_block_add(analysis, &analysis->pymalloc_blocks, record->address,
                                       &block);
    default:
        return analysis_heap_block_add(analysis, &analysis->malloc_blocks, record->address,
                                       &block);
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
    analysis->timeline.events_since_time = 1;
    if (released) {
        analysis->summary.free_count++;
    } else {
        analysis->summary.unmatched_frees++;
    }
    return 0;
}

static int analysis_time(struct capture_analysis *analysis, uint64_t time_ns)
{
    if (analysis_timeline_time(analysis, time_ns) < 0) {
        return -1;
    }
    analysis->last_time_ns = time_ns;
    if (analysis->peak_time_pending) {
        analysis->summary.peak_time_ns = time_ns;
        analysis->peak_time_pending = 0;
    }
    return 0;
}

static int analysis_rss(struct capture_analysis *analysis, const struct capture_record *record)
{
    struct analysis_summary *summary = &analysis->summary;
    summary->rss_sample_count++;
    if (record->rss_bytes > summary->rss_peak_bytes) {
        summary->rss_peak_bytes = record->rss_bytes;
    }
    return analysis_timeline_point(&analysis->timeline.rss_series, analysis->last_time_ns,
                                   record->rss_bytes);
}

static int analysis_gc(struct capture_analysis *analysis, const struct capture_record *record)
{
    struct analysis_summary *summary = &analysis->summary;
    struct analysis_gc_generation *generation = &summary->gc_generations[record->gc_generation];
    summary->gc_collections++;
    summary->gc_pause_ns += record->gc_duration_ns;
    generation->collections++;
    generation->collected += record->gc_collected;
    generation->uncollectable += record->gc_uncollectable;
    generation->pause_ns += record->gc_duration_ns;
    return analysis_timeline_point(&analysis->timeline.gc_series, analysis->last_time_ns,
                                   record->gc_generation);
}

/* Takes one event. Returns 0 or -1 when memory ran out. */
static int analysis_take(struct capture_analysis *analysis, const struct capture_record *record)
{
    switch (record->kind) {
    case CAPTURE_RECORD_ALLOCATION:
        return analysis_allocation(analysis, record);
    case CAPTURE_RECORD_FREE:
    case CAPTURE_RECORD_PYMALLOC_FREE:
    case CAPTURE_RECORD_MUNMAP:
        return analysis_release(analysis, record);
    case CAPTURE_RECORD_TIME:
        return analysis_time(analysis, record->time_ns);
    case CAPTURE_RECORD_RSS:
        return analysis_rss(analysis, record);
    case CAPTURE_RECORD_GC:
        return analysis_gc(analysis, record);
    case CAPTURE_RECORD_SNAPSHOT:
        analysis_timeline_snapshot(analysis);
        return 0;
    case CAPTURE_RECORD_SAMPLING:
        if (analysis->estimates) {
            capture_estimates_take_sampling(analysis->estimates, record);
        }
        return 0;
    }
    return 0;
}

/* --- after the pass ---------------------------------------------------------------- */

/* Sets the untracked RSS: the sample nearest the peak time minus the peak. */
static void untracked_rss_compute(struct capture_analysis *analysis)
{
    struct analysis_summary *summary = &analysis->summary;
    size_t count;
    const struct analysis_point *samples = capture_analysis_rss_series(analysis, &count);
    const struct analysis_point *nearest = NULL;
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
            nearest->value > summary->peak_bytes ? nearest->value - summary->peak_bytes : 0;
    }
}

/* Sets the end time and the peak time still pending. */
static void analysis_finish_times(struct capture_analysis *analysis)
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
}

/* Reads every record into the analysis. Returns 0, -1 with error filled
 * (a damaged capture), or -2 when memory ran out. */
static int analysis_read(struct capture_analysis *analysis, struct capture_error *error)
{
    struct capture_record record;
    const struct analysis_options *options = &analysis->options;
    uint64_t chunks_reported = 0;
    int status;
    while ((status = capture_reader_next(analysis->reader, &record)) == 1) {
        if (analysis_take(analysis, &record) < 0) {
            return -2;
        }
        analysis->event_index++;
        uint64_t chunks = capture_reader_chunks_read(analysis->reader);
        if (options->progress && chunks != chunks_reported) {
            chunks_reported = chunks;
            options->progress(options->progress_argument,
                              capture_reader_bytes_read(analysis->reader),
                              capture_reader_file_size(analysis->reader));
        }
    }
    if (status < 0) {
        *error = *capture_reader_error(analysis->reader);
        return -1;
    }
    analysis->summary.event_count = analysis->event_index;
    return 0;
}

/* --- the public API ---------------------------------------------------------------- */

static void error_out_of_memory(struct capture_error *error)
{
    error->os_errno = ENOMEM;
    strcpy(error->message, "out of memory");
}

static struct capture_analysis *analysis_new(struct capture_reader *reader,
                                             const struct analysis_options *options)
{
    struct capture_analysis *analysis = tracker_calloc(1, sizeof *analysis);
    if (!analysis) {
        return NULL;
    }
    analysis->reader = reader;
    analysis->options = *options;
    analysis->keep_lifetimes = options->lifetimes || options->temporal;
    analysis->free_block = NO_FREE_BLOCK;
    hash_map_init(&analysis->malloc_blocks);
    hash_map_init(&analysis->pymalloc_blocks);
    analysis_contexts_init(&analysis->contexts);
    analysis_timeline_init(analysis);
    const struct capture_header *header = capture_reader_header(reader);
    if (header->sample_interval || header->sample_rate < 1.0) {
        analysis->estimates = capture_estimates_new(header);
        if (!analysis->estimates) {
            capture_analysis_free(analysis);
            return NULL;
        }
    }
    return analysis;
}

struct capture_analysis *capture_analysis_run_with(struct capture_reader *reader,
                                                   const struct analysis_options *options,
                                                   struct capture_error *error)
{
    struct capture_analysis *analysis = analysis_new(reader, options);
    if (!analysis) {
        error_out_of_memory(error);
        return NULL;
    }
    int status = analysis_read(analysis, error);
    if (status < 0) {
        if (status == -2) {
            error_out_of_memory(error);
        }
        capture_analysis_free(analysis);
        return NULL;
    }
    const struct capture_aggregate *aggregate = capture_reader_aggregate(reader);
    analysis_finish_times(analysis);
    if ((aggregate && analysis_take_aggregate(analysis, aggregate) < 0) ||
        analysis_timeline_finish(analysis) < 0 || analysis_views_build(analysis) < 0 ||
        analysis_locations_build(analysis) < 0) {
        error_out_of_memory(error);
        capture_analysis_free(analysis);
        return NULL;
    }
    untracked_rss_compute(analysis);
    return analysis;
}

struct capture_analysis *capture_analysis_run(struct capture_reader *reader,
                                              struct capture_error *error)
{
    struct analysis_options options;
    analysis_options_init(&options);
    return capture_analysis_run_with(reader, &options, error);
}

void capture_analysis_free(struct capture_analysis *analysis)
{
    if (!analysis) {
        return;
    }
    capture_estimates_free(analysis->estimates);
    analysis_contexts_release(&analysis->contexts);
    analysis_heap_release(analysis);
    analysis_timeline_release(&analysis->timeline);
    byte_buffer_release(&analysis->context_views);
    byte_buffer_release(&analysis->stacks);
    byte_buffer_release(&analysis->locations);
    tracker_free(analysis, sizeof *analysis);
}
