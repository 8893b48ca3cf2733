/*
 * The live table's per-thread figures (the live view's thread selector):
 * each block counts for the thread that allocated it, until freed (by any
 * thread); a trimmed mapping stays its allocator's; a thread's stacks are
 * its own; names come from declarations and from EVENT_THREAD_NAME; and
 * without live_table_keep_threads nothing is kept.
 */
#include <stdio.h>
#include <string.h>

#include "core/format/capture_format.h"
#include "core/recording/event_buffer.h"
#include "core/recording/live_table.h"
#include "tests/c/test_harness.h"

static void apply(uint32_t thread_id, uint8_t kind, uint8_t allocator, uint64_t address,
                  uint64_t size, uint32_t value)
{
    struct recorded_event event = {.address = address, .size = size, .value = value,
                                   .kind = kind, .allocator = allocator};
    live_table_lock();
    live_table_apply_from_thread(&event, thread_id);
    live_table_unlock();
}

/* thread_id's figures from a copy of the threads (zero when absent). */
static struct live_table_thread thread_of(uint32_t thread_id)
{
    struct live_table_thread *threads;
    size_t count;
    struct live_table_thread found = {0};
    CHECK(live_table_copy_threads(&threads, &count) == 0);
    for (size_t index = 0; index < count; index++) {
        if (threads[index].thread_id == thread_id) {
            found = threads[index];
        }
    }
    live_table_free_threads(threads, count);
    return found;
}

/* What thread_id holds through stack_id. */
static uint64_t thread_stack_bytes(uint32_t thread_id, uint32_t stack_id)
{
    struct live_table_stack *stacks;
    size_t count;
    uint64_t bytes = 0;
    CHECK(live_table_copy_thread_stacks(thread_id, &stacks, &count) == 0);
    for (size_t index = 0; index < count; index++) {
        CHECK(stacks[index].live_count > 0);
        if (stacks[index].stack_id == stack_id) {
            bytes = stacks[index].live_bytes;
        }
    }
    live_table_free_stacks(stacks, count);
    return bytes;
}

static void test_blocks_belong_to_their_allocator(void)
{
    live_table_enable();
    live_table_keep_threads(1);
    apply(1, EVENT_ALLOCATION, ALLOCATOR_MALLOC, 0x1000, 100, 7);
    apply(1, EVENT_ALLOCATION, ALLOCATOR_MALLOC, 0x2000, 300, 8);
    apply(2, EVENT_ALLOCATION, ALLOCATOR_MALLOC, 0x3000, 50, 7);
    apply(2, EVENT_ALLOCATION, ALLOCATOR_MMAP, 0x100000, 8192, 9);
    CHECK_EQ_U64(thread_of(1).live_bytes, 400);
    CHECK_EQ_U64(thread_of(1).live_count, 2);
    CHECK_EQ_U64(thread_of(2).live_bytes, 50 + 8192);
    CHECK_EQ_U64(thread_stack_bytes(1, 7), 100);
    CHECK_EQ_U64(thread_stack_bytes(2, 7), 50);
    CHECK_EQ_U64(thread_stack_bytes(1, 9), 0);

    apply(2, EVENT_FREE, 0, 0x1000, 0, 0); /* thread 2 frees thread 1's block */
    CHECK_EQ_U64(thread_of(1).live_bytes, 300);
    CHECK_EQ_U64(thread_stack_bytes(1, 7), 0);
    CHECK_EQ_U64(thread_of(2).live_bytes, 50 + 8192);

    apply(1, EVENT_MUNMAP, 0, 0x100000, 4096, 0); /* the rest stays thread 2's */
    CHECK_EQ_U64(thread_of(2).live_bytes, 50 + 4096);
    CHECK_EQ_U64(thread_stack_bytes(2, 9), 4096);

    apply(2, EVENT_ALLOCATION, ALLOCATOR_MALLOC, 0x2000, 10, 8); /* replaces thread 1's */
    CHECK_EQ_U64(thread_of(1).live_bytes, 0);
    CHECK_EQ_U64(thread_of(2).live_bytes, 50 + 4096 + 10);
    live_table_disable();
}

static void test_names(void)
{
    live_table_enable();
    live_table_keep_threads(1);
    live_table_describe_thread(3, 4242, "worker-kernel");
    apply(3, EVENT_THREAD_NAME, 0, 4242, 0, 17);
    struct live_table_thread thread = thread_of(3);
    CHECK_EQ_U64(thread.native_tid, 4242);
    CHECK(strcmp(thread.name, "worker-kernel") == 0);
    CHECK_EQ_U64(thread.name_sid, 17);
    live_table_disable();
}

/* Shares of stacks no longer held are reused, not piled up. */
static void test_many_short_lived_stacks(void)
{
    live_table_enable();
    live_table_keep_threads(1);
    for (uint32_t round = 0; round < 5000; round++) {
        apply(1 + round % 3, EVENT_ALLOCATION, ALLOCATOR_MALLOC, 0x5000, 24, 100 + round);
        apply(1, EVENT_FREE, 0, 0x5000, 0, 0);
    }
    size_t memory = live_table_memory();
    for (uint32_t round = 0; round < 50000; round++) {
        /* the same stacks from other threads: new pairs, the same few shares */
        apply(1 + (round / 5000) % 3, EVENT_ALLOCATION, ALLOCATOR_MALLOC, 0x5000, 24,
              100 + round % 5000);
        apply(1, EVENT_FREE, 0, 0x5000, 0, 0);
    }
    CHECK(live_table_memory() <= memory);
    CHECK_EQ_U64(thread_of(1).live_count + thread_of(2).live_count + thread_of(3).live_count, 0);
    live_table_disable();
}

static void test_off_by_default(void)
{
    live_table_enable();
    apply(1, EVENT_ALLOCATION, ALLOCATOR_MALLOC, 0x1000, 100, 7);
    struct live_table_thread *threads;
    size_t count;
    CHECK(live_table_copy_threads(&threads, &count) == 0);
    CHECK_EQ_U64(count, 0);
    live_table_free_threads(threads, count);
    struct live_table_block block;
    CHECK(live_table_find(0x1000, &block) && block.thread_id == 1 &&
          block.allocator == ALLOCATOR_MALLOC && block.size == 100);
    live_table_disable();
}

int main(void)
{
    RUN_TEST(test_blocks_belong_to_their_allocator);
    RUN_TEST(test_names);
    RUN_TEST(test_many_short_lived_stacks);
    RUN_TEST(test_off_by_default);
    return test_harness_exit_code();
}
