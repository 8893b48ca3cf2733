/* The report engine on known streams: every selection, threads, trees
 * (plain, inverted, split by thread, filtered, bounded), temporal intervals,
 * the heap series and the pprof export; and the peak against a brute-force
 * model on random streams. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/c/capture_builder.h"
#include "core/reports/report_collection.h"
#include "core/reports/export_pprof.h"
#include "core/reports/report_tree.h"
#include "tests/c/test_harness.h"

#define MALLOC 0
#define MMAP 9
#define MS 1000000u

struct fixture {
    struct capture_builder builder;
    struct capture_reader *reader;
    struct report_collection *collection;
};

/* Strings 1 main, 2 work, 3 helper, 4 app.py, 5 lib.py, 6 T1, 7 T2; frames
 * 1 main app.py:1, 2 work app.py:2, 3 helper lib.py:3; stacks 1 main, 2 work
 * <- main, 3 helper <- work <- main, 4 helper <- main. */
static void fixture_begin(struct fixture *fixture)
{
    memset(fixture, 0, sizeof *fixture);
    struct capture_builder *builder = &fixture->builder;
    builder_init(builder);
    builder_default_header(builder, 0);
    const char *strings[] = {"main", "work", "helper", "app.py", "lib.py", "T1", "T2"};
    for (size_t i = 0; i < sizeof strings / sizeof *strings; i++) {
        builder_string(builder, strings[i]);
    }
    builder_frame(builder, 1, 4, 1, 0);
    builder_frame(builder, 2, 4, 2, 0);
    builder_frame(builder, 3, 5, 3, 0);
    builder_stack(builder, 0, 1);
    builder_stack(builder, 1, 2);
    builder_stack(builder, 2, 3);
    builder_stack(builder, 1, 3);
    builder_thread(builder, 1, 101, 6);
    builder_thread(builder, 2, 102, 7);
    builder_switch_thread(builder, 1);
}

static int fixture_collect(struct fixture *fixture, const struct analysis_options *options)
{
    struct capture_builder *builder = &fixture->builder;
    builder_flush_chunk(builder);
    builder_finish(builder, 100 * MS, 1);
    struct capture_error error;
    fixture->reader = capture_reader_open_memory(builder->file.data, builder->file.size, &error);
    CHECK(fixture->reader != NULL);
    if (!fixture->reader) {
        return -1;
    }
    fixture->collection = report_collect(fixture->reader, options, &error);
    CHECK(fixture->collection != NULL);
    return fixture->collection ? 0 : -1;
}

static void fixture_end(struct fixture *fixture)
{
    report_collection_free(fixture->collection);
    capture_reader_close(fixture->reader);
    builder_release(&fixture->builder);
}

/* The sum of a selection over the contexts of a stack (any thread). */
static struct analysis_figures stack_sum(const struct fixture *fixture, uint32_t stack_id,
                                       enum analysis_selection selection)
{
    struct analysis_figures sum = {0, 0};
    size_t count;
    const struct analysis_context_view *contexts = report_collection_contexts(fixture->collection, &count);
    for (size_t i = 0; i < count; i++) {
        if (contexts[i].stack_id == stack_id) {
            sum.bytes += contexts[i].selected[selection].bytes;
            sum.count += contexts[i].selected[selection].count;
        }
    }
    return sum;
}

/*
 * The stream of the selection tests (thread 1 unless said):
 *   t=10ms  alloc A 100 (stack 2), B 50 (stack 3)             heap 150
 *   snapshot 1
 *   t=20ms  alloc C 1000 (stack 3, thread 2)                  heap 1150 = peak
 *   t=30ms  free C; alloc D 7 (stack 4), free D at once       heap 150
 *   snapshot 2
 *   t=40ms  alloc E 300 (stack 1)                             heap 450
 *   end: A, B, E leaked.
 */
static void build_selection_stream(struct capture_builder *builder)
{
    builder_time(builder, 10 * MS);
    builder_alloc(builder, MALLOC, 0x1000, 100, 2);
    builder_alloc(builder, MALLOC, 0x2000, 50, 3);
    builder_snapshot(builder);
    builder_time(builder, 20 * MS);
    builder_switch_thread(builder, 2);
    builder_alloc(builder, MALLOC, 0x3000, 1000, 3);
    builder_switch_thread(builder, 1);
    builder_time(builder, 30 * MS);
    builder_free(builder, 0x3000);
    builder_alloc(builder, MALLOC, 0x4000, 7, 4);
    builder_free(builder, 0x4000);
    builder_snapshot(builder);
    builder_time(builder, 40 * MS);
    builder_alloc(builder, MMAP, 0x10000, 300, 1);
    builder_time(builder, 50 * MS);
}

static void test_selections(void)
{
    struct fixture fixture;
    fixture_begin(&fixture);
    build_selection_stream(&fixture.builder);
    struct analysis_options options;
    analysis_options_init(&options);
    options.snapshot_index = 2;
    options.range_start_ns = 35 * MS;
    if (fixture_collect(&fixture, &options) < 0) {
        fixture_end(&fixture);
        return;
    }
    const struct report_summary *summary = report_collection_summary(fixture.collection);
    CHECK_EQ_U64(summary->peak_bytes, 1150);
    CHECK_EQ_U64(summary->peak_count, 3);
    CHECK_EQ_U64(summary->peak_time_ns, 30 * MS);
    CHECK_EQ_U64(summary->total_bytes, 1457);
    CHECK_EQ_U64(summary->total_count, 5);
    CHECK_EQ_U64(summary->snapshot_count, 2);
    CHECK_EQ_U64(summary->end_time_ns, 100 * MS);
    CHECK_EQ_U64(stack_sum(&fixture, 3, ANALYSIS_SELECT_PEAK).bytes, 1050);
    CHECK_EQ_U64(stack_sum(&fixture, 2, ANALYSIS_SELECT_PEAK).bytes, 100);
    CHECK_EQ_U64(stack_sum(&fixture, 1, ANALYSIS_SELECT_PEAK).bytes, 0);
    CHECK_EQ_U64(stack_sum(&fixture, 1, ANALYSIS_SELECT_LEAKS).bytes, 300);
    CHECK_EQ_U64(stack_sum(&fixture, 3, ANALYSIS_SELECT_LEAKS).bytes, 50);
    CHECK_EQ_U64(stack_sum(&fixture, 4, ANALYSIS_SELECT_TEMPORARY).bytes, 7);
    CHECK_EQ_U64(stack_sum(&fixture, 3, ANALYSIS_SELECT_TEMPORARY).bytes, 1000); /* C: none between */
    CHECK_EQ_U64(stack_sum(&fixture, 3, ANALYSIS_SELECT_SNAPSHOT).bytes, 50);
    CHECK_EQ_U64(stack_sum(&fixture, 4, ANALYSIS_SELECT_SNAPSHOT).count, 0);
    CHECK_EQ_U64(stack_sum(&fixture, 1, ANALYSIS_SELECT_RANGE).bytes, 300);
    CHECK_EQ_U64(stack_sum(&fixture, 2, ANALYSIS_SELECT_RANGE).bytes, 0);
    CHECK_EQ_U64(stack_sum(&fixture, 3, ANALYSIS_SELECT_TOTAL).bytes, 1050);
    size_t points;
    const struct analysis_point *heap = report_collection_heap_series(fixture.collection, &points);
    CHECK_EQ_U64(points, 5);
    CHECK_EQ_U64(heap[1].time_ns, 20 * MS);
    CHECK_EQ_U64(heap[2].value, 1150); /* the largest heap of (20, 30] ms */
    fixture_end(&fixture);
}

/* The temporary threshold counts the allocations made in between. */
static void test_temporary_threshold(void)
{
    for (uint64_t threshold = 0; threshold <= 2; threshold++) {
        struct fixture fixture;
        fixture_begin(&fixture);
        builder_alloc(&fixture.builder, MALLOC, 0x1000, 10, 1);
        builder_alloc(&fixture.builder, MALLOC, 0x2000, 20, 2); /* one in between */
        builder_free(&fixture.builder, 0x1000);
        builder_free(&fixture.builder, 0x2000);                 /* none in between */
        struct analysis_options options;
        analysis_options_init(&options);
        options.temporary_threshold = threshold;
        if (fixture_collect(&fixture, &options) == 0) {
            CHECK_EQ_U64(stack_sum(&fixture, 2, ANALYSIS_SELECT_TEMPORARY).bytes, 20);
            CHECK_EQ_U64(stack_sum(&fixture, 1, ANALYSIS_SELECT_TEMPORARY).bytes, threshold >= 1 ? 10 : 0);
        }
        fixture_end(&fixture);
    }
}

/* Finds the node of a frame below parent; -1 when absent. */
static long child_with_frame(const struct report_tree *tree, long parent, uint32_t frame_id)
{
    for (size_t i = 0; i < tree->count; i++) {
        if (tree->nodes[i].parent == parent && tree->nodes[i].kind == REPORT_NODE_FRAME &&
            tree->nodes[i].frame_id == frame_id) {
            return (long)i;
        }
    }
    return -1;
}

/* Every node: bytes = self + children's bytes; parents come first. */
static void check_tree_sums(const struct report_tree *tree)
{
    for (size_t i = 0; i < tree->count; i++) {
        uint64_t bytes = tree->nodes[i].self_bytes, count = tree->nodes[i].self_count;
        for (size_t j = 0; j < tree->count; j++) {
            if (tree->nodes[j].parent == (int64_t)i) {
                CHECK(j > i);
                bytes += tree->nodes[j].bytes;
                count += tree->nodes[j].count;
            }
        }
        CHECK_EQ_U64(tree->nodes[i].bytes, bytes);
        CHECK_EQ_U64(tree->nodes[i].count, count);
    }
}

static void tree_options_init(struct report_tree_options *options, enum analysis_selection which)
{
    memset(options, 0, sizeof *options);
    options->filter.selection = which;
    options->max_nodes = 1000;
}

static void test_trees(void)
{
    struct fixture fixture;
    fixture_begin(&fixture);
    build_selection_stream(&fixture.builder);
    struct analysis_options options;
    analysis_options_init(&options);
    if (fixture_collect(&fixture, &options) < 0) {
        fixture_end(&fixture);
        return;
    }
    struct report_tree_options tree_options;
    tree_options_init(&tree_options, ANALYSIS_SELECT_PEAK);
    struct report_tree tree;
    CHECK(report_tree_build(fixture.collection, &tree_options, &tree) == 0);
    CHECK_EQ_U64(tree.count, 4); /* root, main, work, helper */
    CHECK_EQ_U64(tree.nodes[0].bytes, 1150);
    long main_node = child_with_frame(&tree, 0, 1);
    long work_node = child_with_frame(&tree, main_node, 2);
    long helper_node = child_with_frame(&tree, work_node, 3);
    CHECK(main_node == 1 && work_node > 0 && helper_node > 0);
    if (helper_node > 0) {
        CHECK_EQ_U64(tree.nodes[work_node].self_bytes, 100);
        CHECK_EQ_U64(tree.nodes[helper_node].bytes, 1050);
    }
    CHECK(!tree.truncated);
    check_tree_sums(&tree);
    report_tree_release(&tree);

    tree_options.inverted = 1;
    CHECK(report_tree_build(fixture.collection, &tree_options, &tree) == 0);
    helper_node = child_with_frame(&tree, 0, 3);
    CHECK(helper_node == 1); /* the largest child comes first */
    CHECK(helper_node > 0 && tree.nodes[helper_node].bytes == 1050);
    check_tree_sums(&tree);
    report_tree_release(&tree);

    tree_options.inverted = 0;
    tree_options.split_threads = 1;
    CHECK(report_tree_build(fixture.collection, &tree_options, &tree) == 0);
    CHECK(tree.nodes[1].kind == REPORT_NODE_THREAD && tree.nodes[1].thread_id == 2);
    CHECK_EQ_U64(tree.nodes[1].bytes, 1000);
    check_tree_sums(&tree);
    report_tree_release(&tree);
    fixture_end(&fixture);
}

static void test_filters_and_bounding(void)
{
    struct fixture fixture;
    fixture_begin(&fixture);
    build_selection_stream(&fixture.builder);
    struct analysis_options options;
    analysis_options_init(&options);
    if (fixture_collect(&fixture, &options) < 0) {
        fixture_end(&fixture);
        return;
    }
    struct report_tree_options tree_options;
    tree_options_init(&tree_options, ANALYSIS_SELECT_TOTAL);
    const char *exclude[] = {"lib.py"};
    tree_options.filter.exclude = exclude;
    tree_options.filter.exclude_count = 1;
    struct report_tree tree;
    CHECK(report_tree_build(fixture.collection, &tree_options, &tree) == 0);
    CHECK_EQ_U64(tree.nodes[0].bytes, 400); /* A and E: no helper frame */
    report_tree_release(&tree);

    const char *include[] = {"wor?"};
    tree_options.filter.exclude_count = 0;
    tree_options.filter.include = include;
    tree_options.filter.include_count = 1;
    tree_options.filter.has_thread = 1;
    tree_options.filter.thread_id = 1;
    CHECK(report_tree_build(fixture.collection, &tree_options, &tree) == 0);
    CHECK_EQ_U64(tree.nodes[0].bytes, 150); /* A and B of thread 1 */
    report_tree_release(&tree);

    tree_options.filter.include_count = 0;
    tree_options.filter.has_thread = 0;
    tree_options.other_fraction = 0.1; /* folds what is below 145.7 bytes */
    CHECK(report_tree_build(fixture.collection, &tree_options, &tree) == 0);
    CHECK(tree.truncated);
    CHECK_EQ_U64(tree.other_threshold, 146);
    int others = 0;
    for (size_t i = 0; i < tree.count; i++) {
        others += tree.nodes[i].kind == REPORT_NODE_OTHER;
        CHECK(tree.nodes[i].kind == REPORT_NODE_OTHER || tree.nodes[i].bytes >= 146);
    }
    CHECK(others >= 1);
    CHECK_EQ_U64(tree.nodes[0].bytes, 1457);
    check_tree_sums(&tree);
    report_tree_release(&tree);

    tree_options.other_fraction = 0;
    tree_options.max_nodes = 4; /* at most 2 kept nodes */
    CHECK(report_tree_build(fixture.collection, &tree_options, &tree) == 0);
    size_t kept = 0;
    for (size_t i = 0; i < tree.count; i++) {
        kept += tree.nodes[i].kind != REPORT_NODE_OTHER;
    }
    CHECK(kept <= 2);
    CHECK(tree.folded_bytes > 14);
    check_tree_sums(&tree);
    report_tree_release(&tree);

    /* The same budget, but never more than 1% (14 bytes) folded: it gives way. */
    tree_options.max_folded_fraction = 0.01;
    CHECK(report_tree_build(fixture.collection, &tree_options, &tree) == 0);
    uint64_t other_bytes = 0;
    kept = 0;
    for (size_t i = 0; i < tree.count; i++) {
        other_bytes += tree.nodes[i].kind == REPORT_NODE_OTHER ? tree.nodes[i].bytes : 0;
        kept += tree.nodes[i].kind != REPORT_NODE_OTHER;
    }
    CHECK(tree.folded_bytes <= 14);
    CHECK_EQ_U64(tree.folded_bytes, other_bytes);
    CHECK(kept > 2);
    CHECK_EQ_U64(tree.nodes[0].bytes, 1457);
    check_tree_sums(&tree);
    report_tree_release(&tree);

    /* What the user asks for (other_fraction) still folds past the cap. */
    tree_options.other_fraction = 0.9; /* folds work (1150 bytes) under main (1457) */
    CHECK(report_tree_build(fixture.collection, &tree_options, &tree) == 0);
    CHECK(tree.truncated && tree.folded_bytes > 14 && tree.folded_count >= 1);
    check_tree_sums(&tree);
    report_tree_release(&tree);
    fixture_end(&fixture);
}

static void test_temporal_intervals(void)
{
    struct fixture fixture;
    fixture_begin(&fixture);
    build_selection_stream(&fixture.builder);
    struct analysis_options options;
    analysis_options_init(&options);
    options.temporal = 1;
    if (fixture_collect(&fixture, &options) < 0) {
        fixture_end(&fixture);
        return;
    }
    const struct report_summary *summary = report_collection_summary(fixture.collection);
    CHECK_EQ_U64(summary->bucket_width_ns, 100 * MS / ANALYSIS_TEMPORAL_MAX_BUCKETS + 1);
    CHECK(summary->bucket_count <= ANALYSIS_TEMPORAL_MAX_BUCKETS);
    struct report_tree_options tree_options;
    tree_options_init(&tree_options, ANALYSIS_SELECT_PEAK);
    tree_options.temporal = 1;
    struct report_tree tree;
    CHECK(report_tree_build(fixture.collection, &tree_options, &tree) == 0);
    uint64_t bytes = 0, never = 0;
    for (size_t i = 0; i < tree.interval_count; i++) {
        bytes += tree.intervals[i].bytes;
        if (tree.intervals[i].free_bucket == ANALYSIS_NEVER_FREED) {
            never += tree.intervals[i].bytes;
        } else {
            CHECK(tree.intervals[i].free_bucket >= tree.intervals[i].alloc_bucket);
        }
        CHECK(tree.intervals[i].context < tree.count);
    }
    CHECK_EQ_U64(bytes, 1457);
    CHECK_EQ_U64(never, 450);
    report_tree_release(&tree);
    fixture_end(&fixture);
}

static void test_pprof_export(void)
{
    struct fixture fixture;
    fixture_begin(&fixture);
    build_selection_stream(&fixture.builder);
    struct analysis_options options;
    analysis_options_init(&options);
    if (fixture_collect(&fixture, &options) < 0) {
        fixture_end(&fixture);
        return;
    }
    char path[] = "/tmp/memlyze-test-pprof-XXXXXX";
    int descriptor = mkstemp(path);
    CHECK(descriptor >= 0);
    close(descriptor);
    struct report_filter filter;
    memset(&filter, 0, sizeof filter);
    struct capture_error error;
    CHECK(export_pprof(fixture.collection, &filter, path, &error) == 0);
    unsigned char magic[2] = {0, 0};
    FILE *file = fopen(path, "rb");
    CHECK(file != NULL);
    if (file) {
        CHECK(fread(magic, 1, 2, file) == 2);
        fclose(file);
    }
    CHECK(magic[0] == 0x1f && magic[1] == 0x8b);
    unlink(path);
    CHECK(export_pprof(fixture.collection, &filter, "/nonexistent/dir/x.pb.gz", &error) < 0);
    CHECK(error.os_errno != 0);
    fixture_end(&fixture);
}

/* Random allocations and frees on 3 stacks; the peak figures per stack
 * must equal a brute-force replay that copies the live figures at each new
 * peak. */
static void test_random_peaks(void)
{
    srand(7);
    for (int round = 0; round < 20; round++) {
        struct fixture fixture;
        fixture_begin(&fixture);
        uint64_t live[64] = {0}, live_stack[64] = {0}, by_stack[5] = {0}, at_peak[5] = {0};
        uint64_t heap = 0, peak = 0;
        for (int step = 0; step < 200; step++) {
            int slot = rand() % 64;
            if (live[slot]) {
                builder_free(&fixture.builder, 0x100000 + (uint64_t)slot * 64);
                by_stack[live_stack[slot]] -= live[slot];
                heap -= live[slot];
                live[slot] = 0;
                continue;
            }
            live[slot] = 1 + (uint64_t)(rand() % 1000);
            live_stack[slot] = 1 + (uint64_t)(rand() % 4);
            builder_alloc(&fixture.builder, MALLOC, 0x100000 + (uint64_t)slot * 64, live[slot],
                          live_stack[slot]);
            by_stack[live_stack[slot]] += live[slot];
            heap += live[slot];
            if (heap > peak) {
                peak = heap;
                memcpy(at_peak, by_stack, sizeof at_peak);
            }
        }
        struct analysis_options options;
        analysis_options_init(&options);
        if (fixture_collect(&fixture, &options) == 0) {
            CHECK_EQ_U64(report_collection_summary(fixture.collection)->peak_bytes, peak);
            for (uint32_t stack = 1; stack <= 4; stack++) {
                CHECK_EQ_U64(stack_sum(&fixture, stack, ANALYSIS_SELECT_PEAK).bytes, at_peak[stack]);
                CHECK_EQ_U64(stack_sum(&fixture, stack, ANALYSIS_SELECT_LEAKS).bytes, by_stack[stack]);
            }
        }
        fixture_end(&fixture);
    }
}

/* A capture recording one allocation in 4 stands for 4 times its figures. */
static void test_sampled_estimates(void)
{
    struct fixture fixture;
    memset(&fixture, 0, sizeof fixture);
    builder_init(&fixture.builder);
    struct byte_buffer fields;
    memset(&fields, 0, sizeof fields);
    byte_buffer_append_tlv_double(&fields, HEADER_SAMPLE_RATE, 0.25);
    builder_header(&fixture.builder, CAPTURE_FORMAT_VERSION, &fields);
    byte_buffer_release(&fields);
    builder_alloc(&fixture.builder, MALLOC, 0x1000, 100, 0);
    builder_alloc(&fixture.builder, MALLOC, 0x2000, 50, 0);
    builder_free(&fixture.builder, 0x2000);
    struct analysis_options options;
    analysis_options_init(&options);
    if (fixture_collect(&fixture, &options) == 0) {
        const struct report_summary *summary = report_collection_summary(fixture.collection);
        CHECK_EQ_U64(summary->total_bytes, 600);
        CHECK_EQ_U64(summary->total_count, 8);
        CHECK_EQ_U64(summary->peak_bytes, 600);
        CHECK_EQ_U64(stack_sum(&fixture, 0, ANALYSIS_SELECT_LEAKS).bytes, 400);
        CHECK_EQ_U64(stack_sum(&fixture, 0, ANALYSIS_SELECT_LEAKS).count, 4);
    }
    fixture_end(&fixture);
}

int main(void)
{
    RUN_TEST(test_selections);
    RUN_TEST(test_temporary_threshold);
    RUN_TEST(test_trees);
    RUN_TEST(test_filters_and_bounding);
    RUN_TEST(test_temporal_intervals);
    RUN_TEST(test_pprof_export);
    RUN_TEST(test_random_peaks);
    RUN_TEST(test_sampled_estimates);
    return test_harness_exit_code();
}
