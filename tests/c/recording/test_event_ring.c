/*
 * The event ring (--ring's window): bounded by events, by time and by its
 * memory cap; evicted blocks leave oldest first and in order, each event
 * exactly once; a long run holds no more blocks than its bound.
 */
#include <stdint.h>
#include <string.h>

#include "core/base/tracker_memory.h"
#include "core/recording/event_ring.h"
#include "tests/c/test_harness.h"

/* What the eviction callback saw. */
struct evictions {
    uint64_t events;
    uint64_t next_address; /* the address the next evicted event must have */
    int out_of_order;
};

static void count_eviction(const struct ring_block *block, void *context)
{
    struct evictions *seen = context;
    for (uint32_t index = 0; index < block->count; index++) {
        if (block->events[index].address != seen->next_address) {
            seen->out_of_order = 1;
        }
        seen->next_address++;
        seen->events++;
    }
}

static void push_events(struct event_ring *ring, uint64_t first, uint64_t count)
{
    for (uint64_t index = 0; index < count; index++) {
        struct ring_event event = {.address = first + index, .size = 8, .kind = 1};
        CHECK(event_ring_push(ring, &event) == 0);
    }
}

/* The events in the ring, oldest first, must be first..first+count-1. */
static void check_contents(const struct event_ring *ring, uint64_t first, uint64_t count)
{
    uint64_t expected = first;
    uint64_t seen = 0;
    for (size_t index = 0; index < ring->block_count; index++) {
        const struct ring_block *block = event_ring_block(ring, index);
        for (uint32_t position = 0; position < block->count; position++) {
            if (block->events[position].address != expected) {
                CHECK_EQ_U64(block->events[position].address, expected);
                return;
            }
            expected++;
            seen++;
        }
    }
    CHECK_EQ_U64(seen, count);
    CHECK_EQ_U64(ring->event_count, count);
}

static void test_event_bound_keeps_the_latest_events(void)
{
    struct event_ring ring;
    struct evictions seen = {0};
    uint64_t max_events = 10000;
    CHECK(event_ring_init(&ring, max_events, 0, 64u << 20, count_eviction, &seen) == 0);
    uint64_t total = 1000000;
    push_events(&ring, 0, total);
    /* at least max_events kept, fewer than max_events + one block */
    CHECK(ring.event_count >= max_events);
    CHECK(ring.event_count < max_events + RING_BLOCK_EVENTS);
    CHECK(!seen.out_of_order);
    CHECK_EQ_U64(seen.events + ring.event_count, total);
    CHECK_EQ_U64(ring.evicted_events, seen.events);
    check_contents(&ring, seen.events, total - seen.events);
    /* the blocks the bound needs, and no more */
    CHECK(ring.block_count <= max_events / RING_BLOCK_EVENTS + 2);
    event_ring_free(&ring);
}

static void test_time_bound_drops_blocks_older_than_the_window(void)
{
    struct event_ring ring;
    struct evictions seen = {0};
    uint64_t second = 1000000000u;
    CHECK(event_ring_init(&ring, 0, 2 * second, 64u << 20, count_eviction, &seen) == 0);
    /* one block's worth of events per second, marked at the second's end */
    for (uint64_t tick = 1; tick <= 10; tick++) {
        push_events(&ring, (tick - 1) * RING_BLOCK_EVENTS, RING_BLOCK_EVENTS);
        event_ring_mark_time(&ring, tick * second, 1000 + tick);
    }
    /* at 10 s the window of 2 s keeps the blocks marked at 8, 9 and 10 s
     * (8 + 2 is not older than 10) */
    CHECK_EQ_U64(ring.block_count, 3);
    CHECK_EQ_U64(ring.start_time_ns, 7 * second);
    CHECK_EQ_U64(event_ring_block(&ring, 0)->time_ns, 8 * second);
    CHECK_EQ_U64(event_ring_block(&ring, 2)->rss_bytes, 1010);
    CHECK(!seen.out_of_order);
    check_contents(&ring, 7 * RING_BLOCK_EVENTS, 3 * RING_BLOCK_EVENTS);
    /* a quiet spell: only the newest block stays, and its events with it */
    event_ring_mark_time(&ring, 100 * second, 0);
    CHECK_EQ_U64(ring.block_count, 1);
    CHECK_EQ_U64(ring.event_count, RING_BLOCK_EVENTS);
    event_ring_free(&ring);
}

static void test_memory_cap_wins_over_the_time_bound(void)
{
    struct event_ring ring;
    struct evictions seen = {0};
    uint64_t cap = 4 * event_ring_block_bytes() + 4096;
    CHECK(event_ring_init(&ring, 0, 3600u * 1000000000ull, cap, count_eviction, &seen) == 0);
    uint64_t held = tracker_memory_current();
    push_events(&ring, 0, 100 * RING_BLOCK_EVENTS);
    CHECK_EQ_U64(ring.block_count, 4);
    CHECK(event_ring_memory(&ring) <= cap);
    CHECK(tracker_memory_current() - held <= cap);
    CHECK(!seen.out_of_order);
    check_contents(&ring, 96 * RING_BLOCK_EVENTS, 4 * RING_BLOCK_EVENTS);
    event_ring_free(&ring);
}

static void test_an_event_bound_beyond_the_cap_is_refused(void)
{
    struct event_ring ring;
    uint64_t cap = 4 * event_ring_block_bytes();
    CHECK(event_ring_init(&ring, 100 * RING_BLOCK_EVENTS, 0, cap, NULL, NULL) < 0);
    CHECK(event_ring_init(&ring, 0, 0, event_ring_block_bytes(), NULL, NULL) < 0);
    CHECK(event_ring_init(&ring, 2 * RING_BLOCK_EVENTS, 0, cap, NULL, NULL) == 0);
    event_ring_free(&ring);
}

/* A long churn under a time bound: the memory stays that of the window. */
static void test_long_run_memory_is_flat(void)
{
    struct event_ring ring;
    CHECK(event_ring_init(&ring, 0, 1000000u, 64u << 20, NULL, NULL) == 0);
    size_t largest_after_warm_up = 0;
    size_t at_warm_up = 0;
    for (uint64_t round = 1; round <= 2000; round++) {
        push_events(&ring, round * 10000, 3000);
        event_ring_mark_time(&ring, round * 1000000u, 0); /* a round per ms */
        size_t memory = event_ring_memory(&ring);
        if (round == 100) {
            at_warm_up = memory;
        }
        if (round > 100 && memory > largest_after_warm_up) {
            largest_after_warm_up = memory;
        }
    }
    CHECK(at_warm_up > 0);
    CHECK(largest_after_warm_up <= at_warm_up + 2 * event_ring_block_bytes());
    event_ring_free(&ring);
    CHECK_EQ_U64(ring.block_count, 0);
}

int main(void)
{
    uint64_t before = tracker_memory_current();
    RUN_TEST(test_event_bound_keeps_the_latest_events);
    RUN_TEST(test_time_bound_drops_blocks_older_than_the_window);
    RUN_TEST(test_memory_cap_wins_over_the_time_bound);
    RUN_TEST(test_an_event_bound_beyond_the_cap_is_refused);
    RUN_TEST(test_long_run_memory_is_flat);
    CHECK_EQ_U64(tracker_memory_current(), before); /* everything given back */
    return test_harness_exit_code();
}
