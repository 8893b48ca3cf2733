/*
 * The live table under sampling: each block is weighted by 1/p, its free
 * removes the same weight (the weighted figures return to exactly zero),
 * an EVENT_SAMPLING changes the weights of later blocks, and a sampled
 * --aggregate capture carries the estimates to the analysis (sampled
 * summary with estimates of the whole, per location too).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/format/aggregate_chunk.h"
#include "core/analysis/capture_analysis.h"
#include "core/format/capture_format.h"
#include "core/format/capture_reader.h"
#include "core/recording/event_buffer.h"
#include "core/recording/live_table.h"
#include "core/recording/recorder.h"
#include "tests/c/test_harness.h"

#define MEAN 1024

static void apply(uint8_t kind, uint8_t allocator, uint64_t address, uint64_t size,
                  uint32_t stack_id)
{
    struct recorded_event event = {.address = address, .size = size, .value = stack_id,
                                   .kind = kind, .allocator = allocator};
    live_table_lock();
    live_table_apply(&event);
    live_table_unlock();
}

/* What a block of size bytes stands for under byte sampling of mean MEAN. */
static double weight_of(uint64_t size)
{
    return 1.0 / -expm1(-(double)size / MEAN);
}

static int close_to(double value, double expected)
{
    return fabs(value - expected) <= 1e-9 * (fabs(expected) + 1.0);
}

/* Finds stack_id among stacks; NULL when absent. */
static const struct live_table_stack *find_stack(const struct live_table_stack *stacks,
                                                 size_t count, uint32_t stack_id)
{
    for (size_t index = 0; index < count; index++) {
        if (stacks[index].stack_id == stack_id) {
            return &stacks[index];
        }
    }
    return NULL;
}

/* Checks one stack's weighted live bytes and total bytes. */
static void check_stack(uint32_t stack_id, double live_bytes, double total_bytes)
{
    struct live_table_stack *stacks;
    size_t count;
    CHECK(live_table_copy_stacks(&stacks, &count) == 0);
    const struct live_table_stack *stack = find_stack(stacks, count, stack_id);
    CHECK(stack != NULL);
    if (stack) {
        CHECK(live_bytes == 0.0 ? stack->weighted_live.bytes == 0.0
                                : close_to(stack->weighted_live.bytes, live_bytes));
        CHECK(live_bytes != 0.0 || stack->weighted_live.count == 0.0);
        CHECK(live_bytes != 0.0 || stack->weighted_live.bytes_variance == 0.0);
        CHECK(close_to(stack->weighted_total.bytes, total_bytes));
    }
    live_table_free_stacks(stacks, count);
}

static void test_weighted_blocks_return_to_zero(void)
{
    live_table_enable();
    live_table_set_sampling(1, MEAN);
    apply(EVENT_ALLOCATION, ALLOCATOR_MALLOC, 0x1000, 100, 1);
    apply(EVENT_ALLOCATION, ALLOCATOR_MALLOC, 0x2000, 3000, 1);
    apply(EVENT_ALLOCATION, ALLOCATOR_PYMALLOC, 0x3000, 48, 2);
    apply(EVENT_ALLOCATION, ALLOCATOR_MMAP, 0x10000, 8192, 2);
    double stack_one = 100 * weight_of(100) + 3000 * weight_of(3000);
    double stack_two = 48 * weight_of(48) + 8192 * weight_of(8192);
    struct live_table_totals totals;
    live_table_get_totals(&totals);
    CHECK(totals.sampled);
    CHECK(close_to(totals.weighted_heap.bytes, stack_one + stack_two));
    CHECK(close_to(totals.weighted_heap.count, weight_of(100) + weight_of(3000) +
                                                   weight_of(48) + weight_of(8192)));
    CHECK(close_to(totals.weighted_heap.observed_bytes, 100 + 3000 + 48 + 8192));
    double variance = 100.0 * 100.0 * (1 - 1 / weight_of(100)) * weight_of(100) * weight_of(100);
    CHECK(totals.weighted_heap.bytes_variance > variance);
    CHECK(totals.weighted_heap.bytes > totals.current_bytes);
    check_stack(1, stack_one, stack_one);

    apply(EVENT_FREE, 0, 0x1000, 0, 0);
    apply(EVENT_FREE, 0, 0x2000, 0, 0);
    apply(EVENT_FREE_PYMALLOC, 0, 0x3000, 0, 0);
    apply(EVENT_MUNMAP, 0, 0x10000, 4096, 0); /* trims: the rest keeps its weight */
    check_stack(1, 0.0, stack_one);
    check_stack(2, 4096 * weight_of(8192), stack_two);
    apply(EVENT_MUNMAP, 0, 0x11000, 4096, 0);
    check_stack(2, 0.0, stack_two);
    live_table_get_totals(&totals);
    CHECK(totals.weighted_heap.bytes == 0.0 && totals.weighted_heap.count == 0.0);
    CHECK(totals.weighted_heap.bytes_variance == 0.0);
    CHECK(totals.weighted_heap.observed_bytes == 0.0);
    CHECK(close_to(totals.weighted_peak.bytes, stack_one + stack_two));
    CHECK(close_to(totals.weighted_allocated.bytes, stack_one + stack_two));
    CHECK_EQ_U64(totals.current_bytes, 0);
    live_table_disable();
}

static void test_sampling_event_changes_weights(void)
{
    live_table_enable();
    apply(EVENT_ALLOCATION, ALLOCATOR_MALLOC, 0x1000, 100, 1);
    struct live_table_totals totals;
    live_table_get_totals(&totals);
    CHECK(!totals.sampled);
    CHECK(totals.weighted_heap.bytes == 100.0 && totals.weighted_heap.bytes_variance == 0.0);
    apply(EVENT_SAMPLING, 2, 0, 10, 0); /* one allocation in 10 from here on */
    apply(EVENT_ALLOCATION, ALLOCATOR_MALLOC, 0x2000, 100, 1);
    live_table_get_totals(&totals);
    CHECK(totals.sampled);
    CHECK(close_to(totals.weighted_heap.bytes, 100.0 + 1000.0));
    CHECK(close_to(totals.weighted_heap.count, 11.0));
    CHECK(close_to(totals.weighted_heap.bytes_variance, 100.0 * 100.0 * 90.0));
    apply(EVENT_FREE, 0, 0x2000, 0, 0);
    live_table_get_totals(&totals);
    CHECK(close_to(totals.weighted_heap.bytes, 100.0));
    live_table_disable();
}

/* Records into an aggregate capture sampled by bytes of mean MEAN (the
 * recorder keeps every event it gets: the hooks do the sampling). */
static int record_sampled_aggregate(const char *path, uint32_t *stack)
{
    struct recorder_options options = {
        .path = path, .overwrite = 1, .pid = (uint64_t)getpid(), .python_version = "3.11.7",
        .command = "test_live_table_sampling", .max_stack_depth = 16, .sample_rate = 1.0,
        .sample_interval = MEAN, .aggregate_interval_ns = 1000000,
    };
    char error[256];
    if (recorder_start(&options, error, sizeof error) < 0) {
        fprintf(stderr, "recorder_start: %s\n", error);
        return -1;
    }
    uint32_t frame = recorder_intern_frame(recorder_intern_string("g", 1),
                                           recorder_intern_string("y.py", 4), 9, 0);
    *stack = recorder_intern_stack(0, frame);
    for (uintptr_t index = 0; index < 10; index++) {
        recorder_record_allocation(ALLOCATOR_MALLOC, 0x5000 + index * 0x1000, 500, *stack);
    }
    recorder_record_free(0x5000);
    return recorder_stop(error, sizeof error);
}

static void test_sampled_aggregate_capture(void)
{
    char path[] = "/tmp/memlyze_test_live_table_sampling_XXXXXX";
    int descriptor = mkstemp(path);
    CHECK(descriptor >= 0);
    close(descriptor);
    uint32_t stack = 0;
    CHECK(record_sampled_aggregate(path, &stack) == 0);
    struct capture_error error;
    struct capture_reader *reader = capture_reader_open(path, &error);
    CHECK(reader != NULL);
    struct capture_analysis *analysis = reader ? capture_analysis_run(reader, &error) : NULL;
    CHECK(analysis != NULL);
    if (analysis) {
        const struct analysis_summary *summary = capture_analysis_summary(analysis);
        double share = 500 * weight_of(500);
        CHECK(summary->sampled && summary->aggregated);
        CHECK(close_to(summary->estimated_allocated.bytes, 10 * share));
        CHECK(close_to(summary->estimated_at_peak.bytes, 10 * share));
        CHECK(close_to(summary->estimated_leaked.bytes, 9 * share));
        CHECK(summary->estimated_leaked.bytes_variance > 0.0);
        CHECK_EQ_U64(summary->peak_bytes, (uint64_t)llround(10 * share));
        const struct analysis_location *locations[2];
        long count = capture_analysis_top_locations(analysis, ANALYSIS_BY_PEAK, 2, locations);
        CHECK(count == 1);
        CHECK(count == 1 && close_to(locations[0]->estimated_total.bytes, 10 * share));
        CHECK(count == 1 && close_to(locations[0]->estimated_peak.count, 10 * weight_of(500)));
        CHECK(count == 1 && locations[0]->leaked_bytes == (uint64_t)llround(9 * share));
    }
    capture_analysis_free(analysis);
    capture_reader_close(reader);
    unlink(path);
}

static void test_damaged_estimates_section(void)
{
    /* the figures, one stack, then the estimates tag with too few bytes */
    const uint8_t payload[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0};
    struct capture_aggregate aggregate;
    char reason[128];
    CHECK(aggregate_chunk_decode(payload, sizeof payload, 10, &aggregate, reason,
                                 sizeof reason) == -1);
    CHECK(strstr(reason, "estimates are cut short") != NULL);
    const uint8_t unknown[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 7};
    CHECK(aggregate_chunk_decode(unknown, sizeof unknown, 10, &aggregate, reason,
                                 sizeof reason) == -1);
    CHECK(strstr(reason, "aggregate section 7") != NULL);
    const uint8_t none[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 0};
    CHECK(aggregate_chunk_decode(none, sizeof none, 10, &aggregate, reason, sizeof reason) == 0);
    CHECK(!aggregate.estimated);
    aggregate_chunk_release(&aggregate);
}

int main(void)
{
    RUN_TEST(test_weighted_blocks_return_to_zero);
    RUN_TEST(test_sampling_event_changes_weights);
    RUN_TEST(test_sampled_aggregate_capture);
    RUN_TEST(test_damaged_estimates_section);
    return test_harness_exit_code();
}
