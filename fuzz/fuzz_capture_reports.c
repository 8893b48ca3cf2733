/*
 * libFuzzer target: any capture (fuzz_inputs.h) goes through every report
 * path the core offers -- the collection (analysis with lifetimes and
 * temporal intervals), the call tree in each selection (plain, inverted,
 * per thread, temporal; --native contexts through the merged paths used by
 * flame graph data), the location tables, the filters and the pprof export
 * -- and must neither crash, hit undefined behaviour nor leak tracker
 * memory. fuzz_capture_reader.c covers the reader and analysis alone.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/analysis/capture_analysis.h"
#include "core/base/tracker_memory.h"
#include "core/format/capture_reader.h"
#include "core/reports/export_pprof.h"
#include "core/reports/report_collection.h"
#include "core/reports/report_tree.h"
#include "fuzz/fuzz_inputs.h"

/* Small, so that hostile captures reach the folding into OTHER nodes. */
#define TREE_MAX_NODES 64
#define TREE_OTHER_FRACTION 0.001

static const char *const include_patterns[] = {"*.py"};
static const char *const exclude_patterns[] = {"x*", "<*"};

/* Checks what a tree promises its users: parents before children. */
static void check_tree(const struct report_tree *tree)
{
    for (size_t index = 1; index < tree->count; index++) {
        int64_t parent = tree->nodes[index].parent;
        if (parent < 0 || (size_t)parent >= index) {
            abort();
        }
    }
}

static void build_trees(const struct report_collection *collection,
                        const struct report_filter *filter)
{
    for (int shape = 0; shape < 4; shape++) {
        struct report_tree_options options = {
            .filter = *filter,
            .inverted = shape & 1,
            .split_threads = (shape >> 1) & 1,
            .temporal = shape == 3,
            .other_fraction = TREE_OTHER_FRACTION,
            .max_nodes = TREE_MAX_NODES,
        };
        struct report_tree tree;
        if (report_tree_build(collection, &options, &tree) == 0) {
            check_tree(&tree);
            report_tree_release(&tree);
        }
    }
}

static void build_locations(const struct report_collection *collection,
                            const struct report_filter *filter)
{
    struct report_location *locations = NULL;
    size_t count = 0;
    if (report_locations(collection, filter, &locations, &count) == 0) {
        free(locations);
    }
}

/* Every selection, unfiltered and filtered, then one thread alone. */
static void use_reports(const struct report_collection *collection)
{
    size_t context_count;
    const struct analysis_context_view *contexts =
        report_collection_contexts(collection, &context_count);
    for (int selection = 0; selection < ANALYSIS_SELECTION_COUNT; selection++) {
        struct report_filter filter = {.selection = (enum analysis_selection)selection};
        build_trees(collection, &filter);
        build_locations(collection, &filter);
        filter.include = include_patterns;
        filter.include_count = 1;
        filter.exclude = exclude_patterns;
        filter.exclude_count = 2;
        build_locations(collection, &filter);
        if (context_count) {
            filter.has_thread = 1;
            filter.thread_id = contexts[0].thread_id;
            build_trees(collection, &filter);
        }
    }
    struct report_filter peak = {.selection = ANALYSIS_SELECT_PEAK};
    struct capture_error error;
    export_pprof(collection, &peak, "/dev/null", &error);
    size_t count;
    report_collection_heap_series(collection, &count);
    report_collection_rss_series(collection, &count);
    report_collection_gc_series(collection, &count);
    report_collection_intervals(collection, &count);
}

static void exercise(const uint8_t *data, size_t size)
{
    struct capture_error error;
    struct capture_reader *reader = capture_reader_open_memory(data, size, &error);
    if (!reader) {
        return;
    }
    struct analysis_options options;
    analysis_options_init(&options);
    options.temporal = 1;
    options.snapshot_index = 1;
    options.temporary_threshold = 2;
    struct report_collection *collection = report_collect(reader, &options, &error);
    if (collection) {
        use_reports(collection);
        report_collection_free(collection);
    }
    capture_reader_close(reader);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t memory_before = tracker_memory_current();
    struct capture_builder builder;
    if (fuzz_input_capture(data, size, &builder)) {
        uint64_t builder_memory = tracker_memory_current();
        exercise(builder.file.data, builder.file.size);
        fuzz_check_tracker_memory(builder_memory, "in the reports");
        builder_release(&builder);
    } else {
        exercise(data, size);
    }
    fuzz_check_tracker_memory(memory_before, "in all");
    return 0;
}
