/* The analysis over time: the heap at each OP_TIME, RSS and GC points, the
 * snapshot and time-range selections, temporary allocations and the
 * lifetimes of the temporal view (allocations bucketed by when they were
 * made and freed). */
#include "core/analysis/capture_analysis_internal.h"

#include <string.h>

#define INITIAL_BUCKET_WIDTH_NS UINT64_C(1000)
#define INTERVAL_NEVER_KEY 0xFFu

void analysis_timeline_init(struct capture_analysis *analysis)
{
    struct timeline *timeline = &analysis->timeline;
    memset(timeline, 0, sizeof *timeline);
    hash_map_init(&timeline->interval_index);
    const struct capture_footer *footer = capture_reader_footer(analysis->reader);
    uint64_t width = INITIAL_BUCKET_WIDTH_NS;
    if (footer->has_end_time &&
        footer->end_time_ns / ANALYSIS_TEMPORAL_MAX_BUCKETS + 1 > width) {
        width = footer->end_time_ns / ANALYSIS_TEMPORAL_MAX_BUCKETS + 1;
    }
    timeline->bucket_width_ns = width;
}

void analysis_timeline_release(struct timeline *timeline)
{
    byte_buffer_release(&timeline->heap_series);
    byte_buffer_release(&timeline->rss_series);
    byte_buffer_release(&timeline->gc_series);
    hash_map_release(&timeline->interval_index);
    byte_buffer_release(&timeline->intervals);
}

int analysis_timeline_point(struct byte_buffer *series, uint64_t time_ns, uint64_t value)
{
    struct analysis_point point = {time_ns, value};
    return byte_buffer_append(series, &point, sizeof point);
}

/* --- temporal intervals -------------------------------------------------------- */

static struct analysis_interval *intervals_of(const struct timeline *timeline)
{
    return (struct analysis_interval *)timeline->intervals.data;
}

static uint64_t interval_key(uint32_t context, uint32_t alloc_bucket, uint32_t free_bucket)
{
    uint64_t free_key = free_bucket == ANALYSIS_NEVER_FREED ? INTERVAL_NEVER_KEY : free_bucket;
    return (uint64_t)context << 16 | (uint64_t)alloc_bucket << 8 | free_key;
}

/* Adds bytes and count to the interval (context, alloc, free), creating it.
 * Returns 0 or -1 (no memory). */
static int interval_add(struct timeline *timeline, const struct analysis_interval *share)
{
    uint64_t key = interval_key(share->context, share->alloc_bucket, share->free_bucket);
    uint64_t *found = hash_map_find(&timeline->interval_index, key);
    if (found) {
        intervals_of(timeline)[*found].bytes += share->bytes;
        intervals_of(timeline)[*found].count += share->count;
        return 0;
    }
    uint64_t index = timeline->intervals.size / sizeof *share;
    if (byte_buffer_append(&timeline->intervals, share, sizeof *share) < 0 ||
        hash_map_put(&timeline->interval_index, key, index) < 0) {
        return -1;
    }
    return 0;
}

/* Doubles the bucket width, merging the intervals that now share buckets.
 * Returns 0 or -1 (no memory). */
static int buckets_widen(struct timeline *timeline)
{
    struct byte_buffer old = timeline->intervals;
    size_t count = old.size / sizeof(struct analysis_interval);
    memset(&timeline->intervals, 0, sizeof timeline->intervals);
    hash_map_release(&timeline->interval_index);
    hash_map_init(&timeline->interval_index);
    timeline->bucket_width_ns *= 2;
    const struct analysis_interval *entries = (const struct analysis_interval *)old.data;
    int result = 0;
    for (size_t i = 0; i < count && result == 0; i++) {
        struct analysis_interval merged = entries[i];
        merged.alloc_bucket /= 2;
        if (merged.free_bucket != ANALYSIS_NEVER_FREED) {
            merged.free_bucket /= 2;
        }
        result = interval_add(timeline, &merged);
    }
    byte_buffer_release(&old);
    return result;
}

/* The bucket of a time, widening the buckets until it is one of the first
 * ANALYSIS_TEMPORAL_MAX_BUCKETS. Returns the bucket, or -1 (no memory). */
static int64_t bucket_of(struct timeline *timeline, uint64_t time_ns)
{
    while (time_ns / timeline->bucket_width_ns >= ANALYSIS_TEMPORAL_MAX_BUCKETS) {
        if (buckets_widen(timeline) < 0) {
            return -1;
        }
    }
    return (int64_t)(time_ns / timeline->bucket_width_ns);
}

/* Records the life of a block freed now (free_now) or alive at the end. */
static int interval_record(struct capture_analysis *analysis, const struct live_block *block,
                           int free_now)
{
    struct timeline *timeline = &analysis->timeline;
    int64_t free_bucket = free_now ? bucket_of(timeline, analysis->last_time_ns) : 0;
    int64_t alloc_bucket = bucket_of(timeline, block->alloc_time_ns);
    if (free_bucket < 0 || alloc_bucket < 0) {
        return -1;
    }
    struct estimate share = analysis_block_share(block->size, block->weight);
    struct analysis_interval interval = {
        block->context, (uint32_t)alloc_bucket,
        free_now ? (uint32_t)free_bucket : ANALYSIS_NEVER_FREED,
        analysis_rounded(share.bytes), analysis_rounded(share.count)};
    return interval_add(timeline, &interval);
}

int analysis_timeline_block_end(struct capture_analysis *analysis, const struct live_block *block)
{
    if (!analysis->keep_lifetimes) {
        return 0;
    }
    if (analysis->allocations - block->ordinal <= analysis->options.temporary_threshold) {
        struct estimate share = analysis_block_share(block->size, block->weight);
        analysis_estimate_add(&analysis_contexts(analysis)[block->context].temporary, &share, 1);
    }
    return analysis->options.temporal ? interval_record(analysis, block, 1) : 0;
}

/* --- moments: snapshots, the range end, times ---------------------------------- */

void analysis_timeline_snapshot(struct capture_analysis *analysis)
{
    analysis->summary.snapshot_count++;
    if (analysis->summary.snapshot_count != analysis->options.snapshot_index) {
        return;
    }
    struct analysis_context *contexts = analysis_contexts(analysis);
    for (size_t i = 0; i < analysis_context_count(analysis); i++) {
        contexts[i].at_snapshot = contexts[i].live;
    }
}

/* analysis_heap_each_block visitor: selects blocks made since the range start. */
static int range_select(struct capture_analysis *analysis, const struct live_block *block)
{
    if (block->alloc_time_ns >= analysis->options.range_start_ns) {
        struct estimate share = analysis_block_share(block->size, block->weight);
        analysis_estimate_add(&analysis_contexts(analysis)[block->context].in_range, &share, 1);
    }
    return 0;
}

static void take_range(struct capture_analysis *analysis)
{
    analysis->timeline.range_taken = 1;
    if (analysis->keep_lifetimes) {
        analysis_heap_each_block(analysis, range_select);
    }
}

int analysis_timeline_time(struct capture_analysis *analysis, uint64_t time_ns)
{
    struct timeline *timeline = &analysis->timeline;
    if (!timeline->range_taken && time_ns >= analysis->options.range_end_ns) {
        take_range(analysis);
    }
    uint64_t high = analysis_rounded(timeline->heap_high_since_time);
    timeline->heap_high_since_time = analysis->heap.bytes;
    timeline->events_since_time = 0;
    return analysis_timeline_point(&timeline->heap_series, time_ns, high);
}

/* --- the end of the pass ----------------------------------------------------------- */

/* Keeps at most ANALYSIS_TIMELINE_MAX_POINTS points, each the largest of its
 * stretch (so the peak stays). */
static void downsample(struct byte_buffer *series)
{
    struct analysis_point *points = (struct analysis_point *)series->data;
    size_t count = series->size / sizeof *points;
    if (count <= ANALYSIS_TIMELINE_MAX_POINTS) {
        return;
    }
    size_t stretch = (count + ANALYSIS_TIMELINE_MAX_POINTS - 1) / ANALYSIS_TIMELINE_MAX_POINTS;
    size_t kept = 0;
    for (size_t start = 0; start < count; start += stretch) {
        size_t best = start;
        for (size_t i = start; i < count && i < start + stretch; i++) {
            if (points[i].value > points[best].value) {
                best = i;
            }
        }
        points[kept++] = points[best];
    }
    series->size = kept * sizeof *points;
}

/* analysis_heap_each_block visitor: the interval of a block alive at the end. */
static int interval_of_survivor(struct capture_analysis *analysis, const struct live_block *block)
{
    return interval_record(analysis, block, 0) < 0 ? -1 : 0;
}

int analysis_timeline_finish(struct capture_analysis *analysis)
{
    struct timeline *timeline = &analysis->timeline;
    struct analysis_summary *summary = &analysis->summary;
    if (timeline->events_since_time &&
        analysis_timeline_point(&timeline->heap_series, summary->end_time_ns,
                                analysis_rounded(timeline->heap_high_since_time)) < 0) {
        return -1;
    }
    downsample(&timeline->heap_series);
    if (!timeline->range_taken) {
        take_range(analysis);
    }
    if (!analysis->options.temporal) {
        return 0;
    }
    if (analysis_heap_each_block(analysis, interval_of_survivor) < 0) {
        return -1;
    }
    int64_t last = bucket_of(timeline, summary->end_time_ns);
    if (last < 0) {
        return -1;
    }
    summary->bucket_width_ns = timeline->bucket_width_ns;
    summary->bucket_count = (uint32_t)last + 1;
    return 0;
}
