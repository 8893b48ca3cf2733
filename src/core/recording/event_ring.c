/*
 * The flight recorder's window: a ring of event blocks (see event_ring.h).
 */
#include "core/recording/event_ring.h"

#include <string.h>

#include "core/base/tracker_memory.h"

#define RING_SPARE_BLOCKS (sizeof ((struct event_ring *)0)->spare / sizeof(struct ring_block *))

size_t event_ring_block_bytes(void)
{
    return sizeof(struct ring_block);
}

int event_ring_init(struct event_ring *ring, uint64_t max_events, uint64_t window_ns,
                    uint64_t max_bytes, ring_evict_function evict, void *context)
{
    memset(ring, 0, sizeof *ring);
    uint64_t limit = max_bytes / sizeof(struct ring_block);
    uint64_t needed = max_events ? (max_events + RING_BLOCK_EVENTS - 1) / RING_BLOCK_EVENTS + 1
                                 : 2;
    if (limit < 2 || limit < needed || limit > SIZE_MAX / sizeof *ring->blocks) {
        return -1;
    }
    ring->blocks = tracker_calloc((size_t)limit, sizeof *ring->blocks);
    if (!ring->blocks) {
        return -1;
    }
    ring->block_limit = (size_t)limit;
    ring->max_events = max_events;
    ring->window_ns = window_ns;
    ring->evict = evict;
    ring->evict_context = context;
    return 0;
}

static struct ring_block **slot(const struct event_ring *ring, size_t index)
{
    return &ring->blocks[(ring->first + index) % ring->block_limit];
}

void event_ring_free(struct event_ring *ring)
{
    for (size_t index = 0; index < ring->block_count; index++) {
        tracker_free(*slot(ring, index), sizeof(struct ring_block));
    }
    for (size_t index = 0; index < ring->spare_count; index++) {
        tracker_free(ring->spare[index], sizeof(struct ring_block));
    }
    if (ring->blocks) {
        tracker_free(ring->blocks, ring->block_limit * sizeof *ring->blocks);
    }
    memset(ring, 0, sizeof *ring);
}

/* Hands the oldest block to the eviction callback and takes it out of the
 * ring; returns it (the caller reuses or keeps it). */
static struct ring_block *evict_oldest(struct event_ring *ring)
{
    struct ring_block **oldest = slot(ring, 0);
    struct ring_block *block = *oldest;
    *oldest = NULL;
    if (ring->evict) {
        ring->evict(block, ring->evict_context);
    }
    ring->first = (ring->first + 1) % ring->block_limit;
    ring->block_count--;
    ring->event_count -= block->count;
    ring->evicted_events += block->count;
    if (block->time_ns > ring->start_time_ns) {
        ring->start_time_ns = block->time_ns;
    }
    return block;
}

/* Whether the event bound lets the oldest block go: the rest still hold
 * max_events. */
static int events_allow_eviction(const struct event_ring *ring)
{
    return ring->max_events && ring->block_count > 1 &&
           ring->event_count - (*slot(ring, 0))->count >= ring->max_events;
}

/* A block for new events: the oldest one when a bound lets it go (or the
 * memory cap makes it), else a spare or a new one. NULL when memory ran out. */
static struct ring_block *take_block(struct event_ring *ring)
{
    if (ring->block_count == ring->block_limit || events_allow_eviction(ring)) {
        return evict_oldest(ring);
    }
    if (ring->spare_count) {
        return ring->spare[--ring->spare_count];
    }
    return tracker_malloc(sizeof(struct ring_block));
}

int event_ring_push(struct event_ring *ring, const struct ring_event *event)
{
    struct ring_block *newest = ring->block_count ? *slot(ring, ring->block_count - 1) : NULL;
    if (!newest || newest->count == RING_BLOCK_EVENTS) {
        struct ring_block *block = take_block(ring);
        if (!block) {
            return -1;
        }
        /* A new block starts at the newest mark: it happened after it. */
        block->time_ns = newest ? newest->time_ns : ring->start_time_ns;
        block->rss_bytes = 0;
        block->count = 0;
        *slot(ring, ring->block_count) = block;
        ring->block_count++;
        newest = block;
    }
    newest->events[newest->count++] = *event;
    ring->event_count++;
    return 0;
}

void event_ring_mark_time(struct event_ring *ring, uint64_t now_ns, uint64_t rss_bytes)
{
    if (!ring->block_count) {
        return;
    }
    struct ring_block *newest = *slot(ring, ring->block_count - 1);
    newest->time_ns = now_ns;
    if (rss_bytes) {
        newest->rss_bytes = rss_bytes;
    }
    while (ring->window_ns && ring->block_count > 1 &&
           (*slot(ring, 0))->time_ns + ring->window_ns < now_ns) {
        struct ring_block *block = evict_oldest(ring);
        if (ring->spare_count < RING_SPARE_BLOCKS) {
            ring->spare[ring->spare_count++] = block;
        } else {
            tracker_free(block, sizeof *block);
        }
    }
}

const struct ring_block *event_ring_block(const struct event_ring *ring, size_t index)
{
    return *slot(ring, index);
}

size_t event_ring_memory(const struct event_ring *ring)
{
    return (ring->block_count + ring->spare_count) * sizeof(struct ring_block) +
           ring->block_limit * sizeof *ring->blocks;
}
