/* The merge of native and Python stacks (merged_stack.c) on hand-made
 * tables, and report trees of --native contexts (report_tree.c with
 * report_merged_paths.c). Native frames are functions of this program,
 * mapped at its load bias, so that they resolve to known names. */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base/byte_buffer.h"
#include "tests/c/capture_builder.h"
#include "core/format/capture_format.h"
#include "core/format/capture_reader.h"
#include "core/reports/report_collection.h"
#include "core/analysis/merged_stack.h"
#include "core/analysis/native_symbols.h"
#include "core/reports/report_tree.h"
#include "tests/c/test_harness.h"

#define UNMAPPED_IP 0x10

__attribute__((noinline)) int native_leaf_function(int value)
{
    return value * 5 + 2;
}

/* Stands for CPython's evaluation loop: the merge replaces it by name. */
__attribute__((noinline)) int _PyEval_EvalFrameDefault(int value)
{
    return native_leaf_function(value) + 3;
}

__attribute__((noinline)) int native_caller_function(int value)
{
    return _PyEval_EvalFrameDefault(value) * 7;
}

static uint64_t inside(int (*function)(int))
{
    return (uint64_t)(uintptr_t)function + 4;
}

/* This program mapped at its load bias, without a build-id (string 1). */
static void add_self_mapping(struct capture_builder *builder)
{
    char path[4096];
    builder_self_mapping(builder, (const void *)native_leaf_function, path, sizeof path);
}

/*
 * Strings 2..5: base, outer, inner, script.py. Python frames 1 base (entry),
 * 2 outer (entry), 3 inner; stacks 1 = [base], 2 = [base, outer],
 * 3 = [base, outer, inner]. Native stacks 1 = [caller], 2 = [caller, eval],
 * 3 = [caller, eval, leaf], 4 = [caller, eval, unmapped] (innermost last).
 */
static void add_tables(struct capture_builder *builder)
{
    add_self_mapping(builder);
    builder_string(builder, "base");
    builder_string(builder, "outer");
    builder_string(builder, "inner");
    builder_string(builder, "script.py");
    builder_frame(builder, 2, 5, 10, MERGED_STACK_FRAME_FLAG_ENTRY);
    builder_frame(builder, 3, 5, 20, MERGED_STACK_FRAME_FLAG_ENTRY);
    builder_frame(builder, 4, 5, 30, 0);
    builder_stack(builder, 0, 1);
    builder_stack(builder, 1, 2);
    builder_stack(builder, 2, 3);
    const uint64_t natives[4][2] = {{0, inside(native_caller_function)},
                                    {1, inside(_PyEval_EvalFrameDefault)},
                                    {2, inside(native_leaf_function)},
                                    {2, UNMAPPED_IP}};
    for (size_t index = 0; index < 4; index++) {
        builder_record(builder, OP_NATIVE_STACK, natives[index], 2);
    }
}

/* An allocation with a native stack: OP_ALLOC_NATIVE + malloc. */
static void add_native_allocation(struct capture_builder *builder, uint64_t address_delta,
                                  uint64_t size, uint64_t stack_id, uint64_t native_stack_id)
{
    const uint64_t fields[] = {address_delta << 1, size, stack_id, native_stack_id};
    builder_record(builder, OP_ALLOC_NATIVE + ALLOCATOR_MALLOC, fields, 4);
}

static struct capture_reader *open_built(struct capture_builder *builder)
{
    builder_flush_chunk(builder);
    builder_finish(builder, 100, 0);
    struct capture_error error;
    struct capture_reader *reader =
        capture_reader_open_memory(builder->file.data, builder->file.size, &error);
    CHECK(reader != NULL);
    return reader;
}

static const char *function_of(const struct merged_frame *frame)
{
    return frame->function ? frame->function : "(none)";
}

static void test_merge_places_python_frames_at_the_evaluation_loop(void)
{
    struct capture_builder builder;
    builder_init(&builder);
    builder_default_header(&builder, HEADER_FLAG_NATIVE);
    add_tables(&builder);
    struct capture_reader *reader = open_built(&builder);
    struct capture_record record;
    CHECK(reader && capture_reader_next(reader, &record) == 0);
    struct native_symbolizer *symbolizer = reader ? native_symbolizer_open(reader) : NULL;
    CHECK(symbolizer != NULL);
    struct native_frame_cache cache;
    native_frame_cache_init(&cache);
    struct byte_buffer out = {0};
    for (int pass = 0; symbolizer && pass < 2; pass++) { /* the second from the cache */
        byte_buffer_clear(&out);
        CHECK(merged_stack_build(reader, symbolizer, &cache, 3, 3, &out) == 0);
        const struct merged_frame *frames = (const struct merged_frame *)out.data;
        const char *expected[] = {"native_leaf_function", "inner", "outer",
                                  "native_caller_function", "base"};
        const enum merged_frame_kind kinds[] = {MERGED_FRAME_NATIVE, MERGED_FRAME_PYTHON,
                                                MERGED_FRAME_PYTHON, MERGED_FRAME_NATIVE,
                                                MERGED_FRAME_PYTHON};
        CHECK_EQ_U64(out.size / sizeof *frames, 5);
        for (size_t index = 0; index < 5 && index < out.size / sizeof *frames; index++) {
            CHECK(strcmp(function_of(&frames[index]), expected[index]) == 0);
            CHECK(frames[index].kind == kinds[index]);
        }
        CHECK(out.size >= 2 * sizeof *frames && frames[1].frame_id == 3 && frames[1].line == 30);
    }
    CHECK_EQ_U64(cache.index.count, 3);

    byte_buffer_clear(&out);
    CHECK(symbolizer && merged_stack_build(reader, symbolizer, NULL, 1, 4, &out) == 0);
    const struct merged_frame *frames = (const struct merged_frame *)out.data;
    /* unmapped, then the evaluation loop runs base (its only Python frame). */
    CHECK_EQ_U64(out.size / sizeof *frames, 3);
    if (out.size / sizeof *frames == 3) {
        char name[96];
        CHECK(frames[0].function == NULL && frames[0].status == NATIVE_SYMBOL_NO_MAPPING);
        merged_frame_unresolved_name(&frames[0], name, sizeof name);
        CHECK(strcmp(name, "<unresolved 0x10 (not in a recorded object)>") == 0);
        CHECK(strcmp(function_of(&frames[1]), "base") == 0);
        CHECK(strcmp(function_of(&frames[2]), "native_caller_function") == 0);
    }

    byte_buffer_clear(&out);
    CHECK(merged_stack_build(reader, NULL, NULL, 3, 0, &out) == 0); /* Python only */
    CHECK_EQ_U64(out.size / sizeof(struct merged_frame), 3);
    byte_buffer_release(&out);
    native_frame_cache_release(&cache);
    native_symbolizer_close(symbolizer);
    capture_reader_close(reader);
    builder_release(&builder);
}

/* The child of parent named function (native or Python), or -1. */
static long child_named(const struct report_tree *tree, struct capture_reader *reader,
                        long parent, const char *function)
{
    for (size_t index = 1; index < tree->count; index++) {
        const struct report_node *node = &tree->nodes[index];
        const struct capture_frame *frame =
            node->frame_id ? capture_reader_frame(reader, node->frame_id) : NULL;
        const char *name = node->native ? node->native->function
                           : frame ? capture_reader_string(reader, frame->function_sid, NULL)
                                   : "";
        if (node->parent == parent && strcmp(name, function) == 0) {
            return (long)index;
        }
    }
    return -1;
}

static void test_report_tree_holds_the_merged_stacks(void)
{
    struct capture_builder builder;
    builder_init(&builder);
    builder_default_header(&builder, HEADER_FLAG_NATIVE);
    add_tables(&builder);
    add_native_allocation(&builder, 0x100, 100, 3, 3);
    add_native_allocation(&builder, 0x100, 200, 3, 3);
    add_native_allocation(&builder, 0x100, 400, 3, 4);
    builder_alloc(&builder, ALLOCATOR_MALLOC, 0x9000, 800, 3);
    struct capture_reader *reader = open_built(&builder);
    struct analysis_options options;
    analysis_options_init(&options);
    struct capture_error error;
    struct report_collection *collection = reader ? report_collect(reader, &options, &error)
                                                  : NULL;
    CHECK(collection != NULL);
    size_t count = 0;
    const struct analysis_context_view *contexts =
        collection ? report_collection_contexts(collection, &count) : NULL;
    CHECK_EQ_U64(count, 3); /* (3, 3), (3, 4) and (3, no native stack) */
    CHECK(count == 3 && contexts[0].native_stack_id == 3 && contexts[1].native_stack_id == 4 &&
          contexts[2].native_stack_id == 0 && contexts[0].selected[ANALYSIS_SELECT_TOTAL].bytes == 300);
    struct report_tree_options tree_options;
    memset(&tree_options, 0, sizeof tree_options);
    tree_options.filter.selection = ANALYSIS_SELECT_TOTAL;
    tree_options.max_nodes = 1000;
    struct report_tree tree;
    CHECK(collection && report_tree_build(collection, &tree_options, &tree) == 0);
    if (collection) {
        long base = child_named(&tree, reader, 0, "base");
        long caller = child_named(&tree, reader, base, "native_caller_function");
        long outer = child_named(&tree, reader, caller, "outer");
        long inner = child_named(&tree, reader, outer, "inner");
        long leaf = child_named(&tree, reader, inner, "native_leaf_function");
        long unmapped =
            child_named(&tree, reader, inner, "<unresolved 0x10 (not in a recorded object)>");
        long python_outer = child_named(&tree, reader, base, "outer");
        CHECK(base > 0 && caller > 0 && outer > 0 && inner > 0 && leaf > 0 && unmapped > 0);
        CHECK(python_outer > 0 && child_named(&tree, reader, python_outer, "inner") > 0);
        CHECK(base > 0 && tree.nodes[base].bytes == 1500);
        CHECK(caller > 0 && tree.nodes[caller].bytes == 700 && tree.nodes[caller].frame_id == 0);
        CHECK(leaf > 0 && tree.nodes[leaf].self_bytes == 300 && tree.nodes[leaf].count == 2);
        CHECK(unmapped > 0 && tree.nodes[unmapped].bytes == 400);
        CHECK_EQ_U64(tree.native_frame_count, 3);
        report_tree_release(&tree);
    }
    report_collection_free(collection);
    capture_reader_close(reader);
    builder_release(&builder);
}

int main(void)
{
    RUN_TEST(test_merge_places_python_frames_at_the_evaluation_loop);
    RUN_TEST(test_report_tree_holds_the_merged_stacks);
    return test_harness_exit_code();
}
