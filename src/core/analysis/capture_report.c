/* The report engine's pass over a capture: see capture_report.h. */
#include "core/analysis/capture_report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/byte_buffer.h"
#include "core/format/aggregate_chunk.h"
#include "core/analysis/capture_estimates.h"
#include "core/base/hash_map.h"

#define NO_BLOCK UINT32_MAX
#define FREE_SLOT UINT32_MAX
#define PROGRESS_EVERY (UINT64_C(1) << 20)
#define INITIAL_BUCKET_WIDTH_NS UINT64_C(1000)
#define INTERVAL_NEVER_KEY 0xFFu
#define CONTEXT_CACHE_SIZE 4096u /* a power of two */

enum block_domain { DOMAIN_MALLOC, DOMAIN_PYMALLOC, DOMAIN_MAPPING, DOMAIN_COUNT };

/* A recently used context: (thread number, stack id) -> context index. */
struct context_cache_entry {
    uint64_t key; /* thread number << 32 | stack id, UINT64_MAX when empty */
    uint32_t context;
};

/* A live block; a free slot has context FREE_SLOT and links next_free.
 * size and count are estimates of the whole in a sampled capture (the
 * block stands for count allocations of size bytes in all); raw_size is
 * what was recorded. */
struct block {
    uint64_t size;
    uint64_t raw_size;
    uint64_t ordinal;       /* 1-based number of its allocation */
    uint64_t alloc_time_ns; /* the last OP_TIME before it */
    uint32_t context;
    union {
        uint32_t count;     /* live blocks */
        uint32_t next_free; /* free slots */
    } link;
};

struct report_collection {
    struct capture_reader *reader;
    struct report_options options;
    struct report_summary summary;

    struct byte_buffer contexts;   /* struct report_context */
    struct hash_map context_index; /* thread number << 32 | stack id -> index */
    struct context_cache_entry context_cache[CONTEXT_CACHE_SIZE]; /* by stack id */
    struct hash_map thread_numbers; /* thread id -> small number */
    /* --native contexts: (stack, native stack) pairs are numbered, and
     * thread number << 32 | pair number -> context index. */
    struct hash_map pair_numbers;         /* stack id << 32 | native stack id -> number */
    struct hash_map native_context_index;
    uint64_t cached_thread_id;
    uint64_t cached_thread_number;

    struct hash_map blocks_at[DOMAIN_COUNT]; /* address -> block index */
    struct byte_buffer blocks;               /* struct block */
    uint32_t free_head;

    uint64_t heap_bytes;
    uint64_t heap_count;
    uint64_t heap_high_since_time; /* the largest heap since the last OP_TIME */
    uint64_t epoch;                /* new peaks reached so far */
    uint64_t allocations;          /* allocations seen so far */
    uint64_t last_time_ns;
    uint64_t records;
    uint32_t sample_mode;  /* enum capture_sampling_mode, as OP_SAMPLING sets it */
    uint64_t sample_mean;
    int peak_time_pending;
    int events_since_time;
    int range_taken;

    struct byte_buffer heap_series; /* struct report_point */
    struct byte_buffer rss_series;
    struct byte_buffer gc_series;

    struct hash_map interval_index; /* context << 16 | alloc << 8 | free -> index */
    struct byte_buffer intervals;   /* struct report_interval */
};

void report_options_init(struct report_options *options)
{
    memset(options, 0, sizeof *options);
    options->temporary_threshold = 1;
    options->range_end_ns = UINT64_MAX;
}

static struct report_context *contexts_of(const struct report_collection *collection)
{
    return (struct report_context *)collection->contexts.data;
}

static struct block *blocks_of(const struct report_collection *collection)
{
    return (struct block *)collection->blocks.data;
}

static size_t context_total(const struct report_collection *collection)
{
    return collection->contexts.size / sizeof(struct report_context);
}

/* --- contexts and the lazy peak ----------------------------------------------- */

/* Returns the small number of a thread id, numbering new ones; -1: no memory. */
static int64_t thread_number(struct report_collection *collection, uint64_t thread_id)
{
    if (thread_id == collection->cached_thread_id) {
        return (int64_t)collection->cached_thread_number;
    }
    uint64_t *found = hash_map_find(&collection->thread_numbers, thread_id);
    uint64_t number = found ? *found : collection->thread_numbers.count;
    if (!found && hash_map_put(&collection->thread_numbers, thread_id, number) < 0) {
        return -1;
    }
    collection->cached_thread_id = thread_id;
    collection->cached_thread_number = number;
    return (int64_t)number;
}

/* Appends a new context and indexes it under key in index. Returns its
 * index, or -1 when memory ran out. */
static int64_t context_append(struct report_collection *collection, uint64_t thread_id,
                              uint32_t stack_id, uint32_t native_stack_id, struct hash_map *index,
                              uint64_t key)
{
    size_t position = context_total(collection);
    struct report_context context;
    memset(&context, 0, sizeof context);
    context.thread_id = thread_id;
    context.stack_id = stack_id;
    context.native_stack_id = native_stack_id;
    context.changed_in_epoch = collection->epoch;
    if (position >= FREE_SLOT || byte_buffer_append(&collection->contexts, &context,
                                                    sizeof context) < 0 ||
        hash_map_put(index, key, position) < 0) {
        return -1;
    }
    return (int64_t)position;
}

/* Returns the index of the context of (thread, stack), creating it; -1 when
 * memory ran out. */
static int64_t context_of(struct report_collection *collection, uint64_t thread_id,
                          uint32_t stack_id)
{
    int64_t number = thread_number(collection, thread_id);
    if (number < 0) {
        return -1;
    }
    uint64_t key = (uint64_t)number << 32 | stack_id;
    struct context_cache_entry *cached =
        &collection->context_cache[stack_id & (CONTEXT_CACHE_SIZE - 1)];
    if (cached->key == key) {
        return cached->context;
    }
    uint64_t *found = hash_map_find(&collection->context_index, key);
    if (found) {
        cached->key = key;
        cached->context = (uint32_t)*found;
        return (int64_t)*found;
    }
    return context_append(collection, thread_id, stack_id, 0, &collection->context_index, key);
}

/* Returns the index of the context of (thread, stack, native stack) of a
 * --native allocation, creating it; -1 when memory ran out. */
static int64_t native_context_of(struct report_collection *collection, uint64_t thread_id,
                                 uint32_t stack_id, uint32_t native_stack_id)
{
    int64_t number = thread_number(collection, thread_id);
    uint64_t pair_key = (uint64_t)stack_id << 32 | native_stack_id;
    uint64_t *pair = hash_map_find(&collection->pair_numbers, pair_key);
    uint64_t pair_number = pair ? *pair : collection->pair_numbers.count;
    if (number < 0 || (!pair && hash_map_put(&collection->pair_numbers, pair_key,
                                             pair_number) < 0)) {
        return -1;
    }
    uint64_t key = (uint64_t)number << 32 | pair_number;
    uint64_t *found = hash_map_find(&collection->native_context_index, key);
    if (found) {
        return (int64_t)*found;
    }
    return context_append(collection, thread_id, stack_id, native_stack_id,
                          &collection->native_context_index, key);
}

/* The context of an allocation record: the fast path without a native stack. */
static int64_t context_of_record(struct report_collection *collection,
                                 const struct capture_record *record)
{
    if (record->native_stack_id == 0) {
        return context_of(collection, record->thread_id, record->stack_id);
    }
    return native_context_of(collection, record->thread_id, record->stack_id,
                             record->native_stack_id);
}

/* Saves the context's figures at the latest peak before they change: until
 * a context changes after a peak, its live figures are its peak figures. */
static struct report_context *context_touch(struct report_collection *collection, uint32_t index)
{
    struct report_context *context = &contexts_of(collection)[index];
    if (context->changed_in_epoch != collection->epoch) {
        context->selected[REPORT_PEAK] = context->live;
        context->changed_in_epoch = collection->epoch;
    }
    return context;
}

static void heap_add(struct report_collection *collection, uint32_t index, uint64_t bytes,
                     uint64_t count)
{
    struct report_context *context = context_touch(collection, index);
    context->live.bytes += bytes;
    context->live.count += count;
    collection->heap_bytes += bytes;
    collection->heap_count += count;
    if (collection->heap_bytes > collection->heap_high_since_time) {
        collection->heap_high_since_time = collection->heap_bytes;
    }
    if (collection->heap_bytes > collection->summary.peak_bytes) {
        collection->summary.peak_bytes = collection->heap_bytes;
        collection->summary.peak_count = collection->heap_count;
        collection->peak_time_pending = 1;
        collection->epoch++;
    }
}

static void heap_remove(struct report_collection *collection, uint32_t index, uint64_t bytes,
                        uint64_t count)
{
    struct report_context *context = context_touch(collection, index);
    context->live.bytes -= bytes;
    context->live.count -= count;
    collection->heap_bytes -= bytes;
    collection->heap_count -= count;
}

/* --- temporal intervals -------------------------------------------------------- */

static struct report_interval *intervals_of(const struct report_collection *collection)
{
    return (struct report_interval *)collection->intervals.data;
}

static uint64_t interval_key(uint32_t context, uint32_t alloc_bucket, uint32_t free_bucket)
{
    uint64_t free_key = free_bucket == REPORT_NEVER_FREED ? INTERVAL_NEVER_KEY : free_bucket;
    return (uint64_t)context << 16 | (uint64_t)alloc_bucket << 8 | free_key;
}

/* Adds bytes and count to the interval (context, alloc, free), creating it.
 * Returns 0 or -1 (no memory). */
static int interval_add(struct report_collection *collection, uint32_t context,
                        uint32_t alloc_bucket, uint32_t free_bucket, uint64_t bytes,
                        uint64_t count)
{
    uint64_t key = interval_key(context, alloc_bucket, free_bucket);
    uint64_t *found = hash_map_find(&collection->interval_index, key);
    if (found) {
        intervals_of(collection)[*found].bytes += bytes;
        intervals_of(collection)[*found].count += count;
        return 0;
    }
    struct report_interval interval = {context, alloc_bucket, free_bucket, bytes, count};
    uint64_t index = collection->intervals.size / sizeof interval;
    if (byte_buffer_append(&collection->intervals, &interval, sizeof interval) < 0 ||
        hash_map_put(&collection->interval_index, key, index) < 0) {
        return -1;
    }
    return 0;
}

/* Doubles the bucket width, merging the intervals that now share buckets.
 * Returns 0 or -1 (no memory). */
static int buckets_widen(struct report_collection *collection)
{
    struct byte_buffer old = collection->intervals;
    size_t count = old.size / sizeof(struct report_interval);
    memset(&collection->intervals, 0, sizeof collection->intervals);
    hash_map_release(&collection->interval_index);
    hash_map_init(&collection->interval_index);
    collection->summary.bucket_width_ns *= 2;
    const struct report_interval *entries = (const struct report_interval *)old.data;
    int result = 0;
    for (size_t i = 0; i < count && result == 0; i++) {
        uint32_t free_bucket = entries[i].free_bucket;
        if (free_bucket != REPORT_NEVER_FREED) {
            free_bucket /= 2;
        }
        result = interval_add(collection, entries[i].context, entries[i].alloc_bucket / 2,
                              free_bucket, entries[i].bytes, entries[i].count);
    }
    byte_buffer_release(&old);
    return result;
}

/* The bucket of a time, widening the buckets until it is one of the first
 * REPORT_TEMPORAL_MAX_BUCKETS. Returns the bucket, or -1 (no memory). */
static int64_t bucket_of(struct report_collection *collection, uint64_t time_ns)
{
    while (time_ns / collection->summary.bucket_width_ns >= REPORT_TEMPORAL_MAX_BUCKETS) {
        if (buckets_widen(collection) < 0) {
            return -1;
        }
    }
    return (int64_t)(time_ns / collection->summary.bucket_width_ns);
}

/* Records the life of a block freed now (free_now) or alive at the end. */
static int interval_record(struct report_collection *collection, const struct block *block,
                           int free_now)
{
    if (!collection->options.temporal) {
        return 0;
    }
    int64_t free_bucket = free_now ? bucket_of(collection, collection->last_time_ns) : 0;
    int64_t alloc_bucket = bucket_of(collection, block->alloc_time_ns);
    if (free_bucket < 0 || alloc_bucket < 0) {
        return -1;
    }
    return interval_add(collection, block->context, (uint32_t)alloc_bucket,
                        free_now ? (uint32_t)free_bucket : REPORT_NEVER_FREED, block->size,
                        block->link.count);
}

/* --- live blocks ------------------------------------------------------------------ */

static enum block_domain allocation_domain(uint32_t allocator)
{
    if (allocator == ALLOCATOR_PYMALLOC) {
        return DOMAIN_PYMALLOC;
    }
    if (allocator == ALLOCATOR_MMAP || allocator == ALLOCATOR_MREMAP) {
        return DOMAIN_MAPPING;
    }
    return DOMAIN_MALLOC;
}

/* Stores a block in a free slot (or a new one); returns its index or NO_BLOCK. */
static uint32_t block_store(struct report_collection *collection, const struct block *block)
{
    uint32_t index = collection->free_head;
    if (index != NO_BLOCK) {
        collection->free_head = blocks_of(collection)[index].link.next_free;
    } else {
        size_t count = collection->blocks.size / sizeof *block;
        if (count >= NO_BLOCK || byte_buffer_append(&collection->blocks, block,
                                                    sizeof *block) < 0) {
            return NO_BLOCK;
        }
        index = (uint32_t)count;
    }
    blocks_of(collection)[index] = *block;
    return index;
}

/* Ends the block's life now: figures, temporary selection, interval, slot. */
static int block_end(struct report_collection *collection, uint32_t index)
{
    struct block block = blocks_of(collection)[index];
    heap_remove(collection, block.context, block.size, block.link.count);
    if (collection->allocations - block.ordinal <= collection->options.temporary_threshold) {
        struct report_figures *temporary =
            &contexts_of(collection)[block.context].selected[REPORT_TEMPORARY];
        temporary->bytes += block.size;
        temporary->count += block.link.count;
    }
    blocks_of(collection)[index].context = FREE_SLOT;
    blocks_of(collection)[index].link.next_free = collection->free_head;
    collection->free_head = index;
    return interval_record(collection, &block, 1);
}

/* The block a record stands for: its size and count scaled by the chance
 * it had to be recorded (Horvitz-Thompson; 1 in a full capture). */
static struct block block_of_record(const struct report_collection *collection,
                                    const struct capture_record *record, uint32_t context)
{
    struct block block = {record->size, record->size, collection->allocations,
                          collection->last_time_ns, context, {1}};
    if (collection->sample_mode == CAPTURE_SAMPLING_EVERY_ALLOCATION) {
        return block;
    }
    double chance = capture_estimates_keep_probability(collection->sample_mode,
                                                       collection->sample_mean, record->size);
    if (chance > 0 && chance < 1) {
        double count = llround(1.0 / chance);
        block.size = (uint64_t)llround((double)record->size / chance);
        block.link.count = count < 1 ? 1 : count > UINT32_MAX ? UINT32_MAX : (uint32_t)count;
    }
    return block;
}

static int on_allocation(struct report_collection *collection, const struct capture_record *record)
{
    int64_t context = context_of_record(collection, record);
    if (context < 0) {
        return -1;
    }
    collection->allocations++;
    struct block block = block_of_record(collection, record, (uint32_t)context);
    struct report_figures *total = &contexts_of(collection)[context].selected[REPORT_TOTAL];
    total->bytes += block.size;
    total->count += block.link.count;
    collection->summary.total_bytes += block.size;
    collection->summary.total_count += block.link.count;
    collection->events_since_time = 1;
    if (record->address == HASH_MAP_EMPTY_KEY) {
        return 0;
    }
    struct hash_map *map = &collection->blocks_at[allocation_domain(record->allocator)];
    uint64_t *existing = hash_map_find(map, record->address);
    if (existing && block_end(collection, (uint32_t)*existing) < 0) {
        return -1;
    }
    uint32_t index = block_store(collection, &block);
    if (index == NO_BLOCK || hash_map_put(map, record->address, index) < 0) {
        return -1;
    }
    heap_add(collection, (uint32_t)context, block.size, block.link.count);
    return 0;
}

/* A munmap releases the mapping at its address, or its first bytes. */
static int on_munmap(struct report_collection *collection, const struct capture_record *record)
{
    struct hash_map *map = &collection->blocks_at[DOMAIN_MAPPING];
    uint64_t *found = hash_map_find(map, record->address);
    if (!found) {
        return 0;
    }
    uint32_t index = (uint32_t)*found;
    struct block *block = &blocks_of(collection)[index];
    if (record->size >= block->raw_size ||
        record->address + record->size == HASH_MAP_EMPTY_KEY) {
        hash_map_remove(map, record->address, NULL);
        return block_end(collection, index);
    }
    /* Trims the front: the estimate shrinks in proportion. */
    uint64_t released = (uint64_t)((double)block->size * (double)record->size /
                                   (double)block->raw_size);
    block->raw_size -= record->size;
    block->size -= released;
    heap_remove(collection, block->context, released, 0);
    hash_map_remove(map, record->address, NULL);
    return hash_map_put(map, record->address + record->size, index);
}

static int on_free(struct report_collection *collection, const struct capture_record *record,
                   enum block_domain domain)
{
    uint64_t index;
    collection->events_since_time = 1;
    if (!hash_map_remove(&collection->blocks_at[domain], record->address, &index)) {
        return 0;
    }
    return block_end(collection, (uint32_t)index);
}

/* --- moments: snapshots, the range end, times ---------------------------------- */

static void take_snapshot(struct report_collection *collection)
{
    collection->summary.snapshot_count++;
    if (collection->summary.snapshot_count != collection->options.snapshot_index) {
        return;
    }
    struct report_context *contexts = contexts_of(collection);
    for (size_t i = 0; i < context_total(collection); i++) {
        contexts[i].selected[REPORT_SNAPSHOT] = contexts[i].live;
    }
}

/* Selects the live blocks allocated since the range's start. */
static void take_range(struct report_collection *collection)
{
    collection->range_taken = 1;
    const struct block *blocks = blocks_of(collection);
    size_t count = collection->blocks.size / sizeof *blocks;
    for (size_t i = 0; i < count; i++) {
        if (blocks[i].context == FREE_SLOT ||
            blocks[i].alloc_time_ns < collection->options.range_start_ns) {
            continue;
        }
        struct report_figures *range = &contexts_of(collection)[blocks[i].context]
                                             .selected[REPORT_RANGE];
        range->bytes += blocks[i].size;
        range->count++;
    }
}

static int append_point(struct byte_buffer *series, uint64_t time_ns, uint64_t value)
{
    struct report_point point = {time_ns, value};
    return byte_buffer_append(series, &point, sizeof point);
}

static int on_time(struct report_collection *collection, uint64_t time_ns)
{
    if (!collection->range_taken && time_ns >= collection->options.range_end_ns) {
        take_range(collection);
    }
    if (collection->peak_time_pending) {
        collection->summary.peak_time_ns = time_ns;
        collection->peak_time_pending = 0;
    }
    collection->last_time_ns = time_ns;
    uint64_t high = collection->heap_high_since_time;
    collection->heap_high_since_time = collection->heap_bytes;
    collection->events_since_time = 0;
    return append_point(&collection->heap_series, time_ns, high);
}

static int on_record(struct report_collection *collection, const struct capture_record *record)
{
    switch (record->kind) {
    case CAPTURE_RECORD_ALLOCATION:
        return on_allocation(collection, record);
    case CAPTURE_RECORD_FREE:
        return on_free(collection, record, DOMAIN_MALLOC);
    case CAPTURE_RECORD_PYMALLOC_FREE:
        return on_free(collection, record, DOMAIN_PYMALLOC);
    case CAPTURE_RECORD_MUNMAP:
        collection->events_since_time = 1;
        return on_munmap(collection, record);
    case CAPTURE_RECORD_TIME:
        return on_time(collection, record->time_ns);
    case CAPTURE_RECORD_RSS:
        return append_point(&collection->rss_series, collection->last_time_ns, record->rss_bytes);
    case CAPTURE_RECORD_GC:
        return append_point(&collection->gc_series, collection->last_time_ns,
                            record->gc_generation);
    case CAPTURE_RECORD_SNAPSHOT:
        take_snapshot(collection);
        return 0;
    case CAPTURE_RECORD_SAMPLING:
        collection->sample_mode = record->sample_mode;
        collection->sample_mean = record->sample_mean;
        return 0;
    default: /* records that change no figure (sampling mode changes, ...) */
        return 0;
    }
}

/* --- the end of the pass ----------------------------------------------------------- */

/* Keeps at most REPORT_TIMELINE_MAX_POINTS points, each the largest of its
 * stretch (so the peak stays). */
static void downsample(struct byte_buffer *series)
{
    struct report_point *points = (struct report_point *)series->data;
    size_t count = series->size / sizeof *points;
    if (count <= REPORT_TIMELINE_MAX_POINTS) {
        return;
    }
    size_t stretch = (count + REPORT_TIMELINE_MAX_POINTS - 1) / REPORT_TIMELINE_MAX_POINTS;
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

/* Settles what the pass leaves open: end time, peak figures, leaks, the
 * range if its end was not reached, the intervals of live blocks. */
static int finish(struct report_collection *collection)
{
    struct report_summary *summary = &collection->summary;
    const struct capture_footer *footer = capture_reader_footer(collection->reader);
    summary->end_time_ns = collection->last_time_ns;
    if (footer->has_end_time && footer->end_time_ns > summary->end_time_ns) {
        summary->end_time_ns = footer->end_time_ns;
    }
    if (collection->peak_time_pending) {
        summary->peak_time_ns = summary->end_time_ns;
    }
    if (collection->events_since_time &&
        append_point(&collection->heap_series, summary->end_time_ns,
                     collection->heap_high_since_time) < 0) {
        return -1;
    }
    downsample(&collection->heap_series);
    if (!collection->range_taken) {
        take_range(collection);
    }
    struct report_context *contexts = contexts_of(collection);
    for (size_t i = 0; i < context_total(collection); i++) {
        context_touch(collection, (uint32_t)i);
        contexts[i].selected[REPORT_LEAKS] = contexts[i].live;
    }
    const struct block *blocks = blocks_of(collection);
    size_t count = collection->blocks.size / sizeof *blocks;
    for (size_t i = 0; i < count; i++) {
        if (blocks[i].context != FREE_SLOT && interval_record(collection, &blocks[i], 0) < 0) {
            return -1;
        }
        blocks = blocks_of(collection);
    }
    if (collection->options.temporal) {
        int64_t last = bucket_of(collection, summary->end_time_ns);
        if (last < 0) {
            return -1;
        }
        summary->bucket_count = (uint32_t)last + 1;
    }
    return 0;
}

static struct report_figures figures_of(int estimated, const struct weighted_amount *estimate,
                                        uint64_t bytes, uint64_t count)
{
    struct report_figures figures = {bytes, count};
    if (estimated) {
        figures.bytes = estimate->bytes > 0 ? (uint64_t)llround(estimate->bytes) : 0;
        figures.count = estimate->count > 0 ? (uint64_t)llround(estimate->count) : 0;
    }
    return figures;
}

/*
 * An --aggregate capture has no events, only its latest per-stack snapshot:
 * what was held at the peak, at the snapshot (the leaks view) and allocated
 * in total. Fills those selections from it (estimates when sampled). Returns
 * 0, or -1 when memory ran out.
 */
static int take_aggregate(struct report_collection *collection,
                          const struct capture_aggregate *aggregate)
{
    int estimated = aggregate->estimated;
    for (size_t index = 0; index < aggregate->stack_count; index++) {
        const struct capture_aggregate_stack *stack = &aggregate->stacks[index];
        int64_t context_index = context_of(collection, 0, stack->stack_id);
        if (context_index < 0) {
            return -1;
        }
        struct report_context *context = &contexts_of(collection)[context_index];
        context->selected[REPORT_PEAK] = figures_of(estimated, &stack->estimated_peak,
                                                    stack->peak_bytes, stack->peak_count);
        context->live = figures_of(estimated, &stack->estimated_live, stack->live_bytes,
                                   stack->live_count);
        context->selected[REPORT_LEAKS] = context->live;
        context->selected[REPORT_TOTAL] = figures_of(estimated, &stack->estimated_total,
                                                     stack->total_bytes, stack->total_count);
        context->changed_in_epoch = collection->epoch;
    }
    struct report_summary *summary = &collection->summary;
    struct report_figures peak = figures_of(estimated, &aggregate->estimated_peak,
                                            aggregate->peak_bytes, aggregate->peak_count);
    struct report_figures total = figures_of(estimated, &aggregate->estimated_allocated,
                                             aggregate->allocated_bytes,
                                             aggregate->allocation_count);
    summary->peak_bytes = peak.bytes;
    summary->peak_count = peak.count;
    summary->peak_time_ns = aggregate->peak_time_ns;
    summary->total_bytes = total.bytes;
    summary->total_count = total.count;
    if (summary->end_time_ns < aggregate->time_ns) {
        summary->end_time_ns = aggregate->time_ns;
    }
    return 0;
}

/* Reads every record; returns 0, or -1 with error filled. */
static int run_pass(struct report_collection *collection, struct capture_error *error)
{
    struct capture_record record;
    const struct report_options *options = &collection->options;
    int status;
    while ((status = capture_reader_next(collection->reader, &record)) == 1) {
        if (on_record(collection, &record) < 0) {
            goto out_of_memory;
        }
        if (options->progress && ++collection->records % PROGRESS_EVERY == 0) {
            options->progress(options->progress_argument,
                              capture_reader_chunks_read(collection->reader),
                              capture_reader_footer(collection->reader)->chunk_count);
        }
    }
    if (status < 0) {
        *error = *capture_reader_error(collection->reader);
        return -1;
    }
    const struct capture_aggregate *aggregate = capture_reader_aggregate(collection->reader);
    if (finish(collection) == 0 && (!aggregate || take_aggregate(collection, aggregate) == 0)) {
        return 0;
    }
out_of_memory:
    error->os_errno = ENOMEM;
    snprintf(error->message, sizeof error->message, "out of memory while building the report");
    return -1;
}

struct report_collection *report_collect(struct capture_reader *reader,
                                         const struct report_options *options,
                                         struct capture_error *error)
{
    struct report_collection *collection = calloc(1, sizeof *collection);
    if (!collection) {
        error->os_errno = ENOMEM;
        snprintf(error->message, sizeof error->message, "out of memory");
        return NULL;
    }
    collection->reader = reader;
    collection->options = *options;
    const struct capture_header *header = capture_reader_header(reader);
    if (header->sample_interval) {
        collection->sample_mode = CAPTURE_SAMPLING_BY_BYTES;
        collection->sample_mean = header->sample_interval;
    } else if (header->sample_rate < 1.0) {
        collection->sample_mode = CAPTURE_SAMPLING_BY_ALLOCATIONS;
        collection->sample_mean = (uint64_t)llround(1.0 / header->sample_rate);
    }
    collection->free_head = NO_BLOCK;
    collection->cached_thread_id = UINT64_MAX;
    for (size_t i = 0; i < CONTEXT_CACHE_SIZE; i++) {
        collection->context_cache[i].key = UINT64_MAX;
    }
    const struct capture_footer *footer = capture_reader_footer(reader);
    uint64_t width = INITIAL_BUCKET_WIDTH_NS;
    if (footer->has_end_time && footer->end_time_ns / REPORT_TEMPORAL_MAX_BUCKETS + 1 > width) {
        width = footer->end_time_ns / REPORT_TEMPORAL_MAX_BUCKETS + 1;
    }
    collection->summary.bucket_width_ns = width; /* only used with options->temporal */
    if (run_pass(collection, error) < 0) {
        report_collection_free(collection);
        return NULL;
    }
    if (!options->temporal) {
        collection->summary.bucket_width_ns = 0;
    }
    return collection;
}

void report_collection_free(struct report_collection *collection)
{
    if (!collection) {
        return;
    }
    byte_buffer_release(&collection->contexts);
    hash_map_release(&collection->context_index);
    hash_map_release(&collection->thread_numbers);
    hash_map_release(&collection->pair_numbers);
    hash_map_release(&collection->native_context_index);
    for (int domain = 0; domain < DOMAIN_COUNT; domain++) {
        hash_map_release(&collection->blocks_at[domain]);
    }
    byte_buffer_release(&collection->blocks);
    byte_buffer_release(&collection->heap_series);
    byte_buffer_release(&collection->rss_series);
    byte_buffer_release(&collection->gc_series);
    hash_map_release(&collection->interval_index);
    byte_buffer_release(&collection->intervals);
    free(collection);
}

/* --- accessors ------------------------------------------------------------------------- */

const struct report_summary *report_collection_summary(const struct report_collection *c)
{
    return &c->summary;
}

struct capture_reader *report_collection_reader(const struct report_collection *c)
{
    return c->reader;
}

const struct report_context *report_collection_contexts(const struct report_collection *c,
                                                        size_t *count)
{
    *count = context_total(c);
    return contexts_of(c);
}

const struct report_interval *report_collection_intervals(const struct report_collection *c,
                                                          size_t *count)
{
    *count = c->intervals.size / sizeof(struct report_interval);
    return intervals_of(c);
}

static const struct report_point *series_points(const struct byte_buffer *series, size_t *count)
{
    *count = series->size / sizeof(struct report_point);
    return (const struct report_point *)series->data;
}

const struct report_point *report_collection_heap_series(const struct report_collection *c,
                                                         size_t *count)
{
    return series_points(&c->heap_series, count);
}

const struct report_point *report_collection_rss_series(const struct report_collection *c,
                                                        size_t *count)
{
    return series_points(&c->rss_series, count);
}

const struct report_point *report_collection_gc_series(const struct report_collection *c,
                                                       size_t *count)
{
    return series_points(&c->gc_series, count);
}
