/*
 * The live table and the recorder's file-less and --aggregate modes: blocks
 * of each family come and go as the rules say, the peak and each stack's
 * figures at the peak are right, recorder_flush() makes every event visible,
 * and an aggregate capture reads back with its snapshot: truncated while the
 * recording runs, closed after stop, never written through a planted link.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/format/aggregate_chunk.h"
#include "core/format/capture_format.h"
#include "core/format/capture_reader.h"
#include "core/recording/event_buffer.h"
#include "core/recording/live_table.h"
#include "core/recording/recorder.h"
#include "core/recording/stack_figures.h"
#include "tests/c/test_harness.h"

static void apply(uint8_t kind, uint8_t allocator, uint64_t address, uint64_t size,
                  uint32_t stack_id)
{
    struct recorded_event event = {.address = address, .size = size, .value = stack_id,
                                   .kind = kind, .allocator = allocator};
    live_table_lock();
    live_table_apply(&event);
    live_table_unlock();
}

static void test_blocks_and_families(void)
{
    live_table_enable();
    apply(EVENT_ALLOCATION, ALLOCATOR_MALLOC, 0x1000, 100, 1);
    apply(EVENT_ALLOCATION, ALLOCATOR_PYMALLOC, 0x2000, 30, 2);
    apply(EVENT_ALLOCATION, ALLOCATOR_MMAP, 0x10000, 8192, 3);
    apply(EVENT_FREE_PYMALLOC, 0, 0x1000, 0, 0); /* wrong family: ignored */
    struct live_table_totals totals;
    live_table_get_totals(&totals);
    CHECK_EQ_U64(totals.current_bytes, 100 + 30 + 8192);
    CHECK_EQ_U64(totals.current_count, 3);
    struct live_table_block block;
    CHECK(live_table_find(0x2000, &block) && block.size == 30 && block.stack_id == 2);
    apply(EVENT_FREE, 0, 0x1000, 0, 0);
    CHECK(!live_table_find(0x1000, &block));
    apply(EVENT_MUNMAP, 0, 0x10000, 4096, 0); /* trims the front */
    CHECK(live_table_find(0x11000, &block) && block.size == 4096 && block.stack_id == 3);
    live_table_get_totals(&totals);
    CHECK_EQ_U64(totals.current_bytes, 30 + 4096);
    CHECK_EQ_U64(totals.current_count, 2);
    CHECK_EQ_U64(totals.peak_bytes, 100 + 30 + 8192);
    CHECK_EQ_U64(totals.allocation_count, 3);
    CHECK_EQ_U64(totals.free_count, 2);
    apply(EVENT_ALLOCATION, ALLOCATOR_PYMALLOC, 0x2000, 50, 4); /* replaces */
    struct live_table_block *blocks;
    size_t count;
    CHECK(live_table_copy_blocks(&blocks, &count) == 0);
    CHECK_EQ_U64(count, 2);
    uint64_t sum = 0;
    for (size_t index = 0; index < count; index++) {
        sum += blocks[index].size;
    }
    CHECK_EQ_U64(sum, 50 + 4096);
    live_table_free_blocks(blocks, count);
    live_table_disable();
}

/* Stack 1 holds 1000 at the peak, then frees it; stack 2 grows later but
 * never past the peak: the figures at the peak must be those of then. */
static void test_stack_figures_at_peak(void)
{
    live_table_enable();
    apply(EVENT_ALLOCATION, ALLOCATOR_MALLOC, 0x1000, 1000, 1);
    apply(EVENT_ALLOCATION, ALLOCATOR_MALLOC, 0x2000, 200, 2);
    apply(EVENT_FREE, 0, 0x1000, 0, 0);
    apply(EVENT_ALLOCATION, ALLOCATOR_MALLOC, 0x3000, 500, 2);
    struct live_table_stack *stacks;
    size_t count;
    CHECK(live_table_copy_stacks(&stacks, &count) == 0);
    CHECK_EQ_U64(count, 2);
    for (size_t index = 0; index < count; index++) {
        const struct live_table_stack *stack = &stacks[index];
        if (stack->stack_id == 1) {
            CHECK_EQ_U64(stack->peak_bytes, 1000);
            CHECK_EQ_U64(stack->live_bytes, 0);
            CHECK_EQ_U64(stack->total_bytes, 1000);
        } else {
            CHECK_EQ_U64(stack->stack_id, 2);
            CHECK_EQ_U64(stack->peak_bytes, 200);
            CHECK_EQ_U64(stack->live_bytes, 700);
            CHECK_EQ_U64(stack->total_count, 2);
        }
    }
    live_table_free_stacks(stacks, count);

    live_table_reset_peak();
    struct live_table_totals totals;
    live_table_get_totals(&totals);
    CHECK_EQ_U64(totals.peak_bytes, 700);
    live_table_clear();
    live_table_get_totals(&totals);
    CHECK_EQ_U64(totals.current_bytes, 0);
    CHECK_EQ_U64(totals.peak_bytes, 0);
    live_table_disable();
}

static void apply_with_frames(uint8_t kind, uint64_t address, uint64_t size, uint32_t stack_id,
                              uint16_t total_frames)
{
    struct recorded_event event = {.address = address, .size = size, .value = stack_id,
                                   .kind = kind, .allocator = ALLOCATOR_PYMALLOC,
                                   .total_frames = total_frames};
    live_table_lock();
    live_table_apply(&event);
    live_table_unlock();
}

/* The figures of stack_id in *found; 0 when the stack has none. */
static int stack_of(uint32_t stack_id, struct live_table_stack *found)
{
    struct live_table_stack *stacks;
    size_t count;
    int seen = 0;
    CHECK(live_table_copy_stacks(&stacks, &count) == 0);
    for (size_t index = 0; index < count; index++) {
        if (stacks[index].stack_id == stack_id) {
            *found = stacks[index];
            seen = 1;
        }
    }
    live_table_free_stacks(stacks, count);
    return seen;
}

/* tracemalloc's rules: a block keeps the total frame count of its cut
 * stack, and a reuse of a live block (an object from a free list) gives it
 * the new stack and count, moving its bytes, allocating nothing. */
static void test_new_reference_and_total_frames(void)
{
    live_table_enable();
    apply_with_frames(EVENT_ALLOCATION, 0x1000, 56, 1, 0);
    apply_with_frames(EVENT_ALLOCATION, 0x2000, 300, 2, 40);
    struct live_table_block block;
    CHECK(live_table_find(0x2000, &block) && block.total_frames == 40);
    CHECK(live_table_find(0x1000, &block) && block.total_frames == 0);

    apply_with_frames(EVENT_NEW_REFERENCE, 0x1000, 0, 3, 25);
    CHECK(live_table_find(0x1000, &block) && block.stack_id == 3 && block.size == 56 &&
          block.total_frames == 25);
    apply_with_frames(EVENT_NEW_REFERENCE, 0x5000, 0, 3, 0); /* nothing live there */
    CHECK(!live_table_find(0x5000, &block));

    struct live_table_totals totals;
    live_table_get_totals(&totals);
    CHECK_EQ_U64(totals.current_bytes, 356);
    CHECK_EQ_U64(totals.peak_bytes, 356);
    CHECK_EQ_U64(totals.allocation_count, 2);
    CHECK_EQ_U64(totals.allocated_bytes, 356);
    struct live_table_stack old_stack, new_stack;
    CHECK(stack_of(1, &old_stack) && old_stack.live_bytes == 0 && old_stack.live_count == 0);
    CHECK_EQ_U64(old_stack.total_count, 1);
    CHECK(stack_of(3, &new_stack) && new_stack.live_bytes == 56 && new_stack.live_count == 1);
    CHECK_EQ_U64(new_stack.total_count, 0);
    CHECK_EQ_U64(new_stack.total_bytes, 0);

    apply_with_frames(EVENT_FREE_PYMALLOC, 0x1000, 0, 0, 0);
    CHECK(!stack_of(3, &new_stack) || new_stack.live_bytes == 0);
    live_table_get_totals(&totals);
    CHECK_EQ_U64(totals.current_bytes, 300);
    live_table_disable();
}

static int start_recording(const char *path, uint64_t aggregate_interval_ns)
{
    struct recorder_options options = {
        .path = path, .overwrite = 1, .pid = (uint64_t)getpid(), .python_version = "3.11.7",
        .command = "test_live_table", .max_stack_depth = 16, .sample_rate = 1.0,
        .aggregate_interval_ns = aggregate_interval_ns,
    };
    char error[256];
    int result = recorder_start(&options, error, sizeof error);
    if (result < 0) {
        fprintf(stderr, "recorder_start: %s\n", error);
    }
    return result;
}

static void test_recording_without_a_file(void)
{
    CHECK(start_recording(NULL, 0) == 0);
    uint32_t frame = recorder_intern_frame(recorder_intern_string("f", 1),
                                           recorder_intern_string("x.py", 4), 7, 0);
    uint32_t stack = recorder_intern_stack(0, frame);
    for (uintptr_t index = 0; index < 10000; index++) {
        recorder_record_allocation(ALLOCATOR_MALLOC, 0x100000 + index * 16, 16, stack);
    }
    for (uintptr_t index = 0; index < 4000; index++) {
        recorder_record_free(0x100000 + index * 16);
    }
    CHECK(recorder_flush() == 0); /* no waiting for a round: all is there */
    struct live_table_totals totals;
    live_table_get_totals(&totals);
    CHECK_EQ_U64(totals.current_bytes, 6000 * 16);
    CHECK_EQ_U64(totals.peak_bytes, 10000 * 16);
    struct live_table_block block;
    CHECK(live_table_find(0x100000 + 5000 * 16, &block) && block.stack_id == stack);
    char error[256];
    CHECK(recorder_stop(error, sizeof error) == 0);
    CHECK(!live_table_enabled());
    CHECK(recorder_flush() < 0);
}

/* Reads path to its end; the reader (closed by the caller), or NULL. */
static struct capture_reader *read_whole_capture(const char *path)
{
    struct capture_error read_error;
    struct capture_reader *reader = capture_reader_open(path, &read_error);
    struct capture_record record;
    while (reader && capture_reader_next(reader, &record) == 1) {
    }
    return reader;
}

static void test_aggregate_capture(void)
{
    char path[] = "/tmp/memlyze_test_live_table_XXXXXX";
    int descriptor = mkstemp(path);
    CHECK(descriptor >= 0);
    close(descriptor);
    CHECK(start_recording(path, 1000000) == 0);
    uint32_t frame = recorder_intern_frame(recorder_intern_string("g", 1),
                                           recorder_intern_string("y.py", 4), 9, 0);
    uint32_t stack = recorder_intern_stack(0, frame);
    recorder_record_allocation(ALLOCATOR_MALLOC, 0x5000, 4000, stack);
    recorder_record_allocation(ALLOCATOR_MALLOC, 0x6000, 1000, stack);
    recorder_record_free(0x5000);
    char error[256];
    CHECK(recorder_stop(error, sizeof error) == 0);

    struct capture_reader *reader = read_whole_capture(path);
    CHECK(reader != NULL);
    const struct capture_aggregate *aggregate = reader ? capture_reader_aggregate(reader) : NULL;
    CHECK(aggregate != NULL);
    CHECK(reader && !capture_reader_truncated(reader)); /* the snapshot at stop closes it */
    if (aggregate) {
        CHECK_EQ_U64(aggregate->current_bytes, 1000);
        CHECK_EQ_U64(aggregate->peak_bytes, 5000);
        CHECK_EQ_U64(aggregate->stack_count, 1);
        CHECK_EQ_U64(aggregate->stacks[0].stack_id, stack);
        CHECK_EQ_U64(aggregate->stacks[0].total_bytes, 5000);
        CHECK_EQ_U64(aggregate->stacks[0].peak_bytes, 5000);
    }
    capture_reader_close(reader);
    unlink(path);
}

/* A snapshot taken while the recording runs (what a killed process leaves)
 * holds what was recorded, and reads as truncated; the first comes within
 * about 100 ms of the start, long before an interval of 60 s. */
static void test_aggregate_snapshot_before_stop_reads_truncated(void)
{
    char path[] = "/tmp/memlyze_test_live_table_XXXXXX";
    int descriptor = mkstemp(path);
    CHECK(descriptor >= 0);
    close(descriptor);
    CHECK(start_recording(path, 60ull * 1000000000u) == 0);
    uint32_t frame = recorder_intern_frame(recorder_intern_string("h", 1),
                                           recorder_intern_string("z.py", 4), 3, 0);
    uint32_t stack = recorder_intern_stack(0, frame);
    recorder_record_allocation(ALLOCATOR_MALLOC, 0x7000, 3000, stack);
    usleep(400 * 1000);
    struct capture_reader *reader = read_whole_capture(path);
    CHECK(reader != NULL);
    const struct capture_aggregate *aggregate = reader ? capture_reader_aggregate(reader) : NULL;
    CHECK(aggregate != NULL);
    CHECK(reader && capture_reader_truncated(reader));
    const char *note = reader ? capture_reader_truncation_note(reader) : NULL;
    CHECK(note && strstr(note, "last snapshot") != NULL);
    if (aggregate) {
        CHECK_EQ_U64(aggregate->current_bytes, 3000);
    }
    capture_reader_close(reader);
    char error[256];
    CHECK(recorder_stop(error, sizeof error) == 0);
    reader = read_whole_capture(path);
    CHECK(reader && !capture_reader_truncated(reader));
    capture_reader_close(reader);
    unlink(path);
}

/* A link planted where the temporary file of a snapshot once went
 * ("<path>.tmp") is neither followed nor removed. */
static void test_aggregate_ignores_a_planted_temporary_link(void)
{
    char victim[] = "/tmp/memlyze_test_victim_XXXXXX";
    int descriptor = mkstemp(victim);
    CHECK(descriptor >= 0);
    CHECK(write(descriptor, "victim", 6) == 6);
    close(descriptor);
    char path[] = "/tmp/memlyze_test_live_table_XXXXXX";
    descriptor = mkstemp(path);
    CHECK(descriptor >= 0);
    close(descriptor);
    char link_path[sizeof path + 8];
    snprintf(link_path, sizeof link_path, "%s.tmp", path);
    CHECK(symlink(victim, link_path) == 0);
    CHECK(start_recording(path, 1000000) == 0);
    usleep(50 * 1000); /* a few snapshots */
    char error[256];
    CHECK(recorder_stop(error, sizeof error) == 0);
    char content[16] = {0};
    descriptor = open(victim, O_RDONLY);
    CHECK(descriptor >= 0 && read(descriptor, content, sizeof content) == 6);
    close(descriptor);
    CHECK(memcmp(content, "victim", 6) == 0);
    char target[sizeof victim];
    CHECK(readlink(link_path, target, sizeof target) == (ssize_t)strlen(victim));
    struct capture_reader *reader = read_whole_capture(path);
    CHECK(reader && !capture_reader_truncated(reader) && capture_reader_aggregate(reader));
    capture_reader_close(reader);
    unlink(link_path);
    unlink(victim);
    unlink(path);
}

static void test_damaged_aggregate_payload(void)
{
    const uint8_t payload[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 200, 1}; /* 200 stacks: cannot fit */
    struct capture_aggregate aggregate;
    char reason[128];
    CHECK(aggregate_chunk_decode(payload, sizeof payload, 10, &aggregate, reason,
                                 sizeof reason) == -1);
    const uint8_t one[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 11, 1, 1, 1, 1, 1, 1};
    CHECK(aggregate_chunk_decode(one, sizeof one, 10, &aggregate, reason, sizeof reason) == -1);
    CHECK(strstr(reason, "undefined stack") != NULL);
    CHECK(aggregate_chunk_decode(one, sizeof one, 11, &aggregate, reason, sizeof reason) == 0);
    CHECK_EQ_U64(aggregate.stacks[0].stack_id, 11);
    CHECK_EQ_U64(aggregate.peak_time_ns, 6);
    CHECK_EQ_U64(aggregate.free_count, 9);
    aggregate_chunk_release(&aggregate);
}

int main(void)
{
    RUN_TEST(test_blocks_and_families);
    RUN_TEST(test_stack_figures_at_peak);
    RUN_TEST(test_new_reference_and_total_frames);
    RUN_TEST(test_recording_without_a_file);
    RUN_TEST(test_aggregate_capture);
    RUN_TEST(test_aggregate_snapshot_before_stop_reads_truncated);
    RUN_TEST(test_aggregate_ignores_a_planted_temporary_link);
    RUN_TEST(test_damaged_aggregate_payload);
    return test_harness_exit_code();
}
