/*
 * The flight recorder's window (--ring): the most recent events, in the
 * global order, in a ring of fixed-size blocks. When the window moves on,
 * the oldest block is handed to an eviction callback (the recorder applies
 * its events to the live table, which then holds the heap at the window's
 * start) and its memory is reused, so the ring never holds more than its
 * block budget, however long the program runs.
 *
 * The window is bounded three ways, each optional but the last:
 *   - events: at least max_events of the latest events are kept (and fewer
 *     than max_events + RING_BLOCK_EVENTS);
 *   - time: blocks whose latest time mark is older than window_ns before the
 *     newest mark are dropped (the window covers at least window_ns, to a
 *     writer round);
 *   - memory: never more than max_bytes of blocks (the hard cap: it wins
 *     over the other two, and the window is then shorter).
 * The newest block is never dropped. Used by the writer thread only: no
 * locks. Plain C; no Python.h.
 */
#ifndef MEMLYZE_EVENT_RING_H
#define MEMLYZE_EVENT_RING_H

#include <stddef.h>
#include <stdint.h>

/* One event as the ring keeps it: struct recorded_event without its
 * sequence number (the ring is in order), with the thread that made it. */
struct ring_event {
    uint64_t address;
    uint64_t size;
    uint32_t value;
    uint32_t native_stack_id;
    uint32_t thread_id;
    uint8_t kind; /* EVENT_* of event_buffer.h */
    uint8_t allocator;
    uint16_t unused;
};

#define RING_BLOCK_EVENTS 4096u

struct ring_block {
    /* The latest time mark (ns since the recording started): every event in
     * the block happened by then. 0 until the first mark. */
    uint64_t time_ns;
    uint64_t rss_bytes; /* RSS at that mark, 0 when not sampled */
    uint32_t count;
    struct ring_event events[RING_BLOCK_EVENTS];
};

/* Called with each block the window leaves behind, oldest first. */
typedef void (*ring_evict_function)(const struct ring_block *block, void *context);

struct event_ring {
    struct ring_block **blocks; /* circular: blocks[(first + i) % block_limit] */
    size_t block_limit;         /* the memory cap, in blocks (at least 2) */
    size_t first;
    size_t block_count;
    uint64_t event_count; /* events in the ring */
    uint64_t max_events;  /* 0: no bound by count */
    uint64_t window_ns;   /* 0: no bound by time */
    /* What the window has left behind so far. */
    uint64_t evicted_events;
    uint64_t start_time_ns; /* the time mark of the latest block dropped: the
                               window's events all came after it */
    ring_evict_function evict;
    void *evict_context;
    /* Blocks dropped by time, kept for reuse (at most four):
     * a steady program then allocates no block per round. */
    struct ring_block *spare[4];
    size_t spare_count;
};

/* Bytes one block takes: the unit of the memory cap. */
size_t event_ring_block_bytes(void);

/*
 * Readies an empty ring. max_bytes must leave room for two blocks, and with
 * max_events, for the blocks max_events needs (ceil(max_events /
 * RING_BLOCK_EVENTS) + 1). Returns 0, or -1 when they do not fit (or memory
 * ran out). No block is allocated before the first event.
 */
int event_ring_init(struct event_ring *ring, uint64_t max_events, uint64_t window_ns,
                    uint64_t max_bytes, ring_evict_function evict, void *context);

/* Frees every block (no eviction calls). The ring is empty and unusable
 * until initialised again. */
void event_ring_free(struct event_ring *ring);

/*
 * Appends event. A full newest block makes room first: the oldest block is
 * evicted and reused when the memory cap or the event bound says so, else a
 * new block is allocated. Returns 0, or -1 when no block could be had (the
 * event is not kept).
 */
int event_ring_push(struct event_ring *ring, const struct ring_event *event);

/*
 * Marks time now_ns (and RSS, 0 when not sampled) on the newest block, then
 * drops the blocks the time bound no longer covers. Call once per writer
 * round, after its events.
 */
void event_ring_mark_time(struct event_ring *ring, uint64_t now_ns, uint64_t rss_bytes);

/* The index-th block, oldest first (index < block_count). */
const struct ring_block *event_ring_block(const struct event_ring *ring, size_t index);

/* Bytes the ring holds now. */
size_t event_ring_memory(const struct event_ring *ring);

#endif
