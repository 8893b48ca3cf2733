/* The one-pass analysis on known streams: the peak snapshot, leaks,
 * mappings cut by partial munmaps, realloc, the histogram, locations and
 * times. (test_analysis_model.c checks random streams against a model.) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/analysis/capture_analysis.h"
#include "core/base/tracker_memory.h"
#include "tests/c/analysis/analysis_fixture.h"
#include "tests/c/capture_builder.h"
#include "tests/c/test_harness.h"

static void test_totals_allocators_histogram(void)
{
    struct fixture fixture;
    fixture_begin(&fixture, 0);
    builder_alloc(&fixture.builder, ALLOCATOR_MALLOC, 0x1000, 0, 1);
    builder_alloc(&fixture.builder, ALLOCATOR_MALLOC, 0x2000, 1, 1);
    builder_alloc(&fixture.builder, ALLOCATOR_CALLOC, 0x3000, 3, 1);
    builder_alloc(&fixture.builder, ALLOCATOR_PYMALLOC, 0x4000, 4, 2);
    builder_alloc(&fixture.builder, ALLOCATOR_MMAP, 0x100000, 8192, 2);
    builder_alloc(&fixture.builder, ALLOCATOR_MALLOC, 0x5000, 7, 0);
    if (fixture_analyse(&fixture, 0) == 0) {
        const struct analysis_summary *summary = fixture.summary;
        CHECK_EQ_U64(summary->allocation_count, 6);
        CHECK_EQ_U64(summary->allocated_bytes, 0 + 1 + 3 + 4 + 8192 + 7);
        CHECK_EQ_U64(summary->allocators[ALLOCATOR_MALLOC].count, 3);
        CHECK_EQ_U64(summary->allocators[ALLOCATOR_MALLOC].bytes, 8);
        CHECK_EQ_U64(summary->allocators[ALLOCATOR_CALLOC].count, 1);
        CHECK_EQ_U64(summary->allocators[ALLOCATOR_PYMALLOC].bytes, 4);
        CHECK_EQ_U64(summary->allocators[ALLOCATOR_MMAP].bytes, 8192);
        CHECK_EQ_U64(summary->allocators[ALLOCATOR_REALLOC].count, 0);
        CHECK_EQ_U64(summary->histogram[0], 1);  /* 0 */
        CHECK_EQ_U64(summary->histogram[1], 1);  /* 1 */
        CHECK_EQ_U64(summary->histogram[2], 1);  /* 2-3: 3 */
        CHECK_EQ_U64(summary->histogram[3], 2);  /* 4-7: 4, 7 */
        CHECK_EQ_U64(summary->histogram[14], 1); /* 8192-16383 */
        CHECK_EQ_U64(summary->peak_bytes, summary->allocated_bytes);
        CHECK_EQ_U64(summary->peak_count, 6);
        CHECK_EQ_U64(summary->peak_event_index, 5);
        CHECK_EQ_U64(summary->leaked_bytes, summary->allocated_bytes);
        CHECK_EQ_U64(summary->event_count, 6);
        CHECK_EQ_U64(summary->end_time_ns, 1000000);
    }
    fixture_end(&fixture);
}

static void test_histogram_bounds(void)
{
    CHECK_EQ_U64(analysis_histogram_bucket(0), 0);
    CHECK_EQ_U64(analysis_histogram_bucket(1), 1);
    CHECK_EQ_U64(analysis_histogram_bucket(2), 2);
    CHECK_EQ_U64(analysis_histogram_bucket(3), 2);
    CHECK_EQ_U64(analysis_histogram_bucket(4), 3);
    CHECK_EQ_U64(analysis_histogram_bucket(1024), 11);
    CHECK_EQ_U64(analysis_histogram_bucket(UINT64_MAX), 64);
    for (unsigned bucket = 0; bucket < ANALYSIS_HISTOGRAM_BUCKETS; bucket++) {
        uint64_t min, max;
        analysis_histogram_bounds(bucket, &min, &max);
        CHECK_EQ_U64(analysis_histogram_bucket(min), bucket);
        CHECK_EQ_U64(analysis_histogram_bucket(max), bucket);
        if (bucket > 0 && bucket < 64) {
            CHECK_EQ_U64(analysis_histogram_bucket(max + 1), bucket + 1);
        }
    }
}

static void test_peak_snapshot_exact(void)
{
    struct fixture fixture;
    fixture_begin(&fixture, 0);
    struct capture_builder *builder = &fixture.builder;
    builder_alloc(builder, ALLOCATOR_MALLOC, 0xA0, 100, 1); /* 100, peak */
    builder_alloc(builder, ALLOCATOR_MALLOC, 0xB0, 50, 2);  /* 150, peak */
    builder_time(builder, 10);
    builder_free(builder, 0xA0);                            /* 50 */
    builder_alloc(builder, ALLOCATOR_MALLOC, 0xC0, 80, 1);  /* 130 */
    builder_alloc(builder, ALLOCATOR_MALLOC, 0xD0, 30, 2);  /* 160, peak (event 5) */
    builder_free(builder, 0xB0);                            /* 110 */
    builder_time(builder, 20);
    builder_alloc(builder, ALLOCATOR_MALLOC, 0xB0, 50, 2);  /* 160 again: not a new peak */
    builder_free(builder, 0xC0);                            /* 80 */
    builder_alloc(builder, ALLOCATOR_MALLOC, 0xE0, 10, 1);  /* 90 */
    builder_free(builder, 0xB0);                            /* 40 */
    builder_time(builder, 30);
    if (fixture_analyse(&fixture, 0) == 0) {
        const struct analysis_summary *summary = fixture.summary;
        CHECK_EQ_U64(summary->peak_bytes, 160);
        CHECK_EQ_U64(summary->peak_count, 3);
        CHECK_EQ_U64(summary->peak_event_index, 5);
        CHECK_EQ_U64(summary->peak_time_ns, 20);
        check_stack(fixture.analysis, ANALYSIS_STACKS_AT_PEAK, 1, 80, 1);
        check_stack(fixture.analysis, ANALYSIS_STACKS_AT_PEAK, 2, 80, 2);
        check_stack(fixture.analysis, ANALYSIS_STACKS_LEAKED, 1, 10, 1);
        check_stack(fixture.analysis, ANALYSIS_STACKS_LEAKED, 2, 30, 1);
        CHECK_EQ_U64(summary->leaked_bytes, 40);
        CHECK_EQ_U64(summary->leaked_count, 2);
        CHECK_EQ_U64(summary->free_count, 4);
        CHECK_EQ_U64(summary->unmatched_frees, 0);
        struct analysis_stack_entry *entries;
        size_t count = 0;
        CHECK(capture_analysis_stack_entries(fixture.analysis, ANALYSIS_STACKS_AT_PEAK, &entries,
                                             &count) == 0);
        /* Equal bytes: the larger count first. */
        CHECK(count == 2 && entries[0].stack_id == 2 && entries[1].stack_id == 1);
        capture_analysis_stack_entries_free(entries, count);
    }
    fixture_end(&fixture);
}

static void test_leaks_and_unmatched_frees(void)
{
    struct fixture fixture;
    fixture_begin(&fixture, 0);
    struct capture_builder *builder = &fixture.builder;
    builder_alloc(builder, ALLOCATOR_MALLOC, 0x10, 10, 1);
    builder_alloc(builder, ALLOCATOR_PYMALLOC, 0x20, 20, 2);
    builder_free(builder, 0x999);          /* unknown */
    builder_free(builder, 0x20);           /* a pymalloc block: not the malloc family's */
    builder_pymalloc_free(builder, 0x10);  /* a malloc block: not pymalloc's */
    builder_munmap(builder, 0x10, 4096);   /* not a mapping */
    builder_alloc(builder, ALLOCATOR_MALLOC, 0x10, 5, 4); /* address reused: replaces */
    if (fixture_analyse(&fixture, 0) == 0) {
        const struct analysis_summary *summary = fixture.summary;
        CHECK_EQ_U64(summary->unmatched_frees, 4);
        CHECK_EQ_U64(summary->free_count, 0);
        CHECK_EQ_U64(summary->leaked_bytes, 25);
        CHECK_EQ_U64(summary->leaked_count, 2);
        CHECK_EQ_U64(summary->peak_bytes, 30);
        check_stack(fixture.analysis, ANALYSIS_STACKS_LEAKED, 1, 0, 0);
        check_stack(fixture.analysis, ANALYSIS_STACKS_LEAKED, 2, 20, 1);
        check_stack(fixture.analysis, ANALYSIS_STACKS_LEAKED, 4, 5, 1);
    }
    fixture_end(&fixture);
}

/* Sizes too large to pack with the stack id go to the side array. */
static void test_large_blocks(void)
{
    struct fixture fixture;
    fixture_begin(&fixture, 0);
    struct capture_builder *builder = &fixture.builder;
    uint64_t huge = UINT64_C(1) << 40;
    builder_alloc(builder, ALLOCATOR_MALLOC, 0x10, huge, 1);
    builder_alloc(builder, ALLOCATOR_PYMALLOC, 0x20, huge + 1, 2);
    builder_alloc(builder, ALLOCATOR_MALLOC, 0x30, 7, 3);
    builder_free(builder, 0x10);
    builder_alloc(builder, ALLOCATOR_MALLOC, 0x40, huge * 2, 4); /* reuses the side slot */
    builder_alloc(builder, ALLOCATOR_MALLOC, 0x20, 5, 1);        /* not pymalloc's block */
    builder_alloc(builder, ALLOCATOR_MALLOC, UINT64_MAX, 9, 1);  /* counted, not kept */
    builder_free(builder, UINT64_MAX);
    if (fixture_analyse(&fixture, 0) == 0) {
        const struct analysis_summary *summary = fixture.summary;
        CHECK_EQ_U64(summary->peak_bytes, 3 * huge + 1 + 7 + 5);
        CHECK_EQ_U64(summary->leaked_bytes, 3 * huge + 1 + 7 + 5);
        CHECK_EQ_U64(summary->leaked_count, 4);
        CHECK_EQ_U64(summary->unmatched_frees, 1);
        CHECK_EQ_U64(summary->allocation_count, 6);
        check_stack(fixture.analysis, ANALYSIS_STACKS_LEAKED, 1, 5, 1);
        check_stack(fixture.analysis, ANALYSIS_STACKS_LEAKED, 2, huge + 1, 1);
        check_stack(fixture.analysis, ANALYSIS_STACKS_LEAKED, 4, huge * 2, 1);
        check_stack(fixture.analysis, ANALYSIS_STACKS_AT_PEAK, 1, 5, 1);
    }
    fixture_end(&fixture);
}

static void test_realloc(void)
{
    struct fixture fixture;
    fixture_begin(&fixture, 0);
    struct capture_builder *builder = &fixture.builder;
    builder_alloc(builder, ALLOCATOR_MALLOC, 0x1000, 100, 1);
    builder_free(builder, 0x1000); /* realloc(0x1000, 300) moved the block */
    builder_alloc(builder, ALLOCATOR_REALLOC, 0x8000, 300, 2);
    builder_free(builder, 0x8000); /* realloc in place to 200 */
    builder_alloc(builder, ALLOCATOR_REALLOC, 0x8000, 200, 2);
    if (fixture_analyse(&fixture, 0) == 0) {
        const struct analysis_summary *summary = fixture.summary;
        CHECK_EQ_U64(summary->allocators[ALLOCATOR_REALLOC].count, 2);
        CHECK_EQ_U64(summary->allocators[ALLOCATOR_REALLOC].bytes, 500);
        CHECK_EQ_U64(summary->peak_bytes, 300);
        CHECK_EQ_U64(summary->leaked_bytes, 200);
        CHECK_EQ_U64(summary->leaked_count, 1);
        check_stack(fixture.analysis, ANALYSIS_STACKS_LEAKED, 2, 200, 1);
    }
    fixture_end(&fixture);
}

static void test_partial_munmap(void)
{
    struct fixture fixture;
    fixture_begin(&fixture, 0);
    struct capture_builder *builder = &fixture.builder;
    uint64_t base = 0x7f0000000000ULL;
    builder_alloc(builder, ALLOCATOR_MMAP, base, 16 * PAGE, 1);           /* [0, 16) */
    builder_alloc(builder, ALLOCATOR_MMAP, base + 32 * PAGE, 8 * PAGE, 2); /* [32, 40) */
    builder_munmap(builder, base + 4 * PAGE, PAGE);       /* hole: [0,4) [5,16) */
    builder_munmap(builder, base - PAGE, 2 * PAGE);       /* head: [1,4) [5,16) */
    builder_munmap(builder, base + 14 * PAGE, 20 * PAGE); /* across: [1,4) [5,14) [34,40) */
    builder_munmap(builder, base + 20 * PAGE, PAGE);      /* nothing there */
    builder_alloc(builder, ALLOCATOR_MREMAP, base + 2 * PAGE, 4 * PAGE, 4);
    /* MAP_FIXED over [2,6): [1,2) [2,6)new [6,14) [34,40) */
    if (fixture_analyse(&fixture, 0) == 0) {
        const struct analysis_summary *summary = fixture.summary;
        CHECK_EQ_U64(summary->peak_bytes, 24 * PAGE);
        CHECK_EQ_U64(summary->unmatched_frees, 1);
        CHECK_EQ_U64(summary->free_count, 3);
        CHECK_EQ_U64(summary->leaked_bytes, (1 + 4 + 8 + 6) * PAGE);
        check_stack(fixture.analysis, ANALYSIS_STACKS_LEAKED, 1, 9 * PAGE, 2);
        check_stack(fixture.analysis, ANALYSIS_STACKS_LEAKED, 2, 6 * PAGE, 1);
        check_stack(fixture.analysis, ANALYSIS_STACKS_LEAKED, 4, 4 * PAGE, 1);
        CHECK_EQ_U64(summary->leaked_count, 4);
    }
    fixture_end(&fixture);
}

static void test_munmap_of_everything(void)
{
    struct fixture fixture;
    fixture_begin(&fixture, 0);
    struct capture_builder *builder = &fixture.builder;
    for (uint64_t index = 0; index < 100; index++) {
        builder_alloc(builder, ALLOCATOR_MMAP, 0x100000 + index * 2 * PAGE, PAGE,
                      1 + index % 4);
    }
    builder_munmap(builder, 0, UINT64_MAX);
    builder_alloc(builder, ALLOCATOR_MMAP, UINT64_MAX - PAGE, 4 * PAGE, 1); /* saturates */
    if (fixture_analyse(&fixture, 0) == 0) {
        CHECK_EQ_U64(fixture.summary->peak_bytes, 100 * PAGE);
        CHECK_EQ_U64(fixture.summary->leaked_bytes, PAGE);
        CHECK_EQ_U64(fixture.summary->leaked_count, 1);
    }
    fixture_end(&fixture);
}

/* Checks one top-list entry. */
static void check_entry(const struct fixture *fixture, const struct analysis_location *location,
                        enum analysis_ranking ranking, const char *function, const char *file,
                        uint32_t line, uint64_t bytes, uint64_t count)
{
    const char *actual_function, *actual_file;
    size_t function_size, file_size;
    capture_analysis_location_names(fixture->analysis, location, &actual_function,
                                    &function_size, &actual_file, &file_size);
    uint64_t actual_bytes, actual_count;
    analysis_location_figures(location, ranking, &actual_bytes, &actual_count);
    int same = strcmp(actual_function, function) == 0 && strcmp(actual_file, file) == 0 &&
               location->line == line && actual_bytes == bytes && actual_count == count;
    if (!same) {
        fprintf(stderr, "entry %s %s:%u %llu/%llu, expected %s %s:%u %llu/%llu\n",
                actual_function, actual_file, location->line, (unsigned long long)actual_bytes,
                (unsigned long long)actual_count, function, file, line,
                (unsigned long long)bytes, (unsigned long long)count);
    }
    CHECK(same);
}

static void test_locations(void)
{
    struct fixture fixture;
    fixture_begin(&fixture, 0);
    struct capture_builder *builder = &fixture.builder;
    builder_alloc(builder, ALLOCATOR_MALLOC, 0x100, 100, 1); /* alpha:10 */
    builder_alloc(builder, ALLOCATOR_MALLOC, 0x200, 200, 3); /* alpha:10 via beta */
    builder_alloc(builder, ALLOCATOR_MALLOC, 0x300, 250, 2); /* beta:20 */
    builder_alloc(builder, ALLOCATOR_MALLOC, 0x400, 5, 0);   /* no Python frame */
    builder_alloc(builder, ALLOCATOR_MALLOC, 0x401, 5, 0);
    builder_alloc(builder, ALLOCATOR_MALLOC, 0x402, 5, 0);
    builder_alloc(builder, ALLOCATOR_MALLOC, 0x500, 250, 4); /* alpha:11, ties beta */
    builder_alloc(builder, ALLOCATOR_MALLOC, 0x600, 100, 4); /* alpha:11, ties alpha:10 */
    builder_free(builder, 0x200);
    builder_free(builder, 0x500);
    if (fixture_analyse(&fixture, 0) == 0) {
        const struct analysis_location *top[10];
        long count = capture_analysis_top_locations(fixture.analysis, ANALYSIS_BY_PEAK, 10, top);
        CHECK_EQ_U64(count, 4);
        if (count == 4) {
            check_entry(&fixture, top[0], ANALYSIS_BY_PEAK, "alpha", "a.py", 11, 350, 2);
            check_entry(&fixture, top[1], ANALYSIS_BY_PEAK, "alpha", "a.py", 10, 300, 2);
            check_entry(&fixture, top[2], ANALYSIS_BY_PEAK, "beta", "b.py", 20, 250, 1);
            check_entry(&fixture, top[3], ANALYSIS_BY_PEAK, "<no Python frame>", "", 0, 15, 3);
        }
        count = capture_analysis_top_locations(fixture.analysis, ANALYSIS_BY_COUNT, 2, top);
        CHECK_EQ_U64(count, 2);
        if (count == 2) {
            check_entry(&fixture, top[0], ANALYSIS_BY_COUNT, "<no Python frame>", "", 0, 15, 3);
            check_entry(&fixture, top[1], ANALYSIS_BY_COUNT, "alpha", "a.py", 11, 350, 2);
        }
        count = capture_analysis_top_locations(fixture.analysis, ANALYSIS_LEAKS, 10, top);
        CHECK_EQ_U64(count, 4);
        if (count == 4) {
            check_entry(&fixture, top[0], ANALYSIS_LEAKS, "beta", "b.py", 20, 250, 1);
            check_entry(&fixture, top[1], ANALYSIS_LEAKS, "alpha", "a.py", 10, 100, 1);
            check_entry(&fixture, top[2], ANALYSIS_LEAKS, "alpha", "a.py", 11, 100, 1);
            check_entry(&fixture, top[3], ANALYSIS_LEAKS, "<no Python frame>", "", 0, 15, 3);
        }
        count = capture_analysis_top_locations(fixture.analysis, ANALYSIS_BY_TOTAL, 1, top);
        CHECK_EQ_U64(count, 1);
        if (count == 1) {
            check_entry(&fixture, top[0], ANALYSIS_BY_TOTAL, "alpha", "a.py", 11, 350, 2);
        }
        CHECK_EQ_U64(capture_analysis_top_locations(fixture.analysis, ANALYSIS_LEAKS, 0, top), 0);
    }
    fixture_end(&fixture);
}

static void test_times_rss_gc(void)
{
    struct fixture fixture;
    fixture_begin(&fixture, HEADER_FLAG_TRACK_GC);
    struct capture_builder *builder = &fixture.builder;
    builder_rss(builder, 500, 0, 0);             /* time 0 */
    builder_time(builder, 100);
    builder_rss(builder, 4000, 0, 0);            /* time 100 */
    builder_alloc(builder, ALLOCATOR_MALLOC, 0x10, 1000, 1);
    builder_gc(builder, 0, 10, 0, 300);
    builder_gc(builder, 2, 5, 1, 700);
    builder_time(builder, 200);                  /* the peak's time */
    builder_rss(builder, 1800, 0, 0);            /* time 200: nearest the peak */
    builder_time(builder, 300);
    builder_rss(builder, 9000, 0, 0);            /* time 300 */
    builder_snapshot(builder);
    if (fixture_analyse(&fixture, 0) == 0) {
        const struct analysis_summary *summary = fixture.summary;
        CHECK_EQ_U64(summary->peak_time_ns, 200);
        CHECK_EQ_U64(summary->rss_sample_count, 4);
        CHECK_EQ_U64(summary->rss_peak_bytes, 9000);
        CHECK(summary->has_untracked_rss);
        CHECK_EQ_U64(summary->untracked_rss_bytes, 800);
        CHECK_EQ_U64(summary->gc_collections, 2);
        CHECK_EQ_U64(summary->gc_pause_ns, 1000);
        CHECK_EQ_U64(summary->gc_generations[0].collections, 1);
        CHECK_EQ_U64(summary->gc_generations[0].collected, 10);
        CHECK_EQ_U64(summary->gc_generations[1].collections, 0);
        CHECK_EQ_U64(summary->gc_generations[2].uncollectable, 1);
        CHECK_EQ_U64(summary->gc_generations[2].pause_ns, 700);
        CHECK_EQ_U64(summary->snapshot_count, 1);
        size_t count = 0;
        const struct analysis_point *samples =
            capture_analysis_rss_series(fixture.analysis, &count);
        CHECK(count == 4 && samples[0].time_ns == 0 && samples[1].time_ns == 100 &&
              samples[3].time_ns == 300);
    }
    fixture_end(&fixture);

    /* No OP_TIME after the peak: the end time; no samples: nothing untracked. */
    fixture_begin(&fixture, 0);
    builder_time(&fixture.builder, 50);
    builder_alloc(&fixture.builder, ALLOCATOR_MALLOC, 0x10, 1000, 1);
    if (fixture_analyse(&fixture, 0) == 0) {
        CHECK_EQ_U64(fixture.summary->peak_time_ns, 1000000);
        CHECK(!fixture.summary->has_untracked_rss);
    }
    fixture_end(&fixture);
}

static void test_truncated_and_damaged_captures(void)
{
    struct fixture fixture;
    fixture_begin(&fixture, 0);
    builder_alloc(&fixture.builder, ALLOCATOR_MALLOC, 0x10, 64, 1);
    builder_time(&fixture.builder, 70);
    if (fixture_analyse(&fixture, 1) == 0) {
        CHECK(capture_reader_truncated(fixture.reader));
        CHECK_EQ_U64(fixture.summary->leaked_bytes, 64);
        CHECK_EQ_U64(fixture.summary->end_time_ns, 70);
        CHECK_EQ_U64(fixture.summary->peak_time_ns, 70);
    }
    fixture_end(&fixture);

    fixture_begin(&fixture, 0);
    builder_alloc(&fixture.builder, ALLOCATOR_MALLOC, 0x10, 64, 9);
    builder_flush_chunk(&fixture.builder);
    builder_finish(&fixture.builder, 10, 0);
    struct capture_error error;
    struct capture_reader *reader = capture_reader_open_memory(
        fixture.builder.file.data, fixture.builder.file.size, &error);
    CHECK(reader != NULL);
    CHECK(capture_analysis_run(reader, &error) == NULL);
    CHECK(strstr(error.message, "stack id 9 is not defined") != NULL);
    CHECK_EQ_U64(error.os_errno, 0);
    capture_reader_close(reader);
    fixture_end(&fixture);
}

static void test_memory_returns(void)
{
    uint64_t before = tracker_memory_current();
    struct fixture fixture;
    fixture_begin(&fixture, 0);
    for (uint64_t index = 0; index < 5000; index++) {
        builder_alloc(&fixture.builder, ALLOCATOR_MALLOC, index * 16, index, index % 5);
    }
    fixture_analyse(&fixture, 0);
    fixture_end(&fixture);
    CHECK_EQ_U64(tracker_memory_current(), before);
}

/* An interval holds its estimate whatever the variance or rounding, and
 * figures saturate instead of wrapping (a rate of 1e-12 once gave
 * estimates near 2^64 with the interval [0, 0]). */
static void test_intervals_hold_their_estimate(void)
{
    const struct estimate cases[] = {
        {1e25, 1e12, 1e50, 4096},      /* beyond 2^64 */
        {100, 1, 0, 150},              /* observed above the estimate by rounding */
        {5e18, 1, INFINITY, 10},       /* a spread no double holds */
        {1e6, 1, NAN, 10},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        double low, high;
        estimate_interval(&cases[index], &low, &high);
        CHECK(low <= cases[index].bytes && cases[index].bytes <= high);
        uint64_t figure = estimate_figure(cases[index].bytes);
        CHECK(estimate_figure(low) <= figure && figure <= estimate_figure(high));
    }
    CHECK_EQ_U64(estimate_figure(1e25), UINT64_MAX);
    CHECK_EQ_U64(estimate_figure(18446744073709551616.0), UINT64_MAX);
    CHECK_EQ_U64(estimate_figure(-5), 0);
    CHECK_EQ_U64(estimate_figure(NAN), 0);
    CHECK_EQ_U64(estimate_figure(2.5), 3);
    CHECK_EQ_U64(estimate_figure(9223372036854775808.0), UINT64_C(1) << 63); /* past llround */
}

int main(void)
{
    RUN_TEST(test_totals_allocators_histogram);
    RUN_TEST(test_histogram_bounds);
    RUN_TEST(test_peak_snapshot_exact);
    RUN_TEST(test_leaks_and_unmatched_frees);
    RUN_TEST(test_large_blocks);
    RUN_TEST(test_realloc);
    RUN_TEST(test_partial_munmap);
    RUN_TEST(test_munmap_of_everything);
    RUN_TEST(test_locations);
    RUN_TEST(test_times_rss_gc);
    RUN_TEST(test_truncated_and_damaged_captures);
    RUN_TEST(test_memory_returns);
    RUN_TEST(test_intervals_hold_their_estimate);
    return test_harness_exit_code();
}
